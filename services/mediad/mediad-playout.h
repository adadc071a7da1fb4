/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-playout.h: the adaptive jitter buffer with packet loss concealment of one RTP session.
 *
 * put() takes each decoded 20 ms frame with its RTP header fields and the
 * arrival time; get() is called once per down frame (the line's 20 ms clock)
 * and always fills one frame: received audio, concealment (spandsp's PLC) or
 * silence. How it measures, adapts and conceals: docs/MEDIA.md "Jitter
 * buffer". Nothing is allocated: the struct is embedded in the session. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <spandsp.h>

#include "gw-pcm.h"

#define PLAYOUT_FRAME_US      (GW_PCM_FRAME_MS * 1000)
#define PLAYOUT_SLOTS         16     /* ring of frames, a power of two: the depth bound (320 ms) */
#define PLAYOUT_WINDOW        128    /* arrivals the delay statistics look back on (2.56 s) */
#define PLAYOUT_PERCENTILE    97     /* of the delay variation the target covers; later ones are concealed */
#define PLAYOUT_RECENT        16     /* packets (320 ms): their second largest variation raises the target at once */
#define PLAYOUT_MARGIN_MS     5      /* added to what the statistics ask (the newest packet may be the latest yet) */
#define PLAYOUT_MIN_MS        20     /* target never below one frame */
#define PLAYOUT_INIT_MS       40     /* target before anything is known (the old fixed buffer) */
#define PLAYOUT_MAX_MS        200    /* target never above (the ring holds 320 ms) */
#define PLAYOUT_HYST_MS       10     /* shrink only this far above target + one frame */
#define PLAYOUT_DECAY_MS_S    20     /* the target falls at most this many ms per second */
#define PLAYOUT_MERGE_GAP     10     /* frames between two merges of loud audio (at most 10 % faster) */
#define PLAYOUT_CONCEAL_FULL_MS 40   /* concealment at full level this long into a gap, */
#define PLAYOUT_CONCEAL_MS    100    /* then fading to silence at this point */
#define PLAYOUT_RESYNC        50     /* frames (1 s): a timestamp further off starts a new timeline */
#define PLAYOUT_LATE_RESYNC   10     /* late packets in a row over 100 ms or more: the sender's timeline moved back */
#define PLAYOUT_STALL_MS      200    /* no down frame for this long: the line's clock stopped */
#define PLAYOUT_BURST_US      1000   /* a late packet this soon after the one before queued behind it */
#define PLAYOUT_QUIET         64     /* peak below this (about -48 dBm0): a frame that can go unheard */

typedef struct PlayoutCounters {
        uint64_t played;        /* frames of received audio played */
        uint64_t lost;          /* slots passed without their frame (concealed or skipped): lost or
                                 * late; not those of a pause that ended with a talkspurt */
        uint64_t late;          /* arrived after their slot was played, concealed or skipped */
        uint64_t duplicates;    /* a frame already buffered or played */
        uint64_t concealed;     /* frames synthesised by PLC: missing slots, and frames inserted to grow */
        uint64_t overflow;      /* buffered frames dropped, oldest first, to keep the depth bound */
        uint64_t grown;         /* frames the delay grew by (inserted, or held in silence) */
        uint64_t shrunk;        /* frames it shrank by (merged, dropped in silence, missing ones skipped) */
        /* Gauges (ms): the delay a frame gets beyond the fastest packet of the window, now and at most;
         * the target the buffer steers to. */
        uint32_t delay_ms, max_delay_ms, target_ms;
} PlayoutCounters;

typedef struct PlayoutSlot {
        bool used;
        int64_t k;              /* frame index (position on the timeline) */
        int16_t pcm[GW_PCM_SAMPLES];
} PlayoutSlot;

typedef struct Playout {
        PlayoutSlot slot[PLAYOUT_SLOTS];
        unsigned n_used;
        plc_state_t plc;

        /* The sender's timeline: RTP timestamp -> frame index k (one per 160 samples). */
        bool have_stream;
        uint32_t ssrc;
        uint16_t max_seq;       /* highest sequence number seen, and its timestamp and index */
        uint32_t max_ts;
        int64_t max_k;
        int64_t high;           /* highest index buffered (valid while n_used > 0) */

        /* The play point. Before playing, idx is the lowest index buffered. */
        bool playing;
        bool start_at_once;     /* play the first frame buffered without waiting the target */
        int64_t idx;            /* the next frame to play */
        uint64_t played_mask;   /* bit i: frame idx-1-i was played from a received packet */
        bool have_audio;        /* a received frame was played: PLC has something to go on */
        unsigned conceal_samples; /* into the current gap; 0: the last frame was received audio */
        bool last_inserted;     /* the last get() inserted a frame to grow */
        unsigned since_merge;
        unsigned late_run;
        int64_t late_since;     /* arrival of the first of them */
        int64_t last_arrival;
        int32_t last_peak;      /* of the last frame output */

        /* The line's clock: +20 ms per get(); arrivals are placed on it. While it
         * does not run (no get() yet, or none for PLAYOUT_STALL_MS) it follows the
         * caller's clock instead. */
        int64_t clock_us;
        uint64_t ref_us;        /* caller's time at clock_us */
        bool have_ref, have_get;

        /* Delay statistics: D = arrival - k * 20 ms over the last PLAYOUT_WINDOW packets. */
        int64_t win[PLAYOUT_WINDOW];        /* in arrival order (a ring) */
        int64_t win_sorted[PLAYOUT_WINDOW];
        unsigned win_n, win_pos;            /* the last PLAYOUT_RECENT are the ring's newest */
        int64_t need_us;        /* percentile - minimum of the window, clamped */
        int64_t target_us;

        PlayoutCounters counters;
} Playout;

/* One received audio frame. now_us: any monotonic clock in µs, the same one get() is given. */
typedef struct PlayoutPacket {
        uint16_t seq;
        uint32_t ts;
        uint32_t ssrc;
        bool marker;
        const int16_t *pcm;     /* GW_PCM_SAMPLES */
        uint64_t now_us;
} PlayoutPacket;

/* Empty, nothing known (counters kept). Also for a new far end. */
void playout_buffer_reset(Playout *p);
/* A stream that went on while nobody played it (the socket kept across a
 * restart of mediad holds what arrived meanwhile): the first frame buffered
 * plays at the first get(), not after the target; the delay this leaves
 * over the target goes as usual (merges). Until the next reset. */
void playout_buffer_start_at_once(Playout *p);
void playout_buffer_put(Playout *p, const PlayoutPacket *pk);
/* Fill one frame at the line's clock tick now_us. True: received audio or concealment;
 * false: silence (nothing received yet, or concealment has run out). */
bool playout_buffer_get(Playout *p, int16_t out[GW_PCM_SAMPLES], uint64_t now_us);
const PlayoutCounters *playout_buffer_counters(const Playout *p);
