/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwctl.c: run the gwctl binary: arguments, config check, and status against
 * stand-in gwsupd and regd control sockets (the real GwBus on an sd-event loop). */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>

#include "gw-bus.h"
#include "gw-conf.h"
#include "gw-macro.h"
#include "gw-test.h"
#include "gw-tests.h"

#define REAL_FAILURE_US UINT64_C(1764005000123456)   /* 2025-11-24T17:23:20.123Z */

static const char *tmpdir;
static char config_path[300];
static char pid_path[300];

typedef struct Run {
        int exit_code;
        char *out;
        char *err;
} Run;

static void run_done(Run *r) {
        free(r->out);
        free(r->err);
}

static char *gwctl_path(void) {
        static char path[512];
        const char *p = getenv("GWCTL");

        snprintf(path, sizeof path, "%s", p ? p : "build-tools/services/gwctl/gwctl");
        return path;
}

static void setup(void) {
        char text[1024];

        if (config_path[0])
                return;
        tmpdir = gw_test_tmpdir("test-gwctl");
        snprintf(config_path, sizeof config_path, "%s/fxsgw.yaml", tmpdir);
        snprintf(pid_path, sizeof pid_path, "%s/run/gwsupd.pid", tmpdir);
        snprintf(text, sizeof text,
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
        gw_test_write_file(config_path, text);
        snprintf(text, sizeof text, "%s/run", tmpdir);
        ASSERT_OK(mkdir(text, 0700));
}

/* ---- the child: stdout/stderr collected on the loop, exit ends the loop */

typedef struct Collect {
        char *buf;
        size_t len;
} Collect;

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Collect *c = userdata;
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof tmp);

        if (n <= 0) {
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        c->buf = realloc(c->buf, c->len + (size_t) n + 1);
        ASSERT_NOT_NULL(c->buf);
        memcpy(c->buf + c->len, tmp, (size_t) n);
        c->len += (size_t) n;
        c->buf[c->len] = 0;
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        int *code = userdata;

        *code = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        GW_TEST_FAIL("gwctl did not finish in time");
}

