/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-policy.h: restart back-off and the restart rate limit, as pure functions.
 *
 * Nothing here reads a clock: every function takes 'now' (CLOCK_MONOTONIC
 * microseconds) from its caller, so the unit tests drive them with made-up times. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gw-macro.h"

#define RESTART_BACKOFF_MIN_USEC   (100 * USEC_PER_MSEC)  /* first restart after an exit */
#define RESTART_BACKOFF_MAX_USEC   (5 * USEC_PER_SEC)     /* doubling stops here */
#define RESTART_BACKOFF_RESET_USEC (10 * USEC_PER_SEC)    /* this long READY resets the back-off */
#define RESTART_AT_ONCE_READY_USEC (1 * USEC_PER_SEC)     /* this long READY: first restart at once */
#define RESTART_WINDOW_USEC        (60 * USEC_PER_SEC)    /* restart_limit counts within this */

/* Delay before restart number 'attempt' (0 for the first restart after a
 * good run): 100 ms, 200 ms, 400 ms, ... capped at 5 s. */
uint64_t restart_backoff_usec(unsigned attempt);

/* A child that became READY at ready_at (0: never) and exited at 'now':
 * did it stay READY long enough (RESTART_BACKOFF_RESET_USEC) for its
 * back-off to start again from 100 ms? */
bool restart_backoff_should_reset(uint64_t ready_at, uint64_t now);

/* Delay before restarting a child that was READY for 'ready_for' (0: never):
 * none for the first restart (attempt 0) of one that ran READY for at least
 * RESTART_AT_ONCE_READY_USEC -- a daemon killed mid-call is back at once and
 * its calls hear the shortest gap -- else restart_backoff_usec(attempt), so a
 * crash loop still backs off. */
uint64_t restart_delay_usec(unsigned attempt, uint64_t ready_for);

/* Sliding window of the last 'limit' restart times of one daemon. */
typedef struct RestartWindow {
        uint64_t *stamps;       /* ring of 'limit' entries; 0 = empty slot */
        unsigned limit;
        unsigned head;          /* next slot to write (the oldest entry when full) */
} RestartWindow;

/* limit 0 means no restart is ever allowed. Returns -ENOMEM. */
int restart_window_init(RestartWindow *w, unsigned limit);
void restart_window_done(RestartWindow *w);
/* Restarts recorded within (now - RESTART_WINDOW_USEC, now]. */
unsigned restart_window_count(const RestartWindow *w, uint64_t now);
/* Record a restart at 'now' if it keeps the daemon within 'limit' restarts in
 * the window and return true; return false (recording nothing) if this one
 * would be restart number limit+1 within the window. */
bool restart_window_admit(RestartWindow *w, uint64_t now);
