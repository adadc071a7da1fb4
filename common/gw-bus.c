/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-bus.c: the brokerless ZeroMQ bus: PUB/SUB mesh for daemons, ROUTER control sockets for tools. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-log.h"
#include "gw-zsource.h"

#define GW_BUS_BATCH 256                 /* messages handled per wake-up per socket */
#define GW_BUS_HWM 20000
/* Every bus's SUB also subscribes to "<this><service>/<instance in hex>", a topic nobody
 * publishes: the XPUB it connects to reads that subscription and so learns which
 * instance of which daemon now hears it (see on_listener()). 0xff sorts it after every
 * real topic, so a SUB that (re)connects sends it last. */
#define GW_BUS_LISTENER_TOPIC "\xff" "listener/"

struct GwBus {
        sd_event *event;
        const GwConf *conf;
        Gw__Service self;
        uint64_t instance_id;
        uint64_t seq;
        uint64_t correlation;

        void *zctx;
        void *pub;                       /* XPUB: it reads the subscriptions of whoever connects */
        void *sub;
        void *ctl;
        GwZSource *pub_source;
        GwZSource *sub_source;
        GwZSource *ctl_source;
        sd_event_source *announce_source;
        bool announced;
        char listener_topic[64];         /* our own, see GW_BUS_LISTENER_TOPIC */

        const GwBusHandler *handlers;
        size_t n_handlers;
        void *userdata;

        gw_bus_ctl_handler_t ctl_handler;
        gw_bus_ctl_handler_t reload_hook;
        void *reload_userdata;
        gw_bus_ctl_reply_free_t ctl_reply_free;
        void *ctl_userdata;

        gw_bus_peer_cb_t peer_cb;
        void *peer_userdata;
        uint64_t peer_instance[16];      /* by Gw__Service */
        uint64_t listener_instance[16];  /* by Gw__Service: whose SUB is subscribed to our PUB; 0 none */

        gw_bus_handler_t sync_hook;      /* gw-daemon answers StateSyncRequest */
        void *sync_userdata;

        uint64_t tx, rx, dropped_malformed, dropped_unknown, dropped_sender, dropped_tx;
};

static const char *const service_names[] = {
        [GW__SERVICE__SERVICE_GWSUPD] = "gwsupd",
        [GW__SERVICE__SERVICE_SIGD] = "sigd",
        [GW__SERVICE__SERVICE_REGD] = "regd",
        [GW__SERVICE__SERVICE_MEDIAD] = "mediad",
        [GW__SERVICE__SERVICE_LINEHWD] = "linehwd",
        [GW__SERVICE__SERVICE_GWCTL] = "gwctl",
        [GW__SERVICE__SERVICE_GWTAP] = "gwtap",
        [GW__SERVICE__SERVICE_BENCH] = "bench",
};

/* The daemons that own a PUB and a control socket. */
static const Gw__Service bus_daemons[] = {
        GW__SERVICE__SERVICE_GWSUPD, GW__SERVICE__SERVICE_SIGD, GW__SERVICE__SERVICE_REGD,
        GW__SERVICE__SERVICE_MEDIAD, GW__SERVICE__SERVICE_LINEHWD,
};

const char *gw_service_to_string(Gw__Service s) {
        if ((unsigned) s >= ELEMENTSOF(service_names))
                return NULL;
        return service_names[s];
}

Gw__Service gw_service_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(service_names); i++)
                if (service_names[i] && streq(service_names[i], s))
                        return (Gw__Service) i;
        return GW__SERVICE__SERVICE_UNKNOWN;
}

static bool is_bus_daemon(Gw__Service s) {
        for (size_t i = 0; i < ELEMENTSOF(bus_daemons); i++)
                if (bus_daemons[i] == s)
                        return true;
        return false;
}

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

