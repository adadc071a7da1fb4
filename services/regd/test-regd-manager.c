/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-manager.c: the request window and queue, loss and re-send, refresh, retry
 * and stopping, driven by synthetic outcomes with the bus replaced by a capture. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include "gw-bus.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "regd-manager.h"
#include "test-regd-util.h"

DEFINE_TEST_MAIN

typedef struct Fixture {
        sd_event *e;
        TestConf t;
        Manager *m;
        Capture *c;
} Fixture;

static void fixture_init(Fixture *f, size_t n_lines) {
        memset(f, 0, sizeof(*f));
        ASSERT_OK(sd_event_new(&f->e));
        test_conf_init(&f->t, n_lines);
        f->c = calloc(1, sizeof(Capture));
        ASSERT_NOT_NULL(f->c);
}

static void fixture_start(Fixture *f) {
        ASSERT_OK(manager_new(f->e, &f->t.conf, NULL, &f->m));
        capture_attach(f->m, f->c);
        f->m->lost_grace_usec = 100 * USEC_PER_MSEC;
        ASSERT_OK(manager_start(f->m));
}

static void fixture_done(Fixture *f) {
        f->m = manager_free(f->m);
        free(f->c);
        f->e = sd_event_unref(f->e);
}

TEST(regd_window_and_fifo) {
        Fixture f;
        size_t answered = 0;

        fixture_init(&f, 40);
        fixture_start(&f);

        /* 16 in flight, 24 queued, in port order. */
        ASSERT_EQ(f.c->n_sent, REGD_MAX_IN_FLIGHT);
        ASSERT_EQ(f.m->n_in_flight, REGD_MAX_IN_FLIGHT);
        ASSERT_EQ(f.m->n_queued, 40 - REGD_MAX_IN_FLIGHT);
        for (size_t i = 0; i < f.c->n_sent; i++)
                ASSERT_EQ(f.c->sent[i].port, i + 1);
        for (unsigned p = 1; p <= 40; p++)
                ASSERT_EQ(manager_line_by_port(f.m, p)->state, LINE_REGISTERING);

        /* Distinct correlation ids. */
        for (size_t i = 0; i < f.c->n_sent; i++)
                for (size_t j = i + 1; j < f.c->n_sent; j++)
                        ASSERT_TRUE(f.c->sent[i].cid != f.c->sent[j].cid);

        /* Each answer lets exactly one queued line through, FIFO. */
        while (answered < f.c->n_sent) {
                size_t before = f.c->n_sent;

                ASSERT_OK(answer(f.m, &f.c->sent[answered], outcome_response(200, 3600)));
                answered++;
                if (before < 40) {
                        ASSERT_EQ(f.c->n_sent, before + 1);
                        ASSERT_EQ(f.c->sent[before].port, before + 1);
                } else
                        ASSERT_EQ(f.c->n_sent, before);
                ASSERT_TRUE(f.m->n_in_flight <= REGD_MAX_IN_FLIGHT);
        }
        ASSERT_EQ(answered, 40);
        ASSERT_EQ(f.c->max_in_flight_seen, REGD_MAX_IN_FLIGHT);
        ASSERT_EQ(f.m->n_in_flight, 0);
        ASSERT_EQ(f.m->n_queued, 0);
        for (unsigned p = 1; p <= 40; p++)
                ASSERT_EQ(manager_line_by_port(f.m, p)->state, LINE_REGISTERED);
        ASSERT_EQ(f.m->profiles[0]->proxies[0]->counters.sent, 40);
        ASSERT_EQ(f.m->profiles[0]->proxies[0]->health, PROXY_HEALTH_UP);

        /* A duplicate or unknown outcome changes nothing. */
        ASSERT_OK(answer(f.m, &f.c->sent[0], outcome_response(200, 3600)));
        ASSERT_EQ(f.m->n_unknown_outcomes, 1);
        ASSERT_EQ(f.m->n_in_flight, 0);

        fixture_done(&f);
}

