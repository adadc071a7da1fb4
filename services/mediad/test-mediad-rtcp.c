/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mediad-rtcp.c: RTCP between two RTP sessions on 127.0.0.1 through a UDP relay written
 * for the test (it can drop RTP and delays RTCP): SR/RR contents, loss, jitter, RTT from
 * LSR/DLSR; malformed and foreign RTCP dropped and counted; A.2 validation; the E-model. */
#include <arpa/inet.h>
#include <math.h>
#include <poll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "gw-bus.h"
#include "gw-tests.h"
#include "test-mediad-net.h"
#include "mediad-rtp.h"

#define RELAY_RTCP_DELAY_USEC  (10 * USEC_PER_MSEC)

static uint16_t random_even_port(void) {
        uint16_t v;

        ASSERT_TRUE(getrandom(&v, sizeof(v), 0) == sizeof(v));
        return (uint16_t) (30000 + (v % 15000) * 2);
}

/* Two UDP sockets on an even port and the next one. */
static uint16_t bind_pair(int fds[2]) {
        for (unsigned tries = 0; tries < 100; tries++) {
                uint16_t port = random_even_port();
                struct sockaddr_storage a = loopback(port), b = loopback((uint16_t) (port + 1));

                fds[0] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                fds[1] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                ASSERT_TRUE(fds[0] >= 0 && fds[1] >= 0);
                if (bind(fds[0], (struct sockaddr *) &a, sizeof(struct sockaddr_in)) == 0 &&
                    bind(fds[1], (struct sockaddr *) &b, sizeof(struct sockaddr_in)) == 0)
                        return port;
                close(fds[0]);
                close(fds[1]);
        }
        GW_TEST_FAIL("no free port pair");
}

/* A session on a random even port with its RTCP port. */
static RtpSession *session(sd_event *e, const char *call_id, uint16_t remote_port, Gw__MediaDirection dir) {
        for (unsigned tries = 0; tries < 100; tries++) {
                RtpParams p = {
                        .call_id = call_id,
                        .local = loopback(random_even_port()),
                        .remote = loopback(remote_port),
                        .payload_type = 0,
                        .direction = dir,
                };
                RtpSession *s = NULL;

                if (rtp_session_new(e, &p, NULL, NULL, &s) < 0)
                        continue;
                if (rtp_session_rtcp(s)) {
                        ASSERT_EQ(rtcp_local_port(rtp_session_rtcp(s)), rtp_session_local_port(s) + 1);
                        return s;
                }
                rtp_session_free(s);
        }
        GW_TEST_FAIL("no free port pair");
}

/* ---------------------------------------------------------------- the relay
 *
 *   A ──► fd a[0],a[1] (what A thinks is the peer) ──► from b[0],b[1] ──► B
 * RTP from A to B may be dropped (every drop_every-th); RTCP both ways is held
 * RELAY_RTCP_DELAY_USEC, so the round trip is known. */
typedef struct Relay {
        int a[2], b[2];
        uint16_t a_port, b_port;
        struct sockaddr_storage to_a[2], to_b[2];   /* the sessions' RTP and RTCP addresses */
        sd_event_source *src[4];
        unsigned drop_every;
        unsigned rtp_ab, dropped;
        uint16_t last_seq_ab;                        /* last RTP seq A sent */
        struct {
                bool used;
                int fd;
                struct sockaddr_storage to;
                uint64_t due;
                uint8_t buf[1500];
                size_t n;
        } held[16];
} Relay;

static int relay_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Relay *r = userdata;
        uint8_t buf[1500];
        ssize_t n;

        while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
                if (fd == r->a[0]) {                 /* RTP A -> B */
                        r->rtp_ab++;
                        r->last_seq_ab = (uint16_t) ((buf[2] << 8) | buf[3]);
                        if (r->drop_every && r->rtp_ab % r->drop_every == 0) {
                                r->dropped++;
                                continue;
                        }
                        ASSERT_TRUE(sendto(r->b[0], buf, (size_t) n, 0, (struct sockaddr *) &r->to_b[0],
                                           sizeof(struct sockaddr_in)) == n);
                } else if (fd == r->b[0]) {
                        ASSERT_TRUE(sendto(r->a[0], buf, (size_t) n, 0, (struct sockaddr *) &r->to_a[0],
                                           sizeof(struct sockaddr_in)) == n);
                } else {                             /* RTCP: held */
                        unsigned i;

                        for (i = 0; i < ELEMENTSOF(r->held) && r->held[i].used; i++)
                                ;
                        ASSERT_TRUE(i < ELEMENTSOF(r->held));
                        r->held[i].used = true;
                        r->held[i].fd = fd == r->a[1] ? r->b[1] : r->a[1];
                        r->held[i].to = fd == r->a[1] ? r->to_b[1] : r->to_a[1];
                        r->held[i].due = now_usec(CLOCK_MONOTONIC) + RELAY_RTCP_DELAY_USEC;
                        memcpy(r->held[i].buf, buf, (size_t) n);
                        r->held[i].n = (size_t) n;
                }
        }
        return 0;
}

