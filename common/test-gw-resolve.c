/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-resolve.c: gw-resolve against a real dnsmasq serving SRV/A/AAAA records on loopback. */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "gw-macro.h"
#include "gw-resolve.h"
#include "gw-test.h"
#include "gw-tests.h"

DEFINE_TEST_MAIN

#define DNS_ADDR "127.0.0.1"

static uint16_t dnsmasq_port;

/* Start (once) a dnsmasq authoritative for "test." with the records the tests use. Exits 77
 * if dnsmasq is not installed. */
static void dnsmasq_start(void) {
        static const char *const records[] = {
                /* SRV: priority order */
                "--srv-host=_sip._udp.pbx.test,main.pbx.test,5070,10,50",
                "--srv-host=_sip._udp.pbx.test,backup.pbx.test,5080,20,50",
                "--host-record=main.pbx.test,127.0.0.41,30",
                "--host-record=backup.pbx.test,127.0.0.42,30",
                /* SRV: equal priority, equal weights */
                "--srv-host=_sip._udp.lb.test,a.lb.test,5061,10,50",
                "--srv-host=_sip._udp.lb.test,b.lb.test,5062,10,50",
                "--host-record=a.lb.test,127.0.0.51",
                "--host-record=b.lb.test,127.0.0.52",
                /* SRV: equal priority, 90/10 weights */
                "--srv-host=_sip._udp.skew.test,light.skew.test,5061,10,10",
                "--srv-host=_sip._udp.skew.test,heavy.skew.test,5062,10,90",
                "--host-record=light.skew.test,127.0.0.53",
                "--host-record=heavy.skew.test,127.0.0.54",
                /* SRV whose first target does not exist */
                "--srv-host=_sip._udp.half.test,gone.half.test,5090,10,0",
                "--srv-host=_sip._udp.half.test,ok.half.test,5091,20,0",
                "--host-record=ok.half.test,127.0.0.55",
                /* SRV saying "not offered" (target ".") */
                "--srv-host=_sip._udp.nosvc.test",
                /* no SRV at all */
                "--host-record=plain.test,127.0.0.61",
                "--host-record=dual.test,127.0.0.71,fd00::71",
                "--host-record=v6only.test,fd00::81",
                NULL
        };

        if (dnsmasq_port == 0)
                dnsmasq_port = gw_test_dnsmasq(DNS_ADDR, 7, records);
}

/* --- running the loop --- */

typedef struct Outcome {
        bool done;
        unsigned calls;
        int error;
        GwResolveResult *result;
        uint64_t at_usec;
} Outcome;

static void outcome_done(Outcome *o) {
        gw_resolve_result_free(o->result);
        *o = (Outcome) {};
}

static void on_resolved(GwResolveQuery *q, int error, const GwResolveResult *result, void *userdata) {
        Outcome *o = userdata;

        o->calls++;
        o->done = true;
        o->error = error;
        o->at_usec = gw_test_now_usec();
        if (error == 0) {
                ASSERT_NOT_NULL(result);
                ASSERT_TRUE(result->n_targets > 0);
                ASSERT_OK(gw_resolve_result_copy(result, &o->result));
        } else
                ASSERT_TRUE(result == NULL);
}

static GwResolver *resolver_at(sd_event *e, const char *server) {
        const char *servers[] = { server };
        GwResolverConfig c = {
                .servers = servers,
                .n_servers = 1,
                .timeout_ms = 500,
                .tries = 2,
        };
        GwResolver *r = NULL;

        ASSERT_OK(gw_resolver_new(e, &c, &r));
        return r;
}

static GwResolver *resolver_dnsmasq(sd_event *e) {
        char server[64];

        dnsmasq_start();
        snprintf(server, sizeof(server), DNS_ADDR ":%u", dnsmasq_port);
        return resolver_at(e, server);
}

