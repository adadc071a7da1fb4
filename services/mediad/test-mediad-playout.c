/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mediad-playout.c: the adaptive jitter buffer with concealment, on a simulated clock:
 * a sender makes 20 ms frames of a known signal, a network delays, reorders,
 * duplicates and loses them, the line takes a frame every 20 ms; the output is
 * compared with what was sent, frame by frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gw-tests.h"
#include "mediad-playout.h"

#define N               GW_PCM_SAMPLES
#define FRAME           PLAYOUT_FRAME_US
#define MAX_FRAMES      1600
#define MAX_TICKS       1600
#define MAX_ARRIVALS    (2 * MAX_FRAMES)

typedef struct Arrival {
        uint64_t at;
        unsigned k;             /* frame of the signal */
        uint16_t seq;
        uint32_t ts, ssrc;
        bool marker;
} Arrival;

typedef struct Sim {
        Playout p;
        Arrival arr[MAX_ARRIVALS];
        unsigned n_arr, next_arr;
        int16_t out[MAX_TICKS][N];
        bool audio[MAX_TICKS];                  /* get() said audio or concealment */
        uint32_t delay_ms[MAX_TICKS], target_ms[MAX_TICKS];
        unsigned n_out;
        uint64_t phase;                         /* of the line's ticks against the sender's frames */
        /* the sender's RTP fields: frame k has seq0 + k * seq_step, ts0 + k * 160 */
        uint16_t seq0, seq_step;
        uint32_t ts0, ssrc;
        double freq;
} Sim;

static Sim *sim_new(void) {
        Sim *s = calloc(1, sizeof(Sim));

        ASSERT_NOT_NULL(s);
        playout_buffer_reset(&s->p);
        s->phase = 7000;
        s->seq0 = 1000;
        s->seq_step = 1;
        s->ts0 = 123456;
        s->ssrc = 0x11223344;
        s->freq = 200.0;          /* a 40-sample period: within PLC's pitch range */
        return s;
}

/* Frame k of the signal: a tone with a slow rise, so that no two frames are equal. */
static void signal_frame(const Sim *s, unsigned k, int16_t pcm[N]) {
        for (unsigned i = 0; i < N; i++) {
                double n = (double) k * N + i;

                pcm[i] = (int16_t) lrint((6000 + 2.0 * (k % 500)) * sin(2 * M_PI * s->freq * n / 8000.0));
        }
}

/* The network hands frame k over at 'at' (µs), with the sender's fields. */
static void sim_arrive_fields(Sim *s, unsigned k, uint64_t at, uint16_t seq, uint32_t ts, uint32_t ssrc, bool marker) {
        unsigned i;

        ASSERT_TRUE(s->n_arr < MAX_ARRIVALS);
        /* Keep them in time order (ties: in the order given). */
        for (i = s->n_arr; i > s->next_arr && s->arr[i - 1].at > at; i--)
                s->arr[i] = s->arr[i - 1];
        s->arr[i] = (Arrival) { .at = at, .k = k, .seq = seq, .ts = ts, .ssrc = ssrc, .marker = marker };
        s->n_arr++;
}

static void sim_arrive(Sim *s, unsigned k, uint64_t at) {
        sim_arrive_fields(s, k, at, (uint16_t) (s->seq0 + k * s->seq_step), s->ts0 + k * N, s->ssrc, false);
}

/* Frames [from, to) sent every 20 ms (frame k at k * 20 ms), each after delay_us[k - from] (UINT64_MAX: lost). */
static void sim_stream(Sim *s, unsigned from, unsigned to, const uint64_t *delay_us) {
        for (unsigned k = from; k < to; k++)
                if (delay_us[k - from] != UINT64_MAX)
                        sim_arrive(s, k, (uint64_t) k * FRAME + delay_us[k - from]);
}

static uint64_t tick_time(const Sim *s, unsigned g) {
        return (uint64_t) (g + 1) * FRAME + s->phase;
}

/* The line's ticks until 'ticks' frames were taken; arrivals before each tick are put first. */
static void sim_run(Sim *s, unsigned ticks) {
        int16_t pcm[N];

        ASSERT_TRUE(ticks <= MAX_TICKS);
        while (s->n_out < ticks) {
                uint64_t t = tick_time(s, s->n_out);

                while (s->next_arr < s->n_arr && s->arr[s->next_arr].at <= t) {
                        const Arrival *a = &s->arr[s->next_arr++];

                        signal_frame(s, a->k, pcm);
                        playout_buffer_put(&s->p, &(PlayoutPacket) {
                                .seq = a->seq, .ts = a->ts, .ssrc = a->ssrc, .marker = a->marker,
                                .pcm = pcm, .now_us = a->at });
                }
                s->audio[s->n_out] = playout_buffer_get(&s->p, s->out[s->n_out], t);
                s->delay_ms[s->n_out] = s->p.counters.delay_ms;
                s->target_ms[s->n_out] = s->p.counters.target_ms;
                s->n_out++;
        }
}

