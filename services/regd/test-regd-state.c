/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-state.c: the registration state file: round trip, and refusal of stale,
 * mismatched and corrupted entries. */
#include <stdio.h>
#include <time.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "regd-manager.h"
#include "test-regd-util.h"

DEFINE_TEST_MAIN

static sd_event *new_event(void) {
        sd_event *e = NULL;

        ASSERT_OK(sd_event_new(&e));
        return e;
}

/* Register line 1 (200, 3600 s) and fail line 2 (403); line 3 stays registering. */
static void drive_first_instance(Manager *m, Capture *c) {
        ASSERT_OK(manager_start(m));
        ASSERT_EQ(c->n_sent, 3);
        ASSERT_OK(answer(m, capture_last_for(c, 1), outcome_response(200, 3600)));
        ASSERT_OK(answer(m, capture_last_for(c, 2), outcome_response(403, -1)));
        ASSERT_EQ(manager_line_by_port(m, 1)->state, LINE_REGISTERED);
        ASSERT_EQ(manager_line_by_port(m, 2)->state, LINE_FAILED);
        ASSERT_EQ(manager_line_by_port(m, 3)->state, LINE_REGISTERING);
}

TEST(regd_state_round_trip) {
        _cleanup_(sd_event_unrefp) sd_event *e = new_event();
        _cleanup_free_ char *dir = test_tmpdir();
        _cleanup_free_ uint8_t *data = NULL;
        TestConf t;
        Capture *c1 = calloc(1, sizeof(Capture)), *c2 = calloc(1, sizeof(Capture));
        Manager *m1 = NULL, *m2 = NULL;
        Line *a, *b;
        size_t len = 0;
        uint64_t now;

        ASSERT_NOT_NULL(c1);
        ASSERT_NOT_NULL(c2);
        test_conf_init(&t, 3);

        ASSERT_OK(manager_new(e, &t.conf, dir, &m1));
        capture_attach(m1, c1);
        drive_first_instance(m1, c1);
        manager_flush(m1);
        ASSERT_TRUE(m1->n_state_writes > 0);

        now = now_usec(CLOCK_REALTIME);
        ASSERT_OK(regd_state_serialize(m1, now, &data, &len));
        ASSERT_TRUE(len > 0);

        /* A second instance (regd restarted) reads the file written by the first. */
        ASSERT_OK(manager_new(e, &t.conf, dir, &m2));
        capture_attach(m2, c2);
        ASSERT_OK(manager_start(m2));

        /* Line 1: still registered, same identity, no REGISTER, refresh scheduled. */
        a = manager_line_by_port(m1, 1);
        b = manager_line_by_port(m2, 1);
        ASSERT_EQ(b->state, LINE_REGISTERED);
        ASSERT_STREQ(b->call_id, a->call_id);
        ASSERT_STREQ(b->from_tag, a->from_tag);
        ASSERT_TRUE(b->cseq > a->cseq);
        ASSERT_STREQ(b->target, "127.0.0.1:5060");
        ASSERT_EQ(b->expires_at_real_us, a->expires_at_real_us);
        ASSERT_EQ(capture_count_for(c2, 1), 0);
        ASSERT_NOT_NULL(b->timer);
        {
                uint64_t when = 0, mono = now_usec(CLOCK_MONOTONIC);
                ASSERT_OK(sd_event_source_get_time(b->timer, &when));
                /* Refresh at 45–55 % of the ~3600 s remaining. */
                ASSERT_TRUE(when >= mono + 1600 * USEC_PER_SEC);
                ASSERT_TRUE(when <= mono + 1981 * USEC_PER_SEC);
        }

        /* Lines 2 and 3: register, keeping Call-ID and continuing CSeq. */
        for (unsigned port = 2; port <= 3; port++) {
                const Sent *s = capture_last_for(c2, port);

                a = manager_line_by_port(m1, port);
                ASSERT_NOT_NULL(s);
                ASSERT_STREQ(s->call_id, a->call_id);
                ASSERT_TRUE(s->cseq > a->cseq);
                ASSERT_EQ(manager_line_by_port(m2, port)->state, LINE_REGISTERING);
        }
        ASSERT_EQ(c2->n_sent, 2);

        /* The active entry is restored (the same one here: nothing moves it yet). */
        ASSERT_EQ(m2->profiles[0]->active, 0);

        manager_free(m2);
        manager_free(m1);
        free(c1);
        free(c2);
        gw_test_rm_rf(dir);
}

