/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-rtp.c: RTP (RFC 3550) with G.711 and RFC 4733 telephone-events, symmetric. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "gw-bus.h"
#include "gw-macro.h"
#include "gw-sockaddr.h"
#include "mediad-rtp.h"
#include "mediad-udp.h"

#define RECV_BURST 32          /* datagrams per wake-up */

static const char event_digits[16] = "0123456789*#ABCD";

struct RtpSession {
        sd_event_source *io;
        MediaUdpReader reader;               /* how io reads fd */
        int fd;
        MediaUdpKeep *keep;                /* where fd is kept across a restart; NULL: nowhere */
        char call_id[128];
        struct sockaddr_storage local;
        struct sockaddr_storage remote;      /* AF_UNSPEC: not known */
        uint8_t pt, te_pt;
        G711Law law;
        Gw__MediaDirection dir;

        /* sending */
        uint32_t ssrc;
        uint16_t seq;
        uint32_t ts;
        bool sent_any;                       /* marker on the first packet */
        uint8_t delay[RTP_DTMF_LOOKAHEAD + 1][GW_PCM_SAMPLES];
        uint32_t delay_ts[RTP_DTMF_LOOKAHEAD + 1];
        unsigned delay_n;
        bool ev_active, ev_started;
        uint8_t ev_code;
        uint32_t ev_ts, ev_duration;

        /* receiving */
        Playout playout;                     /* the jitter buffer (SSRC changes included) */
        bool received_audio;
        bool rx_ev_known, rx_ev_ended;
        uint32_t rx_ev_ts;

        MediaSrtp *srtp;                     /* NULL: plain RTP */
        Rtcp *rtcp;                          /* NULL: the odd port could not be bound */
        int rtcp_error;

        RtpCounters c;
        rtp_event_cb_t cb;
        void *userdata;
};

/* ---------------------------------------------------------------- parsing */

int rtp_parse(const uint8_t *buf, size_t n, RtpHeader *ret) {
        size_t off = RTP_HEADER, end = n;
        unsigned cc;

        if (n < RTP_HEADER || (buf[0] >> 6) != 2)
                return -EBADMSG;
        cc = buf[0] & 0x0f;
        off += 4 * cc;
        if (off > n)
                return -EBADMSG;
        if (buf[0] & 0x10) {                     /* header extension: 16-bit profile, 16-bit length in words */
                size_t words;

                if (off + 4 > n)
                        return -EBADMSG;
                words = ((size_t) buf[off + 2] << 8) | buf[off + 3];
                off += 4 + 4 * words;
                if (off > n)
                        return -EBADMSG;
        }
        if (buf[0] & 0x20) {                     /* padding: last octet counts itself */
                uint8_t pad = buf[n - 1];

                if (pad == 0 || pad > n - off)
                        return -EBADMSG;
                end = n - pad;
        }
        *ret = (RtpHeader) {
                .marker = buf[1] & 0x80,
                .pt = buf[1] & 0x7f,
                .seq = (uint16_t) ((buf[2] << 8) | buf[3]),
                .ts = ((uint32_t) buf[4] << 24) | ((uint32_t) buf[5] << 16) | ((uint32_t) buf[6] << 8) | buf[7],
                .ssrc = ((uint32_t) buf[8] << 24) | ((uint32_t) buf[9] << 16) | ((uint32_t) buf[10] << 8) | buf[11],
                .payload = buf + off,
                .payload_len = end - off,
        };
        return 0;
}

static size_t rtp_header_write(uint8_t *p, bool marker, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc) {
        p[0] = 0x80;
        p[1] = (uint8_t) ((marker ? 0x80 : 0) | (pt & 0x7f));
        p[2] = (uint8_t) (seq >> 8);
        p[3] = (uint8_t) seq;
        p[4] = (uint8_t) (ts >> 24);
        p[5] = (uint8_t) (ts >> 16);
        p[6] = (uint8_t) (ts >> 8);
        p[7] = (uint8_t) ts;
        p[8] = (uint8_t) (ssrc >> 24);
        p[9] = (uint8_t) (ssrc >> 16);
        p[10] = (uint8_t) (ssrc >> 8);
        p[11] = (uint8_t) ssrc;
        return RTP_HEADER;
}

/* ---------------------------------------------------------------- params */

