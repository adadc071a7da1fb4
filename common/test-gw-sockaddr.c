/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-sockaddr.c: parse, format, compare and port of IPv4/IPv6 socket addresses. */
#include <arpa/inet.h>
#include <errno.h>

#include "gw-sockaddr.h"
#include "gw-tests.h"

#define SA(ss) ((const struct sockaddr *) &(ss))

TEST(sockaddr_parse_round_trip) {
        static const char *ok[] = { "127.0.0.1:5060", "192.0.2.7:1", "[::1]:65535", "[2001:db8::5]:5062" };
        struct sockaddr_storage ss;
        char buf[GW_SOCKADDR_STRLEN];
        socklen_t len;

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                ASSERT_OK(gw_sockaddr_parse(ok[i], &ss, &len));
                ASSERT_EQ(len, gw_sockaddr_len(&ss));
                ASSERT_OK(gw_sockaddr_to_string(SA(ss), buf, sizeof(buf)));
                ASSERT_STREQ(buf, ok[i]);
        }
        ASSERT_OK(gw_sockaddr_parse("[::1]:7", &ss, NULL));
        ASSERT_EQ(ss.ss_family, AF_INET6);
        ASSERT_EQ(gw_sockaddr_port(SA(ss)), 7);
        ASSERT_EQ(gw_sockaddr_len(&ss), sizeof(struct sockaddr_in6));
}

TEST(sockaddr_parse_refuses) {
        static const char *bad[] = {
                "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:5x",
                "127.0.0.1:+5", "127.0.0.1: 5", "::1:5060", "[::1]", "[::1]5060", "[127.0.0.1]:5060",
                "example.net:5060", "[example]:5060", "1.2.3:5060",
                "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:5",
        };
        struct sockaddr_storage ss = { .ss_family = AF_UNIX };
        socklen_t len = 99;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ASSERT_ERROR(gw_sockaddr_parse(bad[i], &ss, &len), EINVAL);
                ASSERT_EQ(ss.ss_family, AF_UNIX);   /* untouched on failure */
                ASSERT_EQ(len, 99);
        }
        ASSERT_ERROR(gw_sockaddr_parse(NULL, &ss, &len), EINVAL);
}

TEST(sockaddr_from_ip_and_port) {
        struct sockaddr_storage ss;
        char buf[GW_SOCKADDR_STRLEN];

        ASSERT_OK(gw_sockaddr_from_ip("192.0.2.1", 5060, &ss));
        ASSERT_EQ(ss.ss_family, AF_INET);
        ASSERT_EQ(gw_sockaddr_port(SA(ss)), 5060);
        gw_sockaddr_set_port(&ss, 40000);
        ASSERT_OK(gw_sockaddr_to_string(SA(ss), buf, sizeof(buf)));
        ASSERT_STREQ(buf, "192.0.2.1:40000");
        ASSERT_OK(gw_sockaddr_ip_to_string(SA(ss), buf, sizeof(buf)));
        ASSERT_STREQ(buf, "192.0.2.1");

        ASSERT_OK(gw_sockaddr_from_ip("2001:db8::1", 0, &ss));
        ASSERT_EQ(ss.ss_family, AF_INET6);
        ASSERT_EQ(gw_sockaddr_port(SA(ss)), 0);
        ASSERT_OK(gw_sockaddr_ip_to_string(SA(ss), buf, sizeof(buf)));
        ASSERT_STREQ(buf, "2001:db8::1");

        ASSERT_ERROR(gw_sockaddr_from_ip("[::1]", 1, &ss), EINVAL);
        ASSERT_ERROR(gw_sockaddr_from_ip("host", 1, &ss), EINVAL);
        ASSERT_ERROR(gw_sockaddr_from_ip(NULL, 1, &ss), EINVAL);
        ASSERT_EQ(ss.ss_family, AF_INET6);   /* untouched on failure */
}

TEST(sockaddr_other_family) {
        struct sockaddr_storage ss = { .ss_family = AF_UNSPEC };
        char buf[GW_SOCKADDR_STRLEN];

        ASSERT_EQ(gw_sockaddr_len(&ss), 0);
        ASSERT_EQ(gw_sockaddr_port(SA(ss)), 0);
        gw_sockaddr_set_port(&ss, 5);
        ASSERT_EQ(gw_sockaddr_port(SA(ss)), 0);
        ASSERT_ERROR(gw_sockaddr_to_string(SA(ss), buf, sizeof(buf)), EAFNOSUPPORT);
        ASSERT_ERROR(gw_sockaddr_ip_to_string(SA(ss), buf, sizeof(buf)), EAFNOSUPPORT);
        ASSERT_FALSE(gw_sockaddr_equal(SA(ss), sizeof(ss), SA(ss), sizeof(ss)));
        ASSERT_FALSE(gw_sockaddr_same_ip(SA(ss), SA(ss)));
}

TEST(sockaddr_to_string_short_buffer) {
        struct sockaddr_storage ss;
        char buf[10];

        ASSERT_OK(gw_sockaddr_parse("192.0.2.100:5060", &ss, NULL));
        ASSERT_ERROR(gw_sockaddr_to_string(SA(ss), buf, sizeof(buf)), ENOBUFS);
        ASSERT_ERROR(gw_sockaddr_ip_to_string(SA(ss), buf, 4), ENOBUFS);
}

TEST(sockaddr_compare) {
        struct sockaddr_storage a, b, c, d, e;

        ASSERT_OK(gw_sockaddr_parse("192.0.2.1:5060", &a, NULL));
        ASSERT_OK(gw_sockaddr_parse("192.0.2.1:5060", &b, NULL));
        ASSERT_OK(gw_sockaddr_parse("192.0.2.1:5062", &c, NULL));
        ASSERT_OK(gw_sockaddr_parse("[::ffff:192.0.2.1]:5060", &d, NULL));
        ASSERT_OK(gw_sockaddr_parse("[::1]:5060", &e, NULL));

        ASSERT_TRUE(gw_sockaddr_equal(SA(a), sizeof(struct sockaddr_in), SA(b), sizeof(struct sockaddr_in)));
        ASSERT_FALSE(gw_sockaddr_equal(SA(a), sizeof(struct sockaddr_in), SA(b), 4));   /* too short */
        ASSERT_FALSE(gw_sockaddr_equal(SA(a), sizeof(a), SA(c), sizeof(c)));
        ASSERT_FALSE(gw_sockaddr_equal(SA(a), sizeof(a), SA(d), sizeof(d)));   /* other family */
        ASSERT_FALSE(gw_sockaddr_equal(NULL, 0, SA(a), sizeof(a)));
        ASSERT_TRUE(gw_sockaddr_equal(SA(e), sizeof(e), SA(e), sizeof(e)));
        ASSERT_FALSE(gw_sockaddr_equal(SA(e), sizeof(struct sockaddr_in), SA(e), sizeof(e)));

        ASSERT_TRUE(gw_sockaddr_same_ip(SA(a), SA(c)));   /* ports aside */
        ASSERT_FALSE(gw_sockaddr_same_ip(SA(a), SA(d)));
        ASSERT_FALSE(gw_sockaddr_same_ip(SA(d), SA(e)));
}

DEFINE_TEST_MAIN
