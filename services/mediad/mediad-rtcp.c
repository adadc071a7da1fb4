/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-rtcp.c: RTCP (RFC 3550) for one RTP session and one peer: SR/RR, loss, jitter, RTT, MOS. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw-bus.h"
#include "gw-sockaddr.h"
#include "mediad-rtcp.h"
#include "mediad-udp.h"

#define RECV_BURST       8
#define RTP_SEQ_MOD      (UINT32_C(1) << 16)
#define MAX_DROPOUT      3000       /* RFC 3550 A.1 */
#define MAX_MISORDER     100
#define NTP_UNIX_OFFSET  UINT64_C(2208988800)   /* 1900 -> 1970 */
#define REPORT_BLOCK     24

struct Rtcp {
        sd_event *event;
        sd_event_source *io, *timer;
        MediaUdpReader reader;               /* how io reads fd */
        int fd;
        MediaUdpKeep *keep;              /* where fd is kept across a restart; NULL: nowhere */
        struct sockaddr_storage local;
        struct sockaddr_storage remote;      /* RTCP address of the peer; AF_UNSPEC: unknown */
        uint32_t ssrc;
        char cname[32];
        uint64_t interval_usec;
        uint32_t rnd;                        /* xorshift state for the interval's randomisation */

        /* sending (sender info) */
        bool sent_since_report, sent_before;   /* RTP sent in the current and the previous interval */
        uint32_t tx_packets, tx_octets;
        bool have_clock;
        uint32_t clock_ts;
        uint64_t clock_usec;

        /* receiving (A.1, A.3, A.8) */
        bool have_rx;
        uint32_t rx_ssrc;
        uint16_t max_seq;
        uint32_t cycles, base_seq, bad_seq;
        uint32_t received, expected_prior, received_prior;
        uint8_t fraction_lost;
        bool have_transit;
        uint32_t transit;
        double jitter;                       /* timestamp units */

        /* the peer's reports */
        bool have_sr;
        RtcpSenderInfo sr;
        uint64_t sr_arrival_usec;            /* monotonic, for DLSR */
        bool have_report;
        RtcpReportBlock report;
        bool have_rtt;
        uint32_t rtt_us;

        MediaSrtp *srtp;                     /* borrowed from the RTP session; NULL: plain RTCP */

        RtcpCounters c;
};

/* ---------------------------------------------------------------- helpers */

static uint64_t ntp_now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (((uint64_t) ts.tv_sec + NTP_UNIX_OFFSET) << 32) |
               (((uint64_t) ts.tv_nsec << 32) / UINT64_C(1000000000));
}

static uint32_t ntp_middle(uint64_t ntp) {
        return (uint32_t) (ntp >> 16);
}

static void put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

static uint32_t get32(const uint8_t *p) {
        return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* 0.5 .. 1.5 times 'usec' (RFC 3550 §6.3.1, against synchronised reports). */
static uint64_t randomise(Rtcp *r, uint64_t usec) {
        r->rnd ^= r->rnd << 13;
        r->rnd ^= r->rnd >> 17;
        r->rnd ^= r->rnd << 5;
        return usec / 2 + (uint64_t) ((double) usec * ((double) r->rnd / 4294967296.0));
}

/* ---------------------------------------------------------------- validation (A.2) */

int rtcp_validate(const uint8_t *buf, size_t n) {
        size_t off = 0;

        if (n < 8 || n % 4 != 0)
                return -EBADMSG;
        /* The first: version 2, no padding, SR or RR. */
        if ((buf[0] & 0xe0) != 0x80 || (buf[1] != RTCP_PT_SR && buf[1] != RTCP_PT_RR))
                return -EBADMSG;
        while (off < n) {
                const uint8_t *p = buf + off;
                size_t len, min;

                if (n - off < 4 || (p[0] >> 6) != 2)
                        return -EBADMSG;
                len = 4 * ((((size_t) p[2] << 8) | p[3]) + 1);
                if (len > n - off)
                        return -EBADMSG;
                /* Report blocks must fit in SR and RR (their count is ours to trust later). */
                min = p[1] == RTCP_PT_SR ? 28 : p[1] == RTCP_PT_RR ? 8 : 4;
                if (p[1] == RTCP_PT_SR || p[1] == RTCP_PT_RR)
                        min += REPORT_BLOCK * (p[0] & 0x1f);
                if (len < min)
                        return -EBADMSG;
                off += len;
        }
        return off == n ? 0 : -EBADMSG;
}

/* ---------------------------------------------------------------- reception statistics (A.1) */

static void rx_init_seq(Rtcp *r, uint16_t seq) {
        r->base_seq = seq;
        r->max_seq = seq;
        r->bad_seq = RTP_SEQ_MOD + 1;
        r->cycles = 0;
        r->received = 0;
        r->received_prior = 0;
        r->expected_prior = 0;
        r->fraction_lost = 0;
}

static void rx_reset(Rtcp *r) {
        r->have_rx = false;
        r->have_transit = false;
        r->jitter = 0;
        r->have_sr = false;
        r->have_report = false;
        r->have_rtt = false;
}

/* Like A.1's update_seq() without probation: only the negotiated peer gets here. */
static bool rx_update_seq(Rtcp *r, uint16_t seq) {
        uint16_t udelta = (uint16_t) (seq - r->max_seq);

        if (udelta < MAX_DROPOUT) {
                if (seq < r->max_seq)
                        r->cycles += RTP_SEQ_MOD;
                r->max_seq = seq;
        } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
                if (seq == r->bad_seq)                   /* two in a row: the sender restarted */
                        rx_init_seq(r, seq);
                else {
                        r->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
                        return false;
                }
        }                                                /* else duplicate or reordered */
        r->received++;
        return true;
}