/* Run gwctl with argv on loop e (which may serve control sockets meanwhile). */
static void run_gwctl(sd_event *e, char *const argv[], Run *ret) {
        int out[2], err[2], code = -1;
        Collect co = {}, ce = {};
        sd_event_source *so = NULL, *se = NULL, *sc = NULL, *st = NULL;
        sigset_t ss;
        pid_t pid;

        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        ASSERT_OK(sigprocmask(SIG_BLOCK, &ss, NULL));
        ASSERT_OK(pipe2(out, O_CLOEXEC));
        ASSERT_OK(pipe2(err, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                sigprocmask(SIG_UNBLOCK, &ss, NULL);
                dup2(out[1], STDOUT_FILENO);
                dup2(err[1], STDERR_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        ASSERT_OK(sd_event_add_io(e, &so, out[0], EPOLLIN, on_output, &co));
        ASSERT_OK(sd_event_add_io(e, &se, err[0], EPOLLIN, on_output, &ce));
        ASSERT_OK(sd_event_add_child(e, &sc, pid, WEXITED, on_child, &code));
        ASSERT_OK(sd_event_add_time_relative(e, &st, CLOCK_MONOTONIC, 10 * USEC_PER_SEC, 0, on_timeout, NULL));
        ASSERT_OK(sd_event_loop(e));

        /* Whatever is still in the pipes after the exit. */
        on_output(so, out[0], EPOLLIN, &co);
        on_output(so, out[0], EPOLLIN, &co);
        on_output(se, err[0], EPOLLIN, &ce);
        on_output(se, err[0], EPOLLIN, &ce);
        sd_event_source_disable_unref(so);
        sd_event_source_disable_unref(se);
        sd_event_source_disable_unref(sc);
        sd_event_source_disable_unref(st);
        close(out[0]);
        close(err[0]);
        *ret = (Run) { .exit_code = code, .out = co.buf ? co.buf : strdup(""), .err = ce.buf ? ce.buf : strdup("") };
}

static int run_simple(char *const argv[], Run *ret) {
        sd_event *e = NULL;

        ASSERT_OK(sd_event_new(&e));
        run_gwctl(e, argv, ret);
        sd_event_unref(e);
        return ret->exit_code;
}

static void check_json(const char *json, const char *python_asserts) {
        char script[300], data[300], cmd[1024];
        int status;

        snprintf(data, sizeof data, "%s/out.json", tmpdir);
        snprintf(script, sizeof script, "%s/check.py", tmpdir);
        gw_test_write_file(data, json);
        gw_test_write_file(script, python_asserts);
        snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
                 "exec(open(sys.argv[2]).read())' '%s' '%s'", data, script);
        status = system(cmd);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                GW_TEST_FAIL("JSON check failed for: %s", json);
}

/* ---- stand-in daemons */

static Gw__ServiceState svc_sigd = GW__SERVICE_STATE__INIT, svc_regd = GW__SERVICE_STATE__INIT;
static Gw__ServiceState *services[] = { &svc_sigd, &svc_regd };
static Gw__ProxyCounters counters = GW__PROXY_COUNTERS__INIT;
static Gw__ProxyEntryStatus proxy_main = GW__PROXY_ENTRY_STATUS__INIT, proxy_red = GW__PROXY_ENTRY_STATUS__INIT;
static Gw__ProxyEntryStatus *proxies[] = { &proxy_main, &proxy_red };
static Gw__ProfileStatus profile = GW__PROFILE_STATUS__INIT;
static Gw__ProfileStatus *profiles[] = { &profile };
static Gw__LineStatus line1 = GW__LINE_STATUS__INIT, line2 = GW__LINE_STATUS__INIT;
static Gw__LineStatus *lines[] = { &line1, &line2 };
static Gw__StatusReply supd_reply = GW__STATUS_REPLY__INIT, regd_reply = GW__STATUS_REPLY__INIT;
static unsigned supd_asked, regd_asked;

static void fill_replies(void) {
        svc_sigd.service = GW__SERVICE__SERVICE_SIGD;
        svc_sigd.state = GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING;
        svc_sigd.has_pid = true;
        svc_sigd.pid = 4242;
        svc_sigd.has_restarts = true;
        svc_sigd.restarts = 1;
        svc_regd.service = GW__SERVICE__SERVICE_REGD;
        svc_regd.state = GW__SERVICE_RUN_STATE__RUN_STATE_RESTARTING;
        supd_reply.n_services = 2;
        supd_reply.services = services;

        profile.name = (char *) "main";
        profile.active_proxy = (char *) "b.example.net:5070";
        profile.active_target = (char *) "127.0.0.2:5070";
        profile.n_proxies = 2;
        profile.proxies = proxies;
        proxy_main.address = (char *) "a.example.net";
        proxy_main.role = GW__PROXY_ROLE__ROLE_MAIN;
        proxy_main.state = GW__PROXY_HEALTH__HEALTH_DOWN;
        proxy_main.last_failure_reason = (char *) "timeout";
        proxy_main.has_last_failure_real_us = true;
        proxy_main.last_failure_real_us = REAL_FAILURE_US;
        proxy_main.has_held_until_real_us = true;                  /* a 503 with Retry-After: 10 */
        proxy_main.held_until_real_us = REAL_FAILURE_US + 10 * USEC_PER_SEC;
        counters.has_sent = counters.has_timeouts = counters.has_r503 = counters.has_failovers = true;
        counters.sent = 10;
        counters.timeouts = 3;
        counters.r503 = 1;
        counters.failovers = 1;
        proxy_main.counters = &counters;
        proxy_red.address = (char *) "b.example.net:5070";
        proxy_red.role = GW__PROXY_ROLE__ROLE_REDUNDANT;
        proxy_red.state = GW__PROXY_HEALTH__HEALTH_UP;
        line1.port = 1;
        line1.number = (char *) "1001";
        line1.registration = GW__REG_STATE__REG_REGISTERED;
        line1.registered_via = (char *) "b.example.net:5070";
        line1.has_expires_in_s = true;
        line1.expires_in_s = 3599;
        line2.port = 2;
        line2.number = (char *) "10\"02";
        line2.registration = GW__REG_STATE__REG_FAILED;
        line2.reason = (char *) "403";
        line2.has_expires_in_s = true;
        line2.expires_in_s = -1;
        regd_reply.n_profiles = 1;
        regd_reply.profiles = profiles;
        regd_reply.n_lines = 2;
        regd_reply.lines = lines;
}

static int on_ctl(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        Gw__StatusReply *r = userdata;

        ASSERT_EQ(req->body_case, GW__ENVELOPE__BODY_STATUS_REQUEST);
        ASSERT_EQ(req->source, GW__SERVICE__SERVICE_GWCTL);
        if (r == &supd_reply)
                supd_asked++;
        else
                regd_asked++;
        reply->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        reply->status_reply = r;
        return 0;
}

static void write_pid_file(pid_t pid) {
        char text[32];

        snprintf(text, sizeof text, "%d\n", (int) pid);
        gw_test_write_file(pid_path, text);
}

/* ---- tests */

TEST(gwctl_arguments) {
        Run r;
        char *const none[] = { gwctl_path(), NULL };
        char *const bogus[] = { gwctl_path(), (char *) "--bogus", (char *) "status", NULL };
        char *const verb[] = { gwctl_path(), (char *) "frobnicate", NULL };
        char *const extra[] = { gwctl_path(), (char *) "status", (char *) "now", NULL };
        char *const config_only[] = { gwctl_path(), (char *) "config", NULL };
        char *const config_bad[] = { gwctl_path(), (char *) "config", (char *) "frob", NULL };
        char *const no_arg[] = { gwctl_path(), (char *) "status", (char *) "--config", NULL };
        char *const help[] = { gwctl_path(), (char *) "--help", NULL };
        char *const version[] = { gwctl_path(), (char *) "--version", NULL };

        ASSERT_EQ(run_simple(none, &r), 2);
        ASSERT_NOT_NULL(strstr(r.err, "missing command"));
        run_done(&r);
        ASSERT_EQ(run_simple(bogus, &r), 2);
        ASSERT_NOT_NULL(strstr(r.err, "unknown option '--bogus'"));
        run_done(&r);
        ASSERT_EQ(run_simple(verb, &r), 2);
        ASSERT_NOT_NULL(strstr(r.err, "unknown command 'frobnicate'"));
        run_done(&r);
        ASSERT_EQ(run_simple(extra, &r), 2);
        run_done(&r);
        ASSERT_EQ(run_simple(config_only, &r), 2);
        run_done(&r);
        ASSERT_EQ(run_simple(config_bad, &r), 2);
        run_done(&r);
        ASSERT_EQ(run_simple(no_arg, &r), 2);
        ASSERT_NOT_NULL(strstr(r.err, "needs an argument"));
        run_done(&r);
        ASSERT_EQ(run_simple(help, &r), 0);
        ASSERT_NOT_NULL(strstr(r.out, "Usage: gwctl"));
        run_done(&r);
        ASSERT_EQ(run_simple(version, &r), 0);
        ASSERT_TRUE(strncmp(r.out, "gwctl ", 6) == 0);
        run_done(&r);
}

TEST(gwctl_config_check) {
        char bad[300], missing[300];
        Run r;

        setup();
        snprintf(bad, sizeof bad, "%s/bad.yaml", tmpdir);
        snprintf(missing, sizeof missing, "%s/missing.yaml", tmpdir);
        gw_test_write_file(bad, "sip:\n  listen: 127.0.0.1:5062\nno_such_key: 1\n");

        char *const check_bad[] = { gwctl_path(), (char *) "--config", bad, (char *) "config", (char *) "check", NULL };
        ASSERT_EQ(run_simple(check_bad, &r), 78);
        ASSERT_NOT_NULL(strstr(r.err, "bad.yaml"));
        run_done(&r);

        char *const check_missing[] = { gwctl_path(), (char *) "config", (char *) "check", (char *) "-c", missing, NULL };
        ASSERT_EQ(run_simple(check_missing, &r), 78);
        run_done(&r);

        char *const check_good[] = { gwctl_path(), (char *) "config", (char *) "check", (char *) "--config", config_path, NULL };
        ASSERT_EQ(run_simple(check_good, &r), 0);
        ASSERT_NOT_NULL(strstr(r.out, ": OK (1 profile, 1 line)"));
        run_done(&r);

        /* status with a bad file: the same exit code */
        char *const status_bad[] = { gwctl_path(), (char *) "--config", bad, (char *) "status", NULL };
        ASSERT_EQ(run_simple(status_bad, &r), 78);
        run_done(&r);

        /* $FXSGW_CONFIG stands in for --config; --config wins. */
        char *const check_env[] = { gwctl_path(), (char *) "config", (char *) "check", NULL };
        ASSERT_OK(setenv("FXSGW_CONFIG", bad, 1));
        ASSERT_EQ(run_simple(check_env, &r), 78);
        ASSERT_NOT_NULL(strstr(r.err, "bad.yaml"));
        run_done(&r);
        ASSERT_EQ(run_simple(check_good, &r), 0);
        run_done(&r);
        ASSERT_OK(setenv("FXSGW_CONFIG", config_path, 1));
        ASSERT_EQ(run_simple(check_env, &r), 0);
        ASSERT_NOT_NULL(strstr(r.out, config_path));
        run_done(&r);
        ASSERT_OK(unsetenv("FXSGW_CONFIG"));

        char *const keys[] = { gwctl_path(), (char *) "config", (char *) "keys", NULL };
        ASSERT_EQ(run_simple(keys, &r), 0);
        ASSERT_NOT_NULL(strstr(r.out, "runtime_dir"));
        run_done(&r);
}

TEST(gwctl_status_not_running) {
        Run r;
        pid_t dead;

        setup();
        (void) unlink(pid_path);
        char *const status[] = { gwctl_path(), (char *) "--config", config_path, (char *) "status", NULL };
        char *const status_json[] = { gwctl_path(), (char *) "--config", config_path, (char *) "status",
                                      (char *) "--json", NULL };
        ASSERT_EQ(run_simple(status, &r), 3);
        ASSERT_NOT_NULL(strstr(r.err, "gateway is not running"));
        run_done(&r);

        /* A pid file left behind by a gwsupd that died. */
        dead = fork();
        ASSERT_TRUE(dead >= 0);
        if (dead == 0)
                _exit(0);
        ASSERT_EQ(waitpid(dead, NULL, 0), dead);
        write_pid_file(dead);
        ASSERT_EQ(run_simple(status_json, &r), 3);
        ASSERT_STREQ(r.out, "");
        run_done(&r);
        (void) unlink(pid_path);
}

/* One gwctl run against stand-in daemons on a fresh loop (a loop that has
 * exited cannot run again, and the buses belong to it). */
static void run_with_daemons(bool with_regd, char *const argv[], Run *ret) {
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        sd_event *e = NULL;
        GwBus *supd = NULL, *regd = NULL;

        ASSERT_OK(gw_conf_load(config_path, &conf, NULL));
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, conf, GW__SERVICE__SERVICE_GWSUPD, &supd));
        gw_bus_set_ctl_handler(supd, on_ctl, NULL, &supd_reply);
        if (with_regd) {
                ASSERT_OK(gw_bus_new(e, conf, GW__SERVICE__SERVICE_REGD, &regd));
                gw_bus_set_ctl_handler(regd, on_ctl, NULL, &regd_reply);
        }
        run_gwctl(e, argv, ret);
        gw_bus_free(regd);
        gw_bus_free(supd);
        sd_event_unref(e);
}

