/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-line.h: the subscriber's side of each line: its state machine (dial
 * tone, digit collection against the dial plan, ringing, connected,
 * releasing), what it should hear and do (MediaControl toward mediad,
 * LineControl toward linehwd) and what it reports (LineCall).
 *
 * sigd's top layer: it drives its calls (sigd-call.c) directly, and hears
 * back from them through the CallLineOps it registers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw-digitmap.h"
#include "gw.pb-c.h"
#include "sigd-call.h"
#include "sigd-forward.h"

#define SIGD_HOWLER_AFTER_USEC (30 * USEC_PER_SEC)   /* far end gone: busy tone, then howler */

typedef enum LineTimer {
        LINE_TIMER_NONE,
        LINE_TIMER_INTERDIGIT,           /* dialling */
        LINE_TIMER_NO_ANSWER,            /* outgoing: CANCEL; incoming: 480 */
        LINE_TIMER_HOWLER,               /* releasing: busy -> howler */
} LineTimer;

struct Line {
        Manager *manager;
        const GwLineConf *conf;
        size_t index;
        const GwProfileConf *profile;
        GwDigitMap *digitmap;

        bool off_hook;
        Gw__CallState state;
        char digits[64];
        /* The last digit taken from each sender (LINE_DIGITS_*): instance id and seq
         * (gw-digit-log.h), so a digit sent again after our restart is taken once. */
        uint64_t digit_instance[2];
        uint32_t digit_seq[2];
        uint64_t call_seq;               /* calls so far: picks the RTP port pair */

        /* desired outputs */
        bool ring;
        bool reversed;
        Gw__Tone tone;
        uint64_t generation;             /* MediaControl */

        LineTimer timer_kind;
        sd_event_source *timer;
        uint64_t no_answer_at_real_us;   /* LINE_TIMER_NO_ANSWER: when it fires (kept across a restart) */

        Call *call;                      /* the line's call, if any */
};

/* Build the lines of conf (dial plans parsed: logs a bad one) and register the CallLineOps. */
int line_init(Manager *m);
void line_done(Manager *m);

/* Line inputs (validated by the caller's handler table for the sender). */
int line_hook(Manager *m, unsigned port, bool off_hook);
int line_digit(Manager *m, unsigned port, const char *digit);

/* Who detected a digit: mediad (DTMF) or linehwd (pulses). */
typedef enum LineDigitSender {
        LINE_DIGITS_DTMF,
        LINE_DIGITS_PULSE,
} LineDigitSender;

/* A digit from the bus: seq 0 (a sender without numbering) is taken as is; a
 * numbered one is taken once, and a replayed one only when it is of the
 * instance we last took a digit of and later than it (one we missed while
 * down). 0 taken or ignored, -ENOENT no such line. */
int line_digit_from(Manager *m, unsigned port, const char *digit, LineDigitSender from, uint64_t instance,
                    uint32_t seq, bool replay);
int line_flash(Manager *m, unsigned port);
/* Re-publish every line's LineControl, MediaControl and LineCall (StateSyncRequest). */
void line_publish_all(Manager *m);
/* Fill lc (INIT'd by the caller) with line 'port''s call; storage is the callee's. */
int line_call_info(Manager *m, unsigned port, Gw__LineCall *lc);

/* ---------------------------------------------------------------- across a restart (sigd-state.c) */

typedef struct LineSaved {
        Gw__SigdLine line;
        CallSaved call;
} LineSaved;

/* Kept across a restart (sigd-state.c): a call, or dialing in progress. */
bool line_kept(const Line *l);
/* 1 and ret filled (pointing into l) when l has a call to go on with after a
 * restart (connected, ringing, or our INVITE pending) or is dialing (the
 * digits so far); 0 when not; -ENOMEM. line_saved_done() frees what ret holds. */
int line_save(Line *l, LineSaved *ret);
void line_saved_done(LineSaved *s);
/* Rebuild a line and its call from s: -ENOENT (no such line), -EBADMSG (it is
 * not the same line, or the call is not usable: the line stays idle), -ENOMEM.
 * Nothing is published: the peers' StateSyncRequests ask for it. */
int line_restore(Manager *m, const Gw__SigdLine *s);
