/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-mediad-frame.c: CPU time of mediad's per-frame path for one line in a call:
 * DTMF detection on the up frame, G.711 encoding and an RTP send (PCMU, telephone-events
 * negotiated), receiving the far end's packet, playout and the down frame.
 * Then the jitter buffer alone under loss and jitter (concealment, reordering).
 * Prints microseconds of CPU per 20 ms frame (figures, not a test). */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "mediad-manager.h"

#define FRAMES 20000

static uint64_t frames_down;

static void count_frame(Manager *m, const GwPcmFrame *f, void *userdata) {
        frames_down++;
}

static uint64_t cpu_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The jitter buffer alone, on a simulated clock: a 1 kHz stream through 5 % loss
 * and 0-80 ms of random delay (reordering), one put and one get per frame. */
static void bench_playout(void) {
        enum { N = 50000, DEPTH = 8 };
        static Playout p;
        int16_t pcm[GW_PCM_SAMPLES], out[GW_PCM_SAMPLES];
        uint64_t due[N], t0, t1;
        uint32_t rnd = 1;

        playout_buffer_reset(&p);
        for (unsigned i = 0; i < GW_PCM_SAMPLES; i++)
                pcm[i] = (int16_t) (3000 * sin(2 * M_PI * 1000 * i / 8000.0));
        for (unsigned k = 0; k < N; k++) {
                rnd = rnd * 1103515245u + 12345u;
                due[k] = (rnd >> 8) % 100 < 5 ? UINT64_MAX :
                         (uint64_t) k * PLAYOUT_FRAME_US + (rnd >> 8) % 80000;
        }
        t0 = cpu_ns();
        for (unsigned g = 0; g < N; g++) {
                uint64_t now = (uint64_t) g * PLAYOUT_FRAME_US;

                /* The packets that arrived since the last tick (delays < 80 ms: 5 frames back). */
                for (unsigned k = g > DEPTH ? g - DEPTH : 0; k <= g; k++)
                        if (due[k] != UINT64_MAX && due[k] <= now && due[k] + PLAYOUT_FRAME_US > now)
                                playout_buffer_put(&p, &(PlayoutPacket) {
                                        .seq = (uint16_t) k, .ts = k * GW_PCM_SAMPLES, .ssrc = 1, .pcm = pcm,
                                        .now_us = due[k] });
                (void) playout_buffer_get(&p, out, now);
        }
        t1 = cpu_ns();
        printf("jitter buffer alone (put + get, 5 %% loss, 0-80 ms delay), %u frames:\n", N);
        printf("  %.2f us CPU per frame; target %u ms, delay %u ms, concealed %" PRIu64 ", late %" PRIu64 "\n",
               (t1 - t0) / 1000.0 / N, p.counters.target_ms, p.counters.delay_ms, p.counters.concealed,
               p.counters.late);
}