static void resolve(GwResolver *r, sd_event *e, const char *name, uint16_t port, int family, Outcome *o) {
        *o = (Outcome) {};
        ASSERT_OK(gw_resolve_host(r, name, port, family, on_resolved, o, NULL));
        ASSERT_FALSE(o->done);          /* never called back synchronously */
        GW_TEST_RUN_UNTIL(e, o->done, 5 * USEC_PER_SEC);
        ASSERT_TRUE(o->done);
        ASSERT_EQ(o->calls, 1);
        ASSERT_EQ(gw_resolver_n_pending(r), 0);
}

static const char *target_str(const GwResolveResult *res, size_t i) {
        static char buf[4][GW_RESOLVE_ADDR_STRLEN];
        ASSERT_TRUE(i < res->n_targets);
        return gw_resolve_target_to_string(&res->targets[i], buf[i % 4], sizeof(buf[0]));
}

/* --- tests --- */

TEST(resolve_literal) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        /* No server is needed for literals: point at a closed port to prove no query. */
        r = resolver_at(e, DNS_ADDR ":9");

        resolve(r, e, "127.0.0.9", 0, AF_UNSPEC, &o);
        ASSERT_OK(o.error);
        ASSERT_EQ(o.result->n_targets, 1);
        ASSERT_STREQ(target_str(o.result, 0), "127.0.0.9:5060");
        ASSERT_FALSE(o.result->from_srv);
        ASSERT_TRUE(o.result->targets[0].srv_target == NULL);
        outcome_done(&o);

        resolve(r, e, "[::1]", 5070, AF_UNSPEC, &o);
        ASSERT_OK(o.error);
        ASSERT_STREQ(target_str(o.result, 0), "[::1]:5070");
        outcome_done(&o);

        resolve(r, e, "::1", 0, AF_INET6, &o);
        ASSERT_OK(o.error);
        ASSERT_STREQ(target_str(o.result, 0), "[::1]:5060");
        outcome_done(&o);

        ASSERT_ERROR(gw_resolve_host(r, "", 0, AF_INET, on_resolved, &o, NULL), EINVAL);
        ASSERT_ERROR(gw_resolve_host(r, "a b", 0, AF_INET, on_resolved, &o, NULL), EINVAL);
        ASSERT_ERROR(gw_resolve_host(r, "x.test", 0, AF_UNIX, on_resolved, &o, NULL), EAFNOSUPPORT);
        ASSERT_ERROR(gw_resolve_host(r, "::1", 0, AF_INET, on_resolved, &o, NULL), EAFNOSUPPORT);
        ASSERT_ERROR(gw_resolve_host(r, "127.0.0.1", 0, AF_INET6, on_resolved, &o, NULL), EAFNOSUPPORT);
        ASSERT_ERROR(gw_resolve_host(r, "x.test:5060", 0, AF_INET, on_resolved, &o, NULL), EINVAL);
        ASSERT_EQ(gw_resolver_n_pending(r), 0);
}

TEST(resolver_servers) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        const char *good[] = { "127.0.0.1", "127.0.0.1:5353", "[::1]", "[::1]:5353", "::1", "fd00::53" };
        const char *bad[] = { "", "bad", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "1.2.3.4:99999",
                              "[::1", "[::1]x", "[127.0.0.1]", "[]:53", "127.0.0.1:53x", "dns.test" };
        GwResolver *r = NULL;

        ASSERT_OK(sd_event_new(&e));
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                GwResolverConfig c = { .servers = &good[i], .n_servers = 1 };
                ASSERT_OK(gw_resolver_new(e, &c, &r));
                r = gw_resolver_free(r);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                GwResolverConfig c = { .servers = &bad[i], .n_servers = 1 };
                if (gw_resolver_new(e, &c, &r) != -EINVAL)
                        GW_TEST_FAIL("server '%s' accepted", bad[i]);
                ASSERT_TRUE(r == NULL);
        }
        /* several at once, and the system's resolvers */
        GwResolverConfig c = { .servers = good, .n_servers = ELEMENTSOF(good) };
        ASSERT_OK(gw_resolver_new(e, &c, &r));
        r = gw_resolver_free(r);
        ASSERT_OK(gw_resolver_new(e, NULL, &r));
        r = gw_resolver_free(r);
}

