/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-manager.c: every line's logic, the 20 ms PCM clock, LineHwState/LineEvent out, LineControl in, gwctl line commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-log.h"
#include "linehwd-manager.h"

#define PCM_PERIOD_US (GW_PCM_FRAME_MS * USEC_PER_MSEC)
#define SIM_HOOKS_FILE "sim-hooks"

Line *manager_line(Manager *m, unsigned port) {
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].port == port)
                        return &m->lines[i];
        return NULL;
}

static bool is_sim(const Manager *m) {
        return m->backend->ops == &line_backend_sim_ops;
}

/* ---------------------------------------------------------------- state out */

static void line_fill_hw(Line *l, Gw__LineHwState *hw) {
        LinePolarity pol = LINE_POLARITY_NORMAL;
        LineFeed feed = LINE_FEED_ACTIVE;

        (void) line_backend_get_polarity(l->manager->backend, l->port, &pol);
        (void) line_backend_get_feed(l->manager->backend, l->port, &feed);
        *hw = (Gw__LineHwState) GW__LINE_HW_STATE__INIT;
        hw->port = l->port;
        hw->hook = line_logic_hook_state(&l->logic) == LINE_HOOK_OFF ? GW__HOOK_STATE__HOOK_OFF : GW__HOOK_STATE__HOOK_ON;
        hw->has_ringing = true;
        hw->ringing = l->logic.ringing;
        hw->has_polarity = true;
        hw->polarity = pol == LINE_POLARITY_REVERSED ? GW__POLARITY__POLARITY_REVERSED : GW__POLARITY__POLARITY_NORMAL;
        hw->has_feed = true;
        hw->feed = feed != LINE_FEED_DISCONNECT;
        if (l->hook_changed_real_us) {
                hw->has_hook_changed_real_us = true;
                hw->hook_changed_real_us = l->hook_changed_real_us;
        }
        hw->backend = UNCONST(l->manager->backend->ops->name);
}

static void line_publish(Line *l, bool force) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineHwState hw;

        line_fill_hw(l, &hw);
        if (!force && l->published && l->pub_hook == hw.hook && l->pub_ringing == hw.ringing &&
            l->pub_polarity == hw.polarity && l->pub_feed == hw.feed)
                return;
        l->published = true;
        l->pub_hook = hw.hook;
        l->pub_ringing = hw.ringing;
        l->pub_polarity = hw.polarity;
        l->pub_feed = hw.feed;
        env.body_case = GW__ENVELOPE__BODY_LINE_HW_STATE;
        env.line_hw_state = &hw;
        (void) gw_bus_publish_port(l->manager->daemon->bus, l->port, &env);
}

static void line_event_send(Line *l, Gw__LineEventKind kind, const char *digit, uint32_t duration_ms,
                            uint32_t seq, bool replay) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineEvent ev = GW__LINE_EVENT__INIT;

        ev.port = l->port;
        ev.kind = kind;
        ev.digit = UNCONST(digit);
        ev.has_duration_ms = true;
        ev.duration_ms = duration_ms;
        if (seq > 0) {
                ev.has_seq = ev.has_replay = true;
                ev.seq = seq;
                ev.replay = replay;
        }
        env.body_case = GW__ENVELOPE__BODY_LINE_EVENT;
        env.line_event = &ev;
        (void) gw_bus_publish_port(l->manager->daemon->bus, l->port, &env);
}

static void line_event(Line *l, Gw__LineEventKind kind, const char *digit, uint32_t duration_ms) {
        uint32_t seq = 0;

        if (kind == GW__LINE_EVENT_KIND__LINE_EVENT_PULSE_DIGIT && digit)
                seq = gw_digit_log_add(&l->digits, digit[0], duration_ms, now_usec(CLOCK_MONOTONIC));
        line_event_send(l, kind, digit, duration_ms, seq, false);
}

/* A restarted sigd asked for state: the pulse digits of the last seconds again
 * (gw-digit-log.h), for those dialled while it was down. */
