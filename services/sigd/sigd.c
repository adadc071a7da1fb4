/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd.c: the SIP daemon: parses argv, loads config, builds the manager, runs the loop. */
#include <inttypes.h>
#include <stdio.h>

#include "gw-daemon.h"
#include "gw-log.h"
#include "sigd-bus.h"
#include "sigd-manager.h"

static int on_counters(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        const SigdCounters *c = &m->counters;

        log_debug("SIP counters: rx %" PRIu64 ", tx %" PRIu64 ", malformed %" PRIu64 ", dropped %" PRIu64
                  ", retransmissions %" PRIu64 ", auth challenges %" PRIu64 ", transport errors %" PRIu64 ".",
                  c->rx, c->tx, c->malformed, c->dropped, c->retransmissions, c->auth_challenges, c->transport_errors);
        /* A time source is one-shot: re-arm it, and enable it again. */
        (void) sd_event_source_set_time_relative(s, 60 * USEC_PER_SEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* A reload (gw-daemon.h): sigd keeps the config it replaces (calls in progress
 * and regd's un-REGISTERs of removed lines still use it). */
static int apply_reload(GwConf *conf, GwTonePlan *plan, GwReloadChanges *ch, void *userdata) {
        Manager *m = userdata;
        unsigned added = 0, removed = 0;
        int r;

        r = manager_reload(m, conf, ch->old_conf, &added, &removed);
        if (r < 0)
                return r;
        ch->old_conf = NULL;
        ch->changed = true;
        ch->lines_added = added;
        ch->lines_removed = removed;
        snprintf(ch->summary, sizeof ch->summary, "lines +%u -%u; %zu earlier config(s) kept for calls in progress",
                 added, removed, m->n_old_confs);
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        r = gw_daemon_init(&d, GW__SERVICE__SERVICE_SIGD, argc, argv);
        if (r > 0)
                return r;

        r = manager_new(d.event, d.conf, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to create the manager: %m"), EXIT_FAILURE;
        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        /* Before the bus: the first LineControl/MediaControl we publish already carry the calls. */
        (void) manager_resume(m, d.state_dir);
        r = sigd_bus_attach(d.bus, m);
        if (r < 0)
                return EXIT_FAILURE;
        gw_daemon_set_reload(&d, apply_reload, m);
        /* No ret pointer: the source is floating, owned by the event loop alone (with a pointer and
         * sd_event_source_set_floating() our reference was never dropped: LeakSanitizer at exit). */
        r = sd_event_add_time_relative(d.event, NULL, CLOCK_MONOTONIC, 60 * USEC_PER_SEC, USEC_PER_SEC,
                                       on_counters, m);
        if (r < 0)
                log_warning_errno(r, "Failed to add the counters timer, ignoring: %m");

        gw_daemon_ready(&d, "Listening on SIP/UDP");
        gw_daemon_status(&d, "Listening on %s:%u (UDP)", m->via_host, m->via_port);
        r = gw_daemon_run(&d);
        return r;
}
