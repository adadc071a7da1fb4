/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sigd-state.c: calls that outlive sigd (sigd-state.c). A call through
 * SIPp on loopback (tests/integration/sipp/call-*-restart-*.xml), then the
 * manager is freed as a killed sigd would leave it (no BYE, the calls file
 * stays) and a new one on the same address goes on with the call from the
 * file: the far end's BYE or re-INVITE is answered, the line's BYE goes out
 * in the dialog. And files that are not usable: refused, no call, no crash. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw-build-config.h"
#include "gw-daemon.h"
#include "gw-log.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "sigd-manager.h"
#include "sigd-state.h"
#include "test-sigd-sipp.h"

DEFINE_TEST_MAIN

#define SCEN GW_SOURCE_ROOT "/tests/integration/sipp/"

typedef struct Seen {
        bool ring, reversed, rtp;
        Gw__Tone tone;
        uint32_t rtp_local_port, rtp_port;
        Gw__MediaDirection rtp_dir;
        bool saw_recvonly;
        uint64_t generation;
        Gw__CallState state;
        char call_id[128];
        unsigned port;                  /* the line watched: the others' messages are not looked at */
} Seen;

static void on_publish(Manager *m, const char *key, Gw__Envelope *env, void *u) {
        Seen *s = u;
        char want[16];

        snprintf(want, sizeof want, "%u", s->port);
        if (!streq(key, want))
                return;
        switch (env->body_case) {
        case GW__ENVELOPE__BODY_LINE_CONTROL:
                s->ring = env->line_control->ring;
                s->reversed = env->line_control->polarity == GW__POLARITY__POLARITY_REVERSED;
                break;
        case GW__ENVELOPE__BODY_MEDIA_CONTROL: {
                const Gw__MediaControl *mc = env->media_control;
                s->generation = mc->generation;
                s->tone = mc->tone;
                s->rtp = mc->rtp != NULL;
                if (mc->rtp) {
                        s->rtp_local_port = mc->rtp->local_port;
                        s->rtp_port = mc->rtp->remote_port;
                        s->rtp_dir = mc->rtp->direction;
                        s->saw_recvonly = s->saw_recvonly || s->rtp_dir == GW__MEDIA_DIRECTION__DIRECTION_RECVONLY;
                        snprintf(s->call_id, sizeof s->call_id, "%s", strempty(mc->rtp->call_id));
                }
                break;
        }
        case GW__ENVELOPE__BODY_LINE_CALL:
                s->state = env->line_call->state;
                break;
        default:
                break;
        }
}

/* A scenario's <pause/> lasts 2.5 s: time for the restart in between. */
static pid_t sipp_start(const char *scenario, const char *addr, uint16_t port, const char *remote, const char *service) {
        return sigd_test_sipp_start("test-sigd-state", scenario, addr, port, remote, service, 2500, 20);
}

typedef struct Ctx {
        sd_event *e;
        Manager *m;
        GwConf *conf;
        Seen seen;
        char listen[64];
        const char *dir;
} Ctx;

static void start_manager(Ctx *c) {
        struct sockaddr_in sin;
        socklen_t len = sizeof sin;

        ASSERT_OK(manager_new(c->e, c->conf, &c->m));
        ASSERT_OK(manager_start(c->m));
        manager_set_publish_callback(c->m, on_publish, &c->seen);
        ASSERT_OK(getsockname(c->m->fd, (struct sockaddr *) &sin, &len));
        snprintf(c->listen, sizeof c->listen, "127.0.0.1:%u", ntohs(sin.sin_port));
        /* the next instance binds the same address, as a restarted sigd binds sip.listen */
        ((struct sockaddr_in *) &c->conf->sip_listen_addr)->sin_port = sin.sin_port;
}