int gw_bus_endpoint(const GwConf *c, Gw__Service s, const char *kind, char *buf, size_t n) {
        const char *name = gw_service_to_string(s);
        const char *base;
        int k;

        if (!name || !is_bus_daemon(s) || !kind ||
            (!streq(kind, "pub") && !streq(kind, "ctl") && !streq(kind, "pcm")))
                return -EINVAL;

        base = (size_t) s < ELEMENTSOF(c->bus_endpoints) ? c->bus_endpoints[s] : NULL;
        if (base && strncmp(base, "tcp://", 6) == 0) {
                /* tcp://host:port: PUB on port, control on port+1, PCM data plane on port+2. */
                const char *colon = strrchr(base, ':');
                unsigned long port;
                char *end;

                if (!colon || colon < base + 6)
                        return -EINVAL;
                port = strtoul(colon + 1, &end, 10);
                if (*end || port == 0 || port >= 65535 || (streq(kind, "pcm") && port + 2 > 65535))
                        return -EINVAL;
                k = snprintf(buf, n, "%.*s:%lu", (int) (colon - base), base,
                             streq(kind, "pub") ? port : streq(kind, "ctl") ? port + 1 : port + 2);
        } else if (base && strncmp(base, "ipc://", 6) == 0)
                k = snprintf(buf, n, "%s.%s", base, kind);
        else
                k = snprintf(buf, n, "ipc://%s/bus/%s.%s", c->runtime_dir, name, kind);

        if (k < 0 || (size_t) k >= n)
                return -ENAMETOOLONG;
        /* An AF_UNIX path has 108 bytes including the NUL. */
        if (strncmp(buf, "ipc://", 6) == 0 && strlen(buf + 6) >= 108)
                return -ENAMETOOLONG;
        return 0;
}

static bool endpoint_is_tcp(const char *ep) {
        return strncmp(ep, "tcp://", 6) == 0;
}

/* CURVE on tcp endpoints: one key pair shared by the gateway's processes,
 * which all trust each other; it keeps strangers off a line-card link. */
int gw_bus_setup_curve(void *sock, const GwConf *c, bool server) {
        int one = 1;

        if (!c->bus_curve_secret_key || !c->bus_curve_public_key)
                return -EINVAL;
        if (server) {
                if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
                    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->bus_curve_secret_key, 40) < 0)
                        return gw_zmq_errno();
                return 0;
        }
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->bus_curve_public_key, 40) < 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->bus_curve_public_key, 40) < 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->bus_curve_secret_key, 40) < 0)
                return gw_zmq_errno();
        return 0;
}

static int bind_endpoint(GwBus *b, void *sock, const char *kind) {
        char ep[256];
        int r;

        r = gw_bus_endpoint(b->conf, b->self, kind, ep, sizeof ep);
        if (r < 0)
                return r;
        if (endpoint_is_tcp(ep)) {
                r = gw_bus_setup_curve(sock, b->conf, true);
                if (r < 0)
                        return r;
        } else
                /* A previous instance killed with SIGKILL leaves its socket file behind. */
                (void) unlink(ep + 6);
        if (zmq_bind(sock, ep) < 0)
                return gw_zmq_errno();
        return 0;
}

static int connect_endpoint(const GwConf *c, void *sock, Gw__Service s, const char *kind) {
        char ep[256];
        int r;

        r = gw_bus_endpoint(c, s, kind, ep, sizeof ep);
        if (r < 0)
                return r;
        if (endpoint_is_tcp(ep)) {
                r = gw_bus_setup_curve(sock, c, false);
                if (r < 0)
                        return r;
        }
        if (zmq_connect(sock, ep) < 0)
                return gw_zmq_errno();
        return 0;
}

int gw_bus_connect_endpoint(const GwConf *c, void *sock, Gw__Service s, const char *kind) {
        return connect_endpoint(c, sock, s, kind);
}

const char *gw_envelope_body_name(Gw__Envelope__BodyCase c) {
        const ProtobufCFieldDescriptor *f;

        if (c == GW__ENVELOPE__BODY__NOT_SET)
                return NULL;
        f = protobuf_c_message_descriptor_get_field(&gw__envelope__descriptor, (unsigned) c);
        if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || !f->descriptor)
                return NULL;
        return ((const ProtobufCMessageDescriptor *) f->descriptor)->short_name;
}