static bool frame_is(const Sim *s, unsigned tick, unsigned k) {
        int16_t pcm[N];

        signal_frame(s, k, pcm);
        return memcmp(s->out[tick], pcm, sizeof(pcm)) == 0;
}

static bool silent(const int16_t *x) {
        for (unsigned i = 0; i < N; i++)
                if (x[i] != 0)
                        return false;
        return true;
}

static double rms(const int16_t *x, unsigned n) {
        double e = 0;

        for (unsigned i = 0; i < n; i++)
                e += (double) x[i] * x[i];
        return sqrt(e / n);
}

/* Which frame of the signal tick g played exactly (searching k0 - 2 .. k0 + 80), or -1. */
static int which(const Sim *s, unsigned g, int k0) {
        for (int k = MAX(0, k0 - 2); k < k0 + 80; k++)
                if (frame_is(s, g, (unsigned) k))
                        return k;
        return -1;
}

/* The same, comparing from PLC_PITCH_OVERLAP_MAX on: a frame after concealment is
 * blended with it over its first quarter pitch period (plc_rx). */
static int which_tail(const Sim *s, unsigned g, int k0) {
        int16_t pcm[N];

        for (int k = MAX(0, k0 - 2); k < k0 + 80; k++) {
                signal_frame(s, (unsigned) k, pcm);
                if (memcmp(&s->out[g][PLC_PITCH_OVERLAP_MAX], &pcm[PLC_PITCH_OVERLAP_MAX],
                           (N - PLC_PITCH_OVERLAP_MAX) * sizeof(int16_t)) == 0)
                        return k;
        }
        return -1;
}

/* Over ticks [from, to): the frames played exactly come in increasing order; returns
 * how many did, *ret_other the others (concealment, merges), *ret_back frames out of order. */
static unsigned played_in_order(const Sim *s, unsigned from, unsigned to, unsigned *ret_other, unsigned *ret_back) {
        unsigned exact = 0, other = 0, back = 0;
        int last = -1;

        for (unsigned g = from; g < to; g++) {
                int k;

                if (!s->audio[g])
                        continue;
                k = which(s, g, last < 0 ? 0 : last + 1);
                if (k < 0) {
                        other++;
                        continue;
                }
                if (k <= last)
                        back++;
                last = k;
                exact++;
        }
        *ret_other = other;
        *ret_back = back;
        return exact;
}

/* The first tick that played audio. */
static unsigned first_audio(const Sim *s) {
        for (unsigned g = 0; g < s->n_out; g++)
                if (s->audio[g])
                        return g;
        return s->n_out;
}

/* ---------------------------------------------------------------- tests */

/* An even stream: nothing plays before the initial delay, then every frame
 * bit-exact, in order, one per tick; no adjustment, nothing concealed. */
TEST(in_order_bit_exact) {
        Sim *s = sim_new();
        uint64_t d[500];
        unsigned g0;

        s->phase = 8000;          /* ticks at 28, 48, 68 ms...: frame k arrives at k * 20 + 5 ms */
        for (unsigned i = 0; i < 500; i++)
                d[i] = 5000;
        sim_stream(s, 0, 500, d);
        sim_run(s, 480);
        g0 = first_audio(s);
        /* Frame 0 arrives at 5 ms and has waited the initial 40 ms by the tick at 48. */
        ASSERT_EQ(g0, 1);
        for (unsigned g = 0; g < g0; g++)
                ASSERT_TRUE(silent(s->out[g]));
        for (unsigned g = g0; g < 480; g++) {
                ASSERT_TRUE(s->audio[g]);
                if (!frame_is(s, g, g - g0))
                        GW_TEST_FAIL("tick %u: not frame %u", g, g - g0);
        }
        ASSERT_EQ(s->p.counters.played, 480 - g0);
        ASSERT_EQ(s->p.counters.lost + s->p.counters.late + s->p.counters.concealed + s->p.counters.duplicates, 0);
        ASSERT_EQ(s->p.counters.grown + s->p.counters.shrunk + s->p.counters.overflow, 0);
        /* No jitter: the target falls to its minimum; the delay (43 ms) stays: less than
         * a frame and the hysteresis above it. */
        ASSERT_EQ(s->target_ms[479], PLAYOUT_MIN_MS);
        ASSERT_EQ(s->delay_ms[479], 43);
        free(s);
}