static void setup(Ctx *c, const char *main_entry, unsigned port) {
        char text[2048], *err = NULL;

        c->seen.port = port;
        log_open("test-sigd-state");
        snprintf(text, sizeof text,
                 "sip:\n  listen: 127.0.0.1:5060\n  trusted_sources: [\"127.0.0.0/8\"]\n"
                 "profiles:\n  - name: p\n    proxy: %s\n    domain: test.invalid\n"
                 "    dial_plan: \"[2-9]xxx\"\n    interdigit_timeout: 500ms\n"
                 "    invite_total_timeout: 1s\n    no_answer_timeout: 10s\n"
                 "lines:\n  - port: 1\n    number: \"1001\"\n  - port: 2\n    number: \"1002\"\n", main_entry);
        if (gw_conf_load_string("test.yaml", text, &c->conf, &err) < 0)
                GW_TEST_FAIL("config: %s", err);
        ((struct sockaddr_in *) &c->conf->sip_listen_addr)->sin_port = 0;
        c->dir = gw_test_tmpdir("test-sigd-state");
        ASSERT_OK(sd_event_new(&c->e));
        start_manager(c);
        ASSERT_EQ(manager_resume(c->m, c->dir), 0);          /* nothing kept yet */
}

/* What SIGKILL leaves: no BYE, no CANCEL; the file as last written. Then the next instance. */
static int restart(Ctx *c) {
        /* The loop's next turn (the file is written after each event: post source) comes first. */
        (void) sd_event_run(c->e, 0);
        c->m = manager_free(c->m);
        c->seen = (Seen) { .port = c->seen.port };
        start_manager(c);
        return manager_resume(c->m, c->dir);
}

static void teardown(Ctx *c) {
        manager_free(c->m);
        sd_event_unref(c->e);
        gw_conf_free(c->conf);
        gw_test_rm_rf(c->dir);
}

#define RUN_UNTIL(c, cond, max_ms) GW_TEST_ASSERT_RUN_UNTIL((c)->e, cond, (max_ms) * USEC_PER_MSEC)

static void sipp_wait(Ctx *c, pid_t pid) {
        sigd_test_sipp_wait("test-sigd-state", c->e, pid, 25 * USEC_PER_SEC);
}

static void dial(Ctx *c, unsigned port, const char *digits) {
        sigd_test_dial(c->m, port, digits);
}

static bool file_exists(Ctx *c, mode_t *ret_mode) {
        char path[512];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", c->dir, SIGD_STATE_FILE);
        if (stat(path, &st) < 0)
                return false;
        if (ret_mode)
                *ret_mode = st.st_mode & 07777;
        return true;
}

/* An outgoing call, connected, and the restart: the same media published again, generations going on. */
static void outgoing_connected_then_restart(Ctx *c) {
        uint32_t local_port;
        uint64_t generation;
        char call_id[128];
        mode_t mode = 0;

        ASSERT_OK(manager_line_hook(c->m, 1, true));
        dial(c, 1, "2001");
        RUN_UNTIL(c, c->seen.state == GW__CALL_STATE__CALL_CONNECTED, 5000);
        RUN_UNTIL(c, file_exists(c, &mode), 1000);
        ASSERT_EQ(mode, 0600);                                  /* it holds SRTP keys when there are */
        local_port = c->seen.rtp_local_port;
        generation = c->seen.generation;
        snprintf(call_id, sizeof call_id, "%s", c->seen.call_id);

        ASSERT_EQ(restart(c), 1);
        ASSERT_EQ(c->m->n_lines, 2u);
        manager_publish_lines(c->m);                            /* as for linehwd's and mediad's StateSyncRequest */
        ASSERT_EQ(c->seen.state, GW__CALL_STATE__CALL_CONNECTED);
        ASSERT_TRUE(c->seen.rtp);
        ASSERT_TRUE(c->seen.reversed);
        ASSERT_EQ(c->seen.rtp_local_port, local_port);
        ASSERT_STREQ(c->seen.call_id, call_id);
        ASSERT_TRUE(c->seen.generation >= generation);
        ASSERT_OK(manager_line_hook(c->m, 1, true));            /* linehwd: still off hook, nothing changes */
        ASSERT_EQ(c->seen.state, GW__CALL_STATE__CALL_CONNECTED);
}

TEST(outgoing_call_goes_on_far_end_bye_answered) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-restart-far-bye.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, 1);
        outgoing_connected_then_restart(&c);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 8000);   /* the BYE matched the dialog */
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_BUSY);
        ASSERT_FALSE(c.seen.rtp);
        sipp_wait(&c, pid);                                     /* the BYE was answered 200 */
        RUN_UNTIL(&c, !file_exists(&c, NULL), 1000);          /* no call left: removed */
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        teardown(&c);
}

