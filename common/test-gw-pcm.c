/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-pcm.c: the PCM data plane between a LINE and a MEDIA end on one loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "gw-bus.h"
#include "gw-pcm.h"
#include "gw-test.h"
#include "gw-tests.h"

typedef struct Rx {
        unsigned n;
        GwPcmFrame last;
} Rx;

static void on_frame(GwPcm *p, const GwPcmFrame *f, void *userdata) {
        Rx *rx = userdata;

        rx->n++;
        rx->last = *f;
}

static char *make_runtime_dir(void) {
        return strdup(gw_test_tmpdir("gw-test-pcm"));
}

static void fill(GwPcmFrame *f, uint16_t port, uint32_t seq, int16_t base) {
        *f = (GwPcmFrame) { .port = port, .seq = seq, .flags = GW_PCM_FLAG_OFFHOOK, .mono_us = 123456789012ULL };
        for (int i = 0; i < GW_PCM_SAMPLES; i++)
                f->samples[i] = (int16_t) (base + i * 100 - 8000);
}

static void assert_same(const GwPcmFrame *a, const GwPcmFrame *b) {
        ASSERT_EQ(a->magic, GW_PCM_MAGIC);
        ASSERT_EQ(a->version, GW_PCM_VERSION);
        ASSERT_EQ(a->port, b->port);
        ASSERT_EQ(a->seq, b->seq);
        ASSERT_EQ(a->flags, b->flags);
        ASSERT_EQ(a->mono_us, b->mono_us);
        ASSERT_EQ(memcmp(a->samples, b->samples, sizeof a->samples), 0);
}

/* Bounded by the clock, not by loop turns: a turn ends early whenever an event is dispatched. */
#define WITHIN_3S(cond) for (uint64_t _end_ = now_usec(CLOCK_MONOTONIC) + 3 * USEC_PER_SEC; \
                             (cond) && now_usec(CLOCK_MONOTONIC) < _end_;)

/* Send f from 'from' every 10 ms until rx counts one more frame (slow joiner), ~3 s at most. */
static void send_until(sd_event *e, GwPcm *from, const GwPcmFrame *f, Rx *rx) {
        unsigned before = rx->n;

        WITHIN_3S(rx->n == before) {
                ASSERT_OK(gw_pcm_send(from, f));
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        }
        ASSERT_TRUE(rx->n > before);
}

TEST(endpoints) {
        GwConf c = { .runtime_dir = (char *) "/run/fxsgw" };
        char buf[256];

        ASSERT_OK(gw_pcm_endpoint(&c, GW_PCM_LINE, buf, sizeof buf));
        ASSERT_STREQ(buf, "ipc:///run/fxsgw/bus/linehwd.pcm");
        ASSERT_OK(gw_pcm_endpoint(&c, GW_PCM_MEDIA, buf, sizeof buf));
        ASSERT_STREQ(buf, "ipc:///run/fxsgw/bus/mediad.pcm");
        c.bus_endpoints[GW__SERVICE__SERVICE_LINEHWD] = (char *) "tcp://192.0.2.1:7100";
        ASSERT_OK(gw_pcm_endpoint(&c, GW_PCM_LINE, buf, sizeof buf));
        ASSERT_STREQ(buf, "tcp://192.0.2.1:7102");
        c.bus_endpoints[GW__SERVICE__SERVICE_LINEHWD] = (char *) "tcp://192.0.2.1:65534";
        ASSERT_ERROR(gw_pcm_endpoint(&c, GW_PCM_LINE, buf, sizeof buf), EINVAL);
        /* the bus's own kinds still work on that port */
        ASSERT_OK(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_LINEHWD, "ctl", buf, sizeof buf));
        ASSERT_STREQ(buf, "tcp://192.0.2.1:65535");
        c.bus_endpoints[GW__SERVICE__SERVICE_MEDIAD] = (char *) "ipc:///tmp/x/media";
        ASSERT_OK(gw_pcm_endpoint(&c, GW_PCM_MEDIA, buf, sizeof buf));
        ASSERT_STREQ(buf, "ipc:///tmp/x/media.pcm");
        ASSERT_ERROR(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_MEDIAD, "pcmx", buf, sizeof buf), EINVAL);
}