static void replay_digits(Manager *m) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = &m->lines[i];
                GwDigitLogEntry e[GW_DIGIT_LOG_KEEP];
                size_t n = gw_digit_log_recent(&l->digits, now, e);

                for (size_t k = 0; k < n; k++) {
                        char d[2] = { e[k].digit, 0 };
                        line_event_send(l, GW__LINE_EVENT_KIND__LINE_EVENT_PULSE_DIGIT, d, e[k].duration_ms,
                                        e[k].seq, true);
                }
        }
}

void manager_publish_all(Manager *m) {
        for (size_t i = 0; i < m->n_lines; i++)
                line_publish(&m->lines[i], true);
}

/* ---------------------------------------------------------------- line logic glue */

static void line_rearm(Line *l) {
        uint64_t d = line_logic_next_deadline(&l->logic);

        if (d == UINT64_MAX) {
                (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
                return;
        }
        l->timer_at = d;
        (void) sd_event_source_set_time(l->timer, d);
        (void) sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
}

static int on_line_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Line *l = userdata;

        /* Tick at the deadline itself, not at the (later) wake-up: the logic
         * stays exact, and a sim edge scheduled in between still comes in order. */
        line_logic_tick(&l->logic, l->timer_at);
        line_rearm(l);
        return 0;
}

static void logic_hook_changed(LineLogic *lg, LineHook hook, uint64_t at, void *userdata) {
        Line *l = userdata;

        l->hook_changed_real_us = now_usec(CLOCK_REALTIME);
        log_info("Line %u is %s.", l->port, line_hook_to_string(hook));
        if (l->phone)
                sim_phone_hook_changed(l->phone, hook);
        line_publish(l, false);
}

static void logic_flash(LineLogic *lg, uint32_t duration_ms, void *userdata) {
        Line *l = userdata;

        log_info("Line %u: hook flash (%u ms).", l->port, duration_ms);
        line_event(l, GW__LINE_EVENT_KIND__LINE_EVENT_FLASH, NULL, duration_ms);
}

static void logic_pulse_digit(LineLogic *lg, char digit, uint32_t duration_ms, void *userdata) {
        Line *l = userdata;
        char d[2] = { digit, 0 };

        log_info("Line %u: pulse digit %c.", l->port, digit);
        line_event(l, GW__LINE_EVENT_KIND__LINE_EVENT_PULSE_DIGIT, d, duration_ms);
}

static void logic_ring_output(LineLogic *lg, bool on, void *userdata) {
        Line *l = userdata;
        int r;

        r = line_backend_set_ring(l->manager->backend, l->port, on);
        if (r < 0 && !(on && r == -EBUSY))
                log_warning_errno(r, "Line %u: failed to switch ringing %s, ignoring: %m", l->port, on ? "on" : "off");
}

static const LineLogicOps logic_ops = {
        .hook_changed = logic_hook_changed,
        .flash = logic_flash,
        .pulse_digit = logic_pulse_digit,
        .ring_output = logic_ring_output,
};

static void on_backend_hook(LineBackend *b, unsigned port, LineHook hook, void *userdata) {
        Manager *m = userdata;
        Line *l = manager_line(m, port);

        if (!l)
                return;
        line_logic_hook(&l->logic, hook, m->edge_at ? m->edge_at : now_usec(CLOCK_MONOTONIC));
        line_rearm(l);
}

static int on_backend_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        int r;

        r = m->backend->ops->process(m->backend);
        if (r < 0)
                log_warning_errno(r, "Line backend '%s' failed to process events, ignoring: %m", m->backend->ops->name);
        return 0;
}

/* The simulated handset survives a restart of linehwd, as a real one would:
 * "<port> off" per off-hook line, " auto" added when auto_answer took the
 * call, so the phone still hangs up when the far end does. */
static void sim_hooks_save(Manager *m) {
        char buf[16384];
        size_t n = 0;

        for (size_t i = 0; i < m->n_lines && n < sizeof buf - 32; i++) {
                LineHook h = LINE_HOOK_ON;
                (void) line_backend_get_hook(m->backend, m->lines[i].port, &h);
                bool answered = false, connected = false;

                if (h != LINE_HOOK_OFF)
                        continue;
                if (m->lines[i].phone)
                        sim_phone_get_answered(m->lines[i].phone, &answered, &connected);
                n += (size_t) snprintf(buf + n, sizeof buf - n, "%u off%s%s\n", m->lines[i].port,
                                       answered ? " auto" : "", connected ? " connected" : "");
        }
        (void) gw_state_write(m->daemon->state_dir, SIM_HOOKS_FILE, buf, n);
}

