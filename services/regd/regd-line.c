/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-line.c: registration and refresh of one line.
 *
 * A line with 'register: true' in its profile goes
 *   unregistered → registering → registered | failed(reason)
 * and stays 'registered' while refreshing, 'failed' (with its reason) while
 * retrying. It refreshes at 45–55 % of the
 * granted expiry. After a failure it retries: register_retry_base doubling
 * per consecutive failure, capped at register_retry_max, times a random
 * 50–100 % (the shape of RFC 5626 §4.5); a 423 is retried at once with the
 * registrar's Min-Expires; a 403 only after register_forbidden_retry. It never
 * stops retrying, and every failure is logged.
 *
 * One Call-ID and From tag per line, kept across refreshes and regd restarts
 * (RFC 3261 §10.2.4); CSeq only grows, continuing from what sigd reports.
 *
 * A line never calls into its profile nor reads its fields: what it needs of
 * the entries (the active one, the search, targets) it asks through the
 * LineEntriesOps its owner gave it, and what it does after a failure of an
 * entry (wait for the search, go to the active entry, keep a registration)
 * the policy decides and the manager hands it with the outcome. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>

#include "gw-log.h"
#include "regd-line.h"
#include "regd-manager.h"

static const char *const line_state_table[_LINE_STATE_MAX] = {
        [LINE_UNREGISTERED] = "unregistered",
        [LINE_REGISTERING] = "registering",
        [LINE_REGISTERED] = "registered",
        [LINE_FAILED] = "failed",
};

const char *line_state_to_string(LineState s) {
        return (unsigned) s < _LINE_STATE_MAX ? line_state_table[s] : NULL;
}

LineState line_state_from_string(const char *s) {
        for (size_t i = 0; s && i < _LINE_STATE_MAX; i++)
                if (streq(line_state_table[i], s))
                        return (LineState) i;
        return _LINE_STATE_INVALID;
}

Gw__RegState line_state_to_proto(LineState s) {
        switch (s) {
        case LINE_REGISTERING:
                return GW__REG_STATE__REG_REGISTERING;
        case LINE_REGISTERED:
                return GW__REG_STATE__REG_REGISTERED;
        case LINE_FAILED:
                return GW__REG_STATE__REG_FAILED;
        default:
                return GW__REG_STATE__REG_UNREGISTERED;
        }
}

LineState line_state_from_proto(Gw__RegState s) {
        switch (s) {
        case GW__REG_STATE__REG_REGISTERING:
                return LINE_REGISTERING;
        case GW__REG_STATE__REG_REGISTERED:
                return LINE_REGISTERED;
        case GW__REG_STATE__REG_FAILED:
                return LINE_FAILED;
        case GW__REG_STATE__REG_UNREGISTERED:
                return LINE_UNREGISTERED;
        default:
                return _LINE_STATE_INVALID;
        }
}

/* ---------------------------------------------------------------- policy, pure */

uint64_t regd_refresh_usec(uint64_t granted_usec, double r) {
        r = CLAMP(r, 0.0, 1.0);
        return (uint64_t) ((double) granted_usec * (0.45 + 0.10 * r));
}

void line_classify_outcome(const Gw__SipRequestOutcome *o, LineVerdict *ret) {
        LineVerdict v = { .action = LINE_ACTION_BACKOFF };

        assert(o);
        assert(ret);

        switch (o->kind) {
        case GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE:
                if (o->status_code >= 200 && o->status_code < 300)
                        v.action = LINE_ACTION_REGISTERED;
                else if (o->status_code == 423 && o->has_min_expires_s && o->min_expires_s > 0) {
                        v.action = LINE_ACTION_RETRY_NOW;
                        snprintf(v.reason, sizeof(v.reason), "423");
                } else if (o->status_code == 403) {
                        v.action = LINE_ACTION_FORBIDDEN;
                        snprintf(v.reason, sizeof(v.reason), "403");
                } else if (o->status_code == 401 || o->status_code == 407)
                        /* sigd answers challenges itself; one reaching us is an auth failure. */
                        snprintf(v.reason, sizeof(v.reason), "auth");
                else
                        snprintf(v.reason, sizeof(v.reason), "%u", o->status_code);
                break;
        case GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT:
                snprintf(v.reason, sizeof(v.reason), "timeout");
                break;
        case GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT:
                snprintf(v.reason, sizeof(v.reason), "transport");
                break;
        case GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED:
        case GW__SIP_OUTCOME_KIND__OUTCOME_NO_CREDENTIALS:
                snprintf(v.reason, sizeof(v.reason), "auth");
                break;
        case GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST:
                snprintf(v.reason, sizeof(v.reason), "bad-request");
                break;
        default:
                snprintf(v.reason, sizeof(v.reason), "unknown");
                break;
        }

        *ret = v;
}

