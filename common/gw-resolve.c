/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-resolve.c: RFC 3263 (UDP) host resolution with c-ares, driven by an sd-event loop.
 *
 * How it runs. c-ares owns its sockets and tells us about them through the socket state
 * callback: each socket becomes an sd-event io source, and one timer source is re-armed to
 * ares_timeout() after everything we do with the channel. Events go to ares_process_fd().
 *
 * A query is a small state machine. An SRV lookup (name without port) is one c-ares query;
 * its answer is ordered (priority, then RFC 2782 weighted random order within a priority)
 * and turned into a list of hosts; each host gets one A and/or one AAAA query, all in
 * parallel. With no SRV record the list is the name itself on port 5060. A query counts its
 * c-ares lookups in flight; when the count drops to zero the result is assembled in host
 * order and the query is queued for a defer source, which calls the user. User code is
 * therefore never called from inside c-ares, so it may free the resolver or start queries.
 *
 * c-ares cannot cancel one query (ares_cancel() cancels all of them), so a cancelled query
 * stays allocated, silent, until its lookups come back (answer or timeout) or the resolver
 * is freed (ares_destroy() calls every lookup back with ARES_EDESTRUCTION).
 *
 * c-ares 1.18 parses SRV data but not its TTL: we read the SRV TTL from the raw answer. */

#include <arpa/inet.h>
#include <ares.h>
#include <assert.h>
#include <stdio.h>

#include "gw-log.h"
#include "gw-macro.h"
#include "gw-resolve.h"
#include "gw-sockaddr.h"

#define SIP_DEFAULT_PORT 5060

/* DNS wire constants (RFC 1035, 2782, 3596); <arpa/nameser.h> would clash with MIN/MAX. */
enum {
        DNS_CLASS_IN = 1,
        DNS_TYPE_A = 1,
        DNS_TYPE_AAAA = 28,
        DNS_TYPE_SRV = 33,
        DNS_HEADER_SIZE = 12,
        DNS_QUESTION_FIXED_SIZE = 4,
        DNS_RR_FIXED_SIZE = 10,
};

typedef union LiteralAddr {
        struct in_addr a4;
        struct in6_addr a6;
} LiteralAddr;
#define ADDRS_PER_LOOKUP_MAX 32
#define SRV_RECORDS_MAX 32

typedef struct IoWatch IoWatch;
struct IoWatch {
        int fd;
        sd_event_source *source;
        IoWatch *next;
};

typedef struct Host {
        char *name;
        uint16_t port, priority, weight;
        uint32_t srv_ttl_s;             /* UINT32_MAX when not from SRV */
        GwResolveTarget *v4, *v6;
        size_t n_v4, n_v6;
        int error;                      /* worst lookup error of this host, 0 if none */
} Host;

struct GwResolveQuery {
        GwResolver *resolver;
        GwResolveQuery *prev, *next;    /* in resolver->running or resolver->done */
        bool in_done;
        bool cancelled;
        bool delivering;                /* its callback is running */

        char *name;
        char *srv_name;                 /* "_sip._udp.<name>" when looking up SRV */
        uint16_t port;
        int family;
        gw_resolve_cb_t cb;
        void *userdata;

        unsigned outstanding;           /* c-ares lookups in flight */
        bool from_srv;
        Host *hosts;
        size_t n_hosts;
        int error;

        GwResolveResult result;
};

/* One c-ares lookup: which query and which host (or the SRV step). */
typedef struct Lookup {
        GwResolveQuery *query;
        size_t host;                    /* SIZE_MAX for the SRV lookup */
        int type;                       /* DNS_TYPE_SRV, DNS_TYPE_A, DNS_TYPE_AAAA */
} Lookup;

struct GwResolver {
        sd_event *event;
        ares_channel channel;
        bool have_channel, library_init, destroying;
        sd_event_source *timer, *defer;
        IoWatch *watches;
        GwResolveQuery *running;
        GwResolveQuery *done, *done_tail;
        size_t n_pending;
};

