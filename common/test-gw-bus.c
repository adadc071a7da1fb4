/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-bus.c: the bus between two in-process endpoints: delivery, malformed input, control calls. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-test.h"
#include "gw-tests.h"

typedef struct Rx {
        unsigned n;
        uint64_t last_seq;
        uint64_t last_instance;
        uint64_t last_correlation;
        Gw__Service last_source;
        unsigned last_port;
        char last_number[32];
        unsigned peers_seen;
        uint64_t peer_instance;
} Rx;

static int on_line_registration(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Rx *rx = userdata;

        rx->n++;
        rx->last_seq = env->seq;
        rx->last_instance = env->instance_id;
        rx->last_correlation = env->correlation_id;
        rx->last_source = env->source;
        rx->last_port = env->line_registration->port;
        snprintf(rx->last_number, sizeof rx->last_number, "%s", env->line_registration->number);
        return 0;
}

static void on_peer(GwBus *bus, Gw__Service peer, uint64_t instance_id, void *userdata) {
        Rx *rx = userdata;

        rx->peers_seen++;
        rx->peer_instance = instance_id;
}

static const GwBusHandler table[] = {
        [GW__ENVELOPE__BODY_LINE_REGISTRATION] = {
                "LineRegistration", on_line_registration, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
};

static char *make_runtime_dir(void) {
        return strdup(gw_test_tmpdir("gw-test-bus"));
}

static void publish_lr(GwBus *b, unsigned port, const char *number) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineRegistration lr = GW__LINE_REGISTRATION__INIT;
        char key[16];

        lr.port = port;
        lr.number = UNCONST(number);
        lr.state = GW__REG_STATE__REG_REGISTERED;
        env.body_case = GW__ENVELOPE__BODY_LINE_REGISTRATION;
        env.line_registration = &lr;
        env.has_correlation_id = true;
        env.correlation_id = 4242;
        snprintf(key, sizeof key, "%u", port);
        ASSERT_OK(gw_bus_publish_auto(b, key, &env));
}

/* Run the loop until cond or 3 s. */
#define RUN_UNTIL(e, cond) (void) GW_TEST_RUN_UNTIL(e, cond, 3 * USEC_PER_SEC)

TEST(envelope_round_trip) {
        Gw__Envelope env = GW__ENVELOPE__INIT, *out;
        Gw__SipRequest req = GW__SIP_REQUEST__INIT;
        uint8_t buf[512];
        size_t len;

        req.method = (char *) "REGISTER";
        req.request_uri = (char *) "sip:example.net";
        req.target = (char *) "127.0.0.2:5060";
        req.has_expires_s = true;
        req.expires_s = 0;
        env.body_case = GW__ENVELOPE__BODY_SIP_REQUEST;
        env.sip_request = &req;
        env.has_correlation_id = true;
        env.correlation_id = UINT64_MAX;
        gw_envelope_stamp(&env, GW__SERVICE__SERVICE_REGD, 0x1122334455667788ULL, 7);

        len = gw__envelope__get_packed_size(&env);
        ASSERT_TRUE(len < sizeof buf);
        gw__envelope__pack(&env, buf);
        out = gw__envelope__unpack(NULL, len, buf);
        ASSERT_NOT_NULL(out);
        ASSERT_EQ(out->source, GW__SERVICE__SERVICE_REGD);
        ASSERT_TRUE(out->instance_id == 0x1122334455667788ULL);
        ASSERT_EQ(out->seq, 7);
        ASSERT_TRUE(out->correlation_id == UINT64_MAX);
        ASSERT_TRUE(out->mono_us > 0 && out->real_us > out->mono_us);
        ASSERT_EQ(out->body_case, GW__ENVELOPE__BODY_SIP_REQUEST);
        ASSERT_STREQ(out->sip_request->method, "REGISTER");
        ASSERT_TRUE(out->sip_request->has_expires_s && out->sip_request->expires_s == 0);
        ASSERT_STREQ(gw_envelope_body_name(out->body_case), "SipRequest");
        gw__envelope__free_unpacked(out, NULL);

        /* Truncated input never unpacks. */
        for (size_t cut = 1; cut < len; cut++) {
                out = gw__envelope__unpack(NULL, cut, buf);
                if (out)
                        gw__envelope__free_unpacked(out, NULL);
        }
}