void gw_envelope_stamp(Gw__Envelope *env, Gw__Service source, uint64_t instance_id, uint64_t seq) {
        env->source = source;
        env->instance_id = instance_id;
        env->seq = seq;
        env->mono_us = now_usec(CLOCK_MONOTONIC);
        env->real_us = now_usec(CLOCK_REALTIME);
}

static uint64_t random_u64(void) {
        uint64_t v = 0;

        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
                v = now_usec(CLOCK_MONOTONIC) ^ ((uint64_t) getpid() << 32);
        return v ? v : 1;
}

/* ---------------------------------------------------------------- receive side */

static void dispatch_unpacked(GwBus *b, const Gw__Envelope *env) {
        const GwBusHandler *h;
        int r;

        if (is_bus_daemon(env->source) && env->source != b->self &&
            b->peer_instance[env->source] != env->instance_id) {
                b->peer_instance[env->source] = env->instance_id;
                if (b->peer_cb)
                        b->peer_cb(b, env->source, env->instance_id, b->peer_userdata);
        }

        if (env->body_case == GW__ENVELOPE__BODY_STATE_SYNC_REQUEST && b->sync_hook)
                (void) b->sync_hook(b, env, b->sync_userdata);

        if ((size_t) env->body_case >= b->n_handlers || !b->handlers[env->body_case].handler) {
                /* The sync request is handled above for every daemon. */
                if (env->body_case != GW__ENVELOPE__BODY_STATE_SYNC_REQUEST)
                        b->dropped_unknown++;
                return;
        }
        h = &b->handlers[env->body_case];
        if ((unsigned) env->source >= 32 || !(h->allowed_sources & GW_SERVICE_BIT(env->source))) {
                b->dropped_sender++;
                log_debug("Dropped %s from '%s': sender not allowed.",
                          strna(h->name), strna(gw_service_to_string(env->source)));
                return;
        }
        r = h->handler(b, env, b->userdata);
        if (r < 0)
                log_debug_errno(r, "Handler for %s failed: %m", strna(h->name));
}

static void dispatch_envelope(GwBus *b, const uint8_t *data, size_t len) {
        _cleanup_(gw__envelope__free_unpackedp_) Gw__Envelope *env = NULL;

        if (len == 0 || len > GW_BUS_MAX_MESSAGE) {
                b->dropped_malformed++;
                return;
        }
        env = gw__envelope__unpack(NULL, len, data);
        if (!env) {
                b->dropped_malformed++;
                return;
        }
        b->rx++;
        dispatch_unpacked(b, env);
}

/* An instance of 'peer' now hears us: its SUB's subscriptions, sent before its
 * listener topic, are in force. Whatever we published before that never reached
 * it (PUB/SUB drops what no subscriber has asked for yet), so it is treated as
 * though it had asked StateSyncRequest: the owners of state publish it again,
 * the moment it can be heard, and the peer callback learns the instance. */
static void on_listener(GwBus *b, Gw__Service peer, uint64_t instance_id) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__StateSyncRequest req = GW__STATE_SYNC_REQUEST__INIT;

        log_debug("%s instance %016" PRIx64 " subscribed to us.", strna(gw_service_to_string(peer)), instance_id);
        b->listener_instance[peer] = instance_id;
        req.requester = peer;
        env.body_case = GW__ENVELOPE__BODY_STATE_SYNC_REQUEST;
        env.state_sync_request = &req;
        env.source = peer;
        env.instance_id = instance_id;
        dispatch_unpacked(b, &env);
}

