/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwtap.c: print every message on the fxsgw bus, decoded, one line each.
 *
 * A SUB socket connected to every daemon's PUB endpoint (gw_bus_tap_open);
 * decoding goes through the descriptors (gw-format), so a message type added
 * to gw.proto prints without a change here, and a body case this build does
 * not know prints as #<number>(<len> bytes). A malformed message is one warning
 * line on stderr and a count, never the end of the tap.
 *
 * Output goes to stdout and is flushed after every line, so a test or a
 * script can read it through a pipe. Messages for the operator (warnings,
 * errors) go to stderr as plain "gwtap: ..." lines: this is a terminal tool. */

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "gw-build-config.h"
#include "gw-bus.h"
#include "gw-conf.h"
#include "gw-format.h"
#include "gw-log.h"
#include "gw-macro.h"
#include "gw-tool.h"

#define TAP_BATCH 1024                 /* messages drained per wake-up */
#define TAP_TOPIC_MAX 256

static GwToolArgs arg;                 /* --config, --json */
static const char *arg_topic;
static uint64_t arg_count;             /* 0: no limit */
static uint64_t arg_timeout_usec;      /* 0: no limit */

static volatile sig_atomic_t stop_signal;

typedef struct Tap {
        void *zctx;
        void *sock;
        uint64_t printed;
        uint64_t malformed;
        bool output_closed;
} Tap;

static void on_signal(int sig) {
        stop_signal = sig;
}

static uint64_t mono_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void help(void) {
        printf("Usage: gwtap [OPTIONS]\n\n"
               "Print every message on the fxsgw bus, one line each.\n\n"
               "  -c --config FILE     configuration file (default: $FXSGW_CONFIG or /etc/fxsgw/fxsgw.yaml)\n"
               "  -j --json            JSON lines instead of text\n"
               "  -t --topic PREFIX    only topics starting with PREFIX (e.g. LineRegistration/3)\n"
               "  -n --count N         exit after N messages\n"
               "     --timeout DURATION  exit after this long (e.g. 10s, 500ms)\n"
               "  -h --help            show this help\n"
               "     --version          show the version\n\n"
               "Exit status: 0 on success (count reached, timeout, SIGINT/SIGTERM), 1 on error\n"
               "or when --timeout ends the tap before --count messages, 2 on bad arguments,\n"
               "78 for a bad configuration file.\n");
}

#define usage_error(...) gw_tool_usage_error("gwtap", __VA_ARGS__)

enum { ARG_TIMEOUT = 0x100 };

static int parse_option(int c, const char *value) {
        switch (c) {
        case 't':
                if (strlen(value) >= TAP_TOPIC_MAX)
                        return usage_error("topic prefix too long: '%s'", value);
                arg_topic = value;
                break;
        case 'n': {
                char *end;
                unsigned long long v;

                errno = 0;
                v = strtoull(value, &end, 10);
                if (errno != 0 || end == value || *end || v == 0 || value[0] == '-')
                        return usage_error("--count wants a positive number, got '%s'", value);
                arg_count = v;
                break;
        }
        default:
                assert(c == ARG_TIMEOUT);
                if (gw_parse_duration(value, &arg_timeout_usec) < 0 || arg_timeout_usec == 0)
                        return usage_error("--timeout wants a duration like 5s or 500ms, got '%s'", value);
        }
        return 0;
}

/* Returns 1 to go on, 0 to exit successfully (help), <0: -exit code. */
static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "topic",   required_argument, NULL, 't' },
                { "count",   required_argument, NULL, 'n' },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                {}
        };
        static const GwTool tool = {
                .name = "gwtap",
                .help = help,
                .short_options = "t:n:",
                .options = options,
                .option = parse_option,
        };

        return gw_tool_parse_argv(&tool, argc, argv, &arg);
}

static void warn_malformed(Tap *t, const char *why, const char *topic, size_t len) {
        t->malformed++;
        fprintf(stderr, "gwtap: warning: malformed message #%" PRIu64 " (%s), topic ", t->malformed, why);
        gw_format_json_string(stderr, strempty(topic), strlen(strempty(topic)));
        fprintf(stderr, ", %zu bytes, ignoring\n", len);
}

/* Topic bytes as a C string; anything but printable ASCII is shown escaped in the text form. */
static bool topic_is_plain(const char *s) {
        for (; *s; s++)
                if (*s <= ' ' || *s == 0x7f || *s == '"')
                        return false;
        return true;
}

static void print_envelope(Tap *t, const char *topic, const Gw__Envelope *env) {
        int r;

        if (arg.json || topic_is_plain(topic))
                r = gw_format_envelope(stdout, topic, env, arg.json ? GW_FORMAT_JSON : 0);
        else {
                /* Keep one message per line and the fields split by spaces. */
                _cleanup_free_ char *quoted = NULL;
                size_t n = 0;
                FILE *f = open_memstream(&quoted, &n);

                if (!f)
                        return (void) log_oom();
                gw_format_json_string(f, topic, strlen(topic));
                fclose(f);
                r = gw_format_envelope(stdout, quoted, env, 0);
        }
        fputc('\n', stdout);
        if (r < 0 || fflush(stdout) != 0 || ferror(stdout))
                t->output_closed = true;   /* EPIPE: the reader went away */
        t->printed++;
}

/* Receive one whole message (all its frames). Returns 1 if one was handled,
 * 0 if none was waiting, <0 on socket error. */