static uint32_t rx_ext_max(const Rtcp *r) {
        return r->cycles + r->max_seq;
}

static uint64_t rx_expected(const Rtcp *r) {
        return (uint64_t) rx_ext_max(r) - r->base_seq + 1;
}

void rtcp_rtp_received(Rtcp *r, uint32_t ssrc, uint16_t seq, uint32_t rtp_ts, bool timing, uint64_t arrival_usec) {
        if (!r)
                return;
        if (!r->have_rx || ssrc != r->rx_ssrc) {
                /* A new source: its figures start again. The peer's reports stay. */
                r->have_rx = true;
                r->rx_ssrc = ssrc;
                r->have_transit = false;
                r->jitter = 0;
                rx_init_seq(r, seq);
                r->received = 1;
        } else if (!rx_update_seq(r, seq))
                return;
        if (timing) {
                /* A.8: transit time in timestamp units; only its changes matter. */
                uint32_t arrival = (uint32_t) (arrival_usec * RTCP_CLOCK_RATE / USEC_PER_SEC);
                uint32_t transit = arrival - rtp_ts;

                if (r->have_transit) {
                        int32_t d = (int32_t) (transit - r->transit);

                        r->jitter += (fabs((double) d) - r->jitter) / 16.0;
                }
                r->transit = transit;
                r->have_transit = true;
        }
}

void rtcp_rtp_sent(Rtcp *r, size_t payload_len) {
        if (!r)
                return;
        r->tx_packets++;
        r->tx_octets += (uint32_t) payload_len;
        r->sent_since_report = true;
}

void rtcp_media_clock(Rtcp *r, uint32_t rtp_ts) {
        if (!r)
                return;
        r->have_clock = true;
        r->clock_ts = rtp_ts;
        r->clock_usec = now_usec(CLOCK_MONOTONIC);
}

/* ---------------------------------------------------------------- sending */

static size_t write_report_block(Rtcp *r, uint8_t *p, uint64_t now_mono) {
        uint64_t expected = rx_expected(r);
        int64_t lost = (int64_t) expected - r->received;
        uint32_t expected_interval = (uint32_t) expected - r->expected_prior;
        uint32_t received_interval = r->received - r->received_prior;
        int64_t lost_interval = (int64_t) expected_interval - received_interval;
        uint32_t lost24, lsr = 0, dlsr = 0;

        r->expected_prior = (uint32_t) expected;
        r->received_prior = r->received;
        r->fraction_lost = expected_interval == 0 || lost_interval <= 0 ? 0 :
                (uint8_t) MIN((uint64_t) (lost_interval << 8) / expected_interval, 255u);
        lost = lost > 0x7fffff ? 0x7fffff : lost < -0x800000 ? -0x800000 : lost;
        lost24 = (uint32_t) lost & 0xffffff;
        if (r->have_sr) {
                lsr = ntp_middle(r->sr.ntp);
                dlsr = (uint32_t) ((now_mono - r->sr_arrival_usec) * 65536 / USEC_PER_SEC);
        }
        put32(p, r->rx_ssrc);
        put32(p + 4, ((uint32_t) r->fraction_lost << 24) | lost24);
        put32(p + 8, rx_ext_max(r));
        put32(p + 12, (uint32_t) r->jitter);
        put32(p + 16, lsr);
        put32(p + 20, dlsr);
        return REPORT_BLOCK;
}

