/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-bus.c: one-way latency and throughput of the fxsgw bus, beside raw ZeroMQ.
 *
 * Usage: bench-bus [LATENCY_MESSAGES [THROUGHPUT_MESSAGES [INTERVAL_US]]]
 *
 * Two processes on one machine, both fork+exec'd from this binary: a
 * publisher and a subscriber, in a temporary runtime directory. Each run is
 * done twice, one after the other, with the same envelope bytes on the same
 * ipc path:
 *   gwbus  the real GwBus (publisher as sigd, subscriber as regd), each on
 *          its own sd-event loop, message handled through the handler table;
 *   zmq    plain ZeroMQ PUB/SUB with the bus's socket options, blocking
 *          receive, envelope unpacked by hand.
 * The message is a LineRegistration of realistic size (~110 bytes packed).
 *
 * Phases, driven by the publisher after the subscriber has said it receives:
 *   latency     LATENCY_MESSAGES, one every INTERVAL_US (paced, unloaded);
 *               latency = subscriber's CLOCK_MONOTONIC at the handler minus
 *               the envelope's mono_us, stamped by the sender just before
 *               the send (µs resolution: both sides read the same clock);
 *   throughput  THROUGHPUT_MESSAGES sent back to back; throughput is what the
 *               subscriber received divided by the time from its first to its
 *               last; PUB drops what does not fit its queue (counted as lost).
 * Every wait is bounded; a stuck child is killed. Prints a table; no pass/fail. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <zmq.h>

#include "gw-bus.h"
#include "gw-conf.h"
#include "gw-macro.h"

#define DEFAULT_LATENCY_MESSAGES 20000
#define DEFAULT_THROUGHPUT_MESSAGES 200000
#define DEFAULT_INTERVAL_US 100
#define CHILD_DEADLINE_USEC (60 * USEC_PER_SEC)      /* hard bound of a child's life */
#define READY_TIMEOUT_MS 10000
#define RESULT_TIMEOUT_MS 90000
#define BENCH_HWM 20000                                /* as the bus's sockets */
#define TOPIC "LineRegistration/1"

enum { PORT_WARMUP = 0, PORT_LATENCY = 1, PORT_THROUGHPUT = 2, PORT_END = 3 };

static uint64_t mono_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* The message: what regd publishes for a registered line. */
typedef struct BenchMessage {
        Gw__Envelope env;
        Gw__LineRegistration lr;
} BenchMessage;

static void bench_message_init(BenchMessage *m) {
        gw__envelope__init(&m->env);
        gw__line_registration__init(&m->lr);
        m->lr.number = (char *) "+4930123456789";
        m->lr.state = GW__REG_STATE__REG_REGISTERED;
        m->lr.registered_via = (char *) "sip-redundant-2.example.net:5060";
        m->lr.target = (char *) "192.0.2.17:5060";
        m->lr.has_expires_at_real_us = true;
        m->lr.expires_at_real_us = UINT64_C(1764008600000000);
        m->lr.profile = (char *) "main-profile";
        m->env.body_case = GW__ENVELOPE__BODY_LINE_REGISTRATION;
        m->env.line_registration = &m->lr;
}

/* ------------------------------------------------------------------ results */

typedef struct Results {
        uint64_t *lat;                 /* µs, latency phase */
        size_t n_lat, max_lat;
        uint64_t *loaded;              /* µs, throughput phase */
        size_t n_loaded, max_loaded;
        uint64_t tp_first, tp_last;
        bool ready;
        bool done;
} Results;

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t percentile(const uint64_t *v, size_t n, double q) {
        size_t rank;

        if (n == 0)
                return 0;
        rank = (size_t) (q * (double) n + 0.999999);
        return v[CLAMP(rank, (size_t) 1, n) - 1];
}

static void results_record(Results *r, const Gw__Envelope *env) {
        uint64_t now = mono_usec();
        uint64_t lat = now > env->mono_us ? now - env->mono_us : 0;
        const Gw__LineRegistration *lr = env->line_registration;

        if (env->body_case != GW__ENVELOPE__BODY_LINE_REGISTRATION || !lr)
                return;
        switch (lr->port) {
        case PORT_WARMUP:
                if (!r->ready) {
                        r->ready = true;
                        fputs("READY\n", stdout);
                        fflush(stdout);
                }
                break;
        case PORT_LATENCY:
                if (r->n_lat < r->max_lat)
                        r->lat[r->n_lat++] = lat;
                break;
        case PORT_THROUGHPUT:
                if (r->n_loaded == 0)
                        r->tp_first = now;
                r->tp_last = now;
                if (r->n_loaded < r->max_loaded)
                        r->loaded[r->n_loaded] = lat;
                r->n_loaded++;
                break;
        case PORT_END:
                r->done = true;
                break;
        }
}

