/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-zsource.h: a ZeroMQ socket as an sd-event source (the bus and the PCM data plane). */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "gw-macro.h"

/* ZeroMQ's ZMQ_FD is edge-triggered, and any zmq call on the socket (a send, a getsockopt)
 * may consume the edge. So a GwZSource:
 *   - watches ZMQ_FD for EPOLLIN and, when woken, calls recv() until it returns <= 0, at
 *     most 'batch' times, so one busy peer cannot starve the loop;
 *   - then asks ZMQ_EVENTS: if messages are still queued (the batch limit stopped us),
 *     a defer source continues on the next loop iteration;
 *   - looks at ZMQ_EVENTS again from a post source, i.e. after every other event the loop
 *     dispatched, which catches an edge swallowed by a send made in some handler.
 * Nothing pending ever waits for the next edge. Everything runs on the loop given to
 * gw_zsource_new(); the socket stays the caller's (gw_zsource_free() does not close it). */

typedef struct GwZSource GwZSource;

/* Take one message from 'sock' (ZMQ_DONTWAIT): 1 if one was taken (well-formed or not),
 * 0 if none was pending, negative errno on error (which also ends this round). */
typedef int (*gw_zsource_recv_t)(void *sock, void *userdata);

/* 'description' names the sd-event sources (for debugging); batch > 0. */
int gw_zsource_new(sd_event *e, void *sock, const char *description, unsigned batch,
                   gw_zsource_recv_t recv, void *userdata, GwZSource **ret);
GwZSource *gw_zsource_free(GwZSource *z);
DEFINE_TRIVIAL_CLEANUP_FUNC(GwZSource *, gw_zsource_free);

/* True when a message is queued on the socket (ZMQ_EVENTS has ZMQ_POLLIN). */
bool gw_zsocket_readable(void *sock);

/* ZeroMQ's -1 + errno as a negative errno (-EIO if it left none). */
int gw_zmq_errno(void);

/* The options every fxsgw socket shares: no linger at close, send and receive high-water
 * marks of 'hwm' messages, reconnect every 50 ms without back-off (a restarted peer is
 * found within 50 ms). */
int gw_zsocket_set_options(void *sock, int hwm);