/* ---------------------------------------------------------------- the entries (through the ops) */

static size_t line_active(const Line *l) {
        return l->entries->active(l->profile);
}

static bool line_searching(const Line *l) {
        return l->entries->searching(l->profile);
}

/* The entry as configured ("host:port"), "?" if there is no such entry. */
static const char *line_entry_address(const Line *l, size_t i) {
        const char *a = l->entries->address(l->profile, i);

        return a ?: "?";
}

/* ---------------------------------------------------------------- object */

static int random_hex(char *buf, size_t n_bytes) {
        uint8_t raw[32];
        ssize_t k;

        assert(n_bytes <= sizeof(raw));
        k = getrandom(raw, n_bytes, 0);
        if (k < 0)
                return -errno;
        if ((size_t) k != n_bytes)
                return -EIO;
        for (size_t i = 0; i < n_bytes; i++)
                sprintf(buf + 2 * i, "%02x", raw[i]);
        return 0;
}

int line_new(Manager *m, Profile *p, const GwProfileConf *pc, const LineEntriesOps *ops, const GwLineConf *c,
             Line **ret) {
        _cleanup_(line_freep) Line *l = NULL;
        const char *domain;
        char id[65];
        int r;

        assert(p);
        assert(pc);
        assert(ops);
        assert(c);
        assert(ret);

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->manager = m;
        l->profile = p;
        l->pconf = pc;
        l->entries = ops;
        l->conf = c;
        l->port = c->port;
        l->state = LINE_UNREGISTERED;
        l->expires_req_s = (uint32_t) MIN(pc->register_expires_us / USEC_PER_SEC, (uint64_t) INT32_MAX);

        domain = !isempty(pc->domain) ? pc->domain : pc->registrar.host;
        if (isempty(domain))
                domain = pc->proxy.host;
        l->number = strdup(strempty(c->number));
        if (!l->number)
                return -ENOMEM;
        if (asprintf(&l->aor, "sip:%s@%s", l->number, strempty(domain)) < 0) {
                l->aor = NULL;
                return -ENOMEM;
        }
        if (asprintf(&l->request_uri, "sip:%s", strempty(domain)) < 0) {
                l->request_uri = NULL;
                return -ENOMEM;
        }

        r = random_hex(id, 16);
        if (r < 0)
                return r;
        l->call_id = strdup(id);
        r = random_hex(id, 8);
        if (r < 0)
                return r;
        l->from_tag = strdup(id);
        if (!l->call_id || !l->from_tag)
                return -ENOMEM;

        *ret = TAKE_PTR(l);
        return 0;
}

Line *line_free(Line *l) {
        if (!l)
                return NULL;
        if (l->manager && l->req.kind != LINE_REQUEST_NONE)
                manager_cancel(l->manager, l);
        sd_event_source_disable_unref(l->timer);
        sd_event_source_disable_unref(l->req.lost_timer);
        free(l->number);
        free(l->aor);
        free(l->request_uri);
        free(l->call_id);
        free(l->from_tag);
        free(l);
        return NULL;
}

/* ---------------------------------------------------------------- logging */