TEST(outgoing_call_goes_on_line_hangs_up) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-restart-wait-bye.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, 1);
        outgoing_connected_then_restart(&c);
        ASSERT_OK(manager_line_hook(c.m, 1, false));            /* BYE: CSeq 2, the route set, the tags (SIPp checks) */
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_IDLE);
        sipp_wait(&c, pid);
        RUN_UNTIL(&c, !file_exists(&c, NULL), 1000);
        /* a new call can be placed at once */
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_DIALING);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_DIAL);
        teardown(&c);
}

TEST(incoming_call_goes_on_reinvite_answered_then_line_hangs_up) {
        Ctx c = {};
        uint16_t port = gw_test_udp_port("127.0.0.4", NULL);
        pid_t pid;

        setup(&c, "127.0.0.2:5", 2);
        pid = sipp_start(SCEN "call-uac-restart-hold.xml", "127.0.0.4", port, c.listen, "1002");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_OK(manager_line_hook(c.m, 2, true));
        RUN_UNTIL(&c, c.m->calls && !c.m->calls->ok, 3000);    /* the ACK came */
        ASSERT_EQ(restart(&c), 1);
        manager_publish_lines(c.m);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_CONNECTED);
        ASSERT_EQ(c.seen.rtp_dir, GW__MEDIA_DIRECTION__DIRECTION_SENDRECV);
        RUN_UNTIL(&c, c.seen.saw_recvonly, 8000);               /* the far end's hold, answered recvonly */
        ASSERT_OK(manager_line_hook(c.m, 2, false));            /* BYE: CSeq 1 (SIPp checks) */
        sipp_wait(&c, pid);
        RUN_UNTIL(&c, !file_exists(&c, NULL), 1000);
        teardown(&c);
}

/* ---------------------------------------------------------------- files not usable */

static const uint8_t key30[30] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30 };

/* A connected incoming SRTP call on line 1, packed; 'spoil' changes one thing first. */
static size_t pack_state(uint8_t *buf, size_t n, int spoil) {
        Gw__SigdState st = GW__SIGD_STATE__INIT;
        Gw__SigdLine line = GW__SIGD_LINE__INIT, *lines[1] = { &line };
        Gw__SigdCall call = GW__SIGD_CALL__INIT;
        Gw__SigdDialog d = GW__SIGD_DIALOG__INIT;
        Gw__SigdMedia md = GW__SIGD_MEDIA__INIT;
        Gw__SigdCrypto local = GW__SIGD_CRYPTO__INIT;
        char *routes[] = { "<sip:127.0.0.9:5060;lr>" };
        size_t len;

        st.has_version = true;
        st.version = spoil == 1 ? 2 : SIGD_STATE_VERSION;
        st.n_lines = 1;
        st.lines = lines;
        line.has_port = line.has_state = line.has_off_hook = line.has_tone = line.has_generation = true;
        line.port = spoil == 2 ? 7 : 1;
        line.number = spoil == 3 ? "9999" : "1001";
        line.profile = "p";
        line.state = GW__CALL_STATE__CALL_CONNECTED;
        line.off_hook = true;
        line.generation = 12;
        line.call = &call;
        call.has_outgoing = call.has_local_port = call.has_srtp = true;
        call.local_port = 16400;
        call.srtp = GW_SRTP_OPTIONAL;
        call.remote_number = "4711";
        call.dialog = spoil == 4 ? NULL : &d;
        call.media = spoil == 11 ? NULL : &md;
        if (spoil == 11)
                call.srtp = GW_SRTP_OFF;
        d.call_id = "abc@127.0.0.9";
        d.local_tag = "ours";
        d.remote_tag = spoil == 5 ? NULL : "theirs";
        d.local_uri = "sip:1001@test.invalid";
        d.remote_uri = "sip:4711@test.invalid";
        d.remote_target = spoil == 6 ? "sip:x@h\r\nVia: evil" : "sip:4711@127.0.0.9:5060";
        d.n_routes = 1;
        d.routes = routes;
        d.has_local_cseq = d.has_remote_cseq = d.has_invite_cseq = d.has_confirmed = true;
        d.remote_cseq = 1;
        d.confirmed = true;
        d.peer = spoil == 7 ? "127.0.0.9" : "127.0.0.9:5060";
        md.codec = spoil == 8 ? "g729" : "pcma";
        md.has_pt = md.has_telephone_event_pt = md.has_direction = md.has_remote_port = md.has_remote_key = true;
        md.pt = 8;
        md.telephone_event_pt = 101;
        md.remote_addr = "127.0.0.9";
        md.remote_port = 4000;
        md.local = &local;
        md.remote_key = (ProtobufCBinaryData) { spoil == 9 ? 16 : 30, UNCONST(key30) };
        local.has_tag = local.has_suite = local.has_key = true;
        local.tag = 1;
        local.suite = spoil == 10 ? 9 : 1;
        local.key = (ProtobufCBinaryData) { 30, UNCONST(key30) };
        len = gw__sigd_state__get_packed_size(&st);
        ASSERT_TRUE(len <= n);
        gw__sigd_state__pack(&st, buf);
        return len;
}

