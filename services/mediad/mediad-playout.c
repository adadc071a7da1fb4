/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-playout.c: adaptive jitter buffer with packet loss concealment (spandsp PLC).
 *
 * Timeline. Frames are placed by RTP timestamp (index k: one per 160 samples),
 * not by sequence number: RFC 4733 events share the sequence space, and after
 * silence suppression the timestamp says where a talkspurt belongs. The
 * sequence number tells a timestamp jump (sequence contiguous, timestamp not)
 * from a gap. A packet that does not fit (the first, a new SSRC, a jump of
 * the timestamp, a second of difference, ten late ones in a row, not in one
 * burst) starts a new timeline, joined right after what is buffered: nothing
 * buffered is lost.
 *
 * Clock. get() is called on the line's 20 ms clock; the buffer counts those
 * calls (clock_us: +20 ms each) and places each arrival on that clock (the
 * last tick plus the time since, at most a frame; while no get() comes for
 * 200 ms, the caller's clock). Jitter is measured against the clock that
 * consumes the audio; drift between the sender's clock and the line's looks
 * like what it is, a slowly moving delay.
 *
 * Delay. For every packet D = arrival - k * 20 ms. Over the last 128 packets
 * the smallest D is the fastest path; a frame played at t has waited
 * t - (k * 20 ms + min D) beyond it: the buffer delay. The target is the 97th
 * percentile of D - min D, or the second largest of the last 16 packets if
 * more (so that it rises within a few packets when jitter sets in), plus 5 ms
 * (under drift the newest packet is the latest yet), between 20 and 200 ms.
 * It falls by at most 20 ms a second once the window (2.56 s) no longer needs
 * it, and is kept as a point in time when the fastest packet of the window
 * changes. A delay beyond 220 ms over the fastest (a spike no target covers)
 * counts as 220 ms; a late packet right behind another (a burst after a stall:
 * the first of it measured the stall) does not count.
 *
 * Adjusting, at each get(), by comparing the delay of the frame due with the
 * target:
 *  - below it: grow by one frame: hold the play point and play a PLC frame
 *    (a missing frame is concealed while held, so that it still plays if it
 *    was only late); two inserted frames never follow each other;
 *  - a frame plus 10 ms above it: shrink by one frame: skip a missing frame
 *    (free), drop a quiet frame after a quiet one, or merge the next two
 *    frames into one with a raised-cosine cross-fade, at most every 10th frame;
 *  - in silence (concealment run out) both are free: nothing is heard;
 *  - nothing buffered and the frame due missing while audio goes on: it is
 *    more likely late than lost (a delay spike, jitter setting in): held
 *    while concealed, so that it still plays if it comes.
 *
 * Concealment. A missing frame is synthesised by spandsp's PLC (plc_fillin:
 * the last pitch period repeated, blended in; plc_rx blends the next received
 * frame back). spandsp alone fades to zero within 50 ms; we keep the level for
 * 40 ms and fade to silence at 100 ms by setting its count of erased samples,
 * from which it derives the gain, before each sample. Then silence. A jitter
 * onset costs a few frames in a row (the late ones, then the frames held to
 * grow): they stay audible. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gw-macro.h"
#include "mediad-playout.h"

#define SAMPLES         GW_PCM_SAMPLES
#define FRAME_US        ((int64_t) PLAYOUT_FRAME_US)
#define MIN_US          ((int64_t) PLAYOUT_MIN_MS * 1000)
#define MAX_US          ((int64_t) PLAYOUT_MAX_MS * 1000)
#define HYST_US         ((int64_t) PLAYOUT_HYST_MS * 1000)
#define DECAY_US        ((int64_t) PLAYOUT_DECAY_MS_S * PLAYOUT_FRAME_US / 1000)   /* per frame */
#define STALL_US        ((uint64_t) PLAYOUT_STALL_MS * 1000)
#define CONCEAL_FULL    (PLAYOUT_CONCEAL_FULL_MS * SAMPLES / GW_PCM_FRAME_MS)
#define CONCEAL_END     (PLAYOUT_CONCEAL_MS * SAMPLES / GW_PCM_FRAME_MS)
/* spandsp plc.c: the gain is 1 - 0.0025 * missing_samples (ATTENUATION_INCREMENT). */
#define PLC_GAIN_STEP   0.0025f
#define PLC_SILENT      400

