/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-dns.c: proxy entries given as DNS names (SRV, A/AAAA) resolved by regd through a
 * real dnsmasq on loopback; the SIP side is a capture answered with synthetic outcomes. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gw-bus.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "regd-manager.h"
#include "test-regd-util.h"

DEFINE_TEST_MAIN

#define T41 "127.0.0.41:5070"           /* _sip._udp.pbx.test priority 10 */
#define T42 "127.0.0.42:5080"           /* _sip._udp.pbx.test priority 20 */
#define R1  "127.0.0.3:5060"

static char dns_server[32];

/* One dnsmasq for the whole test, authoritative for "test."; exits 77 without dnsmasq. */
static void dnsmasq_start(void) {
        static const char *const records[] = {
                "--srv-host=_sip._udp.pbx.test,main.pbx.test,5070,10,50",
                "--srv-host=_sip._udp.pbx.test,backup.pbx.test,5080,20,50",
                "--host-record=main.pbx.test,127.0.0.41",
                "--host-record=backup.pbx.test,127.0.0.42",
                "--host-record=dual.test,127.0.0.71,fd00::71",
                NULL
        };

        if (dns_server[0] == 0)
                snprintf(dns_server, sizeof(dns_server), "127.0.0.1:%u", gw_test_dnsmasq("127.0.0.1", 1, records));
}

/* ---------------------------------------------------------------- fixture */

typedef enum Behaviour {
        PEER_OK,
        PEER_SILENT,                     /* timeout without provisional */
} Behaviour;

typedef struct Fixture {
        sd_event *e;
        TestConf t;
        Manager *m;
        Capture *c;
        size_t answered;
        char *dns_servers[1];
        Behaviour t41, t42, r1;
} Fixture;

static GwHostPort name_hostport(char *text, char *host, uint16_t port) {
        return (GwHostPort) { .text = text, .host = host, .port = port, .is_ip = false };
}

static void fixture_init(Fixture *f, size_t n_lines) {
        dnsmasq_start();
        memset(f, 0, sizeof(*f));
        ASSERT_OK(sd_event_new(&f->e));
        test_conf_init(&f->t, n_lines);
        f->t.profile.proxy = name_hostport((char *) "pbx.test", (char *) "pbx.test", 0);
        f->t.profile.registrar = f->t.profile.proxy;
        f->t.profile.redundant[0] = test_hostport((char *) "127.0.0.3");
        f->t.profile.n_redundant = 1;
        f->t.profile.keepalive_period_us = 200 * USEC_PER_MSEC;
        f->dns_servers[0] = dns_server;
        f->t.conf.dns_servers[0] = dns_server;
        f->t.conf.n_dns_servers = 1;
        f->t.conf.dns_min_ttl_us = 0;
        f->c = calloc(1, sizeof(Capture));
        ASSERT_NOT_NULL(f->c);
}

static void fixture_start(Fixture *f) {
        ASSERT_OK(manager_new(f->e, &f->t.conf, NULL, &f->m));
        capture_attach(f->m, f->c);
        f->m->lost_grace_usec = 100 * USEC_PER_MSEC;
        f->m->search_spacing_usec = 20 * USEC_PER_MSEC;
        ASSERT_NOT_NULL(f->m->resolver);
        ASSERT_OK(manager_start(f->m));
}

static void fixture_done(Fixture *f) {
        f->m = manager_free(f->m);
        free(f->c);
        f->e = sd_event_unref(f->e);
}

static Behaviour behaviour_of(Fixture *f, const char *target) {
        if (streq(target, T41))
                return f->t41;
        if (streq(target, T42))
                return f->t42;
        if (streq(target, R1))
                return f->r1;
        GW_TEST_FAIL("request to an unexpected target");
        return PEER_SILENT;
}

static void answer_pending(Fixture *f) {
        /* Bounded: each pass answers what was sent before it. */
        for (unsigned pass = 0; pass < 64 && f->answered < f->c->n_sent; pass++) {
                size_t end = f->c->n_sent;

                for (; f->answered < end; f->answered++) {
                        const Sent *s = &f->c->sent[f->answered];

                        ASSERT_OK(answer(f->m, s, behaviour_of(f, s->target) == PEER_OK ?
                                         outcome_response(200, 3600) :
                                         outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT)));
                }
        }
}

static bool drive(Fixture *f, bool (*pred)(Fixture *), uint64_t usec) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + usec;

        for (unsigned i = 0; i < 100000; i++) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);

                answer_pending(f);
                if (pred && pred(f))
                        return true;
                if (now >= end)
                        break;
                ASSERT_OK(sd_event_run(f->e, MIN(end - now, 10 * USEC_PER_MSEC)));
        }
        answer_pending(f);
        return pred ? pred(f) : false;
}

