/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-profile.c: a SIP profile, its ordered proxy entries, and the carrying
 * out of the redundancy policy.
 *
 * What to do about an outcome is decided in regd-policy.c (pure, its opening
 * comment states the policy); this file feeds it what the profile knows
 * (profile_view), applies the PolicyDecision (switch, search, hold, homing)
 * and owns the timers: the search, the periodic checks, the renewal of every
 * line after a switch, and the OPTIONS probes. Outcomes arrive from the
 * manager: a line's (profile_record_outcome, called by the manager before the
 * line acts on the PolicyLineAction it returns), a probe's
 * (profile_probe_outcome), a call's (profile_entry_report). Lines ask the
 * profile about the entries only through profile_line_ops (LineEntriesOps). */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "gw-bus.h"
#include "gw-log.h"
#include "regd-line.h"
#include "regd-manager.h"
#include "regd-profile.h"

static const char *const probe_kind_table[_PROBE_KIND_MAX] = {
        [PROBE_CHECK] = "check",
        [PROBE_HOME] = "home",
        [PROBE_SEARCH] = "search",
};

const char *probe_kind_to_string(ProbeKind k) {
        return (unsigned) k < _PROBE_KIND_MAX ? probe_kind_table[k] : NULL;
}

static void profile_entry_answered(Profile *p, Proxy *x, bool resolved);

