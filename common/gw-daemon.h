/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-daemon.h: what every fxsgw daemon does the same way.
 *
 * Parses '--config FILE' (also $FXSGW_CONFIG), '--help', '--version'; loads the
 * config (a bad one: error on stderr and exit 78, EX_CONFIG) and, for the
 * daemons that play or name tones, the tone plan (missing or broken: exit 78
 * too, gw_daemon_load_tone_plan()); opens the log;
 * creates the sd-event loop with SIGTERM/SIGINT ending it and SIGHUP ignored
 * for now; enables the watchdog (systemd and gwsupd both set WATCHDOG_USEC);
 * creates <runtime_dir>/<name>/ for the daemon's state; creates the bus.
 * Publishes ServiceState STARTING, then after gw_daemon_ready() RUNNING every
 * 5 s (with BusCounters, and PcmCounters when 'pcm' is set), and answers
 * StateSyncRequest with its ServiceState. */
#pragma once

#include <sys/types.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "gw-bus.h"
#include "gw-conf.h"
#include "gw-pcm.h"
#include "gw-toneplan.h"

#define EXIT_CONFIG 78   /* EX_CONFIG: gwsupd does not restart a daemon that exits so */

typedef struct GwDaemon GwDaemon;

/* Live reload of one daemon: re-read 'path' and apply what changed. 0 applied;
 * else a negative errno and, if it can say why, a malloc'd *ret_message. */
typedef int (*gw_daemon_reload_t)(GwDaemon *d, const char *path, char **ret_message);

struct GwDaemon {
        const char *name;
        Gw__Service service;
        GwConf *conf;
        GwTonePlan *tone_plan;         /* gwsupd, sigd, mediad, linehwd: the config's tone_plan */
        sd_event *event;
        GwBus *bus;
        GwPcm *pcm;                    /* linehwd, mediad: set by the daemon, not owned; its
                                        * counters go out with the heartbeat (PcmCounters) */
        char *state_dir;               /* <runtime_dir>/<name> */
        sd_event_source *heartbeat;
        sd_event_source *sync_timer;   /* repeats StateSyncRequest after start */
        unsigned sync_round;
        bool ready;
        char *status_text;
        /* Called for ConfigReloadRequest (and by regd's D-Bus Reload() for regd);
         * NULL: the daemon answers EOPNOTSUPP and goes on with its configuration. */
        gw_daemon_reload_t reload;
};

/* Returns 0 on success, or the process exit code to use (>0) on failure,
 * having printed why. */
int gw_daemon_init(GwDaemon *d, Gw__Service service, int argc, char **argv);
/* Load the config's tone plan into d->tone_plan; logs why not and returns
 * EXIT_CONFIG on failure. Called by gw_daemon_init() for gwsupd, sigd, mediad
 * and linehwd. */
int gw_daemon_load_tone_plan(GwDaemon *d);
/* sd_notify READY=1 and STATUS=status; start the heartbeat. */
int gw_daemon_ready(GwDaemon *d, const char *status);
/* sd_notify STATUS=... (also carried in the heartbeat). */
void gw_daemon_status(GwDaemon *d, const char *fmt, ...) _printf_(2, 3);
/* Run the loop until SIGTERM; returns the exit code. */
int gw_daemon_run(GwDaemon *d);
void gw_daemon_done(GwDaemon *d);

/* Reload this daemon through d->reload (-EOPNOTSUPP without one, with a message). */
int gw_daemon_reload(GwDaemon *d, const char *path, char **ret_message);

/* mkdir -p: the missing parents with mode 0755, 'path' itself with 'mode' (an existing one
 * is left as it is). 0 when it exists afterwards, negative errno otherwise. */
int gw_mkdir_parents(const char *path, mode_t mode);

/* Atomically replace <state_dir>/<name> with data (write tmp, rename). */
int gw_state_write(const char *dir, const char *name, const void *data, size_t len);
/* Read it back; -ENOENT if absent. *ret is malloc'd. */
int gw_state_read(const char *dir, const char *name, void **ret, size_t *ret_len);