static void relay_flush(Relay *r) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        for (unsigned i = 0; i < ELEMENTSOF(r->held); i++)
                if (r->held[i].used && r->held[i].due <= now) {
                        ASSERT_TRUE(sendto(r->held[i].fd, r->held[i].buf, r->held[i].n, 0,
                                           (struct sockaddr *) &r->held[i].to, sizeof(struct sockaddr_in)) ==
                                    (ssize_t) r->held[i].n);
                        r->held[i].used = false;
                }
}

static void relay_open(sd_event *e, Relay *r) {
        *r = (Relay) {};
        r->a_port = bind_pair(r->a);
        r->b_port = bind_pair(r->b);
        for (unsigned i = 0; i < 2; i++) {
                ASSERT_OK(sd_event_add_io(e, &r->src[i], r->a[i], EPOLLIN, relay_io, r));
                ASSERT_OK(sd_event_add_io(e, &r->src[2 + i], r->b[i], EPOLLIN, relay_io, r));
        }
}

static void relay_connect(Relay *r, const RtpSession *a, const RtpSession *b) {
        r->to_a[0] = loopback(rtp_session_local_port(a));
        r->to_a[1] = loopback((uint16_t) (rtp_session_local_port(a) + 1));
        r->to_b[0] = loopback(rtp_session_local_port(b));
        r->to_b[1] = loopback((uint16_t) (rtp_session_local_port(b) + 1));
}

static void relay_close(Relay *r) {
        for (unsigned i = 0; i < 4; i++)
                sd_event_source_disable_unref(r->src[i]);
        for (unsigned i = 0; i < 2; i++) {
                close(r->a[i]);
                close(r->b[i]);
        }
}

/* Run the loop for 'usec'; every 20 ms each session gets an up frame (a tone). */
static void run(sd_event *e, Relay *r, RtpSession *a, RtpSession *b, uint64_t usec, bool frames) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + usec, next = now_usec(CLOCK_MONOTONIC);
        int16_t pcm[GW_PCM_SAMPLES];
        static unsigned phase;

        while (now_usec(CLOCK_MONOTONIC) < end) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);

                if (frames && now >= next) {
                        for (unsigned i = 0; i < GW_PCM_SAMPLES; i++, phase++)
                                pcm[i] = (int16_t) (8000 * sin(2 * M_PI * 1000 * phase / 8000.0));
                        rtp_session_send_frame(a, pcm);
                        rtp_session_send_frame(b, pcm);
                        next += GW_PCM_FRAME_MS * USEC_PER_MSEC;
                }
                ASSERT_TRUE(sd_event_run(e, 1000) >= 0);
                relay_flush(r);
        }
}

/* ---------------------------------------------------------------- tests */

TEST(validate) {
        /* RR with one block, SDES with an empty chunk */
        uint8_t p[64] = { 0x81, RTCP_PT_RR, 0, 7 };
        size_t n = 32;

        p[n] = 0x81; p[n + 1] = RTCP_PT_SDES; p[n + 2] = 0; p[n + 3] = 1;
        n += 8;
        ASSERT_OK(rtcp_validate(p, n));
        ASSERT_ERROR(rtcp_validate(p, n - 4), EBADMSG);          /* lengths do not add up */
        ASSERT_ERROR(rtcp_validate(p, n + 4), EBADMSG);
        ASSERT_ERROR(rtcp_validate(p, 6), EBADMSG);               /* short */
        p[0] = 0x41;                                              /* version 1 */
        ASSERT_ERROR(rtcp_validate(p, n), EBADMSG);
        p[0] = 0xa1;                                              /* padding in the first */
        ASSERT_ERROR(rtcp_validate(p, n), EBADMSG);
        p[0] = 0x82;                                              /* two blocks do not fit */
        ASSERT_ERROR(rtcp_validate(p, n), EBADMSG);
        p[0] = 0x81;
        p[1] = RTCP_PT_SDES;                                      /* does not start with SR/RR */
        ASSERT_ERROR(rtcp_validate(p, n), EBADMSG);
        p[1] = RTCP_PT_SR;                                        /* SR with a block needs 52 bytes */
        ASSERT_ERROR(rtcp_validate(p, n), EBADMSG);
        p[1] = RTCP_PT_RR;
        p[33] = 0x00;                                             /* second: version 0 */
        p[32] = 0x01;
        ASSERT_ERROR(rtcp_validate(p, n), EBADMSG);
}