/* One (un)subscription read from our XPUB: [1 or 0][topic]. Only listener topics matter. */
static int recv_pub_one(void *sock, void *userdata) {
        GwBus *b = userdata;
        size_t n = strlen(GW_BUS_LISTENER_TOPIC);
        char buf[128], name[16];
        unsigned long long instance;
        Gw__Service peer;
        int len, k = 0;

        len = zmq_recv(sock, buf, sizeof buf - 1, ZMQ_DONTWAIT);
        if (len < 0)
                return zmq_errno() == EAGAIN ? 0 : gw_zmq_errno();
        if ((size_t) len > sizeof buf - 1 || (size_t) len < 1 + n || (buf[0] != 0 && buf[0] != 1) ||
            memcmp(buf + 1, GW_BUS_LISTENER_TOPIC, n) != 0)
                return 1;
        buf[len] = 0;
        if (sscanf(buf + 1 + n, "%15[a-z]/%16llx%n", name, &instance, &k) != 2 || buf[1 + n + k] != 0 || instance == 0)
                return 1;
        peer = gw_service_from_string(name);
        if (!is_bus_daemon(peer) || peer == b->self)
                return 1;
        if (buf[0] == 1)
                on_listener(b, peer, instance);
        else if (b->listener_instance[peer] == instance)
                b->listener_instance[peer] = 0;
        return 1;
}

/* Receive one multipart message; returns 1 if one was handled, 0 if none
 * pending, <0 on error. Extra or missing frames count as malformed. */
static int recv_sub_one(void *sock, void *userdata) {
        GwBus *b = userdata;
        zmq_msg_t topic, body;
        int more = 0, r;
        size_t more_len = sizeof more;

        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, b->sub, ZMQ_DONTWAIT) < 0) {
                r = zmq_errno();
                zmq_msg_close(&topic);
                return r == EAGAIN ? 0 : -r;
        }
        (void) zmq_getsockopt(b->sub, ZMQ_RCVMORE, &more, &more_len);
        zmq_msg_close(&topic);
        if (!more) {
                b->dropped_malformed++;
                return 1;
        }
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, b->sub, 0) < 0) {
                zmq_msg_close(&body);
                b->dropped_malformed++;
                return 1;
        }
        (void) zmq_getsockopt(b->sub, ZMQ_RCVMORE, &more, &more_len);
        if (more) {
                /* Drain the rest of an over-long message. */
                for (int i = 0; more && i < 64; i++) {
                        zmq_msg_t extra;
                        zmq_msg_init(&extra);
                        (void) zmq_msg_recv(&extra, b->sub, 0);
                        zmq_msg_close(&extra);
                        (void) zmq_getsockopt(b->sub, ZMQ_RCVMORE, &more, &more_len);
                }
                zmq_msg_close(&body);
                b->dropped_malformed++;
                return 1;
        }
        dispatch_envelope(b, zmq_msg_data(&body), zmq_msg_size(&body));
        zmq_msg_close(&body);
        return 1;
}