/* Pairs swapped on the way (the odd frame overtakes the even one): all played
 * in order, none late, nothing concealed. */
TEST(reorder) {
        Sim *s = sim_new();
        uint64_t d[400];
        unsigned other, back, exact;

        for (unsigned i = 0; i < 400; i++)
                d[i] = i % 2 == 0 ? 30000 : 2000;
        sim_stream(s, 0, 400, d);
        sim_run(s, 380);
        exact = played_in_order(s, 0, 380, &other, &back);
        fprintf(stderr, "reorder: %u exact, %u other, target %u ms, delay %u ms, shrunk %" PRIu64 "\n",
                exact, other, s->target_ms[379], s->delay_ms[379], s->p.counters.shrunk);
        ASSERT_EQ(back, 0);
        ASSERT_EQ(s->p.counters.late + s->p.counters.lost + s->p.counters.concealed, 0);
        /* Every frame but the merged ones (one output frame each) played exactly. */
        ASSERT_EQ(other, s->p.counters.shrunk);
        ASSERT_EQ(exact + 2 * other, s->p.counters.played + other);
        /* The variation is 28 ms: the target covers it (and the margin). */
        ASSERT_EQ(s->target_ms[379], 28 + PLAYOUT_MARGIN_MS);
        free(s);
}

/* Every packet twice, the copy 3 ms later; and late copies of played frames: dropped, counted as duplicates. */
TEST(duplicates) {
        Sim *s = sim_new();
        unsigned other, back, exact;

        for (unsigned k = 0; k < 200; k++) {
                sim_arrive(s, k, (uint64_t) k * FRAME + 4000);
                sim_arrive(s, k, (uint64_t) k * FRAME + 7000);
                if (k % 20 == 0)
                        sim_arrive(s, k, (uint64_t) k * FRAME + 300000);     /* long after it played */
        }
        sim_run(s, 190);
        exact = played_in_order(s, 0, 190, &other, &back);
        ASSERT_EQ(back, 0);
        ASSERT_EQ(other, s->p.counters.shrunk);
        ASSERT_EQ(s->p.counters.late + s->p.counters.lost + s->p.counters.concealed, 0);
        /* 190 ticks see frames up to ~187 and the late copies up to k = 160 (arriving by 3.5 s). */
        ASSERT_TRUE(s->p.counters.duplicates >= 187 + 8);
        ASSERT_TRUE(exact >= 180);
        free(s);
}

