/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-sdp.h: SDP offer/answer (RFC 3264) for one audio stream.
 *
 * Parsing is libosip2's sdp_message_parse(), which accepts much that is
 * broken; sdp_parse() then checks what we rely on (v/o/s/t/c/m present,
 * numeric ports, payload types known or mapped) and picks the first usable
 * audio stream. Anything else is refused with a reason, and the caller
 * answers 488.
 *
 * SRTP (the media issue) fits here: an RTP/SAVP stream sets 'secure' and its
 * a=crypto lines would be parsed into SdpMedia next to the payload types; until
 * then a secure-only offer is refused ("SRTP not supported"). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "gw-conf.h"

#define SDP_MAX_PAYLOADS 32
#define SDP_TELEPHONE_EVENT_PT 101       /* ours, in offers */
#define SDP_PTIME_MS 20

typedef enum SdpDirection {
        SDP_SENDRECV,
        SDP_SENDONLY,
        SDP_RECVONLY,
        SDP_INACTIVE,
        _SDP_DIRECTION_MAX,
        _SDP_DIRECTION_INVALID = -EINVAL,
} SdpDirection;

const char *sdp_direction_to_string(SdpDirection d);

/* The audio stream of a received SDP, as the remote described it. */
typedef struct SdpMedia {
        int family;                      /* AF_INET or AF_INET6 */
        char addr[INET6_ADDRSTRLEN];     /* where to send RTP; "0.0.0.0" is RFC 2543 hold */
        uint16_t port;                   /* 0: the stream is refused */
        bool secure;                     /* RTP/SAVP (SRTP, not yet supported) */
        int pts[SDP_MAX_PAYLOADS];       /* in the remote's order */
        size_t n_pts;
        int pcmu_pt, pcma_pt;            /* -1: not offered (PCMU is 0, PCMA 8, or mapped) */
        int telephone_event_pt;          /* -1: none */
        SdpDirection direction;          /* the remote's */
        unsigned ptime_ms;               /* 0: not given */
        uint64_t sess_id, sess_version;  /* o= */
} SdpMedia;

/* What the offer/answer settled on. */
typedef struct SdpResult {
        GwCodec codec;
        int pt;                          /* payload type on the wire */
        int telephone_event_pt;          /* -1: none */
        SdpDirection direction;          /* ours */
        char remote_addr[INET6_ADDRSTRLEN];
        uint16_t remote_port;
} SdpResult;

/* Our description. */
typedef struct SdpLocal {
        const char *addr;                /* IP literal, no brackets */
        int family;
        uint16_t port;
        uint64_t sess_id, sess_version;
        GwCodec codecs[_GW_CODEC_MAX];   /* in order */
        size_t n_codecs;
        int telephone_event_pt;          /* -1: none */
        int pts[_GW_CODEC_MAX];          /* payload type of each codec */
        SdpDirection direction;
} SdpLocal;

/* Parse and validate body (untrusted). -EBADMSG with *ret_error a static reason. */
int sdp_parse(const char *body, SdpMedia *ret, const char **ret_error);

/* We answer remote's offer: the first of c->media_codecs the offer has, its
 * telephone-event PT, the mirrored direction (hold: sendonly -> recvonly).
 * -EPROTO with a reason when nothing is acceptable (488). */
int sdp_answer_offer(const SdpMedia *offer, const GwConf *c, bool local_hold, SdpResult *ret,
                     const char **ret_error);
/* remote answered our offer (of c->media_codecs): its first codec we offered. */
int sdp_accept_answer(const SdpMedia *answer, const GwConf *c, SdpResult *ret, const char **ret_error);

/* Our offer: every codec of c->media_codecs and telephone-event 101. */
void sdp_local_offer(SdpLocal *l, const GwConf *c);
/* Our answer for res. */
void sdp_local_answer(SdpLocal *l, const SdpResult *res);
/* Text of l (CRLF lines). */
int sdp_build(const SdpLocal *l, char **ret);