/* SIP_CALL_ID= is the registration's Call-ID (one per line, kept across refreshes). */
#define line_log(l, level, message_id, ...) do {                                          \
                char _fl_[32], _fp_[96], _fx_[160], _fc_[320], _fm_[64];                   \
                const char *_f_[6] = { _fl_, _fp_, _fx_ };                                 \
                size_t _n_ = 3;                                                            \
                snprintf(_fl_, sizeof(_fl_), "GW_LINE=%u", (l)->port);                     \
                snprintf(_fp_, sizeof(_fp_), "GW_PROFILE=%s", strempty((l)->pconf->name)); \
                snprintf(_fx_, sizeof(_fx_), "GW_PROXY=%s",                                \
                         line_entry_address((l), line_active(l)));                          \
                if ((l)->call_id) {                                                        \
                        snprintf(_fc_, sizeof(_fc_), "SIP_CALL_ID=%s", (l)->call_id);      \
                        _f_[_n_++] = _fc_;                                                 \
                }                                                                          \
                if (message_id) {                                                          \
                        snprintf(_fm_, sizeof(_fm_), "MESSAGE_ID=%s", strempty(message_id)); \
                        _f_[_n_++] = _fm_;                                                 \
                }                                                                          \
                log_struct((level), _f_, __VA_ARGS__);                                     \
        } while (0)

/* ---------------------------------------------------------------- transitions */

static void line_set_state(Line *l, LineState s, const char *reason) {
        bool changed = l->state != s || !streq(l->reason, strempty(reason));

        l->state = s;
        snprintf(l->reason, sizeof(l->reason), "%s", strempty(reason));
        if (changed && l->manager)
                manager_line_changed(l->manager, l);
}

static int line_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Line *l = userdata;

        l->timer = sd_event_source_disable_unref(l->timer);
        (void) line_register(l);
        return 0;
}

/* The registration ran out while its refresh is still outstanding (sigd down,
 * or a long queue): say so now rather than when the refresh finally fails. */
static int line_on_expired(sd_event_source *s, uint64_t usec, void *userdata) {
        Line *l = userdata;

        l->timer = sd_event_source_disable_unref(l->timer);
        if (l->state != LINE_REGISTERED)
                return 0;
        line_log(l, LOG_WARNING, REGD_MESSAGE_REGISTRATION_LOST,
                 "Line %u ('%s'): registration lost (expired, the refresh is still unanswered).",
                 l->port, l->number);
        l->expires_at_real_us = 0;
        line_set_state(l, LINE_FAILED, "expired");
        return 0;
}

static int line_arm_timer_full(Line *l, uint64_t usec, sd_event_time_handler_t cb) {
        int r;

        l->timer = sd_event_source_disable_unref(l->timer);
        if (!l->manager || !l->manager->event)
                return 0;
        r = sd_event_add_time_relative(l->manager->event, &l->timer, CLOCK_MONOTONIC, usec,
                                       10 * USEC_PER_MSEC, cb, l);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the registration timer of line %u: %m", l->port);
        (void) sd_event_source_set_description(l->timer, "line-timer");
        return 0;
}

static int line_arm_timer(Line *l, uint64_t usec) {
        return line_arm_timer_full(l, usec, line_on_timer);
}

static double line_random(Line *l) {
        return l->manager ? manager_random(l->manager) : 0.5;
}

/* Registration failed (or was lost): show why, retry after 'delay'. */
static void line_fail(Line *l, const char *reason, uint64_t delay_usec, const char *detail) {
        bool was_registered = l->state == LINE_REGISTERED;

        l->failures++;
        l->expires_at_real_us = 0;
        if (was_registered)
                line_log(l, LOG_WARNING, REGD_MESSAGE_REGISTRATION_LOST,
                         "Line %u ('%s'): registration lost (%s%s%s), retrying in %" PRIu64 " ms.",
                         l->port, l->number, reason, detail ? ": " : "", strempty(detail),
                         delay_usec / USEC_PER_MSEC);
        else
                line_log(l, LOG_WARNING, REGD_MESSAGE_REGISTRATION_FAILED,
                         "Line %u ('%s'): registration failed (%s%s%s), attempt %u, retrying in %" PRIu64 " ms.",
                         l->port, l->number, reason, detail ? ": " : "", strempty(detail),
                         l->failures, delay_usec / USEC_PER_MSEC);
        line_set_state(l, LINE_FAILED, reason);
        (void) line_arm_timer(l, delay_usec);
}

static uint64_t line_backoff(Line *l) {
        const GwProfileConf *pc = l->pconf;

        return regd_backoff_usec(pc->register_retry_base_us, pc->register_retry_max_us,
                                 l->failures + 1, line_random(l));
}

