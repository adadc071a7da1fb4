/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-test.c: the unit tests' shared helpers (see gw-test.h for each contract).
 *
 * Ports: a port found by binding port 0 and closing the socket again (what the tests did
 * before) can be handed to anyone between the close and the moment the program under test
 * binds it: the kernel hands ephemeral ports out again, and a parallel test probing the same
 * address gets the same answer. So ports here come from outside the ephemeral range, where
 * the kernel never lands by itself, and a cross-process reservation decides which test owns
 * them: an abstract unix socket named after an aligned block of ports. The kernel drops the
 * name when the process ends, however it ends, so there is nothing to clean up and no stale
 * lock. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gw-test.h"
#include "gw-tests.h"

/* ---- skipping */

void gw_test_skip(const char *fmt, ...) {
        char reason[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        /* one write: the line stays whole among other output */
        fprintf(stderr, "SKIP: %s\n", reason);
        fflush(stderr);
        exit(77);
}

const char *gw_test_require_program(const char *name) {
        static char found[512];
        const char *path = getenv("PATH");
        char dirs[2048];

        if (strchr(name, '/')) {
                if (access(name, X_OK) < 0)
                        gw_test_skip("'%s' not found", name);
                snprintf(found, sizeof found, "%s", name);
                return found;
        }
        snprintf(dirs, sizeof dirs, "%s:/usr/local/sbin:/usr/sbin:/sbin", path ? path : "/usr/local/bin:/usr/bin:/bin");
        for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                if ((size_t) snprintf(found, sizeof found, "%s/%s", d, name) >= sizeof found)
                        continue;
                if (access(found, X_OK) == 0)
                        return found;
        }
        gw_test_skip("'%s' not found", name);
}

const char *gw_test_require_env(const char *name) {
        const char *v = getenv(name);

        if (!v)
                gw_test_skip("$%s not set", name);
        return v;
}

/* ---- the loop */

uint64_t gw_test_now_usec(void) {
        struct timespec ts;

        ASSERT_OK(clock_gettime(CLOCK_MONOTONIC, &ts));
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

bool gw_test_run_step(sd_event *e, uint64_t deadline) {
        uint64_t now = gw_test_now_usec();

        if (now >= deadline)
                return false;
        ASSERT_OK(sd_event_run(e, MIN(deadline - now, 10 * USEC_PER_MSEC)));
        return true;
}

bool gw_test_run_until(sd_event *e, bool (*cond)(void *userdata), void *userdata, uint64_t timeout_usec) {
        return GW_TEST_RUN_UNTIL(e, cond(userdata), timeout_usec);
}

void gw_test_run_for(sd_event *e, uint64_t usec) {
        (void) GW_TEST_RUN_UNTIL(e, false, usec);
}

/* ---- temporary directories */

static struct {
        char **paths;
        size_t n;
        pid_t owner;            /* the process that registered the exit handler */
} tmpdirs;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void tmpdirs_forget(const char *path) {
        for (size_t i = 0; i < tmpdirs.n; i++)
                if (streq(tmpdirs.paths[i], path)) {
                        free(tmpdirs.paths[i]);
                        tmpdirs.paths[i] = tmpdirs.paths[--tmpdirs.n];
                        return;
                }
}

static void tmpdirs_remove_all(void) {
        /* a forked child calling exit() runs this too: the directories are not its own */
        if (getpid() != tmpdirs.owner)
                return;
        for (size_t i = 0; i < tmpdirs.n; i++) {
                (void) nftw(tmpdirs.paths[i], remove_one, 16, FTW_DEPTH | FTW_PHYS);
                free(tmpdirs.paths[i]);
        }
        free(tmpdirs.paths);
        tmpdirs.paths = NULL;
        tmpdirs.n = 0;
}

const char *gw_test_tmpdir(const char *prefix) {
        const char *base = getenv("TMPDIR");
        char *p = NULL, **v;

        if (isempty(base))
                base = "/tmp";
        ASSERT_TRUE(asprintf(&p, "%s/%s-XXXXXX", base, prefix) > 0);
        if (!mkdtemp(p))
                GW_TEST_FAIL("mkdtemp('%s'): %s", p, strerror(errno));
        if (tmpdirs.owner != getpid()) {
                /* first directory of this process (or of a forked child making its own) */
                tmpdirs.owner = getpid();
                tmpdirs.n = 0;
                tmpdirs.paths = NULL;
                ASSERT_OK(atexit(tmpdirs_remove_all));
        }
        v = realloc(tmpdirs.paths, (tmpdirs.n + 1) * sizeof(*v));
        ASSERT_NOT_NULL(v);
        tmpdirs.paths = v;
        tmpdirs.paths[tmpdirs.n++] = p;
        return p;
}

void gw_test_rm_rf(const char *path) {
        int r = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);

        if (r < 0 && errno != ENOENT)
                GW_TEST_FAIL("removing '%s': %s", path, strerror(errno));
        if (tmpdirs.owner == getpid())
                tmpdirs_forget(path);
}