/* Lost packets: concealed by PLC (not silence), continuous; a long loss fades to silence. */
TEST(loss_concealed) {
        Sim *s = sim_new();
        uint64_t d[400];
        int16_t ref[N];
        unsigned g50 = 0, g200 = 0;
        double top = 0;

        for (unsigned i = 0; i < 400; i++)
                d[i] = 3000;
        d[50] = UINT64_MAX;                                  /* one */
        d[100] = d[101] = UINT64_MAX;                        /* two */
        for (unsigned k = 150; k < 155; k++)                 /* five: the concealment limit */
                d[k] = UINT64_MAX;
        for (unsigned k = 200; k < 215; k++)                 /* fifteen: silence after 100 ms */
                d[k] = UINT64_MAX;
        sim_stream(s, 0, 400, d);
        sim_run(s, 380);

        for (unsigned g = 0; g < 380; g++) {
                if (!g50 && frame_is(s, g, 49))
                        g50 = g + 1;
                if (!g200 && frame_is(s, g, 199))
                        g200 = g + 1;
        }
        ASSERT_TRUE(g50 > 0 && g200 > 0);
        signal_frame(s, 50, ref);
        /* The one lost frame: audio, at about the level of what it replaces, and no jump
         * bigger than twice the signal's own steepest step, also into and out of it
         * (spandsp blends the first quarter period with the reversed history: about
         * 1.5 times here). Silence or a wrong frame would jump by up to 12000. */
        ASSERT_TRUE(s->audio[g50]);
        ASSERT_FALSE(silent(s->out[g50]));
        ASSERT_TRUE(fabs(rms(s->out[g50], N) / rms(ref, N) - 1) < 0.1);
        for (unsigned i = 1; i < N; i++)
                top = MAX(top, fabs((double) ref[i] - ref[i - 1]));
        for (unsigned g = g50 - 1; g <= g50 + 1; g++)
                for (unsigned i = 0; i < N; i++) {
                        int prev = i > 0 ? s->out[g][i - 1] : s->out[g - 1][N - 1];

                        if (fabs((double) s->out[g][i] - prev) > 2 * top)
                                GW_TEST_FAIL("tick %u sample %u: a jump of %d (signal's steepest %.0f)",
                                             g, i, s->out[g][i] - prev, top);
                }
        /* Then frame 51, its first quarter period blended with the concealment (plc_rx). */
        signal_frame(s, 51, ref);
        ASSERT_TRUE(memcmp(&s->out[g50 + 1][PLC_PITCH_OVERLAP_MAX], &ref[PLC_PITCH_OVERLAP_MAX],
                           (N - PLC_PITCH_OVERLAP_MAX) * sizeof(int16_t)) == 0);
        signal_frame(s, 50, ref);

        /* Fifteen lost: full level for 40 ms, then fading over 60 ms to silence at 100 ms,
         * then silence (not audio). */
        for (unsigned g = g200; g < g200 + 2; g++)
                ASSERT_TRUE(fabs(rms(s->out[g], N) / rms(ref, N) - 1) < 0.1);
        ASSERT_TRUE(rms(s->out[g200 + 2], N) > 0.7 * rms(s->out[g200], N));
        ASSERT_TRUE(rms(s->out[g200 + 3], N) > 0.4 * rms(s->out[g200], N));
        ASSERT_TRUE(rms(s->out[g200 + 4], N) > 0.1 * rms(s->out[g200], N));
        ASSERT_TRUE(rms(s->out[g200 + 2], N) < 0.95 * rms(s->out[g200], N));
        ASSERT_TRUE(rms(s->out[g200 + 3], N) < rms(s->out[g200 + 2], N));
        ASSERT_TRUE(rms(s->out[g200 + 4], N) < rms(s->out[g200 + 3], N));
        for (unsigned g = g200; g < g200 + 5; g++)
                ASSERT_TRUE(s->audio[g]);
        for (unsigned g = g200 + 5; g < g200 + 15; g++) {
                ASSERT_FALSE(s->audio[g]);
                ASSERT_TRUE(silent(s->out[g]));
        }
        ASSERT_TRUE(s->audio[g200 + 15]);
        /* Counted: 1 + 2 + 5 + 5 concealed; every missing frame lost (those passed in
         * silence too, once later frames came without a talkspurt's marker). */
        ASSERT_EQ(s->p.counters.concealed, 13);
        ASSERT_EQ(s->p.counters.lost, 1 + 2 + 5 + 15);
        ASSERT_EQ(s->p.counters.late, 0);
        free(s);
}

static uint32_t lcg(uint32_t *state) {
        *state = *state * 1103515245u + 12345u;
        return (*state >> 8) & 0xffffff;
}

/* Calm, then ±30 ms of jitter (0-60 ms of delay, reordering), then calm again:
 * the target rises within a few packets, covers the jitter, and comes back down
 * slowly once the network is calm. */