static size_t write_sdes(const Rtcp *r, uint8_t *p) {
        size_t len = strlen(r->cname), n = 8 + 2 + len + 1;

        n = (n + 3) & ~(size_t) 3;                       /* the item list ends with at least one null */
        memset(p, 0, n);
        p[0] = 0x81;                                     /* one chunk */
        p[1] = RTCP_PT_SDES;
        p[2] = (uint8_t) ((n / 4 - 1) >> 8);
        p[3] = (uint8_t) (n / 4 - 1);
        put32(p + 4, r->ssrc);
        p[8] = 1;                                        /* CNAME */
        p[9] = (uint8_t) len;
        memcpy(p + 10, r->cname, len);
        return n;
}

/* SR or RR, SDES CNAME, and BYE if 'bye'. */
static size_t build_compound(Rtcp *r, uint8_t *buf, bool bye) {
        uint64_t now_mono = now_usec(CLOCK_MONOTONIC);
        /* §6.3.8: a sender is one that sent in the last two intervals. */
        bool sr = r->sent_since_report || r->sent_before;
        unsigned rc = r->have_rx ? 1 : 0;
        size_t n, len;

        buf[0] = (uint8_t) (0x80 | rc);
        buf[1] = sr ? RTCP_PT_SR : RTCP_PT_RR;
        put32(buf + 4, r->ssrc);
        n = 8;
        if (sr) {
                uint64_t ntp = ntp_now();
                uint32_t ts = r->clock_ts;

                if (r->have_clock)       /* the media clock now, from the last audio packet sent */
                        ts += (uint32_t) ((now_mono - r->clock_usec) * RTCP_CLOCK_RATE / USEC_PER_SEC);
                put32(buf + 8, (uint32_t) (ntp >> 32));
                put32(buf + 12, (uint32_t) ntp);
                put32(buf + 16, ts);
                put32(buf + 20, r->tx_packets);
                put32(buf + 24, r->tx_octets);
                n = 28;
        }
        if (rc)
                n += write_report_block(r, buf + n, now_mono);
        len = n / 4 - 1;
        buf[2] = (uint8_t) (len >> 8);
        buf[3] = (uint8_t) len;
        n += write_sdes(r, buf + n);
        if (bye) {
                buf[n] = 0x81;
                buf[n + 1] = RTCP_PT_BYE;
                buf[n + 2] = 0;
                buf[n + 3] = 1;
                put32(buf + n + 4, r->ssrc);
                n += 8;
        }
        if (sr)
                r->c.sr_tx++;
        else
                r->c.rr_tx++;
        r->sent_before = r->sent_since_report;
        r->sent_since_report = false;
        return n;
}

static int send_compound(Rtcp *r, bool bye) {
        uint8_t buf[28 + REPORT_BLOCK + 8 + 2 + sizeof(r->cname) + 4 + 8 + SRTP_TRAILER_MAX];
        size_t n;

        if (r->remote.ss_family == AF_UNSPEC)
                return -ENOTCONN;
        n = build_compound(r, buf, bye);
        if (r->srtp && media_srtp_protect_rtcp(r->srtp, buf, &n) < 0) {
                r->c.send_errors++;              /* never sent in clear on an SRTP call */
                return -EIO;
        }
        if (sendto(r->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) &r->remote,
                   gw_sockaddr_len(&r->remote)) < 0) {
                r->c.send_errors++;
                return -errno;
        }
        r->c.tx++;
        return 0;
}

int rtcp_send_report(Rtcp *r) {
        return send_compound(r, false);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Rtcp *r = userdata;

        (void) rtcp_send_report(r);
        (void) sd_event_source_set_time(src, usec + randomise(r, r->interval_usec));
        (void) sd_event_source_set_enabled(src, SD_EVENT_ON);
        return 0;
}