static bool all_registered_at(Fixture *f, size_t entry, const char *target) {
        for (size_t i = 0; i < f->m->n_lines; i++) {
                Line *l = f->m->lines[i];

                if (l->state != LINE_REGISTERED || l->via_index != entry || !streq(l->target, target))
                        return false;
        }
        return true;
}

static bool on_t42(Fixture *f) {
        return f->m->profiles[0]->active == 0 && all_registered_at(f, 0, T42);
}

static bool on_r1(Fixture *f) {
        return f->m->profiles[0]->active == 1 && all_registered_at(f, 1, R1);
}

static size_t count_to(const Fixture *f, size_t from, const char *method, const char *target) {
        size_t n = 0;

        for (size_t i = from; i < f->c->n_sent; i++)
                n += streq(f->c->sent[i].method, method) && streq(f->c->sent[i].target, target);
        return n;
}

/* ---------------------------------------------------------------- tests */

/* SRV: the targets in priority order; the first one silent, so the second
 * target of the same entry is tried before the redundant entry. */
TEST(regd_dns_srv_targets_before_next_entry) {
        Fixture f;
        Profile *p;
        ProfileStatusStorage st;
        Gw__ProfileStatus ps;
        char buf[REGD_TARGET_MAX];

        fixture_init(&f, 2);
        f.t41 = PEER_SILENT;
        fixture_start(&f);
        p = f.m->profiles[0];
        /* Nothing goes out before the answer: no per-request DNS, no blocking. */
        ASSERT_EQ(f.c->n_sent, 0);
        ASSERT_ERROR(resolve_active_target(p, buf, sizeof(buf)), EAGAIN);

        ASSERT_TRUE(drive(&f, on_t42, 3 * USEC_PER_SEC));
        /* Both lines went to the first SRV target, then the search to the second. */
        ASSERT_STREQ(f.c->sent[0].target, T41);
        ASSERT_STREQ(f.c->sent[1].target, T41);
        ASSERT_STREQ(f.c->sent[2].target, T42);
        ASSERT_EQ(count_to(&f, 0, "REGISTER", R1), 0);
        ASSERT_EQ(p->proxies[0]->n_targets, 2);
        /* A change of target inside the entry is a switch of its own, published. */
        ASSERT_EQ(f.c->n_switches, 1);
        ASSERT_EQ(f.c->switch_from, 0);
        ASSERT_EQ(f.c->switch_to, 0);
        ASSERT_STREQ(f.c->switch_reason, "timeout");

        profile_status_fill(p, &st, &ps);
        ASSERT_STREQ(ps.active_proxy, "pbx.test");
        ASSERT_STREQ(ps.active_target, T42);

        /* The active target stays while it answers: refreshes and checks go there. */
        f.t41 = PEER_OK;
        {
                size_t mark = f.c->n_sent;

                f.t.profile.keepalive = KEEPALIVE_OPTIONS;
                ASSERT_OK(profile_start(p));
                drive(&f, NULL, 700 * USEC_PER_MSEC);
                ASSERT_TRUE(count_to(&f, mark, "OPTIONS", T42) >= 2);
                ASSERT_EQ(count_to(&f, mark, "OPTIONS", T41), 0);
                ASSERT_EQ(count_to(&f, mark, "REGISTER", T41), 0);
        }
        fixture_done(&f);
}

static bool main_dns_failed_on_r1(Fixture *f) {
        return on_r1(f) && streq(f->m->profiles[0]->proxies[0]->last_failure_reason, "dns");
}

/* A name that does not resolve is a failed entry, reason 'dns'. */
TEST(regd_dns_unresolvable_name_fails_the_entry) {
        Fixture f;
        Profile *p;

        fixture_init(&f, 2);
        f.t.profile.proxy = name_hostport((char *) "nx.test", (char *) "nx.test", 0);
        f.t.profile.registrar = f.t.profile.proxy;
        fixture_start(&f);
        p = f.m->profiles[0];
        ASSERT_TRUE(drive(&f, main_dns_failed_on_r1, 3 * USEC_PER_SEC));
        for (size_t i = 0; i < f.c->n_sent; i++)
                ASSERT_STREQ(f.c->sent[i].target, R1);
        ASSERT_EQ(p->proxies[0]->health, PROXY_HEALTH_DOWN);
        ASSERT_EQ(f.c->n_switches, 1);
        ASSERT_STREQ(f.c->switch_reason, "dns");
        fixture_done(&f);
}