TEST(jitter_grows_calm_shrinks) {
        Sim *s = sim_new();
        static uint64_t d[1550];
        uint32_t rnd = 42;
        unsigned rise = 0, low = 0, other, back;
        uint64_t late_before;

        for (unsigned k = 0; k < 1550; k++)
                d[k] = k >= 150 && k < 650 ? 1000 + (uint64_t) lcg(&rnd) * 60000 / 0x1000000 : 1000;
        sim_stream(s, 0, 1550, d);
        sim_run(s, 150);
        ASSERT_EQ(s->target_ms[149], PLAYOUT_MIN_MS);
        sim_run(s, 650);
        late_before = s->p.counters.late;
        for (unsigned g = 150; g < 650 && !rise; g++)
                if (s->target_ms[g] >= 50)
                        rise = g - 150;
        fprintf(stderr, "jitter: target %u ms after %u frames; at the end target %u, delay %u, max %u ms; "
                "late %" PRIu64 ", concealed %" PRIu64 ", grown %" PRIu64 ", shrunk %" PRIu64 "\n",
                s->target_ms[rise + 150], rise, s->target_ms[649], s->delay_ms[649], s->p.counters.max_delay_ms,
                s->p.counters.late, s->p.counters.concealed, s->p.counters.grown, s->p.counters.shrunk);
        ASSERT_TRUE(rise > 0 && rise <= 15);                 /* within 300 ms */
        ASSERT_TRUE(s->target_ms[649] >= 55 + PLAYOUT_MARGIN_MS && s->target_ms[649] <= 60 + PLAYOUT_MARGIN_MS);
        ASSERT_TRUE(s->delay_ms[649] >= s->target_ms[649] && s->delay_ms[649] < s->target_ms[649] + 30);
        ASSERT_TRUE(s->p.counters.grown >= 1);               /* 43 -> 63 ms: one frame */
        ASSERT_TRUE(late_before <= 15);                      /* at most 3 % of 500 */
        /* Audio went on: every tick after the start had audio or concealment. */
        for (unsigned g = first_audio(s); g < 650; g++)
                ASSERT_TRUE(s->audio[g]);
        ASSERT_TRUE(played_in_order(s, 0, 650, &other, &back) > 600);
        ASSERT_EQ(back, 0);

        /* Calm again: down as the jitter leaves the window (2.56 s), at most 20 ms a second. */
        sim_run(s, 1500);
        fprintf(stderr, "calm: target after 0.5 1 2 3 4 5 s: %u %u %u %u %u %u ms\n", s->target_ms[675],
                s->target_ms[700], s->target_ms[750], s->target_ms[800], s->target_ms[850], s->target_ms[900]);
        ASSERT_TRUE(s->target_ms[650 + 100] >= 45);          /* 2 s later: still up */
        for (unsigned g = 650; g < 1500 && !low; g++)
                if (s->target_ms[g] == PLAYOUT_MIN_MS)
                        low = g - 650;
        fprintf(stderr, "calm: target back at %u ms after %u frames; delay %u ms at the end, shrunk %" PRIu64 "\n",
                s->target_ms[1499], low, s->delay_ms[1499], s->p.counters.shrunk);
        ASSERT_TRUE(low >= 150 && low <= 250);               /* 3 to 5 s: the window, then 20 ms/s */
        ASSERT_TRUE(s->delay_ms[1499] >= PLAYOUT_MIN_MS && s->delay_ms[1499] < PLAYOUT_MIN_MS + 30);
        ASSERT_EQ(s->p.counters.late, late_before);
        ASSERT_EQ(s->p.counters.overflow, 0);
        played_in_order(s, 650, 1500, &other, &back);
        ASSERT_EQ(back, 0);
        free(s);
}

/* The network goes quiet for a second (the sender keeps its clock): each tick still
 * gets a frame: concealment up to 100 ms, then silence; then audio again at the target. */
TEST(starvation) {
        Sim *s = sim_new();
        uint64_t d[300];
        unsigned g_last = 0, g_back = 0;

        for (unsigned k = 0; k < 300; k++)
                d[k] = k >= 100 && k < 150 ? UINT64_MAX : 2000;
        sim_stream(s, 0, 300, d);
        sim_run(s, 280);
        ASSERT_EQ(s->n_out, 280);
        for (unsigned g = 0; g < 280; g++) {
                if (frame_is(s, g, 99))
                        g_last = g;
                if (!g_back && frame_is(s, g, 151))
                        g_back = g - 1;              /* 150 fades in from silence (plc_rx) */
        }
        ASSERT_TRUE(g_last > 0 && g_back > g_last);
        ASSERT_EQ(g_back - g_last, 51);                      /* the timeline held: no shift */
        ASSERT_TRUE(s->audio[g_back]);
        for (unsigned g = g_last + 1; g <= g_last + 5; g++)
                ASSERT_TRUE(s->audio[g] && !silent(s->out[g]));
        for (unsigned g = g_last + 6; g < g_back; g++)
                ASSERT_TRUE(!s->audio[g] && silent(s->out[g]));
        ASSERT_EQ(s->p.counters.late, 0);
        ASSERT_EQ(s->p.counters.concealed, 5);
        free(s);
}

/* Silence suppression: a pause with the timestamp running on, the talkspurt
 * with the marker bit: it plays at the target; the sender's timestamps standing
 * still over the pause (and no marker): ten late packets, then a new timeline. */
