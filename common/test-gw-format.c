/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-format.c: the generic message printer (text, JSON, secrets, unknown fields). */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gw-format.h"
#include "gw-macro.h"
#include "gw-tests.h"
#include "test-secret.pb-c.h"

#define REAL_US UINT64_C(1764005000123456)     /* 2025-11-24T17:23:20.123Z */
#define REAL_TS "2025-11-24T17:23:20.123Z"

static char *fmt(const void *m, GwFormatFlags flags) {
        char *s = NULL;

        ASSERT_OK(gw_format_message_to_string(m, flags, &s));
        ASSERT_NOT_NULL(s);
        return s;
}

static char *fmt_env(const char *topic, const Gw__Envelope *env, GwFormatFlags flags) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ASSERT_NOT_NULL(f);
        ASSERT_OK(gw_format_envelope(f, topic, env, flags));
        ASSERT_EQ(fclose(f), 0);
        return buf;
}

/* The JSON must parse with a real parser, not just look right. */
static void assert_json(const char *s) {
        FILE *p = popen("python3 -c 'import json,sys; json.load(sys.stdin)'", "w");
        int status;

        ASSERT_NOT_NULL(p);
        fputs(s, p);
        status = pclose(p);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                GW_TEST_FAIL("invalid JSON: %s", s);
}

static void assert_contains(const char *hay, const char *needle) {
        if (!strstr(hay, needle))
                GW_TEST_FAIL("'%s' not found in '%s'", needle, hay);
}

static void assert_not_contains(const char *hay, const char *needle) {
        if (strstr(hay, needle))
                GW_TEST_FAIL("'%s' must not appear in '%s'", needle, hay);
}

/* Pack, append raw bytes (extra fields), unpack: what a receiver sees. */
static Gw__Envelope *roundtrip(const Gw__Envelope *env, const uint8_t *extra, size_t n_extra) {
        size_t len = gw__envelope__get_packed_size(env);
        _cleanup_free_ uint8_t *buf = malloc(len + n_extra);
        Gw__Envelope *out;

        ASSERT_NOT_NULL(buf);
        ASSERT_EQ(gw__envelope__pack(env, buf), len);
        if (n_extra > 0)
                memcpy(buf + len, extra, n_extra);
        out = gw__envelope__unpack(NULL, len + n_extra, buf);
        ASSERT_NOT_NULL(out);
        return out;
}

static void envelope_init(Gw__Envelope *env, Gw__Service source) {
        gw__envelope__init(env);
        env->source = source;
        env->instance_id = UINT64_C(0x1122334455667788);
        env->seq = 7;
        env->mono_us = 1000;
        env->real_us = REAL_US;
}

/* Format an envelope after a wire round trip; check text and JSON. */
static void check_envelope(const Gw__Envelope *env, const char *topic,
                           const char *want_text, const char *want_json) {
        Gw__Envelope *rx = roundtrip(env, NULL, 0);
        _cleanup_free_ char *text = fmt_env(topic, rx, 0);
        _cleanup_free_ char *json = fmt_env(topic, rx, GW_FORMAT_JSON);

        ASSERT_STREQ(text, want_text);
        ASSERT_STREQ(json, want_json);
        assert_json(json);
        gw__envelope__free_unpacked(rx, NULL);
}

TEST(format_iso8601) {
        char buf[GW_ISO8601_MAX];

        ASSERT_STREQ(gw_format_iso8601(REAL_US, buf), REAL_TS);
        ASSERT_STREQ(gw_format_iso8601(0, buf), "1970-01-01T00:00:00.000Z");
        ASSERT_STREQ(gw_format_iso8601(999999, buf), "1970-01-01T00:00:00.999Z");
}

TEST(format_line_registration) {
        Gw__Envelope env;
        Gw__LineRegistration lr = GW__LINE_REGISTRATION__INIT;

        envelope_init(&env, GW__SERVICE__SERVICE_REGD);
        lr.port = 3;
        lr.number = (char *) "1001";
        lr.state = GW__REG_STATE__REG_REGISTERED;
        lr.registered_via = (char *) "sip1.example.net:5060";
        lr.target = (char *) "127.0.0.1:5060";
        lr.has_expires_at_real_us = true;
        lr.expires_at_real_us = 42;
        env.body_case = GW__ENVELOPE__BODY_LINE_REGISTRATION;
        env.line_registration = &lr;

        /* 'reason' and 'profile' are absent: not printed. */
        check_envelope(&env, "LineRegistration/3",
                REAL_TS " regd LineRegistration/3 seq=7 LineRegistration port=3 number=\"1001\" "
                "state=REG_REGISTERED registered_via=\"sip1.example.net:5060\" target=\"127.0.0.1:5060\" "
                "expires_at_real_us=42",
                "{\"time\":\"" REAL_TS "\",\"source\":\"regd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"LineRegistration/3\",\"type\":\"LineRegistration\",\"body\":"
                "{\"port\":3,\"number\":\"1001\",\"state\":\"REG_REGISTERED\","
                "\"registered_via\":\"sip1.example.net:5060\",\"target\":\"127.0.0.1:5060\","
                "\"expires_at_real_us\":42}}");
}

