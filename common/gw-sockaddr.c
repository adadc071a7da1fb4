/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-sockaddr.c: IPv4/IPv6 socket addresses: parse, format, compare, port. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-sockaddr.h"

socklen_t gw_sockaddr_len(const struct sockaddr_storage *ss) {
        if (ss->ss_family == AF_INET)
                return sizeof(struct sockaddr_in);
        if (ss->ss_family == AF_INET6)
                return sizeof(struct sockaddr_in6);
        return 0;
}

uint16_t gw_sockaddr_port(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET)
                return ntohs(((const struct sockaddr_in *) sa)->sin_port);
        if (sa->sa_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *) sa)->sin6_port);
        return 0;
}

void gw_sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port) {
        if (ss->ss_family == AF_INET)
                ((struct sockaddr_in *) ss)->sin_port = htons(port);
        else if (ss->ss_family == AF_INET6)
                ((struct sockaddr_in6 *) ss)->sin6_port = htons(port);
}

int gw_sockaddr_from_ip(const char *s, uint16_t port, struct sockaddr_storage *ret) {
        struct sockaddr_storage ss = {};
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

        if (!s)
                return -EINVAL;
        if (inet_pton(AF_INET, s, &sin->sin_addr) == 1)
                sin->sin_family = AF_INET;
        else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1)
                sin6->sin6_family = AF_INET6;
        else
                return -EINVAL;
        gw_sockaddr_set_port(&ss, port);
        *ret = ss;
        return 0;
}

int gw_sockaddr_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char host[INET6_ADDRSTRLEN + 1];
        struct sockaddr_storage ss;
        bool bracket = s && s[0] == '[';
        const char *colon;
        unsigned long port;
        char *end;
        size_t hn;

        if (!s)
                return -EINVAL;
        if (bracket) {
                const char *rb = strchr(s, ']');
                if (!rb || rb[1] != ':')
                        return -EINVAL;
                hn = (size_t) (rb - s - 1);
                colon = rb + 1;
                s++;
        } else {
                colon = strrchr(s, ':');
                if (!colon || memchr(s, ':', (size_t) (colon - s)))
                        return -EINVAL;   /* an IPv6 address needs its brackets */
                hn = (size_t) (colon - s);
        }
        if (hn >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, hn);
        host[hn] = 0;
        if (!(colon[1] >= '0' && colon[1] <= '9'))
                return -EINVAL;   /* strtoul would take a sign or white space */
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || *end || port == 0 || port > 65535)
                return -EINVAL;
        if (gw_sockaddr_from_ip(host, (uint16_t) port, &ss) < 0)
                return -EINVAL;
        if ((ss.ss_family == AF_INET6) != bracket)   /* brackets for IPv6, and only for it */
                return -EINVAL;
        *ret = ss;
        if (ret_len)
                *ret_len = gw_sockaddr_len(&ss);
        return 0;
}

int gw_sockaddr_ip_to_string(const struct sockaddr *sa, char *buf, size_t n) {
        const void *a;

        if (sa->sa_family == AF_INET)
                a = &((const struct sockaddr_in *) sa)->sin_addr;
        else if (sa->sa_family == AF_INET6)
                a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
        else
                return -EAFNOSUPPORT;
        if (n > (socklen_t) -1 || !inet_ntop(sa->sa_family, a, buf, (socklen_t) n))
                return -ENOBUFS;
        return 0;
}

int gw_sockaddr_to_string(const struct sockaddr *sa, char *buf, size_t n) {
        char ip[INET6_ADDRSTRLEN];
        int r;

        r = gw_sockaddr_ip_to_string(sa, ip, sizeof(ip));
        if (r < 0)
                return r;
        r = snprintf(buf, n, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, gw_sockaddr_port(sa));
        return r >= 0 && (size_t) r < n ? 0 : -ENOBUFS;
}

bool gw_sockaddr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen) {
        if (!a || !b || a->sa_family != b->sa_family)
                return false;
        if (a->sa_family == AF_INET) {
                if (alen < sizeof(struct sockaddr_in) || blen < sizeof(struct sockaddr_in))
                        return false;
        } else if (a->sa_family == AF_INET6) {
                if (alen < sizeof(struct sockaddr_in6) || blen < sizeof(struct sockaddr_in6))
                        return false;
        } else
                return false;
        return gw_sockaddr_port(a) == gw_sockaddr_port(b) && gw_sockaddr_same_ip(a, b);
}

bool gw_sockaddr_same_ip(const struct sockaddr *a, const struct sockaddr *b) {
        if (!a || !b || a->sa_family != b->sa_family)
                return false;
        if (a->sa_family == AF_INET)
                return ((const struct sockaddr_in *) a)->sin_addr.s_addr == ((const struct sockaddr_in *) b)->sin_addr.s_addr;
        if (a->sa_family == AF_INET6)
                return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr, &((const struct sockaddr_in6 *) b)->sin6_addr,
                              sizeof(struct in6_addr)) == 0;
        return false;
}
