/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-adopt.h: the daemons a previous gwsupd left running, and whether to adopt them.
 *
 * gwsupd keeps <runtime_dir>/gwsupd.children, one line per child with a process:
 *   "<name> <pid> <starttime> <instance_id hex> <state> <restarts>"
 * (starttime: field 22 of /proc/<pid>/stat; state: "running" or "starting").
 * Lines of the older three-field form "<name> <pid> <starttime>" are read too.
 * A gwsupd started again reads it and, per line:
 *   GONE     the process is gone, a zombie, or the pid now belongs to another
 *            process (other start time): nothing to do, the daemon is started anew;
 *   ADOPT    the same process (pid and start time), running the binary this
 *            gwsupd would start for that name: supervised from now on;
 *   REPLACE  the same process, one of our daemons but another binary (another
 *            install, or a name we do not run): stopped, as two sets of daemons
 *            would fight over the bus endpoints and the SIP socket;
 *   FOREIGN  pid and start time match but the program is none of ours (a forged
 *            or corrupt file): left alone, never signalled. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LEFTOVER_NAME_MAX 32

typedef struct LeftoverEntry {
        char name[LEFTOVER_NAME_MAX + 1];
        pid_t pid;
        unsigned long long starttime;
        uint64_t instance_id;            /* 0: unknown */
        bool ready;                      /* "running" (READY=1 was seen), else "starting" */
        unsigned restarts;
} LeftoverEntry;

typedef enum LeftoverVerdict {
        LEFTOVER_GONE,
        LEFTOVER_ADOPT,
        LEFTOVER_REPLACE,
        LEFTOVER_FOREIGN,
} LeftoverVerdict;

const char *leftover_verdict_to_string(LeftoverVerdict v);

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; 0 if
 * the process is gone or a zombie (it exited; its parent has not reaped it yet). */
unsigned long long proc_starttime(pid_t pid);

/* How long ago a process of that start time started (CLOCK_BOOTTIME); 0 if unknown. */
uint64_t proc_age_usec(unsigned long long starttime);

/* Parse the file's content. Malformed lines, pids <= 1 and a start time of 0
 * are skipped. Returns how many entries were filled (at most max). */
size_t leftover_parse(const char *data, size_t len, LeftoverEntry *ret, size_t max);
/* One line, with its newline, into buf; the length, or -ENOBUFS. */
int leftover_format(const LeftoverEntry *e, char *buf, size_t size);

/* What to do with e. expected_path: the binary this gwsupd runs under e->name
 * (NULL if no child of that name). */
LeftoverVerdict leftover_check(const LeftoverEntry *e, const char *expected_path);

/* A pidfd for e->pid, checked to be the process that started at e->starttime
 * (the check comes after pidfd_open(), so a pid recycled in between is
 * caught). Returns the fd, -ESRCH if that process is gone, or -errno. */
int leftover_pidfd(const LeftoverEntry *e);
