/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-toneplan.h: a country's call progress tones and ring cadence, as data.
 *
 * A plan is a YAML file, tone-plans/<name>.yaml (docs/TONES.md), selected by
 * the config key tone_plan. mediad plays its tones, linehwd rings with its
 * cadence, sigd only names tones (Gw__Tone). The plan is parsed and checked
 * completely at start-up: a daemon that needs it refuses to start when it is
 * missing or broken (gw_daemon_init). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gw-conf.h"
#include "gw-macro.h"
#include "gw.pb-c.h"

#define GW_TONE_MAX_FREQS    4          /* the US howler sums four */
#define GW_TONE_MAX_CADENCE  16         /* on/off durations per cycle */

/* Sections of the plan, indexed by Gw__Tone (TONE_NONE has none). */
#define GW_TONE_FIRST GW__TONE__TONE_DIAL
#define GW_TONE_LAST  GW__TONE__TONE_HOWLER
#define GW_TONE_SLOTS (GW_TONE_LAST + 1)

typedef struct GwCadence {
        uint32_t ms[GW_TONE_MAX_CADENCE]; /* on, off, on, off, ... (even count) */
        unsigned n;                       /* 0: continuous */
        bool repeat;                      /* after the last off: start again (else: stay off) */
} GwCadence;

typedef struct GwToneSpec {
        float freqs_hz[GW_TONE_MAX_FREQS];
        unsigned n_freqs;
        float level_dbm0;                 /* of each frequency */
        float modulation_hz;              /* 0: none; else freqs are amplitude-modulated by it */
        unsigned modulation_pct;          /* modulation depth, 1..100 */
        GwCadence cadence;
} GwToneSpec;

typedef struct GwTonePlan {
        char *name;
        char *path;                       /* the file it came from */
        char *description;
        GwToneSpec tones[GW_TONE_SLOTS];  /* [GW__TONE__TONE_DIAL .. HOWLER] */
        GwCadence ring;                   /* ringing voltage on/off (linehwd) */
} GwTonePlan;

/* "dial", "ringback", "busy", "congestion", "howler"; "none" for TONE_NONE; NULL if invalid. */
const char *gw_tone_to_string(Gw__Tone t);
/* -EINVAL if unknown. */
int gw_tone_from_string(const char *s);

/* Parse one plan file. On failure returns -EINVAL (or -errno for I/O) and, if
 * ret_error, a message "FILE:LINE:COL: what is wrong" (malloc'd). */
int gw_toneplan_load_file(const char *path, GwTonePlan **ret, char **ret_error);
int gw_toneplan_load_string(const char *name, const char *text, GwTonePlan **ret, char **ret_error);

/* The plan 'c->tone_plan' names, searched as <config dir>/tone-plans/<name>.yaml,
 * <source tree>/config/tone-plans/<name>.yaml (running from the build tree),
 * then <datadir>/fxsgw/tone-plans/<name>.yaml. -ENOENT (with a message listing
 * the places searched) if none exists. */
int gw_toneplan_load_for_conf(const GwConf *c, GwTonePlan **ret, char **ret_error);

GwTonePlan *gw_toneplan_free(GwTonePlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(GwTonePlan *, gw_toneplan_free);

/* Total length of one cycle of a cadence in ms (0 for continuous). */
uint64_t gw_cadence_cycle_ms(const GwCadence *c);
/* Is the cadence "on" at 'ms' after its start? */
bool gw_cadence_on_at(const GwCadence *c, uint64_t ms);
