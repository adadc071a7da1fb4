/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sigd-call.c: call control through real SIP on loopback. SIPp plays the
 * far end (tests/integration/sipp/call-*.xml): a callee behind the profile's
 * entries on 127.0.0.2/127.0.0.3, or a caller from 127.0.0.4. The line side
 * is driven the way linehwd and mediad report it (hook, digits), and what
 * sigd publishes (LineControl, MediaControl, LineCall, CallEvent, EntryReport)
 * is recorded from the manager's publish callback. */
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
#include "sigd-line.h"
#include "sigd-manager.h"
#include "test-sigd-sipp.h"

DEFINE_TEST_MAIN

#define SCEN GW_SOURCE_ROOT "/tests/integration/sipp/"

typedef struct Seen {
        bool ring, reversed, rtp;
        unsigned ring_ons;
        Gw__Tone tone;
        char rtp_ip[64];
        uint32_t rtp_port, rtp_pt, rtp_local_port;
        Gw__MediaDirection rtp_dir;
        bool saw_recvonly;
        uint64_t generation[3];         /* per port */
        Gw__CallState state;
        char events[8][48];             /* "start", "answer", "end:busy:486" */
        unsigned n_events;
        char reports[8][96];            /* what happened: "127.0.0.2:5060 100", "... 200 after 18x", "... timeout" */
        unsigned n_reports;
        /* INVITEs as sent: destination port, Call-ID, CSeq line, branch */
        unsigned n_invites;
        uint16_t invite_port[4];
        char invite_call_id[4][128], invite_cseq[4][32], invite_branch[4][64];
        uint64_t invite_usec;
        /* SRTP: what MediaControl said, and the last SDP we sent (INVITE or 2xx) */
        bool ever_rtp;
        char srtp_suite[32];
        uint8_t tx_key[SDP_KEY_SALT_LEN], rx_key[SDP_KEY_SALT_LEN];
        char sdp_out[4096];
} Seen;

static void on_publish(Manager *m, const char *key, Gw__Envelope *env, void *u) {
        Seen *s = u;

        switch (env->body_case) {
        case GW__ENVELOPE__BODY_LINE_CONTROL:
                if (env->line_control->ring && !s->ring)
                        s->ring_ons++;
                s->ring = env->line_control->ring;
                s->reversed = env->line_control->polarity == GW__POLARITY__POLARITY_REVERSED;
                break;
        case GW__ENVELOPE__BODY_MEDIA_CONTROL: {
                const Gw__MediaControl *mc = env->media_control;
                ASSERT_TRUE(mc->port < ELEMENTSOF(s->generation));
                ASSERT_TRUE(mc->generation >= s->generation[mc->port]);  /* never goes back */
                s->generation[mc->port] = mc->generation;
                s->tone = mc->tone;
                s->rtp = mc->rtp != NULL;
                if (mc->rtp) {
                        snprintf(s->rtp_ip, sizeof s->rtp_ip, "%s", strempty(mc->rtp->remote_ip));
                        s->rtp_port = mc->rtp->remote_port;
                        s->rtp_pt = mc->rtp->payload_type;
                        s->rtp_dir = mc->rtp->direction;
                        s->saw_recvonly = s->saw_recvonly || s->rtp_dir == GW__MEDIA_DIRECTION__DIRECTION_RECVONLY;
                        s->rtp_local_port = mc->rtp->local_port;
                        s->ever_rtp = true;
                        snprintf(s->srtp_suite, sizeof s->srtp_suite, "%s", strempty(mc->rtp->srtp_suite));
                        if (!isempty(mc->rtp->srtp_suite)) {
                                ASSERT_TRUE(mc->rtp->srtp_tx_key && mc->rtp->srtp_tx_key->has_value);
                                ASSERT_TRUE(mc->rtp->srtp_rx_key && mc->rtp->srtp_rx_key->has_value);
                                ASSERT_EQ(mc->rtp->srtp_tx_key->value.len, SDP_KEY_SALT_LEN);
                                ASSERT_EQ(mc->rtp->srtp_rx_key->value.len, SDP_KEY_SALT_LEN);
                                memcpy(s->tx_key, mc->rtp->srtp_tx_key->value.data, SDP_KEY_SALT_LEN);
                                memcpy(s->rx_key, mc->rtp->srtp_rx_key->value.data, SDP_KEY_SALT_LEN);
                        } else
                                ASSERT_TRUE(!mc->rtp->srtp_tx_key && !mc->rtp->srtp_rx_key);
                }
                break;
        }
        case GW__ENVELOPE__BODY_LINE_CALL:
                s->state = env->line_call->state;
                break;
        case GW__ENVELOPE__BODY_CALL_EVENT: {
                const Gw__CallEvent *ce = env->call_event;
                ASSERT_TRUE(s->n_events < ELEMENTSOF(s->events));
                if (ce->kind == GW__CALL_EVENT_KIND__CALL_EVENT_START)
                        snprintf(s->events[s->n_events++], 48, "start");
                else if (ce->kind == GW__CALL_EVENT_KIND__CALL_EVENT_ANSWER)
                        snprintf(s->events[s->n_events++], 48, "answer:%s", strempty(ce->codec));
                else
                        snprintf(s->events[s->n_events++], 48, "end:%s:%u", strempty(ce->cause), ce->sip_status);
                break;
        }
        case GW__ENVELOPE__BODY_ENTRY_REPORT: {
                const Gw__EntryReport *er = env->entry_report;
                ASSERT_TRUE(s->n_reports < ELEMENTSOF(s->reports));
                ASSERT_STREQ(key, "p");
                char what[48];

                if (er->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE)
                        snprintf(what, sizeof what, "%u%s", er->status_code,
                                 er->got_18x ? " after 18x" : er->got_provisional ? " after 1xx" : "");
                else
                        snprintf(what, sizeof what, "%s",
                                 er->kind == GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT ? "timeout" : "transport");
                if (er->has_retry_after_s)
                        snprintf(what + strlen(what), sizeof what - strlen(what), " retry-after %d", er->retry_after_s);
                snprintf(s->reports[s->n_reports++], 96, "%s %s", strempty(er->target), what);
                break;
        }
        default:
                break;
        }
}