static void ctl_send_reply(GwBus *b, zmq_msg_t *identity, Gw__Envelope *reply) {
        size_t len = gw__envelope__get_packed_size(reply);
        _cleanup_free_ uint8_t *buf = malloc(len ? len : 1);

        if (!buf)
                return;
        gw__envelope__pack(reply, buf);
        if (zmq_msg_send(identity, b->ctl, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(b->ctl, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(b->ctl, buf, len, ZMQ_DONTWAIT) < 0) {
                b->dropped_tx++;
                return;
        }
        b->tx++;
}

/* ROUTER frames from a REQ peer: [identity][empty][envelope]. */
static int recv_ctl_one(void *sock, void *userdata) {
        GwBus *b = userdata;
        zmq_msg_t identity, part;
        _cleanup_(gw__envelope__free_unpackedp_) Gw__Envelope *req = NULL;
        Gw__Envelope reply = GW__ENVELOPE__INIT;
        Gw__ErrorReply err = GW__ERROR_REPLY__INIT;
        int more = 0, r;
        size_t more_len = sizeof more;
        bool bad = false, reload;
        uint8_t *payload = NULL;
        size_t payload_len = 0;

        zmq_msg_init(&identity);
        if (zmq_msg_recv(&identity, b->ctl, ZMQ_DONTWAIT) < 0) {
                r = zmq_errno();
                zmq_msg_close(&identity);
                return r == EAGAIN ? 0 : -r;
        }
        /* Read the remaining frames; the last one is the envelope. */
        for (int i = 0; i < 8; i++) {
                (void) zmq_getsockopt(b->ctl, ZMQ_RCVMORE, &more, &more_len);
                if (!more)
                        break;
                zmq_msg_init(&part);
                if (zmq_msg_recv(&part, b->ctl, 0) < 0) {
                        zmq_msg_close(&part);
                        bad = true;
                        break;
                }
                free(payload);
                payload_len = zmq_msg_size(&part);
                payload = malloc(payload_len ? payload_len : 1);
                if (payload)
                        memcpy(payload, zmq_msg_data(&part), payload_len);
                zmq_msg_close(&part);
        }
        if (!payload || payload_len == 0 || payload_len > GW_BUS_MAX_MESSAGE || bad)
                bad = true;
        else
                req = gw__envelope__unpack(NULL, payload_len, payload);
        free(payload);
        if (!req) {
                b->dropped_malformed++;
                zmq_msg_close(&identity);
                return 1;
        }
        b->rx++;

        /* A ReloadRequest goes to gw-daemon's hook, the same for every daemon (its reply
         * is its own storage); anything else to the daemon's handler. */
        reload = req->body_case == GW__ENVELOPE__BODY_RELOAD_REQUEST && b->reload_hook;
        if (reload)
                r = b->reload_hook(b, req, &reply, b->reload_userdata);
        else
                r = b->ctl_handler ? b->ctl_handler(b, req, &reply, b->ctl_userdata) : -EOPNOTSUPP;
        if (r < 0) {
                if (!reload && b->ctl_reply_free && reply.body_case != GW__ENVELOPE__BODY__NOT_SET)
                        b->ctl_reply_free(&reply, b->ctl_userdata);
                reply = (Gw__Envelope) GW__ENVELOPE__INIT;
                err.errno_value = -r;
                err.message = (char *) strerror(-r);
                reply.body_case = GW__ENVELOPE__BODY_ERROR_REPLY;
                reply.error_reply = &err;
        }
        gw_envelope_stamp(&reply, b->self, b->instance_id, ++b->seq);
        reply.has_correlation_id = true;
        reply.correlation_id = req->correlation_id;
        ctl_send_reply(b, &identity, &reply);
        if (!reload && r >= 0 && b->ctl_reply_free)
                b->ctl_reply_free(&reply, b->ctl_userdata);
        zmq_msg_close(&identity);
        return 1;
}

/* Subscribe to our listener topic after the other subscriptions of this loop
 * iteration, so that a peer's XPUB, which reads a pipe's subscriptions in order,
 * has them all when it sees it. A later gw_bus_subscribe() announces it again. */
static int on_announce(sd_event_source *s, void *userdata) {
        GwBus *b = userdata;
        size_t n = strlen(b->listener_topic);

        if (b->announced)
                (void) zmq_setsockopt(b->sub, ZMQ_UNSUBSCRIBE, b->listener_topic, n);
        if (zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, b->listener_topic, n) < 0)
                return log_warning_errno(gw_zmq_errno(), "Failed to announce ourselves on the bus: %m"), 0;
        b->announced = true;
        return 0;
}

int gw_bus_new(sd_event *e, const GwConf *c, Gw__Service self, GwBus **ret) {
        _cleanup_(gw_bus_freep) GwBus *b = NULL;
        char dir[512];
        int r;

        if (!e || !c || !ret || !is_bus_daemon(self))
                return -EINVAL;

        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(e);
        b->conf = c;
        b->self = self;
        b->instance_id = random_u64();

        if (snprintf(dir, sizeof dir, "%s/bus", c->runtime_dir) >= (int) sizeof dir)
                return -ENAMETOOLONG;
        r = gw_mkdir_parents(dir, 0750);
        if (r < 0)
                return r;

        b->zctx = zmq_ctx_new();
        if (!b->zctx)
                return gw_zmq_errno();

        b->pub = zmq_socket(b->zctx, ZMQ_XPUB);
        b->sub = zmq_socket(b->zctx, ZMQ_SUB);
        b->ctl = zmq_socket(b->zctx, ZMQ_ROUTER);
        if (!b->pub || !b->sub || !b->ctl)
                return gw_zmq_errno();
        if ((r = gw_zsocket_set_options(b->pub, GW_BUS_HWM)) < 0 ||
            (r = gw_zsocket_set_options(b->sub, GW_BUS_HWM)) < 0 ||
            (r = gw_zsocket_set_options(b->ctl, GW_BUS_HWM)) < 0)
                return r;

        r = bind_endpoint(b, b->pub, "pub");
        if (r < 0)
                return r;
        r = bind_endpoint(b, b->ctl, "ctl");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(bus_daemons); i++) {
                if (bus_daemons[i] == self)
                        continue;
                r = connect_endpoint(c, b->sub, bus_daemons[i], "pub");
                if (r < 0)
                        return r;
        }

        r = gw_zsource_new(e, b->pub, "bus-pub", GW_BUS_BATCH, recv_pub_one, b, &b->pub_source);
        if (r < 0)
                return r;
        r = gw_zsource_new(e, b->sub, "bus-sub", GW_BUS_BATCH, recv_sub_one, b, &b->sub_source);
        if (r < 0)
                return r;
        r = gw_zsource_new(e, b->ctl, "bus-ctl", GW_BUS_BATCH, recv_ctl_one, b, &b->ctl_source);
        if (r < 0)
                return r;
        snprintf(b->listener_topic, sizeof b->listener_topic, GW_BUS_LISTENER_TOPIC "%s/%016" PRIx64,
                 gw_service_to_string(self), b->instance_id);
        r = sd_event_add_defer(e, &b->announce_source, on_announce, b);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->announce_source, SD_EVENT_ONESHOT);

        /* Bound and connected: the config may go (a reload replaces it). */
        b->conf = NULL;
        *ret = TAKE_PTR(b);
        return 0;
}

