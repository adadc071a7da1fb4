/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-dbus-model.c: the D-Bus API's words for the bus's states, and which
 * properties each bus message changes (what PropertiesChanged will name). */
#include "gw-tests.h"
#include "regd-dbus-model.h"
#include "test-regd-util.h"

DEFINE_TEST_MAIN

static void model_new(ApiModel *m, TestConf *t, size_t n_lines) {
        test_conf_init(t, n_lines);
        ASSERT_OK(api_model_init(m, &t->conf));
}

TEST(dbus_model_words) {
        static const struct { Gw__RegState s; const char *w; } reg[] = {
                { GW__REG_STATE__REG_UNREGISTERED, "unregistered" },
                { GW__REG_STATE__REG_REGISTERING, "registering" },
                { GW__REG_STATE__REG_REGISTERED, "registered" },
                { GW__REG_STATE__REG_FAILED, "failed" },
                { (Gw__RegState) 42, "unknown" },
        };
        static const struct { Gw__CallState s; const char *w; } call[] = {
                { GW__CALL_STATE__CALL_IDLE, "idle" }, { GW__CALL_STATE__CALL_DIALING, "dialing" },
                { GW__CALL_STATE__CALL_PROCEEDING, "proceeding" }, { GW__CALL_STATE__CALL_RINGBACK, "ringback" },
                { GW__CALL_STATE__CALL_RINGING, "ringing" }, { GW__CALL_STATE__CALL_CONNECTED, "connected" },
                { GW__CALL_STATE__CALL_RELEASING, "releasing" }, { (Gw__CallState) 99, "unknown" },
        };

        for (size_t i = 0; i < ELEMENTSOF(reg); i++)
                ASSERT_STREQ(api_reg_state_to_string(reg[i].s), reg[i].w);
        for (size_t i = 0; i < ELEMENTSOF(call); i++)
                ASSERT_STREQ(api_call_state_to_string(call[i].s), call[i].w);
        ASSERT_STREQ(api_hook_to_string(GW__HOOK_STATE__HOOK_OFF), "off");
        ASSERT_STREQ(api_hook_to_string(GW__HOOK_STATE__HOOK_ON), "on");
        ASSERT_STREQ(api_run_state_to_string(GW__SERVICE_RUN_STATE__RUN_STATE_RESTARTING), "restarting");
        ASSERT_STREQ(api_role_to_string(GW__PROXY_ROLE__ROLE_REDUNDANT), "redundant");
        ASSERT_STREQ(api_health_to_string(GW__PROXY_HEALTH__HEALTH_DOWN), "down");
}

TEST(dbus_model_objects_from_config) {
        ApiModel m;
        TestConf t;

        model_new(&m, &t, 3);
        ASSERT_EQ(m.n_lines, 3);
        ASSERT_STREQ(m.lines[0].path, "/org/fxsgw/Gateway1/line/1");
        ASSERT_STREQ(m.lines[2].number, "1003");
        ASSERT_STREQ(m.lines[0].registration, "unregistered");
        ASSERT_STREQ(m.lines[0].hook, "unknown");
        ASSERT_STREQ(m.lines[0].call_state, "idle");
        ASSERT_STREQ(m.lines[0].remote, "");
        ASSERT_EQ(m.n_profiles, 1);
        ASSERT_STREQ(m.profiles[0].path, "/org/fxsgw/Gateway1/profile/p1");
        ASSERT_STREQ(m.services[0].path, "/org/fxsgw/Gateway1/service/sigd");
        ASSERT_STREQ(api_model_service_by_name(&m, "linehwd")->path, "/org/fxsgw/Gateway1/service/linehwd");
        ASSERT_TRUE(api_model_service_by_name(&m, "gwsupd") == NULL);
        ASSERT_TRUE(api_model_line(&m, 4) == NULL);
        ASSERT_STREQ(m.state, "starting");
        api_model_done(&m);
}

TEST(dbus_model_profile_path_escaped) {
        ApiModel m;
        TestConf t;

        test_conf_init(&t, 1);
        t.profile.name = (char *) "my-provider.1";
        ASSERT_OK(api_model_init(&m, &t.conf));
        /* sd_bus_path_encode: '-' and '.' are not allowed in a path element. */
        ASSERT_STREQ(m.profiles[0].path, "/org/fxsgw/Gateway1/profile/my_2dprovider_2e1");
        ASSERT_TRUE(api_model_profile_by_path(&m, "/org/fxsgw/Gateway1/profile/my_2dprovider_2e1") == &m.profiles[0]);
        api_model_done(&m);
}

