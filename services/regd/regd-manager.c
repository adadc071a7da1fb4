/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-manager.c: the manager: profiles, lines, the gateway-wide request window, stopping.
 *
 * The window: at most REGD_MAX_IN_FLIGHT SipRequests are outstanding over the
 * whole gateway; the rest wait in one FIFO, so 256 lines starting together do
 * not overwhelm a registrar. An outstanding request whose outcome does not come
 * within timeout_ms + REGD_LOST_GRACE_USEC was lost (sigd down) and is sent
 * again, keeping its place in the window; so is every outstanding request when
 * sigd comes back with a new instance. A re-send gets a new correlation id and
 * a higher CSeq; the outcome of any transmission of the request completes it
 * (the first one after regd starts may simply have been slow), later ones are
 * ignored.
 *
 * Until sigd is first seen on the bus (and at least REGD_SIGD_SETTLE_USEC
 * after our bus came up, so that sigd's subscription has reached our PUB)
 * requests only queue: a REGISTER published into the void would wait a whole
 * loss timeout, and re-sending everything at the first sighting would send it
 * twice. After REGD_SIGD_MAX_WAIT_USEC without sigd they go anyway.
 *
 * Stopping (GatewayStopping from gwsupd): queued REGISTERs are dropped, every
 * registered line (and every line whose REGISTER is on its way) is
 * un-REGISTERed (expires 0 on our own Contact) with a wider window of
 * REGD_STOP_MAX_IN_FLIGHT, UnregisterDone goes out when all outcomes are in or
 * at the deadline, and from then on nothing is registered. A plain SIGTERM
 * (a restart of regd) un-REGISTERs nothing: the state file keeps the
 * registrations for the next instance. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "gw-bus.h"
#include "gw-log.h"
#include "regd-manager.h"

static int manager_on_flush(sd_event_source *s, void *userdata) {
        manager_flush(userdata);
        return 0;
}

int manager_new(sd_event *e, const GwConf *c, const char *state_dir, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        uint64_t seed = 0;
        int r;

        assert(e);
        assert(c);
        assert(ret);

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->conf = c;
        m->max_in_flight = REGD_MAX_IN_FLIGHT;
        m->lost_grace_usec = REGD_LOST_GRACE_USEC;
        m->search_spacing_usec = REGD_SEARCH_SPACING_USEC;
        if (state_dir) {
                m->state_dir = strdup(state_dir);
                if (!m->state_dir)
                        return -ENOMEM;
        }
        if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
                seed = now_usec(CLOCK_MONOTONIC) ^ (uint64_t) getpid();
        m->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;

        r = sd_event_add_defer(e, &m->flush_source, manager_on_flush, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->flush_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(m->flush_source, "regd-flush");

        if (c->n_profiles > 0) {
                m->profiles = calloc(c->n_profiles, sizeof(Profile *));
                if (!m->profiles)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_profiles; i++) {
                r = profile_new(m, &c->profiles[i], &m->profiles[i]);
                if (r < 0)
                        return r;
                m->n_profiles++;
        }

        r = resolve_setup(m);
        if (r < 0)
                return r;

        if (c->n_lines > 0) {
                m->lines = calloc(c->n_lines, sizeof(Line *));
                if (!m->lines)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_lines; i++) {
                const GwLineConf *lc = &c->lines[i];
                Profile *p = NULL;

                if (lc->profile_index < m->n_profiles)
                        p = m->profiles[lc->profile_index];
                if (!p && lc->profile)
                        p = manager_profile_by_name(m, lc->profile);
                if (!p) {
                        log_warning("Line %u names unknown profile '%s', ignoring the line.",
                                    lc->port, strna(lc->profile));
                        continue;
                }
                r = line_new(m, p, p->conf, &profile_line_ops, lc, &m->lines[m->n_lines]);
                if (r >= 0)
                        m->lines[m->n_lines]->index = m->n_lines;
                if (r < 0)
                        return r;
                m->n_lines++;
        }

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        /* Keep what we know for the next instance (a restart un-REGISTERs nothing). */
        if (m->state_dirty)
                (void) regd_state_save(m);

        /* Freeing lines frees window slots: send nothing from now on. */
        m->exiting = true;
        for (size_t i = 0; i < m->n_lines; i++)
                line_free(m->lines[i]);
        free(m->lines);
        for (size_t i = 0; i < m->n_profiles; i++)
                profile_free(m->profiles[i]);
        free(m->profiles);
        gw_resolver_free(m->resolver);     /* after the entries: they cancel their queries */
        sd_event_source_disable_unref(m->flush_source);
        sd_event_source_disable_unref(m->stop_timer);
        sd_event_source_disable_unref(m->hold_timer);
        sd_event_source_disable_unref(m->resend_timer);
        sd_event_unref(m->event);
        free(m->state_dir);
        free(m);
        return NULL;
}

void manager_set_callbacks(Manager *m, const ManagerCallbacks *cb, void *userdata) {
        m->cb = cb ? *cb : (ManagerCallbacks) {};
        m->userdata = userdata;
}

Line *manager_line_by_port(Manager *m, unsigned port) {
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i]->port == port)
                        return m->lines[i];
        return NULL;
}

