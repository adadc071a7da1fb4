/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-policy.c: the proxy redundancy policy of a profile (pure functions).
 *
 * Policy, in plain words.
 *
 * A profile has an ordered list of entries: the main proxy first, then the
 * redundant proxies in the order they are configured. Exactly one entry is
 * active; at start it is the main one (or the one saved in the state file).
 * All lines of the profile register on the active entry: while the main entry
 * is active, REGISTER goes to the profile's registrar (by default the main
 * proxy itself) and a failure of the registrar is a failure of the main entry;
 * while a redundant entry is active, REGISTER goes to that entry. Request-URI,
 * To and From never change with the entry.
 *
 * Every outcome of a request sent to an entry says something about it, and
 * policy_classify() (common/gw-outcome.c's gw_outcome_classify(), which
 * sigd's call failover also uses) is the one place that says what, for every kind of
 * request — a line's REGISTER, regd's OPTIONS checks, and the INVITEs of
 * calls, which sigd sends and reports to regd as EntryReport (handled by
 * profile_entry_report() with the purpose REQUEST_INVITE):
 *  - the entry FAILED if there was no answer at all within the Invite total
 *    timeout (a timeout without any provisional response), a transport error
 *    (ICMP unreachable, send failure), or a 408 or 503 response;
 *  - the entry is ALIVE if it answered anything else (1xx, 2xx,
 *    401/403/404/423, other 4xx-6xx, an authentication failure, or a timeout
 *    after a provisional: that one is the line's failure, retried at the same
 *    entry);
 *  - nothing is learned if sigd could not even build the request, and — the
 *    INVITE rule — from a final response to an INVITE after a provisional
 *    one: that is the call's outcome (the callee busy, or ringing out with
 *    Kamailio's 408), not the proxy's. Except a 503 after a 100 Trying but
 *    before any 18x: the proxy gave up before reaching anyone, it FAILED.
 * A failure marks the entry 'down' with the reason and time, an answer marks
 * it 'up'; a 503 with Retry-After (to any request, an INVITE included) also
 * holds the entry: out of the search, unchecked, and skipped by calls
 * (ProfileStatus carries the hold) for that long. The counters only ever grow.
 *
 * policy_decide() then says what the profile does about it, per purpose:
 *  - a line's REGISTER or a check of the active entry (REQUEST_NORMAL): a
 *    failure of the active entry starts the search (the line waits for it),
 *    of an entry left meanwhile sends the line to the active one at once;
 *  - a search attempt: an answer makes that entry active, a failure moves the
 *    search on;
 *  - a homing check of the main entry (OPTIONS or REGISTER): counts towards
 *    homing_confirm, or starts counting again;
 *  - a call's INVITE: a failure of the active entry starts the search like a
 *    failed REGISTER; an answer from another entry while searching makes it
 *    active; with keepalive 'invite' in homing mode an answer from the main
 *    entry homes at once (the calls are the checks).
 * So "a 503 in homing mode" is answered there: to a REGISTER or an OPTIONS
 * check of the active entry, or an INVITE, it fails the entry and (active)
 * starts the search; to a homing check of the main entry, it is a bad check.
 * With Retry-After, the entry is also held.
 *
 * The search (failover). When the active entry fails, the profile starts ONE
 * search: the failed request is sent again, as a new transaction of the same
 * line (same Call-ID and From tag, the next CSeq), to the next target of the
 * entry (DNS) or the next entry, then the next, cycling from the last entry
 * back to the main one (policy_search_start/advance). Other lines whose
 * requests fail meanwhile, or whose timers fire, do not search themselves:
 * they wait. The first entry that answers becomes active (logged once with the
 * reason of the failure that started the search, published as ProxySwitch,
 * counted in the failovers counter of the entry left), and every registering
 * line of the profile renews its registration there through the manager's
 * window. Bindings at the old entry are left to expire: un-REGISTERing them
 * could delete the new binding in a shared location database. Pacing: at
 * least REGD_SEARCH_SPACING_USEC between two requests to the same target
 * (policy_search_when); after a whole cycle without an answer,
 * register_retry_base doubled per cycle, capped at register_retry_max, times a
 * random 50-100 %. A search attempt is carried by a line's REGISTER (the line
 * whose request failed, else any idle registering line), or by an OPTIONS
 * when no line can carry it. An entry given as a DNS name that does not
 * resolve fails at once with 'dns'. A profile with a single entry (and
 * target) has nothing to search: its lines keep their own back-off.
 *
 * Health checks, every keepalive_period, of the active entry in both modes
 * (policy_checks): 'options' and 'invite' send an OPTIONS (Request-URI
 * sip:<target>), 'register' refreshes the first registering line, 'off' sends
 * nothing. A failed check starts the search like a failed request.
 *
 * Parking: the main entry is not checked while another is active; the gateway
 * stays on the entry it found, even when the main one is back, until that
 * entry fails; the search then goes on from the next entry.
 *
 * Homing: while a redundant entry is active, the main entry is checked too
 * ('options': an OPTIONS to it, anything but 408/503 or no answer is good;
 * 'register': the first registering line's REGISTER to the registrar, a 2xx
 * is good; 'invite': nothing periodic, the calls do it). After homing_confirm
 * consecutive good checks the main entry becomes active again (reason
 * 'homing') and every line re-registers there. */