static int resume_from(Ctx *c, const void *data, size_t len) {
        c->m = manager_free(c->m);
        ASSERT_OK(gw_state_write(c->dir, SIGD_STATE_FILE, data, len));
        c->seen = (Seen) { .port = c->seen.port };
        start_manager(c);
        return manager_resume(c->m, c->dir);
}

TEST(files_not_usable_are_refused) {
        Ctx c = {};
        uint8_t buf[2048];
        size_t len;

        setup(&c, "127.0.0.2:5", 1);
        /* The well-formed one goes on: the connected call, its SRTP keys, its generation. */
        len = pack_state(buf, sizeof buf, 0);
        ASSERT_EQ(resume_from(&c, buf, len), 1);
        ASSERT_TRUE(c.m->lines[0].call != NULL);
        ASSERT_EQ(c.m->lines[0].call->media.local.suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        ASSERT_TRUE(memcmp(c.m->lines[0].call->media.remote_key, key30, 30) == 0);
        ASSERT_STREQ(c.m->lines[0].call->dialog.routes[0], "<sip:127.0.0.9:5060;lr>");
        manager_publish_lines(c.m);
        ASSERT_EQ(c.seen.generation, 12u);
        ASSERT_EQ(c.seen.rtp_local_port, 16400u);
        ASSERT_TRUE(file_exists(&c, NULL));

        /* Truncated anywhere, garbage, empty, or one field wrong: no call, the line idle, the file gone. */
        for (size_t cut = 1; cut < len; cut += 7) {
                ASSERT_EQ(resume_from(&c, buf, cut), 0);
                ASSERT_TRUE(c.m->calls == NULL);
                ASSERT_EQ(c.m->lines[0].state, GW__CALL_STATE__CALL_IDLE);
                ASSERT_FALSE(file_exists(&c, NULL));
        }
        ASSERT_EQ(resume_from(&c, "\xff\xff\xff\xff garbage", 12), 0);
        ASSERT_EQ(resume_from(&c, "", 0), 0);
        for (int spoil = 1; spoil <= 10; spoil++) {
                uint8_t bad[2048];
                size_t n = pack_state(bad, sizeof bad, spoil);

                if (resume_from(&c, bad, n) != 0)
                        GW_TEST_FAIL("spoilt file %d was taken", spoil);
                ASSERT_TRUE(c.m->calls == NULL);
                ASSERT_EQ(c.m->lines[0].state, GW__CALL_STATE__CALL_IDLE);
                ASSERT_FALSE(file_exists(&c, NULL));
        }
        /* A line refused in a well-formed file: the line dials as ever. */
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_DIALING);
        teardown(&c);
}

/* ---------------------------------------------------------------- calls not answered yet */

TEST(outgoing_ringing_goes_on_and_connects) {
        Ctx c = {};
        char entry[64];
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);
        pid_t pid = sipp_start(SCEN "call-uas-restart-ringing.xml", "127.0.0.2", port, NULL, NULL);

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, 1);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        dial(&c, 1, "2001");
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RINGBACK, 5000);
        ASSERT_EQ(restart(&c), 1);                              /* the INVITE goes again, same branch */
        manager_publish_lines(c.m);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_RINGBACK);
        ASSERT_EQ(c.seen.tone, GW__TONE__TONE_RINGBACK);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_CONNECTED, 8000);   /* its 200 ACKed */
        ASSERT_TRUE(c.seen.rtp);
        ASSERT_TRUE(c.seen.reversed);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);
        sipp_wait(&c, pid);
        teardown(&c);
}

