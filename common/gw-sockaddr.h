/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-sockaddr.h: IPv4/IPv6 socket addresses: parse, format, compare, port. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Contract: only AF_INET and AF_INET6 are addresses here; any other family has no length,
 * port 0, formats as an error and equals nothing. Nothing allocates, nothing logs. */

/* "ip:port" with the port, "[v6]:port" — the widest text gw_sockaddr_to_string() writes. */
#define GW_SOCKADDR_STRLEN (INET6_ADDRSTRLEN + 8)

/* A struct sockaddr_storage as the struct sockaddr it holds. */
#define GW_SOCKADDR(ss) ((const struct sockaddr *) (ss))

/* sizeof(struct sockaddr_in) or sizeof(struct sockaddr_in6) by family; 0 for others. */
socklen_t gw_sockaddr_len(const struct sockaddr_storage *ss);

uint16_t gw_sockaddr_port(const struct sockaddr *sa);               /* host order; 0: none */
void gw_sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port);   /* other families: no-op */

/* An IP literal ("192.0.2.1", "2001:db8::1"; no brackets, no port) with the port given.
 * -EINVAL when s is not one; *ret untouched then. */
int gw_sockaddr_from_ip(const char *s, uint16_t port, struct sockaddr_storage *ret);

/* Exactly "a.b.c.d:port" or "[v6]:port", port 1..65535 (no names, no default port).
 * ret_len may be NULL. -EINVAL otherwise; outputs untouched then. */
int gw_sockaddr_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* The address alone ("192.0.2.1", "2001:db8::1"), or with its port ("192.0.2.1:5060",
 * "[2001:db8::1]:5060"). -EAFNOSUPPORT for another family, -ENOBUFS when n is too small. */
int gw_sockaddr_ip_to_string(const struct sockaddr *sa, char *buf, size_t n);
int gw_sockaddr_to_string(const struct sockaddr *sa, char *buf, size_t n);

/* Same family, address and port; each side at least as long as its family needs (a length
 * as recvfrom() returns it). NULL equals nothing. */
bool gw_sockaddr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen);

/* Same family and address, the ports aside. */
bool gw_sockaddr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
