/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-digest.h: HTTP digest authentication for SIP (RFC 2617, RFC 7616, RFC 3261 §22).
 *
 * Pure functions, no I/O, no logging: challenges are parsed from the value of a
 * WWW-Authenticate / Proxy-Authenticate header, answers are built into strings
 * the caller owns. Passwords pass through and are never stored or printed. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum DigestAlgorithm {
        DIGEST_MD5,
        DIGEST_MD5_SESS,
        DIGEST_SHA256,
        DIGEST_SHA256_SESS,
        _DIGEST_ALGORITHM_MAX,
        _DIGEST_ALGORITHM_INVALID = -EINVAL,
} DigestAlgorithm;

const char *digest_algorithm_to_string(DigestAlgorithm a);    /* "MD5", "SHA-256-sess", ... */
DigestAlgorithm digest_algorithm_from_string(const char *s);  /* case-insensitive */

/* Hex length of a digest of algorithm a (32 or 64). */
size_t digest_hex_len(DigestAlgorithm a);

typedef struct DigestChallenge {
        char *realm;
        char *nonce;
        char *opaque;                  /* NULL if absent */
        DigestAlgorithm algorithm;     /* MD5 if absent */
        bool algorithm_given;
        bool qop_given;                /* a qop list was present */
        bool qop_auth;                 /* "auth" is in it */
        bool qop_auth_int;             /* "auth-int" is in it */
        bool stale;
} DigestChallenge;

/* Parse 'value' ("Digest realm=\"x\", nonce=\"y\", ..."). Returns 0,
 * -EOPNOTSUPP for another scheme or an unknown algorithm, -EBADMSG for bad
 * syntax or a missing realm/nonce. ret is untouched on failure. */
int digest_challenge_parse(const char *value, DigestChallenge *ret);
void digest_challenge_done(DigestChallenge *c);

/* H(data) as lowercase hex into ret (digest_hex_len(a)+1 bytes). */
void digest_hash_hex(DigestAlgorithm a, const void *data, size_t n, char *ret);

/* The request-digest of RFC 2617 §3.2.2.1 / RFC 7616 §3.4.1. qop is NULL (RFC 2069
 * compatibility: no cnonce/nc) or "auth". ret gets digest_hex_len(a)+1 bytes. */
int digest_response(DigestAlgorithm a, const char *user, const char *realm, const char *password,
                    const char *method, const char *uri, const char *nonce,
                    const char *qop, const char *nc, const char *cnonce, char *ret, size_t n);

/* Build the complete Authorization / Proxy-Authorization value for challenge c.
 * cnonce is used when the challenge offers qop=auth (then nc is written as 8 hex
 * digits); returns -EOPNOTSUPP if only auth-int is offered. *ret is malloc'd. */
int digest_authorization(const DigestChallenge *c, const char *user, const char *password,
                         const char *method, const char *uri, uint32_t nc, const char *cnonce,
                         char **ret);

/* SHA-256 (FIPS 180-4), our own: libosip2 only has MD5. */
typedef struct Sha256 {
        uint32_t h[8];
        uint64_t len;
        uint8_t buf[64];
        size_t n;
} Sha256;
void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t ret[32]);