TEST(gwctl_status_json_and_text) {
        Run r;

        setup();
        fill_replies();
        write_pid_file(getpid());

        char *const json[] = { gwctl_path(), (char *) "--config", config_path, (char *) "status", (char *) "--json", NULL };
        run_with_daemons(true, json, &r);
        if (r.exit_code != 0)
                GW_TEST_FAIL("exit %d, stderr: %s", r.exit_code, r.err);
        ASSERT_EQ(supd_asked, 1);
        ASSERT_EQ(regd_asked, 1);
        check_json(r.out,
                "assert d['services'] == [\n"
                "  {'name': 'sigd', 'pid': 4242, 'state': 'running', 'restarts': 1},\n"
                "  {'name': 'regd', 'pid': None, 'state': 'restarting', 'restarts': 0}], d['services']\n"
                "p = d['profiles'][0]\n"
                "assert p['name'] == 'main' and p['active_proxy'] == 'b.example.net:5070', p\n"
                "assert p['active_target'] == '127.0.0.2:5070', p\n"
                "assert p['proxies'][0] == {'address': 'a.example.net', 'role': 'main', 'state': 'down',\n"
                "  'last_failure_reason': 'timeout', 'last_failure_at': '2025-11-24T17:23:20.123Z',\n"
                "  'held_until': '2025-11-24T17:23:30.123Z',\n"
                "  'counters': {'sent': 10, 'timeouts': 3, 'r408': 0, 'r503': 1, 'transport_errors': 0,\n"
                "  'failovers': 1}}, p['proxies'][0]\n"
                "assert p['proxies'][1] == {'address': 'b.example.net:5070', 'role': 'redundant', 'state': 'up',\n"
                "  'last_failure_reason': None, 'last_failure_at': None, 'held_until': None,\n"
                "  'counters': {'sent': 0, 'timeouts': 0,\n"
                "  'r408': 0, 'r503': 0, 'transport_errors': 0, 'failovers': 0}}, p['proxies'][1]\n"
                "assert d['lines'] == [\n"
                "  {'port': 1, 'number': '1001', 'registration': 'registered', 'reason': None,\n"
                "   'registered_via': 'b.example.net:5070', 'expires_in': 3599},\n"
                "  {'port': 2, 'number': '10\"02', 'registration': 'failed', 'reason': '403',\n"
                "   'registered_via': None, 'expires_in': None}], d['lines']\n"
                "assert d['errors'] == [], d['errors']\n");
        run_done(&r);

        char *const text[] = { gwctl_path(), (char *) "-c", config_path, (char *) "status", NULL };
        run_with_daemons(true, text, &r);
        ASSERT_EQ(r.exit_code, 0);
        ASSERT_NOT_NULL(strstr(r.out, "sigd       4242     running     1\n"));
        ASSERT_NOT_NULL(strstr(r.out, "regd       -        restarting  0\n"));
        ASSERT_NOT_NULL(strstr(r.out, "Profile main: active proxy b.example.net:5070 (127.0.0.2:5070)\n"));
        ASSERT_NOT_NULL(strstr(r.out, "a.example.net                main      down        10        3     0     1"));
        ASSERT_NOT_NULL(strstr(r.out, "timeout 2025-11-24T17:23:20.123Z, held until 2025-11-24T17:23:30.123Z\n"));
        ASSERT_NOT_NULL(strstr(r.out, "1     1001             registered    b.example.net:5070           3599s    -\n"));
        ASSERT_NOT_NULL(strstr(r.out, "2     10\"02            failed        -                            -        403\n"));
        run_done(&r);

        /* regd gone: shown as not answering, the rest still printed, exit 1. */
        run_with_daemons(false, json, &r);
        ASSERT_EQ(r.exit_code, 1);
        check_json(r.out,
                "assert len(d['services']) == 2 and d['profiles'] == [] and d['lines'] == [], d\n"
                "assert d['errors'] == [{'service': 'regd', 'error': 'no answer within 1s'}], d['errors']\n");
        run_done(&r);
        run_with_daemons(false, text, &r);
        ASSERT_EQ(r.exit_code, 1);
        ASSERT_NOT_NULL(strstr(r.out, "regd did not answer: no answer within 1s"));
        run_done(&r);

        (void) unlink(pid_path);
}

