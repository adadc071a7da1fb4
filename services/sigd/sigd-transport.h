/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-transport.h: the SIP/UDP socket, sigd's lowest layer.
 *
 * It reads datagrams and ICMP errors on the manager's loop and hands them
 * upward through the TransportHandlers the manager registers; it calls no
 * other sigd file. */
#pragma once

#include <stddef.h>
#include <sys/socket.h>

#include "sigd-forward.h"

#define SIGD_RX_BURST         64u      /* datagrams read per wake-up */
#define SIGD_ERRQUEUE_BURST   64u      /* ICMP errors read per wake-up */
#define SIGD_FDNAME_SIP       "sip"    /* the SIP socket's name in the supervisor's fd store / socket unit */

typedef struct TransportHandlers {
        /* One received datagram of at most SIGD_MAX_DATAGRAM bytes, valid during the call. */
        void (*datagram)(Manager *m, const void *buf, size_t n, const struct sockaddr *from, socklen_t fromlen);
        /* An ICMP error came back for a datagram we sent to 'to' (positive errno). */
        void (*error)(Manager *m, const struct sockaddr *to, socklen_t tolen, int error);
} TransportHandlers;

/* h must outlive the socket. */
void transport_set_handlers(Manager *m, const TransportHandlers *h);

/* Open the socket on conf->sip_listen_addr, learn Via host and port, start reading. Logs.
 * A socket named "sip" passed by the supervisor (LISTEN_FDS, or m->inherited_fds
 * if a test set it) and bound there is used as it is; otherwise sigd binds one
 * and stores it in the supervisor's fd store for the next instance. */
int transport_open(Manager *m);
void transport_close(Manager *m);

/* Send one datagram (through the tx hook if a test set one); -errno on failure (counted). */
int transport_send(Manager *m, const char *buf, size_t n, const struct sockaddr *to, socklen_t tolen);
