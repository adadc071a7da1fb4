/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-failover.c: proxy redundancy: the failover search, its pacing, health checks,
 * parking, homing, Retry-After and the active entry across a restart, driven by synthetic
 * outcomes with the bus replaced by a capture. */
#include <stdio.h>
#include <time.h>

#include "gw-bus.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "regd-manager.h"
#include "test-regd-util.h"

DEFINE_TEST_MAIN

#define MAIN "127.0.0.1:5060"
#define R1   "127.0.0.3:5060"
#define R2   "127.0.0.4:5060"

/* What a synthetic peer does with one request. */
typedef enum Behaviour {
        PEER_OK,                         /* 200 */
        PEER_SILENT,                     /* sigd reports a timeout, no provisional */
        PEER_503,
        PEER_408,
        PEER_ICMP,                       /* transport error */
        PEER_PENDING,                    /* not answered (yet) */
} Behaviour;

typedef struct Fixture {
        sd_event *e;
        TestConf t;
        Manager *m;
        Capture *c;
        char *state_dir;
        size_t answered;                 /* sent[] below this are all answered */
        bool done[TEST_MAX_SENT];        /* sent[i] answered */
        Behaviour by_entry[3];           /* main, r1, r2 */
        int32_t retry_after_s[3];        /* with PEER_503 */
        size_t switch_at_sent;           /* n_sent when the last switch was seen */
} Fixture;

static void fixture_init(Fixture *f, size_t n_lines) {
        memset(f, 0, sizeof(*f));
        ASSERT_OK(sd_event_new(&f->e));
        test_conf_init(&f->t, n_lines);
        f->t.profile.redundant[0] = test_hostport((char *) "127.0.0.3");
        f->t.profile.redundant[1] = test_hostport((char *) "127.0.0.4");
        f->t.profile.n_redundant = 2;
        f->t.profile.keepalive_period_us = 200 * USEC_PER_MSEC;
        f->c = calloc(1, sizeof(Capture));
        ASSERT_NOT_NULL(f->c);
}

/* spacing 0: the product's default (1 s). */
static void fixture_start(Fixture *f, uint64_t spacing_usec) {
        ASSERT_OK(manager_new(f->e, &f->t.conf, f->state_dir, &f->m));
        capture_attach(f->m, f->c);
        f->m->lost_grace_usec = 100 * USEC_PER_MSEC;
        if (spacing_usec)
                f->m->search_spacing_usec = spacing_usec;
        ASSERT_OK(manager_start(f->m));
}

static void fixture_done(Fixture *f) {
        f->m = manager_free(f->m);
        free(f->c);
        f->e = sd_event_unref(f->e);
}

static int entry_of(const char *target) {
        if (streq(target, MAIN))
                return 0;
        if (streq(target, R1))
                return 1;
        if (streq(target, R2))
                return 2;
        return -1;
}

static Gw__SipRequestOutcome outcome_for(Fixture *f, int entry) {
        Gw__SipRequestOutcome o;

        switch (f->by_entry[entry]) {
        case PEER_SILENT:
                return outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT);
        case PEER_ICMP:
                return outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT);
        case PEER_408:
                return outcome_response(408, -1);
        case PEER_503:
                o = outcome_response(503, -1);
                if (f->retry_after_s[entry] > 0) {
                        o.has_retry_after_s = true;
                        o.retry_after_s = f->retry_after_s[entry];
                }
                return o;
        default:
                return outcome_response(200, 3600);
        }
}

/* Answer everything sent so far as the peers behave (bounded: each pass
 * answers what was sent before it). */
static void answer_pending(Fixture *f) {
        for (unsigned pass = 0; pass < 64 && f->answered < f->c->n_sent; pass++) {
                size_t end = f->c->n_sent;

                for (size_t i = f->answered; i < end; i++) {
                        const Sent *s = &f->c->sent[i];
                        int entry = entry_of(s->target);

                        ASSERT_TRUE(entry >= 0);
                        if (f->done[i] || f->by_entry[entry] == PEER_PENDING)
                                continue;
                        f->done[i] = true;
                        ASSERT_OK(answer(f->m, s, outcome_for(f, entry)));
                }
                while (f->answered < f->c->n_sent && f->done[f->answered])
                        f->answered++;
                if (end == f->c->n_sent)
                        break;
        }
}

/* Run the loop for usec, answering as the peers behave, until pred (if any). */
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