TEST(regd_request_contents_and_cseq) {
        Fixture f;
        const Sent *s1, *s2;
        Gw__SipRequestOutcome o;
        Line *l;

        fixture_init(&f, 1);
        f.t.profile.registrar = (GwHostPort) { .text = (char *) "127.0.0.2:5070", .host = (char *) "127.0.0.2",
                                               .port = 5070, .is_ip = true };
        fixture_start(&f);
        l = manager_line_by_port(f.m, 1);

        s1 = capture_last_for(f.c, 1);
        ASSERT_NOT_NULL(s1);
        ASSERT_STREQ(s1->request_uri, "sip:example.test");
        ASSERT_STREQ(s1->from_uri, "sip:1001@example.test");
        ASSERT_STREQ(s1->to_uri, "sip:1001@example.test");
        ASSERT_STREQ(s1->target, "127.0.0.2:5070");
        ASSERT_STREQ(s1->profile, "p1");
        ASSERT_EQ(s1->expires_s, 3600);
        ASSERT_EQ(s1->timeout_ms, 200);
        ASSERT_TRUE(s1->with_contact);
        ASSERT_TRUE(strlen(s1->call_id) >= 16);
        ASSERT_TRUE(strlen(s1->from_tag) >= 8);

        /* sigd authenticated: it used one more CSeq; the registrar granted less. */
        o = outcome_response(200, 120);
        o.has_cseq = true;
        o.cseq = s1->cseq + 1;
        ASSERT_OK(answer(f.m, s1, o));
        ASSERT_EQ(l->state, LINE_REGISTERED);
        ASSERT_EQ(l->cseq, s1->cseq + 1);
        {
                uint64_t now = now_usec(CLOCK_REALTIME);
                ASSERT_TRUE(l->expires_at_real_us > now + 118 * USEC_PER_SEC);
                ASSERT_TRUE(l->expires_at_real_us <= now + 120 * USEC_PER_SEC);
        }

        /* A refresh keeps Call-ID and From tag and continues CSeq. */
        ASSERT_OK(line_register(l));
        s2 = capture_last_for(f.c, 1);
        ASSERT_TRUE(s2 != s1);
        ASSERT_STREQ(s2->call_id, s1->call_id);
        ASSERT_STREQ(s2->from_tag, s1->from_tag);
        ASSERT_EQ(s2->cseq, s1->cseq + 2);
        ASSERT_EQ(l->state, LINE_REGISTERED);        /* stays registered while refreshing */

        fixture_done(&f);
}

static bool sent_at_least_2(void *userdata) {
        return ((Capture *) userdata)->n_sent >= 2;
}

TEST(regd_lost_request_is_sent_again) {
        Fixture f;
        const Sent *s1, *s2;
        uint64_t t0, dt;

        fixture_init(&f, 1);
        fixture_start(&f);          /* timeout_ms 200, grace 100 ms */
        t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_EQ(f.c->n_sent, 1);

        ASSERT_TRUE(gw_test_run_until(f.e, sent_at_least_2, f.c, 3 * USEC_PER_SEC));
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        ASSERT_TRUE(dt >= 280 * USEC_PER_MSEC);
        ASSERT_TRUE(dt < 2500 * USEC_PER_MSEC);        /* generous: loaded CI machines */

        s1 = &f.c->sent[0];
        s2 = &f.c->sent[1];
        ASSERT_TRUE(s2->cid != s1->cid);
        ASSERT_TRUE(s2->cseq > s1->cseq);
        ASSERT_STREQ(s2->call_id, s1->call_id);
        ASSERT_EQ(f.m->n_in_flight, 1);       /* still one slot */
        ASSERT_EQ(f.m->n_lost, 1);

        /* The first transmission was only slow: its outcome completes the request,
         * and the one of the re-sent transmission is then ignored. */
        ASSERT_OK(answer(f.m, s1, outcome_response(200, 3600)));
        ASSERT_EQ(manager_line_by_port(f.m, 1)->state, LINE_REGISTERED);
        ASSERT_EQ(f.m->n_in_flight, 0);
        ASSERT_EQ(f.m->n_unknown_outcomes, 0);
        ASSERT_OK(answer(f.m, s2, outcome_response(500, -1)));
        ASSERT_EQ(f.m->n_unknown_outcomes, 1);
        ASSERT_EQ(manager_line_by_port(f.m, 1)->state, LINE_REGISTERED);
        /* ...but its CSeq is remembered. */
        ASSERT_EQ(manager_line_by_port(f.m, 1)->cseq, s2->cseq);

        fixture_done(&f);
}

TEST(regd_new_sigd_instance_resends) {
        Fixture f;

        fixture_init(&f, 20);
        fixture_start(&f);
        ASSERT_EQ(f.c->n_sent, 16);

        manager_resend_in_flight(f.m);
        ASSERT_EQ(f.c->n_sent, 32);
        ASSERT_EQ(f.m->n_in_flight, 16);
        ASSERT_EQ(f.m->n_queued, 4);
        for (size_t i = 0; i < 16; i++) {
                const Sent *a = &f.c->sent[i], *b = &f.c->sent[16 + i];

                ASSERT_EQ(a->port, b->port);
                ASSERT_TRUE(a->cid != b->cid);
                ASSERT_TRUE(b->cseq > a->cseq);
        }
        fixture_done(&f);
}