void gw_test_write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        size_t n = strlen(text);

        if (fd < 0)
                GW_TEST_FAIL("open('%s'): %s", path, strerror(errno));
        ASSERT_OK(fchmod(fd, 0600));    /* also when the file existed */
        for (size_t off = 0; off < n;) {
                ssize_t k = write(fd, text + off, n - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        GW_TEST_FAIL("write('%s'): %s", path, strerror(errno));
                off += (size_t) k;
        }
}

/* ---- ports */

#define PORT_BLOCK 4u

/* Fds of the reservations this process holds (never closed: they end with the process). */
static struct {
        int fds[1024];
        size_t n;
} held;

/* The ports tests may take: $GW_TEST_PORTS, else above the ephemeral range, else below it. */
static void port_range(unsigned *ret_lo, unsigned *ret_hi) {
        unsigned lo = 32768, hi = 60999, a, b;
        const char *env = getenv("GW_TEST_PORTS");
        FILE *f;

        if (env) {
                if (sscanf(env, "%u-%u", &a, &b) != 2 || a < 1024 || b > 65535 || b + 1 < a + 4 * PORT_BLOCK)
                        GW_TEST_FAIL("$GW_TEST_PORTS='%s': expected MIN-MAX within 1024-65535, 16 ports or more", env);
                *ret_lo = a;
                *ret_hi = b;
                return;
        }
        f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
        if (f) {
                if (fscanf(f, "%u %u", &a, &b) == 2 && a <= b) {
                        lo = a;
                        hi = b;
                }
                fclose(f);
        }
        if (65535 - hi >= 256) {
                *ret_lo = hi + 1;
                *ret_hi = 65535;
        } else if (lo > 1024 + 256) {
                *ret_lo = 1024;
                *ret_hi = lo - 1;
        } else {
                /* No port is safe from the kernel here: the reservation still keeps tests apart. */
                *ret_lo = 1024;
                *ret_hi = 65535;
        }
}

/* Take the reservation of the block starting at port: an fd, or -EADDRINUSE. */
static int block_lock(unsigned port) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        socklen_t len;
        int fd, n;

        /* abstract name: sun_path[0] == 0, the rest is the name (no trailing NUL) */
        n = snprintf(un.sun_path + 1, sizeof un.sun_path - 1, "fxsgw-test-ports-%u", port);
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + (size_t) n);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(fd >= 0);
        if (bind(fd, (struct sockaddr *) &un, len) < 0) {
                int r = -errno;
                close(fd);
                if (r != -EADDRINUSE)
                        GW_TEST_FAIL("binding the reservation of port %u: %s", port, strerror(-r));
                return r;
        }
        return fd;
}