static int errno_from_ares(int status) {
        switch (status) {
        case ARES_SUCCESS:      return 0;
        case ARES_ENOTFOUND:    return -ENOENT;
        case ARES_ENODATA:      return -ENODATA;
        case ARES_ETIMEOUT:     return -ETIMEDOUT;
        case ARES_ECONNREFUSED:
        case ARES_EREFUSED:     return -ECONNREFUSED;
        case ARES_ESERVFAIL:    return -EAGAIN;
        case ARES_EFORMERR:
        case ARES_EBADRESP:     return -EBADMSG;
        case ARES_EBADNAME:
        case ARES_EBADQUERY:
        case ARES_EBADFAMILY:
        case ARES_EBADSTR:
        case ARES_EBADFLAGS:    return -EINVAL;
        case ARES_ENOMEM:       return -ENOMEM;
        case ARES_ENOTIMP:      return -EOPNOTSUPP;
        case ARES_ECANCELLED:
        case ARES_EDESTRUCTION: return -ECANCELED;
        default:                return -EIO;
        }
}

/* Which error explains a failure best: a transport or server problem first (worth
 * retrying), then "exists but no address", then "does not exist". */
static int error_rank(int error) {
        return error == 0 ? 0 : error == -ENOENT ? 1 : error == -ENODATA ? 2 : 3;
}

static void error_merge(int *into, int error) {
        if (error_rank(error) > error_rank(*into))
                *into = error;
}

/* --- event loop glue --- */

