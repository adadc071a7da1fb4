/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-pcm.c: the PCM data plane (common/gw-pcm.h) at line-card rates: round trip and losses.
 *
 * Usage: bench-pcm [SECONDS]
 *
 * One process, one sd-event loop, the real GwPcm ends (LINE and MEDIA) on
 * ipc sockets in a temporary runtime directory, as linehwd and mediad use
 * them. For N lines (1, 64, 256, 1024) the LINE end sends N up frames every
 * 20 ms for SECONDS (default 3); the MEDIA end answers each at once with a
 * down frame carrying the up frame's mono_us; the round trip is the LINE
 * end's CLOCK_MONOTONIC when the down frame is handled minus that stamp. Both
 * ends share one loop and one CPU here, so the figures bound what two
 * processes see. Prints a table; no pass/fail. Every wait is bounded. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-bus.h"
#include "gw-pcm.h"

#define MAX_RTT 400000

typedef struct Bench {
        GwPcm *line, *media;
        unsigned lines;
        uint32_t seq;
        uint64_t sent, received;
        uint32_t *rtt_us;
        size_t n_rtt;
        sd_event_source *tick;
        uint64_t next, end;
        bool done;
} Bench;

static void on_up(GwPcm *p, const GwPcmFrame *f, void *userdata) {
        Bench *b = userdata;
        GwPcmFrame down = *f;

        down.flags = 0;
        (void) gw_pcm_send(b->media, &down);
}

static void on_down(GwPcm *p, const GwPcmFrame *f, void *userdata) {
        Bench *b = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        b->received++;
        if (b->n_rtt < MAX_RTT)
                b->rtt_us[b->n_rtt++] = (uint32_t) (now - f->mono_us);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Bench *b = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        GwPcmFrame f = { .flags = GW_PCM_FLAG_OFFHOOK };

        if (now >= b->end) {
                b->done = true;
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        }
        b->seq++;
        for (unsigned i = 0; i < b->lines; i++) {
                f.port = (uint16_t) (i + 1);
                f.seq = b->seq;
                for (int k = 0; k < GW_PCM_SAMPLES; k++)
                        f.samples[k] = (int16_t) (k * 100 + i);
                f.mono_us = now_usec(CLOCK_MONOTONIC);
                if (gw_pcm_send(b->line, &f) == 0)
                        b->sent++;
        }
        b->next += GW_PCM_FRAME_MS * USEC_PER_MSEC;
        (void) sd_event_source_set_time(s, b->next);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

static int run_one(const GwConf *c, unsigned lines, unsigned seconds) {
        Bench b = { .lines = lines };
        sd_event *e = NULL;
        Gw__PcmCounters lc = GW__PCM_COUNTERS__INIT, mc = GW__PCM_COUNTERS__INIT;
        int r;

        b.rtt_us = calloc(MAX_RTT, sizeof *b.rtt_us);
        if (!b.rtt_us)
                return -ENOMEM;
        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = gw_pcm_new(e, c, GW_PCM_LINE, on_down, &b, &b.line);
        if (r >= 0)
                r = gw_pcm_new(e, c, GW_PCM_MEDIA, on_up, &b, &b.media);
        if (r < 0)
                return r;

        /* Until the link is up both ways (about 3 s at most). */
        for (uint64_t stop = now_usec(CLOCK_MONOTONIC) + 3 * USEC_PER_SEC;
             b.received == 0 && now_usec(CLOCK_MONOTONIC) < stop;) {
                GwPcmFrame f = { .port = 1, .mono_us = now_usec(CLOCK_MONOTONIC) };
                (void) gw_pcm_send(b.line, &f);
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
        }
        if (b.received == 0) {
                fprintf(stderr, "bench-pcm: the data plane did not come up\n");
                return -ETIMEDOUT;
        }
        /* Let stragglers of the warm-up drain, then count from zero. */
        for (uint64_t stop = now_usec(CLOCK_MONOTONIC) + 100 * USEC_PER_MSEC; now_usec(CLOCK_MONOTONIC) < stop;)
                (void) sd_event_run(e, 5 * USEC_PER_MSEC);
        b.received = b.sent = 0;
        b.n_rtt = 0;

        b.next = now_usec(CLOCK_MONOTONIC) + GW_PCM_FRAME_MS * USEC_PER_MSEC;
        b.end = b.next + (uint64_t) seconds * USEC_PER_SEC;
        r = sd_event_add_time(e, &b.tick, CLOCK_MONOTONIC, b.next, 1, on_tick, &b);
        if (r < 0)
                return r;
        while (!b.done)
                (void) sd_event_run(e, 50 * USEC_PER_MSEC);
        /* The last answers, 200 ms at most. */
        for (uint64_t stop = now_usec(CLOCK_MONOTONIC) + 200 * USEC_PER_MSEC;
             b.received < b.sent && now_usec(CLOCK_MONOTONIC) < stop;)
                (void) sd_event_run(e, 5 * USEC_PER_MSEC);

        gw_pcm_counters(b.line, &lc);
        gw_pcm_counters(b.media, &mc);
        qsort(b.rtt_us, b.n_rtt, sizeof *b.rtt_us, cmp_u32);
        printf("%6u %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %10u %10u %10u %8" PRIu64 "\n",
               lines, b.sent, b.received, b.sent - b.received,
               b.n_rtt ? b.rtt_us[b.n_rtt / 2] : 0,
               b.n_rtt ? b.rtt_us[(size_t) (b.n_rtt * 0.99)] : 0,
               b.n_rtt ? b.rtt_us[b.n_rtt - 1] : 0,
               lc.dropped_full + mc.dropped_full);

        sd_event_source_disable_unref(b.tick);
        gw_pcm_free(b.line);
        gw_pcm_free(b.media);
        sd_event_unref(e);
        free(b.rtt_us);
        return 0;
}

int main(int argc, char **argv) {
        static const unsigned sizes[] = { 1, 64, 256, 1024 };
        char dir[] = "/tmp/bench-pcm-XXXXXX", cmd[256];
        unsigned seconds = argc > 1 ? (unsigned) strtoul(argv[1], NULL, 10) : 3;
        GwConf c = { .runtime_dir = dir };
        int r = 0;

        if (seconds < 1 || seconds > 60) {
                fprintf(stderr, "bench-pcm: SECONDS must be 1..60\n");
                return 2;
        }
        if (!mkdtemp(dir))
                return 1;
        printf("PCM data plane, ipc, one loop, %u s per row; round trip up->down in us\n", seconds);
        printf("%6s %10s %10s %8s %10s %10s %10s %8s\n", "lines", "up sent", "down rcvd", "lost",
               "rtt p50", "rtt p99", "rtt max", "full");
        for (size_t i = 0; r >= 0 && i < sizeof sizes / sizeof sizes[0]; i++)
                r = run_one(&c, sizes[i], seconds);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) !system(cmd);
        return r < 0 ? 1 : 0;
}
