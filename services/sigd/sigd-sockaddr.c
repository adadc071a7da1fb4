/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-sockaddr.c: IPv4/IPv6 socket addresses: compare, format, set the port.
 * Below every other sigd file: it knows no Manager. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sigd-sockaddr.h"

bool sockaddr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen) {
        if (!a || !b || a->sa_family != b->sa_family)
                return false;
        if (a->sa_family == AF_INET) {
                const struct sockaddr_in *x = (const struct sockaddr_in *) a, *y = (const struct sockaddr_in *) b;
                if (alen < sizeof(*x) || blen < sizeof(*y))
                        return false;
                return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
        }
        if (a->sa_family == AF_INET6) {
                const struct sockaddr_in6 *x = (const struct sockaddr_in6 *) a, *y = (const struct sockaddr_in6 *) b;
                if (alen < sizeof(*x) || blen < sizeof(*y))
                        return false;
                return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
        }
        return false;
}

int sockaddr_to_string(const struct sockaddr *sa, char *buf, size_t n) {
        char ip[INET6_ADDRSTRLEN];

        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *s = (const struct sockaddr_in *) sa;
                inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
                return snprintf(buf, n, "%s:%u", ip, ntohs(s->sin_port)) < (int) n ? 0 : -ENOBUFS;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *s = (const struct sockaddr_in6 *) sa;
                inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
                return snprintf(buf, n, "[%s]:%u", ip, ntohs(s->sin6_port)) < (int) n ? 0 : -ENOBUFS;
        }
        return -EAFNOSUPPORT;
}

void sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port) {
        if (ss->ss_family == AF_INET)
                ((struct sockaddr_in *) ss)->sin_port = htons(port);
        else if (ss->ss_family == AF_INET6)
                ((struct sockaddr_in6 *) ss)->sin6_port = htons(port);
}
bool sockaddr_same_ip(const struct sockaddr *a, const struct sockaddr *b) {
        if (a->sa_family != b->sa_family)
                return false;
        if (a->sa_family == AF_INET)
                return ((const struct sockaddr_in *) a)->sin_addr.s_addr == ((const struct sockaddr_in *) b)->sin_addr.s_addr;
        if (a->sa_family == AF_INET6)
                return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr, &((const struct sockaddr_in6 *) b)->sin6_addr,
                              sizeof(struct in6_addr)) == 0;
        return false;
}
