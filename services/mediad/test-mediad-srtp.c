/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mediad-srtp.c: SRTP between two mediad RTP sessions on 127.0.0.1, through a
 * relay socket of the test (so packets can be read, tampered with and replayed):
 * a 1 kHz tone arrives with both suites and is not plain G.711 on the wire; a
 * tampered, a replayed and a wrongly keyed packet are dropped, counted and never
 * played; the rollover counter carries a stream across a re-created session (a
 * restart), also past a sequence wrap; bad suites and key lengths are refused. */
#include <arpa/inet.h>
#include <math.h>
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include "gw-tests.h"
#include "test-mediad-net.h"
#include "mediad-rtp.h"

/* A's packets go to the relay R, which forwards what the test wants to B (B's remote is R). */
typedef struct Pair {
        sd_event *e;
        int relay;
        RtpSession *a, *b;
        uint8_t ka[SRTP_KEY_SALT_LEN], kb[SRTP_KEY_SALT_LEN];
        unsigned tone;                     /* down frames of B that carried the 1 kHz tone */
} Pair;

static void pair_done(Pair *p) {
        rtp_session_free(p->a);
        rtp_session_free(p->b);
        if (p->relay >= 0)
                close(p->relay);
        sd_event_unref(p->e);
}

static RtpParams params(const Pair *p, SrtpSuite suite, const uint8_t *tx, const uint8_t *rx) {
        return (RtpParams) {
                .call_id = "srtp@test",
                .local = loopback(0),
                .remote = loopback(fd_port(p->relay)),
                .payload_type = 0,
                .direction = GW__MEDIA_DIRECTION__DIRECTION_SENDRECV,
                .srtp_suite = suite,
                .srtp_tx_key = tx,
                .srtp_rx_key = rx,
        };
}

static void pair_init(Pair *p, SrtpSuite suite) {
        RtpParams pa, pb;

        *p = (Pair) { .relay = udp_socket() };
        ASSERT_OK(sd_event_new(&p->e));
        ASSERT_EQ(getrandom(p->ka, sizeof(p->ka), 0), sizeof(p->ka));
        ASSERT_EQ(getrandom(p->kb, sizeof(p->kb), 0), sizeof(p->kb));
        pa = params(p, suite, p->ka, p->kb);
        pb = params(p, suite, p->kb, p->ka);
        ASSERT_OK(rtp_session_new(p->e, &pa, NULL, NULL, &p->a));
        ASSERT_OK(rtp_session_new(p->e, &pb, NULL, NULL, &p->b));
}

static void tone_frame(unsigned k, int16_t pcm[GW_PCM_SAMPLES]) {
        for (unsigned i = 0; i < GW_PCM_SAMPLES; i++)
                pcm[i] = (int16_t) lrint(8000.0 * sin(2.0 * M_PI * 1000.0 * (k * GW_PCM_SAMPLES + i) / 8000.0));
}

/* Share of a frame's energy at 1 kHz (bin 20 of 160 at 8 kHz; Parseval). */
static double tone_share(const int16_t pcm[GW_PCM_SAMPLES]) {
        double re = 0, im = 0, energy = 0;

        for (unsigned i = 0; i < GW_PCM_SAMPLES; i++) {
                re += pcm[i] * cos(2.0 * M_PI * 20 * i / GW_PCM_SAMPLES);
                im -= pcm[i] * sin(2.0 * M_PI * 20 * i / GW_PCM_SAMPLES);
                energy += (double) pcm[i] * pcm[i];
        }
        return energy > 0 ? 2.0 * (re * re + im * im) / (GW_PCM_SAMPLES * energy) : 0;
}

/* A sends frame k; the relay gets the packet. */
static size_t a_send(Pair *p, unsigned k, uint8_t *pkt, size_t size) {
        struct pollfd pfd = { .fd = p->relay, .events = POLLIN };
        int16_t pcm[GW_PCM_SAMPLES];
        ssize_t n;

        tone_frame(k, pcm);
        rtp_session_send_frame(p->a, pcm);
        ASSERT_EQ(poll(&pfd, 1, 2000), 1);
        n = recv(p->relay, pkt, size, 0);
        ASSERT_TRUE(n > 0);
        return (size_t) n;
}