/* One line for the parent: "RESULT n p50 p99 p999 max n_tp span_us loaded_p50 loaded_p99". */
static void results_print(Results *r) {
        size_t nl = MIN(r->n_loaded, r->max_loaded);

        qsort(r->lat, r->n_lat, sizeof(uint64_t), cmp_u64);
        qsort(r->loaded, nl, sizeof(uint64_t), cmp_u64);
        printf("RESULT %zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %zu %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
               r->n_lat, percentile(r->lat, r->n_lat, 0.50), percentile(r->lat, r->n_lat, 0.99),
               percentile(r->lat, r->n_lat, 0.999), r->n_lat ? r->lat[r->n_lat - 1] : 0,
               r->n_loaded, r->tp_last - r->tp_first,
               percentile(r->loaded, nl, 0.50), percentile(r->loaded, nl, 0.99));
        fflush(stdout);
}

static int results_alloc(Results *r, size_t n_lat, size_t n_tp) {
        r->lat = calloc(MAX(n_lat, (size_t) 1), sizeof(uint64_t));
        r->loaded = calloc(MAX(n_tp, (size_t) 1), sizeof(uint64_t));
        r->max_lat = n_lat;
        r->max_loaded = n_tp;
        return r->lat && r->loaded ? 0 : -ENOMEM;
}

static void results_free(Results *r) {
        free(r->lat);
        free(r->loaded);
}

/* ------------------------------------------------------------------ publisher */

typedef struct Publisher {
        /* parameters */
        size_t n_lat, n_tp;
        uint64_t interval;
        /* state */
        BenchMessage msg;
        int phase;                     /* PORT_* being sent */
        size_t sent;
        uint64_t phase_start;
        bool go;                       /* the parent said the subscriber is receiving */
        bool stdin_closed;
        /* gwbus mode */
        sd_event *event;
        GwBus *bus;
        sd_event_source *timer, *defer;
        /* zmq mode */
        void *zctx, *pub;
        uint64_t seq, instance_id;
} Publisher;