TEST(service_names) {
        for (int s = GW__SERVICE__SERVICE_GWSUPD; s <= GW__SERVICE__SERVICE_BENCH; s++)
                ASSERT_EQ(gw_service_from_string(gw_service_to_string(s)), s);
        ASSERT_EQ(gw_service_from_string("nope"), GW__SERVICE__SERVICE_UNKNOWN);
        ASSERT_TRUE(gw_service_to_string(99) == NULL);
}

TEST(endpoint_names) {
        GwConf c = { .runtime_dir = (char *) "/run/fxsgw" };
        char buf[256];

        ASSERT_OK(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_SIGD, "pub", buf, sizeof buf));
        ASSERT_STREQ(buf, "ipc:///run/fxsgw/bus/sigd.pub");
        ASSERT_OK(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_REGD, "ctl", buf, sizeof buf));
        ASSERT_STREQ(buf, "ipc:///run/fxsgw/bus/regd.ctl");
        ASSERT_ERROR(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_GWCTL, "pub", buf, sizeof buf), EINVAL);
        ASSERT_ERROR(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_SIGD, "bogus", buf, sizeof buf), EINVAL);

        c.bus_endpoints[GW__SERVICE__SERVICE_SIGD] = (char *) "tcp://192.0.2.1:7100";
        ASSERT_OK(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_SIGD, "pub", buf, sizeof buf));
        ASSERT_STREQ(buf, "tcp://192.0.2.1:7100");
        ASSERT_OK(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_SIGD, "ctl", buf, sizeof buf));
        ASSERT_STREQ(buf, "tcp://192.0.2.1:7101");

        char longdir[200];
        memset(longdir, 'x', sizeof longdir - 1);
        longdir[0] = '/';
        longdir[sizeof longdir - 1] = 0;
        c.runtime_dir = longdir;
        ASSERT_ERROR(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_LINEHWD, "pub", buf, sizeof buf), ENAMETOOLONG);
}

TEST(publish_subscribe_and_restart) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwBus *a = NULL, *b = NULL;
        Rx rx = {};
        uint64_t first_instance;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_REGD, &a));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_SIGD, &b));
        gw_bus_set_handlers(b, table, ELEMENTSOF(table), &rx);
        gw_bus_set_peer_callback(b, on_peer, &rx);
        ASSERT_OK(gw_bus_subscribe(b, "LineRegistration"));

        /* PUB/SUB connects asynchronously; once a knows b hears it, one message is enough. */
        RUN_UNTIL(e, gw_bus_peer_listening(a, GW__SERVICE__SERVICE_SIGD));
        ASSERT_TRUE(gw_bus_peer_listening(a, GW__SERVICE__SERVICE_SIGD));
        publish_lr(a, 3, "1003");
        RUN_UNTIL(e, rx.n > 0);
        ASSERT_EQ(rx.n, 1);
        ASSERT_EQ(rx.last_source, GW__SERVICE__SERVICE_REGD);
        ASSERT_TRUE(rx.last_instance == gw_bus_instance_id(a));
        ASSERT_EQ(rx.last_correlation, 4242);
        ASSERT_EQ(rx.last_port, 3);
        ASSERT_STREQ(rx.last_number, "1003");
        ASSERT_EQ(rx.peers_seen, 1);

        /* In order, nothing lost on a connected pair. */
        unsigned before = rx.n;
        uint64_t seq0 = rx.last_seq;
        for (unsigned i = 0; i < 1000; i++)
                publish_lr(a, 4, "1004");
        RUN_UNTIL(e, rx.n >= before + 1000);
        ASSERT_EQ(rx.n, before + 1000);
        ASSERT_TRUE(rx.last_seq > seq0);

        /* A subscription is a topic prefix: other topics are not delivered. */
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        ps.name = (char *) "p";
        env.body_case = GW__ENVELOPE__BODY_PROFILE_STATUS;
        env.profile_status = &ps;
        ASSERT_OK(gw_bus_publish_auto(a, "p", &env));
        for (int i = 0; i < 30; i++)
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        Gw__BusCounters bc = GW__BUS_COUNTERS__INIT;
        gw_bus_counters(b, &bc);
        ASSERT_EQ(bc.rx, rx.n);

        /* The peer restarts (new instance, same endpoint): found again, no reconfiguration. */
        first_instance = gw_bus_instance_id(a);
        a = gw_bus_free(a);
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_REGD, &a));
        ASSERT_TRUE(gw_bus_instance_id(a) != first_instance);
        before = rx.n;
        RUN_UNTIL(e, gw_bus_peer_listening(a, GW__SERVICE__SERVICE_SIGD));
        publish_lr(a, 5, "1005");
        RUN_UNTIL(e, rx.n > before);
        ASSERT_EQ(rx.n, before + 1);
        ASSERT_EQ(rx.last_port, 5);
        ASSERT_EQ(rx.peers_seen, 2);
        ASSERT_TRUE(rx.peer_instance == gw_bus_instance_id(a));

        gw_bus_free(a);
        gw_bus_free(b);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