TEST(resolve_srv_priority) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        /* Run it several times: priority order never changes. */
        for (unsigned i = 0; i < 5; i++) {
                resolve(r, e, "pbx.test", 0, AF_INET, &o);
                ASSERT_OK(o.error);
                ASSERT_TRUE(o.result->from_srv);
                ASSERT_EQ(o.result->n_targets, 2);
                ASSERT_STREQ(target_str(o.result, 0), "127.0.0.41:5070");
                ASSERT_STREQ(target_str(o.result, 1), "127.0.0.42:5080");
                ASSERT_STREQ(o.result->targets[0].srv_target, "main.pbx.test");
                ASSERT_STREQ(o.result->targets[1].srv_target, "backup.pbx.test");
                ASSERT_EQ(o.result->targets[0].priority, 10);
                ASSERT_EQ(o.result->targets[1].priority, 20);
                ASSERT_EQ(o.result->targets[0].weight, 50);
                /* A records have TTL 30, the SRV records 7 (--local-ttl): the SRV TTL counts. */
                ASSERT_EQ(o.result->targets[0].ttl_s, 7);
                ASSERT_EQ(o.result->ttl_s, 7);
                outcome_done(&o);
        }
}

TEST(resolve_srv_weighted_shuffle) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        unsigned a_first = 0, b_first = 0, runs = 0;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        /* 50/50: both orders must show up; P(not within 100 runs) = 2^-99. */
        for (runs = 0; runs < 100 && (a_first == 0 || b_first == 0); runs++) {
                resolve(r, e, "lb.test", 0, AF_INET, &o);
                ASSERT_OK(o.error);
                ASSERT_EQ(o.result->n_targets, 2);
                if (streq(target_str(o.result, 0), "127.0.0.51:5061")) {
                        ASSERT_STREQ(target_str(o.result, 1), "127.0.0.52:5062");
                        a_first++;
                } else {
                        ASSERT_STREQ(target_str(o.result, 0), "127.0.0.52:5062");
                        ASSERT_STREQ(target_str(o.result, 1), "127.0.0.51:5061");
                        b_first++;
                }
                outcome_done(&o);
        }
        fprintf(stderr, "lb.test: a first %u, b first %u after %u runs\n", a_first, b_first, runs);
        ASSERT_TRUE(a_first > 0 && b_first > 0);
}

TEST(resolve_srv_weights) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        unsigned heavy_first = 0, n = 200;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        /* weights 90/10: heavy first with p ~ 0.9; mean 178 of 200, sd ~4.4. The bounds are
         * more than 4 sd away: a false failure is below 1e-5. */
        for (unsigned i = 0; i < n; i++) {
                resolve(r, e, "skew.test", 0, AF_INET, &o);
                ASSERT_OK(o.error);
                ASSERT_EQ(o.result->n_targets, 2);
                if (streq(o.result->targets[0].srv_target, "heavy.skew.test"))
                        heavy_first++;
                outcome_done(&o);
        }
        fprintf(stderr, "skew.test: heavy (90) first %u of %u\n", heavy_first, n);
        ASSERT_TRUE(heavy_first >= 155 && heavy_first <= 197);
}

TEST(resolve_port_given_no_srv) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        resolve(r, e, "main.pbx.test", 5099, AF_INET, &o);
        ASSERT_OK(o.error);
        ASSERT_FALSE(o.result->from_srv);
        ASSERT_EQ(o.result->n_targets, 1);
        ASSERT_STREQ(target_str(o.result, 0), "127.0.0.41:5099");
        ASSERT_TRUE(o.result->targets[0].srv_target == NULL);
        ASSERT_EQ(o.result->ttl_s, 30);
        outcome_done(&o);

        /* pbx.test has SRV records but no address (an empty non-terminal: NOERROR, no
         * data): with a port, SRV must not be used. */
        resolve(r, e, "pbx.test", 5099, AF_INET, &o);
        ASSERT_EQ(o.error, -ENODATA);
        outcome_done(&o);
}

