/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-test.c: the test library itself — port reservations, temporary directories removed
 * at exit, the loop runners, spawning, skipping. Cases that need a second process fork one:
 * reservations and the exit handler are per process. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw-test.h"
#include "gw-tests.h"

DEFINE_TEST_MAIN

static uint16_t bound_port(int fd) {
        struct sockaddr_in sin;
        socklen_t len = sizeof sin;

        ASSERT_OK(getsockname(fd, (struct sockaddr *) &sin, &len));
        return ntohs(sin.sin_port);
}

static uint16_t bound_port6(int fd) {
        struct sockaddr_in6 sin6;
        socklen_t len = sizeof sin6;

        ASSERT_OK(getsockname(fd, (struct sockaddr *) &sin6, &len));
        ASSERT_EQ(sin6.sin6_family, AF_INET6);
        return ntohs(sin6.sin6_port);
}

/* bind() result for a fresh socket on ip:port: 0, or -errno. The socket is closed again. */
static int try_bind(int type, const char *ip, uint16_t port) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
        _cleanup_close_ int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
        if (bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0)
                return -errno;
        if (type == SOCK_STREAM)
                ASSERT_OK(listen(fd, 1));
        return 0;
}

static void ephemeral_range(unsigned *lo, unsigned *hi) {
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");

        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fscanf(f, "%u %u", lo, hi), 2);
        fclose(f);
}

/* Wait for a forked child; its raw status. */
static int reap(pid_t pid) {
        int status;

        ASSERT_OK(gw_test_wait_exit(NULL, pid, 10 * USEC_PER_SEC, &status));
        return status;
}

/* A port handed over as a socket stays bound; its block is nobody else's. */
TEST(port_with_fd_stays_bound) {
        unsigned lo, hi;
        int fd = -EBADF;
        uint16_t port = gw_test_port(SOCK_DGRAM, "127.0.0.1", 1, &fd);

        ephemeral_range(&lo, &hi);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(bound_port(fd), port);
        ASSERT_EQ(port % 4, 0);
        if (!getenv("GW_TEST_PORTS") && 65535 - hi >= 256)
                ASSERT_TRUE(port > hi);         /* never one the kernel hands out by itself */
        ASSERT_TRUE(gw_test_port_in_use(SOCK_DGRAM, "127.0.0.1", port));
        ASSERT_ERROR(try_bind(SOCK_DGRAM, "127.0.0.1", port), EADDRINUSE);
        close(fd);
        ASSERT_FALSE(gw_test_port_in_use(SOCK_DGRAM, "127.0.0.1", port));

        /* TCP: listening shows in /proc/net/tcp */
        port = gw_test_port(SOCK_STREAM, "127.0.0.1", 1, &fd);
        ASSERT_EQ(bound_port(fd), port);
        ASSERT_FALSE(gw_test_port_in_use(SOCK_STREAM, "127.0.0.1", port));      /* bound, not listening */
        ASSERT_OK(listen(fd, 1));
        ASSERT_TRUE(gw_test_port_in_use(SOCK_STREAM, "127.0.0.1", port));
        close(fd);

        /* IPv6 */
        port = gw_test_udp_port("::1", &fd);
        ASSERT_EQ(bound_port6(fd), port);
        ASSERT_TRUE(gw_test_port_in_use(SOCK_DGRAM, "::1", port));
        ASSERT_FALSE(gw_test_port_in_use(SOCK_DGRAM, "127.0.0.1", port));
        close(fd);
        ASSERT_FALSE(gw_test_port_in_use(SOCK_DGRAM, "::1", port));
}

/* A port for a program that binds it itself: free on the address, yet reserved — a second
 * process given the same few ports gets none of them, until the first one exits. */
