/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mediad-rtp.c: RTP header checks and sessions on 127.0.0.1 (the jitter buffer: test-mediad-playout.c):
 * what is sent (header fields, marker, sequence, timestamp), what is dropped and counted
 * (malformed, foreign source, wrong payload type), direction. */
#include <arpa/inet.h>
#include <math.h>
#include <poll.h>
#include <unistd.h>

#include "gw-test.h"
#include "gw-tests.h"
#include "test-mediad-net.h"
#include "mediad-rtp.h"
#include "mediad-udp.h"

static ssize_t recv_timeout(int fd, uint8_t *buf, size_t n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        if (poll(&p, 1, 2000) != 1)
                return -1;
        return recv(fd, buf, n, 0);
}

TEST(parse) {
        uint8_t p[64] = { 0x80, 0x00, 0x12, 0x34, 0, 0, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4 };
        RtpHeader h;

        ASSERT_OK(rtp_parse(p, 16, &h));
        ASSERT_EQ(h.seq, 0x1234);
        ASSERT_EQ(h.ts, 256);
        ASSERT_EQ(h.ssrc, 0xdeadbeef);
        ASSERT_EQ(h.payload_len, 4);
        ASSERT_EQ(h.payload[0], 1);
        ASSERT_ERROR(rtp_parse(p, 11, &h), EBADMSG);            /* short */
        p[0] = 0x40;
        ASSERT_ERROR(rtp_parse(p, 16, &h), EBADMSG);            /* version 1 */
        p[0] = 0x82;                                             /* 2 CSRCs = 8 bytes */
        ASSERT_ERROR(rtp_parse(p, 16, &h), EBADMSG);
        ASSERT_OK(rtp_parse(p, 20, &h));
        ASSERT_EQ(h.payload_len, 0);
        p[0] = 0x90;                                             /* extension of 1 word */
        p[12] = 0xbe; p[13] = 0xde; p[14] = 0; p[15] = 1;
        ASSERT_ERROR(rtp_parse(p, 18, &h), EBADMSG);
        ASSERT_OK(rtp_parse(p, 22, &h));
        ASSERT_EQ(h.payload_len, 2);
        p[14] = 0xff;                                            /* extension length beyond the packet */
        ASSERT_ERROR(rtp_parse(p, 64, &h), EBADMSG);
        p[0] = 0xa0;                                             /* padding */
        p[19] = 4;
        ASSERT_OK(rtp_parse(p, 20, &h));
        ASSERT_EQ(h.payload_len, 4);
        p[19] = 0;
        ASSERT_ERROR(rtp_parse(p, 20, &h), EBADMSG);
        p[19] = 9;
        ASSERT_ERROR(rtp_parse(p, 20, &h), EBADMSG);
}

static void new_session(sd_event *e, uint8_t pt, uint8_t te, int far_fd, RtpSession **ret) {
        RtpParams p = { .call_id = "c1@test", .local = loopback(0), .payload_type = pt,
                        .telephone_event_pt = te, .direction = GW__MEDIA_DIRECTION__DIRECTION_SENDRECV };

        p.remote = loopback(fd_port(far_fd));
        ASSERT_OK(rtp_session_new(e, &p, NULL, NULL, ret));
}

static void sine(int16_t *x, unsigned frame, double f, double amp) {
        for (unsigned i = 0; i < GW_PCM_SAMPLES; i++)
                x[i] = (int16_t) lrint(amp * sin(2 * M_PI * f * (frame * GW_PCM_SAMPLES + i) / 8000.0));
}

/* Header fields of what a session sends: version 2, payload type, marker only on the first,
 * sequence +1, timestamp +160, constant SSRC, 160 bytes of G.711. */
