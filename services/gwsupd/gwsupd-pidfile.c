/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-pidfile.c: the supervisor's pid file, created atomically. */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gw-macro.h"
#include "gwsupd-pidfile.h"

static pid_t pidfile_read(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        char buf[32], *end;
        ssize_t n;
        long v;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        v = strtol(buf, &end, 10);
        if (v <= 0 || v > INT32_MAX || (*end && *end != '\n'))
                return -EBADMSG;
        return (pid_t) v;
}

/* Is pid a running gwsupd? A pid reused by some other program after a crash
 * must not block the start. */
static bool pid_is_gwsupd(pid_t pid) {
        char path[64], comm[32] = {};
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (pid <= 0 || pid == getpid())
                return false;
        if (kill(pid, 0) < 0 && errno != EPERM)
                return false;
        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true;             /* alive but unreadable: assume it is one */
        n = read(fd, comm, sizeof comm - 1);
        if (n <= 0)
                return true;
        comm[strcspn(comm, "\n")] = 0;
        return strncmp(comm, "gwsupd", 6) == 0 || strncmp(comm, "lt-gwsupd", 9) == 0;
}

int pidfile_acquire(const char *path, pid_t *ret_other) {
        char tmp[512], buf[32];
        _cleanup_close_ int fd = -EBADF;
        int n, r = -EEXIST;

        if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid()) >= (int) sizeof tmp)
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof buf, "%d\n", (int) getpid());
        if (write(fd, buf, (size_t) n) != n) {
                r = errno > 0 ? -errno : -EIO;
                (void) unlink(tmp);
                return r;
        }

        /* Two rounds: the second after removing a stale file. */
        for (int round = 0; round < 2; round++) {
                pid_t other;

                if (link(tmp, path) == 0) {
                        r = 0;
                        break;
                }
                if (errno != EEXIST) {
                        r = -errno;
                        break;
                }
                other = pidfile_read(path);
                if (other > 0 && pid_is_gwsupd(other)) {
                        if (ret_other)
                                *ret_other = other;
                        r = -EBUSY;
                        break;
                }
                if (unlink(path) < 0 && errno != ENOENT) {
                        r = -errno;
                        break;
                }
                r = -EEXIST;
        }
        (void) unlink(tmp);
        return r;
}

void pidfile_release(const char *path) {
        if (pidfile_read(path) == getpid())
                (void) unlink(path);
}