typedef struct WaitSent {
        Capture *c;
        size_t n;
} WaitSent;

static bool sent_reaches(void *userdata) {
        WaitSent *w = userdata;
        return w->c->n_sent >= w->n;
}

TEST(regd_failure_backoff_and_health) {
        Fixture f;
        Gw__SipRequestOutcome o;
        Line *l;
        Proxy *x;
        uint64_t t0, dt;
        WaitSent w;

        fixture_init(&f, 1);
        fixture_start(&f);           /* retry base 100 ms, max 800 ms */
        l = manager_line_by_port(f.m, 1);
        x = f.m->profiles[0]->proxies[0];

        o = outcome_response(503, -1);
        ASSERT_OK(answer(f.m, &f.c->sent[0], o));
        t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_EQ(l->state, LINE_FAILED);
        ASSERT_STREQ(l->reason, "503");
        ASSERT_EQ(x->health, PROXY_HEALTH_DOWN);
        ASSERT_EQ(x->counters.r503, 1);
        ASSERT_STREQ(x->last_failure_reason, "503");
        ASSERT_EQ(f.m->profiles[0]->active, 0);      /* no failover in this milestone */

        /* Retried after 50–100 ms. */
        w = (WaitSent) { f.c, 2 };
        ASSERT_TRUE(gw_test_run_until(f.e, sent_reaches, &w, 2 * USEC_PER_SEC));
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        ASSERT_TRUE(dt >= 45 * USEC_PER_MSEC);
        ASSERT_TRUE(dt < 1500 * USEC_PER_MSEC);
        /* Retrying: still shown as failed, with the reason. */
        ASSERT_EQ(l->state, LINE_FAILED);
        ASSERT_STREQ(l->reason, "503");

        /* Timeout: entry failure, 100–200 ms. */
        ASSERT_OK(answer(f.m, &f.c->sent[1], outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT)));
        t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_STREQ(l->reason, "timeout");
        ASSERT_EQ(x->counters.timeouts, 1);
        w.n = 3;
        ASSERT_TRUE(gw_test_run_until(f.e, sent_reaches, &w, 2 * USEC_PER_SEC));
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        ASSERT_TRUE(dt >= 95 * USEC_PER_MSEC);
        ASSERT_TRUE(dt < 1500 * USEC_PER_MSEC);

        /* Auth failure: failed/auth, the entry is alive. */
        ASSERT_OK(answer(f.m, &f.c->sent[2], outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED)));
        ASSERT_EQ(l->state, LINE_FAILED);
        ASSERT_STREQ(l->reason, "auth");
        ASSERT_EQ(x->health, PROXY_HEALTH_UP);
        ASSERT_EQ(l->failures, 3);
        ASSERT_NOT_NULL(l->timer);

        /* Transport error with 'Retry-After' ignored (not a 503): back-off only. */
        w.n = 4;
        ASSERT_TRUE(gw_test_run_until(f.e, sent_reaches, &w, 2 * USEC_PER_SEC));
        o = outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT);
        o.error = (char *) "Connection refused";
        ASSERT_OK(answer(f.m, &f.c->sent[3], o));
        ASSERT_STREQ(l->reason, "transport");
        ASSERT_EQ(x->counters.transport_errors, 1);

        /* Success resets the failure count. */
        w.n = 5;
        ASSERT_TRUE(gw_test_run_until(f.e, sent_reaches, &w, 3 * USEC_PER_SEC));
        ASSERT_OK(answer(f.m, &f.c->sent[4], outcome_response(200, 3600)));
        ASSERT_EQ(l->state, LINE_REGISTERED);
        ASSERT_EQ(l->failures, 0);
        ASSERT_STREQ(l->reason, "");

        fixture_done(&f);
}

/* A UDP port on loopback that nobody listens on (bound, then closed). */
static unsigned closed_udp_port(void) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sin);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(bind(fd, (struct sockaddr *) &sin, sizeof(sin)));
        ASSERT_OK(getsockname(fd, (struct sockaddr *) &sin, &len));
        close(fd);
        return ntohs(sin.sin_port);
}