static void sim_hooks_restore(Manager *m) {
        _cleanup_free_ char *data = NULL;
        void *raw = NULL;
        size_t len = 0;

        if (gw_state_read(m->daemon->state_dir, SIM_HOOKS_FILE, &raw, &len) < 0)
                return;
        data = realloc(raw, len + 1);
        if (!data) {
                free(raw);
                return;
        }
        data[len] = 0;
        for (char *p = data, *nl; p && *p; p = nl ? nl + 1 : NULL) {
                unsigned port;
                int end = 0;
                Line *l;

                nl = strchr(p, '\n');
                if (nl)
                        *nl = 0;
                if (sscanf(p, "%u off%n", &port, &end) != 1 || end == 0 || !(l = manager_line(m, port)) || !l->phone)
                        continue;
                log_info("Line %u: the simulated handset was off hook before the restart.", port);
                /* Off hook from the first publication on: a sigd restarted at the
                 * same time must never see the line on hook (it would hang up). */
                line_logic_restore_off(&l->logic);
                line_rearm(l);
                if (sim_phone_restore_off_hook(l->phone, strstr(p + end, " auto") != NULL) >= 0) {
                        sim_phone_hook_changed(l->phone, LINE_HOOK_OFF);
                        sim_phone_restore_answered(l->phone, strstr(p + end, " auto") != NULL,
                                                   strstr(p + end, " connected") != NULL);
                }
        }
        sim_hooks_save(m);                /* each set_hook above saved before its flags were back */
}

static void phone_hook(SimPhone *p, LineHook hook, uint64_t at, void *userdata) {
        Line *l = userdata;
        Manager *m = l->manager;

        m->edge_at = at;
        (void) line_backend_sim_set_hook(m->backend, l->port, hook);
        m->edge_at = 0;
        sim_hooks_save(m);
}

/* ---------------------------------------------------------------- PCM */

static void on_pcm_down(GwPcm *p, const GwPcmFrame *f, void *userdata) {
        Manager *m = userdata;
        Line *l = manager_line(m, f->port);

        if (!l)
                return;
        (void) line_backend_write_pcm(m->backend, l->port, f->samples);
        if (l->phone)
                sim_phone_hear(l->phone);
}

static void line_send_up(Line *l, uint64_t now) {
        Manager *m = l->manager;
        GwPcmFrame f = {};
        bool off = line_logic_hook_state(&l->logic) == LINE_HOOK_OFF;

        if (!off && !l->logic.ringing)
                return;
        if (l->phone)
                sim_phone_speak(l->phone);
        f.port = (uint16_t) l->port;
        f.seq = ++l->up_seq;
        f.flags = (off ? GW_PCM_FLAG_OFFHOOK : 0) | (l->logic.ringing ? GW_PCM_FLAG_RINGING : 0);
        f.mono_us = now;
        if (line_backend_read_pcm(m->backend, l->port, f.samples) < 0) {
                memset(f.samples, 0, sizeof f.samples);
                f.flags |= GW_PCM_FLAG_SILENT;
        }
        (void) gw_pcm_send(m->pcm, &f);
}

static int on_pcm_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC), missed = 0;

        /* A fixed grid, so the frame rate does not drift; slots the loop slept through are counted, not caught up. */
        if (now >= m->pcm_next + PCM_PERIOD_US)
                missed = (now - m->pcm_next) / PCM_PERIOD_US;
        if (missed > 0)
                gw_pcm_add_late(m->pcm, missed);
        m->pcm_next += (missed + 1) * PCM_PERIOD_US;
        for (size_t i = 0; i < m->n_lines; i++)
                line_send_up(&m->lines[i], now);
        (void) sd_event_source_set_time(s, m->pcm_next);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* ---------------------------------------------------------------- bus in */

