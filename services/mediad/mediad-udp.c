/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-udp.c: the UDP socket of an RTP or RTCP session: open or adopt it, read it in bursts, close it. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>

#include "gw-log.h"
#include "gw-macro.h"
#include "gw-sockaddr.h"
#include "mediad-udp.h"

struct MediaUdpKeep {
        bool enabled;                    /* store what we open, remove what we close */
        GwFdSet *inherited;              /* passed at start, not yet taken by a session */
        uint64_t adopted, waited;
};

int media_udp_keep_new(GwFdSet *inherited, MediaUdpKeep **ret) {
        MediaUdpKeep *k = calloc(1, sizeof(*k));

        if (!k) {
                gw_fdset_free(inherited);
                return -ENOMEM;
        }
        k->inherited = inherited;
        k->enabled = true;
        *ret = k;
        return 0;
}

void media_udp_keep_stop(MediaUdpKeep *k) {
        if (k)
                k->enabled = false;
}

MediaUdpKeep *media_udp_keep_free(MediaUdpKeep *k) {
        if (!k)
                return NULL;
        gw_fdset_free(k->inherited);
        free(k);
        return NULL;
}

size_t media_udp_keep_drop_unclaimed(MediaUdpKeep *k) {
        return k ? gw_fdset_drop(k->inherited) : 0;
}

size_t media_udp_keep_unclaimed(const MediaUdpKeep *k) { return k ? gw_fdset_size(k->inherited) : 0; }
uint64_t media_udp_keep_adopted(const MediaUdpKeep *k) { return k ? k->adopted : 0; }
uint64_t media_udp_keep_waited(const MediaUdpKeep *k) { return k ? k->waited : 0; }

static void fd_name(char *buf, size_t n, const char *kind, uint16_t port) {
        snprintf(buf, n, "%s-%u", kind, port);
}

/* The kept socket named after kind and port, if it is bound to *local;
 * one under that name bound elsewhere is stale: closed and removed. */
static int take_kept(MediaUdpKeep *keep, const struct sockaddr_storage *local, const char *name) {
        int fd = -EBADF, k;

        while ((k = gw_fdset_take(keep->inherited, name)) >= 0) {
                int fl = fcntl(k, F_GETFL);

                if (fd < 0 && gw_socket_is_bound_to(k, GW_SOCKADDR(local)) && fl >= 0 &&
                    fcntl(k, F_SETFL, fl | O_NONBLOCK) >= 0) {
                        fd = k;
                        continue;
                }
                close(k);
                (void) gw_fdstore_remove(name);
        }
        return fd;
}

int media_udp_open(MediaUdpKeep *keep, struct sockaddr_storage *local, const char *kind, int *ret_fd,
                   bool *ret_adopted) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        uint16_t port = gw_sockaddr_port(GW_SOCKADDR(local));
        char name[32];
        bool adopted = false;

        fd_name(name, sizeof(name), kind, port);
        if (port != 0 && media_udp_keep_unclaimed(keep) > 0) {
                fd = take_kept(keep, local, name);
                adopted = fd >= 0;
        }
        if (!adopted) {
                fd = socket(local->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
                if (bind(fd, (const struct sockaddr *) local, gw_sockaddr_len(local)) < 0)
                        return -errno;
        }
        if (getsockname(fd, (struct sockaddr *) &bound, &len) < 0)
                return -errno;
        *local = bound;
        if (adopted)
                keep->adopted++;
        else if (keep && keep->enabled) {
                int r;

                fd_name(name, sizeof(name), kind, gw_sockaddr_port(GW_SOCKADDR(&bound)));
                r = gw_fdstore_add(fd, name);
                if (r < 0)
                        log_debug_errno(r, "Failed to store socket %s, ignoring: %m", name);
        }
        if (ret_adopted)
                *ret_adopted = adopted;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void media_udp_close(MediaUdpKeep *keep, int fd, const char *kind, const struct sockaddr_storage *local) {
        char name[32];

        if (fd < 0)
                return;
        close(fd);
        if (keep && keep->enabled) {
                fd_name(name, sizeof(name), kind, gw_sockaddr_port(GW_SOCKADDR(local)));
                (void) gw_fdstore_remove(name);
        }
}

void media_udp_read(int fd, MediaUdpReader *r) {
        uint8_t buf[MEDIA_UDP_MAX_DATAGRAM];

        for (unsigned i = 0; i < r->burst; i++) {
                struct sockaddr_storage from;
                socklen_t fromlen = sizeof(from);
                ssize_t n;

                n = recvfrom(fd, buf, r->max, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &from, &fromlen);
                if (n < 0) {
                        if (errno == EAGAIN && r->draining) {
                                log_info("Datagrams that waited in kept sockets while mediad was down: %" PRIu64
                                         " so far.", r->draining->waited);
                                r->draining = NULL;
                        }
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        continue;        /* ECONNREFUSED and the like, from an earlier send */
                }
                if (r->draining)
                        r->draining->waited++;
                if ((size_t) n > r->max) {
                        (*r->oversize)++;
                        continue;
                }
                r->datagram(r->userdata, buf, (size_t) n, (const struct sockaddr *) &from, fromlen);
        }
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        media_udp_read(fd, userdata);
        return 0;

}

int media_udp_watch(sd_event *e, int fd, MediaUdpReader *r, sd_event_source **ret) {
        assert(r->max <= MEDIA_UDP_MAX_DATAGRAM && r->burst > 0 && r->datagram && r->oversize);
        return sd_event_add_io(e, ret, fd, EPOLLIN, on_io, r);
}
