/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwsupd-e2e.c: the real gwsupd supervising real mediad/linehwd and fixture daemons.
 *
 * The binaries come from meson in $GWSUPD_BIN, $MEDIAD_BIN, $LINEHWD_BIN and
 * $FIXTURE_BIN (the harness takes argv[1] as a test name).
 * Each case runs gwsupd on its own temporary runtime directory, with the
 * child table given by $GWSUPD_CHILDREN (test-only), and watches it through
 * its control socket (StatusRequest), the bus (ServiceState) and the
 * fixtures' start records. Measured times are printed. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "gw-bus.h"
#include "gw-test.h"
#include "gw-tests.h"

DEFINE_TEST_MAIN;

static const char *bin_gwsupd, *bin_mediad, *bin_linehwd, *bin_fixture, *bin_sigd;
static const char *tmpdir;
static char run_dir[256], config_path[256];
/* sigd's SIP port: reserved for this test (never a fixed number another run may hold). */
static uint16_t sip_port;
static GwConf conf;
static const char *watchdog_interval = "1s";

#define MS(x) ((uint64_t) (x) * USEC_PER_MSEC)

static uint64_t mono(void) {
        return now_usec(CLOCK_MONOTONIC);
}

static void write_config(unsigned restart_limit, const char *extra) {
        FILE *f = fopen(config_path, "we");

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
                "  - port: 2\n"
                "    number: \"1002\"\n"
                "    profile: main\n"
                "supervisor:\n"
                "  watchdog_interval: %s\n"
                "  restart_limit: %u\n"
                "bus:\n"
                "  runtime_dir: %s\n"
                "%s", sip_port, watchdog_interval, restart_limit, run_dir, extra ? extra : "");
        ASSERT_EQ(fclose(f), 0);
        ASSERT_OK(chmod(config_path, 0600));
}

/* A fresh runtime dir per case, so cases do not see each other's files. */
static void new_case(const char *name, unsigned restart_limit) {
        static unsigned n = 0;

        snprintf(run_dir, sizeof run_dir, "%s/run-%u-%s", tmpdir, ++n, name);
        conf = (GwConf) { .runtime_dir = run_dir };
        write_config(restart_limit, NULL);
        ASSERT_OK(setenv("GWSUPD_TEST_DIR", run_dir, 1));
        ASSERT_TRUE(mkdir(run_dir, 0750) == 0);
}

static void setup(void);

static const char *mediad_bin(void) {
        setup();
        return bin_mediad;
}

static const char *linehwd_bin(void) {
        setup();
        return bin_linehwd;
}

static char fixture_path_buf[8][256];
static const char *fixture(const char *mode) {
        static unsigned n = 0;
        char *p = fixture_path_buf[n++ % 8];

        setup();
        snprintf(p, 256, "%s/fixture-%s", tmpdir, mode);
        if (access(p, F_OK) < 0)
                ASSERT_OK(symlink(bin_fixture, p));
        return p;
}

static pid_t spawn_gwsupd(const char *children) {
        _cleanup_free_ char *set = NULL;
        char *env[] = { (char *) "GWSUPD_CHILDREN", (char *) "NOTIFY_SOCKET", (char *) "WATCHDOG_USEC",
                        (char *) "WATCHDOG_PID", NULL };

        if (children) {
                ASSERT_TRUE(asprintf(&set, "GWSUPD_CHILDREN=%s", children) > 0);
                env[0] = set;
        }
        /* the config is written already (write_config) */
        return gw_test_spawn_daemon(bin_gwsupd, config_path, NULL, NULL, env, GW_TEST_SPAWN_DIE_WITH_TEST);
}

/* waitpid with a deadline; returns the raw status or -1 on timeout. */
static int wait_exit(pid_t pid, uint64_t timeout) {
        int status;

        return gw_test_wait_exit(NULL, pid, timeout, &status) < 0 ? -1 : status;
}

static Gw__StatusReply *status_now(Gw__Envelope **ret_env) {
        Gw__Envelope req = GW__ENVELOPE__INIT, *reply = NULL;
        Gw__StatusRequest sr = GW__STATUS_REQUEST__INIT;

        req.body_case = GW__ENVELOPE__BODY_STATUS_REQUEST;
        req.status_request = &sr;
        if (gw_bus_ctl_call(&conf, GW__SERVICE__SERVICE_GWSUPD, &req, MS(500), &reply) < 0)
                return NULL;
        if (reply->body_case != GW__ENVELOPE__BODY_STATUS_REPLY) {
                gw__envelope__free_unpacked(reply, NULL);
                return NULL;
        }
        *ret_env = reply;
        return reply->status_reply;
}

typedef struct ChildView {
        Gw__ServiceRunState state;
        int pid;
        unsigned restarts;
        char status_text[128];
} ChildView;

/* The state of child #i (the order of $GWSUPD_CHILDREN). false if no answer. */
static bool child_view(size_t i, ChildView *ret) {
        Gw__Envelope *env = NULL;
        Gw__StatusReply *s = status_now(&env);
        bool ok = false;

        if (s && i < s->n_services) {
                const Gw__ServiceState *ss = s->services[i];
                *ret = (ChildView) {
                        .state = ss->state,
                        .pid = ss->has_pid ? ss->pid : 0,
                        .restarts = ss->restarts,
                };
                snprintf(ret->status_text, sizeof ret->status_text, "%s", strempty(ss->status_text));
                ok = true;
        }
        if (env)
                gw__envelope__free_unpacked(env, NULL);
        return ok;
}

