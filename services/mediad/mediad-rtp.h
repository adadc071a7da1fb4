/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-rtp.h: one RTP session (RFC 3550) of a line: G.711 audio and RFC 4733 events.
 *
 * Driven by the line's frames: every up frame is offered to
 * rtp_session_send_frame() (the session advances its timestamp whether or not
 * it may send), every down frame asks rtp_session_playout(). Received packets
 * come from the socket on the session's sd-event source. Nothing is allocated
 * per packet. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "gw-pcm.h"
#include "gw.pb-c.h"
#include "mediad-dsp.h"
#include "mediad-playout.h"
#include "mediad-srtp.h"
#include "mediad-rtcp.h"
#include "mediad-udp.h"

#define RTP_HEADER         12
#define RTP_MAX_PACKET     1500
#define RTP_EVENT_END_REPEAT 3             /* RFC 4733 §2.5.1.4: the end packet three times */
/* Frames the sent audio is held back so that a DTMF digit, detected some
 * 30-60 ms after it started, can be cut from it (replaced by silence). */
#define RTP_DTMF_LOOKAHEAD 2

typedef struct RtpCounters {
        uint64_t tx, rx;                   /* packets (audio and events) */
        uint64_t foreign, malformed, bad_pt;
        uint64_t events_tx, events_rx;     /* events (digits), not packets */
        uint64_t send_errors;
        uint64_t srtp_auth_failed;         /* bad tag (tampered, wrong key, ROC out of step) */
        uint64_t srtp_replayed;            /* index seen already or older than the window */
} RtpCounters;

typedef struct RtpSession RtpSession;

/* RFC 4733 DTMF events received (digit "0".."9", "*", "#", "A".."D"): BEGIN once per
 * event, then UPDATE for each packet until END (once, with the final duration in
 * samples); the repeated end packets are not reported. */
typedef enum RtpEventPhase {
        RTP_EVENT_BEGIN,
        RTP_EVENT_UPDATE,
        RTP_EVENT_END,
} RtpEventPhase;
typedef void (*rtp_event_cb_t)(RtpSession *s, char digit, RtpEventPhase phase, uint32_t duration,
                               void *userdata);

typedef struct RtpParams {
        const char *call_id;
        struct sockaddr_storage local;     /* address and port to bind */
        struct sockaddr_storage remote;    /* ss_family AF_UNSPEC: not known yet */
        uint8_t payload_type;              /* 0 PCMU, 8 PCMA */
        uint8_t telephone_event_pt;        /* 0: none */
        Gw__MediaDirection direction;
        /* SRTP: keys borrowed from the message (valid while it is), never logged. */
        SrtpSuite srtp_suite;
        const uint8_t *srtp_tx_key, *srtp_rx_key;
        uint32_t srtp_tx_roc, srtp_rx_roc;
        bool have_srtp_rx_seq;             /* resume: the last sequence number received */
        uint16_t srtp_rx_seq;
        /* Resume our stream (after a restart): SSRC and next sequence number; 0: random. */
        uint32_t ssrc;
        uint16_t seq;
        bool have_seq;
        uint32_t ts;                       /* and the media clock (mediad-resume.c) */
        bool have_ts;
        /* Where the session's sockets are kept across a restart (mediad-udp.h); NULL: nowhere. */
        MediaUdpKeep *keep;
} RtpParams;

/* Convert a session of MediaControl into params; -EINVAL with *ret_error for
 * bad values. default_ip: the bind address when rtp->local_ip is empty. */
int rtp_params_from_proto(const Gw__RtpSession *rtp, const struct sockaddr_storage *default_ip,
                          RtpParams *ret, const char **ret_error);

/* Bind and register on 'e'. -EADDRINUSE etc. */
int rtp_session_new(sd_event *e, const RtpParams *p, rtp_event_cb_t cb, void *userdata, RtpSession **ret);
RtpSession *rtp_session_free(RtpSession *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(RtpSession *, rtp_session_free);

/* Same socket (call and local address): change remote, payload types, direction in place;
 * SRTP contexts are kept while suite and keys stay (ROC, replay window), re-created
 * otherwise. -ENOMEM etc. (the session is then unchanged). */
bool rtp_session_same_socket(const RtpSession *s, const RtpParams *p);
int rtp_session_update(RtpSession *s, const RtpParams *p);

/* One 20 ms up frame (what the subscriber says). */
void rtp_session_send_frame(RtpSession *s, const int16_t pcm[GW_PCM_SAMPLES]);
/* A digit detected on the line started/ended: sent as RFC 4733 events (if
 * negotiated and sending) and cut from the audio while it lasts. */
void rtp_session_digit_begin(RtpSession *s, char digit);
void rtp_session_digit_end(RtpSession *s);

/* One down frame; false if nothing is playing (silence written). */
bool rtp_session_playout(RtpSession *s, int16_t out[GW_PCM_SAMPLES]);
/* Has audio ever been received (so it, not a tone, is what the line hears)? */
bool rtp_session_receiving(const RtpSession *s);

/* A datagram from 'from' (the socket handler calls it; tests too). */
void rtp_session_receive(RtpSession *s, const uint8_t *buf, size_t n, const struct sockaddr *from,
                         socklen_t fromlen);

const RtpCounters *rtp_session_counters(const RtpSession *s);
const PlayoutCounters *rtp_session_playout_counters(const RtpSession *s);
const char *rtp_session_call_id(const RtpSession *s);
uint16_t rtp_session_local_port(const RtpSession *s);
uint8_t rtp_session_payload_type(const RtpSession *s);
Gw__MediaDirection rtp_session_direction(const RtpSession *s);
/* "ip:port" of the remote, "" if unknown. */
void rtp_session_remote_text(const RtpSession *s, char *buf, size_t n);
uint32_t rtp_session_ssrc(const RtpSession *s);
uint16_t rtp_session_next_seq(const RtpSession *s);
uint32_t rtp_session_next_ts(const RtpSession *s);
/* The SRTP ROC of our next packet (next_seq's), for resuming: 0 for plain RTP. */
uint32_t rtp_session_srtp_next_roc(const RtpSession *s);
/* SRTP_SUITE_NONE for plain RTP; the ROCs are 0 then. */
SrtpSuite rtp_session_srtp_suite(const RtpSession *s);
uint32_t rtp_session_srtp_tx_roc(const RtpSession *s);
uint32_t rtp_session_srtp_rx_roc(const RtpSession *s);
bool rtp_session_srtp_rx_seq(const RtpSession *s, uint16_t *ret);
int rtp_session_fd(const RtpSession *s);
/* RTCP beside it (mediad-rtcp.h); NULL if its port could not be bound (rtp_session_rtcp_error() says why). */
Rtcp *rtp_session_rtcp(const RtpSession *s);
int rtp_session_rtcp_error(const RtpSession *s);
/* The call's figures from RTCP; false without RTCP. */
bool rtp_session_quality(const RtpSession *s, RtcpQuality *ret);

/* Parse and check an RTP header (RFC 3550 §5.1): version 2, CSRC list,
 * extension and padding inside the packet. */
typedef struct RtpHeader {
        bool marker;
        uint8_t pt;
        uint16_t seq;
        uint32_t ts, ssrc;
        const uint8_t *payload;
        size_t payload_len;
} RtpHeader;
int rtp_parse(const uint8_t *buf, size_t n, RtpHeader *ret);