static int handle_line_control(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Manager *m = userdata;
        const Gw__LineControl *lc = env->line_control;
        Line *l = manager_line(m, lc->port);
        int r;

        if (!l)
                return -ENXIO;
        if (lc->has_ring) {
                bool was = l->logic.ringing;
                const GwCadence *cad = m->daemon->tone_plan ? &m->daemon->tone_plan->ring : NULL;

                /* Hardware that cadences by itself gets the cadence once and rings "continuously" for us. */
                if (lc->ring && !was && cad && m->backend->ops->set_ring_cadence) {
                        r = m->backend->ops->set_ring_cadence(m->backend, l->port, cad->ms, cad->n, cad->repeat);
                        if (r < 0)
                                log_warning_errno(r, "Line %u: failed to set the ring cadence, ignoring: %m", l->port);
                        cad = NULL;
                }
                r = line_logic_ring(&l->logic, lc->ring, cad, now_usec(CLOCK_MONOTONIC));
                if (r < 0)
                        log_debug_errno(r, "Line %u: not ringing an off-hook line.", l->port);
                if (l->phone && was != l->logic.ringing)
                        sim_phone_ringing(l->phone, l->logic.ringing);
        }
        if (lc->has_polarity) {
                r = line_backend_set_polarity(m->backend, l->port,
                                              lc->polarity == GW__POLARITY__POLARITY_REVERSED ? LINE_POLARITY_REVERSED : LINE_POLARITY_NORMAL);
                if (r < 0)
                        log_warning_errno(r, "Line %u: failed to set polarity, ignoring: %m", l->port);
        }
        /* feed defaults to true: an absent field means "feed on". */
        r = line_backend_set_feed(m->backend, l->port, !lc->has_feed || lc->feed ? LINE_FEED_ACTIVE : LINE_FEED_DISCONNECT);
        if (r < 0)
                log_warning_errno(r, "Line %u: failed to set the line feed, ignoring: %m", l->port);
        line_rearm(l);
        line_publish(l, false);
        return 0;
}

static int handle_line_call(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Manager *m = userdata;
        Line *l = manager_line(m, env->line_call->port);

        if (!l)
                return -ENXIO;
        if (l->phone) {
                Gw__CallState st = env->line_call->state;

                bool answered, was, now;

                sim_phone_get_answered(l->phone, &answered, &was);
                sim_phone_connected(l->phone, st == GW__CALL_STATE__CALL_CONNECTED);
                sim_phone_get_answered(l->phone, &answered, &now);
                if (now != was)
                        sim_hooks_save(m);        /* an answering machine's call connected: remember it */
                if (st == GW__CALL_STATE__CALL_RELEASING || st == GW__CALL_STATE__CALL_IDLE)
                        sim_phone_call_ended(l->phone);
        }
        return 0;
}

static int handle_state_sync(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        manager_publish_all(userdata);
        if (env->state_sync_request && env->state_sync_request->requester == GW__SERVICE__SERVICE_SIGD)
                replay_digits(userdata);
        return 0;
}