int profile_new(Manager *m, const GwProfileConf *c, Profile **ret) {
        _cleanup_(profile_freep) Profile *p = NULL;
        int r;

        assert(c);
        assert(ret);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->manager = m;
        p->conf = c;
        p->name = strdup(strempty(c->name));
        if (!p->name)
                return -ENOMEM;

        r = proxy_new(p, 0, &c->proxy, &p->proxies[0]);
        if (r < 0)
                return r;
        p->n_proxies = 1;
        for (size_t i = 0; i < c->n_redundant && p->n_proxies < ELEMENTSOF(p->proxies); i++) {
                r = proxy_new(p, p->n_proxies, &c->redundant[i], &p->proxies[p->n_proxies]);
                if (r < 0)
                        return r;
                p->n_proxies++;
        }
        p->active = 0;
        p->dirty = true;
        r = resolve_entries_init(p, profile_entry_answered);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

Profile *profile_free(Profile *p) {
        if (!p)
                return NULL;
        sd_event_source_disable_unref(p->search.timer);
        sd_event_source_disable_unref(p->check_timer);
        sd_event_source_disable_unref(p->renew_timer);
        for (size_t i = 0; i < ELEMENTSOF(p->probes); i++)
                sd_event_source_disable_unref(p->probes[i].lost_timer);
        for (size_t i = 0; i < p->n_proxies; i++)
                proxy_free(p->proxies[i]);
        free(p->name);
        free(p);
        return NULL;
}

Proxy *profile_active_proxy(const Profile *p) {
        assert(p->active < p->n_proxies);
        return p->proxies[p->active];
}

/* ---------------------------------------------------------------- what lines ask (LineEntriesOps) */

static size_t profile_line_n_entries(const Profile *p) {
        return p->n_proxies;
}

static size_t profile_line_active(const Profile *p) {
        return p->active;
}

static bool profile_line_searching(const Profile *p) {
        return p->search.on;
}

static const char *profile_line_address(const Profile *p, size_t i) {
        return i < p->n_proxies ? proxy_address(p->proxies[i]) : NULL;
}

bool profile_line_waits(const Profile *p, const Line *l) {
        return l->index < GW_CONF_MAX_LINES && (p->search.waiting[l->index / 64] >> (l->index % 64)) & 1;
}

static void profile_line_wait(Profile *p, const Line *l, bool on) {
        uint64_t bit = UINT64_C(1) << (l->index % 64);

        assert(l->index < GW_CONF_MAX_LINES);
        if (on)
                p->search.waiting[l->index / 64] |= bit;
        else
                p->search.waiting[l->index / 64] &= ~bit;
}

static bool profile_line_unresolved(Profile *p, Line *l) {
        profile_search_start(p, "dns", l);
        return p->search.on;
}

static void profile_line_dns_detail(const Profile *p, char *buf, size_t n) {
        snprintf(buf, n, "'%s' does not resolve: %s", resolve_active_hostport(p)->text,
                 resolve_error_to_string(profile_active_proxy(p)->dns_error));
}

const LineEntriesOps profile_line_ops = {
        .n_entries = profile_line_n_entries,
        .active = profile_line_active,
        .searching = profile_line_searching,
        .address = profile_line_address,
        .use_target = resolve_entry_use_target,
        .active_target = resolve_active_target,
        .unresolved = profile_line_unresolved,
        .dns_detail = profile_line_dns_detail,
        .wait = profile_line_wait,
};

/* ---------------------------------------------------------------- helpers */

static uint64_t profile_now(Profile *p) {
        return p->manager ? manager_now(p->manager, CLOCK_MONOTONIC) : now_usec(CLOCK_MONOTONIC);
}

static bool profile_may_send(const Profile *p) {
        return p->manager && p->manager->event && !p->manager->stopping && !p->manager->stopped &&
               !p->manager->exiting;
}

static uint32_t profile_timeout_ms(const Profile *p) {
        return (uint32_t) MIN(p->conf->invite_total_timeout_us / USEC_PER_MSEC, (uint64_t) UINT32_MAX);
}

/* What the policy needs to know of p. */
static PolicyView profile_view(const Profile *p) {
        return (PolicyView) {
                .n_entries = p->n_proxies,
                .active = p->active,
                .active_n_targets = profile_active_proxy(p)->n_targets,
                .searching = p->search.on,
                .may_send = profile_may_send(p),
                .mode = p->conf->redundancy_mode,
                .keepalive = p->conf->keepalive,
                .homing_confirm = p->conf->homing_confirm,
                .homing_good = p->homing_good,
        };
}

static bool proxy_held(const Proxy *x, uint64_t now) {
        return x->down_until_mono_us > now;
}

/* Arm (or re-arm) *s to fire at the absolute monotonic time 'when'. */
static int profile_arm(Profile *p, sd_event_source **s, uint64_t when, sd_event_time_handler_t cb,
                       const char *description) {
        int r;

        if (!p->manager || !p->manager->event)
                return 0;
        if (*s) {
                r = sd_event_source_set_time(*s, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
                if (r >= 0)
                        return 0;
                *s = sd_event_source_disable_unref(*s);
        }
        r = sd_event_add_time(p->manager->event, s, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC, cb, p);
        if (r < 0)
                return log_error_errno(r, "Failed to arm a timer of profile '%s': %m", p->name);
        (void) sd_event_source_set_description(*s, description);
        return 0;
}

static void profile_disarm(sd_event_source *s) {
        if (s)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

/* The first line of the profile that registers and has no request outstanding. */
static Line *profile_idle_line(Profile *p, Line *prefer) {
        Manager *m = p->manager;

        if (prefer && prefer->profile == p && line_wants_registration(prefer) &&
            prefer->req.kind == LINE_REQUEST_NONE)
                return prefer;
        for (size_t i = 0; m && i < m->n_lines; i++) {
                Line *l = m->lines[i];

                if (l->profile == p && line_wants_registration(l) && l->req.kind == LINE_REQUEST_NONE)
                        return l;
        }
        return NULL;
}

static Line *profile_first_line(Profile *p) {
        Manager *m = p->manager;

        for (size_t i = 0; m && i < m->n_lines; i++)
                if (m->lines[i]->profile == p && line_wants_registration(m->lines[i]))
                        return m->lines[i];
        return NULL;
}

#define profile_log(p, level, message_id, proxy, reason, ...) do {                          \
                char _fp_[96], _fx_[160], _fr_[48], _fm_[64];                                 \
                snprintf(_fp_, sizeof(_fp_), "GW_PROFILE=%s", (p)->name);                     \
                snprintf(_fx_, sizeof(_fx_), "GW_PROXY=%s", (proxy));                          \
                snprintf(_fr_, sizeof(_fr_), "GW_REASON=%s", (reason));                        \
                snprintf(_fm_, sizeof(_fm_), "MESSAGE_ID=%s", (message_id));                   \
                log_struct((level), ((const char *[]) { _fp_, _fx_, _fr_, _fm_, NULL }),       \
                           __VA_ARGS__);                                                       \
        } while (0)

/* ---------------------------------------------------------------- probes (OPTIONS) */

static int profile_on_probe_lost(sd_event_source *s, uint64_t usec, void *userdata);

static int profile_send_probe(Profile *p, ProbeKind k, size_t index) {
        ProfileProbe *pr = &p->probes[k];
        char target[REGD_TARGET_MAX];
        uint64_t cid;
        int r;

        if (pr->in_flight)
                return -EBUSY;
        if (!profile_may_send(p))
                return -EAGAIN;
        r = resolve_entry_use_target(p, index, target, sizeof(target));
        if (r < 0)
                return r;

        cid = manager_new_correlation_id(p->manager);
        r = manager_send_options(p->manager, p, cid, target, profile_timeout_ms(p));
        if (r < 0)
                return r;
        proxy_note_sent(p->proxies[index], target, profile_now(p));
        p->dirty = true;
        pr->in_flight = true;
        pr->correlation_id = cid;
        pr->index = index;
        (void) profile_arm(p, &pr->lost_timer,
                           profile_now(p) + p->conf->invite_total_timeout_us + p->manager->lost_grace_usec,
                           profile_on_probe_lost, "probe-lost");
        return 0;
}

static void profile_search_schedule(Profile *p, uint64_t when);

static int profile_on_probe_lost(sd_event_source *s, uint64_t usec, void *userdata) {
        Profile *p = userdata;

        /* sigd lost it (restarting): nothing learned about the entry. */
        for (size_t k = 0; k < ELEMENTSOF(p->probes); k++) {
                ProfileProbe *pr = &p->probes[k];

                if (pr->lost_timer != s || !pr->in_flight)
                        continue;
                pr->in_flight = false;
                log_debug("Profile '%s': no outcome for the %s OPTIONS, nothing learned.",
                          p->name, probe_kind_to_string((ProbeKind) k));
                if (k == PROBE_SEARCH && p->search.on) {
                        p->search.in_flight = false;
                        profile_search_schedule(p, profile_now(p));
                }
        }
        return 0;
}

/* ---------------------------------------------------------------- switching */

static int profile_on_renew(sd_event_source *s, uint64_t usec, void *userdata) {
        Profile *p = userdata;
        Manager *m = p->manager;
        char target[REGD_TARGET_MAX];
        unsigned n = 0;

        if (!profile_may_send(p) || p->search.on)
                return 0;
        if (resolve_active_target(p, target, sizeof(target)) < 0)
                target[0] = 0;
        /* Bounded by the number of lines; the window paces what goes out. */
        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = m->lines[i];

                if (l->profile != p || !line_wants_registration(l) || l->req.kind != LINE_REQUEST_NONE)
                        continue;
                if (l->state == LINE_REGISTERED && l->via_index == p->active && streq(l->target, target) &&
                    !profile_line_waits(p, l))
                        continue;
                profile_line_wait(p, l, false);
                (void) line_register(l);
                n++;
        }
        log_debug("Profile '%s': %u line(s) renew at '%s'.", p->name, n, proxy_address(profile_active_proxy(p)));
        return 0;
}

static void profile_restart_checks(Profile *p);

/* Make entry i active. reason: why we left the old one ("homing" to go back). */
static void profile_switch(Profile *p, size_t i, const char *reason) {
        size_t old = p->active;
        bool was_searching = p->search.on;
        char target[REGD_TARGET_MAX] = "";

        assert(i < p->n_proxies);

        p->search.on = false;
        p->search.in_flight = false;
        p->search.line = NULL;
        profile_disarm(p->search.timer);
        p->homing_good = 0;
        p->dirty = true;
        (void) resolve_entry_target(p, i, target, sizeof(target));

        if (old == i) {
                if (was_searching && p->search.from_target[0] && target[0] &&
                    !streq(p->search.from_target, target)) {
                        /* The same entry, another of its targets (DNS). */
                        profile_log(p, LOG_WARNING, REGD_MESSAGE_FAILOVER, proxy_address(p->proxies[i]), reason,
                                    "Profile '%s': failover within '%s' from %s to %s (%s).",
                                    p->name, proxy_address(p->proxies[i]), p->search.from_target, target, reason);
                        if (p->manager && p->manager->cb.proxy_switched)
                                p->manager->cb.proxy_switched(p->manager, p, old, i, reason, p->manager->userdata);
                } else
                        log_info("Profile '%s': entry '%s' answers again, staying on it.",
                                 p->name, proxy_address(p->proxies[i]));
        } else {
                p->active = i;
                if (streq(reason, "homing"))
                        profile_log(p, LOG_NOTICE, REGD_MESSAGE_HOMING_RETURN, proxy_address(p->proxies[i]), reason,
                                    "Profile '%s': main entry '%s' is back, returning to it from '%s' (homing).",
                                    p->name, proxy_address(p->proxies[i]), proxy_address(p->proxies[old]));
                else {
                        p->proxies[old]->counters.failovers++;
                        profile_log(p, LOG_WARNING, REGD_MESSAGE_FAILOVER, proxy_address(p->proxies[i]), reason,
                                    "Profile '%s': failover from '%s' to '%s' at %s (%s).",
                                    p->name, proxy_address(p->proxies[old]), proxy_address(p->proxies[i]),
                                    target[0] ? target : "?", reason);
                }
                if (p->manager) {
                        if (p->manager->cb.proxy_switched)
                                p->manager->cb.proxy_switched(p->manager, p, old, i, reason, p->manager->userdata);
                        manager_mark_dirty(p->manager);        /* the state file keeps the active entry */
                }
        }

        profile_restart_checks(p);
        if (profile_may_send(p))
                (void) profile_arm(p, &p->renew_timer, profile_now(p), profile_on_renew, "profile-renew");
}

/* ---------------------------------------------------------------- the search */

static int profile_on_search_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void profile_search_schedule(Profile *p, uint64_t when) {
        (void) profile_arm(p, &p->search.timer, when, profile_on_search_timer, "profile-search");
}

bool profile_has_alternatives(const Profile *p) {
        PolicyView v = profile_view(p);

        return policy_has_alternatives(&v);
}

void profile_search_start(Profile *p, const char *reason, Line *l) {
        PolicyView v = profile_view(p);
        Proxy *a = profile_active_proxy(p);

        if (p->search.on || !policy_has_alternatives(&v) || !profile_may_send(p))
                return;
        p->search.on = true;
        p->search.in_flight = false;
        p->search.resolving = false;
        snprintf(p->search.reason, sizeof(p->search.reason), "%s", strempty(reason));
        snprintf(p->search.from_target, sizeof(p->search.from_target), "%s", strempty(proxy_current_target(a)));
        if (policy_search_start(&v, a->cur_target + 1 < a->n_targets, &p->search.cursor) == POLICY_STEP_TARGET)
                a->cur_target++;
        else
                a->cur_target = 0;
        p->search.line = l;
        p->homing_good = 0;
        p->dirty = true;
        profile_disarm(p->check_timer);
        log_warning("Profile '%s': active entry '%s' failed (%s), searching from '%s'.",
                    p->name, proxy_address(a), p->search.reason, proxy_address(p->proxies[p->search.cursor.next]));
        profile_search_schedule(p, profile_now(p));
}

/* The current target of the entry being tried failed (or the entry did not
 * resolve, or was skipped): move on as the policy says. */
static void profile_search_advance(Profile *p, uint64_t now) {
        Proxy *x = p->proxies[p->search.cursor.next];
        uint64_t wait = 0;

        p->search.in_flight = false;
        p->search.resolving = false;
        switch (policy_search_advance(&p->search.cursor, p->n_proxies, x->cur_target + 1 < x->n_targets,
                                      proxy_held(x, now), p->conf->register_retry_base_us,
                                      p->conf->register_retry_max_us,
                                      p->manager ? manager_random(p->manager) : 0.5, &wait)) {
        case POLICY_STEP_TARGET:
                x->cur_target++;
                profile_search_schedule(p, now);
                return;
        case POLICY_STEP_ENTRY:
                x->cur_target = 0;       /* next time, from its first target again */
                profile_search_schedule(p, now);
                return;
        default:
                break;
        }

        x->cur_target = 0;
        p->dirty = true;
        profile_log(p, LOG_WARNING, REGD_MESSAGE_SEARCH_EXHAUSTED, proxy_address(profile_active_proxy(p)),
                    p->search.reason,
                    "Profile '%s': no entry of %zu answered (cycle %u), searching again in %" PRIu64 " ms.",
                    p->name, p->n_proxies, p->search.cursor.cycles, wait / USEC_PER_MSEC);
        profile_search_schedule(p, now + wait);
}

/* Entry x does not resolve: it failed with 'dns'. */
static void profile_entry_note_dns_failure(Profile *p, Proxy *x) {
        x->health = PROXY_HEALTH_DOWN;
        snprintf(x->last_failure_reason, sizeof(x->last_failure_reason), "dns");
        x->last_failure_real_us = p->manager ? manager_now(p->manager, CLOCK_REALTIME) : 0;
        p->dirty = true;
}

static int profile_on_search_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Profile *p = userdata;
        uint64_t now = profile_now(p), when;
        size_t i = p->search.cursor.next;
        Proxy *x = p->proxies[i];
        char target[REGD_TARGET_MAX];
        const ProxyTarget *t;
        Line *l;
        int r;

        if (!p->search.on || p->search.in_flight || !profile_may_send(p))
                return 0;

        if (proxy_held(x, now)) {
                log_debug("Profile '%s': skipping '%s' (Retry-After, %" PRIu64 " ms left).",
                          p->name, proxy_address(x), (x->down_until_mono_us - now) / USEC_PER_MSEC);
                profile_search_advance(p, now);
                return 0;
        }
        r = resolve_entry_use_target(p, i, target, sizeof(target));
        if (r == -EAGAIN) {
                /* A name being resolved: its answer resumes the search. */
                p->search.in_flight = true;
                p->search.resolving = true;
                return 0;
        }
        if (r < 0) {
                profile_entry_note_dns_failure(p, x);
                log_warning("Profile '%s': entry '%s' cannot be resolved (dns), trying the next one.",
                            p->name, proxy_address(x));
                profile_search_advance(p, now);
                return 0;
        }
        t = &x->targets[x->cur_target];
        when = policy_search_when(t->last_attempt_mono_us, p->manager->search_spacing_usec, now);
        if (when > now) {
                profile_search_schedule(p, when);
                return 0;
        }

        log_debug("Profile '%s': search attempt at '%s' (%s).", p->name, proxy_address(x), target);
        l = profile_idle_line(p, p->search.line);
        if (l) {
                p->search.line = l;
                p->search.in_flight = true;
                r = line_register_to(l, i, REQUEST_SEARCH);
                if (r >= 0 && l->req.kind != LINE_REQUEST_NONE)
                        return 0;
                p->search.in_flight = false;
        }
        r = profile_send_probe(p, PROBE_SEARCH, i);
        if (r >= 0) {
                p->search.in_flight = true;
                return 0;
        }
        /* Holding for sigd, or the probe slot is busy: try again shortly. */
        profile_search_schedule(p, now + 100 * USEC_PER_MSEC);
        return 0;
}