int rtp_params_from_proto(const Gw__RtpSession *rtp, const struct sockaddr_storage *default_ip,
                          RtpParams *ret, const char **ret_error) {
        RtpParams p = {};

#define BAD(msg) do { *ret_error = (msg); return -EINVAL; } while (0)
        if (!rtp->call_id || !*rtp->call_id || strlen(rtp->call_id) >= 128)
                BAD("call_id is empty or too long");
        if (rtp->local_port == 0 || rtp->local_port > 65534)
                BAD("local_port out of range");
        if (!isempty(rtp->local_ip)) {
                if (gw_sockaddr_from_ip(rtp->local_ip, (uint16_t) rtp->local_port, &p.local) < 0)
                        BAD("local_ip is not an IP address");
        } else {
                if (!default_ip || (default_ip->ss_family != AF_INET && default_ip->ss_family != AF_INET6))
                        BAD("no local_ip and no sip.listen address");
                p.local = *default_ip;
                gw_sockaddr_set_port(&p.local, (uint16_t) rtp->local_port);
        }
        p.remote.ss_family = AF_UNSPEC;
        if (!isempty(rtp->remote_ip)) {
                if (!rtp->has_remote_port || rtp->remote_port == 0 || rtp->remote_port > 65535)
                        BAD("remote_ip without a valid remote_port");
                if (gw_sockaddr_from_ip(rtp->remote_ip, (uint16_t) rtp->remote_port, &p.remote) < 0)
                        BAD("remote_ip is not an IP address");
                if (p.remote.ss_family != p.local.ss_family)
                        BAD("remote_ip and local address are of different families");
        }
        if (rtp->payload_type != 0 && rtp->payload_type != 8)
                BAD("payload_type is neither PCMU (0) nor PCMA (8)");
        if (rtp->telephone_event_pt > 127 || (rtp->telephone_event_pt != 0 &&
                                               rtp->telephone_event_pt == rtp->payload_type))
                BAD("telephone_event_pt out of range or equal to payload_type");
        if ((unsigned) rtp->direction > GW__MEDIA_DIRECTION__DIRECTION_INACTIVE)
                BAD("direction unknown");
        if (rtp->has_ptime_ms && rtp->ptime_ms != GW_PCM_FRAME_MS)
                BAD("ptime other than 20 ms is not supported");
        p.srtp_suite = srtp_suite_from_string(rtp->srtp_suite);
        if (p.srtp_suite < 0)
                BAD("srtp_suite unknown (AES_CM_128_HMAC_SHA1_80 or AES_CM_128_HMAC_SHA1_32)");
        if (p.srtp_suite != SRTP_SUITE_NONE) {
                if (!rtp->srtp_tx_key || !rtp->srtp_tx_key->has_value ||
                    rtp->srtp_tx_key->value.len != SRTP_KEY_SALT_LEN)
                        BAD("srtp_tx_key is not 30 bytes (key and salt)");
                if (!rtp->srtp_rx_key || !rtp->srtp_rx_key->has_value ||
                    rtp->srtp_rx_key->value.len != SRTP_KEY_SALT_LEN)
                        BAD("srtp_rx_key is not 30 bytes (key and salt)");
                p.srtp_tx_key = rtp->srtp_tx_key->value.data;
                p.srtp_rx_key = rtp->srtp_rx_key->value.data;
                p.srtp_tx_roc = rtp->srtp_tx_roc;
                p.srtp_rx_roc = rtp->srtp_rx_roc;
        } else if (rtp->srtp_tx_key || rtp->srtp_rx_key)
                BAD("SRTP keys without srtp_suite");
        if (rtp->seq > 65535)
                BAD("seq out of range");
        p.ssrc = rtp->ssrc;
        p.seq = (uint16_t) rtp->seq;
        p.have_seq = rtp->has_seq;
#undef BAD
        p.call_id = rtp->call_id;
        p.payload_type = (uint8_t) rtp->payload_type;
        p.telephone_event_pt = (uint8_t) rtp->telephone_event_pt;
        p.direction = rtp->direction;
        *ret = p;
        return 0;
}

/* ---------------------------------------------------------------- session */

static bool may_send(const RtpSession *s) {
        return s->remote.ss_family != AF_UNSPEC &&
               (s->dir == GW__MEDIA_DIRECTION__DIRECTION_SENDRECV || s->dir == GW__MEDIA_DIRECTION__DIRECTION_SENDONLY);
}

