/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-udp.h: the UDP socket of an RTP or RTCP session: open it, read it in bursts. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#define MEDIA_UDP_MAX_DATAGRAM 1500      /* the largest a reader may take (one Ethernet MTU) */

/* A non-blocking socket bound to *local; *local then holds the bound address (the port,
 * if the kernel chose it). The fd is the caller's; negative errno on failure. */
int media_udp_open(struct sockaddr_storage *local, int *ret_fd);

/* One datagram as received, 'from' as recvfrom() gave it. */
typedef void (*media_udp_datagram_t)(void *userdata, const uint8_t *buf, size_t n,
                                     const struct sockaddr *from, socklen_t fromlen);

/* How a session reads its socket. Nothing is allocated per packet. */
typedef struct MediaUdpReader {
        media_udp_datagram_t datagram;
        void *userdata;
        size_t max;                      /* larger datagrams are dropped, counted in *oversize */
        uint64_t *oversize;
        unsigned burst;                  /* datagrams per wake-up, so one busy session cannot
                                          * starve the loop (the io source wakes again) */
} MediaUdpReader;

/* An io source on the loop that reads fd as 'r' says when it is readable. The errors a UDP
 * socket reports on reading (ICMP errors of our sends) are skipped: they are counted where
 * we send. 'r' must outlive the source; r->max <= MEDIA_UDP_MAX_DATAGRAM. */
int media_udp_watch(sd_event *e, int fd, MediaUdpReader *r, sd_event_source **ret);