/* ---------------------------------------------------------------- DNS answers */

static void profile_entry_resolved(Profile *p, Proxy *x) {
        if (!profile_may_send(p))
                return;
        if (p->search.on) {
                if (p->search.resolving && p->search.cursor.next == x->index) {
                        p->search.in_flight = false;
                        p->search.resolving = false;
                        profile_search_schedule(p, profile_now(p));
                }
                return;
        }
        /* Lines that waited for the active entry's first answer register now. */
        if (x->index == p->active)
                (void) profile_arm(p, &p->renew_timer, profile_now(p), profile_on_renew, "profile-renew");
}

static void profile_entry_dns_failed(Profile *p, Proxy *x) {
        Manager *m = p->manager;

        profile_entry_note_dns_failure(p, x);
        if (!profile_may_send(p))
                return;
        if (p->search.on) {
                if (p->search.resolving && p->search.cursor.next == x->index) {
                        log_warning("Profile '%s': entry '%s' cannot be resolved (dns), trying the next one.",
                                    p->name, proxy_address(x));
                        profile_search_advance(p, profile_now(p));
                }
                return;
        }
        if (x->index != p->active)
                return;
        if (p->n_proxies > 1) {
                profile_search_start(p, "dns", NULL);
                return;
        }
        /* Nothing else to try: the waiting lines fail with 'dns' and back off. */
        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = m->lines[i];

                if (l->profile == p && profile_line_waits(p, l) && l->req.kind == LINE_REQUEST_NONE)
                        line_dns_failed(l);
        }
}

