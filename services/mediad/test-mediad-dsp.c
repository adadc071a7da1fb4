/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mediad-dsp.c: G.711 against the ITU-T G.191 reference algorithm and known code words;
 * the tone plans' tones generated into frames: frequencies (Goertzel), level, cadence. */
#include <math.h>
#include <stdlib.h>

#include "gw-tests.h"
#include "gw-pcm.h"
#include "mediad-dsp.h"

/* ITU-T G.191 (STL) g711.c, the reference G.711 implementation, per sample. */
static uint8_t ref_alaw_compress(int16_t x) {
        int16_t ix = x < 0 ? (int16_t) ((~x) >> 4) : (int16_t) (x >> 4);

        if (ix > 15) {
                int16_t iexp = 1;
                while (ix > 16 + 15) {
                        ix >>= 1;
                        iexp++;
                }
                ix -= 16;
                ix += iexp << 4;
        }
        if (x >= 0)
                ix |= 0x80;
        return (uint8_t) (ix ^ 0x55);
}

static int16_t ref_alaw_expand(uint8_t c) {
        int16_t ix = (c ^ 0x55) & 0x7f, iexp = ix >> 4, mant = ix & 0x0f;

        if (iexp > 0)
                mant += 16;
        mant = (int16_t) ((mant << 4) + 8);
        if (iexp > 1)
                mant = (int16_t) (mant << (iexp - 1));
        return c > 127 ? mant : (int16_t) -mant;
}

static uint8_t ref_ulaw_compress(int16_t x) {
        int32_t absno = x < 0 ? ((~x) >> 2) + 33 : (x >> 2) + 33;
        int32_t i, segno = 1, high, low;
        uint8_t out;

        if (absno > 0x1fff)
                absno = 0x1fff;
        i = absno >> 6;
        while (i != 0) {
                segno++;
                i >>= 1;
        }
        high = 8 - segno;
        low = 0x0f - ((absno >> segno) & 0x0f);
        out = (uint8_t) ((high << 4) | low);
        if (x >= 0)
                out |= 0x80;
        return out;
}

static int16_t ref_ulaw_expand(uint8_t c) {
        int32_t sign = c < 0x80 ? -1 : 1, mantissa = ~c, exponent = (mantissa >> 4) & 7, segment = exponent + 1,
                step;

        mantissa &= 0x0f;
        step = 4 << segment;
        return (int16_t) (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33));
}

TEST(g711_bit_exact) {
        for (int32_t x = INT16_MIN; x <= INT16_MAX; x++) {
                if (g711_encode_sample(LAW_ULAW, (int16_t) x) != ref_ulaw_compress((int16_t) x))
                        GW_TEST_FAIL("u-law encode %d: %02x != %02x", x, g711_encode_sample(LAW_ULAW, (int16_t) x),
                                     ref_ulaw_compress((int16_t) x));
                if (g711_encode_sample(LAW_ALAW, (int16_t) x) != ref_alaw_compress((int16_t) x))
                        GW_TEST_FAIL("A-law encode %d: %02x != %02x", x, g711_encode_sample(LAW_ALAW, (int16_t) x),
                                     ref_alaw_compress((int16_t) x));
        }
        for (unsigned c = 0; c < 256; c++) {
                ASSERT_EQ(g711_decode_sample(LAW_ULAW, (uint8_t) c), ref_ulaw_expand((uint8_t) c));
                ASSERT_EQ(g711_decode_sample(LAW_ALAW, (uint8_t) c), ref_alaw_expand((uint8_t) c));
        }
}

/* Code words every G.711 implementation agrees on (G.711 tables 1a/2a). */
TEST(g711_known_vectors) {
        ASSERT_EQ(g711_encode_sample(LAW_ULAW, 0), 0xff);
        ASSERT_EQ(g711_encode_sample(LAW_ULAW, -1), 0x7f);
        ASSERT_EQ(g711_encode_sample(LAW_ULAW, INT16_MAX), 0x80);
        ASSERT_EQ(g711_encode_sample(LAW_ULAW, INT16_MIN), 0x00);
        ASSERT_EQ(g711_decode_sample(LAW_ULAW, 0xff), 0);
        ASSERT_EQ(g711_decode_sample(LAW_ULAW, 0x80), 32124);
        ASSERT_EQ(g711_decode_sample(LAW_ULAW, 0x00), -32124);
        ASSERT_EQ(g711_encode_sample(LAW_ALAW, 0), 0xd5);
        ASSERT_EQ(g711_encode_sample(LAW_ALAW, -1), 0x55);
        ASSERT_EQ(g711_encode_sample(LAW_ALAW, INT16_MAX), 0xaa);
        ASSERT_EQ(g711_encode_sample(LAW_ALAW, INT16_MIN), 0x2a);
        ASSERT_EQ(g711_decode_sample(LAW_ALAW, 0xd5), 8);
        ASSERT_EQ(g711_decode_sample(LAW_ALAW, 0x55), -8);
        ASSERT_EQ(g711_decode_sample(LAW_ALAW, 0xaa), 32256);
        ASSERT_EQ(g711_decode_sample(LAW_ALAW, 0x2a), -32256);
}

static GwTonePlan *plan(const char *name) {
        _cleanup_free_ char *path = NULL, *error = NULL;
        GwTonePlan *p = NULL;

        ASSERT_TRUE(asprintf(&path, "config/tone-plans/%s.yaml", name) > 0);
        if (gw_toneplan_load_file(path, &p, &error) < 0)
                GW_TEST_FAIL("%s", strna(error));
        return p;
}

