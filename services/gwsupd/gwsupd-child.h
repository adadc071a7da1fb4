/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-child.h: one supervised daemon: spawn, readiness, watchdog, restart.
 *
 * States (published as ServiceState.state):
 *   STARTING   forked, waiting for READY=1 (at most CHILD_START_TIMEOUT_USEC)
 *   RUNNING    READY=1 received; WATCHDOG=1 expected within the watchdog interval
 *   RESTARTING exited or killed for hanging; the back-off timer runs
 *   FAILED     exited with 78 (bad configuration): not restarted
 *   STOPPED    the gateway is stopping, or a RESTART_ON_FAILURE child exited 0
 * Every callback runs on the manager's sd-event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "gw-fdstore.h"
#include "gw.pb-c.h"
#include "gwsupd-adopt.h"
#include "gwsupd-forward.h"
#include "gwsupd-notify.h"
#include "gwsupd-policy.h"

#define CHILD_START_TIMEOUT_USEC (10 * USEC_PER_SEC)   /* READY=1 within this after exec */
#define CHILD_KILL_TIMEOUT_USEC  (1 * USEC_PER_SEC)    /* SIGABRT/SIGTERM, then SIGKILL after this */
#define CHILD_EXIT_EXEC          203                   /* systemd's EXIT_EXEC: execve() failed */
#define CHILD_FDSTORE_MAX        1024                  /* descriptors kept per daemon (FileDescriptorStoreMax=) */

/* MESSAGE_IDs of the journal entries operators search for (docs/SUPERVISOR.md). */
#define GWSUPD_MESSAGE_GAVE_UP          "MESSAGE_ID=cfe66d3d197d4c83bb35e2b9a67b7f76"
#define GWSUPD_MESSAGE_CHILD_CONFIG     "MESSAGE_ID=8c47356bad374bfe90acae0da94e05c3"
#define GWSUPD_MESSAGE_CHILD_WATCHDOG   "MESSAGE_ID=b0d8cb1630484d5fbbc552e08ee7e50e"
#define GWSUPD_MESSAGE_CHILD_RESTART    "MESSAGE_ID=65b549d2b36646199a75b7b2b6d70b08"
#define GWSUPD_MESSAGE_GATEWAY_STOPPING "MESSAGE_ID=f53dc797ba12434b9294f5909672ae9c"

typedef enum ChildState {
        CHILD_STARTING,
        CHILD_RUNNING,
        CHILD_RESTARTING,
        CHILD_FAILED,
        CHILD_STOPPED,
        _CHILD_STATE_MAX,
        _CHILD_STATE_INVALID = -EINVAL,
} ChildState;

typedef enum RestartPolicy {
        RESTART_ALWAYS,                  /* any exit but 78 */
        RESTART_ON_FAILURE,              /* like systemd's Restart=on-failure: not after exit 0 */
        _RESTART_POLICY_MAX,
        _RESTART_POLICY_INVALID = -EINVAL,
} RestartPolicy;

const char *child_state_to_string(ChildState s);
Gw__ServiceRunState child_state_to_run_state(ChildState s);

struct Child {
        Manager *manager;
        char *name;                      /* "sigd"; also the ServiceState topic key */
        Gw__Service service;             /* UNKNOWN for test-only children */
        char *path;                      /* absolute path of the binary */
        RestartPolicy restart;

        ChildState state;
        pid_t pid;                       /* 0: no process */
        unsigned long long starttime;    /* of pid, /proc/<pid>/stat field 22 */
        int pidfd;                       /* >= 0: pid was left running by a previous gwsupd
                                          * (adopted): not our child, watched and signalled
                                          * through this pidfd, its exit status unknown */
        uint64_t started_at;             /* CLOCK_MONOTONIC of the last fork */
        uint64_t ready_at;               /* of the last READY=1; 0: not READY */
        uint64_t watchdog_usec;          /* 0: no watchdog */
        bool killing;                    /* we sent it a signal for hanging */
        bool stopping_notified;          /* it sent STOPPING=1 */

        unsigned attempt;                /* back-off index (consecutive bad runs) */
        unsigned restarts;               /* total restarts since gwsupd started */
        RestartWindow window;

        char *status_text;               /* last STATUS= */
        GwFdSet *fds;                    /* its fd store: passed to every instance (LISTEN_FDS);
                                          * names from FDNAME=, or "stored" as systemd names them */
        uint64_t instance_id;            /* its bus instance, from its own ServiceState */

        sd_event_source *exit_source;    /* sd_event_add_child, WEXITED; adopted: pidfd EPOLLIN */
        sd_event_source *start_timer;
        sd_event_source *watchdog_timer;
        sd_event_source *kill_timer;
        sd_event_source *restart_timer;
};

/* Initialise an embedded Child (the manager owns the array). */
int child_init(Child *c, Manager *m, const char *name, Gw__Service service, const char *path,
               RestartPolicy restart, unsigned restart_limit, uint64_t watchdog_usec);
void child_done(Child *c);

/* fork+exec now. Errors are logged; a failed fork is retried like an exit. */
int child_spawn(Child *c);
/* Restart on request (D-Bus RestartService()): a running child gets SIGTERM
 * (SIGKILL after CHILD_KILL_TIMEOUT_USEC) and is restarted as after any exit;
 * a failed or stopped one is spawned again. 0, or a negative errno. */
int child_restart(Child *c, const char *why);
/* Supervise the process of e (checked with leftover_check() and leftover_pidfd())
 * from now on: pidfd (taken on success) tells its exit; state RUNNING if it
 * was READY, else STARTING with the start timeout. */
int child_adopt(Child *c, const LeftoverEntry *e, int pidfd);
/* The gateway is stopping: cancel timers; no restart from now on. */
void child_cancel_restart(Child *c);
/* Send sig to the child's process if it has one (and arm nothing). */
int child_kill(Child *c, int sig);
/* Apply one parsed notify datagram from the child's main pid, with the
 * n_fds descriptors that came along: kept if it says FDSTORE=1, else closed. */
void child_handle_notify(Child *c, const NotifyMessage *msg, int *fds, size_t n_fds);
/* The fd store, as systemd keeps it: add (taken; one already stored for the
 * same open file is not stored twice; beyond CHILD_FDSTORE_MAX closed), remove
 * by name (returns how many), close all. */
int child_fdstore_add(Child *c, int fd, const char *name);
size_t child_fdstore_remove(Child *c, const char *name);
void child_fdstore_clear(Child *c);