/* The resolver's answer for x (ResolveAnswerFn): the search resumes, or the
 * lines that waited for the answer renew. */
static void profile_entry_answered(Profile *p, Proxy *x, bool resolved) {
        if (resolved)
                profile_entry_resolved(p, x);
        else
                profile_entry_dns_failed(p, x);
}

/* ---------------------------------------------------------------- checks */

static int profile_on_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Profile *p = userdata;
        const GwProfileConf *c = p->conf;
        uint64_t now = profile_now(p);
        PolicyCheck home, check;
        PolicyView v;
        Line *l;

        if (!profile_may_send(p))
                return 0;
        (void) profile_arm(p, &p->check_timer, now + c->keepalive_period_us, profile_on_check, "profile-check");
        if (p->search.on)
                return 0;

        /* With 'register' the homing check goes first, so the first line
         * carries it; the check of the active entry then takes the next idle line. */
        v = profile_view(p);
        policy_checks(&v, proxy_held(p->proxies[0], now), proxy_held(profile_active_proxy(p), now), &home, &check);
        if (home == POLICY_CHECK_REGISTER) {
                l = profile_first_line(p);
                if (l && l->req.kind == LINE_REQUEST_NONE)
                        (void) line_register_to(l, 0, REQUEST_HOME_REGISTER);
        } else if (home == POLICY_CHECK_OPTIONS)
                (void) profile_send_probe(p, PROBE_HOME, 0);

        if (check == POLICY_CHECK_REGISTER && (l = profile_idle_line(p, NULL)))
                (void) line_register(l);
        else if (check == POLICY_CHECK_OPTIONS)
                (void) profile_send_probe(p, PROBE_CHECK, p->active);
        return 0;
}