TEST(format_service_state_and_sync) {
        Gw__Envelope env;
        Gw__ServiceState ss = GW__SERVICE_STATE__INIT;
        Gw__StateSyncRequest sync = GW__STATE_SYNC_REQUEST__INIT;

        envelope_init(&env, GW__SERVICE__SERVICE_GWSUPD);
        ss.service = GW__SERVICE__SERVICE_SIGD;
        ss.state = GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING;
        ss.has_pid = true;
        ss.pid = 1234;
        ss.has_restarts = true;
        ss.restarts = 0;            /* present although zero: printed */
        ss.status_text = (char *) "Listening on \"127.0.0.1:5062\"";
        ss.has_instance_id = true;
        ss.instance_id = UINT64_C(0xfedcba9876543210);
        env.body_case = GW__ENVELOPE__BODY_SERVICE_STATE;
        env.service_state = &ss;
        env.has_correlation_id = true;
        env.correlation_id = 99;

        check_envelope(&env, "ServiceState/sigd",
                REAL_TS " gwsupd ServiceState/sigd seq=7 corr=99 ServiceState service=SERVICE_SIGD "
                "state=RUN_STATE_RUNNING pid=1234 restarts=0 status_text=\"Listening on \\\"127.0.0.1:5062\\\"\" "
                "instance_id=fedcba9876543210",
                "{\"time\":\"" REAL_TS "\",\"source\":\"gwsupd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"ServiceState/sigd\",\"correlation_id\":99,\"type\":\"ServiceState\","
                "\"body\":{\"service\":\"SERVICE_SIGD\",\"state\":\"RUN_STATE_RUNNING\",\"pid\":1234,"
                "\"restarts\":0,\"status_text\":\"Listening on \\\"127.0.0.1:5062\\\"\",\"instance_id\":\"fedcba9876543210\"}}");

        envelope_init(&env, GW__SERVICE__SERVICE_MEDIAD);
        sync.requester = GW__SERVICE__SERVICE_MEDIAD;
        env.body_case = GW__ENVELOPE__BODY_STATE_SYNC_REQUEST;
        env.state_sync_request = &sync;
        check_envelope(&env, "StateSyncRequest",
                REAL_TS " mediad StateSyncRequest seq=7 StateSyncRequest requester=SERVICE_MEDIAD",
                "{\"time\":\"" REAL_TS "\",\"source\":\"mediad\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"StateSyncRequest\",\"type\":\"StateSyncRequest\","
                "\"body\":{\"requester\":\"SERVICE_MEDIAD\"}}");
}

TEST(format_sip_request_and_outcome) {
        Gw__Envelope env;
        Gw__SipRequest rq = GW__SIP_REQUEST__INIT;
        Gw__SipRequestOutcome out = GW__SIP_REQUEST_OUTCOME__INIT;

        envelope_init(&env, GW__SERVICE__SERVICE_REGD);
        rq.method = (char *) "REGISTER";
        rq.request_uri = (char *) "sip:example.net";
        rq.target = (char *) "127.0.0.1:5060";
        rq.has_line_port = true;
        rq.line_port = 1;
        rq.has_expires_s = true;
        rq.expires_s = -1;
        rq.has_with_contact = true;
        rq.with_contact = true;
        env.body_case = GW__ENVELOPE__BODY_SIP_REQUEST;
        env.sip_request = &rq;
        check_envelope(&env, "SipRequest",
                REAL_TS " regd SipRequest seq=7 SipRequest method=\"REGISTER\" request_uri=\"sip:example.net\" "
                "target=\"127.0.0.1:5060\" line_port=1 expires_s=-1 with_contact=true",
                "{\"time\":\"" REAL_TS "\",\"source\":\"regd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"SipRequest\",\"type\":\"SipRequest\",\"body\":{\"method\":\"REGISTER\","
                "\"request_uri\":\"sip:example.net\",\"target\":\"127.0.0.1:5060\",\"line_port\":1,"
                "\"expires_s\":-1,\"with_contact\":true}}");

        envelope_init(&env, GW__SERVICE__SERVICE_SIGD);
        out.kind = GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT;
        out.error = (char *) "Connection refused";
        out.has_got_provisional = true;
        out.got_provisional = false;
        env.body_case = GW__ENVELOPE__BODY_SIP_REQUEST_OUTCOME;
        env.sip_request_outcome = &out;
        check_envelope(&env, "SipRequestOutcome",
                REAL_TS " sigd SipRequestOutcome seq=7 SipRequestOutcome kind=OUTCOME_TRANSPORT "
                "got_provisional=false error=\"Connection refused\"",
                "{\"time\":\"" REAL_TS "\",\"source\":\"sigd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"SipRequestOutcome\",\"type\":\"SipRequestOutcome\",\"body\":"
                "{\"kind\":\"OUTCOME_TRANSPORT\",\"got_provisional\":false,\"error\":\"Connection refused\"}}");
}