static bool wait_state(size_t i, Gw__ServiceRunState state, uint64_t timeout, ChildView *ret) {
        uint64_t end = mono() + timeout;
        ChildView v;

        while (mono() < end) {
                if (child_view(i, &v) && v.state == state) {
                        if (ret)
                                *ret = v;
                        return true;
                }
                usleep(20000);
        }
        return false;
}

/* The fixture's start records: times (us) and pids. Returns the count. */
static size_t read_starts(const char *mode, uint64_t *times, int *pids, size_t max) {
        char path[512];
        unsigned long long t;
        int pid;
        size_t n = 0;
        FILE *f;

        snprintf(path, sizeof path, "%s/fixture-%s.starts", run_dir, mode);
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (n < max && fscanf(f, "%llu %d", &t, &pid) == 2) {
                if (times)
                        times[n] = t;
                if (pids)
                        pids[n] = pid;
                n++;
        }
        fclose(f);
        return n;
}

static bool pid_gone(int pid) {
        /* Orphans are reparented to us (child subreaper): reap them here. */
        (void) waitpid(pid, NULL, WNOHANG);
        return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

static void children_env(char *buf, size_t n, const char *const *names, const char *const *paths, size_t k) {
        size_t off = 0;

        buf[0] = 0;
        for (size_t i = 0; i < k; i++)
                off += (size_t) snprintf(buf + off, n - off, "%s%s:%s", i ? "," : "", names[i], paths[i]);
        ASSERT_TRUE(off < n);
}

static void setup(void) {
        struct rlimit no_core = { 0, 0 };

        if (config_path[0])
                return;
        bin_gwsupd = gw_test_require_env("GWSUPD_BIN");
        bin_mediad = gw_test_require_env("MEDIAD_BIN");
        bin_linehwd = gw_test_require_env("LINEHWD_BIN");
        bin_fixture = gw_test_require_env("FIXTURE_BIN");
        bin_sigd = gw_test_require_env("SIGD_BIN");
        tmpdir = gw_test_tmpdir("test-gwsupd-e2e");
        snprintf(config_path, sizeof config_path, "%s/fxsgw.yaml", tmpdir);
        sip_port = gw_test_udp_port("127.0.0.1", NULL);
        /* The watchdog case aborts a fixture: no core files. */
        ASSERT_OK(setrlimit(RLIMIT_CORE, &no_core));
        /* Daemons outliving gwsupd are reparented to us, so we can reap them. */
        ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
}

TEST(gwsupd_supervises) {
        const char *names[] = { "mediad", "linehwd", "hang", "exit78", "crash" };
        const char *paths[] = { mediad_bin(), linehwd_bin(), fixture("hang"), fixture("exit78"), fixture("crash") };
        char env[2048], pidfile[300], buf[32];
        ChildView v, mediad, linehwd;
        uint64_t t0, times[16];
        int pids[16], status, fd;
        size_t n;
        pid_t gw, second;

        setup();
        new_case("supervises", 50);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);

        t0 = mono();
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &mediad));
        ASSERT_TRUE(wait_state(1, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &linehwd));
        fprintf(stderr, "mediad and linehwd READY %.0f ms after gwsupd start\n", (double) (mono() - t0) / 1000);
        ASSERT_TRUE(mediad.pid > 0 && linehwd.pid > 0);
        ASSERT_EQ(mediad.restarts, 0);
        /* STATUS= from the daemon is carried through. */
        ASSERT_TRUE(strstr(linehwd.status_text, "2 line(s)") != NULL);

        /* The pid file names gwsupd; a second gwsupd refuses to start. */
        snprintf(pidfile, sizeof pidfile, "%s/gwsupd.pid", run_dir);
        fd = open(pidfile, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        n = (size_t) read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n] = 0;
        ASSERT_EQ(atoi(buf), gw);
        second = spawn_gwsupd(env);
        status = wait_exit(second, MS(5000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 1);
        ASSERT_TRUE(child_view(0, &v) && v.pid == mediad.pid);    /* the first one is unharmed */

        /* exit 78: failed, never restarted. */
        ASSERT_TRUE(wait_state(3, GW__SERVICE_RUN_STATE__RUN_STATE_FAILED, MS(3000), &v));
        ASSERT_EQ(v.restarts, 0);
        ASSERT_EQ(v.pid, 0);

        /* SIGKILL mediad: RUNNING again (READY=1 from a new pid) within 1 s,
         * seen as gwsupd's ServiceState on the bus. */
        {
                void *zctx = zmq_ctx_new(), *tap = NULL;
                bool seen = false;
                uint64_t end;

                ASSERT_NOT_NULL(zctx);
                ASSERT_OK(gw_bus_tap_open(&conf, zctx, "ServiceState/mediad", &tap));
                usleep(300 * 1000);                  /* let the subscription reach gwsupd */
                t0 = mono();
                ASSERT_OK(kill(mediad.pid, SIGKILL));
                end = t0 + MS(3000);
                while (!seen && mono() < end) {
                        zmq_pollitem_t item = { .socket = tap, .events = ZMQ_POLLIN };
                        char topic[128];
                        uint8_t data[4096];
                        int k;

                        if (zmq_poll(&item, 1, 50) <= 0)
                                continue;
                        ASSERT_TRUE(zmq_recv(tap, topic, sizeof topic, 0) >= 0);
                        k = zmq_recv(tap, data, sizeof data, 0);
                        ASSERT_TRUE(k > 0 && k <= (int) sizeof data);
                        Gw__Envelope *e = gw__envelope__unpack(NULL, (size_t) k, data);
                        ASSERT_NOT_NULL(e);
                        if (e->source == GW__SERVICE__SERVICE_GWSUPD &&
                            e->body_case == GW__ENVELOPE__BODY_SERVICE_STATE &&
                            e->service_state->state == GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING &&
                            e->service_state->has_pid && e->service_state->pid != mediad.pid)
                                seen = true;
                        gw__envelope__free_unpacked(e, NULL);
                }
                zmq_close(tap);
                zmq_ctx_term(zctx);
                ASSERT_TRUE(seen);
                fprintf(stderr, "mediad SIGKILLed -> READY again after %.1f ms\n", (double) (mono() - t0) / 1000);
                ASSERT_TRUE(mono() - t0 < MS(1000));
        }
        ASSERT_TRUE(child_view(0, &v));
        ASSERT_EQ(v.restarts, 1);
        ASSERT_TRUE(v.pid != mediad.pid);
        ASSERT_TRUE(child_view(1, &v));                       /* linehwd untouched */
        ASSERT_EQ(v.pid, linehwd.pid);
        ASSERT_EQ(v.restarts, 0);

        /* A child that is READY and then silent is aborted after the watchdog
         * interval (1 s) and started again. */
        t0 = mono();
        while (read_starts("hang", NULL, NULL, 16) < 2 && mono() - t0 < MS(6000))
                usleep(50000);
        n = read_starts("hang", times, pids, 16);
        ASSERT_TRUE(n >= 2);
        fprintf(stderr, "watchdog-silent child restarted %.0f ms after its previous start\n",
                (double) (times[1] - times[0]) / 1000);
        ASSERT_TRUE(times[1] - times[0] >= MS(1000));
        ASSERT_TRUE(times[1] - times[0] < MS(3000));
        ASSERT_TRUE(pid_gone(pids[0]));

        /* A crash loop backs off 100, 200, 400, 800, 1600 ms. */
        t0 = mono();
        while (read_starts("crash", NULL, NULL, 16) < 6 && mono() - t0 < MS(8000))
                usleep(50000);
        n = read_starts("crash", times, NULL, 16);
        ASSERT_TRUE(n >= 6);
        for (size_t i = 1; i < 6; i++) {
                uint64_t d = times[i] - times[i - 1], want = MS(100) << (i - 1);
                fprintf(stderr, "crash restart %zu after %.1f ms (back-off %llu ms)\n", i, (double) d / 1000,
                        (unsigned long long) (want / USEC_PER_MSEC));
                ASSERT_TRUE(d >= want);
                ASSERT_TRUE(d < want + MS(400));
        }
        ASSERT_TRUE(child_view(4, &v));
        ASSERT_TRUE(v.restarts >= 5);

        /* The exit-78 child is still not restarted. */
        ASSERT_EQ(read_starts("exit78", NULL, NULL, 16), 1);

        /* SIGTERM: exit 0 within 2 s, no daemon left, pid file gone. */
        ASSERT_TRUE(child_view(0, &mediad));
        ASSERT_TRUE(child_view(1, &linehwd));
        n = read_starts("hang", NULL, pids, 16);
        t0 = mono();
        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(5000));
        fprintf(stderr, "SIGTERM -> gwsupd exited after %.1f ms\n", (double) (mono() - t0) / 1000);
        ASSERT_TRUE(status >= 0);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        ASSERT_TRUE(mono() - t0 < MS(2000));
        ASSERT_TRUE(pid_gone(mediad.pid));
        ASSERT_TRUE(pid_gone(linehwd.pid));
        ASSERT_TRUE(pid_gone(pids[n - 1]));
        ASSERT_TRUE(access(pidfile, F_OK) < 0 && errno == ENOENT);
}

