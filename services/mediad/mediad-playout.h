/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-playout.h: received audio waiting for its 20 ms slot in the down frames.
 *
 * This is the whole interface the RTP session uses, so the media issue's
 * adaptive jitter buffer with concealment replaces this file alone: put()
 * takes decoded frames with their RTP sequence number and timestamp and the
 * arrival time, get() is called once per down frame and always fills one. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gw-pcm.h"

#define PLAYOUT_SLOTS    8      /* ring of frames, a power of two */
#define PLAYOUT_PREFILL  2      /* frames buffered before playing starts (40 ms) */
#define PLAYOUT_IDLE     25     /* missing frames in a row before we stop and prefill again */
#define PLAYOUT_RESYNC   50     /* further behind than this (1 s) is a new stream, not a late frame */

typedef struct PlayoutCounters {
        uint64_t late;          /* arrived after their slot was played, or duplicates */
        uint64_t lost;          /* slots played as silence */
        uint64_t played;
} PlayoutCounters;

typedef struct Playout {
        struct {
                bool used;
                uint16_t seq;
                int16_t pcm[GW_PCM_SAMPLES];
        } slot[PLAYOUT_SLOTS];
        unsigned n_used;
        bool started;           /* next_seq valid */
        bool playing;           /* prefill done */
        uint16_t next_seq;      /* the frame the next get() plays */
        unsigned missing_run;
        PlayoutCounters counters;
} Playout;

void playout_buffer_reset(Playout *p);
/* A decoded 20 ms frame. */
void playout_buffer_put(Playout *p, uint16_t seq, uint32_t ts, const int16_t pcm[GW_PCM_SAMPLES], uint64_t now_us);
/* A new stream (the sender's SSRC changed): forget what is buffered. */
#define playout_buffer_new_stream playout_buffer_reset
/* Fill one frame; false (and silence) while nothing plays. */
bool playout_buffer_get(Playout *p, int16_t out[GW_PCM_SAMPLES]);