static bool may_receive(const RtpSession *s) {
        return s->dir == GW__MEDIA_DIRECTION__DIRECTION_SENDRECV || s->dir == GW__MEDIA_DIRECTION__DIRECTION_RECVONLY;
}

static void send_packet(RtpSession *s, const uint8_t *pkt, size_t n) {
        uint8_t sbuf[RTP_MAX_PACKET + SRTP_TRAILER_MAX];

        if (s->srtp) {
                assert(n <= RTP_MAX_PACKET);
                memcpy(sbuf, pkt, n);
                if (media_srtp_protect(s->srtp, sbuf, &n) < 0) {
                        s->c.send_errors++;
                        return;
                }
                pkt = sbuf;
        }
        if (sendto(s->fd, pkt, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) &s->remote,
                   gw_sockaddr_len(&s->remote)) < 0) {
                s->c.send_errors++;     /* ICMP unreachable from an earlier packet, full queue: audio moves on */
                return;
        }
        s->c.tx++;
        rtcp_rtp_sent(s->rtcp, n - RTP_HEADER);
}

static void on_datagram(void *userdata, const uint8_t *buf, size_t n, const struct sockaddr *from,
                        socklen_t fromlen) {
        rtp_session_receive(userdata, buf, n, from, fromlen);
}

void rtp_session_set_userdata(RtpSession *s, void *userdata) {
        s->userdata = userdata;
}

int rtp_session_new(sd_event *e, const RtpParams *p, rtp_event_cb_t cb, void *userdata, RtpSession **ret) {
        _cleanup_(rtp_session_freep) RtpSession *s = NULL;
        uint32_t rnd[3];
        bool adopted = false;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        snprintf(s->call_id, sizeof(s->call_id), "%s", p->call_id);
        s->local = p->local;
        playout_buffer_reset(&s->playout);
        s->cb = cb;
        s->userdata = userdata;
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -errno ?: -EIO;
        /* RFC 3550 §5.1: random SSRC, initial sequence number and timestamp; a resumed
         * stream keeps its SSRC and sequence (SRTP's index goes on from its ROC). */
        s->ssrc = p->ssrc ?: rnd[0];
        s->seq = p->ssrc && p->have_seq ? p->seq : (uint16_t) rnd[1];
        s->ts = p->ssrc && p->have_ts ? p->ts : rnd[2];
        r = rtp_session_update(s, p);
        if (r < 0)
                return r;

        s->keep = p->keep;
        r = media_udp_open(s->keep, &s->local, MEDIA_UDP_RTP, &s->fd, &adopted);
        if (r < 0)
                return r;
        s->reader = (MediaUdpReader) {
                .datagram = on_datagram, .userdata = s, .max = RTP_MAX_PACKET,
                .oversize = &s->c.malformed, .burst = RECV_BURST,
                .draining = adopted ? s->keep : NULL,
        };
        if (adopted)
                playout_buffer_start_at_once(&s->playout);     /* what waited in it is the buffer */
        r = media_udp_watch(e, s->fd, &s->reader, &s->io);
        if (r < 0)
                return r;
        /* RTCP on the odd port beside it; without it the call still has audio. */
        s->rtcp_error = rtcp_new(e, s->keep, &s->local, s->ssrc, &s->rtcp);
        rtcp_set_remote(s->rtcp, &s->remote);
        rtcp_set_srtp(s->rtcp, s->srtp);
        *ret = TAKE_PTR(s);
        return 0;
}

RtpSession *rtp_session_free(RtpSession *s) {
        if (!s)
                return NULL;
        rtcp_free(s->rtcp);
        sd_event_source_disable_unref(s->io);
        media_srtp_free(s->srtp);
        media_udp_close(s->keep, s->fd, MEDIA_UDP_RTP, &s->local);
        free(s);
        return NULL;
}

bool rtp_session_same_socket(const RtpSession *s, const RtpParams *p) {
        return streq(s->call_id, p->call_id) &&
               gw_sockaddr_equal(GW_SOCKADDR(&s->local), sizeof(s->local), GW_SOCKADDR(&p->local), sizeof(p->local));
}