TEST(gwsupd_gives_up_after_restart_limit) {
        const char *names[] = { "good", "crash" };
        const char *paths[] = { fixture("good"), fixture("crash") };
        char env[1024];
        int status, pids[4];
        uint64_t t0;
        pid_t gw;

        setup();
        new_case("giveup", 3);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        t0 = mono();
        gw = spawn_gwsupd(env);
        /* 3 restarts allowed (0.1 + 0.2 + 0.4 s), the 4th is refused. */
        status = wait_exit(gw, MS(10000));
        fprintf(stderr, "gave up after %.1f ms\n", (double) (mono() - t0) / 1000);
        ASSERT_TRUE(status >= 0);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_TRUE(WEXITSTATUS(status) != 0);
        ASSERT_EQ(read_starts("crash", NULL, NULL, 16), 4);
        ASSERT_EQ(read_starts("good", NULL, pids, 4), 1);
        ASSERT_TRUE(pid_gone(pids[0]));                         /* the healthy one was stopped */
}

TEST(gwsupd_sigkills_what_ignores_sigterm) {
        const char *names[] = { "stubborn" };
        const char *paths[] = { fixture("stubborn") };
        char env[512];
        int status, pids[4];
        uint64_t t0, took;
        pid_t gw;

        setup();
        new_case("stubborn", 10);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), NULL));
        t0 = mono();
        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(6000));
        took = mono() - t0;
        fprintf(stderr, "SIGTERM-ignoring child: gwsupd exited after %.1f ms\n", (double) took / 1000);
        ASSERT_TRUE(status >= 0 && WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        ASSERT_TRUE(took >= MS(1900) && took < MS(3000));
        ASSERT_EQ(read_starts("stubborn", NULL, pids, 4), 1);
        ASSERT_TRUE(pid_gone(pids[0]));
}