GwBus *gw_bus_free(GwBus *b) {
        if (!b)
                return NULL;
        gw_zsource_free(b->pub_source);
        gw_zsource_free(b->sub_source);
        gw_zsource_free(b->ctl_source);
        sd_event_source_disable_unref(b->announce_source);
        if (b->pub)
                zmq_close(b->pub);
        if (b->sub)
                zmq_close(b->sub);
        if (b->ctl)
                zmq_close(b->ctl);
        if (b->zctx)
                zmq_ctx_term(b->zctx);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

int gw_bus_subscribe(GwBus *b, const char *topic_prefix) {
        const char *p = topic_prefix ? topic_prefix : "";

        if (zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, p, strlen(p)) < 0)
                return gw_zmq_errno();
        if (b->announced)
                (void) sd_event_source_set_enabled(b->announce_source, SD_EVENT_ONESHOT);
        return 0;
}

bool gw_bus_peer_listening(const GwBus *b, Gw__Service peer) {
        return (unsigned) peer < ELEMENTSOF(b->listener_instance) && b->listener_instance[peer] != 0;
}

void gw_bus_set_handlers(GwBus *b, const GwBusHandler *table, size_t n, void *userdata) {
        b->handlers = table;
        b->n_handlers = n;
        b->userdata = userdata;
}

void gw_bus_set_reload_hook(GwBus *b, gw_bus_ctl_handler_t h, void *userdata) {
        b->reload_hook = h;
        b->reload_userdata = userdata;
}

void gw_bus_set_ctl_handler(GwBus *b, gw_bus_ctl_handler_t h, gw_bus_ctl_reply_free_t f, void *userdata) {
        b->ctl_handler = h;
        b->ctl_reply_free = f;
        b->ctl_userdata = userdata;
}

void gw_bus_set_peer_callback(GwBus *b, gw_bus_peer_cb_t cb, void *userdata) {
        b->peer_cb = cb;
        b->peer_userdata = userdata;
}