int rtp_session_update(RtpSession *s, const RtpParams *p) {
        bool remote_changed = p->remote.ss_family != s->remote.ss_family ||
                (p->remote.ss_family != AF_UNSPEC &&
                 !gw_sockaddr_equal(GW_SOCKADDR(&s->remote), sizeof(s->remote), GW_SOCKADDR(&p->remote), sizeof(p->remote)));
        MediaSrtpParams sp = {
                .suite = p->srtp_suite,
                .tx_key = p->srtp_tx_key,
                .rx_key = p->srtp_rx_key,
                .tx_ssrc = s->ssrc,
                .tx_roc = p->srtp_tx_roc,
                .rx_roc = p->srtp_rx_roc,
                .have_rx_seq = p->have_srtp_rx_seq,
                .rx_seq = p->srtp_rx_seq,
        };
        int r;

        /* SRTP first: the only step that can fail, so a failure changes nothing. A
         * level-triggered repeat with the same keys keeps the contexts (ROC, replay window). */
        if (p->srtp_suite == SRTP_SUITE_NONE)
                s->srtp = media_srtp_free(s->srtp);
        else if (!s->srtp || !media_srtp_same_keys(s->srtp, &sp)) {
                MediaSrtp *n = NULL;

                /* Only the peer's key changed: our stream goes on under the same key, so
                 * its index must too (a ROC back at 0 would repeat indexes: key stream reuse). */
                if (s->srtp && media_srtp_same_tx_key(s->srtp, &sp))
                        sp.tx_roc = rtp_session_srtp_next_roc(s);

                r = media_srtp_new(&sp, &n);
                if (r < 0)
                        return r;
                media_srtp_free(s->srtp);
                s->srtp = n;
        }

        s->remote = p->remote;
        s->pt = p->payload_type;
        s->law = p->payload_type == 8 ? LAW_ALAW : LAW_ULAW;
        s->te_pt = p->telephone_event_pt;
        s->dir = p->direction;
        rtcp_set_remote(s->rtcp, &s->remote);
        rtcp_set_srtp(s->rtcp, s->srtp);
        if (remote_changed) {
                /* A new far end (re-INVITE with new address): its packets start a new stream. */
                playout_buffer_reset(&s->playout);
                s->rx_ev_known = false;
        }
        return 0;
}

static void send_event(RtpSession *s, bool marker, bool end) {
        uint8_t pkt[RTP_HEADER + 4];
        size_t n = rtp_header_write(pkt, marker, s->te_pt, s->seq++, s->ev_ts, s->ssrc);

        pkt[n++] = s->ev_code;
        pkt[n++] = (uint8_t) ((end ? 0x80 : 0) | 10);       /* E, R=0, volume -10 dBm0 */
        pkt[n++] = (uint8_t) (s->ev_duration >> 8);
        pkt[n++] = (uint8_t) s->ev_duration;
        send_packet(s, pkt, n);
}

static uint8_t silence_code(const RtpSession *s) {
        return g711_encode_sample(s->law, 0);
}

void rtp_session_digit_begin(RtpSession *s, char digit) {
        const char *p = memchr(event_digits, digit, sizeof(event_digits));

        if (!p || s->te_pt == 0)
                return;                 /* no events negotiated: the digit stays in-band */
        s->ev_active = true;
        s->ev_started = false;
        s->ev_code = (uint8_t) (p - event_digits);
        /* Its first frames are still held back: cut them too. */
        for (unsigned i = 0; i < s->delay_n; i++)
                memset(s->delay[i], silence_code(s), GW_PCM_SAMPLES);
}

void rtp_session_digit_end(RtpSession *s) {
        if (!s->ev_active)
                return;
        s->ev_active = false;
        if (!s->ev_started || !may_send(s))
                return;
        for (unsigned i = 0; i < RTP_EVENT_END_REPEAT; i++)
                send_event(s, false, true);
        s->c.events_tx++;
}

