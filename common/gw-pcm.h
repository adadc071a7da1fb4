/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-pcm.h: the data plane, each line's audio between linehwd and mediad.
 *
 * Bulk audio does not travel on the message bus (docs/BUS.md). linehwd and
 * mediad each bind one more ZeroMQ PUB socket, "<daemon>.pcm" next to their
 * bus sockets (ipc://<runtime_dir>/bus/linehwd.pcm, or tcp port+2 of the
 * daemon's tcp endpoint, with the bus's CURVE keys), and connect a SUB to the
 * other's. A restart of either side is healed by ZeroMQ's reconnect; frames
 * sent while the peer is away are simply gone (audio is real time).
 *
 * Direction and clock: line hardware is the clock master. linehwd sends one
 * "up" frame per off-hook (or ringing) line every 20 ms: what the subscriber
 * says. mediad answers every up frame with exactly one "down" frame for the
 * same port and seq: what the subscriber hears. So mediad needs no clock of
 * its own for the line side, and a real SLIC's 8 kHz clock drives everything.
 *
 * One ZeroMQ message is one frame, 336 bytes, all integers little-endian. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw.pb-c.h"

#define GW_PCM_RATE          8000
#define GW_PCM_FRAME_MS      20
#define GW_PCM_SAMPLES       160        /* per frame */
#define GW_PCM_MAGIC         UINT32_C(0x4d435047)   /* "GPCM" as little-endian bytes */
#define GW_PCM_VERSION       1

enum {
        GW_PCM_FLAG_OFFHOOK = 1 << 0,   /* up: the line is off hook */
        GW_PCM_FLAG_RINGING = 1 << 1,   /* up: ring cadence running */
        GW_PCM_FLAG_SILENT  = 1 << 2,   /* the samples are all zero (may be skipped) */
};

typedef struct GwPcmFrame {
        uint32_t magic;                 /* GW_PCM_MAGIC */
        uint16_t version;               /* GW_PCM_VERSION */
        uint16_t port;                  /* line port, 1.. */
        uint32_t seq;                   /* up: per line, +1 every 20 ms; down: the up frame's */
        uint32_t flags;                 /* GW_PCM_FLAG_* */
        uint64_t mono_us;               /* up: CLOCK_MONOTONIC of the sender when sent */
        int16_t samples[GW_PCM_SAMPLES]; /* 8 kHz, 16-bit linear */
} GwPcmFrame;

_Static_assert(sizeof(GwPcmFrame) == 24 + 2 * GW_PCM_SAMPLES, "GwPcmFrame must have no padding");

typedef enum GwPcmRole {
        GW_PCM_LINE,                    /* linehwd: sends up, receives down */
        GW_PCM_MEDIA,                   /* mediad: sends down, receives up */
} GwPcmRole;

typedef struct GwPcm GwPcm;

/* A received, validated frame (host byte order). Runs on the owner's loop. */
typedef void (*gw_pcm_handler_t)(GwPcm *p, const GwPcmFrame *f, void *userdata);

/* Bind our PCM PUB and connect a SUB to the peer's, on loop 'e'. */
int gw_pcm_new(sd_event *e, const GwConf *c, GwPcmRole role, gw_pcm_handler_t h, void *userdata,
               GwPcm **ret);
GwPcm *gw_pcm_free(GwPcm *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(GwPcm *, gw_pcm_free);

/* Send one frame (magic, version filled in; converted to little-endian).
 * Never blocks: a full queue drops the frame and counts it (-EAGAIN). */
int gw_pcm_send(GwPcm *p, const GwPcmFrame *f);

/* The clock owner (linehwd) counts frames that missed their 20 ms slot. */
void gw_pcm_add_late(GwPcm *p, uint64_t n);

/* Frame counters, for BusCounters.pcm_frames_* and PcmCounters. ret INIT'd by the caller. */
void gw_pcm_counters(const GwPcm *p, Gw__PcmCounters *ret);

/* Endpoint of role's PUB: "ipc://<runtime_dir>/bus/<daemon>.pcm" or tcp port+2. */
int gw_pcm_endpoint(const GwConf *c, GwPcmRole role, char *buf, size_t n);
