/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-proxy.c: entry targets, health and counters; profile targets and status. */
#include <stdio.h>

#include "gw-tests.h"
#include "regd-profile.h"
#include "regd-proxy.h"
#include "test-regd-util.h"

DEFINE_TEST_MAIN

TEST(regd_proxy_target_format) {
        char buf[REGD_TARGET_MAX];
        GwHostPort v4 = { .text = (char *) "10.0.0.1", .host = (char *) "10.0.0.1", .is_ip = true };
        GwHostPort v4p = { .text = (char *) "10.0.0.1:5070", .host = (char *) "10.0.0.1", .port = 5070, .is_ip = true };
        GwHostPort v6 = { .text = (char *) "[::1]:5080", .host = (char *) "::1", .port = 5080, .is_ip = true };
        GwHostPort name = { .text = (char *) "sip.example.net", .host = (char *) "sip.example.net", .is_ip = false };
        /* A name wrongly flagged as IP still does not pass. */
        GwHostPort liar = { .text = (char *) "sip.example.net", .host = (char *) "sip.example.net", .is_ip = true };
        GwHostPort empty = { .text = (char *) "", .host = (char *) "" };

        ASSERT_OK(hostport_format_target(&v4, buf, sizeof(buf)));
        ASSERT_STREQ(buf, "10.0.0.1:5060");
        ASSERT_OK(hostport_format_target(&v4p, buf, sizeof(buf)));
        ASSERT_STREQ(buf, "10.0.0.1:5070");
        ASSERT_OK(hostport_format_target(&v6, buf, sizeof(buf)));
        ASSERT_STREQ(buf, "[::1]:5080");
        ASSERT_ERROR(hostport_format_target(&name, buf, sizeof(buf)), EADDRNOTAVAIL);
        ASSERT_ERROR(hostport_format_target(&liar, buf, sizeof(buf)), EADDRNOTAVAIL);
        ASSERT_ERROR(hostport_format_target(&empty, buf, sizeof(buf)), EINVAL);
        ASSERT_ERROR(hostport_format_target(&v4, buf, 8), ENOBUFS);
}

/* Classify o with the policy and record it, as the profile does. */
static bool record(Proxy *x, const Gw__SipRequestOutcome *o, const char *reason, uint64_t now_real_us) {
        GwOutcome po;

        gw_outcome_from_sip(o, &po);
        return proxy_record_outcome(x, &po, policy_classify(&po, REQUEST_NORMAL), reason, now_real_us);
}

TEST(regd_proxy_health_and_counters) {
        GwHostPort hp = { .text = (char *) "10.0.0.1", .host = (char *) "10.0.0.1", .is_ip = true };
        _cleanup_(proxy_freep) Proxy *x = NULL;
        Gw__SipRequestOutcome o;

        ASSERT_OK(proxy_new(NULL, 0, &hp, &x));
        ASSERT_EQ(x->role, PROXY_ROLE_MAIN);
        ASSERT_EQ(x->health, PROXY_HEALTH_UNKNOWN);

        proxy_note_sent(x, NULL, 1);
        o = outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT);
        ASSERT_TRUE(record(x, &o, "timeout", 111));
        ASSERT_EQ(x->health, PROXY_HEALTH_DOWN);
        ASSERT_STREQ(x->last_failure_reason, "timeout");
        ASSERT_EQ(x->last_failure_real_us, 111);

        o = outcome_response(503, -1);
        ASSERT_TRUE(record(x, &o, "503", 222));
        o = outcome_response(408, -1);
        ASSERT_TRUE(record(x, &o, "408", 333));
        o = outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT);
        ASSERT_TRUE(record(x, &o, "transport", 444));
        ASSERT_STREQ(x->last_failure_reason, "transport");

        o = outcome_response(200, 60);
        ASSERT_TRUE(record(x, &o, "", 555));
        ASSERT_EQ(x->health, PROXY_HEALTH_UP);
        /* The last failure stays visible after recovery. */
        ASSERT_STREQ(x->last_failure_reason, "transport");
        ASSERT_EQ(x->last_failure_real_us, 444);
        o = outcome_response(200, 60);
        ASSERT_FALSE(record(x, &o, "", 666));

        /* Nothing learned from a request sigd could not build. */
        o = outcome_kind(GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST);
        ASSERT_FALSE(record(x, &o, "bad-request", 777));
        ASSERT_EQ(x->health, PROXY_HEALTH_UP);

        ASSERT_EQ(x->counters.sent, 1);
        ASSERT_EQ(x->counters.timeouts, 1);
        ASSERT_EQ(x->counters.r503, 1);
        ASSERT_EQ(x->counters.r408, 1);
        ASSERT_EQ(x->counters.transport_errors, 1);
        ASSERT_EQ(x->counters.failovers, 0);
}