/* Send one message with 'port' marking the phase: through the bus or raw. */
static int publisher_send(Publisher *p, unsigned port) {
        uint8_t buf[512];
        size_t len;

        p->msg.lr.port = port;
        if (p->bus)
                return gw_bus_publish(p->bus, TOPIC, &p->msg.env);

        /* Exactly what gw_bus_publish does, minus the loop. */
        gw_envelope_stamp(&p->msg.env, GW__SERVICE__SERVICE_SIGD, p->instance_id, ++p->seq);
        len = gw__envelope__get_packed_size(&p->msg.env);
        if (len > sizeof buf)
                return -EMSGSIZE;
        gw__envelope__pack(&p->msg.env, buf);
        if (zmq_send(p->pub, TOPIC, strlen(TOPIC), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(p->pub, buf, len, ZMQ_DONTWAIT) < 0)
                return -zmq_errno();
        return 0;
}

/* Non-blocking look at stdin: "go" starts the run, EOF ends the process. */
static void publisher_read_stdin(Publisher *p) {
        char buf[64];
        ssize_t n;

        for (;;) {
                n = read(STDIN_FILENO, buf, sizeof buf);
                if (n > 0) {
                        if (memmem(buf, (size_t) n, "go", 2))
                                p->go = true;
                        continue;
                }
                if (n == 0)
                        p->stdin_closed = true;
                return;
        }
}

/* Next thing to do at 'now'; returns the time of the next send, 0 to stop,
 * or 1 for "as soon as possible". */
static uint64_t publisher_step(Publisher *p, uint64_t now) {
        switch (p->phase) {
        case PORT_WARMUP:
                if (!p->go) {
                        (void) publisher_send(p, PORT_WARMUP);
                        return now + 10 * USEC_PER_MSEC;
                }
                p->phase = PORT_LATENCY;
                p->sent = 0;
                p->phase_start = now;
                return 1;
        case PORT_LATENCY:
                if (p->sent >= p->n_lat) {
                        p->phase = PORT_THROUGHPUT;
                        p->sent = 0;
                        /* Let the last paced message arrive before the burst. */
                        return now + 50 * USEC_PER_MSEC;
                }
                (void) publisher_send(p, PORT_LATENCY);
                p->sent++;
                return p->phase_start + p->sent * p->interval;
        case PORT_THROUGHPUT:
                for (unsigned i = 0; i < 1000 && p->sent < p->n_tp; i++, p->sent++)
                        (void) publisher_send(p, PORT_THROUGHPUT);
                if (p->sent < p->n_tp)
                        return 1;
                p->phase = PORT_END;
                p->sent = 0;
                return now + 20 * USEC_PER_MSEC;
        case PORT_END:
        default:
                /* Repeated: the burst may have filled the queue. Until the parent hangs up. */
                if (p->stdin_closed || p->sent >= 500)
                        return 0;
                (void) publisher_send(p, PORT_END);
                p->sent++;
                return now + 10 * USEC_PER_MSEC;
        }
}

static int on_pub_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int publisher_schedule(Publisher *p, uint64_t next) {
        if (next == 0)
                return sd_event_exit(p->event, 0);
        if (next == 1) {
                (void) sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
                return sd_event_source_set_enabled(p->defer, SD_EVENT_ON);
        }
        (void) sd_event_source_set_enabled(p->defer, SD_EVENT_OFF);
        (void) sd_event_source_set_time(p->timer, next);
        return sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

static int on_pub_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Publisher *p = userdata;

        publisher_read_stdin(p);
        return publisher_schedule(p, publisher_step(p, mono_usec()));
}

static int on_pub_defer(sd_event_source *s, void *userdata) {
        Publisher *p = userdata;

        publisher_read_stdin(p);
        return publisher_schedule(p, publisher_step(p, mono_usec()));
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        fprintf(stderr, "bench-bus: child deadline reached\n");
        return sd_event_exit(sd_event_source_get_event(s), 1);
}

static int run_publisher_gwbus(Publisher *p, const GwConf *conf) {
        sd_event_source *deadline = NULL;
        int r;

        r = sd_event_new(&p->event);
        if (r < 0)
                return r;
        r = gw_bus_new(p->event, conf, GW__SERVICE__SERVICE_SIGD, &p->bus);
        if (r < 0)
                return r;
        r = sd_event_add_time(p->event, &p->timer, CLOCK_MONOTONIC, mono_usec(), 1, on_pub_timer, p);
        if (r < 0)
                return r;
        r = sd_event_add_defer(p->event, &p->defer, on_pub_defer, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(p->defer, SD_EVENT_OFF);
        r = sd_event_add_time_relative(p->event, &deadline, CLOCK_MONOTONIC, CHILD_DEADLINE_USEC, 0,
                                       on_deadline, NULL);
        if (r < 0)
                return r;
        r = sd_event_loop(p->event);

        sd_event_source_disable_unref(p->timer);
        sd_event_source_disable_unref(p->defer);
        sd_event_source_disable_unref(deadline);
        gw_bus_free(p->bus);
        sd_event_unref(p->event);
        return r;
}

static int run_publisher_zmq(Publisher *p, const GwConf *conf) {
        char ep[256];
        int hwm = BENCH_HWM, linger = 0, r;
        uint64_t start = mono_usec(), next = start;

        r = gw_bus_endpoint(conf, GW__SERVICE__SERVICE_SIGD, "pub", ep, sizeof ep);
        if (r < 0)
                return r;
        p->instance_id = UINT64_C(0x5eed);
        p->zctx = zmq_ctx_new();
        p->pub = p->zctx ? zmq_socket(p->zctx, ZMQ_PUB) : NULL;
        if (!p->pub)
                return -zmq_errno();
        (void) zmq_setsockopt(p->pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
        (void) zmq_setsockopt(p->pub, ZMQ_LINGER, &linger, sizeof linger);
        (void) unlink(ep + strlen("ipc://"));
        if (zmq_bind(p->pub, ep) < 0)
                return -zmq_errno();

        /* Same schedule as the loop version; waits are sleeps to an absolute time. */
        while (next != 0 && mono_usec() - start < CHILD_DEADLINE_USEC) {
                uint64_t now = mono_usec();

                if (next > 1 && next > now) {
                        struct timespec ts = { .tv_sec = (time_t) (next / USEC_PER_SEC),
                                               .tv_nsec = (long) (next % USEC_PER_SEC) * 1000 };
                        (void) clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                        now = mono_usec();
                }
                publisher_read_stdin(p);
                next = publisher_step(p, now);
        }

        zmq_close(p->pub);
        zmq_ctx_term(p->zctx);
        return 0;
}

/* ------------------------------------------------------------------ subscriber */

typedef struct Subscriber {
        Results res;
        sd_event *event;
} Subscriber;

static int on_line_registration(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Subscriber *s = userdata;

        results_record(&s->res, env);
        if (s->res.done)
                return sd_event_exit(s->event, 0);
        return 0;
}

static int run_subscriber_gwbus(Subscriber *s, const GwConf *conf) {
        static GwBusHandler table[GW__ENVELOPE__BODY_ERROR_REPLY + 1];
        sd_event_source *deadline = NULL;
        GwBus *bus = NULL;
        int r;

        table[GW__ENVELOPE__BODY_LINE_REGISTRATION] = (GwBusHandler) {
                "LineRegistration", on_line_registration, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) };
        r = sd_event_new(&s->event);
        if (r < 0)
                return r;
        r = gw_bus_new(s->event, conf, GW__SERVICE__SERVICE_REGD, &bus);
        if (r < 0)
                return r;
        gw_bus_set_handlers(bus, table, ELEMENTSOF(table), s);
        r = gw_bus_subscribe(bus, "LineRegistration");
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(s->event, &deadline, CLOCK_MONOTONIC, CHILD_DEADLINE_USEC, 0,
                                       on_deadline, NULL);
        if (r < 0)
                return r;
        r = sd_event_loop(s->event);
        sd_event_source_disable_unref(deadline);
        gw_bus_free(bus);
        sd_event_unref(s->event);
        return r;
}

static int run_subscriber_zmq(Subscriber *s, const GwConf *conf) {
        char ep[256];
        int hwm = BENCH_HWM, linger = 0, r;
        uint64_t start = mono_usec();
        void *zctx, *sub;

        r = gw_bus_endpoint(conf, GW__SERVICE__SERVICE_SIGD, "pub", ep, sizeof ep);
        if (r < 0)
                return r;
        zctx = zmq_ctx_new();
        sub = zctx ? zmq_socket(zctx, ZMQ_SUB) : NULL;
        if (!sub)
                return -zmq_errno();
        (void) zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
        (void) zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
        (void) zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "LineRegistration", strlen("LineRegistration"));
        if (zmq_connect(sub, ep) < 0) {
                r = -zmq_errno();
                goto finish;
        }

        r = 0;
        while (!s->res.done && mono_usec() - start < CHILD_DEADLINE_USEC) {
                zmq_msg_t topic, body;
                Gw__Envelope *env;
                zmq_pollitem_t item = { .socket = sub, .events = ZMQ_POLLIN };

                if (zmq_poll(&item, 1, 100) <= 0)
                        continue;
                /* Drain what is queued, as the bus does per wake-up. */
                for (unsigned i = 0; i < 256 && !s->res.done; i++) {
                        bool got;

                        zmq_msg_init(&topic);
                        zmq_msg_init(&body);
                        got = zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) >= 0;
                        if (got && zmq_msg_more(&topic) && zmq_msg_recv(&body, sub, 0) >= 0 &&
                            !zmq_msg_more(&body)) {
                                env = gw__envelope__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
                                if (env) {
                                        results_record(&s->res, env);
                                        gw__envelope__free_unpacked(env, NULL);
                                }
                        }
                        zmq_msg_close(&topic);
                        zmq_msg_close(&body);
                        if (!got)
                                break;
                }
        }
finish:
        zmq_close(sub);
        zmq_ctx_term(zctx);
        return r;
}

