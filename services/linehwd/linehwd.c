/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd.c: the line hardware daemon. This milestone: the backend with every configured line, bus up, READY, status.
 *
 * linehwd owns the state of each line's hardware (hook, ringing, polarity,
 * feed) through a backend (linehwd-backend.h); the default is the simulated
 * line card. Hook events, cadenced ringing, flash/pulse detection and the PCM
 * data plane arrive with the call milestone, together with their bus messages. */
#include <stdio.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-log.h"
#include "linehwd-backend.h"

static int on_ctl(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        static Gw__StatusReply status;           /* packed before the bus returns to the loop */
        static Gw__BusCounters counters;

        if (req->body_case != GW__ENVELOPE__BODY_STATUS_REQUEST)
                return -EOPNOTSUPP;
        status = (Gw__StatusReply) GW__STATUS_REPLY__INIT;
        counters = (Gw__BusCounters) GW__BUS_COUNTERS__INIT;
        gw_bus_counters(bus, &counters);
        status.counters = &counters;
        reply->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        reply->status_reply = &status;
        return 0;
}

static void on_hook(LineBackend *b, unsigned port, LineHook hook, void *userdata) {
        log_info("Line %u is %s.", port, line_hook_to_string(hook));
}

int main(int argc, char **argv) {
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        _cleanup_(line_backend_freep) LineBackend *backend = NULL;
        _cleanup_free_ unsigned *ports = NULL;
        const char *name;
        char status[128];
        int r;

        r = gw_daemon_init(&d, GW__SERVICE__SERVICE_LINEHWD, argc, argv);
        if (r > 0)
                return r;

        name = isempty(d.conf->line_hw_backend) ? "sim" : d.conf->line_hw_backend;
        if (d.conf->n_lines > 0) {
                ports = calloc(d.conf->n_lines, sizeof *ports);
                if (!ports)
                        return log_oom(), EXIT_FAILURE;
        }
        for (size_t i = 0; i < d.conf->n_lines; i++)
                ports[i] = d.conf->lines[i].port;
        r = line_backend_new(name, ports, d.conf->n_lines, &backend);
        if (r == -EOPNOTSUPP) {
                log_error("Unknown line hardware backend '%s' in '%s' (known: sim).", name, d.conf->path);
                return EXIT_CONFIG;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to set up the '%s' line backend: %m", name), EXIT_FAILURE;
        line_backend_set_hook_callback(backend, on_hook, &d);

        gw_bus_set_ctl_handler(d.bus, on_ctl, NULL, &d);
        snprintf(status, sizeof status, "%zu line(s) on the '%s' backend.", line_backend_n_ports(backend), name);
        r = gw_daemon_ready(&d, status);
        if (r < 0)
                return EXIT_FAILURE;
        return gw_daemon_run(&d);
}