void gw_bus_set_sync_hook(GwBus *b, gw_bus_handler_t hook, void *userdata) {
        b->sync_hook = hook;
        b->sync_userdata = userdata;
}

int gw_bus_publish(GwBus *b, const char *topic, Gw__Envelope *env) {
        uint8_t stackbuf[1024];
        _cleanup_free_ uint8_t *heapbuf = NULL;
        uint8_t *buf = stackbuf;
        size_t len;

        if (!b || !topic || !env || env->body_case == GW__ENVELOPE__BODY__NOT_SET)
                return -EINVAL;
        gw_envelope_stamp(env, b->self, b->instance_id, ++b->seq);

        len = gw__envelope__get_packed_size(env);
        if (len > GW_BUS_MAX_MESSAGE)
                return -EMSGSIZE;
        if (len > sizeof stackbuf) {
                heapbuf = malloc(len);
                if (!heapbuf)
                        return -ENOMEM;
                buf = heapbuf;
        }
        gw__envelope__pack(env, buf);

        if (zmq_send(b->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(b->pub, buf, len, ZMQ_DONTWAIT) < 0) {
                explicit_bzero(buf, len);
                b->dropped_tx++;
                return gw_zmq_errno();
        }
        /* The packed message may hold a Secret (an SRTP key in MediaControl). */
        explicit_bzero(buf, len);
        b->tx++;
        /* A send may swallow the SUB/ROUTER fd's edge; the sources' post check looks. */
        return 0;
}

int gw_bus_publish_auto(GwBus *b, const char *key, Gw__Envelope *env) {
        const char *name = env ? gw_envelope_body_name(env->body_case) : NULL;
        char topic[256];

        if (!name)
                return -EINVAL;
        if (key && *key)
                snprintf(topic, sizeof topic, "%s/%s", name, key);
        else
                snprintf(topic, sizeof topic, "%s", name);
        return gw_bus_publish(b, topic, env);
}

int gw_bus_publish_port(GwBus *b, unsigned port, Gw__Envelope *env) {
        char key[16];

        snprintf(key, sizeof key, "%u", port);
        return gw_bus_publish_auto(b, key, env);
}

uint64_t gw_bus_instance_id(const GwBus *b) {
        return b->instance_id;
}

Gw__Service gw_bus_self(const GwBus *b) {
        return b->self;
}

uint64_t gw_bus_next_correlation_id(GwBus *b) {
        /* Unique across restarts too: high bits from the instance id. */
        return (b->instance_id << 24) ^ ++b->correlation;
}

void gw_bus_counters(const GwBus *b, Gw__BusCounters *ret) {
        ret->service = b->self;
        ret->has_tx = ret->has_rx = ret->has_dropped_malformed = true;
        ret->has_dropped_unknown = ret->has_dropped_sender = true;
        ret->tx = b->tx;
        ret->rx = b->rx;
        ret->dropped_malformed = b->dropped_malformed;
        ret->dropped_unknown = b->dropped_unknown;
        ret->dropped_sender = b->dropped_sender;
}

/* ---------------------------------------------------------------- tools */

/* The reply and what it points to; reply first, so status_reply is the box. */
typedef struct StatusReplyBox {
        Gw__StatusReply reply;
        Gw__BusCounters counters;
        void *storage;
} StatusReplyBox;

int gw_bus_status_reply_new(const GwBus *b, Gw__Envelope *reply) {
        StatusReplyBox *box = calloc(1, sizeof(*box));

        if (!box)
                return -ENOMEM;
        gw__status_reply__init(&box->reply);
        gw__bus_counters__init(&box->counters);
        gw_bus_counters(b, &box->counters);
        box->reply.counters = &box->counters;
        reply->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        reply->status_reply = &box->reply;
        return 0;
}

void gw_bus_status_reply_own(Gw__Envelope *reply, void *storage) {
        assert(reply->body_case == GW__ENVELOPE__BODY_STATUS_REPLY && reply->status_reply);
        ((StatusReplyBox *) reply->status_reply)->storage = storage;
}

bool gw_bus_status_reply_free(Gw__Envelope *reply) {
        StatusReplyBox *box;

        if (reply->body_case != GW__ENVELOPE__BODY_STATUS_REPLY || !reply->status_reply)
                return false;
        box = (StatusReplyBox *) reply->status_reply;
        free(box->storage);
        free(box);
        reply->status_reply = NULL;
        reply->body_case = GW__ENVELOPE__BODY__NOT_SET;
        return true;
}

int gw_bus_ctl_call(const GwConf *c, Gw__Service target, Gw__Envelope *req,
                    uint64_t timeout_usec, Gw__Envelope **ret_reply) {
        void *zctx = NULL, *sock = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        Gw__Envelope *reply;
        zmq_msg_t msg;
        size_t len;
        int linger = 0, r;
        zmq_pollitem_t item;

        if (!c || !req || !ret_reply)
                return -EINVAL;

        if (!req->has_correlation_id) {
                req->has_correlation_id = true;
                req->correlation_id = random_u64();
        }
        if (req->instance_id == 0)
                gw_envelope_stamp(req, req->source ? req->source : GW__SERVICE__SERVICE_GWCTL, random_u64(), 1);
        len = gw__envelope__get_packed_size(req);
        buf = malloc(len ? len : 1);
        if (!buf)
                return -ENOMEM;
        gw__envelope__pack(req, buf);

        zctx = zmq_ctx_new();
        if (!zctx)
                return gw_zmq_errno();
        sock = zmq_socket(zctx, ZMQ_REQ);
        if (!sock) {
                r = gw_zmq_errno();
                goto finish;
        }
        (void) zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
        r = connect_endpoint(c, sock, target, "ctl");
        if (r < 0)
                goto finish;
        if (zmq_send(sock, buf, len, 0) < 0) {
                r = gw_zmq_errno();
                goto finish;
        }

        item = (zmq_pollitem_t) { .socket = sock, .events = ZMQ_POLLIN };
        r = zmq_poll(&item, 1, (long) (timeout_usec / 1000));
        if (r < 0) {
                r = gw_zmq_errno();
                goto finish;
        }
        if (r == 0) {
                r = -ETIMEDOUT;
                goto finish;
        }
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
                r = gw_zmq_errno();
                zmq_msg_close(&msg);
                goto finish;
        }
        reply = zmq_msg_size(&msg) <= GW_BUS_MAX_MESSAGE ?
                gw__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg)) : NULL;
        zmq_msg_close(&msg);
        if (!reply) {
                r = -EBADMSG;
                goto finish;
        }
        *ret_reply = reply;
        r = 0;
