/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-rtcp.h: RTCP (RFC 3550 §6) beside one RTP session, on the odd port.
 *
 * One peer, one SSRC each way. The RTP session tells it what it sent
 * (rtcp_rtp_sent, rtcp_media_clock) and received (rtcp_rtp_received); on its
 * timer (about 5 s, randomised 0.5-1.5, the first sooner) it sends a compound
 * packet: SR if we sent RTP since the last report, RR otherwise, then SDES
 * CNAME. Received RTCP is accepted only from the negotiated peer (RTP port + 1)
 * and only if it is a valid compound packet (RFC 3550 A.2); else it is dropped
 * and counted. From the reports it computes loss (A.3), interarrival jitter
 * (A.8), the round-trip time (LSR/DLSR, §6.4.1) and a MOS estimate (ITU-T
 * G.107 E-model, simplified). Nothing is allocated per packet. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "gw-macro.h"
#include "mediad-srtp.h"
#include "mediad-udp.h"

#define RTCP_INTERVAL_USEC      (5 * USEC_PER_SEC)   /* RFC 3550 §6.2 minimum, one peer */
#define RTCP_MAX_PACKET         1500
#define RTCP_PT_SR              200
#define RTCP_PT_RR              201
#define RTCP_PT_SDES            202
#define RTCP_PT_BYE             203
#define RTCP_CLOCK_RATE         8000                 /* G.711 */

/* G.107/G.113 values used by the MOS estimate (docs/MEDIA.md). */
#define EMODEL_R0               93.2     /* Ro - Is with all G.107 defaults */
#define EMODEL_IE_G711          0.0      /* G.113 Appendix I: G.711 */
#define EMODEL_BPL_G711_PLC     25.1     /* G.113 Appendix I: G.711 with PLC (4.3 without) */

typedef struct RtcpCounters {
        uint64_t tx, rx;                    /* compound packets */
        uint64_t sr_tx, rr_tx, sr_rx, rr_rx;
        uint64_t malformed, foreign;        /* dropped */
        uint64_t auth_failed, replayed;     /* SRTCP: dropped, bad tag / replayed index */
        uint64_t send_errors;
} RtcpCounters;

/* A report block (RFC 3550 §6.4.1). */
typedef struct RtcpReportBlock {
        uint32_t ssrc;
        uint8_t fraction_lost;              /* 1/256 */
        int32_t cumulative_lost;            /* 24-bit signed */
        uint32_t ext_highest_seq;
        uint32_t jitter;                    /* timestamp units */
        uint32_t lsr, dlsr;                 /* 1/65536 s */
} RtcpReportBlock;

/* The last sender info received (RFC 3550 §6.4.1). */
typedef struct RtcpSenderInfo {
        uint32_t ssrc;
        uint64_t ntp;
        uint32_t rtp_ts, packets, octets;
} RtcpSenderInfo;

/* Per-call figures. */
typedef struct RtcpQuality {
        /* our reception of the peer's RTP */
        uint64_t rx_packets;
        uint64_t rx_expected;
        int64_t rx_lost;                    /* cumulative (A.3); negative with duplicates */
        uint8_t rx_fraction_lost;           /* last interval, 1/256 */
        uint32_t rx_jitter_us;              /* A.8 */
        /* the peer's reception of ours (its last report block about us) */
        bool have_remote;
        uint8_t remote_fraction_lost;
        int32_t remote_lost;
        uint32_t remote_jitter_us;
        /* LSR/DLSR */
        bool have_rtt;
        uint32_t rtt_us;
        /* E-model */
        double r_factor, mos;
} RtcpQuality;

typedef struct Rtcp Rtcp;

/* Bind the port after rtp_local's (RTP port + 1) and register on 'e'. */
int rtcp_new(sd_event *e, MediaUdpKeep *keep, const struct sockaddr_storage *rtp_local, uint32_t ssrc, Rtcp **ret);
/* Sends a BYE to the peer if it is known. */
Rtcp *rtcp_free(Rtcp *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Rtcp *, rtcp_free);

/* The peer's RTP address (AF_UNSPEC: unknown); RTCP goes to its port + 1.
 * A new peer starts a new reception (statistics reset). */
void rtcp_set_remote(Rtcp *r, const struct sockaddr_storage *rtp_remote);
/* SRTCP with the RTP session's SRTP contexts (not owned; NULL: plain RTCP).
 * With it, nothing goes out or comes in unprotected. NULL r is a no-op. */
void rtcp_set_srtp(Rtcp *r, MediaSrtp *srtp);
/* Reports every 'usec' (randomised 0.5-1.5); the first after half of it. Tests use short ones. */
void rtcp_set_interval(Rtcp *r, uint64_t usec);

/* Hooks of the RTP session. */
void rtcp_rtp_sent(Rtcp *r, size_t payload_len);
void rtcp_media_clock(Rtcp *r, uint32_t rtp_ts);                  /* an audio packet with this timestamp left now */
/* A valid RTP packet from the peer; 'timing': audio (its timestamp is its sampling instant, for jitter). */
void rtcp_rtp_received(Rtcp *r, uint32_t ssrc, uint16_t seq, uint32_t rtp_ts, bool timing, uint64_t arrival_usec);

/* A datagram on the RTCP port (the socket handler calls it; tests too). */
void rtcp_receive(Rtcp *r, const uint8_t *buf, size_t n, const struct sockaddr *from, socklen_t fromlen);
/* Send a report now (the timer does; tests too). -ENOTCONN: no peer. */
int rtcp_send_report(Rtcp *r);

/* Figures; jitter_buffer_ms: what the playout holds, for the one-way delay. */
void rtcp_quality(const Rtcp *r, unsigned jitter_buffer_ms, RtcpQuality *ret);
const RtcpCounters *rtcp_counters(const Rtcp *r);
uint16_t rtcp_local_port(const Rtcp *r);
/* The last report block about us and sender info received; false if none yet. */
bool rtcp_last_report(const Rtcp *r, RtcpReportBlock *ret);
bool rtcp_last_sender_info(const Rtcp *r, RtcpSenderInfo *ret);

/* RFC 3550 A.2: a compound packet, version 2, first SR or RR without padding,
 * lengths adding up to n. */
int rtcp_validate(const uint8_t *buf, size_t n);

/* ITU-T G.107 E-model, simplified: R = 93.2 - Id - Ie,eff with
 * Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3) (d one-way delay in ms) and
 * Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl) (random loss, BurstR = 1). */
double emodel_r(double ie, double bpl, double loss_pct, double one_way_delay_ms);
double emodel_mos(double r);
