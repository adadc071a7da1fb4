/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-srtp.c: SRTP of one RTP session on libsrtp2 (AES_CM_128_HMAC_SHA1_80/_32). */
#include <arpa/inet.h>
#include <assert.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

#include "mediad-srtp.h"

static_assert(SRTP_TRAILER_MAX >= SRTP_MAX_TRAILER_LEN, "SRTP_TRAILER_MAX too small for libsrtp");

static const char *const suite_table[_SRTP_SUITE_MAX] = {
        [SRTP_SUITE_NONE] = "",
        [SRTP_SUITE_AES_CM_128_HMAC_SHA1_80] = "AES_CM_128_HMAC_SHA1_80",
        [SRTP_SUITE_AES_CM_128_HMAC_SHA1_32] = "AES_CM_128_HMAC_SHA1_32",
};

const char *srtp_suite_to_string(SrtpSuite s) {
        return s >= 0 && s < _SRTP_SUITE_MAX ? suite_table[s] : NULL;
}

SrtpSuite srtp_suite_from_string(const char *s) {
        if (isempty(s))
                return SRTP_SUITE_NONE;
        for (int i = 1; i < _SRTP_SUITE_MAX; i++)
                if (streq(s, suite_table[i]))
                        return (SrtpSuite) i;
        return _SRTP_SUITE_INVALID;
}

struct MediaSrtp {
        SrtpSuite suite;
        uint8_t tx_key[SRTP_KEY_SALT_LEN], rx_key[SRTP_KEY_SALT_LEN];
        srtp_t tx, rx;
        uint32_t tx_ssrc;
        uint32_t tx_roc_initial;
        bool tx_sent;                      /* libsrtp applies a set ROC with the first packet */
        bool have_rx_stream, rx_roc_used;
        uint32_t rx_ssrc;
        uint32_t rx_roc_initial;
        bool have_rx_seq;                  /* rx_seq valid: saved (resume), then of each packet */
        uint16_t rx_seq;
};

static uint16_t read_be16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

/* libsrtp's status → errno (STYLE.md: authentication failures -EACCES, else -EIO). */
static int srtp_errno(srtp_err_status_t st) {
        switch (st) {
        case srtp_err_status_ok:
                return 0;
        case srtp_err_status_auth_fail:
                return -EACCES;
        case srtp_err_status_replay_fail:
        case srtp_err_status_replay_old:
                return -EALREADY;
        case srtp_err_status_alloc_fail:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

static srtp_err_status_t init_status;
static void srtp_init_once(void) {
        init_status = srtp_init();
}

static void policy_fill(srtp_policy_t *pol, SrtpSuite suite, uint8_t *key) {
        memset(pol, 0, sizeof(*pol));
        if (suite == SRTP_SUITE_AES_CM_128_HMAC_SHA1_32)
                srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol->rtp);
        else
                srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtcp);   /* RTCP always _80 (RFC 4568 §6.2.1) */
        pol->key = key;
        pol->window_size = 128;
        pol->allow_repeat_tx = 0;
}

int media_srtp_new(const MediaSrtpParams *p, MediaSrtp **ret) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        _cleanup_(media_srtp_freep) MediaSrtp *s = NULL;
        srtp_policy_t pol;
        int r;

        assert(p->suite > SRTP_SUITE_NONE && p->suite < _SRTP_SUITE_MAX);
        pthread_once(&once, srtp_init_once);
        if (init_status != srtp_err_status_ok)
                return -EIO;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->suite = p->suite;
        memcpy(s->tx_key, p->tx_key, SRTP_KEY_SALT_LEN);
        memcpy(s->rx_key, p->rx_key, SRTP_KEY_SALT_LEN);
        s->tx_ssrc = p->tx_ssrc;
        s->tx_roc_initial = p->tx_roc;
        s->rx_roc_initial = p->rx_roc;
        s->have_rx_seq = p->have_rx_seq;
        s->rx_seq = p->rx_seq;

        policy_fill(&pol, s->suite, s->tx_key);
        pol.ssrc.type = ssrc_specific;
        pol.ssrc.value = s->tx_ssrc;
        r = srtp_errno(srtp_create(&s->tx, &pol));
        if (r < 0) {
                s->tx = NULL;
                return r;
        }
        if (p->tx_roc != 0) {
                r = srtp_errno(srtp_set_stream_roc(s->tx, s->tx_ssrc, p->tx_roc));
                if (r < 0)
                        return r;
        }
        /* Inbound streams are added per SSRC as packets authenticate (media_srtp_unprotect). */
        r = srtp_errno(srtp_create(&s->rx, NULL));
        if (r < 0) {
                s->rx = NULL;
                return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

MediaSrtp *media_srtp_free(MediaSrtp *s) {
        if (!s)
                return NULL;
        if (s->tx)
                srtp_dealloc(s->tx);
        if (s->rx)
                srtp_dealloc(s->rx);
        explicit_bzero(s, sizeof(*s));
        free(s);
        return NULL;
}

bool media_srtp_same_keys(const MediaSrtp *s, const MediaSrtpParams *p) {
        return s->suite == p->suite && memcmp(s->tx_key, p->tx_key, SRTP_KEY_SALT_LEN) == 0 &&
               memcmp(s->rx_key, p->rx_key, SRTP_KEY_SALT_LEN) == 0;
}

bool media_srtp_same_tx_key(const MediaSrtp *s, const MediaSrtpParams *p) {
        return s->suite == p->suite && memcmp(s->tx_key, p->tx_key, SRTP_KEY_SALT_LEN) == 0;
}

int media_srtp_protect(MediaSrtp *s, uint8_t *buf, size_t *len) {
        int n = (int) *len;
        int r;

        r = srtp_errno(srtp_protect(s->tx, buf, &n));
        if (r < 0)
                return -EIO;
        s->tx_sent = true;
        *len = (size_t) n;
        return 0;
}

static uint32_t read_be32(const uint8_t *b) {
        return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) | ((uint32_t) b[2] << 8) | b[3];
}

