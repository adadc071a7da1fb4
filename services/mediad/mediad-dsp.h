/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-dsp.h: tone generation from a tone plan and G.711, per 20 ms frame.
 *
 * Oscillators are spandsp's DDS (the same tables its tone_gen uses); the
 * cadence is ours because plans may have more on/off steps and more
 * frequencies than spandsp's tone_gen descriptor holds. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gw-toneplan.h"

typedef struct ToneGen {
        const GwToneSpec *spec;       /* NULL: silence */
        uint32_t phase[GW_TONE_MAX_FREQS];
        int32_t rate[GW_TONE_MAX_FREQS];
        int16_t scale;                /* amplitude of each frequency */
        uint32_t mod_phase;
        int32_t mod_rate;
        float mod_depth;              /* 0..1 */
        uint64_t pos;                 /* samples since the tone started */
} ToneGen;

/* Start 'spec' from the beginning of its cadence (NULL: silence). */
void tone_gen_start(ToneGen *g, const GwToneSpec *spec);
/* Fill n samples; returns true if any sample was "on". */
bool tone_gen_fill(ToneGen *g, int16_t *out, size_t n);

/* G.711 (ITU-T G.711), bit-exact with the G.191 reference. */
typedef enum G711Law {
        LAW_ULAW,                    /* PCMU, payload type 0 */
        LAW_ALAW,                    /* PCMA, payload type 8 */
} G711Law;

void g711_encode_frame(G711Law law, const int16_t *pcm, uint8_t *out, size_t n);
void g711_decode_frame(G711Law law, const uint8_t *in, int16_t *pcm, size_t n);
uint8_t g711_encode_sample(G711Law law, int16_t x);
int16_t g711_decode_sample(G711Law law, uint8_t c);

/* Goertzel power of 'f' Hz in n samples at 8 kHz (for tests and level checks). */
double goertzel_power(const int16_t *x, size_t n, double f);
