/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-resolve.c: where the requests of a proxy entry go: IP literals, and DNS names resolved with c-ares.
 *
 * Policy, in plain words (RFC 3263, UDP only; docs/DNS.md).
 *
 * What an entry resolves is its 'dest': the registrar for the main entry
 * (by default the main proxy itself), else the entry. An IP literal is its own
 * single target, for ever. A name is resolved asynchronously on regd's loop
 * (common/gw-resolve.c): with a port, its A/AAAA records; without, SRV
 * "_sip._udp.<name>" ordered by priority with the weights drawn once per
 * resolution, each SRV target then resolved to A/AAAA; no SRV records: the
 * name's own A/AAAA on 5060. NAPTR is never used. Only addresses of the family
 * of sip.listen are asked for (the other family could not be reached from our
 * socket anyway).
 *
 * An entry keeps the ordered targets of its last resolution and sends to one of
 * them, the current target, while it answers: registrations, checks and calls
 * of a profile all go to the same address, there is no per-request DNS. When
 * the current target fails, the profile's search tries the entry's next
 * targets before the next entry (regd-policy.c). The answer is used for
 * max(its TTL, dns.min_ttl); after that the next use of the entry starts a new
 * resolution in the background while the known targets stay in use, and the
 * target in use stays first even if the new answer no longer lists it (it is
 * given up only when it fails). A name that does not resolve at all (no
 * answer, NXDOMAIN, no address of our family) is a failure of the entry with
 * reason 'dns'; it is resolved again at its next use, but not more often than
 * once per REGD_DNS_HOLDOFF_USEC. A re-resolution that fails keeps the known
 * targets and is tried again after dns.min_ttl. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "gw-log.h"
#include "regd-manager.h"
#include "regd-profile.h"
#include "regd-resolve.h"

/* ---------------------------------------------------------------- the resolver */

const char *resolve_error_to_string(int error) {
        switch (error) {
        case 0:
                return "no address";
        case -ENOENT:
                return "no such name";
        case -ENODATA:
                return "no address of the family of sip.listen";
        case -ETIMEDOUT:
                return "no answer from the DNS servers";
        case -ECONNREFUSED:
                return "the DNS servers refused";
        case -EAGAIN:
                return "DNS server failure";
        default:
                return strerror(-error);
        }
}

int resolve_setup(Manager *m) {
        const GwConf *c = m->conf;
        bool names = false;
        GwResolverConfig rc = {
                .servers = (const char *const *) c->dns_servers,
                .n_servers = c->n_dns_servers,
                .timeout_ms = REGD_DNS_TIMEOUT_MS,
                .tries = REGD_DNS_TRIES,
        };
        int r;

        for (size_t i = 0; i < m->n_profiles && !names; i++)
                for (size_t k = 0; k < m->profiles[i]->n_proxies && !names; k++)
                        names = proxy_is_name(m->profiles[i]->proxies[k]);
        if (!names || m->resolver)
                return 0;

        r = gw_resolver_new(m->event, &rc, &m->resolver);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the DNS resolver: %m");
        log_debug("DNS resolver ready (%s).", c->n_dns_servers > 0 ? "dns.servers" : "system resolvers");
        return 0;
}

static int resolve_family(const Manager *m) {
        int f = m && m->conf ? m->conf->sip_listen_addr.ss_family : AF_UNSPEC;

        return f == AF_INET || f == AF_INET6 ? f : AF_UNSPEC;
}

/* ---------------------------------------------------------------- entries */