typedef struct Owner {
        GwBus *bus;
        unsigned syncs;
        Gw__Service sync_source;
        uint64_t sync_instance;
        unsigned peers_seen;
        uint64_t peer_instance;
} Owner;

/* What gw-daemon and the daemons' StateSyncRequest rows do: publish the state we own. */
static int owner_sync(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Owner *o = userdata;

        o->syncs++;
        o->sync_source = env->source;
        o->sync_instance = env->instance_id;
        publish_lr(bus, 1, "1001");
        return 0;
}

static void owner_peer(GwBus *bus, Gw__Service peer, uint64_t instance_id, void *userdata) {
        Owner *o = userdata;

        o->peers_seen++;
        o->peer_instance = instance_id;
}

static int on_profile_status(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Rx *rx = userdata;

        rx->n++;
        snprintf(rx->last_number, sizeof rx->last_number, "%s", env->profile_status->name);
        return 0;
}

static const GwBusHandler listener_table[] = {
        [GW__ENVELOPE__BODY_LINE_REGISTRATION] = {
                "LineRegistration", on_line_registration, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
        [GW__ENVELOPE__BODY_PROFILE_STATUS] = {
                "ProfileStatus", on_profile_status, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
};

/* PUB/SUB drops what is published before a subscriber's subscription reaches the
 * publisher. The publisher's XPUB sees the listener's subscriptions arrive: it then
 * re-publishes its state (as for a StateSyncRequest the listener never sent), and
 * anything it publishes from then on reaches the listener. Also after a restart,
 * and again when the listener subscribes to more later. */
TEST(state_resent_when_a_peer_subscribes) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwBus *b = NULL;
        Owner o = {};
        Rx rx = {};
        Gw__BusCounters bc = GW__BUS_COUNTERS__INIT;
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        uint64_t first_instance;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_REGD, &o.bus));
        gw_bus_set_sync_hook(o.bus, owner_sync, &o);
        gw_bus_set_peer_callback(o.bus, owner_peer, &o);
        /* Published before anyone listens: lost. */
        publish_lr(o.bus, 1, "1001");
        ASSERT_FALSE(gw_bus_peer_listening(o.bus, GW__SERVICE__SERVICE_SIGD));

        /* b starts later, never publishes, never asks: it still gets the state. */
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_SIGD, &b));
        gw_bus_set_handlers(b, listener_table, ELEMENTSOF(listener_table), &rx);
        ASSERT_OK(gw_bus_subscribe(b, "LineRegistration"));
        RUN_UNTIL(e, rx.n > 0);
        ASSERT_EQ(rx.n, 1);
        ASSERT_EQ(rx.last_port, 1);
        ASSERT_EQ(o.syncs, 1);
        ASSERT_EQ(o.sync_source, GW__SERVICE__SERVICE_SIGD);
        ASSERT_TRUE(o.sync_instance == gw_bus_instance_id(b));
        ASSERT_TRUE(gw_bus_peer_listening(o.bus, GW__SERVICE__SERVICE_SIGD));
        ASSERT_FALSE(gw_bus_peer_listening(o.bus, GW__SERVICE__SERVICE_MEDIAD));
        ASSERT_EQ(o.peers_seen, 1);
        ASSERT_TRUE(o.peer_instance == gw_bus_instance_id(b));
        /* No message crossed the wire towards the owner. */
        gw_bus_counters(o.bus, &bc);
        ASSERT_EQ(bc.rx, 0);

        /* An event published right after is not lost either. */
        publish_lr(o.bus, 9, "1009");
        RUN_UNTIL(e, rx.n > 1);
        ASSERT_EQ(rx.n, 2);
        ASSERT_EQ(rx.last_port, 9);

        /* A later subscription is announced again: the owner resyncs, and a message
         * on the new topic published the moment it does arrives. */
        ASSERT_OK(gw_bus_subscribe(b, "ProfileStatus"));
        RUN_UNTIL(e, o.syncs > 1);
        ASSERT_EQ(o.syncs, 2);
        ps.name = (char *) "p";
        env.body_case = GW__ENVELOPE__BODY_PROFILE_STATUS;
        env.profile_status = &ps;
        ASSERT_OK(gw_bus_publish_auto(o.bus, "p", &env));
        RUN_UNTIL(e, rx.n > 3);
        ASSERT_EQ(rx.n, 4);             /* the resync's LineRegistration and the ProfileStatus */
        ASSERT_STREQ(rx.last_number, "p");

        /* b restarts: the owner sees it go, then the new instance subscribe. */
        first_instance = gw_bus_instance_id(b);
        b = gw_bus_free(b);
        RUN_UNTIL(e, !gw_bus_peer_listening(o.bus, GW__SERVICE__SERVICE_SIGD));
        ASSERT_FALSE(gw_bus_peer_listening(o.bus, GW__SERVICE__SERVICE_SIGD));
        rx = (Rx) {};
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_SIGD, &b));
        ASSERT_TRUE(gw_bus_instance_id(b) != first_instance);
        gw_bus_set_handlers(b, listener_table, ELEMENTSOF(listener_table), &rx);
        ASSERT_OK(gw_bus_subscribe(b, "LineRegistration"));
        RUN_UNTIL(e, rx.n > 0);
        ASSERT_EQ(rx.n, 1);
        ASSERT_EQ(rx.last_port, 1);
        ASSERT_EQ(o.syncs, 3);
        ASSERT_TRUE(o.sync_instance == gw_bus_instance_id(b));
        ASSERT_EQ(o.peers_seen, 2);
        ASSERT_TRUE(gw_bus_peer_listening(o.bus, GW__SERVICE__SERVICE_SIGD));

        gw_bus_free(b);
        gw_bus_free(o.bus);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