bool line_wants_registration(const Line *l) {
        return l->pconf->register_lines;
}

/* The profile is searching: this line waits for it (the search renews every
 * line once it finds an entry). A registration that still runs is watched. */
static void line_wait_for_search(Line *l) {
        l->entries->wait(l->profile, l, true);
        if (l->state == LINE_REGISTERED && l->manager) {
                uint64_t now = manager_now(l->manager, CLOCK_REALTIME);

                (void) line_arm_timer_full(l, l->expires_at_real_us > now ? l->expires_at_real_us - now : 0,
                                           line_on_expired);
        } else
                l->timer = sd_event_source_disable_unref(l->timer);
}

int line_register(Line *l) {
        return line_register_to(l, line_active(l), REQUEST_NORMAL);
}

int line_register_to(Line *l, size_t index, RequestPurpose purpose) {
        char target[REGD_TARGET_MAX];
        int r;

        if (!line_wants_registration(l))
                return 0;
        if (l->manager && (l->manager->stopping || l->manager->stopped))
                return 0;
        if (l->req.kind != LINE_REQUEST_NONE)
                return 0;              /* one outstanding request per line */
        if (index >= l->entries->n_entries(l->profile))
                return -EINVAL;

        if (purpose == REQUEST_NORMAL && line_searching(l)) {
                line_wait_for_search(l);
                return 0;
        }

        l->timer = sd_event_source_disable_unref(l->timer);

        r = l->entries->use_target(l->profile, index, target, sizeof(target));
        if (r == -EAGAIN) {
                /* A name being resolved: its answer renews the waiting lines. */
                if (purpose == REQUEST_NORMAL)
                        line_wait_for_search(l);
                return 0;
        }
        if (r == -EADDRNOTAVAIL) {
                if (purpose != REQUEST_NORMAL)
                        return 0;
                /* The active entry cannot be reached: that is its failure, and
                 * the profile searches if it has something to search. */
                if (l->manager && l->entries->unresolved(l->profile, l)) {
                        line_set_state(l, l->state == LINE_REGISTERED ? l->state : LINE_FAILED, "dns");
                        line_wait_for_search(l);
                        return 0;
                }
                line_dns_failed(l);
                return 0;
        }
        if (r < 0) {
                line_fail(l, "target", line_backoff(l), "invalid registrar address");
                return 0;
        }

        l->entries->wait(l->profile, l, false);
        l->req = (LineRequest) {
                .kind = LINE_REQUEST_REGISTER,
                .expires_s = (int32_t) l->expires_req_s,
                .proxy_index = index,
                .purpose = purpose,
                .timeout_ms = (uint32_t) MIN(l->pconf->invite_total_timeout_us / USEC_PER_MSEC, (uint64_t) UINT32_MAX),
        };
        memcpy(l->req.target, target, sizeof(target));

        /* A retry keeps showing 'failed' and why until it has an outcome: the
         * state does not flap on every attempt. */
        if (l->state == LINE_UNREGISTERED)
                line_set_state(l, LINE_REGISTERING, NULL);
        else if (l->state == LINE_REGISTERED && l->manager) {
                /* Refreshing: watch the current registration's end meanwhile. */
                uint64_t now = manager_now(l->manager, CLOCK_REALTIME);

                (void) line_arm_timer_full(l, l->expires_at_real_us > now ? l->expires_at_real_us - now : 0,
                                           line_on_expired);
        }

        if (!l->manager)
                return 0;
        return manager_submit(l->manager, l);
}

void line_dns_failed(Line *l) {
        char detail[192];

        l->entries->wait(l->profile, l, false);
        l->entries->dns_detail(l->profile, detail, sizeof(detail));
        line_fail(l, "dns", line_backoff(l), detail);
}

uint64_t line_target_hash(const char *target) {
        uint64_t h = UINT64_C(14695981039346656037);        /* FNV-1a */

        for (const char *c = strempty(target); *c; c++)
                h = (h ^ (uint8_t) *c) * UINT64_C(1099511628211);
        return h;
}