static void profile_restart_checks(Profile *p) {
        if (p->conf->keepalive == KEEPALIVE_OFF || p->conf->keepalive_period_us == 0 || !profile_may_send(p))
                return;
        (void) profile_arm(p, &p->check_timer, profile_now(p) + p->conf->keepalive_period_us,
                           profile_on_check, "profile-check");
}

int profile_start(Profile *p) {
        resolve_all(p);
        profile_restart_checks(p);
        return 0;
}

void profile_stop(Profile *p) {
        p->search.on = false;
        p->search.in_flight = false;
        p->search.line = NULL;
        profile_disarm(p->search.timer);
        profile_disarm(p->check_timer);
        profile_disarm(p->renew_timer);
        p->dirty = true;
}

/* ---------------------------------------------------------------- reload */

static const char *entry_text(const GwProfileConf *c, size_t i) {
        return i == 0 ? c->proxy.text : c->redundant[i - 1].text;
}

/* Where a request of the main entry goes: the registrar if one is given. */
static const char *main_dest_text(const GwProfileConf *c) {
        return !isempty(c->registrar.host) ? c->registrar.text : c->proxy.text;
}

/* Where entry i's requests go (what its targets were resolved from). */
static const char *entry_dest_text(const GwProfileConf *c, size_t i) {
        return i == 0 ? main_dest_text(c) : entry_text(c, i);
}