TEST(gwsupd_death_leaves_daemons_talking) {
        const char *names[] = { "mediad" };
        const char *paths[] = { mediad_bin() };
        Gw__Envelope req = GW__ENVELOPE__INIT, *reply = NULL;
        Gw__StatusRequest sr = GW__STATUS_REQUEST__INIT;
        char env[512];
        ChildView v, w;
        int status;
        pid_t gw;

        setup();
        new_case("death", 10);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &v));
        ASSERT_OK(kill(gw, SIGKILL));
        ASSERT_TRUE(wait_exit(gw, MS(2000)) >= 0);
        usleep(300 * 1000);
        /* No PR_SET_PDEATHSIG: mediad lives on and answers on its control socket. */
        ASSERT_FALSE(pid_gone(v.pid));
        req.body_case = GW__ENVELOPE__BODY_STATUS_REQUEST;
        req.status_request = &sr;
        ASSERT_OK(gw_bus_ctl_call(&conf, GW__SERVICE__SERVICE_MEDIAD, &req, MS(2000), &reply));
        ASSERT_EQ(reply->body_case, GW__ENVELOPE__BODY_STATUS_REPLY);
        ASSERT_EQ(reply->source, GW__SERVICE__SERVICE_MEDIAD);
        ASSERT_NOT_NULL(reply->status_reply->counters);
        gw__envelope__free_unpacked(reply, NULL);

        /* A new gwsupd adopts it (gwsupd.children: same pid and start time, the
         * same binary): no second mediad, no restart. */
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &w));
        ASSERT_EQ(w.pid, v.pid);
        ASSERT_EQ(w.restarts, 0);
        ASSERT_FALSE(pid_gone(v.pid));

        /* It is not the new gwsupd's child, yet its death is seen (pidfd) and it is restarted. */
        ASSERT_OK(kill(v.pid, SIGKILL));
        ASSERT_TRUE(wait_exit(v.pid, MS(2000)) >= 0);          /* reparented to us: we reap it */
        {
                uint64_t end = mono() + MS(5000);
                bool back = false;

                while (!back && mono() < end) {
                        back = child_view(0, &w) && w.state == GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING &&
                               w.pid != v.pid && w.pid > 0;
                        if (!back)
                                usleep(20000);
                }
                ASSERT_TRUE(back);
        }
        ASSERT_EQ(w.restarts, 1);

        /* A clean stop stops what it adopted, too (here: what it restarted). */
        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(3000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(pid_gone(w.pid));
}

/* A clean stop of a gwsupd that adopted a daemon: SIGTERM reaches it, and
 * gwsupd waits for its end (pidfd) before exiting. */