TEST(emodel) {
        double mos0 = emodel_mos(emodel_r(EMODEL_IE_G711, EMODEL_BPL_G711_PLC, 0, 40));
        double mos5 = emodel_mos(emodel_r(EMODEL_IE_G711, EMODEL_BPL_G711_PLC, 5, 40));
        double mos_far = emodel_mos(emodel_r(EMODEL_IE_G711, EMODEL_BPL_G711_PLC, 0, 400));

        fprintf(stderr, "MOS: 0 %% loss %.2f, 5 %% loss %.2f, 400 ms %.2f\n", mos0, mos5, mos_far);
        ASSERT_TRUE(fabs(mos0 - 4.4) < 0.05);
        ASSERT_TRUE(mos5 < mos0 - 0.3 && mos5 > 3.5);
        ASSERT_TRUE(mos_far < mos0 - 0.5);
        ASSERT_TRUE(emodel_mos(-5) == 1.0 && emodel_mos(120) == 4.5);
}

/* A sends (SR), B only receives (RR); their reports cross the relay. */
TEST(exchange) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        RtpSession *a, *b;
        RtcpSenderInfo si;
        RtcpReportBlock rb;
        RtcpQuality qa, qb;
        const RtcpCounters *ca, *cb;
        Relay relay;

        ASSERT_OK(sd_event_new(&e));
        relay_open(e, &relay);
        a = session(e, "a", relay.a_port, GW__MEDIA_DIRECTION__DIRECTION_SENDRECV);
        b = session(e, "b", relay.b_port, GW__MEDIA_DIRECTION__DIRECTION_RECVONLY);
        relay_connect(&relay, a, b);
        rtcp_set_interval(rtp_session_rtcp(a), 200 * USEC_PER_MSEC);
        rtcp_set_interval(rtp_session_rtcp(b), 200 * USEC_PER_MSEC);

        run(e, &relay, a, b, 1500 * USEC_PER_MSEC, true);
        /* Last reports, after the last packet: A's SR, then B's RR answering it. */
        rtcp_set_interval(rtp_session_rtcp(a), 3600 * USEC_PER_SEC);
        rtcp_set_interval(rtp_session_rtcp(b), 3600 * USEC_PER_SEC);
        run(e, &relay, a, b, 60 * USEC_PER_MSEC, false);
        ASSERT_OK(rtcp_send_report(rtp_session_rtcp(a)));
        run(e, &relay, a, b, 40 * USEC_PER_MSEC, false);
        ASSERT_OK(rtcp_send_report(rtp_session_rtcp(b)));
        run(e, &relay, a, b, 40 * USEC_PER_MSEC, false);

        ca = rtcp_counters(rtp_session_rtcp(a));
        cb = rtcp_counters(rtp_session_rtcp(b));
        fprintf(stderr, "A: rtcp tx %" PRIu64 " (sr %" PRIu64 ") rx %" PRIu64 "; B: tx %" PRIu64 " (rr %" PRIu64 ") rx %" PRIu64 "\n",
                ca->tx, ca->sr_tx, ca->rx, cb->tx, cb->rr_tx, cb->rx);
        ASSERT_TRUE(ca->sr_tx >= 4);               /* the timer: ~1.6 s at ~200 ms */
        ASSERT_TRUE(cb->rr_tx >= 4 && cb->sr_tx == 0);
        ASSERT_TRUE(ca->rr_rx >= 4 && ca->sr_rx == 0);
        ASSERT_TRUE(cb->sr_rx >= 4 && cb->rr_rx == 0);
        ASSERT_EQ(ca->malformed + ca->foreign + cb->malformed + cb->foreign, 0);

        /* B saw A's SR (A sent within the last two intervals): A's SSRC, its packet and octet counts. */
        ASSERT_TRUE(rtcp_last_sender_info(rtp_session_rtcp(b), &si));
        ASSERT_EQ(si.ssrc, rtp_session_ssrc(a));
        ASSERT_EQ(si.packets, rtp_session_counters(a)->tx);
        ASSERT_EQ(si.octets, rtp_session_counters(a)->tx * GW_PCM_SAMPLES);
        ASSERT_TRUE(si.packets > 60);

        /* A got B's report block about A's stream. */
        ASSERT_TRUE(rtcp_last_report(rtp_session_rtcp(a), &rb));
        ASSERT_EQ(rb.ssrc, rtp_session_ssrc(a));
        ASSERT_EQ(rb.ext_highest_seq & 0xffff, relay.last_seq_ab);
        ASSERT_EQ(rb.cumulative_lost, 0);
        ASSERT_EQ(rb.fraction_lost, 0);
        ASSERT_TRUE(rb.lsr != 0 && rb.dlsr > 0);
        fprintf(stderr, "B's RR: jitter %u, dlsr %u/65536 s\n", rb.jitter, rb.dlsr);
        ASSERT_TRUE(rb.jitter < 40);               /* < 5 ms on loopback */

        ASSERT_TRUE(rtp_session_quality(b, &qb));
        ASSERT_EQ(qb.rx_packets, rtp_session_counters(a)->tx);
        ASSERT_EQ(qb.rx_expected, rtp_session_counters(a)->tx);
        ASSERT_EQ(qb.rx_lost, 0);
        ASSERT_TRUE(qb.rx_jitter_us < 5000);

        /* RTT: the relay holds RTCP 10 ms each way. */
        ASSERT_TRUE(rtp_session_quality(a, &qa));
        fprintf(stderr, "A: rtt %u us, remote jitter %u us, MOS %.2f; B: jitter %u us, MOS %.2f\n",
                qa.rtt_us, qa.remote_jitter_us, qa.mos, qb.rx_jitter_us, qb.mos);
        ASSERT_TRUE(qa.have_rtt);
        ASSERT_TRUE(qa.rtt_us >= 2 * RELAY_RTCP_DELAY_USEC - 500 && qa.rtt_us < 2 * RELAY_RTCP_DELAY_USEC + 30000);
        ASSERT_TRUE(qa.have_remote && qa.remote_lost == 0);
        ASSERT_TRUE(qb.mos > 4.3 && qb.mos < 4.5);

        rtp_session_free(a);          /* BYE */
        rtp_session_free(b);
        relay_close(&relay);
}

