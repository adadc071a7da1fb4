/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-udp.c: the UDP socket of an RTP or RTCP session: open it, read it in bursts. */
#include <assert.h>
#include <errno.h>
#include <unistd.h>

#include "gw-macro.h"
#include "gw-sockaddr.h"
#include "mediad-udp.h"

int media_udp_open(struct sockaddr_storage *local, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);

        fd = socket(local->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (const struct sockaddr *) local, gw_sockaddr_len(local)) < 0)
                return -errno;
        if (getsockname(fd, (struct sockaddr *) &bound, &len) < 0)
                return -errno;
        *local = bound;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        const MediaUdpReader *r = userdata;
        uint8_t buf[MEDIA_UDP_MAX_DATAGRAM];

        for (unsigned i = 0; i < r->burst; i++) {
                struct sockaddr_storage from;
                socklen_t fromlen = sizeof(from);
                ssize_t n;

                n = recvfrom(fd, buf, r->max, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &from, &fromlen);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        continue;        /* ECONNREFUSED and the like, from an earlier send */
                }
                if ((size_t) n > r->max) {
                        (*r->oversize)++;
                        continue;
                }
                r->datagram(r->userdata, buf, (size_t) n, (const struct sockaddr *) &from, fromlen);
        }
        return 0;
}

int media_udp_watch(sd_event *e, int fd, MediaUdpReader *r, sd_event_source **ret) {
        assert(r->max <= MEDIA_UDP_MAX_DATAGRAM && r->burst > 0 && r->datagram && r->oversize);
        return sd_event_add_io(e, ret, fd, EPOLLIN, on_io, r);
}