static void header_value(const char *buf, size_t n, const char *name, char *out, size_t outn) {
        const char *p = memmem(buf, n, name, strlen(name));
        size_t k;

        out[0] = 0;
        if (!p)
                return;
        p += strlen(name);
        k = strcspn(p, "\r\n");
        snprintf(out, outn, "%.*s", (int) MIN(k, outn - 1), p);
}

static int on_tx(Manager *m, const char *buf, size_t n, const struct sockaddr *to, socklen_t tolen, void *u) {
        Seen *s = u;

        if (n > 7 && memcmp(buf, "INVITE ", 7) == 0 && s->n_invites < 4) {
                unsigned i = s->n_invites;
                const char *br;
                /* retransmissions of the same transaction are not a new attempt */
                header_value(buf, n, "\nVia: ", s->invite_branch[i], sizeof s->invite_branch[i]);
                br = strstr(s->invite_branch[i], "branch=");
                if (br)
                        memmove(s->invite_branch[i], br + 7, strlen(br + 7) + 1);
                if (i == 0 || !streq(s->invite_branch[i], s->invite_branch[i - 1])) {
                        s->invite_port[i] = ntohs(((const struct sockaddr_in *) to)->sin_port);
                        header_value(buf, n, "\nCall-ID: ", s->invite_call_id[i], sizeof s->invite_call_id[i]);
                        header_value(buf, n, "\nCSeq: ", s->invite_cseq[i], sizeof s->invite_cseq[i]);
                        if (i == 0)
                                s->invite_usec = now_usec(CLOCK_MONOTONIC);
                        s->n_invites++;
                }
        }
        ASSERT_TRUE(memmem(buf, n, "s3cret", 6) == NULL);           /* never on the wire */
        if ((n > 7 && memcmp(buf, "INVITE ", 7) == 0) || (n > 12 && memcmp(buf, "SIP/2.0 200 ", 12) == 0)) {
                const char *body = memmem(buf, n, "\r\n\r\nv=0", 7);
                if (body)
                        snprintf(s->sdp_out, sizeof s->sdp_out, "%.*s", (int) (buf + n - body - 4), body + 4);
        }
        return 0;
}

static pid_t sipp_start(const char *scenario, const char *addr, uint16_t port, const char *remote, const char *service) {
        return sigd_test_sipp_start("test-sigd-call", scenario, addr, port, remote, service, 0, 15);
}

typedef struct Ctx {
        sd_event *e;
        Manager *m;
        GwConf *conf;
        Seen seen;
        char listen[64];
} Ctx;

static void setup(Ctx *c, const char *main_entry, const char *redundant, const char *extra) {
        char text[2048], *err = NULL;
        struct sockaddr_in sin;
        socklen_t len = sizeof sin;

        log_open("test-sigd-call");
        snprintf(text, sizeof text,
                 "sip:\n  listen: 127.0.0.1:5060\n  trusted_sources: [\"127.0.0.0/8\"]\n"
                 "profiles:\n  - name: p\n    proxy: %s\n%s%s%s    domain: test.invalid\n"
                 "    dial_plan: \"[2-9]xxx|*xx#|0T|112\"\n    interdigit_timeout: 500ms\n"
                 "    invite_total_timeout: 1s\n%s%s"
                 "lines:\n  - port: 1\n    number: \"1001\"\n    password: s3cret\n"
                 "  - port: 2\n    number: \"1002\"\n",
                 main_entry, redundant ? "    redundant_proxies: [\"" : "", strempty(redundant), redundant ? "\"]\n" : "",
                 extra && strstr(extra, "no_answer_timeout") ? "" : "    no_answer_timeout: 1500ms\n", strempty(extra));
        if (gw_conf_load_string("test.yaml", text, &c->conf, &err) < 0)
                GW_TEST_FAIL("config: %s", err);
        ((struct sockaddr_in *) &c->conf->sip_listen_addr)->sin_port = 0;      /* the kernel picks */
        ASSERT_OK(sd_event_new(&c->e));
        ASSERT_OK(manager_new(c->e, c->conf, &c->m));
        ASSERT_OK(manager_start(c->m));
        manager_set_publish_callback(c->m, on_publish, &c->seen);
        manager_set_tx_hook(c->m, on_tx, &c->seen);
        ASSERT_OK(getsockname(c->m->fd, (struct sockaddr *) &sin, &len));
        snprintf(c->listen, sizeof c->listen, "127.0.0.1:%u", ntohs(sin.sin_port));
}

static void teardown(Ctx *c) {
        manager_free(c->m);
        sd_event_unref(c->e);
        gw_conf_free(c->conf);
}

/* Run the loop until cond holds (bounded). */
#define RUN_UNTIL(c, cond, max_ms) GW_TEST_ASSERT_RUN_UNTIL((c)->e, cond, (max_ms) * USEC_PER_MSEC)

static void sipp_wait(Ctx *c, pid_t pid) {
        sigd_test_sipp_wait("test-sigd-call", c->e, pid, 20 * USEC_PER_SEC);
}

static void dial(Ctx *c, unsigned port, const char *digits) {
        sigd_test_dial(c->m, port, digits);
}

static void expect_events(const Seen *s, const char *const *want, unsigned n) {
        if (s->n_events != n)
                GW_TEST_FAIL("%u call events, expected %u (first: %s, last: %s)", s->n_events, n,
                             s->n_events ? s->events[0] : "-", s->n_events ? s->events[s->n_events - 1] : "-");
        for (unsigned i = 0; i < n; i++)
                ASSERT_STREQ(s->events[i], want[i]);
}

/* EntryReport number i says 'what' happened at 'target'. */
static void expect_report(const Seen *s, unsigned i, const char *target, const char *what) {
        char want[96];

        ASSERT_TRUE(i < s->n_reports);
        snprintf(want, sizeof want, "%s %s", target, what);
        ASSERT_STREQ(s->reports[i], want);
}

