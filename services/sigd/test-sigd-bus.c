/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sigd-bus.c: a call driven over the real bus. In-process endpoints
 * stand where linehwd (hook: LineHwState), mediad (DigitDetected) and regd
 * (ProfileStatus; it hears EntryReport) sit; sigd is the manager with its
 * real handler table (sigd-bus.c), and SIPp answers the call on loopback. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "gw-build-config.h"
#include "gw-bus.h"
#include "gw-log.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "sigd-bus.h"
#include "sigd-manager.h"

DEFINE_TEST_MAIN

typedef struct Peer {
        unsigned line_calls, syncs_answered;
        Gw__CallState state;
        bool reversed;
        Gw__Tone tone;
        bool rtp;
        unsigned media_controls;
        char report[128];
        Gw__Service last_source;
} Peer;

static int on_line_call(GwBus *bus, const Gw__Envelope *env, void *u) {
        Peer *p = u;
        if (env->line_call->port != 1)
                return 0;
        p->line_calls++;
        p->state = env->line_call->state;
        p->last_source = env->source;
        return 0;
}

static int on_line_control(GwBus *bus, const Gw__Envelope *env, void *u) {
        Peer *p = u;
        if (env->line_control->port == 1)
                p->reversed = env->line_control->polarity == GW__POLARITY__POLARITY_REVERSED;
        return 0;
}

static int on_media_control(GwBus *bus, const Gw__Envelope *env, void *u) {
        Peer *p = u;
        if (env->media_control->port != 1)
                return 0;
        p->media_controls++;
        p->tone = env->media_control->tone;
        p->rtp = env->media_control->rtp != NULL;
        return 0;
}

static int on_entry_report(GwBus *bus, const Gw__Envelope *env, void *u) {
        Peer *p = u;
        const Gw__EntryReport *er = env->entry_report;

        if (p->report[0])
                return 0;               /* the attempt's first report: its first provisional */
        snprintf(p->report, sizeof p->report, "%s %s %u%s", er->profile, er->proxy, er->status_code,
                 er->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE ? "" : " not-a-response");
        return 0;
}

static uint64_t invite_usec;

static int on_tx(Manager *m, const char *buf, size_t n, const struct sockaddr *to, socklen_t tolen, void *u) {
        if (!invite_usec && n > 7 && memcmp(buf, "INVITE ", 7) == 0)
                invite_usec = now_usec(CLOCK_MONOTONIC);
        return 0;
}