TEST(dbus_model_line_changes) {
        Gw__LineRegistration lr = GW__LINE_REGISTRATION__INIT;
        Gw__LineHwState hw = GW__LINE_HW_STATE__INIT;
        Gw__LineCall lc = GW__LINE_CALL__INIT;
        ApiLine *l = NULL;
        ApiModel m;
        TestConf t;

        model_new(&m, &t, 2);
        lr.port = 2;
        lr.number = (char *) "1002";
        lr.state = GW__REG_STATE__REG_REGISTERED;
        lr.registered_via = (char *) "127.0.0.1:5060";
        lr.has_expires_at_real_us = true;
        lr.expires_at_real_us = 1000;
        ASSERT_EQ(api_model_line_registration(&m, &lr, &l),
                  LINE_PROP_REGISTRATION | LINE_PROP_REGISTERED_VIA | LINE_PROP_EXPIRES);
        ASSERT_STREQ(l->path, "/org/fxsgw/Gateway1/line/2");
        ASSERT_STREQ(l->registration, "registered");
        /* The same again (a StateSyncRequest's answer): nothing changed, no signal. */
        ASSERT_EQ(api_model_line_registration(&m, &lr, &l), 0);
        lr.state = GW__REG_STATE__REG_FAILED;
        lr.reason = (char *) "403";
        ASSERT_EQ(api_model_line_registration(&m, &lr, &l), LINE_PROP_REGISTRATION | LINE_PROP_REASON);

        hw.port = 2;
        hw.hook = GW__HOOK_STATE__HOOK_OFF;
        ASSERT_EQ(api_model_line_hw(&m, &hw, &l), LINE_PROP_HOOK);
        ASSERT_STREQ(l->hook, "off");
        ASSERT_EQ(api_model_line_hw(&m, &hw, &l), 0);

        lc.port = 2;
        lc.state = GW__CALL_STATE__CALL_CONNECTED;
        lc.remote = (char *) "2001";
        ASSERT_EQ(api_model_line_call(&m, &lc, &l), LINE_PROP_CALL_STATE | LINE_PROP_REMOTE);
        ASSERT_STREQ(l->remote, "2001");
        /* Back to idle: the other party is gone with the call. */
        lc.state = GW__CALL_STATE__CALL_IDLE;
        ASSERT_EQ(api_model_line_call(&m, &lc, &l), LINE_PROP_CALL_STATE | LINE_PROP_REMOTE);
        ASSERT_STREQ(l->remote, "");

        /* A port that is not configured has no object. */
        hw.port = 7;
        ASSERT_EQ(api_model_line_hw(&m, &hw, NULL), 0);
        api_model_done(&m);
}

TEST(dbus_model_profile_changes) {
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        Gw__ProxyEntryStatus e0 = GW__PROXY_ENTRY_STATUS__INIT, e1 = GW__PROXY_ENTRY_STATUS__INIT;
        Gw__ProxyCounters c0 = GW__PROXY_COUNTERS__INIT;
        Gw__ProxyEntryStatus *entries[] = { &e0, &e1 };
        ApiProfile *p = NULL;
        ApiModel m;
        TestConf t;

        model_new(&m, &t, 1);
        ps.name = (char *) "p1";
        ps.active_proxy = (char *) "10.0.0.1";
        ps.active_target = (char *) "10.0.0.1:5060";
        ps.n_proxies = 2;
        ps.proxies = entries;
        e0.address = (char *) "10.0.0.1";
        e0.role = GW__PROXY_ROLE__ROLE_MAIN;
        e0.state = GW__PROXY_HEALTH__HEALTH_UP;
        e0.counters = &c0;
        e1.address = (char *) "10.0.0.2";
        e1.role = GW__PROXY_ROLE__ROLE_REDUNDANT;
        ASSERT_EQ(api_model_profile_status(&m, &ps, &p),
                  PROFILE_PROP_ACTIVE_PROXY | PROFILE_PROP_ACTIVE_TARGET | PROFILE_PROP_PROXIES);
        ASSERT_EQ(p->n_proxies, 2);
        ASSERT_STREQ(p->proxies[1].role, "redundant");
        ASSERT_STREQ(p->proxies[1].state, "unknown");
        ASSERT_EQ(api_model_profile_status(&m, &ps, &p), 0);

        /* A failover: main down after a 503, counters move, the search runs. */
        e0.state = GW__PROXY_HEALTH__HEALTH_DOWN;
        e0.last_failure_reason = (char *) "503";
        e0.has_last_failure_real_us = true;
        e0.last_failure_real_us = 77;
        c0.r503 = 1;
        ps.searching = true;
        ASSERT_EQ(api_model_profile_status(&m, &ps, &p), PROFILE_PROP_SEARCHING | PROFILE_PROP_PROXIES);
        ASSERT_STREQ(p->proxies[0].last_failure_reason, "503");
        ASSERT_EQ(p->proxies[0].last_failure_usec, 77);
        ASSERT_EQ(p->proxies[0].r503, 1);
        /* Only a counter: still Proxies. */
        c0.sent = 9;
        ASSERT_EQ(api_model_profile_status(&m, &ps, &p), PROFILE_PROP_PROXIES);

        ps.name = (char *) "nope";
        ASSERT_EQ(api_model_profile_status(&m, &ps, NULL), 0);
        api_model_done(&m);
}

