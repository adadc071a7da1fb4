/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sigd-digest.c: digest authentication against the RFC vectors, and SHA-256. */
#include <string.h>

#include "gw-macro.h"
#include "gw-tests.h"
#include "sigd-digest.h"

static void sha256_hex(const void *data, size_t n, char ret[65]) {
        digest_hash_hex(DIGEST_SHA256, data, n, ret);
}

TEST(sha256_fips_vectors) {
        char h[65];
        Sha256 s;
        uint8_t raw[32];
        char chunk[1000];

        sha256_hex("abc", 3, h);
        ASSERT_STREQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        sha256_hex("", 0, h);
        ASSERT_STREQ(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
        ASSERT_STREQ(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

        /* one million 'a', fed in uneven pieces */
        memset(chunk, 'a', sizeof(chunk));
        sha256_init(&s);
        for (size_t done = 0, k = 1; done < 1000000; done += k, k = k % 997 + 1)
                sha256_update(&s, chunk, MIN(k, 1000000 - done));
        sha256_final(&s, raw);
        {
                static const char d[] = "0123456789abcdef";
                for (int i = 0; i < 32; i++) {
                        h[2 * i] = d[raw[i] >> 4];
                        h[2 * i + 1] = d[raw[i] & 15];
                }
                h[64] = 0;
        }
        ASSERT_STREQ(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(md5_vector) {
        char h[33];

        digest_hash_hex(DIGEST_MD5, "abc", 3, h);
        ASSERT_STREQ(h, "900150983cd24fb0d6963f7d28e17f72");
}

TEST(rfc2617_section_3_5) {
        char r[65];

        ASSERT_OK(digest_response(DIGEST_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life",
                                  "GET", "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                                  "auth", "00000001", "0a4f113b", r, sizeof(r)));
        ASSERT_STREQ(r, "6629fae49393a05397450978507c4ef1");
}

TEST(rfc2617_no_qop) {
        char r[65];

        /* RFC 2069 compatibility: response = H(HA1:nonce:HA2) */
        ASSERT_OK(digest_response(DIGEST_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life",
                                  "GET", "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                                  NULL, NULL, NULL, r, sizeof(r)));
        ASSERT_STREQ(r, "670fd8c2df070c60b045671b8b24ff02");
}

TEST(rfc7616_section_3_9_1) {
        static const char nonce[] = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        static const char cnonce[] = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        char r[65];

        ASSERT_OK(digest_response(DIGEST_MD5, "Mufasa", "http-auth@example.org", "Circle of Life",
                                  "GET", "/dir/index.html", nonce, "auth", "00000001", cnonce, r, sizeof(r)));
        ASSERT_STREQ(r, "8ca523f5e9506fed4657c9700eebdbec");
        ASSERT_OK(digest_response(DIGEST_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life",
                                  "GET", "/dir/index.html", nonce, "auth", "00000001", cnonce, r, sizeof(r)));
        ASSERT_STREQ(r, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        /* too small a buffer for SHA-256 */
        ASSERT_ERROR(digest_response(DIGEST_SHA256, "u", "r", "p", "GET", "/", "n", NULL, NULL, NULL, r, 33), ENOBUFS);
}

TEST(challenge_parse) {
        DigestChallenge c;

        ASSERT_OK(digest_challenge_parse("Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\",\r\n"
                                         "  algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
                                         "  opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"", &c));
        ASSERT_STREQ(c.realm, "http-auth@example.org");
        ASSERT_STREQ(c.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
        ASSERT_STREQ(c.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
        ASSERT_EQ(c.algorithm, DIGEST_SHA256);
        ASSERT_TRUE(c.qop_given && c.qop_auth && c.qop_auth_int);
        ASSERT_FALSE(c.stale);
        digest_challenge_done(&c);

        ASSERT_OK(digest_challenge_parse("digest realm=\"a\\\"b\",nonce=abc,stale=TRUE,algorithm=md5-sess,x=\"y\"", &c));
        ASSERT_STREQ(c.realm, "a\"b");
        ASSERT_STREQ(c.nonce, "abc");
        ASSERT_EQ(c.algorithm, DIGEST_MD5_SESS);
        ASSERT_TRUE(c.stale);
        ASSERT_FALSE(c.qop_given);
        ASSERT_TRUE(c.opaque == NULL);
        digest_challenge_done(&c);

        ASSERT_ERROR(digest_challenge_parse("Basic realm=\"x\"", &c), EOPNOTSUPP);
        ASSERT_ERROR(digest_challenge_parse("Digest realm=\"x\", nonce=\"y\", algorithm=SHA-512-256", &c), EOPNOTSUPP);
        ASSERT_ERROR(digest_challenge_parse("Digest nonce=\"y\"", &c), EBADMSG);
        ASSERT_ERROR(digest_challenge_parse("Digest realm=\"x, nonce=\"y\"", &c), EBADMSG);
        ASSERT_ERROR(digest_challenge_parse("Digest realm", &c), EBADMSG);
        ASSERT_ERROR(digest_challenge_parse("Digest realm=\"x\" nonce=\"y\"", &c), EBADMSG);
        ASSERT_ERROR(digest_challenge_parse("", &c), EOPNOTSUPP);
}

TEST(authorization_header) {
        DigestChallenge c;
        char *v = NULL;
        char expect[65];

        ASSERT_OK(digest_challenge_parse("Digest realm=\"sip.test\", nonce=\"n0nce\", qop=\"auth\", "
                                         "algorithm=SHA-256-sess, opaque=\"op\"", &c));
        ASSERT_OK(digest_authorization(&c, "alice", "s3cret", "REGISTER", "sip:sip.test", 2, "c0ffee", &v));
        /* expected value computed independently from RFC 7616 §3.4 */
        snprintf(expect, sizeof(expect), "%s", "d938566b35fc5de0af678a484cf08492162c4a52986cde212b7a53b6ac910b6f");
        ASSERT_TRUE(strstr(v, expect) != NULL);
        ASSERT_TRUE(strstr(v, "username=\"alice\"") != NULL);
        ASSERT_TRUE(strstr(v, "algorithm=SHA-256-sess") != NULL);
        ASSERT_TRUE(strstr(v, "nc=00000002") != NULL);
        ASSERT_TRUE(strstr(v, "cnonce=\"c0ffee\"") != NULL);
        ASSERT_TRUE(strstr(v, "opaque=\"op\"") != NULL);
        ASSERT_TRUE(strstr(v, "s3cret") == NULL);
        free(v);
        digest_challenge_done(&c);

        /* only auth-int offered: we cannot answer */
        ASSERT_OK(digest_challenge_parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", &c));
        ASSERT_ERROR(digest_authorization(&c, "u", "p", "REGISTER", "sip:r", 1, "cn", &v), EOPNOTSUPP);
        digest_challenge_done(&c);

        /* no qop: no cnonce, no nc */
        ASSERT_OK(digest_challenge_parse("Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"", &c));
        ASSERT_OK(digest_authorization(&c, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", 1, "cn", &v));
        ASSERT_TRUE(strstr(v, "response=\"670fd8c2df070c60b045671b8b24ff02\"") != NULL);
        ASSERT_TRUE(strstr(v, "cnonce") == NULL);
        ASSERT_TRUE(strstr(v, "nc=") == NULL);
        free(v);
        digest_challenge_done(&c);
}

DEFINE_TEST_MAIN
