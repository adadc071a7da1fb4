/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-line.h: the logic of one line above the backend, on injected time.
 *
 * Input is the raw hook switch with the time of each edge; output is what
 * call control should hear: a debounced hook state, hook flashes and
 * pulse-dialled digits. The ring cadence is driven here too. Nothing in this
 * file reads a clock: the caller passes 'now' (CLOCK_MONOTONIC µs) and asks
 * line_logic_next_deadline() when to call line_logic_tick() next, so the
 * tests run any timing exactly.
 *
 * Hook timing (docs/LINES.md):
 *   - an edge counts once the switch has stayed there LINE_DEBOUNCE_US;
 *     it is dated at the first change of its bounce burst (changes less
 *     than LINE_DEBOUNCE_US apart), and durations are measured between
 *     those dates, not when the debounce ended;
 *   - an on-hook break shorter than flash_min is a dial pulse; pulses
 *     followed by LINE_DIGIT_GAP_US off hook make one digit (10 pulses: "0");
 *   - a break of flash_min..flash_max is a hook flash;
 *   - a break that reaches flash_max is a hang-up: the hook state becomes
 *     "on" at that moment (so a hang-up is reported flash_max after the
 *     handset went down).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gw-toneplan.h"
#include "linehwd-backend.h"

#define LINE_DEBOUNCE_US     (10 * USEC_PER_MSEC)
#define LINE_DIGIT_GAP_US    (200 * USEC_PER_MSEC)  /* make after the last pulse that ends a digit */
#define LINE_MAX_PULSES      10

typedef struct LineLogic LineLogic;

typedef struct LineLogicOps {
        void (*hook_changed)(LineLogic *l, LineHook hook, uint64_t at, void *userdata);
        void (*flash)(LineLogic *l, uint32_t duration_ms, void *userdata);
        void (*pulse_digit)(LineLogic *l, char digit, uint32_t duration_ms, void *userdata);
        /* the ringing voltage must go on or off now (cadence step) */
        void (*ring_output)(LineLogic *l, bool on, void *userdata);
} LineLogicOps;

typedef enum LineHookPhase {
        LINE_PHASE_ON,                   /* on hook (reported) */
        LINE_PHASE_OFF,                  /* off hook (reported) */
        LINE_PHASE_BREAK,                /* reported off, switch on: pulse, flash or hang-up? */
} LineHookPhase;

struct LineLogic {
        unsigned port;
        uint64_t flash_min_us, flash_max_us;
        const LineLogicOps *ops;
        void *userdata;

        /* raw switch and debounce */
        LineHook raw;
        uint64_t raw_since;              /* last raw change */
        uint64_t burst_start;            /* first change of the current bounce burst */
        LineHook debounced;

        LineHookPhase phase;
        uint64_t break_start;            /* raw time the current break began */
        unsigned pulses;                 /* of the digit being dialled */
        uint64_t train_start, last_make;

        /* ringing */
        bool ringing;                    /* cadence running */
        bool ring_on;                    /* voltage now */
        uint64_t ring_start;
        unsigned ring_idx;               /* cadence step: even on, odd off */
        uint64_t ring_next;              /* end of the step; UINT64_MAX: none */
        GwCadence cadence;               /* n == 0: continuous */

        uint64_t dropped_digits;         /* trains of more than 10 pulses */
};

/* A handset that was off hook before a restart of linehwd: off hook from the
 * start, no edge (no debounce during which the line would look on hook). */
void line_logic_restore_off(LineLogic *l);

void line_logic_init(LineLogic *l, unsigned port, uint64_t flash_min_us, uint64_t flash_max_us,
                     const LineLogicOps *ops, void *userdata);
/* The switch is at 'hook' since 'now' (call on every raw change; repeats are ignored). */
void line_logic_hook(LineLogic *l, LineHook hook, uint64_t now);
/* Handle everything due at or before 'now'. */
void line_logic_tick(LineLogic *l, uint64_t now);
/* When line_logic_tick() must run next; UINT64_MAX: nothing pending. */
uint64_t line_logic_next_deadline(const LineLogic *l);
/* The switch has been at 'hook' since before we started (a restart of linehwd): a state, not an
 * edge: no debounce, no hang-up or flash timing, no callback. Only before any edge was fed. */
void line_logic_assume(LineLogic *l, LineHook hook);
/* The hook state call control sees. */
LineHook line_logic_hook_state(const LineLogic *l);

/* Start (with 'cadence', copied) or stop ringing. Starting an off-hook line
 * is refused (-EBUSY): the handset is up. Going off hook stops it (ring trip). */
int line_logic_ring(LineLogic *l, bool on, const GwCadence *cadence, uint64_t now);
