/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-digest.c: digest challenges and answers (RFC 2617, RFC 7616), MD5 and SHA-256. */
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_md5.h>

#include "gw-macro.h"
#include "sigd-digest.h"

static const char *const algorithm_table[_DIGEST_ALGORITHM_MAX] = {
        [DIGEST_MD5] = "MD5",
        [DIGEST_MD5_SESS] = "MD5-sess",
        [DIGEST_SHA256] = "SHA-256",
        [DIGEST_SHA256_SESS] = "SHA-256-sess",
};

const char *digest_algorithm_to_string(DigestAlgorithm a) {
        return a >= 0 && a < _DIGEST_ALGORITHM_MAX ? algorithm_table[a] : NULL;
}

DigestAlgorithm digest_algorithm_from_string(const char *s) {
        if (!s)
                return _DIGEST_ALGORITHM_INVALID;
        for (int i = 0; i < _DIGEST_ALGORITHM_MAX; i++)
                if (strcasecmp(s, algorithm_table[i]) == 0)
                        return i;
        return _DIGEST_ALGORITHM_INVALID;
}

static bool algorithm_is_sha256(DigestAlgorithm a) {
        return a == DIGEST_SHA256 || a == DIGEST_SHA256_SESS;
}

static bool algorithm_is_sess(DigestAlgorithm a) {
        return a == DIGEST_MD5_SESS || a == DIGEST_SHA256_SESS;
}

size_t digest_hex_len(DigestAlgorithm a) {
        return algorithm_is_sha256(a) ? 64 : 32;
}

/* ---------------------------------------------------------------- SHA-256 */

static const uint32_t sha256_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(Sha256 *s, const uint8_t *p) {
        uint32_t w[64], a, b, c, d, e, f, g, h;

        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 |
                       (uint32_t) p[4 * i + 2] << 8 | (uint32_t) p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }

        a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
        e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 = h + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + ((e & f) ^ (~e & g)) +
                              sha256_k[i] + w[i];
                uint32_t t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                h = g; g = f; f = e; e = d + t1;
                d = c; c = b; b = a; a = t1 + t2;
        }
        s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
        s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

void sha256_init(Sha256 *s) {
        static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
        memcpy(s->h, h0, sizeof(h0));
        s->len = 0;
        s->n = 0;
}

void sha256_update(Sha256 *s, const void *data, size_t n) {
        const uint8_t *p = data;

        s->len += n;
        while (n > 0) {
                size_t k = MIN(n, sizeof(s->buf) - s->n);
                memcpy(s->buf + s->n, p, k);
                s->n += k;
                p += k;
                n -= k;
                if (s->n == sizeof(s->buf)) {
                        sha256_block(s, s->buf);
                        s->n = 0;
                }
        }
}

void sha256_final(Sha256 *s, uint8_t ret[32]) {
        uint64_t bits = s->len * 8;
        uint8_t pad = 0x80, zero = 0, len_be[8];

        sha256_update(s, &pad, 1);
        while (s->n != 56)
                sha256_update(s, &zero, 1);
        for (int i = 0; i < 8; i++)
                len_be[i] = (uint8_t) (bits >> (56 - 8 * i));
        sha256_update(s, len_be, 8);
        for (int i = 0; i < 8; i++) {
                ret[4 * i] = (uint8_t) (s->h[i] >> 24);
                ret[4 * i + 1] = (uint8_t) (s->h[i] >> 16);
                ret[4 * i + 2] = (uint8_t) (s->h[i] >> 8);
                ret[4 * i + 3] = (uint8_t) s->h[i];
        }
        explicit_bzero(s, sizeof(*s));
}

/* ---------------------------------------------------------------- hashing with ':' joins */

typedef struct Hasher {
        DigestAlgorithm alg;
        osip_MD5_CTX md5;
        Sha256 sha;
} Hasher;

static void hasher_init(Hasher *h, DigestAlgorithm a) {
        h->alg = a;
        if (algorithm_is_sha256(a))
                sha256_init(&h->sha);
        else
                osip_MD5Init(&h->md5);
}

static void hasher_update(Hasher *h, const char *s) {
        size_t n = strlen(s);

        if (algorithm_is_sha256(h->alg))
                sha256_update(&h->sha, s, n);
        else
                osip_MD5Update(&h->md5, (unsigned char *) UNCONST(s), (unsigned) n);
}

static void hex(const uint8_t *raw, size_t n, char *ret) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                ret[2 * i] = digits[raw[i] >> 4];
                ret[2 * i + 1] = digits[raw[i] & 15];
        }
        ret[2 * n] = 0;
}

