/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-line.c: back-off and refresh bounds, classification of REGISTER outcomes. */
#include <stdio.h>

#include "gw-tests.h"
#include "regd-line.h"
#include "test-regd-util.h"

DEFINE_TEST_MAIN

static double uniform(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return (double) (*s >> 11) / (double) (UINT64_C(1) << 53);
}

TEST(regd_backoff_bounds) {
        const uint64_t base = 30 * USEC_PER_SEC, max = 1800 * USEC_PER_SEC;
        uint64_t seed = 88172645463325252ULL;

        for (unsigned failures = 1; failures <= 40; failures++) {
                uint64_t w = base, lo = UINT64_MAX, hi = 0;

                for (unsigned i = 1; i < failures && w < max; i++)
                        w = MIN(w * 2, max);

                for (unsigned i = 0; i < 20000; i++) {
                        uint64_t d = regd_backoff_usec(base, max, failures, uniform(&seed));

                        ASSERT_TRUE(d >= w / 2);
                        ASSERT_TRUE(d <= w);
                        lo = MIN(lo, d);
                        hi = MAX(hi, d);
                }
                /* The draws cover the whole 50–100 % range. */
                ASSERT_TRUE(lo < w / 2 + w / 50);
                ASSERT_TRUE(hi > w - w / 50);
        }

        /* Doubling per consecutive failure, then the cap. */
        ASSERT_EQ(regd_backoff_usec(base, max, 1, 1.0), base);
        ASSERT_EQ(regd_backoff_usec(base, max, 2, 1.0), 2 * base);
        ASSERT_EQ(regd_backoff_usec(base, max, 3, 1.0), 4 * base);
        ASSERT_EQ(regd_backoff_usec(base, max, 7, 1.0), max);
        ASSERT_EQ(regd_backoff_usec(base, max, 1000000, 1.0), max);
        ASSERT_EQ(regd_backoff_usec(base, max, 1, 0.0), base / 2);
        /* Nonsense configuration: max below base means base. */
        ASSERT_EQ(regd_backoff_usec(base, base / 4, 5, 1.0), base);
        /* Out-of-range random numbers are clamped. */
        ASSERT_EQ(regd_backoff_usec(base, max, 1, 7.0), base);
        ASSERT_EQ(regd_backoff_usec(base, max, 1, -1.0), base / 2);
}

TEST(regd_refresh_bounds) {
        uint64_t seed = 0x1234567887654321ULL;
        const uint64_t grants[] = { 1, 60 * USEC_PER_SEC, 600 * USEC_PER_SEC, 3600 * USEC_PER_SEC, 86400 * USEC_PER_SEC };

        for (size_t g = 0; g < ELEMENTSOF(grants); g++) {
                uint64_t lo = UINT64_MAX, hi = 0;

                for (unsigned i = 0; i < 20000; i++) {
                        uint64_t d = regd_refresh_usec(grants[g], uniform(&seed));

                        ASSERT_TRUE((double) d >= (double) grants[g] * 0.45 - 1);
                        ASSERT_TRUE((double) d <= (double) grants[g] * 0.55);
                        lo = MIN(lo, d);
                        hi = MAX(hi, d);
                }
                if (grants[g] >= USEC_PER_SEC) {
                        ASSERT_TRUE((double) lo < (double) grants[g] * 0.46);
                        ASSERT_TRUE((double) hi > (double) grants[g] * 0.54);
                }
        }
        ASSERT_EQ(regd_refresh_usec(3600 * USEC_PER_SEC, 0.0), 1620 * USEC_PER_SEC);
        ASSERT_EQ(regd_refresh_usec(3600 * USEC_PER_SEC, 1.0), 1980 * USEC_PER_SEC);
}

typedef struct ClassRow {
        Gw__SipOutcomeKind kind;
        unsigned code;
        bool provisional;
        int32_t min_expires;
        LineAction action;
        const char *reason;
        GwVerdict verdict;
} ClassRow;

#define R GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE

TEST(regd_outcome_classification) {
        static const ClassRow rows[] = {
                { R, 200, false, 0, LINE_ACTION_REGISTERED, "", GW_VERDICT_ALIVE },
                { R, 202, false, 0, LINE_ACTION_REGISTERED, "", GW_VERDICT_ALIVE },
                { R, 423, false, 600, LINE_ACTION_RETRY_NOW, "423", GW_VERDICT_ALIVE },
                { R, 423, false, 0, LINE_ACTION_BACKOFF, "423", GW_VERDICT_ALIVE },
                { R, 403, false, 0, LINE_ACTION_FORBIDDEN, "403", GW_VERDICT_ALIVE },
                { R, 401, false, 0, LINE_ACTION_BACKOFF, "auth", GW_VERDICT_ALIVE },
                { R, 407, false, 0, LINE_ACTION_BACKOFF, "auth", GW_VERDICT_ALIVE },
                { R, 404, false, 0, LINE_ACTION_BACKOFF, "404", GW_VERDICT_ALIVE },
                { R, 500, false, 0, LINE_ACTION_BACKOFF, "500", GW_VERDICT_ALIVE },
                { R, 408, false, 0, LINE_ACTION_BACKOFF, "408", GW_VERDICT_FAILED },
                { R, 408, true, 0, LINE_ACTION_BACKOFF, "408", GW_VERDICT_FAILED },
                { R, 503, false, 0, LINE_ACTION_BACKOFF, "503", GW_VERDICT_FAILED },
                { R, 603, false, 0, LINE_ACTION_BACKOFF, "603", GW_VERDICT_ALIVE },
                { GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, 0, false, 0, LINE_ACTION_BACKOFF, "timeout", GW_VERDICT_FAILED },
                { GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, 0, true, 0, LINE_ACTION_BACKOFF, "timeout", GW_VERDICT_ALIVE },
                { GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT, 0, false, 0, LINE_ACTION_BACKOFF, "transport", GW_VERDICT_FAILED },
                { GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, 0, false, 0, LINE_ACTION_BACKOFF, "auth", GW_VERDICT_ALIVE },
                { GW__SIP_OUTCOME_KIND__OUTCOME_NO_CREDENTIALS, 0, false, 0, LINE_ACTION_BACKOFF, "auth", GW_VERDICT_ALIVE },
                { GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST, 0, false, 0, LINE_ACTION_BACKOFF, "bad-request", GW_VERDICT_NONE },
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                Gw__SipRequestOutcome o = GW__SIP_REQUEST_OUTCOME__INIT;
                LineVerdict v;

                o.kind = rows[i].kind;
                if (rows[i].code) {
                        o.has_status_code = true;
                        o.status_code = rows[i].code;
                }
                o.has_got_provisional = true;
                o.got_provisional = rows[i].provisional;
                if (rows[i].min_expires) {
                        o.has_min_expires_s = true;
                        o.min_expires_s = rows[i].min_expires;
                }
                line_classify_outcome(&o, &v);
                fprintf(stderr, "  row %zu: kind %d code %u -> %d '%s' / %s\n", i, o.kind, rows[i].code,
                        v.action, v.reason, gw_verdict_to_string(policy_classify_sip(&o, REQUEST_NORMAL)));
                ASSERT_EQ(v.action, rows[i].action);
                ASSERT_STREQ(v.reason, rows[i].reason);
                ASSERT_EQ(policy_classify_sip(&o, REQUEST_NORMAL), rows[i].verdict);
        }
}

TEST(regd_line_state_strings) {
        for (LineState s = 0; s < _LINE_STATE_MAX; s++) {
                ASSERT_NOT_NULL(line_state_to_string(s));
                ASSERT_EQ(line_state_from_string(line_state_to_string(s)), s);
                ASSERT_EQ(line_state_from_proto(line_state_to_proto(s)), s);
        }
        ASSERT_EQ(line_state_from_string("bogus"), _LINE_STATE_INVALID);
        ASSERT_TRUE(line_state_to_string(_LINE_STATE_MAX) == NULL);
}