/* The relay hands a packet to B; returns when B has taken it (counted one way or another). */
static void to_b(Pair *p, const uint8_t *pkt, size_t n) {
        struct sockaddr_storage to = loopback(rtp_session_local_port(p->b));
        const RtpCounters *c = rtp_session_counters(p->b);
        uint64_t before = c->rx + c->malformed + c->foreign + c->bad_pt + c->srtp_auth_failed + c->srtp_replayed;

        ASSERT_EQ(sendto(p->relay, pkt, n, 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)), (ssize_t) n);
        for (unsigned i = 0; i < 200; i++) {
                if (c->rx + c->malformed + c->foreign + c->bad_pt + c->srtp_auth_failed + c->srtp_replayed > before)
                        return;
                ASSERT_OK(sd_event_run(p->e, 10 * USEC_PER_MSEC));
        }
        GW_TEST_FAIL("B never took the packet");
}

/* B's line takes one down frame (as every 20 ms): count it if it is the tone. */
static void b_play(Pair *p) {
        int16_t out[GW_PCM_SAMPLES];

        if (rtp_session_playout(p->b, out) && tone_share(out) > 0.95)
                p->tone++;
}

/* A packet goes to B and B plays a frame, in step like the real thing. */
static void deliver(Pair *p, const uint8_t *pkt, size_t n) {
        to_b(p, pkt, n);
        b_play(p);
}

static void tone_over_srtp(SrtpSuite suite, size_t tag) {
        Pair p;
        uint8_t pkt[RTP_MAX_PACKET], plain[GW_PCM_SAMPLES];
        int16_t pcm[GW_PCM_SAMPLES];

        pair_init(&p, suite);
        ASSERT_EQ(rtp_session_srtp_suite(p.a), suite);
        for (unsigned k = 0; k < 10; k++) {
                size_t n = a_send(&p, k, pkt, sizeof(pkt));

                /* On the wire: header, 160 bytes of ciphertext, the tag. */
                ASSERT_EQ(n, RTP_HEADER + GW_PCM_SAMPLES + tag);
                tone_frame(k, pcm);
                g711_encode_frame(LAW_ULAW, pcm, plain, GW_PCM_SAMPLES);
                ASSERT_TRUE(memcmp(pkt + RTP_HEADER, plain, GW_PCM_SAMPLES) != 0);
                deliver(&p, pkt, n);
        }
        ASSERT_EQ(rtp_session_counters(p.b)->rx, 10);
        ASSERT_EQ(rtp_session_counters(p.b)->srtp_auth_failed, 0);
        ASSERT_TRUE(rtp_session_receiving(p.b));
        ASSERT_TRUE(p.tone >= 9);                     /* all but the first (prefill of two) */
        pair_done(&p);
}

TEST(tone_aes_cm_128_hmac_sha1_80) {
        tone_over_srtp(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, 10);
}

TEST(tone_aes_cm_128_hmac_sha1_32) {
        tone_over_srtp(SRTP_SUITE_AES_CM_128_HMAC_SHA1_32, 4);
}