/* ip (IPv4 or IPv6 text) and port as a socket address; its length. */
static socklen_t ip_address(const char *ip, uint16_t port, struct sockaddr_storage *ret) {
        struct sockaddr_in *in = (struct sockaddr_in *) ret;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;

        memset(ret, 0, sizeof *ret);
        if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                return sizeof *in;
        }
        if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                return sizeof *in6;
        }
        GW_TEST_FAIL("'%s' is not an IP address", ip);
}

/* A socket bound to ip:port, or -errno of bind. */
static int bind_port(int type, const char *ip, uint16_t port) {
        struct sockaddr_storage ss;
        socklen_t len = ip_address(ip, port, &ss);
        int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);

        ASSERT_TRUE(fd >= 0);
        if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

uint16_t gw_test_port(int type, const char *ip, unsigned span, int *ret_fd) {
        unsigned lo, hi, first, n_blocks, start;

        ASSERT_TRUE(type == SOCK_DGRAM || type == SOCK_STREAM);
        ASSERT_TRUE(span >= 1 && span <= PORT_BLOCK);
        port_range(&lo, &hi);
        first = (lo + PORT_BLOCK - 1) / PORT_BLOCK * PORT_BLOCK;
        n_blocks = (hi + 1 - first) / PORT_BLOCK;
        ASSERT_TRUE(n_blocks > 0);
        ASSERT_EQ(getrandom(&start, sizeof start, 0), sizeof start);

        for (unsigned i = 0; i < n_blocks; i++) {
                unsigned port = first + ((start + i) % n_blocks) * PORT_BLOCK;
                int lock, fds[PORT_BLOCK], k = 0;

                lock = block_lock(port);
                if (lock < 0)
                        continue;               /* another test process holds it */
                /* Free on ip for every port of the span? (someone outside the tests may use it) */
                for (; k < (int) span; k++) {
                        fds[k] = bind_port(type, ip, (uint16_t) (port + (unsigned) k));
                        if (fds[k] < 0)
                                break;
                }
                if (k < (int) span) {
                        while (k > 0)
                                close(fds[--k]);
                        close(lock);
                        continue;
                }
                for (k = ret_fd ? 1 : 0; k < (int) span; k++)
                        close(fds[k]);
                if (ret_fd)
                        *ret_fd = fds[0];
                if (held.n < ELEMENTSOF(held.fds))
                        held.fds[held.n++] = lock;
                else
                        GW_TEST_FAIL("more than %zu port reservations in one test", ELEMENTSOF(held.fds));
                return (uint16_t) port;
        }
        GW_TEST_FAIL("no free block of %u ports on %s within %u-%u", PORT_BLOCK, ip, lo, hi);
}

uint16_t gw_test_udp_port(const char *ip, int *ret_fd) {
        return gw_test_port(SOCK_DGRAM, ip, 1, ret_fd);
}

/* /proc/net/<file> (udp, udp6, tcp, tcp6) lists a socket bound to addr (nwords 32-bit words,
 * as stored: network order) or to the wildcard, on port? The kernel prints each word with %08X. */
static bool proc_net_has(const char *file, const uint32_t *addr, size_t nwords, uint16_t port, bool listen_only) {
        char path[64], line[512];
        bool found = false;
        FILE *f;

        snprintf(path, sizeof path, "/proc/net/%s", file);
        f = fopen(path, "re");
        if (!f)
                return false;
        (void) !fgets(line, sizeof line, f);   /* header */
        while (!found && fgets(line, sizeof line, f)) {
                char local[64], word[9] = {};
                unsigned p, st;
                bool same = true, wildcard = true;

                /* "  sl  local_address rem_address   st ..." with local "0100007F:1F90" */
                if (sscanf(line, " %*u: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", local, &p, &st) != 3)
                        continue;
                if (p != port || (listen_only && st != 0x0A) || strlen(local) != 8 * nwords)
                        continue;
                for (size_t i = 0; i < nwords; i++) {
                        uint32_t w;
                        memcpy(word, local + 8 * i, 8);
                        w = (uint32_t) strtoul(word, NULL, 16);
                        same = same && w == addr[i];
                        wildcard = wildcard && w == 0;
                }
                found = same || wildcard;
        }
        fclose(f);
        return found;
}