static void schedule_first(Rtcp *r) {
        uint64_t now;

        if (sd_event_now(r->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        (void) sd_event_source_set_time(r->timer, now + randomise(r, r->interval_usec / 2));
        (void) sd_event_source_set_enabled(r->timer, SD_EVENT_ON);
}

/* ---------------------------------------------------------------- receiving */

static void parse_report_blocks(Rtcp *r, const uint8_t *p, unsigned rc) {
        for (unsigned i = 0; i < rc; i++, p += REPORT_BLOCK) {
                RtcpReportBlock b;
                uint32_t w = get32(p + 4);

                if (get32(p) != r->ssrc)
                        continue;                        /* about someone else */
                b = (RtcpReportBlock) {
                        .ssrc = get32(p),
                        .fraction_lost = (uint8_t) (w >> 24),
                        .cumulative_lost = (int32_t) ((w & 0xffffff) ^ 0x800000) - 0x800000,
                        .ext_highest_seq = get32(p + 8),
                        .jitter = get32(p + 12),
                        .lsr = get32(p + 16),
                        .dlsr = get32(p + 20),
                };
                r->report = b;
                r->have_report = true;
                if (b.lsr != 0) {
                        /* §6.4.1: A - LSR - DLSR, in 1/65536 s; rounding can make a loopback's negative. */
                        int32_t rtt = (int32_t) (ntp_middle(ntp_now()) - b.lsr - b.dlsr);

                        r->rtt_us = rtt <= 0 ? 0 : (uint32_t) ((uint64_t) rtt * USEC_PER_SEC / 65536);
                        r->have_rtt = true;
                }
        }
}

void rtcp_receive(Rtcp *r, const uint8_t *buf, size_t n, const struct sockaddr *from, socklen_t fromlen) {
        uint8_t plain[RTCP_MAX_PACKET];
        size_t off = 0;

        if (r->remote.ss_family == AF_UNSPEC ||
            !gw_sockaddr_equal(GW_SOCKADDR(&r->remote), sizeof(r->remote), from, fromlen)) {
                r->c.foreign++;
                return;
        }
        if (r->srtp) {
                int k;

                if (n > sizeof(plain)) {
                        r->c.malformed++;
                        return;
                }
                memcpy(plain, buf, n);
                k = media_srtp_unprotect_rtcp(r->srtp, plain, &n);
                if (k == -EACCES) {
                        r->c.auth_failed++;
                        return;
                }
                if (k == -EALREADY) {
                        r->c.replayed++;
                        return;
                }
                if (k < 0) {
                        r->c.malformed++;       /* not SRTCP at all (e.g. plain RTCP) */
                        return;
                }
                buf = plain;
        }
        if (rtcp_validate(buf, n) < 0) {
                r->c.malformed++;
                return;
        }
        r->c.rx++;
        while (off < n) {
                const uint8_t *p = buf + off;
                size_t len = 4 * ((((size_t) p[2] << 8) | p[3]) + 1);
                unsigned rc = p[0] & 0x1f;

                if (p[1] == RTCP_PT_SR) {
                        r->c.sr_rx++;
                        r->sr = (RtcpSenderInfo) {
                                .ssrc = get32(p + 4),
                                .ntp = ((uint64_t) get32(p + 8) << 32) | get32(p + 12),
                                .rtp_ts = get32(p + 16),
                                .packets = get32(p + 20),
                                .octets = get32(p + 24),
                        };
                        r->have_sr = true;
                        r->sr_arrival_usec = now_usec(CLOCK_MONOTONIC);
                        parse_report_blocks(r, p + 28, rc);
                } else if (p[1] == RTCP_PT_RR) {
                        r->c.rr_rx++;
                        parse_report_blocks(r, p + 8, rc);
                }                                        /* SDES, BYE, APP, XR: nothing we use */
                off += len;
        }
}

static void on_datagram(void *userdata, const uint8_t *buf, size_t n, const struct sockaddr *from,
                        socklen_t fromlen) {
        rtcp_receive(userdata, buf, n, from, fromlen);
}

/* ---------------------------------------------------------------- lifecycle */

int rtcp_new(sd_event *e, MediaUdpKeep *keep, const struct sockaddr_storage *rtp_local, uint32_t ssrc, Rtcp **ret) {
        _cleanup_(rtcp_freep) Rtcp *t = NULL;
        bool adopted = false;
        int r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->fd = -EBADF;
        t->event = sd_event_ref(e);
        t->ssrc = ssrc;
        t->rnd = ssrc | 1;
        t->interval_usec = RTCP_INTERVAL_USEC;
        t->remote.ss_family = AF_UNSPEC;
        /* RFC 7022 would have a random CNAME per session; ours is unique per session through the SSRC. */
        snprintf(t->cname, sizeof(t->cname), "%08x@fxsgw", ssrc);
        t->local = *rtp_local;
        if (gw_sockaddr_port(GW_SOCKADDR(rtp_local)) == 0 || gw_sockaddr_port(GW_SOCKADDR(rtp_local)) == 65535)
                return -EINVAL;
        gw_sockaddr_set_port(&t->local, (uint16_t) (gw_sockaddr_port(GW_SOCKADDR(rtp_local)) + 1));

        t->keep = keep;
        r = media_udp_open(t->keep, &t->local, MEDIA_UDP_RTCP, &t->fd, &adopted);
        if (r < 0)
                return r;
        t->reader = (MediaUdpReader) {
                .datagram = on_datagram, .userdata = t, .max = RTCP_MAX_PACKET,
                .oversize = &t->c.malformed, .burst = RECV_BURST,
                .draining = adopted ? t->keep : NULL,
        };
        r = media_udp_watch(e, t->fd, &t->reader, &t->io);
        if (r < 0)
                return r;
        r = sd_event_add_time(e, &t->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, t);
        if (r < 0)
                return r;
        schedule_first(t);
        *ret = TAKE_PTR(t);
        return 0;
}

Rtcp *rtcp_free(Rtcp *r) {
        if (!r)
                return NULL;
        if (r->fd >= 0 && r->remote.ss_family != AF_UNSPEC)
                (void) send_compound(r, true);          /* §6.3.7: BYE with a last report */
        sd_event_source_disable_unref(r->io);
        sd_event_source_disable_unref(r->timer);
        sd_event_unref(r->event);
        media_udp_close(r->keep, r->fd, MEDIA_UDP_RTCP, &r->local);
        free(r);
        return NULL;
}

void rtcp_set_srtp(Rtcp *r, MediaSrtp *srtp) {
        if (r)
                r->srtp = srtp;
}

void rtcp_set_remote(Rtcp *r, const struct sockaddr_storage *rtp_remote) {
        struct sockaddr_storage new = *rtp_remote;

        if (!r)
                return;
        if (new.ss_family != AF_UNSPEC)
                gw_sockaddr_set_port(&new, (uint16_t) (gw_sockaddr_port(GW_SOCKADDR(rtp_remote)) + 1));
        if (new.ss_family == r->remote.ss_family &&
            (new.ss_family == AF_UNSPEC ||
             gw_sockaddr_equal(GW_SOCKADDR(&r->remote), sizeof(r->remote), GW_SOCKADDR(&new), sizeof(new))))
                return;
        r->remote = new;
        rx_reset(r);                                     /* a new peer: new figures */
}

void rtcp_set_interval(Rtcp *r, uint64_t usec) {
        if (!r)
                return;
        r->interval_usec = usec;
        schedule_first(r);
}

/* ---------------------------------------------------------------- figures */

double emodel_r(double ie, double bpl, double loss_pct, double d) {
        double id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0.0);
        double ie_eff = ie + (95.0 - ie) * loss_pct / (loss_pct + bpl);

        return EMODEL_R0 - id - ie_eff;
}

double emodel_mos(double r) {
        if (r <= 0)
                return 1.0;
        if (r >= 100)
                return 4.5;
        return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6;
}

void rtcp_quality(const Rtcp *r, unsigned jitter_buffer_ms, RtcpQuality *ret) {
        RtcpQuality q = {};
        double loss_pct = 0, delay_ms;

        if (r->have_rx) {
                q.rx_packets = r->received;
                q.rx_expected = rx_expected(r);
                q.rx_lost = (int64_t) q.rx_expected - r->received;
                q.rx_fraction_lost = r->fraction_lost;
                q.rx_jitter_us = (uint32_t) (r->jitter * USEC_PER_SEC / RTCP_CLOCK_RATE);
                if (q.rx_lost > 0 && q.rx_expected > 0)
                        loss_pct = 100.0 * (double) q.rx_lost / (double) q.rx_expected;
        }
        if (r->have_report) {
                q.have_remote = true;
                q.remote_fraction_lost = r->report.fraction_lost;
                q.remote_lost = r->report.cumulative_lost;
                q.remote_jitter_us = (uint32_t) ((uint64_t) r->report.jitter * USEC_PER_SEC / RTCP_CLOCK_RATE);
        }
        q.have_rtt = r->have_rtt;
        q.rtt_us = r->rtt_us;
        delay_ms = (r->have_rtt ? r->rtt_us / 2000.0 : 0.0) + jitter_buffer_ms;
        q.r_factor = emodel_r(EMODEL_IE_G711, EMODEL_BPL_G711_PLC, loss_pct, delay_ms);
        q.mos = emodel_mos(q.r_factor);
        *ret = q;
}

const RtcpCounters *rtcp_counters(const Rtcp *r) { return &r->c; }
uint16_t rtcp_local_port(const Rtcp *r) { return gw_sockaddr_port(GW_SOCKADDR(&r->local)); }

bool rtcp_last_report(const Rtcp *r, RtcpReportBlock *ret) {
        if (!r->have_report)
                return false;
        *ret = r->report;
        return true;
}

bool rtcp_last_sender_info(const Rtcp *r, RtcpSenderInfo *ret) {
        if (!r->have_sr)
                return false;
        *ret = r->sr;
        return true;
}