static const GwBusHandler handlers[] = {
        [GW__ENVELOPE__BODY_STATE_SYNC_REQUEST] = {
                "StateSyncRequest", handle_state_sync, GW_SRC_DAEMONS },
        [GW__ENVELOPE__BODY_LINE_CONTROL] = {
                "LineControl", handle_line_control, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
        [GW__ENVELOPE__BODY_LINE_CALL] = {
                "LineCall", handle_line_call, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
};

/* ---------------------------------------------------------------- control socket */

static void reply_line_status(Manager *m, Line *only, Gw__Envelope *reply) {
        size_t n = 0;

        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = &m->lines[i];

                if (only && l != only)
                        continue;
                line_fill_hw(l, &m->reply_hw[n]);
                m->reply_entries[n] = (Gw__LineStatusEntry) GW__LINE_STATUS_ENTRY__INIT;
                m->reply_entries[n].port = l->port;
                m->reply_entries[n].hw = &m->reply_hw[n];
                m->reply_ptrs[n] = &m->reply_entries[n];
                n++;
        }
        m->reply_status = (Gw__LineStatusReply) GW__LINE_STATUS_REPLY__INIT;
        m->reply_status.n_lines = n;
        m->reply_status.lines = m->reply_ptrs;
        reply->body_case = GW__ENVELOPE__BODY_LINE_STATUS_REPLY;
        reply->line_status_reply = &m->reply_status;
}

static int line_command(Manager *m, const Gw__LineCommand *c, Gw__Envelope *reply) {
        Line *l = manager_line(m, c->port);
        int r;

        if (!l)
                return -ENXIO;
        if (!l->phone)
                return -EOPNOTSUPP;     /* a real line's handset is moved by a hand */
        switch (c->action) {
        case GW__LINE_ACTION__LINE_ACTION_OFFHOOK:
                r = sim_phone_set_hook(l->phone, LINE_HOOK_OFF);
                break;
        case GW__LINE_ACTION__LINE_ACTION_ONHOOK:
                r = sim_phone_set_hook(l->phone, LINE_HOOK_ON);
                break;
        case GW__LINE_ACTION__LINE_ACTION_FLASH:
                r = sim_phone_flash(l->phone);
                break;
        case GW__LINE_ACTION__LINE_ACTION_DIAL:
                r = sim_phone_dial(l->phone, c->digits, c->has_pulse && c->pulse);
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                return r;
        log_info("Line %u: simulated %s%s%s.", l->port,
                 c->action == GW__LINE_ACTION__LINE_ACTION_OFFHOOK ? "off-hook" :
                 c->action == GW__LINE_ACTION__LINE_ACTION_ONHOOK ? "on-hook" :
                 c->action == GW__LINE_ACTION__LINE_ACTION_FLASH ? "flash" : "dialling ",
                 c->action == GW__LINE_ACTION__LINE_ACTION_DIAL ? c->digits : "",
                 c->action == GW__LINE_ACTION__LINE_ACTION_DIAL && c->has_pulse && c->pulse ? " (pulses)" : "");
        reply_line_status(m, l, reply);
        return 0;
}

static int on_ctl(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        Manager *m = userdata;

        switch (req->body_case) {
        case GW__ENVELOPE__BODY_STATUS_REQUEST:
                m->reply_sr = (Gw__StatusReply) GW__STATUS_REPLY__INIT;
                m->reply_counters = (Gw__BusCounters) GW__BUS_COUNTERS__INIT;
                gw_bus_counters(bus, &m->reply_counters);
                m->reply_counters.has_pcm_frames_tx = m->reply_counters.has_pcm_frames_rx = true;
                {
                        Gw__PcmCounters pc = GW__PCM_COUNTERS__INIT;
                        gw_pcm_counters(m->pcm, &pc);
                        m->reply_counters.pcm_frames_tx = pc.frames_tx;
                        m->reply_counters.pcm_frames_rx = pc.frames_rx;
                }
                m->reply_sr.counters = &m->reply_counters;
                reply->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
                reply->status_reply = &m->reply_sr;
                return 0;
        case GW__ENVELOPE__BODY_LINE_STATUS_REQUEST: {
                uint32_t port = req->line_status_request->has_port ? req->line_status_request->port : 0;
                Line *l = NULL;

                if (port != 0 && !(l = manager_line(m, port)))
                        return -ENXIO;
                reply_line_status(m, l, reply);
                return 0;
        }
        case GW__ENVELOPE__BODY_LINE_COMMAND:
                return line_command(m, req->line_command, reply);
        default:
                return -EOPNOTSUPP;
        }
}

/* ---------------------------------------------------------------- setup */

/* After a (re)start, subscribers' connections to our new PUB take a moment
 * to form and nobody asks for our state: publish it a few times, as
 * gw-daemon repeats its StateSyncRequest. Repeats are idempotent state. */
static const uint64_t announce_ms[] = { 0, 150, 400, 1000, 2500 };

static int on_announce(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_publish_all(m);
        if (++m->announce_round >= ELEMENTSOF(announce_ms))
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        (void) sd_event_source_set_time_relative(s, (announce_ms[m->announce_round] - announce_ms[m->announce_round - 1]) * USEC_PER_MSEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int manager_new(GwDaemon *d, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ unsigned *ports = NULL;
        const char *name = isempty(d->conf->line_hw_backend) ? "sim" : d->conf->line_hw_backend;
        size_t n = d->conf->n_lines;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->daemon = d;
        ports = calloc(MAX(n, (size_t) 1), sizeof *ports);
        m->lines = calloc(MAX(n, (size_t) 1), sizeof *m->lines);
        m->reply_entries = calloc(MAX(n, (size_t) 1), sizeof *m->reply_entries);
        m->reply_ptrs = calloc(MAX(n, (size_t) 1), sizeof *m->reply_ptrs);
        m->reply_hw = calloc(MAX(n, (size_t) 1), sizeof *m->reply_hw);
        if (!ports || !m->lines || !m->reply_entries || !m->reply_ptrs || !m->reply_hw)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                ports[i] = d->conf->lines[i].port;
        r = line_backend_new(name, ports, n, &m->backend);
        if (r == -EOPNOTSUPP)
                return log_error_errno(r, "Unknown line hardware backend '%s' in '%s' (known: sim).", name, d->conf->path);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the '%s' line backend: %m", name);
        line_backend_set_hook_callback(m->backend, on_backend_hook, m);
        if (m->backend->ops->get_fd && m->backend->ops->process) {
                int fd = m->backend->ops->get_fd(m->backend);
                if (fd < 0)
                        return log_error_errno(fd, "Line backend '%s' has no event fd: %m", name);
                r = sd_event_add_io(d->event, &m->backend_io, fd, EPOLLIN, on_backend_io, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch the line backend: %m");
        }

        m->n_lines = n;
        for (size_t i = 0; i < n; i++) {
                Line *l = &m->lines[i];

                l->manager = m;
                l->conf = &d->conf->lines[i];
                l->port = l->conf->port;
                line_logic_init(&l->logic, l->port, d->conf->line_hw_flash_min_us, d->conf->line_hw_flash_max_us,
                                &logic_ops, l);
                r = sd_event_add_time(d->event, &l->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_line_timer, l);
                if (r < 0)
                        return log_error_errno(r, "Failed to add a line timer: %m");
                (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
                if (is_sim(m)) {
                        r = sim_phone_new(d->event, m->backend, l->conf, d->conf->line_hw_flash_min_us,
                                          d->conf->line_hw_flash_max_us, phone_hook, l, &l->phone);
                        if (r < 0)
                                return log_error_errno(r, "Failed to set up the simulated phone of line %u: %m", l->port);
                }
        }

        r = gw_pcm_new(d->event, d->conf, GW_PCM_LINE, on_pcm_down, m, &m->pcm);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the PCM data plane: %m");
        d->pcm = m->pcm;

        m->pcm_next = now_usec(CLOCK_MONOTONIC) + PCM_PERIOD_US;
        r = sd_event_add_time(d->event, &m->pcm_timer, CLOCK_MONOTONIC, m->pcm_next, 1, on_pcm_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the PCM clock: %m");
        (void) sd_event_source_set_description(m->pcm_timer, "pcm-clock");
        /* The clock drives everything else on the line side (gw-pcm.h): first among equals. */
        (void) sd_event_source_set_priority(m->pcm_timer, SD_EVENT_PRIORITY_IMPORTANT);

        gw_bus_set_handlers(d->bus, handlers, ELEMENTSOF(handlers), m);
        gw_bus_set_ctl_handler(d->bus, on_ctl, NULL, m);
        r = gw_bus_subscribe(d->bus, "LineControl");
        if (r >= 0)
                r = gw_bus_subscribe(d->bus, "LineCall");
        if (r >= 0)
                r = gw_bus_subscribe(d->bus, "StateSyncRequest");
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe: %m");

        if (is_sim(m))
                sim_hooks_restore(m);

        r = sd_event_add_time_relative(d->event, &m->announce_timer, CLOCK_MONOTONIC, 0, 1, on_announce, m);
        if (r < 0)
                return log_error_errno(r, "Failed to schedule the first publication: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_lines; i++) {
                sd_event_source_disable_unref(m->lines[i].timer);
                sim_phone_free(m->lines[i].phone);
        }
        sd_event_source_disable_unref(m->pcm_timer);
        sd_event_source_disable_unref(m->announce_timer);
        sd_event_source_disable_unref(m->backend_io);
        if (m->daemon && m->daemon->pcm == m->pcm)
                m->daemon->pcm = NULL;
        gw_pcm_free(m->pcm);
        line_backend_free(m->backend);
        free(m->lines);
        free(m->reply_entries);
        free(m->reply_ptrs);
        free(m->reply_hw);
        free(m);
        return NULL;
}