/* What gwtap and the logs show of a call's INVITE outcome (sigd -> regd). */
TEST(format_entry_report) {
        Gw__Envelope env;
        Gw__EntryReport er = GW__ENTRY_REPORT__INIT;

        envelope_init(&env, GW__SERVICE__SERVICE_SIGD);
        er.profile = (char *) "provider";
        er.proxy = (char *) "10.77.0.11";
        er.target = (char *) "10.77.0.11:5060";
        er.kind = GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE;
        er.has_status_code = true;
        er.status_code = 503;
        er.has_got_provisional = er.has_got_18x = true;
        er.got_provisional = true;
        er.has_retry_after_s = true;
        er.retry_after_s = 10;
        env.body_case = GW__ENVELOPE__BODY_ENTRY_REPORT;
        env.entry_report = &er;
        check_envelope(&env, "EntryReport",
                REAL_TS " sigd EntryReport seq=7 EntryReport profile=\"provider\" proxy=\"10.77.0.11\" "
                "target=\"10.77.0.11:5060\" kind=OUTCOME_RESPONSE status_code=503 got_provisional=true "
                "got_18x=false retry_after_s=10",
                "{\"time\":\"" REAL_TS "\",\"source\":\"sigd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"EntryReport\",\"type\":\"EntryReport\",\"body\":{\"profile\":\"provider\","
                "\"proxy\":\"10.77.0.11\",\"target\":\"10.77.0.11:5060\",\"kind\":\"OUTCOME_RESPONSE\","
                "\"status_code\":503,\"got_provisional\":true,\"got_18x\":false,\"retry_after_s\":10}}");
}

TEST(format_profile_status_nested_repeated) {
        Gw__Envelope env;
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        Gw__ProxyEntryStatus p1 = GW__PROXY_ENTRY_STATUS__INIT, p2 = GW__PROXY_ENTRY_STATUS__INIT;
        Gw__ProxyCounters c1 = GW__PROXY_COUNTERS__INIT;
        Gw__ProxyEntryStatus *proxies[] = { &p1, &p2 };

        envelope_init(&env, GW__SERVICE__SERVICE_REGD);
        ps.name = (char *) "main";
        ps.active_proxy = (char *) "b.example.net";
        ps.n_proxies = 2;
        ps.proxies = proxies;
        p1.address = (char *) "a.example.net";
        p1.role = GW__PROXY_ROLE__ROLE_MAIN;
        p1.state = GW__PROXY_HEALTH__HEALTH_DOWN;
        p1.last_failure_reason = (char *) "timeout";
        c1.has_sent = true;
        c1.sent = 5;
        c1.has_timeouts = true;
        c1.timeouts = 2;
        p1.counters = &c1;
        p2.address = (char *) "b.example.net";
        p2.role = GW__PROXY_ROLE__ROLE_REDUNDANT;
        p2.state = GW__PROXY_HEALTH__HEALTH_UP;
        env.body_case = GW__ENVELOPE__BODY_PROFILE_STATUS;
        env.profile_status = &ps;
        check_envelope(&env, "ProfileStatus/main",
                REAL_TS " regd ProfileStatus/main seq=7 ProfileStatus name=\"main\" active_proxy=\"b.example.net\" "
                "proxies=[{address=\"a.example.net\" role=ROLE_MAIN state=HEALTH_DOWN last_failure_reason=\"timeout\" "
                "counters={sent=5 timeouts=2}} {address=\"b.example.net\" role=ROLE_REDUNDANT state=HEALTH_UP}]",
                "{\"time\":\"" REAL_TS "\",\"source\":\"regd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"ProfileStatus/main\",\"type\":\"ProfileStatus\",\"body\":{\"name\":\"main\","
                "\"active_proxy\":\"b.example.net\",\"proxies\":[{\"address\":\"a.example.net\",\"role\":\"ROLE_MAIN\","
                "\"state\":\"HEALTH_DOWN\",\"last_failure_reason\":\"timeout\",\"counters\":{\"sent\":5,\"timeouts\":2}},"
                "{\"address\":\"b.example.net\",\"role\":\"ROLE_REDUNDANT\",\"state\":\"HEALTH_UP\"}]}}");
}