static void hasher_final_hex(Hasher *h, char *ret) {
        uint8_t raw[32];

        if (algorithm_is_sha256(h->alg)) {
                sha256_final(&h->sha, raw);
                hex(raw, 32, ret);
        } else {
                osip_MD5Final(raw, &h->md5);
                hex(raw, 16, ret);
        }
        explicit_bzero(raw, sizeof(raw));
        explicit_bzero(h, sizeof(*h));
}

/* H(a:b:c...) of a NULL-terminated list. */
static void hash_joined(DigestAlgorithm a, char *ret, const char *first, ...) {
        Hasher h;
        va_list ap;

        hasher_init(&h, a);
        hasher_update(&h, first);
        va_start(ap, first);
        for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
                hasher_update(&h, ":");
                hasher_update(&h, s);
        }
        va_end(ap);
        hasher_final_hex(&h, ret);
}

void digest_hash_hex(DigestAlgorithm a, const void *data, size_t n, char *ret) {
        uint8_t raw[32];

        if (algorithm_is_sha256(a)) {
                Sha256 s;
                sha256_init(&s);
                sha256_update(&s, data, n);
                sha256_final(&s, raw);
                hex(raw, 32, ret);
        } else {
                osip_MD5_CTX c;
                osip_MD5Init(&c);
                osip_MD5Update(&c, (unsigned char *) UNCONST(data), (unsigned) n);
                osip_MD5Final(raw, &c);
                hex(raw, 16, ret);
        }
}

int digest_response(DigestAlgorithm a, const char *user, const char *realm, const char *password,
                    const char *method, const char *uri, const char *nonce,
                    const char *qop, const char *nc, const char *cnonce, char *ret, size_t n) {
        char ha1[65], ha2[65];

        if (a < 0 || a >= _DIGEST_ALGORITHM_MAX)
                return -EINVAL;
        if (!user || !realm || !password || !method || !uri || !nonce || !ret)
                return -EINVAL;
        if (n < digest_hex_len(a) + 1)
                return -ENOBUFS;
        if (qop && (!streq(qop, "auth") || !nc || !cnonce))
                return -EINVAL;
        if (algorithm_is_sess(a) && !cnonce)
                return -EINVAL;

        hash_joined(a, ha1, user, realm, password, NULL);
        if (algorithm_is_sess(a)) {
                char inner[65];
                memcpy(inner, ha1, sizeof(inner));
                hash_joined(a, ha1, inner, nonce, cnonce, NULL);
                explicit_bzero(inner, sizeof(inner));
        }
        hash_joined(a, ha2, method, uri, NULL);
        if (qop)
                hash_joined(a, ret, ha1, nonce, nc, cnonce, qop, ha2, NULL);
        else
                hash_joined(a, ret, ha1, nonce, ha2, NULL);
        explicit_bzero(ha1, sizeof(ha1));
        return 0;
}

/* ---------------------------------------------------------------- challenge parser */

