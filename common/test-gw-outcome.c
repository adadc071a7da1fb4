/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-outcome.c: the one classification of a request's outcome for its
 * entry, every kind of outcome, with and without the INVITE rule. sigd's call
 * failover and regd's policy both use it. */
#include "gw-outcome.h"
#include "gw-tests.h"

#define RESP GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE
#define TMO GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT
#define TRANSPORT GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT
#define AUTH GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED
#define NOCRED GW__SIP_OUTCOME_KIND__OUTCOME_NO_CREDENTIALS
#define BAD GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST

TEST(outcome_classify_table) {
        static const struct {
                Gw__SipOutcomeKind kind;
                unsigned code;
                bool provisional, r18x;
                GwVerdict request, invite;       /* REGISTER/OPTIONS; a call's INVITE */
        } rows[] = {
                { RESP, 200, false, false, GW_VERDICT_ALIVE, GW_VERDICT_ALIVE },
                { RESP, 100, false, false, GW_VERDICT_ALIVE, GW_VERDICT_ALIVE },
                { RESP, 180, true, true, GW_VERDICT_ALIVE, GW_VERDICT_ALIVE },
                { RESP, 404, false, false, GW_VERDICT_ALIVE, GW_VERDICT_ALIVE },
                { RESP, 486, true, true, GW_VERDICT_ALIVE, GW_VERDICT_NONE },      /* the callee's */
                { RESP, 408, false, false, GW_VERDICT_FAILED, GW_VERDICT_FAILED },
                { RESP, 408, true, false, GW_VERDICT_FAILED, GW_VERDICT_NONE },    /* rang out */
                { RESP, 503, false, false, GW_VERDICT_FAILED, GW_VERDICT_FAILED },
                { RESP, 503, true, false, GW_VERDICT_FAILED, GW_VERDICT_FAILED },  /* after a 100 only */
                { RESP, 503, true, true, GW_VERDICT_FAILED, GW_VERDICT_NONE },     /* after an 18x */
                { TMO, 0, false, false, GW_VERDICT_FAILED, GW_VERDICT_FAILED },
                { TMO, 0, true, false, GW_VERDICT_ALIVE, GW_VERDICT_ALIVE },
                { TRANSPORT, 0, false, false, GW_VERDICT_FAILED, GW_VERDICT_FAILED },
                { AUTH, 0, false, false, GW_VERDICT_ALIVE, GW_VERDICT_ALIVE },
                { NOCRED, 0, false, false, GW_VERDICT_ALIVE, GW_VERDICT_ALIVE },
                { BAD, 0, false, false, GW_VERDICT_NONE, GW_VERDICT_NONE },
        };

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                GwOutcome o = { .kind = rows[i].kind, .status_code = rows[i].code,
                                .got_provisional = rows[i].provisional, .got_18x = rows[i].r18x };

                ASSERT_EQ(gw_outcome_classify(&o, false), rows[i].request);
                ASSERT_EQ(gw_outcome_classify(&o, true), rows[i].invite);
        }
}

TEST(outcome_from_messages) {
        Gw__SipRequestOutcome so = GW__SIP_REQUEST_OUTCOME__INIT;
        Gw__EntryReport er = GW__ENTRY_REPORT__INIT;
        GwOutcome o;
        char buf[16];

        so.kind = RESP;
        so.has_status_code = true;
        so.status_code = 503;
        so.has_retry_after_s = true;
        so.retry_after_s = 30;
        gw_outcome_from_sip(&so, &o);
        ASSERT_EQ(o.status_code, 503);
        ASSERT_EQ(o.retry_after_s, 30);
        ASSERT_FALSE(o.got_provisional);
        ASSERT_STREQ(gw_outcome_failure_reason(&o, buf, sizeof(buf)), "503");

        so.retry_after_s = -5;                    /* nonsense from the wire: none */
        gw_outcome_from_sip(&so, &o);
        ASSERT_EQ(o.retry_after_s, 0);

        er.kind = TMO;
        er.has_got_provisional = er.has_got_18x = true;
        er.got_provisional = true;
        gw_outcome_from_entry_report(&er, &o);
        ASSERT_TRUE(o.got_provisional);
        ASSERT_FALSE(o.got_18x);
        ASSERT_EQ(o.status_code, 0);
        ASSERT_STREQ(gw_outcome_failure_reason(&o, buf, sizeof(buf)), "timeout");

        o.kind = AUTH;
        ASSERT_STREQ(gw_outcome_failure_reason(&o, buf, sizeof(buf)), "");
        ASSERT_STREQ(gw_verdict_to_string(GW_VERDICT_FAILED), "failed");
        ASSERT_TRUE(gw_verdict_to_string(_GW_VERDICT_MAX) == NULL);
}

DEFINE_TEST_MAIN
