/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>

#include "gw-tests.h"
#include "sigd-sdp.h"

DEFINE_TEST_MAIN

static GwConf *conf_with(const char *codecs) {
        char text[512];
        GwConf *c = NULL;
        char *err = NULL;

        snprintf(text, sizeof text,
                 "profiles:\n  - name: p\n    proxy: 127.0.0.1\nmedia:\n  codecs: %s\nlines:\n  - port: 1\n    number: \"1001\"\n",
                 codecs);
        if (gw_conf_load_string("mem.yaml", text, &c, &err) < 0)
                GW_TEST_FAIL("config: %s", err);
        return c;
}

#define HEAD "v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"

static void parse_ok(const char *sdp, SdpMedia *m) {
        const char *why = NULL;
        if (sdp_parse(sdp, m, &why) < 0)
                GW_TEST_FAIL("refused: %s\n%s", why, sdp);
}

static void parse_bad(const char *sdp, const char *expect) {
        SdpMedia m = { .port = 4242 };
        const char *why = NULL;

        ASSERT_ERROR(sdp_parse(sdp, &m, &why), EBADMSG);
        ASSERT_EQ(m.port, 4242);                /* untouched */
        if (!why || strcmp(why, expect) != 0)
                GW_TEST_FAIL("got \"%s\", expected \"%s\" for\n%s", why, expect, sdp);
}

TEST(offer_answered_in_our_codec_order) {
        GwConf *c = conf_with("[pcma, pcmu]");
        SdpMedia m;
        SdpResult res;

        parse_ok(HEAD "m=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n", &m);
        ASSERT_EQ(m.port, 30000);
        ASSERT_STREQ(m.addr, "192.0.2.7");
        ASSERT_EQ(m.pcmu_pt, 0);
        ASSERT_EQ(m.pcma_pt, 8);
        ASSERT_EQ(m.telephone_event_pt, 101);
        ASSERT_EQ(m.direction, SDP_SENDRECV);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.codec, GW_CODEC_PCMA);    /* ours first, not the offer's */
        ASSERT_EQ(res.pt, 8);
        ASSERT_EQ(res.telephone_event_pt, 101);
        ASSERT_EQ(res.direction, SDP_SENDRECV);
        ASSERT_EQ(res.remote_port, 30000);
        gw_conf_free(c);

        c = conf_with("[pcmu]");
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.codec, GW_CODEC_PCMU);
        ASSERT_EQ(res.pt, 0);
        gw_conf_free(c);
}

TEST(dynamic_mapping_and_event_pt) {
        GwConf *c = conf_with("[pcmu, pcma]");
        SdpMedia m;
        SdpResult res;

        /* PCMU under a dynamic number, events under 96 */
        parse_ok(HEAD "m=audio 4000 RTP/AVP 112 96\r\na=rtpmap:112 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n"
                 "a=rtpmap:97 PCMA/8000\r\n", &m);
        ASSERT_EQ(m.pcmu_pt, 112);
        ASSERT_EQ(m.pcma_pt, -1);               /* 97 is mapped but not in m= */
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.pt, 112);
        ASSERT_EQ(res.telephone_event_pt, 96);
        gw_conf_free(c);
}

TEST(directions_and_hold) {
        GwConf *c = conf_with("[pcma, pcmu]");
        SdpMedia m;
        SdpResult res;

        parse_ok(HEAD "m=audio 4000 RTP/AVP 8\r\na=sendonly\r\n", &m);
        ASSERT_EQ(m.direction, SDP_SENDONLY);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.direction, SDP_RECVONLY);             /* held by the far end */

        parse_ok(HEAD "m=audio 4000 RTP/AVP 8\r\na=inactive\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.direction, SDP_INACTIVE);

        parse_ok(HEAD "a=recvonly\r\nm=audio 4000 RTP/AVP 8\r\n", &m);   /* session level */
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.direction, SDP_SENDONLY);

        parse_ok(HEAD "a=recvonly\r\nm=audio 4000 RTP/AVP 8\r\na=sendrecv\r\n", &m);   /* media overrides */
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.direction, SDP_SENDRECV);

        /* resume to a new address and port */
        parse_ok("v=0\r\no=- 1 3 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 5002 RTP/AVP 8\r\nc=IN IP4 192.0.2.9\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.direction, SDP_SENDRECV);
        ASSERT_STREQ(res.remote_addr, "192.0.2.9");
        ASSERT_EQ(res.remote_port, 5002);
        ASSERT_EQ(m.sess_version, 3);

        /* RFC 2543 hold */
        parse_ok("v=0\r\no=- 1 4 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5002 RTP/AVP 8\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.direction, SDP_RECVONLY);
        gw_conf_free(c);
}

TEST(answer_to_our_offer) {
        GwConf *c = conf_with("[pcma, pcmu]");
        SdpMedia m;
        SdpResult res;
        const char *why = NULL;

        parse_ok(HEAD "m=audio 6000 RTP/AVP 0\r\n", &m);
        ASSERT_OK(sdp_accept_answer(&m, c, GW_SRTP_OFF, NULL, 0, &res, NULL));
        ASSERT_EQ(res.codec, GW_CODEC_PCMU);
        ASSERT_EQ(res.telephone_event_pt, -1);  /* not kept by the answer: no events */

        parse_ok(HEAD "m=audio 0 RTP/AVP 0\r\n", &m);
        ASSERT_ERROR(sdp_accept_answer(&m, c, GW_SRTP_OFF, NULL, 0, &res, &why), EPROTO);
        ASSERT_STREQ(why, "the audio stream is refused (port 0)");
        gw_conf_free(c);
}

TEST(not_acceptable) {
        GwConf *c = conf_with("[pcma, pcmu]");
        SdpMedia m;
        SdpResult res;
        const char *why = NULL;

        parse_ok(HEAD "m=audio 4000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n", &m);
        ASSERT_ERROR(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "no common codec (PCMU, PCMA)");
        parse_ok(HEAD "m=audio 4000 RTP/SAVP 8\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n", &m);
        ASSERT_TRUE(m.secure);
        ASSERT_ERROR(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "SRTP (RTP/SAVP) offered, but SRTP is off here");
        parse_ok(HEAD "m=audio 4000 RTP/AVP 8\r\na=ptime:25\r\n", &m);
        ASSERT_ERROR(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, &why), EPROTO);
        parse_ok(HEAD "m=video 5000 RTP/AVP 31\r\nm=audio 0 RTP/AVP 8\r\n", &m);
        ASSERT_ERROR(sdp_answer_offer(&m, c, GW_SRTP_OFF, false, NULL, &res, &why), EPROTO);
        gw_conf_free(c);
}