static void resolver_update_timer(GwResolver *r) {
        struct timeval tv, *t;
        uint64_t now;

        if (!r->have_channel || !r->timer)
                return;

        t = ares_timeout(r->channel, NULL, &tv);
        if (!t) {
                (void) sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
                return;
        }

        if (sd_event_now(r->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(r->timer,
                                        now + (uint64_t) t->tv_sec * USEC_PER_SEC + (uint64_t) t->tv_usec);
        (void) sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        GwResolver *r = userdata;

        ares_process_fd(r->channel,
                        revents & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
                        revents & EPOLLOUT ? fd : ARES_SOCKET_BAD);
        resolver_update_timer(r);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        GwResolver *r = userdata;

        ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        resolver_update_timer(r);
        return 0;
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable) {
        GwResolver *r = data;
        uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
        IoWatch **p, *w;
        int k;

        for (p = &r->watches; *p; p = &(*p)->next)
                if ((*p)->fd == fd)
                        break;
        w = *p;

        if (events == 0) {
                if (w) {
                        *p = w->next;
                        sd_event_source_disable_unref(w->source);
                        free(w);
                }
                return;
        }

        if (w) {
                k = sd_event_source_set_io_events(w->source, events);
                if (k < 0)
                        log_debug_errno(k, "Failed to update DNS socket %d events: %m", fd);
                return;
        }

        w = calloc(1, sizeof(*w));
        if (!w) {
                log_debug("Out of memory watching DNS socket %d.", fd);
                return;   /* c-ares times the query out: slow but safe */
        }
        w->fd = fd;
        k = sd_event_add_io(r->event, &w->source, fd, events, on_io, r);
        if (k < 0) {
                log_debug_errno(k, "Failed to watch DNS socket %d: %m", fd);
                free(w);
                return;
        }
        (void) sd_event_source_set_description(w->source, "gw-resolve-io");
        w->next = r->watches;
        r->watches = w;
}

/* --- queries --- */

static void host_done(Host *h) {
        free(h->name);
        free(h->v4);
        free(h->v6);
}

static void result_done(GwResolveResult *res) {
        for (size_t i = 0; i < res->n_targets; i++)
                free(res->targets[i].srv_target);
        free(res->targets);
        *res = (GwResolveResult) {};
}

static void query_unlink(GwResolveQuery *q) {
        GwResolver *r = q->resolver;

        if (q->prev)
                q->prev->next = q->next;
        else if (q->in_done)
                r->done = q->next;
        else
                r->running = q->next;
        if (q->next)
                q->next->prev = q->prev;
        else if (q->in_done)
                r->done_tail = q->prev;
        q->prev = q->next = NULL;
}

static void query_free(GwResolveQuery *q) {
        if (!q)
                return;
        for (size_t i = 0; i < q->n_hosts; i++)
                host_done(&q->hosts[i]);
        free(q->hosts);
        result_done(&q->result);
        free(q->name);
        free(q->srv_name);
        free(q);
}

static int query_add_host(GwResolveQuery *q, const char *name, uint16_t port,
                          uint16_t priority, uint16_t weight, uint32_t srv_ttl_s) {
        Host *n;

        n = reallocarray(q->hosts, q->n_hosts + 1, sizeof(Host));
        if (!n)
                return -ENOMEM;
        q->hosts = n;
        n[q->n_hosts] = (Host) {
                .name = strdup(name),
                .port = port,
                .priority = priority,
                .weight = weight,
                .srv_ttl_s = srv_ttl_s,
        };
        if (!n[q->n_hosts].name)
                return -ENOMEM;
        q->n_hosts++;
        return 0;
}

static int result_append(GwResolveResult *res, const GwResolveTarget *src, const Host *h, bool srv) {
        GwResolveTarget *t;

        t = reallocarray(res->targets, res->n_targets + 1, sizeof(GwResolveTarget));
        if (!t)
                return -ENOMEM;
        res->targets = t;
        t = &t[res->n_targets];
        *t = *src;
        t->srv_target = NULL;
        if (srv) {
                t->srv_target = strdup(h->name);
                if (!t->srv_target)
                        return -ENOMEM;
        }
        res->n_targets++;
        res->ttl_s = MIN(res->ttl_s, t->ttl_s);
        return 0;
}

static int query_build_result(GwResolveQuery *q) {
        int error = 0, k;

        q->result = (GwResolveResult) { .ttl_s = UINT32_MAX, .from_srv = q->from_srv };
        for (size_t i = 0; i < q->n_hosts; i++) {
                const Host *h = &q->hosts[i];

                for (size_t j = 0; j < h->n_v4; j++) {
                        k = result_append(&q->result, &h->v4[j], h, q->from_srv);
                        if (k < 0)
                                return k;
                }
                for (size_t j = 0; j < h->n_v6; j++) {
                        k = result_append(&q->result, &h->v6[j], h, q->from_srv);
                        if (k < 0)
                                return k;
                }
                if (h->n_v4 + h->n_v6 == 0)
                        error_merge(&error, h->error ?: -ENODATA);
        }

        if (q->result.n_targets > 0)
                return 0;       /* partial success: unresolvable SRV targets are skipped */
        return error ?: -ENOENT;
}

static void query_queue_done(GwResolveQuery *q) {
        GwResolver *r = q->resolver;

        query_unlink(q);
        q->in_done = true;
        q->prev = r->done_tail;
        if (r->done_tail)
                r->done_tail->next = q;
        else
                r->done = q;
        r->done_tail = q;
        (void) sd_event_source_set_enabled(r->defer, SD_EVENT_ON);
}

/* One c-ares lookup of q finished (or a start-up guard was released). */
static void query_step_done(GwResolveQuery *q) {
        GwResolver *r = q->resolver;

        assert(q->outstanding > 0);
        q->outstanding--;
        if (q->outstanding > 0 || r->destroying)
                return;

        if (q->cancelled) {
                query_unlink(q);
                query_free(q);
                return;
        }

        if (q->error == 0) {
                q->error = query_build_result(q);
                if (q->error < 0)
                        result_done(&q->result);
        }
        query_queue_done(q);
}

static void on_ares_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

static void query_lookup(GwResolveQuery *q, size_t host, int type) {
        Lookup *l;

        l = calloc(1, sizeof(*l));
        if (!l) {
                error_merge(&q->error, -ENOMEM);
                return;
        }
        *l = (Lookup) { .query = q, .host = host, .type = type };
        q->outstanding++;
        /* Exact name, no search list: a proxy is configured by its full name. */
        ares_query(q->resolver->channel, host == SIZE_MAX ? q->srv_name : q->hosts[host].name,
                   DNS_CLASS_IN, type, on_ares_answer, l);
}

static void query_lookup_hosts(GwResolveQuery *q) {
        for (size_t i = 0; i < q->n_hosts; i++) {
                if (q->family != AF_INET6)
                        query_lookup(q, i, DNS_TYPE_A);
                if (q->family != AF_INET)
                        query_lookup(q, i, DNS_TYPE_AAAA);
        }
}

/* Minimum TTL of the answer records of the given type; UINT32_MAX if none or unparsable. */
static uint32_t answer_min_ttl(const unsigned char *abuf, int alen, int type) {
        const unsigned char *p = abuf + DNS_HEADER_SIZE;
        uint32_t ttl = UINT32_MAX;
        unsigned qd, an;

        if (alen < DNS_HEADER_SIZE)
                return ttl;
        qd = (unsigned) abuf[4] << 8 | abuf[5];
        an = (unsigned) abuf[6] << 8 | abuf[7];

        for (unsigned i = 0; i < qd + an; i++) {
                char *s = NULL;
                long len = 0;

                if (ares_expand_name(p, abuf, alen, &s, &len) != ARES_SUCCESS)
                        return ttl;
                ares_free_string(s);
                p += len;
                if (i < qd) {
                        p += DNS_QUESTION_FIXED_SIZE;
                        continue;
                }
                if (p + DNS_RR_FIXED_SIZE > abuf + alen)
                        return ttl;
                unsigned rtype = (unsigned) p[0] << 8 | p[1];
                uint32_t rttl = (uint32_t) p[4] << 24 | (uint32_t) p[5] << 16 | (uint32_t) p[6] << 8 | p[7];
                unsigned rdlen = (unsigned) p[8] << 8 | p[9];
                if ((int) rtype == type)
                        ttl = MIN(ttl, rttl & 0x7fffffffu);     /* RFC 2181 8: top bit set = 0 */
                p += DNS_RR_FIXED_SIZE + rdlen;
                if (p > abuf + alen)
                        return ttl;
        }
        return ttl;
}

/* RFC 2782 ordering: by priority; within one priority, repeatedly pick a record with
 * probability proportional to its weight (weight 0 records first in the running sum, so
 * they have a small chance only). n is small (bounded by SRV_RECORDS_MAX). */
static void srv_order(struct ares_srv_reply **v, size_t n) {
        /* insertion sort by priority, stable */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && v[j - 1]->priority > v[j]->priority; j--) {
                        struct ares_srv_reply *t = v[j];
                        v[j] = v[j - 1];
                        v[j - 1] = t;
                }

        for (size_t start = 0, end; start < n; start = end) {
                for (end = start; end < n && v[end]->priority == v[start]->priority; end++)
                        ;
                /* weight 0 to the front of the group, keeping order */
                for (size_t i = start + 1; i < end; i++)
                        for (size_t j = i; j > start && v[j]->weight == 0 && v[j - 1]->weight != 0; j--) {
                                struct ares_srv_reply *t = v[j];
                                v[j] = v[j - 1];
                                v[j - 1] = t;
                        }
                for (size_t pos = start; pos + 1 < end; pos++) {
                        uint32_t sum = 0, pick, run = 0;
                        size_t k;

                        for (k = pos; k < end; k++)
                                sum += v[k]->weight;
                        pick = arc4random_uniform(sum + 1);     /* 0..sum */
                        for (k = pos; k < end; k++) {
                                run += v[k]->weight;
                                if (run >= pick)
                                        break;
                        }
                        assert(k < end);
                        /* move v[k] to pos, keeping the rest in order */
                        struct ares_srv_reply *t = v[k];
                        memmove(&v[pos + 1], &v[pos], (k - pos) * sizeof(v[0]));
                        v[pos] = t;
                }
        }
}

static void query_handle_srv(GwResolveQuery *q, int status, unsigned char *abuf, int alen) {
        struct ares_srv_reply *reply = NULL, *v[SRV_RECORDS_MAX];
        uint32_t ttl;
        size_t n = 0, n_dot = 0;
        int k;

        if (status == ARES_SUCCESS) {
                status = ares_parse_srv_reply(abuf, alen, &reply);
                if (status == ARES_SUCCESS && !reply)
                        status = ARES_ENODATA;
        }
        if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
                /* RFC 3263 4.2: no SRV records, use the name itself on the default port. */
                q->from_srv = false;
                k = query_add_host(q, q->name, SIP_DEFAULT_PORT, 0, 0, UINT32_MAX);
                if (k < 0)
                        error_merge(&q->error, k);
                else
                        query_lookup_hosts(q);
                return;
        }
        if (status != ARES_SUCCESS) {
                error_merge(&q->error, errno_from_ares(status));
                return;
        }

        q->from_srv = true;
        ttl = answer_min_ttl(abuf, alen, DNS_TYPE_SRV);
        for (struct ares_srv_reply *s = reply; s && n < SRV_RECORDS_MAX; s = s->next) {
                if (isempty(s->host) || streq(s->host, ".")) {
                        n_dot++;        /* RFC 2782: "." = service decidedly not available */
                        continue;
                }
                v[n++] = s;
        }
        if (n == 0) {
                error_merge(&q->error, -ENOENT);
                goto finish;
        }

        srv_order(v, n);
        for (size_t i = 0; i < n; i++) {
                k = query_add_host(q, v[i]->host, v[i]->port, v[i]->priority, v[i]->weight, ttl);
                if (k < 0) {
                        error_merge(&q->error, k);
                        goto finish;
                }
        }
        query_lookup_hosts(q);
finish:
        ares_free_data(reply);
}

