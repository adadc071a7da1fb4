/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-policy.c: the redundancy policy (regd-policy.c), table-driven: one
 * row per row of the behaviour tables of docs/REDUNDANCY.md, for REGISTER,
 * OPTIONS checks, search attempts, homing checks and a call's INVITE. */
#include <stdio.h>

#include "gw-tests.h"
#include "regd-policy.h"

DEFINE_TEST_MAIN

#define R   GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE
#define TO  GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT
#define TR  GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT
#define AF  GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED
#define NC  GW__SIP_OUTCOME_KIND__OUTCOME_NO_CREDENTIALS
#define BR  GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST

#define NOW (1000 * USEC_PER_SEC)

/* The profile's situation in a row: three entries, one target each. */
typedef enum Situation {
        ON_MAIN,                         /* main active, not searching */
        ON_R1,                           /* redundant 1 active (after a failover) */
        SEARCHING_FROM_MAIN,             /* main failed, the search is on */
        SINGLE,                          /* one entry, one target */
        STOPPING,                        /* gateway stopping */
} Situation;

typedef struct Row {
        const char *what;                /* the table row it covers */
        Situation at;
        RedundancyMode mode;
        KeepaliveMode keepalive;
        unsigned homing_confirm, homing_good;
        RequestPurpose purpose;
        size_t entry;                    /* where the request went */
        GwOutcome o;
        /* expected */
        GwVerdict verdict;
        const char *reason;
        PolicyAction action;
        size_t to;                       /* SWITCH/HOME: the entry that becomes active */
        unsigned homing_good_after;
        uint64_t hold_s;                 /* 0: no hold */
        PolicyLineAction line;
} Row;

static PolicyView view_of(const Row *w) {
        PolicyView v = {
                .n_entries = 3,
                .active = 0,
                .active_n_targets = 1,
                .may_send = true,
                .mode = w->mode,
                .keepalive = w->keepalive,
                .homing_confirm = w->homing_confirm,
                .homing_good = w->homing_good,
        };

        switch (w->at) {
        case ON_R1:
                v.active = 1;
                break;
        case SEARCHING_FROM_MAIN:
                v.searching = true;
                break;
        case SINGLE:
                v.n_entries = 1;
                break;
        case STOPPING:
                v.may_send = false;
                break;
        default:
                break;
        }
        return v;
}

#define H REDUNDANCY_HOMING
#define P REDUNDANCY_PARKING
#define KO KEEPALIVE_OPTIONS
#define KR KEEPALIVE_REGISTER
#define KI KEEPALIVE_INVITE

