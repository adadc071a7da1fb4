/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-pidfile.h: <runtime_dir>/gwsupd.pid: one supervisor per runtime directory. */
#pragma once

#include <sys/types.h>

/* Create 'path' holding our pid, atomically (written to a temporary file,
 * then link()ed into place, which fails if the name exists). A file naming a
 * live gwsupd makes it fail with -EBUSY and *ret_other set; a stale one (dead
 * pid, or a pid now used by another program) is replaced. */
int pidfile_acquire(const char *path, pid_t *ret_other);
/* Remove it if it still names us. */
void pidfile_release(const char *path);