static int target_from_addr(GwResolveTarget *t, int family, const void *addr, uint16_t port,
                            uint32_t ttl_s, const Host *h) {
        *t = (GwResolveTarget) {
                .priority = h ? h->priority : 0,
                .weight = h ? h->weight : 0,
                .ttl_s = h ? MIN(ttl_s, h->srv_ttl_s) : ttl_s,
        };
        if (family == AF_INET)
                memcpy(&((struct sockaddr_in *) &t->addr)->sin_addr, addr, sizeof(struct in_addr));
        else
                memcpy(&((struct sockaddr_in6 *) &t->addr)->sin6_addr, addr, sizeof(struct in6_addr));
        t->addr.ss_family = (sa_family_t) family;
        gw_sockaddr_set_port(&t->addr, port);
        t->addr_len = gw_sockaddr_len(&t->addr);
        return 0;
}

static void query_handle_addr(GwResolveQuery *q, size_t host, int type, int status,
                              unsigned char *abuf, int alen) {
        struct ares_addrttl a4[ADDRS_PER_LOOKUP_MAX];
        struct ares_addr6ttl a6[ADDRS_PER_LOOKUP_MAX];
        Host *h = &q->hosts[host];
        bool v4 = type == DNS_TYPE_A;
        GwResolveTarget *targets;
        int n = ADDRS_PER_LOOKUP_MAX;

        if (status == ARES_SUCCESS) {
                if (v4)
                        status = ares_parse_a_reply(abuf, alen, NULL, a4, &n);
                else
                        status = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
                if (status == ARES_SUCCESS && n <= 0)
                        status = ARES_ENODATA;
        }
        if (status != ARES_SUCCESS) {
                error_merge(&h->error, errno_from_ares(status));
                return;
        }

        targets = calloc((size_t) n, sizeof(*targets));
        if (!targets) {
                error_merge(&h->error, -ENOMEM);
                return;
        }
        for (int i = 0; i < n; i++)
                if (v4)
                        target_from_addr(&targets[i], AF_INET, &a4[i].ipaddr, h->port,
                                         (uint32_t) MAX(a4[i].ttl, 0), h);
                else
                        target_from_addr(&targets[i], AF_INET6, &a6[i].ip6addr, h->port,
                                         (uint32_t) MAX(a6[i].ttl, 0), h);
        if (v4) {
                free(h->v4);
                h->v4 = targets;
                h->n_v4 = (size_t) n;
        } else {
                free(h->v6);
                h->v6 = targets;
                h->n_v6 = (size_t) n;
        }
}