/* A profile whose only entry does not resolve: its lines fail with 'dns' and back off. */
TEST(regd_dns_unresolvable_single_entry) {
        Fixture f;
        Line *l;

        fixture_init(&f, 1);
        f.t.profile.proxy = name_hostport((char *) "nx.test:5070", (char *) "nx.test", 5070);
        f.t.profile.registrar = f.t.profile.proxy;
        f.t.profile.n_redundant = 0;
        fixture_start(&f);
        l = manager_line_by_port(f.m, 1);
        drive(&f, NULL, 500 * USEC_PER_MSEC);
        ASSERT_EQ(f.c->n_sent, 0);
        ASSERT_EQ(l->state, LINE_FAILED);
        ASSERT_STREQ(l->reason, "dns");
        ASSERT_NOT_NULL(l->timer);
        fixture_done(&f);
}

/* Homing on a name: the main entry is back when any of its targets answers,
 * and the gateway returns to that target. */
TEST(regd_dns_homing_any_target) {
        Fixture f;
        size_t mark;

        fixture_init(&f, 2);
        f.t.profile.keepalive = KEEPALIVE_OPTIONS;
        f.t.profile.redundancy_mode = REDUNDANCY_HOMING;
        f.t41 = f.t42 = PEER_SILENT;
        fixture_start(&f);
        ASSERT_TRUE(drive(&f, on_r1, 3 * USEC_PER_SEC));
        ASSERT_STREQ(f.c->sent[0].target, T41);
        ASSERT_STREQ(f.c->sent[2].target, T42);     /* both lines to .41, then the search: .42, r1 */
        ASSERT_STREQ(f.c->sent[3].target, R1);

        /* .42 comes back, .41 stays silent: the homing checks try both targets. */
        f.t42 = PEER_OK;
        mark = f.c->n_sent;
        ASSERT_TRUE(drive(&f, on_t42, 3 * USEC_PER_SEC));
        ASSERT_TRUE(count_to(&f, mark, "OPTIONS", T41) >= 1);
        ASSERT_TRUE(count_to(&f, mark, "OPTIONS", T42) >= 1);
        ASSERT_STREQ(f.c->switch_reason, "homing");
        ASSERT_EQ(f.m->profiles[0]->proxies[0]->cur_target, 1);
        fixture_done(&f);
}

static bool resolved(Fixture *f) {
        return f->m->profiles[0]->proxies[0]->n_targets > 0;
}

/* Only the address family of sip.listen is used. */
TEST(regd_dns_family_of_sip_listen) {
        static const struct {
                int family;
                const char *target;
        } cases[] = {
                { AF_INET, "127.0.0.71:5090" },
                { AF_INET6, "[fd00::71]:5090" },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                Fixture f;
                Proxy *x;

                fixture_init(&f, 0);
                f.t.profile.proxy = name_hostport((char *) "dual.test:5090", (char *) "dual.test", 5090);
                f.t.profile.registrar = f.t.profile.proxy;
                f.t.conf.sip_listen_addr.ss_family = (sa_family_t) cases[k].family;
                fixture_start(&f);
                ASSERT_TRUE(drive(&f, resolved, 3 * USEC_PER_SEC));
                x = f.m->profiles[0]->proxies[0];
                ASSERT_EQ(x->n_targets, 1);
                ASSERT_STREQ(x->targets[0].addr, cases[k].target);
                fixture_done(&f);
        }
}

/* The answer is kept for max(TTL, dns.min_ttl): with a TTL of 1 s and
 * min_ttl 3 s the name is not asked again for 3 s, while checks go on. */
TEST(regd_dns_min_ttl) {
        Fixture f;
        Proxy *x;
        uint64_t first;

        fixture_init(&f, 1);
        f.t.profile.keepalive = KEEPALIVE_OPTIONS;
        f.t.conf.dns_min_ttl_us = 3 * USEC_PER_SEC;
        fixture_start(&f);
        x = f.m->profiles[0]->proxies[0];
        ASSERT_TRUE(drive(&f, resolved, 3 * USEC_PER_SEC));
        first = x->resolve_after_mono_us;
        ASSERT_TRUE(first >= now_usec(CLOCK_MONOTONIC) + 2 * USEC_PER_SEC);
        drive(&f, NULL, 1500 * USEC_PER_MSEC);
        ASSERT_EQ(x->resolve_after_mono_us, first);     /* checks went on, no new query */
        ASSERT_TRUE(count_to(&f, 0, "OPTIONS", T41) >= 3);
        fixture_done(&f);

        /* min_ttl 0: asked again once the TTL (1 s) is over, at the next use. */
        fixture_init(&f, 1);
        f.t.profile.keepalive = KEEPALIVE_OPTIONS;
        fixture_start(&f);
        x = f.m->profiles[0]->proxies[0];
        ASSERT_TRUE(drive(&f, resolved, 3 * USEC_PER_SEC));
        first = x->resolve_after_mono_us;
        drive(&f, NULL, 1800 * USEC_PER_MSEC);
        ASSERT_TRUE(x->resolve_after_mono_us > first);
        ASSERT_STREQ(proxy_current_target(x), T41);
        fixture_done(&f);
}
