/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad.c: the media daemon: the DSP side of each line (tones, DTMF) and its RTP
 * session (docs/MEDIA.md). Parses argv, loads config and tone plan (gw-daemon),
 * builds the manager, opens the data plane (gw-pcm), attaches to the bus, runs the loop. */
#include <stdio.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-fdstore.h"
#include "gw-log.h"
#include "gw-pcm.h"
#include "mediad-bus.h"
#include "mediad-manager.h"

static void send_down(const GwPcmFrame *f, void *userdata) {
        (void) gw_pcm_send(userdata, f);        /* never blocks: a full queue drops and counts */
}

int main(int argc, char **argv) {
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(gw_pcm_freep) GwPcm *pcm = NULL;
        char status[128];
        int r;

        r = gw_daemon_init(&d, GW__SERVICE__SERVICE_MEDIAD, argc, argv);
        if (r > 0)
                return r;
        r = manager_new(d.event, d.conf, d.tone_plan, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to create the manager: %m"), EXIT_FAILURE;
        r = manager_set_state_dir(m, d.state_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the stream state: %m"), EXIT_FAILURE;
        {
                GwFdSet *kept = NULL;

                r = gw_fdset_from_env(&kept);
                if (r < 0)
                        log_warning_errno(r, "Failed to read the sockets passed to us, ignoring: %m");
                if (!kept)
                        return log_oom(), EXIT_FAILURE;
                r = manager_keep_sockets(m, kept);
                if (r < 0)
                        return log_error_errno(r, "Failed to keep the RTP sockets: %m"), EXIT_FAILURE;
        }
        (void) manager_restore_sessions(m);
        r = gw_pcm_new(d.event, d.conf, GW_PCM_MEDIA, mediad_on_frame, m, &pcm);
        if (r < 0)
                return log_error_errno(r, "Failed to open the PCM data plane: %m"), EXIT_FAILURE;
        d.pcm = pcm;                            /* its counters go out with the heartbeat */
        r = mediad_bus_attach(m, d.bus, send_down, pcm, &d);
        if (r < 0)
                return EXIT_FAILURE;
        snprintf(status, sizeof(status), "%zu lines, tone plan '%s'", m->n_lines, d.tone_plan->name);
        r = gw_daemon_ready(&d, status);
        if (r < 0)
                return EXIT_FAILURE;
        return gw_daemon_run(&d);
}