/* The relay drops every 10th RTP packet from A: B reports about 10 %. */
TEST(loss) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        RtpSession *a, *b;
        RtcpReportBlock rb;
        RtcpQuality qa, qb;
        Relay relay;
        double pct;

        ASSERT_OK(sd_event_new(&e));
        relay_open(e, &relay);
        relay.drop_every = 10;
        a = session(e, "a", relay.a_port, GW__MEDIA_DIRECTION__DIRECTION_SENDRECV);
        b = session(e, "b", relay.b_port, GW__MEDIA_DIRECTION__DIRECTION_SENDRECV);
        relay_connect(&relay, a, b);
        rtcp_set_interval(rtp_session_rtcp(a), 300 * USEC_PER_MSEC);
        rtcp_set_interval(rtp_session_rtcp(b), 3600 * USEC_PER_SEC);   /* one report, at the end */

        run(e, &relay, a, b, 2000 * USEC_PER_MSEC, true);
        ASSERT_OK(rtcp_send_report(rtp_session_rtcp(b)));
        run(e, &relay, a, b, 40 * USEC_PER_MSEC, false);

        ASSERT_TRUE(rtcp_last_report(rtp_session_rtcp(a), &rb));
        pct = 100.0 * rb.fraction_lost / 256.0;
        fprintf(stderr, "relay: %u packets, %u dropped; RR: fraction %u/256 (%.1f %%), cumulative %d\n",
                relay.rtp_ab, relay.dropped, rb.fraction_lost, pct, rb.cumulative_lost);
        ASSERT_TRUE(pct > 8.5 && pct < 11.5);
        ASSERT_TRUE(rb.cumulative_lost >= (int32_t) relay.dropped - 1 && rb.cumulative_lost <= (int32_t) relay.dropped);
        /* B's view; its MOS below the loss-free one. B sent SRs to A too: A has no loss. */
        ASSERT_TRUE(rtp_session_quality(b, &qb));
        ASSERT_TRUE(rtp_session_quality(a, &qa));
        fprintf(stderr, "B: lost %" PRId64 "/%" PRIu64 ", MOS %.2f; A: lost %" PRId64 ", MOS %.2f, rtt %u us\n",
                qb.rx_lost, qb.rx_expected, qb.mos, qa.rx_lost, qa.mos, qa.rtt_us);
        ASSERT_TRUE(qb.rx_lost == rb.cumulative_lost);
        ASSERT_EQ(qa.rx_lost, 0);
        ASSERT_TRUE(qb.mos < qa.mos - 0.3);

        rtp_session_free(a);
        rtp_session_free(b);
        relay_close(&relay);
}