bool gw_test_port_in_use(int type, const char *ip, uint16_t port) {
        static const uint32_t any6[4] = {};
        struct sockaddr_storage ss;
        bool tcp = type == SOCK_STREAM;

        (void) ip_address(ip, port, &ss);
        if (ss.ss_family == AF_INET6) {
                uint32_t a[4];
                memcpy(a, &((struct sockaddr_in6 *) &ss)->sin6_addr, sizeof a);
                return proc_net_has(tcp ? "tcp6" : "udp6", a, 4, port, tcp);
        }
        return proc_net_has(tcp ? "tcp" : "udp", &((struct sockaddr_in *) &ss)->sin_addr.s_addr, 1, port, tcp) ||
               proc_net_has(tcp ? "tcp6" : "udp6", any6, 4, port, tcp);    /* [::]: dual-stack */
}

bool gw_test_port_wait_bound(sd_event *e, int type, const char *ip, uint16_t port, uint64_t timeout_usec) {
        uint64_t deadline = gw_test_now_usec() + timeout_usec;

        for (;;) {
                if (gw_test_port_in_use(type, ip, port))
                        return true;
                if (e) {
                        if (!gw_test_run_step(e, deadline))
                                return false;
                } else {
                        if (gw_test_now_usec() >= deadline)
                                return false;
                        (void) usleep(10 * 1000);
                }
        }
}

/* ---- programs and daemons */

static void child_redirect(int target, bool to_null) {
        int fd;

        if (!to_null)
                return;
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0)
                (void) dup2(fd, target);        /* dup2 clears O_CLOEXEC on target */
}

pid_t gw_test_spawn(char *const argv[], char *const env[], GwTestSpawnFlags flags) {
        pid_t parent = getpid(), pid;

        ASSERT_TRUE(argv && argv[0]);
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid > 0)
                return pid;

        /* the child: only async-signal-safe enough calls until exec, and _exit on failure */
        if (flags & GW_TEST_SPAWN_DIE_WITH_TEST) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(127);             /* the test is already gone */
        }
        child_redirect(STDIN_FILENO, true);
        child_redirect(STDOUT_FILENO, flags & GW_TEST_SPAWN_NULL_STDOUT);
        child_redirect(STDERR_FILENO, flags & GW_TEST_SPAWN_NULL_STDERR);
        for (size_t i = 0; env && env[i]; i++) {
                const char *eq = strchr(env[i], '=');
                if (eq) {
                        char name[256];
                        snprintf(name, sizeof name, "%.*s", (int) (eq - env[i]), env[i]);
                        (void) setenv(name, eq + 1, 1);
                } else
                        (void) unsetenv(env[i]);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "exec '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
}

