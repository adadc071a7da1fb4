/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-resolve.h: asynchronous RFC 3263 (UDP) resolution of a SIP host on an sd-event loop (c-ares). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

/* Contract (see docs/DNS.md for the why):
 *   - an IP literal ("192.0.2.1", "::1", "[::1]") gives one target, no DNS query;
 *   - a name with a port gives the A/AAAA records of the name, on that port;
 *   - a name without a port: SRV "_sip._udp.<name>", ordered by priority and, within one
 *     priority, in a weighted random order drawn once per resolution (RFC 2782); each SRV
 *     target is resolved to A/AAAA in that order. With no SRV record (NXDOMAIN or no SRV
 *     data) the A/AAAA records of the name on port 5060. NAPTR is never queried.
 *   - names are queried exactly as given (no search domains, no /etc/hosts).
 * Everything runs on the sd-event loop given to gw_resolver_new(): nothing blocks, and the
 * callback is always called from that loop, never from inside gw_resolve_host(). */

typedef struct GwResolver GwResolver;
typedef struct GwResolveQuery GwResolveQuery;

typedef struct GwResolveTarget {
        struct sockaddr_storage addr;   /* AF_INET or AF_INET6, port set (never 0) */
        socklen_t addr_len;             /* sizeof(struct sockaddr_in) or _in6 */
        uint16_t priority, weight;      /* from the SRV record; 0 when there was none */
        uint32_t ttl_s;                 /* TTL of this address record (and its SRV record) */
        char *srv_target;               /* SRV target host name, NULL when not from SRV */
} GwResolveTarget;

typedef struct GwResolveResult {
        GwResolveTarget *targets;       /* ordered: try targets[0] first */
        size_t n_targets;               /* > 0 */
        uint32_t ttl_s;                 /* minimum TTL over every record used (SRV, A, AAAA);
                                         * UINT32_MAX for an IP literal */
        bool from_srv;                  /* targets came from SRV records */
} GwResolveResult;

/* error == 0: result is valid (n_targets > 0) and owned by the resolver: it is freed when the
 * callback returns; keep what you need (gw_resolve_result_copy()). error < 0, result == NULL:
 *   -ENOENT        the name (or, with SRV, the name and its SRV targets) does not exist
 *                  (NXDOMAIN), or the SRV records say the service is not offered (target ".");
 *   -ENODATA       the name exists but has no address of the requested family;
 *   -ETIMEDOUT     no server answered within timeout and tries;
 *   -ECONNREFUSED  the servers refused (ICMP port unreachable, or rcode REFUSED);
 *   -EAGAIN        SERVFAIL;  -EBADMSG  malformed answer;  -EINVAL  invalid name;
 *   -ENOMEM, -EIO  other failures.
 * After the callback returns the query handle is gone. The callback may start new queries,
 * cancel other queries, and free the resolver. */
typedef void (*gw_resolve_cb_t)(GwResolveQuery *q, int error, const GwResolveResult *result,
                                void *userdata);

typedef struct GwResolverConfig {
        /* DNS servers, asked in order: "ip", "ip:port", "[ip6]", "[ip6]:port" or a bare
         * "ip6"; port 1-65535, default 53. gw_resolver_new() refuses anything else with
         * -EINVAL. NULL or 0 = the system's resolvers (/etc/resolv.conf). */
        const char *const *servers;
        size_t n_servers;
        /* Time to wait for the first try, in ms; c-ares doubles it on each further round over
         * all servers (with one server and 2 tries: 1x + 2x). 0 = c-ares default (5 s). */
        unsigned timeout_ms;
        unsigned tries;                 /* 0 = c-ares default (4) */
} GwResolverConfig;

/* c may be NULL (system resolvers, default timeouts). Takes a reference on e. */
int gw_resolver_new(sd_event *e, const GwResolverConfig *c, GwResolver **ret);
/* Accepts NULL, returns NULL. Pending queries are dropped without callback; their handles
 * become invalid. */
GwResolver *gw_resolver_free(GwResolver *r);
static inline void gw_resolver_freep(GwResolver **r) { gw_resolver_free(*r); }

/* family: AF_INET, AF_INET6 or AF_UNSPEC (IPv4 addresses before IPv6 for each host).
 * port: 0 = not given (SRV lookup; 5060 for a literal or the fallback).
 * On success returns 0 and, if ret_query is not NULL, a handle valid until the callback has
 * returned or the query was cancelled. On failure the callback will not be called:
 * -EINVAL bad arguments (empty name, whitespace, a colon that is not an IPv6 literal);
 * -EAFNOSUPPORT family is not one of the three, or an IP literal of the other family;
 * -ENOMEM. */
int gw_resolve_host(GwResolver *r, const char *name, uint16_t port, int family,
                    gw_resolve_cb_t cb, void *userdata, GwResolveQuery **ret_query);

/* The callback of q will not be called. Accepts NULL; returns NULL. q must be a live handle
 * (not after its callback has returned; from inside its own callback it is a no-op). */
GwResolveQuery *gw_resolve_query_cancel(GwResolveQuery *q);

/* Number of queries started and not yet completed or cancelled (for tests and status). */
size_t gw_resolver_n_pending(const GwResolver *r);

/* Deep copy of a result; free with gw_resolve_result_free(). */
int gw_resolve_result_copy(const GwResolveResult *src, GwResolveResult **ret);
GwResolveResult *gw_resolve_result_free(GwResolveResult *res);
static inline void gw_resolve_result_freep(GwResolveResult **res) { gw_resolve_result_free(*res); }

/* "ip:port" or "[ip6]:port" of a target into buf; returns buf. */
#define GW_RESOLVE_ADDR_STRLEN (INET6_ADDRSTRLEN + 8)
const char *gw_resolve_target_to_string(const GwResolveTarget *t, char *buf, size_t size);
