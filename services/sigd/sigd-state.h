/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-state.h: the calls file that lets a restarted sigd go on with its calls.
 *
 * Above the lines, below the manager: it reads what each line and call
 * saves (line_save(), call_save(), dialog_save()) and rebuilds them through
 * line_restore(). The file, <state_dir>/calls (mode 0600: it holds SRTP keys),
 * is rewritten atomically whenever what it would hold changes (checked after
 * every event the loop dispatches); every version replaced is overwritten
 * with zeros first, and the file is removed when no call is left, so a
 * call's keys do not outlive it on the tmpfs. docs/CALLS.md "Restart". */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sigd-forward.h"

#define SIGD_STATE_FILE "calls"
#define SIGD_STATE_VERSION 1

/* Load <dir>/calls (if any) and rebuild its calls; then keep the file up to
 * date. Returns the number of calls resumed; a file that does not unpack, or
 * a line in it that is refused, is logged and dropped (never fatal). */
int state_init(Manager *m, const char *dir);
/* Stop keeping the file (it stays: a restart goes on with its calls). */
void state_done(Manager *m);

/* The file's content now: packed SigdState (*ret wiped and freed by the caller
 * with state_buffer_free()); *ret_n_lines lines with a call. */
int state_serialize(Manager *m, uint8_t **ret, size_t *ret_len, size_t *ret_n_lines);
uint8_t *state_buffer_free(uint8_t *buf, size_t len);
/* Rebuild the calls of a packed SigdState: the number resumed, or -EBADMSG
 * (does not unpack), -EPROTO (another version). */
int state_apply(Manager *m, const uint8_t *data, size_t len);
/* Write the file if what it would hold changed: 1 written, 0 unchanged. */
int state_save(Manager *m);