static Gw__RegdLineState entry_for(Line *l, uint64_t expires_at) {
        Gw__RegdLineState e = GW__REGD_LINE_STATE__INIT;

        e.port = l->port;
        e.number = l->number;
        e.profile = l->profile->name;
        e.target = (char *) "127.0.0.1:5060";
        e.call_id = (char *) "0123456789abcdef@saved";
        e.from_tag = (char *) "feedbeef";
        e.has_cseq = true;
        e.cseq = 41;
        e.has_state = true;
        e.state = GW__REG_STATE__REG_REGISTERED;
        e.has_expires_at_real_us = true;
        e.expires_at_real_us = expires_at;
        return e;
}

TEST(regd_state_rejects_stale_and_mismatched) {
        _cleanup_(sd_event_unrefp) sd_event *e = new_event();
        _cleanup_(manager_freep) Manager *m = NULL;
        TestConf t;
        Gw__RegdLineState s;
        uint64_t now = now_usec(CLOCK_REALTIME);
        Line *l;

        test_conf_init(&t, 8);
        ASSERT_OK(manager_new(e, &t.conf, NULL, &m));

        /* Valid: an hour to go. */
        l = manager_line_by_port(m, 1);
        s = entry_for(l, now + 3600 * USEC_PER_SEC);
        ASSERT_EQ(regd_state_apply_line(l, &s, now), 1);
        ASSERT_EQ(l->state, LINE_REGISTERED);
        ASSERT_STREQ(l->call_id, "0123456789abcdef@saved");
        ASSERT_EQ(l->cseq, 42);

        /* Stale: expired, or too close to expiry to refresh in time. */
        l = manager_line_by_port(m, 2);
        s = entry_for(l, now - USEC_PER_SEC);
        ASSERT_ERROR(regd_state_apply_line(l, &s, now), ESTALE);
        ASSERT_EQ(l->state, LINE_UNREGISTERED);
        l = manager_line_by_port(m, 3);
        s = entry_for(l, now + REGD_STATE_MARGIN_USEC);
        ASSERT_ERROR(regd_state_apply_line(l, &s, now), ESTALE);
        ASSERT_EQ(l->state, LINE_UNREGISTERED);
        /* Absurdly far: not believed. */
        l = manager_line_by_port(m, 4);
        s = entry_for(l, now + 30ULL * 24 * 3600 * USEC_PER_SEC);
        ASSERT_ERROR(regd_state_apply_line(l, &s, now), ESTALE);

        /* Mismatched: other number, profile, target, port. */
        l = manager_line_by_port(m, 5);
        s = entry_for(l, now + 3600 * USEC_PER_SEC);
        s.number = (char *) "9999";
        ASSERT_ERROR(regd_state_apply_line(l, &s, now), EXDEV);
        s = entry_for(l, now + 3600 * USEC_PER_SEC);
        s.profile = (char *) "other";
        ASSERT_ERROR(regd_state_apply_line(l, &s, now), EXDEV);
        s = entry_for(l, now + 3600 * USEC_PER_SEC);
        s.target = (char *) "127.0.0.9:5060";
        ASSERT_ERROR(regd_state_apply_line(l, &s, now), EXDEV);
        s = entry_for(l, now + 3600 * USEC_PER_SEC);
        s.port = 6;
        ASSERT_ERROR(regd_state_apply_line(l, &s, now), EXDEV);
        s = entry_for(l, now + 3600 * USEC_PER_SEC);
        s.call_id = NULL;
        ASSERT_ERROR(regd_state_apply_line(l, &s, now), EXDEV);
        ASSERT_EQ(l->state, LINE_UNREGISTERED);
        ASSERT_TRUE(!streq(l->call_id, "0123456789abcdef@saved"));

        /* Matching but not registered: identity adopted, registers. */
        l = manager_line_by_port(m, 7);
        s = entry_for(l, 0);
        s.state = GW__REG_STATE__REG_FAILED;
        s.has_expires_at_real_us = false;
        ASSERT_EQ(regd_state_apply_line(l, &s, now), 0);
        ASSERT_EQ(l->state, LINE_UNREGISTERED);
        ASSERT_STREQ(l->call_id, "0123456789abcdef@saved");
        ASSERT_EQ(l->cseq, 42);
}