TEST(port_without_fd_stays_reserved) {
        char range[32];
        unsigned lo, hi, base;
        uint16_t ports[4];
        pid_t pid;
        int status;

        /* Blocks of four inside the ephemeral range, where no other test looks for ports: 32
         * ports that nothing holds right now (the kernel may hand them out meanwhile, rarely). */
        ephemeral_range(&lo, &hi);
        for (base = (lo + 256 + (unsigned) (getpid() % 64) * 32) / 4 * 4; base + 31 <= hi; base += 32) {
                unsigned k = 0;
                while (k < 32 && !gw_test_port_in_use(SOCK_DGRAM, "127.0.0.2", (uint16_t) (base + k)))
                        k++;
                if (k == 32)
                        break;
        }
        ASSERT_TRUE(base + 31 <= hi);
        snprintf(range, sizeof range, "%u-%u", base, base + 15);
        ASSERT_OK(setenv("GW_TEST_PORTS", range, 1));

        for (unsigned i = 0; i < 4; i++) {
                ports[i] = gw_test_port(SOCK_DGRAM, "127.0.0.2", i == 3 ? 3 : 1, NULL);
                ASSERT_TRUE(ports[i] >= base && ports[i] <= base + 12);
                for (unsigned k = 0; k < i; k++)
                        ASSERT_TRUE(ports[k] != ports[i]);
                /* free for the program: it binds, then the port shows as in use */
                ASSERT_FALSE(gw_test_port_in_use(SOCK_DGRAM, "127.0.0.2", ports[i]));
                ASSERT_OK(try_bind(SOCK_DGRAM, "127.0.0.2", ports[i]));
        }
        /* the span's other ports were free too (SIPp's media takes port and port+2) */
        ASSERT_OK(try_bind(SOCK_DGRAM, "127.0.0.2", (uint16_t) (ports[3] + 2)));

        /* Another process finds every block reserved: the library fails its test (abort). */
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                dup2(null, STDERR_FILENO);
                (void) gw_test_port(SOCK_DGRAM, "127.0.0.2", 1, NULL);
                _exit(0);
        }
        status = reap(pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);

        /* Reservations end with their process: a child takes all four blocks of a second
         * range and exits; then this process gets all four. */
        snprintf(range, sizeof range, "%u-%u", base + 16, base + 31);
        ASSERT_OK(setenv("GW_TEST_PORTS", range, 1));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                for (unsigned i = 0; i < 4; i++)
                        (void) gw_test_port(SOCK_DGRAM, "127.0.0.2", 1, NULL);
                _exit(0);
        }
        status = reap(pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        for (unsigned i = 0; i < 4; i++)
                ASSERT_TRUE(gw_test_port(SOCK_DGRAM, "127.0.0.2", 1, NULL) >= base + 16);
        ASSERT_OK(unsetenv("GW_TEST_PORTS"));
}