int manager_entry_report(Manager *m, const Gw__EntryReport *r) {
        Profile *p;
        int k;

        assert(m);
        if (!r || isempty(r->profile) || isempty(r->proxy))
                return -EBADMSG;
        p = manager_profile_by_name(m, r->profile);
        if (!p) {
                log_debug("EntryReport for unknown profile '%s' ignored.", r->profile);
                return -ENOENT;
        }
        k = profile_entry_report(p, r);
        if (k >= 0)
                manager_mark_dirty(m);
        return k;
}

Profile *manager_profile_by_name(Manager *m, const char *name) {
        for (size_t i = 0; name && i < m->n_profiles; i++)
                if (streq(m->profiles[i]->name, name))
                        return m->profiles[i];
        return NULL;
}

double manager_random(Manager *m) {
        /* xorshift64*: plenty for jitter, and seedable by tests. */
        uint64_t x = m->rng;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        m->rng = x;
        return (double) ((x * UINT64_C(2685821657736338717)) >> 11) / (double) (UINT64_C(1) << 53);
}

uint64_t manager_now(Manager *m, clockid_t clock) {
        uint64_t t;

        if (clock == CLOCK_MONOTONIC && m->event && sd_event_now(m->event, CLOCK_MONOTONIC, &t) >= 0)
                return t;
        return now_usec(clock);
}

void manager_mark_dirty(Manager *m) {
        m->state_dirty = true;
        if (m->flush_source)
                (void) sd_event_source_set_enabled(m->flush_source, SD_EVENT_ONESHOT);
}

void manager_line_changed(Manager *m, Line *l) {
        if (m->cb.line_changed)
                m->cb.line_changed(m, l, m->userdata);
        manager_mark_dirty(m);
}

void manager_flush(Manager *m) {
        for (size_t i = 0; i < m->n_profiles; i++) {
                Profile *p = m->profiles[i];

                if (!p->dirty)
                        continue;
                p->dirty = false;
                if (m->cb.profile_changed)
                        m->cb.profile_changed(m, p, m->userdata);
        }
        if (m->state_dirty) {
                m->state_dirty = false;
                (void) regd_state_save(m);
                if (m->cb.flushed)
                        m->cb.flushed(m, m->userdata);
        }
}

void manager_count(Manager *m, unsigned *ret_registering_lines, unsigned *ret_registered) {
        unsigned n = 0, k = 0;

        for (size_t i = 0; i < m->n_lines; i++) {
                if (!line_wants_registration(m->lines[i]))
                        continue;
                n++;
                k += m->lines[i]->state == LINE_REGISTERED;
        }
        *ret_registering_lines = n;
        *ret_registered = k;
}