static size_t count_to(const Fixture *f, size_t from, const char *method, const char *target) {
        size_t n = 0;

        for (size_t i = from; i < f->c->n_sent; i++)
                n += streq(f->c->sent[i].method, method) && streq(f->c->sent[i].target, target);
        return n;
}

static bool all_registered_via(Fixture *f, size_t entry) {
        for (size_t i = 0; i < f->m->n_lines; i++) {
                Line *l = f->m->lines[i];

                if (l->state != LINE_REGISTERED || l->via_index != entry)
                        return false;
        }
        return true;
}

static bool on_r1(Fixture *f) {
        return f->m->profiles[0]->active == 1 && all_registered_via(f, 1);
}

static bool on_r2(Fixture *f) {
        return f->m->profiles[0]->active == 2 && all_registered_via(f, 2);
}

static bool on_main(Fixture *f) {
        return f->m->profiles[0]->active == 0 && all_registered_via(f, 0);
}

/* ---------------------------------------------------------------- tests */

static void check_failover_order(Behaviour how, const char *reason) {
        Fixture f;
        Profile *p;
        const Sent *s0, *s1, *s2;

        fixture_init(&f, 1);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        p = f.m->profiles[0];
        f.by_entry[0] = how;
        f.by_entry[1] = how;
        f.by_entry[2] = PEER_OK;

        ASSERT_TRUE(drive(&f, on_r2, 2 * USEC_PER_SEC));
        /* In order: main, then redundant 1, then redundant 2; one transaction each. */
        ASSERT_EQ(f.c->n_sent, 3);
        s0 = &f.c->sent[0];
        s1 = &f.c->sent[1];
        s2 = &f.c->sent[2];
        ASSERT_STREQ(s0->target, MAIN);
        ASSERT_STREQ(s1->target, R1);
        ASSERT_STREQ(s2->target, R2);
        /* The same request sent again (RFC 3263 §4.3): same Call-ID, From tag
         * and CSeq, new transaction; Request-URI, To and From unchanged. */
        for (size_t i = 1; i < 3; i++) {
                const Sent *s = &f.c->sent[i];

                ASSERT_STREQ(s->method, "REGISTER");
                ASSERT_STREQ(s->call_id, s0->call_id);
                ASSERT_STREQ(s->from_tag, s0->from_tag);
                ASSERT_EQ(s->cseq, s0->cseq);
                ASSERT_STREQ(s->request_uri, "sip:example.test");
                ASSERT_STREQ(s->from_uri, s0->from_uri);
                ASSERT_STREQ(s->to_uri, s0->to_uri);
                ASSERT_TRUE(s->cid != f.c->sent[i - 1].cid);
        }
        /* Switched once, with the reason of the first failure, counted. */
        ASSERT_EQ(f.c->n_switches, 1);
        ASSERT_EQ(f.c->switch_from, 0);
        ASSERT_EQ(f.c->switch_to, 2);
        ASSERT_STREQ(f.c->switch_reason, reason);
        ASSERT_EQ(p->proxies[0]->counters.failovers, 1);
        ASSERT_EQ(p->proxies[0]->health, PROXY_HEALTH_DOWN);
        ASSERT_STREQ(p->proxies[0]->last_failure_reason, reason);
        ASSERT_EQ(p->proxies[1]->health, PROXY_HEALTH_DOWN);
        ASSERT_EQ(p->proxies[2]->health, PROXY_HEALTH_UP);
        ASSERT_FALSE(p->search.on);
        ASSERT_STREQ(manager_line_by_port(f.m, 1)->target, R2);

        fixture_done(&f);
}

TEST(regd_failover_order_timeout) {
        check_failover_order(PEER_SILENT, "timeout");
}

TEST(regd_failover_order_503) {
        check_failover_order(PEER_503, "503");
}

TEST(regd_failover_order_408) {
        check_failover_order(PEER_408, "408");
}

TEST(regd_failover_order_transport) {
        check_failover_order(PEER_ICMP, "transport");
}

