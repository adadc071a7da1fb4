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
        /* In-flight requests die with a sigd instance and regd re-sends them; the
         * lines' desired state (LineControl, MediaControl) and calls are ours to
         * re-publish. gw-daemon answers ServiceState. */
        manager_publish_lines(userdata);
        return 0;
}

static int handle_line_hw_state(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        const Gw__LineHwState *h = env->line_hw_state;

        if (!h)
                return -EBADMSG;
        return manager_line_hook(userdata, h->port, h->hook == GW__HOOK_STATE__HOOK_OFF);
}

static int handle_line_event(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        const Gw__LineEvent *e = env->line_event;

        if (!e)
                return -EBADMSG;
        if (e->kind == GW__LINE_EVENT_KIND__LINE_EVENT_FLASH)
                return manager_line_flash(userdata, e->port);
        if (e->kind == GW__LINE_EVENT_KIND__LINE_EVENT_PULSE_DIGIT)
                return manager_line_digit_from(userdata, e->port, e->digit, 1, env->instance_id,
                                               e->has_seq ? e->seq : 0, e->has_replay && e->replay);
        return -EBADMSG;
}

static int handle_digit(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        const Gw__DigitDetected *d = env->digit_detected;

        if (!d)
                return -EBADMSG;
        /* Digits received over RTP belong to the far end, not to our dial plan. */
        if (d->has_source && d->source == GW__DIGIT_SOURCE__DIGIT_RFC4733)
                return 0;
        return manager_line_digit_from(userdata, d->port, d->digit, 0, env->instance_id,
                                       d->has_seq ? d->seq : 0, d->has_replay && d->replay);
}

static int handle_profile_status(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        return manager_profile_status(userdata, env->profile_status);
}

static const GwBusHandler sigd_handlers[] = {
        [GW__ENVELOPE__BODY_SIP_REQUEST] = { "SipRequest", handle_sip_request,
                                             GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
        [GW__ENVELOPE__BODY_STATE_SYNC_REQUEST] = { "StateSyncRequest", handle_state_sync, GW_SRC_DAEMONS },
        [GW__ENVELOPE__BODY_LINE_HW_STATE] = { "LineHwState", handle_line_hw_state,
                                               GW_SERVICE_BIT(GW__SERVICE__SERVICE_LINEHWD) },
        [GW__ENVELOPE__BODY_LINE_EVENT] = { "LineEvent", handle_line_event,
                                            GW_SERVICE_BIT(GW__SERVICE__SERVICE_LINEHWD) },
        [GW__ENVELOPE__BODY_DIGIT_DETECTED] = { "DigitDetected", handle_digit,
                                                GW_SERVICE_BIT(GW__SERVICE__SERVICE_MEDIAD) },
        [GW__ENVELOPE__BODY_PROFILE_STATUS] = { "ProfileStatus", handle_profile_status,
                                                GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
};

/* A new linehwd or mediad instance rebuilds its lines from our desired state
 * (it asks with StateSyncRequest too; this covers a request we missed). */
static void on_peer(GwBus *bus, Gw__Service peer, uint64_t instance_id, void *userdata) {
        if (peer == GW__SERVICE__SERVICE_LINEHWD || peer == GW__SERVICE__SERVICE_MEDIAD)
                manager_publish_lines(userdata);
}

static void publish_call_message(Manager *m, const char *key, Gw__Envelope *env, void *userdata) {
        int r;

        r = gw_bus_publish_auto(userdata, key, env);
        if (r < 0)
                log_warning_errno(r, "Failed to publish %s, ignoring: %m", strna(gw_envelope_body_name(env->body_case)));
}

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
        Gw__LineStatusReply lines_reply;
        Gw__LineStatusEntry *entries;
        Gw__LineStatusEntry **entry_ptrs;
        Gw__LineCall *calls;
} StatusStorage;

static StatusStorage ctl_st;            /* packed right after the handler returns, single-threaded */

static void status_storage_free(Gw__Envelope *reply, void *userdata) {
        StatusStorage *st = &ctl_st;

        free(st->entries);
        free(st->entry_ptrs);
        free(st->calls);
        st->entries = NULL;
        st->entry_ptrs = NULL;
        st->calls = NULL;
}

/* LineStatusRequest: the call part of each line (linehwd and mediad fill the rest). */
static int ctl_line_status(Manager *m, const Gw__LineStatusRequest *req, Gw__Envelope *reply, StatusStorage *st) {
        unsigned port = req && req->has_port ? req->port : 0;
        size_t n = 0;

        gw__line_status_reply__init(&st->lines_reply);
        st->entries = calloc(MAX(m->n_lines, (size_t) 1), sizeof(*st->entries));
        st->entry_ptrs = calloc(MAX(m->n_lines, (size_t) 1), sizeof(*st->entry_ptrs));
        st->calls = calloc(MAX(m->n_lines, (size_t) 1), sizeof(*st->calls));
        if (!st->entries || !st->entry_ptrs || !st->calls)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_lines; i++) {
                unsigned p = m->lines[i].conf->port;
                if (port != 0 && p != port)
                        continue;
                gw__line_status_entry__init(&st->entries[n]);
                gw__line_call__init(&st->calls[n]);
                st->entries[n].port = p;
                (void) manager_line_call(m, p, &st->calls[n]);
                st->entries[n].call = &st->calls[n];
                st->entry_ptrs[n] = &st->entries[n];
                n++;
        }
        if (port != 0 && n == 0)
                return -ENOENT;
        st->lines_reply.n_lines = n;
        st->lines_reply.lines = st->entry_ptrs;
        reply->body_case = GW__ENVELOPE__BODY_LINE_STATUS_REPLY;
        reply->line_status_reply = &st->lines_reply;
        return 0;
}

static int ctl_handler(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        Manager *m = userdata;
        const SigdCounters *c = &m->counters;

        if (req->body_case == GW__ENVELOPE__BODY_LINE_STATUS_REQUEST)
                return ctl_line_status(m, req->line_status_request, reply, &ctl_st);
        if (req->body_case != GW__ENVELOPE__BODY_STATUS_REQUEST)
                return -EOPNOTSUPP;
        gw__status_reply__init(&ctl_st.reply);
        gw__bus_counters__init(&ctl_st.bus);
        gw__sip_counters__init(&ctl_st.sip);
        gw_bus_counters(bus, &ctl_st.bus);
        ctl_st.reply.counters = &ctl_st.bus;
#define SET(f, v) do { ctl_st.sip.has_##f = true; ctl_st.sip.f = (v); } while (0)
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
        SET(rx_waited, c->rx_waited);
#undef SET
        ctl_st.reply.sip = &ctl_st.sip;
        reply->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        reply->status_reply = &ctl_st.reply;
        return 0;
}

int sigd_bus_attach(GwBus *bus, Manager *m) {
        static const char *const topics[] = { "SipRequest", "StateSyncRequest", "LineHwState", "LineEvent",
                                              "DigitDetected", "ProfileStatus" };
        int r;

        gw_bus_set_handlers(bus, sigd_handlers, ELEMENTSOF(sigd_handlers), m);
        gw_bus_set_ctl_handler(bus, ctl_handler, status_storage_free, m);
        gw_bus_set_peer_callback(bus, on_peer, m);
        manager_set_outcome_callback(m, publish_outcome, bus);
        manager_set_publish_callback(m, publish_call_message, bus);
        for (size_t i = 0; i < ELEMENTSOF(topics); i++) {
                r = gw_bus_subscribe(bus, topics[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to '%s': %m", topics[i]);
        }
        return 0;
}
