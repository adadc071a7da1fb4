/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-udp.c: the UDP socket of an RTP or RTCP session: open it, read it in bursts. */
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

void media_udp_receive(int fd, uint8_t *buf, size_t size, unsigned burst,
                       media_udp_datagram_t cb, void *userdata, uint64_t *oversize) {
        for (unsigned i = 0; i < burst; i++) {
                struct sockaddr_storage from;
                socklen_t fromlen = sizeof(from);
                ssize_t n;

                n = recvfrom(fd, buf, size, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &from, &fromlen);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        continue;        /* ECONNREFUSED and the like, from an earlier send */
                }
                if ((size_t) n > size) {
                        (*oversize)++;
                        continue;
                }
                cb(userdata, buf, (size_t) n, (const struct sockaddr *) &from, fromlen);
        }
}