TEST(talkspurt_and_stuck_timestamp) {
        Sim *s = sim_new();
        unsigned g_back = 0, exact, other, back;

        for (unsigned k = 0; k < 100; k++)
                sim_arrive(s, k, (uint64_t) k * FRAME + 2000);
        for (unsigned k = 150; k < 250; k++)                 /* 1 s later, ts and seq jumped on */
                sim_arrive_fields(s, k, (uint64_t) k * FRAME + 2000, (uint16_t) (s->seq0 + k - 50),
                                  s->ts0 + k * N, s->ssrc, k == 150);
        sim_run(s, 240);
        for (unsigned g = 0; g < 240 && !g_back; g++)
                if (frame_is(s, g, 151))
                        g_back = g - 1;              /* 150 fades in from silence (plc_rx) */
        ASSERT_TRUE(g_back > 0 && s->audio[g_back]);
        ASSERT_TRUE(s->delay_ms[g_back] >= PLAYOUT_MIN_MS && s->delay_ms[g_back] < PLAYOUT_MIN_MS + 30);
        ASSERT_EQ(s->p.counters.late, 0);
        exact = played_in_order(s, 0, 240, &other, &back);
        fprintf(stderr, "talkspurt: %u exact, %u other, concealed %" PRIu64 ", delay %u ms at frame 150\n",
                exact, other, s->p.counters.concealed, s->delay_ms[g_back]);
        ASSERT_EQ(back, 0);
        ASSERT_TRUE(exact >= 180);

        /* Now a sender whose timestamp did not move over a 1 s pause. */
        for (unsigned k = 250; k < 300; k++)
                sim_arrive_fields(s, k, (uint64_t) (k + 50) * FRAME + 2000, (uint16_t) (s->seq0 + k - 50),
                                  s->ts0 + k * N, s->ssrc, false);
        sim_run(s, 360);
        ASSERT_EQ(s->p.counters.late, PLAYOUT_LATE_RESYNC - 1);
        g_back = 0;
        for (unsigned g = 240; g < 360 && !g_back; g++)
                if (frame_is(s, g, 250 + PLAYOUT_LATE_RESYNC))
                        g_back = g;
        /* The tenth late one started the new timeline (faded in), the rest follow. */
        ASSERT_TRUE(g_back > 0 && s->audio[g_back - 1]);
        for (unsigned k = 250 + PLAYOUT_LATE_RESYNC; k < 290; k++)
                ASSERT_TRUE(frame_is(s, g_back + k - (250 + PLAYOUT_LATE_RESYNC), k));
        free(s);
}

/* A sender that pushes 40 frames at once (800 ms ahead of time): the depth stays
 * bounded (the oldest make room, counted). */
TEST(overflow_bound) {
        Sim *s = sim_new();
        unsigned max_used = 0, other, back;

        for (unsigned k = 0; k < 50; k++)
                sim_arrive(s, k, (uint64_t) k * FRAME + 2000);
        for (unsigned k = 50; k < 90; k++)
                sim_arrive(s, k, (uint64_t) 50 * FRAME + 2000);
        for (unsigned k = 90; k < 900; k++)
                sim_arrive(s, k, (uint64_t) k * FRAME + 2000);
        for (unsigned g = 0; g < 880; g++) {
                sim_run(s, g + 1);
                max_used = MAX(max_used, s->p.n_used);
        }
        fprintf(stderr, "push: overflow %" PRIu64 ", late %" PRIu64 ", concealed %" PRIu64 ", max delay %u ms, "
                "max depth %u, target %u ms at the end\n", s->p.counters.overflow, s->p.counters.late,
                s->p.counters.concealed, s->p.counters.max_delay_ms, max_used, s->target_ms[879]);
        ASSERT_TRUE(max_used <= PLAYOUT_SLOTS && max_used >= PLAYOUT_SLOTS - 2);
        ASSERT_TRUE(s->p.counters.overflow >= 40 - PLAYOUT_SLOTS);
        /* Measured from the pushed packets (800 ms early): at most the ring and a held concealment. */
        ASSERT_TRUE(s->p.counters.max_delay_ms <= PLAYOUT_SLOTS * GW_PCM_FRAME_MS + PLAYOUT_CONCEAL_MS);
        /* The pushed frames played (the oldest of them dropped), then 90 on in order. */
        ASSERT_TRUE(played_in_order(s, 0, 880, &other, &back) >= 800);
        ASSERT_EQ(back, 0);
        /* The early packets leave the window, the target comes down again. */
        ASSERT_EQ(s->target_ms[879], PLAYOUT_MIN_MS);
        ASSERT_TRUE(s->delay_ms[879] < PLAYOUT_MIN_MS + 30);
        free(s);
}

/* The network held 800 ms of packets and lets them go at once: those whose slots
 * passed are late (not a new timeline: they came in one burst), the rest play. */