static bool line1_failed_dns(void *userdata) {
        Line *l = manager_line_by_port(userdata, 1);

        return l->state == LINE_FAILED && l->timer;
}

TEST(regd_423_403_and_dns) {
        char dns_server[32];
        Fixture f;
        Gw__SipRequestOutcome o;
        Line *l;
        uint64_t when = 0;

        fixture_init(&f, 2);
        fixture_start(&f);
        l = manager_line_by_port(f.m, 1);

        /* 423 with Min-Expires: asked again at once for that. */
        o = outcome_response(423, -1);
        o.has_min_expires_s = true;
        o.min_expires_s = 7200;
        ASSERT_OK(answer(f.m, capture_last_for(f.c, 1), o));
        ASSERT_EQ(capture_count_for(f.c, 1), 2);
        ASSERT_EQ(capture_last_for(f.c, 1)->expires_s, 7200);
        ASSERT_EQ(l->state, LINE_REGISTERING);

        /* 403: failed, retried only after register_forbidden_retry (an hour here). */
        ASSERT_OK(answer(f.m, capture_last_for(f.c, 2), outcome_response(403, -1)));
        l = manager_line_by_port(f.m, 2);
        ASSERT_EQ(l->state, LINE_FAILED);
        ASSERT_STREQ(l->reason, "403");
        ASSERT_NOT_NULL(l->timer);
        ASSERT_OK(sd_event_source_get_time(l->timer, &when));
        ASSERT_TRUE(when >= now_usec(CLOCK_MONOTONIC) + 3590 * USEC_PER_SEC);
        fixture_done(&f);

        /* A registrar name that does not resolve (the only DNS server, on
         * loopback, refuses): failed/dns, nothing sent, retried with back-off. */
        fixture_init(&f, 2);
        f.t.profile.registrar = (GwHostPort) { .text = (char *) "sip.example.test", .host = (char *) "sip.example.test" };
        snprintf(dns_server, sizeof(dns_server), "127.0.0.1:%u", closed_udp_port());
        f.t.conf.dns_servers[0] = dns_server;
        f.t.conf.n_dns_servers = 1;
        fixture_start(&f);
        l = manager_line_by_port(f.m, 1);
        ASSERT_TRUE(gw_test_run_until(f.e, line1_failed_dns, f.m, 5 * USEC_PER_SEC));
        ASSERT_EQ(f.c->n_sent, 0);
        ASSERT_EQ(l->state, LINE_FAILED);
        ASSERT_STREQ(l->reason, "dns");
        ASSERT_NOT_NULL(l->timer);
        fixture_done(&f);
}

static bool refreshed(void *userdata) {
        return ((Capture *) userdata)->n_sent >= 2;
}

TEST(regd_refresh_at_half_and_lost_registration) {
        Fixture f;
        Line *l;
        uint64_t t0, dt;

        fixture_init(&f, 1);
        fixture_start(&f);
        l = manager_line_by_port(f.m, 1);

        ASSERT_OK(answer(f.m, &f.c->sent[0], outcome_response(200, 2)));
        t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_TRUE(gw_test_run_until(f.e, refreshed, f.c, 3 * USEC_PER_SEC));
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        /* 45–55 % of 2 s, plus the timer's 10 ms accuracy. */
        ASSERT_TRUE(dt >= 890 * USEC_PER_MSEC);
        ASSERT_TRUE(dt <= 2000 * USEC_PER_MSEC);   /* upper bound generous: loaded machines */
        ASSERT_EQ(l->state, LINE_REGISTERED);

        /* The refresh fails: the registration is lost, the line is failed. */
        ASSERT_OK(answer(f.m, &f.c->sent[1], outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT)));
        ASSERT_EQ(l->state, LINE_FAILED);
        ASSERT_STREQ(l->reason, "timeout");
        ASSERT_EQ(l->expires_at_real_us, 0);
        fixture_done(&f);
}

static bool done(void *userdata) {
        return ((Capture *) userdata)->n_done > 0;
}