static void on_ares_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
        _cleanup_free_ Lookup *l = arg;
        GwResolveQuery *q = l->query;

        if (!q->cancelled && !q->resolver->destroying && q->error == 0) {
                log_debug("DNS %s lookup %zu of '%s': %s", l->type == DNS_TYPE_SRV ? "SRV" : l->type == DNS_TYPE_A ? "A" : "AAAA",
                          l->host, q->name, ares_strerror(status));
                if (l->type == DNS_TYPE_SRV)
                        query_handle_srv(q, status, abuf, alen);
                else
                        query_handle_addr(q, l->host, l->type, status, abuf, alen);
        }
        query_step_done(q);
}

static int on_defer(sd_event_source *s, void *userdata) {
        GwResolver *r = userdata;
        GwResolveQuery *q = r->done;

        if (!q)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);

        query_unlink(q);
        q->in_done = false;
        if (!r->done)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        assert(r->n_pending > 0);
        r->n_pending--;

        /* From here on q belongs to nobody but us: the callback may free r. */
        q->delivering = true;
        q->cb(q, q->error, q->error < 0 ? NULL : &q->result, q->userdata);
        query_free(q);
        return 0;
}

/* --- public API --- */

/* "ip", "ip:port", "[ip6]", "[ip6]:port" or a bare "ip6"; port 1-65535, absent = 53.
 * (ares_set_servers_ports_csv() of c-ares 1.18 refuses "[ip6]" and wraps ports > 65535.) */