TEST(second_stream_is_audio) {
        SdpMedia m;
        parse_ok(HEAD "m=video 5000 RTP/AVP 31\r\nm=audio 5002 RTP/AVP 8\r\n", &m);
        ASSERT_EQ(m.port, 5002);
        ASSERT_EQ(m.pcma_pt, 8);
}

TEST(broken) {
        parse_bad("", "empty SDP");
        parse_bad("hello", "SDP does not parse");
        parse_bad("o=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "SDP does not parse");
        parse_bad("v=1\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "v= missing or not 0");
        parse_bad("v=0\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "SDP does not parse");
        parse_bad("v=0\r\no=- x 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "o= session id or version is not a number");
        parse_bad("v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "s= missing");
        parse_bad("v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "SDP does not parse");
        parse_bad(HEAD, "m= missing");
        parse_bad(HEAD "m=audio 40x0 RTP/AVP 0\r\n", "m= port is not a number up to 65535");
        parse_bad(HEAD "m=audio 70000 RTP/AVP 0\r\n", "m= port is not a number up to 65535");
        parse_bad(HEAD "m=audio -1 RTP/AVP 0\r\n", "m= port is not a number up to 65535");
        parse_bad(HEAD "m=audio 4000 RTP/AVP 0x\r\n", "m= payload type is not a number up to 127");
        parse_bad(HEAD "m=audio 4000 RTP/AVP 128\r\n", "m= payload type is not a number up to 127");
        parse_bad(HEAD "m=audio 4000 RTP/AVP 99\r\n", "payload type neither static nor mapped by a=rtpmap");
        parse_bad(HEAD "m=audio 4000 RTP/AVP 50\r\n", "payload type neither static nor mapped by a=rtpmap");
        parse_bad(HEAD "m=audio 4000 UDP 0\r\n", "m= transport is neither RTP/AVP nor RTP/SAVP");
        parse_bad(HEAD "m=audio 4000/2 RTP/AVP 0\r\n", "m= port count is not supported");
        parse_bad("v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "no c= for the audio stream");
        parse_bad("v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 example.net\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "c= is not 'IN IP4|IP6 <address literal>'");
        parse_bad("v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP6 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
                  "c= is not 'IN IP4|IP6 <address literal>'");
        parse_bad(HEAD "m=video 4000 RTP/AVP 31\r\n", "no audio stream");
}

TEST(built_offer_parses_back) {
        GwConf *c = conf_with("[pcmu, pcma]");
        SdpLocal l = { .addr = "127.0.0.1", .family = AF_INET, .port = 20000, .sess_id = 77, .sess_version = 1 };
        _cleanup_(sdp_text_freep) char *text = NULL;
        SdpMedia m;
        SdpResult res;

        sdp_local_offer(&l, c, GW_SRTP_OFF, NULL, 0);
        ASSERT_OK(sdp_build(&l, &text));
        ASSERT_TRUE(strstr(text, "m=audio 20000 RTP/AVP 0 8 101\r\n") != NULL);
        ASSERT_TRUE(strstr(text, "a=ptime:20\r\n") != NULL);
        ASSERT_TRUE(strstr(text, "a=fmtp:101 0-15\r\n") != NULL);
        parse_ok(text, &m);
        ASSERT_EQ(m.port, 20000);
        ASSERT_EQ(m.telephone_event_pt, 101);
        ASSERT_EQ(m.sess_id, 77);
        ASSERT_EQ(m.ptime_ms, 20);

        /* Our answer to that offer, from another config, parses back too. */
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OFF, true, NULL, &res, NULL));
        ASSERT_EQ(res.direction, SDP_SENDONLY); /* we hold */
        text = sdp_text_free(text);
        sdp_local_answer(&l, &res);
        ASSERT_OK(sdp_build(&l, &text));
        ASSERT_TRUE(strstr(text, "m=audio 20000 RTP/AVP 0 101\r\n") != NULL);
        ASSERT_TRUE(strstr(text, "a=sendonly\r\n") != NULL);
        parse_ok(text, &m);
        ASSERT_EQ(m.direction, SDP_SENDONLY);
        gw_conf_free(c);
}

/* ---------------------------------------------------------------- SRTP: a=crypto (RFC 4568) */

#define K0 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"      /* bytes 0..29 */
#define K1 "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB"      /* bytes 100..129 */
#define S80 "AES_CM_128_HMAC_SHA1_80"
#define S32 "AES_CM_128_HMAC_SHA1_32"
#define AVP HEAD "m=audio 4000 RTP/AVP 0 8\r\n"
#define SAVP HEAD "m=audio 4000 RTP/SAVP 0 8\r\n"
#define SAVP_NO_CODEC HEAD "m=audio 4000 RTP/SAVP 18\r\na=crypto:1 " S80 " inline:" K0 "\r\n"

static void key_is(const uint8_t *key, uint8_t first) {
        for (unsigned i = 0; i < SDP_KEY_SALT_LEN; i++)
                if (key[i] != (uint8_t) (first + i))
                        GW_TEST_FAIL("key byte %u is %u, expected %u", i, key[i], (uint8_t) (first + i));
}

static bool key_zero(const uint8_t *key) {
        for (unsigned i = 0; i < SDP_KEY_SALT_LEN; i++)
                if (key[i])
                        return false;
        return true;
}

/* One a=crypto value on an RTP/SAVP stream: accepted (tag, suite) or skipped with 'why'. */
static void crypto_ok(const char *value, uint32_t tag, SdpSrtpSuite suite) {
        char sdp[1024];
        SdpMedia m;

        snprintf(sdp, sizeof sdp, SAVP "a=crypto:%s\r\n", value);
        parse_ok(sdp, &m);
        if (m.n_crypto != 1)
                GW_TEST_FAIL("'%s' skipped: %s", value, m.crypto_error);
        ASSERT_EQ(m.n_crypto_lines, 1);
        ASSERT_TRUE(m.crypto_error == NULL);
        ASSERT_EQ(m.crypto[0].tag, tag);
        ASSERT_EQ(m.crypto[0].suite, suite);
        sdp_media_wipe(&m);
}

static void crypto_skipped(const char *value, const char *why) {
        char sdp[1024];
        SdpMedia m;

        snprintf(sdp, sizeof sdp, SAVP "a=crypto:%s\r\n", value);
        parse_ok(sdp, &m);                       /* the SDP itself is fine */
        if (m.n_crypto != 0)
                GW_TEST_FAIL("'%s' accepted", value);
        ASSERT_EQ(m.n_crypto_lines, 1);
        if (!m.crypto_error || strcmp(m.crypto_error, why) != 0)
                GW_TEST_FAIL("'%s': got \"%s\", expected \"%s\"", value, m.crypto_error, why);
}

TEST(crypto_lines_accepted) {
        SdpMedia m;

        parse_ok(SAVP "a=crypto:1 " S80 " inline:" K0 "\r\na=crypto:2 " S32 " inline:" K1 "\r\n", &m);
        ASSERT_TRUE(m.secure);
        ASSERT_EQ(m.n_crypto, 2);
        ASSERT_EQ(m.n_crypto_lines, 2);
        ASSERT_EQ(m.crypto[0].tag, 1);
        ASSERT_EQ(m.crypto[0].suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        key_is(m.crypto[0].key, 0);
        ASSERT_EQ(m.crypto[1].tag, 2);
        ASSERT_EQ(m.crypto[1].suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
        key_is(m.crypto[1].key, 100);
        sdp_media_wipe(&m);
        ASSERT_TRUE(key_zero(m.crypto[0].key) && m.n_crypto == 0);

        /* RFC 4568's own example key; lifetimes from 2^31 to 2^48, as a power or a number */
        crypto_ok("1 " S80 " inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31", 1, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        crypto_ok("7 " S32 " inline:" K0 "|2^48", 7, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
        crypto_ok("7 " S32 " inline:" K0 "|2147483648", 7, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
        crypto_ok("7 " S32 " inline:" K0 "|281474976710656", 7, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
        crypto_ok("7 " S32 " inline:" K0 "|3000000000", 7, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
        /* the largest tag, tabs and runs of blanks, the key method in any case */
        crypto_ok("999999999\t" S80 "  INLINE:" K0, 999999999, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        /* WSH is a hint, '-' extensions may be ignored (RFC 4568 §6.3.7) */
        crypto_ok("3 " S80 " inline:" K0 " WSH=128", 3, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        crypto_ok("3 " S80 " inline:" K0 " -X_VENDOR=1 WSH=64", 3, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        crypto_ok("0 " S80 " inline:" K0, 0, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);

        /* Only the media level counts; a session-level a=crypto is not ours. */
        parse_ok(HEAD "a=crypto:1 " S80 " inline:" K0 "\r\nm=audio 4000 RTP/SAVP 0\r\n", &m);
        ASSERT_EQ(m.n_crypto, 0);
        ASSERT_EQ(m.n_crypto_lines, 0);
}

TEST(crypto_lines_skipped) {
        static const char *const bad_suite = "a=crypto suite not supported (only AES_CM_128_HMAC_SHA1_80 and _32)";
        static const char *const bad_key = "a=crypto key is not 30 bytes of base64 (key and salt)";
        static const char *const bad_tag = "a=crypto tag is not 1 to 9 digits";
        static const char *const mki = "a=crypto with an MKI is not supported";
        static const char *const params = "a=crypto session parameter not supported (KDR, FEC or unknown)";
        static const char *const plain = "a=crypto asks for unencrypted or unauthenticated SRTP/SRTCP";
        static const char *const lifetime = "a=crypto key lifetime is not 2^N or a number";
        SdpMedia m;

        crypto_skipped("1 AES_256_CM_HMAC_SHA1_80 inline:" K0, bad_suite);
        crypto_skipped("1 F8_128_HMAC_SHA1_80 inline:" K0, bad_suite);
        crypto_skipped("1 AEAD_AES_128_GCM inline:" K0, bad_suite);
        crypto_skipped("1 aes_cm_128_hmac_sha1_80 inline:" K0, bad_suite);
        crypto_skipped("1 AES_CM_128_HMAC_SHA1_80X inline:" K0, bad_suite);
        crypto_skipped("1", "a=crypto without a crypto suite");
        crypto_skipped("1 " S80, "a=crypto without key parameters");
        crypto_skipped("1 " S80 " uri:http://192.0.2.1/key", "a=crypto key method is not inline:");
        crypto_skipped("1 " S80 " inline", "a=crypto key method is not inline:");
        crypto_skipped("1 " S80 " inline:", bad_key);
        crypto_skipped("1 " S80 " inline:" K0 "A", bad_key);                     /* 41 characters */
        crypto_skipped("1 " S80 " inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw", bad_key);   /* 39 */
        crypto_skipped("1 " S80 " inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", bad_key); /* 32 bytes */
        crypto_skipped("1 " S80 " inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx==", bad_key);
        crypto_skipped("1 " S80 " inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx*d", bad_key);
        crypto_skipped("1 " S80 " inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx-d", bad_key);  /* base64url */
        crypto_skipped("1 " S80 " inline:" K0 ";inline:" K1, "a=crypto with several keys is not supported");
        crypto_skipped("1 " S80 " inline:" K0 "|2^31;inline:" K1 "|2^31", "a=crypto with several keys is not supported");
        crypto_skipped("1 " S80 " inline:" K0 "|2^20|1:4", mki);
        crypto_skipped("1 " S80 " inline:" K0 "|1:4", mki);
        crypto_skipped("1 " S80 " inline:" K0 "|2^31|", mki);
        crypto_skipped("1 " S80 " inline:" K0 "|2^31|1:1", mki);
        crypto_skipped("1 " S80 " inline:" K0 "|2^20", "a=crypto key lifetime below 2^31 (keys are never renewed in a call)");
        crypto_skipped("1 " S80 " inline:" K0 "|2^30", "a=crypto key lifetime below 2^31 (keys are never renewed in a call)");
        crypto_skipped("1 " S80 " inline:" K0 "|2147483647", "a=crypto key lifetime below 2^31 (keys are never renewed in a call)");
        crypto_skipped("1 " S80 " inline:" K0 "|2^49", "a=crypto key lifetime above 2^48 (the suite's maximum)");
        crypto_skipped("1 " S80 " inline:" K0 "|281474976710657", "a=crypto key lifetime above 2^48 (the suite's maximum)");
        crypto_skipped("1 " S80 " inline:" K0 "|2^", lifetime);
        crypto_skipped("1 " S80 " inline:" K0 "|2^x", lifetime);
        crypto_skipped("1 " S80 " inline:" K0 "|2^99", lifetime);
        crypto_skipped("1 " S80 " inline:" K0 "|0", lifetime);
        crypto_skipped("1 " S80 " inline:" K0 "|", lifetime);
        crypto_skipped("1 " S80 " inline:" K0 "|99999999999999999999999", lifetime);
        crypto_skipped("1 " S80 " inline:" K0 " UNENCRYPTED_SRTP", plain);
        crypto_skipped("1 " S80 " inline:" K0 " UNENCRYPTED_SRTCP", plain);
        crypto_skipped("1 " S80 " inline:" K0 " UNAUTHENTICATED_SRTP", plain);
        crypto_skipped("1 " S80 " inline:" K0 " KDR=0", params);
        crypto_skipped("1 " S80 " inline:" K0 " KDR=23", params);
        crypto_skipped("1 " S80 " inline:" K0 " FEC_ORDER=FEC_SRTP", params);
        crypto_skipped("1 " S80 " inline:" K0 " WSH=64 SOMETHING", params);
        crypto_skipped("1 " S80 " inline:" K0 " WSH=", params);
        crypto_skipped("1 " S80 " inline:" K0 " WSH=1x", params);
        crypto_skipped("x " S80 " inline:" K0, bad_tag);
        crypto_skipped("1234567890 " S80 " inline:" K0, bad_tag);
        crypto_skipped("-1 " S80 " inline:" K0, bad_tag);
        crypto_skipped("1x " S80 " inline:" K0, bad_tag);
        parse_bad(SAVP "a=crypto:\r\n", "SDP does not parse");       /* libosip2's verdict */
        crypto_skipped(" ", bad_tag);

        /* a=crypto without any value at all */
        parse_ok(SAVP "a=crypto\r\n", &m);
        ASSERT_EQ(m.n_crypto, 0);
        ASSERT_EQ(m.n_crypto_lines, 1);
        ASSERT_NOT_NULL(m.crypto_error);

        /* A bad line does not spoil a good one after it; the first reason is kept. */
        parse_ok(SAVP "a=crypto:1 " S80 " inline:" K0 "|1:4\r\na=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:" K0
                 "\r\na=crypto:3 " S32 " inline:" K1 "\r\n", &m);
        ASSERT_EQ(m.n_crypto_lines, 3);
        ASSERT_EQ(m.n_crypto, 1);
        ASSERT_EQ(m.crypto[0].tag, 3);
        key_is(m.crypto[0].key, 100);
        ASSERT_STREQ(m.crypto_error, mki);
        sdp_media_wipe(&m);

        /* A tag used twice: the first line stands. */
        parse_ok(SAVP "a=crypto:1 " S80 " inline:" K0 "\r\na=crypto:1 " S32 " inline:" K1 "\r\n", &m);
        ASSERT_EQ(m.n_crypto, 1);
        ASSERT_EQ(m.crypto[0].suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        ASSERT_STREQ(m.crypto_error, "a=crypto tag used twice");
        sdp_media_wipe(&m);

        /* At most SDP_MAX_CRYPTO lines are kept. */
        {
                char sdp[4096] = SAVP;
                for (unsigned i = 1; i <= SDP_MAX_CRYPTO + 2; i++) {
                        char line[128];
                        snprintf(line, sizeof line, "a=crypto:%u " S80 " inline:" K0 "\r\n", i);
                        strcat(sdp, line);
                }
                parse_ok(sdp, &m);
                ASSERT_EQ(m.n_crypto, SDP_MAX_CRYPTO);
                ASSERT_EQ(m.n_crypto_lines, SDP_MAX_CRYPTO + 2);
                ASSERT_STREQ(m.crypto_error, "too many a=crypto lines");
                sdp_media_wipe(&m);
        }
}

static void parse_offer(const char *sdp, SdpMedia *m) {
        parse_ok(sdp, m);
}

TEST(answer_per_srtp_mode) {
        GwConf *c = conf_with("[pcma, pcmu]");
        const char *why = NULL;
        SdpMedia avp_plain, avp_crypto, savp_crypto, savp_plain, savp_mki, avp_mki, order;
        SdpResult res, res2;

        parse_offer(AVP, &avp_plain);
        parse_offer(AVP "a=crypto:1 " S80 " inline:" K0 "\r\n", &avp_crypto);
        parse_offer(SAVP "a=crypto:1 " S80 " inline:" K0 "\r\na=crypto:2 " S32 " inline:" K1 "\r\n", &savp_crypto);
        parse_offer(SAVP, &savp_plain);
        parse_offer(SAVP "a=crypto:1 " S80 " inline:" K0 "|2^31|1:4\r\n", &savp_mki);
        parse_offer(AVP "a=crypto:1 " S80 " inline:" K0 "|2^31|1:4\r\n", &avp_mki);
        parse_offer(SAVP "a=crypto:5 " S32 " inline:" K1 "\r\na=crypto:7 " S80 " inline:" K0 "\r\n", &order);

        /* off: plain RTP; a=crypto on RTP/AVP ignored; RTP/SAVP refused */
        ASSERT_OK(sdp_answer_offer(&avp_plain, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.local.suite, SDP_SRTP_NONE);
        ASSERT_OK(sdp_answer_offer(&avp_crypto, c, GW_SRTP_OFF, false, NULL, &res, NULL));
        ASSERT_EQ(res.local.suite, SDP_SRTP_NONE);
        ASSERT_FALSE(res.secure);
        ASSERT_ERROR(sdp_answer_offer(&savp_crypto, c, GW_SRTP_OFF, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "SRTP (RTP/SAVP) offered, but SRTP is off here");

        /* optional: SRTP when offered (either profile), plain otherwise */
        ASSERT_OK(sdp_answer_offer(&avp_plain, c, GW_SRTP_OPTIONAL, false, NULL, &res, NULL));
        ASSERT_EQ(res.local.suite, SDP_SRTP_NONE);
        ASSERT_OK(sdp_answer_offer(&avp_mki, c, GW_SRTP_OPTIONAL, false, NULL, &res, NULL));
        ASSERT_EQ(res.local.suite, SDP_SRTP_NONE);               /* nothing usable: plain */
        ASSERT_OK(sdp_answer_offer(&avp_crypto, c, GW_SRTP_OPTIONAL, false, NULL, &res, NULL));
        ASSERT_FALSE(res.secure);                                /* answered in the offer's profile */
        ASSERT_EQ(res.local.suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        ASSERT_EQ(res.local.tag, 1);
        key_is(res.remote_key, 0);
        ASSERT_FALSE(key_zero(res.local.key));
        ASSERT_TRUE(memcmp(res.local.key, res.remote_key, SDP_KEY_SALT_LEN) != 0);
        ASSERT_OK(sdp_answer_offer(&savp_crypto, c, GW_SRTP_OPTIONAL, false, NULL, &res2, NULL));
        ASSERT_TRUE(res2.secure);
        ASSERT_EQ(res2.local.tag, 1);
        ASSERT_TRUE(memcmp(res.local.key, res2.local.key, SDP_KEY_SALT_LEN) != 0);   /* fresh per call */
        ASSERT_ERROR(sdp_answer_offer(&savp_plain, c, GW_SRTP_OPTIONAL, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "RTP/SAVP without a=crypto");
        ASSERT_ERROR(sdp_answer_offer(&savp_mki, c, GW_SRTP_OPTIONAL, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "a=crypto with an MKI is not supported");

        /* mandatory: SRTP or nothing; RTP/AVP with a usable a=crypto is SRTP too */
        ASSERT_ERROR(sdp_answer_offer(&avp_plain, c, GW_SRTP_MANDATORY, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "SRTP is required: the offer has no a=crypto");
        ASSERT_ERROR(sdp_answer_offer(&avp_mki, c, GW_SRTP_MANDATORY, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "a=crypto with an MKI is not supported");
        ASSERT_ERROR(sdp_answer_offer(&savp_plain, c, GW_SRTP_MANDATORY, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "RTP/SAVP without a=crypto");
        ASSERT_OK(sdp_answer_offer(&avp_crypto, c, GW_SRTP_MANDATORY, false, NULL, &res, NULL));
        ASSERT_EQ(res.local.suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        ASSERT_FALSE(res.secure);
        ASSERT_OK(sdp_answer_offer(&savp_crypto, c, GW_SRTP_MANDATORY, false, NULL, &res, NULL));
        ASSERT_TRUE(res.secure);

        /* The offer's order decides, not ours. */
        ASSERT_OK(sdp_answer_offer(&order, c, GW_SRTP_MANDATORY, false, NULL, &res, NULL));
        ASSERT_EQ(res.local.tag, 5);
        ASSERT_EQ(res.local.suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
        key_is(res.remote_key, 100);

        /* A codec failure is still a codec failure. */
        parse_offer(SAVP_NO_CODEC, &avp_plain);
        ASSERT_ERROR(sdp_answer_offer(&avp_plain, c, GW_SRTP_MANDATORY, false, NULL, &res, &why), EPROTO);
        ASSERT_STREQ(why, "no common codec (PCMU, PCMA)");
        sdp_result_wipe(&res);
        sdp_result_wipe(&res2);
        gw_conf_free(c);
}

TEST(reoffer_keeps_our_key_unless_the_crypto_changes) {
        GwConf *c = conf_with("[pcmu]");
        SdpMedia m;
        SdpResult first, again, res;

        parse_offer(SAVP "a=crypto:1 " S80 " inline:" K0 "\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_MANDATORY, false, NULL, &first, NULL));
        /* the same line again (hold, resume, a new address): our key stays (RFC 4568 §7.1.4) */
        parse_offer(SAVP "a=crypto:1 " S80 " inline:" K0 "\r\na=sendonly\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_MANDATORY, false, &first, &again, NULL));
        ASSERT_EQ(again.direction, SDP_RECVONLY);
        ASSERT_TRUE(memcmp(again.local.key, first.local.key, SDP_KEY_SALT_LEN) == 0);
        /* a new key of theirs: a new one of ours too (no keystream of ours restarts under an old key) */
        parse_offer(SAVP "a=crypto:1 " S80 " inline:" K1 "\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_MANDATORY, false, &first, &res, NULL));
        key_is(res.remote_key, 100);
        ASSERT_TRUE(memcmp(res.local.key, first.local.key, SDP_KEY_SALT_LEN) != 0);
        /* another suite or tag with the same key: new too */
        parse_offer(SAVP "a=crypto:1 " S32 " inline:" K0 "\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_MANDATORY, false, &first, &res, NULL));
        ASSERT_TRUE(memcmp(res.local.key, first.local.key, SDP_KEY_SALT_LEN) != 0);
        parse_offer(SAVP "a=crypto:2 " S80 " inline:" K0 "\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_MANDATORY, false, &first, &res, NULL));
        ASSERT_TRUE(memcmp(res.local.key, first.local.key, SDP_KEY_SALT_LEN) != 0);
        /* optional: a re-offer without crypto goes plain */
        parse_offer(AVP, &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OPTIONAL, false, &first, &res, NULL));
        ASSERT_EQ(res.local.suite, SDP_SRTP_NONE);
        sdp_result_wipe(&first);
        sdp_result_wipe(&again);
        sdp_result_wipe(&res);
        gw_conf_free(c);
}

TEST(our_offer_and_its_answer) {
        GwConf *c = conf_with("[pcma, pcmu]");
        SdpCrypto offered[SDP_OFFER_CRYPTO];
        SdpMedia m;
        SdpResult res;
        const char *why = NULL;

        ASSERT_EQ(sdp_offer_crypto(GW_SRTP_OFF, offered), 0);
        ASSERT_EQ(sdp_offer_crypto(GW_SRTP_OPTIONAL, offered), 2);
        ASSERT_EQ(offered[0].tag, 1);
        ASSERT_EQ(offered[0].suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
        ASSERT_EQ(offered[1].tag, 2);
        ASSERT_EQ(offered[1].suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
        ASSERT_FALSE(key_zero(offered[0].key));
        ASSERT_TRUE(memcmp(offered[0].key, offered[1].key, SDP_KEY_SALT_LEN) != 0);   /* a key per line */

        /* the answer picks our tag 2 with its own key */
        parse_ok(AVP "a=crypto:2 " S32 " inline:" K1 "\r\n", &m);
        ASSERT_OK(sdp_accept_answer(&m, c, GW_SRTP_OPTIONAL, offered, 2, &res, NULL));
        ASSERT_EQ(res.local.tag, 2);
        ASSERT_EQ(res.local.suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
        ASSERT_TRUE(memcmp(res.local.key, offered[1].key, SDP_KEY_SALT_LEN) == 0);
        key_is(res.remote_key, 100);
        ASSERT_OK(sdp_accept_answer(&m, c, GW_SRTP_MANDATORY, offered, 2, &res, NULL));
        ASSERT_EQ(res.local.tag, 2);

        /* tag and suite must be one of our lines */
        parse_ok(AVP "a=crypto:1 " S32 " inline:" K1 "\r\n", &m);
        ASSERT_ERROR(sdp_accept_answer(&m, c, GW_SRTP_OPTIONAL, offered, 2, &res, &why), EPROTO);
        ASSERT_STREQ(why, "the answer's a=crypto matches no line of our offer (tag and suite)");
        parse_ok(SAVP "a=crypto:3 " S80 " inline:" K1 "\r\n", &m);
        ASSERT_ERROR(sdp_accept_answer(&m, c, GW_SRTP_MANDATORY, offered, 2, &res, &why), EPROTO);
        /* a broken a=crypto in the answer is not plain RTP either */
        parse_ok(AVP "a=crypto:1 " S80 " inline:" K1 "|1:4\r\n", &m);
        ASSERT_ERROR(sdp_accept_answer(&m, c, GW_SRTP_OPTIONAL, offered, 2, &res, &why), EPROTO);
        ASSERT_STREQ(why, "a=crypto with an MKI is not supported");
        parse_ok(SAVP, &m);
        ASSERT_ERROR(sdp_accept_answer(&m, c, GW_SRTP_OPTIONAL, offered, 2, &res, &why), EPROTO);
        ASSERT_STREQ(why, "RTP/SAVP answer without a=crypto");

        /* no a=crypto at all: plain when optional, the end of the call when mandatory */
        parse_ok(AVP, &m);
        ASSERT_OK(sdp_accept_answer(&m, c, GW_SRTP_OPTIONAL, offered, 2, &res, NULL));
        ASSERT_EQ(res.local.suite, SDP_SRTP_NONE);
        ASSERT_ERROR(sdp_accept_answer(&m, c, GW_SRTP_MANDATORY, offered, 2, &res, &why), EPROTO);
        ASSERT_STREQ(why, "SRTP is required: the answer has no a=crypto");

        /* we offered plain RTP */
        parse_ok(AVP "a=crypto:1 " S80 " inline:" K1 "\r\n", &m);
        ASSERT_OK(sdp_accept_answer(&m, c, GW_SRTP_OFF, NULL, 0, &res, NULL));
        ASSERT_EQ(res.local.suite, SDP_SRTP_NONE);
        parse_ok(SAVP "a=crypto:1 " S80 " inline:" K1 "\r\n", &m);
        ASSERT_ERROR(sdp_accept_answer(&m, c, GW_SRTP_OFF, NULL, 0, &res, &why), EPROTO);
        ASSERT_STREQ(why, "RTP/SAVP answer to a plain RTP offer");
        explicit_bzero(offered, sizeof offered);
        sdp_result_wipe(&res);
        gw_conf_free(c);
}

TEST(built_srtp_offer_and_answer_parse_back) {
        GwConf *c = conf_with("[pcmu, pcma]");
        SdpLocal l = { .addr = "127.0.0.1", .family = AF_INET, .port = 20000, .sess_id = 77, .sess_version = 1 };
        SdpCrypto offered[SDP_OFFER_CRYPTO];
        _cleanup_(sdp_text_freep) char *text = NULL;
        SdpMedia m;
        SdpResult res;

        ASSERT_EQ(sdp_offer_crypto(GW_SRTP_OPTIONAL, offered), 2);
        sdp_local_offer(&l, c, GW_SRTP_OPTIONAL, offered, 2);
        ASSERT_OK(sdp_build(&l, &text));
        ASSERT_TRUE(strstr(text, "m=audio 20000 RTP/AVP 0 8 101\r\n") != NULL);   /* best effort: AVP */
        ASSERT_TRUE(strstr(text, "\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") != NULL);
        ASSERT_TRUE(strstr(text, "\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:") != NULL);
        parse_ok(text, &m);
        ASSERT_EQ(m.n_crypto, 2);
        ASSERT_TRUE(memcmp(m.crypto[0].key, offered[0].key, SDP_KEY_SALT_LEN) == 0);   /* base64 round trip */
        ASSERT_TRUE(memcmp(m.crypto[1].key, offered[1].key, SDP_KEY_SALT_LEN) == 0);
        text = sdp_text_free(text);

        sdp_local_offer(&l, c, GW_SRTP_MANDATORY, offered, 2);
        ASSERT_OK(sdp_build(&l, &text));
        ASSERT_TRUE(strstr(text, "m=audio 20000 RTP/SAVP 0 8 101\r\n") != NULL);
        text = sdp_text_free(text);
        sdp_local_offer(&l, c, GW_SRTP_OFF, offered, 2);
        ASSERT_OK(sdp_build(&l, &text));
        ASSERT_TRUE(strstr(text, "RTP/AVP") != NULL && strstr(text, "a=crypto") == NULL);
        text = sdp_text_free(text);

        /* Our answer to a SAVP offer: one line, their tag and suite, our key. */
        parse_ok(SAVP "a=crypto:9 " S32 " inline:" K0 "\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, GW_SRTP_OPTIONAL, false, NULL, &res, NULL));
        sdp_local_answer(&l, &res);
        ASSERT_OK(sdp_build(&l, &text));
        ASSERT_TRUE(strstr(text, "m=audio 20000 RTP/SAVP 0 101\r\n") == NULL);    /* the offer had no events */
        ASSERT_TRUE(strstr(text, "m=audio 20000 RTP/SAVP 0\r\n") != NULL);
        ASSERT_TRUE(strstr(text, "a=crypto:9 AES_CM_128_HMAC_SHA1_32 inline:") != NULL);
        ASSERT_TRUE(strstr(text, K0) == NULL);                                     /* never their key */
        parse_ok(text, &m);
        ASSERT_EQ(m.n_crypto, 1);
        ASSERT_TRUE(memcmp(m.crypto[0].key, res.local.key, SDP_KEY_SALT_LEN) == 0);
        sdp_media_wipe(&m);
        sdp_result_wipe(&res);
        explicit_bzero(offered, sizeof offered);
        gw_conf_free(c);
}

static uint32_t rnd(uint32_t *seed) {
        *seed = *seed * 1103515245u + 12345u;
        return (*seed >> 16) & 0x7fff;
}

/* Untrusted input: every prefix of a good line, random printable garbage and
 * single-character mutations must neither crash nor yield a key of the wrong length. */
TEST(crypto_fuzz) {
        static const char good[] = "1 " S80 " inline:" K0 "|2^31 WSH=128";
        static const char chars[] = "0123456789|:;^=+/- \tAZaz_WSHinline";
        uint32_t seed = 12345;
        char value[256], sdp[1024];
        SdpMedia m;

        for (size_t n = 1; n <= strlen(good); n++) {
                snprintf(sdp, sizeof sdp, SAVP "a=crypto:%.*s\r\n", (int) n, good);
                parse_ok(sdp, &m);
                ASSERT_TRUE(m.n_crypto <= 1);
                ASSERT_EQ(m.n_crypto_lines, 1);
                /* the lifetime cut short may still be a valid one ("2^3" is not) */
                if (n == strlen(good) || n == strlen(good) - strlen(" WSH=128") || n == strlen("1 " S80 " inline:" K0))
                        ASSERT_EQ(m.n_crypto, 1);
        }
        for (unsigned i = 0; i < 20000; i++) {
                size_t n = rnd(&seed) % 120;
                if (i % 2 == 0) {
                        for (size_t j = 0; j < n; j++)
                                value[j] = chars[rnd(&seed) % (sizeof chars - 1)];
                        value[n] = 0;
                } else {
                        snprintf(value, sizeof value, "%s", good);
                        for (unsigned k = 0, flips = 1 + rnd(&seed) % 3; k < flips; k++) {
                                size_t at = rnd(&seed) % strlen(good);
                                value[at] = chars[rnd(&seed) % (sizeof chars - 1)];
                        }
                }
                snprintf(sdp, sizeof sdp, SAVP "a=crypto:%s\r\na=crypto:%s\r\n", value, value);
                if (sdp_parse(sdp, &m, NULL) < 0)
                        continue;                 /* libosip2 refused the line: fine too */
                ASSERT_TRUE(m.n_crypto <= 1);     /* the same tag twice at most once */
                ASSERT_TRUE(m.n_crypto == 1 || m.crypto_error != NULL);
        }
}
