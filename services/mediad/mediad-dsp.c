/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-dsp.c: tone generator with cadence (spandsp DDS), G.711 (spandsp), Goertzel. */
#include <math.h>
#include <string.h>
#include <spandsp.h>

#include "mediad-dsp.h"

void tone_gen_start(ToneGen *g, const GwToneSpec *spec) {
        *g = (ToneGen) { .spec = spec };
        if (!spec)
                return;
        for (unsigned i = 0; i < spec->n_freqs; i++)
                g->rate[i] = dds_phase_rate(spec->freqs_hz[i]);
        g->scale = dds_scaling_dbm0(spec->level_dbm0);
        if (spec->modulation_hz > 0) {
                g->mod_rate = dds_phase_rate(spec->modulation_hz);
                g->mod_depth = spec->modulation_pct / 100.0f;
        }
}

bool tone_gen_fill(ToneGen *g, int16_t *out, size_t n) {
        const GwToneSpec *s = g->spec;
        bool any = false;

        if (!s) {
                memset(out, 0, n * sizeof(*out));
                return false;
        }
        /* Cadence steps are whole ms = 8 samples: decide on/off per ms. */
        for (size_t i = 0; i < n; ) {
                size_t chunk = MIN(n - i, (size_t) (8 - g->pos % 8));
                bool on = gw_cadence_on_at(&s->cadence, g->pos / 8);

                for (size_t k = 0; k < chunk; k++, i++) {
                        int32_t v = 0;

                        for (unsigned f = 0; f < s->n_freqs; f++)
                                v += dds_mod(&g->phase[f], g->rate[f], g->scale, 0);
                        if (g->mod_rate) {
                                float m = ddsf(&g->mod_phase, g->mod_rate);
                                v = (int32_t) lrintf(v * (1.0f + g->mod_depth * m) / (1.0f + g->mod_depth));
                        }
                        out[i] = on ? (int16_t) CLAMP(v, INT16_MIN, INT16_MAX) : 0;
                }
                any |= on;
                g->pos += chunk;
        }
        return any;
}

/* G.711 as the ITU-T G.191 reference (g711.c) computes it. spandsp's inline
 * encoders differ from it near full scale, so the tables are built here once:
 * 64 KiB per law for encoding, 256 entries for decoding. */
static uint8_t ulaw_enc[65536], alaw_enc[65536];
static int16_t ulaw_dec[256], alaw_dec[256];

static uint8_t ulaw_compress(int16_t x) {
        int32_t mag = (x < 0 ? (~x) >> 2 : x >> 2) + 33, seg = 1;

        mag = MIN(mag, 0x1fff);
        for (int32_t i = mag >> 6; i != 0; i >>= 1)
                seg++;
        return (uint8_t) ((((8 - seg) << 4) | (0x0f - ((mag >> seg) & 0x0f))) | (x >= 0 ? 0x80 : 0));
}

static int16_t ulaw_expand(uint8_t c) {
        int32_t m = (uint8_t) ~c, exponent = (m >> 4) & 7, step = 4 << (exponent + 1),
                v = (0x80 << exponent) + step * (m & 0x0f) + step / 2 - 4 * 33;

        return (int16_t) (c < 0x80 ? -v : v);
}

static uint8_t alaw_compress(int16_t x) {
        int32_t ix = x < 0 ? (~x) >> 4 : x >> 4;

        if (ix > 15) {
                int32_t exponent = 1;
                while (ix > 16 + 15) {
                        ix >>= 1;
                        exponent++;
                }
                ix = ix - 16 + (exponent << 4);
        }
        return (uint8_t) ((ix | (x >= 0 ? 0x80 : 0)) ^ 0x55);
}

static int16_t alaw_expand(uint8_t c) {
        int32_t ix = (c ^ 0x55) & 0x7f, exponent = ix >> 4, m = ix & 0x0f;

        if (exponent > 0)
                m += 16;
        m = (m << 4) + 8;
        if (exponent > 1)
                m <<= exponent - 1;
        return (int16_t) (c > 127 ? m : -m);
}

__attribute__((constructor)) static void g711_tables(void) {
        for (int32_t x = INT16_MIN; x <= INT16_MAX; x++) {
                ulaw_enc[(uint16_t) x] = ulaw_compress((int16_t) x);
                alaw_enc[(uint16_t) x] = alaw_compress((int16_t) x);
        }
        for (unsigned c = 0; c < 256; c++) {
                ulaw_dec[c] = ulaw_expand((uint8_t) c);
                alaw_dec[c] = alaw_expand((uint8_t) c);
        }
}

uint8_t g711_encode_sample(G711Law law, int16_t x) {
        return law == LAW_ULAW ? ulaw_enc[(uint16_t) x] : alaw_enc[(uint16_t) x];
}

int16_t g711_decode_sample(G711Law law, uint8_t c) {
        return law == LAW_ULAW ? ulaw_dec[c] : alaw_dec[c];
}

void g711_encode_frame(G711Law law, const int16_t *pcm, uint8_t *out, size_t n) {
        const uint8_t *t = law == LAW_ULAW ? ulaw_enc : alaw_enc;

        for (size_t i = 0; i < n; i++)
                out[i] = t[(uint16_t) pcm[i]];
}

void g711_decode_frame(G711Law law, const uint8_t *in, int16_t *pcm, size_t n) {
        const int16_t *t = law == LAW_ULAW ? ulaw_dec : alaw_dec;

        for (size_t i = 0; i < n; i++)
                pcm[i] = t[in[i]];
}

double goertzel_power(const int16_t *x, size_t n, double f) {
        double coeff = 2.0 * cos(2.0 * M_PI * f / 8000.0), s1 = 0, s2 = 0;

        for (size_t i = 0; i < n; i++) {
                double s0 = x[i] + coeff * s1 - s2;
                s2 = s1;
                s1 = s0;
        }
        return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}