TEST(format_small_bodies) {
        Gw__Envelope env;
        Gw__GatewayStopping gs = GW__GATEWAY_STOPPING__INIT;
        Gw__UnregisterDone ud = GW__UNREGISTER_DONE__INIT;
        Gw__BusCounters bc = GW__BUS_COUNTERS__INIT;
        Gw__StatusRequest sr = GW__STATUS_REQUEST__INIT;
        Gw__ErrorReply er = GW__ERROR_REPLY__INIT;

        envelope_init(&env, GW__SERVICE__SERVICE_GWSUPD);
        gs.deadline_ms = 2000;
        env.body_case = GW__ENVELOPE__BODY_GATEWAY_STOPPING;
        env.gateway_stopping = &gs;
        check_envelope(&env, "GatewayStopping",
                REAL_TS " gwsupd GatewayStopping seq=7 GatewayStopping deadline_ms=2000",
                "{\"time\":\"" REAL_TS "\",\"source\":\"gwsupd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"GatewayStopping\",\"type\":\"GatewayStopping\",\"body\":{\"deadline_ms\":2000}}");

        envelope_init(&env, GW__SERVICE__SERVICE_REGD);
        ud.has_lines = true;
        ud.lines = 4;
        ud.has_confirmed = true;
        ud.confirmed = 3;
        env.body_case = GW__ENVELOPE__BODY_UNREGISTER_DONE;
        env.unregister_done = &ud;
        check_envelope(&env, "UnregisterDone",
                REAL_TS " regd UnregisterDone seq=7 UnregisterDone lines=4 confirmed=3",
                "{\"time\":\"" REAL_TS "\",\"source\":\"regd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"UnregisterDone\",\"type\":\"UnregisterDone\",\"body\":{\"lines\":4,\"confirmed\":3}}");

        envelope_init(&env, GW__SERVICE__SERVICE_LINEHWD);
        bc.service = GW__SERVICE__SERVICE_LINEHWD;
        bc.has_tx = true;
        bc.tx = UINT64_MAX;
        bc.has_pcm_frames_tx = true;
        bc.pcm_frames_tx = 500;
        env.body_case = GW__ENVELOPE__BODY_BUS_COUNTERS;
        env.bus_counters = &bc;
        check_envelope(&env, "BusCounters",
                REAL_TS " linehwd BusCounters seq=7 BusCounters service=SERVICE_LINEHWD tx=18446744073709551615 "
                "pcm_frames_tx=500",
                "{\"time\":\"" REAL_TS "\",\"source\":\"linehwd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"BusCounters\",\"type\":\"BusCounters\",\"body\":{\"service\":\"SERVICE_LINEHWD\","
                "\"tx\":18446744073709551615,\"pcm_frames_tx\":500}}");

        /* An empty body: type only. */
        envelope_init(&env, GW__SERVICE__SERVICE_GWCTL);
        env.body_case = GW__ENVELOPE__BODY_STATUS_REQUEST;
        env.status_request = &sr;
        check_envelope(&env, NULL,
                REAL_TS " gwctl - seq=7 StatusRequest",
                "{\"time\":\"" REAL_TS "\",\"source\":\"gwctl\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"\",\"type\":\"StatusRequest\",\"body\":{}}");

        envelope_init(&env, GW__SERVICE__SERVICE_REGD);
        er.errno_value = 22;
        er.message = (char *) "Invalid argument";
        env.body_case = GW__ENVELOPE__BODY_ERROR_REPLY;
        env.error_reply = &er;
        check_envelope(&env, NULL,
                REAL_TS " regd - seq=7 ErrorReply errno_value=22 message=\"Invalid argument\"",
                "{\"time\":\"" REAL_TS "\",\"source\":\"regd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"\",\"type\":\"ErrorReply\",\"body\":{\"errno_value\":22,"
                "\"message\":\"Invalid argument\"}}");
}