/* ---- line: stand-in linehwd, sigd and mediad */

static Gw__LineHwState line_hw = GW__LINE_HW_STATE__INIT;
static Gw__LineCall line_call = GW__LINE_CALL__INIT;
static Gw__LineStatusEntry entry_hw = GW__LINE_STATUS_ENTRY__INIT, entry_call = GW__LINE_STATUS_ENTRY__INIT,
                           entry_media = GW__LINE_STATUS_ENTRY__INIT;
static Gw__LineStatusEntry *entries_hw[] = { &entry_hw }, *entries_call[] = { &entry_call }, *entries_media[] = { &entry_media };
static Gw__LineStatusReply reply_hw = GW__LINE_STATUS_REPLY__INIT, reply_call = GW__LINE_STATUS_REPLY__INIT,
                           reply_media = GW__LINE_STATUS_REPLY__INIT;
static char *tones[] = { (char *) "dial", (char *) "ringback" };
static Gw__ErrorReply line_error = GW__ERROR_REPLY__INIT;
static int linehwd_errno;                /* >0: answer LineCommand with this error */
static bool mediad_refuses;
static Gw__LineCommand last_command;
static char last_digits[64];
static unsigned line_asked[3];

static void fill_line_replies(void) {
        line_hw.port = 1;
        line_hw.hook = GW__HOOK_STATE__HOOK_OFF;
        line_hw.has_ringing = true;
        line_hw.has_polarity = true;
        line_hw.polarity = GW__POLARITY__POLARITY_REVERSED;
        line_hw.has_feed = true;
        line_hw.feed = true;
        line_hw.backend = (char *) "sim";
        entry_hw.port = 1;
        entry_hw.hw = &line_hw;
        reply_hw.n_lines = 1;
        reply_hw.lines = entries_hw;

        line_call.port = 1;
        line_call.state = GW__CALL_STATE__CALL_CONNECTED;
        line_call.remote = (char *) "1002";
        line_call.call_id = (char *) "abc@127.0.0.1";
        entry_call.port = 1;
        entry_call.call = &line_call;
        reply_call.n_lines = 1;
        reply_call.lines = entries_call;

        entry_media.port = 1;
        entry_media.n_last_tones = 2;
        entry_media.last_tones = tones;
        entry_media.last_digits = (char *) "123";
        reply_media.n_lines = 1;
        reply_media.lines = entries_media;
}