int profile_reconfigure(Profile *p, const GwProfileConf *c, size_t ret_remap[GW_CONF_MAX_PROXIES],
                        bool *ret_entries_changed) {
        const GwProfileConf *old = p->conf;
        Proxy *next[GW_CONF_MAX_PROXIES] = {};
        size_t n = 1 + MIN(c->n_redundant, (size_t) GW_CONF_MAX_PROXIES - 1), active = 0;
        bool same = n == p->n_proxies && streq_ptr(main_dest_text(old), main_dest_text(c)), active_kept = false;
        char target[REGD_TARGET_MAX] = "";
        int r;

        for (size_t i = 0; same && i < n; i++)
                same = streq_ptr(entry_text(c, i), proxy_address(p->proxies[i]));
        for (size_t i = 0; i < GW_CONF_MAX_PROXIES; i++)
                ret_remap[i] = i < p->n_proxies && same ? i : SIZE_MAX;
        *ret_entries_changed = !same;

        if (same) {
                /* Only settings: mode, keepalive, timers. The main entry's destination
                 * may point into the old config: the new one has the same text. */
                p->conf = c;
                if (p->n_proxies > 0 && p->proxies[0]->dest != &p->proxies[0]->hp)
                        p->proxies[0]->dest = &c->registrar;
                if (old->keepalive != c->keepalive || old->keepalive_period_us != c->keepalive_period_us ||
                    old->redundancy_mode != c->redundancy_mode) {
                        profile_disarm(p->check_timer);
                        profile_restart_checks(p);
                }
                p->dirty = true;
                return 0;
        }

        /* A new list: an entry still listed keeps its object (health, counters,
         * resolution) under its new index; the others are new. */
        for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < p->n_proxies; k++) {
                        Proxy *x = p->proxies[k];

                        /* The same entry, resolved from the same name: its state holds. */
                        if (!x || !streq_ptr(entry_text(c, i), proxy_address(x)) ||
                            !streq_ptr(entry_dest_text(old, k), entry_dest_text(c, i)))
                                continue;
                        next[i] = x;
                        p->proxies[k] = NULL;
                        ret_remap[k] = i;
                        if (k == p->active) {
                                active = i;
                                active_kept = true;
                        }
                        break;
                }
                if (next[i])
                        continue;
                r = proxy_new(p, (unsigned) i, i == 0 ? &c->proxy : &c->redundant[i - 1], &next[i]);
                if (r < 0) {
                        /* Put back what was taken: the profile stays as it was. */
                        for (size_t j = 0; j < n; j++)
                                for (size_t k = 0; k < GW_CONF_MAX_PROXIES && next[j]; k++)
                                        if (ret_remap[k] == j && k < p->n_proxies && !p->proxies[k]) {
                                                p->proxies[k] = next[j];
                                                next[j] = NULL;
                                        }
                        for (size_t j = 0; j < n; j++)
                                proxy_free(next[j]);
                        return r;
                }
        }

        log_info("Profile '%s': entries reconfigured (%zu -> %zu); active entry '%s' %s.", p->name, p->n_proxies, n,
                 proxy_address(p->proxies[p->active] ? p->proxies[p->active] : next[active]),
                 active_kept ? "kept" : "no longer listed, using the main entry");
        for (size_t k = 0; k < p->n_proxies; k++)
                proxy_free(p->proxies[k]);
        for (size_t i = 0; i < n; i++) {
                next[i]->index = (unsigned) i;
                next[i]->role = i == 0 ? PROXY_ROLE_MAIN : PROXY_ROLE_REDUNDANT;
                p->proxies[i] = next[i];
        }
        for (size_t i = n; i < GW_CONF_MAX_PROXIES; i++)
                p->proxies[i] = NULL;
        p->n_proxies = n;
        p->active = active;
        p->conf = c;

        /* The search, the probes and who waited were about the old list: start
         * over from the active entry. */
        p->search.on = p->search.in_flight = p->search.resolving = false;
        p->search.line = NULL;
        memset(p->search.waiting, 0, sizeof(p->search.waiting));
        profile_disarm(p->search.timer);
        for (size_t i = 0; i < ELEMENTSOF(p->probes); i++) {
                p->probes[i].in_flight = false;
                profile_disarm(p->probes[i].lost_timer);
        }
        p->homing_good = 0;
        r = resolve_entries_init(p, profile_entry_answered);
        if (r < 0)
                return r;
        resolve_all(p);
        (void) resolve_entry_target(p, p->active, target, sizeof(target));
        p->dirty = true;
        if (p->manager)
                manager_mark_dirty(p->manager);
        profile_disarm(p->check_timer);
        profile_restart_checks(p);
        /* Lines not registered at the active entry renew there (the rest keep theirs). */
        if (profile_may_send(p))
                (void) profile_arm(p, &p->renew_timer, profile_now(p), profile_on_renew, "profile-renew");
        return 1;
}

