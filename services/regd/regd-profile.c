/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-profile.c: a SIP profile, its ordered proxy entries and the redundancy policy.
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
 * Every outcome of a request sent to an entry says something about it:
 *  - the entry FAILED if there was no answer at all within the Invite total
 *    timeout (a timeout without any provisional response), a transport error
 *    (ICMP unreachable, send failure), or a 408 or 503 response;
 *  - the entry is ALIVE if it answered anything else (2xx, 401/403/404/423,
 *    other 4xx-6xx, an authentication failure, or a timeout after a
 *    provisional: that one is the line's failure, retried at the same entry);
 *  - nothing is learned if sigd could not even build the request.
 * A failure marks the entry 'down' with the reason and time, an answer marks
 * it 'up'; a 503 with Retry-After also keeps the entry out of the search and
 * unchecked for that long. The counters only ever grow.
 *
 * The search (failover). When the active entry fails, the profile starts ONE
 * search: the failed request is sent again, as a new transaction of the same
 * line (same Call-ID and From tag, the next CSeq), to the next entry, then the
 * next, cycling from the last entry back to the main one. Other lines whose
 * requests fail meanwhile, or whose timers fire, do not search themselves:
 * they wait. The first entry that answers becomes active (logged once with the
 * reason of the failure that started the search, published as ProxySwitch,
 * counted in the failovers counter of the entry left), and every registering
 * line of the profile renews its registration there through the manager's
 * window. Bindings at the old entry are left to expire: un-REGISTERing them
 * could delete the new binding in a shared location database. Pacing: at
 * least REGD_SEARCH_SPACING_USEC between two requests to the same entry;
 * after a whole cycle without an answer, register_retry_base doubled per
 * cycle, capped at register_retry_max, times a random 50-100 %. A search
 * attempt is carried by a line's REGISTER (the line whose request failed,
 * else any idle registering line), or by an OPTIONS when no line can carry it.
 * An entry given as a DNS name (not resolved yet) fails at once with 'dns'.
 * A profile with a single entry has nothing to search: its lines keep their
 * own back-off.
 *
 * Health checks, every keepalive_period, of the active entry in both modes:
 * 'options' and 'invite' send an OPTIONS (Request-URI sip:<target>), 'register'
 * refreshes the first registering line, 'off' sends nothing. A failed check
 * starts the search like a failed request.
 *
 * Parking: the gateway stays on the entry it found, even when the main one is
 * back, until that entry fails; the search then goes on from the next entry.
 *
 * Homing: while a redundant entry is active, the main entry is checked too
 * ('options': an OPTIONS to it, anything but 408/503 or no answer is good;
 * 'register': the first registering line's REGISTER to the registrar, a 2xx
 * is good; 'invite': nothing periodic, the calls do it). After homing_confirm
 * consecutive good checks the main entry becomes active again (reason
 * 'homing') and every line re-registers there. */
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

static const char *const request_purpose_table[_REQUEST_PURPOSE_MAX] = {
        [REQUEST_NORMAL] = "normal",
        [REQUEST_SEARCH] = "search",
        [REQUEST_HOME_REGISTER] = "home-register",
        [REQUEST_HOME_OPTIONS] = "home-options",
};

const char *probe_kind_to_string(ProbeKind k) {
        return (unsigned) k < _PROBE_KIND_MAX ? probe_kind_table[k] : NULL;
}

const char *request_purpose_to_string(RequestPurpose r) {
        return (unsigned) r < _REQUEST_PURPOSE_MAX ? request_purpose_table[r] : NULL;
}

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
        r = profile_entries_init(p);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