#include <assert.h>
#include <stdio.h>

#include "gw-macro.h"
#include "gw-outcome.h"
#include "regd-policy.h"

static const char *const request_purpose_table[_REQUEST_PURPOSE_MAX] = {
        [REQUEST_NORMAL] = "normal",
        [REQUEST_SEARCH] = "search",
        [REQUEST_HOME_REGISTER] = "home-register",
        [REQUEST_HOME_OPTIONS] = "home-options",
        [REQUEST_INVITE] = "invite",
};

static const char *const policy_action_table[_POLICY_ACTION_MAX] = {
        [POLICY_STAY] = "stay",
        [POLICY_SEARCH] = "search",
        [POLICY_SEARCH_NEXT] = "search-next",
        [POLICY_SWITCH] = "switch",
        [POLICY_HOME] = "home",
        [POLICY_HOMING_GOOD] = "homing-good",
        [POLICY_HOMING_BAD] = "homing-bad",
};

const char *request_purpose_to_string(RequestPurpose r) {
        return (unsigned) r < _REQUEST_PURPOSE_MAX ? request_purpose_table[r] : NULL;
}

const char *policy_action_to_string(PolicyAction a) {
        return (unsigned) a < _POLICY_ACTION_MAX ? policy_action_table[a] : NULL;
}

/* ---------------------------------------------------------------- outcomes */

GwVerdict policy_classify(const GwOutcome *o, RequestPurpose purpose) {
        assert(o);
        return gw_outcome_classify(o, purpose == REQUEST_INVITE);
}

GwVerdict policy_classify_sip(const Gw__SipRequestOutcome *o, RequestPurpose purpose) {
        GwOutcome po;

        gw_outcome_from_sip(o, &po);
        return policy_classify(&po, purpose);
}

/* ---------------------------------------------------------------- decisions */

bool policy_has_alternatives(const PolicyView *v) {
        return v->n_entries > 1 || v->active_n_targets > 1;
}

static void policy_homing_result(const PolicyView *v, bool good, PolicyDecision *d) {
        unsigned confirm = MAX(v->homing_confirm, 1u);

        if (v->active == 0 || v->searching)
                return;
        if (!good) {
                d->action = POLICY_HOMING_BAD;
                d->homing_good = 0;
                return;
        }
        d->homing_good = v->homing_good + 1;
        d->action = d->homing_good >= confirm ? POLICY_HOME : POLICY_HOMING_GOOD;
        d->entry = 0;
}

