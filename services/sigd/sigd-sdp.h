/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-sdp.h: SDP offer/answer (RFC 3264) for one audio stream.
 *
 * Parsing is libosip2's sdp_message_parse(), which accepts much that is
 * broken; sdp_parse() then checks what we rely on (v/o/s/t/c/m present,
 * numeric ports, payload types known or mapped) and picks the first usable
 * audio stream. Anything else is refused with a reason, and the caller
 * answers 488.
 *
 * SRTP with SDES (RFC 4568): a=crypto lines of the audio stream are parsed
 * into SdpMedia (the usable ones; a line we cannot honour is skipped with a
 * reason); the offer/answer functions pick one per media.srtp / profiles[].srtp
 * and put our key and the peer's into SdpResult. Keys are secrets: they are
 * never logged, and every struct holding one is wiped (sdp_*_wipe) before it
 * goes out of scope or is freed, as is every SDP text we build. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "gw-conf.h"

#define SDP_MAX_PAYLOADS 32
#define SDP_TELEPHONE_EVENT_PT 101       /* ours, in offers */
#define SDP_PTIME_MS 20
#define SDP_KEY_SALT_LEN 30              /* AES_CM_128: 16-byte master key || 14-byte master salt */
#define SDP_MAX_CRYPTO 8                 /* usable a=crypto lines kept from one stream */
#define SDP_OFFER_CRYPTO 2               /* lines in our offers: _80 (tag 1), _32 (tag 2) */

typedef enum SdpSrtpSuite {
        SDP_SRTP_NONE,                   /* plain RTP */
        SDP_SRTP_AES_CM_128_HMAC_SHA1_80,
        SDP_SRTP_AES_CM_128_HMAC_SHA1_32,
        _SDP_SRTP_SUITE_MAX,
        _SDP_SRTP_SUITE_INVALID = -EINVAL,
} SdpSrtpSuite;

/* RFC 4568 names ("AES_CM_128_HMAC_SHA1_80"), as mediad takes them; NONE is "". */
const char *sdp_srtp_suite_to_string(SdpSrtpSuite s);

/* One a=crypto line (RFC 4568 §9.1) as far as we use it. */
typedef struct SdpCrypto {
        uint32_t tag;                    /* 1..999999999 */
        SdpSrtpSuite suite;
        uint8_t key[SDP_KEY_SALT_LEN];   /* master key || salt: a secret */
} SdpCrypto;

typedef enum SdpDirection {
        SDP_SENDRECV,
        SDP_SENDONLY,
        SDP_RECVONLY,
        SDP_INACTIVE,
        _SDP_DIRECTION_MAX,
        _SDP_DIRECTION_INVALID = -EINVAL,
} SdpDirection;

const char *sdp_direction_to_string(SdpDirection d);
/* Our direction for the remote's (RFC 3264 §6.1): its sendonly is our recvonly, and so on. */
SdpDirection sdp_direction_mirror(SdpDirection remote);

/* The audio stream of a received SDP, as the remote described it. */
typedef struct SdpMedia {
        int family;                      /* AF_INET or AF_INET6 */
        char addr[INET6_ADDRSTRLEN];     /* where to send RTP; "0.0.0.0" is RFC 2543 hold */
        uint16_t port;                   /* 0: the stream is refused */
        bool secure;                     /* RTP/SAVP */
        int pts[SDP_MAX_PAYLOADS];       /* in the remote's order */
        size_t n_pts;
        int pcmu_pt, pcma_pt;            /* -1: not offered (PCMU is 0, PCMA 8, or mapped) */
        int telephone_event_pt;          /* -1: none */
        SdpDirection direction;          /* the remote's */
        unsigned ptime_ms;               /* 0: not given */
        uint64_t sess_id, sess_version;  /* o= */
        SdpCrypto crypto[SDP_MAX_CRYPTO]; /* usable a=crypto lines, in the remote's order */
        size_t n_crypto;
        unsigned n_crypto_lines;         /* a=crypto lines seen, usable or not */
        const char *crypto_error;        /* why the first unusable one was skipped (static) */
} SdpMedia;

/* What the offer/answer settled on. */
typedef struct SdpResult {
        GwCodec codec;
        int pt;                          /* payload type on the wire */
        int telephone_event_pt;          /* -1: none */
        SdpDirection direction;          /* ours */
        char remote_addr[INET6_ADDRSTRLEN];
        uint16_t remote_port;
        bool secure;                     /* our m= says RTP/SAVP (mirrors the offer's) */
        SdpCrypto local;                 /* our a=crypto: tag, suite, our key (SRTP send); suite NONE: plain RTP */
        uint8_t remote_key[SDP_KEY_SALT_LEN]; /* the peer's key (SRTP receive) */
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
        bool secure;                     /* RTP/SAVP */
        const SdpCrypto *crypto;         /* a=crypto lines to write (not copied) */
        size_t n_crypto;
} SdpLocal;

/* Parse and validate body (untrusted). -EBADMSG with *ret_error a static reason.
 * Unusable a=crypto lines do not fail the parse: they are skipped, counted in
 * n_crypto_lines, the first one's reason in crypto_error. */
int sdp_parse(const char *body, SdpMedia *ret, const char **ret_error);

/* We answer remote's offer: the first of c->media_codecs the offer has, its
 * telephone-event PT, the mirrored direction (hold: sendonly -> recvonly), and
 * per srtp the offer's first usable a=crypto with a fresh key of ours. current
 * is the call's media so far (a re-offer) or NULL: when the chosen line is the
 * one already in use (tag, suite and key), our key stays (RFC 4568 §7.1.4);
 * any change gets a new key of ours too. -EPROTO with a reason when nothing is
 * acceptable (488); -errno if no random key could be had. */
int sdp_answer_offer(const SdpMedia *offer, const GwConf *c, GwSrtpMode srtp, bool local_hold,
                     const SdpResult *current, SdpResult *ret, const char **ret_error);
/* remote answered our offer (of c->media_codecs, with the a=crypto lines
 * offered[0..n_offered), our keys): its first codec we offered, and SRTP if it
 * chose one of our lines (same tag and suite). -EPROTO with a reason if unusable,
 * e.g. no a=crypto under srtp mandatory. */
int sdp_accept_answer(const SdpMedia *answer, const GwConf *c, GwSrtpMode srtp, const SdpCrypto *offered,
                      size_t n_offered, SdpResult *ret, const char **ret_error);

/* The a=crypto lines of our offer under srtp (none when off), each with a fresh
 * random key (getrandom()). Returns how many, or -errno. */
int sdp_offer_crypto(GwSrtpMode srtp, SdpCrypto ret[static SDP_OFFER_CRYPTO]);

/* Our offer: every codec of c->media_codecs, telephone-event 101, and under
 * srtp the lines crypto[0..n) (RTP/SAVP when mandatory). */
void sdp_local_offer(SdpLocal *l, const GwConf *c, GwSrtpMode srtp, const SdpCrypto *crypto, size_t n_crypto);
/* Our answer for res (its crypto line points into res). */
void sdp_local_answer(SdpLocal *l, const SdpResult *res);
/* Text of l (CRLF lines); free it with sdp_text_free() (it may hold our key). */
int sdp_build(const SdpLocal *l, char **ret);

char *sdp_text_free(char *text);
DEFINE_TRIVIAL_CLEANUP_FUNC(char *, sdp_text_free);
void sdp_media_wipe(SdpMedia *m);
void sdp_result_wipe(SdpResult *r);