/* 401 (auth), 403, 404 mean the entry answered: no failover, the line's own policy. */
TEST(regd_failover_not_on_answers) {
        static const unsigned codes[] = { 401, 403, 404 };

        for (size_t k = 0; k < ELEMENTSOF(codes); k++) {
                Fixture f;
                Line *l;

                fixture_init(&f, 1);
                fixture_start(&f, 20 * USEC_PER_MSEC);
                ASSERT_OK(answer(f.m, &f.c->sent[0], outcome_response(codes[k], -1)));
                f.done[0] = true;
                f.by_entry[0] = PEER_PENDING;
                gw_test_run_for(f.e, 300 * USEC_PER_MSEC);
                l = manager_line_by_port(f.m, 1);
                ASSERT_EQ(l->state, LINE_FAILED);
                ASSERT_EQ(f.m->profiles[0]->active, 0);
                ASSERT_FALSE(f.m->profiles[0]->search.on);
                ASSERT_EQ(f.m->profiles[0]->proxies[0]->health, PROXY_HEALTH_UP);
                ASSERT_EQ(count_to(&f, 0, "REGISTER", R1), 0);
                ASSERT_EQ(f.c->n_switches, 0);
                fixture_done(&f);
        }
}

/* A REGISTER that times out after a provisional is the line's failure: retried at the same entry. */
TEST(regd_failover_timeout_after_provisional_is_the_lines) {
        Fixture f;
        Gw__SipRequestOutcome o = outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT);
        Line *l;

        fixture_init(&f, 1);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        o.has_got_provisional = true;
        o.got_provisional = true;
        ASSERT_OK(answer(f.m, &f.c->sent[0], o));
        f.done[0] = true;
        l = manager_line_by_port(f.m, 1);
        ASSERT_EQ(l->state, LINE_FAILED);
        ASSERT_STREQ(l->reason, "timeout");
        ASSERT_FALSE(f.m->profiles[0]->search.on);

        /* The retry (back-off 50-100 ms) goes to the main entry again. */
        f.by_entry[0] = PEER_PENDING;
        gw_test_run_for(f.e, 300 * USEC_PER_MSEC);
        ASSERT_EQ(f.c->n_sent, 2);
        ASSERT_STREQ(f.c->sent[1].target, MAIN);
        ASSERT_EQ(f.m->profiles[0]->active, 0);
        fixture_done(&f);
}

/* 40 lines, main silent: one search at a time, the lines wait for it, then all
 * renew at the entry found, never more than the window in flight. */
TEST(regd_failover_one_search_per_profile) {
        Fixture f;
        size_t n_main;

        fixture_init(&f, 40);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        ASSERT_EQ(f.c->n_sent, REGD_MAX_IN_FLIGHT);

        /* r1 holds its answers: every request it gets is counted. */
        f.by_entry[0] = PEER_SILENT;
        f.by_entry[1] = PEER_PENDING;
        drive(&f, NULL, 150 * USEC_PER_MSEC);    /* below timeout + loss grace: no re-send */

        n_main = count_to(&f, 0, "REGISTER", MAIN);
        ASSERT_EQ(n_main, REGD_MAX_IN_FLIGHT);           /* the queued lines never went to main */
        ASSERT_EQ(count_to(&f, 0, "REGISTER", R1), 1);    /* one search attempt */
        ASSERT_TRUE(f.m->profiles[0]->search.on);
        for (unsigned port = 2; port <= 40; port++)
                ASSERT_TRUE(profile_line_waits(f.m->profiles[0], manager_line_by_port(f.m, port)));

        /* r1 answers: it becomes active and every line renews there. */
        f.by_entry[1] = PEER_OK;
        ASSERT_TRUE(drive(&f, on_r1, 3 * USEC_PER_SEC));
        ASSERT_EQ(count_to(&f, 0, "REGISTER", R1), 40);   /* once per line */
        ASSERT_EQ(count_to(&f, 0, "REGISTER", MAIN), REGD_MAX_IN_FLIGHT);
        ASSERT_TRUE(f.c->max_in_flight_seen <= REGD_MAX_IN_FLIGHT);
        ASSERT_EQ(f.c->n_switches, 1);
        fixture_done(&f);
}

/* At least 1 s between two attempts to one entry. */
TEST(regd_failover_spacing) {
        Fixture f;
        const Sent *again;

        fixture_init(&f, 1);
        fixture_start(&f, 0);
        ASSERT_EQ(f.m->search_spacing_usec, USEC_PER_SEC);
        f.by_entry[0] = f.by_entry[1] = f.by_entry[2] = PEER_SILENT;
        drive(&f, NULL, 1500 * USEC_PER_MSEC);

        ASSERT_TRUE(f.c->n_sent >= 4);
        ASSERT_STREQ(f.c->sent[1].target, R1);
        ASSERT_STREQ(f.c->sent[2].target, R2);
        again = &f.c->sent[3];
        ASSERT_STREQ(again->target, MAIN);
        ASSERT_TRUE(again->mono_us - f.c->sent[0].mono_us >= USEC_PER_SEC);
        /* r1 and r2 were tried at once: they had not been tried before. */
        ASSERT_TRUE(f.c->sent[2].mono_us - f.c->sent[0].mono_us < 500 * USEC_PER_MSEC);
        ASSERT_TRUE(f.m->profiles[0]->search.cursor.cycles >= 1);
        fixture_done(&f);
}