static int on_line_ctl(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        Gw__Service self = gw_bus_self(bus);

        ASSERT_EQ(req->source, GW__SERVICE__SERVICE_GWCTL);
        if (req->body_case == GW__ENVELOPE__BODY_LINE_COMMAND) {
                ASSERT_EQ(self, GW__SERVICE__SERVICE_LINEHWD);
                last_command = *req->line_command;
                snprintf(last_digits, sizeof last_digits, "%s", strempty(req->line_command->digits));
                if (linehwd_errno > 0)
                        return -linehwd_errno;
                reply->body_case = GW__ENVELOPE__BODY_LINE_STATUS_REPLY;
                reply->line_status_reply = &reply_hw;
                return 0;
        }
        ASSERT_EQ(req->body_case, GW__ENVELOPE__BODY_LINE_STATUS_REQUEST);
        ASSERT_EQ(req->line_status_request->port, 1);
        reply->body_case = GW__ENVELOPE__BODY_LINE_STATUS_REPLY;
        switch (self) {
        case GW__SERVICE__SERVICE_LINEHWD:
                line_asked[0]++;
                reply->line_status_reply = &reply_hw;
                break;
        case GW__SERVICE__SERVICE_SIGD:
                line_asked[1]++;
                reply->line_status_reply = &reply_call;
                break;
        default:
                line_asked[2]++;
                if (mediad_refuses) {
                        line_error.errno_value = EOPNOTSUPP;
                        line_error.message = (char *) "not yet";
                        reply->body_case = GW__ENVELOPE__BODY_ERROR_REPLY;
                        reply->error_reply = &line_error;
                        break;
                }
                reply->line_status_reply = &reply_media;
        }
        return 0;
}

