/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-policy.h: the proxy redundancy policy of a profile, as pure functions.
 *
 * No clock, no I/O, no Line or Profile: the profile passes what it knows (a
 * PolicyView of its entries and mode, an outcome, what the request was for,
 * 'now' in CLOCK_MONOTONIC microseconds) and carries out the PolicyDecision.
 * regd-policy.c states the policy in prose. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw-conf.h"
#include "gw-outcome.h"
#include "gw.pb-c.h"

/* What a request was for. */
typedef enum RequestPurpose {
        REQUEST_NORMAL,                  /* a line's own REGISTER, or a health check of the active entry */
        REQUEST_SEARCH,                  /* an attempt of the profile's failover search */
        REQUEST_HOME_REGISTER,           /* homing check of the main entry: a line's REGISTER, 2xx = back */
        REQUEST_HOME_OPTIONS,            /* homing check of the main entry: OPTIONS, not 408/503 = back */
        REQUEST_INVITE,                  /* a call's INVITE, reported by sigd (EntryReport) */
        _REQUEST_PURPOSE_MAX,
        _REQUEST_PURPOSE_INVALID = -EINVAL,
} RequestPurpose;

/* THE classification of an outcome for the entry, for every request kind. */
GwVerdict policy_classify(const GwOutcome *o, RequestPurpose purpose);
/* The same for a SipRequestOutcome of regd's own requests. */
GwVerdict policy_classify_sip(const Gw__SipRequestOutcome *o, RequestPurpose purpose);

/* What a line does with the outcome of its own request. */
typedef enum PolicyLineAction {
        POLICY_LINE_OWN,                 /* the line's own policy: registered, back-off, 403 ... */
        POLICY_LINE_WAIT,                /* the entry failed: wait for the profile's search */
        POLICY_LINE_AGAIN,               /* a non-active entry failed: register at the active one now */
        POLICY_LINE_KEEP,                /* a homing REGISTER to the main entry: keep the registration we have */
        _POLICY_LINE_ACTION_MAX,
        _POLICY_LINE_ACTION_INVALID = -EINVAL,
} PolicyLineAction;

/* What the profile does about the entry and the active one. */
typedef enum PolicyAction {
        POLICY_STAY,                     /* health and counters only */
        POLICY_SEARCH,                   /* the active entry failed: start the search (from PolicySearch) */
        POLICY_SEARCH_NEXT,              /* the search's attempt failed: its next target or entry */
        POLICY_SWITCH,                   /* 'entry' becomes active (it answered the search or a call) */
        POLICY_HOME,                     /* the main entry becomes active again (reason 'homing') */
        POLICY_HOMING_GOOD,              /* a good homing check, homing_good of homing_confirm */
        POLICY_HOMING_BAD,               /* a bad homing check: count again, ask the main's next target */
        _POLICY_ACTION_MAX,
        _POLICY_ACTION_INVALID = -EINVAL,
} PolicyAction;

/* What the profile knows, as the policy needs it. */
typedef struct PolicyView {
        size_t n_entries;                /* [0] is the main entry */
        size_t active;
        size_t active_n_targets;         /* targets of the active entry (DNS) */
        bool searching;
        bool may_send;                   /* false while stopping: learn, decide nothing */
        RedundancyMode mode;
        KeepaliveMode keepalive;
        unsigned homing_confirm;         /* 0 counts as 1 */
        unsigned homing_good;            /* good homing checks in a row so far */
} PolicyView;

typedef struct PolicyDecision {
        GwVerdict verdict;
        char reason[16];                 /* FAILED: the entry's failure reason */
        PolicyAction action;
        size_t entry;                    /* SWITCH, HOME: the entry that becomes active */
        unsigned homing_good;            /* the new count */
        uint64_t hold_until;             /* keep the entry out of use until then (503 Retry-After); 0: no */
        PolicyLineAction line;           /* for the line whose request it was */
} PolicyDecision;

/* The outcome 'o' of a request for 'purpose' that went to entry 'entry'. */
void policy_decide(const PolicyView *v, size_t entry, RequestPurpose purpose, const GwOutcome *o,
                   uint64_t now, PolicyDecision *ret);

/* Something to search: another entry, or another target of the only one. */
bool policy_has_alternatives(const PolicyView *v);

/* The search's cursor (the rest of its state is the profile's ProfileSearch). */
typedef struct PolicySearch {
        size_t next;                     /* entry the next attempt goes to */
        unsigned attempts;               /* in this cycle, skipped entries included */
        unsigned cycles;                 /* whole cycles without an answer */
} PolicySearch;

typedef enum PolicyStep {
        POLICY_STEP_TARGET,              /* the same entry's next target, now */
        POLICY_STEP_ENTRY,               /* the entry 'next', now */
        POLICY_STEP_BACK_OFF,            /* a whole cycle without answer: 'next' after 'wait' */
        _POLICY_STEP_MAX,
        _POLICY_STEP_INVALID = -EINVAL,
} PolicyStep;

/* Where the search starts when the active entry fails: its next target if
 * it has one (has_next_target), else the next entry. */
PolicyStep policy_search_start(const PolicyView *v, bool has_next_target, PolicySearch *s);
/* The attempt at s->next failed, did not resolve, or was skipped (held
 * until later): its next target if it has one and is not held, else the next
 * entry; after a whole cycle, back off register_retry_base·2ⁿ capped at
 * register_retry_max, times 50–100 % (r uniform in [0, 1)): *ret_wait. */
PolicyStep policy_search_advance(PolicySearch *s, size_t n_entries, bool has_next_target, bool held,
                                 uint64_t retry_base, uint64_t retry_max, double r, uint64_t *ret_wait);
/* When the next attempt to a target last tried at 'last' may go: 'now' or later. */
uint64_t policy_search_when(uint64_t last, uint64_t spacing, uint64_t now);

/* The periodic checks of one keepalive period. */
typedef enum PolicyCheck {
        POLICY_CHECK_NONE,
        POLICY_CHECK_OPTIONS,            /* an OPTIONS to the entry */
        POLICY_CHECK_REGISTER,           /* a line's REGISTER to it */
        _POLICY_CHECK_MAX,
        _POLICY_CHECK_INVALID = -EINVAL,
} PolicyCheck;

/* main_held/active_held: the entry is held after a 503 Retry-After. */
void policy_checks(const PolicyView *v, bool main_held, bool active_held, PolicyCheck *ret_main,
                   PolicyCheck *ret_active);

/* base doubled per consecutive failure beyond the first, capped at max, times
 * 50–100 % (r uniform in [0, 1)): a line's retries and the search cycles. */
uint64_t regd_backoff_usec(uint64_t base_usec, uint64_t max_usec, unsigned failures, double r);

const char *request_purpose_to_string(RequestPurpose r);
const char *policy_action_to_string(PolicyAction a);
