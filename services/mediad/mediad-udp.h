/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-udp.h: the UDP socket of an RTP or RTCP session: open it, read it in bursts. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A non-blocking socket bound to *local; *local then holds the bound address (the port,
 * if the kernel chose it). The fd is the caller's; negative errno on failure. */
int media_udp_open(struct sockaddr_storage *local, int *ret_fd);

/* One datagram as received, 'from' as recvfrom() gave it. */
typedef void (*media_udp_datagram_t)(void *userdata, const uint8_t *buf, size_t n,
                                     const struct sockaddr *from, socklen_t fromlen);

/* Read what is queued on fd, at most 'burst' datagrams (so one busy session cannot starve
 * the loop; the level-triggered io source wakes again for the rest), into buf, handing each
 * to cb. A datagram larger than buf is dropped and counted in *oversize; the errors a UDP
 * socket reports on reading (ICMP errors of our sends) are skipped, counted where we send. */
void media_udp_receive(int fd, uint8_t *buf, size_t size, unsigned burst,
                       media_udp_datagram_t cb, void *userdata, uint64_t *oversize);