void manager_publish_all(Manager *m) {
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->cb.line_changed)
                        m->cb.line_changed(m, m->lines[i], m->userdata);
        for (size_t i = 0; i < m->n_profiles; i++) {
                m->profiles[i]->dirty = false;
                if (m->cb.profile_changed)
                        m->cb.profile_changed(m, m->profiles[i], m->userdata);
        }
}

/* ---------------------------------------------------------------- the window */

static unsigned manager_window(const Manager *m) {
        if (m->hold && !m->stopping)
                return 0;
        return m->stopping ? MAX(m->max_in_flight, (unsigned) REGD_STOP_MAX_IN_FLIGHT) : m->max_in_flight;
}

static uint64_t manager_next_cid(Manager *m) {
        uint64_t cid = 0;

        if (m->cb.next_correlation_id)
                cid = m->cb.next_correlation_id(m, m->userdata);
        if (cid == 0)
                cid = ++m->correlation;
        return cid;
}

static int manager_transmit(Manager *m, Line *l);

uint64_t manager_new_correlation_id(Manager *m) {
        return manager_next_cid(m);
}

int manager_send_options(Manager *m, Profile *p, uint64_t cid, const char *target, uint32_t timeout_ms) {
        Gw__SipRequest req = GW__SIP_REQUEST__INIT;
        char uri[REGD_TARGET_MAX + 8], t[REGD_TARGET_MAX];
        int r;

        if (m->hold || m->stopping || m->stopped || m->exiting)
                return -EAGAIN;

        /* Request-URI names the entry itself: sip:<host:port>. */
        snprintf(uri, sizeof(uri), "sip:%s", target);
        req.method = (char *) "OPTIONS";
        req.request_uri = uri;
        snprintf(t, sizeof(t), "%s", target);
        req.target = t;
        req.has_line_port = true;
        req.line_port = 0;
        req.has_timeout_ms = true;
        req.timeout_ms = timeout_ms;
        req.profile = p->name;
        m->n_sent++;
        log_debug("Sending OPTIONS for profile '%s' to %s (id %" PRIu64 ").", p->name, target, cid);
        if (m->cb.send_request) {
                r = m->cb.send_request(m, cid, &req, m->userdata);
                if (r < 0)
                        return log_warning_errno(r, "Failed to publish an OPTIONS of profile '%s': %m", p->name);
        }
        return 0;
}

static int manager_on_lost(sd_event_source *s, uint64_t usec, void *userdata) {
        Line *l = userdata;
        Manager *m = l->manager;

        l->req.lost_timer = sd_event_source_disable_unref(l->req.lost_timer);
        if (!l->req.in_flight)
                return 0;
        m->n_lost++;
        log_warning("No outcome from sigd for the %s of line %u within %u ms, sending it again.",
                    l->req.kind == LINE_REQUEST_UNREGISTER ? "un-REGISTER" : "REGISTER",
                    l->port, l->req.timeout_ms);
        (void) manager_transmit(m, l);
        return 0;
}

static void queue_remove(Manager *m, Line *l) {
        Line **pp = &m->queue_head, *prev = NULL;

        for (Line *i = m->queue_head; i; prev = i, pp = &i->queue_next, i = i->queue_next) {
                if (i != l)
                        continue;
                *pp = i->queue_next;
                if (m->queue_tail == l)
                        m->queue_tail = prev;
                l->queue_next = NULL;
                l->req.queued = false;
                m->n_queued--;
                return;
        }
}

