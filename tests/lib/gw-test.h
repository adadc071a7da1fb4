/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-test.h: what unit tests share beyond the assertions of gw-tests.h — running an sd-event
 * loop, temporary directories, ports reserved for the code under test, spawning programs and
 * daemons, skipping. Built as libgwtest (tests/lib/meson.build), linked only into tests.
 *
 * Every function here fails the test (GW_TEST_FAIL, an abort) on an unexpected error, so a
 * call site needs no check unless it says otherwise. Nothing here is thread-safe. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "gw-macro.h"
#include "gw-tests.h"

/* ---- skipping ---------------------------------------------------------------------------- */

/* Exit 77 (meson's "skipped") after printing "SKIP: <reason>" on stderr. scripts/test.sh lists
 * skipped tests with that reason, and under CI=true counts them as failures. */
_printf_(1, 2) __attribute__((noreturn)) void gw_test_skip(const char *fmt, ...);

/* The absolute path of program name (looked up in $PATH, then /usr/local/sbin, /usr/sbin and
 * /sbin), or skip: "'name' not found". Static storage, valid until the next call. */
const char *gw_test_require_program(const char *name);

/* The value of environment variable name, or skip: "$name not set". */
const char *gw_test_require_env(const char *name);

/* ---- running an sd-event loop ------------------------------------------------------------ */

/* CLOCK_MONOTONIC in microseconds (the loop's clock for relative timers). */
uint64_t gw_test_now_usec(void);

/* One turn of e: dispatch one event or wait for one, at most 10 ms and never past deadline
 * (CLOCK_MONOTONIC, usec). false once the deadline has passed. A condition that changes
 * outside the loop (a child's exit, a file) is seen within 10 ms. */
bool gw_test_run_step(sd_event *e, uint64_t deadline);

/* Run e until cond(userdata) holds or timeout_usec has passed; returns cond's last value. */
bool gw_test_run_until(sd_event *e, bool (*cond)(void *userdata), void *userdata, uint64_t timeout_usec);

/* Run e for timeout_usec, whatever happens. */
void gw_test_run_for(sd_event *e, uint64_t usec);

/* The expression form: evaluates cond before every turn; yields cond's last value (bool). */
#define GW_TEST_RUN_UNTIL(e, cond, timeout_usec) ({                                            \
                uint64_t _gw_deadline_ = gw_test_now_usec() + (timeout_usec);                   \
                bool _gw_ok_;                                                                  \
                while (!(_gw_ok_ = !!(cond)) && gw_test_run_step((e), _gw_deadline_))          \
                        ;                                                                      \
                _gw_ok_;                                                                       \
        })

/* The same, failing the test with the condition's text when it does not hold in time. */
#define GW_TEST_ASSERT_RUN_UNTIL(e, cond, timeout_usec) do {                                   \
                if (!GW_TEST_RUN_UNTIL((e), (cond), (timeout_usec)))                            \
                        GW_TEST_FAIL("timed out after %.1f s waiting for %s",                   \
                                     (double) (timeout_usec) / 1e6, #cond);                     \
        } while (0)

/* ---- temporary directories --------------------------------------------------------------- */

/* A new empty directory "$TMPDIR/<prefix>-XXXXXX" (TMPDIR defaults to /tmp), removed with all
 * it holds when the test process exits normally (return from main, exit(), a skip). A failed
 * assertion aborts and keeps it, for a post-mortem. A forked child exiting never removes its
 * parent's directories. The string is owned by the library and valid until exit. */
const char *gw_test_tmpdir(const char *prefix);

/* Remove path and everything below it now (no symlink is followed); a missing path is fine.
 * A directory from gw_test_tmpdir() is forgotten (not removed again at exit). */
void gw_test_rm_rf(const char *path);

/* Write text to path, mode 0600 (configs may hold secrets, and gw_conf checks that). */
void gw_test_write_file(const char *path, const char *text);

/* ---- ports ------------------------------------------------------------------------------- */

