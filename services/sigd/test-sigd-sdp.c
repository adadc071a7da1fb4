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
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
        ASSERT_EQ(res.codec, GW_CODEC_PCMA);    /* ours first, not the offer's */
        ASSERT_EQ(res.pt, 8);
        ASSERT_EQ(res.telephone_event_pt, 101);
        ASSERT_EQ(res.direction, SDP_SENDRECV);
        ASSERT_EQ(res.remote_port, 30000);
        gw_conf_free(c);

        c = conf_with("[pcmu]");
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
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
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
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
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
        ASSERT_EQ(res.direction, SDP_RECVONLY);             /* held by the far end */

        parse_ok(HEAD "m=audio 4000 RTP/AVP 8\r\na=inactive\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
        ASSERT_EQ(res.direction, SDP_INACTIVE);

        parse_ok(HEAD "a=recvonly\r\nm=audio 4000 RTP/AVP 8\r\n", &m);   /* session level */
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
        ASSERT_EQ(res.direction, SDP_SENDONLY);

        parse_ok(HEAD "a=recvonly\r\nm=audio 4000 RTP/AVP 8\r\na=sendrecv\r\n", &m);   /* media overrides */
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
        ASSERT_EQ(res.direction, SDP_SENDRECV);

        /* resume to a new address and port */
        parse_ok("v=0\r\no=- 1 3 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 5002 RTP/AVP 8\r\nc=IN IP4 192.0.2.9\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
        ASSERT_EQ(res.direction, SDP_SENDRECV);
        ASSERT_STREQ(res.remote_addr, "192.0.2.9");
        ASSERT_EQ(res.remote_port, 5002);
        ASSERT_EQ(m.sess_version, 3);

        /* RFC 2543 hold */
        parse_ok("v=0\r\no=- 1 4 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5002 RTP/AVP 8\r\n", &m);
        ASSERT_OK(sdp_answer_offer(&m, c, false, &res, NULL));
        ASSERT_EQ(res.direction, SDP_RECVONLY);
        gw_conf_free(c);
}

TEST(answer_to_our_offer) {
        GwConf *c = conf_with("[pcma, pcmu]");
        SdpMedia m;
        SdpResult res;
        const char *why = NULL;

        parse_ok(HEAD "m=audio 6000 RTP/AVP 0\r\n", &m);
        ASSERT_OK(sdp_accept_answer(&m, c, &res, NULL));
        ASSERT_EQ(res.codec, GW_CODEC_PCMU);
        ASSERT_EQ(res.telephone_event_pt, -1);  /* not kept by the answer: no events */

        parse_ok(HEAD "m=audio 0 RTP/AVP 0\r\n", &m);
        ASSERT_ERROR(sdp_accept_answer(&m, c, &res, &why), EPROTO);
        ASSERT_STREQ(why, "the audio stream is refused (port 0)");
        gw_conf_free(c);
}

TEST(not_acceptable) {
        GwConf *c = conf_with("[pcma, pcmu]");
        SdpMedia m;
        SdpResult res;
        const char *why = NULL;

        parse_ok(HEAD "m=audio 4000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n", &m);
        ASSERT_ERROR(sdp_answer_offer(&m, c, false, &res, &why), EPROTO);
        ASSERT_STREQ(why, "no common codec (PCMU, PCMA)");
        parse_ok(HEAD "m=audio 4000 RTP/SAVP 8\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n", &m);
        ASSERT_TRUE(m.secure);
        ASSERT_ERROR(sdp_answer_offer(&m, c, false, &res, &why), EPROTO);
        ASSERT_STREQ(why, "SRTP (RTP/SAVP) is not supported");
        parse_ok(HEAD "m=audio 4000 RTP/AVP 8\r\na=ptime:25\r\n", &m);
        ASSERT_ERROR(sdp_answer_offer(&m, c, false, &res, &why), EPROTO);
        parse_ok(HEAD "m=video 5000 RTP/AVP 31\r\nm=audio 0 RTP/AVP 8\r\n", &m);
        ASSERT_ERROR(sdp_answer_offer(&m, c, false, &res, &why), EPROTO);
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
        _cleanup_free_ char *text = NULL;
        SdpMedia m;
        SdpResult res;

        sdp_local_offer(&l, c);
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
        ASSERT_OK(sdp_answer_offer(&m, c, true, &res, NULL));
        ASSERT_EQ(res.direction, SDP_SENDONLY); /* we hold */
        free(text);
        text = NULL;
        sdp_local_answer(&l, &res);
        ASSERT_OK(sdp_build(&l, &text));
        ASSERT_TRUE(strstr(text, "m=audio 20000 RTP/AVP 0 101\r\n") != NULL);
        ASSERT_TRUE(strstr(text, "a=sendonly\r\n") != NULL);
        parse_ok(text, &m);
        ASSERT_EQ(m.direction, SDP_SENDONLY);
        gw_conf_free(c);
}