/* Send (or send again) l's request: new correlation id, next CSeq. */
static int manager_transmit(Manager *m, Line *l) {
        Profile *p = l->profile;
        Gw__SipRequest req = GW__SIP_REQUEST__INIT;
        bool resend = l->req.in_flight;
        int r;

        assert(l->req.kind != LINE_REQUEST_NONE);

        /* A REGISTER that waited in the queue goes to the entry active now;
         * while the profile searches, it waits for the search instead. */
        if (!resend && l->req.transmissions == 0 && !line_retarget(l))
                return 0;

        if (!resend) {
                l->req.in_flight = true;
                m->n_in_flight++;
        } else {
                /* The lost transaction may have used CSeq+1 for an authenticated retry. */
                l->cseq++;
                memmove(l->req.earlier_ids + 1, l->req.earlier_ids,
                        sizeof(l->req.earlier_ids) - sizeof(l->req.earlier_ids[0]));
                l->req.earlier_ids[0] = l->req.correlation_id;
        }

        l->req.correlation_id = manager_next_cid(m);
        l->req.transmissions++;
        if (l->req.kind == LINE_REQUEST_REGISTER && !resend)
                l->req.cseq = line_next_cseq(l);
        else
                l->req.cseq = ++l->cseq;

        req.method = (char *) "REGISTER";
        req.request_uri = l->request_uri;
        req.target = l->req.target;
        req.has_line_port = true;
        req.line_port = l->port;
        req.from_uri = l->aor;
        req.to_uri = l->aor;
        req.call_id = l->call_id;
        req.from_tag = l->from_tag;
        req.has_cseq = true;
        req.cseq = l->req.cseq;
        req.has_expires_s = true;
        req.expires_s = l->req.expires_s;
        req.has_with_contact = true;
        req.with_contact = true;          /* un-REGISTER names our own Contact, never '*' */
        req.has_timeout_ms = true;
        req.timeout_ms = l->req.timeout_ms;
        req.profile = p->name;

        if (l->req.proxy_index < p->n_proxies)
                proxy_note_sent(p->proxies[l->req.proxy_index], l->req.target, manager_now(m, CLOCK_MONOTONIC));
        p->dirty = true;
        manager_mark_dirty(m);             /* CSeq moved */
        m->n_sent++;

        log_debug("Sending %s of line %u to %s (cseq %" PRIu32 ", expires %" PRIi32 ", id %" PRIu64 ")%s.",
                  l->req.expires_s == 0 ? "un-REGISTER" : "REGISTER", l->port, l->req.target,
                  l->req.cseq, l->req.expires_s, l->req.correlation_id, resend ? ", again" : "");

        if (m->cb.send_request) {
                r = m->cb.send_request(m, l->req.correlation_id, &req, m->userdata);
                if (r < 0)
                        log_warning_errno(r, "Failed to publish the REGISTER of line %u, will retry: %m", l->port);
        }

        l->req.lost_timer = sd_event_source_disable_unref(l->req.lost_timer);
        r = sd_event_add_time_relative(m->event, &l->req.lost_timer, CLOCK_MONOTONIC,
                                       (uint64_t) l->req.timeout_ms * USEC_PER_MSEC + m->lost_grace_usec,
                                       10 * USEC_PER_MSEC, manager_on_lost, l);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the loss timer of line %u: %m", l->port);
        (void) sd_event_source_set_description(l->req.lost_timer, "line-lost");
        return 0;
}

static void manager_pump(Manager *m) {
        if (m->exiting || m->stopped)
                return;
        /* Bounded: each pass takes one line off the queue. */
        while (m->queue_head && m->n_in_flight < manager_window(m)) {
                Line *l = m->queue_head;

                queue_remove(m, l);
                (void) manager_transmit(m, l);
        }
}

int manager_submit(Manager *m, Line *l) {
        assert(l->req.kind != LINE_REQUEST_NONE);

        if (l->req.queued || l->req.in_flight)
                return 0;
        if (m->n_in_flight < manager_window(m) && !m->queue_head)
                return manager_transmit(m, l);

        l->queue_next = NULL;
        if (m->queue_tail)
                m->queue_tail->queue_next = l;
        else
                m->queue_head = l;
        m->queue_tail = l;
        l->req.queued = true;
        m->n_queued++;
        manager_pump(m);
        return 0;
}