uint32_t line_next_cseq(Line *l) {
        uint64_t h = line_target_hash(l->req.target);

        if (l->resend.cseq != 0 && (l->req.purpose == REQUEST_NORMAL || l->req.purpose == REQUEST_SEARCH)) {
                bool seen = false;

                for (size_t i = 0; i < l->resend.n_seen; i++)
                        seen = seen || l->resend.seen[i] == h;
                if (!seen)
                        return l->resend.cseq;
        }
        l->resend.cseq = 0;
        return ++l->cseq;
}

bool line_retarget(Line *l) {
        char target[REGD_TARGET_MAX];
        size_t active = line_active(l);

        if (l->req.kind != LINE_REQUEST_REGISTER || l->req.purpose != REQUEST_NORMAL)
                return true;
        if (line_searching(l)) {
                l->req.kind = LINE_REQUEST_NONE;
                l->req.correlation_id = 0;
                line_wait_for_search(l);
                return false;
        }
        if (l->req.proxy_index != active && l->entries->active_target(l->profile, target, sizeof(target)) >= 0) {
                l->req.proxy_index = active;
                memcpy(l->req.target, target, sizeof(target));
        }
        return true;
}

int line_start(Line *l) {
        if (!line_wants_registration(l))
                return 0;
        if (l->state == LINE_REGISTERED)
                return 0;              /* adopted from the state file: refresh already scheduled */
        return line_register(l);
}

int line_adopt_registration(Line *l, const char *target, uint64_t expires_at_real_us,
                            uint64_t now_real_us) {
        uint64_t remaining;

        assert(l);
        assert(target);

        if (expires_at_real_us <= now_real_us)
                return -ESTALE;
        remaining = expires_at_real_us - now_real_us;

        snprintf(l->target, sizeof(l->target), "%s", target);
        l->via_index = line_active(l);
        l->expires_at_real_us = expires_at_real_us;
        l->failures = 0;
        line_set_state(l, LINE_REGISTERED, NULL);
        return line_arm_timer(l, regd_refresh_usec(remaining, line_random(l)));
}

static void line_registered(Line *l, const LineRequest *q, const Gw__SipRequestOutcome *o) {
        bool was = l->state == LINE_REGISTERED;
        uint64_t granted_s, now;

        /* The registrar's expires for our Contact; without it, what we asked for. */
        granted_s = o->has_expires_s && o->expires_s > 0 ? (uint64_t) o->expires_s :
                    (uint64_t) MAX(q->expires_s, 1);
        now = l->manager ? manager_now(l->manager, CLOCK_REALTIME) : 0;

        snprintf(l->target, sizeof(l->target), "%s", q->target);
        l->via_index = q->proxy_index;
        l->expires_at_real_us = now + granted_s * USEC_PER_SEC;
        l->failures = 0;
        l->retry_now = 0;

        if (!was)
                line_log(l, LOG_NOTICE, REGD_MESSAGE_LINE_REGISTERED,
                         "Line %u ('%s') registered at %s via '%s' for %" PRIu64 " s.",
                         l->port, l->number, l->target,
                         line_entry_address(l, l->via_index), granted_s);
        else
                log_debug("Line %u refreshed at %s for %" PRIu64 " s.", l->port, l->target, granted_s);

        line_set_state(l, LINE_REGISTERED, NULL);
        if (was && l->manager)
                manager_line_changed(l->manager, l);   /* expires_at moved */
        (void) line_arm_timer(l, regd_refresh_usec(granted_s * USEC_PER_SEC, line_random(l)));
}

RequestPurpose line_request_purpose(const Line *l) {
        return l->req.kind == LINE_REQUEST_REGISTER ? l->req.purpose : REQUEST_NORMAL;
}