TEST(resolve_no_srv_fallback) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        resolve(r, e, "plain.test", 0, AF_INET, &o);
        ASSERT_OK(o.error);
        ASSERT_FALSE(o.result->from_srv);
        ASSERT_EQ(o.result->n_targets, 1);
        ASSERT_STREQ(target_str(o.result, 0), "127.0.0.61:5060");
        ASSERT_EQ(o.result->ttl_s, 7);
        ASSERT_EQ(o.result->targets[0].ttl_s, 7);
        outcome_done(&o);
}

TEST(resolve_nxdomain) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        resolve(r, e, "nothing.test", 0, AF_UNSPEC, &o);
        ASSERT_EQ(o.error, -ENOENT);
        outcome_done(&o);
        resolve(r, e, "nothing.test", 5060, AF_INET, &o);
        ASSERT_EQ(o.error, -ENOENT);
        outcome_done(&o);

        /* SRV target "." = service not offered */
        resolve(r, e, "nosvc.test", 0, AF_INET, &o);
        ASSERT_EQ(o.error, -ENOENT);
        outcome_done(&o);

        /* exists, but no address of that family */
        resolve(r, e, "v6only.test", 5060, AF_INET, &o);
        ASSERT_EQ(o.error, -ENODATA);
        outcome_done(&o);
}

TEST(resolve_srv_target_missing_is_skipped) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        resolve(r, e, "half.test", 0, AF_INET, &o);
        ASSERT_OK(o.error);
        ASSERT_EQ(o.result->n_targets, 1);
        ASSERT_STREQ(target_str(o.result, 0), "127.0.0.55:5091");
        ASSERT_STREQ(o.result->targets[0].srv_target, "ok.half.test");
        outcome_done(&o);
}

TEST(resolve_ipv6_family) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        Outcome o;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        resolve(r, e, "dual.test", 5070, AF_INET6, &o);
        ASSERT_OK(o.error);
        ASSERT_EQ(o.result->n_targets, 1);
        ASSERT_STREQ(target_str(o.result, 0), "[fd00::71]:5070");
        ASSERT_EQ(o.result->targets[0].addr_len, sizeof(struct sockaddr_in6));
        outcome_done(&o);

        resolve(r, e, "dual.test", 5070, AF_INET, &o);
        ASSERT_OK(o.error);
        ASSERT_EQ(o.result->n_targets, 1);
        ASSERT_STREQ(target_str(o.result, 0), "127.0.0.71:5070");
        outcome_done(&o);

        resolve(r, e, "dual.test", 0, AF_UNSPEC, &o);
        ASSERT_OK(o.error);
        ASSERT_EQ(o.result->n_targets, 2);
        ASSERT_STREQ(target_str(o.result, 0), "127.0.0.71:5060");
        ASSERT_STREQ(target_str(o.result, 1), "[fd00::71]:5060");
        outcome_done(&o);

        resolve(r, e, "v6only.test", 0, AF_INET6, &o);
        ASSERT_OK(o.error);
        ASSERT_STREQ(target_str(o.result, 0), "[fd00::81]:5060");
        outcome_done(&o);
}

typedef struct Ticker {
        unsigned ticks;
        uint64_t max_gap_usec, last_usec;
} Ticker;

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Ticker *t = userdata;
        uint64_t now = gw_test_now_usec();

        if (t->last_usec > 0)
                t->max_gap_usec = MAX(t->max_gap_usec, now - t->last_usec);
        t->last_usec = now;
        t->ticks++;
        ASSERT_OK(sd_event_source_set_time_relative(s, 20 * USEC_PER_MSEC));
        return 0;
}