/* ------------------------------------------------------------------ parent */

typedef struct Child {
        pid_t pid;
        int in, out;                   /* our ends of its stdin / stdout, or -1 */
} Child;

static int spawn(Child *c, char *const argv[], bool want_stdin, bool want_stdout) {
        int in[2] = { -1, -1 }, out[2] = { -1, -1 };

        if ((want_stdin && pipe2(in, O_CLOEXEC) < 0) || (want_stdout && pipe2(out, O_CLOEXEC) < 0))
                return -errno;
        c->pid = fork();
        if (c->pid < 0)
                return -errno;
        if (c->pid == 0) {
                if (want_stdin)
                        dup2(in[0], STDIN_FILENO);
                if (want_stdout)
                        dup2(out[1], STDOUT_FILENO);
                /* argv[0] when it is a path (works under valgrind too), else ourselves. */
                execv(strchr(argv[0], '/') ? argv[0] : "/proc/self/exe", argv);
                _exit(127);
        }
        if (want_stdin)
                close(in[0]);
        if (want_stdout)
                close(out[1]);
        c->in = in[1];
        c->out = out[0];
        return 0;
}

/* Read a line starting with 'prefix' from fd within timeout_ms. */
static int read_line(int fd, const char *prefix, char *buf, size_t size, int timeout_ms) {
        size_t len = 0;
        uint64_t end = mono_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;

        while (mono_usec() < end && len < size - 1) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                ssize_t n;
                char *nl;

                if (poll(&pfd, 1, 100) <= 0)
                        continue;
                n = read(fd, buf + len, size - 1 - len);
                if (n <= 0)
                        return -EPIPE;
                len += (size_t) n;
                buf[len] = 0;
                while ((nl = strchr(buf, '\n'))) {
                        *nl = 0;
                        if (strncmp(buf, prefix, strlen(prefix)) == 0)
                                return 0;
                        len -= (size_t) (nl + 1 - buf);
                        memmove(buf, nl + 1, len + 1);
                }
        }
        return -ETIMEDOUT;
}