LineRequestKind line_handle_outcome(Line *l, const Gw__SipRequestOutcome *o, PolicyLineAction act) {
        LineRequest q = l->req;
        LineVerdict v;
        char detail[128] = "";
        uint64_t delay;

        assert(o);

        l->req.kind = LINE_REQUEST_NONE;
        l->req.lost_timer = sd_event_source_disable_unref(l->req.lost_timer);
        if (o->has_cseq && o->cseq > l->cseq)
                l->cseq = o->cseq;

        line_classify_outcome(o, &v);
        if (q.kind == LINE_REQUEST_REGISTER && q.cseq != 0 &&
            (q.purpose == REQUEST_NORMAL || q.purpose == REQUEST_SEARCH) &&
            policy_classify_sip(o, q.purpose) == GW_VERDICT_FAILED) {
                if (l->resend.cseq != q.cseq) {
                        l->resend.cseq = q.cseq;
                        l->resend.n_seen = 0;
                }
                if (l->resend.n_seen < ELEMENTSOF(l->resend.seen))
                        l->resend.seen[l->resend.n_seen++] = line_target_hash(q.target);
        } else if (q.kind == LINE_REQUEST_REGISTER)
                l->resend.cseq = 0;        /* answered: the next REGISTER is a new request */

        if (q.kind == LINE_REQUEST_UNREGISTER) {
                /* Stopping: whatever the answer, we no longer hold a registration. */
                if (v.action == LINE_ACTION_REGISTERED)
                        log_debug("Line %u un-REGISTERed at %s.", l->port, q.target);
                else
                        log_warning("Line %u: un-REGISTER at %s not confirmed (%s).",
                                    l->port, q.target, v.reason);
                l->expires_at_real_us = 0;
                line_set_state(l, LINE_UNREGISTERED, NULL);
                return q.kind;
        }
        if (q.kind != LINE_REQUEST_REGISTER)
                return q.kind;

        if (o->kind == GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT && !isempty(o->error))
                snprintf(detail, sizeof(detail), "%s", o->error);
        else if (o->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE && !isempty(o->reason_phrase))
                snprintf(detail, sizeof(detail), "%u %s", o->status_code, o->reason_phrase);

        switch (act) {
        case POLICY_LINE_WAIT:
                /* The entry failed: the profile's search finds the next one. */
                l->retry_now = 0;
                if (l->state != LINE_FAILED || !streq(l->reason, v.reason)) {
                        if (l->state == LINE_REGISTERED)
                                line_log(l, LOG_WARNING, REGD_MESSAGE_REGISTRATION_LOST,
                                         "Line %u ('%s'): registration lost (%s%s%s), waiting for the failover search.",
                                         l->port, l->number, v.reason, detail[0] ? ": " : "", detail);
                        else
                                line_log(l, LOG_WARNING, REGD_MESSAGE_REGISTRATION_FAILED,
                                         "Line %u ('%s'): registration failed (%s%s%s), waiting for the failover search.",
                                         l->port, l->number, v.reason, detail[0] ? ": " : "", detail);
                        l->expires_at_real_us = 0;
                        line_set_state(l, LINE_FAILED, v.reason);
                }
                line_wait_for_search(l);
                return q.kind;
        case POLICY_LINE_AGAIN:
                log_debug("Line %u: entry '%s' was left meanwhile, registering at the active one.",
                          l->port, line_entry_address(l, q.proxy_index));
                (void) line_register(l);
                return q.kind;
        case POLICY_LINE_KEEP:
                /* A homing check: the registration at the active entry stands. */
                if (l->state == LINE_REGISTERED && l->manager) {
                        uint64_t now = manager_now(l->manager, CLOCK_REALTIME);

                        if (l->expires_at_real_us > now + l->pconf->invite_total_timeout_us + REGD_STATE_MARGIN_USEC) {
                                (void) line_arm_timer(l, regd_refresh_usec(l->expires_at_real_us - now, line_random(l)));
                                return q.kind;
                        }
                }
                (void) line_register(l);
                return q.kind;
        default:
                break;
        }

        switch (v.action) {
        case LINE_ACTION_REGISTERED:
                line_registered(l, &q, o);
                /* Registered through an entry that is not (or no longer) the
                 * active one: renew at the active entry now. */
                if (l->via_index != line_active(l) && !line_searching(l))
                        (void) line_register(l);
                break;

        case LINE_ACTION_RETRY_NOW:
                if (l->retry_now < REGD_RETRY_NOW_MAX && (uint32_t) o->min_expires_s != l->expires_req_s) {
                        l->retry_now++;
                        log_info("Line %u: registrar wants expires of at least %d s, asking again.",
                                 l->port, o->min_expires_s);
                        l->expires_req_s = (uint32_t) o->min_expires_s;
                        (void) line_register(l);
                        break;
                }
                /* A registrar that keeps saying 423 to its own Min-Expires: back off. */
                l->retry_now = 0;
                line_fail(l, "423", line_backoff(l), "repeated 423 Interval Too Brief");
                break;

        case LINE_ACTION_FORBIDDEN:
                l->retry_now = 0;
                line_fail(l, v.reason, l->pconf->register_forbidden_retry_us, detail[0] ? detail : NULL);
                break;

        case LINE_ACTION_BACKOFF:
        default:
                l->retry_now = 0;
                delay = line_backoff(l);
                if (o->has_retry_after_s && o->retry_after_s > 0)
                        delay = MAX(delay, (uint64_t) o->retry_after_s * USEC_PER_SEC);
                line_fail(l, v.reason, delay, detail[0] ? detail : NULL);
                break;
        }

        return q.kind;
}