void manager_cancel(Manager *m, Line *l) {
        if (l->req.queued)
                queue_remove(m, l);
        if (l->req.in_flight) {
                l->req.in_flight = false;
                assert(m->n_in_flight > 0);
                m->n_in_flight--;
        }
        l->req.lost_timer = sd_event_source_disable_unref(l->req.lost_timer);
        l->req.kind = LINE_REQUEST_NONE;
        l->req.correlation_id = 0;
        manager_pump(m);
}

void manager_resend_in_flight(Manager *m) {
        unsigned n = 0;

        if (m->stopped)
                return;
        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = m->lines[i];

                if (!l->req.in_flight)
                        continue;
                (void) manager_transmit(m, l);
                n++;
        }
        if (n > 0)
                log_info("sigd has a new instance: sent %u outstanding request(s) again.", n);
}

static void manager_release(Manager *m, const char *why) {
        if (!m->hold)
                return;
        m->hold = false;
        m->hold_timer = sd_event_source_disable_unref(m->hold_timer);
        log_info("Bus to sigd ready (%s): sending %zu queued request(s).", why, m->n_queued);
        /* What we published at start may have gone out before the peers'
         * subscriptions reached us: say it again now that the bus has formed. */
        manager_publish_all(m);
        manager_pump(m);
}

static int manager_on_hold_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        m->hold_timer = sd_event_source_disable_unref(m->hold_timer);
        if (m->hold_seen)
                manager_release(m, "sigd seen");
        else {
                log_warning("sigd not seen on the bus yet, sending the %zu queued request(s) anyway.", m->n_queued);
                manager_release(m, "sigd not seen");
        }
        return 0;
}

int manager_hold_until_sigd(Manager *m, uint64_t settle_usec, uint64_t max_wait_usec) {
        uint64_t now = manager_now(m, CLOCK_MONOTONIC);
        int r;

        m->hold = true;
        m->hold_seen = false;
        m->hold_release_min_mono = now + settle_usec;
        m->hold_timer = sd_event_source_disable_unref(m->hold_timer);
        r = sd_event_add_time(m->event, &m->hold_timer, CLOCK_MONOTONIC, now + max_wait_usec,
                              10 * USEC_PER_MSEC, manager_on_hold_timer, m);
        if (r < 0) {
                m->hold = false;
                return r;
        }
        return 0;
}

static int manager_on_resend_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        m->resend_timer = sd_event_source_disable_unref(m->resend_timer);
        manager_resend_in_flight(m);
        return 0;
}

void manager_sigd_seen(Manager *m) {
        uint64_t now = manager_now(m, CLOCK_MONOTONIC);

        if (!m->hold) {
                /* A restarted sigd (or the first sighting after we gave up waiting):
                 * what is in flight was lost with the old instance or never arrived.
                 * Its hello may come before its subscriptions: a moment's grace. */
                if (m->resend_timer)
                        return;
                if (sd_event_add_time(m->event, &m->resend_timer, CLOCK_MONOTONIC, now + REGD_SIGD_RESEND_USEC,
                                      10 * USEC_PER_MSEC, manager_on_resend_timer, m) < 0)
                        manager_resend_in_flight(m);
                return;
        }
        m->hold_seen = true;
        if (now >= m->hold_release_min_mono) {
                manager_release(m, "sigd seen");
                return;
        }
        /* Give sigd's subscription to our PUB time to form before publishing. */
        if (m->hold_timer)
                (void) sd_event_source_set_time(m->hold_timer, m->hold_release_min_mono);
}

/* ---------------------------------------------------------------- outcomes */

static void manager_finish_stopping(Manager *m);

static bool line_request_matches(const Line *l, uint64_t cid) {
        if (!l->req.in_flight)
                return false;
        if (l->req.correlation_id == cid)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(l->req.earlier_ids); i++)
                if (l->req.earlier_ids[i] == cid)
                        return true;
        return false;
}