TEST(regd_gateway_stopping) {
        Fixture f;
        size_t first_unreg;
        unsigned n_unreg = 0;

        fixture_init(&f, 20);
        fixture_start(&f);

        /* Register 16 lines; 4 stay queued behind the window... then let 2 of them go in flight. */
        for (size_t i = 0; i < 16; i++)
                ASSERT_OK(answer(f.m, &f.c->sent[i], outcome_response(200, 3600)));
        ASSERT_EQ(f.c->n_sent, 20);
        /* Lines 17..20 have REGISTERs in flight now. */

        first_unreg = f.c->n_sent;
        ASSERT_OK(manager_gateway_stopping(f.m, 1500));
        ASSERT_TRUE(f.m->stopping);

        /* Every registered line and every line with a REGISTER on its way: expires 0 on our own Contact. */
        for (size_t i = first_unreg; i < f.c->n_sent; i++) {
                const Sent *s = &f.c->sent[i];
                Line *l = manager_line_by_port(f.m, s->port);

                ASSERT_EQ(s->expires_s, 0);
                ASSERT_TRUE(s->with_contact);
                ASSERT_STREQ(s->call_id, l->call_id);
                ASSERT_TRUE(s->timeout_ms <= 1500);
                n_unreg++;
        }
        ASSERT_EQ(n_unreg, 20);         /* the stopping window (64) lets all 20 go at once */
        ASSERT_EQ(f.m->unreg_lines, 20);

        /* Late answers to the abandoned REGISTERs are ignored. */
        ASSERT_OK(answer(f.m, &f.c->sent[16], outcome_response(200, 3600)));

        /* 15 confirmed, 5 never answered: UnregisterDone at the deadline. */
        for (size_t i = 0; i < 15; i++)
                ASSERT_OK(answer(f.m, &f.c->sent[first_unreg + i], outcome_response(200, 0)));
        ASSERT_EQ(f.c->n_done, 0);
        ASSERT_TRUE(gw_test_run_until(f.e, done, f.c, 3 * USEC_PER_SEC));
        ASSERT_EQ(f.c->n_done, 1);
        ASSERT_EQ(f.c->done_lines, 20);
        ASSERT_EQ(f.c->done_confirmed, 15);
        ASSERT_TRUE(f.m->stopped);
        for (unsigned p = 1; p <= 20; p++) {
                Line *l = manager_line_by_port(f.m, p);
                ASSERT_EQ(l->state, LINE_UNREGISTERED);
                ASSERT_TRUE(l->timer == NULL);
                ASSERT_EQ(l->req.kind, LINE_REQUEST_NONE);
        }
        ASSERT_EQ(f.m->n_in_flight, 0);

        /* Nothing is registered any more. */
        {
                size_t n = f.c->n_sent;
                ASSERT_OK(line_register(manager_line_by_port(f.m, 1)));
                ASSERT_EQ(f.c->n_sent, n);
        }
        fixture_done(&f);
}

/* A reload (regd-manager.c "reload"): only what changed sends anything. */
TEST(regd_reload_lines) {
        static char new_password[] = "changed";
        Fixture f;
        TestConf *t2 = calloc(1, sizeof(TestConf));
        ManagerReloadCounts n;
        size_t before;

        ASSERT_NOT_NULL(t2);
        fixture_init(&f, 5);
        fixture_start(&f);
        for (size_t i = 0; i < 5; i++)
                ASSERT_OK(answer(f.m, &f.c->sent[i], outcome_response(200, 3600)));
        ASSERT_EQ(f.c->n_sent, 5);

        /* Ports 1, 2, 4, 5, 6: 3 leaves, 6 comes, 1 has a new password. */
        test_conf_init(t2, 6);
        memmove(&t2->lines[2], &t2->lines[3], 3 * sizeof(GwLineConf));
        t2->conf.n_lines = 5;
        t2->lines[0].password = new_password;

        before = f.c->n_sent;
        ASSERT_OK(manager_reload(f.m, &t2->conf, &n));
        ASSERT_EQ(n.lines_added, 1);
        ASSERT_EQ(n.lines_removed, 1);
        ASSERT_EQ(n.lines_changed, 1);
        ASSERT_EQ(n.profiles_changed, 0);
        /* One un-REGISTER for 3, one REGISTER each for 1 and 6; 2, 4 and 5 keep theirs. */
        ASSERT_EQ(f.c->n_sent - before, 3);
        ASSERT_EQ(capture_count_for(f.c, 3), 2);
        ASSERT_EQ(capture_last_for(f.c, 3)->expires_s, 0);
        ASSERT_EQ(capture_count_for(f.c, 1), 2);
        ASSERT_TRUE(capture_last_for(f.c, 1)->expires_s > 0);
        ASSERT_EQ(capture_count_for(f.c, 6), 1);
        ASSERT_EQ(capture_count_for(f.c, 2), 1);
        ASSERT_EQ(capture_count_for(f.c, 4), 1);
        ASSERT_EQ(capture_count_for(f.c, 5), 1);
        ASSERT_TRUE(manager_line_by_port(f.m, 3) == NULL);
        ASSERT_EQ(f.m->n_lines, 5);
        ASSERT_EQ(f.m->n_retiring, 1);
        ASSERT_EQ(manager_line_by_port(f.m, 4)->state, LINE_REGISTERED);
        ASSERT_EQ(manager_line_by_port(f.m, 4)->index, 2);

        /* The un-REGISTER's answer frees the retired line. */
        ASSERT_OK(answer(f.m, capture_last_for(f.c, 3), outcome_response(200, 0)));
        ASSERT_EQ(f.m->n_retiring, 0);
        ASSERT_OK(answer(f.m, capture_last_for(f.c, 1), outcome_response(200, 3600)));
        ASSERT_OK(answer(f.m, capture_last_for(f.c, 6), outcome_response(200, 3600)));
        ASSERT_EQ(f.m->n_in_flight, 0);

        /* The same config again: nothing. */
        before = f.c->n_sent;
        ASSERT_OK(manager_reload(f.m, &t2->conf, &n));
        ASSERT_EQ(n.lines_added + n.lines_removed + n.lines_changed, 0);
        ASSERT_EQ(f.c->n_sent, before);

        fixture_done(&f);
        free(t2);
}

