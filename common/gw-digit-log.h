/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-digit-log.h: the digits a line dialled lately, numbered, to send again.
 *
 * A digit goes to sigd on the bus (DigitDetected from mediad, LineEvent
 * PULSE_DIGIT from linehwd), and the bus drops what is published while sigd
 * is down. So each sender numbers the digits of each line (seq, from 1, per
 * sender instance) and keeps the last few; a restarted sigd asks for state
 * (StateSyncRequest) and the sender publishes the recent ones again, marked
 * replay. sigd keeps, with a line that is dialling, the instance and seq of
 * the last digit it took, and takes a replayed digit only when it is of the
 * same instance and later (docs/CALLS.md "Restart"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_DIGIT_LOG_KEEP        16                       /* per line */
#define GW_DIGIT_LOG_MAX_AGE_USEC (10 * UINT64_C(1000000)) /* older ones are not sent again */

typedef struct GwDigitLogEntry {
        uint32_t seq;
        char digit;
        uint32_t duration_ms;
        uint64_t mono_us;
} GwDigitLogEntry;

typedef struct GwDigitLogLine {
        uint32_t next_seq;                       /* the last seq given (0: none yet) */
        GwDigitLogEntry ring[GW_DIGIT_LOG_KEEP];
} GwDigitLogLine;

/* Number a digit and keep it; returns its seq (>= 1). */
uint32_t gw_digit_log_add(GwDigitLogLine *l, char digit, uint32_t duration_ms, uint64_t now_us);

/* The kept digits younger than GW_DIGIT_LOG_MAX_AGE_USEC, oldest first, into
 * ret (room for GW_DIGIT_LOG_KEEP); returns how many. */
size_t gw_digit_log_recent(const GwDigitLogLine *l, uint64_t now_us, GwDigitLogEntry *ret);
