/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-udp.h: the UDP socket of an RTP or RTCP session: open it, read it in bursts.
 *
 * Kept sockets: a socket opened through a MediaUdpKeep (mediad's manager has
 * one) is stored in the supervisor's fd store as "rtp-<port>" or
 * "rtcp-<port>" (gw-fdstore.h) and removed from it when its session closes
 * it. A restarted mediad is passed them back; a session that opens the same
 * port takes the kept socket instead of binding a new one, so the peer's RTP
 * that arrived meanwhile waits in it and no ICMP port unreachable goes back.
 * Without a MediaUdpKeep (NULL: tests) sockets are bound and closed plainly. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "gw-fdstore.h"

#define MEDIA_UDP_MAX_DATAGRAM 1500      /* the largest a reader may take (one Ethernet MTU) */

#define MEDIA_UDP_RTP  "rtp"             /* kinds: the fd store names are "<kind>-<port>" */
#define MEDIA_UDP_RTCP "rtcp"

typedef struct MediaUdpKeep MediaUdpKeep;

/* Keep sockets; 'inherited' (taken) are the ones a previous instance kept. */
int media_udp_keep_new(GwFdSet *inherited, MediaUdpKeep **ret);
/* The process is exiting: sockets closed from now on stay in the store. */
void media_udp_keep_stop(MediaUdpKeep *k);
/* Closes the inherited sockets left; the store is left as it is. */
MediaUdpKeep *media_udp_keep_free(MediaUdpKeep *k);
/* Close the inherited sockets no session took and remove them from the store; how many. */
size_t media_udp_keep_drop_unclaimed(MediaUdpKeep *k);
size_t media_udp_keep_unclaimed(const MediaUdpKeep *k);
/* Sockets taken over from a previous instance, and datagrams read from them
 * before they first ran dry (they had waited for us). */
uint64_t media_udp_keep_adopted(const MediaUdpKeep *k);
uint64_t media_udp_keep_waited(const MediaUdpKeep *k);

/* A non-blocking socket bound to *local; *local then holds the bound address (the port,
 * if the kernel chose it). The fd is the caller's; negative errno on failure. With k, a
 * port given and a kept socket of that kind bound there, that socket (*ret_adopted);
 * a socket bound here is stored. k may be NULL. */
int media_udp_open(MediaUdpKeep *k, struct sockaddr_storage *local, const char *kind, int *ret_fd,
                   bool *ret_adopted);
/* Close a socket media_udp_open() gave; with k it leaves the fd store too. */
void media_udp_close(MediaUdpKeep *k, int fd, const char *kind, const struct sockaddr_storage *local);

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
        MediaUdpKeep *draining;          /* an adopted socket not yet read dry: what is read waited
                                          * (counted there); NULL once it ran dry */
} MediaUdpReader;

/* An io source on the loop that reads fd as 'r' says when it is readable. The errors a UDP
 * socket reports on reading (ICMP errors of our sends) are skipped: they are counted where
 * we send. 'r' must outlive the source; r->max <= MEDIA_UDP_MAX_DATAGRAM. */
int media_udp_watch(sd_event *e, int fd, MediaUdpReader *r, sd_event_source **ret);
/* What the io source does: read up to r->burst datagrams, not waiting. */
void media_udp_read(int fd, MediaUdpReader *r);