void policy_decide(const PolicyView *v, size_t entry, RequestPurpose purpose, const GwOutcome *o,
                   uint64_t now, PolicyDecision *ret) {
        PolicyDecision d = {
                .action = POLICY_STAY,
                .entry = v->active,
                .homing_good = v->homing_good,
                .line = POLICY_LINE_OWN,
        };

        assert(v && o && ret);
        assert(entry < v->n_entries);

        d.verdict = policy_classify(o, purpose);
        if (d.verdict == GW_VERDICT_FAILED) {
                gw_outcome_failure_reason(o, d.reason, sizeof(d.reason));
                if (o->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE && o->status_code == 503 &&
                    o->retry_after_s > 0)
                        d.hold_until = now + (uint64_t) o->retry_after_s * USEC_PER_SEC;
        }
        if (!v->may_send)
                goto done;               /* stopping: no search, no homing */

        switch (purpose) {
        case REQUEST_HOME_REGISTER:
                policy_homing_result(v, o->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE &&
                                        o->status_code >= 200 && o->status_code < 300, &d);
                /* The line keeps its registration at the active entry, unless
                 * this one made the main entry active: then it is registered
                 * there by this very REGISTER. */
                d.line = entry == v->active || d.action == POLICY_HOME ? POLICY_LINE_OWN : POLICY_LINE_KEEP;
                goto done;

        case REQUEST_HOME_OPTIONS:
                policy_homing_result(v, d.verdict == GW_VERDICT_ALIVE, &d);
                goto done;

        case REQUEST_SEARCH:
                if (!v->searching)
                        break;           /* a late answer: as any other outcome */
                if (d.verdict == GW_VERDICT_ALIVE) {
                        d.action = POLICY_SWITCH;
                        d.entry = entry;
                } else {
                        d.action = POLICY_SEARCH_NEXT;
                        d.line = POLICY_LINE_WAIT;
                }
                goto done;

        case REQUEST_INVITE:
                if (d.verdict != GW_VERDICT_ALIVE)
                        break;           /* a failure: as a failed REGISTER */
                if (entry == v->active)
                        goto done;
                if (v->searching) {
                        /* The call found an entry before the search did. */
                        d.action = POLICY_SWITCH;
                        d.entry = entry;
                } else if (entry == 0 && v->mode == REDUNDANCY_HOMING && v->keepalive == KEEPALIVE_INVITE) {
                        d.action = POLICY_HOME;
                        d.entry = 0;
                }
                goto done;

        default:
                break;
        }

        if (d.verdict != GW_VERDICT_FAILED || !policy_has_alternatives(v))
                goto done;
        if (v->searching)
                d.line = POLICY_LINE_WAIT;
        else if (entry == v->active) {
                d.action = POLICY_SEARCH;
                d.line = POLICY_LINE_WAIT;
        } else
                /* An entry we already left: try the active one at once. */
                d.line = POLICY_LINE_AGAIN;
done:
        *ret = d;
}

/* ---------------------------------------------------------------- the search */

uint64_t regd_backoff_usec(uint64_t base_usec, uint64_t max_usec, unsigned failures, double r) {
        uint64_t w = base_usec;

        if (max_usec < base_usec)
                max_usec = base_usec;
        for (unsigned i = 1; i < failures && w < max_usec; i++)
                w = w > max_usec / 2 ? max_usec : w * 2;
        w = MIN(w, max_usec);

        r = CLAMP(r, 0.0, 1.0);
        return (uint64_t) ((double) w * (0.5 + 0.5 * r));
}

PolicyStep policy_search_start(const PolicyView *v, bool has_next_target, PolicySearch *s) {
        s->cycles = 0;
        if (has_next_target) {
                /* The active entry's next target first (DNS: RFC 3263 order). */
                s->next = v->active;
                s->attempts = 0;
                return POLICY_STEP_TARGET;
        }
        s->next = (v->active + 1) % v->n_entries;
        s->attempts = 1;                 /* the active entry just failed: it counts */
        return POLICY_STEP_ENTRY;
}

PolicyStep policy_search_advance(PolicySearch *s, size_t n_entries, bool has_next_target, bool held,
                                 uint64_t retry_base, uint64_t retry_max, double r, uint64_t *ret_wait) {
        assert(n_entries > 0);

        if (has_next_target && !held)
                return POLICY_STEP_TARGET;
        s->next = (s->next + 1) % n_entries;
        s->attempts++;
        if (s->attempts < n_entries)
                return POLICY_STEP_ENTRY;

        /* A whole cycle without an answer: back off before the next one. */
        *ret_wait = regd_backoff_usec(retry_base, retry_max, s->cycles + 1, r);
        s->cycles++;
        s->attempts = 0;
        return POLICY_STEP_BACK_OFF;
}

uint64_t policy_search_when(uint64_t last, uint64_t spacing, uint64_t now) {
        if (last != 0 && now < last + spacing)
                return last + spacing;
        return now;
}

/* ---------------------------------------------------------------- checks */

void policy_checks(const PolicyView *v, bool main_held, bool active_held, PolicyCheck *ret_main,
                   PolicyCheck *ret_active) {
        PolicyCheck by_keepalive = v->keepalive == KEEPALIVE_REGISTER ? POLICY_CHECK_REGISTER :
                                   v->keepalive == KEEPALIVE_OFF ? POLICY_CHECK_NONE : POLICY_CHECK_OPTIONS;

        *ret_main = *ret_active = POLICY_CHECK_NONE;
        if (v->searching)
                return;
        /* Homing: the main entry too, unless it asked us to stay away; 'invite'
         * checks nothing periodic: the calls try the main entry first. */
        if (v->mode == REDUNDANCY_HOMING && v->active != 0 && v->keepalive != KEEPALIVE_INVITE && !main_held)
                *ret_main = by_keepalive;
        /* The active entry, in both modes. */
        if (!active_held)
                *ret_active = by_keepalive;
}