/* Looking at /proc never takes the port: a program binding meanwhile is not refused. */
TEST(port_wait_bound) {
        uint16_t port = gw_test_port(SOCK_DGRAM, "127.0.0.3", 1, NULL);
        int pfd[2], status;
        char c;
        pid_t pid;

        ASSERT_FALSE(gw_test_port_wait_bound(NULL, SOCK_DGRAM, "127.0.0.3", port, 50 * USEC_PER_MSEC));
        ASSERT_OK(pipe2(pfd, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
                int fd = socket(AF_INET, SOCK_DGRAM, 0);

                inet_pton(AF_INET, "127.0.0.3", &sin.sin_addr);
                usleep(100 * 1000);
                if (bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0)
                        _exit(1);
                (void) read(pfd[0], &c, 1);      /* until the parent has seen it */
                _exit(0);
        }
        ASSERT_TRUE(gw_test_port_wait_bound(NULL, SOCK_DGRAM, "127.0.0.3", port, 5 * USEC_PER_SEC));
        ASSERT_EQ(write(pfd[1], "x", 1), 1);
        status = reap(pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(pfd[0]);
        close(pfd[1]);
}

/* Runs child() in a forked process that reports a path on a pipe; returns the path and the
 * child's raw status. */
static int in_child(void (*child)(int wfd), char *path, size_t n) {
        int pfd[2];
        ssize_t k;
        pid_t pid;

        ASSERT_OK(pipe2(pfd, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                close(pfd[0]);
                child(pfd[1]);
                exit(0);
        }
        close(pfd[1]);
        k = read(pfd[0], path, n - 1);
        ASSERT_TRUE(k > 0);
        path[k] = 0;
        close(pfd[0]);
        return reap(pid);
}

static void make_tree(const char *d) {
        char p[512];

        snprintf(p, sizeof p, "%s/file", d);
        gw_test_write_file(p, "x\n");
        snprintf(p, sizeof p, "%s/sub", d);
        ASSERT_OK(mkdir(p, 0700));
        snprintf(p, sizeof p, "%s/sub/deeper", d);
        gw_test_write_file(p, "y\n");
        snprintf(p, sizeof p, "%s/sub/link", d);
        ASSERT_OK(symlink("/", p));     /* removed, never followed */
}

static void child_exits(int wfd) {
        const char *d = gw_test_tmpdir("test-gw-test");

        make_tree(d);
        ASSERT_EQ(write(wfd, d, strlen(d)), (ssize_t) strlen(d));
        /* a grandchild exiting removes nothing of ours */
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                exit(0);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        ASSERT_EQ(access(d, F_OK), 0);
}

static void child_skips(int wfd) {
        const char *d = gw_test_tmpdir("test-gw-test");

        ASSERT_EQ(write(wfd, d, strlen(d)), (ssize_t) strlen(d));
        dup2(open("/dev/null", O_WRONLY | O_CLOEXEC), STDERR_FILENO);
        gw_test_skip("nothing to test with");
}

static void child_aborts(int wfd) {
        const char *d = gw_test_tmpdir("test-gw-test");

        ASSERT_EQ(write(wfd, d, strlen(d)), (ssize_t) strlen(d));
        abort();
}

TEST(tmpdir_removed_at_exit) {
        char path[512];
        int status;
        struct stat st;

        status = in_child(child_exits, path, sizeof path);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(strncmp(path, "/tmp/test-gw-test-", 18) == 0 || getenv("TMPDIR"));
        ASSERT_EQ(access(path, F_OK), -1);
        ASSERT_EQ(errno, ENOENT);
        ASSERT_OK(stat("/", &st));                  /* the symlink's target is intact */

        status = in_child(child_skips, path, sizeof path);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 77);
        ASSERT_EQ(access(path, F_OK), -1);

        /* a failed assertion keeps the directory for a post-mortem */
        status = in_child(child_aborts, path, sizeof path);
        ASSERT_TRUE(WIFSIGNALED(status));
        ASSERT_EQ(access(path, F_OK), 0);
        gw_test_rm_rf(path);
        ASSERT_EQ(access(path, F_OK), -1);
        gw_test_rm_rf(path);                        /* gone already: fine */
}

TEST(tmpdir_removed_early) {
        const char *d = gw_test_tmpdir("test-gw-test");
        char copy[512];

        snprintf(copy, sizeof copy, "%s", d);
        make_tree(copy);
        gw_test_rm_rf(copy);                        /* d is freed: forgotten by the exit handler */
        ASSERT_EQ(access(copy, F_OK), -1);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

static bool reached_one(void *userdata) {
        return *(unsigned *) userdata >= 1;
}

TEST(run_until_and_for) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        unsigned fired = 0;
        uint64_t t0;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 30 * USEC_PER_MSEC, 0, on_timer, &fired));
        t0 = gw_test_now_usec();
        ASSERT_TRUE(gw_test_run_until(e, reached_one, &fired, 5 * USEC_PER_SEC));
        ASSERT_TRUE(gw_test_now_usec() - t0 >= 29 * USEC_PER_MSEC);
        ASSERT_TRUE(gw_test_now_usec() - t0 < 4 * USEC_PER_SEC);

        /* timeout: false, after about the time asked */
        t0 = gw_test_now_usec();
        ASSERT_FALSE(GW_TEST_RUN_UNTIL(e, fired >= 2, 50 * USEC_PER_MSEC));
        ASSERT_TRUE(gw_test_now_usec() - t0 >= 50 * USEC_PER_MSEC);

        ASSERT_OK(sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 20 * USEC_PER_MSEC, 0, on_timer, &fired));
        t0 = gw_test_now_usec();
        gw_test_run_for(e, 60 * USEC_PER_MSEC);
        ASSERT_EQ(fired, 2);
        ASSERT_TRUE(gw_test_now_usec() - t0 >= 60 * USEC_PER_MSEC);
}