/* 'which': bit 0 linehwd, bit 1 sigd, bit 2 mediad. */
static void run_with_line_daemons(unsigned which, char *const argv[], Run *ret) {
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        static const Gw__Service svc[] = { GW__SERVICE__SERVICE_LINEHWD, GW__SERVICE__SERVICE_SIGD, GW__SERVICE__SERVICE_MEDIAD };
        GwBus *b[3] = {};
        sd_event *e = NULL;

        ASSERT_OK(gw_conf_load(config_path, &conf, NULL));
        ASSERT_OK(sd_event_new(&e));
        for (size_t i = 0; i < 3; i++)
                if (which & (1u << i)) {
                        ASSERT_OK(gw_bus_new(e, conf, svc[i], &b[i]));
                        gw_bus_set_ctl_handler(b[i], on_line_ctl, NULL, NULL);
                }
        run_gwctl(e, argv, ret);
        for (size_t i = 0; i < 3; i++)
                gw_bus_free(b[i]);
        sd_event_unref(e);
}

TEST(gwctl_line_arguments) {
        Run r;
        struct {
                const char *args[4];
                const char *err;
        } bad[] = {
                { { "line", NULL }, "needs a line number and an action" },
                { { "line", "1", NULL }, "needs a line number and an action" },
                { { "line", "0", "offhook" }, "invalid line number '0'" },
                { { "line", "x1", "offhook" }, "invalid line number 'x1'" },
                { { "line", "70000", "offhook" }, "invalid line number '70000'" },
                { { "line", "1", "jump" }, "unknown line action 'jump'" },
                { { "line", "1", "dial" }, "needs the digits" },
                { { "line", "1", "dial", "12x" }, "invalid DTMF digits '12x'" },
                { { "line", "1", "dial", "123456789012345678901234567890123" }, "between 1 and 32 digits" },
                { { "line", "1", "offhook", "now" }, "unexpected argument 'now'" },
                { { "line", "9", "offhook" }, "line 9 is not configured" },
        };

        setup();
        (void) unlink(pid_path);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *argv[8] = { gwctl_path(), (char *) "--config", config_path };
                size_t n = 3;
                for (size_t k = 0; k < 4 && bad[i].args[k]; k++)
                        argv[n++] = UNCONST(bad[i].args[k]);
                ASSERT_EQ(run_simple(argv, &r), 2);
                if (!strstr(r.err, bad[i].err))
                        GW_TEST_FAIL("case %zu: stderr '%s' lacks '%s'", i, r.err, bad[i].err);
                run_done(&r);
        }

        char *const pulse_star[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                                     (char *) "dial", (char *) "1*", (char *) "--pulse", NULL };
        ASSERT_EQ(run_simple(pulse_star, &r), 2);
        ASSERT_NOT_NULL(strstr(r.err, "pulse dialling (0-9 only)"));
        run_done(&r);
        char *const pulse_status[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                                       (char *) "status", (char *) "--pulse", NULL };
        ASSERT_EQ(run_simple(pulse_status, &r), 2);
        ASSERT_NOT_NULL(strstr(r.err, "--pulse is only for"));
        run_done(&r);
        char *const pulse_elsewhere[] = { gwctl_path(), (char *) "--pulse", (char *) "status", NULL };
        ASSERT_EQ(run_simple(pulse_elsewhere, &r), 2);
        run_done(&r);
        char *const json_offhook[] = { gwctl_path(), (char *) "--config", config_path, (char *) "--json", (char *) "line",
                                       (char *) "1", (char *) "offhook", NULL };
        ASSERT_EQ(run_simple(json_offhook, &r), 2);
        ASSERT_NOT_NULL(strstr(r.err, "--json is only for"));
        run_done(&r);

        /* good arguments, no gateway: 3 */
        char *const offhook[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                                  (char *) "offhook", NULL };
        ASSERT_EQ(run_simple(offhook, &r), 3);
        ASSERT_NOT_NULL(strstr(r.err, "gateway is not running"));
        run_done(&r);
}