TEST(outgoing_answered_then_line_hangs_up) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-answer.xml", "127.0.0.2", port, NULL, NULL);
        uint64_t t_digit;

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_DIALING);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_DIAL);
        dial(&c, 1, "200");
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_NONE);           /* dial tone stops at the first digit */
        t_digit = now_usec(CLOCK_MONOTONIC);
        dial(&c, 1, "1");                                      /* [2-9]xxx complete: at once */
        ASSERT_EQ(c.seen.n_invites, 1);
        fprintf(stderr, "post-dial delay (last digit -> INVITE on the wire): %.3f ms\n",
                (double) (c.seen.invite_usec - t_digit) / 1000.0);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_PROCEEDING);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        ASSERT_TRUE(c.seen.reversed);
        ASSERT_TRUE(c.seen.rtp);
        ASSERT_STREQ(c.seen.rtp_ip, "127.0.0.2");
        ASSERT_EQ(c.seen.rtp_pt, 8);                           /* PCMA: media.codecs' first */
        ASSERT_EQ(c.seen.rtp_local_port, gw_conf_rtp_port(c.conf, 0, 1));
        ASSERT_EQ(c.seen.rtp_dir, GW__MEDIA_DIRECTION__DIRECTION_SENDRECV);
        ASSERT_STREQ(c.seen.invite_cseq[0], "1 INVITE");
        ASSERT_OK(manager_line_hook(c.m, 1, false));           /* BYE along the record-route */
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        ASSERT_FALSE(c.seen.reversed);                         /* restored at release */
        ASSERT_FALSE(c.seen.rtp);
        sipp_wait(&c, pid);
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcma", "end:normal:0" }, 3);
        ASSERT_EQ(c.seen.n_reports, 2);
        expect_report(&c.seen, 0, entry, "100");
        expect_report(&c.seen, 1, entry, "200 after 18x");
        teardown(&c);
}

TEST(outgoing_busy) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-busy.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "*12#");                                   /* complete at once; '#' escaped in the URI */
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_BUSY);
        sipp_wait(&c, pid);
        expect_events(&c.seen, (const char *const[]) { "start", "end:busy:486" }, 2);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_NONE);
        teardown(&c);
}

TEST(outgoing_far_end_hangs_up) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-far-bye.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "3456");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_BUSY);
        ASSERT_FALSE(c.seen.rtp);
        ASSERT_FALSE(c.seen.reversed);
        sipp_wait(&c, pid);
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcma", "end:normal:0" }, 3);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        teardown(&c);
}

TEST(outgoing_early_media) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-early-media.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "5555");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RINGBACK, 5000);
        ASSERT_TRUE(c.seen.rtp);                               /* the far end's announcement, not our ringback */
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_NONE);
        ASSERT_EQ(c.seen.rtp_pt, 0);                           /* PCMU: all the 183 offered back */
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        ASSERT_TRUE(c.seen.rtp);
        ASSERT_EQ(c.seen.rtp_pt, 0);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sipp_wait(&c, pid);
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcmu", "end:normal:0" }, 3);
        teardown(&c);
}

TEST(outgoing_no_answer_is_cancelled) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-noanswer.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "7777");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RINGBACK, 5000);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_RINGBACK);      /* 180 without SDP */
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);   /* no_answer_timeout */
        sipp_wait(&c, pid);                                    /* CANCEL, 200, 487, ACK */
        expect_events(&c.seen, (const char *const[]) { "start", "end:no-answer:0" }, 2);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        teardown(&c);
}

TEST(outgoing_cancelled_by_hangup) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-noanswer.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, "    no_answer_timeout: 60s\n");
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "7777");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RINGBACK, 5000);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        sipp_wait(&c, pid);
        expect_events(&c.seen, (const char *const[]) { "start", "end:cancelled:0" }, 2);
        teardown(&c);
}