/* After a whole cycle without an answer: base·2ⁿ × 50-100 % before the next one. */
TEST(regd_failover_cycle_backoff) {
        Fixture f;
        size_t first_r1 = 0, second_main = 0, second_r1 = 0, third_main = 0;

        fixture_init(&f, 1);
        f.t.profile.n_redundant = 1;                       /* main and r1 */
        f.t.profile.register_retry_base_us = 2 * USEC_PER_SEC;
        f.t.profile.register_retry_max_us = 8 * USEC_PER_SEC;
        fixture_start(&f, 20 * USEC_PER_MSEC);
        f.by_entry[0] = f.by_entry[1] = PEER_SILENT;
        drive(&f, NULL, 6500 * USEC_PER_MSEC);

        /* main, r1 | wait 1-2 s | main, r1 | wait 2-4 s | main ... */
        ASSERT_TRUE(f.c->n_sent >= 5);
        for (size_t i = 0; i < 5; i++)
                ASSERT_STREQ(f.c->sent[i].target, i % 2 ? R1 : MAIN);
        first_r1 = 1;
        second_main = 2;
        second_r1 = 3;
        third_main = 4;
        ASSERT_TRUE(f.c->sent[second_main].mono_us - f.c->sent[first_r1].mono_us >= USEC_PER_SEC);
        ASSERT_TRUE(f.c->sent[second_main].mono_us - f.c->sent[first_r1].mono_us <= 2200 * USEC_PER_MSEC);
        ASSERT_TRUE(f.c->sent[second_r1].mono_us - f.c->sent[second_main].mono_us < 500 * USEC_PER_MSEC);
        ASSERT_TRUE(f.c->sent[third_main].mono_us - f.c->sent[second_r1].mono_us >= 2 * USEC_PER_SEC);
        ASSERT_TRUE(f.c->sent[third_main].mono_us - f.c->sent[second_r1].mono_us <= 4200 * USEC_PER_MSEC);
        /* Each target sees a CSeq once: r1 gets the main's failed request as
         * it was, the main a new CSeq when the cycle comes back to it. */
        ASSERT_EQ(f.c->sent[first_r1].cseq, f.c->sent[0].cseq);
        ASSERT_TRUE(f.c->sent[second_main].cseq > f.c->sent[0].cseq);
        ASSERT_EQ(f.c->sent[second_r1].cseq, f.c->sent[second_main].cseq);
        ASSERT_TRUE(f.c->sent[third_main].cseq > f.c->sent[second_main].cseq);
        ASSERT_TRUE(f.m->profiles[0]->search.cursor.cycles >= 2);
        ASSERT_TRUE(f.m->profiles[0]->search.on);
        ASSERT_EQ(f.c->n_switches, 0);
        fixture_done(&f);
}

static bool line1_sent_options_to_r1_twice(Fixture *f) {
        return count_to(f, 0, "OPTIONS", R1) >= 2;
}

/* Parking: checks of the active entry only; the main entry coming back changes
 * nothing; a failed check moves the search on to the next entry. */