static int64_t floor_div(int64_t a, int64_t b) {
        return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t round_div(int64_t a, int64_t b) {
        return floor_div(a + b / 2, b);
}

static PlayoutSlot *slot_of(Playout *p, int64_t k) {
        return &p->slot[(uint64_t) k & (PLAYOUT_SLOTS - 1)];
}

static bool has(const Playout *p, int64_t k) {
        const PlayoutSlot *s = &p->slot[(uint64_t) k & (PLAYOUT_SLOTS - 1)];

        return s->used && s->k == k;
}

static void take(Playout *p, int64_t k) {
        slot_of(p, k)->used = false;
        p->n_used--;
}

/* ---------------------------------------------------------------- delay statistics */

static void stats_reset(Playout *p) {
        p->win_n = p->win_pos = 0;
}

static unsigned lower_bound(const int64_t *a, unsigned n, int64_t x) {
        unsigned lo = 0, hi = n;

        while (lo < hi) {
                unsigned mid = (lo + hi) / 2;

                if (a[mid] < x)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int64_t min_d(const Playout *p) {
        return p->win_n > 0 ? p->win_sorted[0] : 0;
}

/* One packet's D into the window (a ring, and the same values sorted). */
static void stats_add(Playout *p, int64_t d) {
        unsigned i;
        int64_t need, old_min;

        /* A spike no target would cover is concealed, not adapted to: it counts as
         * just over the largest target (so that the window moves on, and a lasting
         * change of path still shows). */
        if (p->win_n > 0)
                d = MIN(d, p->win_sorted[0] + MAX_US + FRAME_US);
        old_min = p->win_n > 0 ? p->win_sorted[0] : INT64_MIN;
        if (p->win_n == PLAYOUT_WINDOW) {
                i = lower_bound(p->win_sorted, p->win_n, p->win[p->win_pos]);
                memmove(&p->win_sorted[i], &p->win_sorted[i + 1], (p->win_n - i - 1) * sizeof(int64_t));
                p->win_n--;
        }
        p->win[p->win_pos] = d;
        p->win_pos = (p->win_pos + 1) % PLAYOUT_WINDOW;
        i = lower_bound(p->win_sorted, p->win_n, d);
        memmove(&p->win_sorted[i + 1], &p->win_sorted[i], (p->win_n - i) * sizeof(int64_t));
        p->win_sorted[i] = d;
        p->win_n++;

        need = p->win_sorted[(p->win_n - 1) * PLAYOUT_PERCENTILE / 100];
        /* When jitter sets in, the window's percentile needs 3 % of 128 packets to
         * see it; the recent packets' second largest (one outlier is not enough)
         * raises the target within a few packets. */
        {
                int64_t first = INT64_MIN, second = INT64_MIN;

                for (unsigned n = 0; n < MIN(p->win_n, (unsigned) PLAYOUT_RECENT); n++) {
                        int64_t x = p->win[(p->win_pos + PLAYOUT_WINDOW - 1 - n) % PLAYOUT_WINDOW];

                        if (x > first) {
                                second = first;
                                first = x;
                        } else if (x > second)
                                second = x;
                }
                need = MAX(need, second);
        }
        need += (int64_t) PLAYOUT_MARGIN_MS * 1000 - p->win_sorted[0];
        p->need_us = CLAMP(need, MIN_US, MAX_US);
        /* The target is a point in time: when the fastest packet of the window
         * changes (it left, or a faster came) the target measured from it moves the
         * other way, so that nothing is grown or shrunk for the reference alone. */
        if (old_min != INT64_MIN)
                p->target_us = CLAMP(p->target_us - (p->win_sorted[0] - old_min), MIN_US, MAX_US);
        if (p->need_us > p->target_us)
                p->target_us = p->need_us;         /* up at once */
        p->counters.target_ms = (uint32_t) (p->target_us / 1000);
}

/* ---------------------------------------------------------------- timeline */

void playout_buffer_reset(Playout *p) {
        PlayoutCounters c = p->counters;

        memset(p, 0, sizeof(*p));
        plc_init(&p->plc);
        p->counters = c;
        p->target_us = (int64_t) PLAYOUT_INIT_MS * 1000;
        p->need_us = MIN_US;
        p->since_merge = PLAYOUT_MERGE_GAP;
        p->counters.delay_ms = 0;
        p->counters.target_ms = PLAYOUT_INIT_MS;
}

void playout_buffer_start_at_once(Playout *p) {
        p->start_at_once = true;
}

/* Arrival on the line's clock: the last tick plus the time since, at most a
 * frame (it made the next tick); the caller's time while the clock stands. */
static int64_t arrival(Playout *p, uint64_t now_us) {
        uint64_t since;

        if (!p->have_ref) {
                p->ref_us = now_us;
                p->have_ref = true;
        }
        since = now_us > p->ref_us ? now_us - p->ref_us : 0;
        if (p->have_get && since <= STALL_US)
                since = MIN(since, (uint64_t) PLAYOUT_FRAME_US);
        return p->clock_us + (int64_t) since;
}

/* The index a packet arriving at 'a' gets on a new timeline: right after what
 * is buffered, or, with nothing buffered, where it waits the target. The
 * delay statistics start again (another path or another clock); the target
 * stays. */
static int64_t timeline_join(Playout *p, int64_t a) {
        int64_t k = 0;

        if (p->n_used > 0)
                k = p->high + 1;
        else if (p->playing) {
                /* The tick at clock + n * 20 ms plays idx + n - 1. */
                int64_t wait = MAX(a + p->target_us - p->clock_us, (int64_t) 0);

                k = p->idx - 1 + (wait + FRAME_US - 1) / FRAME_US;
                k = MAX(k, p->idx);
        }
        stats_reset(p);
        return k;
}

/* A newer packet (dseq > 0) whose timestamp does not go with its sequence number. */
static bool ts_jumped(int16_t dseq, int32_t dts, bool marker) {
        if (dts > -SAMPLES / 2 && dts < SAMPLES / 2)
                return false;              /* the same frame again: a duplicate */
        if (dts < 0)
                return true;               /* newer in sequence, older in time */
        /* Less time than packets is fine (RFC 4733 events between); more is a
         * talkspurt after silence (marker) or a jump. */
        return !marker && dts > (int32_t) dseq * SAMPLES + SAMPLES / 2;
}

static bool was_played(const Playout *p, int64_t k) {
        int64_t back = p->idx - k;

        return back >= 1 && back <= 64 && ((p->played_mask >> (back - 1)) & 1);
}

static void advance(Playout *p, bool played) {
        p->idx++;
        p->played_mask = (p->played_mask << 1) | played;
}

/* The play point passes a slot whose frame is missing. It is lost if a later frame
 * came; if none did yet, put() counts it when one comes, unless that one starts a
 * talkspurt (then the sender had paused). */
static void pass_missing(Playout *p) {
        if (p->idx <= p->max_k)
                p->counters.lost++;
        advance(p, false);
}

static void store(Playout *p, int64_t k, const int16_t *pcm, int64_t a) {
        PlayoutSlot *s;

        if (k >= p->idx && k - p->idx < PLAYOUT_SLOTS && has(p, k)) {
                p->counters.duplicates++;
                return;
        }
        if (!p->playing) {
                if (p->n_used == 0)
                        p->idx = k;
                else if (k < p->idx) {
                        if (p->high - k >= PLAYOUT_SLOTS) {
                                stats_add(p, a - k * FRAME_US);
                                p->counters.late++;    /* older than the ring reaches */
                                return;
                        }
                        p->idx = k;
                }
        }
        stats_add(p, a - k * FRAME_US);
        /* The depth bound: the oldest frames make room. */
        while (k - p->idx >= PLAYOUT_SLOTS) {
                if (has(p, p->idx)) {
                        take(p, p->idx);
                        p->counters.overflow++;
                        advance(p, false);
                } else
                        pass_missing(p);
        }
        if (!p->playing)
                while (p->idx < k && !has(p, p->idx))
                        p->idx++;                  /* idx stays the oldest buffered */
        s = slot_of(p, k);
        s->used = true;
        s->k = k;
        memcpy(s->pcm, pcm, sizeof(s->pcm));
        if (p->n_used++ == 0 || k > p->high)
                p->high = k;
}

void playout_buffer_put(Playout *p, const PlayoutPacket *pk) {
        int64_t a = arrival(p, pk->now_us), k = 0;
        bool join = !p->have_stream || pk->ssrc != p->ssrc, newest = true;

        if (!join) {
                int16_t dseq = (int16_t) (uint16_t) (pk->seq - p->max_seq);
                int32_t dts = (int32_t) (pk->ts - p->max_ts);
                int64_t ref;

                k = p->max_k + round_div(dts, SAMPLES);
                newest = dseq > 0;
                ref = p->playing ? p->idx : p->max_k;
                if (newest && ts_jumped(dseq, dts, pk->marker))
                        join = true;
                else if (k < ref - PLAYOUT_RESYNC || k > ref + PLAYOUT_RESYNC)
                        join = true;
                else if (p->playing && k < p->idx) {
                        if (was_played(p, k)) {
                                p->counters.duplicates++;
                                return;
                        }
                        if (p->late_run++ == 0)
                                p->late_since = a;
                        /* Late one after the other, not in one burst: the sender's timeline moved back. */
                        if (p->late_run >= PLAYOUT_LATE_RESYNC &&
                            a - p->late_since >= PLAYOUT_LATE_RESYNC / 2 * FRAME_US)
                                join = true;
                        else {
                                /* Its delay counts (the target must cover packets like it),
                                 * unless it only queued behind the one before: after a stall
                                 * the network lets a burst go, and the first of it says how
                                 * long the stall was. */
                                if (a - p->last_arrival >= PLAYOUT_BURST_US)
                                        stats_add(p, a - k * FRAME_US);
                                p->last_arrival = a;
                                p->counters.late++;
                                return;
                        }
                }
        }
        if (join) {
                k = timeline_join(p, a);
                p->have_stream = true;
                p->ssrc = pk->ssrc;
                newest = true;
        }
        if (newest && !join && !pk->marker && p->playing)
                /* Slots passed while nothing after them had come: lost after all. */
                p->counters.lost += (uint64_t) MAX(MIN(k, p->idx) - (p->max_k + 1), (int64_t) 0);
        if (newest) {
                p->max_seq = pk->seq;
                p->max_ts = pk->ts;
                p->max_k = k;
        }
        p->late_run = 0;
        p->last_arrival = a;
        store(p, k, pk->pcm, a);
}

/* ---------------------------------------------------------------- output */

static int32_t peak(const int16_t *x) {
        int32_t m = 0;

        for (unsigned i = 0; i < SAMPLES; i++)
                m = MAX(m, abs((int32_t) x[i]));
        return m;
}

static bool in_silence(const Playout *p) {
        return !p->have_audio || p->conceal_samples >= CONCEAL_END;
}

/* spandsp 0.0.6 puts its history ring in order (oldest first) at a gap's start
 * with memcpy() between overlapping ranges when its write position is below half
 * the ring: we do it first, the same way but through a copy, so it finds nothing
 * to do. */
static void plc_history_in_order(plc_state_t *s) {
        int16_t tmp[PLC_HISTORY_LEN];
        size_t n = (size_t) s->buf_ptr;

        if (n == 0 || n >= PLC_HISTORY_LEN)
                return;
        memcpy(tmp, s->history + n, (PLC_HISTORY_LEN - n) * sizeof(int16_t));
        memcpy(tmp + PLC_HISTORY_LEN - n, s->history, n * sizeof(int16_t));
        memcpy(s->history, tmp, sizeof(tmp));
        s->buf_ptr = 0;
}

/* One frame of PLC: full level for CONCEAL_FULL samples into the gap, then a
 * linear fade to zero at CONCEAL_END. */
static void conceal(Playout *p, int16_t out[SAMPLES]) {
        unsigned i = 0;

        if (p->conceal_samples == 0) {
                plc_history_in_order(&p->plc);
                /* At a gap's start spandsp finds the pitch and blends up to a quarter
                 * period (PLC_PITCH_OVERLAP_MAX) into the history: that many at once. */
                plc_fillin(&p->plc, out, PLC_PITCH_OVERLAP_MAX);
                i = PLC_PITCH_OVERLAP_MAX;
        }
        for (; i < SAMPLES; i++) {
                unsigned n = p->conceal_samples + i;
                float g;

                if (n >= CONCEAL_END) {
                        memset(&out[i], 0, (SAMPLES - i) * sizeof(*out));
                        break;
                }
                g = n < CONCEAL_FULL ? 1.0f : 1.0f - (float) (n - CONCEAL_FULL) / (CONCEAL_END - CONCEAL_FULL);
                /* Never 0 erased samples: that would start a new pitch analysis. */
                p->plc.missing_samples = MAX(1, (int) lrintf((1.0f - g) / PLC_GAIN_STEP));
                plc_fillin(&p->plc, &out[i], 1);
        }
        p->conceal_samples = MIN(p->conceal_samples + SAMPLES, (unsigned) CONCEAL_END);
        if (p->conceal_samples >= CONCEAL_END)
                p->plc.missing_samples = PLC_SILENT;    /* plc_rx fades the next frame in from zero */
}

/* A frame for a slot without audio: concealment while it lasts, then silence. */
static bool fill(Playout *p, int16_t out[SAMPLES]) {
        if (in_silence(p)) {
                memset(out, 0, SAMPLES * sizeof(*out));
                return false;
        }
        conceal(p, out);
        p->counters.concealed++;
        return true;
}

static void play_frame(Playout *p, int16_t out[SAMPLES], const int16_t *pcm) {
        memcpy(out, pcm, SAMPLES * sizeof(*out));
        plc_rx(&p->plc, out, SAMPLES);       /* history, and the blend after a gap */
        p->conceal_samples = 0;
        p->have_audio = true;
        p->counters.played++;
}

/* Two frames in the time of one: a raised-cosine cross-fade from the first to
 * the second, so the result starts where the first starts and ends where the
 * second ends. */
static void merge(const int16_t *a, const int16_t *b, int16_t out[SAMPLES]) {
        for (unsigned i = 0; i < SAMPLES; i++) {
                float w = 0.5f - 0.5f * cosf((float) M_PI * ((float) i + 0.5f) / SAMPLES);

                out[i] = (int16_t) lrintf((float) a[i] + ((float) b[i] - (float) a[i]) * w);
        }
}

/* The frame that has waited the target at this tick. */
static int64_t ideal(const Playout *p) {
        return floor_div(p->clock_us - min_d(p) - p->target_us, FRAME_US);
}

static bool play(Playout *p, int16_t out[SAMPLES]) {
        int64_t cur, excess;
        bool silent = in_silence(p), starving, r;

        if (p->clock_us - p->idx * FRAME_US - min_d(p) - p->target_us > (int64_t) PLAYOUT_SLOTS * FRAME_US) {
                /* Behind by more than the ring holds (the clock stopped for a while):
                 * what is older than the target is stale. */
                int64_t to = ideal(p);

                for (unsigned i = 0; i < PLAYOUT_SLOTS; i++)
                        if (p->slot[i].used && p->slot[i].k < to) {
                                take(p, p->slot[i].k);
                                p->counters.overflow++;
                        }
                p->idx = to;
                p->played_mask = 0;
        }
        cur = p->clock_us - p->idx * FRAME_US - min_d(p);
        excess = cur - p->target_us;

        p->counters.delay_ms = (uint32_t) (MAX(cur, (int64_t) 0) / 1000);
        p->counters.max_delay_ms = MAX(p->counters.max_delay_ms, p->counters.delay_ms);
        if (p->since_merge < PLAYOUT_MERGE_GAP)
                p->since_merge++;

        /* Nothing buffered and the frame due missing, with audio going on: more likely
         * late than lost (a delay spike, jitter setting in). Hold it while concealing,
         * so that it still plays when it comes: the delay grows at once. */
        starving = !has(p, p->idx) && p->n_used == 0 && !silent;

        /* A frame (and the hysteresis) over target: missing frames go for free. */
        for (unsigned n = 0; n < PLAYOUT_SLOTS && !starving && excess >= FRAME_US + HYST_US && !has(p, p->idx); n++) {
                pass_missing(p);
                p->counters.shrunk++;
                excess -= FRAME_US;
        }

        if ((excess < 0 || starving) && (!has(p, p->idx) || !p->last_inserted)) {
                /* Under target, or starving: one frame more, the play point held. */
                p->last_inserted = has(p, p->idx);
                p->counters.grown++;
                r = fill(p, out);
                p->last_peak = r ? peak(out) : 0;
                return r;
        }
        p->last_inserted = false;

        if (has(p, p->idx)) {
                PlayoutSlot *s = slot_of(p, p->idx);

                if (excess >= FRAME_US + HYST_US && has(p, p->idx + 1)) {
                        PlayoutSlot *next = slot_of(p, p->idx + 1);

                        if (p->last_peak < PLAYOUT_QUIET && peak(s->pcm) < PLAYOUT_QUIET) {
                                /* Quiet after quiet: dropping it is not heard. */
                                take(p, p->idx);
                                advance(p, true);
                                p->counters.shrunk++;
                                s = next;
                        } else if (p->since_merge >= PLAYOUT_MERGE_GAP) {
                                int16_t m[SAMPLES];

                                merge(s->pcm, next->pcm, m);
                                take(p, p->idx);
                                advance(p, true);
                                s = next;
                                memcpy(s->pcm, m, sizeof(m));
                                p->since_merge = 0;
                                p->counters.shrunk++;
                        }
                }
                play_frame(p, out, s->pcm);
                take(p, p->idx);
                advance(p, true);
                p->last_peak = peak(out);
                return true;
        }

        /* Due and missing: lost, or late. */
        r = fill(p, out);
        pass_missing(p);
        p->last_peak = r ? peak(out) : 0;
        return r;
}

bool playout_buffer_get(Playout *p, int16_t out[SAMPLES], uint64_t now_us) {
        uint64_t since = p->have_ref && now_us > p->ref_us ? now_us - p->ref_us : 0;

        /* A tick. One after a stop (frames did not come, or none yet while packets
         * did) catches up with the caller's clock, so what arrived meanwhile keeps
         * its place in time. */
        p->clock_us += since > STALL_US ? (int64_t) since : FRAME_US;
        p->ref_us = now_us;
        p->have_ref = p->have_get = true;
        if (p->target_us > p->need_us)
                p->target_us = MAX(p->need_us, p->target_us - DECAY_US);      /* down slowly */
        p->counters.target_ms = (uint32_t) (p->target_us / 1000);

        if (!p->playing) {
                /* Start once the oldest frame has waited the target. */
                if (p->n_used == 0 || (!p->start_at_once && ideal(p) < p->idx)) {
                        memset(out, 0, SAMPLES * sizeof(*out));
                        return false;
                }
                p->playing = true;
                /* At once means this frame: not a concealed one inserted to grow first. */
                if (p->start_at_once)
                        p->last_inserted = true;
        }
        return play(p, out);
}

const PlayoutCounters *playout_buffer_counters(const Playout *p) {
        return &p->counters;
}
