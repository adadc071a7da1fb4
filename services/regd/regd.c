/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd.c: the registration daemon: registers every line, keeps proxy health, survives restarts. */
#include <stdlib.h>

#include "gw-daemon.h"
#include "gw-log.h"
#include "regd-bus.h"
#include "regd-dbus.h"
#include "regd-manager.h"

int main(int argc, char **argv) {
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        _cleanup_(api_freep) Api *api = NULL;         /* freed after the manager, whose news it hears */
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        r = gw_daemon_init(&d, GW__SERVICE__SERVICE_REGD, argc, argv);
        if (r > 0)
                return r;
        if (r < 0)
                return EXIT_FAILURE;

        r = manager_new(d.event, d.conf, d.state_dir, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the registration manager: %m"), EXIT_FAILURE;
        r = regd_bus_attach(m, d.bus, &d);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_start(m);
        if (r < 0)
                return log_error_errno(r, "Failed to start registering: %m"), EXIT_FAILURE;
        /* The D-Bus management API (docs/OPERATIONS.md); without a bus, none. */
        r = api_new(&d, &api);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the D-Bus API: %m"), EXIT_FAILURE;
        r = regd_bus_attach_api(m, d.bus, api);
        if (r < 0)
                return EXIT_FAILURE;

        gw_daemon_ready(&d, "Registering lines");
        r = gw_daemon_run(&d);
        /* A plain SIGTERM is a restart as far as regd knows: keep every registration. */
        manager_flush(m);
        return r;
}