TEST(incoming_ringing_goes_on_and_is_answered) {
        Ctx c = {};
        uint16_t port = gw_test_udp_port("127.0.0.4", NULL);
        pid_t pid;

        setup(&c, "127.0.0.2:5", 2);
        pid = sipp_start(SCEN "call-uac-restart-ringing.xml", "127.0.0.4", port, c.listen, "1002");
        RUN_UNTIL(&c, c.seen.ring, 5000);
        ASSERT_EQ(restart(&c), 1);                              /* our 180 again */
        manager_publish_lines(c.m);
        ASSERT_TRUE(c.seen.ring);
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_RINGING);
        ASSERT_OK(manager_line_hook(c.m, 2, true));             /* answered: 200 in the new transaction */
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_CONNECTED);
        ASSERT_FALSE(c.seen.ring);
        ASSERT_TRUE(c.seen.rtp);
        RUN_UNTIL(&c, c.seen.state == GW__CALL_STATE__CALL_RELEASING, 5000);   /* the caller's BYE */
        sipp_wait(&c, pid);
        ASSERT_OK(manager_line_hook(c.m, 2, false));
        RUN_UNTIL(&c, !file_exists(&c, NULL), 1000);
        teardown(&c);
}

/* ---------------------------------------------------------------- requests the far end sends again */

typedef struct Sent {
        char last[4096];                /* the last datagram we sent */
        unsigned n;
} Sent;

static int on_sent(Manager *m, const char *buf, size_t n, const struct sockaddr *to, socklen_t tolen, void *u) {
        Sent *s = u;

        snprintf(s->last, sizeof s->last, "%.*s", (int) n, buf);
        s->n++;
        return 1;                                               /* consumed: nobody listens at 127.0.0.9 */
}

/* A request of the kept dialog of pack_state() (abc@127.0.0.9, theirs -> ours) from 127.0.0.9:5060;
 * sdp_hold: with an SDP of a=sendonly (an offer, or the answer in an ACK). */
static unsigned far_end_sends(Ctx *c, const char *method, unsigned cseq, const char *branch, bool sdp_hold) {
        char msg[2048], sdp[512] = "";
        struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = htons(5060) };
        RxResult rx = {};

        inet_pton(AF_INET, "127.0.0.9", &from.sin_addr);
        if (sdp_hold)
                snprintf(sdp, sizeof sdp,
                         "v=0\r\no=far 1 2 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n"
                         "m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                         "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e\r\n"
                         "a=sendonly\r\n");
        snprintf(msg, sizeof msg,
                 "%s sip:1001@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK%s\r\n"
                 "From: <sip:4711@test.invalid>;tag=theirs\r\nTo: <sip:1001@test.invalid>;tag=ours\r\n"
                 "Call-ID: abc@127.0.0.9\r\nCSeq: %u %s\r\nMax-Forwards: 70\r\nContact: <sip:4711@127.0.0.9:5060>\r\n"
                 "%sContent-Length: %zu\r\n\r\n%s",
                 method, c->listen, branch, cseq, method, sdp_hold ? "Content-Type: application/sdp\r\n" : "",
                 strlen(sdp), sdp);
        ASSERT_OK(manager_handle_datagram(c->m, msg, strlen(msg), (const struct sockaddr *) &from, sizeof from, &rx));
        /* Not read from the socket (no event dispatched, so no post-event write): as the daemon would, now. */
        ASSERT_TRUE(state_save(c->m) >= 0);
        return rx.status;
}