int manager_handle_outcome(Manager *m, uint64_t cid, const Gw__SipRequestOutcome *o) {
        PolicyLineAction act = POLICY_LINE_OWN;
        LineRequestKind kind;
        Line *l = NULL;
        bool confirmed;

        assert(o);

        m->n_outcomes++;
        for (size_t i = 0; cid != 0 && i < m->n_profiles; i++)
                if (profile_probe_outcome(m->profiles[i], cid, o)) {
                        manager_mark_dirty(m);
                        return 0;
                }
        if (cid != 0)
                for (size_t i = 0; i < m->n_lines && !l; i++)
                        if (line_request_matches(m->lines[i], cid))
                                l = m->lines[i];
        if (!l || m->stopped) {
                m->n_unknown_outcomes++;
                /* Still learn the CSeq sigd used, so the next request stays above it. */
                if (o->has_line_port && o->has_cseq && !isempty(o->call_id)) {
                        Line *x = manager_line_by_port(m, o->line_port);
                        if (x && streq(x->call_id, o->call_id) && o->cseq > x->cseq)
                                x->cseq = o->cseq;
                }
                log_debug("Ignoring an outcome with unknown correlation id %" PRIu64 ".", cid);
                return 0;
        }
        if (o->has_line_port && o->line_port != l->port)
                log_debug("Outcome %" PRIu64 " names line %u, the request was for line %u; using the request.",
                          cid, o->line_port, l->port);

        /* Off the window first: the line may submit its next request right away. */
        l->req.in_flight = false;
        assert(m->n_in_flight > 0);
        m->n_in_flight--;

        confirmed = o->kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE &&
                    o->status_code >= 200 && o->status_code < 300;
        /* The profile learns first (the policy decides), then the line acts. */
        if (l->req.proxy_index < l->profile->n_proxies) {
                GwOutcome po;

                gw_outcome_from_sip(o, &po);
                act = profile_record_outcome(l->profile, l->profile->proxies[l->req.proxy_index], &po,
                                             line_request_purpose(l), l, manager_now(m, CLOCK_REALTIME));
        }
        kind = line_handle_outcome(l, o, act);
        manager_mark_dirty(m);

        if (kind == LINE_REQUEST_UNREGISTER && m->stopping) {
                if (confirmed)
                        m->unreg_confirmed++;
                if (m->unreg_pending > 0)
                        m->unreg_pending--;
        }

        manager_pump(m);

        if (m->stopping && m->unreg_pending == 0)
                manager_finish_stopping(m);
        return 0;
}

/* ---------------------------------------------------------------- start and stop */

int manager_start(Manager *m) {
        unsigned n = 0, kept;
        int r;

        r = regd_state_load(m);
        kept = r > 0 ? (unsigned) r : 0;

        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = m->lines[i];

                if (!line_wants_registration(l))
                        continue;
                n++;
                (void) line_start(l);
        }
        for (size_t i = 0; i < m->n_profiles; i++)
                (void) profile_start(m->profiles[i]);
        log_info("Registering %u line(s) of %zu, %u still registered from before the restart.",
                 n, m->n_lines, kept);
        /* Peers that started before us learn every line now, not at its first change. */
        manager_publish_all(m);
        manager_mark_dirty(m);
        return 0;
}

static int manager_on_stop_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_warning("Stopping: deadline reached with %u un-REGISTER(s) unanswered.", m->unreg_pending);
        manager_finish_stopping(m);
        return 0;
}

static void manager_finish_stopping(Manager *m) {
        if (!m->stopping || m->stopped)
                return;

        m->stopped = true;
        m->stopping = false;
        m->stop_timer = sd_event_source_disable_unref(m->stop_timer);

        log_struct(LOG_NOTICE, ((const char *[]) { "MESSAGE_ID=" REGD_MESSAGE_UNREGISTER_DONE, NULL }),
                   "Un-REGISTERed %u of %u line(s); registering nothing from now on.",
                   m->unreg_confirmed, m->unreg_lines);
        if (m->cb.unregister_done)
                m->cb.unregister_done(m, m->unreg_lines, m->unreg_confirmed, m->userdata);

        for (size_t i = 0; i < m->n_lines; i++)
                line_stop(m->lines[i]);
        m->state_dirty = true;
        manager_flush(m);
}