/* Garbage from a "peer" (a raw socket bound at mediad's endpoint) is dropped and counted. */
TEST(malformed_input_dropped) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwBus *b = NULL;
        Rx rx = {};
        void *zctx, *raw;
        char ep[256];
        Gw__BusCounters bc = GW__BUS_COUNTERS__INIT;
        uint8_t good[256];
        size_t good_len;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_SIGD, &b));
        gw_bus_set_handlers(b, table, ELEMENTSOF(table), &rx);
        ASSERT_OK(gw_bus_subscribe(b, ""));

        zctx = zmq_ctx_new();
        raw = zmq_socket(zctx, ZMQ_PUB);
        ASSERT_OK(gw_bus_endpoint(&c, GW__SERVICE__SERVICE_MEDIAD, "pub", ep, sizeof ep));
        ASSERT_EQ(zmq_bind(raw, ep), 0);

        /* A valid LineRegistration, but claiming to come from mediad: wrong sender. */
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineRegistration lr = GW__LINE_REGISTRATION__INIT;
        lr.number = (char *) "1";
        env.body_case = GW__ENVELOPE__BODY_LINE_REGISTRATION;
        env.line_registration = &lr;
        gw_envelope_stamp(&env, GW__SERVICE__SERVICE_MEDIAD, 99, 1);
        good_len = gw__envelope__pack(&env, good);

        /* Wait for the connection with harmless probes. */
        for (int i = 0; i < 200; i++) {
                zmq_send(raw, "x", 1, ZMQ_SNDMORE);
                zmq_send(raw, good, good_len, 0);
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
                gw_bus_counters(b, &bc);
                if (bc.dropped_sender > 0)
                        break;
        }
        ASSERT_TRUE(bc.dropped_sender > 0);
        ASSERT_EQ(rx.n, 0);
        uint64_t sender0 = bc.dropped_sender;

        /* single frame; garbage body; empty body; three frames; unknown body for us */
        zmq_send(raw, "only-topic", 10, 0);
        zmq_send(raw, "t", 1, ZMQ_SNDMORE);
        zmq_send(raw, "\xff\xff\xff\xff\x0f garbage", 14, 0);
        zmq_send(raw, "t", 1, ZMQ_SNDMORE);
        zmq_send(raw, "", 0, 0);
        zmq_send(raw, "t", 1, ZMQ_SNDMORE);
        zmq_send(raw, good, good_len, ZMQ_SNDMORE);
        zmq_send(raw, "extra", 5, 0);
        Gw__ProfileStatus ps = GW__PROFILE_STATUS__INIT;
        ps.name = (char *) "x";
        env.body_case = GW__ENVELOPE__BODY_PROFILE_STATUS;
        env.profile_status = &ps;
        good_len = gw__envelope__pack(&env, good);
        zmq_send(raw, "t", 1, ZMQ_SNDMORE);
        zmq_send(raw, good, good_len, 0);

        RUN_UNTIL(e, ({ gw_bus_counters(b, &bc); bc.dropped_malformed >= 4 && bc.dropped_unknown >= 1; }));
        gw_bus_counters(b, &bc);
        ASSERT_EQ(bc.dropped_malformed, 4);
        ASSERT_EQ(bc.dropped_unknown, 1);
        ASSERT_EQ(bc.dropped_sender, sender0);
        ASSERT_EQ(rx.n, 0);

        zmq_close(raw);
        zmq_ctx_term(zctx);
        gw_bus_free(b);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