TEST(late_burst) {
        Sim *s = sim_new();
        unsigned other, back;

        for (unsigned k = 0; k < 50; k++)
                sim_arrive(s, k, (uint64_t) k * FRAME + 2000);
        for (unsigned k = 50; k < 90; k++)
                sim_arrive(s, k, (uint64_t) 90 * FRAME + 1000);
        for (unsigned k = 90; k < 200; k++)
                sim_arrive(s, k, (uint64_t) k * FRAME + 2000);
        sim_run(s, 190);
        fprintf(stderr, "burst: late %" PRIu64 ", overflow %" PRIu64 ", concealed %" PRIu64 ", delay %u ms\n",
                s->p.counters.late, s->p.counters.overflow, s->p.counters.concealed, s->delay_ms[189]);
        ASSERT_TRUE(s->p.counters.late >= 36 && s->p.counters.late <= 39);
        ASSERT_EQ(s->p.counters.overflow, 0);
        ASSERT_TRUE(played_in_order(s, 0, 190, &other, &back) >= 140);
        ASSERT_EQ(back, 0);
        ASSERT_TRUE(s->delay_ms[189] < 100);
        free(s);
}

/* A sender 1 % fast for 30 s (300 ms more audio than the line takes): the buffer
 * sheds it a frame at a time and stays within its depth; 1 % slow: it grows
 * frames in and the line never starves. */
TEST(clock_drift) {
        for (int dir = -1; dir <= 1; dir += 2) {
                Sim *s = sim_new();
                unsigned other, back;

                for (unsigned k = 0; k < MAX_FRAMES; k++)
                        sim_arrive(s, k, (uint64_t) ((double) k * FRAME * (1.0 - dir * 0.01)) + 2000);
                sim_run(s, 1500);
                fprintf(stderr, "drift %+d %%: grown %" PRIu64 ", shrunk %" PRIu64 ", lost %" PRIu64 ", late %" PRIu64
                        ", delay %u ms, overflow %" PRIu64 "\n", dir, s->p.counters.grown, s->p.counters.shrunk,
                        s->p.counters.lost, s->p.counters.late, s->delay_ms[1499], s->p.counters.overflow);
                ASSERT_EQ(s->p.counters.overflow, 0);
                ASSERT_EQ(s->p.counters.late, 0);
                ASSERT_TRUE(s->delay_ms[1499] < PLAYOUT_MIN_MS + 40);
                if (dir > 0)
                        ASSERT_TRUE(s->p.counters.shrunk >= 12 && s->p.counters.shrunk <= 17);
                else
                        ASSERT_TRUE(s->p.counters.grown >= 12 && s->p.counters.grown <= 17);
                for (unsigned g = first_audio(s); g < 1500; g++)
                        ASSERT_TRUE(s->audio[g]);
                played_in_order(s, 0, 1500, &other, &back);
                ASSERT_EQ(back, 0);
                free(s);
        }
}

/* Sequence number and timestamp both wrap during the stream: nothing notices. */
TEST(seq_and_ts_wrap) {
        Sim *s = sim_new();
        uint64_t d[300];

        s->seq0 = 65500;
        s->ts0 = UINT32_MAX - 100 * N + 17;
        s->phase = 8000;
        for (unsigned k = 0; k < 300; k++)
                d[k] = 5000;
        sim_stream(s, 0, 300, d);
        sim_run(s, 280);
        for (unsigned g = 1; g < 280; g++)
                if (!frame_is(s, g, g - 1))
                        GW_TEST_FAIL("tick %u: not frame %u", g, g - 1);
        ASSERT_EQ(s->p.counters.late + s->p.counters.lost + s->p.counters.concealed + s->p.counters.shrunk, 0);
        free(s);
}

/* RFC 4733 events between the audio packets: the sequence advances by two per
 * frame, the timestamp by 160: no loss, no jump. */
TEST(event_packets_between) {
        Sim *s = sim_new();
        uint64_t d[200];

        s->seq_step = 2;
        s->phase = 8000;
        for (unsigned k = 0; k < 200; k++)
                d[k] = 5000;
        sim_stream(s, 0, 200, d);
        sim_run(s, 190);
        for (unsigned g = 1; g < 190; g++)
                ASSERT_TRUE(frame_is(s, g, g - 1));
        ASSERT_EQ(s->p.counters.late + s->p.counters.lost + s->p.counters.concealed, 0);
        free(s);
}

/* The SSRC changes (a B2BUA switched the source: new random seq and ts), and later the
 * timestamp jumps with the sequence contiguous: each time the new timeline joins
 * right after what is buffered: no gap, nothing late, every frame once, in order. */
