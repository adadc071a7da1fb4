/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mediad-net.h: the far ends mediad's tests talk to: plain UDP sockets on 127.0.0.1. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gw-tests.h"

static inline struct sockaddr_storage loopback(uint16_t port) {
        struct sockaddr_storage ss = {};
        struct sockaddr_in *in = (struct sockaddr_in *) &ss;

        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return ss;
}

static inline uint16_t fd_port(int fd) {
        struct sockaddr_in in;
        socklen_t len = sizeof(in);

        ASSERT_OK(getsockname(fd, (struct sockaddr *) &in, &len));
        return ntohs(in.sin_port);
}

/* A plain UDP socket on 127.0.0.1, port chosen by the kernel (a far end we fully control). */
static inline int udp_socket(void) {
        struct sockaddr_storage ss = loopback(0);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(bind(fd, (struct sockaddr *) &ss, sizeof(struct sockaddr_in)));
        return fd;
}