static int parse_server(const char *s, struct ares_addr_port_node *ret) {
        char host[INET6_ADDRSTRLEN];
        const char *port = NULL, *end;
        size_t len;

        if (isempty(s))
                return -EINVAL;
        if (s[0] == '[') {
                end = strchr(s, ']');
                if (!end || (end[1] != '\0' && end[1] != ':'))
                        return -EINVAL;
                len = (size_t) (end - s - 1);
                if (len == 0 || len >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s + 1, len);
                host[len] = '\0';
                if (end[1] == ':')
                        port = end + 2;
        } else {
                const char *colon = strchr(s, ':');

                if (colon && strchr(colon + 1, ':'))
                        colon = NULL;   /* several colons: a bare IPv6 address */
                len = colon ? (size_t) (colon - s) : strlen(s);
                if (len == 0 || len >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s, len);
                host[len] = '\0';
                if (colon)
                        port = colon + 1;
        }

        *ret = (struct ares_addr_port_node) {};
        if (inet_pton(AF_INET, host, &ret->addr.addr4) == 1 && s[0] != '[')
                ret->family = AF_INET;
        else if (inet_pton(AF_INET6, host, &ret->addr.addr6) == 1)
                ret->family = AF_INET6;
        else
                return -EINVAL;

        if (port) {
                unsigned long p = 0;

                if (*port == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
                        return -EINVAL;
                p = strtoul(port, NULL, 10);
                if (p < 1 || p > 65535)
                        return -EINVAL;
                ret->udp_port = ret->tcp_port = (int) p;
        }
        return 0;
}


int gw_resolver_new(sd_event *e, const GwResolverConfig *c, GwResolver **ret) {
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        struct ares_options o = {};
        int mask = ARES_OPT_SOCK_STATE_CB, k;

        if (!e || !ret)
                return -EINVAL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(e);

        k = ares_library_init(ARES_LIB_INIT_ALL);
        if (k != ARES_SUCCESS)
                return errno_from_ares(k);
        r->library_init = true;

        o.sock_state_cb = on_sock_state;
        o.sock_state_cb_data = r;
        if (c && c->timeout_ms > 0) {
                o.timeout = (int) MIN(c->timeout_ms, (unsigned) INT32_MAX);
                mask |= ARES_OPT_TIMEOUTMS;
        }
        if (c && c->tries > 0) {
                o.tries = (int) MIN(c->tries, 16u);
                mask |= ARES_OPT_TRIES;
        }
        k = ares_init_options(&r->channel, &o, mask);
        if (k != ARES_SUCCESS)
                return errno_from_ares(k);
        r->have_channel = true;

        if (c && c->n_servers > 0) {
                _cleanup_free_ struct ares_addr_port_node *nodes = NULL;

                if (!c->servers || c->n_servers > 64)
                        return -EINVAL;
                nodes = calloc(c->n_servers, sizeof(*nodes));
                if (!nodes)
                        return -ENOMEM;
                for (size_t i = 0; i < c->n_servers; i++) {
                        k = parse_server(c->servers[i], &nodes[i]);
                        if (k < 0)
                                return k;
                        nodes[i].next = i + 1 < c->n_servers ? &nodes[i + 1] : NULL;
                }
                k = ares_set_servers_ports(r->channel, nodes);
                if (k != ARES_SUCCESS)
                        return k == ARES_ENOMEM ? -ENOMEM : -EINVAL;
        }

        k = sd_event_add_time(e, &r->timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC, on_timer, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(r->timer, "gw-resolve-timer");

        k = sd_event_add_defer(e, &r->defer, on_defer, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(r->defer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(r->defer, "gw-resolve-dispatch");

        *ret = TAKE_PTR(r);
        return 0;
}

GwResolver *gw_resolver_free(GwResolver *r) {
        if (!r)
                return NULL;

        r->destroying = true;
        if (r->have_channel)
                ares_destroy(r->channel);       /* calls back every lookup, closes sockets */
        r->have_channel = false;

        while (r->running) {
                GwResolveQuery *q = r->running;
                query_unlink(q);
                query_free(q);
        }
        while (r->done) {
                GwResolveQuery *q = r->done;
                query_unlink(q);
                query_free(q);
        }
        while (r->watches) {
                IoWatch *w = r->watches;
                r->watches = w->next;
                sd_event_source_disable_unref(w->source);
                free(w);
        }
        sd_event_source_disable_unref(r->timer);
        sd_event_source_disable_unref(r->defer);
        if (r->library_init)
                ares_library_cleanup();
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

static bool parse_literal(const char *name, int family, int *ret_family, LiteralAddr *ret) {
        char buf[INET6_ADDRSTRLEN + 2];
        size_t len = strlen(name);

        if (len >= 2 && name[0] == '[' && name[len - 1] == ']' && len - 2 < sizeof(buf)) {
                memcpy(buf, name + 1, len - 2);
                buf[len - 2] = '\0';
                name = buf;
        }
        if (family != AF_INET6 && inet_pton(AF_INET, name, &ret->a4) == 1) {
                *ret_family = AF_INET;
                return true;
        }
        if (family != AF_INET && inet_pton(AF_INET6, name, &ret->a6) == 1) {
                *ret_family = AF_INET6;
                return true;
        }
        return false;
}

int gw_resolve_host(GwResolver *r, const char *name, uint16_t port, int family,
                    gw_resolve_cb_t cb, void *userdata, GwResolveQuery **ret_query) {
        LiteralAddr lit;
        GwResolveQuery *q;
        bool literal;
        int lit_family = AF_UNSPEC, k;

        if (!r || !r->have_channel || isempty(name) || !cb)
                return -EINVAL;
        if (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC)
                return -EAFNOSUPPORT;
        if (strlen(name) > 255 || strpbrk(name, " \t\r\n,"))
                return -EINVAL;
        literal = parse_literal(name, AF_UNSPEC, &lit_family, &lit);
        if (literal && family != AF_UNSPEC && family != lit_family)
                return -EAFNOSUPPORT;   /* an address of the other family: never a name */
        if (!literal && strchr(name, ':'))
                return -EINVAL;         /* not an address, and no host name has a colon */

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        *q = (GwResolveQuery) {
                .resolver = r,
                .name = strdup(name),
                .port = port,
                .family = family,
                .cb = cb,
                .userdata = userdata,
        };
        if (!q->name) {
                free(q);
                return -ENOMEM;
        }
        /* into the running list */
        q->next = r->running;
        if (r->running)
                r->running->prev = q;
        r->running = q;
        r->n_pending++;

        q->outstanding = 1;     /* guard: completes only after everything is started */
        if (literal) {
                k = query_add_host(q, name, port ?: SIP_DEFAULT_PORT, 0, 0, UINT32_MAX);
                if (k >= 0) {
                        Host *h = &q->hosts[0];
                        GwResolveTarget t;

                        target_from_addr(&t, lit_family, &lit, h->port, UINT32_MAX, h);
                        if (lit_family == AF_INET) {
                                h->v4 = calloc(1, sizeof(t));
                                if (h->v4) {
                                        h->v4[0] = t;
                                        h->n_v4 = 1;
                                }
                        } else {
                                h->v6 = calloc(1, sizeof(t));
                                if (h->v6) {
                                        h->v6[0] = t;
                                        h->n_v6 = 1;
                                }
                        }
                        if (h->n_v4 + h->n_v6 == 0)
                                k = -ENOMEM;
                }
        } else if (port > 0) {
                k = query_add_host(q, name, port, 0, 0, UINT32_MAX);
                if (k >= 0)
                        query_lookup_hosts(q);
        } else {
                k = asprintf(&q->srv_name, "_sip._udp.%s", name) < 0 ? -ENOMEM : 0;
                if (k < 0)
                        q->srv_name = NULL;
                else
                        query_lookup(q, SIZE_MAX, DNS_TYPE_SRV);
        }
        if (k < 0) {
                /* Nothing was started: only our guard is outstanding. */
                assert(q->outstanding == 1);
                query_unlink(q);
                r->n_pending--;
                query_free(q);
                return k;
        }

        if (ret_query)
                *ret_query = q;
        query_step_done(q);
        resolver_update_timer(r);
        return 0;
}

GwResolveQuery *gw_resolve_query_cancel(GwResolveQuery *q) {
        GwResolver *r;

        if (!q || q->delivering)
                return NULL;    /* cancelling from its own callback: nothing left to do */
        r = q->resolver;
        assert(!q->cancelled);

        assert(r->n_pending > 0);
        r->n_pending--;
        if (q->in_done) {
                query_unlink(q);
                query_free(q);
                if (!r->done)
                        (void) sd_event_source_set_enabled(r->defer, SD_EVENT_OFF);
                return NULL;
        }
        q->cancelled = true;
        q->cb = NULL;
        return NULL;
}

size_t gw_resolver_n_pending(const GwResolver *r) {
        return r ? r->n_pending : 0;
}

int gw_resolve_result_copy(const GwResolveResult *src, GwResolveResult **ret) {
        _cleanup_(gw_resolve_result_freep) GwResolveResult *res = NULL;

        if (!src || !ret)
                return -EINVAL;
        res = calloc(1, sizeof(*res));
        if (!res)
                return -ENOMEM;
        *res = (GwResolveResult) { .ttl_s = src->ttl_s, .from_srv = src->from_srv };
        if (src->n_targets > 0) {
                res->targets = calloc(src->n_targets, sizeof(GwResolveTarget));
                if (!res->targets)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < src->n_targets; i++) {
                res->targets[i] = src->targets[i];
                res->targets[i].srv_target = NULL;
                res->n_targets++;
                if (src->targets[i].srv_target) {
                        res->targets[i].srv_target = strdup(src->targets[i].srv_target);
                        if (!res->targets[i].srv_target)
                                return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(res);
        return 0;
}

GwResolveResult *gw_resolve_result_free(GwResolveResult *res) {
        if (!res)
                return NULL;
        result_done(res);
        free(res);
        return NULL;
}

const char *gw_resolve_target_to_string(const GwResolveTarget *t, char *buf, size_t size) {
        if (!t || !buf || size == 0)
                return NULL;
        if (gw_sockaddr_to_string(GW_SOCKADDR(&t->addr), buf, size) == -EAFNOSUPPORT)
                snprintf(buf, size, "?");
        return buf;
}
