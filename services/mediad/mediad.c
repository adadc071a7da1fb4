/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad.c: the media daemon: the DSP side of each line (tones, DTMF) and its RTP
 * session (docs/MEDIA.md). Parses argv, loads config and tone plan (gw-daemon),
 * builds the manager, attaches it to the bus and runs the loop. */
#include <stdio.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-log.h"
#include "mediad-bus.h"
#include "mediad-manager.h"

int main(int argc, char **argv) {
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        _cleanup_(manager_freep) Manager *m = NULL;
        char status[128];
        int r;

        r = gw_daemon_init(&d, GW__SERVICE__SERVICE_MEDIAD, argc, argv);
        if (r > 0)
                return r;
        r = manager_new(d.event, d.conf, d.tone_plan, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to create the manager: %m"), EXIT_FAILURE;
        r = mediad_bus_attach(m, d.bus, NULL, NULL, &d);
        if (r < 0)
                return EXIT_FAILURE;
        snprintf(status, sizeof(status), "%zu lines, tone plan '%s'", m->n_lines, d.tone_plan->name);
        r = gw_daemon_ready(&d, status);
        if (r < 0)
                return EXIT_FAILURE;
        return gw_daemon_run(&d);
}
