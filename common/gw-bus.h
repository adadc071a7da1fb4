/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-bus.h: the message bus between fxsgw processes (ZeroMQ + protobuf-c).
 *
 * Topology (docs/BUS.md): every daemon binds one PUB socket and one ROUTER
 * control socket at fixed endpoints (ipc://<runtime_dir>/bus/<daemon>.pub and
 * .ctl by default) and connects one SUB socket to every other daemon's PUB.
 * There is no broker: any process may die and the others keep talking;
 * ZeroMQ reconnects to a restarted peer by itself. Everything daemons say to
 * each other is published, so gwtap (a SUB on all PUBs) sees all of it.
 *
 * Frames: [topic][packed Gw__Envelope]. Topic is "<MessageName>[/<key>]",
 * e.g. "LineRegistration/3"; subscriptions are topic prefixes.
 *
 * Control sockets carry request/reply for the tools (gwctl): one envelope in,
 * one envelope out, same correlation_id.
 *
 * All callbacks run on the owner's sd-event loop; none may block. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw.pb-c.h"

static inline void gw__envelope__free_unpackedp_(Gw__Envelope **e) {
        if (*e)
                gw__envelope__free_unpacked(*e, NULL);
}

#define GW_BUS_MAX_MESSAGE (256 * 1024)
#define GW_SERVICE_BIT(s) (UINT32_C(1) << (s))
#define GW_SRC_DAEMONS (GW_SERVICE_BIT(GW__SERVICE__SERVICE_GWSUPD) | GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) | \
                        GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) | GW_SERVICE_BIT(GW__SERVICE__SERVICE_MEDIAD) | \
                        GW_SERVICE_BIT(GW__SERVICE__SERVICE_LINEHWD))
#define GW_SRC_ANY UINT32_MAX

typedef struct GwBus GwBus;

/* Microseconds on 'clock' (CLOCK_MONOTONIC, CLOCK_REALTIME). */
uint64_t now_usec(clockid_t clock);

/* Called for a received, unpacked, sender-checked envelope. The envelope is
 * freed by the bus after return. A negative return is logged at debug and counted. */
typedef int (*gw_bus_handler_t)(GwBus *bus, const Gw__Envelope *env, void *userdata);

typedef struct GwBusHandler {
        const char *name;                /* message name, for logs */
        gw_bus_handler_t handler;
        uint32_t allowed_sources;        /* GW_SERVICE_BIT()s; 0 is treated as none */
} GwBusHandler;

/* Control request: fill 'reply' (body_case and body pointer; the memory must
 * stay valid until the callback returns: the bus packs the reply right after,
 * then calls reply_free if set). Return <0 to answer an ErrorReply with that errno. */
typedef int (*gw_bus_ctl_handler_t)(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply,
                                    void *userdata);
typedef void (*gw_bus_ctl_reply_free_t)(Gw__Envelope *reply, void *userdata);

/* A peer was seen with a new instance_id (first sighting or restart): a message
 * from it arrived, or it subscribed to our PUB (gw_bus_peer_listening()). */
typedef void (*gw_bus_peer_cb_t)(GwBus *bus, Gw__Service peer, uint64_t instance_id, void *userdata);

const char *gw_service_to_string(Gw__Service s);     /* "sigd", ... ; NULL if invalid */
Gw__Service gw_service_from_string(const char *s);   /* GW__SERVICE__SERVICE_UNKNOWN if unknown */

/* Endpoint of a service: kind "pub", "ctl" or "pcm" (the data plane of
 * linehwd and mediad, common/gw-pcm.h). Writes e.g.
 * "ipc:///run/fxsgw/bus/sigd.pub" or, for a tcp base "tcp://10.0.0.2:7100",
 * pub on that port, ctl on port+1 and pcm on port+2. Returns -ENAMETOOLONG if it does not fit. */
int gw_bus_endpoint(const GwConf *c, Gw__Service s, const char *kind, char *buf, size_t n);

/* CURVE options of the bus on a tcp socket (server: the binding side).
 * -EINVAL when the config has no key pair. */
int gw_bus_setup_curve(void *sock, const GwConf *c, bool server);

/* Create the bus of daemon 'self' on loop 'e': binds its PUB and ctl
 * sockets (creating <runtime_dir>/bus), connects SUB to all peers. */