/* ms of a tone, generated 20 ms frame by frame as mediad does. */
static int16_t *generate(const GwToneSpec *t, unsigned ms) {
        size_t n = (size_t) ms * 8;
        int16_t *x = calloc(n, sizeof(*x));
        ToneGen g;

        ASSERT_NOT_NULL(x);
        ASSERT_EQ(n % GW_PCM_SAMPLES, 0);
        tone_gen_start(&g, t);
        for (size_t i = 0; i < n; i += GW_PCM_SAMPLES)
                tone_gen_fill(&g, x + i, GW_PCM_SAMPLES);
        return x;
}

static double energy(const int16_t *x, size_t n) {
        double e = 0;
        for (size_t i = 0; i < n; i++)
                e += (double) x[i] * x[i];
        return e;
}

/* Share of the energy of x[0..n) at frequency f: 1 for a pure tone of f. */
static double share(const int16_t *x, size_t n, double f) {
        double e = energy(x, n);
        return e > 0 ? 2.0 * goertzel_power(x, n, f) / (n * e) : 0;
}

TEST(dial_tones_ru_us) {
        _cleanup_(gw_toneplan_freep) GwTonePlan *ru = plan("ru"), *us = plan("us");
        _cleanup_free_ int16_t *a = generate(&ru->tones[GW__TONE__TONE_DIAL], 1000);
        _cleanup_free_ int16_t *b = generate(&us->tones[GW__TONE__TONE_DIAL], 1000);
        double rms_dbm0;

        /* ru: all of it at 425 Hz, none at the US pair. */
        ASSERT_TRUE(share(a, 8000, 425) > 0.98);
        ASSERT_TRUE(share(a, 8000, 350) < 0.01);
        ASSERT_TRUE(share(a, 8000, 440) < 0.01);
        /* us: half at 350, half at 440 (equal levels), none at 425. */
        ASSERT_TRUE(share(b, 8000, 350) > 0.45 && share(b, 8000, 350) < 0.55);
        ASSERT_TRUE(share(b, 8000, 440) > 0.45 && share(b, 8000, 440) < 0.55);
        ASSERT_TRUE(share(b, 8000, 425) < 0.01);
        /* Level: -10 dBm0, where a 0 dBm0 sine has an RMS of 10^(-3.14/20) of full scale (G.711). */
        rms_dbm0 = 20 * log10(sqrt(energy(a, 8000) / 8000) / (32768.0 / sqrt(2))) + 3.14;
        ASSERT_TRUE(fabs(rms_dbm0 - (-10)) < 0.3);
}

/* On exactly during the plan's 'on' ms, silent (zero) during 'off', repeating. */
static void check_cadence(const GwToneSpec *t, unsigned total_ms) {
        _cleanup_free_ int16_t *x = generate(t, total_ms);

        for (unsigned ms = 0; ms < total_ms; ms++) {
                double e = energy(x + ms * 8, 8);
                bool on = gw_cadence_on_at(&t->cadence, ms);

                if (on != (e > 0))
                        GW_TEST_FAIL("at %u ms: expected %s, energy %g", ms, on ? "on" : "off", e);
        }
        /* And during each 'on' the tone is the plan's frequencies. */
        for (unsigned f = 0; f < t->n_freqs; f++)
                ASSERT_TRUE(share(x, t->cadence.ms[0] * 8, t->freqs_hz[f]) > 0.8 / t->n_freqs);
}

TEST(cadences) {
        _cleanup_(gw_toneplan_freep) GwTonePlan *ru = plan("ru"), *us = plan("us");

        check_cadence(&ru->tones[GW__TONE__TONE_BUSY], 2100);
        check_cadence(&ru->tones[GW__TONE__TONE_CONGESTION], 1400);
        check_cadence(&ru->tones[GW__TONE__TONE_RINGBACK], 10000);
        check_cadence(&us->tones[GW__TONE__TONE_BUSY], 3000);
        check_cadence(&us->tones[GW__TONE__TONE_CONGESTION], 1500);
        check_cadence(&us->tones[GW__TONE__TONE_RINGBACK], 12000);
        check_cadence(&us->tones[GW__TONE__TONE_HOWLER], 1000);
}

TEST(howler_no_clipping_and_modulation) {
        _cleanup_(gw_toneplan_freep) GwTonePlan *us = plan("us");
        _cleanup_free_ int16_t *x = generate(&us->tones[GW__TONE__TONE_HOWLER], 100);
        GwToneSpec am = { .freqs_hz = { 400 }, .n_freqs = 1, .level_dbm0 = -10, .modulation_hz = 25,
                          .modulation_pct = 100 };
        _cleanup_free_ int16_t *y = generate(&am, 1000);
        double sum = 0;

        for (unsigned i = 0; i < 800; i++)
                ASSERT_TRUE(x[i] > INT16_MIN && x[i] < INT16_MAX);
        for (unsigned f = 0; f < 4; f++)
                sum += share(x, 800, us->tones[GW__TONE__TONE_HOWLER].freqs_hz[f]);
        ASSERT_TRUE(sum > 0.95);
        /* 100 % AM of 400 Hz by 25 Hz: carrier 400 and side bands 375, 425; nothing at 400 +- 100. */
        ASSERT_TRUE(share(y, 8000, 400) > 0.5);
        ASSERT_TRUE(share(y, 8000, 375) > 0.1);
        ASSERT_TRUE(share(y, 8000, 425) > 0.1);
        ASSERT_TRUE(share(y, 8000, 300) < 0.01);
}

DEFINE_TEST_MAIN