static const GwBusHandler line_table[] = {
        [GW__ENVELOPE__BODY_LINE_CALL] = { "LineCall", on_line_call, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
        [GW__ENVELOPE__BODY_LINE_CONTROL] = { "LineControl", on_line_control, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
};
static const GwBusHandler media_table[] = {
        [GW__ENVELOPE__BODY_MEDIA_CONTROL] = { "MediaControl", on_media_control, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
};
static const GwBusHandler regd_table[] = {
        [GW__ENVELOPE__BODY_ENTRY_REPORT] = { "EntryReport", on_entry_report, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
};

#define RUN_UNTIL(e, cond, max_ms) GW_TEST_ASSERT_RUN_UNTIL(e, cond, (max_ms) * USEC_PER_MSEC)

/* ZeroMQ connects late and drops what is published before a subscriber's subscription
 * arrives: wait until each side's PUB knows the other subscribed. (Counting sigd's
 * LineCall answers to repeated StateSyncRequests could not tell an answer to this peer
 * from a late one to another: digits then went to a sigd that did not hear them yet.) */
static void join(sd_event *e, GwBus *b, GwBus *sigd) {
        RUN_UNTIL(e, gw_bus_peer_listening(b, GW__SERVICE__SERVICE_SIGD) &&
                     gw_bus_peer_listening(sigd, gw_bus_self(b)), 10000);
}

static void publish_hook(GwBus *b, bool off) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineHwState h = GW__LINE_HW_STATE__INIT;

        h.port = 1;
        h.hook = off ? GW__HOOK_STATE__HOOK_OFF : GW__HOOK_STATE__HOOK_ON;
        env.body_case = GW__ENVELOPE__BODY_LINE_HW_STATE;
        env.line_hw_state = &h;
        ASSERT_OK(gw_bus_publish_auto(b, "1", &env));
}

static void publish_digit(GwBus *b, const char *d) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__DigitDetected dd = GW__DIGIT_DETECTED__INIT;

        dd.port = 1;
        dd.digit = UNCONST(d);
        dd.has_source = true;
        dd.source = GW__DIGIT_SOURCE__DIGIT_INBAND;
        env.body_case = GW__ENVELOPE__BODY_DIGIT_DETECTED;
        env.digit_detected = &dd;
        ASSERT_OK(gw_bus_publish_auto(b, "1", &env));
}

TEST(call_over_the_bus) {
        const char *sipp = gw_test_require_program("sipp");
        const char *dir = gw_test_tmpdir("test-sigd-bus");
        char text[1024], port_s[16], mport_s[16], *err = NULL;
        GwConf *conf = NULL;
        sd_event *e = NULL;
        Manager *m = NULL;
        GwBus *sigd = NULL, *line = NULL, *media = NULL, *regd = NULL;
        Peer lp = {}, mp = {}, rp = {};
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        uint64_t t_last = 0;
        int status;
        pid_t pid;

        log_open("test-sigd-bus");
        snprintf(text, sizeof text,
                 "sip:\n  listen: 127.0.0.1:5060\n  trusted_sources: [\"127.0.0.0/8\"]\n"
                 "profiles:\n  - name: p\n    proxy: 127.0.0.2:%u\n    domain: test.invalid\n"
                 "    dial_plan: \"[2-9]xxx\"\n"
                 "lines:\n  - port: 1\n    number: \"1001\"\n"
                 "bus:\n  runtime_dir: %s\n", port, dir);
        if (gw_conf_load_string("test.yaml", text, &conf, &err) < 0)
                GW_TEST_FAIL("config: %s", err);
        ((struct sockaddr_in *) &conf->sip_listen_addr)->sin_port = 0;

        snprintf(port_s, sizeof port_s, "%u", port);
        snprintf(mport_s, sizeof mport_s, "%u", gw_test_port(SOCK_DGRAM, "127.0.0.2", 3, NULL));   /* and + 2 */
        pid = gw_test_spawn((char *const[]) { UNCONST(sipp), "-sf", GW_SOURCE_ROOT "/tests/integration/sipp/call-uas-answer.xml",
                                              "-i", "127.0.0.2", "-p", port_s, "-mi", "127.0.0.2", "-mp", mport_s, "-m", "1",
                                              "-timeout", "30s", "-timeout_error", "-nostdin", NULL },
                            NULL, GW_TEST_SPAWN_NULL_STDOUT | GW_TEST_SPAWN_DIE_WITH_TEST);

        /* The INVITE must not find the port closed (a transport error) because SIPp is slow to start. */
        ASSERT_TRUE(gw_test_port_wait_bound(NULL, SOCK_DGRAM, "127.0.0.2", port, 10 * USEC_PER_SEC));

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(manager_new(e, conf, &m));
        ASSERT_OK(manager_start(m));
        manager_set_tx_hook(m, on_tx, NULL);
        ASSERT_OK(gw_bus_new(e, conf, GW__SERVICE__SERVICE_SIGD, &sigd));
        ASSERT_OK(sigd_bus_attach(sigd, m));

        ASSERT_OK(gw_bus_new(e, conf, GW__SERVICE__SERVICE_LINEHWD, &line));
        gw_bus_set_handlers(line, line_table, ELEMENTSOF(line_table), &lp);
        ASSERT_OK(gw_bus_subscribe(line, "LineCall"));
        ASSERT_OK(gw_bus_subscribe(line, "LineControl"));
        ASSERT_OK(gw_bus_new(e, conf, GW__SERVICE__SERVICE_MEDIAD, &media));
        gw_bus_set_handlers(media, media_table, ELEMENTSOF(media_table), &mp);
        ASSERT_OK(gw_bus_subscribe(media, "MediaControl"));
        ASSERT_OK(gw_bus_new(e, conf, GW__SERVICE__SERVICE_REGD, &regd));
        gw_bus_set_handlers(regd, regd_table, ELEMENTSOF(regd_table), &rp);
        ASSERT_OK(gw_bus_subscribe(regd, "EntryReport"));

        join(e, line, sigd);
        join(e, media, sigd);
        join(e, regd, sigd);
        /* Nobody asked: sigd published its lines when linehwd subscribed to it. */
        RUN_UNTIL(e, lp.line_calls > 0, 10000);
        ASSERT_EQ(lp.state, GW__CALL_STATE__CALL_IDLE);
        ASSERT_EQ(lp.last_source, GW__SERVICE__SERVICE_SIGD);

        /* A DigitDetected from the wrong sender (linehwd) is dropped by the table. */
        publish_hook(line, true);
        RUN_UNTIL(e, lp.state == GW__CALL_STATE__CALL_DIALING && mp.tone == GW__TONE__TONE_DIAL, 10000);
        publish_digit(line, "9");
        for (unsigned k = 0; k < 10; k++)
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        ASSERT_EQ(mp.tone, GW__TONE__TONE_DIAL);
        for (const char *d = "2001"; *d; d++) {
                char s[2] = { *d, 0 };
                if (!d[1])
                        t_last = now_usec(CLOCK_MONOTONIC);
                publish_digit(media, s);
        }
        RUN_UNTIL(e, invite_usec > 0, 10000);
        fprintf(stderr, "post-dial delay over the bus (last DigitDetected published -> INVITE on the wire): %.3f ms\n",
                (double) (invite_usec - t_last) / 1000.0);
        RUN_UNTIL(e, lp.state == GW__CALL_STATE__CALL_CONNECTED, 10000);
        ASSERT_TRUE(lp.reversed);
        RUN_UNTIL(e, mp.rtp, 10000);
        RUN_UNTIL(e, rp.report[0], 10000);
        snprintf(text, sizeof text, "p 127.0.0.2:%u 100", port);
        ASSERT_STREQ(rp.report, text);

        publish_hook(line, false);
        RUN_UNTIL(e, lp.state == GW__CALL_STATE__CALL_IDLE && !lp.reversed && !mp.rtp, 10000);
        if (gw_test_wait_exit(e, pid, 10 * USEC_PER_SEC, &status) < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                GW_TEST_FAIL("sipp did not finish");
        }
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        gw_bus_free(regd);
        gw_bus_free(media);
        gw_bus_free(line);
        gw_bus_free(sigd);
        manager_free(m);
        sd_event_unref(e);
        gw_conf_free(conf);
        gw_test_rm_rf(dir);
}