TEST(regd_failover_parking) {
        Fixture f;
        size_t mark;

        fixture_init(&f, 2);
        f.t.profile.redundancy_mode = REDUNDANCY_PARKING;
        f.t.profile.keepalive = KEEPALIVE_OPTIONS;
        fixture_start(&f, 20 * USEC_PER_MSEC);
        f.by_entry[0] = PEER_SILENT;
        ASSERT_TRUE(drive(&f, on_r1, 2 * USEC_PER_SEC));

        /* Main is back; we stay, and only r1 is checked (OPTIONS, no line). */
        f.by_entry[0] = PEER_OK;
        mark = f.c->n_sent;
        ASSERT_TRUE(drive(&f, line1_sent_options_to_r1_twice, 2 * USEC_PER_SEC));
        drive(&f, NULL, 300 * USEC_PER_MSEC);
        ASSERT_EQ(count_to(&f, mark, "OPTIONS", MAIN), 0);
        ASSERT_EQ(count_to(&f, mark, "REGISTER", MAIN), 0);
        ASSERT_EQ(f.m->profiles[0]->active, 1);
        for (size_t i = mark; i < f.c->n_sent; i++)
                if (streq(f.c->sent[i].method, "OPTIONS")) {
                        ASSERT_EQ(f.c->sent[i].port, 0);
                        ASSERT_STREQ(f.c->sent[i].request_uri, "sip:" R1);
                }

        /* r1 goes silent: the check finds it, the search goes on with r2. */
        f.by_entry[1] = PEER_SILENT;
        mark = f.c->n_sent;
        ASSERT_TRUE(drive(&f, on_r2, 2 * USEC_PER_SEC));
        ASSERT_EQ(count_to(&f, mark, "REGISTER", MAIN), 0);
        ASSERT_STREQ(f.c->switch_reason, "timeout");
        ASSERT_EQ(f.c->n_switches, 2);
        fixture_done(&f);
}

static void check_homing(KeepaliveMode how, unsigned confirm) {
        Fixture f;
        size_t mark, switch_mark = 0;
        Profile *p;

        fixture_init(&f, 3);
        f.t.profile.redundancy_mode = REDUNDANCY_HOMING;
        f.t.profile.keepalive = how;
        f.t.profile.homing_confirm = confirm;
        fixture_start(&f, 20 * USEC_PER_MSEC);
        p = f.m->profiles[0];
        f.by_entry[0] = PEER_503;
        ASSERT_TRUE(drive(&f, on_r1, 2 * USEC_PER_SEC));
        ASSERT_STREQ(f.c->switch_reason, "503");

        /* Main still down: the homing checks go to it and fail. */
        mark = f.c->n_sent;
        drive(&f, NULL, 700 * USEC_PER_MSEC);
        ASSERT_TRUE(count_to(&f, mark, how == KEEPALIVE_OPTIONS ? "OPTIONS" : "REGISTER", MAIN) >= 2);
        ASSERT_EQ(p->active, 1);
        ASSERT_EQ(p->homing_good, 0);

        /* Main back: after 'confirm' good checks, every line back on it. */
        f.by_entry[0] = PEER_OK;
        mark = f.c->n_sent;
        ASSERT_TRUE(drive(&f, on_main, (confirm + 3) * 300 * USEC_PER_MSEC));
        ASSERT_EQ(f.c->n_switches, 2);
        ASSERT_EQ(f.c->switch_from, 1);
        ASSERT_EQ(f.c->switch_to, 0);
        ASSERT_STREQ(f.c->switch_reason, "homing");
        if (how == KEEPALIVE_OPTIONS)
                /* 'confirm' good checks, the switch on the last one. */
                ASSERT_EQ(count_to(&f, mark, "OPTIONS", MAIN), confirm);
        /* Each of the other lines re-registered on main. */
        for (unsigned port = 1; port <= 3; port++)
                ASSERT_EQ(manager_line_by_port(f.m, port)->via_index, 0);

        /* No more REGISTER to r1. */
        switch_mark = f.c->n_sent;
        drive(&f, NULL, 600 * USEC_PER_MSEC);
        ASSERT_EQ(count_to(&f, switch_mark, "REGISTER", R1), 0);
        ASSERT_EQ(count_to(&f, switch_mark, "OPTIONS", R1), 0);
        ASSERT_EQ(p->active, 0);
        fixture_done(&f);
}

TEST(regd_failover_homing_options) {
        check_homing(KEEPALIVE_OPTIONS, 1);
}

TEST(regd_failover_homing_options_confirm_3) {
        check_homing(KEEPALIVE_OPTIONS, 3);
}

TEST(regd_failover_homing_register) {
        check_homing(KEEPALIVE_REGISTER, 1);
}