static int tap_receive_one(Tap *t) {
        zmq_msg_t frames[2];
        char topic[TAP_TOPIC_MAX];
        size_t n_frames = 0, extra = 0, total = 0;
        int more = 0, r;
        size_t more_len = sizeof more;
        Gw__Envelope *env;

        /* Frame 1: topic; frame 2: envelope; anything beyond is malformed. */
        for (size_t i = 0; i < 65536; i++) {
                zmq_msg_t m;

                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, t->sock, i == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                        r = zmq_errno();
                        zmq_msg_close(&m);
                        for (size_t k = 0; k < n_frames; k++)
                                zmq_msg_close(&frames[k]);
                        if (i == 0 && r == EAGAIN)
                                return 0;
                        return -r;
                }
                total += zmq_msg_size(&m);
                if (zmq_getsockopt(t->sock, ZMQ_RCVMORE, &more, &more_len) < 0)
                        more = 0;
                if (n_frames < ELEMENTSOF(frames)) {
                        /* zmq_msg_t must not be copied by assignment: move it. */
                        zmq_msg_init(&frames[n_frames]);
                        zmq_msg_move(&frames[n_frames++], &m);
                } else
                        extra++;
                zmq_msg_close(&m);
                if (!more)
                        break;
        }

        topic[0] = 0;
        if (n_frames >= 1) {
                size_t tl = MIN(zmq_msg_size(&frames[0]), sizeof topic - 1);
                memcpy(topic, zmq_msg_data(&frames[0]), tl);
                topic[tl] = 0;
                /* A NUL inside a topic would cut it short silently: show it. */
                if (memchr(topic, 0, tl))
                        for (size_t k = 0; k < tl; k++)
                                if (!topic[k])
                                        topic[k] = '?';
        }

        if (more)
                warn_malformed(t, "too many frames", topic, total);
        else if (n_frames != 2 || extra > 0)
                warn_malformed(t, n_frames < 2 ? "missing envelope frame" : "too many frames", topic, total);
        else if (zmq_msg_size(&frames[0]) >= TAP_TOPIC_MAX)
                warn_malformed(t, "topic too long", topic, total);
        else if (zmq_msg_size(&frames[1]) > GW_BUS_MAX_MESSAGE)
                warn_malformed(t, "too large", topic, total);
        else if (!(env = gw__envelope__unpack(NULL, zmq_msg_size(&frames[1]), zmq_msg_data(&frames[1]))))
                warn_malformed(t, "not an envelope", topic, total);
        else {
                print_envelope(t, topic, env);
                gw__envelope__free_unpacked(env, NULL);
        }

        for (size_t k = 0; k < n_frames; k++)
                zmq_msg_close(&frames[k]);
        return 1;
}

static int run(int argc, char **argv) {
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        Tap t = {};
        uint64_t deadline = 0;
        struct sigaction sa = { .sa_handler = on_signal };   /* no SA_RESTART: zmq_poll returns EINTR */
        int r;

        log_open("gwtap");
        r = parse_argv(argc, argv);
        if (r <= 0)
                return -r;

        r = gw_tool_load_config("gwtap", arg.config, &conf);
        if (r < 0)
                return -r;

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        t.zctx = zmq_ctx_new();
        if (!t.zctx) {
                fprintf(stderr, "gwtap: Failed to create a ZeroMQ context: %s\n", zmq_strerror(zmq_errno()));
                return EXIT_FAILURE;
        }
        r = gw_bus_tap_open(conf, t.zctx, arg_topic, &t.sock);
        if (r < 0) {
                fprintf(stderr, "gwtap: Failed to connect to the bus: %s\n", strerror(-r));
                zmq_ctx_term(t.zctx);
                return EXIT_FAILURE;
        }

        if (arg_timeout_usec > 0)
                deadline = mono_usec() + arg_timeout_usec;

        r = 0;
        while (!stop_signal && !t.output_closed && (arg_count == 0 || t.printed < arg_count)) {
                zmq_pollitem_t item = { .socket = t.sock, .events = ZMQ_POLLIN };
                long timeout_ms = 1000;
                int k;

                if (deadline > 0) {
                        uint64_t now = mono_usec();
                        if (now >= deadline)
                                break;
                        timeout_ms = (long) MIN((uint64_t) timeout_ms, (deadline - now + 999) / 1000);
                }
                k = zmq_poll(&item, 1, timeout_ms);
                if (k < 0) {
                        if (zmq_errno() == EINTR)
                                continue;
                        r = -zmq_errno();
                        break;
                }
                for (unsigned i = 0; i < TAP_BATCH && !t.output_closed &&
                                     (arg_count == 0 || t.printed < arg_count); i++) {
                        k = tap_receive_one(&t);
                        if (k == 0)
                                break;
                        if (k < 0) {
                                r = k;
                                break;
                        }
                }
                if (r < 0)
                        break;
        }

        zmq_close(t.sock);
        zmq_ctx_term(t.zctx);

        if (t.malformed > 0)
                fprintf(stderr, "gwtap: %" PRIu64 " malformed message(s) ignored\n", t.malformed);
        if (r < 0) {
                fprintf(stderr, "gwtap: Failed to receive from the bus: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        if (arg_count > 0 && t.printed < arg_count && !stop_signal && !t.output_closed) {
                fprintf(stderr, "gwtap: timed out after %" PRIu64 " of %" PRIu64 " messages\n",
                        t.printed, arg_count);
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        return run(argc, argv);
}