TEST(ring_408_after_180_does_not_fail_over) {
        Ctx c = {};
        char entry[64], red[64], buf[2048];
        int silent = -1;
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL), sport = gw_test_udp_port("127.0.0.3", &silent);
        pid_t pid = sipp_start(SCEN "call-uas-ring-408.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        snprintf(red, sizeof red, "127.0.0.3:%u", sport);
        setup(&c, entry, red, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2222");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        sipp_wait(&c, pid);
        expect_events(&c.seen, (const char *const[]) { "start", "end:no-answer:408" }, 2);
        ASSERT_EQ(c.seen.n_invites, 1);
        ASSERT_EQ(recv(silent, buf, sizeof buf, MSG_DONTWAIT), -1);     /* the redundant entry saw nothing */
        /* What happened, unclassified: regd's policy says the 408 after a 18x is the call's. */
        ASSERT_EQ(c.seen.n_reports, 2);
        expect_report(&c.seen, 0, entry, "100");
        expect_report(&c.seen, 1, entry, "408 after 18x");
        close(silent);
        teardown(&c);
}

TEST(failover_on_503_to_the_redundant_entry) {
        Ctx c = {};
        char entry[64], red[64];
        uint16_t p1 = gw_test_udp_port("127.0.0.2", NULL), p2 = gw_test_udp_port("127.0.0.3", NULL);
        pid_t pid1 = sipp_start(SCEN "call-uas-503.xml", "127.0.0.2", p1, NULL, NULL);
        pid_t pid2 = sipp_start(SCEN "call-uas-answer.xml", "127.0.0.3", p2, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", p1);
        snprintf(red, sizeof red, "127.0.0.3:%u", p2);
        setup(&c, entry, red, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        ASSERT_EQ(c.seen.n_invites, 2);
        ASSERT_EQ(c.seen.invite_port[0], p1);
        ASSERT_EQ(c.seen.invite_port[1], p2);
        /* the same INVITE: Call-ID and CSeq; a new branch */
        ASSERT_STREQ(c.seen.invite_call_id[0], c.seen.invite_call_id[1]);
        ASSERT_STREQ(c.seen.invite_cseq[0], c.seen.invite_cseq[1]);
        ASSERT_FALSE(streq(c.seen.invite_branch[0], c.seen.invite_branch[1]));
        ASSERT_EQ(c.seen.n_reports, 3);
        expect_report(&c.seen, 0, entry, "503");
        expect_report(&c.seen, 1, red, "100");
        expect_report(&c.seen, 2, red, "200 after 18x");
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sipp_wait(&c, pid1);
        sipp_wait(&c, pid2);
        teardown(&c);
}

TEST(failover_when_the_main_is_silent) {
        Ctx c = {};
        char entry[64], red[64];
        int silent = -1;
        uint16_t p1 = gw_test_udp_port("127.0.0.2", &silent), p2 = gw_test_udp_port("127.0.0.3", NULL);
        pid_t pid2 = sipp_start(SCEN "call-uas-answer.xml", "127.0.0.3", p2, NULL, NULL);
        uint64_t t0;

        snprintf(entry, sizeof entry, "127.0.0.2:%u", p1);
        snprintf(red, sizeof red, "127.0.0.3:%u", p2);
        setup(&c, entry, red, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        t0 = now_usec(CLOCK_MONOTONIC);
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.n_invites == 2, 5000);
        fprintf(stderr, "second entry tried after %.0f ms (invite_total_timeout 1 s)\n",
                (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0);
        ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - t0 >= 990 * USEC_PER_MSEC);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        ASSERT_STREQ(c.seen.invite_call_id[0], c.seen.invite_call_id[1]);
        expect_report(&c.seen, 0, entry, "timeout");
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sipp_wait(&c, pid2);
        close(silent);
        teardown(&c);
}

TEST(all_entries_fail_gives_congestion) {
        Ctx c = {};
        char entry[64], red[64];
        uint16_t p1 = gw_test_udp_port("127.0.0.2", NULL), p2 = gw_test_udp_port("127.0.0.3", NULL);

        /* nobody listens: ICMP port unreachable on both */
        snprintf(entry, sizeof entry, "127.0.0.2:%u", p1);
        snprintf(red, sizeof red, "127.0.0.3:%u", p2);
        setup(&c, entry, red, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 3000);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_CONGESTION);
        ASSERT_EQ(c.seen.n_reports, 2);
        expect_report(&c.seen, 0, entry, "transport");
        expect_report(&c.seen, 1, red, "transport");
        expect_events(&c.seen, (const char *const[]) { "start", "end:congestion:0" }, 2);
        teardown(&c);
}

TEST(dial_plan_no_match_and_timeouts) {
        Ctx c = {};

        setup(&c, "127.0.0.2:5", NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "#");                                      /* no alternative starts with # */
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_RELEASING);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_CONGESTION);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);

        ASSERT_OK(manager_line_hook(c.m, 1, true));            /* off hook, dials nothing */
        RUN_UNTIL(&c, c.seen.tone == GW__TONE__TONE_HOWLER, 2000);
        ASSERT_OK(manager_line_hook(c.m, 1, false));

        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "23");                                     /* partial, then the timer */
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 2000);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_CONGESTION);
        ASSERT_EQ(c.seen.n_invites, 0);
        ASSERT_OK(manager_line_hook(c.m, 1, false));

        ASSERT_ERROR(manager_line_digit(c.m, 1, "x"), EINVAL);
        ASSERT_ERROR(manager_line_digit(c.m, 1, "12"), EINVAL);
        ASSERT_ERROR(manager_line_hook(c.m, 9, true), ENOENT);
        teardown(&c);
}

TEST(unregistered_calls_refuse_but_emergency_goes) {
        Ctx c = {};
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        Gw__ProxyEntryStatus e = GW__PROXY_ENTRY_STATUS__INIT, *ep = &e;
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid;

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, "    unregistered_calls: refuse\n    emergency_numbers: [\"112\"]\n");
        ps.name = (char *) "p";
        ps.active_proxy = entry;
        e.address = entry;
        e.state = GW__PROXY_HEALTH__HEALTH_DOWN;
        ps.proxies = &ep;
        ps.n_proxies = 1;
        ASSERT_OK(manager_profile_status(c.m, &ps));
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_RELEASING);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_CONGESTION);
        ASSERT_EQ(c.seen.n_invites, 0);
        ASSERT_OK(manager_line_hook(c.m, 1, false));

        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "*11#");
        ASSERT_EQ(c.seen.n_invites, 0);                        /* refused too */
        ASSERT_OK(manager_line_hook(c.m, 1, false));

        pid = sipp_start(SCEN "call-uas-busy.xml", "127.0.0.2", port, NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "112");                                    /* emergency: always attempted */
        ASSERT_EQ(c.seen.n_invites, 1);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        sipp_wait(&c, pid);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        teardown(&c);
}

TEST(incoming_answered_far_end_hangs_up) {
        Ctx c = {};
        uint16_t port = gw_test_udp_port("127.0.0.4", NULL);
        pid_t pid;

        setup(&c, "127.0.0.2:5", NULL, NULL);
        pid = sipp_start(SCEN "call-uac-answer.xml", "127.0.0.4", port, c.listen, "1001");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_RINGING);
        ASSERT_OK(manager_line_hook(c.m, 1, true));            /* the subscriber answers */
        ASSERT_FALSE(c.seen.ring);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_CONNECTED);
        ASSERT_TRUE(c.seen.rtp);
        ASSERT_STREQ(c.seen.rtp_ip, "127.0.0.4");
        ASSERT_EQ(c.seen.rtp_pt, 8);                           /* ours first, though the offer put PCMU first */
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_BUSY);
        sipp_wait(&c, pid);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcma", "end:normal:0" }, 3);
        teardown(&c);
}

TEST(incoming_answered_line_hangs_up) {
        Ctx c = {};
        uint16_t port = gw_test_udp_port("127.0.0.4", NULL);
        pid_t pid;

        setup(&c, "127.0.0.2:5", NULL, NULL);
        pid = sipp_start(SCEN "call-uac-wait-bye.xml", "127.0.0.4", port, c.listen, "1002");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_OK(manager_line_hook(c.m, 2, true));
        RUN_UNTIL(&c, c.m->calls && !c.m->calls->ok, 3000);   /* the ACK came */
        ASSERT_OK(manager_line_hook(c.m, 2, false));           /* BYE via SIPp's record-route */
        sipp_wait(&c, pid);
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcma", "end:normal:0" }, 3);
        teardown(&c);
}