int line_unregister(Line *l, uint32_t timeout_ms) {
        bool pending_register = l->req.kind == LINE_REQUEST_REGISTER;
        char target[REGD_TARGET_MAX];
        size_t index;

        l->timer = sd_event_source_disable_unref(l->timer);

        if (l->state == LINE_REGISTERED) {
                memcpy(target, l->target, sizeof(target));
                index = l->via_index;
        } else if (pending_register && l->req.in_flight) {
                /* A REGISTER is on its way: it may create a binding, so remove it too. */
                memcpy(target, l->req.target, sizeof(target));
                index = l->req.proxy_index;
        } else {
                if (l->req.kind != LINE_REQUEST_NONE && l->manager)
                        manager_cancel(l->manager, l);
                return 0;
        }
        if (target[0] == 0)
                return 0;

        if (l->req.kind != LINE_REQUEST_NONE) {
                bool was_in_flight = l->req.in_flight;

                if (l->manager)
                        manager_cancel(l->manager, l);
                /* The abandoned transaction may still use CSeq+1 for its
                 * authenticated retry: stay above it. */
                if (was_in_flight)
                        l->cseq++;
        }

        l->req = (LineRequest) {
                .kind = LINE_REQUEST_UNREGISTER,
                .expires_s = 0,
                .proxy_index = index,
                .timeout_ms = timeout_ms,
        };
        memcpy(l->req.target, target, sizeof(target));

        if (l->manager) {
                int r = manager_submit(l->manager, l);
                if (r < 0)
                        return r;
        }
        return 1;
}

void line_stop(Line *l) {
        l->timer = sd_event_source_disable_unref(l->timer);
        if (l->req.kind != LINE_REQUEST_NONE && l->manager)
                manager_cancel(l->manager, l);
        l->expires_at_real_us = 0;
        line_set_state(l, LINE_UNREGISTERED, NULL);
}

const char *line_registered_via(const Line *l) {
        if (l->state != LINE_REGISTERED)
                return NULL;
        return l->entries->address(l->profile, l->via_index);
}

void line_registration_fill(Line *l, Gw__LineRegistration *ret) {
        gw__line_registration__init(ret);
        ret->port = l->port;
        ret->number = l->number;
        ret->state = line_state_to_proto(l->state);
        ret->profile = UNCONST(l->pconf->name);
        if (l->reason[0])
                ret->reason = l->reason;
        if (l->state == LINE_REGISTERED) {
                ret->registered_via = UNCONST(line_registered_via(l));
                ret->target = l->target;
                ret->has_expires_at_real_us = true;
                ret->expires_at_real_us = l->expires_at_real_us;
        }
}

void line_status_fill(Line *l, uint64_t now_real_us, Gw__LineStatus *ret) {
        gw__line_status__init(ret);
        ret->port = l->port;
        ret->number = l->number;
        ret->registration = line_state_to_proto(l->state);
        ret->profile = UNCONST(l->pconf->name);
        if (l->reason[0])
                ret->reason = l->reason;
        ret->has_expires_in_s = true;
        ret->expires_in_s = -1;
        if (l->state == LINE_REGISTERED) {
                ret->registered_via = UNCONST(line_registered_via(l));
                if (l->expires_at_real_us > now_real_us)
                        ret->expires_in_s = (int64_t) ((l->expires_at_real_us - now_real_us) / USEC_PER_SEC);
                else
                        ret->expires_in_s = 0;
        }
}