TEST(regd_gateway_stopping_all_answered_and_empty) {
        Fixture f;
        size_t first;

        fixture_init(&f, 3);
        fixture_start(&f);
        for (size_t i = 0; i < 3; i++)
                ASSERT_OK(answer(f.m, &f.c->sent[i], outcome_response(200, 3600)));
        first = f.c->n_sent;
        ASSERT_OK(manager_gateway_stopping(f.m, 5000));
        ASSERT_EQ(f.c->n_sent, first + 3);
        for (size_t i = 0; i < 3; i++)
                ASSERT_OK(answer(f.m, &f.c->sent[first + i], outcome_response(200, 0)));
        /* Done as soon as all outcomes are in, well before the deadline. */
        ASSERT_EQ(f.c->n_done, 1);
        ASSERT_EQ(f.c->done_lines, 3);
        ASSERT_EQ(f.c->done_confirmed, 3);
        fixture_done(&f);

        /* Nothing registered: done at once. */
        fixture_init(&f, 2);
        f.t.profile.register_lines = false;
        fixture_start(&f);
        ASSERT_EQ(f.c->n_sent, 0);
        ASSERT_EQ(manager_line_by_port(f.m, 1)->state, LINE_UNREGISTERED);
        ASSERT_OK(manager_gateway_stopping(f.m, 5000));
        ASSERT_EQ(f.c->n_done, 1);
        ASSERT_EQ(f.c->done_lines, 0);
        ASSERT_EQ(f.c->n_sent, 0);
        fixture_done(&f);
}

TEST(regd_status_reply) {
        Fixture f;
        Gw__StatusReply reply = GW__STATUS_REPLY__INIT;
        void *storage = NULL;

        fixture_init(&f, 3);
        fixture_start(&f);
        ASSERT_OK(answer(f.m, &f.c->sent[0], outcome_response(200, 600)));
        ASSERT_OK(answer(f.m, &f.c->sent[1], outcome_response(404, -1)));

        ASSERT_OK(manager_status_fill(f.m, &reply, &storage));
        ASSERT_EQ(reply.n_profiles, 1);
        ASSERT_STREQ(reply.profiles[0]->name, "p1");
        ASSERT_STREQ(reply.profiles[0]->active_proxy, "127.0.0.1");
        ASSERT_STREQ(reply.profiles[0]->active_target, "127.0.0.1:5060");
        ASSERT_EQ(reply.profiles[0]->n_proxies, 1);
        ASSERT_EQ(reply.profiles[0]->proxies[0]->counters->sent, 3);
        ASSERT_EQ(reply.profiles[0]->proxies[0]->state, GW__PROXY_HEALTH__HEALTH_UP);
        ASSERT_EQ(reply.n_lines, 3);
        ASSERT_EQ(reply.lines[0]->registration, GW__REG_STATE__REG_REGISTERED);
        ASSERT_STREQ(reply.lines[0]->registered_via, "127.0.0.1");
        ASSERT_TRUE(reply.lines[0]->expires_in_s >= 598 && reply.lines[0]->expires_in_s <= 600);
        ASSERT_EQ(reply.lines[1]->registration, GW__REG_STATE__REG_FAILED);
        ASSERT_STREQ(reply.lines[1]->reason, "404");
        ASSERT_EQ(reply.lines[1]->expires_in_s, -1);
        ASSERT_EQ(reply.lines[2]->registration, GW__REG_STATE__REG_REGISTERING);

        /* It packs and unpacks. */
        {
                size_t len = gw__status_reply__get_packed_size(&reply);
                _cleanup_free_ uint8_t *b = malloc(len);
                Gw__StatusReply *back;

                ASSERT_NOT_NULL(b);
                gw__status_reply__pack(&reply, b);
                back = gw__status_reply__unpack(NULL, len, b);
                ASSERT_NOT_NULL(back);
                ASSERT_EQ(back->n_lines, 3);
                ASSERT_STREQ(back->lines[0]->number, "1001");
                gw__status_reply__free_unpacked(back, NULL);
        }
        free(storage);
        fixture_done(&f);
}

