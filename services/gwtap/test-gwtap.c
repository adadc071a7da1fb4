/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwtap.c: run the gwtap binary against a PUB socket on the sigd endpoint of a temporary gateway. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <zmq.h>

#include "gw-bus.h"
#include "gw-conf.h"
#include "gw-macro.h"
#include "gw-test.h"
#include "gw-tests.h"

typedef struct Child {
        pid_t pid;
        int out, err;
        char *out_buf, *err_buf;
        size_t out_len, err_len;
} Child;

static const char *tmpdir;
static char config_path[256];

static char *gwtap_path(void) {
        static char path[512];
        const char *p = getenv("GWTAP");

        snprintf(path, sizeof path, "%s", p ? p : "build-tools/services/gwtap/gwtap");
        return path;
}

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void setup(void) {
        FILE *f;

        if (config_path[0])
                return;
        tmpdir = gw_test_tmpdir("test-gwtap");
        snprintf(config_path, sizeof config_path, "%s/fxsgw.yaml", tmpdir);
        f = fopen(config_path, "we");
        ASSERT_NOT_NULL(f);
        fprintf(f,
                "sip:\n"
                "  listen: 127.0.0.1:%u\n"
                "profiles:\n"
                "  - name: main\n"
                "    proxy: 127.0.0.1:5060\n"
                "lines:\n"
                "  - port: 1\n"
                "    number: \"1001\"\n"
                "    profile: main\n"
                "bus:\n"
                "  runtime_dir: %s/run\n", gw_test_udp_port("127.0.0.1", NULL), tmpdir);
        ASSERT_EQ(fclose(f), 0);
        ASSERT_OK(chmod(config_path, 0600));
}