TEST(incoming_cancelled_while_ringing) {
        Ctx c = {};
        uint16_t port = gw_test_udp_port("127.0.0.4", NULL);
        pid_t pid;

        setup(&c, "127.0.0.2:5", NULL, NULL);
        pid = sipp_start(SCEN "call-uac-cancel.xml", "127.0.0.4", port, c.listen, "1001");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        sipp_wait(&c, pid);
        ASSERT_FALSE(c.seen.ring);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        expect_events(&c.seen, (const char *const[]) { "start", "end:cancelled:487" }, 2);
        ASSERT_TRUE(c.m->calls == NULL);
        teardown(&c);
}

TEST(incoming_refused_busy_unknown_bad_sdp_then_usable) {
        Ctx c = {};
        pid_t pid;

        setup(&c, "127.0.0.2:5", NULL, NULL);
        pid = sipp_start(SCEN "call-uac-unknown.xml", "127.0.0.4", gw_test_udp_port("127.0.0.4", NULL), c.listen, "9999");
        sipp_wait(&c, pid);
        pid = sipp_start(SCEN "call-uac-bad-sdp.xml", "127.0.0.4", gw_test_udp_port("127.0.0.4", NULL), c.listen, "1001");
        sipp_wait(&c, pid);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        ASSERT_EQ(c.seen.ring_ons, 0);
        ASSERT_OK(manager_line_hook(c.m, 2, true));            /* line 2 is dialling: busy */
        pid = sipp_start(SCEN "call-uac-busy.xml", "127.0.0.4", gw_test_udp_port("127.0.0.4", NULL), c.listen, "1002");
        sipp_wait(&c, pid);
        ASSERT_OK(manager_line_hook(c.m, 2, false));
        ASSERT_EQ(c.seen.n_events, 0);
        /* line 1 still takes a call after the broken SDP */
        pid = sipp_start(SCEN "call-uac-answer.xml", "127.0.0.4", gw_test_udp_port("127.0.0.4", NULL), c.listen, "1001");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        sipp_wait(&c, pid);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcma", "end:normal:0" }, 3);
        teardown(&c);
}