int resolve_entries_init(Profile *p, ResolveAnswerFn answered) {
        for (size_t i = 0; i < p->n_proxies; i++) {
                Proxy *x = p->proxies[i];
                char buf[REGD_TARGET_MAX];
                const char *a = buf;
                int r;

                x->answered = answered;
                x->dest = i == 0 && !isempty(p->conf->registrar.host) ? &p->conf->registrar : &x->hp;
                r = hostport_format_target(x->dest, buf, sizeof(buf));
                if (r == -EADDRNOTAVAIL)
                        continue;               /* a name: resolved on first use */
                if (r < 0) {
                        x->dns_error = r;       /* refused by gw-conf already; never sent to */
                        continue;
                }
                r = proxy_set_targets(x, &a, 1, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

const GwHostPort *resolve_entry_hostport(const Profile *p, size_t i) {
        assert(i < p->n_proxies);
        return p->proxies[i]->dest;
}

const GwHostPort *resolve_active_hostport(const Profile *p) {
        return resolve_entry_hostport(p, p->active);
}

int resolve_entry_target(const Profile *p, size_t i, char *buf, size_t n) {
        const Proxy *x;
        const char *t;
        int k;

        assert(i < p->n_proxies);
        x = p->proxies[i];
        t = proxy_current_target(x);
        if (!t) {
                if (!proxy_is_name(x))
                        return -EINVAL;         /* an invalid literal: gw-conf refuses those */
                if (x->query)
                        return -EAGAIN;
                return x->dns_failed_mono_us > 0 ? -EADDRNOTAVAIL : -EAGAIN;
        }
        k = snprintf(buf, n, "%s", t);
        if (k < 0 || (size_t) k >= n)
                return -ENOBUFS;
        return 0;
}

int resolve_active_target(const Profile *p, char *buf, size_t n) {
        return resolve_entry_target(p, p->active, buf, n);
}

static void resolve_on_answer(GwResolveQuery *q, int error, const GwResolveResult *res, void *userdata);

/* Start resolving entry x unless it is an IP literal or already resolving. */
static int resolve_entry(Profile *p, Proxy *x) {
        Manager *m = p->manager;
        int r;

        if (x->query || !proxy_is_name(x))
                return 0;
        if (!m || !m->resolver)
                return -EADDRNOTAVAIL;
        r = gw_resolve_host(m->resolver, x->dest->host, x->dest->port, resolve_family(m),
                            resolve_on_answer, x, &x->query);
        if (r < 0) {
                x->query = NULL;
                return log_warning_errno(r, "Profile '%s': cannot resolve '%s': %m", p->name, x->dest->text);
        }
        log_debug("Profile '%s': resolving '%s'%s.", p->name, x->dest->text,
                  x->dest->port ? "" : " (SRV _sip._udp, then A/AAAA)");
        return 0;
}

int resolve_entry_use_target(Profile *p, size_t i, char *buf, size_t n) {
        Proxy *x;
        uint64_t now;
        int r;

        assert(i < p->n_proxies);
        x = p->proxies[i];
        if (!proxy_is_name(x) || !p->manager)
                return resolve_entry_target(p, i, buf, n);

        now = manager_now(p->manager, CLOCK_MONOTONIC);
        if (x->n_targets > 0) {
                /* Known targets stay in use; an old answer is refreshed behind them. */
                if (now >= x->resolve_after_mono_us)
                        (void) resolve_entry(p, x);
                return resolve_entry_target(p, i, buf, n);
        }
        if (x->query)
                return -EAGAIN;
        if (x->dns_failed_mono_us > 0 && now < x->dns_failed_mono_us + REGD_DNS_HOLDOFF_USEC)
                return -EADDRNOTAVAIL;
        r = resolve_entry(p, x);
        if (r < 0) {
                x->dns_error = r;
                x->dns_failed_mono_us = now;
                x->health = PROXY_HEALTH_DOWN;
                snprintf(x->last_failure_reason, sizeof(x->last_failure_reason), "dns");
                x->last_failure_real_us = manager_now(p->manager, CLOCK_REALTIME);
                p->dirty = true;
                return -EADDRNOTAVAIL;
        }
        return -EAGAIN;
}

void resolve_all(Profile *p) {
        for (size_t i = 0; i < p->n_proxies; i++)
                if (proxy_is_name(p->proxies[i]) && p->proxies[i]->n_targets == 0)
                        (void) resolve_entry(p, p->proxies[i]);
}

int resolve_entry_seed_target(Profile *p, size_t i, const char *target) {
        struct sockaddr_storage ss;
        Proxy *x;

        assert(i < p->n_proxies);
        x = p->proxies[i];
        if (!proxy_is_name(x) || x->n_targets > 0 || isempty(target))
                return -EINVAL;
        if (gw_parse_sockaddr(target, REGD_DEFAULT_SIP_PORT, &ss) < 0)
                return -EINVAL;
        /* Resolved again at first use: the seed is only the target in use. */
        x->resolve_after_mono_us = 0;
        return proxy_set_targets(x, &target, 1, false);
}

static void resolve_on_answer(GwResolveQuery *q, int error, const GwResolveResult *res, void *userdata) {
        Proxy *x = userdata;
        Profile *p = x->profile;
        Manager *m = p->manager;
        uint64_t now = manager_now(m, CLOCK_MONOTONIC), min_ttl = m->conf->dns_min_ttl_us;
        char buf[512] = "";
        size_t used = 0;
        int r;

        x->query = NULL;
        p->dirty = true;

        if (error >= 0) {
                char (*addrs)[GW_RESOLVE_ADDR_STRLEN] = calloc(res->n_targets, sizeof(*addrs));
                const char **ptrs = calloc(res->n_targets, sizeof(char *));
                uint64_t ttl;

                if (!addrs || !ptrs) {
                        free(addrs);
                        free(ptrs);
                        error = -ENOMEM;
                        goto failed;
                }
                for (size_t i = 0; i < res->n_targets; i++) {
                        ptrs[i] = gw_resolve_target_to_string(&res->targets[i], addrs[i], sizeof(addrs[i]));
                        if (used < sizeof(buf))
                                used += (size_t) snprintf(buf + used, sizeof(buf) - used, "%s%s",
                                                          i ? " " : "", ptrs[i]);
                }
                r = proxy_set_targets(x, ptrs, res->n_targets, x->index == p->active);
                free(addrs);
                free(ptrs);
                if (r < 0) {
                        error = r;
                        goto failed;
                }
                ttl = MAX((uint64_t) res->ttl_s * USEC_PER_SEC, min_ttl);
                x->resolve_after_mono_us = now + ttl;
                x->dns_error = 0;
                x->dns_failed_mono_us = 0;
                log_info("Profile '%s': '%s' resolved%s to %s; in use: %s; again in %" PRIu64 " s.",
                         p->name, x->dest->text, res->from_srv ? " (SRV)" : "", buf,
                         strna(proxy_current_target(x)), ttl / USEC_PER_SEC);
                if (x->answered)
                        x->answered(p, x, true);
                return;
        }

failed:
        x->dns_error = error;
        if (x->n_targets > 0) {
                x->resolve_after_mono_us = now + min_ttl;
                log_warning("Profile '%s': resolving '%s' again failed (%s), keeping its %zu known target(s).",
                            p->name, x->dest->text, resolve_error_to_string(error), x->n_targets);
                return;
        }
        x->dns_failed_mono_us = now;
        log_warning("Profile '%s': '%s' does not resolve (%s).", p->name, x->dest->text,
                    resolve_error_to_string(error));
        if (x->answered)
                x->answered(p, x, false);
}