TEST(gwsupd_adopted_daemon_stopped_cleanly) {
        const char *names[] = { "mediad", "linehwd" };
        const char *paths[] = { mediad_bin(), linehwd_bin() };
        char env[1024];
        ChildView v[2], w[2];
        int status;
        pid_t gw;

        setup();
        new_case("adopt-stop", 10);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        for (size_t i = 0; i < 2; i++)
                ASSERT_TRUE(wait_state(i, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &v[i]));
        ASSERT_OK(kill(gw, SIGKILL));
        ASSERT_TRUE(wait_exit(gw, MS(2000)) >= 0);
        gw = spawn_gwsupd(env);
        for (size_t i = 0; i < 2; i++) {
                ASSERT_TRUE(wait_state(i, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &w[i]));
                ASSERT_EQ(w[i].pid, v[i].pid);
        }
        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(3000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* gwsupd saw them end before exiting: they are gone (zombies reparented to us at most). */
        for (size_t i = 0; i < 2; i++) {
                ASSERT_TRUE(wait_exit(v[i].pid, MS(1000)) >= 0);
                ASSERT_TRUE(pid_gone(v[i].pid));
        }
}

/* Collect GatewayStopping and UnregisterDone off the bus while gwsupd stops. */
typedef struct StopSeen {
        bool gateway_stopping;
        uint32_t deadline_ms;
        bool unregister_done;
        uint64_t unregister_done_at;
} StopSeen;

static int stop_with_tap(pid_t gw, uint64_t timeout, StopSeen *seen, uint64_t *ret_took) {
        void *zctx = zmq_ctx_new(), *tap = NULL;
        uint64_t t0, end;
        int status = -1;

        ASSERT_NOT_NULL(zctx);
        ASSERT_OK(gw_bus_tap_open(&conf, zctx, "", &tap));
        usleep(300 * 1000);
        *seen = (StopSeen) {};
        t0 = mono();
        ASSERT_OK(kill(gw, SIGTERM));
        end = t0 + timeout;
        while (mono() < end) {
                zmq_pollitem_t item = { .socket = tap, .events = ZMQ_POLLIN };
                char topic[128];
                uint8_t data[8192];
                int k;

                if (status < 0) {
                        pid_t r = waitpid(gw, &status, WNOHANG);
                        if (r != gw)
                                status = -1;
                        else
                                *ret_took = mono() - t0;
                }
                if (zmq_poll(&item, 1, 5) <= 0) {
                        if (status >= 0)
                                break;
                        continue;
                }
                ASSERT_TRUE(zmq_recv(tap, topic, sizeof topic, 0) >= 0);
                k = zmq_recv(tap, data, sizeof data, 0);
                ASSERT_TRUE(k > 0 && k <= (int) sizeof data);
                Gw__Envelope *e = gw__envelope__unpack(NULL, (size_t) k, data);
                ASSERT_NOT_NULL(e);
                if (e->body_case == GW__ENVELOPE__BODY_GATEWAY_STOPPING && e->source == GW__SERVICE__SERVICE_GWSUPD) {
                        seen->gateway_stopping = true;
                        seen->deadline_ms = e->gateway_stopping->deadline_ms;
                }
                if (e->body_case == GW__ENVELOPE__BODY_UNREGISTER_DONE && e->source == GW__SERVICE__SERVICE_REGD) {
                        seen->unregister_done = true;
                        seen->unregister_done_at = mono() - t0;
                }
                gw__envelope__free_unpacked(e, NULL);
        }
        zmq_close(tap);
        zmq_ctx_term(zctx);
        return status;
}

/* With the real regd: GatewayStopping goes out, regd answers UnregisterDone
 * and gwsupd stops the daemons right then, not after the 1.5 s deadline. */
TEST(gwsupd_stop_waits_for_regd) {
        const char *regd = getenv("REGD_BIN");
        const char *names[] = { "regd", "mediad" };
        const char *paths[] = { regd, mediad_bin() };
        char env[1024];
        ChildView r, m;
        StopSeen seen;
        uint64_t took = 0;
        int status;
        pid_t gw;

        if (!regd || access(regd, X_OK) < 0) {
                fprintf(stderr, "regd not built ('%s'): skipping this case.\n", strna(regd));
                return;
        }
        new_case("regd", 10);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &r));
        ASSERT_TRUE(wait_state(1, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &m));
        status = stop_with_tap(gw, MS(5000), &seen, &took);
        fprintf(stderr, "with regd: UnregisterDone %.1f ms, gwsupd exited %.1f ms after SIGTERM\n",
                (double) seen.unregister_done_at / 1000, (double) took / 1000);
        ASSERT_TRUE(seen.gateway_stopping);
        ASSERT_EQ(seen.deadline_ms, 1500);
        ASSERT_TRUE(seen.unregister_done);
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(took < MS(1500));
        ASSERT_TRUE(pid_gone(r.pid));
        ASSERT_TRUE(pid_gone(m.pid));

        /* A regd that cannot answer (stopped with SIGSTOP): gwsupd waits the
         * 1.5 s, SIGTERMs, and SIGKILLs it at 2 s. */
        watchdog_interval = "10s";      /* the frozen regd must not be caught by its watchdog first */
        new_case("regd-stopped", 10);
        watchdog_interval = "1s";
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &r));
        ASSERT_TRUE(wait_state(1, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &m));
        ASSERT_OK(kill(r.pid, SIGSTOP));
        status = stop_with_tap(gw, MS(5000), &seen, &took);
        fprintf(stderr, "with a frozen regd: gwsupd exited %.1f ms after SIGTERM\n", (double) took / 1000);
        ASSERT_TRUE(seen.gateway_stopping);
        ASSERT_FALSE(seen.unregister_done);
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(took >= MS(1900) && took < MS(3000));
        ASSERT_TRUE(pid_gone(r.pid));
        ASSERT_TRUE(pid_gone(m.pid));
}

TEST(gwsupd_bad_config_exits_78) {
        int status;
        pid_t gw;

        setup();
        new_case("badconfig", 10);
        write_config(10, "no_such_section:\n  x: 1\n");
        gw = spawn_gwsupd(NULL);
        status = wait_exit(gw, MS(5000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 78);
}

/* ---------------------------------------------------------------- the fd store */

static bool read_file_has(const char *path, const char *needle) {
        char buf[4096];
        ssize_t n;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[MAX(n, 0)] = 0;
        return strstr(buf, needle) != NULL;
}

static bool wait_file_has(const char *path, const char *needle, uint64_t timeout) {
        uint64_t end = mono() + timeout;

        while (mono() < end) {
                if (read_file_has(path, needle))
                        return true;
                usleep(10000);
        }
        return false;
}

/* A UDP socket on 127.0.0.1 connected to port: an ICMP port unreachable
 * would show as ECONNREFUSED on it. */
static int udp_client(uint16_t port) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                   .sin_port = htons(port) };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(connect(fd, (struct sockaddr *) &sin, sizeof sin));
        return fd;
}

static int socket_error(int fd) {
        int e = 0;
        socklen_t len = sizeof e;

        ASSERT_OK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len));
        return e;
}

