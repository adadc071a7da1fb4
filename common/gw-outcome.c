/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-outcome.c: the classification of a request's outcome for its entry
 * (regd-policy.c states the whole policy in prose). */
#include <assert.h>
#include <stdio.h>

#include "gw-macro.h"
#include "gw-outcome.h"

static const char *const gw_verdict_table[_GW_VERDICT_MAX] = {
        [GW_VERDICT_NONE] = "none",
        [GW_VERDICT_ALIVE] = "alive",
        [GW_VERDICT_FAILED] = "failed",
};

const char *gw_verdict_to_string(GwVerdict v) {
        return (unsigned) v < _GW_VERDICT_MAX ? gw_verdict_table[v] : NULL;
}

void gw_outcome_from_sip(const Gw__SipRequestOutcome *o, GwOutcome *ret) {
        assert(o);
        *ret = (GwOutcome) {
                .kind = o->kind,
                .status_code = o->has_status_code ? o->status_code : 0,
                .got_provisional = o->has_got_provisional && o->got_provisional,
                .retry_after_s = o->has_retry_after_s && o->retry_after_s > 0 ? o->retry_after_s : 0,
        };
}

void gw_outcome_from_entry_report(const Gw__EntryReport *r, GwOutcome *ret) {
        assert(r);
        *ret = (GwOutcome) {
                .kind = r->kind,
                .status_code = r->has_status_code ? r->status_code : 0,
                .got_provisional = r->has_got_provisional && r->got_provisional,
                .got_18x = r->has_got_18x && r->got_18x,
                .retry_after_s = r->has_retry_after_s && r->retry_after_s > 0 ? r->retry_after_s : 0,
        };
}

/* The INVITE rule: a final response after a provisional one is the call's
 * outcome (busy, declined, Kamailio's 408 when the callee rings out), not the
 * proxy's — unless it is a 503 before any 18x: the proxy gave up before
 * reaching anyone. */
static GwVerdict gw_outcome_classify_invite_after_provisional(const GwOutcome *o) {
        if (o->status_code == 503 && !o->got_18x)
                return GW_VERDICT_FAILED;
        return GW_VERDICT_NONE;
}

GwVerdict gw_outcome_classify(const GwOutcome *o, bool invite) {
        assert(o);

        switch (o->kind) {
        case GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE:
                if (o->status_code < 200)
                        return GW_VERDICT_ALIVE;      /* an INVITE's first provisional */
                if (invite && o->got_provisional)
                        return gw_outcome_classify_invite_after_provisional(o);
                if (o->status_code == 408 || o->status_code == 503)
                        return GW_VERDICT_FAILED;
                return GW_VERDICT_ALIVE;
        case GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT:
                /* After a provisional response the entry is alive: the slowness is further on. */
                return o->got_provisional ? GW_VERDICT_ALIVE : GW_VERDICT_FAILED;
        case GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT:
                return GW_VERDICT_FAILED;
        case GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED:
                /* It challenged us: it is alive, our credentials are not accepted. */
                return GW_VERDICT_ALIVE;
        case GW__SIP_OUTCOME_KIND__OUTCOME_NO_CREDENTIALS:
                /* Only reached after a challenge from the entry. */
                return GW_VERDICT_ALIVE;
        case GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST:
        default:
                return GW_VERDICT_NONE;
        }
}

const char *gw_outcome_failure_reason(const GwOutcome *o, char *buf, size_t n) {
        assert(buf && n > 0);

        switch (o->kind) {
        case GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT:
                snprintf(buf, n, "timeout");
                break;
        case GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT:
                snprintf(buf, n, "transport");
                break;
        case GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE:
                snprintf(buf, n, "%u", o->status_code);
                break;
        default:
                buf[0] = 0;
                break;
        }
        return buf;
}
