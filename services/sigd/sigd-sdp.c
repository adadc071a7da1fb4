/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-sdp.c: SDP offer/answer for one audio stream (see sigd-sdp.h). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include "sigd-sdp.h"

static const char *const direction_table[_SDP_DIRECTION_MAX] = {
        [SDP_SENDRECV] = "sendrecv",
        [SDP_SENDONLY] = "sendonly",
        [SDP_RECVONLY] = "recvonly",
        [SDP_INACTIVE] = "inactive",
};

const char *sdp_direction_to_string(SdpDirection d) {
        return d >= 0 && d < _SDP_DIRECTION_MAX ? direction_table[d] : NULL;
}

SdpDirection sdp_direction_mirror(SdpDirection remote) {
        switch (remote) {
        case SDP_SENDONLY:
                return SDP_RECVONLY;
        case SDP_RECVONLY:
                return SDP_SENDONLY;
        case SDP_INACTIVE:
                return SDP_INACTIVE;
        default:
                return SDP_SENDRECV;
        }
}

static const char *const srtp_suite_table[_SDP_SRTP_SUITE_MAX] = {
        [SDP_SRTP_NONE] = "",
        [SDP_SRTP_AES_CM_128_HMAC_SHA1_80] = "AES_CM_128_HMAC_SHA1_80",
        [SDP_SRTP_AES_CM_128_HMAC_SHA1_32] = "AES_CM_128_HMAC_SHA1_32",
};

const char *sdp_srtp_suite_to_string(SdpSrtpSuite s) {
        return s >= 0 && s < _SDP_SRTP_SUITE_MAX ? srtp_suite_table[s] : NULL;
}

static SdpDirection direction_from_string(const char *s) {
        for (int i = 0; i < _SDP_DIRECTION_MAX; i++)
                if (strcmp(direction_table[i], s) == 0)
                        return i;
        return _SDP_DIRECTION_INVALID;
}

static int parse_number(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || !*s || strlen(s) > 20)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* The parsed copies of a=crypto values hold keys: wiped before libosip2 frees them. */
static void sdp_message_freep(sdp_message_t **s) {
        osip_list_iterator_t it, it2;

        if (!*s)
                return;
        for (sdp_media_t *med = osip_list_get_first(&(*s)->m_medias, &it); med; med = osip_list_get_next(&it))
                for (sdp_attribute_t *a = osip_list_get_first(&med->a_attributes, &it2); a; a = osip_list_get_next(&it2))
                        if (a->a_att_value)
                                explicit_bzero(a->a_att_value, strlen(a->a_att_value));
        for (sdp_attribute_t *a = osip_list_get_first(&(*s)->a_attributes, &it); a; a = osip_list_get_next(&it))
                if (a->a_att_value)
                        explicit_bzero(a->a_att_value, strlen(a->a_att_value));
        sdp_message_free(*s);
}

/* ---------------------------------------------------------------- a=crypto (RFC 4568) */

static int base64_value(char ch) {
        if (ch >= 'A' && ch <= 'Z')
                return ch - 'A';
        if (ch >= 'a' && ch <= 'z')
                return ch - 'a' + 26;
        if (ch >= '0' && ch <= '9')
                return ch - '0' + 52;
        if (ch == '+')
                return 62;
        if (ch == '/')
                return 63;
        return -1;
}

/* Exactly SDP_KEY_SALT_LEN bytes: 40 characters, no padding (30 is a multiple of 3). */
static int base64_key_decode(const char *s, size_t n, uint8_t ret[static SDP_KEY_SALT_LEN]) {
        uint8_t out[SDP_KEY_SALT_LEN];

        if (n != SDP_KEY_SALT_LEN / 3 * 4)
                return -EINVAL;
        for (size_t i = 0; i < n; i += 4) {
                int v[4];
                for (size_t j = 0; j < 4; j++)
                        if ((v[j] = base64_value(s[i + j])) < 0) {
                                explicit_bzero(out, sizeof out);
                                return -EINVAL;
                        }
                out[i / 4 * 3] = (uint8_t) (v[0] << 2 | v[1] >> 4);
                out[i / 4 * 3 + 1] = (uint8_t) ((v[1] & 0xf) << 4 | v[2] >> 2);
                out[i / 4 * 3 + 2] = (uint8_t) ((v[2] & 0x3) << 6 | v[3]);
        }
        memcpy(ret, out, sizeof out);
        explicit_bzero(out, sizeof out);
        return 0;
}