/* A 503 with Retry-After keeps its entry out of the search and unchecked for that long. */
TEST(regd_failover_retry_after_skip) {
        Fixture f;
        uint64_t t503 = 0;

        fixture_init(&f, 1);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        f.by_entry[0] = PEER_503;
        f.retry_after_s[0] = 2;
        f.by_entry[1] = f.by_entry[2] = PEER_SILENT;
        t503 = f.c->sent[0].mono_us;
        drive(&f, NULL, 1500 * USEC_PER_MSEC);

        /* main, r1, r2, then r1 and r2 again (main skipped), never main. */
        ASSERT_TRUE(f.c->n_sent >= 5);
        ASSERT_EQ(count_to(&f, 0, "REGISTER", MAIN), 1);
        ASSERT_TRUE(count_to(&f, 0, "REGISTER", R1) >= 2);

        /* After the Retry-After, main is tried again and answers. */
        f.by_entry[0] = PEER_OK;
        ASSERT_TRUE(drive(&f, on_main, 3 * USEC_PER_SEC));
        for (size_t i = 1; i < f.c->n_sent; i++)
                if (streq(f.c->sent[i].target, MAIN)) {
                        ASSERT_TRUE(f.c->sent[i].mono_us - t503 >= 2 * USEC_PER_SEC);
                        break;
                }
        ASSERT_EQ(f.c->n_switches, 0);            /* found the entry it left: no switch */
        fixture_done(&f);
}

/* Homing checks of a main entry that said Retry-After wait for it. */
TEST(regd_failover_retry_after_no_check) {
        Fixture f;
        uint64_t t503;

        fixture_init(&f, 1);
        f.t.profile.keepalive = KEEPALIVE_OPTIONS;
        fixture_start(&f, 20 * USEC_PER_MSEC);
        f.by_entry[0] = PEER_503;
        f.retry_after_s[0] = 1;
        t503 = f.c->sent[0].mono_us;
        ASSERT_TRUE(drive(&f, on_r1, 2 * USEC_PER_SEC));
        f.by_entry[0] = PEER_OK;
        ASSERT_TRUE(drive(&f, on_main, 3 * USEC_PER_SEC));
        for (size_t i = 1; i < f.c->n_sent; i++)
                if (streq(f.c->sent[i].target, MAIN))
                        ASSERT_TRUE(f.c->sent[i].mono_us - t503 >= USEC_PER_SEC);
        fixture_done(&f);
}

/* The active entry (and the registrations at it) survive a regd restart. */
TEST(regd_failover_active_restored) {
        Fixture f;
        size_t before;

        fixture_init(&f, 3);
        f.state_dir = test_tmpdir();
        fixture_start(&f, 20 * USEC_PER_MSEC);
        f.by_entry[0] = PEER_SILENT;
        ASSERT_TRUE(drive(&f, on_r1, 2 * USEC_PER_SEC));
        manager_flush(f.m);
        f.m = manager_free(f.m);

        /* A new instance: r1 active, nothing sent, every line still registered via r1. */
        before = f.c->n_sent;
        f.answered = 0;
        memset(f.done, 0, sizeof(f.done));
        ASSERT_OK(manager_new(f.e, &f.t.conf, f.state_dir, &f.m));
        capture_attach(f.m, f.c);
        ASSERT_OK(manager_start(f.m));
        (void) before;
        ASSERT_EQ(f.m->profiles[0]->active, 1);
        ASSERT_EQ(f.c->n_sent, 0);
        ASSERT_TRUE(all_registered_via(&f, 1));
        {
                ProfileStatusStorage st;
                Gw__ProfileStatus ps;

                profile_status_fill(f.m->profiles[0], &st, &ps);
                ASSERT_STREQ(ps.active_proxy, "127.0.0.3");
                ASSERT_STREQ(ps.active_target, R1);
        }
        fixture_done(&f);
        gw_test_rm_rf(f.state_dir);
        free(f.state_dir);
}

/* ---------------------------------------------------------------- reports from calls */

/* Entries as configured in the fixture (no port) and their targets. */
#define MAIN_ENTRY "127.0.0.1"
#define R2_ENTRY   "127.0.0.4"

#define RESPONSE  GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE
#define TIMEOUT   GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT
#define TRANSPORT GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT

/* What sigd reports of an INVITE attempt: kind, and the status code (0: none). */
static Gw__EntryReport entry_report(const char *proxy, Gw__SipOutcomeKind kind, unsigned code) {
        Gw__EntryReport r = GW__ENTRY_REPORT__INIT;

        r.profile = UNCONST("p1");
        r.proxy = UNCONST(proxy);
        r.target = UNCONST(streq(proxy, MAIN_ENTRY) ? MAIN : R2);
        r.kind = kind;
        if (code) {
                r.has_status_code = true;
                r.status_code = code;
        }
        r.has_got_provisional = r.has_got_18x = true;
        return r;
}