typedef struct CallArgs {
        GwConf *conf;
        int r;
        Gw__Envelope *reply;
        volatile int done;
} CallArgs;

static void *call_thread(void *p) {
        CallArgs *a = p;
        Gw__Envelope req = GW__ENVELOPE__INIT;
        Gw__StatusRequest sr = GW__STATUS_REQUEST__INIT;

        req.body_case = GW__ENVELOPE__BODY_STATUS_REQUEST;
        req.status_request = &sr;
        req.has_correlation_id = true;
        req.correlation_id = 777;
        a->r = gw_bus_ctl_call(a->conf, GW__SERVICE__SERVICE_REGD, &req, 2 * USEC_PER_SEC, &a->reply);
        __atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
        return NULL;
}

static int ctl_status(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        static Gw__StatusReply sr = GW__STATUS_REPLY__INIT;
        static Gw__LineStatus ls = GW__LINE_STATUS__INIT, *lsp[1] = { &ls };

        if (req->body_case != GW__ENVELOPE__BODY_STATUS_REQUEST)
                return -EOPNOTSUPP;
        ls.port = 9;
        ls.number = (char *) "1009";
        sr.n_lines = 1;
        sr.lines = lsp;
        reply->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        reply->status_reply = &sr;
        return 0;
}

TEST(control_call) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwBus *b = NULL;
        pthread_t t;
        CallArgs a = { .conf = &c };

        /* Nobody there: a clean timeout, not a hang. */
        Gw__Envelope req = GW__ENVELOPE__INIT;
        Gw__StatusRequest sr = GW__STATUS_REQUEST__INIT, *reply = NULL;
        Gw__Envelope *rep = NULL;
        req.body_case = GW__ENVELOPE__BODY_STATUS_REQUEST;
        req.status_request = &sr;
        ASSERT_ERROR(gw_bus_ctl_call(&c, GW__SERVICE__SERVICE_REGD, &req, 200 * USEC_PER_MSEC, &rep), ETIMEDOUT);
        (void) reply;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_REGD, &b));
        gw_bus_set_ctl_handler(b, ctl_status, NULL, NULL);
        ASSERT_EQ(pthread_create(&t, NULL, call_thread, &a), 0);
        RUN_UNTIL(e, __atomic_load_n(&a.done, __ATOMIC_SEQ_CST));
        ASSERT_EQ(pthread_join(t, NULL), 0);
        ASSERT_OK(a.r);
        ASSERT_EQ(a.reply->body_case, GW__ENVELOPE__BODY_STATUS_REPLY);
        ASSERT_EQ(a.reply->correlation_id, 777);
        ASSERT_EQ(a.reply->source, GW__SERVICE__SERVICE_REGD);
        ASSERT_EQ(a.reply->status_reply->n_lines, 1);
        ASSERT_STREQ(a.reply->status_reply->lines[0]->number, "1009");
        gw__envelope__free_unpacked(a.reply, NULL);

        /* A handler error becomes an ErrorReply. */
        gw_bus_set_ctl_handler(b, NULL, NULL, NULL);
        a = (CallArgs) { .conf = &c };
        ASSERT_EQ(pthread_create(&t, NULL, call_thread, &a), 0);
        RUN_UNTIL(e, __atomic_load_n(&a.done, __ATOMIC_SEQ_CST));
        ASSERT_EQ(pthread_join(t, NULL), 0);
        ASSERT_OK(a.r);
        ASSERT_EQ(a.reply->body_case, GW__ENVELOPE__BODY_ERROR_REPLY);
        ASSERT_EQ(a.reply->error_reply->errno_value, EOPNOTSUPP);
        gw__envelope__free_unpacked(a.reply, NULL);

        gw_bus_free(b);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

