/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-sockaddr.h: IPv4/IPv6 socket addresses: compare, format, set the port. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Same family, address and port; false for other families or short lengths. */
bool sockaddr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen);
/* Same family and address, whatever the port. */
bool sockaddr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
/* "ip:port", "[v6]:port"; -ENOBUFS if n is too small, -EAFNOSUPPORT. */
int sockaddr_to_string(const struct sockaddr *sa, char *buf, size_t n);
/* Other families: no-op. */
void sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port);