TEST(send_headers) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(rtp_session_freep) RtpSession *s = NULL;
        _cleanup_close_ int far = udp_socket();
        int16_t pcm[GW_PCM_SAMPLES];
        uint16_t seq0 = 0;
        uint32_t ts0 = 0;

        ASSERT_OK(sd_event_new(&e));
        new_session(e, 8, 0, far, &s);
        for (unsigned k = 0; k < 5; k++) {
                uint8_t buf[RTP_MAX_PACKET];
                RtpHeader h;
                ssize_t n;

                sine(pcm, k, 1000, 8000);
                rtp_session_send_frame(s, pcm);
                n = recv_timeout(far, buf, sizeof(buf));
                ASSERT_EQ(n, RTP_HEADER + GW_PCM_SAMPLES);
                ASSERT_OK(rtp_parse(buf, (size_t) n, &h));
                ASSERT_EQ(h.pt, 8);
                ASSERT_EQ(h.marker, k == 0);
                ASSERT_EQ(h.ssrc, rtp_session_ssrc(s));
                if (k == 0) {
                        seq0 = h.seq;
                        ts0 = h.ts;
                }
                ASSERT_EQ(h.seq, (uint16_t) (seq0 + k));
                ASSERT_EQ(h.ts, ts0 + k * GW_PCM_SAMPLES);
                for (unsigned i = 0; i < GW_PCM_SAMPLES; i++)
                        ASSERT_EQ(h.payload[i], g711_encode_sample(LAW_ALAW, pcm[i]));
        }
        ASSERT_EQ(rtp_session_counters(s)->tx, 5);
}

static void run_until(sd_event *e, const uint64_t *counter, uint64_t want) {
        (void) GW_TEST_RUN_UNTIL(e, *counter >= want, 2 * USEC_PER_SEC);
        ASSERT_EQ(*counter, want);
}