/* A daemon's status answer: the bus's box, and line entries of the daemon's own. */
static int ctl_status_box(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        typedef struct Lines {
                Gw__LineStatus ls;
                Gw__LineStatus *lsp[1];
        } Lines;
        Lines *l;

        ASSERT_OK(gw_bus_status_reply_new(bus, reply));
        l = calloc(1, sizeof(*l));
        ASSERT_NOT_NULL(l);
        gw__line_status__init(&l->ls);
        l->ls.port = 3;
        l->lsp[0] = &l->ls;
        reply->status_reply->n_lines = 1;
        reply->status_reply->lines = l->lsp;
        gw_bus_status_reply_own(reply, l);
        return 0;
}

static void ctl_status_box_free(Gw__Envelope *reply, void *userdata) {
        ASSERT_TRUE(gw_bus_status_reply_free(reply));
        ASSERT_EQ(reply->body_case, GW__ENVELOPE__BODY__NOT_SET);
        ASSERT_FALSE(gw_bus_status_reply_free(reply));
}

TEST(status_reply_with_counters) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwBus *b = NULL;
        pthread_t t;
        CallArgs a = { .conf = &c };

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_REGD, &b));
        gw_bus_set_ctl_handler(b, ctl_status_box, ctl_status_box_free, NULL);
        ASSERT_EQ(pthread_create(&t, NULL, call_thread, &a), 0);
        RUN_UNTIL(e, __atomic_load_n(&a.done, __ATOMIC_SEQ_CST));
        ASSERT_EQ(pthread_join(t, NULL), 0);
        ASSERT_OK(a.r);
        ASSERT_EQ(a.reply->body_case, GW__ENVELOPE__BODY_STATUS_REPLY);
        ASSERT_NOT_NULL(a.reply->status_reply->counters);
        ASSERT_EQ(a.reply->status_reply->counters->service, GW__SERVICE__SERVICE_REGD);
        ASSERT_EQ(a.reply->status_reply->counters->rx, 1);   /* the request itself */
        ASSERT_EQ(a.reply->status_reply->n_lines, 1);
        ASSERT_EQ(a.reply->status_reply->lines[0]->port, 3);
        gw__envelope__free_unpacked(a.reply, NULL);

        gw_bus_free(b);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

static int count_ports(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        unsigned *n = userdata;   /* [0]: port 12, [1]: any other */

        n[env->line_registration->port == 12 ? 0 : 1]++;
        return 0;
}

