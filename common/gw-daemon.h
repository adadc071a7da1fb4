/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-daemon.h: what every fxsgw daemon does the same way.
 *
 * Parses '--config FILE' (also $FXSGW_CONFIG), '--help', '--version'; loads the
 * config (a bad one: error on stderr and exit 78, EX_CONFIG) and, for the
 * daemons that play or name tones, the tone plan (missing or broken: exit 78
 * too, gw_daemon_load_tone_plan()); opens the log;
 * creates the sd-event loop with SIGTERM/SIGINT ending it (SIGTERM asks
 * on_terminate first, when set) and SIGHUP reloading the whole gateway
 * (gw-reload.h); enables the watchdog (systemd and gwsupd both set WATCHDOG_USEC);
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
#include "gw-reload.h"
#include "gw-toneplan.h"

/* docs/OPERATIONS.md catalogues them. */
#define GW_MESSAGE_RELOADED        "MESSAGE_ID=b3e4e88714084e05aa80151d6c5197de"
#define GW_MESSAGE_RELOAD_REFUSED  "MESSAGE_ID=92d7cda394c644a78985f53a46a60dc6"

#define EXIT_CONFIG 78   /* EX_CONFIG: gwsupd does not restart a daemon that exits so */

/* ---- Reload (gw-reload.h): the daemons' side, answering ReloadRequest on the control socket.
 * Reads the file the process was started with, validates it, refuses keys that need a
 * restart (gw_conf_restart_keys()), and on apply tells systemd RELOADING=1 ... READY=1. */

/* What a daemon's apply function reports. */
typedef struct GwReloadChanges {
        bool changed;                    /* anything of this daemon's changed */
        unsigned lines_added, lines_removed, lines_changed;
        char summary[256];               /* e.g. "lines +1 -0 ~1 (registered lines kept: 254)" */
} GwReloadChanges;

/* Apply 'conf' (and 'plan', when the process keeps one) in place of the running
 * ones without restarting: re-point everything borrowed from the old ones. On
 * success (>= 0) the old config and plan are freed right after; on failure
 * nothing may point into the new ones (they are freed) and the old stay. */
typedef int (*gw_reload_apply_t)(GwConf *conf, GwTonePlan *plan, GwReloadChanges *changes, void *userdata);

typedef struct GwReloadServer {
        GwConf **conf;                   /* the running config: replaced by an applied reload */
        GwTonePlan **plan;               /* NULL: the process keeps no tone plan */
        gw_reload_apply_t apply;         /* NULL: nothing to apply but the swap */
        void *userdata;
        /* the last reply's storage */
        Gw__ReloadReply reply;
        char *error, *summary;
        const char **restart_keys;
} GwReloadServer;

/* Answer ReloadRequest on bus's control socket (gw_bus_set_reload_hook). The
 * server must outlive the bus's use of it. */
void gw_reload_server_attach(GwReloadServer *s, GwBus *bus, GwConf **conf, GwTonePlan **plan,
                             gw_reload_apply_t apply, void *userdata);
void gw_reload_server_done(GwReloadServer *s);

typedef struct GwDaemon {
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
        uint64_t supervisor_instance;  /* the gwsupd bus instance last told our READY,
                                        * STATUS and stored descriptors; 0: none yet */
        GwReloadServer reload;         /* answers ReloadRequest; the daemon sets its apply */
        GwReload *sighup_reload;       /* a reload of the whole gateway started by SIGHUP */
        /* SIGTERM: when set and it returns > 0, the daemon ends the loop itself
         * later (regd un-REGISTERs first); otherwise the loop ends at once. */
        int (*on_terminate)(struct GwDaemon *d, void *userdata);
        void *terminate_userdata;
} GwDaemon;

/* Returns 0 on success, or the process exit code to use (>0) on failure,
 * having printed why. */
int gw_daemon_init(GwDaemon *d, Gw__Service service, int argc, char **argv);
/* Load the config's tone plan into d->tone_plan; logs why not and returns
 * EXIT_CONFIG on failure. Called by gw_daemon_init() for gwsupd, sigd, mediad
 * and linehwd. */
int gw_daemon_load_tone_plan(GwDaemon *d);
/* How this daemon applies a reloaded config (gw_reload_apply_t); without it a
 * reload only swaps d->conf (nothing of it may be borrowed then). */
void gw_daemon_set_reload(GwDaemon *d, gw_reload_apply_t apply, void *userdata);
/* sd_notify READY=1 and STATUS=status; start the heartbeat. */
int gw_daemon_ready(GwDaemon *d, const char *status);
/* sd_notify STATUS=... (also carried in the heartbeat). */
void gw_daemon_status(GwDaemon *d, const char *fmt, ...) _printf_(2, 3);
/* Run the loop until SIGTERM; returns the exit code. */
int gw_daemon_run(GwDaemon *d);
void gw_daemon_done(GwDaemon *d);

/* mkdir -p: the missing parents with mode 0755, 'path' itself with 'mode' (an existing one
 * is left as it is). 0 when it exists afterwards, negative errno otherwise. */
int gw_mkdir_parents(const char *path, mode_t mode);

/* Atomically replace <state_dir>/<name> with data (write tmp, rename). */
int gw_state_write(const char *dir, const char *name, const void *data, size_t len);
/* The same for a file holding secrets (SRTP keys): the version replaced is
 * overwritten with zeros once the new one is in place (its keys may be of a
 * call now over); len 0 removes the file, wiped first. */
int gw_state_write_secret(const char *dir, const char *name, const void *data, size_t len);
/* Read it back; -ENOENT if absent. *ret is malloc'd. */
int gw_state_read(const char *dir, const char *name, void **ret, size_t *ret_len);