TEST(state_sync_republishes) {
        Ctx c = {};

        setup(&c, "127.0.0.2:5", NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        c.seen.tone = GW__TONE__TONE_NONE;
        c.seen.state = GW__CALL_STATE__CALL_IDLE;
        manager_publish_lines(c.m);                            /* line 2 last: idle; line 1 before it */
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        {
                Gw__LineCall lc = GW__LINE_CALL__INIT;
                ASSERT_OK(manager_line_call(c.m, 1, &lc));
                ASSERT_EQ(lc.state, GW__CALL_STATE__CALL_DIALING);
                ASSERT_ERROR(manager_line_call(c.m, 7, &lc), ENOENT);
        }
        teardown(&c);
}

static void set_active(Ctx *c, const char *proxy, const char *target) {
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        Gw__ProxyEntryStatus e = GW__PROXY_ENTRY_STATUS__INIT, *ep = &e;

        ps.name = (char *) "p";
        ps.active_proxy = UNCONST(proxy);
        ps.active_target = UNCONST(target);
        e.address = UNCONST(proxy);
        e.state = GW__PROXY_HEALTH__HEALTH_UP;
        ps.proxies = &ep;
        ps.n_proxies = 1;
        ASSERT_OK(manager_profile_status(c->m, &ps));
}

TEST(invite_goes_to_the_active_entry) {
        Ctx c = {};
        char entry[64], red[64], buf[2048];
        int silent = -1;
        uint16_t p1 = gw_test_udp_port("127.0.0.2", &silent), p2 = gw_test_udp_port("127.0.0.3", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-busy.xml", "127.0.0.3", p2, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", p1);
        snprintf(red, sizeof red, "127.0.0.3:%u", p2);
        setup(&c, entry, red, "    redundancy_mode: parking\n");
        set_active(&c, red, red);                               /* regd parked on redundant 1 */
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        sipp_wait(&c, pid);
        ASSERT_EQ(c.seen.n_invites, 1);
        ASSERT_EQ(c.seen.invite_port[0], p2);
        ASSERT_EQ(recv(silent, buf, sizeof buf, MSG_DONTWAIT), -1);      /* the main saw nothing */
        close(silent);
        teardown(&c);
}

/* The main said 503 with Retry-After (to a call or a REGISTER): regd holds
 * it, and calls skip it until then, even the main-first of homing by INVITE. */
TEST(invite_skips_an_entry_held_after_retry_after) {
        Ctx c = {};
        char entry[64], red[64], buf[2048];
        int silent = -1;
        uint16_t p1 = gw_test_udp_port("127.0.0.2", &silent), p2 = gw_test_udp_port("127.0.0.3", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-busy.xml", "127.0.0.3", p2, NULL, NULL);
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        Gw__ProxyEntryStatus e[2] = { GW__PROXY_ENTRY_STATUS__INIT, GW__PROXY_ENTRY_STATUS__INIT };
        Gw__ProxyEntryStatus *ep[2] = { &e[0], &e[1] };

        snprintf(entry, sizeof entry, "127.0.0.2:%u", p1);
        snprintf(red, sizeof red, "127.0.0.3:%u", p2);
        setup(&c, entry, red, "    redundancy_mode: homing\n    keepalive: invite\n");
        ps.name = (char *) "p";
        ps.active_proxy = red;
        ps.active_target = red;
        e[0].address = entry;
        e[0].state = GW__PROXY_HEALTH__HEALTH_DOWN;
        e[0].has_held_until_real_us = true;
        e[0].held_until_real_us = now_usec(CLOCK_REALTIME) + 60 * USEC_PER_SEC;
        e[1].address = red;
        e[1].state = GW__PROXY_HEALTH__HEALTH_UP;
        ps.proxies = ep;
        ps.n_proxies = 2;
        ASSERT_OK(manager_profile_status(c.m, &ps));
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        sipp_wait(&c, pid);
        ASSERT_EQ(c.seen.n_invites, 1);
        ASSERT_EQ(c.seen.invite_port[0], p2);
        ASSERT_EQ(recv(silent, buf, sizeof buf, MSG_DONTWAIT), -1);      /* the held main saw nothing */
        close(silent);
        teardown(&c);
}

TEST(invite_goes_to_the_proxy_not_the_registrar) {
        Ctx c = {};
        char entry[64], extra[128], buf[2048];
        int registrar = -1;
        uint16_t p1 = gw_test_udp_port("127.0.0.3", NULL), pr = gw_test_udp_port("127.0.0.2", &registrar);
        pid_t pid = sipp_start(SCEN "call-uas-busy.xml", "127.0.0.3", p1, NULL, NULL);

        /* Main active with its own registrar: regd's active target is the
         * registrar (REGISTER goes there), INVITEs still go to the proxy. */
        snprintf(entry, sizeof entry, "127.0.0.3:%u", p1);
        snprintf(extra, sizeof extra, "    registrar: 127.0.0.2:%u\n", pr);
        setup(&c, entry, NULL, extra);
        snprintf(extra, sizeof extra, "127.0.0.2:%u", pr);
        set_active(&c, entry, extra);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        sipp_wait(&c, pid);
        ASSERT_EQ(c.seen.n_invites, 1);
        ASSERT_EQ(c.seen.invite_port[0], p1);
        ASSERT_EQ(recv(registrar, buf, sizeof buf, MSG_DONTWAIT), -1);  /* the registrar saw no INVITE */
        close(registrar);
        teardown(&c);
}

TEST(keepalive_invite_homing_tries_the_main_first) {
        Ctx c = {};
        char entry[64], red[64];
        uint16_t p1 = gw_test_udp_port("127.0.0.2", NULL), p2 = gw_test_udp_port("127.0.0.3", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-busy.xml", "127.0.0.2", p1, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", p1);
        snprintf(red, sizeof red, "127.0.0.3:%u", p2);
        setup(&c, entry, red, "    redundancy_mode: homing\n    keepalive: invite\n");
        set_active(&c, red, red);                               /* active: redundant 1 */
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        sipp_wait(&c, pid);
        ASSERT_EQ(c.seen.n_invites, 1);
        ASSERT_EQ(c.seen.invite_port[0], p1);                  /* the main first */
        ASSERT_EQ(c.seen.n_reports, 2);
        expect_report(&c.seen, 0, entry, "100");
        expect_report(&c.seen, 1, entry, "486 after 1xx");
        teardown(&c);
}

static void header_line(const char *msg, const char *name, char *out, size_t n) {
        const char *p = strstr(msg, name);
        size_t k;

        ASSERT_NOT_NULL(p);
        k = strcspn(p, "\r\n");
        snprintf(out, n, "%.*s", (int) MIN(k, n - 1), p);
}

TEST(late_2xx_of_an_abandoned_attempt_is_acked_and_byed) {
        Ctx c = {};
        char entry[64], red[64], inv[4096], resp[4096], via[512], from[256], to[256], cid[256], cseq[64], got[4096];
        int silent = -1;
        uint16_t p1 = gw_test_udp_port("127.0.0.2", &silent), p2 = gw_test_udp_port("127.0.0.3", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-answer.xml", "127.0.0.3", p2, NULL, NULL);
        struct sockaddr_in gw = { .sin_family = AF_INET };
        bool ack = false, bye = false;
        ssize_t k;

        snprintf(entry, sizeof entry, "127.0.0.2:%u", p1);
        snprintf(red, sizeof red, "127.0.0.3:%u", p2);
        setup(&c, entry, red, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);   /* via redundant 1 */
        k = recv(silent, inv, sizeof inv - 1, MSG_DONTWAIT);
        ASSERT_TRUE(k > 0);
        inv[k] = 0;
        /* the main wakes up and answers the INVITE it got first */
        header_line(inv, "Via: ", via, sizeof via);
        header_line(inv, "From: ", from, sizeof from);
        header_line(inv, "To: ", to, sizeof to);
        header_line(inv, "Call-ID: ", cid, sizeof cid);
        header_line(inv, "CSeq: ", cseq, sizeof cseq);
        snprintf(resp, sizeof resp, "SIP/2.0 200 OK\r\n%s\r\n%s\r\n%s;tag=late1\r\n%s\r\n%s\r\n"
                 "Contact: <sip:late@127.0.0.2:%u>\r\nContent-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
                 via, from, to, cid, cseq, p1, strlen("v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8\r\n"),
                 "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8\r\n");
        inet_pton(AF_INET, "127.0.0.1", &gw.sin_addr);
        gw.sin_port = htons((uint16_t) atoi(strchr(c.listen, ':') + 1));
        while (recv(silent, got, sizeof got, MSG_DONTWAIT) > 0)
                ;                                              /* INVITE retransmissions */
        ASSERT_TRUE(sendto(silent, resp, strlen(resp), 0, (struct sockaddr *) &gw, sizeof gw) > 0);
        for (unsigned i = 0; i < 100 && !(ack && bye); i++) {
                ASSERT_OK(sd_event_run(c.e, 20 * USEC_PER_MSEC));
                while ((k = recv(silent, got, sizeof got - 1, MSG_DONTWAIT)) > 0) {
                        got[k] = 0;
                        if (strncmp(got, "ACK sip:late@127.0.0.2", 22) == 0 && strstr(got, ";tag=late1"))
                                ack = true;
                        if (strncmp(got, "BYE sip:late@127.0.0.2", 22) == 0 && strstr(got, ";tag=late1"))
                                bye = true;
                }
        }
        ASSERT_TRUE(ack);
        ASSERT_TRUE(bye);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_CONNECTED);      /* the call that won is untouched */
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sipp_wait(&c, pid);
        close(silent);
        teardown(&c);
}

TEST(incoming_hold_and_resume_by_reinvite) {
        Ctx c = {};
        uint16_t port = gw_test_udp_port("127.0.0.4", NULL);
        pid_t pid;

        setup(&c, "127.0.0.2:5", NULL, NULL);
        pid = sipp_start(SCEN "call-uac-hold.xml", "127.0.0.4", port, c.listen, "1001");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        ASSERT_EQ(c.seen.rtp_dir, GW__MEDIA_DIRECTION__DIRECTION_SENDRECV);
        RUN_UNTIL(&c, c.seen.saw_recvonly, 5000);              /* held by the far end */
        RUN_UNTIL(&c, c.seen.rtp_port == 7078 && c.seen.rtp_dir == GW__MEDIA_DIRECTION__DIRECTION_SENDRECV, 5000);
        sipp_wait(&c, pid);                                    /* checked our answers' directions */
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_RELEASING);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        teardown(&c);
}

TEST(outgoing_invite_authenticated_on_401) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-auth.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        ASSERT_EQ(c.m->counters.auth_challenges, 1);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sipp_wait(&c, pid);                                    /* it verified the digest */
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcma", "end:normal:0" }, 3);
        teardown(&c);
}