/* A line's message goes out as "<Name>/<port>": a subscriber to one port gets only that one. */
TEST(publish_port_topic) {
        static const GwBusHandler ports_table[] = {
                [GW__ENVELOPE__BODY_LINE_REGISTRATION] = {
                        "LineRegistration", count_ports, GW_SRC_DAEMONS },
        };
        unsigned n[2] = {};
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        Gw__LineRegistration lr = GW__LINE_REGISTRATION__INIT;
        Gw__Envelope env = GW__ENVELOPE__INIT;
        sd_event *e = NULL;
        GwBus *a = NULL, *b = NULL;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_REGD, &a));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_SIGD, &b));
        gw_bus_set_handlers(b, ports_table, ELEMENTSOF(ports_table), n);
        ASSERT_OK(gw_bus_subscribe(b, "LineRegistration/12"));
        lr.number = (char *) "x";
        env.body_case = GW__ENVELOPE__BODY_LINE_REGISTRATION;
        env.line_registration = &lr;
        for (int i = 0; i < 200 && n[0] == 0; i++) {
                lr.port = 1;                      /* "LineRegistration/1": not a match */
                ASSERT_OK(gw_bus_publish_port(a, 1, &env));
                lr.port = 12;
                ASSERT_OK(gw_bus_publish_port(a, 12, &env));
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        }
        RUN_UNTIL(e, false);                      /* let anything else arrive */
        ASSERT_TRUE(n[0] > 0);
        ASSERT_EQ(n[1], 0);

        gw_bus_free(a);
        gw_bus_free(b);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

TEST(state_file_atomic) {
        _cleanup_free_ char *dir = make_runtime_dir();
        void *data = NULL;
        size_t len = 0;

        ASSERT_ERROR(gw_state_read(dir, "s", &data, &len), ENOENT);
        ASSERT_OK(gw_state_write(dir, "s", "hello", 5));
        ASSERT_OK(gw_state_read(dir, "s", &data, &len));
        ASSERT_EQ(len, 5);
        ASSERT_TRUE(memcmp(data, "hello", 5) == 0);
        free(data);
        ASSERT_OK(gw_state_write(dir, "s", "", 0));
        ASSERT_OK(gw_state_read(dir, "s", &data, &len));
        ASSERT_EQ(len, 0);
        free(data);
        gw_test_rm_rf(dir);
}

TEST(gateway_pid_file) {
        _cleanup_free_ char *dir = make_runtime_dir();
        GwConf c = { .runtime_dir = dir };
        char buf[32];

        ASSERT_EQ(gw_gateway_pid(&c), 0);
        snprintf(buf, sizeof buf, "%d\n", (int) getpid());
        ASSERT_OK(gw_state_write(dir, "gwsupd.pid", buf, strlen(buf)));
        ASSERT_EQ(gw_gateway_pid(&c), getpid());
        ASSERT_OK(gw_state_write(dir, "gwsupd.pid", "garbage", 7));
        ASSERT_EQ(gw_gateway_pid(&c), 0);
        /* pid of a process that is gone */
        ASSERT_OK(gw_state_write(dir, "gwsupd.pid", "2147483000\n", 11));
        ASSERT_EQ(gw_gateway_pid(&c), 0);
        gw_test_rm_rf(dir);
}