int manager_gateway_stopping(Manager *m, uint32_t deadline_ms) {
        uint32_t timeout_ms;
        int r;

        if (m->stopping || m->stopped) {
                log_debug("GatewayStopping again, already %s.", m->stopped ? "stopped" : "stopping");
                if (m->stopped && m->cb.unregister_done)
                        m->cb.unregister_done(m, m->unreg_lines, m->unreg_confirmed, m->userdata);
                return 0;
        }

        log_info("Gateway stopping: un-REGISTERing every line within %" PRIu32 " ms.", deadline_ms);
        m->stopping = true;
        for (size_t i = 0; i < m->n_profiles; i++)
                profile_stop(m->profiles[i]);
        m->unreg_lines = m->unreg_confirmed = m->unreg_pending = 0;

        /* Queued REGISTERs will never be needed; drop them without letting
         * the (now wider) window pump any of them out. */
        while (m->queue_head) {
                Line *l = m->queue_head;

                queue_remove(m, l);
                l->req.kind = LINE_REQUEST_NONE;
        }

        r = sd_event_add_time_relative(m->event, &m->stop_timer, CLOCK_MONOTONIC,
                                       (uint64_t) deadline_ms * USEC_PER_MSEC, USEC_PER_MSEC,
                                       manager_on_stop_deadline, m);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the stopping deadline, finishing when all outcomes are in: %m");

        /* Each un-REGISTER must end before the deadline to be counted. */
        timeout_ms = deadline_ms > 200 ? deadline_ms - 100 : deadline_ms;
        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = m->lines[i];
                uint32_t t = (uint32_t) MIN((uint64_t) timeout_ms,
                                            l->profile->conf->invite_total_timeout_us / USEC_PER_MSEC);

                r = line_unregister(l, t);
                if (r > 0) {
                        m->unreg_lines++;
                        m->unreg_pending++;
                }
        }

        if (m->unreg_pending == 0)
                manager_finish_stopping(m);
        return 0;
}

/* ---------------------------------------------------------------- status */

int manager_status_fill(Manager *m, Gw__StatusReply *reply, void **ret_storage) {
        size_t np = m->n_profiles, nl = m->n_lines;
        size_t sz = np * (sizeof(ProfileStatusStorage) + sizeof(Gw__ProfileStatus) + sizeof(Gw__ProfileStatus *)) +
                    nl * (sizeof(Gw__LineStatus) + sizeof(Gw__LineStatus *)) + 16;
        ProfileStatusStorage *ps;
        Gw__ProfileStatus *pm, **pp;
        Gw__LineStatus *lm, **lp;
        uint64_t now = manager_now(m, CLOCK_REALTIME);
        uint8_t *buf;

        assert(reply);
        assert(ret_storage);

        /* One allocation, laid out by alignment: storages, messages, pointer arrays. */
        buf = calloc(1, sz);
        if (!buf)
                return -ENOMEM;
        ps = (ProfileStatusStorage *) buf;
        pm = (Gw__ProfileStatus *) (ps + np);
        lm = (Gw__LineStatus *) (pm + np);
        pp = (Gw__ProfileStatus **) (lm + nl);
        lp = (Gw__LineStatus **) (pp + np);

        for (size_t i = 0; i < np; i++) {
                profile_status_fill(m->profiles[i], &ps[i], &pm[i]);
                pp[i] = &pm[i];
        }
        for (size_t i = 0; i < nl; i++) {
                line_status_fill(m->lines[i], now, &lm[i]);
                lp[i] = &lm[i];
        }
        reply->n_profiles = np;
        reply->profiles = np ? pp : NULL;
        reply->n_lines = nl;
        reply->lines = nl ? lp : NULL;

        *ret_storage = buf;
        return 0;
}
