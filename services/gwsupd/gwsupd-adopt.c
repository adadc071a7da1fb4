/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-adopt.c: reading gwsupd.children and telling an adoptable daemon from a recycled pid. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gw-macro.h"
#include "gwsupd-adopt.h"

static const char *const verdict_table[] = {
        [LEFTOVER_GONE] = "gone",
        [LEFTOVER_ADOPT] = "adopt",
        [LEFTOVER_REPLACE] = "replace",
        [LEFTOVER_FOREIGN] = "foreign",
};

const char *leftover_verdict_to_string(LeftoverVerdict v) {
        return (unsigned) v < ELEMENTSOF(verdict_table) ? verdict_table[v] : NULL;
}

unsigned long long proc_starttime(pid_t pid) {
        char path[64], buf[1024], *p;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (pid <= 0)
                return 0;
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        p = strrchr(buf, ')');           /* the command name may hold spaces and ')' */
        if (!p || p[1] != ' ')
                return 0;
        p += 2;
        if (*p == 'Z' || *p == 'X')      /* field 3, the state */
                return 0;
        /* Fields 3 (state) ... 22 (starttime), separated by single spaces. */
        for (int field = 3; field < 22; field++) {
                p = strchr(p, ' ');
                if (!p)
                        return 0;
                p++;
        }
        return strtoull(p, NULL, 10);
}

uint64_t proc_age_usec(unsigned long long starttime) {
        struct timespec ts;
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t now, start;

        if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return 0;
        now = (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
        start = (uint64_t) starttime * 1000000ULL / (uint64_t) hz;
        return now > start ? now - start : 0;
}

size_t leftover_parse(const char *data, size_t len, LeftoverEntry *ret, size_t max) {
        size_t n = 0;

        for (size_t off = 0; off < len && n < max;) {
                const char *nl = memchr(data + off, '\n', len - off);
                size_t ll = nl ? (size_t) (nl - (data + off)) : len - off;
                char line[256], state[16] = "running";
                LeftoverEntry e = {};
                unsigned restarts = 0;
                int pid, k;

                if (ll < sizeof line) {
                        memcpy(line, data + off, ll);
                        line[ll] = 0;
                        k = sscanf(line, "%32s %d %llu %" SCNx64 " %15s %u", e.name, &pid, &e.starttime,
                                   &e.instance_id, state, &restarts);
                        if ((k == 3 || k == 6) && pid > 1 && e.starttime > 0 &&
                            (streq(state, "running") || streq(state, "starting"))) {
                                e.pid = pid;
                                e.ready = streq(state, "running");
                                e.restarts = k == 6 ? restarts : 0;
                                if (k == 3)
                                        e.instance_id = 0;
                                ret[n++] = e;
                        }
                }
                off += ll + 1;
        }
        return n;
}

int leftover_format(const LeftoverEntry *e, char *buf, size_t size) {
        int k = snprintf(buf, size, "%s %d %llu %016" PRIx64 " %s %u\n", e->name, (int) e->pid, e->starttime,
                         e->instance_id, e->ready ? "running" : "starting", e->restarts);

        return k < 0 || (size_t) k >= size ? -ENOBUFS : k;
}

static const char *base_name(const char *p) {
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

/* The program the process runs: /proc/<pid>/exe without " (deleted)" (the
 * binary was replaced, e.g. by an upgrade, since it started). */
static int proc_exe(pid_t pid, char *buf, size_t size) {
        char path[64];
        ssize_t n;
        size_t dl = strlen(" (deleted)");

        snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        n = readlink(path, buf, size - 1);
        if (n < 0)
                return -errno;
        if ((size_t) n >= size - 1)
                return -ENAMETOOLONG;
        buf[n] = 0;
        if ((size_t) n > dl && streq(buf + n - dl, " (deleted)"))
                buf[n - dl] = 0;
        return 0;
}

static int proc_comm(pid_t pid, char *buf, size_t size) {
        char path[64];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n <= 0)
                return n < 0 ? -errno : -EIO;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return 0;
}

/* comm holds at most 15 characters of the name. */
static bool comm_is(const char *comm, const char *name) {
        return strncmp(comm, name, 15) == 0 && (strlen(name) <= 15 ? strlen(comm) == strlen(name) : true);
}

LeftoverVerdict leftover_check(const LeftoverEntry *e, const char *expected_path) {
        char exe[PATH_MAX], comm[32];
        _cleanup_free_ char *want = NULL;

        if (e->pid <= 1 || e->starttime == 0 || e->pid == getpid() || proc_starttime(e->pid) != e->starttime)
                return LEFTOVER_GONE;
        if (expected_path)
                want = realpath(expected_path, NULL);

        if (proc_exe(e->pid, exe, sizeof exe) >= 0) {
                if (expected_path && (streq(exe, expected_path) || (want && streq(exe, want))))
                        return LEFTOVER_ADOPT;
                return streq(base_name(exe), e->name) ? LEFTOVER_REPLACE : LEFTOVER_FOREIGN;
        }
        /* /proc/<pid>/exe unreadable (another user's process): comm is all we have. */
        if (proc_comm(e->pid, comm, sizeof comm) < 0)
                return LEFTOVER_FOREIGN;
        if (expected_path && comm_is(comm, base_name(want ?: expected_path)))
                return LEFTOVER_ADOPT;
        return comm_is(comm, e->name) ? LEFTOVER_REPLACE : LEFTOVER_FOREIGN;
}

int leftover_pidfd(const LeftoverEntry *e) {
        int fd;

        /* Not that process (any more): said first, whether pidfds exist here or not. */
        if (proc_starttime(e->pid) != e->starttime)
                return -ESRCH;
        fd = (int) syscall(SYS_pidfd_open, e->pid, 0);
        if (fd < 0)
                return -errno;
        /* Opened after the check in leftover_check(): if the pid was recycled
         * meanwhile, the start time now differs. */
        if (proc_starttime(e->pid) != e->starttime) {
                close(fd);
                return -ESRCH;
        }
        return fd;
}