/* tcp:// endpoints are CURVE-secured: peers with the key talk, a stranger hears nothing. */
TEST(tcp_curve_endpoints) {
        _cleanup_free_ char *dir = make_runtime_dir();
        char pub[41], sec[41];
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwBus *a = NULL, *b = NULL;
        Rx rx = {};
        int port = gw_test_port(SOCK_STREAM, "127.0.0.1", 3, NULL);     /* and port + 2 */

        if (!zmq_has("curve"))
                gw_test_skip("libzmq without CURVE");
        ASSERT_EQ(zmq_curve_keypair(pub, sec), 0);
        c.bus_curve_public_key = pub;
        c.bus_curve_secret_key = sec;
        char ep_a[64], ep_b[64];
        snprintf(ep_a, sizeof ep_a, "tcp://127.0.0.1:%d", port);
        snprintf(ep_b, sizeof ep_b, "tcp://127.0.0.1:%d", port + 2);
        c.bus_endpoints[GW__SERVICE__SERVICE_REGD] = ep_a;
        c.bus_endpoints[GW__SERVICE__SERVICE_SIGD] = ep_b;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_REGD, &a));
        ASSERT_OK(gw_bus_new(e, &c, GW__SERVICE__SERVICE_SIGD, &b));
        gw_bus_set_handlers(b, table, ELEMENTSOF(table), &rx);
        ASSERT_OK(gw_bus_subscribe(b, "LineRegistration"));
        for (int i = 0; i < 300 && rx.n == 0; i++) {
                publish_lr(a, 7, "1007");
                ASSERT_OK(sd_event_run(e, 10 * USEC_PER_MSEC));
        }
        ASSERT_TRUE(rx.n > 0);
        ASSERT_EQ(rx.last_port, 7);

        /* A subscriber without the keys: the handshake fails, nothing arrives. */
        void *zctx = zmq_ctx_new(), *stranger = zmq_socket(zctx, ZMQ_SUB);
        int timeout_ms = 50, linger = 0;
        char buf[256];
        zmq_setsockopt(stranger, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
        zmq_setsockopt(stranger, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(stranger, ZMQ_SUBSCRIBE, "", 0);
        ASSERT_EQ(zmq_connect(stranger, ep_a), 0);
        int got = 0;
        for (int i = 0; i < 20; i++) {
                publish_lr(a, 8, "1008");
                if (zmq_recv(stranger, buf, sizeof buf, 0) >= 0)
                        got++;
        }
        ASSERT_EQ(got, 0);
        zmq_close(stranger);
        zmq_ctx_term(zctx);

        gw_bus_free(a);
        gw_bus_free(b);
        sd_event_unref(e);
        gw_test_rm_rf(dir);
}

static int count_sync(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        unsigned *n = userdata;
        (*n)++;
        return 0;
}

/* A started daemon repeats StateSyncRequest (PUB/SUB needs a moment to
 * connect), which also proves its one-shot timers re-arm. */
TEST(daemon_repeats_sync_request) {
        _cleanup_free_ char *dir = make_runtime_dir();
        char cfg[512], yaml[1024];
        GwDaemon d = {};
        GwConf c = { .runtime_dir = dir };
        sd_event *e = NULL;
        GwBus *listener = NULL;
        unsigned n = 0;
        static GwBusHandler sync_table[GW__ENVELOPE__BODY_STATE_SYNC_REQUEST + 1];

        snprintf(cfg, sizeof cfg, "%s/gw.yaml", dir);
        snprintf(yaml, sizeof yaml,
                 "sip: {listen: 127.0.0.1:5999}\n"
                 "profiles: [{name: p, proxy: 127.0.0.2}]\n"
                 "lines: [{port: 1, number: '1', profile: p}]\n"
                 "bus: {runtime_dir: %s}\n", dir);
        FILE *f = fopen(cfg, "we");
        ASSERT_NOT_NULL(f);
        fputs(yaml, f);
        fclose(f);
        chmod(cfg, 0600);

        char *argv[] = { (char *) "test", (char *) "--config", cfg, NULL };
        ASSERT_EQ(gw_daemon_init(&d, GW__SERVICE__SERVICE_MEDIAD, 3, argv), 0);
        ASSERT_OK(gw_bus_new(d.event, &c, GW__SERVICE__SERVICE_SIGD, &listener));
        sync_table[GW__ENVELOPE__BODY_STATE_SYNC_REQUEST] =
                (GwBusHandler) { "StateSyncRequest", count_sync, GW_SERVICE_BIT(GW__SERVICE__SERVICE_MEDIAD) };
        gw_bus_set_handlers(listener, sync_table, ELEMENTSOF(sync_table), &n);
        ASSERT_OK(gw_bus_subscribe(listener, "StateSyncRequest"));
        e = d.event;
        /* The schedule is 0, 150, 400, 1000, 2500 ms: the first may be lost to connecting. */
        (void) GW_TEST_RUN_UNTIL(e, n >= 4, 4 * USEC_PER_SEC);
        ASSERT_TRUE(n >= 3);
        gw_bus_free(listener);
        gw_daemon_done(&d);
        gw_test_rm_rf(dir);
}

DEFINE_TEST_MAIN