static void reap(Child *c, int timeout_ms) {
        uint64_t end = mono_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;

        if (c->in >= 0)
                close(c->in);
        if (c->out >= 0)
                close(c->out);
        c->in = c->out = -1;
        while (mono_usec() < end) {
                if (waitpid(c->pid, NULL, WNOHANG) == c->pid)
                        return;
                usleep(10000);
        }
        kill(c->pid, SIGKILL);
        (void) waitpid(c->pid, NULL, 0);
}

typedef struct Row {
        char *name;
        bool ok;
        size_t n_lat;
        uint64_t p50, p99, p999, max;
        size_t n_tp;
        uint64_t span_us, loaded_p50, loaded_p99;
} Row;

static int run_pair(char *exe, char *mode, char *dir, size_t n_lat, size_t n_tp,
                    uint64_t interval, Row *row) {
        char a_lat[32], a_tp[32], a_iv[32], line[512];
        Child sub = { .in = -1, .out = -1 }, pub = { .in = -1, .out = -1 };
        int r;

        snprintf(a_lat, sizeof a_lat, "%zu", n_lat);
        snprintf(a_tp, sizeof a_tp, "%zu", n_tp);
        snprintf(a_iv, sizeof a_iv, "%" PRIu64, interval);
        char *const sub_argv[] = { exe, (char *) "sub", mode, dir, a_lat, a_tp, NULL };
        char *const pub_argv[] = { exe, (char *) "pub", mode, dir, a_lat, a_tp, a_iv, NULL };

        *row = (Row) { .name = mode };
        r = spawn(&sub, sub_argv, false, true);
        if (r < 0)
                return r;
        r = spawn(&pub, pub_argv, true, false);
        if (r < 0) {
                reap(&sub, 0);
                return r;
        }

        r = read_line(sub.out, "READY", line, sizeof line, READY_TIMEOUT_MS);
        if (r >= 0 && write(pub.in, "go\n", 3) != 3)
                r = -EPIPE;
        if (r >= 0)
                r = read_line(sub.out, "RESULT", line, sizeof line, RESULT_TIMEOUT_MS);
        if (r >= 0 && sscanf(line, "RESULT %zu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %zu %" SCNu64
                             " %" SCNu64 " %" SCNu64, &row->n_lat, &row->p50, &row->p99, &row->p999, &row->max,
                             &row->n_tp, &row->span_us, &row->loaded_p50, &row->loaded_p99) != 9)
                r = -EBADMSG;
        row->ok = r >= 0;

        reap(&pub, 5000);            /* EOF on its stdin ends it */
        reap(&sub, 5000);
        return r;
}

static void print_table(const Row *rows, size_t n, size_t n_lat, size_t n_tp, uint64_t interval) {
        printf("\nfxsgw bus benchmark: LineRegistration envelope, %zu bytes packed + %zu-byte topic, ipc://\n",
               ({ BenchMessage m; bench_message_init(&m); m.lr.port = 1;
                  gw_envelope_stamp(&m.env, GW__SERVICE__SERVICE_SIGD, UINT64_MAX, UINT64_C(1) << 40);
                  gw__envelope__get_packed_size(&m.env); }), strlen(TOPIC));
        printf("latency: %zu messages paced every %" PRIu64 " us; throughput: %zu messages back to back\n\n",
               n_lat, interval, n_tp);
        printf("%-7s %9s %8s %8s %8s %8s | %10s %7s %12s %10s %10s\n", "path", "lat.recv", "p50 us", "p99 us",
               "p99.9 us", "max us", "tp.recv", "lost %", "msgs/s", "load p50", "load p99");
        for (size_t i = 0; i < n; i++) {
                const Row *r = &rows[i];
                double rate = r->span_us ? (double) (r->n_tp > 0 ? r->n_tp - 1 : 0) * 1e6 / (double) r->span_us : 0;
                double lost = n_tp ? 100.0 * (double) (n_tp - MIN(r->n_tp, n_tp)) / (double) n_tp : 0;

                if (!r->ok) {
                        printf("%-7s (failed)\n", r->name);
                        continue;
                }
                printf("%-7s %9zu %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " | %10zu %7.2f %12.0f %10" PRIu64
                       " %10" PRIu64 "\n", r->name, r->n_lat, r->p50, r->p99, r->p999, r->max, r->n_tp, lost, rate,
                       r->loaded_p50, r->loaded_p99);
        }
        printf("\nlat.recv: latency-phase messages received; load p50/p99: latency during the burst (queueing).\n");
}

