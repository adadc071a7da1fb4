/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-zsource.c: a ZeroMQ socket as an sd-event source: the ZMQ_FD edge, batches, re-checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "gw-zsource.h"

struct GwZSource {
        void *sock;
        unsigned batch;
        gw_zsource_recv_t recv;
        void *userdata;

        sd_event_source *io_source;      /* ZMQ_FD */
        sd_event_source *post_source;    /* after every other event: an edge may have gone */
        sd_event_source *defer_source;   /* ONESHOT when a batch left messages queued */
};

int gw_zmq_errno(void) {
        int e = zmq_errno();
        return e > 0 ? -e : -EIO;
}

bool gw_zsocket_readable(void *sock) {
        int events = 0;
        size_t len = sizeof events;

        if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) < 0)
                return false;
        return events & ZMQ_POLLIN;
}

int gw_zsocket_set_options(void *sock, int hwm) {
        int linger = 0, ivl = 50, ivl_max = 0;   /* ivl_max 0: no back-off */

        if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
            zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
            zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
            zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) < 0 ||
            zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) < 0)
                return gw_zmq_errno();
        return 0;
}

static void zsource_drain(GwZSource *z) {
        for (unsigned i = 0; i < z->batch; i++)
                if (z->recv(z->sock, z->userdata) <= 0)
                        break;
        if (gw_zsocket_readable(z->sock))
                (void) sd_event_source_set_enabled(z->defer_source, SD_EVENT_ONESHOT);
}

static int on_zsource_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        zsource_drain(userdata);
        return 0;
}

static int on_zsource_check(sd_event_source *s, void *userdata) {
        GwZSource *z = userdata;

        if (gw_zsocket_readable(z->sock))
                zsource_drain(z);
        return 0;
}

int gw_zsource_new(sd_event *e, void *sock, const char *description, unsigned batch,
                   gw_zsource_recv_t recv, void *userdata, GwZSource **ret) {
        _cleanup_(gw_zsource_freep) GwZSource *z = NULL;
        char name[64];
        size_t len;
        int fd, r;

        if (!e || !sock || !recv || batch == 0 || !ret)
                return -EINVAL;
        z = calloc(1, sizeof *z);
        if (!z)
                return -ENOMEM;
        *z = (GwZSource) { .sock = sock, .batch = batch, .recv = recv, .userdata = userdata };

        len = sizeof fd;
        if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) < 0)
                return gw_zmq_errno();
        r = sd_event_add_io(e, &z->io_source, fd, EPOLLIN, on_zsource_io, z);
        if (r < 0)
                return r;
        r = sd_event_add_post(e, &z->post_source, on_zsource_check, z);
        if (r < 0)
                return r;
        r = sd_event_add_defer(e, &z->defer_source, on_zsource_check, z);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(z->defer_source, SD_EVENT_OFF);
        if (description) {
                (void) sd_event_source_set_description(z->io_source, description);
                snprintf(name, sizeof name, "%s-post", description);
                (void) sd_event_source_set_description(z->post_source, name);
                snprintf(name, sizeof name, "%s-defer", description);
                (void) sd_event_source_set_description(z->defer_source, name);
        }
        *ret = TAKE_PTR(z);
        return 0;
}

GwZSource *gw_zsource_free(GwZSource *z) {
        if (!z)
                return NULL;
        sd_event_source_disable_unref(z->io_source);
        sd_event_source_disable_unref(z->post_source);
        sd_event_source_disable_unref(z->defer_source);
        free(z);
        return NULL;
}
