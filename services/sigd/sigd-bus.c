/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-bus.c: sigd's handler table (SipRequest from regd, StateSyncRequest) and outcome publishing. */
#include <inttypes.h>
#include <stdio.h>

#include "gw-log.h"
#include "sigd-bus.h"

static int handle_sip_request(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Manager *m = userdata;

        if (!env->sip_request || !env->has_correlation_id)
                return -EBADMSG;
        return manager_submit(m, env->correlation_id, env->sip_request);
}

static int handle_state_sync(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        /* sigd owns no state peers rebuild from: in-flight requests die with a
         * sigd instance and regd re-sends them. gw-daemon answers ServiceState. */
        return 0;
}

static const GwBusHandler sigd_handlers[] = {
        [GW__ENVELOPE__BODY_SIP_REQUEST] = { "SipRequest", handle_sip_request,
                                             GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
        [GW__ENVELOPE__BODY_STATE_SYNC_REQUEST] = { "StateSyncRequest", handle_state_sync, GW_SRC_DAEMONS },
};

static void publish_outcome(Manager *m, uint64_t cid, const Gw__SipRequestOutcome *o, void *userdata) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        char key[16];
        int r;

        snprintf(key, sizeof(key), "%u", o->line_port);
        env.has_correlation_id = true;
        env.correlation_id = cid;
        env.body_case = GW__ENVELOPE__BODY_SIP_REQUEST_OUTCOME;
        env.sip_request_outcome = UNCONST(o);
        r = gw_bus_publish_auto(userdata, key, &env);
        if (r < 0)
                log_warning_errno(r, "Failed to publish the outcome of request %" PRIu64 ", ignoring: %m", cid);
}

typedef struct StatusStorage {
        Gw__StatusReply reply;
        Gw__BusCounters bus;
        Gw__SipCounters sip;
} StatusStorage;

static int ctl_handler(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        static StatusStorage st;       /* packed right after we return, single-threaded */
        Manager *m = userdata;
        const SigdCounters *c = &m->counters;

        if (req->body_case != GW__ENVELOPE__BODY_STATUS_REQUEST)
                return -EOPNOTSUPP;
        gw__status_reply__init(&st.reply);
        gw__bus_counters__init(&st.bus);
        gw__sip_counters__init(&st.sip);
        gw_bus_counters(bus, &st.bus);
        st.reply.counters = &st.bus;
#define SET(f, v) do { st.sip.has_##f = true; st.sip.f = (v); } while (0)
        SET(rx, c->rx);
        SET(tx, c->tx);
        SET(malformed, c->malformed);
        SET(dropped, c->dropped);
        SET(unmatched_responses, c->unmatched_responses);
        SET(retransmissions, c->retransmissions);
        SET(auth_challenges, c->auth_challenges);
        SET(requests_received, c->requests_received);
        SET(transport_errors, c->transport_errors);
        SET(requests_sent, c->requests_sent);
        SET(outcomes, c->outcomes);
        SET(in_flight, m->n_requests);
        SET(untrusted, c->untrusted);
#undef SET
        st.reply.sip = &st.sip;
        reply->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        reply->status_reply = &st.reply;
        return 0;
}

int sigd_bus_attach(GwBus *bus, Manager *m) {
        static const char *const topics[] = { "SipRequest", "StateSyncRequest" };
        int r;

        gw_bus_set_handlers(bus, sigd_handlers, ELEMENTSOF(sigd_handlers), m);
        gw_bus_set_ctl_handler(bus, ctl_handler, NULL, m);
        manager_set_outcome_callback(m, publish_outcome, bus);
        for (size_t i = 0; i < ELEMENTSOF(topics); i++) {
                r = gw_bus_subscribe(bus, topics[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to '%s': %m", topics[i]);
        }
        return 0;
}