/* Malformed RTCP from the peer's address, and any RTCP from elsewhere: dropped and counted. */
TEST(dropped) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        uint8_t good[8] = { 0x80, RTCP_PT_RR, 0, 1, 1, 2, 3, 4 }, bad[8] = { 0x80, RTCP_PT_RR, 0, 3, 1, 2, 3, 4 };
        struct sockaddr_storage to;
        RtcpReportBlock rb;
        RtpSession *a;
        Relay relay;
        int stranger[2];
        const RtcpCounters *c;

        ASSERT_OK(sd_event_new(&e));
        relay_open(e, &relay);
        a = session(e, "a", relay.a_port, GW__MEDIA_DIRECTION__DIRECTION_SENDRECV);
        to = loopback((uint16_t) (rtp_session_local_port(a) + 1));
        (void) bind_pair(stranger);
        sd_event_source_set_enabled(relay.src[1], SD_EVENT_OFF);   /* we read A's reports ourselves */

        /* from the peer's RTCP address: a bad one, a good one */
        ASSERT_TRUE(sendto(relay.a[1], bad, sizeof(bad), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) == 8);
        ASSERT_TRUE(sendto(relay.a[1], good, sizeof(good), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) == 8);
        /* from the peer's RTP port (not its RTCP port) and from a stranger: foreign */
        ASSERT_TRUE(sendto(relay.a[0], good, sizeof(good), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) == 8);
        ASSERT_TRUE(sendto(stranger[1], good, sizeof(good), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) == 8);
        for (unsigned i = 0; i < 20; i++)
                ASSERT_TRUE(sd_event_run(e, 5000) >= 0);
        c = rtcp_counters(rtp_session_rtcp(a));
        ASSERT_EQ(c->malformed, 1);
        ASSERT_EQ(c->foreign, 2);
        ASSERT_EQ(c->rx, 1);
        ASSERT_EQ(c->rr_rx, 1);
        ASSERT_FALSE(rtcp_last_report(rtp_session_rtcp(a), &rb));

        /* Its own report reaches the peer's RTCP port (odd port next to the RTP one we told it). */
        {
                uint8_t buf[1500];
                struct pollfd p = { .fd = relay.a[1], .events = POLLIN };
                ssize_t n;

                ASSERT_OK(rtcp_send_report(rtp_session_rtcp(a)));
                ASSERT_EQ(poll(&p, 1, 2000), 1);
                n = recv(relay.a[1], buf, sizeof(buf), 0);
                ASSERT_TRUE(n >= 8);
                ASSERT_OK(rtcp_validate(buf, (size_t) n));
                ASSERT_EQ(buf[1], RTCP_PT_RR);                     /* nothing sent yet: RR, no blocks */
                ASSERT_EQ(buf[0] & 0x1f, 0);
                ASSERT_EQ(((uint32_t) buf[4] << 24 | (uint32_t) buf[5] << 16 | (uint32_t) buf[6] << 8 | buf[7]),
                          rtp_session_ssrc(a));
                ASSERT_EQ(buf[9], RTCP_PT_SDES);
        }
        rtp_session_free(a);
        close(stranger[0]);
        close(stranger[1]);
        relay_close(&relay);
}

DEFINE_TEST_MAIN;