TEST(regd_state_rejects_corrupted) {
        _cleanup_(sd_event_unrefp) sd_event *e = new_event();
        _cleanup_free_ char *dir = test_tmpdir();
        _cleanup_free_ uint8_t *good = NULL;
        Manager *m = NULL;
        Capture *c = calloc(1, sizeof(Capture));
        static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };
        TestConf t;
        size_t len = 0;

        ASSERT_NOT_NULL(c);
        test_conf_init(&t, 4);
        ASSERT_OK(manager_new(e, &t.conf, dir, &m));

        ASSERT_ERROR(regd_state_apply(m, garbage, sizeof(garbage), now_usec(CLOCK_REALTIME)), EBADMSG);

        /* Truncated valid data does not unpack either. */
        manager_line_by_port(m, 1)->state = LINE_REGISTERED;
        manager_line_by_port(m, 1)->expires_at_real_us = now_usec(CLOCK_REALTIME) + 3600 * USEC_PER_SEC;
        snprintf(manager_line_by_port(m, 1)->target, REGD_TARGET_MAX, "127.0.0.1:5060");
        ASSERT_OK(regd_state_serialize(m, now_usec(CLOCK_REALTIME), &good, &len));
        ASSERT_TRUE(len > 10);
        ASSERT_ERROR(regd_state_apply(m, good, len - 3, now_usec(CLOCK_REALTIME)), EBADMSG);
        manager_line_by_port(m, 1)->state = LINE_UNREGISTERED;
        manager_line_by_port(m, 1)->expires_at_real_us = 0;
        manager_free(m);

        /* A corrupted file on disk: a warning, and every line registers. */
        ASSERT_OK(gw_state_write(dir, REGD_STATE_FILE, garbage, sizeof(garbage)));
        ASSERT_OK(manager_new(e, &t.conf, dir, &m));
        capture_attach(m, c);
        ASSERT_EQ(regd_state_load(m), 0);
        ASSERT_OK(manager_start(m));
        ASSERT_EQ(c->n_sent, 4);

        /* An unknown version is refused. */
        {
                Gw__RegdState st = GW__REGD_STATE__INIT;
                uint8_t buf[16];
                size_t n;

                st.has_version = true;
                st.version = 99;
                n = gw__regd_state__pack(&st, buf);
                ASSERT_ERROR(regd_state_apply(m, buf, n, now_usec(CLOCK_REALTIME)), EPROTO);
        }

        manager_free(m);
        free(c);
        gw_test_rm_rf(dir);
}

TEST(regd_state_restores_active_entry) {
        _cleanup_(sd_event_unrefp) sd_event *e = new_event();
        _cleanup_(manager_freep) Manager *m = NULL;
        Gw__RegdState st = GW__REGD_STATE__INIT;
        Gw__RegdProfileState ps = GW__REGD_PROFILE_STATE__INIT, *pp = &ps;
        Gw__RegdProfileState unknown = GW__REGD_PROFILE_STATE__INIT, *pu = &unknown;
        Gw__RegdProfileState *list[2] = { pp, pu };
        uint8_t buf[256];
        size_t n;
        TestConf t;

        test_conf_init(&t, 1);
        t.profile.redundant[0] = (GwHostPort) { .text = (char *) "127.0.0.3", .host = (char *) "127.0.0.3", .is_ip = true };
        t.profile.n_redundant = 1;
        ASSERT_OK(manager_new(e, &t.conf, NULL, &m));

        st.has_version = true;
        st.version = 1;
        ps.name = (char *) "p1";
        ps.active_proxy = (char *) "127.0.0.3";
        unknown.name = (char *) "gone";
        unknown.active_proxy = (char *) "127.0.0.9";
        st.n_profiles = 2;
        st.profiles = list;
        n = gw__regd_state__get_packed_size(&st);
        ASSERT_TRUE(n < sizeof(buf));
        gw__regd_state__pack(&st, buf);
        ASSERT_EQ(regd_state_apply(m, buf, n, now_usec(CLOCK_REALTIME)), 0);
        ASSERT_EQ(m->profiles[0]->active, 1);

        /* An entry no longer configured leaves the main one active. */
        m->profiles[0]->active = 0;
        ps.active_proxy = (char *) "127.0.0.7";
        n = gw__regd_state__pack(&st, buf);
        ASSERT_EQ(regd_state_apply(m, buf, n, now_usec(CLOCK_REALTIME)), 0);
        ASSERT_EQ(m->profiles[0]->active, 0);
}