Profile *profile_free(Profile *p) {
        if (!p)
                return NULL;
        sd_event_source_disable_unref(p->search_timer);
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
        r = profile_entry_use_target(p, index, target, sizeof(target));
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
                if (k == PROBE_SEARCH && p->searching) {
                        p->search_in_flight = false;
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

        if (!profile_may_send(p) || p->searching)
                return 0;
        if (profile_active_target(p, target, sizeof(target)) < 0)
                target[0] = 0;
        /* Bounded by the number of lines; the window paces what goes out. */
        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = m->lines[i];

                if (l->profile != p || !line_wants_registration(l) || l->req.kind != LINE_REQUEST_NONE)
                        continue;
                if (l->state == LINE_REGISTERED && l->via_index == p->active && streq(l->target, target) &&
                    !l->search_wait)
                        continue;
                l->search_wait = false;
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
        bool was_searching = p->searching;
        char target[REGD_TARGET_MAX] = "";

        assert(i < p->n_proxies);

        p->searching = false;
        p->search_in_flight = false;
        p->search_line = NULL;
        profile_disarm(p->search_timer);
        p->homing_good = 0;
        p->dirty = true;
        (void) profile_entry_target(p, i, target, sizeof(target));

        if (old == i) {
                if (was_searching && p->search_from_target[0] && target[0] &&
                    !streq(p->search_from_target, target)) {
                        /* The same entry, another of its targets (DNS). */
                        profile_log(p, LOG_WARNING, REGD_MESSAGE_FAILOVER, proxy_address(p->proxies[i]), reason,
                                    "Profile '%s': failover within '%s' from %s to %s (%s).",
                                    p->name, proxy_address(p->proxies[i]), p->search_from_target, target, reason);
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
        (void) profile_arm(p, &p->search_timer, when, profile_on_search_timer, "profile-search");
}

/* Something to search: another entry, or another target of the only one. */
bool profile_has_alternatives(const Profile *p) {
        return p->n_proxies > 1 || profile_active_proxy(p)->n_targets > 1;
}

void profile_search_start(Profile *p, const char *reason, Line *l) {
        Proxy *a = profile_active_proxy(p);

        if (p->searching || !profile_has_alternatives(p) || !profile_may_send(p))
                return;
        p->searching = true;
        p->search_in_flight = false;
        p->search_resolving = false;
        snprintf(p->search_reason, sizeof(p->search_reason), "%s", strempty(reason));
        snprintf(p->search_from_target, sizeof(p->search_from_target), "%s", strempty(proxy_current_target(a)));
        if (a->cur_target + 1 < a->n_targets) {
                /* The active entry's next target first (DNS: RFC 3263 order). */
                a->cur_target++;
                p->search_next = p->active;
                p->search_attempts = 0;
        } else {
                a->cur_target = 0;
                p->search_next = (p->active + 1) % p->n_proxies;
                p->search_attempts = 1;  /* the active entry just failed: it counts */
        }
        p->search_cycles = 0;
        p->search_line = l;
        p->homing_good = 0;
        p->dirty = true;
        profile_disarm(p->check_timer);
        log_warning("Profile '%s': active entry '%s' failed (%s), searching from '%s'.",
                    p->name, proxy_address(a), p->search_reason, proxy_address(p->proxies[p->search_next]));
        profile_search_schedule(p, profile_now(p));
}

/* The current target of the entry being tried failed (or the entry did not
 * resolve, or was skipped): move on to its next target, else the next entry. */
static void profile_search_advance(Profile *p, uint64_t now) {
        Proxy *x = p->proxies[p->search_next];
        uint64_t wait;

        p->search_in_flight = false;
        p->search_resolving = false;
        if (x->cur_target + 1 < x->n_targets && x->down_until_mono_us <= now) {
                x->cur_target++;
                profile_search_schedule(p, now);
                return;
        }
        x->cur_target = 0;               /* next time, from its first target again */
        p->search_next = (p->search_next + 1) % p->n_proxies;
        p->search_attempts++;
        if (p->search_attempts < p->n_proxies) {
                profile_search_schedule(p, now);
                return;
        }

        /* A whole cycle without an answer: back off before the next one. */
        wait = regd_backoff_usec(p->conf->register_retry_base_us, p->conf->register_retry_max_us,
                                 p->search_cycles + 1, manager_random(p->manager));
        p->search_cycles++;
        p->search_attempts = 0;
        p->dirty = true;
        profile_log(p, LOG_WARNING, REGD_MESSAGE_SEARCH_EXHAUSTED, proxy_address(profile_active_proxy(p)),
                    p->search_reason,
                    "Profile '%s': no entry of %zu answered (cycle %u), searching again in %" PRIu64 " ms.",
                    p->name, p->n_proxies, p->search_cycles, wait / USEC_PER_MSEC);
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
        uint64_t now = profile_now(p);
        size_t i = p->search_next;
        Proxy *x = p->proxies[i];
        char target[REGD_TARGET_MAX];
        const ProxyTarget *t;
        Line *l;
        int r;

        if (!p->searching || p->search_in_flight || !profile_may_send(p))
                return 0;

        if (x->down_until_mono_us > now) {
                log_debug("Profile '%s': skipping '%s' (Retry-After, %" PRIu64 " ms left).",
                          p->name, proxy_address(x), (x->down_until_mono_us - now) / USEC_PER_MSEC);
                profile_search_advance(p, now);
                return 0;
        }
        r = profile_entry_use_target(p, i, target, sizeof(target));
        if (r == -EAGAIN) {
                /* A name being resolved: its answer resumes the search. */
                p->search_in_flight = true;
                p->search_resolving = true;
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
        if (t->last_attempt_mono_us && now < t->last_attempt_mono_us + p->manager->search_spacing_usec) {
                profile_search_schedule(p, t->last_attempt_mono_us + p->manager->search_spacing_usec);
                return 0;
        }

        log_debug("Profile '%s': search attempt at '%s' (%s).", p->name, proxy_address(x), target);
        l = profile_idle_line(p, p->search_line);
        if (l) {
                p->search_line = l;
                p->search_in_flight = true;
                r = line_register_to(l, i, REQUEST_SEARCH);
                if (r >= 0 && l->req.kind != LINE_REQUEST_NONE)
                        return 0;
                p->search_in_flight = false;
        }
        r = profile_send_probe(p, PROBE_SEARCH, i);
        if (r >= 0) {
                p->search_in_flight = true;
                return 0;
        }
        /* Holding for sigd, or the probe slot is busy: try again shortly. */
        profile_search_schedule(p, now + 100 * USEC_PER_MSEC);
        return 0;
}

/* ---------------------------------------------------------------- DNS answers */

void profile_entry_resolved(Profile *p, Proxy *x) {
        if (!profile_may_send(p))
                return;
        if (p->searching) {
                if (p->search_resolving && p->search_next == x->index) {
                        p->search_in_flight = false;
                        p->search_resolving = false;
                        profile_search_schedule(p, profile_now(p));
                }
                return;
        }
        /* Lines that waited for the active entry's first answer register now. */
        if (x->index == p->active)
                (void) profile_arm(p, &p->renew_timer, profile_now(p), profile_on_renew, "profile-renew");
}

void profile_entry_dns_failed(Profile *p, Proxy *x) {
        Manager *m = p->manager;

        profile_entry_note_dns_failure(p, x);
        if (!profile_may_send(p))
                return;
        if (p->searching) {
                if (p->search_resolving && p->search_next == x->index) {
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

                if (l->profile == p && l->search_wait && l->req.kind == LINE_REQUEST_NONE)
                        line_dns_failed(l);
        }
}

/* ---------------------------------------------------------------- checks */

static int profile_on_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Profile *p = userdata;
        const GwProfileConf *c = p->conf;
        uint64_t now = profile_now(p);
        Line *l;

        if (!profile_may_send(p))
                return 0;
        (void) profile_arm(p, &p->check_timer, now + c->keepalive_period_us, profile_on_check, "profile-check");
        if (p->searching)
                return 0;

        /* Homing: the main entry too, unless it asked us to stay away. With
         * 'register' it goes first, so the first line carries it; the check of
         * the active entry then takes the next idle line. */
        if (c->redundancy_mode == REDUNDANCY_HOMING && p->active != 0 && c->keepalive != KEEPALIVE_INVITE &&
            p->proxies[0]->down_until_mono_us <= now) {
                if (c->keepalive == KEEPALIVE_REGISTER) {
                        l = profile_first_line(p);
                        if (l && l->req.kind == LINE_REQUEST_NONE)
                                (void) line_register_to(l, 0, REQUEST_HOME_REGISTER);
                } else
                        (void) profile_send_probe(p, PROBE_HOME, 0);
        }

        /* The active entry, in both modes. */
        if (profile_active_proxy(p)->down_until_mono_us <= now) {
                if (c->keepalive == KEEPALIVE_REGISTER && (l = profile_idle_line(p, NULL)))
                        (void) line_register(l);
                else if (c->keepalive != KEEPALIVE_REGISTER)
                        (void) profile_send_probe(p, PROBE_CHECK, p->active);
        }
        return 0;
}

static void profile_restart_checks(Profile *p) {
        if (p->conf->keepalive == KEEPALIVE_OFF || p->conf->keepalive_period_us == 0 || !profile_may_send(p))
                return;
        (void) profile_arm(p, &p->check_timer, profile_now(p) + p->conf->keepalive_period_us,
                           profile_on_check, "profile-check");
}

int profile_start(Profile *p) {
        profile_resolve_all(p);
        profile_restart_checks(p);
        return 0;
}

void profile_stop(Profile *p) {
        p->searching = false;
        p->search_in_flight = false;
        p->search_line = NULL;
        profile_disarm(p->search_timer);
        profile_disarm(p->check_timer);
        profile_disarm(p->renew_timer);
        p->dirty = true;
}

/* ---------------------------------------------------------------- outcomes */

static void profile_homing_result(Profile *p, bool good) {
        if (p->active == 0 || p->searching)
                return;
        if (!good) {
                Proxy *main_entry = p->proxies[0];

                if (p->homing_good > 0)
                        log_debug("Profile '%s': main entry not back yet.", p->name);
                p->homing_good = 0;
                /* The main entry is back when any of its targets answers: the next
                 * check asks the next one. */
                if (main_entry->n_targets > 1)
                        main_entry->cur_target = (main_entry->cur_target + 1) % main_entry->n_targets;
                return;
        }
        p->homing_good++;
        log_info("Profile '%s': main entry '%s' answered the homing check (%u of %u).", p->name,
                 proxy_address(p->proxies[0]), p->homing_good, MAX(p->conf->homing_confirm, 1u));
        if (p->homing_good >= MAX(p->conf->homing_confirm, 1u))
                profile_switch(p, 0, "homing");
}

ProfileLineAction profile_record_outcome(Profile *p, Proxy *x, const Gw__SipRequestOutcome *o,
                                         const char *reason, RequestPurpose purpose, Line *l,
                                         uint64_t now_real_us) {
        ProxyVerdict v;
        uint64_t now;

        assert(p);
        assert(x);

        v = proxy_verdict_from_outcome(o);
        /* Counters change with every outcome: publish them (coalesced by the manager). */
        p->dirty = true;
        (void) proxy_record_outcome(x, o, v, reason, now_real_us);

        now = profile_now(p);
        if (o->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE && o->status_code == 503 &&
            o->has_retry_after_s && o->retry_after_s > 0) {
                x->down_until_mono_us = now + (uint64_t) o->retry_after_s * USEC_PER_SEC;
                log_info("Profile '%s': entry '%s' asks for %d s of rest (503 Retry-After).",
                         p->name, proxy_address(x), o->retry_after_s);
        }

        if (!profile_may_send(p))
                return PROFILE_LINE_OWN;     /* stopping: no search, no homing */

        switch (purpose) {
        case REQUEST_HOME_REGISTER:
                profile_homing_result(p, o->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE &&
                                         o->status_code >= 200 && o->status_code < 300);
                return x->index == p->active ? PROFILE_LINE_OWN : PROFILE_LINE_KEEP;

        case REQUEST_HOME_OPTIONS:
                profile_homing_result(p, v == PROXY_VERDICT_ALIVE);
                return PROFILE_LINE_OWN;

        case REQUEST_SEARCH:
                if (!p->searching)
                        break;       /* a late answer: treat as any other outcome */
                p->search_in_flight = false;
                if (v == PROXY_VERDICT_ALIVE) {
                        profile_switch(p, x->index, p->search_reason);
                        return PROFILE_LINE_OWN;
                }
                log_info("Profile '%s': entry '%s' did not answer the search (%s).", p->name,
                         proxy_address(x), strempty(reason));
                profile_search_advance(p, now);
                return PROFILE_LINE_WAIT;

        default:
                break;
        }

        if (v != PROXY_VERDICT_FAILED || !profile_has_alternatives(p))
                return PROFILE_LINE_OWN;
        if (p->searching)
                return PROFILE_LINE_WAIT;
        if (x->index == p->active) {
                profile_search_start(p, reason, l);
                return PROFILE_LINE_WAIT;
        }
        /* An entry we already left: try the active one at once. */
        return PROFILE_LINE_AGAIN;
}

int profile_entry_report(Profile *p, const Gw__EntryReport *r) {
        Gw__SipRequestOutcome o = GW__SIP_REQUEST_OUTCOME__INIT;
        const char *reason = strempty(r->reason);
        Proxy *x = NULL;
        bool alive = r->has_alive && r->alive;

        for (size_t i = 0; i < p->n_proxies && !x; i++)
                if (streq(proxy_address(p->proxies[i]), r->proxy))
                        x = p->proxies[i];
        if (!x) {
                log_debug("Profile '%s': EntryReport for unknown entry '%s' ignored.", p->name, r->proxy);
                return -ENOENT;
        }

        /* The same classification as our own requests' outcomes. */
        if (alive) {
                o.kind = GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE;
                o.has_status_code = true;
                o.status_code = 200;
                reason = "";
        } else if (streq(reason, "timeout"))
                o.kind = GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT;
        else if (streq(reason, "transport"))
                o.kind = GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT;
        else if (streq(reason, "503") || streq(reason, "408")) {
                o.kind = GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE;
                o.has_status_code = true;
                o.status_code = streq(reason, "503") ? 503 : 408;
        } else {
                log_debug("Profile '%s': EntryReport with unknown reason '%s' ignored.", p->name, reason);
                return -EINVAL;
        }

        log_info("Profile '%s': a call found entry '%s' %s%s%s.", p->name, proxy_address(x),
                 alive ? "alive" : "failed", alive ? "" : ": ", reason);
        proxy_note_sent(x, strempty(r->target), profile_now(p));
        (void) profile_record_outcome(p, x, &o, reason, REQUEST_NORMAL, NULL,
                                      p->manager ? manager_now(p->manager, CLOCK_REALTIME) : 0);
        if (!alive || x->index == p->active || !profile_may_send(p))
                return 0;

        if (p->searching)
                /* The call found an entry before our search did. */
                profile_switch(p, x->index, p->search_reason[0] ? p->search_reason : "invite");
        else if (x->index == 0 && p->conf->redundancy_mode == REDUNDANCY_HOMING &&
                 p->conf->keepalive == KEEPALIVE_INVITE)
                profile_switch(p, 0, "homing");
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
                LineVerdict v;

                if (!pr->in_flight || pr->correlation_id != cid)
                        continue;
                pr->in_flight = false;
                profile_disarm(pr->lost_timer);
                if (pr->index >= p->n_proxies)
                        return true;
                line_classify_outcome(o, &v);
                log_debug("Profile '%s': %s OPTIONS to '%s': %s.", p->name, probe_kind_to_string((ProbeKind) k),
                          proxy_address(p->proxies[pr->index]), v.reason[0] ? v.reason : "ok");
                (void) profile_record_outcome(p, p->proxies[pr->index], o, v.reason, purpose[k], NULL,
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
        assert(p);
        assert(s);
        assert(ret);

        gw__profile_status__init(ret);
        ret->name = p->name;
        ret->active_proxy = profile_active_proxy(p)->hp.text;
        if (profile_active_target(p, s->target, sizeof(s->target)) < 0)
                s->target[0] = 0;
        ret->active_target = s->target;
        ret->has_searching = true;
        ret->searching = p->searching;
        ret->has_search_cycles = true;
        ret->search_cycles = p->search_cycles;

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
                s->entry_ptrs[i] = e;
        }
        ret->n_proxies = p->n_proxies;
        ret->proxies = s->entry_ptrs;
}