TEST(bye_after_a_failover_follows_the_dialog) {
        Ctx c = {};
        char entry[64], red[64], buf[2048];
        int silent = -1;
        uint16_t p1 = gw_test_udp_port("127.0.0.2", NULL), p2 = gw_test_udp_port("127.0.0.3", &silent);
        pid_t pid = sipp_start(SCEN "call-uas-answer.xml", "127.0.0.2", p1, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", p1);
        snprintf(red, sizeof red, "127.0.0.3:%u", p2);
        setup(&c, entry, red, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        set_active(&c, red, red);                               /* regd failed over meanwhile */
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sipp_wait(&c, pid);                                    /* the BYE reached the main's dialog */
        ASSERT_EQ(recv(silent, buf, sizeof buf, MSG_DONTWAIT), -1);      /* nothing to redundant 1 */
        close(silent);
        teardown(&c);
}

TEST(incoming_late_offer_answered_in_the_ack) {
        Ctx c = {};
        uint16_t port = gw_test_udp_port("127.0.0.4", NULL);
        pid_t pid;

        setup(&c, "127.0.0.2:5", NULL, NULL);
        pid = sipp_start(SCEN "call-uac-late-offer.xml", "127.0.0.4", port, c.listen, "1001");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_CONNECTED);
        ASSERT_FALSE(c.seen.rtp);                              /* no answer yet: nothing to send to */
        RUN_UNTIL(&c, c.seen.rtp, 3000);                       /* the ACK's SDP */
        ASSERT_EQ(c.seen.rtp_pt, 0);
        ASSERT_STREQ(c.seen.rtp_ip, "127.0.0.4");
        sipp_wait(&c, pid);                                    /* it found our offer in the 200 */
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        teardown(&c);
}

/* ---------------------------------------------------------------- SRTP (media.srtp, profiles[].srtp) */

static const uint8_t *bytes_from(uint8_t first) {
        static uint8_t b[SDP_KEY_SALT_LEN];
        for (unsigned i = 0; i < SDP_KEY_SALT_LEN; i++)
                b[i] = (uint8_t) (first + i);
        return b;
}

/* The a=crypto lines of the SDP we sent last. */
static void sent_sdp(const Seen *s, SdpMedia *ret) {
        const char *why = NULL;
        if (sdp_parse(s->sdp_out, ret, &why) < 0)
                GW_TEST_FAIL("our SDP does not parse: %s\n%s", why, s->sdp_out);
}

TEST(outgoing_srtp_mandatory_answer_without_crypto_is_hung_up) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-answer.xml", "127.0.0.2", port, NULL, NULL);
        SdpMedia m;

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, "    srtp: mandatory\n");
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        sent_sdp(&c.seen, &m);
        ASSERT_TRUE(m.secure);                                  /* RTP/SAVP, never a plain offer */
        ASSERT_EQ(m.n_crypto, 2);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_CONGESTION);
        ASSERT_FALSE(c.seen.ever_rtp);                          /* no plain RTP, not even for a moment */
        sipp_wait(&c, pid);                                     /* it got the ACK, then the BYE */
        expect_events(&c.seen, (const char *const[]) { "start", "end:bad-sdp:200" }, 2);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sdp_media_wipe(&m);
        teardown(&c);
}

TEST(outgoing_srtp_mandatory_answered_with_crypto) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-srtp.xml", "127.0.0.2", port, NULL, NULL);
        SdpMedia m;

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, "    srtp: mandatory\n");
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        sent_sdp(&c.seen, &m);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        ASSERT_TRUE(c.seen.rtp);
        ASSERT_STREQ(c.seen.srtp_suite, "AES_CM_128_HMAC_SHA1_80");
        ASSERT_TRUE(memcmp(c.seen.tx_key, m.crypto[0].key, SDP_KEY_SALT_LEN) == 0);   /* ours of tag 1 */
        ASSERT_TRUE(memcmp(c.seen.rx_key, bytes_from(100), SDP_KEY_SALT_LEN) == 0);  /* theirs */
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sipp_wait(&c, pid);
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcma", "end:normal:0" }, 3);
        sdp_media_wipe(&m);
        teardown(&c);
}

TEST(outgoing_srtp_optional_falls_back_to_plain_rtp) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-answer.xml", "127.0.0.2", port, NULL, NULL);
        SdpMedia m;

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, "    srtp: optional\n");
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        sent_sdp(&c.seen, &m);
        ASSERT_FALSE(m.secure);                                 /* best effort: RTP/AVP with a=crypto */
        ASSERT_EQ(m.n_crypto, 2);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        ASSERT_TRUE(c.seen.rtp);
        ASSERT_STREQ(c.seen.srtp_suite, "");                    /* the callee has no SRTP */
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sipp_wait(&c, pid);
        sdp_media_wipe(&m);
        teardown(&c);
}

