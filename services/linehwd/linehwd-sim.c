/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-sim.c: the simulated line card: per-line state in memory, a handset moved by tests and the demo.
 *
 * Every configured line starts on hook, not ringing, with normal polarity and
 * active feed. Ringing, polarity and feed are remembered as set; the hook
 * switch changes only through line_backend_sim_set_hook(). PCM goes through
 * two small queues per line: frames the simulated phone speaks (pushed by the
 * test, read by linehwd) and frames written to the line (popped by the test). */
#include <stdlib.h>
#include <string.h>

#include "linehwd-backend.h"

typedef struct PcmQueue {
        int16_t frames[LINE_SIM_PCM_QUEUE][LINE_PCM_FRAME_SAMPLES];
        unsigned head, n;
} PcmQueue;

typedef struct SimLine {
        unsigned port;
        LineHook hook;
        bool ringing;
        LinePolarity polarity;
        LineFeed feed;
        PcmQueue from_phone;
        PcmQueue to_phone;
} SimLine;

typedef struct Sim {
        SimLine *lines;
        size_t n_lines;
} Sim;

static SimLine *sim_line(LineBackend *b, unsigned port) {
        Sim *s = b->data;

        for (size_t i = 0; i < s->n_lines; i++)
                if (s->lines[i].port == port)
                        return &s->lines[i];
        return NULL;
}

static int pcm_push(PcmQueue *q, const int16_t frame[LINE_PCM_FRAME_SAMPLES]) {
        if (q->n >= LINE_SIM_PCM_QUEUE)
                return -ENOBUFS;
        memcpy(q->frames[(q->head + q->n) % LINE_SIM_PCM_QUEUE], frame,
               sizeof q->frames[0]);
        q->n++;
        return 0;
}

static int pcm_pop(PcmQueue *q, int16_t frame[LINE_PCM_FRAME_SAMPLES]) {
        if (q->n == 0)
                return -EAGAIN;
        memcpy(frame, q->frames[q->head], sizeof q->frames[0]);
        q->head = (q->head + 1) % LINE_SIM_PCM_QUEUE;
        q->n--;
        return 0;
}

static int sim_init(LineBackend *b, const unsigned *ports, size_t n_ports) {
        Sim *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        if (n_ports > 0) {
                s->lines = calloc(n_ports, sizeof *s->lines);
                if (!s->lines) {
                        free(s);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < n_ports; i++)
                s->lines[i] = (SimLine) {
                        .port = ports[i],
                        .hook = LINE_HOOK_ON,
                        .polarity = LINE_POLARITY_NORMAL,
                        .feed = LINE_FEED_ACTIVE,
                };
        s->n_lines = n_ports;
        b->data = s;
        return 0;
}

static int sim_set_ports(LineBackend *b, const unsigned *ports, size_t n_ports) {
        Sim *s = b->data;
        SimLine *next = calloc(MAX(n_ports, (size_t) 1), sizeof *next);

        if (!next)
                return -ENOMEM;
        for (size_t i = 0; i < n_ports; i++) {
                SimLine *old = sim_line(b, ports[i]);

                next[i] = old ? *old : (SimLine) {
                        .port = ports[i],
                        .hook = LINE_HOOK_ON,
                        .polarity = LINE_POLARITY_NORMAL,
                        .feed = LINE_FEED_ACTIVE,
                };
        }
        free(s->lines);
        s->lines = next;
        s->n_lines = n_ports;
        return 0;
}

static void sim_done(LineBackend *b) {
        Sim *s = b->data;

        if (s)
                free(s->lines);
        free(s);
        b->data = NULL;
}

static int sim_get_hook(LineBackend *b, unsigned port, LineHook *ret) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        *ret = l->hook;
        return 0;
}

static int sim_set_ring(LineBackend *b, unsigned port, bool on) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        /* A real SLIC refuses to ring an off-hook line (ring trip); so does the sim. */
        if (on && l->hook == LINE_HOOK_OFF)
                return -EBUSY;
        l->ringing = on;
        return 0;
}

static int sim_get_ring(LineBackend *b, unsigned port, bool *ret) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        *ret = l->ringing;
        return 0;
}

static int sim_set_polarity(LineBackend *b, unsigned port, LinePolarity p) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        if (p < 0 || p >= _LINE_POLARITY_MAX)
                return -EINVAL;
        l->polarity = p;
        return 0;
}

static int sim_get_polarity(LineBackend *b, unsigned port, LinePolarity *ret) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        *ret = l->polarity;
        return 0;
}

static int sim_set_feed(LineBackend *b, unsigned port, LineFeed f) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        if (f < 0 || f >= _LINE_FEED_MAX)
                return -EINVAL;
        l->feed = f;
        if (f == LINE_FEED_DISCONNECT)
                l->ringing = false;
        return 0;
}

static int sim_get_feed(LineBackend *b, unsigned port, LineFeed *ret) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        *ret = l->feed;
        return 0;
}

static int sim_read_pcm(LineBackend *b, unsigned port, int16_t frame[LINE_PCM_FRAME_SAMPLES]) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        return pcm_pop(&l->from_phone, frame);
}

static int sim_write_pcm(LineBackend *b, unsigned port, const int16_t frame[LINE_PCM_FRAME_SAMPLES]) {
        SimLine *l = sim_line(b, port);

        if (!l)
                return -ENXIO;
        return pcm_push(&l->to_phone, frame);
}

const LineBackendOps line_backend_sim_ops = {
        .name = "sim",
        .init = sim_init,
        .done = sim_done,
        .get_hook = sim_get_hook,
        .set_ring = sim_set_ring,
        .get_ring = sim_get_ring,
        .set_polarity = sim_set_polarity,
        .get_polarity = sim_get_polarity,
        .set_feed = sim_set_feed,
        .get_feed = sim_get_feed,
        .read_pcm = sim_read_pcm,
        .write_pcm = sim_write_pcm,
        .set_ports = sim_set_ports,
};

int line_backend_sim_set_hook(LineBackend *b, unsigned port, LineHook hook) {
        SimLine *l;

        if (b->ops != &line_backend_sim_ops)
                return -EOPNOTSUPP;
        l = sim_line(b, port);
        if (!l)
                return -ENXIO;
        if (hook < 0 || hook >= _LINE_HOOK_MAX)
                return -EINVAL;
        if (l->hook == hook)
                return 0;
        l->hook = hook;
        /* Lifting the handset while it rings trips the ringing, as on a real line. */
        if (hook == LINE_HOOK_OFF)
                l->ringing = false;
        if (b->hook_cb)
                b->hook_cb(b, port, hook, b->hook_userdata);
        return 1;
}

int line_backend_sim_push_pcm(LineBackend *b, unsigned port, const int16_t frame[LINE_PCM_FRAME_SAMPLES]) {
        SimLine *l;

        if (b->ops != &line_backend_sim_ops)
                return -EOPNOTSUPP;
        l = sim_line(b, port);
        if (!l)
                return -ENXIO;
        return pcm_push(&l->from_phone, frame);
}

int line_backend_sim_pop_pcm(LineBackend *b, unsigned port, int16_t frame[LINE_PCM_FRAME_SAMPLES]) {
        SimLine *l;

        if (b->ops != &line_backend_sim_ops)
                return -EOPNOTSUPP;
        l = sim_line(b, port);
        if (!l)
                return -ENXIO;
        return pcm_pop(&l->to_phone, frame);
}
