/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-bus.c: mediad's handler table, control socket, and the callbacks that publish the manager's news. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw-log.h"
#include "mediad-bus.h"

typedef struct MediadGlue {
        GwBus *bus;
        mediad_frame_sink_t sink;
        void *sink_userdata;
        GwDaemon *daemon;
} MediadGlue;

static MediadGlue glue;           /* one manager per process */

/* ---------------------------------------------------------------- manager → bus, data plane */

static void send_frame(Manager *m, const GwPcmFrame *f, void *userdata) {
        MediadGlue *g = userdata;

        if (g->sink)
                g->sink(f, g->sink_userdata);
}

static void digit_detected(Manager *m, const Gw__DigitDetected *d, void *userdata) {
        Gw__Envelope env = GW__ENVELOPE__INIT;

        env.body_case = GW__ENVELOPE__BODY_DIGIT_DETECTED;
        env.digit_detected = UNCONST(d);
        (void) gw_bus_publish_port(((MediadGlue *) userdata)->bus, d->port, &env);
}

static void media_state(Manager *m, const Gw__MediaState *s, void *userdata) {
        Gw__Envelope env = GW__ENVELOPE__INIT;

        env.body_case = GW__ENVELOPE__BODY_MEDIA_STATE;
        env.media_state = UNCONST(s);
        (void) gw_bus_publish_port(((MediadGlue *) userdata)->bus, s->port, &env);
}

void mediad_on_frame(GwPcm *p, const GwPcmFrame *f, void *userdata) {
        manager_frame(userdata, f);
}

/* ---------------------------------------------------------------- bus → manager */

static int handle_media_control(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        int r;

        if (!env->media_control)
                return -EBADMSG;
        r = manager_media_control(userdata, env->media_control);
        return r == -ESTALE ? 0 : r;       /* a late duplicate is normal, not an error */
}

static int handle_line_hw_state(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        if (!env->line_hw_state)
                return -EBADMSG;
        manager_hook(userdata, env->line_hw_state->port, env->line_hw_state->hook == GW__HOOK_STATE__HOOK_OFF);
        return 0;
}

static int handle_state_sync(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        manager_publish_all(userdata);
        if (env->state_sync_request && env->state_sync_request->requester == GW__SERVICE__SERVICE_SIGD)
                manager_replay_digits(userdata);
        return 0;
}

static int handle_service_state(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        return 0;     /* seen by on_peer() before this runs */
}

static const GwBusHandler mediad_handlers[] = {
        [GW__ENVELOPE__BODY_SERVICE_STATE] = {
                "ServiceState", handle_service_state, GW_SRC_DAEMONS },
        [GW__ENVELOPE__BODY_MEDIA_CONTROL] = {
                "MediaControl", handle_media_control, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
        [GW__ENVELOPE__BODY_LINE_HW_STATE] = {
                "LineHwState", handle_line_hw_state, GW_SERVICE_BIT(GW__SERVICE__SERVICE_LINEHWD) },
        [GW__ENVELOPE__BODY_STATE_SYNC_REQUEST] = {
                "StateSyncRequest", handle_state_sync, GW_SRC_DAEMONS },
};

static void on_peer(GwBus *bus, Gw__Service peer, uint64_t instance_id, void *userdata) {
        if (peer != GW__SERVICE__SERVICE_SIGD)
                return;
        log_debug("sigd instance %016" PRIx64 " seen: accepting its MediaControl generations afresh.", instance_id);
        manager_sigd_restarted(userdata);
}

/* ---------------------------------------------------------------- control socket */

static int on_ctl(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        Manager *m = userdata;
        int r;

        switch (req->body_case) {
        case GW__ENVELOPE__BODY_STATUS_REQUEST:
                return gw_bus_status_reply_new(bus, reply);
        case GW__ENVELOPE__BODY_LINE_STATUS_REQUEST: {
                Gw__LineStatusReply *lr = NULL;

                if (!req->line_status_request)
                        return -EBADMSG;
                r = manager_line_status(m, req->line_status_request->port, &lr);
                if (r < 0)
                        return r;
                reply->body_case = GW__ENVELOPE__BODY_LINE_STATUS_REPLY;
                reply->line_status_reply = lr;
                return 0;
        }
        default:
                return -EOPNOTSUPP;
        }
}

static void on_ctl_free(Gw__Envelope *reply, void *userdata) {
        if (gw_bus_status_reply_free(reply))
                return;
        if (reply->body_case == GW__ENVELOPE__BODY_LINE_STATUS_REPLY && reply->line_status_reply) {
                manager_line_status_free(reply->line_status_reply);
                reply->line_status_reply = NULL;
        }
}

int mediad_bus_attach(Manager *m, GwBus *bus, mediad_frame_sink_t sink, void *sink_userdata, GwDaemon *d) {
        static const char *const topics[] = {
                "MediaControl", "LineHwState", "StateSyncRequest",
                "ServiceState/sigd",    /* to see a new sigd instance early */
        };
        const ManagerCallbacks cb = {
                .send_frame = send_frame,
                .digit_detected = digit_detected,
                .media_state = media_state,
        };
        int r;

        assert(m);
        assert(bus);

        glue = (MediadGlue) { .bus = bus, .sink = sink, .sink_userdata = sink_userdata, .daemon = d };
        manager_set_callbacks(m, &cb, &glue);
        gw_bus_set_handlers(bus, mediad_handlers, ELEMENTSOF(mediad_handlers), m);
        gw_bus_set_ctl_handler(bus, on_ctl, on_ctl_free, m);
        gw_bus_set_peer_callback(bus, on_peer, m);
        for (size_t i = 0; i < ELEMENTSOF(topics); i++) {
                r = gw_bus_subscribe(bus, topics[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to '%s': %m", topics[i]);
        }
        return 0;
}