pid_t gw_test_spawn_daemon(const char *binary, const char *config_path, const char *config_text,
                           char *const args[], char *const env[], GwTestSpawnFlags flags) {
        char *argv[64];
        size_t n = 0;

        if (config_text)
                gw_test_write_file(config_path, config_text);
        argv[n++] = UNCONST(binary);
        argv[n++] = (char *) "--config";
        argv[n++] = UNCONST(config_path);
        for (size_t i = 0; args && args[i]; i++) {
                ASSERT_TRUE(n + 1 < ELEMENTSOF(argv));
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        return gw_test_spawn(argv, env, flags);
}

pid_t gw_test_spawn_server(char *const argv[], char *const env[], GwTestSpawnFlags flags,
                           int type, const char *ip, uint16_t port, uint64_t timeout_usec) {
        uint64_t deadline = gw_test_now_usec() + timeout_usec;
        pid_t pid = gw_test_spawn(argv, env, flags);

        while (!gw_test_port_in_use(type, ip, port)) {
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return -1;
                if (gw_test_now_usec() >= deadline) {
                        gw_test_stop(pid);
                        return -1;
                }
                (void) usleep(10 * 1000);
        }
        return pid;
}

static struct {
        pid_t pids[8];
        size_t n;
        pid_t owner;
} dnsmasqs;

static void dnsmasqs_stop(void) {
        if (getpid() != dnsmasqs.owner)
                return;
        while (dnsmasqs.n > 0)
                gw_test_stop(dnsmasqs.pids[--dnsmasqs.n]);
}

uint16_t gw_test_dnsmasq(const char *ip, unsigned ttl_s, const char *const records[]) {
        char listen[128], port_arg[32], ttl[32];
        const char *argv[64];
        size_t n = 0;
        uint16_t port;
        pid_t pid;

        (void) gw_test_require_program("dnsmasq");
        port = gw_test_udp_port(ip, NULL);
        snprintf(listen, sizeof listen, "--listen-address=%s", ip);
        snprintf(port_arg, sizeof port_arg, "--port=%u", port);
        snprintf(ttl, sizeof ttl, "--local-ttl=%u", ttl_s);
        argv[n++] = "dnsmasq";
        argv[n++] = "--no-daemon";
        argv[n++] = "--conf-file=/dev/null";
        argv[n++] = "--no-resolv";
        argv[n++] = "--no-hosts";
        argv[n++] = listen;
        argv[n++] = port_arg;
        argv[n++] = "--bind-interfaces";
        argv[n++] = "--pid-file";          /* none */
        argv[n++] = "--local=/test/";
        argv[n++] = ttl;
        if (geteuid() == 0) {
                /* it would drop to 'nobody' */
                argv[n++] = "--user=root";
                argv[n++] = "--group=root";
        }
        for (size_t i = 0; records[i]; i++) {
                ASSERT_TRUE(n + 1 < ELEMENTSOF(argv));
                argv[n++] = records[i];
        }
        argv[n] = NULL;

        pid = gw_test_spawn_server((char *const *) UNCONST(argv), NULL,
                                   GW_TEST_SPAWN_DIE_WITH_TEST |
                                   (getenv("TEST_DNSMASQ_VERBOSE") ? 0 : GW_TEST_SPAWN_NULL_STDOUT | GW_TEST_SPAWN_NULL_STDERR),
                                   SOCK_DGRAM, ip, port, 5 * USEC_PER_SEC);
        if (pid < 0)
                GW_TEST_FAIL("dnsmasq did not start on %s:%u (TEST_DNSMASQ_VERBOSE=1 shows why)", ip, port);
        if (dnsmasqs.owner != getpid()) {
                dnsmasqs.owner = getpid();
                dnsmasqs.n = 0;
                ASSERT_OK(atexit(dnsmasqs_stop));
        }
        ASSERT_TRUE(dnsmasqs.n < ELEMENTSOF(dnsmasqs.pids));
        dnsmasqs.pids[dnsmasqs.n++] = pid;
        fprintf(stderr, "dnsmasq %d serving on %s:%u\n", (int) pid, ip, port);
        return port;
}

int gw_test_wait_exit(sd_event *e, pid_t pid, uint64_t timeout_usec, int *ret_status) {
        uint64_t deadline = gw_test_now_usec() + timeout_usec;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        GW_TEST_FAIL("waitpid(%d): %s", (int) pid, strerror(errno));
                if (r == pid) {
                        if (ret_status)
                                *ret_status = status;
                        return 0;
                }
                if (e) {
                        if (!gw_test_run_step(e, deadline))
                                return -ETIMEDOUT;
                } else {
                        if (gw_test_now_usec() >= deadline)
                                return -ETIMEDOUT;
                        (void) usleep(5 * 1000);
                }
        }
}

void gw_test_stop(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        if (gw_test_wait_exit(NULL, pid, 5 * USEC_PER_SEC, NULL) < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
        }
}
