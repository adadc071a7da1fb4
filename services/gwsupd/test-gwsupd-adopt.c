/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwsupd-adopt.c: gwsupd.children, and telling an adoptable daemon from a
 * recycled or foreign pid, on real processes (/bin/sleep and copies of it). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw-macro.h"
#include "gw-tests.h"
#include "gwsupd-adopt.h"

DEFINE_TEST_MAIN;

static char tmpdir[256];

static const char *sleep_bin(void) {
        static char path[PATH_MAX];

        if (!path[0]) {
                char *p = realpath("/bin/sleep", NULL);
                ASSERT_NOT_NULL(p);
                snprintf(path, sizeof path, "%s", p);
                free(p);
        }
        return path;
}

/* A copy of sleep at <tmpdir>/<dir>/<name>: a program of that name at another path. */
static const char *sleep_copy(const char *dir, const char *name) {
        static char path[PATH_MAX];
        char cmd[3 * PATH_MAX];

        if (!tmpdir[0]) {
                snprintf(tmpdir, sizeof tmpdir, "/tmp/test-gwsupd-adopt-XXXXXX");
                ASSERT_NOT_NULL(mkdtemp(tmpdir));
        }
        snprintf(path, sizeof path, "%s/%s", tmpdir, dir);
        (void) mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%s/%s", tmpdir, dir, name);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", sleep_bin(), path);
        ASSERT_EQ(system(cmd), 0);
        return path;
}

static pid_t spawn(const char *path) {
        pid_t pid = fork();

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                execl(path, path, "30", (char *) NULL);
                _exit(127);
        }
        /* After exec: /proc/<pid>/exe is the program, not us. */
        for (unsigned i = 0; i < 500; i++) {
                char exe[PATH_MAX], link[64];
                ssize_t n;

                snprintf(link, sizeof link, "/proc/%d/exe", (int) pid);
                n = readlink(link, exe, sizeof exe - 1);
                if (n > 0) {
                        exe[n] = 0;
                        if (strcmp(exe, path) == 0)
                                return pid;
                }
                usleep(2000);
        }
        GW_TEST_FAIL("%s did not start", path);
}