TEST(gwsupd_fd_store_passes_sockets) {
        const char *names[] = { "store" };
        const char *paths[] = { fixture("store") };
        char env[1024], path[512], want[64];
        unsigned port = 0, port2 = 0;
        ChildView v;
        pid_t gw;
        int cl, status;

        setup();
        new_case("fdstore", 50);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &v));
        snprintf(path, sizeof path, "%s/fixture-store.store", run_dir);
        ASSERT_TRUE(wait_file_has(path, "bound ", MS(1000)));
        {
                FILE *f = fopen(path, "re");
                ASSERT_NOT_NULL(f);
                ASSERT_EQ(fscanf(f, "bound %u", &port), 1);
                fclose(f);
        }
        ASSERT_TRUE(port > 0);

        /* Killed: a datagram sent while no instance runs waits in the stored
         * socket; the next instance gets that socket (once, though it was
         * stored twice) and reads it. No ICMP error comes back. */
        cl = udp_client((uint16_t) port);
        ASSERT_OK(kill(v.pid, SIGKILL));
        ASSERT_TRUE(send(cl, "while-down", 10, 0) == 10);
        snprintf(want, sizeof want, "inherited %u while-down\n", port);
        ASSERT_TRUE(wait_file_has(path, want, MS(3000)));
        ASSERT_TRUE(read_file_has(path, "fd 3 udp\n"));
        ASSERT_FALSE(read_file_has(path, "fd 4"));
        ASSERT_EQ(socket_error(cl), 0);
        close(cl);

        /* That instance removed it from the store (FDSTOREREMOVE=1): the
         * next one is passed nothing and binds a new socket. */
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(3000), &v));
        ASSERT_OK(kill(v.pid, SIGKILL));
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RESTARTING, MS(3000), NULL));
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(3000), &v));
        ASSERT_EQ(read_starts("store", NULL, NULL, 16), 3);
        {
                FILE *f = fopen(path, "re");
                char line[256];
                unsigned bound = 0, p;

                ASSERT_NOT_NULL(f);
                while (fgets(line, sizeof line, f))
                        if (sscanf(line, "bound %u", &p) == 1 && ++bound == 2)
                                port2 = p;
                fclose(f);
                ASSERT_EQ(bound, 2);
        }
        ASSERT_TRUE(port2 > 0);

        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(5000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void send_options(int fd, unsigned n, uint16_t from_port) {
        char msg[1024];
        int len = snprintf(msg, sizeof msg,
                           "OPTIONS sip:127.0.0.1:%u SIP/2.0\r\n"
                           "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-e2e-%u\r\n"
                           "Max-Forwards: 70\r\n"
                           "From: <sip:probe@127.0.0.1>;tag=e2e%u\r\n"
                           "To: <sip:127.0.0.1:%u>\r\n"
                           "Call-ID: e2e-%u@127.0.0.1\r\n"
                           "CSeq: 1 OPTIONS\r\n"
                           "Content-Length: 0\r\n\r\n", sip_port, from_port, n, n, sip_port, n);
        ASSERT_TRUE(send(fd, msg, (size_t) len, 0) == len);
}

/* The answer to the OPTIONS with Call-ID e2e-<n>: its status code, 0 on timeout. */
static int wait_answer(int fd, unsigned n, uint64_t timeout) {
        uint64_t end = mono() + timeout;
        char buf[4096], callid[64];

        snprintf(callid, sizeof callid, "Call-ID: e2e-%u@", n);
        while (mono() < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, 50) <= 0)
                        continue;
                k = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
                ASSERT_TRUE(k > 0);                          /* ECONNREFUSED here: an ICMP came back */
                buf[k] = 0;
                if (strstr(buf, callid) && strncmp(buf, "SIP/2.0 ", 8) == 0)
                        return atoi(buf + 8);
        }
        return 0;
}

static uint64_t sigd_rx_waited(void) {
        Gw__Envelope req = GW__ENVELOPE__INIT, *reply = NULL;
        Gw__StatusRequest sr = GW__STATUS_REQUEST__INIT;
        uint64_t v = UINT64_MAX;

        req.body_case = GW__ENVELOPE__BODY_STATUS_REQUEST;
        req.status_request = &sr;
        if (gw_bus_ctl_call(&conf, GW__SERVICE__SERVICE_SIGD, &req, MS(1000), &reply) < 0)
                return UINT64_MAX;
        if (reply->body_case == GW__ENVELOPE__BODY_STATUS_REPLY && reply->status_reply->sip)
                v = reply->status_reply->sip->rx_waited;
        gw__envelope__free_unpacked(reply, NULL);
        return v;
}

/* The real sigd under gwsupd: its SIP socket goes to gwsupd's store, so an
 * OPTIONS sent while sigd is dead is answered by the next sigd, and the
 * sender never sees an ICMP port unreachable. */