TEST(regd_entry_report_failure_starts_search) {
        Fixture f;
        Gw__EntryReport r;
        Profile *p;

        fixture_init(&f, 2);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        p = f.m->profiles[0];
        ASSERT_TRUE(drive(&f, on_main, USEC_PER_SEC));

        /* An INVITE found the active main silent: the same search as a REGISTER's. */
        f.by_entry[0] = PEER_SILENT;
        r = entry_report(MAIN_ENTRY, TIMEOUT, 0);
        ASSERT_OK(manager_entry_report(f.m, &r));
        ASSERT_TRUE(p->search.on || p->active == 1);
        ASSERT_EQ(p->proxies[0]->health, PROXY_HEALTH_DOWN);
        ASSERT_STREQ(p->proxies[0]->last_failure_reason, "timeout");
        ASSERT_TRUE(drive(&f, on_r1, 2 * USEC_PER_SEC));
        ASSERT_STREQ(f.c->switch_reason, "timeout");
        fixture_done(&f);
}

TEST(regd_entry_report_answer_ends_search) {
        Fixture f;
        Gw__EntryReport r;
        Profile *p;

        fixture_init(&f, 2);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        p = f.m->profiles[0];
        ASSERT_TRUE(drive(&f, on_main, USEC_PER_SEC));

        /* Main fails and the search's attempt to r1 hangs: a call answered by r2 ends it. */
        f.by_entry[0] = PEER_SILENT;
        f.by_entry[1] = PEER_PENDING;
        r = entry_report(MAIN_ENTRY, RESPONSE, 503);
        ASSERT_OK(manager_entry_report(f.m, &r));
        ASSERT_TRUE(p->search.on);
        drive(&f, NULL, 100 * USEC_PER_MSEC);
        r = entry_report(R2_ENTRY, RESPONSE, 100);
        ASSERT_OK(manager_entry_report(f.m, &r));
        ASSERT_FALSE(p->search.on);
        ASSERT_EQ(p->active, 2);
        ASSERT_STREQ(f.c->switch_reason, "503");
        /* The search's REGISTER to r1 ends (sigd's timeout): that line too renews at r2. */
        f.by_entry[1] = PEER_SILENT;
        ASSERT_TRUE(drive(&f, on_r2, 2 * USEC_PER_SEC));
        fixture_done(&f);
}

static void check_invite_homing(RedundancyMode mode, bool expect_home) {
        Fixture f;
        Gw__EntryReport r;
        Profile *p;

        fixture_init(&f, 2);
        f.t.profile.redundancy_mode = mode;
        f.t.profile.keepalive = KEEPALIVE_INVITE;
        fixture_start(&f, 20 * USEC_PER_MSEC);
        p = f.m->profiles[0];
        f.by_entry[0] = PEER_503;
        ASSERT_TRUE(drive(&f, on_r1, 2 * USEC_PER_SEC));

        /* keepalive invite: nothing periodic to the main; a call reached it. */
        f.by_entry[0] = PEER_OK;
        r = entry_report(MAIN_ENTRY, RESPONSE, 100);
        ASSERT_OK(manager_entry_report(f.m, &r));
        if (expect_home) {
                ASSERT_EQ(p->active, 0);
                ASSERT_STREQ(f.c->switch_reason, "homing");
                ASSERT_TRUE(drive(&f, on_main, 2 * USEC_PER_SEC));
        } else {
                drive(&f, NULL, 300 * USEC_PER_MSEC);
                ASSERT_EQ(p->active, 1);
                ASSERT_TRUE(all_registered_via(&f, 1));
        }
        fixture_done(&f);
}

TEST(regd_entry_report_invite_homing) {
        check_invite_homing(REDUNDANCY_HOMING, true);
}

TEST(regd_entry_report_parking_stays) {
        check_invite_homing(REDUNDANCY_PARKING, false);
}

/* A 503 with Retry-After to a call's INVITE holds the entry like one to a
 * REGISTER: the search skips it and registrations stay away from it for
 * that long, though it would answer them. */
