/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-profile.c: a SIP profile and its ordered proxy entries.
 *
 * Policy, in plain words.
 *
 * A profile has an ordered list of entries: the main proxy first, then the
 * redundant proxies in the order they are configured. Exactly one entry is
 * active; at start it is the main one. All lines of the profile register on
 * the active entry: while the main entry is active, REGISTER goes to the
 * profile's registrar (by default the main proxy itself); while a redundant
 * entry is active, REGISTER goes to that entry.
 *
 * Every outcome of a request sent to an entry says something about it:
 *  - the entry FAILED if there was no answer at all within the Invite total
 *    timeout (a timeout without any provisional response), a transport error
 *    (ICMP unreachable, send failure), or a 408 or 503 response;
 *  - the entry is ALIVE if it answered anything else (2xx, 401/403/423, other
 *    4xx-6xx, an authentication failure, or a timeout after a provisional);
 *  - nothing is learned if sigd could not even build the request.
 * A failure marks the entry 'down' with the reason and time, an answer marks
 * it 'up'; the counters (sent, timeouts, 408, 503, transport errors,
 * failovers) only ever grow and are shown by 'gwctl status'.
 *
 * This milestone stops there: a failed entry is noted but the active entry
 * does not change, and the lines of the profile retry on it with back-off.
 * The failover search (next milestone) plugs in at profile_record_outcome():
 * on a FAILED verdict for the active entry it will try the next entry, then
 * the next, cycling back to the main one with pacing; the first entry that
 * answers becomes active, counts a failover, and every line of the profile
 * re-registers there. Homing (watching the main entry and returning to it) and
 * parking (staying where we are) hang off the same place.
 *
 * Entries given as DNS names cannot be used yet: only IP literals resolve.
 * A line whose target is a name is 'failed' with reason 'dns' (logged) and
 * retried with back-off, so it starts working once resolution is built. */
#include <assert.h>
#include <stdio.h>

#include "regd-manager.h"
#include "regd-profile.h"

int profile_new(Manager *m, const GwProfileConf *c, Profile **ret) {
        _cleanup_(profile_freep) Profile *p = NULL;
        int r;

        assert(c);
        assert(ret);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->manager = m;
        p->conf = c;
        p->name = strdup(strempty(c->name));
        if (!p->name)
                return -ENOMEM;

        r = proxy_new(p, 0, &c->proxy, &p->proxies[0]);
        if (r < 0)
                return r;
        p->n_proxies = 1;
        for (size_t i = 0; i < c->n_redundant && p->n_proxies < ELEMENTSOF(p->proxies); i++) {
                r = proxy_new(p, p->n_proxies, &c->redundant[i], &p->proxies[p->n_proxies]);
                if (r < 0)
                        return r;
                p->n_proxies++;
        }
        p->active = 0;
        p->dirty = true;

        *ret = TAKE_PTR(p);
        return 0;
}

Profile *profile_free(Profile *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_proxies; i++)
                proxy_free(p->proxies[i]);
        free(p->name);
        free(p);
        return NULL;
}

Proxy *profile_active_proxy(const Profile *p) {
        assert(p->active < p->n_proxies);
        return p->proxies[p->active];
}

const GwHostPort *profile_active_hostport(const Profile *p) {
        if (p->active == 0 && !isempty(p->conf->registrar.host))
                return &p->conf->registrar;
        return &profile_active_proxy(p)->hp;
}

int profile_active_target(const Profile *p, char *buf, size_t n) {
        return hostport_format_target(profile_active_hostport(p), buf, n);
}

void profile_record_outcome(Profile *p, Proxy *x, const Gw__SipRequestOutcome *o,
                            const char *reason, uint64_t now_real_us) {
        ProxyVerdict v;

        assert(p);
        assert(x);

        v = proxy_verdict_from_outcome(o);
        /* Counters change with every outcome: publish them (coalesced by the manager). */
        p->dirty = true;
        if (!proxy_record_outcome(x, o, v, reason, now_real_us))
                return;

        if (v == PROXY_VERDICT_FAILED && x->index == p->active) {
                /* FAILOVER SEARCH PLUGS IN HERE (next milestone): start the search
                 * over the entries after p->active (cycling to the main one, paced),
                 * make the first that answers active, count a failover, and
                 * re-register the profile's lines on it. For now the active entry
                 * stays and the lines retry on it with back-off. */
        }
}

static Gw__ProxyRole role_to_proto(ProxyRole r) {
        return r == PROXY_ROLE_MAIN ? GW__PROXY_ROLE__ROLE_MAIN : GW__PROXY_ROLE__ROLE_REDUNDANT;
}

static Gw__ProxyHealth health_to_proto(ProxyHealth h) {
        switch (h) {
        case PROXY_HEALTH_UP:
                return GW__PROXY_HEALTH__HEALTH_UP;
        case PROXY_HEALTH_DOWN:
                return GW__PROXY_HEALTH__HEALTH_DOWN;
        default:
                return GW__PROXY_HEALTH__HEALTH_UNKNOWN;
        }
}

void profile_status_fill(Profile *p, ProfileStatusStorage *s, Gw__ProfileStatus *ret) {
        assert(p);
        assert(s);
        assert(ret);

        gw__profile_status__init(ret);
        ret->name = p->name;
        ret->active_proxy = profile_active_proxy(p)->hp.text;
        if (profile_active_target(p, s->target, sizeof(s->target)) < 0)
                s->target[0] = 0;
        ret->active_target = s->target;

        for (size_t i = 0; i < p->n_proxies; i++) {
                Proxy *x = p->proxies[i];
                Gw__ProxyEntryStatus *e = &s->entries[i];
                Gw__ProxyCounters *c = &s->counters[i];

                gw__proxy_counters__init(c);
                c->has_sent = c->has_timeouts = c->has_r408 = c->has_r503 = true;
                c->has_transport_errors = c->has_failovers = true;
                c->sent = x->counters.sent;
                c->timeouts = x->counters.timeouts;
                c->r408 = x->counters.r408;
                c->r503 = x->counters.r503;
                c->transport_errors = x->counters.transport_errors;
                c->failovers = x->counters.failovers;

                gw__proxy_entry_status__init(e);
                e->address = x->hp.text;
                e->role = role_to_proto(x->role);
                e->state = health_to_proto(x->health);
                if (x->last_failure_reason[0]) {
                        e->last_failure_reason = x->last_failure_reason;
                        e->has_last_failure_real_us = true;
                        e->last_failure_real_us = x->last_failure_real_us;
                }
                e->counters = c;
                s->entry_ptrs[i] = e;
        }
        ret->n_proxies = p->n_proxies;
        ret->proxies = s->entry_ptrs;
}
