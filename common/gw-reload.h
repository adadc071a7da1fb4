/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-reload.h: reloading the gateway's configuration — the one path that
 * 'gwctl reload', gwsupd's SIGHUP, systemd's ExecReload= and the D-Bus
 * Reload() method all take (docs/OPERATIONS.md "Reload", docs/BUS.md).
 *
 * A reload is two rounds of ReloadRequest on the daemons' control sockets:
 *   0. the caller's process reads and validates the file itself (syntax,
 *      keys, tone plan): a bad file ends the reload here, nothing sent;
 *   1. check: every daemon reads the same file (same digest), validates it
 *      and compares the keys that need a restart with its running ones; all
 *      at once; any refusal ends the reload, nothing changed anywhere;
 *   2. apply: one daemon after the other — linehwd, mediad, sigd (the lines
 *      and credentials regd's REGISTERs will need), regd, gwsupd — each
 *      applies its difference without restarting.
 * A daemon that is not running (its ipc socket absent, or no answer within
 * the check timeout) is left out: it reads the file when it starts.
 *
 * Everything runs on the caller's sd-event loop and never blocks it; the
 * process's own daemon (gwsupd calling this on SIGHUP) answers on the same
 * loop. gw_reload_run() is the synchronous form for tools. The daemons'
 * side, answering ReloadRequest, is gw_reload_server_attach() in gw-daemon.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw.pb-c.h"

#define GW_RELOAD_N_DAEMONS 5
#define GW_RELOAD_CHECK_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define GW_RELOAD_APPLY_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct GwReloadDaemon {
        Gw__Service service;
        bool present;                    /* answered the check */
        bool applied;                    /* answered the apply with ok */
        bool changed;                    /* something of its own changed */
        int error;                       /* 0, or why it failed (-ETIMEDOUT, -EINVAL refused, ...) */
        char *message;                   /* its error, or its summary */
        uint64_t duration_usec;          /* as the daemon measured its own work */
} GwReloadDaemon;

typedef struct GwReloadResult {
        /* 0: applied (or nothing to change); -EINVAL: refused, nothing changed
         * (bad file, or a key that needs a restart); -ESTALE: the file changed
         * during the reload; -ESRCH: no daemon answered; -ETIMEDOUT/-EIO: a
         * daemon failed while applying (the others have applied). */
        int error;
        char *message;                   /* one line saying what happened or why not */
        GwReloadDaemon daemons[GW_RELOAD_N_DAEMONS];
        unsigned lines_added, lines_removed, lines_changed;   /* regd's, i.e. the lines' registrations */
        uint64_t duration_usec;          /* the whole reload */
} GwReloadResult;

void gw_reload_result_done(GwReloadResult *r);

typedef struct GwReload GwReload;

/* Called once, from the loop, when the reload ends. 'r' is valid during the call. */
typedef void (*gw_reload_done_t)(GwReload *reload, const GwReloadResult *r, void *userdata);

/* Start reloading the gateway from 'path'. 'bus' gives the endpoints of the
 * daemons' control sockets: the running configuration if the caller has one
 * (bus.* cannot change by a reload), NULL to take them from the file.
 * The reload is the caller's: free it (also from the callback) with gw_reload_free(),
 * which cancels one still running. */
int gw_reload_start(sd_event *e, const char *path, const GwConf *bus, gw_reload_done_t done, void *userdata,
                    GwReload **ret);
GwReload *gw_reload_free(GwReload *reload);
DEFINE_TRIVIAL_CLEANUP_FUNC(GwReload *, gw_reload_free);

/* The same, synchronously, on a loop of its own (tools). Returns ret->error. */
int gw_reload_run(const char *path, GwReloadResult *ret);