/* Tampered and replayed packets are dropped and counted, never played. */
TEST(tamper_and_replay) {
        Pair p;
        uint8_t pkt[RTP_MAX_PACKET], bad[RTP_MAX_PACKET];
        int16_t out[GW_PCM_SAMPLES];
        const RtpCounters *c;
        size_t n;

        pair_init(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
        c = rtp_session_counters(p.b);
        n = a_send(&p, 0, pkt, sizeof(pkt));
        memcpy(bad, pkt, n);
        bad[RTP_HEADER + 5] ^= 0x01;                  /* one bit of the payload */
        to_b(&p, bad, n);
        memcpy(bad, pkt, n);
        bad[n - 1] ^= 0x80;                           /* one bit of the tag */
        to_b(&p, bad, n);
        memcpy(bad, pkt, n);
        bad[3] ^= 0x01;                               /* the sequence number (authenticated header) */
        to_b(&p, bad, n);
        to_b(&p, pkt, n - 1);                         /* the tag cut short */
        ASSERT_EQ(c->srtp_auth_failed, 4);
        ASSERT_EQ(c->rx, 0);
        ASSERT_FALSE(rtp_session_receiving(p.b));
        for (unsigned i = 0; i < 4; i++)
                ASSERT_FALSE(rtp_session_playout(p.b, out));

        /* The genuine packet still passes (the failures left no state behind) ... */
        to_b(&p, pkt, n);
        ASSERT_EQ(c->rx, 1);
        /* ... once: the same packet again is a replay. */
        to_b(&p, pkt, n);
        ASSERT_EQ(c->srtp_replayed, 1);
        ASSERT_EQ(c->rx, 1);
        /* Later packets play; an old one (older than the 128-packet window) is refused too. */
        for (unsigned k = 1; k < 140; k++) {
                size_t m = a_send(&p, k, bad, sizeof(bad));

                if (k >= 135)
                        deliver(&p, bad, m);
        }
        to_b(&p, pkt, n);
        ASSERT_EQ(c->srtp_replayed, 2);
        ASSERT_EQ(c->rx, 6);
        ASSERT_EQ(c->srtp_auth_failed, 4);
        ASSERT_TRUE(p.tone >= 4);
        pair_done(&p);
}

/* B has the wrong key: nothing is played, every packet is counted. */
TEST(wrong_key) {
        Pair p;
        RtpParams pb;
        uint8_t pkt[RTP_MAX_PACKET], wrong[SRTP_KEY_SALT_LEN];
        int16_t out[GW_PCM_SAMPLES];

        pair_init(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);
        memcpy(wrong, p.ka, sizeof(wrong));
        wrong[0] ^= 0x01;
        pb = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_32, p.kb, wrong);
        pb.local = loopback(rtp_session_local_port(p.b));
        ASSERT_TRUE(rtp_session_same_socket(p.b, &pb));
        ASSERT_OK(rtp_session_update(p.b, &pb));                 /* re-keyed in place */
        for (unsigned k = 0; k < 10; k++) {
                size_t n = a_send(&p, k, pkt, sizeof(pkt));
                to_b(&p, pkt, n);
        }
        ASSERT_EQ(rtp_session_counters(p.b)->srtp_auth_failed, 10);
        ASSERT_EQ(rtp_session_counters(p.b)->rx, 0);
        ASSERT_FALSE(rtp_session_receiving(p.b));
        for (unsigned i = 0; i < 10; i++)
                ASSERT_FALSE(rtp_session_playout(p.b, out));

        /* Plain RTP at an SRTP session is not played either (no tag that authenticates). */
        {
                uint8_t plain[RTP_HEADER + GW_PCM_SAMPLES] = { 0x80, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4 };
                to_b(&p, plain, sizeof(plain));
                ASSERT_EQ(rtp_session_counters(p.b)->srtp_auth_failed, 11);
        }
        pair_done(&p);
}

/* A level-triggered repeat of the same keys keeps the contexts: no replay window reset. */
TEST(update_same_keys_keeps_context) {
        Pair p;
        RtpParams pb;
        uint8_t pkt[RTP_MAX_PACKET];
        size_t n;

        pair_init(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
        n = a_send(&p, 0, pkt, sizeof(pkt));
        to_b(&p, pkt, n);
        pb = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.kb, p.ka);
        pb.local = loopback(rtp_session_local_port(p.b));
        ASSERT_OK(rtp_session_update(p.b, &pb));
        to_b(&p, pkt, n);
        ASSERT_EQ(rtp_session_counters(p.b)->srtp_replayed, 1);
        pair_done(&p);
}

/* Sessions A and B exchange 'count' packets from A starting at frame k0. */
static void send_frames(Pair *p, unsigned k0, unsigned count) {
        uint8_t pkt[RTP_MAX_PACKET];

        for (unsigned k = k0; k < k0 + count; k++) {
                size_t n = a_send(p, k, pkt, sizeof(pkt));
                deliver(p, pkt, n);
        }
}

/* A restart: both sessions are freed and made again with what MediaState said
 * (our SSRC and next sequence number, the ROCs). seq0: where A's stream starts. */
