/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-srtp.h: SRTP (RFC 3711) of one RTP session with SDES keys (RFC 4568), on libsrtp2.
 *
 * One outbound stream (our SSRC) and one inbound stream, created for the SSRC
 * of the first packet that authenticates (a new SSRC replaces it). Keys are
 * copied in and wiped on free; they are never logged. Nothing is allocated per
 * packet, except the inbound stream when a new SSRC shows up (freed again if
 * its packet does not authenticate). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw-macro.h"

#define SRTP_KEY_SALT_LEN   30             /* 128-bit master key || 112-bit master salt */
#define SRTP_TRAILER_MAX    144            /* room srtp_protect() may write after the packet (tag + MKI) */

typedef enum SrtpSuite {
        SRTP_SUITE_NONE,                   /* plain RTP */
        SRTP_SUITE_AES_CM_128_HMAC_SHA1_80,
        SRTP_SUITE_AES_CM_128_HMAC_SHA1_32,
        _SRTP_SUITE_MAX,
        _SRTP_SUITE_INVALID = -EINVAL,
} SrtpSuite;

/* "" and NULL are SRTP_SUITE_NONE. */
const char *srtp_suite_to_string(SrtpSuite s);
SrtpSuite srtp_suite_from_string(const char *s);

typedef struct MediaSrtp MediaSrtp;

typedef struct MediaSrtpParams {
        SrtpSuite suite;                   /* not NONE */
        const uint8_t *tx_key, *rx_key;    /* SRTP_KEY_SALT_LEN each, copied */
        uint32_t tx_ssrc;
        uint32_t tx_roc;                   /* resume: ROC of our stream */
        uint32_t rx_roc;                   /* resume: ROC of the first stream received */
        bool have_rx_seq;                  /* resume: and the last sequence number received with */
        uint16_t rx_seq;                   /* that ROC: the first packet's ROC is estimated from both */
} MediaSrtpParams;

int media_srtp_new(const MediaSrtpParams *p, MediaSrtp **ret);
MediaSrtp *media_srtp_free(MediaSrtp *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(MediaSrtp *, media_srtp_free);

/* Same suite and keys (so the running contexts, ROC and replay window stay). */
bool media_srtp_same_keys(const MediaSrtp *s, const MediaSrtpParams *p);
/* Same suite and our key (only the peer's changed). */
bool media_srtp_same_tx_key(const MediaSrtp *s, const MediaSrtpParams *p);

/* In place; buf has room for *len + SRTP_TRAILER_MAX. -EIO on failure. */
int media_srtp_protect(MediaSrtp *s, uint8_t *buf, size_t *len);
/* In place. -EACCES bad tag, -EALREADY replayed or too old index, -EBADMSG
 * not SRTP (short, version), -EIO otherwise. */
int media_srtp_unprotect(MediaSrtp *s, uint8_t *buf, size_t *len);

/* SRTCP (RFC 3711 §3.4) with the same master keys; always the 80-bit tag
 * (RFC 4568 §6.2). Same return values as the RTP functions. */
int media_srtp_protect_rtcp(MediaSrtp *s, uint8_t *buf, size_t *len);
int media_srtp_unprotect_rtcp(MediaSrtp *s, uint8_t *buf, size_t *len);

SrtpSuite media_srtp_suite(const MediaSrtp *s);
uint32_t media_srtp_tx_roc(const MediaSrtp *s);
/* A packet was protected (tx_roc is then that packet's ROC, else the initial one). */
bool media_srtp_tx_sent(const MediaSrtp *s);
/* Of the stream being received; before one, the initial ROC. */
uint32_t media_srtp_rx_roc(const MediaSrtp *s);
/* The sequence number of the last packet that authenticated; false if none yet. */
bool media_srtp_rx_seq(const MediaSrtp *s, uint16_t *ret);
/* RFC 3711 §3.3.1: the ROC of packet 'seq' given the last one received (s_l, roc). */
uint32_t media_srtp_estimate_roc(uint32_t roc, uint16_t s_l, uint16_t seq);
