/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-pcm.c: the PCM data plane between linehwd and mediad: a ZeroMQ PUB per side, a SUB on the other's. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "gw-bus.h"
#include "gw-pcm.h"
#include "gw-zsource.h"

#define GW_PCM_BATCH 512                 /* frames handled per wake-up */
/* About 2.5 s of audio for 64 lines; the queue only fills when the peer stalls. */
#define GW_PCM_HWM 8192

struct GwPcm {
        sd_event *event;
        const GwConf *conf;
        GwPcmRole role;
        gw_pcm_handler_t handler;
        void *userdata;

        void *zctx;
        void *pub;
        void *sub;
        GwZSource *sub_source;

        uint64_t tx, rx, dropped_malformed, dropped_full, late;
};

static Gw__Service role_service(GwPcmRole role) {
        return role == GW_PCM_LINE ? GW__SERVICE__SERVICE_LINEHWD : GW__SERVICE__SERVICE_MEDIAD;
}

int gw_pcm_endpoint(const GwConf *c, GwPcmRole role, char *buf, size_t n) {
        if (!c || (role != GW_PCM_LINE && role != GW_PCM_MEDIA))
                return -EINVAL;
        return gw_bus_endpoint(c, role_service(role), "pcm", buf, n);
}

static bool endpoint_is_tcp(const char *ep) {
        return strncmp(ep, "tcp://", 6) == 0;
}

/* ---------------------------------------------------------------- wire format */

static void frame_to_wire(const GwPcmFrame *f, uint8_t out[sizeof(GwPcmFrame)]) {
        GwPcmFrame w;

        w.magic = htole32(GW_PCM_MAGIC);
        w.version = htole16(GW_PCM_VERSION);
        w.port = htole16(f->port);
        w.seq = htole32(f->seq);
        w.flags = htole32(f->flags);
        w.mono_us = htole64(f->mono_us);
        for (size_t i = 0; i < GW_PCM_SAMPLES; i++)
                w.samples[i] = (int16_t) htole16((uint16_t) f->samples[i]);
        memcpy(out, &w, sizeof w);
}

/* -EBADMSG for anything but one well-formed frame of our version. */
static int frame_from_wire(const uint8_t *data, size_t len, GwPcmFrame *ret) {
        GwPcmFrame w;

        if (len != sizeof w)
                return -EBADMSG;
        memcpy(&w, data, sizeof w);
        if (le32toh(w.magic) != GW_PCM_MAGIC || le16toh(w.version) != GW_PCM_VERSION || le16toh(w.port) < 1)
                return -EBADMSG;
        ret->magic = GW_PCM_MAGIC;
        ret->version = GW_PCM_VERSION;
        ret->port = le16toh(w.port);
        ret->seq = le32toh(w.seq);
        ret->flags = le32toh(w.flags);
        ret->mono_us = le64toh(w.mono_us);
        for (size_t i = 0; i < GW_PCM_SAMPLES; i++)
                ret->samples[i] = (int16_t) le16toh((uint16_t) w.samples[i]);
        return 0;
}

/* ---------------------------------------------------------------- receive */

/* 1 if a message was taken (good or not), 0 if none pending, <0 on error. */
static int recv_one(void *sock, void *userdata) {
        GwPcm *p = userdata;
        uint8_t buf[sizeof(GwPcmFrame) + 1];
        GwPcmFrame f;
        int more = 0, n;
        size_t more_len = sizeof more;
        bool bad = false;

        n = zmq_recv(p->sub, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0)
                return zmq_errno() == EAGAIN ? 0 : gw_zmq_errno();
        /* A multipart message is not a frame: take all its parts, then drop it. */
        (void) zmq_getsockopt(p->sub, ZMQ_RCVMORE, &more, &more_len);
        for (int i = 0; more && i < 64; i++) {
                bad = true;
                if (zmq_recv(p->sub, buf, sizeof buf, 0) < 0)
                        break;
                (void) zmq_getsockopt(p->sub, ZMQ_RCVMORE, &more, &more_len);
        }
        /* zmq_recv returns the full size even when it truncated. */
        if (bad || (size_t) n > sizeof(GwPcmFrame) || frame_from_wire(buf, (size_t) n, &f) < 0) {
                p->dropped_malformed++;
                return 1;
        }
        p->rx++;
        if (p->handler)
                p->handler(p, &f, p->userdata);
        return 1;
}

/* ---------------------------------------------------------------- setup */

