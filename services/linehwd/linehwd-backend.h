/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-backend.h: the line hardware interface linehwd drives, one implementation per chip family.
 *
 * A backend owns the analog side of every FXS port: the hook switch it reads,
 * and the ringing generator, battery polarity and line feed it sets; it also
 * moves the PCM audio of each line (8 kHz, 16-bit linear, 20 ms frames).
 * Ports are the numbers of the configured lines (lines[].port). Calls return
 * 0 or a negative errno: -ENXIO for a port the backend does not have,
 * -EINVAL for a bad value, -EAGAIN when no PCM frame is pending.
 *
 * What stays above this interface (linehwd-line.c), so that every backend
 * behaves the same: hook debounce, flash and pulse-digit detection (the
 * backend only reports raw switch changes through the hook callback), and
 * the ring cadence: linehwd switches set_ring() on and off at the tone
 * plan's cadence steps, unless the backend has set_ring_cadence(), in which
 * case it is handed the cadence once and set_ring(on) rings with it (DAHDI's
 * DAHDI_SETCADENCE, a SLIC's ring timers).
 *
 * Events: a backend whose hardware signals through a file descriptor
 * (DAHDI's channel fd, a SLIC driver's event fd) returns it from get_fd();
 * linehwd polls it and calls process() when it is readable, and process()
 * calls the hook callback for every switch change. The sim backend has no
 * fd: its switch moves by line_backend_sim_set_hook().
 *
 * Audio: linehwd's 20 ms clock calls read_pcm() for every off-hook or
 * ringing line and write_pcm() for every frame mediad answers; a backend
 * buffers between that clock and its own (a jitter of a frame or two).
 *
 * Nothing outside linehwd includes this file: a new backend is one more
 * LineBackendOps in linehwd-backend.c's table, selected by line_hw.backend,
 * and the bus messages (LineHwState, LineEvent, LineControl) stay the same.
 *
 * The only backend so far is "sim": a simulated line card holding each
 * line's state in memory; the simulated phone (linehwd-simphone.c) and the
 * tests move its hook switch with line_backend_sim_set_hook(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw-macro.h"

#define LINE_PCM_RATE_HZ          8000
#define LINE_PCM_FRAME_SAMPLES    160        /* 20 ms at 8 kHz */

typedef enum LineHook {
        LINE_HOOK_ON,                        /* handset down */
        LINE_HOOK_OFF,
        _LINE_HOOK_MAX,
        _LINE_HOOK_INVALID = -EINVAL,
} LineHook;

typedef enum LinePolarity {
        LINE_POLARITY_NORMAL,
        LINE_POLARITY_REVERSED,              /* battery reversal, e.g. answer supervision */
        _LINE_POLARITY_MAX,
        _LINE_POLARITY_INVALID = -EINVAL,
} LinePolarity;

typedef enum LineFeed {
        LINE_FEED_ACTIVE,                    /* loop current available */
        LINE_FEED_STANDBY,                   /* low-power on-hook feed */
        LINE_FEED_DISCONNECT,                /* open loop (e.g. a disconnect signal) */
        _LINE_FEED_MAX,
        _LINE_FEED_INVALID = -EINVAL,
} LineFeed;

const char *line_hook_to_string(LineHook h);
LineHook line_hook_from_string(const char *s);
const char *line_polarity_to_string(LinePolarity p);
LinePolarity line_polarity_from_string(const char *s);
const char *line_feed_to_string(LineFeed f);
LineFeed line_feed_from_string(const char *s);

typedef struct LineBackend LineBackend;

/* Called from the backend when a line's hook state changes (on the caller's
 * loop for "sim": from line_backend_sim_set_hook()). */
typedef void (*line_hook_cb_t)(LineBackend *b, unsigned port, LineHook hook, void *userdata);

typedef struct LineBackendOps {
        const char *name;
        int (*init)(LineBackend *b, const unsigned *ports, size_t n_ports);
        void (*done)(LineBackend *b);
        int (*get_hook)(LineBackend *b, unsigned port, LineHook *ret);
        int (*set_ring)(LineBackend *b, unsigned port, bool on);
        int (*get_ring)(LineBackend *b, unsigned port, bool *ret);
        int (*set_polarity)(LineBackend *b, unsigned port, LinePolarity p);
        int (*get_polarity)(LineBackend *b, unsigned port, LinePolarity *ret);
        int (*set_feed)(LineBackend *b, unsigned port, LineFeed f);
        int (*get_feed)(LineBackend *b, unsigned port, LineFeed *ret);
        /* One frame of LINE_PCM_FRAME_SAMPLES: from the line (what the phone
         * sends) and to the line (what the phone hears). */
        int (*read_pcm)(LineBackend *b, unsigned port, int16_t frame[LINE_PCM_FRAME_SAMPLES]);
        int (*write_pcm)(LineBackend *b, unsigned port, const int16_t frame[LINE_PCM_FRAME_SAMPLES]);
        /* Optional (NULL: linehwd applies the cadence with set_ring()). Steps
         * in ms, on, off, on, ...; n == 0: continuous; repeat after the last. */
        int (*set_ring_cadence)(LineBackend *b, unsigned port, const uint32_t *ms, unsigned n, bool repeat);
        /* Optional (NULL: no fd, e.g. sim): an fd that becomes readable when
         * process() has events to deliver through the hook callback. */
        int (*get_fd)(LineBackend *b);
        int (*process)(LineBackend *b);
        /* Optional (NULL: the set of lines is fixed): serve these ports from now
         * on, a port still listed keeping its state (a reload). */
        int (*set_ports)(LineBackend *b, const unsigned *ports, size_t n_ports);
} LineBackendOps;

struct LineBackend {
        const LineBackendOps *ops;
        void *data;                          /* the backend's own */
        unsigned *ports;                     /* as given, in order */
        size_t n_ports;
        line_hook_cb_t hook_cb;
        void *hook_userdata;
};

/* Create backend 'name' ("sim") for the given line ports (unique, >= 1).
 * -EOPNOTSUPP for an unknown name, -EINVAL for bad ports. */
int line_backend_new(const char *name, const unsigned *ports, size_t n_ports, LineBackend **ret);
LineBackend *line_backend_free(LineBackend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(LineBackend *, line_backend_free);
void line_backend_set_hook_callback(LineBackend *b, line_hook_cb_t cb, void *userdata);
/* A reload: serve 'ports' from now on (checked as by line_backend_new()); a
 * port still listed keeps its state. -EOPNOTSUPP: this backend's lines are
 * fixed; -EINVAL, -ENOMEM: nothing changed. */
int line_backend_set_ports(LineBackend *b, const unsigned *ports, size_t n_ports);

static inline int line_backend_get_hook(LineBackend *b, unsigned port, LineHook *ret) {
        return b->ops->get_hook(b, port, ret);
}
static inline int line_backend_set_ring(LineBackend *b, unsigned port, bool on) {
        return b->ops->set_ring(b, port, on);
}
static inline int line_backend_get_ring(LineBackend *b, unsigned port, bool *ret) {
        return b->ops->get_ring(b, port, ret);
}
static inline int line_backend_set_polarity(LineBackend *b, unsigned port, LinePolarity p) {
        return b->ops->set_polarity(b, port, p);
}
static inline int line_backend_get_polarity(LineBackend *b, unsigned port, LinePolarity *ret) {
        return b->ops->get_polarity(b, port, ret);
}
static inline int line_backend_set_feed(LineBackend *b, unsigned port, LineFeed f) {
        return b->ops->set_feed(b, port, f);
}
static inline int line_backend_get_feed(LineBackend *b, unsigned port, LineFeed *ret) {
        return b->ops->get_feed(b, port, ret);
}
static inline int line_backend_read_pcm(LineBackend *b, unsigned port, int16_t frame[LINE_PCM_FRAME_SAMPLES]) {
        return b->ops->read_pcm(b, port, frame);
}
static inline int line_backend_write_pcm(LineBackend *b, unsigned port, const int16_t frame[LINE_PCM_FRAME_SAMPLES]) {
        return b->ops->write_pcm(b, port, frame);
}

/* ---- "sim" only: the simulated subscriber's side ---- */

extern const LineBackendOps line_backend_sim_ops;

/* Lift or hang up the simulated handset; calls the hook callback on a change.
 * -EOPNOTSUPP on another backend. */
int line_backend_sim_set_hook(LineBackend *b, unsigned port, LineHook hook);
/* The simulated phone speaks: queue a frame that read_pcm() will return.
 * -ENOBUFS when its queue (LINE_SIM_PCM_QUEUE frames) is full. */
int line_backend_sim_push_pcm(LineBackend *b, unsigned port, const int16_t frame[LINE_PCM_FRAME_SAMPLES]);
/* What the simulated phone heard: the oldest frame written to the line. */
int line_backend_sim_pop_pcm(LineBackend *b, unsigned port, int16_t frame[LINE_PCM_FRAME_SAMPLES]);
#define LINE_SIM_PCM_QUEUE 8

size_t line_backend_n_ports(const LineBackend *b);
