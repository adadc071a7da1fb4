/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-line.c: debounce, flash, pulse dialling and ring cadence of one line, on injected time. */
#include <string.h>

#include "linehwd-line.h"

void line_logic_init(LineLogic *l, unsigned port, uint64_t flash_min_us, uint64_t flash_max_us,
                     const LineLogicOps *ops, void *userdata) {
        *l = (LineLogic) {
                .port = port,
                .flash_min_us = flash_min_us,
                .flash_max_us = flash_max_us > flash_min_us ? flash_max_us : flash_min_us + 1,
                .ops = ops,
                .userdata = userdata,
                .raw = LINE_HOOK_ON,
                .debounced = LINE_HOOK_ON,
                .phase = LINE_PHASE_ON,
        };
}

void line_logic_assume(LineLogic *l, LineHook hook) {
        l->raw = l->debounced = hook;
        l->phase = hook == LINE_HOOK_ON ? LINE_PHASE_ON : LINE_PHASE_OFF;
}

/* A handset off hook since before a restart (the simulated phone's saved state). */
void line_logic_restore_off(LineLogic *l) {
        line_logic_assume(l, LINE_HOOK_OFF);
}

LineHook line_logic_hook_state(const LineLogic *l) {
        return l->phase == LINE_PHASE_ON ? LINE_HOOK_ON : LINE_HOOK_OFF;
}

static void ring_set_output(LineLogic *l, bool on) {
        if (l->ring_on == on)
                return;
        l->ring_on = on;
        if (l->ops->ring_output)
                l->ops->ring_output(l, on, l->userdata);
}

static void ring_stop(LineLogic *l) {
        l->ringing = false;
        l->ring_next = UINT64_MAX;
        ring_set_output(l, false);
}

static void digit_done(LineLogic *l) {
        static const char digits[] = "1234567890";
        unsigned n = l->pulses;

        l->pulses = 0;
        if (n == 0)
                return;
        if (n > LINE_MAX_PULSES) {
                /* No digit has more than 10 pulses: a fumbled dial or a broken line. */
                l->dropped_digits++;
                return;
        }
        if (l->ops->pulse_digit)
                l->ops->pulse_digit(l, digits[n - 1], (uint32_t) ((l->last_make - l->train_start) / USEC_PER_MSEC),
                                    l->userdata);
}

/* A debounced edge that happened (raw) at 't'. */
static void hook_edge(LineLogic *l, LineHook hook, uint64_t t) {
        if (hook == LINE_HOOK_ON) {
                if (l->phase == LINE_PHASE_OFF) {
                        l->phase = LINE_PHASE_BREAK;
                        l->break_start = t;
                }
                return;
        }

        switch (l->phase) {
        case LINE_PHASE_ON:
                l->phase = LINE_PHASE_OFF;
                l->pulses = 0;
                /* Lifting the handset trips the ringing. */
                if (l->ringing)
                        ring_stop(l);
                if (l->ops->hook_changed)
                        l->ops->hook_changed(l, LINE_HOOK_OFF, t, l->userdata);
                break;
        case LINE_PHASE_BREAK: {
                uint64_t d = t - l->break_start;

                l->phase = LINE_PHASE_OFF;
                if (d < l->flash_min_us) {
                        if (l->pulses == 0)
                                l->train_start = l->break_start;
                        l->pulses++;
                        l->last_make = t;
                } else {
                        /* A flash in the middle of a pulse train: the train was no digit. */
                        l->pulses = 0;
                        if (l->ops->flash)
                                l->ops->flash(l, (uint32_t) (d / USEC_PER_MSEC), l->userdata);
                }
                break;
        }
        case LINE_PHASE_OFF:
                break;
        }
}

/* A raw edge before time t that is still being debounced decides what
 * happened at t: the timeout waits for it. */
static bool edge_pending_before(const LineLogic *l, uint64_t t) {
        return l->raw != l->debounced && l->burst_start < t;
}