TEST(gwctl_line_status) {
        Run r;

        setup();
        fill_line_replies();
        write_pid_file(getpid());

        char *const json[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                               (char *) "status", (char *) "--json", NULL };
        run_with_line_daemons(7, json, &r);
        if (r.exit_code != 0)
                GW_TEST_FAIL("exit %d, stderr: %s", r.exit_code, r.err);
        ASSERT_EQ(line_asked[0], 1);
        ASSERT_EQ(line_asked[1], 1);
        ASSERT_EQ(line_asked[2], 1);
        check_json(r.out,
                "assert d == {'port': 1, 'hook': 'off', 'ringing': False, 'polarity': 'reversed', 'feed': True,\n"
                "  'call': {'state': 'connected', 'remote': '1002', 'call_id': 'abc@127.0.0.1'},\n"
                "  'last_tones': ['dial', 'ringback'], 'last_digits': '123', 'errors': []}, d\n");
        run_done(&r);

        char *const text[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                               (char *) "status", NULL };
        run_with_line_daemons(7, text, &r);
        ASSERT_EQ(r.exit_code, 0);
        ASSERT_NOT_NULL(strstr(r.out, "line 1: off hook, polarity reversed, feed on (sim)\n"));
        ASSERT_NOT_NULL(strstr(r.out, "call:   connected, remote 1002, call-id abc@127.0.0.1\n"));
        ASSERT_NOT_NULL(strstr(r.out, "tones:  dial, ringback\n"));
        ASSERT_NOT_NULL(strstr(r.out, "digits: 123\n"));
        run_done(&r);

        /* a live RTP session: its counters and RTCP figures */
        {
                Gw__MediaState ms = GW__MEDIA_STATE__INIT;
                Gw__MediaQuality q = GW__MEDIA_QUALITY__INIT;

                ms.port = 1;
                ms.call_id = (char *) "abc@127.0.0.1";
                ms.remote = (char *) "192.0.2.1:30000";
                ms.has_rtp_tx = ms.has_rtp_rx = ms.has_rtp_dropped = true;
                ms.rtp_tx = 1500;
                ms.rtp_rx = 1480;
                ms.rtp_dropped = 2;
                ms.has_playout_lost = ms.has_playout_late = ms.has_playout_concealed = ms.has_playout_overflow = true;
                ms.playout_lost = 30;
                ms.playout_late = 10;
                ms.playout_concealed = 31;
                ms.playout_overflow = 0;
                ms.has_playout_duplicates = ms.has_playout_grown = ms.has_playout_shrunk = true;
                ms.playout_duplicates = 1;
                ms.playout_grown = 3;
                ms.playout_shrunk = 2;
                ms.has_playout_delay_ms = ms.has_playout_target_ms = ms.has_playout_max_delay_ms = true;
                ms.playout_delay_ms = 95;
                ms.playout_target_ms = 82;
                ms.playout_max_delay_ms = 104;
                q.has_rx_expected = q.has_rx_lost = q.has_rx_loss_permille = q.has_rx_jitter_us = true;
                q.rx_expected = 1500;
                q.rx_lost = 20;
                q.rx_loss_permille = 13;
                q.rx_jitter_us = 2500;
                q.has_rtt_us = true;
                q.rtt_us = 42000;
                q.has_mos = true;
                q.mos = 4.2;
                q.has_rtcp_tx = q.has_rtcp_rx = q.has_rtcp_malformed = true;
                q.rtcp_tx = 6;
                q.rtcp_rx = 5;
                q.rtcp_malformed = 1;
                ms.quality = &q;
                entry_media.media = &ms;
                run_with_line_daemons(7, json, &r);
                ASSERT_EQ(r.exit_code, 0);
                check_json(r.out,
                        "assert d['media'] == {'call_id': 'abc@127.0.0.1', 'remote': '192.0.2.1:30000',\n"
                        "  'rtp_tx': 1500, 'rtp_rx': 1480, 'rtp_dropped': 2, 'srtp': None, 'playout': {'delay_ms': 95,\n"
                        "  'target_ms': 82, 'max_delay_ms': 104, 'lost': 30, 'late': 10, 'concealed': 31,\n"
                        "  'overflow': 0, 'duplicates': 1, 'grown': 3, 'shrunk': 2}, 'quality': {'rx_expected': 1500,\n"
                        "  'rx_lost': 20, 'rx_loss_permille': 13, 'rx_jitter_us': 2500, 'remote_lost': None,\n"
                        "  'remote_fraction_lost': None, 'remote_jitter_us': None, 'rtt_us': 42000, 'mos': 4.2,\n"
                        "  'rtcp_tx': 6, 'rtcp_rx': 5, 'rtcp_dropped': 1}}, d['media']\n");
                run_done(&r);
                run_with_line_daemons(7, text, &r);
                ASSERT_EQ(r.exit_code, 0);
                ASSERT_NOT_NULL(strstr(r.out, "media:  call-id abc@127.0.0.1, remote 192.0.2.1:30000, rtp tx 1500 rx 1480 dropped 2\n"));
                ASSERT_NOT_NULL(strstr(r.out, "playout: delay 95 ms (target 82, max 104), lost 30, late 10, concealed 31, overflow 0\n"));
                ASSERT_NOT_NULL(strstr(r.out, "quality: loss 1.3 % (20 of 1500), jitter 2.5 ms, rtt 42.0 ms, MOS 4.20\n"));
                ASSERT_NOT_NULL(strstr(r.out, "srtp:   off (plain RTP)\n"));
                run_done(&r);

                /* the same on SRTP: the suite and what it dropped (never a key: MediaState has none) */
                ms.srtp_suite = (char *) "AES_CM_128_HMAC_SHA1_80";
                ms.has_srtp_auth_failed = ms.has_srtp_replayed = true;
                ms.srtp_auth_failed = 3;
                ms.srtp_replayed = 4;
                q.has_srtcp_auth_failed = true;
                q.srtcp_auth_failed = 2;
                run_with_line_daemons(7, json, &r);
                ASSERT_EQ(r.exit_code, 0);
                check_json(r.out,
                        "m = d['media']\n"
                        "assert (m['srtp'], m['srtp_auth_failed'], m['srtp_replayed']) == ('AES_CM_128_HMAC_SHA1_80', 3, 4), m\n"
                        "assert m['quality']['rtcp_dropped'] == 3, m\n");
                run_done(&r);
                run_with_line_daemons(7, text, &r);
                ASSERT_EQ(r.exit_code, 0);
                ASSERT_NOT_NULL(strstr(r.out, "srtp:   AES_CM_128_HMAC_SHA1_80, dropped: auth 3, replay 4\n"));
                run_done(&r);
                entry_media.media = NULL;
        }

        /* mediad answers an error, sigd does not answer: their parts stay empty, exit 0 */
        mediad_refuses = true;
        run_with_line_daemons(1 | 4, json, &r);
        ASSERT_EQ(r.exit_code, 0);
        check_json(r.out,
                "assert d['hook'] == 'off' and d['last_tones'] == [] and d['last_digits'] == '', d\n"
                "assert d['call'] == {'state': None, 'remote': None, 'call_id': None}, d\n"
                "assert d['errors'] == [{'service': 'sigd', 'error': 'no answer within 1s'},\n"
                "  {'service': 'mediad', 'error': 'not yet'}], d['errors']\n");
        run_done(&r);
        mediad_refuses = false;

        /* no linehwd: the hardware part is unknown, exit 1 */
        run_with_line_daemons(2, json, &r);
        ASSERT_EQ(r.exit_code, 1);
        check_json(r.out,
                "assert d['hook'] is None and d['polarity'] is None and d['call']['state'] == 'connected', d\n");
        run_done(&r);
        (void) unlink(pid_path);
}