TEST(dbus_model_services_and_state) {
        Gw__ServiceState ss = GW__SERVICE_STATE__INIT;
        ApiService *s = NULL;
        ApiModel m;
        TestConf t;

        model_new(&m, &t, 1);
        ss.service = GW__SERVICE__SERVICE_MEDIAD;
        ss.state = GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING;
        ss.has_pid = true;
        ss.pid = 123;
        ss.has_restarts = true;
        ss.restarts = 2;
        /* A daemon about itself: state and pid, not its restarts. */
        ASSERT_EQ(api_model_service_state(&m, GW__SERVICE__SERVICE_MEDIAD, &ss, &s),
                  SERVICE_PROP_STATE | SERVICE_PROP_PID);
        ASSERT_EQ(s->restarts, 0);
        /* gwsupd about its child: the restarts too. */
        ASSERT_EQ(api_model_service_state(&m, GW__SERVICE__SERVICE_GWSUPD, &ss, &s), SERVICE_PROP_RESTARTS);
        ASSERT_EQ(s->restarts, 2);
        /* Nobody else speaks for mediad. */
        ss.state = GW__SERVICE_RUN_STATE__RUN_STATE_FAILED;
        ASSERT_EQ(api_model_service_state(&m, GW__SERVICE__SERVICE_SIGD, &ss, NULL), 0);
        /* systemd's count (units). */
        ASSERT_EQ(api_model_service_restarts(&m, GW__SERVICE__SERVICE_MEDIAD, 5, &s), SERVICE_PROP_RESTARTS);
        ASSERT_EQ(api_model_service_restarts(&m, GW__SERVICE__SERVICE_MEDIAD, 5, &s), 0);

        /* Manager.State: starting until all four ran, then running / degraded / stopping. */
        ASSERT_FALSE(api_model_update_state(&m));
        ASSERT_STREQ(m.state, "starting");
        for (size_t i = 0; i < API_SERVICES_MAX; i++)
                m.services[i].state = "running";
        ASSERT_TRUE(api_model_update_state(&m));
        ASSERT_STREQ(m.state, "running");
        ss.service = GW__SERVICE__SERVICE_SIGD;
        ss.state = GW__SERVICE_RUN_STATE__RUN_STATE_RESTARTING;
        ASSERT_EQ(api_model_service_state(&m, GW__SERVICE__SERVICE_GWSUPD, &ss, NULL) & SERVICE_PROP_STATE,
                  SERVICE_PROP_STATE);
        ASSERT_TRUE(api_model_update_state(&m));
        ASSERT_STREQ(m.state, "degraded");
        m.stopping = true;
        ASSERT_TRUE(api_model_update_state(&m));
        ASSERT_STREQ(m.state, "stopping");
        api_model_done(&m);
}

TEST(dbus_model_reconfigure) {
        ApiModel m;
        TestConf t, t2;
        char **added = NULL, **removed = NULL;
        Gw__LineHwState hw = GW__LINE_HW_STATE__INIT;

        model_new(&m, &t, 3);
        hw.port = 2;
        hw.hook = GW__HOOK_STATE__HOOK_OFF;
        ASSERT_EQ(api_model_line_hw(&m, &hw, NULL), LINE_PROP_HOOK);
        m.services[0].state = "running";

        /* Lines 2 and 3 stay, 1 goes, 4 comes (test_conf_init numbers them 1..n: drop the first). */
        test_conf_init(&t2, 4);
        t2.conf.lines = &t2.lines[1];
        t2.conf.n_lines = 3;
        ASSERT_OK(api_model_reconfigure(&m, &t2.conf, &added, &removed));
        ASSERT_STREQ(removed[0], "/org/fxsgw/Gateway1/line/1");
        ASSERT_TRUE(removed[1] == NULL);
        ASSERT_STREQ(added[0], "/org/fxsgw/Gateway1/line/4");
        ASSERT_TRUE(added[1] == NULL);
        ASSERT_EQ(m.n_lines, 3);
        ASSERT_TRUE(api_model_line(&m, 1) == NULL);
        /* A kept line keeps what was heard of it; the services theirs. */
        ASSERT_STREQ(api_model_line(&m, 2)->hook, "off");
        ASSERT_STREQ(api_model_line(&m, 4)->hook, "unknown");
        ASSERT_STREQ(m.services[0].state, "running");
        ASSERT_STREQ(m.profiles[0].path, "/org/fxsgw/Gateway1/profile/p1");
        api_paths_free(added);
        api_paths_free(removed);
        api_model_done(&m);
}