static const Row rows[] = {
        /* ---- "When an entry has failed": a line's REGISTER to the active entry */
        { "no response at all: failed (timeout), the search starts", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { TO, 0, false, false, 0 }, GW_VERDICT_FAILED, "timeout", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "transport error: failed (transport)", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { TR, 0, false, false, 0 }, GW_VERDICT_FAILED, "transport", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "503: failed (503)", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 503, false, false, 0 }, GW_VERDICT_FAILED, "503", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "503 Retry-After 30: failed, and held 30 s", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 503, false, false, 30 }, GW_VERDICT_FAILED, "503", POLICY_SEARCH, 0, 0, 30, POLICY_LINE_WAIT },
        { "408: failed (408)", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 408, false, false, 0 }, GW_VERDICT_FAILED, "408", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "408 after a provisional (REGISTER): still failed", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 408, true, false, 0 }, GW_VERDICT_FAILED, "408", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "a timeout after a provisional: alive, the line's own failure", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { TO, 0, true, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "2xx: alive", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 200, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "401: alive", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 401, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "403: alive", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 403, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "423: alive", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 423, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "500 with Retry-After: alive, no hold", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 500, false, false, 60 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "authentication failed: alive", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { AF, 0, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "no credentials: alive", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { NC, 0, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "a request sigd could not build: nothing learned", ON_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { BR, 0, false, false, 0 }, GW_VERDICT_NONE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "single entry: nothing to search, the line backs off", SINGLE, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { TO, 0, false, false, 0 }, GW_VERDICT_FAILED, "timeout", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "other lines' failures while searching: they wait", SEARCHING_FROM_MAIN, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { TO, 0, false, false, 0 }, GW_VERDICT_FAILED, "timeout", POLICY_STAY, 0, 0, 0, POLICY_LINE_WAIT },
        { "an entry left meanwhile failed: the line goes to the active one", ON_R1, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { R, 503, false, false, 0 }, GW_VERDICT_FAILED, "503", POLICY_STAY, 0, 0, 0, POLICY_LINE_AGAIN },
        { "stopping: learn, decide nothing", STOPPING, H, KO, 1, 0, REQUEST_NORMAL, 0,
          { TO, 0, false, false, 0 }, GW_VERDICT_FAILED, "timeout", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },

        /* ---- "Checks": an OPTIONS check of the active entry is judged the same */
        { "failed check of the active entry (parking): the search starts", ON_R1, P, KO, 1, 0, REQUEST_NORMAL, 1,
          { R, 503, false, false, 0 }, GW_VERDICT_FAILED, "503", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "answered check (404 to OPTIONS): stay", ON_R1, P, KO, 1, 0, REQUEST_NORMAL, 1,
          { R, 404, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },

        /* ---- "The state machine": search attempts */
        { "search: an attempt answered, that entry becomes active", SEARCHING_FROM_MAIN, H, KO, 1, 0, REQUEST_SEARCH, 1,
          { R, 200, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_SWITCH, 1, 0, 0, POLICY_LINE_OWN },
        { "search: an attempt with 401 counts as answered", SEARCHING_FROM_MAIN, H, KO, 1, 0, REQUEST_SEARCH, 2,
          { R, 401, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_SWITCH, 2, 0, 0, POLICY_LINE_OWN },
        { "search: an attempt failed (408), the search goes on", SEARCHING_FROM_MAIN, H, KO, 1, 0, REQUEST_SEARCH, 1,
          { R, 408, false, false, 0 }, GW_VERDICT_FAILED, "408", POLICY_SEARCH_NEXT, 0, 0, 0, POLICY_LINE_WAIT },
        { "search: 503 Retry-After to an attempt holds that entry", SEARCHING_FROM_MAIN, H, KO, 1, 0, REQUEST_SEARCH, 2,
          { R, 503, false, false, 5 }, GW_VERDICT_FAILED, "503", POLICY_SEARCH_NEXT, 0, 0, 5, POLICY_LINE_WAIT },

        /* ---- homing by OPTIONS */
        { "homing OPTIONS answered (confirm 1): home", ON_R1, H, KO, 1, 0, REQUEST_HOME_OPTIONS, 0,
          { R, 200, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_HOME, 0, 1, 0, POLICY_LINE_OWN },
        { "homing OPTIONS 404 is good too", ON_R1, H, KO, 1, 0, REQUEST_HOME_OPTIONS, 0,
          { R, 404, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_HOME, 0, 1, 0, POLICY_LINE_OWN },
        { "homing OPTIONS answered, 1 of 3", ON_R1, H, KO, 3, 0, REQUEST_HOME_OPTIONS, 0,
          { R, 200, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_HOMING_GOOD, 0, 1, 0, POLICY_LINE_OWN },
        { "homing OPTIONS answered, 3 of 3: home", ON_R1, H, KO, 3, 2, REQUEST_HOME_OPTIONS, 0,
          { R, 200, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_HOME, 0, 3, 0, POLICY_LINE_OWN },
        { "homing OPTIONS 503 in homing mode: a bad check, count again", ON_R1, H, KO, 3, 2, REQUEST_HOME_OPTIONS, 0,
          { R, 503, false, false, 0 }, GW_VERDICT_FAILED, "503", POLICY_HOMING_BAD, 0, 0, 0, POLICY_LINE_OWN },
        { "homing OPTIONS 503 Retry-After: bad, and the main is held", ON_R1, H, KO, 1, 0, REQUEST_HOME_OPTIONS, 0,
          { R, 503, false, false, 10 }, GW_VERDICT_FAILED, "503", POLICY_HOMING_BAD, 0, 0, 10, POLICY_LINE_OWN },
        { "homing OPTIONS without answer: bad", ON_R1, H, KO, 1, 0, REQUEST_HOME_OPTIONS, 0,
          { TO, 0, false, false, 0 }, GW_VERDICT_FAILED, "timeout", POLICY_HOMING_BAD, 0, 0, 0, POLICY_LINE_OWN },
        { "homing OPTIONS while searching: ignored", SEARCHING_FROM_MAIN, H, KO, 1, 0, REQUEST_HOME_OPTIONS, 0,
          { R, 200, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },

        /* ---- homing by REGISTER */
        { "homing REGISTER 2xx: home, the line is registered there by it", ON_R1, H, KR, 1, 0,
          REQUEST_HOME_REGISTER, 0, { R, 200, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_HOME, 0, 1, 0,
          POLICY_LINE_OWN },
        { "homing REGISTER 2xx, 1 of 2: the line keeps its registration", ON_R1, H, KR, 2, 0,
          REQUEST_HOME_REGISTER, 0, { R, 200, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_HOMING_GOOD, 0, 1,
          0, POLICY_LINE_KEEP },
        { "homing REGISTER 401 (alive, but not a 2xx): bad", ON_R1, H, KR, 1, 0, REQUEST_HOME_REGISTER, 0,
          { R, 401, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_HOMING_BAD, 0, 0, 0, POLICY_LINE_KEEP },
        { "homing REGISTER 503: bad", ON_R1, H, KR, 1, 0, REQUEST_HOME_REGISTER, 0,
          { R, 503, false, false, 0 }, GW_VERDICT_FAILED, "503", POLICY_HOMING_BAD, 0, 0, 0, POLICY_LINE_KEEP },

        /* ---- "What calls report": a call's INVITE (EntryReport) */
        { "INVITE: the active entry silent: the search starts", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { TO, 0, false, false, 0 }, GW_VERDICT_FAILED, "timeout", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "INVITE: transport error at the active entry: the search starts", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { TR, 0, false, false, 0 }, GW_VERDICT_FAILED, "transport", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "INVITE: 408 before any 1xx: failed", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 408, false, false, 0 }, GW_VERDICT_FAILED, "408", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "INVITE: 503 in homing mode: failed, the search starts", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 503, false, false, 0 }, GW_VERDICT_FAILED, "503", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "INVITE: 503 Retry-After 20: failed and held 20 s", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 503, false, false, 20 }, GW_VERDICT_FAILED, "503", POLICY_SEARCH, 0, 0, 20, POLICY_LINE_WAIT },
        { "INVITE: 503 after 100 Trying only: failed", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 503, true, false, 0 }, GW_VERDICT_FAILED, "503", POLICY_SEARCH, 0, 0, 0, POLICY_LINE_WAIT },
        { "INVITE rule: 503 after 18x is the call's", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 503, true, true, 20 }, GW_VERDICT_NONE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "INVITE rule: 408 after 1xx (rings out) is the call's", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 408, true, true, 0 }, GW_VERDICT_NONE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "INVITE rule: 486 after 1xx is the call's", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 486, true, false, 0 }, GW_VERDICT_NONE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "INVITE: 486 without 1xx: alive", ON_MAIN, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 486, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "INVITE: another entry answered while searching: it becomes active", SEARCHING_FROM_MAIN, H, KO, 1, 0,
          REQUEST_INVITE, 2, { R, 100, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_SWITCH, 2, 0, 0,
          POLICY_LINE_OWN },
        { "INVITE: main answered, homing + keepalive invite: home", ON_R1, H, KI, 3, 0, REQUEST_INVITE, 0,
          { R, 180, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_HOME, 0, 0, 0, POLICY_LINE_OWN },
        { "INVITE: main answered, homing + keepalive options: counters only", ON_R1, H, KO, 1, 0, REQUEST_INVITE, 0,
          { R, 180, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "INVITE: main answered, parking: counters only", ON_R1, P, KI, 1, 0, REQUEST_INVITE, 0,
          { R, 180, false, false, 0 }, GW_VERDICT_ALIVE, "", POLICY_STAY, 0, 0, 0, POLICY_LINE_OWN },
        { "INVITE: an entry left meanwhile failed: counters only", ON_R1, H, KO, 1, 0, REQUEST_INVITE, 2,
          { TO, 0, false, false, 0 }, GW_VERDICT_FAILED, "timeout", POLICY_STAY, 0, 0, 0, POLICY_LINE_AGAIN },
};

TEST(regd_policy_decide_table) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const Row *w = &rows[i];
                PolicyView v = view_of(w);
                PolicyDecision d;

                policy_decide(&v, w->entry, w->purpose, &w->o, NOW, &d);
                fprintf(stderr, "%-70s %s %s%s%s\n", w->what, gw_verdict_to_string(d.verdict),
                        policy_action_to_string(d.action), d.reason[0] ? " " : "", d.reason);
                ASSERT_EQ(d.verdict, w->verdict);
                ASSERT_STREQ(d.reason, w->reason);
                ASSERT_EQ(d.action, w->action);
                if (w->action == POLICY_SWITCH || w->action == POLICY_HOME)
                        ASSERT_EQ(d.entry, w->to);
                if (w->action == POLICY_HOME || w->action == POLICY_HOMING_GOOD || w->action == POLICY_HOMING_BAD)
                        ASSERT_EQ(d.homing_good, w->homing_good_after);
                ASSERT_EQ(d.hold_until, w->hold_s ? NOW + w->hold_s * USEC_PER_SEC : 0);
                ASSERT_EQ(d.line, w->line);
        }
}

/* The search: main → r1 → r2 → back-off → main → ...; a DNS entry's next target first. */
TEST(regd_policy_search_cycle) {
        PolicyView v = { .n_entries = 3, .active = 0, .active_n_targets = 1, .may_send = true };
        PolicySearch s;
        uint64_t wait = 0;

        ASSERT_EQ(policy_search_start(&v, false, &s), POLICY_STEP_ENTRY);
        ASSERT_EQ(s.next, 1);
        ASSERT_EQ(policy_search_advance(&s, 3, false, false, 30 * USEC_PER_SEC, 1800 * USEC_PER_SEC, 1.0, &wait),
                  POLICY_STEP_ENTRY);
        ASSERT_EQ(s.next, 2);
        /* r2 failed too: a whole cycle, back off base·2⁰ (r = 1: 100 %), then main. */
        ASSERT_EQ(policy_search_advance(&s, 3, false, false, 30 * USEC_PER_SEC, 1800 * USEC_PER_SEC, 1.0, &wait),
                  POLICY_STEP_BACK_OFF);
        ASSERT_EQ(s.next, 0);
        ASSERT_EQ(s.cycles, 1);
        ASSERT_EQ(wait, 30 * USEC_PER_SEC);
        /* The next cycle: main, r1, r2, then base·2¹ times 50 % (r = 0). */
        ASSERT_EQ(policy_search_advance(&s, 3, false, false, 30 * USEC_PER_SEC, 1800 * USEC_PER_SEC, 0.0, &wait),
                  POLICY_STEP_ENTRY);
        ASSERT_EQ(policy_search_advance(&s, 3, false, false, 30 * USEC_PER_SEC, 1800 * USEC_PER_SEC, 0.0, &wait),
                  POLICY_STEP_ENTRY);
        ASSERT_EQ(policy_search_advance(&s, 3, false, false, 30 * USEC_PER_SEC, 1800 * USEC_PER_SEC, 0.0, &wait),
                  POLICY_STEP_BACK_OFF);
        ASSERT_EQ(wait, 30 * USEC_PER_SEC);
        ASSERT_EQ(s.cycles, 2);

        /* Parking on r1: its failure searches from r2, then main. */
        v.active = 1;
        ASSERT_EQ(policy_search_start(&v, false, &s), POLICY_STEP_ENTRY);
        ASSERT_EQ(s.next, 2);
        ASSERT_EQ(policy_search_advance(&s, 3, false, false, 1, 1, 0.5, &wait), POLICY_STEP_ENTRY);
        ASSERT_EQ(s.next, 0);

        /* A name with targets: the active entry's next target first; a held
         * entry's other targets are skipped with it. */
        v.active = 0;
        ASSERT_EQ(policy_search_start(&v, true, &s), POLICY_STEP_TARGET);
        ASSERT_EQ(s.next, 0);
        ASSERT_EQ(s.attempts, 0);
        ASSERT_EQ(policy_search_advance(&s, 3, true, false, 1, 1, 0.5, &wait), POLICY_STEP_TARGET);
        ASSERT_EQ(policy_search_advance(&s, 3, true, true, 1, 1, 0.5, &wait), POLICY_STEP_ENTRY);
        ASSERT_EQ(s.next, 1);

        /* Pacing: 1 s between two attempts to one target. */
        ASSERT_EQ(policy_search_when(0, USEC_PER_SEC, NOW), NOW);
        ASSERT_EQ(policy_search_when(NOW - 300 * USEC_PER_MSEC, USEC_PER_SEC, NOW), NOW + 700 * USEC_PER_MSEC);
        ASSERT_EQ(policy_search_when(NOW - 2 * USEC_PER_SEC, USEC_PER_SEC, NOW), NOW);
}

/* Checks per keepalive period: parking never checks a main entry that is not
 * active; homing does (not with 'invite'); a held entry is not checked. */
TEST(regd_policy_checks) {
        static const struct {
                RedundancyMode mode;
                KeepaliveMode keepalive;
                size_t active;
                bool searching, main_held, active_held;
                PolicyCheck home, check;
        } t[] = {
                { H, KO, 0, false, false, false, POLICY_CHECK_NONE, POLICY_CHECK_OPTIONS },
                { H, KO, 1, false, false, false, POLICY_CHECK_OPTIONS, POLICY_CHECK_OPTIONS },
                { H, KR, 1, false, false, false, POLICY_CHECK_REGISTER, POLICY_CHECK_REGISTER },
                { H, KI, 1, false, false, false, POLICY_CHECK_NONE, POLICY_CHECK_OPTIONS },
                { H, KEEPALIVE_OFF, 1, false, false, false, POLICY_CHECK_NONE, POLICY_CHECK_NONE },
                { P, KO, 1, false, false, false, POLICY_CHECK_NONE, POLICY_CHECK_OPTIONS },
                { P, KR, 1, false, false, false, POLICY_CHECK_NONE, POLICY_CHECK_REGISTER },
                { H, KO, 1, false, true, false, POLICY_CHECK_NONE, POLICY_CHECK_OPTIONS },
                { H, KO, 1, false, false, true, POLICY_CHECK_OPTIONS, POLICY_CHECK_NONE },
                { H, KO, 1, true, false, false, POLICY_CHECK_NONE, POLICY_CHECK_NONE },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                PolicyView v = { .n_entries = 3, .active = t[i].active, .active_n_targets = 1,
                                 .searching = t[i].searching, .may_send = true, .mode = t[i].mode,
                                 .keepalive = t[i].keepalive };
                PolicyCheck home, check;

                policy_checks(&v, t[i].main_held, t[i].active_held, &home, &check);
                ASSERT_EQ(home, t[i].home);
                ASSERT_EQ(check, t[i].check);
        }
}