static void roc_across_restart(uint16_t seq0, unsigned frames, uint32_t want_roc) {
        Pair p;
        RtpParams pa, pb;
        uint32_t ssrc, tx_roc, rx_roc;
        uint16_t seq;

        pair_init(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
        /* A resumed stream of its own: SSRC 0x5eed, sequence seq0. */
        p.a = rtp_session_free(p.a);
        pa = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.ka, p.kb);
        pa.ssrc = 0x5eed;
        pa.seq = seq0;
        pa.have_seq = true;
        ASSERT_OK(rtp_session_new(p.e, &pa, NULL, NULL, &p.a));
        send_frames(&p, 0, frames);
        ASSERT_EQ(rtp_session_counters(p.b)->rx, frames);
        ssrc = rtp_session_ssrc(p.a);
        seq = rtp_session_next_seq(p.a);
        tx_roc = rtp_session_srtp_tx_roc(p.a);
        rx_roc = rtp_session_srtp_rx_roc(p.b);
        ASSERT_EQ(ssrc, 0x5eed);
        ASSERT_EQ(seq, (uint16_t) (seq0 + frames));
        ASSERT_EQ(tx_roc, want_roc);
        ASSERT_EQ(rx_roc, want_roc);

        /* The restart. */
        p.a = rtp_session_free(p.a);
        p.b = rtp_session_free(p.b);
        pa.ssrc = ssrc;
        pa.seq = seq;
        pa.srtp_tx_roc = tx_roc;
        pb = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.kb, p.ka);
        pb.srtp_rx_roc = rx_roc;
        ASSERT_OK(rtp_session_new(p.e, &pa, NULL, NULL, &p.a));
        ASSERT_OK(rtp_session_new(p.e, &pb, NULL, NULL, &p.b));
        ASSERT_EQ(rtp_session_srtp_tx_roc(p.a), tx_roc);
        ASSERT_EQ(rtp_session_srtp_rx_roc(p.b), rx_roc);
        p.tone = 0;
        send_frames(&p, frames, 10);
        ASSERT_EQ(rtp_session_counters(p.b)->rx, 10);
        ASSERT_EQ(rtp_session_counters(p.b)->srtp_auth_failed, 0);
        ASSERT_EQ(rtp_session_srtp_rx_roc(p.b), rtp_session_srtp_tx_roc(p.a));
        ASSERT_TRUE(p.tone >= 9);

        /* Without the saved ROC the receiver computes the wrong index: nothing plays. */
        if (rx_roc != 0) {
                p.b = rtp_session_free(p.b);
                pb.srtp_rx_roc = 0;
                ASSERT_OK(rtp_session_new(p.e, &pb, NULL, NULL, &p.b));
                send_frames(&p, frames + 10, 5);
                ASSERT_EQ(rtp_session_counters(p.b)->srtp_auth_failed, 5);
                ASSERT_EQ(rtp_session_counters(p.b)->rx, 0);
                ASSERT_FALSE(rtp_session_receiving(p.b));
        }
        pair_done(&p);
}

/* A re-INVITE changes only the peer's key: A keeps its key and its stream, so its
 * ROC must go on (back at 0 after a wrap it would repeat indexes). B, keyed the
 * same as before for A's stream, keeps taking A's packets. */
TEST(rekey_peer_only_keeps_our_roc) {
        Pair p;
        RtpParams pa;
        uint8_t knew[SRTP_KEY_SALT_LEN];

        pair_init(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
        p.a = rtp_session_free(p.a);
        pa = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.ka, p.kb);
        pa.ssrc = 0x5eed;
        pa.seq = 65530;
        pa.have_seq = true;
        ASSERT_OK(rtp_session_new(p.e, &pa, NULL, NULL, &p.a));
        send_frames(&p, 0, 10);                              /* wraps: ROC 1 */
        ASSERT_EQ(rtp_session_srtp_tx_roc(p.a), 1);

        ASSERT_EQ(getrandom(knew, sizeof(knew), 0), sizeof(knew));
        pa = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.ka, knew);
        pa.local = loopback(rtp_session_local_port(p.a));
        ASSERT_OK(rtp_session_update(p.a, &pa));
        ASSERT_EQ(rtp_session_srtp_tx_roc(p.a), 1);
        send_frames(&p, 10, 5);
        ASSERT_EQ(rtp_session_counters(p.b)->rx, 15);
        ASSERT_EQ(rtp_session_counters(p.b)->srtp_auth_failed + rtp_session_counters(p.b)->srtp_replayed, 0);
        ASSERT_EQ(rtp_session_srtp_rx_roc(p.b), 1);
        pair_done(&p);
}

TEST(roc_sequence_wrap_then_restart) {
        roc_across_restart(65530, 12, 1);          /* wraps after 6 packets */
}

TEST(roc_restart_high_sequence) {
        roc_across_restart(40000, 10, 0);
}