static void base64_key_encode(const uint8_t key[static SDP_KEY_SALT_LEN], char ret[static SDP_KEY_SALT_LEN / 3 * 4 + 1]) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

        for (size_t i = 0; i < SDP_KEY_SALT_LEN; i += 3) {
                uint32_t v = (uint32_t) key[i] << 16 | (uint32_t) key[i + 1] << 8 | key[i + 2];
                char *o = ret + i / 3 * 4;
                o[0] = alphabet[v >> 18 & 63];
                o[1] = alphabet[v >> 12 & 63];
                o[2] = alphabet[v >> 6 & 63];
                o[3] = alphabet[v & 63];
        }
        ret[SDP_KEY_SALT_LEN / 3 * 4] = 0;
}

/* "2^N" or a decimal number of packets. */
static int parse_lifetime(const char *s, size_t n, unsigned *ret_log2, bool *ret_exact) {
        char buf[24];
        uint64_t v;

        if (n == 0 || n >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (n > 2 && buf[0] == '2' && buf[1] == '^') {
                if (parse_number(buf + 2, 64, &v) < 0)
                        return -EINVAL;
                *ret_log2 = (unsigned) v;
                *ret_exact = true;
                return 0;
        }
        if (parse_number(buf, UINT64_MAX, &v) < 0 || v == 0)
                return -EINVAL;
        *ret_log2 = 63 - (unsigned) __builtin_clzll(v);       /* floor(log2) */
        *ret_exact = (v & (v - 1)) == 0;
        return 0;
}

static bool is_wsp(char ch) {
        return ch == ' ' || ch == '\t';
}

/* Next token of v at *p (WSP-separated); false at the end. */
static bool next_token(const char **p, const char **ret, size_t *ret_n) {
        const char *s = *p;

        while (is_wsp(*s))
                s++;
        if (!*s)
                return false;
        *ret = s;
        while (*s && !is_wsp(*s))
                s++;
        *ret_n = (size_t) (s - *ret);
        *p = s;
        return true;
}

static bool token_is(const char *t, size_t n, const char *word) {
        return strlen(word) == n && memcmp(t, word, n) == 0;
}

/* "<tag> <suite> inline:<key||salt>[|lifetime][|MKI:len] [session params]"
 * (RFC 4568 §9.1). What we cannot honour is refused with a reason: other
 * suites, a key that is not 30 bytes, several keys, an MKI (mediad does not
 * send or expect one), a lifetime below 2^31 (we never re-key within a call;
 * 2^31 packets are 497 days of 20 ms) or above the suites' 2^48, and session
 * parameters that change the protection (UNENCRYPTED_*, UNAUTHENTICATED_SRTP,
 * KDR, FEC_*). WSH (a replay window hint) and '-'-prefixed extensions are
 * optional for the receiver and ignored (§6.3.7). */
static int parse_crypto(const char *v, SdpCrypto *ret, const char **ret_error) {
        const char *p = v, *t, *key, *bar;
        size_t n, key_n;
        uint64_t tag;

        if (!v)
                return *ret_error = "a=crypto without a value", -EBADMSG;
        if (!next_token(&p, &t, &n) || n > 9 || strspn(t, "0123456789") < n ||
            parse_number(strndupa(t, n), 999999999, &tag) < 0)
                return *ret_error = "a=crypto tag is not 1 to 9 digits", -EBADMSG;
        ret->tag = (uint32_t) tag;

        if (!next_token(&p, &t, &n))
                return *ret_error = "a=crypto without a crypto suite", -EBADMSG;
        if (token_is(t, n, srtp_suite_table[SDP_SRTP_AES_CM_128_HMAC_SHA1_80]))
                ret->suite = SDP_SRTP_AES_CM_128_HMAC_SHA1_80;
        else if (token_is(t, n, srtp_suite_table[SDP_SRTP_AES_CM_128_HMAC_SHA1_32]))
                ret->suite = SDP_SRTP_AES_CM_128_HMAC_SHA1_32;
        else
                return *ret_error = "a=crypto suite not supported (only AES_CM_128_HMAC_SHA1_80 and _32)", -EBADMSG;

        if (!next_token(&p, &t, &n))
                return *ret_error = "a=crypto without key parameters", -EBADMSG;
        if (memchr(t, ';', n))
                return *ret_error = "a=crypto with several keys is not supported", -EBADMSG;
        if (n < 7 || strncasecmp(t, "inline:", 7) != 0)
                return *ret_error = "a=crypto key method is not inline:", -EBADMSG;
        key = t + 7;
        bar = memchr(key, '|', n - 7);
        key_n = bar ? (size_t) (bar - key) : n - 7;
        if (bar) {
                /* |lifetime, |MKI:length, or both in this order */
                const char *f = bar + 1, *end = t + n, *f_end = memchr(f, '|', (size_t) (end - f)) ?: end;
                unsigned lg;
                bool exact;

                if (memchr(f, ':', (size_t) (f_end - f)) || f_end < end)
                        return *ret_error = "a=crypto with an MKI is not supported", -EBADMSG;
                if (parse_lifetime(f, (size_t) (f_end - f), &lg, &exact) < 0)
                        return *ret_error = "a=crypto key lifetime is not 2^N or a number", -EBADMSG;
                if (lg < 31)
                        return *ret_error = "a=crypto key lifetime below 2^31 (keys are never renewed in a call)", -EBADMSG;
                if (lg > 48 || (lg == 48 && !exact))
                        return *ret_error = "a=crypto key lifetime above 2^48 (the suite's maximum)", -EBADMSG;
        }
        if (base64_key_decode(key, key_n, ret->key) < 0)
                return *ret_error = "a=crypto key is not 30 bytes of base64 (key and salt)", -EBADMSG;

        while (next_token(&p, &t, &n)) {
                if (t[0] == '-')
                        continue;
                if (n > 4 && memcmp(t, "WSH=", 4) == 0 && strspn(t + 4, "0123456789") >= n - 4)
                        continue;
                explicit_bzero(ret->key, sizeof ret->key);
                if (token_is(t, n, "UNENCRYPTED_SRTP") || token_is(t, n, "UNENCRYPTED_SRTCP") ||
                    token_is(t, n, "UNAUTHENTICATED_SRTP"))
                        return *ret_error = "a=crypto asks for unencrypted or unauthenticated SRTP/SRTCP", -EBADMSG;
                return *ret_error = "a=crypto session parameter not supported (KDR, FEC or unknown)", -EBADMSG;
        }
        return 0;
}

static void note_crypto(SdpMedia *m, const char *v) {
        SdpCrypto c = {};
        const char *why = NULL;

        m->n_crypto_lines++;
        if (parse_crypto(v, &c, &why) >= 0) {
                for (size_t i = 0; i < m->n_crypto; i++)
                        if (m->crypto[i].tag == c.tag) {
                                why = "a=crypto tag used twice";
                                break;
                        }
                if (!why && m->n_crypto >= SDP_MAX_CRYPTO)
                        why = "too many a=crypto lines";
                if (!why)
                        m->crypto[m->n_crypto++] = c;
        }
        if (why && !m->crypto_error)
                m->crypto_error = why;
        explicit_bzero(&c, sizeof c);
}

/* "IN IP4 192.0.2.1": a unicast IP literal of the given type. */
static int check_connection(const sdp_connection_t *c, SdpMedia *m) {
        struct in6_addr a;

        if (!c || !c->c_nettype || !c->c_addrtype || !c->c_addr || strcmp(c->c_nettype, "IN") != 0)
                return -EBADMSG;
        if (strcmp(c->c_addrtype, "IP4") == 0 && inet_pton(AF_INET, c->c_addr, &a) == 1)
                m->family = AF_INET;
        else if (strcmp(c->c_addrtype, "IP6") == 0 && inet_pton(AF_INET6, c->c_addr, &a) == 1)
                m->family = AF_INET6;
        else
                return -EBADMSG;
        if (strlen(c->c_addr) >= sizeof(m->addr))
                return -EBADMSG;
        strcpy(m->addr, c->c_addr);
        return 0;
}

/* "<pt> <name>/<rate>[/<channels>]" */
static void note_rtpmap(SdpMedia *m, const char *v, bool *mapped) {
        char name[32];
        unsigned pt, rate;
        bool in_m = false;

        if (!v || sscanf(v, "%u %31[^/]/%u", &pt, name, &rate) != 3 || pt > 127)
                return;

        for (size_t i = 0; i < m->n_pts; i++)
                if (m->pts[i] == (int) pt)
                        mapped[i] = in_m = true;
        if (!in_m || rate != 8000)              /* a map for a PT not in m= does not count */
                return;
        if (strcasecmp(name, "PCMU") == 0 && m->pcmu_pt < 0)
                m->pcmu_pt = (int) pt;
        else if (strcasecmp(name, "PCMA") == 0 && m->pcma_pt < 0)
                m->pcma_pt = (int) pt;
        else if (strcasecmp(name, "telephone-event") == 0 && m->telephone_event_pt < 0)
                m->telephone_event_pt = (int) pt;
}

static bool pt_static_known(int pt) {
        /* RFC 3551 table 4: static audio/video assignments (1, 2, 19, 20-24, 27, 29, 30 reserved or unassigned) */
        static const int known[] = { 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 25, 26, 28, 31, 32, 33, 34 };
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (known[i] == pt)
                        return true;
        return false;
}

static int parse_audio(sdp_message_t *sdp, int pos, SdpMedia *m, const char **ret_error) {
        sdp_media_t *med = osip_list_get(&sdp->m_medias, pos);
        bool mapped[SDP_MAX_PAYLOADS] = {};
        osip_list_iterator_t it;
        uint64_t v;

        if (parse_number(med->m_port, 65535, &v) < 0)
                return *ret_error = "m= port is not a number up to 65535", -EBADMSG;
        m->port = (uint16_t) v;
        if (med->m_number_of_port)
                return *ret_error = "m= port count is not supported", -EBADMSG;
        if (!med->m_proto)
                return *ret_error = "m= without a transport", -EBADMSG;
        if (strcmp(med->m_proto, "RTP/AVP") == 0)
                m->secure = false;
        else if (strcmp(med->m_proto, "RTP/SAVP") == 0)
                m->secure = true;
        else
                return *ret_error = "m= transport is neither RTP/AVP nor RTP/SAVP", -EBADMSG;

        m->n_pts = 0;
        for (char *p = osip_list_get_first(&med->m_payloads, &it); p; p = osip_list_get_next(&it)) {
                if (parse_number(p, 127, &v) < 0)
                        return *ret_error = "m= payload type is not a number up to 127", -EBADMSG;
                if (m->n_pts >= SDP_MAX_PAYLOADS)
                        return *ret_error = "too many payload types", -EBADMSG;
                m->pts[m->n_pts++] = (int) v;
        }
        if (m->n_pts == 0)
                return *ret_error = "m= without payload types", -EBADMSG;

        /* Connection: the media's, else the session's. */
        if (osip_list_size(&med->c_connections) > 0) {
                if (check_connection(osip_list_get(&med->c_connections, 0), m) < 0)
                        return *ret_error = "c= is not 'IN IP4|IP6 <address literal>'", -EBADMSG;
        } else if (!sdp->c_connection)
                return *ret_error = "no c= for the audio stream", -EBADMSG;
        else if (check_connection(sdp->c_connection, m) < 0)
                return *ret_error = "c= is not 'IN IP4|IP6 <address literal>'", -EBADMSG;

        m->pcmu_pt = m->pcma_pt = m->telephone_event_pt = -1;
        m->direction = SDP_SENDRECV;
        m->ptime_ms = 0;
        /* Session-level direction first; the media's overrides it. */
        for (int level = 0; level < 2; level++) {
                osip_list_t *attrs = level == 0 ? &sdp->a_attributes : &med->a_attributes;
                for (sdp_attribute_t *a = osip_list_get_first(attrs, &it); a; a = osip_list_get_next(&it)) {
                        SdpDirection d;

                        if (!a->a_att_field)
                                continue;
                        d = direction_from_string(a->a_att_field);
                        if (d >= 0)
                                m->direction = d;
                        else if (level == 1 && strcmp(a->a_att_field, "rtpmap") == 0)
                                note_rtpmap(m, a->a_att_value, mapped);
                        else if (level == 1 && strcmp(a->a_att_field, "ptime") == 0 &&
                                 parse_number(a->a_att_value, 1000, &v) == 0)
                                m->ptime_ms = (unsigned) v;
                        else if (level == 1 && strcmp(a->a_att_field, "crypto") == 0)
                                note_crypto(m, a->a_att_value);
                }
        }
        for (size_t i = 0; i < m->n_pts; i++) {
                if (m->pts[i] == 0 && m->pcmu_pt < 0)
                        m->pcmu_pt = 0;
                if (m->pts[i] == 8 && m->pcma_pt < 0)
                        m->pcma_pt = 8;
                if (!mapped[i] && !pt_static_known(m->pts[i]))
                        return *ret_error = "payload type neither static nor mapped by a=rtpmap", -EBADMSG;
        }
        return 0;
}

int sdp_parse(const char *body, SdpMedia *ret, const char **ret_error) {
        _cleanup_(sdp_message_freep) sdp_message_t *sdp = NULL;
        const char *dummy;
        SdpMedia m = {};
        uint64_t v;
        int audio = -1, r;

        if (!ret_error)
                ret_error = &dummy;
        if (!body || !*body)
                return *ret_error = "empty SDP", -EBADMSG;
        if (strlen(body) > 16384)
                return *ret_error = "SDP longer than 16 KiB", -EBADMSG;
        if (sdp_message_init(&sdp) != 0)
                return -ENOMEM;
        if (sdp_message_parse(sdp, body) != 0)
                return *ret_error = "SDP does not parse", -EBADMSG;

        if (!sdp->v_version || strcmp(sdp->v_version, "0") != 0)
                return *ret_error = "v= missing or not 0", -EBADMSG;
        if (!sdp->o_username || !sdp->o_sess_id || !sdp->o_sess_version || !sdp->o_nettype ||
            !sdp->o_addrtype || !sdp->o_addr)
                return *ret_error = "o= missing or incomplete", -EBADMSG;
        if (parse_number(sdp->o_sess_id, UINT64_MAX, &m.sess_id) < 0 ||
            parse_number(sdp->o_sess_version, UINT64_MAX, &m.sess_version) < 0)
                return *ret_error = "o= session id or version is not a number", -EBADMSG;
        if (!sdp->s_name)
                return *ret_error = "s= missing", -EBADMSG;
        if (osip_list_size(&sdp->t_descrs) <= 0)
                return *ret_error = "t= missing", -EBADMSG;
        for (int i = 0; i < osip_list_size(&sdp->t_descrs); i++) {
                sdp_time_descr_t *t = osip_list_get(&sdp->t_descrs, i);
                if (!t || parse_number(t->t_start_time, UINT64_MAX, &v) < 0 ||
                    parse_number(t->t_stop_time, UINT64_MAX, &v) < 0)
                        return *ret_error = "t= times are not numbers", -EBADMSG;
        }
        if (osip_list_size(&sdp->m_medias) <= 0)
                return *ret_error = "m= missing", -EBADMSG;

        /* Every m= must be well-formed; the first audio stream with a port is ours. */
        for (int i = 0; i < osip_list_size(&sdp->m_medias); i++) {
                sdp_media_t *med = osip_list_get(&sdp->m_medias, i);
                if (!med || !med->m_media || !med->m_port || parse_number(med->m_port, 65535, &v) < 0)
                        return *ret_error = "m= port is not a number up to 65535", -EBADMSG;
                if (audio < 0 && strcmp(med->m_media, "audio") == 0 && v != 0)
                        audio = i;
        }
        if (audio < 0) {
                /* All audio refused (port 0) or none at all. */
                for (int i = 0; i < osip_list_size(&sdp->m_medias); i++) {
                        sdp_media_t *med = osip_list_get(&sdp->m_medias, i);
                        if (strcmp(med->m_media, "audio") == 0) {
                                audio = i;
                                break;
                        }
                }
                if (audio < 0)
                        return *ret_error = "no audio stream", -EBADMSG;
        }
        r = parse_audio(sdp, audio, &m, ret_error);
        if (r >= 0)
                *ret = m;
        sdp_media_wipe(&m);
        return r;
}

static int pick_codec(const SdpMedia *r, const GwConf *c, SdpResult *ret) {
        for (size_t i = 0; i < c->n_media_codecs; i++) {
                int pt = c->media_codecs[i] == GW_CODEC_PCMU ? r->pcmu_pt : r->pcma_pt;
                if (pt >= 0) {
                        ret->codec = c->media_codecs[i];
                        ret->pt = pt;
                        return 0;
                }
        }
        return -EPROTO;
}

static int result_common(const SdpMedia *r, const GwConf *c, SdpResult *ret, const char **ret_error) {
        const char *dummy;

        if (!ret_error)
                ret_error = &dummy;
        if (r->port == 0)
                return *ret_error = "the audio stream is refused (port 0)", -EPROTO;
        if (r->ptime_ms != 0 && r->ptime_ms % 10 != 0)
                return *ret_error = "ptime is not a multiple of 10 ms", -EPROTO;
        if (pick_codec(r, c, ret) < 0)
                return *ret_error = "no common codec (PCMU, PCMA)", -EPROTO;
        ret->telephone_event_pt = r->telephone_event_pt;
        strcpy(ret->remote_addr, r->addr);
        ret->remote_port = r->port;
        return 0;
}

static int crypto_new_key(SdpCrypto *c) {
        ssize_t k = getrandom(c->key, sizeof c->key, 0);

        if (k < 0)
                return -errno;
        return k == (ssize_t) sizeof c->key ? 0 : -EIO;
}

int sdp_offer_crypto(GwSrtpMode srtp, SdpCrypto ret[static SDP_OFFER_CRYPTO]) {
        static const SdpSrtpSuite suites[SDP_OFFER_CRYPTO] = {
                SDP_SRTP_AES_CM_128_HMAC_SHA1_80, SDP_SRTP_AES_CM_128_HMAC_SHA1_32,
        };
        int r;

        if (srtp == GW_SRTP_OFF)
                return 0;
        /* One key per line: the answer picks one, the other is never used. */
        for (size_t i = 0; i < SDP_OFFER_CRYPTO; i++) {
                ret[i] = (SdpCrypto) { .tag = (uint32_t) i + 1, .suite = suites[i] };
                r = crypto_new_key(&ret[i]);
                if (r < 0) {
                        explicit_bzero(ret, sizeof(SdpCrypto) * SDP_OFFER_CRYPTO);
                        return r;
                }
        }
        return SDP_OFFER_CRYPTO;
}

/* Why an offer or answer has no crypto we can use. */
static const char *no_crypto_reason(const SdpMedia *r, const char *none) {
        return r->n_crypto_lines > 0 && r->crypto_error ? r->crypto_error : none;
}

/* SRTP for an offer per srtp: 1 chosen (ret->local/remote_key set), 0 plain, -EPROTO. */
static int answer_crypto(const SdpMedia *offer, GwSrtpMode srtp, const SdpResult *current, SdpResult *ret,
                         const char **ret_error) {
        const SdpCrypto *chosen;
        int r;

        ret->secure = offer->secure;
        if (srtp == GW_SRTP_OFF) {
                if (offer->secure)
                        return *ret_error = "SRTP (RTP/SAVP) offered, but SRTP is off here", -EPROTO;
                return 0;                                 /* a=crypto on RTP/AVP: ignored */
        }
        if (offer->n_crypto == 0) {
                if (offer->secure)
                        return *ret_error = no_crypto_reason(offer, "RTP/SAVP without a=crypto"), -EPROTO;
                if (srtp == GW_SRTP_MANDATORY)
                        return *ret_error = no_crypto_reason(offer, "SRTP is required: the offer has no a=crypto"),
                               -EPROTO;
                return 0;
        }
        /* The first line we support, in the offer's order (RFC 4568 §7.1.2). */
        chosen = &offer->crypto[0];
        ret->local.tag = chosen->tag;
        ret->local.suite = chosen->suite;
        memcpy(ret->remote_key, chosen->key, sizeof ret->remote_key);
        if (current && current->local.suite == chosen->suite && current->local.tag == chosen->tag &&
            memcmp(current->remote_key, chosen->key, sizeof chosen->key) == 0) {
                memcpy(ret->local.key, current->local.key, sizeof ret->local.key);
                return 1;
        }
        r = crypto_new_key(&ret->local);
        if (r < 0)
                return *ret_error = "no random key", r;
        return 1;
}

int sdp_answer_offer(const SdpMedia *offer, const GwConf *c, GwSrtpMode srtp, bool local_hold,
                     const SdpResult *current, SdpResult *ret, const char **ret_error) {
        SdpResult res = {};
        const char *dummy;
        int r;

        if (!ret_error)
                ret_error = &dummy;
        r = result_common(offer, c, &res, ret_error);
        if (r >= 0)
                r = answer_crypto(offer, srtp, current, &res, ret_error);
        if (r < 0) {
                sdp_result_wipe(&res);
                return r;
        }
        res.direction = sdp_direction_mirror(offer->direction);
        /* RFC 2543 hold (c=0.0.0.0): nothing to send to. */
        if (streq(offer->addr, "0.0.0.0"))
                res.direction = res.direction == SDP_SENDRECV || res.direction == SDP_RECVONLY ? SDP_RECVONLY
                                                                                               : SDP_INACTIVE;
        if (local_hold)
                res.direction = res.direction == SDP_SENDRECV || res.direction == SDP_SENDONLY ? SDP_SENDONLY
                                                                                               : SDP_INACTIVE;
        *ret = res;
        sdp_result_wipe(&res);
        return 0;
}

/* SRTP from an answer to our offer: 1 SRTP, 0 plain, -EPROTO. */
static int accept_crypto(const SdpMedia *answer, GwSrtpMode srtp, const SdpCrypto *offered, size_t n_offered,
                         SdpResult *ret, const char **ret_error) {
        ret->secure = answer->secure;
        if (n_offered == 0) {
                if (answer->secure)
                        return *ret_error = "RTP/SAVP answer to a plain RTP offer", -EPROTO;
                return 0;
        }
        if (answer->n_crypto_lines == 0 && !answer->secure) {
                if (srtp == GW_SRTP_MANDATORY)
                        return *ret_error = "SRTP is required: the answer has no a=crypto", -EPROTO;
                return 0;                                 /* the peer does not do SRTP: plain RTP */
        }
        /* The answer names the line it chose by tag, with its own key (RFC 4568 §7.1.3). */
        for (size_t i = 0; i < answer->n_crypto; i++)
                for (size_t j = 0; j < n_offered; j++)
                        if (answer->crypto[i].tag == offered[j].tag && answer->crypto[i].suite == offered[j].suite) {
                                ret->local = offered[j];
                                memcpy(ret->remote_key, answer->crypto[i].key, sizeof ret->remote_key);
                                return 1;
                        }
        if (answer->n_crypto > 0)
                return *ret_error = "the answer's a=crypto matches no line of our offer (tag and suite)", -EPROTO;
        return *ret_error = no_crypto_reason(answer, "RTP/SAVP answer without a=crypto"), -EPROTO;
}

int sdp_accept_answer(const SdpMedia *answer, const GwConf *c, GwSrtpMode srtp, const SdpCrypto *offered,
                      size_t n_offered, SdpResult *ret, const char **ret_error) {
        SdpResult res = {};
        const char *dummy;
        int r;

        if (!ret_error)
                ret_error = &dummy;
        r = result_common(answer, c, &res, ret_error);
        if (r >= 0)
                r = accept_crypto(answer, srtp, offered, n_offered, &res, ret_error);
        if (r < 0) {
                sdp_result_wipe(&res);
                return r;
        }
        /* Our offer was sendrecv: the answer's direction is what the far end does. */
        res.direction = sdp_direction_mirror(answer->direction);
        if (streq(answer->addr, "0.0.0.0"))
                res.direction = SDP_RECVONLY;
        /* Events only if the answer kept them (RFC 4733 §7.1.2): their PT is the answer's. */
        *ret = res;
        sdp_result_wipe(&res);
        return 0;
}

void sdp_local_offer(SdpLocal *l, const GwConf *c, GwSrtpMode srtp, const SdpCrypto *crypto, size_t n_crypto) {
        l->n_codecs = 0;
        for (size_t i = 0; i < c->n_media_codecs && i < ELEMENTSOF(l->codecs); i++) {
                l->codecs[l->n_codecs] = c->media_codecs[i];
                l->pts[l->n_codecs] = c->media_codecs[i] == GW_CODEC_PCMU ? 0 : 8;
                l->n_codecs++;
        }
        l->telephone_event_pt = SDP_TELEPHONE_EVENT_PT;
        l->direction = SDP_SENDRECV;
        /* optional: RTP/AVP with a=crypto, which a peer without SRTP ignores (best effort) */
        l->secure = srtp == GW_SRTP_MANDATORY;
        l->crypto = srtp == GW_SRTP_OFF ? NULL : crypto;
        l->n_crypto = srtp == GW_SRTP_OFF ? 0 : n_crypto;
}

void sdp_local_answer(SdpLocal *l, const SdpResult *res) {
        l->codecs[0] = res->codec;
        l->pts[0] = res->pt;
        l->n_codecs = 1;
        l->telephone_event_pt = res->telephone_event_pt;
        l->direction = res->direction;
        l->secure = res->secure;
        l->crypto = res->local.suite != SDP_SRTP_NONE ? &res->local : NULL;
        l->n_crypto = l->crypto ? 1 : 0;
}

/* A fixed buffer, never reallocated: a copy of our key must not be left in freed memory. */
#define SDP_TEXT_MAX 4096

typedef struct SdpText {
        char *buf;
        size_t len;
        bool overflow;
} SdpText;

_printf_(2, 3) static void text_add(SdpText *t, const char *fmt, ...) {
        va_list ap;
        int k;

        if (t->overflow)
                return;
        va_start(ap, fmt);
        k = vsnprintf(t->buf + t->len, SDP_TEXT_MAX - t->len, fmt, ap);
        va_end(ap);
        if (k < 0 || (size_t) k >= SDP_TEXT_MAX - t->len)
                t->overflow = true;
        else
                t->len += (size_t) k;
}

int sdp_build(const SdpLocal *l, char **ret) {
        const char *ipv = l->family == AF_INET6 ? "IP6" : "IP4";
        SdpText t = { .buf = calloc(1, SDP_TEXT_MAX) };

        if (!t.buf)
                return -ENOMEM;
        text_add(&t, "v=0\r\no=fxsgw %" PRIu64 " %" PRIu64 " IN %s %s\r\ns=fxsgw\r\nc=IN %s %s\r\nt=0 0\r\n",
                 l->sess_id, l->sess_version, ipv, l->addr, ipv, l->addr);
        text_add(&t, "m=audio %u %s", l->port, l->secure ? "RTP/SAVP" : "RTP/AVP");
        for (size_t i = 0; i < l->n_codecs; i++)
                text_add(&t, " %d", l->pts[i]);
        if (l->telephone_event_pt >= 0)
                text_add(&t, " %d", l->telephone_event_pt);
        text_add(&t, "\r\n");
        for (size_t i = 0; i < l->n_codecs; i++)
                text_add(&t, "a=rtpmap:%d %s/8000\r\n", l->pts[i], l->codecs[i] == GW_CODEC_PCMU ? "PCMU" : "PCMA");
        if (l->telephone_event_pt >= 0)
                text_add(&t, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n",
                         l->telephone_event_pt, l->telephone_event_pt);
        text_add(&t, "a=ptime:%d\r\na=%s\r\n", SDP_PTIME_MS, sdp_direction_to_string(l->direction));
        for (size_t i = 0; i < l->n_crypto; i++) {
                char key[SDP_KEY_SALT_LEN / 3 * 4 + 1];

                base64_key_encode(l->crypto[i].key, key);
                text_add(&t, "a=crypto:%" PRIu32 " %s inline:%s\r\n", l->crypto[i].tag,
                         sdp_srtp_suite_to_string(l->crypto[i].suite), key);
                explicit_bzero(key, sizeof key);
        }
        if (t.overflow) {
                sdp_text_free(t.buf);
                return -E2BIG;
        }
        *ret = t.buf;
        return 0;
}

char *sdp_text_free(char *text) {
        return erase_and_free(text);
}

void sdp_media_wipe(SdpMedia *m) {
        if (m)
                explicit_bzero(m, sizeof *m);
}

void sdp_result_wipe(SdpResult *r) {
        if (r)
                explicit_bzero(r, sizeof *r);
}