TEST(frames_both_ways) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwPcm *line = NULL, *media = NULL;
        Rx up = {}, down = {};
        GwPcmFrame f;
        Gw__PcmCounters pc = GW__PCM_COUNTERS__INIT;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_pcm_new(e, &c, GW_PCM_LINE, on_frame, &down, &line));
        ASSERT_OK(gw_pcm_new(e, &c, GW_PCM_MEDIA, on_frame, &up, &media));

        fill(&f, 3, 77, 1);
        send_until(e, line, &f, &up);
        assert_same(&up.last, &f);
        ASSERT_EQ(down.n, 0);              /* our own PUB does not loop back */

        fill(&f, 65535, UINT32_MAX, -5);
        f.flags = GW_PCM_FLAG_SILENT;
        send_until(e, media, &f, &down);
        assert_same(&down.last, &f);

        /* once connected, a burst of 100 arrives complete and in order */
        unsigned before = up.n;
        for (uint32_t s = 1000; s < 1100; s++) {
                fill(&f, 1, s, (int16_t) s);
                ASSERT_OK(gw_pcm_send(line, &f));
        }
        WITHIN_3S(up.n < before + 100)
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        ASSERT_EQ(up.n, before + 100);
        ASSERT_EQ(up.last.seq, 1099);
        assert_same(&up.last, &f);

        gw_pcm_counters(media, &pc);
        ASSERT_EQ(pc.service, GW__SERVICE__SERVICE_MEDIAD);
        ASSERT_EQ(pc.frames_rx, up.n);
        ASSERT_TRUE(pc.frames_tx >= 1);
        ASSERT_EQ(pc.dropped_malformed, 0);

        /* port 0 is refused before it goes out */
        f.port = 0;
        ASSERT_ERROR(gw_pcm_send(line, &f), EINVAL);

        gw_pcm_free(line);
        gw_pcm_free(media);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

/* A foreign PUB bound at linehwd's endpoint sends garbage: mediad's end drops and counts it. */
TEST(malformed_dropped) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwPcm *media = NULL;
        Rx up = {};
        Gw__PcmCounters pc = GW__PCM_COUNTERS__INIT;
        char ep[256], bus[512];
        GwPcmFrame f;
        uint8_t wire[sizeof f];

        snprintf(bus, sizeof bus, "%s/bus", dir);
        ASSERT_EQ(mkdir(bus, 0750), 0);
        ASSERT_OK(gw_pcm_endpoint(&c, GW_PCM_LINE, ep, sizeof ep));
        void *zctx = zmq_ctx_new(), *pub = zmq_socket(zctx, ZMQ_PUB);
        int linger = 0;
        zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
        ASSERT_EQ(zmq_bind(pub, ep), 0);

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_pcm_new(e, &c, GW_PCM_MEDIA, on_frame, &up, &media));

        /* A valid frame by hand (little-endian on the wire) first, until the link is up. */
        fill(&f, 2, 5, 0);
        f.magic = GW_PCM_MAGIC;
        f.version = GW_PCM_VERSION;
        memcpy(wire, &f, sizeof f);          /* the test hosts are little-endian */
        WITHIN_3S(up.n == 0) {
                zmq_send(pub, wire, sizeof wire, ZMQ_DONTWAIT);
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        }
        ASSERT_EQ(up.n >= 1, 1);
        assert_same(&up.last, &f);
        unsigned good = up.n;

        /* short, long, bad magic, bad version, port 0, multipart */
        ASSERT_TRUE(zmq_send(pub, wire, sizeof wire - 1, 0) >= 0);
        uint8_t big[sizeof wire + 10] = {};
        memcpy(big, wire, sizeof wire);
        ASSERT_TRUE(zmq_send(pub, big, sizeof big, 0) >= 0);
        GwPcmFrame g = f;
        g.magic ^= 1;
        ASSERT_TRUE(zmq_send(pub, &g, sizeof g, 0) >= 0);
        g = f;
        g.version = 2;
        ASSERT_TRUE(zmq_send(pub, &g, sizeof g, 0) >= 0);
        g = f;
        g.port = 0;
        ASSERT_TRUE(zmq_send(pub, &g, sizeof g, 0) >= 0);
        ASSERT_TRUE(zmq_send(pub, wire, sizeof wire, ZMQ_SNDMORE) >= 0);
        ASSERT_TRUE(zmq_send(pub, wire, sizeof wire, 0) >= 0);
        /* and a good one after them all: it still arrives */
        f.seq = 6;
        memcpy(wire, &f, sizeof f);
        ASSERT_TRUE(zmq_send(pub, wire, sizeof wire, 0) >= 0);

        WITHIN_3S(up.n == good)
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        ASSERT_EQ(up.n, good + 1);
        ASSERT_EQ(up.last.seq, 6);
        gw_pcm_counters(media, &pc);
        ASSERT_EQ(pc.dropped_malformed, 6);
        ASSERT_EQ(pc.frames_rx, good + 1);

        zmq_close(pub);
        zmq_ctx_term(zctx);
        gw_pcm_free(media);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