static bool is_lws(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_token_char(char c) {
        return isalnum((unsigned char) c) || (c && strchr("-.!%*_+`'~", c));
}

static const char *skip_lws(const char *p) {
        while (is_lws(*p))
                p++;
        return p;
}

/* Parse a token or quoted-string at *p into a malloc'd string. */
static int parse_value(const char **p, char **ret) {
        const char *s = *p;
        _cleanup_free_ char *v = NULL;
        size_t n = 0;

        if (*s == '"') {
                v = malloc(strlen(s) + 1);
                if (!v)
                        return -ENOMEM;
                for (s++; *s != '"'; s++) {
                        if (*s == 0)
                                return -EBADMSG;
                        if (*s == '\\') {
                                s++;
                                if (*s == 0)
                                        return -EBADMSG;
                        }
                        v[n++] = *s;
                }
                s++;
                v[n] = 0;
        } else {
                while (is_token_char(s[n]) || s[n] == '/' || s[n] == ':')
                        n++;
                if (n == 0)
                        return -EBADMSG;
                v = strndup(s, n);
                if (!v)
                        return -ENOMEM;
                s += n;
        }
        *p = s;
        *ret = TAKE_PTR(v);
        return 0;
}

static int parse_qop_list(const char *v, DigestChallenge *c) {
        const char *p = v;

        c->qop_given = true;
        while (*p) {
                size_t n;

                p = skip_lws(p);
                n = strcspn(p, ", \t");
                if (n == 4 && strncasecmp(p, "auth", 4) == 0)
                        c->qop_auth = true;
                else if (n == 8 && strncasecmp(p, "auth-int", 8) == 0)
                        c->qop_auth_int = true;
                p += n;
                while (*p == ',' || is_lws(*p))
                        p++;
        }
        return 0;
}

int digest_challenge_parse(const char *value, DigestChallenge *ret) {
        _cleanup_(digest_challenge_done) DigestChallenge c = { .algorithm = DIGEST_MD5 };
        const char *p;
        int r;

        assert(ret);
        if (!value)
                return -EBADMSG;

        p = skip_lws(value);
        if (strncasecmp(p, "Digest", 6) != 0 || !is_lws(p[6]))
                return -EOPNOTSUPP;
        p += 6;

        for (unsigned i = 0;; i++) {
                _cleanup_free_ char *name = NULL, *v = NULL;
                size_t n = 0;

                if (i > 64)
                        return -EBADMSG;
                p = skip_lws(p);
                if (*p == 0)
                        break;
                while (is_token_char(p[n]))
                        n++;
                if (n == 0)
                        return -EBADMSG;
                name = strndup(p, n);
                if (!name)
                        return -ENOMEM;
                p = skip_lws(p + n);
                if (*p != '=')
                        return -EBADMSG;
                p = skip_lws(p + 1);
                r = parse_value(&p, &v);
                if (r < 0)
                        return r;

                if (strcasecmp(name, "realm") == 0 && !c.realm)
                        c.realm = TAKE_PTR(v);
                else if (strcasecmp(name, "nonce") == 0 && !c.nonce)
                        c.nonce = TAKE_PTR(v);
                else if (strcasecmp(name, "opaque") == 0 && !c.opaque)
                        c.opaque = TAKE_PTR(v);
                else if (strcasecmp(name, "algorithm") == 0) {
                        DigestAlgorithm a = digest_algorithm_from_string(v);
                        if (a < 0)
                                return -EOPNOTSUPP;
                        c.algorithm = a;
                        c.algorithm_given = true;
                } else if (strcasecmp(name, "qop") == 0)
                        parse_qop_list(v, &c);
                else if (strcasecmp(name, "stale") == 0)
                        c.stale = strcasecmp(v, "true") == 0;
                /* domain, charset, userhash and unknown parameters are ignored */

                p = skip_lws(p);
                if (*p == ',')
                        p++;
                else if (*p != 0)
                        return -EBADMSG;
        }

        if (!c.realm || !c.nonce)
                return -EBADMSG;

        *ret = c;
        c = (DigestChallenge) {};
        return 0;
}

void digest_challenge_done(DigestChallenge *c) {
        if (!c)
                return;
        free(c->realm);
        free(c->nonce);
        free(c->opaque);
        *c = (DigestChallenge) { .algorithm = DIGEST_MD5 };
}

/* Append s as a quoted-string (escaping '"' and '\'). */
static int append_quoted(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        fputc('\\', f);
                fputc(*s, f);
        }
        fputc('"', f);
        return 0;
}

int digest_authorization(const DigestChallenge *c, const char *user, const char *password,
                         const char *method, const char *uri, uint32_t nc, const char *cnonce,
                         char **ret) {
        _cleanup_free_ char *buf = NULL;
        const char *qop = NULL;
        char response[65], ncs[9];
        size_t size = 0;
        FILE *f;
        int r;

        assert(c);
        assert(ret);

        if (c->qop_given) {
                if (!c->qop_auth)
                        return -EOPNOTSUPP;        /* auth-int only: we send no bodies anyway */
                qop = "auth";
        }
        if ((qop || algorithm_is_sess(c->algorithm)) && isempty(cnonce))
                return -EINVAL;
        snprintf(ncs, sizeof(ncs), "%08x", nc);

        r = digest_response(c->algorithm, user, c->realm, password, method, uri, c->nonce,
                            qop, qop ? ncs : NULL, qop || algorithm_is_sess(c->algorithm) ? cnonce : NULL,
                            response, sizeof(response));
        if (r < 0)
                return r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("Digest username=", f);
        append_quoted(f, user);
        fputs(", realm=", f);
        append_quoted(f, c->realm);
        fputs(", nonce=", f);
        append_quoted(f, c->nonce);
        fputs(", uri=", f);
        append_quoted(f, uri);
        fprintf(f, ", response=\"%s\"", response);
        if (c->algorithm_given)
                fprintf(f, ", algorithm=%s", digest_algorithm_to_string(c->algorithm));
        if (qop || algorithm_is_sess(c->algorithm)) {
                fputs(", cnonce=", f);
                append_quoted(f, cnonce);
        }
        if (c->opaque) {
                fputs(", opaque=", f);
                append_quoted(f, c->opaque);
        }
        if (qop)
                fprintf(f, ", qop=%s, nc=%s", qop, ncs);
        if (fclose(f) != 0)
                return -ENOMEM;

        *ret = TAKE_PTR(buf);
        return 0;
}