TEST(resolve_dead_server_times_out) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        _cleanup_close_ int silent = -EBADF;
        sd_event_source *tick = NULL;
        Ticker t = {};
        char server[64];
        uint64_t start, elapsed;
        Outcome o = {};

        ASSERT_OK(sd_event_new(&e));
        /* A bound socket that never reads: queries vanish, no ICMP error comes back. */
        snprintf(server, sizeof(server), DNS_ADDR ":%u", gw_test_port(SOCK_DGRAM, DNS_ADDR, 1, &silent));
        r = resolver_at(e, server);

        ASSERT_OK(sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, 20 * USEC_PER_MSEC, 0, on_tick, &t));
        ASSERT_OK(sd_event_source_set_enabled(tick, SD_EVENT_ON));

        start = gw_test_now_usec();
        ASSERT_OK(gw_resolve_host(r, "pbx.test", 0, AF_INET, on_resolved, &o, NULL));
        GW_TEST_RUN_UNTIL(e, o.done, 10 * USEC_PER_SEC);
        ASSERT_TRUE(o.done);
        elapsed = o.at_usec - start;
        fprintf(stderr, "dead server: %s after %" PRIu64 " ms; timer ticked %u times, max gap %" PRIu64 " ms\n",
                strerror(-o.error), elapsed / 1000, t.ticks, t.max_gap_usec / 1000);
        ASSERT_EQ(o.error, -ETIMEDOUT);
        /* 500 ms, then 1000 ms for the second try (c-ares doubles per round) */
        ASSERT_TRUE(elapsed >= 1400 * USEC_PER_MSEC);
        ASSERT_TRUE(elapsed <= 4000 * USEC_PER_MSEC);      /* slack for a loaded machine */
        /* The loop was never blocked: a 20 ms timer kept firing throughout. */
        ASSERT_TRUE(t.ticks >= elapsed / (20 * USEC_PER_MSEC) / 2);
        ASSERT_TRUE(t.max_gap_usec < 400 * USEC_PER_MSEC);
        sd_event_source_disable_unref(tick);
        outcome_done(&o);
}

TEST(resolve_refused_port) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        char server[64];
        uint64_t start, elapsed;
        Outcome o = {};

        ASSERT_OK(sd_event_new(&e));
        /* A port nobody listens on: loopback answers ICMP port unreachable at once. */
        snprintf(server, sizeof(server), DNS_ADDR ":%u", gw_test_port(SOCK_DGRAM, DNS_ADDR, 1, NULL));
        r = resolver_at(e, server);

        start = gw_test_now_usec();
        resolve(r, e, "plain.test", 5060, AF_INET, &o);
        elapsed = o.at_usec - start;
        fprintf(stderr, "closed port: %s after %" PRIu64 " ms\n", strerror(-o.error), elapsed / 1000);
        ASSERT_EQ(o.error, -ECONNREFUSED);
        ASSERT_TRUE(elapsed < 400 * USEC_PER_MSEC);
        outcome_done(&o);
}

TEST(resolve_cancel) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        GwResolveQuery *q1, *q2, *q3;
        Outcome o1 = {}, o2 = {}, o3 = {};

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        /* cancelled before the answer: SRV step in flight */
        ASSERT_OK(gw_resolve_host(r, "pbx.test", 0, AF_UNSPEC, on_resolved, &o1, &q1));
        /* cancelled while its (literal) result waits for dispatch */
        ASSERT_OK(gw_resolve_host(r, "127.0.0.1", 0, AF_UNSPEC, on_resolved, &o2, &q2));
        /* not cancelled: must still complete */
        ASSERT_OK(gw_resolve_host(r, "plain.test", 0, AF_INET, on_resolved, &o3, &q3));
        ASSERT_EQ(gw_resolver_n_pending(r), 3);
        ASSERT_TRUE(gw_resolve_query_cancel(q1) == NULL);
        ASSERT_TRUE(gw_resolve_query_cancel(q2) == NULL);
        ASSERT_EQ(gw_resolver_n_pending(r), 1);

        GW_TEST_RUN_UNTIL(e, o3.done, 5 * USEC_PER_SEC);
        ASSERT_TRUE(o3.done);
        ASSERT_OK(o3.error);
        /* Give the cancelled lookups time to come back from dnsmasq: still no callback. */
        gw_test_run_for(e, 300 * USEC_PER_MSEC);
        ASSERT_EQ(o1.calls, 0);
        ASSERT_EQ(o2.calls, 0);
        ASSERT_EQ(o3.calls, 1);
        outcome_done(&o3);
}