static bool line1_failed(void *userdata) {
        Manager *m = userdata;
        return manager_line_by_port(m, 1)->state == LINE_FAILED;
}

TEST(regd_registration_expires_while_refresh_unanswered) {
        Fixture f;
        Line *l;
        uint64_t t0, dt;

        fixture_init(&f, 1);
        f.t.profile.invite_total_timeout_us = 2 * USEC_PER_SEC;   /* the refresh stays outstanding */
        fixture_start(&f);
        l = manager_line_by_port(f.m, 1);

        ASSERT_OK(answer(f.m, &f.c->sent[0], outcome_response(200, 1)));
        t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_TRUE(gw_test_run_until(f.e, line1_failed, f.m, 3 * USEC_PER_SEC));
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        ASSERT_TRUE(dt >= 950 * USEC_PER_MSEC);
        ASSERT_TRUE(dt <= 2500 * USEC_PER_MSEC);
        ASSERT_STREQ(l->reason, "expired");
        ASSERT_EQ(f.c->n_sent, 2);                 /* the refresh, still in flight */
        ASSERT_EQ(l->req.kind, LINE_REQUEST_REGISTER);

        /* Its late success registers the line again. */
        ASSERT_OK(answer(f.m, &f.c->sent[1], outcome_response(200, 3600)));
        ASSERT_EQ(l->state, LINE_REGISTERED);
        fixture_done(&f);
}

TEST(regd_gateway_stopping_drops_the_queue) {
        Fixture f;
        size_t first;

        fixture_init(&f, 40);
        fixture_start(&f);
        ASSERT_EQ(f.c->n_sent, 16);
        ASSERT_EQ(f.m->n_queued, 24);

        /* 16 REGISTERs on their way (may create bindings): un-REGISTERed; 24 queued: dropped. */
        first = f.c->n_sent;
        ASSERT_OK(manager_gateway_stopping(f.m, 1000));
        ASSERT_EQ(f.c->n_sent, first + 16);
        for (size_t i = first; i < f.c->n_sent; i++) {
                ASSERT_EQ(f.c->sent[i].expires_s, 0);
                ASSERT_TRUE(f.c->sent[i].port <= 16);
                /* Above the abandoned REGISTER and a possible authenticated retry of it. */
                ASSERT_TRUE(f.c->sent[i].cseq >= f.c->sent[f.c->sent[i].port - 1].cseq + 2);
        }
        ASSERT_EQ(f.m->n_queued, 0);
        ASSERT_EQ(f.m->unreg_lines, 16);
        for (size_t i = first; i < f.c->n_sent; i++)
                ASSERT_OK(answer(f.m, &f.c->sent[i], outcome_response(200, 0)));
        ASSERT_EQ(f.c->n_done, 1);
        ASSERT_EQ(f.c->done_lines, 16);
        ASSERT_EQ(f.c->done_confirmed, 16);
        ASSERT_EQ(f.c->n_sent, first + 16);       /* and nothing after */
        fixture_done(&f);
}

TEST(regd_free_sends_nothing) {
        Fixture f;

        fixture_init(&f, 40);
        fixture_start(&f);
        ASSERT_EQ(f.c->n_sent, 16);
        f.m = manager_free(f.m);
        ASSERT_EQ(f.c->n_sent, 16);
        fixture_done(&f);
}

static bool sent_16(void *userdata) {
        return ((Capture *) userdata)->n_sent >= 16;
}