/* A ROC > 0 resumed in the upper half of the sequence space (libsrtp's index guess). */
TEST(roc_resume_high_sequence) {
        Pair p;
        RtpParams pa, pb;

        pair_init(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
        p.a = rtp_session_free(p.a);
        p.b = rtp_session_free(p.b);
        pa = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.ka, p.kb);
        pa.ssrc = 77;
        pa.seq = 50000;
        pa.have_seq = true;
        pa.srtp_tx_roc = 3;
        pb = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.kb, p.ka);
        pb.srtp_rx_roc = 3;
        ASSERT_OK(rtp_session_new(p.e, &pa, NULL, NULL, &p.a));
        ASSERT_OK(rtp_session_new(p.e, &pb, NULL, NULL, &p.b));
        send_frames(&p, 0, 10);
        ASSERT_EQ(rtp_session_counters(p.b)->rx, 10);
        ASSERT_EQ(rtp_session_srtp_tx_roc(p.a), 3);
        ASSERT_EQ(rtp_session_srtp_rx_roc(p.b), 3);
        pair_done(&p);
}

/* Both ends restart together (a line-to-line call on one mediad) and the
 * sender's resume skips past 65535 (its ROC goes to 1), or it wraps while the
 * receiver is down: the receiver saved ROC 0 and its last sequence number
 * near the top, and its first packet's ROC is estimated from that (RFC 3711
 * §3.3.1) instead of taken as the saved 0, which failed every packet. */
TEST(roc_estimated_after_a_wrap_during_the_restart) {
        Pair p;
        RtpParams pa, pb;
        uint16_t last = 0;

        ASSERT_EQ(media_srtp_estimate_roc(0, 65500, 40), 1);
        ASSERT_EQ(media_srtp_estimate_roc(0, 65500, 65510), 0);
        ASSERT_EQ(media_srtp_estimate_roc(3, 100, 200), 3);
        ASSERT_EQ(media_srtp_estimate_roc(3, 100, 65000), 2);    /* a late one from before a wrap */
        ASSERT_EQ(media_srtp_estimate_roc(0, 100, 65000), 0);

        pair_init(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
        p.a = rtp_session_free(p.a);
        pa = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.ka, p.kb);
        pa.ssrc = 0x5eed;
        pa.seq = 65400;
        pa.have_seq = true;
        ASSERT_OK(rtp_session_new(p.e, &pa, NULL, NULL, &p.a));
        send_frames(&p, 0, 20);                              /* up to 65419, ROC 0 */
        ASSERT_TRUE(rtp_session_srtp_rx_seq(p.b, &last));
        ASSERT_EQ(last, 65419);
        ASSERT_EQ(rtp_session_srtp_rx_roc(p.b), 0);

        /* The restart: A resumes 200 sequence numbers on (past the wrap: ROC 1). */
        p.a = rtp_session_free(p.a);
        p.b = rtp_session_free(p.b);
        pa.seq = (uint16_t) (65420 + 200);
        pa.srtp_tx_roc = 1;
        pb = params(&p, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, p.kb, p.ka);
        pb.srtp_rx_roc = 0;
        pb.have_srtp_rx_seq = true;
        pb.srtp_rx_seq = last;
        ASSERT_OK(rtp_session_new(p.e, &pa, NULL, NULL, &p.a));
        ASSERT_OK(rtp_session_new(p.e, &pb, NULL, NULL, &p.b));
        p.tone = 0;
        send_frames(&p, 20, 10);
        ASSERT_EQ(rtp_session_counters(p.b)->srtp_auth_failed, 0);
        ASSERT_EQ(rtp_session_counters(p.b)->rx, 10);
        ASSERT_EQ(rtp_session_srtp_rx_roc(p.b), 1);
        ASSERT_TRUE(p.tone >= 9);

        /* Without the last sequence number (the saved ROC alone) nothing authenticates. */
        p.b = rtp_session_free(p.b);
        pb.have_srtp_rx_seq = false;
        ASSERT_OK(rtp_session_new(p.e, &pb, NULL, NULL, &p.b));
        send_frames(&p, 30, 5);
        ASSERT_EQ(rtp_session_counters(p.b)->srtp_auth_failed, 5);
        ASSERT_EQ(rtp_session_counters(p.b)->rx, 0);
        pair_done(&p);
}