TEST(incoming_srtp_offer_answered_with_our_own_key) {
        Ctx c = {};
        pid_t pid;
        SdpMedia m;

        setup(&c, "127.0.0.2:5", NULL, "    srtp: optional\n");
        pid = sipp_start(SCEN "call-uac-srtp.xml", "127.0.0.4", gw_test_udp_port("127.0.0.4", NULL), c.listen, "1001");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_CONNECTED);
        sent_sdp(&c.seen, &m);                                  /* our 200 */
        ASSERT_TRUE(m.secure);                                  /* the offer's profile */
        ASSERT_EQ(m.n_crypto, 1);
        ASSERT_EQ(m.crypto[0].tag, 1);                          /* the offer's first line */
        ASSERT_EQ(m.crypto[0].suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        ASSERT_TRUE(memcmp(m.crypto[0].key, bytes_from(0), SDP_KEY_SALT_LEN) != 0); /* not theirs */
        ASSERT_STREQ(c.seen.srtp_suite, "AES_CM_128_HMAC_SHA1_80");
        ASSERT_TRUE(memcmp(c.seen.tx_key, m.crypto[0].key, SDP_KEY_SALT_LEN) == 0);
        ASSERT_TRUE(memcmp(c.seen.rx_key, bytes_from(0), SDP_KEY_SALT_LEN) == 0);
        sipp_wait(&c, pid);                                     /* checked our answer, then BYE */
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        expect_events(&c.seen, (const char *const[]) { "start", "answer:pcma", "end:normal:0" }, 3);
        sdp_media_wipe(&m);
        teardown(&c);
}

TEST(incoming_refused_by_the_srtp_mode) {
        Ctx c = {};
        pid_t pid;

        /* mandatory: a plain offer gets 488 (with a Warning, SIPp checks), the line never rings */
        setup(&c, "127.0.0.2:5", NULL, "    srtp: mandatory\n");
        pid = sipp_start(SCEN "call-uac-plain-488.xml", "127.0.0.4", gw_test_udp_port("127.0.0.4", NULL), c.listen, "1001");
        sipp_wait(&c, pid);
        ASSERT_EQ(c.seen.ring_ons, 0);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        ASSERT_EQ(c.seen.n_events, 0);
        ASSERT_TRUE(c.m->calls == NULL);
        teardown(&c);

        /* off: an RTP/SAVP offer gets 488 */
        c = (Ctx) {};
        setup(&c, "127.0.0.2:5", NULL, "    srtp: off\n");
        pid = sipp_start(SCEN "call-uac-savp-488.xml", "127.0.0.4", gw_test_udp_port("127.0.0.4", NULL), c.listen, "1001");
        sipp_wait(&c, pid);
        ASSERT_EQ(c.seen.ring_ons, 0);
        ASSERT_EQ(c.seen.n_events, 0);
        teardown(&c);
}

TEST(incoming_late_offer_with_srtp_optional) {
        Ctx c = {};
        pid_t pid;
        SdpMedia m;

        setup(&c, "127.0.0.2:5", NULL, "    srtp: optional\n");
        pid = sipp_start(SCEN "call-uac-late-offer.xml", "127.0.0.4", gw_test_udp_port("127.0.0.4", NULL), c.listen, "1001");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        sent_sdp(&c.seen, &m);                                  /* our offer, in the 200 */
        ASSERT_FALSE(m.secure);
        ASSERT_EQ(m.n_crypto, 2);
        RUN_UNTIL(&c, c.seen.rtp, 3000);                        /* the ACK's answer: no a=crypto */
        ASSERT_STREQ(c.seen.srtp_suite, "");
        sipp_wait(&c, pid);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        sdp_media_wipe(&m);
        teardown(&c);
}

/* A reload that changes the lines' order moves a line with a call to another
 * index: the line now at its old index must not take the RTP pair that call
 * still uses (it takes the other pair of the index). Nobody answers the
 * INVITEs: a call in progress is enough (its port is given when it starts). */
static Line *line_by_port(Manager *m, unsigned port) {
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].conf->port == port)
                        return &m->lines[i];
        return NULL;
}

TEST(reload_reorders_lines_rtp_pair_in_use_not_taken) {
        Ctx c = {};
        char entry[64], text[1024], *err = NULL;
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        GwConf *swapped = NULL;
        unsigned added = 0, removed = 0;
        uint16_t p1, p2;
        Line *l1, *l2;

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, NULL, NULL);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_PROCEEDING);
        l1 = line_by_port(c.m, 1);
        ASSERT_TRUE(l1 && l1->call);
        p1 = l1->call->local_port;
        ASSERT_EQ(p1, gw_conf_rtp_port(c.conf, 0, 1));

        snprintf(text, sizeof text,
                 "sip:\n  listen: 127.0.0.1:5060\n  trusted_sources: [\"127.0.0.0/8\"]\n"
                 "profiles:\n  - name: p\n    proxy: %s\n    domain: test.invalid\n"
                 "    dial_plan: \"[2-9]xxx|*xx#|0T|112\"\n    interdigit_timeout: 500ms\n"
                 "    invite_total_timeout: 1s\n    no_answer_timeout: 1500ms\n"
                 "lines:\n  - port: 2\n    number: \"1002\"\n"
                 "  - port: 1\n    number: \"1001\"\n    password: s3cret\n", entry);
        if (gw_conf_load_string("test.yaml", text, &swapped, &err) < 0)
                GW_TEST_FAIL("config: %s", err);
        swapped->sip_listen_addr = c.conf->sip_listen_addr;
        ASSERT_OK(manager_reload(c.m, swapped, c.conf, &added, &removed));
        c.conf = swapped;                                       /* the manager took the old one */
        ASSERT_EQ(added, 0);
        ASSERT_EQ(removed, 0);
        l1 = line_by_port(c.m, 1);
        ASSERT_TRUE(l1 && l1->call && l1->call->local_port == p1);   /* the call goes on with its pair */

        ASSERT_OK(manager_line_hook(c.m, 2, true));
        dial(&c, 2, "2002");
        l2 = line_by_port(c.m, 2);
        ASSERT_TRUE(l2 && l2->call);
        ASSERT_EQ(l2->index, 0);                                /* line 2 is where line 1 was */
        p2 = l2->call->local_port;
        ASSERT_TRUE(p2 != p1);
        ASSERT_EQ(p2, gw_conf_rtp_port(c.conf, 0, 2));          /* the other pair of that index */
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        ASSERT_OK(manager_line_hook(c.m, 2, false));
        teardown(&c);
}