TEST(requests_sent_again_after_the_restart) {
        Ctx c = {};
        Sent sent = {};
        uint8_t buf[2048];
        size_t len;

        setup(&c, "127.0.0.2:5", 1);
        len = pack_state(buf, sizeof buf, 0);
        ASSERT_EQ(resume_from(&c, buf, len), 1);
        manager_set_tx_hook(c.m, on_sent, &sent);

        /* The far end's hold (re-INVITE, its key unchanged) is answered recvonly, with our key unchanged too. */
        ASSERT_EQ(far_end_sends(&c, "INVITE", 2, "hold1", true), 200u);
        ASSERT_TRUE(strncmp(sent.last, "SIP/2.0 200 ", 12) == 0);
        ASSERT_TRUE(strstr(sent.last, "a=recvonly") != NULL);
        ASSERT_TRUE(strstr(sent.last, "inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e") != NULL);
        /* OPTIONS in the dialog, and INFO: 200. */
        ASSERT_EQ(far_end_sends(&c, "OPTIONS", 3, "opt1", false), 200u);
        ASSERT_EQ(far_end_sends(&c, "INFO", 4, "info1", false), 200u);
        ASSERT_TRUE(c.m->lines[0].call != NULL);

        /* Sent again across a second restart: the hold is kept (recvonly still), a re-INVITE answered again. */
        ASSERT_EQ(restart(&c), 1);
        manager_set_tx_hook(c.m, on_sent, &sent);
        ASSERT_EQ(c.m->lines[0].call->media.direction, SDP_RECVONLY);
        ASSERT_EQ(far_end_sends(&c, "INVITE", 2, "hold1", true), 200u);
        ASSERT_TRUE(strstr(sent.last, "a=recvonly") != NULL);

        /* BYE: 200, the call over, the file gone; the same BYE again: 200 from its transaction. */
        ASSERT_EQ(far_end_sends(&c, "BYE", 5, "bye1", false), 200u);
        ASSERT_TRUE(c.m->lines[0].call == NULL);
        RUN_UNTIL(&c, !file_exists(&c, NULL), 1000);
        sent.last[0] = 0;
        (void) far_end_sends(&c, "BYE", 5, "bye1", false);
        ASSERT_TRUE(strncmp(sent.last, "SIP/2.0 200 ", 12) == 0);
        /* ... and after a restart, with the call gone: 481, as for any dialog we do not know. */
        ASSERT_EQ(restart(&c), 0);
        manager_set_tx_hook(c.m, on_sent, &sent);
        sent.last[0] = 0;
        (void) far_end_sends(&c, "BYE", 5, "bye1", false);
        ASSERT_TRUE(strncmp(sent.last, "SIP/2.0 481 ", 12) == 0);
        teardown(&c);
}

TEST(late_offer_answer_in_the_ack_after_the_restart) {
        Ctx c = {};
        Sent sent = {};
        uint8_t buf[2048];
        size_t len;

        /* Killed between our 2xx (our offer: the INVITE had none) and the ACK with the answer. */
        setup(&c, "127.0.0.2:5", 1);
        len = pack_state(buf, sizeof buf, 11);
        ASSERT_EQ(resume_from(&c, buf, len), 1);
        manager_set_tx_hook(c.m, on_sent, &sent);
        ASSERT_FALSE(c.m->lines[0].call->have_media);
        (void) far_end_sends(&c, "ACK", 1, "ack1", true);
        ASSERT_TRUE(c.m->lines[0].call != NULL);
        ASSERT_TRUE(c.m->lines[0].call->have_media);           /* the answer taken: RTP from now on */
        ASSERT_EQ(c.m->lines[0].call->media.direction, SDP_RECVONLY);
        manager_publish_lines(c.m);
        ASSERT_TRUE(c.seen.rtp);
        teardown(&c);
}

/* A restart in the middle of dialing: the digits so far are kept, the line
 * does not get dial tone again, and the rest of the number completes it
 * ("01" alone would match no entry of [2-9]xxx: the call proves the join). */
TEST(dialing_goes_on_after_restart) {
        Ctx c = {};
        char entry[64];
        mode_t mode = 0;
        uint16_t port = gw_test_udp_port("127.0.0.2", NULL);   /* nobody answers there: the INVITE is enough */

        snprintf(entry, sizeof entry, "127.0.0.2:%u", port);
        setup(&c, entry, 1);
        ASSERT_OK(manager_line_hook(c.m, 1, true));
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_DIALING);
        dial(&c, 1, "20");
        ASSERT_EQ(state_save(c.m), 1);                          /* as after the bus event that brought them */
        ASSERT_TRUE(file_exists(&c, &mode));
        ASSERT_EQ(mode & 0777, 0600);
        ASSERT_EQ(restart(&c), 1);
        ASSERT_OK(manager_line_hook(c.m, 1, true));             /* linehwd's state again: no dial tone */
        ASSERT_TRUE(c.seen.tone != GW__TONE__TONE_DIAL);
        dial(&c, 1, "01");
        ASSERT_EQ(c.seen.state, GW__CALL_STATE__CALL_PROCEEDING);
        ASSERT_OK(manager_line_hook(c.m, 1, false));
        RUN_UNTIL(&c, !file_exists(&c, NULL), 1000);
        teardown(&c);
}