finish:
        if (sock)
                zmq_close(sock);
        zmq_ctx_term(zctx);
        return r;
}

int gw_bus_tap_open(const GwConf *c, void *zctx, const char *prefix, void **ret_sock) {
        void *sock;
        int r;

        sock = zmq_socket(zctx, ZMQ_SUB);
        if (!sock)
                return gw_zmq_errno();
        r = gw_zsocket_set_options(sock, GW_BUS_HWM);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(bus_daemons); i++)
                r = connect_endpoint(c, sock, bus_daemons[i], "pub");
        if (r >= 0 && zmq_setsockopt(sock, ZMQ_SUBSCRIBE, prefix ? prefix : "", prefix ? strlen(prefix) : 0) < 0)
                r = gw_zmq_errno();
        if (r < 0) {
                zmq_close(sock);
                return r;
        }
        *ret_sock = sock;
        return 0;
}

int gw_gateway_pid(const GwConf *c) {
        char path[512], buf[32];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;
        long pid;
        char *end;

        if (snprintf(path, sizeof path, "%s/gwsupd.pid", c->runtime_dir) >= (int) sizeof path)
                return -ENAMETOOLONG;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        pid = strtol(buf, &end, 10);
        if (pid <= 0 || pid > INT32_MAX || (*end && *end != '\n'))
                return 0;
        if (kill((pid_t) pid, 0) < 0)
                return errno == EPERM ? (int) pid : 0;
        return (int) pid;
}