/* ---------------------------------------------------------------- outcomes */

/* Carry out what the policy decided about an outcome that went to x. */
static void profile_apply(Profile *p, Proxy *x, const PolicyDecision *d, Line *l, uint64_t now) {
        Proxy *main_entry = p->proxies[0];

        if (d->hold_until > x->down_until_mono_us) {
                x->down_until_mono_us = d->hold_until;
                log_info("Profile '%s': entry '%s' asks for %" PRIu64 " s of rest (503 Retry-After).",
                         p->name, proxy_address(x), (d->hold_until - now + USEC_PER_SEC / 2) / USEC_PER_SEC);
        }

        switch (d->action) {
        case POLICY_SEARCH:
                profile_search_start(p, d->reason, l);
                break;
        case POLICY_SEARCH_NEXT:
                log_info("Profile '%s': entry '%s' did not answer the search (%s).", p->name,
                         proxy_address(x), d->reason[0] ? d->reason : "no answer");
                profile_search_advance(p, now);
                break;
        case POLICY_SWITCH:
                /* A call that found an entry before the search did has no reason of its own. */
                profile_switch(p, d->entry, p->search.reason[0] ? p->search.reason : "invite");
                break;
        case POLICY_HOME:
                if (p->homing_good != d->homing_good)
                        log_info("Profile '%s': main entry '%s' answered the homing check (%u of %u).", p->name,
                                 proxy_address(main_entry), d->homing_good, MAX(p->conf->homing_confirm, 1u));
                profile_switch(p, 0, "homing");
                break;
        case POLICY_HOMING_GOOD:
                p->homing_good = d->homing_good;
                log_info("Profile '%s': main entry '%s' answered the homing check (%u of %u).", p->name,
                         proxy_address(main_entry), p->homing_good, MAX(p->conf->homing_confirm, 1u));
                break;
        case POLICY_HOMING_BAD:
                if (p->homing_good > 0)
                        log_debug("Profile '%s': main entry not back yet.", p->name);
                p->homing_good = 0;
                /* The main entry is back when any of its targets answers: the next
                 * check asks the next one. */
                if (main_entry->n_targets > 1)
                        main_entry->cur_target = (main_entry->cur_target + 1) % main_entry->n_targets;
                break;
        case POLICY_STAY:
        default:
                break;
        }
}

PolicyLineAction profile_record_outcome(Profile *p, Proxy *x, const GwOutcome *o, RequestPurpose purpose,
                                        Line *l, uint64_t now_real_us) {
        PolicyView v;
        PolicyDecision d;
        uint64_t now;

        assert(p);
        assert(x);

        now = profile_now(p);
        v = profile_view(p);
        policy_decide(&v, x->index, purpose, o, now, &d);
        /* Counters change with every outcome: publish them (coalesced by the manager). */
        p->dirty = true;
        (void) proxy_record_outcome(x, o, d.verdict, d.reason, now_real_us);
        profile_apply(p, x, &d, l, now);
        return d.line;
}

int profile_entry_report(Profile *p, const Gw__EntryReport *r) {
        GwOutcome o;
        Proxy *x = NULL;
        char what[16];

        for (size_t i = 0; i < p->n_proxies && !x; i++)
                if (streq(proxy_address(p->proxies[i]), r->proxy))
                        x = p->proxies[i];
        if (!x) {
                log_debug("Profile '%s': EntryReport for unknown entry '%s' ignored.", p->name, r->proxy);
                return -ENOENT;
        }
        if (r->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE && (!r->has_status_code || r->status_code < 100)) {
                log_debug("Profile '%s': EntryReport without a status code ignored.", p->name);
                return -EINVAL;
        }

        /* The same classification and decisions as our own requests' outcomes. */
        gw_outcome_from_entry_report(r, &o);
        log_full_errno(policy_classify(&o, REQUEST_INVITE) == GW_VERDICT_FAILED ? LOG_INFO : LOG_DEBUG, 0,
                 "Profile '%s': a call's INVITE to entry '%s': %s%s.", p->name, proxy_address(x),
                 gw_outcome_failure_reason(&o, what, sizeof(what)), o.got_provisional ? " after a provisional" : "");
        /* A report after a provisional one is about an attempt already counted. */
        if (!o.got_provisional)
                proxy_note_sent(x, strempty(r->target), profile_now(p));
        (void) profile_record_outcome(p, x, &o, REQUEST_INVITE, NULL,
                                      p->manager ? manager_now(p->manager, CLOCK_REALTIME) : 0);
        return 0;
}