/* Only the negotiated remote is heard; bad packets from it are counted, never played. */
TEST(receive_checks) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(rtp_session_freep) RtpSession *s = NULL;
        _cleanup_close_ int far = udp_socket(), stranger = udp_socket();
        const RtpCounters *c;
        struct sockaddr_storage to;
        uint8_t pkt[RTP_HEADER + GW_PCM_SAMPLES] = { 0x80, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4 };
        int16_t out[GW_PCM_SAMPLES];
        unsigned played = 0;

        ASSERT_OK(sd_event_new(&e));
        new_session(e, 0, 101, far, &s);
        c = rtp_session_counters(s);
        to = loopback(rtp_session_local_port(s));
        memset(pkt + RTP_HEADER, 0x80, GW_PCM_SAMPLES);          /* loud: u-law 0x80 = +32124 */

        /* From a stranger: foreign. */
        ASSERT_EQ(sendto(stranger, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)), sizeof(pkt));
        run_until(e, &c->foreign, 1);
        /* Malformed from the remote: version 0, CSRC beyond the end, padding 0. */
        pkt[0] = 0x00;
        ASSERT_TRUE(sendto(far, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        pkt[0] = 0x8f;
        ASSERT_TRUE(sendto(far, pkt, 20, 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        pkt[0] = 0xa0;
        pkt[sizeof(pkt) - 1] = 0;
        ASSERT_TRUE(sendto(far, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        run_until(e, &c->malformed, 3);
        /* Payload type not negotiated (PCMA on a PCMU session), and a short PCMU payload. */
        pkt[0] = 0x80;
        pkt[sizeof(pkt) - 1] = 0x80;
        pkt[1] = 8;
        ASSERT_TRUE(sendto(far, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        pkt[1] = 0;
        ASSERT_TRUE(sendto(far, pkt, 100, 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        run_until(e, &c->bad_pt, 2);
        ASSERT_EQ(c->rx, 0);
        ASSERT_FALSE(rtp_session_receiving(s));
        for (unsigned i = 0; i < 4; i++)
                ASSERT_FALSE(rtp_session_playout(s, out));

        /* Then good packets from the remote play: a stream, one packet per down frame,
         * heard once the jitter buffer's initial delay has passed. */
        for (uint16_t k = 0; k < 3; k++) {
                pkt[3] = (uint8_t) (10 + k);
                pkt[6] = (uint8_t) ((k * GW_PCM_SAMPLES) >> 8);          /* timestamps 160 apart */
                pkt[7] = (uint8_t) (k * GW_PCM_SAMPLES);
                ASSERT_TRUE(sendto(far, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
                run_until(e, &c->rx, k + 1);
                if (rtp_session_playout(s, out)) {
                        ASSERT_EQ(out[0], 32124);
                        played++;
                }
        }
        ASSERT_TRUE(rtp_session_receiving(s));
        ASSERT_TRUE(played >= 1);
        ASSERT_EQ(c->foreign, 1);
        ASSERT_EQ(c->malformed, 3);
        ASSERT_EQ(c->bad_pt, 2);

        /* A new SSRC with lower sequence numbers and another timestamp (a B2BUA
         * switched source): a new stream, played right after what was buffered of
         * the first, nothing of it late. */
        pkt[11] = 5;
        memset(pkt + RTP_HEADER, 0x00, GW_PCM_SAMPLES);          /* u-law 0x00 = -32124 */
        for (uint16_t k = 0; k < 2; k++) {
                pkt[3] = (uint8_t) (2 + k);
                pkt[4] = 0x70;
                pkt[7] = (uint8_t) (k * GW_PCM_SAMPLES);
                ASSERT_TRUE(sendto(far, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        }
        run_until(e, &c->rx, 5);
        for (unsigned i = played; i < 3; i++) {
                ASSERT_TRUE(rtp_session_playout(s, out));
                ASSERT_EQ(out[0], 32124);
        }
        for (unsigned i = 0; i < 2; i++) {
                ASSERT_TRUE(rtp_session_playout(s, out));
                ASSERT_EQ(out[0], -32124);
        }
        ASSERT_EQ(rtp_session_playout_counters(s)->late, 0);
        ASSERT_EQ(rtp_session_playout_counters(s)->played, 5);
}

/* recvonly sends nothing, sendonly does not play, inactive neither. */
TEST(direction) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(rtp_session_freep) RtpSession *s = NULL;
        _cleanup_close_ int far = udp_socket();
        int16_t pcm[GW_PCM_SAMPLES] = {}, out[GW_PCM_SAMPLES];
        RtpParams p = { .call_id = "c1@test", .local = loopback(0), .payload_type = 0 };
        uint8_t pkt[RTP_HEADER + GW_PCM_SAMPLES] = { 0x80, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4 };
        struct sockaddr_storage to;
        uint8_t buf[RTP_MAX_PACKET];

        ASSERT_OK(sd_event_new(&e));
        p.remote = loopback(fd_port(far));
        p.direction = GW__MEDIA_DIRECTION__DIRECTION_RECVONLY;
        ASSERT_OK(rtp_session_new(e, &p, NULL, NULL, &s));
        ASSERT_FALSE(rtp_session_same_socket(s, &p));            /* port 0 became a real one */
        to = loopback(rtp_session_local_port(s));
        p.local = to;
        ASSERT_TRUE(rtp_session_same_socket(s, &p));
        rtp_session_send_frame(s, pcm);
        ASSERT_EQ(rtp_session_counters(s)->tx, 0);

        p.direction = GW__MEDIA_DIRECTION__DIRECTION_SENDONLY;
        ASSERT_OK(rtp_session_update(s, &p));
        rtp_session_send_frame(s, pcm);
        ASSERT_EQ(recv_timeout(far, buf, sizeof(buf)), RTP_HEADER + GW_PCM_SAMPLES);
        for (uint16_t k = 0; k < 3; k++) {
                pkt[3] = (uint8_t) k;
                ASSERT_TRUE(sendto(far, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        }
        run_until(e, &rtp_session_counters(s)->rx, 3);
        ASSERT_FALSE(rtp_session_receiving(s));
        ASSERT_FALSE(rtp_session_playout(s, out));

        p.direction = GW__MEDIA_DIRECTION__DIRECTION_INACTIVE;
        ASSERT_OK(rtp_session_update(s, &p));
        rtp_session_send_frame(s, pcm);
        ASSERT_EQ(rtp_session_counters(s)->tx, 1);
        ASSERT_FALSE(rtp_session_playout(s, out));
}

TEST(params_from_proto) {
        Gw__RtpSession r = GW__RTP_SESSION__INIT;
        struct sockaddr_storage def = loopback(5062);
        const char *why = NULL;
        RtpParams p;

        r.call_id = (char *) "x@y";
        r.local_port = 20000;
        r.remote_ip = (char *) "127.0.0.2";
        r.has_remote_port = true;
        r.remote_port = 30000;
        r.has_telephone_event_pt = true;
        r.telephone_event_pt = 101;
        ASSERT_OK(rtp_params_from_proto(&r, &def, &p, &why));
        ASSERT_EQ(ntohs(((struct sockaddr_in *) &p.local)->sin_port), 20000);
        ASSERT_EQ(ntohs(((struct sockaddr_in *) &p.remote)->sin_port), 30000);
        ASSERT_EQ(p.telephone_event_pt, 101);

        r.payload_type = 18;
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
        ASSERT_STREQ(why, "payload_type is neither PCMU (0) nor PCMA (8)");
        r.payload_type = 8;
        r.remote_ip = (char *) "not-an-ip";
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
        r.remote_ip = (char *) "::1";
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);   /* family differs */
        r.remote_ip = NULL;
        r.has_ptime_ms = true;
        r.ptime_ms = 30;
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
        r.ptime_ms = 20;
        ASSERT_OK(rtp_params_from_proto(&r, &def, &p, &why));
        ASSERT_EQ(p.remote.ss_family, AF_UNSPEC);
        r.local_port = 0;
        ASSERT_ERROR(rtp_params_from_proto(&r, &def, &p, &why), EINVAL);
}

DEFINE_TEST_MAIN

/* Closed sockets are seen by their port being free again (descriptor numbers get reused). */
static bool port_is_free(uint16_t port) {
        struct sockaddr_storage ss = loopback(port);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        bool ok;

        ASSERT_TRUE(fd >= 0);
        ok = bind(fd, (struct sockaddr *) &ss, sizeof(struct sockaddr_in)) == 0;
        close(fd);
        return ok;
}

/* A socket kept by the previous mediad (passed back by the supervisor as
 * "rtp-<port>"): a session opening that port takes it, with what the peer
 * sent while no mediad ran still queued in it; a kept socket bound
 * elsewhere under a session's name is not taken; the rest is dropped. */
TEST(adopts_kept_socket) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(rtp_session_freep) RtpSession *s = NULL;
        _cleanup_close_ int far = udp_socket();
        int kept = udp_socket(), stale = udp_socket(), other = udp_socket();
        uint16_t port = fd_port(kept), stale_port = fd_port(stale), other_port = fd_port(other);
        struct sockaddr_storage to = loopback(port);
        uint8_t pkt[RTP_HEADER + GW_PCM_SAMPLES] = { 0x80, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4 };
        char name[32];
        GwFdSet *set = gw_fdset_new();
        MediaUdpKeep *keep = NULL;
        RtpParams p = { .call_id = "c1@test", .local = loopback(port), .payload_type = 0,
                        .direction = GW__MEDIA_DIRECTION__DIRECTION_SENDRECV };

        ASSERT_OK(sd_event_new(&e));
        ASSERT_NOT_NULL(set);
        /* Sent while "mediad is down": two packets wait in the kept socket. */
        for (uint16_t k = 0; k < 2; k++) {
                pkt[3] = (uint8_t) (1 + k);
                pkt[7] = (uint8_t) (k * GW_PCM_SAMPLES);
                ASSERT_TRUE(sendto(far, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        }
        snprintf(name, sizeof(name), "rtp-%u", port);
        ASSERT_OK(gw_fdset_add(set, stale, name));             /* same name, bound elsewhere: not taken */
        ASSERT_OK(gw_fdset_add(set, kept, name));
        ASSERT_OK(gw_fdset_add(set, other, "rtp-9"));           /* a session that does not come back */
        ASSERT_OK(media_udp_keep_new(set, &keep));
        p.keep = keep;

        p.remote = loopback(fd_port(far));
        ASSERT_OK(rtp_session_new(e, &p, NULL, NULL, &s));
        ASSERT_EQ(rtp_session_local_port(s), port);
        ASSERT_EQ(rtp_session_fd(s), kept);
        ASSERT_EQ(media_udp_keep_adopted(keep), 1);
        run_until(e, &rtp_session_counters(s)->rx, 2);
        ASSERT_EQ(media_udp_keep_waited(keep), 2);
        /* The stale one was closed when the session looked; "rtp-9" is left to drop. */
        ASSERT_TRUE(port_is_free(stale_port));
        ASSERT_FALSE(port_is_free(other_port));
        ASSERT_EQ(media_udp_keep_drop_unclaimed(keep), 1);
        ASSERT_TRUE(port_is_free(other_port));

        /* A packet after the restart is no longer counted as having waited. */
        pkt[3] = 3;
        pkt[7] = (uint8_t) (2 * GW_PCM_SAMPLES);
        ASSERT_TRUE(sendto(far, pkt, sizeof(pkt), 0, (struct sockaddr *) &to, sizeof(struct sockaddr_in)) > 0);
        run_until(e, &rtp_session_counters(s)->rx, 3);
        ASSERT_EQ(media_udp_keep_waited(keep), 2);
        s = rtp_session_free(s);
        media_udp_keep_free(keep);
}