TEST(format_status_reply) {
        Gw__Envelope env;
        Gw__StatusReply rep = GW__STATUS_REPLY__INIT;
        Gw__ServiceState s1 = GW__SERVICE_STATE__INIT;
        Gw__LineStatus l1 = GW__LINE_STATUS__INIT;
        Gw__ServiceState *services[] = { &s1 };
        Gw__LineStatus *lines[] = { &l1 };

        envelope_init(&env, GW__SERVICE__SERVICE_GWSUPD);
        s1.service = GW__SERVICE__SERVICE_REGD;
        s1.state = GW__SERVICE_RUN_STATE__RUN_STATE_FAILED;
        rep.n_services = 1;
        rep.services = services;
        l1.port = 1;
        l1.number = (char *) "1001";
        l1.registration = GW__REG_STATE__REG_FAILED;
        l1.reason = (char *) "403";
        l1.has_expires_in_s = true;
        l1.expires_in_s = -1;
        rep.n_lines = 1;
        rep.lines = lines;
        env.body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        env.status_reply = &rep;
        env.has_correlation_id = true;
        env.correlation_id = 1;
        check_envelope(&env, NULL,
                REAL_TS " gwsupd - seq=7 corr=1 StatusReply services=[{service=SERVICE_REGD state=RUN_STATE_FAILED}] "
                "lines=[{port=1 number=\"1001\" registration=REG_FAILED reason=\"403\" expires_in_s=-1}]",
                "{\"time\":\"" REAL_TS "\",\"source\":\"gwsupd\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"\",\"correlation_id\":1,\"type\":\"StatusReply\",\"body\":{\"services\":"
                "[{\"service\":\"SERVICE_REGD\",\"state\":\"RUN_STATE_FAILED\"}],\"lines\":[{\"port\":1,"
                "\"number\":\"1001\",\"registration\":\"REG_FAILED\",\"reason\":\"403\",\"expires_in_s\":-1}]}}");
}

TEST(format_bytes_truncated) {
        Gw__Envelope env;
        Gw__BenchPing bp = GW__BENCH_PING__INIT;
        uint8_t payload[100];
        _cleanup_free_ char *text = NULL, *json = NULL, *small = NULL;

        for (size_t i = 0; i < sizeof(payload); i++)
                payload[i] = (uint8_t) i;
        bp.has_n = true;
        bp.n = 1;
        bp.has_payload = true;
        bp.payload.data = payload;
        bp.payload.len = sizeof(payload);
        text = fmt(&bp, 0);
        ASSERT_STREQ(text, "n=1 payload=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f...(100 bytes)");
        json = fmt(&bp, GW_FORMAT_JSON);
        ASSERT_STREQ(json, "{\"n\":1,\"payload\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f...(100 bytes)\"}");
        assert_json(json);

        bp.payload.len = 3;
        small = fmt(&bp, 0);
        ASSERT_STREQ(small, "n=1 payload=000102");

        envelope_init(&env, GW__SERVICE__SERVICE_BENCH);
        bp.payload.len = 0;
        env.body_case = GW__ENVELOPE__BODY_BENCH_PING;
        env.bench_ping = &bp;
        check_envelope(&env, "BenchPing",
                REAL_TS " bench BenchPing seq=7 BenchPing n=1 payload=\"\"",
                "{\"time\":\"" REAL_TS "\",\"source\":\"bench\",\"instance_id\":\"1122334455667788\","
                "\"seq\":7,\"topic\":\"BenchPing\",\"type\":\"BenchPing\",\"body\":{\"n\":1,\"payload\":\"\"}}");
}

TEST(format_string_escaping) {
        Gw__ErrorReply er = GW__ERROR_REPLY__INIT;
        _cleanup_free_ char *text = NULL, *json = NULL;

        er.errno_value = -1;
        /* quote, backslash, newline, a control char, DEL, valid UTF-8 (é, €), an invalid byte,
         * a truncated sequence, an overlong '/' and a UTF-16 surrogate. */
        er.message = (char *) "a\"b\\c\nd\x01\x7f" "\xc3\xa9\xe2\x82\xac" "\xff" "\xe2\x82" "\xc0\xaf" "\xed\xa0\x80";
        text = fmt(&er, 0);
        ASSERT_STREQ(text, "errno_value=-1 message=\"a\\\"b\\\\c\\nd\\u0001\\u007f\xc3\xa9\xe2\x82\xac\\u00ff"
                           "\\u00e2\\u0082\\u00c0\\u00af\\u00ed\\u00a0\\u0080\"");
        json = fmt(&er, GW_FORMAT_JSON);
        assert_json(json);
        assert_contains(json, "\\u0001");
}