TEST(resolve_free_with_pending) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_close_ int silent = -EBADF;
        GwResolver *r;
        GwResolveQuery *q;
        char server[64];
        Outcome o1 = {}, o2 = {};

        ASSERT_OK(sd_event_new(&e));
        snprintf(server, sizeof(server), DNS_ADDR ":%u", gw_test_port(SOCK_DGRAM, DNS_ADDR, 1, &silent));
        r = resolver_at(e, server);

        /* One cancelled, one pending, then the resolver goes: no callback, nothing leaks. */
        ASSERT_OK(gw_resolve_host(r, "pbx.test", 0, AF_UNSPEC, on_resolved, &o1, &q));
        ASSERT_OK(gw_resolve_host(r, "plain.test", 5060, AF_UNSPEC, on_resolved, &o2, NULL));
        gw_resolve_query_cancel(q);
        gw_test_run_for(e, 100 * USEC_PER_MSEC);
        ASSERT_TRUE(gw_resolver_free(r) == NULL);
        gw_test_run_for(e, 50 * USEC_PER_MSEC);
        ASSERT_EQ(o1.calls + o2.calls, 0);
}

typedef struct FreeInCallback {
        GwResolver *resolver;
        unsigned calls;
} FreeInCallback;

static void on_resolved_free(GwResolveQuery *q, int error, const GwResolveResult *result, void *userdata) {
        FreeInCallback *f = userdata;

        f->calls++;
        ASSERT_TRUE(gw_resolve_query_cancel(q) == NULL);       /* harmless here */
        f->resolver = gw_resolver_free(f->resolver);
}

TEST(resolve_free_in_callback) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        FreeInCallback f = {};

        ASSERT_OK(sd_event_new(&e));
        f.resolver = resolver_dnsmasq(e);

        /* Two literals complete together; the first callback frees the resolver, the second
         * must then never be called. */
        ASSERT_OK(gw_resolve_host(f.resolver, "127.0.0.1", 0, AF_INET, on_resolved_free, &f, NULL));
        ASSERT_OK(gw_resolve_host(f.resolver, "127.0.0.2", 0, AF_INET, on_resolved_free, &f, NULL));
        ASSERT_OK(gw_resolve_host(f.resolver, "plain.test", 0, AF_INET, on_resolved_free, &f, NULL));
        gw_test_run_for(e, 300 * USEC_PER_MSEC);
        ASSERT_EQ(f.calls, 1);
        ASSERT_TRUE(f.resolver == NULL);
}

TEST(resolve_many_parallel) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_resolver_freep) GwResolver *r = NULL;
        const char *names[] = { "pbx.test", "lb.test", "plain.test", "nothing.test", "dual.test" };
        Outcome o[50] = {};
        bool all = false;
        uint64_t end;

        ASSERT_OK(sd_event_new(&e));
        r = resolver_dnsmasq(e);

        for (size_t i = 0; i < ELEMENTSOF(o); i++)
                ASSERT_OK(gw_resolve_host(r, names[i % ELEMENTSOF(names)], 0, AF_UNSPEC, on_resolved, &o[i], NULL));
        end = gw_test_now_usec() + 5 * USEC_PER_SEC;
        while (!all && gw_test_now_usec() < end) {
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
                all = true;
                for (size_t i = 0; i < ELEMENTSOF(o); i++)
                        all = all && o[i].done;
        }
        ASSERT_TRUE(all);
        for (size_t i = 0; i < ELEMENTSOF(o); i++) {
                ASSERT_EQ(o[i].calls, 1);
                if (i % ELEMENTSOF(names) == 3)
                        ASSERT_EQ(o[i].error, -ENOENT);
                else
                        ASSERT_OK(o[i].error);
                outcome_done(&o[i]);
        }
        ASSERT_EQ(gw_resolver_n_pending(r), 0);
}