int gw_bus_new(sd_event *e, const GwConf *c, Gw__Service self, GwBus **ret);
GwBus *gw_bus_free(GwBus *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(GwBus *, gw_bus_free);

int gw_bus_subscribe(GwBus *b, const char *topic_prefix);
/* table is indexed by Gw__Envelope__BodyCase; rows with handler==NULL are
 * "not for us": such messages are dropped and counted as unknown. */
void gw_bus_set_handlers(GwBus *b, const GwBusHandler *table, size_t n, void *userdata);
void gw_bus_set_ctl_handler(GwBus *b, gw_bus_ctl_handler_t h, gw_bus_ctl_reply_free_t f, void *userdata);
void gw_bus_set_peer_callback(GwBus *b, gw_bus_peer_cb_t cb, void *userdata);
/* For gw-daemon: a ReloadRequest on the control socket goes to this hook instead of
 * the ctl handler; the reply's memory stays the hook's (nothing is freed after packing). */
void gw_bus_set_reload_hook(GwBus *b, gw_bus_ctl_handler_t h, void *userdata);
/* For gw-daemon: called for every StateSyncRequest before the table's row. */
void gw_bus_set_sync_hook(GwBus *b, gw_bus_handler_t hook, void *userdata);
/* Is an instance of daemon 'peer' subscribed to our PUB, i.e. does it hear what we
 * publish now? The moment one starts to, the bus handles it as a StateSyncRequest
 * from that instance (sync hook, the table's row, the peer callback): state is
 * re-published when the peer can hear it (docs/BUS.md, "Restarts"). */
bool gw_bus_peer_listening(const GwBus *b, Gw__Service peer);

/* Fill source, instance_id, seq and times of env (body set by caller) and
 * publish it under 'topic'. Never blocks: if the send queue is full the
 * message is dropped and counted (-EAGAIN). */
int gw_bus_publish(GwBus *b, const char *topic, Gw__Envelope *env);
/* Topic "<MessageName>" for the body case of env, or "<MessageName>/<key>" if key. */
int gw_bus_publish_auto(GwBus *b, const char *key, Gw__Envelope *env);
/* Topic "<MessageName>/<port>": a line's message, keyed by its port. */
int gw_bus_publish_port(GwBus *b, unsigned port, Gw__Envelope *env);

uint64_t gw_bus_instance_id(const GwBus *b);
Gw__Service gw_bus_self(const GwBus *b);
uint64_t gw_bus_next_correlation_id(GwBus *b);
void gw_bus_counters(const GwBus *b, Gw__BusCounters *ret);  /* ret must be INIT'd */

/* For a control handler answering StatusRequest: 'reply' becomes a StatusReply carrying
 * this bus's counters, in one allocation. The daemon fills the rest of
 * reply->status_reply and may hand what it allocated for that to
 * gw_bus_status_reply_own(); gw_bus_status_reply_free() (from the ctl reply-free
 * callback) frees both. -ENOMEM, reply untouched, if the allocation fails. */
int gw_bus_status_reply_new(const GwBus *b, Gw__Envelope *reply);
void gw_bus_status_reply_own(Gw__Envelope *reply, void *storage);   /* freed with free() */
/* Frees a reply made by gw_bus_status_reply_new() and returns true; false for any other body. */
bool gw_bus_status_reply_free(Gw__Envelope *reply);

/* Name of a body case: "LineRegistration", or NULL. Uses descriptors only. */
const char *gw_envelope_body_name(Gw__Envelope__BodyCase c);

/* Fill the header fields of env as gw_bus_publish would (also for tools). */
void gw_envelope_stamp(Gw__Envelope *env, Gw__Service source, uint64_t instance_id, uint64_t seq);

/* ---- Tools (synchronous, no event loop) ---- */

/* One request/reply on 'target's control socket. ret_reply is freed with
 * gw__envelope__free_unpacked(*ret_reply, NULL). -ETIMEDOUT if no answer,
 * -EBADMSG for a malformed reply. */
int gw_bus_ctl_call(const GwConf *c, Gw__Service target, Gw__Envelope *req,
                    uint64_t timeout_usec, Gw__Envelope **ret_reply);

/* Connect 'sock' to daemon s's endpoint of 'kind' ("pub", "ctl"), with CURVE on tcp. */
int gw_bus_connect_endpoint(const GwConf *c, void *sock, Gw__Service s, const char *kind);

/* A SUB socket connected to every daemon's PUB, subscribed to 'prefix'
 * (NULL or "" for everything). Close with zmq_close(). */
int gw_bus_tap_open(const GwConf *c, void *zctx, const char *prefix, void **ret_sock);

/* Is the gateway of this config running? Reads <runtime_dir>/gwsupd.pid.
 * Returns the pid (>0), 0 if not running, -errno on error. */
int gw_gateway_pid(const GwConf *c);
