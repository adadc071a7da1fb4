/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-proxy.c: one proxy entry of a profile: address, health, failure counters.
 *
 * An entry only keeps score here; deciding what to do about a failed entry
 * is the policy's (regd-policy.c), carried out by the profile (regd-profile.c). */
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>

#include "regd-proxy.h"

static const char *const proxy_role_table[_PROXY_ROLE_MAX] = {
        [PROXY_ROLE_MAIN] = "main",
        [PROXY_ROLE_REDUNDANT] = "redundant",
};

static const char *const proxy_health_table[_PROXY_HEALTH_MAX] = {
        [PROXY_HEALTH_UNKNOWN] = "unknown",
        [PROXY_HEALTH_UP] = "up",
        [PROXY_HEALTH_DOWN] = "down",
};

const char *proxy_role_to_string(ProxyRole r) {
        return (unsigned) r < _PROXY_ROLE_MAX ? proxy_role_table[r] : NULL;
}

const char *proxy_health_to_string(ProxyHealth h) {
        return (unsigned) h < _PROXY_HEALTH_MAX ? proxy_health_table[h] : NULL;
}

int proxy_new(Profile *p, unsigned index, const GwHostPort *hp, Proxy **ret) {
        _cleanup_(proxy_freep) Proxy *x = NULL;

        assert(hp);
        assert(ret);

        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->profile = p;
        x->index = index;
        x->role = index == 0 ? PROXY_ROLE_MAIN : PROXY_ROLE_REDUNDANT;
        x->hp.text = strdup(strempty(hp->text));
        x->hp.host = strdup(strempty(hp->host));
        if (!x->hp.text || !x->hp.host)
                return -ENOMEM;
        x->hp.port = hp->port;
        x->hp.is_ip = hp->is_ip;
        x->dest = &x->hp;

        *ret = TAKE_PTR(x);
        return 0;
}

Proxy *proxy_free(Proxy *x) {
        if (!x)
                return NULL;
        gw_resolve_query_cancel(x->query);
        free(x->targets);
        free(x->hp.text);
        free(x->hp.host);
        free(x);
        return NULL;
}

const char *proxy_address(const Proxy *x) {
        return x->hp.text;
}

int hostport_format_target(const GwHostPort *hp, char *buf, size_t n) {
        struct in6_addr a6;
        struct in_addr a4;
        unsigned port;
        int k;

        assert(hp);
        assert(buf);

        if (isempty(hp->host))
                return -EINVAL;
        port = hp->port ? hp->port : REGD_DEFAULT_SIP_PORT;

        /* Trust the text, not only the is_ip flag: a name must never reach sigd as a target. */
        if (inet_pton(AF_INET, hp->host, &a4) == 1)
                k = snprintf(buf, n, "%s:%u", hp->host, port);
        else if (inet_pton(AF_INET6, hp->host, &a6) == 1)
                k = snprintf(buf, n, "[%s]:%u", hp->host, port);
        else
                return -EADDRNOTAVAIL;
        if (k < 0 || (size_t) k >= n)
                return -ENOBUFS;
        return 0;
}

void proxy_note_sent(Proxy *x, const char *target, uint64_t now_mono_us) {
        x->counters.sent++;
        x->last_attempt_mono_us = now_mono_us;
        for (size_t i = 0; i < x->n_targets; i++)
                if (target ? streq(x->targets[i].addr, target) : i == x->cur_target)
                        x->targets[i].last_attempt_mono_us = now_mono_us;
}

bool proxy_is_name(const Proxy *x) {
        char buf[REGD_TARGET_MAX];

        return hostport_format_target(x->dest, buf, sizeof(buf)) == -EADDRNOTAVAIL;
}

const char *proxy_current_target(const Proxy *x) {
        return x->cur_target < x->n_targets ? x->targets[x->cur_target].addr : NULL;
}

int proxy_set_targets(Proxy *x, const char *const *addrs, size_t n, bool sticky) {
        const char *cur = proxy_current_target(x);
        ProxyTarget *t;
        size_t k = 0, found = SIZE_MAX;

        t = calloc(n + 1, sizeof(ProxyTarget));
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (cur && streq(addrs[i], cur))
                        found = i;
        /* The target in use stays first while it answers, even if DNS no longer lists it. */
        if (cur && found == SIZE_MAX && sticky)
                t[k++] = x->targets[x->cur_target];
        for (size_t i = 0; i < n; i++) {
                snprintf(t[k].addr, sizeof(t[k].addr), "%s", addrs[i]);
                /* Keep pacing history of addresses we already knew. */
                for (size_t j = 0; j < x->n_targets; j++)
                        if (streq(x->targets[j].addr, addrs[i]))
                                t[k].last_attempt_mono_us = x->targets[j].last_attempt_mono_us;
                k++;
        }
        free(x->targets);
        x->targets = t;
        x->n_targets = k;
        x->cur_target = found != SIZE_MAX ? found : 0;
        return 0;
}

bool proxy_record_outcome(Proxy *x, const GwOutcome *o, GwVerdict v, const char *reason,
                          uint64_t now_real_us) {
        ProxyHealth old = x->health;

        assert(o);
        if (v == GW_VERDICT_NONE)
                return false;

        switch (o->kind) {
        case GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT:
                x->counters.timeouts++;
                break;
        case GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT:
                x->counters.transport_errors++;
                break;
        case GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE:
                if (o->status_code == 408)
                        x->counters.r408++;
                else if (o->status_code == 503)
                        x->counters.r503++;
                break;
        default:
                break;
        }

        switch (v) {
        case GW_VERDICT_ALIVE:
                x->health = PROXY_HEALTH_UP;
                break;
        case GW_VERDICT_FAILED:
                x->health = PROXY_HEALTH_DOWN;
                snprintf(x->last_failure_reason, sizeof(x->last_failure_reason), "%s", strempty(reason));
                x->last_failure_real_us = now_real_us;
                /* A new failure is news even if the entry was already down. */
                return true;
        default:
                break;
        }

        return x->health != old;
}