/* mediad restarts (a new GwPcm on the same endpoint): both directions heal. */
TEST(peer_restart) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwPcm *line = NULL, *media = NULL;
        Rx up = {}, down = {}, up2 = {};
        GwPcmFrame f;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_pcm_new(e, &c, GW_PCM_LINE, on_frame, &down, &line));
        ASSERT_OK(gw_pcm_new(e, &c, GW_PCM_MEDIA, on_frame, &up, &media));
        fill(&f, 1, 1, 0);
        send_until(e, line, &f, &up);
        send_until(e, media, &f, &down);

        media = gw_pcm_free(media);
        /* frames sent while the peer is away are simply gone, and sending never blocks */
        for (int i = 0; i < 20; i++) {
                int r = gw_pcm_send(line, &f);
                ASSERT_TRUE(r == 0 || r == -EAGAIN);
                ASSERT_OK(sd_event_run(e, 1 * USEC_PER_MSEC));
        }

        ASSERT_OK(gw_pcm_new(e, &c, GW_PCM_MEDIA, on_frame, &up2, &media));
        fill(&f, 1, 42, 7);
        send_until(e, line, &f, &up2);
        assert_same(&up2.last, &f);
        unsigned d = down.n;
        fill(&f, 1, 43, 9);
        send_until(e, media, &f, &down);
        ASSERT_TRUE(down.n > d);
        assert_same(&down.last, &f);

        gw_pcm_free(line);
        gw_pcm_free(media);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

/* tcp with the bus's CURVE keys. */
TEST(tcp_curve) {
        _cleanup_free_ char *dir = make_runtime_dir();
        char pub[41], sec[41], ep_l[64], ep_m[64];
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwPcm *line = NULL, *media = NULL;
        Rx up = {};
        GwPcmFrame f;
        int port = 21000 + (getpid() % 20000);

        if (!zmq_has("curve"))
                return;
        ASSERT_EQ(zmq_curve_keypair(pub, sec), 0);
        c.bus_curve_public_key = pub;
        c.bus_curve_secret_key = sec;
        snprintf(ep_l, sizeof ep_l, "tcp://127.0.0.1:%d", port);
        snprintf(ep_m, sizeof ep_m, "tcp://127.0.0.1:%d", port + 3);
        c.bus_endpoints[GW__SERVICE__SERVICE_LINEHWD] = ep_l;
        c.bus_endpoints[GW__SERVICE__SERVICE_MEDIAD] = ep_m;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_pcm_new(e, &c, GW_PCM_LINE, NULL, NULL, &line));
        ASSERT_OK(gw_pcm_new(e, &c, GW_PCM_MEDIA, on_frame, &up, &media));
        fill(&f, 9, 1, 3);
        send_until(e, line, &f, &up);
        assert_same(&up.last, &f);

        gw_pcm_free(line);
        gw_pcm_free(media);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

DEFINE_TEST_MAIN
