/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-digit-log.c: numbered recent digits (gw-digit-log.h). */
#include "gw-digit-log.h"
#include "gw-test.h"

DEFINE_TEST_MAIN

#define SEC UINT64_C(1000000)

TEST(numbered_and_recent) {
        GwDigitLogLine l = {};
        GwDigitLogEntry e[GW_DIGIT_LOG_KEEP];

        ASSERT_EQ(gw_digit_log_recent(&l, 100 * SEC, e), 0);
        ASSERT_EQ(gw_digit_log_add(&l, '2', 80, 100 * SEC), 1);
        ASSERT_EQ(gw_digit_log_add(&l, '0', 80, 101 * SEC), 2);
        ASSERT_EQ(gw_digit_log_recent(&l, 102 * SEC, e), 2);
        ASSERT_EQ(e[0].seq, 1);
        ASSERT_EQ(e[0].digit, '2');
        ASSERT_EQ(e[1].seq, 2);
        ASSERT_EQ(e[1].digit, '0');
        /* older than 10 s: not sent again */
        ASSERT_EQ(gw_digit_log_recent(&l, 110 * SEC + 1, e), 1);
        ASSERT_EQ(e[0].seq, 2);
        ASSERT_EQ(gw_digit_log_recent(&l, 200 * SEC, e), 0);
}

TEST(keeps_the_last_ones) {
        GwDigitLogLine l = {};
        GwDigitLogEntry e[GW_DIGIT_LOG_KEEP];
        size_t n;

        for (unsigned i = 0; i < 40; i++)
                ASSERT_EQ(gw_digit_log_add(&l, (char) ('0' + i % 10), 60, SEC + i), i + 1);
        n = gw_digit_log_recent(&l, 2 * SEC, e);
        ASSERT_EQ(n, GW_DIGIT_LOG_KEEP);
        ASSERT_EQ(e[0].seq, 40 - GW_DIGIT_LOG_KEEP + 1);
        ASSERT_EQ(e[n - 1].seq, 40);
        ASSERT_EQ(e[n - 1].digit, '9');
        /* a clock that went back (another boot's numbers): nothing */
        ASSERT_EQ(gw_digit_log_recent(&l, 0, e), 0);
}
