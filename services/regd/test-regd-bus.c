/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-bus.c: regd's manager on a real bus, against a scripted sigd and gwsupd
 * endpoint in the same process (ipc endpoints in a temporary runtime directory). */
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "gw-bus.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "regd-bus.h"
#include "regd-manager.h"
#include "test-regd-util.h"

DEFINE_TEST_MAIN

typedef struct FakeSigd {
        GwBus *bus;
        bool silent;                     /* swallow requests (a sigd that died) */
        unsigned n_requests, n_unregisters;
        unsigned n_registered_seen[8];   /* LineRegistration(registered) per port */
        unsigned n_profile_status;
        unsigned n_line_messages;
        uint64_t last_cid[8];
} FakeSigd;

typedef struct FakeSup {
        GwBus *bus;
        unsigned n_done;
        unsigned lines, confirmed;
} FakeSup;

static int sigd_on_request(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        FakeSigd *s = userdata;
        const Gw__SipRequest *q = env->sip_request;
        Gw__Envelope out = GW__ENVELOPE__INIT;
        Gw__SipRequestOutcome o = GW__SIP_REQUEST_OUTCOME__INIT;
        char key[16];

        ASSERT_TRUE(env->has_correlation_id);
        ASSERT_STREQ(q->method, "REGISTER");
        ASSERT_TRUE(q->line_port < 8);
        s->n_requests++;
        s->last_cid[q->line_port] = env->correlation_id;
        if (q->expires_s == 0)
                s->n_unregisters++;
        if (s->silent)
                return 0;

        o.kind = GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE;
        o.has_status_code = true;
        o.status_code = 200;
        o.has_cseq = true;
        o.cseq = q->cseq;
        o.call_id = q->call_id;
        o.has_expires_s = true;
        o.expires_s = q->expires_s;
        o.has_line_port = true;
        o.line_port = q->line_port;
        o.target = q->target;
        out.has_correlation_id = true;
        out.correlation_id = env->correlation_id;
        out.body_case = GW__ENVELOPE__BODY_SIP_REQUEST_OUTCOME;
        out.sip_request_outcome = &o;
        snprintf(key, sizeof(key), "%u", q->line_port);
        ASSERT_OK(gw_bus_publish_auto(bus, key, &out));
        return 0;
}

static int sigd_on_line(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        FakeSigd *s = userdata;
        const Gw__LineRegistration *lr = env->line_registration;

        s->n_line_messages++;

        if (lr->port < 8 && lr->state == GW__REG_STATE__REG_REGISTERED) {
                ASSERT_STREQ(lr->registered_via, "127.0.0.1");
                ASSERT_STREQ(lr->target, "127.0.0.1:5060");
                ASSERT_STREQ(lr->profile, "p1");
                s->n_registered_seen[lr->port]++;
        }
        return 0;
}

static int sigd_on_profile(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        FakeSigd *s = userdata;

        ASSERT_STREQ(env->profile_status->name, "p1");
        s->n_profile_status++;
        return 0;
}