int main(void) {
        static const char conf_text[] =
                "sip: {listen: '127.0.0.1:5062'}\n"
                "profiles: [{name: p, proxy: 192.0.2.1}]\n"
                "lines: [{port: 1, number: '1'}]\n";
        const ManagerCallbacks cb = { .send_frame = count_frame };
        struct sockaddr_in far = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) }, mine;
        _cleanup_(gw_toneplan_freep) GwTonePlan *plan = NULL;
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_close_ int fd = -EBADF;
        Gw__MediaControl mc = GW__MEDIA_CONTROL__INIT;
        Gw__RtpSession rtp = GW__RTP_SESSION__INIT;
        uint8_t pkt[RTP_HEADER + GW_PCM_SAMPLES] = { 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
        socklen_t len = sizeof(far);
        GwPcmFrame up = { .magic = GW_PCM_MAGIC, .version = GW_PCM_VERSION, .port = 1, .flags = GW_PCM_FLAG_OFFHOOK };
        uint64_t t0, t1;
        int r;

        if (gw_conf_load_string("bench.yaml", conf_text, &conf, NULL) < 0 ||
            gw_toneplan_load_file("config/tone-plans/ru.yaml", &plan, NULL) < 0 ||
            sd_event_new(&e) < 0 || manager_new(e, conf, plan, &m) < 0)
                return fprintf(stderr, "setup failed (run from the source root)\n"), 1;
        manager_set_callbacks(m, &cb, NULL);

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &far, sizeof(far)) < 0 ||
            getsockname(fd, (struct sockaddr *) &far, &len) < 0)
                return perror("far socket"), 1;
        rtp.call_id = UNCONST("bench");
        rtp.local_port = 0;
        /* Let the kernel choose our port: bind a probe first to find a free one. */
        {
                struct sockaddr_in probe = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                socklen_t pl = sizeof(probe);
                int p = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (p < 0 || bind(p, (struct sockaddr *) &probe, sizeof(probe)) < 0 ||
                    getsockname(p, (struct sockaddr *) &probe, &pl) < 0)
                        return perror("probe"), 1;
                rtp.local_port = ntohs(probe.sin_port);
                close(p);
        }
        rtp.local_ip = UNCONST("127.0.0.1");
        rtp.remote_ip = UNCONST("127.0.0.1");
        rtp.has_remote_port = rtp.has_telephone_event_pt = true;
        rtp.remote_port = ntohs(far.sin_port);
        rtp.telephone_event_pt = 101;
        mc.port = 1;
        mc.has_generation = true;
        mc.generation = 1;
        mc.rtp = &rtp;
        r = manager_media_control(m, &mc);
        if (r < 0)
                return fprintf(stderr, "MediaControl: %s\n", strerror(-r)), 1;
        mine = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((uint16_t) rtp.local_port),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        memset(pkt + RTP_HEADER, 0x55, GW_PCM_SAMPLES);

        /* 1 kHz is 8 samples a period: every frame is the same 20 periods. */
        for (unsigned i = 0; i < GW_PCM_SAMPLES; i++)
                up.samples[i] = (int16_t) (3000 * sin(2 * M_PI * 1000 * i / 8000.0));
        t0 = cpu_ns();
        for (uint32_t k = 0; k < FRAMES; k++) {
                uint8_t sink[RTP_MAX_PACKET];

                up.seq = k;
                /* The far end's packet for this frame (sequence and timestamp of a real
                 * stream: the jitter buffer places frames by timestamp), and ours drained. */
                pkt[2] = (uint8_t) (k >> 8);
                pkt[3] = (uint8_t) k;
                pkt[4] = (uint8_t) ((k * GW_PCM_SAMPLES) >> 24);
                pkt[5] = (uint8_t) ((k * GW_PCM_SAMPLES) >> 16);
                pkt[6] = (uint8_t) ((k * GW_PCM_SAMPLES) >> 8);
                pkt[7] = (uint8_t) (k * GW_PCM_SAMPLES);
                (void) sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *) &mine, sizeof(mine));
                (void) sd_event_run(e, 0);
                manager_frame(m, &up);
                while (recv(fd, sink, sizeof(sink), 0) > 0)
                        ;
        }
        t1 = cpu_ns();
        printf("mediad frame path (DTMF detect + PCMU encode/send + receive/decode/playout), 1 line:\n");
        printf("  %u frames, %.2f us CPU per 20 ms frame (incl. the far end's send/recv syscalls), "
               "%.3f %% of one core per line\n", FRAMES, (t1 - t0) / 1000.0 / FRAMES,
               (t1 - t0) / 1000.0 / FRAMES / 20000.0 * 100);
        {
                const PlayoutCounters *pc = rtp_session_playout_counters(manager_line(m, 1)->rtp);

                printf("  down frames %" PRIu64 ", rtp rx %" PRIu64 ", played %" PRIu64 ", concealed %" PRIu64
                       ", shrunk %" PRIu64 "\n", frames_down, rtp_session_counters(manager_line(m, 1)->rtp)->rx,
                       pc->played, pc->concealed, pc->shrunk);
                /* Every packet but the few still buffered was played. */
                if (frames_down != FRAMES || pc->played + PLAYOUT_SLOTS < FRAMES)
                        return 1;
        }
        bench_playout();
        return 0;
}