void rtp_session_send_frame(RtpSession *s, const int16_t pcm[GW_PCM_SAMPLES]) {
        unsigned lookahead = s->te_pt ? RTP_DTMF_LOOKAHEAD : 0;
        uint8_t pkt[RTP_HEADER + GW_PCM_SAMPLES];

        assert(s->delay_n < ELEMENTSOF(s->delay));
        if (s->ev_active)
                memset(s->delay[s->delay_n], silence_code(s), GW_PCM_SAMPLES);
        else
                g711_encode_frame(s->law, pcm, s->delay[s->delay_n], GW_PCM_SAMPLES);
        s->delay_ts[s->delay_n++] = s->ts;
        s->ts += GW_PCM_SAMPLES;

        while (s->delay_n > lookahead) {
                uint32_t ts = s->delay_ts[0];

                if (may_send(s)) {
                        size_t n = rtp_header_write(pkt, !s->sent_any, s->pt, s->seq++, ts, s->ssrc);

                        memcpy(pkt + n, s->delay[0], GW_PCM_SAMPLES);
                        send_packet(s, pkt, n + GW_PCM_SAMPLES);
                        rtcp_media_clock(s->rtcp, ts);
                        s->sent_any = true;
                        /* RFC 4733 §2.5.1.2: start, then an update per packet interval, all with the
                         * timestamp of the event's start; the duration grows. */
                        if (s->ev_active) {
                                if (!s->ev_started) {
                                        s->ev_started = true;
                                        s->ev_ts = ts;
                                        s->ev_duration = GW_PCM_SAMPLES;
                                        send_event(s, true, false);
                                } else {
                                        s->ev_duration = MIN(s->ev_duration + GW_PCM_SAMPLES, UINT32_C(0xffff));
                                        send_event(s, false, false);
                                }
                        }
                }
                s->delay_n--;
                memmove(s->delay[0], s->delay[1], s->delay_n * sizeof(s->delay[0]));
                memmove(s->delay_ts, s->delay_ts + 1, s->delay_n * sizeof(s->delay_ts[0]));
        }
}

void rtp_session_receive(RtpSession *s, const uint8_t *buf, size_t n, const struct sockaddr *from,
                         socklen_t fromlen) {
        uint8_t plain[RTP_MAX_PACKET];
        int16_t pcm[GW_PCM_SAMPLES];
        RtpHeader h;
        int r;

        /* Only the negotiated far end (RFC 3550 §8.2, and no hijacking by strangers). */
        if (s->remote.ss_family == AF_UNSPEC ||
            !gw_sockaddr_equal(GW_SOCKADDR(&s->remote), sizeof(s->remote), from, fromlen)) {
                s->c.foreign++;
                return;
        }
        if (s->srtp) {
                /* Authenticated before anything is looked at; a failure is never played. */
                if (n > sizeof(plain)) {
                        s->c.malformed++;
                        return;
                }
                memcpy(plain, buf, n);
                r = media_srtp_unprotect(s->srtp, plain, &n);
                if (r == -EACCES)
                        s->c.srtp_auth_failed++;
                else if (r == -EALREADY)
                        s->c.srtp_replayed++;
                else if (r < 0)
                        s->c.malformed++;
                if (r < 0)
                        return;
                buf = plain;
        }
        if (rtp_parse(buf, n, &h) < 0) {
                s->c.malformed++;
                return;
        }
        if (h.pt == s->pt) {
                uint64_t now;

                if (h.payload_len != GW_PCM_SAMPLES) {      /* 20 ms of G.711 at 8 kHz */
                        s->c.bad_pt++;
                        return;
                }
                now = now_usec(CLOCK_MONOTONIC);
                s->c.rx++;
                rtcp_rtp_received(s->rtcp, h.ssrc, h.seq, h.ts, true, now);
                if (!may_receive(s))
                        return;
                g711_decode_frame(s->law, h.payload, pcm, GW_PCM_SAMPLES);
                /* A new SSRC (a B2BUA switched the media source) is a new timeline there. */
                playout_buffer_put(&s->playout, &(PlayoutPacket) {
                        .seq = h.seq, .ts = h.ts, .ssrc = h.ssrc, .marker = h.marker, .pcm = pcm, .now_us = now,
                });
                s->received_audio = true;
                return;
        }
        if (s->te_pt != 0 && h.pt == s->te_pt) {
                if (h.payload_len < 4) {
                        s->c.malformed++;
                        return;
                }
                s->c.rx++;
                rtcp_rtp_received(s->rtcp, h.ssrc, h.seq, h.ts, false, now_usec(CLOCK_MONOTONIC));
                /* One event per timestamp: updates and the repeated end packets share it. */
                if (h.payload[0] >= sizeof(event_digits))
                        return;                           /* not a DTMF event (e.g. fax tones) */
                {
                        bool end = h.payload[1] & 0x80, is_new = !s->rx_ev_known || h.ts != s->rx_ev_ts;
                        uint32_t duration = ((uint32_t) h.payload[2] << 8) | h.payload[3];
                        char digit = event_digits[h.payload[0]];
                        bool play = may_receive(s) && s->cb;

                        if (is_new) {
                                s->rx_ev_known = true;
                                s->rx_ev_ts = h.ts;
                                s->rx_ev_ended = false;
                                s->c.events_rx++;
                                if (play)
                                        s->cb(s, digit, RTP_EVENT_BEGIN, duration, s->userdata);
                        }
                        if (s->rx_ev_ended)
                                return;                   /* the repeated end packets */
                        if (end)
                                s->rx_ev_ended = true;
                        if (play)
                                s->cb(s, digit, end ? RTP_EVENT_END : RTP_EVENT_UPDATE, duration, s->userdata);
                }
                return;
        }
        s->c.bad_pt++;
}