static const GwBusHandler sigd_table[] = {
        [GW__ENVELOPE__BODY_SIP_REQUEST] = { "SipRequest", sigd_on_request, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
        [GW__ENVELOPE__BODY_LINE_REGISTRATION] = { "LineRegistration", sigd_on_line, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
        [GW__ENVELOPE__BODY_PROFILE_STATUS] = { "ProfileStatus", sigd_on_profile, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
};

static int sup_on_done(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        FakeSup *s = userdata;

        s->n_done++;
        s->lines = env->unregister_done->lines;
        s->confirmed = env->unregister_done->confirmed;
        return 0;
}

static const GwBusHandler sup_table[] = {
        [GW__ENVELOPE__BODY_UNREGISTER_DONE] = { "UnregisterDone", sup_on_done, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
};

static void fake_sigd_start(sd_event *e, const GwConf *c, FakeSigd *s) {
        ASSERT_OK(gw_bus_new(e, c, GW__SERVICE__SERVICE_SIGD, &s->bus));
        gw_bus_set_handlers(s->bus, sigd_table, ELEMENTSOF(sigd_table), s);
        ASSERT_OK(gw_bus_subscribe(s->bus, "SipRequest/"));
        ASSERT_OK(gw_bus_subscribe(s->bus, "LineRegistration"));
        ASSERT_OK(gw_bus_subscribe(s->bus, "ProfileStatus"));
}

static void publish_stopping(GwBus *b, uint32_t deadline_ms) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__GatewayStopping gs = GW__GATEWAY_STOPPING__INIT;

        gs.deadline_ms = deadline_ms;
        env.body_case = GW__ENVELOPE__BODY_GATEWAY_STOPPING;
        env.gateway_stopping = &gs;
        ASSERT_OK(gw_bus_publish_auto(b, NULL, &env));
}

static void publish_heartbeat(GwBus *b, Gw__Service self) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ServiceState ss = GW__SERVICE_STATE__INIT;

        ss.service = self;
        ss.state = GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING;
        env.body_case = GW__ENVELOPE__BODY_SERVICE_STATE;
        env.service_state = &ss;
        ASSERT_OK(gw_bus_publish_auto(b, gw_service_to_string(self), &env));
}

typedef struct World {
        Manager *m;
        FakeSigd *sigd;
        FakeSup *sup;
        unsigned n;
} World;

static bool all_registered(void *userdata) {
        World *w = userdata;

        for (unsigned p = 1; p <= w->n; p++)
                if (manager_line_by_port(w->m, p)->state != LINE_REGISTERED || w->sigd->n_registered_seen[p] == 0)
                        return false;
        return true;
}

static bool unregister_done(void *userdata) {
        return ((World *) userdata)->sup->n_done > 0;
}

static bool requests_reach(void *userdata) {
        World *w = userdata;
        return w->sigd->n_requests >= w->n;
}

TEST(regd_on_the_bus) {
        _cleanup_free_ char *dir = test_tmpdir();
        _cleanup_free_ char *state_dir = NULL;
        sd_event *e = NULL;
        GwBus *regd_bus = NULL;
        TestConf t;
        FakeSigd sigd = {};
        FakeSup sup = {};
        Manager *m = NULL;
        World w = { .sigd = &sigd, .sup = &sup, .n = 3 };

        ASSERT_TRUE(asprintf(&state_dir, "%s/regd", dir) > 0);
        ASSERT_EQ(mkdir(state_dir, 0750), 0);

        test_conf_init(&t, 3);
        t.conf.runtime_dir = dir;
        ASSERT_OK(sd_event_new(&e));

        fake_sigd_start(e, &t.conf, &sigd);
        ASSERT_OK(gw_bus_new(e, &t.conf, GW__SERVICE__SERVICE_GWSUPD, &sup.bus));
        gw_bus_set_handlers(sup.bus, sup_table, ELEMENTSOF(sup_table), &sup);
        ASSERT_OK(gw_bus_subscribe(sup.bus, "UnregisterDone"));

        ASSERT_OK(gw_bus_new(e, &t.conf, GW__SERVICE__SERVICE_REGD, &regd_bus));
        ASSERT_OK(manager_new(e, &t.conf, state_dir, &m));
        m->lost_grace_usec = 100 * USEC_PER_MSEC;
        ASSERT_OK(regd_bus_attach(m, regd_bus, NULL));
        w.m = m;
        ASSERT_OK(manager_start(m));

        /* Nothing is sent before sigd is seen; it is seen by its heartbeat. */
        gw_test_run_for(e, 300 * USEC_PER_MSEC);
        ASSERT_EQ(sigd.n_requests, 0);
        {
                uint64_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC, next = 0;

                while (!all_registered(&w) && now_usec(CLOCK_MONOTONIC) < end) {
                        if (now_usec(CLOCK_MONOTONIC) >= next) {
                                publish_heartbeat(sigd.bus, GW__SERVICE__SERVICE_SIGD);
                                next = now_usec(CLOCK_MONOTONIC) + 100 * USEC_PER_MSEC;
                        }
                        ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
                }
        }
        ASSERT_TRUE(all_registered(&w));
        /* One REGISTER per line: none lost, none sent twice. */
        ASSERT_EQ(sigd.n_requests, 3);
        ASSERT_EQ(m->n_lost, 0);
        ASSERT_TRUE(sigd.n_profile_status > 0);

        /* StateSyncRequest: every line and profile again. Let the publications
         * of the registrations settle first (slow under valgrind). */
        gw_test_run_for(e, 300 * USEC_PER_MSEC);
        {
                Gw__Envelope env = GW__ENVELOPE__INIT;
                Gw__StateSyncRequest sr = GW__STATE_SYNC_REQUEST__INIT;
                unsigned lines0 = sigd.n_line_messages, profiles0 = sigd.n_profile_status;

                sr.requester = GW__SERVICE__SERVICE_SIGD;
                env.body_case = GW__ENVELOPE__BODY_STATE_SYNC_REQUEST;
                env.state_sync_request = &sr;
                ASSERT_OK(gw_bus_publish_auto(sigd.bus, "sigd", &env));
                gw_test_run_for(e, 300 * USEC_PER_MSEC);
                ASSERT_EQ(sigd.n_line_messages, lines0 + 3);
                /* At least the answer to the request (a counter change may add one). */
                ASSERT_TRUE(sigd.n_profile_status >= profiles0 + 1);
        }

        /* GatewayStopping from anyone but gwsupd is dropped. */
        sigd.n_requests = 0;
        publish_stopping(sigd.bus, 1000);
        gw_test_run_for(e, 300 * USEC_PER_MSEC);
        ASSERT_FALSE(m->stopping);
        ASSERT_EQ(sigd.n_unregisters, 0);

        /* A new sigd instance: in-flight requests go again at once. Make one in flight first. */
        sigd.silent = true;
        ASSERT_OK(line_register(manager_line_by_port(m, 1)));
        ASSERT_EQ(m->n_in_flight, 1);
        {
                uint64_t first = 0;
                w.n = 1;
                sigd.n_requests = 0;
                ASSERT_TRUE(gw_test_run_until(e, requests_reach, &w, 2 * USEC_PER_SEC));
                first = sigd.last_cid[1];
                sigd.bus = gw_bus_free(sigd.bus);
                sigd.silent = false;
                sigd.n_requests = 0;
                fake_sigd_start(e, &t.conf, &sigd);
                /* regd learns of the new instance from any message of it. */
                {
                        uint64_t end = now_usec(CLOCK_MONOTONIC) + 3 * USEC_PER_SEC, next = 0;

                        while (sigd.n_requests == 0 && now_usec(CLOCK_MONOTONIC) < end) {
                                if (now_usec(CLOCK_MONOTONIC) >= next) {
                                        publish_heartbeat(sigd.bus, GW__SERVICE__SERVICE_SIGD);
                                        next = now_usec(CLOCK_MONOTONIC) + 50 * USEC_PER_MSEC;
                                }
                                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
                        }
                }
                ASSERT_TRUE(sigd.n_requests > 0);
                ASSERT_TRUE(sigd.last_cid[1] != first);
                for (int i = 0; i < 100 && m->n_in_flight > 0; i++)
                        ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
                ASSERT_EQ(m->n_in_flight, 0);
                ASSERT_EQ(manager_line_by_port(m, 1)->state, LINE_REGISTERED);
        }

        /* From gwsupd: every line un-REGISTERed, UnregisterDone{3,3}. */
        for (int i = 0; i < 300 && !m->stopping && !m->stopped; i++) {
                publish_stopping(sup.bus, 3000);
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        }
        w.n = 3;
        ASSERT_TRUE(gw_test_run_until(e, unregister_done, &w, 5 * USEC_PER_SEC));
        ASSERT_EQ(sup.lines, 3);
        ASSERT_EQ(sup.confirmed, 3);
        ASSERT_TRUE(sigd.n_unregisters >= 3);
        for (unsigned p = 1; p <= 3; p++)
                ASSERT_EQ(manager_line_by_port(m, p)->state, LINE_UNREGISTERED);

        manager_free(m);
        gw_bus_free(regd_bus);
        gw_bus_free(sigd.bus);
        gw_bus_free(sup.bus);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

static bool sigd_saw_registered(void *userdata) {
        World *w = userdata;

        for (unsigned p = 1; p <= w->n; p++)
                if (w->sigd->n_registered_seen[p] == 0)
                        return false;
        return true;
}

/* regd killed (no clean exit) and started again: the lines stay registered,
 * no REGISTER is sent, and the peers hear that every line is registered. */
TEST(regd_restart_sends_nothing) {
        _cleanup_free_ char *dir = test_tmpdir();
        _cleanup_free_ char *state_dir = NULL;
        sd_event *e = NULL;
        GwBus *regd_bus = NULL;
        TestConf t;
        FakeSigd sigd = {};
        Manager *m = NULL;
        World w = { .sigd = &sigd, .n = 3 };
        char *call_id1 = NULL;

        ASSERT_TRUE(asprintf(&state_dir, "%s/regd", dir) > 0);
        ASSERT_EQ(mkdir(state_dir, 0750), 0);
        test_conf_init(&t, 3);
        t.conf.runtime_dir = dir;
        t.profile.register_expires_us = 300 * USEC_PER_SEC;
        ASSERT_OK(sd_event_new(&e));
        fake_sigd_start(e, &t.conf, &sigd);

        /* First instance: register everything. */
        ASSERT_OK(gw_bus_new(e, &t.conf, GW__SERVICE__SERVICE_REGD, &regd_bus));
        ASSERT_OK(manager_new(e, &t.conf, state_dir, &m));
        ASSERT_OK(regd_bus_attach(m, regd_bus, NULL));
        w.m = m;
        ASSERT_OK(manager_start(m));
        {
                uint64_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC, next = 0;

                while (!all_registered(&w) && now_usec(CLOCK_MONOTONIC) < end) {
                        if (now_usec(CLOCK_MONOTONIC) >= next) {
                                publish_heartbeat(sigd.bus, GW__SERVICE__SERVICE_SIGD);
                                next = now_usec(CLOCK_MONOTONIC) + 100 * USEC_PER_MSEC;
                        }
                        ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
                }
        }
        ASSERT_TRUE(all_registered(&w));
        gw_test_run_for(e, 100 * USEC_PER_MSEC);     /* the deferred state write */
        call_id1 = strdup(manager_line_by_port(m, 1)->call_id);
        ASSERT_NOT_NULL(call_id1);

        /* "SIGKILL": nothing is written on the way out. */
        free(m->state_dir);
        m->state_dir = NULL;
        m = manager_free(m);
        regd_bus = gw_bus_free(regd_bus);
        memset(sigd.n_registered_seen, 0, sizeof(sigd.n_registered_seen));
        sigd.n_requests = 0;

        /* Second instance. */
        ASSERT_OK(gw_bus_new(e, &t.conf, GW__SERVICE__SERVICE_REGD, &regd_bus));
        ASSERT_OK(manager_new(e, &t.conf, state_dir, &m));
        ASSERT_OK(regd_bus_attach(m, regd_bus, NULL));
        w.m = m;
        ASSERT_OK(manager_start(m));
        for (unsigned p = 1; p <= 3; p++)
                ASSERT_EQ(manager_line_by_port(m, p)->state, LINE_REGISTERED);
        ASSERT_STREQ(manager_line_by_port(m, 1)->call_id, call_id1);
        {
                /* Peers that ask (StateSyncRequest, as a restarted sigd would) hear it. */
                Gw__Envelope env = GW__ENVELOPE__INIT;
                Gw__StateSyncRequest sr = GW__STATE_SYNC_REQUEST__INIT;
                uint64_t end = now_usec(CLOCK_MONOTONIC) + 3 * USEC_PER_SEC, next = 0;

                sr.requester = GW__SERVICE__SERVICE_SIGD;
                env.body_case = GW__ENVELOPE__BODY_STATE_SYNC_REQUEST;
                env.state_sync_request = &sr;
                while (!sigd_saw_registered(&w) && now_usec(CLOCK_MONOTONIC) < end) {
                        if (now_usec(CLOCK_MONOTONIC) >= next) {
                                ASSERT_OK(gw_bus_publish_auto(sigd.bus, "sigd", &env));
                                next = now_usec(CLOCK_MONOTONIC) + 100 * USEC_PER_MSEC;
                        }
                        ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
                }
        }
        ASSERT_TRUE(sigd_saw_registered(&w));
        gw_test_run_for(e, 1000 * USEC_PER_MSEC);
        ASSERT_EQ(sigd.n_requests, 0);          /* no re-REGISTER storm */
        ASSERT_EQ(m->n_sent, 0);

        free(call_id1);
        manager_free(m);
        gw_bus_free(regd_bus);
        gw_bus_free(sigd.bus);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}