uint64_t line_logic_next_deadline(const LineLogic *l) {
        uint64_t d = UINT64_MAX;

        if (l->raw != l->debounced)
                d = MIN(d, l->raw_since + LINE_DEBOUNCE_US);
        if (l->phase == LINE_PHASE_BREAK && !edge_pending_before(l, l->break_start + l->flash_max_us))
                d = MIN(d, l->break_start + l->flash_max_us);
        if (l->phase == LINE_PHASE_OFF && l->pulses > 0 && !edge_pending_before(l, l->last_make + LINE_DIGIT_GAP_US))
                d = MIN(d, l->last_make + LINE_DIGIT_GAP_US);
        if (l->ringing)
                d = MIN(d, l->ring_next);
        return d;
}

static void ring_step(LineLogic *l) {
        const GwCadence *c = &l->cadence;

        /* Zero-length steps are skipped; the cadence has at most GW_TONE_MAX_CADENCE. */
        for (unsigned i = 0; i <= GW_TONE_MAX_CADENCE; i++) {
                l->ring_idx++;
                if (l->ring_idx >= c->n) {
                        if (!c->repeat) {
                                l->ring_next = UINT64_MAX;
                                ring_set_output(l, false);
                                return;
                        }
                        l->ring_idx = 0;
                }
                if (c->ms[l->ring_idx] > 0)
                        break;
        }
        ring_set_output(l, l->ring_idx % 2 == 0);
        l->ring_next += (uint64_t) c->ms[l->ring_idx] * USEC_PER_MSEC;
}

void line_logic_tick(LineLogic *l, uint64_t now) {
        /* Each round handles the earliest deadline; bounded against a broken cadence. */
        for (unsigned i = 0; i < 1024; i++) {
                uint64_t d = line_logic_next_deadline(l);

                if (d > now)
                        return;
                if (l->raw != l->debounced && d >= l->raw_since + LINE_DEBOUNCE_US) {
                        l->debounced = l->raw;
                        hook_edge(l, l->raw, l->burst_start);
                } else if (l->phase == LINE_PHASE_BREAK && d == l->break_start + l->flash_max_us) {
                        /* On hook for flash_max: a hang-up. A digit in progress is lost. */
                        l->phase = LINE_PHASE_ON;
                        l->pulses = 0;
                        if (l->ops->hook_changed)
                                l->ops->hook_changed(l, LINE_HOOK_ON, d, l->userdata);
                } else if (l->phase == LINE_PHASE_OFF && l->pulses > 0 && d == l->last_make + LINE_DIGIT_GAP_US)
                        digit_done(l);
                else if (l->ringing && d == l->ring_next)
                        ring_step(l);
                else
                        return;      /* cannot happen: every deadline has its branch */
        }
}

void line_logic_hook(LineLogic *l, LineHook hook, uint64_t now) {
        if (hook != LINE_HOOK_ON && hook != LINE_HOOK_OFF)
                return;
        line_logic_tick(l, now);
        if (hook == l->raw)
                return;
        /* Changes closer than the debounce time are one bouncing contact:
         * the edge is where the burst began, when the contact first moved. */
        if (now - l->raw_since >= LINE_DEBOUNCE_US)
                l->burst_start = now;
        l->raw = hook;
        l->raw_since = now;
}

int line_logic_ring(LineLogic *l, bool on, const GwCadence *cadence, uint64_t now) {
        if (!on) {
                if (l->ringing)
                        ring_stop(l);
                return 0;
        }
        if (l->phase != LINE_PHASE_ON)
                return -EBUSY;
        if (l->ringing)
                return 0;            /* level-triggered: a repeated request keeps the cadence going */
        l->ringing = true;
        l->cadence = cadence ? *cadence : (GwCadence) {};
        if (l->cadence.n > GW_TONE_MAX_CADENCE)
                l->cadence.n = GW_TONE_MAX_CADENCE;
        l->ring_start = now;
        l->ring_idx = 0;
        ring_set_output(l, true);
        l->ring_next = l->cadence.n > 0 ? now + (uint64_t) l->cadence.ms[0] * USEC_PER_MSEC : UINT64_MAX;
        return 0;
}