TEST(spawn_and_wait) {
        const char *sh = gw_test_require_program("sh");
        char *const exit3[] = { UNCONST(sh), (char *) "-c", (char *) "exit 3", NULL };
        char *const envcheck[] = { UNCONST(sh), (char *) "-c",
                                   (char *) "test \"$GW_T_SET\" = yes && test -z \"${GW_T_UNSET+x}\"", NULL };
        char *const env[] = { (char *) "GW_T_SET=yes", (char *) "GW_T_UNSET", NULL };
        char *const sleeper[] = { (char *) "sleep", (char *) "30", NULL };
        int status = -1;
        pid_t pid;

        ASSERT_OK(gw_test_wait_exit(NULL, gw_test_spawn(exit3, NULL, 0), 5 * USEC_PER_SEC, &status));
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3);

        ASSERT_OK(setenv("GW_T_UNSET", "set in the test", 1));
        ASSERT_OK(gw_test_wait_exit(NULL, gw_test_spawn(envcheck, env, 0), 5 * USEC_PER_SEC, &status));
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_STREQ(getenv("GW_T_UNSET"), "set in the test");         /* the test's own is untouched */

        pid = gw_test_spawn(sleeper, NULL, GW_TEST_SPAWN_DIE_WITH_TEST);
        ASSERT_ERROR(gw_test_wait_exit(NULL, pid, 20 * USEC_PER_MSEC, NULL), ETIMEDOUT);
        gw_test_stop(pid);
        ASSERT_TRUE(kill(pid, 0) < 0 && errno == ESRCH);

        /* a daemon with its config written first: this "daemon" copies its config file out */
        const char *d = gw_test_tmpdir("test-gw-test");
        char conf[512], out[512], bin[512], buf[128] = {};
        char *const dargs[] = { (char *) "-v", NULL };
        char *const denv[] = { out, NULL };
        struct stat st;
        int fd;

        snprintf(conf, sizeof conf, "%s/fxsgw.yaml", d);
        snprintf(out, sizeof out, "GW_T_OUT=%s/out", d);
        snprintf(bin, sizeof bin, "%s/fake-daemon", d);
        gw_test_write_file(bin, "#!/bin/sh\ntest \"$1\" = --config && test \"$3\" = -v && cp \"$2\" \"$GW_T_OUT\"\n");
        ASSERT_OK(chmod(bin, 0700));
        pid = gw_test_spawn_daemon(bin, conf, "sip:\n  listen: 127.0.0.1:5060\n", dargs, denv, 0);
        ASSERT_OK(gw_test_wait_exit(NULL, pid, 5 * USEC_PER_SEC, &status));
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        fd = open(out + strlen("GW_T_OUT="), O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(read(fd, buf, sizeof buf - 1) > 0);
        close(fd);
        ASSERT_STREQ(buf, "sip:\n  listen: 127.0.0.1:5060\n");
        ASSERT_OK(stat(conf, &st));
        ASSERT_EQ(st.st_mode & 0777, 0600);
}

/* A server is ready once it has bound its port; one that never does is stopped. */
TEST(spawn_server) {
        const char *python = gw_test_require_program("python3");
        uint16_t port = gw_test_udp_port("127.0.0.3", NULL);
        char script[256];
        char *const binds[] = { UNCONST(python), (char *) "-c", script, NULL };
        char *const sleeps[] = { (char *) "sleep", (char *) "30", NULL };
        pid_t pid;

        snprintf(script, sizeof script,
                 "import socket, time\n"
                 "time.sleep(0.1)\n"
                 "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                 "s.bind(('127.0.0.3', %u))\n"
                 "time.sleep(30)\n", port);
        pid = gw_test_spawn_server(binds, NULL, GW_TEST_SPAWN_DIE_WITH_TEST, SOCK_DGRAM, "127.0.0.3", port, 5 * USEC_PER_SEC);
        ASSERT_TRUE(pid > 0);
        ASSERT_TRUE(gw_test_port_in_use(SOCK_DGRAM, "127.0.0.3", port));
        gw_test_stop(pid);
        ASSERT_FALSE(gw_test_port_in_use(SOCK_DGRAM, "127.0.0.3", port));

        port = gw_test_udp_port("127.0.0.3", NULL);
        ASSERT_EQ(gw_test_spawn_server(sleeps, NULL, 0, SOCK_DGRAM, "127.0.0.3", port, 100 * USEC_PER_MSEC), -1);
}

TEST(skip_says_why) {
        int pfd[2], status;
        char buf[256] = {};
        pid_t pid;

        ASSERT_OK(pipe2(pfd, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                dup2(pfd[1], STDERR_FILENO);
                (void) gw_test_require_program("no-such-program-fxsgw");
                _exit(0);
        }
        close(pfd[1]);
        for (size_t n = 0; n < sizeof buf - 1;) {
                ssize_t k = read(pfd[0], buf + n, sizeof buf - 1 - n);
                ASSERT_TRUE(k >= 0);
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        close(pfd[0]);
        status = reap(pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 77);
        ASSERT_STREQ(buf, "SKIP: 'no-such-program-fxsgw' not found\n");
}
