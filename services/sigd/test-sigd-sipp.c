/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sigd-sipp.c: SIPp as the far end of sigd's call tests (test-sigd-sipp.h). */
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "gw-test.h"
#include "gw-tests.h"
#include "test-sigd-sipp.h"

pid_t sigd_test_sipp_start(const char *name, const char *scenario, const char *addr, uint16_t port, const char *remote,
                           const char *service, unsigned pause_ms, unsigned timeout_s) {
        char port_s[16], mport_s[16], err[128], pause_s[16], timeout[16];
        uint16_t mport = gw_test_port(SOCK_DGRAM, addr, 3, NULL);      /* SIPp binds mport and mport + 2 */
        const char *sipp = gw_test_require_program("sipp");
        char *argv[32];
        size_t n = 0;
        pid_t pid;

        snprintf(port_s, sizeof port_s, "%u", port);
        snprintf(mport_s, sizeof mport_s, "%u", mport);
        snprintf(err, sizeof err, "/tmp/%s-sipp-%u.log", name, port);
        snprintf(pause_s, sizeof pause_s, "%u", pause_ms);
        snprintf(timeout, sizeof timeout, "%us", timeout_s);
        argv[n++] = UNCONST(sipp);
        if (remote)
                argv[n++] = UNCONST(remote);
        argv[n++] = UNCONST("-sf");
        argv[n++] = UNCONST(scenario);
        if (remote) {
                argv[n++] = UNCONST("-s");
                argv[n++] = UNCONST(service);
        }
        for (const char *const *a = (const char *const[]) { "-i", addr, "-p", port_s, "-mi", addr, "-mp", mport_s,
                                                            "-m", "1", "-timeout", timeout, "-timeout_error",
                                                            "-nostdin", "-trace_err", "-error_file", err, NULL };
             *a; a++)
                argv[n++] = UNCONST(*a);
        if (pause_ms > 0) {
                argv[n++] = UNCONST("-d");
                argv[n++] = UNCONST(pause_s);
        }
        argv[n] = NULL;
        pid = gw_test_spawn(argv, NULL, GW_TEST_SPAWN_NULL_STDOUT | GW_TEST_SPAWN_DIE_WITH_TEST);
        if (!remote)
                (void) gw_test_port_wait_bound(NULL, SOCK_DGRAM, addr, port, 5 * USEC_PER_SEC);
        return pid;
}

void sigd_test_sipp_wait(const char *name, sd_event *e, pid_t pid, uint64_t timeout_usec) {
        int status = 0;

        if (gw_test_wait_exit(e, pid, timeout_usec, &status) < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                GW_TEST_FAIL("sipp did not finish");
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                GW_TEST_FAIL("sipp failed (status %d), see /tmp/%s-sipp-*.log", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                             name);
}

void sigd_test_dial(Manager *m, unsigned port, const char *digits) {
        char d[2] = {};

        for (const char *p = digits; *p; p++) {
                d[0] = *p;
                ASSERT_OK(manager_line_digit(m, port, d));
        }
}