static size_t parse_size(const char *s, size_t dflt) {
        char *end;
        unsigned long long v;

        if (!s)
                return dflt;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v == 0 || v > 100000000) {
                fprintf(stderr, "bench-bus: bad number '%s'\n", s);
                exit(2);
        }
        return (size_t) v;
}

static int run_parent(int argc, char **argv) {
        char dir[] = "/tmp/bench-bus-XXXXXX", cmd[64];
        size_t n_lat = parse_size(argc > 1 ? argv[1] : NULL, DEFAULT_LATENCY_MESSAGES);
        size_t n_tp = parse_size(argc > 2 ? argv[2] : NULL, DEFAULT_THROUGHPUT_MESSAGES);
        uint64_t interval = parse_size(argc > 3 ? argv[3] : NULL, DEFAULT_INTERVAL_US);
        static char *modes[] = { (char *) "gwbus", (char *) "zmq" };
        Row rows[ELEMENTSOF(modes)];
        int r, ret = EXIT_SUCCESS;

        if (argc > 4) {
                fprintf(stderr, "Usage: bench-bus [LATENCY_MESSAGES [THROUGHPUT_MESSAGES [INTERVAL_US]]]\n");
                return 2;
        }
        if (!mkdtemp(dir)) {
                perror("bench-bus: mkdtemp");
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                r = run_pair(argv[0], modes[i], dir, n_lat, n_tp, interval, &rows[i]);
                if (r < 0) {
                        fprintf(stderr, "bench-bus: %s run failed: %s\n", modes[i], strerror(-r));
                        ret = EXIT_FAILURE;
                }
        }
        print_table(rows, ELEMENTSOF(rows), n_lat, n_tp, interval);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) !system(cmd);
        return ret;
}

/* bench-bus sub|pub MODE DIR N_LAT N_TP [INTERVAL_US] */
static int run_child(int argc, char **argv) {
        char bus_dir[512];
        GwConf conf = {};
        bool pub, zmq;
        int r;

        if (argc < 6)
                return 2;
        pub = streq(argv[1], "pub");
        zmq = streq(argv[2], "zmq");
        if (pub && argc < 7)
                return 2;
        /* The bus needs nothing but the runtime directory from the config. */
        conf.runtime_dir = argv[3];
        snprintf(bus_dir, sizeof bus_dir, "%s/bus", argv[3]);
        (void) mkdir(bus_dir, 0700);

        if (pub) {
                Publisher p = {
                        .n_lat = parse_size(argv[4], 1),
                        .n_tp = parse_size(argv[5], 1),
                        .interval = parse_size(argv[6], 1),
                };
                (void) fcntl(STDIN_FILENO, F_SETFL, O_NONBLOCK);
                bench_message_init(&p.msg);
                r = zmq ? run_publisher_zmq(&p, &conf) : run_publisher_gwbus(&p, &conf);
        } else {
                Subscriber s = {};
                r = results_alloc(&s.res, parse_size(argv[4], 1), parse_size(argv[5], 1));
                if (r >= 0)
                        r = zmq ? run_subscriber_zmq(&s, &conf) : run_subscriber_gwbus(&s, &conf);
                if (r >= 0 && s.res.done)
                        results_print(&s.res);
                results_free(&s.res);
        }
        if (r < 0)
                fprintf(stderr, "bench-bus %s %s: %s\n", argv[1], argv[2], strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        if (argc > 1 && (streq(argv[1], "pub") || streq(argv[1], "sub")))
                return argc > 2 ? run_child(argc, argv) : 2;
        return run_parent(argc, argv);
}