bool rtp_session_playout(RtpSession *s, int16_t out[GW_PCM_SAMPLES]) {
        if (!may_receive(s)) {
                memset(out, 0, GW_PCM_SAMPLES * sizeof(*out));
                return false;
        }
        /* A kept socket not read dry yet (just after a restart): what waited in it
         * goes into the buffer before the frame due is taken, since the loop may
         * serve the line's first tick before the socket's io source. Later, the
         * io source alone reads (no extra syscall per frame). */
        if (s->reader.draining)
                media_udp_read(s->fd, &s->reader);
        /* The line's clock: this is called once per down frame. */
        return playout_buffer_get(&s->playout, out, now_usec(CLOCK_MONOTONIC));
}

bool rtp_session_receiving(const RtpSession *s) {
        return s->received_audio && may_receive(s);
}

const RtpCounters *rtp_session_counters(const RtpSession *s) { return &s->c; }
const PlayoutCounters *rtp_session_playout_counters(const RtpSession *s) { return playout_buffer_counters(&s->playout); }
const char *rtp_session_call_id(const RtpSession *s) { return s->call_id; }
uint16_t rtp_session_local_port(const RtpSession *s) { return gw_sockaddr_port(GW_SOCKADDR(&s->local)); }
uint8_t rtp_session_payload_type(const RtpSession *s) { return s->pt; }
Gw__MediaDirection rtp_session_direction(const RtpSession *s) { return s->dir; }
uint32_t rtp_session_ssrc(const RtpSession *s) { return s->ssrc; }
int rtp_session_fd(const RtpSession *s) { return s->fd; }
uint16_t rtp_session_next_seq(const RtpSession *s) { return s->seq; }
uint32_t rtp_session_next_ts(const RtpSession *s) { return s->ts; }
uint32_t rtp_session_srtp_next_roc(const RtpSession *s) {
        if (!s->srtp)
                return 0;
        /* The ROC is that of the last packet protected; the next one (seq 0) starts a new cycle. */
        return media_srtp_tx_roc(s->srtp) + (media_srtp_tx_sent(s->srtp) && s->seq == 0 ? 1 : 0);
}
SrtpSuite rtp_session_srtp_suite(const RtpSession *s) { return s->srtp ? media_srtp_suite(s->srtp) : SRTP_SUITE_NONE; }
uint32_t rtp_session_srtp_tx_roc(const RtpSession *s) { return s->srtp ? media_srtp_tx_roc(s->srtp) : 0; }
uint32_t rtp_session_srtp_rx_roc(const RtpSession *s) { return s->srtp ? media_srtp_rx_roc(s->srtp) : 0; }
bool rtp_session_srtp_rx_seq(const RtpSession *s, uint16_t *ret) { return s->srtp && media_srtp_rx_seq(s->srtp, ret); }

void rtp_session_remote_text(const RtpSession *s, char *buf, size_t n) {
        if (gw_sockaddr_to_string(GW_SOCKADDR(&s->remote), buf, n) < 0)
                snprintf(buf, n, "%s", "");
}

Rtcp *rtp_session_rtcp(const RtpSession *s) { return s->rtcp; }
int rtp_session_rtcp_error(const RtpSession *s) { return s->rtcp ? 0 : s->rtcp_error; }

bool rtp_session_quality(const RtpSession *s, RtcpQuality *ret) {
        const PlayoutCounters *pc = playout_buffer_counters(&s->playout);

        if (!s->rtcp)
                return false;
        /* What the buffer holds now (its target until it plays). */
        rtcp_quality(s->rtcp, s->playout.playing ? pc->delay_ms : pc->target_ms, ret);
        return true;
}