/* Secrets print as *** by type, wherever they are; their bytes never appear. */
TEST(format_secret_masking) {
        Gwtest__Everything ev = GWTEST__EVERYTHING__INIT;
        Gw__Secret pw = GW__SECRET__INIT, k1 = GW__SECRET__INIT, k2 = GW__SECRET__INIT, otp = GW__SECRET__INIT;
        Gw__Secret *keys[] = { &k1, &k2 };
        static char pw_value[] = "hunter2-TOPSECRET";
        GwFormatFlags all_flags[] = { 0, GW_FORMAT_JSON, GW_FORMAT_DEFAULTS, GW_FORMAT_JSON | GW_FORMAT_DEFAULTS };

        pw.has_value = true;
        pw.value.data = (uint8_t *) pw_value;
        pw.value.len = strlen(pw_value);
        k1 = pw;
        k2 = pw;
        otp = pw;
        ev.user = (char *) "alice";
        ev.password = &pw;
        ev.n_keys = 2;
        ev.keys = keys;
        ev.choice_case = GWTEST__EVERYTHING__CHOICE_OTP;
        ev.otp = &otp;

        /* Also through the wire, where the secret is a plain length-delimited field. */
        size_t len = gwtest__everything__get_packed_size(&ev);
        _cleanup_free_ uint8_t *buf = malloc(len);
        ASSERT_NOT_NULL(buf);
        ASSERT_EQ(gwtest__everything__pack(&ev, buf), len);
        Gwtest__Everything *rx = gwtest__everything__unpack(NULL, len, buf);
        ASSERT_NOT_NULL(rx);

        const void *msgs[] = { &ev, rx, &pw };
        for (size_t m = 0; m < ELEMENTSOF(msgs); m++)
                for (size_t i = 0; i < ELEMENTSOF(all_flags); i++) {
                        _cleanup_free_ char *s = fmt(msgs[m], all_flags[i]);

                        assert_not_contains(s, "hunter2");
                        assert_not_contains(s, "68756e74657232");   /* hex of "hunter2" */
                        assert_not_contains(s, "TOPSECRET");
                        if (all_flags[i] & GW_FORMAT_JSON)
                                assert_json(s);
                }

        _cleanup_free_ char *text = fmt(rx, 0);
        ASSERT_STREQ(text, "user=\"alice\" password=*** keys=[*** ***] otp=***");
        _cleanup_free_ char *json = fmt(rx, GW_FORMAT_JSON);
        ASSERT_STREQ(json, "{\"user\":\"alice\",\"password\":\"***\",\"keys\":[\"***\",\"***\"],\"otp\":\"***\"}");
        _cleanup_free_ char *top = fmt(&pw, 0);
        ASSERT_STREQ(top, "***");
        gwtest__everything__free_unpacked(rx, NULL);
}

TEST(format_every_scalar_kind) {
        Gwtest__Everything ev = GWTEST__EVERYTHING__INIT;
        Gwtest__Inner in1 = GWTEST__INNER__INIT, in2 = GWTEST__INNER__INIT;
        Gwtest__Inner *inners[] = { &in1, &in2 };
        uint32_t ids[] = { 1, 2, 3 };
        char *names[] = { (char *) "x", (char *) "y z" };
        Gwtest__Color colors[] = { GWTEST__COLOR__COLOR_GREEN, 7 };
        _cleanup_free_ char *empty = NULL, *dflt = NULL, *text = NULL, *json = NULL;

        /* Nothing set: nothing printed; with defaults: the scalars' defaults. */
        empty = fmt(&ev, 0);
        ASSERT_STREQ(empty, "");
        dflt = fmt(&ev, GW_FORMAT_DEFAULTS);
        ASSERT_STREQ(dflt, "keys=[] blob=\"\" neg=0 ratio=0 f=0 flag=false ids=[] names=[] color=COLOR_RED colors=[] "
                           "inners=[] with_default=\"dflt\" big=0 sf=0 with_num_default=5060");

        ev.choice_case = GWTEST__EVERYTHING__CHOICE_NOTE;
        ev.note = (char *) "n";
        ev.has_neg = true;
        ev.neg = -5;
        ev.has_ratio = true;
        ev.ratio = 0.25;
        ev.has_f = true;
        ev.f = 1.5f;
        ev.has_flag = true;
        ev.flag = true;
        ev.n_ids = 3;
        ev.ids = ids;
        ev.n_names = 2;
        ev.names = names;
        ev.has_color = true;
        ev.color = GWTEST__COLOR__COLOR_GREEN;
        ev.n_colors = 2;
        ev.colors = colors;        /* 7: a value a newer build added, printed as a number */
        in1.has_a = true;
        in1.a = 1;
        in2.s = (char *) "q";
        ev.inner = &in1;
        ev.n_inners = 2;
        ev.inners = inners;
        ev.with_default = (char *) "set";
        ev.has_big = true;
        ev.big = INT64_MIN;
        ev.has_sf = true;
        ev.sf = -1;

        text = fmt(&ev, 0);
        ASSERT_STREQ(text, "note=\"n\" neg=-5 ratio=0.25 f=1.5 flag=true ids=[1 2 3] names=[\"x\" \"y z\"] "
                           "color=COLOR_GREEN colors=[COLOR_GREEN 7] inner={a=1} inners=[{a=1} {s=\"q\"}] "
                           "with_default=\"set\" big=-9223372036854775808 sf=-1");
        json = fmt(&ev, GW_FORMAT_JSON);
        ASSERT_STREQ(json, "{\"note\":\"n\",\"neg\":-5,\"ratio\":0.25,\"f\":1.5,\"flag\":true,\"ids\":[1,2,3],"
                           "\"names\":[\"x\",\"y z\"],\"color\":\"COLOR_GREEN\",\"colors\":[\"COLOR_GREEN\",7],"
                           "\"inner\":{\"a\":1},\"inners\":[{\"a\":1},{\"s\":\"q\"}],\"with_default\":\"set\","
                           "\"big\":-9223372036854775808,\"sf\":-1}");
        assert_json(json);
}