TEST(gwctl_line_commands) {
        Run r;

        setup();
        fill_line_replies();
        write_pid_file(getpid());

        char *const dial[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                               (char *) "dial", (char *) "12#A", NULL };
        run_with_line_daemons(1, dial, &r);
        if (r.exit_code != 0)
                GW_TEST_FAIL("exit %d, stderr: %s", r.exit_code, r.err);
        ASSERT_EQ(last_command.port, 1);
        ASSERT_EQ(last_command.action, GW__LINE_ACTION__LINE_ACTION_DIAL);
        ASSERT_STREQ(last_digits, "12#A");
        ASSERT_FALSE(last_command.pulse);
        ASSERT_NOT_NULL(strstr(r.out, "dialling (DTMF)"));
        run_done(&r);

        char *const pulse[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                                (char *) "dial", (char *) "905", (char *) "--pulse", NULL };
        run_with_line_daemons(1, pulse, &r);
        ASSERT_EQ(r.exit_code, 0);
        ASSERT_STREQ(last_digits, "905");
        ASSERT_TRUE(last_command.has_pulse && last_command.pulse);
        run_done(&r);

        char *const flash[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                                (char *) "flash", NULL };
        run_with_line_daemons(1, flash, &r);
        ASSERT_EQ(r.exit_code, 0);
        ASSERT_EQ(last_command.action, GW__LINE_ACTION__LINE_ACTION_FLASH);
        run_done(&r);

        /* refused by linehwd: its reason, exit 1 */
        linehwd_errno = ENOTCONN;
        run_with_line_daemons(1, flash, &r);
        ASSERT_EQ(r.exit_code, 1);
        ASSERT_NOT_NULL(strstr(r.err, "line 1 flash: the line is on hook"));
        run_done(&r);
        linehwd_errno = 0;

        /* linehwd not answering */
        char *const onhook[] = { gwctl_path(), (char *) "--config", config_path, (char *) "line", (char *) "1",
                                 (char *) "onhook", NULL };
        run_with_line_daemons(2, onhook, &r);
        ASSERT_EQ(r.exit_code, 1);
        ASSERT_NOT_NULL(strstr(r.err, "no answer within 1s"));
        run_done(&r);
        (void) unlink(pid_path);
}

DEFINE_TEST_MAIN
