/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-zsource.c: a ZeroMQ socket on sd-event: batches, the swallowed edge, free. */
#include <errno.h>
#include <zmq.h>

#include "gw-test.h"
#include "gw-tests.h"
#include "gw-zsource.h"

typedef struct Rx {
        unsigned n;              /* messages taken */
        unsigned rounds_max;     /* most taken within one loop iteration */
        unsigned this_round;
        uint64_t iteration;
        sd_event *e;
} Rx;

static int take(void *sock, void *userdata) {
        Rx *rx = userdata;
        char buf[16];
        uint64_t it = 0;

        if (zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT) < 0)
                return zmq_errno() == EAGAIN ? 0 : gw_zmq_errno();
        (void) sd_event_get_iteration(rx->e, &it);
        if (it != rx->iteration) {
                rx->iteration = it;
                rx->this_round = 0;
        }
        rx->n++;
        if (++rx->this_round > rx->rounds_max)
                rx->rounds_max = rx->this_round;
        return 1;
}

static void pair(void *zctx, const char *ep, void **ret_a, void **ret_b) {
        void *a = zmq_socket(zctx, ZMQ_PAIR), *b = zmq_socket(zctx, ZMQ_PAIR);
        ASSERT_NOT_NULL(a);
        ASSERT_NOT_NULL(b);
        ASSERT_OK(gw_zsocket_set_options(a, 1000));
        ASSERT_OK(gw_zsocket_set_options(b, 1000));
        ASSERT_EQ(zmq_bind(a, ep), 0);
        ASSERT_EQ(zmq_connect(b, ep), 0);
        *ret_a = a;
        *ret_b = b;
}

static void run_until_count(sd_event *e, Rx *rx, unsigned n) {
        (void) GW_TEST_RUN_UNTIL(e, rx->n >= n, 10 * USEC_PER_SEC);
}

TEST(zsource_batches_and_continues) {
        void *zctx = zmq_ctx_new(), *a, *b;
        sd_event *e = NULL;
        GwZSource *z = NULL;
        Rx rx = {};

        ASSERT_OK(sd_event_new(&e));
        rx.e = e;
        pair(zctx, "inproc://zs-batch", &a, &b);
        ASSERT_OK(gw_zsource_new(e, a, "test", 4, take, &rx, &z));
        for (int i = 0; i < 30; i++)
                ASSERT_EQ(zmq_send(b, "x", 1, 0), 1);
        /* One wake-up takes at most 4; the defer source carries on without a new edge. */
        run_until_count(e, &rx, 30);
        ASSERT_EQ(rx.n, 30);
        ASSERT_EQ(rx.rounds_max, 4);

        gw_zsource_free(z);
        zmq_close(a);
        zmq_close(b);
        zmq_ctx_term(zctx);
        sd_event_unref(e);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return 0;
}

TEST(zsource_swallowed_edge) {
        void *zctx = zmq_ctx_new(), *a, *b;
        sd_event_source *t = NULL;
        sd_event *e = NULL;
        GwZSource *z = NULL;
        Rx rx = {};

        ASSERT_OK(sd_event_new(&e));
        rx.e = e;
        pair(zctx, "inproc://zs-edge", &a, &b);
        ASSERT_OK(gw_zsource_new(e, a, "test", 64, take, &rx, &z));
        ASSERT_EQ(zmq_send(b, "x", 1, 0), 1);
        /* Any zmq call on the socket (here a send, then ZMQ_EVENTS) may consume the edge of
         * ZMQ_FD: no wake-up will come for this message from the fd. */
        ASSERT_EQ(zmq_send(a, "y", 1, 0), 1);
        for (int i = 0; i < 100 && !gw_zsocket_readable(a); i++)
                ASSERT_OK(sd_event_run(e, 1000));
        /* Whatever the fd says now, the next event the loop handles lets the post check look. */
        ASSERT_OK(sd_event_add_time_relative(e, &t, CLOCK_MONOTONIC, 1000, 0, on_timer, NULL));
        run_until_count(e, &rx, 1);
        ASSERT_EQ(rx.n, 1);

        sd_event_source_unref(t);
        gw_zsource_free(z);
        zmq_close(a);
        zmq_close(b);
        zmq_ctx_term(zctx);
        sd_event_unref(e);
}

TEST(zsource_refuses) {
        sd_event *e = NULL;
        GwZSource *z = NULL;
        int dummy;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_ERROR(gw_zsource_new(e, NULL, "x", 1, take, NULL, &z), EINVAL);
        ASSERT_ERROR(gw_zsource_new(e, &dummy, "x", 0, take, NULL, &z), EINVAL);
        ASSERT_ERROR(gw_zsource_new(e, &dummy, "x", 1, NULL, NULL, &z), EINVAL);
        ASSERT_TRUE(z == NULL);
        ASSERT_TRUE(gw_zsource_free(NULL) == NULL);
        sd_event_unref(e);
}

DEFINE_TEST_MAIN