bool profile_probe_outcome(Profile *p, uint64_t cid, const Gw__SipRequestOutcome *o) {
        static const RequestPurpose purpose[_PROBE_KIND_MAX] = {
                [PROBE_CHECK] = REQUEST_NORMAL,
                [PROBE_HOME] = REQUEST_HOME_OPTIONS,
                [PROBE_SEARCH] = REQUEST_SEARCH,
        };

        for (size_t k = 0; k < ELEMENTSOF(p->probes); k++) {
                ProfileProbe *pr = &p->probes[k];
                GwOutcome po;
                char what[16];

                if (!pr->in_flight || pr->correlation_id != cid)
                        continue;
                pr->in_flight = false;
                profile_disarm(pr->lost_timer);
                if (pr->index >= p->n_proxies)
                        return true;
                gw_outcome_from_sip(o, &po);
                log_debug("Profile '%s': %s OPTIONS to '%s': %s.", p->name, probe_kind_to_string((ProbeKind) k),
                          proxy_address(p->proxies[pr->index]), gw_outcome_failure_reason(&po, what, sizeof(what)));
                (void) profile_record_outcome(p, p->proxies[pr->index], &po, purpose[k], NULL,
                                              p->manager ? manager_now(p->manager, CLOCK_REALTIME) : 0);
                return true;
        }
        return false;
}

static Gw__ProxyRole role_to_proto(ProxyRole r) {
        return r == PROXY_ROLE_MAIN ? GW__PROXY_ROLE__ROLE_MAIN : GW__PROXY_ROLE__ROLE_REDUNDANT;
}

static Gw__ProxyHealth health_to_proto(ProxyHealth h) {
        switch (h) {
        case PROXY_HEALTH_UP:
                return GW__PROXY_HEALTH__HEALTH_UP;
        case PROXY_HEALTH_DOWN:
                return GW__PROXY_HEALTH__HEALTH_DOWN;
        default:
                return GW__PROXY_HEALTH__HEALTH_UNKNOWN;
        }
}

void profile_status_fill(Profile *p, ProfileStatusStorage *s, Gw__ProfileStatus *ret) {
        uint64_t now_mono = profile_now(p),
                 now_real = p->manager ? manager_now(p->manager, CLOCK_REALTIME) : now_usec(CLOCK_REALTIME);

        assert(p);
        assert(s);
        assert(ret);

        gw__profile_status__init(ret);
        ret->name = p->name;
        ret->active_proxy = profile_active_proxy(p)->hp.text;
        if (resolve_active_target(p, s->target, sizeof(s->target)) < 0)
                s->target[0] = 0;
        ret->active_target = s->target;
        ret->has_searching = true;
        ret->searching = p->search.on;
        ret->has_search_cycles = true;
        ret->search_cycles = p->search.cursor.cycles;

        for (size_t i = 0; i < p->n_proxies; i++) {
                Proxy *x = p->proxies[i];
                Gw__ProxyEntryStatus *e = &s->entries[i];
                Gw__ProxyCounters *c = &s->counters[i];

                gw__proxy_counters__init(c);
                c->has_sent = c->has_timeouts = c->has_r408 = c->has_r503 = true;
                c->has_transport_errors = c->has_failovers = true;
                c->sent = x->counters.sent;
                c->timeouts = x->counters.timeouts;
                c->r408 = x->counters.r408;
                c->r503 = x->counters.r503;
                c->transport_errors = x->counters.transport_errors;
                c->failovers = x->counters.failovers;

                gw__proxy_entry_status__init(e);
                e->address = x->hp.text;
                e->role = role_to_proto(x->role);
                e->state = health_to_proto(x->health);
                if (x->last_failure_reason[0]) {
                        e->last_failure_reason = x->last_failure_reason;
                        e->has_last_failure_real_us = true;
                        e->last_failure_real_us = x->last_failure_real_us;
                }
                e->counters = c;
                if (x->down_until_mono_us > now_mono) {
                        /* As wall-clock time: sigd compares it with its own clock. */
                        e->has_held_until_real_us = true;
                        e->held_until_real_us = now_real + (x->down_until_mono_us - now_mono);
                }
                s->entry_ptrs[i] = e;
        }
        ret->n_proxies = p->n_proxies;
        ret->proxies = s->entry_ptrs;
}