static void spawn(Child *c, char *const argv[]) {
        int out[2], err[2];

        ASSERT_OK(pipe2(out, O_CLOEXEC));
        ASSERT_OK(pipe2(err, O_CLOEXEC));
        *c = (Child) { .pid = fork() };
        ASSERT_TRUE(c->pid >= 0);
        if (c->pid == 0) {
                dup2(out[1], STDOUT_FILENO);
                dup2(err[1], STDERR_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        c->out = out[0];
        c->err = err[0];
        fcntl(c->out, F_SETFL, O_NONBLOCK);
        fcntl(c->err, F_SETFL, O_NONBLOCK);
}

static void drain(int fd, char **buf, size_t *len) {
        char tmp[4096];
        ssize_t n;

        while ((n = read(fd, tmp, sizeof tmp)) > 0) {
                *buf = realloc(*buf, *len + (size_t) n + 1);
                ASSERT_NOT_NULL(*buf);
                memcpy(*buf + *len, tmp, (size_t) n);
                *len += (size_t) n;
                (*buf)[*len] = 0;
        }
}

/* Wait up to timeout_ms for 'needle' on the child's stdout. */
static bool wait_output(Child *c, const char *needle, int timeout_ms) {
        uint64_t end = mono_ms() + (uint64_t) timeout_ms;

        while (mono_ms() < end) {
                struct pollfd p = { .fd = c->out, .events = POLLIN };
                drain(c->out, &c->out_buf, &c->out_len);
                drain(c->err, &c->err_buf, &c->err_len);
                if (c->out_buf && strstr(c->out_buf, needle))
                        return true;
                (void) poll(&p, 1, 20);
        }
        return false;
}

/* Exit code of the child, or -1 after killing it when it does not end in time. */
static int wait_exit(Child *c, int timeout_ms) {
        uint64_t end = mono_ms() + (uint64_t) timeout_ms;
        int status;

        for (;;) {
                pid_t p = waitpid(c->pid, &status, WNOHANG);
                drain(c->out, &c->out_buf, &c->out_len);
                drain(c->err, &c->err_buf, &c->err_len);
                if (p == c->pid)
                        break;
                if (mono_ms() > end) {
                        kill(c->pid, SIGKILL);
                        waitpid(c->pid, &status, 0);
                        return -1;
                }
                usleep(10000);
        }
        drain(c->out, &c->out_buf, &c->out_len);
        drain(c->err, &c->err_buf, &c->err_len);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void child_done(Child *c) {
        close(c->out);
        close(c->err);
        free(c->out_buf);
        free(c->err_buf);
}

static int run_exit_code(char *const argv[]) {
        Child c;
        int r;

        spawn(&c, argv);
        r = wait_exit(&c, 10000);
        child_done(&c);
        return r;
}

static void assert_json_lines(const char *s) {
        FILE *p = popen("python3 -c 'import json,sys\n"
                        "for l in sys.stdin:\n"
                        "    json.loads(l)'", "w");
        int status;

        ASSERT_NOT_NULL(p);
        fputs(s, p);
        status = pclose(p);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                GW_TEST_FAIL("invalid JSON lines:\n%s", s);
}

/* A PUB socket standing in for sigd: an XPUB, so it sees gwtap's subscription arrive. */
typedef struct FakePub {
        GwConf *conf;
        void *zctx, *pub;
        uint64_t seq;
} FakePub;

static void fake_pub_open(FakePub *f) {
        char ep[256], dir[300];
        _cleanup_free_ char *error = NULL;
        int linger = 0;

        setup();
        if (gw_conf_load(config_path, &f->conf, &error) < 0)
                GW_TEST_FAIL("config: %s", strna(error));
        snprintf(dir, sizeof dir, "%s/run", tmpdir);
        (void) mkdir(dir, 0700);
        snprintf(dir, sizeof dir, "%s/run/bus", tmpdir);
        (void) mkdir(dir, 0700);
        ASSERT_OK(gw_bus_endpoint(f->conf, GW__SERVICE__SERVICE_SIGD, "pub", ep, sizeof ep));
        f->zctx = zmq_ctx_new();
        f->pub = zmq_socket(f->zctx, ZMQ_XPUB);
        ASSERT_NOT_NULL(f->pub);
        zmq_setsockopt(f->pub, ZMQ_LINGER, &linger, sizeof linger);
        ASSERT_OK(zmq_bind(f->pub, ep));
}

static void fake_pub_close(FakePub *f) {
        zmq_close(f->pub);
        zmq_ctx_term(f->zctx);
        gw_conf_free(f->conf);
}

static void send_frames(FakePub *f, const void *a, size_t na, const void *b, size_t nb, bool two) {
        ASSERT_TRUE(zmq_send(f->pub, a, na, two ? ZMQ_SNDMORE : 0) >= 0);
        if (two)
                ASSERT_TRUE(zmq_send(f->pub, b, nb, 0) >= 0);
}

static void send_envelope(FakePub *f, const char *topic, Gw__Envelope *env, const uint8_t *extra, size_t n_extra) {
        uint8_t buf[2048];
        size_t len;

        gw_envelope_stamp(env, GW__SERVICE__SERVICE_SIGD, 0xabcdef, ++f->seq);
        len = gw__envelope__get_packed_size(env);
        ASSERT_TRUE(len + n_extra <= sizeof buf);
        gw__envelope__pack(env, buf);
        if (n_extra)
                memcpy(buf + len, extra, n_extra);
        send_frames(f, topic, strlen(topic), buf, len + n_extra, true);
}

static void send_line(FakePub *f, unsigned port, char *number) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineRegistration lr = GW__LINE_REGISTRATION__INIT;
        char topic[64];

        lr.port = port;
        lr.number = number;
        lr.state = GW__REG_STATE__REG_REGISTERING;
        env.body_case = GW__ENVELOPE__BODY_LINE_REGISTRATION;
        env.line_registration = &lr;
        snprintf(topic, sizeof topic, "LineRegistration/%u", port);
        send_envelope(f, topic, &env, NULL, 0);
}

/* gwtap connects asynchronously: wait until its subscription reaches us,
 * after which nothing we publish is lost. */
static void wait_subscribed(FakePub *f, Child *c) {
        uint64_t end = mono_ms() + 10000;

        while (mono_ms() < end) {
                zmq_pollitem_t item = { .socket = f->pub, .events = ZMQ_POLLIN };
                char buf[256];
                int n;

                if (zmq_poll(&item, 1, 50) <= 0)
                        continue;
                n = zmq_recv(f->pub, buf, sizeof buf, ZMQ_DONTWAIT);
                if (n >= 1 && buf[0] == 1)
                        return;
        }
        drain(c->err, &c->err_buf, &c->err_len);
        GW_TEST_FAIL("gwtap never subscribed; stderr: %s", strna(c->err_buf));
}

TEST(gwtap_bad_arguments) {
        char *const a1[] = { gwtap_path(), (char *) "--bogus", NULL };
        char *const a2[] = { gwtap_path(), (char *) "--count", (char *) "x", NULL };
        char *const a3[] = { gwtap_path(), (char *) "--count", (char *) "0", NULL };
        char *const a4[] = { gwtap_path(), (char *) "extra", NULL };
        char *const a5[] = { gwtap_path(), (char *) "--config", NULL };
        char *const a6[] = { gwtap_path(), (char *) "--timeout", (char *) "soon", NULL };
        char *const help[] = { gwtap_path(), (char *) "--help", NULL };

        ASSERT_EQ(run_exit_code(a1), 2);
        ASSERT_EQ(run_exit_code(a2), 2);
        ASSERT_EQ(run_exit_code(a3), 2);
        ASSERT_EQ(run_exit_code(a4), 2);
        ASSERT_EQ(run_exit_code(a5), 2);
        ASSERT_EQ(run_exit_code(a6), 2);
        ASSERT_EQ(run_exit_code(help), 0);
}

TEST(gwtap_bad_config) {
        char bad[300];
        FILE *f;

        setup();
        snprintf(bad, sizeof bad, "%s/bad.yaml", tmpdir);
        f = fopen(bad, "we");
        ASSERT_NOT_NULL(f);
        fputs("sip: [unclosed\n", f);
        fclose(f);
        char *const a[] = { gwtap_path(), (char *) "--config", bad, NULL };
        ASSERT_EQ(run_exit_code(a), 78);
}

/* JSON lines, malformed frames counted, unknown body case, clean exit on SIGTERM. */
TEST(gwtap_json_malformed_unknown_sigterm) {
        FakePub f = {};
        Child c;
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__GatewayStopping gs = GW__GATEWAY_STOPPING__INIT;
        static const uint8_t unknown_body[] = { 0xE2, 0x03, 0x02, 'h', 'i' };   /* field 60, 2 bytes */
        static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };

        fake_pub_open(&f);
        char *const argv[] = { gwtap_path(), (char *) "--config", config_path, (char *) "--json",
                               (char *) "--timeout", (char *) "20s", NULL };
        spawn(&c, argv);
        wait_subscribed(&f, &c);

        /* one frame only; three frames; not an envelope */
        send_frames(&f, "LineRegistration/1", 18, NULL, 0, false);
        ASSERT_TRUE(zmq_send(f.pub, "X", 1, ZMQ_SNDMORE) >= 0);
        ASSERT_TRUE(zmq_send(f.pub, "a", 1, ZMQ_SNDMORE) >= 0);
        ASSERT_TRUE(zmq_send(f.pub, "b", 1, 0) >= 0);
        send_frames(&f, "Junk", 4, garbage, sizeof garbage, true);
        /* a body case from a newer build */
        gw__envelope__init(&env);
        send_envelope(&f, "Future/1", &env, unknown_body, sizeof unknown_body);
        /* an ordinary message after all that, with a correlation id */
        gw__envelope__init(&env);
        gs.deadline_ms = 1234;
        env.body_case = GW__ENVELOPE__BODY_GATEWAY_STOPPING;
        env.gateway_stopping = &gs;
        env.has_correlation_id = true;
        env.correlation_id = 77;
        send_envelope(&f, "GatewayStopping", &env, NULL, 0);

        ASSERT_TRUE(wait_output(&c, "\"deadline_ms\":1234", 5000));
        kill(c.pid, SIGTERM);
        ASSERT_EQ(wait_exit(&c, 5000), 0);

        assert_json_lines(c.out_buf);
        if (!strstr(c.out_buf, "\"source\":\"sigd\",\"instance_id\":\"0000000000abcdef\""))
                GW_TEST_FAIL("no header in: %s", c.out_buf);
        ASSERT_NOT_NULL(strstr(c.out_buf, "\"topic\":\"Future/1\",\"type\":\"#60\",\"body\":null,"
                                          "\"unknown\":{\"#60\":\"(2 bytes)\"}}\n"));
        ASSERT_NOT_NULL(strstr(c.out_buf, "\"topic\":\"GatewayStopping\",\"correlation_id\":77,"
                                          "\"type\":\"GatewayStopping\",\"body\":{\"deadline_ms\":1234}}\n"));
        ASSERT_TRUE(strstr(c.out_buf, "Junk") == NULL);
        /* three warnings and the summary */
        ASSERT_NOT_NULL(c.err_buf);
        ASSERT_NOT_NULL(strstr(c.err_buf, "malformed message #1 (missing envelope frame)"));
        ASSERT_NOT_NULL(strstr(c.err_buf, "malformed message #2 (too many frames)"));
        ASSERT_NOT_NULL(strstr(c.err_buf, "malformed message #3 (not an envelope), topic \"Junk\""));
        ASSERT_NOT_NULL(strstr(c.err_buf, "3 malformed message(s) ignored"));
        child_done(&c);
        fake_pub_close(&f);
}

/* Text, a topic filter and --count: exits by itself after N matching messages. */
TEST(gwtap_text_topic_count) {
        FakePub f = {};
        Child c;

        fake_pub_open(&f);
        char *const argv[] = { gwtap_path(), (char *) "--config", config_path,
                               (char *) "--topic", (char *) "LineRegistration/", (char *) "--count", (char *) "3",
                               (char *) "--timeout", (char *) "20s", NULL };
        spawn(&c, argv);
        wait_subscribed(&f, &c);
        send_line(&f, 1, "1001");                        /* message 1 */

        {
                Gw__Envelope env = GW__ENVELOPE__INIT;
                Gw__GatewayStopping gs = GW__GATEWAY_STOPPING__INIT;
                gs.deadline_ms = 1;
                env.body_case = GW__ENVELOPE__BODY_GATEWAY_STOPPING;
                env.gateway_stopping = &gs;
                send_envelope(&f, "GatewayStopping", &env, NULL, 0);   /* filtered out */
        }
        send_line(&f, 2, "1002");                        /* message 2 */
        send_line(&f, 3, "1003");                        /* message 3: exit */
        for (unsigned i = 0; i < 20; i++)
                send_line(&f, 4, "never-printed");

        ASSERT_EQ(wait_exit(&c, 5000), 0);
        ASSERT_NOT_NULL(c.out_buf);
        ASSERT_NOT_NULL(strstr(c.out_buf, " sigd LineRegistration/1 seq=1 LineRegistration port=1 number=\"1001\""));
        ASSERT_NOT_NULL(strstr(c.out_buf, " sigd LineRegistration/2 seq=3 "));
        ASSERT_NOT_NULL(strstr(c.out_buf, " LineRegistration port=2 number=\"1002\" state=REG_REGISTERING\n"));
        ASSERT_NOT_NULL(strstr(c.out_buf, " LineRegistration port=3 number=\"1003\" state=REG_REGISTERING\n"));
        ASSERT_TRUE(strstr(c.out_buf, "GatewayStopping") == NULL);
        ASSERT_TRUE(strstr(c.out_buf, "never-printed") == NULL);
        /* exactly three lines, each starting with a UTC timestamp */
        size_t lines = 0;
        for (const char *p = c.out_buf; (p = strchr(p, '\n')); p++)
                lines++;
        ASSERT_EQ(lines, 3);
        ASSERT_TRUE(c.out_buf[4] == '-' && c.out_buf[10] == 'T' && c.out_buf[23] == 'Z');
        child_done(&c);
        fake_pub_close(&f);
}

/* --timeout ends a tap that is still short of --count: exit 1, said on stderr. */
TEST(gwtap_timeout) {
        Child c;

        setup();
        char *const argv[] = { gwtap_path(), (char *) "--config", config_path, (char *) "--count",
                               (char *) "5", (char *) "--timeout", (char *) "300ms", NULL };
        spawn(&c, argv);
        ASSERT_EQ(wait_exit(&c, 5000), 1);
        ASSERT_NOT_NULL(c.err_buf);
        ASSERT_NOT_NULL(strstr(c.err_buf, "timed out after 0 of 5 messages"));
        child_done(&c);
}

DEFINE_TEST_MAIN