TEST(regd_hold_until_sigd_seen) {
        Fixture f;
        uint64_t t0, dt;

        fixture_init(&f, 20);
        ASSERT_OK(manager_new(f.e, &f.t.conf, NULL, &f.m));
        capture_attach(f.m, f.c);
        t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_OK(manager_hold_until_sigd(f.m, 300 * USEC_PER_MSEC, 5 * USEC_PER_SEC));
        ASSERT_OK(manager_start(f.m));

        /* Nothing goes out before sigd is seen. */
        ASSERT_EQ(f.c->n_sent, 0);
        ASSERT_EQ(f.m->n_queued, 20);
        for (int i = 0; i < 5; i++)
                ASSERT_OK(sd_event_run(f.e, 10 * USEC_PER_MSEC));
        ASSERT_EQ(f.c->n_sent, 0);

        /* Seen early: released once the settle time is over, 16 at once, FIFO. */
        manager_sigd_seen(f.m);
        ASSERT_EQ(f.c->n_sent, 0);
        ASSERT_TRUE(gw_test_run_until(f.e, sent_16, f.c, 3 * USEC_PER_SEC));
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        ASSERT_TRUE(dt >= 290 * USEC_PER_MSEC);
        ASSERT_TRUE(dt < 2500 * USEC_PER_MSEC);
        ASSERT_EQ(f.c->n_sent, 16);
        ASSERT_EQ(f.c->sent[0].port, 1);

        /* A later instance of sigd: what is in flight goes again right after its hello. */
        manager_sigd_seen(f.m);
        ASSERT_EQ(f.c->n_sent, 16);
        t0 = now_usec(CLOCK_MONOTONIC);
        {
                WaitSent w = { f.c, 32 };
                ASSERT_TRUE(gw_test_run_until(f.e, sent_reaches, &w, 3 * USEC_PER_SEC));
        }
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        ASSERT_TRUE(dt >= 200 * USEC_PER_MSEC && dt < 2000 * USEC_PER_MSEC);
        ASSERT_EQ(f.c->n_sent, 32);
        fixture_done(&f);

        /* Never seen: sent anyway after the maximum wait. */
        fixture_init(&f, 2);
        ASSERT_OK(manager_new(f.e, &f.t.conf, NULL, &f.m));
        capture_attach(f.m, f.c);
        ASSERT_OK(manager_hold_until_sigd(f.m, 100 * USEC_PER_MSEC, 300 * USEC_PER_MSEC));
        ASSERT_OK(manager_start(f.m));
        ASSERT_EQ(f.c->n_sent, 0);
        {
                WaitSent w = { f.c, 2 };
                ASSERT_TRUE(gw_test_run_until(f.e, sent_reaches, &w, 2 * USEC_PER_SEC));
        }
        /* The first sighting after that re-sends (those were likely lost). */
        manager_sigd_seen(f.m);
        {
                WaitSent w = { f.c, 4 };
                ASSERT_TRUE(gw_test_run_until(f.e, sent_reaches, &w, 2 * USEC_PER_SEC));
        }
        ASSERT_EQ(f.c->n_sent, 4);
        fixture_done(&f);
}

TEST(regd_256_lines) {
        Fixture f;
        size_t answered = 0;

        fixture_init(&f, 256);
        fixture_start(&f);
        /* Answer out of order (one of the newest three each time); never more than 16 out. */
        for (unsigned round = 0; round < 10000 && answered < f.c->n_sent; round++) {
                size_t i = f.c->n_sent - 1 - (answered % MIN((size_t) 3, f.c->n_sent - answered));
                const Sent *s = NULL;

                /* That one if still outstanding, else the next outstanding one. */
                for (size_t k = 0; k < f.c->n_sent && !s; k++) {
                        const Sent *x = &f.c->sent[(i + k) % f.c->n_sent];
                        Line *l = manager_line_by_port(f.m, x->port);
                        if (l->req.in_flight && l->req.correlation_id == x->cid)
                                s = x;
                }
                if (!s)
                        break;
                ASSERT_OK(answer(f.m, s, outcome_response(200, 3600)));
                answered++;
                ASSERT_TRUE(f.m->n_in_flight <= REGD_MAX_IN_FLIGHT);
        }
        ASSERT_EQ(f.c->n_sent, 256);
        ASSERT_EQ(f.c->max_in_flight_seen, REGD_MAX_IN_FLIGHT);
        for (unsigned p = 1; p <= 256; p++)
                ASSERT_EQ(manager_line_by_port(f.m, p)->state, LINE_REGISTERED);
        fixture_done(&f);
}