TEST(gwsupd_sigd_keeps_its_sip_socket) {
        const char *names[] = { "sigd" };
        const char *paths[] = { bin_sigd };
        char env[1024];
        uint64_t t0, t_ready = 0, t_answer;
        struct sockaddr_in me;
        socklen_t len = sizeof me;
        ChildView v, v2;
        pid_t gw;
        int cl, status;

        setup();
        paths[0] = bin_sigd;
        new_case("sigd-socket", 50);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &v));
        cl = udp_client(sip_port);
        ASSERT_OK(getsockname(cl, (struct sockaddr *) &me, &len));
        send_options(cl, 1, ntohs(me.sin_port));
        ASSERT_EQ(wait_answer(cl, 1, MS(2000)), 200);

        for (unsigned round = 0; round < 3; round++) {
                t0 = mono();
                ASSERT_OK(kill(v.pid, SIGKILL));
                send_options(cl, 10 + round, ntohs(me.sin_port));    /* while sigd is down */
                send_options(cl, 20 + round, ntohs(me.sin_port));
                ASSERT_EQ(wait_answer(cl, 10 + round, MS(3000)), 200);
                t_answer = mono() - t0;
                ASSERT_EQ(wait_answer(cl, 20 + round, MS(1000)), 200);
                while (mono() - t0 < MS(3000)) {
                        if (child_view(0, &v2) && v2.state == GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING &&
                            v2.pid != v.pid) {
                                t_ready = mono() - t0;
                                break;
                        }
                        usleep(2000);
                }
                ASSERT_TRUE(t_ready > 0);
                ASSERT_EQ(socket_error(cl), 0);
                ASSERT_EQ(sigd_rx_waited(), 2);
                fprintf(stderr, "sigd SIGKILLed -> READY seen after %.1f ms; the OPTIONS sent while it was down "
                        "answered after %.1f ms; 2 datagrams waited\n", (double) t_ready / 1000,
                        (double) t_answer / 1000);
                v = v2;
        }
        close(cl);
        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(5000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A daemon left by a gwsupd that ran another binary of it (another install) is
 * not adopted: the new gwsupd stops it before starting its own (two would
 * fight over the bus endpoints). */
TEST(gwsupd_replaces_a_daemon_of_another_binary) {
        const char *names[] = { "mediad" };
        const char *paths[] = { mediad_bin() };
        char env[1024], other[300], cmd[700];
        ChildView v, w;
        int status;
        pid_t gw;

        setup();
        new_case("replace", 10);
        snprintf(other, sizeof other, "%s/other", run_dir);
        ASSERT_OK(mkdir(other, 0755));
        snprintf(other, sizeof other, "%s/other/mediad", run_dir);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", bin_mediad, other);
        ASSERT_EQ(system(cmd), 0);
        paths[0] = other;
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &v));
        ASSERT_OK(kill(gw, SIGKILL));
        ASSERT_TRUE(wait_exit(gw, MS(2000)) >= 0);

        paths[0] = bin_mediad;
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_exit(v.pid, MS(3000)) >= 0);          /* the old one, reparented to us, ends */
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &w));
        ASSERT_TRUE(w.pid != v.pid);
        ASSERT_EQ(w.restarts, 0);
        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(3000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(pid_gone(w.pid));
}

/* An adopted daemon's WATCHDOG=1 pings reach the new gwsupd (same notify socket
 * path): one that hangs (SIGSTOP) is killed through the pidfd and restarted. */