TEST(ssrc_change_and_ts_jump) {
        Sim *s = sim_new();
        unsigned other, back, exact;

        s->phase = 8000;
        for (unsigned k = 0; k < 100; k++)
                sim_arrive(s, k, (uint64_t) k * FRAME + 5000);
        for (unsigned k = 100; k < 200; k++)
                sim_arrive_fields(s, k, (uint64_t) k * FRAME + 5000, (uint16_t) (7 + k), 999 + (k - 100) * N,
                                  0xabcdef, k == 100);
        for (unsigned k = 200; k < 300; k++)         /* seq goes on, ts jumps by 10 s */
                sim_arrive_fields(s, k, (uint64_t) k * FRAME + 5000, (uint16_t) (7 + k), 80999 + (k - 100) * N,
                                  0xabcdef, false);
        sim_run(s, 290);
        for (unsigned g = 1; g < 290; g++)
                if (!frame_is(s, g, g - 1))
                        GW_TEST_FAIL("tick %u: not frame %u", g, g - 1);
        exact = played_in_order(s, 0, 290, &other, &back);
        ASSERT_EQ(exact, 289);
        ASSERT_EQ(s->p.counters.late + s->p.counters.lost + s->p.counters.concealed + s->p.counters.duplicates, 0);
        free(s);
}

/* Growing inserts a PLC frame before a received one, never two in a row; shrinking
 * merges two frames into one (a cross-fade from the first to the second) at most every
 * 10th frame. The path gets longer by 2 ms a frame up to 120 ms, stays so for
 * 2 s, then is short again. */
TEST(grow_insert_and_merge) {
        Sim *s = sim_new();
        unsigned inserts = 0, merges = 0, last_insert = 0, last_merge = 0;
        int last = -1;

        for (unsigned k = 0; k < 800; k++)
                sim_arrive(s, k, (uint64_t) k * FRAME + 2000 + (k < 100 ? 0 : k < 160 ? (k - 100) * 2000 : k < 260 ? 120000 : 0));
        sim_run(s, 780);
        fprintf(stderr, "path change: grown %" PRIu64 ", shrunk %" PRIu64 ", late %" PRIu64 ", concealed %" PRIu64
                "; delay %u ms at 4 s, %u ms at the end\n", s->p.counters.grown, s->p.counters.shrunk,
                s->p.counters.late, s->p.counters.concealed, s->delay_ms[200], s->delay_ms[779]);
        for (unsigned g = first_audio(s); g + 1 < 780; g++) {
                int k = which_tail(s, g, last + 1), next;

                if (k >= 0) {
                        last = k;
                        continue;
                }
                ASSERT_TRUE(s->audio[g]);
                next = which_tail(s, g + 1, last + 1);
                if (next == last + 1) {
                        /* An inserted frame: the play point held. */
                        ASSERT_TRUE(inserts == 0 || g - last_insert >= 2);
                        last_insert = g;
                        inserts++;
                } else if (next == last + 3 && frame_is(s, g + 1, (unsigned) next)) {
                        /* A merge of last + 1 and last + 2: starts as the one, ends as the other. */
                        int16_t fa[N], fb[N];

                        signal_frame(s, (unsigned) last + 1, fa);
                        signal_frame(s, (unsigned) last + 2, fb);
                        ASSERT_TRUE(abs(s->out[g][0] - fa[0]) <= 1 && abs(s->out[g][N - 1] - fb[N - 1]) <= 1);
                        ASSERT_TRUE(merges == 0 || g - last_merge >= PLAYOUT_MERGE_GAP);
                        last_merge = g;
                        merges++;
                }
        }
        fprintf(stderr, "path change: %u inserted, %u merged\n", inserts, merges);
        ASSERT_TRUE(s->delay_ms[200] >= 120);
        ASSERT_EQ(s->p.counters.late, 0);
        ASSERT_TRUE(inserts >= 4);
        ASSERT_EQ(inserts, s->p.counters.grown);
        ASSERT_TRUE(merges >= 3);
        ASSERT_EQ(merges, s->p.counters.shrunk);
        ASSERT_TRUE(s->delay_ms[779] < PLAYOUT_MIN_MS + 30);
        free(s);
}

/* Nothing received: get() says so and writes silence. */
TEST(empty) {
        Playout p;
        int16_t out[N];

        playout_buffer_reset(&p);
        for (unsigned i = 0; i < 10; i++) {
                memset(out, 0x55, sizeof(out));
                ASSERT_FALSE(playout_buffer_get(&p, out, 1000000 + i * FRAME));
                ASSERT_TRUE(silent(out));
        }
        ASSERT_EQ(p.counters.target_ms, PLAYOUT_INIT_MS - 10 * PLAYOUT_DECAY_MS_S * GW_PCM_FRAME_MS / 1000);
}

DEFINE_TEST_MAIN