TEST(params_from_proto) {
        Gw__RtpSession r = GW__RTP_SESSION__INIT;
        Gw__Secret tx = GW__SECRET__INIT, rx = GW__SECRET__INIT;
        struct sockaddr_storage def = loopback(5062);
        uint8_t k1[SRTP_KEY_SALT_LEN] = { 1 }, k2[SRTP_KEY_SALT_LEN + 1] = { 2 };
        const char *why = NULL;
        RtpParams p;

        r.call_id = (char *) "x@y";
        r.local_port = 20000;
        r.srtp_suite = (char *) "AES_CM_128_HMAC_SHA1_80";
        tx.has_value = rx.has_value = true;
        tx.value = (ProtobufCBinaryData) { sizeof(k1), k1 };
        rx.value = (ProtobufCBinaryData) { SRTP_KEY_SALT_LEN, k2 };
        r.srtp_tx_key = &tx;
        r.srtp_rx_key = &rx;
        r.has_srtp_rx_roc = true;
        r.srtp_rx_roc = 9;
        ASSERT_OK(rtp_params_from_proto(&r, &def, &p, &why));
        ASSERT_EQ(p.srtp_suite, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
        ASSERT_TRUE(p.srtp_tx_key == k1);
        ASSERT_EQ(p.srtp_rx_roc, 9);
        r.srtp_suite = (char *) "AES_CM_128_HMAC_SHA1_32";
        ASSERT_OK(rtp_params_from_proto(&r, &def, &p, &why));
        ASSERT_EQ(p.srtp_suite, SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);

        r.srtp_suite = (char *) "AEAD_AES_256_GCM";
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
        ASSERT_STREQ(why, "srtp_suite unknown (AES_CM_128_HMAC_SHA1_80 or AES_CM_128_HMAC_SHA1_32)");
        r.srtp_suite = (char *) "AES_CM_128_HMAC_SHA1_80";
        rx.value.len = sizeof(k2);
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
        ASSERT_STREQ(why, "srtp_rx_key is not 30 bytes (key and salt)");
        rx.value.len = 16;
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
        rx.value.len = SRTP_KEY_SALT_LEN;
        r.srtp_tx_key = NULL;
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
        ASSERT_STREQ(why, "srtp_tx_key is not 30 bytes (key and salt)");
        r.srtp_tx_key = &tx;
        r.srtp_suite = NULL;                        /* keys without a suite */
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
        r.srtp_tx_key = r.srtp_rx_key = NULL;
        ASSERT_OK(rtp_params_from_proto(&r, &def, &p, &why));
        ASSERT_EQ(p.srtp_suite, SRTP_SUITE_NONE);

        ASSERT_EQ(srtp_suite_from_string(""), SRTP_SUITE_NONE);
        ASSERT_EQ(srtp_suite_from_string("aes_cm_128_hmac_sha1_80"), _SRTP_SUITE_INVALID);
        ASSERT_STREQ(srtp_suite_to_string(SRTP_SUITE_AES_CM_128_HMAC_SHA1_32), "AES_CM_128_HMAC_SHA1_32");
}

/* A free port whose successor is free too at the time of asking (RTCP binds +1). */
static uint16_t rtcp_base_port(void) {
        int fd = udp_socket();
        uint16_t port = fd_port(fd);

        close(fd);
        return (uint16_t) (port - 1);
}

static void rtcp_pump(sd_event *e, const RtcpCounters *c, uint64_t before) {
        for (unsigned i = 0; i < 200; i++) {
                if (c->rx + c->malformed + c->foreign + c->auth_failed + c->replayed > before)
                        return;
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        }
        GW_TEST_FAIL("RTCP packet never taken");
}

static uint64_t rtcp_taken(const RtcpCounters *c) {
        return c->rx + c->malformed + c->foreign + c->auth_failed + c->replayed;
}

/* SRTCP (RFC 3711 §3.4): reports leave protected (E flag, index, tag; the CNAME
 * not in clear), the peer accepts them; tampered, replayed and plain RTCP is
 * dropped and counted. The test's socket T sits between A and B. */
TEST(srtcp_reports) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(media_srtp_freep) MediaSrtp *sa = NULL, *sb = NULL;
        _cleanup_(rtcp_freep) Rtcp *a = NULL, *b = NULL;
        uint8_t ka[SRTP_KEY_SALT_LEN], kb[SRTP_KEY_SALT_LEN], pkt[512], copy[512];
        int t = udp_socket();
        struct sockaddr_storage via = loopback((uint16_t) (fd_port(t) - 1)), to;
        struct pollfd pfd = { .fd = t, .events = POLLIN };
        const RtcpCounters *cb;
        uint64_t before;
        ssize_t n;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_EQ(getrandom(ka, sizeof(ka), 0), sizeof(ka));
        ASSERT_EQ(getrandom(kb, sizeof(kb), 0), sizeof(kb));
        ASSERT_OK(media_srtp_new(&(MediaSrtpParams) { .suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_32,
                                                       .tx_key = ka, .rx_key = kb, .tx_ssrc = 0x1111 }, &sa));
        ASSERT_OK(media_srtp_new(&(MediaSrtpParams) { .suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_32,
                                                       .tx_key = kb, .rx_key = ka, .tx_ssrc = 0x2222 }, &sb));
        {
                struct sockaddr_storage la = loopback(rtcp_base_port()), lb = loopback(rtcp_base_port());

                ASSERT_OK(rtcp_new(e, NULL, &la, 0x1111, &a));
                ASSERT_OK(rtcp_new(e, NULL, &lb, 0x2222, &b));
        }
        rtcp_set_srtp(a, sa);
        rtcp_set_srtp(b, sb);
        rtcp_set_remote(a, &via);
        rtcp_set_remote(b, &via);
        cb = rtcp_counters(b);
        to = loopback(rtcp_local_port(b));

        ASSERT_OK(rtcp_send_report(a));
        ASSERT_EQ(poll(&pfd, 1, 2000), 1);
        n = recv(t, pkt, sizeof(pkt), 0);
        /* RR (8) + SDES with "00001111@fxsgw" (28) = 36 bytes; SRTCP adds index (4) and an 80-bit tag
         * even with the _32 suite (RFC 4568 §6.2). */
        ASSERT_EQ(n, 36 + 4 + 10);
        ASSERT_TRUE(pkt[36] & 0x80);                              /* E: encrypted */
        ASSERT_TRUE(rtcp_validate(pkt, (size_t) n) < 0);
        ASSERT_TRUE(memmem(pkt, (size_t) n, "fxsgw", 5) == NULL);
        memcpy(copy, pkt, (size_t) n);

        before = rtcp_taken(cb);
        ASSERT_EQ(sendto(t, pkt, (size_t) n, 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)), n);
        rtcp_pump(e, cb, before);
        ASSERT_EQ(cb->rx, 1u);
        ASSERT_EQ(cb->rr_rx, 1u);

        /* A's next report, tampered: the tag fails (the index is fresh, so not a replay) */
        ASSERT_OK(rtcp_send_report(a));
        ASSERT_EQ(poll(&pfd, 1, 2000), 1);
        n = recv(t, pkt, sizeof(pkt), 0);
        ASSERT_TRUE(n > 20);
        memcpy(copy, pkt, (size_t) n);
        copy[20] ^= 0x01;
        before = rtcp_taken(cb);
        ASSERT_EQ(sendto(t, copy, (size_t) n, 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)), n);
        rtcp_pump(e, cb, before);
        ASSERT_EQ(cb->auth_failed, 1u);
        ASSERT_EQ(cb->rx, 1u);

        /* ... and the untouched one is still taken: a forgery does not move the replay window */
        before = rtcp_taken(cb);
        ASSERT_EQ(sendto(t, pkt, (size_t) n, 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)), n);
        rtcp_pump(e, cb, before);
        ASSERT_EQ(cb->rx, 2u);

        before = rtcp_taken(cb);                                   /* replayed */
        ASSERT_EQ(sendto(t, pkt, (size_t) n, 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)), n);
        rtcp_pump(e, cb, before);
        ASSERT_EQ(cb->replayed, 1u);

        {                                                          /* a plain RR is not taken */
                uint8_t rr[8] = { 0x80, 201, 0, 1, 0, 0, 0x11, 0x11 };

                before = rtcp_taken(cb);
                ASSERT_EQ(sendto(t, rr, sizeof(rr), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)), 8);
                rtcp_pump(e, cb, before);
                ASSERT_EQ(cb->auth_failed + cb->malformed, 2u);
        }
        ASSERT_EQ(cb->rx, 2u);
        close(t);
}

DEFINE_TEST_MAIN