static int bind_pub(GwPcm *p) {
        char ep[256], dir[512];
        int r;

        r = gw_pcm_endpoint(p->conf, p->role, ep, sizeof ep);
        if (r < 0)
                return r;
        if (endpoint_is_tcp(ep)) {
                r = gw_bus_setup_curve(p->pub, p->conf, true);
                if (r < 0)
                        return r;
        } else {
                /* The bus normally made <runtime_dir>/bus already; a test may not have. */
                if (snprintf(dir, sizeof dir, "%s/bus", p->conf->runtime_dir) < (int) sizeof dir)
                        (void) mkdir(dir, 0750);
                /* A previous instance killed with SIGKILL leaves its socket file behind. */
                (void) unlink(ep + 6);
        }
        if (zmq_bind(p->pub, ep) < 0)
                return gw_zmq_errno();
        return 0;
}

static int connect_sub(GwPcm *p) {
        char ep[256];
        int r;

        r = gw_pcm_endpoint(p->conf, p->role == GW_PCM_LINE ? GW_PCM_MEDIA : GW_PCM_LINE, ep, sizeof ep);
        if (r < 0)
                return r;
        if (endpoint_is_tcp(ep)) {
                r = gw_bus_setup_curve(p->sub, p->conf, false);
                if (r < 0)
                        return r;
        }
        if (zmq_setsockopt(p->sub, ZMQ_SUBSCRIBE, "", 0) < 0)
                return gw_zmq_errno();
        if (zmq_connect(p->sub, ep) < 0)
                return gw_zmq_errno();
        return 0;
}

int gw_pcm_new(sd_event *e, const GwConf *c, GwPcmRole role, gw_pcm_handler_t h, void *userdata,
               GwPcm **ret) {
        _cleanup_(gw_pcm_freep) GwPcm *p = NULL;
        int one = 1, r;

        if (!e || !c || !ret || (role != GW_PCM_LINE && role != GW_PCM_MEDIA))
                return -EINVAL;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->event = sd_event_ref(e);
        p->conf = c;
        p->role = role;
        p->handler = h;
        p->userdata = userdata;

        p->zctx = zmq_ctx_new();
        if (!p->zctx)
                return gw_zmq_errno();
        p->pub = zmq_socket(p->zctx, ZMQ_PUB);
        p->sub = zmq_socket(p->zctx, ZMQ_SUB);
        if (!p->pub || !p->sub)
                return gw_zmq_errno();
        if ((r = gw_zsocket_set_options(p->pub, GW_PCM_HWM)) < 0 ||
            (r = gw_zsocket_set_options(p->sub, GW_PCM_HWM)) < 0)
                return r;
        /* A full queue must fail the send (counted) rather than drop silently. */
        if (zmq_setsockopt(p->pub, ZMQ_XPUB_NODROP, &one, sizeof one) < 0)
                return gw_zmq_errno();

        r = bind_pub(p);
        if (r < 0)
                return r;
        r = connect_sub(p);
        if (r < 0)
                return r;

        r = gw_zsource_new(e, p->sub, "pcm-sub", GW_PCM_BATCH, recv_one, p, &p->sub_source);
        if (r < 0)
                return r;

        p->conf = NULL;         /* bound and connected: the config may go (a reload replaces it) */
        *ret = TAKE_PTR(p);
        return 0;
}

GwPcm *gw_pcm_free(GwPcm *p) {
        if (!p)
                return NULL;
        gw_zsource_free(p->sub_source);
        if (p->pub)
                zmq_close(p->pub);
        if (p->sub)
                zmq_close(p->sub);
        if (p->zctx)
                zmq_ctx_term(p->zctx);
        sd_event_unref(p->event);
        free(p);
        return NULL;
}

int gw_pcm_send(GwPcm *p, const GwPcmFrame *f) {
        uint8_t buf[sizeof(GwPcmFrame)];

        if (!p || !f || f->port < 1)
                return -EINVAL;
        frame_to_wire(f, buf);
        if (zmq_send(p->pub, buf, sizeof buf, ZMQ_DONTWAIT) < 0) {
                int r = gw_zmq_errno();
                if (r == -EAGAIN)
                        p->dropped_full++;
                return r;
        }
        p->tx++;
        return 0;
}

void gw_pcm_add_late(GwPcm *p, uint64_t n) {
        p->late += n;
}

void gw_pcm_counters(const GwPcm *p, Gw__PcmCounters *ret) {
        ret->service = role_service(p->role);
        ret->has_frames_tx = ret->has_frames_rx = ret->has_dropped_malformed = true;
        ret->has_dropped_full = ret->has_late = true;
        ret->frames_tx = p->tx;
        ret->frames_rx = p->rx;
        ret->dropped_malformed = p->dropped_malformed;
        ret->dropped_full = p->dropped_full;
        ret->late = p->late;
}
