/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-simphone.h: the telephone plugged into a simulated line.
 *
 * It moves the sim backend's hook switch (gwctl line N offhook|onhook|flash,
 * hook pulses for "dial --pulse", auto_answer after ringing starts), speaks
 * into the line's up PCM (DTMF tones from spandsp's dtmf_tx for "dial", the
 * 'play' WAV in a loop while the line's call is connected) and records what
 * it hears (the down PCM while off hook) into the 'record' WAV at every
 * on-hook. Digits therefore reach call control only through detection:
 * mediad's DTMF detector, or linehwd's own pulse logic. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "linehwd-backend.h"

typedef struct SimPhone SimPhone;

/* Move the hook switch; 'at' is the CLOCK_MONOTONIC µs the edge belongs to
 * (the scheduled time, so that pulse timing is exact even when the loop is late). */
typedef void (*sim_phone_hook_t)(SimPhone *p, LineHook hook, uint64_t at, void *userdata);

#define SIM_PHONE_MAX_DIGITS 32
#define SIM_PULSE_BREAK_MS   60          /* 10 pulses/s, 60/40 break/make */
#define SIM_PULSE_MAKE_MS    40
#define SIM_PULSE_GAP_MS     400         /* between digits */

/* A reload: the line's settings (auto_answer, play, record) from lc, and the hook
 * callback's userdata (the line object moved). Applies from the next call. */
void sim_phone_reconfigure(SimPhone *p, const GwLineConf *lc, void *userdata);
int sim_phone_new(sd_event *e, LineBackend *b, const GwLineConf *lc, uint64_t flash_min_us, uint64_t flash_max_us,
                  sim_phone_hook_t hook, void *userdata, SimPhone **ret);
SimPhone *sim_phone_free(SimPhone *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SimPhone *, sim_phone_free);

/* Commands; -EBUSY while pulses or a flash are still being sent,
 * -ENOTCONN for dial/flash on hook, -EINVAL for bad digits. */
int sim_phone_set_hook(SimPhone *p, LineHook hook);
int sim_phone_restore_off_hook(SimPhone *p, bool auto_answered);
bool sim_phone_auto_answered(const SimPhone *p);
int sim_phone_flash(SimPhone *p);
int sim_phone_dial(SimPhone *p, const char *digits, bool pulse);

/* Told by linehwd: the line went off/on hook (as debounced), ringing started/stopped, the call connected or not. */
void sim_phone_hook_changed(SimPhone *p, LineHook hook);
void sim_phone_ringing(SimPhone *p, bool on);
void sim_phone_connected(SimPhone *p, bool connected);
/* The line's call is releasing or idle: an auto-answered call hangs up. */
void sim_phone_call_ended(SimPhone *p);

/* Every 20 ms before linehwd reads the line's up frame: queue what the phone says. */
void sim_phone_speak(SimPhone *p);
/* After linehwd wrote a down frame to the line: take what the phone heard. */
void sim_phone_hear(SimPhone *p);

bool sim_phone_busy(const SimPhone *p);

/* Whether the call in progress was answered by auto_answer (and has connected): kept across a
 * restart of linehwd with the hook state, so the answering machine still hangs up with that call. */
void sim_phone_get_answered(const SimPhone *p, bool *auto_answered, bool *was_connected);
void sim_phone_restore_answered(SimPhone *p, bool auto_answered, bool was_connected);