static void stop(pid_t pid) {
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

static LeftoverEntry entry(const char *name, pid_t pid, unsigned long long starttime) {
        LeftoverEntry e = { .pid = pid, .starttime = starttime, .ready = true };

        snprintf(e.name, sizeof e.name, "%s", name);
        return e;
}

TEST(gwsupd_children_file_round_trip) {
        LeftoverEntry e = entry("mediad", 4242, 123456789ULL), out[4];
        char buf[256], text[512];
        size_t n;
        int k;

        e.instance_id = UINT64_C(0x0123456789abcdef);
        e.restarts = 3;
        k = leftover_format(&e, buf, sizeof buf);
        ASSERT_TRUE(k > 0);
        ASSERT_STREQ(buf, "mediad 4242 123456789 0123456789abcdef running 3\n");
        ASSERT_EQ(leftover_format(&e, buf, 10), -ENOBUFS);

        e.ready = false;
        snprintf(text, sizeof text,
                 "%s"
                 "sigd 77 99\n"                          /* the older three-field form */
                 "garbage line\n"
                 "regd 1 5 0 running 0\n"                /* pid 1: never */
                 "regd 12 0 0 running 0\n"               /* no start time */
                 "regd 13 7 0 sleeping 0\n"              /* unknown state */
                 "linehwd 14 8 00000000000000ff starting 1",   /* no final newline */
                 (leftover_format(&e, buf, sizeof buf), buf));
        n = leftover_parse(text, strlen(text), out, ELEMENTSOF(out));
        ASSERT_EQ(n, 3);
        ASSERT_STREQ(out[0].name, "mediad");
        ASSERT_EQ(out[0].pid, 4242);
        ASSERT_EQ(out[0].starttime, 123456789ULL);
        ASSERT_EQ(out[0].instance_id, UINT64_C(0x0123456789abcdef));
        ASSERT_FALSE(out[0].ready);
        ASSERT_EQ(out[0].restarts, 3);
        ASSERT_STREQ(out[1].name, "sigd");
        ASSERT_EQ(out[1].pid, 77);
        ASSERT_EQ(out[1].instance_id, 0);
        ASSERT_TRUE(out[1].ready);                             /* listed: it was running */
        ASSERT_STREQ(out[2].name, "linehwd");
        ASSERT_EQ(out[2].instance_id, 0xff);
        ASSERT_EQ(out[2].restarts, 1);
        /* bounded by max */
        ASSERT_EQ(leftover_parse(text, strlen(text), out, 1), 1);
}

TEST(gwsupd_starttime_of_live_zombie_gone) {
        unsigned long long st;
        pid_t pid;

        ASSERT_TRUE(proc_starttime(getpid()) > 0);
        ASSERT_EQ(proc_starttime(0), 0);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        st = proc_starttime(pid);
        ASSERT_TRUE(st >= proc_starttime(getpid()));
        ASSERT_TRUE(proc_age_usec(st) < 60ULL * 1000000ULL);
        ASSERT_OK(kill(pid, SIGKILL));
        {
                siginfo_t si;
                /* A zombie (exited, not reaped) counts as gone. */
                ASSERT_OK(waitid(P_PID, (id_t) pid, &si, WEXITED | WNOWAIT));
        }
        ASSERT_EQ(proc_starttime(pid), 0);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        ASSERT_EQ(proc_starttime(pid), 0);
}

/* The same process, the binary we would run: adopt it; a pidfd watches it. */
TEST(gwsupd_adopts_same_pid_same_start_same_binary) {
        pid_t pid = spawn(sleep_bin());
        LeftoverEntry e = entry("sleep", pid, proc_starttime(pid));
        struct pollfd p;
        int fd;

        ASSERT_EQ(leftover_check(&e, sleep_bin()), LEFTOVER_ADOPT);
        ASSERT_EQ(leftover_check(&e, "/bin/sleep"), LEFTOVER_ADOPT);   /* compared resolved */
        fd = leftover_pidfd(&e);
        if (fd == -ENOSYS) {
                /* valgrind 3.19 has no pidfd_open: gwsupd then watches by pid (gwsupd-manager.c);
                 * the verdicts are what is left to check here. */
                fprintf(stderr, "pidfd_open() not available here: the pidfd part not checked\n");
                ASSERT_OK(kill(pid, SIGKILL));
                ASSERT_EQ(waitpid(pid, NULL, 0), pid);
                ASSERT_EQ(leftover_check(&e, sleep_bin()), LEFTOVER_GONE);
                ASSERT_EQ(leftover_pidfd(&e), -ESRCH);
                return;
        }
        ASSERT_TRUE(fd >= 0);
        p = (struct pollfd) { .fd = fd, .events = POLLIN };
        ASSERT_EQ(poll(&p, 1, 0), 0);                          /* running */
        ASSERT_OK(kill(pid, SIGKILL));
        ASSERT_EQ(poll(&p, 1, 5000), 1);                       /* its end is seen, though not reaped */
        ASSERT_EQ(leftover_check(&e, sleep_bin()), LEFTOVER_GONE);
        ASSERT_EQ(leftover_pidfd(&e), -ESRCH);                 /* a zombie: not that process any more */
        close(fd);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        ASSERT_EQ(leftover_pidfd(&e), -ESRCH);
}

/* The pid now belongs to another process (other start time): gone, never adopted nor signalled. */
TEST(gwsupd_never_takes_a_recycled_pid) {
        pid_t pid = spawn(sleep_bin());
        LeftoverEntry e = entry("sleep", pid, proc_starttime(pid) - 1);

        ASSERT_EQ(leftover_check(&e, sleep_bin()), LEFTOVER_GONE);
        ASSERT_EQ(leftover_pidfd(&e), -ESRCH);
        e.starttime += 2;
        ASSERT_EQ(leftover_check(&e, sleep_bin()), LEFTOVER_GONE);
        e.pid = getpid();                                      /* ourselves: never */
        e.starttime = proc_starttime(getpid());
        ASSERT_EQ(leftover_check(&e, "/proc/self/exe"), LEFTOVER_GONE);
        ASSERT_EQ(kill(pid, 0), 0);                            /* untouched */
        stop(pid);
}

/* Our daemon's name but another binary (another install): replaced; another
 * program altogether (a forged or corrupt file): foreign, left alone. */
TEST(gwsupd_replaces_other_binary_leaves_foreign) {
        const char *other = sleep_copy("other", "sigd");
        pid_t pid = spawn(other), plain = spawn(sleep_bin());
        LeftoverEntry e = entry("sigd", pid, proc_starttime(pid));
        LeftoverEntry f = entry("sigd", plain, proc_starttime(plain));
        char cmd[PATH_MAX + 16];

        ASSERT_EQ(leftover_check(&e, "/usr/libexec/fxsgw/sigd"), LEFTOVER_REPLACE);
        ASSERT_EQ(leftover_check(&e, NULL), LEFTOVER_REPLACE);     /* a name we do not run */
        ASSERT_EQ(leftover_check(&e, other), LEFTOVER_ADOPT);
        ASSERT_EQ(leftover_check(&f, "/usr/libexec/fxsgw/sigd"), LEFTOVER_FOREIGN);
        ASSERT_EQ(leftover_check(&f, NULL), LEFTOVER_FOREIGN);
        ASSERT_STREQ(leftover_verdict_to_string(LEFTOVER_FOREIGN), "foreign");
        stop(pid);
        stop(plain);

        /* Upgraded in place: the binary was replaced since it started ("(deleted)"). */
        pid = spawn(other);
        e = entry("sigd", pid, proc_starttime(pid));
        ASSERT_OK(unlink(other));
        ASSERT_EQ(leftover_check(&e, other), LEFTOVER_ADOPT);
        stop(pid);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ASSERT_EQ(system(cmd), 0);
}