/* Fields this build does not know: #<number>(<len> bytes), never their content. */
TEST(format_unknown_fields) {
        Gw__Envelope env;
        Gw__GatewayStopping gs = GW__GATEWAY_STOPPING__INIT;
        /* field 60, length-delimited "abc"; field 61, varint 300 (2 bytes) */
        static const uint8_t extra[] = { 0xE2, 0x03, 0x03, 'a', 'b', 'c', 0xE8, 0x03, 0xAC, 0x02 };
        Gw__Envelope *rx;
        _cleanup_free_ char *text = NULL, *json = NULL, *t2 = NULL, *j2 = NULL, *generic = NULL;

        /* A body case this build lacks, in place of a known one. */
        envelope_init(&env, GW__SERVICE__SERVICE_SIGD);
        rx = roundtrip(&env, extra, sizeof(extra));
        ASSERT_EQ(rx->body_case, GW__ENVELOPE__BODY__NOT_SET);
        ASSERT_EQ(rx->base.n_unknown_fields, 2);
        text = fmt_env("Future/1", rx, 0);
        ASSERT_STREQ(text, REAL_TS " sigd Future/1 seq=7 #60(3 bytes) #61(2 bytes)");
        json = fmt_env("Future/1", rx, GW_FORMAT_JSON);
        ASSERT_STREQ(json, "{\"time\":\"" REAL_TS "\",\"source\":\"sigd\",\"instance_id\":\"1122334455667788\","
                           "\"seq\":7,\"topic\":\"Future/1\",\"type\":\"#60\",\"body\":null,"
                           "\"unknown\":{\"#60\":\"(3 bytes)\",\"#61\":\"(2 bytes)\"}}");
        assert_json(json);
        assert_not_contains(json, "abc");
        generic = fmt(rx, 0);
        assert_contains(generic, "#60(3 bytes) #61(2 bytes)");
        gw__envelope__free_unpacked(rx, NULL);

        /* Beside a known body, and the same number twice (merged in JSON). */
        static const uint8_t twice[] = { 0xE2, 0x03, 0x01, 'x', 0xE2, 0x03, 0x02, 'y', 'z' };
        gs.deadline_ms = 5;
        env.body_case = GW__ENVELOPE__BODY_GATEWAY_STOPPING;
        env.gateway_stopping = &gs;
        rx = roundtrip(&env, twice, sizeof(twice));
        t2 = fmt_env("GatewayStopping", rx, 0);
        ASSERT_STREQ(t2, REAL_TS " sigd GatewayStopping seq=7 GatewayStopping deadline_ms=5 #60(1 bytes) #60(2 bytes)");
        j2 = fmt_env("GatewayStopping", rx, GW_FORMAT_JSON);
        ASSERT_STREQ(j2, "{\"time\":\"" REAL_TS "\",\"source\":\"sigd\",\"instance_id\":\"1122334455667788\","
                         "\"seq\":7,\"topic\":\"GatewayStopping\",\"type\":\"GatewayStopping\","
                         "\"body\":{\"deadline_ms\":5},\"unknown\":{\"#60\":\"(3 bytes)\"}}");
        assert_json(j2);
        gw__envelope__free_unpacked(rx, NULL);
}

