/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad.c: the media daemon. This milestone: bus up, READY, status with its counters.
 *
 * RTP/SRTP sessions, codecs, jitter buffer, tones and DTMF come with the media
 * milestone; until then mediad is a real bus participant with nothing to do:
 * it publishes its ServiceState and BusCounters (gw-daemon) and answers
 * StatusRequest on its control socket. */
#include <stdio.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-log.h"

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

int main(int argc, char **argv) {
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        int r;

        r = gw_daemon_init(&d, GW__SERVICE__SERVICE_MEDIAD, argc, argv);
        if (r > 0)
                return r;
        gw_bus_set_ctl_handler(d.bus, on_ctl, NULL, &d);
        r = gw_daemon_ready(&d, "No media sessions (media milestone pending).");
        if (r < 0)
                return EXIT_FAILURE;
        return gw_daemon_run(&d);
}