/* The inbound stream for 'ssrc' (RTP header offset 8, RTCP offset 4) is added
 * only when a packet of it authenticates: forged packets with made-up SSRCs
 * leave nothing behind. A new SSRC of RTP replaces the old stream (the far end
 * restarted its stream). An RTCP packet of an SSRC other than the one RTP
 * uses is checked against a stream made for it alone and removed again, so
 * RTCP can never displace the media stream (its replay window and ROC). */
static int unprotect(MediaSrtp *s, uint8_t *buf, size_t *len, bool rtcp) {
        srtp_policy_t pol;
        uint32_t ssrc;
        bool added = false, keep;
        int n = (int) *len;
        int r;

        if (*len < (rtcp ? 8u : 12u) || (buf[0] >> 6) != 2)
                return -EBADMSG;
        ssrc = rtcp ? read_be32(buf + 4) : read_be32(buf + 8);
        keep = !rtcp || !s->have_rx_stream;
        if (!s->have_rx_stream || ssrc != s->rx_ssrc) {
                policy_fill(&pol, s->suite, s->rx_key);
                pol.ssrc.type = ssrc_specific;
                pol.ssrc.value = ssrc;
                r = srtp_errno(srtp_add_stream(s->rx, &pol));
                if (r < 0)
                        return r;
                if (keep && !s->rx_roc_used && (s->rx_roc_initial != 0 || (!rtcp && s->have_rx_seq))) {
                        /* The sender may have wrapped its sequence number while we were
                         * down (or its own resume skipped past 65535): a fresh stream
                         * would take the saved ROC as is and fail every packet. */
                        uint32_t roc = !rtcp && s->have_rx_seq ?
                                media_srtp_estimate_roc(s->rx_roc_initial, s->rx_seq, read_be16(buf + 2)) :
                                s->rx_roc_initial;

                        r = srtp_errno(srtp_set_stream_roc(s->rx, ssrc, roc));
                        if (r < 0) {
                                (void) srtp_remove_stream(s->rx, htonl(ssrc));
                                return r;
                        }
                }
                added = true;
        }
        r = srtp_errno(rtcp ? srtp_unprotect_rtcp(s->rx, buf, &n) : srtp_unprotect(s->rx, buf, &n));
        if (added) {
                if (r < 0 || !keep) {
                        (void) srtp_remove_stream(s->rx, htonl(ssrc));
                        if (r < 0)
                                return r;
                } else {
                        if (s->have_rx_stream)  /* the far end changed SSRC: the old stream is done */
                                (void) srtp_remove_stream(s->rx, htonl(s->rx_ssrc));
                        s->have_rx_stream = s->rx_roc_used = true;
                        s->rx_ssrc = ssrc;
                }
        }
        if (r < 0)
                return r;
        if (!rtcp && ssrc == s->rx_ssrc) {
                s->rx_seq = read_be16(buf + 2);
                s->have_rx_seq = true;
        }
        *len = (size_t) n;
        return 0;
}

uint32_t media_srtp_estimate_roc(uint32_t roc, uint16_t s_l, uint16_t seq) {
        if (s_l < 32768)
                return seq > s_l && seq - s_l > 32768 && roc > 0 ? roc - 1 : roc;
        return s_l - 32768 > seq ? roc + 1 : roc;
}

bool media_srtp_rx_seq(const MediaSrtp *s, uint16_t *ret) {
        *ret = s->rx_seq;
        return s->have_rx_seq;
}

int media_srtp_unprotect(MediaSrtp *s, uint8_t *buf, size_t *len) {
        return unprotect(s, buf, len, false);
}

int media_srtp_protect_rtcp(MediaSrtp *s, uint8_t *buf, size_t *len) {
        int n = (int) *len;

        if (srtp_protect_rtcp(s->tx, buf, &n) != srtp_err_status_ok)
                return -EIO;
        *len = (size_t) n;
        return 0;
}

int media_srtp_unprotect_rtcp(MediaSrtp *s, uint8_t *buf, size_t *len) {
        return unprotect(s, buf, len, true);
}

SrtpSuite media_srtp_suite(const MediaSrtp *s) { return s->suite; }

bool media_srtp_tx_sent(const MediaSrtp *s) { return s->tx_sent; }

uint32_t media_srtp_tx_roc(const MediaSrtp *s) {
        uint32_t roc = 0;

        if (!s->tx_sent)
                return s->tx_roc_initial;
        (void) srtp_get_stream_roc(s->tx, s->tx_ssrc, &roc);
        return roc;
}

uint32_t media_srtp_rx_roc(const MediaSrtp *s) {
        uint32_t roc = 0;

        if (!s->have_rx_stream)
                return s->rx_roc_initial;
        (void) srtp_get_stream_roc(s->rx, s->rx_ssrc, &roc);
        return roc;
}