/* Every body case in the descriptor, even ones added after this test was
 * written, formats to valid JSON and names its type. */
TEST(format_every_body_case_generic) {
        const ProtobufCMessageDescriptor *d = &gw__envelope__descriptor;
        unsigned n = 0;

        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *fd = &d->fields[i];
                const ProtobufCMessageDescriptor *bd = fd->descriptor;
                Gw__Envelope env;
                _cleanup_free_ ProtobufCMessage *body = NULL;
                _cleanup_free_ char *text = NULL, *json = NULL;
                Gw__Envelope *rx;

                if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
                        continue;
                body = calloc(1, bd->sizeof_message);
                ASSERT_NOT_NULL(body);
                bd->message_init(body);
                envelope_init(&env, GW__SERVICE__SERVICE_REGD);
                env.body_case = (Gw__Envelope__BodyCase) fd->id;
                *(ProtobufCMessage **) ((char *) &env + fd->offset) = body;

                rx = roundtrip(&env, NULL, 0);
                ASSERT_EQ(rx->body_case, fd->id);
                text = fmt_env("T", rx, 0);
                assert_contains(text, bd->short_name);
                json = fmt_env("T", rx, GW_FORMAT_JSON);
                assert_json(json);
                assert_contains(json, bd->short_name);
                gw__envelope__free_unpacked(rx, NULL);
                n++;
        }
        ASSERT_TRUE(n >= 13);
}

/* Mutated wire bytes: whatever unpacks must format to one valid JSON line,
 * never crash (run under ASan/valgrind). Fixed seed: reproducible. */
TEST(format_mutated_envelopes) {
        Gw__Envelope env;
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        Gw__ProxyEntryStatus pe = GW__PROXY_ENTRY_STATUS__INIT;
        Gw__ProxyCounters pc = GW__PROXY_COUNTERS__INIT;
        Gw__ProxyEntryStatus *proxies[] = { &pe, &pe };
        uint8_t orig[512], buf[512];
        size_t len;
        unsigned seed = 12345, unpacked = 0;
        _cleanup_free_ char *all = NULL;
        size_t all_len = 0;
        FILE *lines = open_memstream(&all, &all_len);
        FILE *p;
        int status;

        ASSERT_NOT_NULL(lines);
        envelope_init(&env, GW__SERVICE__SERVICE_REGD);
        ps.name = (char *) "main";
        ps.active_proxy = (char *) "sip.example.net";
        ps.n_proxies = 2;
        ps.proxies = proxies;
        pe.address = (char *) "sip.example.net:5060";
        pe.last_failure_reason = (char *) "timeout";
        pc.has_sent = true;
        pc.sent = 300;
        pe.counters = &pc;
        env.body_case = GW__ENVELOPE__BODY_PROFILE_STATUS;
        env.profile_status = &ps;
        len = gw__envelope__get_packed_size(&env);
        ASSERT_TRUE(len <= sizeof orig);
        gw__envelope__pack(&env, orig);

        for (unsigned i = 0; i < 3000; i++) {
                Gw__Envelope *rx;

                memcpy(buf, orig, len);
                for (unsigned k = 0; k < 1 + i % 4; k++)
                        buf[rand_r(&seed) % len] = (uint8_t) rand_r(&seed);
                rx = gw__envelope__unpack(NULL, len, buf);
                if (!rx)
                        continue;
                unpacked++;
                _cleanup_free_ char *text = fmt_env("T", rx, 0);
                ASSERT_TRUE(strchr(text, '\n') == NULL);     /* one line, whatever the strings hold */
                ASSERT_OK(gw_format_envelope(lines, "T", rx, GW_FORMAT_JSON));
                fputc('\n', lines);
                gw__envelope__free_unpacked(rx, NULL);
        }
        ASSERT_EQ(fclose(lines), 0);
        ASSERT_TRUE(unpacked > 100);

        p = popen("python3 -c 'import json,sys\nfor l in sys.stdin: json.loads(l)'", "w");
        ASSERT_NOT_NULL(p);
        fputs(all, p);
        status = pclose(p);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(format_errors) {
        char *s = NULL;

        ASSERT_ERROR(gw_format_message_to_string(NULL, 0, &s), EINVAL);
        ASSERT_TRUE(s == NULL);
        ASSERT_ERROR(gw_format_envelope(stdout, "x", NULL, 0), EINVAL);
}

DEFINE_TEST_MAIN