TEST(regd_profile_entries_and_status) {
        TestConf t;
        _cleanup_(profile_freep) Profile *p = NULL;
        ProfileStatusStorage storage;
        Gw__ProfileStatus ps;
        Gw__SipRequestOutcome o;
        GwOutcome po;
        char buf[REGD_TARGET_MAX];

        test_conf_init(&t, 0);
        t.profile.registrar = (GwHostPort) { .text = (char *) "127.0.0.2:5070", .host = (char *) "127.0.0.2",
                                             .port = 5070, .is_ip = true };
        t.profile.redundant[0] = (GwHostPort) { .text = (char *) "127.0.0.3", .host = (char *) "127.0.0.3", .is_ip = true };
        t.profile.redundant[1] = (GwHostPort) { .text = (char *) "backup.example.test:5080",
                                                .host = (char *) "backup.example.test", .port = 5080 };
        t.profile.n_redundant = 2;

        ASSERT_OK(profile_new(NULL, &t.profile, &p));
        ASSERT_EQ(p->n_proxies, 3);
        ASSERT_EQ(p->active, 0);
        ASSERT_EQ(p->proxies[0]->role, PROXY_ROLE_MAIN);
        ASSERT_EQ(p->proxies[1]->role, PROXY_ROLE_REDUNDANT);
        ASSERT_EQ(p->proxies[2]->role, PROXY_ROLE_REDUNDANT);

        /* Main active: REGISTER goes to the registrar. */
        ASSERT_OK(resolve_active_target(p, buf, sizeof(buf)));
        ASSERT_STREQ(buf, "127.0.0.2:5070");
        /* A redundant entry active: to the entry itself. */
        p->active = 1;
        ASSERT_OK(resolve_active_target(p, buf, sizeof(buf)));
        ASSERT_STREQ(buf, "127.0.0.3:5060");
        /* A DNS name is resolved by the manager's loop: no target before that. */
        p->active = 2;
        ASSERT_ERROR(resolve_active_target(p, buf, sizeof(buf)), EAGAIN);
        p->active = 0;

        /* A failure of the active entry is recorded; without a manager (no loop)
         * nothing is searched and the active entry does not move. */
        o = outcome_response(503, -1);
        gw_outcome_from_sip(&o, &po);
        ASSERT_EQ(profile_record_outcome(p, p->proxies[0], &po, REQUEST_NORMAL, NULL, 42), POLICY_LINE_OWN);
        ASSERT_EQ(p->active, 0);
        ASSERT_EQ(p->proxies[0]->health, PROXY_HEALTH_DOWN);
        ASSERT_TRUE(p->dirty);

        profile_status_fill(p, &storage, &ps);
        ASSERT_STREQ(ps.name, "p1");
        ASSERT_STREQ(ps.active_proxy, "127.0.0.1");
        ASSERT_STREQ(ps.active_target, "127.0.0.2:5070");
        ASSERT_EQ(ps.n_proxies, 3);
        ASSERT_STREQ(ps.proxies[0]->address, "127.0.0.1");
        ASSERT_EQ(ps.proxies[0]->role, GW__PROXY_ROLE__ROLE_MAIN);
        ASSERT_EQ(ps.proxies[0]->state, GW__PROXY_HEALTH__HEALTH_DOWN);
        ASSERT_STREQ(ps.proxies[0]->last_failure_reason, "503");
        ASSERT_EQ(ps.proxies[0]->last_failure_real_us, 42);
        ASSERT_EQ(ps.proxies[0]->counters->r503, 1);
        ASSERT_STREQ(ps.proxies[2]->address, "backup.example.test:5080");
        ASSERT_EQ(ps.proxies[2]->role, GW__PROXY_ROLE__ROLE_REDUNDANT);
        ASSERT_EQ(ps.proxies[2]->state, GW__PROXY_HEALTH__HEALTH_UNKNOWN);
        ASSERT_TRUE(ps.proxies[2]->last_failure_reason == NULL);

        /* It packs (what the bus will do with it). */
        {
                size_t len = gw__profile_status__get_packed_size(&ps);
                _cleanup_free_ uint8_t *b = malloc(len);
                Gw__ProfileStatus *back;

                ASSERT_NOT_NULL(b);
                gw__profile_status__pack(&ps, b);
                back = gw__profile_status__unpack(NULL, len, b);
                ASSERT_NOT_NULL(back);
                ASSERT_EQ(back->n_proxies, 3);
                ASSERT_STREQ(back->proxies[1]->address, "127.0.0.3");
                gw__profile_status__free_unpacked(back, NULL);
        }
}

/* A new DNS answer: the target in use keeps being used while it answers, even
 * when the answer no longer lists it or lists it elsewhere. */
TEST(regd_proxy_targets_sticky) {
        const char *first[] = { "192.0.2.1:5060", "192.0.2.2:5060" };
        const char *moved[] = { "192.0.2.3:5060", "192.0.2.2:5060" };
        const char *gone[] = { "192.0.2.4:5060" };
        GwHostPort hp = test_hostport((char *) "sip.example.test");
        Proxy *x = NULL;

        hp.is_ip = false;
        ASSERT_OK(proxy_new(NULL, 1, &hp, &x));
        ASSERT_TRUE(proxy_is_name(x));
        ASSERT_TRUE(proxy_current_target(x) == NULL);

        ASSERT_OK(proxy_set_targets(x, first, 2, true));
        ASSERT_STREQ(proxy_current_target(x), "192.0.2.1:5060");
        x->cur_target = 1;                                  /* the search moved on */
        proxy_note_sent(x, "192.0.2.2:5060", 77);
        ASSERT_EQ(x->targets[1].last_attempt_mono_us, 77);

        /* Still listed, at another place: still in use, pacing history kept. */
        ASSERT_OK(proxy_set_targets(x, moved, 2, true));
        ASSERT_STREQ(proxy_current_target(x), "192.0.2.2:5060");
        ASSERT_EQ(x->targets[x->cur_target].last_attempt_mono_us, 77);

        /* No longer listed: kept first while it answers (active entry) ... */
        ASSERT_OK(proxy_set_targets(x, gone, 1, true));
        ASSERT_EQ(x->n_targets, 2);
        ASSERT_STREQ(proxy_current_target(x), "192.0.2.2:5060");
        ASSERT_STREQ(x->targets[1].addr, "192.0.2.4:5060");
        /* ... but not for an entry that is not in use. */
        ASSERT_OK(proxy_set_targets(x, gone, 1, false));
        ASSERT_EQ(x->n_targets, 1);
        ASSERT_STREQ(proxy_current_target(x), "192.0.2.4:5060");
        proxy_free(x);
}
