/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-outcome.h: what the outcome of a SIP request sent to a proxy entry says
 * about that entry — THE classification, for every request kind.
 *
 * regd's policy (regd-policy.c) decides what to do with a verdict; sigd uses
 * the same verdict to send a call's INVITE on to the next entry at once. Both
 * read the outcome in the same structured form (SipRequestOutcome for regd's
 * own requests, EntryReport for a call's INVITE), never a string. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw.pb-c.h"

typedef enum GwVerdict {
        GW_VERDICT_NONE,                 /* nothing learned: not built, or a call's own outcome */
        GW_VERDICT_ALIVE,                /* the entry answered */
        GW_VERDICT_FAILED,               /* timeout without provisional, transport error, 408, 503 */
        _GW_VERDICT_MAX,
        _GW_VERDICT_INVALID = -EINVAL,
} GwVerdict;

/* One outcome, whatever sent the request. */
typedef struct GwOutcome {
        Gw__SipOutcomeKind kind;
        unsigned status_code;            /* kind RESPONSE */
        bool got_provisional;            /* a 1xx came before this outcome */
        bool got_18x;                    /* INVITE: one of them was 18x */
        int32_t retry_after_s;           /* 0: none */
} GwOutcome;

void gw_outcome_from_sip(const Gw__SipRequestOutcome *o, GwOutcome *ret);
void gw_outcome_from_entry_report(const Gw__EntryReport *r, GwOutcome *ret);

/* The verdict on the entry; 'invite': the request was a call's INVITE, for
 * which the INVITE rule applies (a final response after a provisional one is
 * the call's outcome, except a 503 before any 18x). */
GwVerdict gw_outcome_classify(const GwOutcome *o, bool invite);

/* The entry's failure reason for a FAILED outcome: "timeout", "transport",
 * "408", "503" (buf of at least 16 bytes); "" otherwise. */
const char *gw_outcome_failure_reason(const GwOutcome *o, char *buf, size_t n);

const char *gw_verdict_to_string(GwVerdict v);