TEST(regd_entry_report_503_retry_after_holds) {
        Fixture f;
        Gw__EntryReport r;
        Profile *p;
        size_t before;
        uint64_t t503;

        fixture_init(&f, 1);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        p = f.m->profiles[0];
        ASSERT_TRUE(drive(&f, on_main, USEC_PER_SEC));

        f.by_entry[1] = f.by_entry[2] = PEER_SILENT;
        r = entry_report(MAIN_ENTRY, RESPONSE, 503);
        r.has_retry_after_s = true;
        r.retry_after_s = 2;
        before = f.c->n_sent;
        t503 = now_usec(CLOCK_MONOTONIC);
        ASSERT_OK(manager_entry_report(f.m, &r));
        ASSERT_TRUE(p->search.on);
        ASSERT_EQ(p->proxies[0]->health, PROXY_HEALTH_DOWN);
        ASSERT_STREQ(p->proxies[0]->last_failure_reason, "503");
        ASSERT_EQ(p->proxies[0]->counters.r503, 1);
        ASSERT_TRUE(p->proxies[0]->down_until_mono_us >= t503 + 2 * USEC_PER_SEC - 10 * USEC_PER_MSEC);
        drive(&f, NULL, 1500 * USEC_PER_MSEC);
        ASSERT_EQ(count_to(&f, before, "REGISTER", MAIN), 0);
        ASSERT_TRUE(count_to(&f, before, "REGISTER", R1) >= 2);

        /* After the Retry-After, main is tried again and answers. */
        ASSERT_TRUE(drive(&f, on_main, 3 * USEC_PER_SEC));
        for (size_t i = before; i < f.c->n_sent; i++)
                if (streq(f.c->sent[i].target, MAIN)) {
                        ASSERT_TRUE(f.c->sent[i].mono_us - t503 >= 2 * USEC_PER_SEC - 10 * USEC_PER_MSEC);
                        break;
                }
        fixture_done(&f);
}

/* The INVITE rule: a final response after a provisional is the call's
 * outcome. A 408 after 180 (ringing out) or a 486 changes nothing; a 503
 * after only a 100 Trying is the proxy's failure. */
TEST(regd_entry_report_invite_rule) {
        Fixture f;
        Gw__EntryReport r;
        Profile *p;

        fixture_init(&f, 1);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        p = f.m->profiles[0];
        ASSERT_TRUE(drive(&f, on_main, USEC_PER_SEC));

        r = entry_report(MAIN_ENTRY, RESPONSE, 100);
        ASSERT_OK(manager_entry_report(f.m, &r));
        r = entry_report(MAIN_ENTRY, RESPONSE, 408);
        r.got_provisional = r.got_18x = true;
        ASSERT_OK(manager_entry_report(f.m, &r));
        r = entry_report(MAIN_ENTRY, RESPONSE, 503);
        r.got_provisional = r.got_18x = true;
        r.has_retry_after_s = true;
        r.retry_after_s = 30;
        ASSERT_OK(manager_entry_report(f.m, &r));
        ASSERT_FALSE(p->search.on);
        ASSERT_EQ(p->proxies[0]->health, PROXY_HEALTH_UP);
        ASSERT_EQ(p->proxies[0]->counters.r408, 0);
        ASSERT_EQ(p->proxies[0]->counters.r503, 0);
        ASSERT_EQ(p->proxies[0]->down_until_mono_us, 0);

        r = entry_report(MAIN_ENTRY, RESPONSE, 503);
        r.got_provisional = true;                   /* 100 Trying only */
        ASSERT_OK(manager_entry_report(f.m, &r));
        ASSERT_TRUE(p->search.on);
        ASSERT_EQ(p->proxies[0]->counters.r503, 1);
        fixture_done(&f);
}

TEST(regd_entry_report_bad) {
        Fixture f;
        Gw__EntryReport r;
        Profile *p;

        fixture_init(&f, 1);
        fixture_start(&f, 20 * USEC_PER_MSEC);
        p = f.m->profiles[0];
        ASSERT_TRUE(drive(&f, on_main, USEC_PER_SEC));

        r = entry_report("192.0.2.99:5060", TIMEOUT, 0);
        ASSERT_EQ(manager_entry_report(f.m, &r), -ENOENT);
        r = entry_report(MAIN_ENTRY, RESPONSE, 0);          /* a response without its code */
        ASSERT_EQ(manager_entry_report(f.m, &r), -EINVAL);
        r = entry_report(MAIN_ENTRY, TIMEOUT, 0);
        r.profile = UNCONST("nope");
        ASSERT_EQ(manager_entry_report(f.m, &r), -ENOENT);
        r.profile = NULL;
        ASSERT_EQ(manager_entry_report(f.m, &r), -EBADMSG);
        ASSERT_FALSE(p->search.on);
        ASSERT_EQ(p->active, 0);
        ASSERT_EQ(p->proxies[0]->health, PROXY_HEALTH_UP);
        fixture_done(&f);
}