/* A port on ip (IPv4 or IPv6 text), for a socket of type SOCK_DGRAM or SOCK_STREAM, that no other test
 * process can be given and the kernel never hands out on its own:
 *
 *  - ports come from a range outside the kernel's ephemeral range
 *    (net.ipv4.ip_local_port_range), so no bind(port 0) or implicit bind of any process lands
 *    on them; $GW_TEST_PORTS="MIN-MAX" overrides the range;
 *  - every reservation is an aligned block of 4 ports, held by an abstract unix socket named
 *    after the block until this process exits, so test processes running in parallel never
 *    share a block (closing a socket does not end the reservation);
 *  - the ports port..port+span-1 (span 1..4; port even, so RTP/RTCP pairs fit) were free on ip
 *    when checked under the reservation.
 *
 * With ret_fd, a socket bound to ip:port stays bound and is handed over: the caller owns it
 * (a silent peer, or code under test that takes a socket). Without, nothing stays bound: the
 * port is for a program or code under test that binds it itself (SIPp, dnsmasq, mediad's RTP),
 * and stays reserved meanwhile — no probe-and-release race.
 * The reservation ends when the process exits. Returns the (first) port. */
uint16_t gw_test_port(int type, const char *ip, unsigned span, int *ret_fd);

/* The common case: one UDP port, gw_test_port(SOCK_DGRAM, ip, 1, ret_fd). */
uint16_t gw_test_udp_port(const char *ip, int *ret_fd);

/* Whether some socket of type is bound to ip:port (listening, for SOCK_STREAM), read from
 * /proc/net/{udp,tcp}{,6}: looking never binds, so it cannot take the port from the program
 * that is about to bind it. A wildcard binding (0.0.0.0, ::) counts. */
bool gw_test_port_in_use(int type, const char *ip, uint16_t port);

/* Wait (sleeping 10 ms between looks, or turning e when not NULL) until ip:port is bound, as a
 * program started on it does when ready. false after timeout_usec. */
bool gw_test_port_wait_bound(sd_event *e, int type, const char *ip, uint16_t port, uint64_t timeout_usec);

/* ---- programs and daemons ---------------------------------------------------------------- */

typedef enum GwTestSpawnFlags {
        GW_TEST_SPAWN_NULL_STDOUT = 1 << 0,   /* stdout to /dev/null */
        GW_TEST_SPAWN_NULL_STDERR = 1 << 1,   /* stderr to /dev/null */
        GW_TEST_SPAWN_DIE_WITH_TEST = 1 << 2, /* SIGTERM when the test process dies */
} GwTestSpawnFlags;

/* Fork and exec argv[0] (a path, or a name looked up in $PATH) with argv; stdin from
 * /dev/null. env: NULL, or a NULL-terminated list of "NAME=value" to set and "NAME" to unset
 * in the child. Descriptors without O_CLOEXEC (a handed-over socket) are inherited. A failed
 * exec exits the child with 127. Returns the child's pid; the caller reaps it. */
pid_t gw_test_spawn(char *const argv[], char *const env[], GwTestSpawnFlags flags);

/* A daemon with a written config: write config_text to config_path (0600, unless NULL: the
 * file exists), then spawn "binary --config config_path [args...]". args and env: NULL or
 * NULL-terminated, env as for gw_test_spawn(). */
pid_t gw_test_spawn_daemon(const char *binary, const char *config_path, const char *config_text,
                           char *const args[], char *const env[], GwTestSpawnFlags flags);

/* A server: spawn argv as gw_test_spawn() does, then wait (bounded by timeout_usec) until it
 * has bound ip:port (type), its port from gw_test_port(). Returns its pid, or -1 when it exited
 * first or did not bind in time (it is stopped and reaped then). */
pid_t gw_test_spawn_server(char *const argv[], char *const env[], GwTestSpawnFlags flags,
                           int type, const char *ip, uint16_t port, uint64_t timeout_usec);

/* A dnsmasq on ip, authoritative for the domain "test." with records (dnsmasq options such as
 * "--srv-host=..." and "--host-record=...", NULL-terminated) and ttl_s for records that give
 * none; on a port from gw_test_udp_port(), ready when this returns, stopped when the test exits.
 * Skips the test without dnsmasq. $TEST_DNSMASQ_VERBOSE keeps its output. Returns its port. */
uint16_t gw_test_dnsmasq(const char *ip, unsigned ttl_s, const char *const records[]);

/* Wait for child pid to exit, turning e meanwhile when not NULL (else sleeping 5 ms between
 * looks). Returns 0 and the wait status in *ret_status (may be NULL), or -ETIMEDOUT after
 * timeout_usec with the child left running. */
int gw_test_wait_exit(sd_event *e, pid_t pid, uint64_t timeout_usec, int *ret_status);

/* SIGTERM pid, SIGKILL after 5 s, and reap it. */
void gw_test_stop(pid_t pid);