TEST(gwsupd_adopted_daemon_watchdog) {
        const char *names[] = { "mediad" };
        const char *paths[] = { mediad_bin() };
        char env[512];
        ChildView v, w;
        uint64_t t0, end;
        int status;
        pid_t gw;

        setup();
        new_case("adopt-watchdog", 10);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &v));
        ASSERT_OK(kill(gw, SIGKILL));
        ASSERT_TRUE(wait_exit(gw, MS(2000)) >= 0);
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &w));
        ASSERT_EQ(w.pid, v.pid);
        /* Healthy for three watchdog intervals (1 s): its pings arrive. */
        usleep(3 * 1000 * 1000);
        ASSERT_TRUE(child_view(0, &w) && w.pid == v.pid && w.restarts == 0);

        t0 = mono();
        ASSERT_OK(kill(v.pid, SIGSTOP));
        end = t0 + MS(6000);
        while (mono() < end && !(child_view(0, &w) && w.state == GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING &&
                                 w.pid != v.pid && w.pid > 0))
                usleep(20000);
        ASSERT_TRUE(w.pid != v.pid && w.state == GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING);
        ASSERT_EQ(w.restarts, 1);
        fprintf(stderr, "adopted mediad stopped -> a new one RUNNING after %.0f ms (watchdog 1 s, SIGKILL 1 s later)\n",
                (double) (mono() - t0) / 1000);
        status = wait_exit(v.pid, MS(1000));                   /* SIGKILLed while stopped; we reap it */
        ASSERT_TRUE(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(3000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(pid_gone(w.pid));
}

/* The inode of the UDP socket bound to 127.0.0.1:port (/proc/net/udp), 0 if none. */
static unsigned long udp_inode(uint16_t port) {
        FILE *f = fopen("/proc/net/udp", "re");
        char line[512];
        unsigned long ino = 0;

        ASSERT_NOT_NULL(f);
        while (!ino && fgets(line, sizeof line, f)) {
                unsigned a, p;
                unsigned long i;

                if (sscanf(line, " %*u: %8X:%4X %*X:%*X %*X %*X:%*X %*X:%*X %*X %*u %*u %lu", &a, &p, &i) == 3 &&
                    p == port && a == htonl(INADDR_LOOPBACK) && i != 0)
                        ino = i;
        }
        fclose(f);
        return ino;
}

/* Does process pid hold a descriptor of socket inode ino? */
static bool holds_socket(pid_t pid, unsigned long ino) {
        char dir[64], want[64], path[384], link[128];
        struct dirent *de;
        bool found = false;
        DIR *d;

        snprintf(dir, sizeof dir, "/proc/%d/fd", (int) pid);
        snprintf(want, sizeof want, "socket:[%lu]", ino);
        d = opendir(dir);
        if (!d)
                return false;
        while (!found && (de = readdir(d))) {
                ssize_t n;

                snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
                n = readlink(path, link, sizeof link - 1);
                if (n > 0) {
                        link[n] = 0;
                        found = streq(link, want);
                }
        }
        closedir(d);
        return found;
}

/* gwsupd SIGKILLed, a new one adopts sigd: sigd hands it its SIP socket again
 * (FDSTORE=1 when the new gwsupd's bus subscribes to it), so when the adopted
 * sigd is SIGKILLed in turn, the OPTIONS sent while it is down wait in that
 * socket and the next sigd answers them: no ICMP port unreachable. */
TEST(gwsupd_adopted_sigd_hands_back_its_sip_socket) {
        const char *names[] = { "sigd" };
        const char *paths[] = { bin_sigd };
        char env[1024];
        struct sockaddr_in me;
        socklen_t len = sizeof me;
        ChildView v, w;
        unsigned long ino;
        uint64_t end;
        pid_t gw;
        int cl, status;

        setup();
        paths[0] = bin_sigd;
        new_case("adopt-sigd", 50);
        children_env(env, sizeof env, names, paths, ELEMENTSOF(names));
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &v));
        ino = udp_inode(sip_port);
        ASSERT_TRUE(ino != 0);
        ASSERT_TRUE(holds_socket(gw, ino));                    /* in the first gwsupd's store */

        ASSERT_OK(kill(gw, SIGKILL));
        ASSERT_TRUE(wait_exit(gw, MS(2000)) >= 0);
        gw = spawn_gwsupd(env);
        ASSERT_TRUE(wait_state(0, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING, MS(5000), &w));
        ASSERT_EQ(w.pid, v.pid);                               /* adopted, not replaced */
        /* The new store gets the very socket back. */
        end = mono() + MS(5000);
        while (!holds_socket(gw, ino) && mono() < end)
                usleep(10000);
        ASSERT_TRUE(holds_socket(gw, ino));

        cl = udp_client(sip_port);
        ASSERT_OK(getsockname(cl, (struct sockaddr *) &me, &len));
        ASSERT_OK(kill(v.pid, SIGKILL));
        send_options(cl, 40, ntohs(me.sin_port));              /* while sigd is down */
        send_options(cl, 41, ntohs(me.sin_port));
        ASSERT_EQ(wait_answer(cl, 40, MS(3000)), 200);
        ASSERT_EQ(wait_answer(cl, 41, MS(1000)), 200);
        ASSERT_EQ(socket_error(cl), 0);
        ASSERT_TRUE(wait_exit(v.pid, MS(1000)) >= 0);
        end = mono() + MS(3000);
        while (mono() < end && !(child_view(0, &w) && w.state == GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING &&
                                 w.pid != v.pid && w.pid > 0))
                usleep(10000);
        ASSERT_TRUE(w.state == GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING && w.pid != v.pid);
        ASSERT_EQ(w.restarts, 1);
        ASSERT_EQ(sigd_rx_waited(), 2);
        ASSERT_EQ(udp_inode(sip_port), ino);                   /* one and the same socket throughout */
        close(cl);
        ASSERT_OK(kill(gw, SIGTERM));
        status = wait_exit(gw, MS(5000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* What fxsgw-sigd.socket does under systemd, played by systemd-socket-activate:
 * it binds the address, waits for the first datagram and only then starts sigd
 * with the socket as "sip"; sigd answers that datagram from the passed socket. */
TEST(sigd_takes_a_socket_unit_socket) {
        static const char *const activate = "/usr/bin/systemd-socket-activate";
        struct sockaddr_in me;
        socklen_t len = sizeof me;
        pid_t pid;
        int cl, status;

        char listen[32];

        setup();
        /* package systemd, which scripts/install-deps.sh installs: missing means a broken install */
        if (access(activate, X_OK) < 0)
                GW_TEST_FAIL("%s is not installed", activate);
        snprintf(listen, sizeof listen, "127.0.0.1:%u", sip_port);
        new_case("socket-unit", 50);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                unsetenv("NOTIFY_SOCKET");
                execl(activate, activate, "-d", "-l", listen, "--fdname=sip", bin_sigd, "--config",
                      config_path, (char *) NULL);
                _exit(127);
        }
        /* it binds, sigd is not running yet */
        ASSERT_TRUE(gw_test_port_wait_bound(NULL, SOCK_DGRAM, "127.0.0.1", sip_port, MS(5000)));
        cl = udp_client(sip_port);
        ASSERT_OK(getsockname(cl, (struct sockaddr *) &me, &len));
        send_options(cl, 30, ntohs(me.sin_port));
        ASSERT_EQ(wait_answer(cl, 30, MS(3000)), 200);
        ASSERT_EQ(socket_error(cl), 0);
        ASSERT_EQ(sigd_rx_waited(), 1);                        /* the datagram that started it */
        close(cl);
        ASSERT_OK(kill(pid, SIGTERM));                          /* it became sigd (exec) */
        status = wait_exit(pid, MS(5000));
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
