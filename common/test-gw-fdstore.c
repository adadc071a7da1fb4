/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-fdstore.c: named descriptor sets, LISTEN_FDS, and the bound-address check. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw-fdstore.h"
#include "gw-macro.h"
#include "gw-sockaddr.h"
#include "gw-tests.h"

DEFINE_TEST_MAIN;

static int udp_on(const char *ip, uint16_t port, struct sockaddr_storage *ret) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd;

        ASSERT_OK(gw_sockaddr_from_ip(ip, port, &ss));
        fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(bind(fd, GW_SOCKADDR(&ss), gw_sockaddr_len(&ss)));
        ASSERT_OK(getsockname(fd, (struct sockaddr *) ret, &len));
        return fd;
}

TEST(fdset_take_remove_has_file) {
        struct sockaddr_storage a, b;
        int fa = udp_on("127.0.0.1", 0, &a), fb = udp_on("127.0.0.1", 0, &b), dup_a = dup(fa);
        GwFdSet *s = gw_fdset_new();

        ASSERT_NOT_NULL(s);
        ASSERT_OK(gw_fdset_add(s, fa, "rtp-1"));
        ASSERT_OK(gw_fdset_add(s, fb, "rtp-2"));
        ASSERT_EQ(gw_fdset_size(s), 2);
        ASSERT_STREQ(gw_fdset_name(s, 1), "rtp-2");
        ASSERT_EQ(gw_fdset_fd(s, 0), fa);
        ASSERT_TRUE(gw_fdset_has_file(s, dup_a));       /* another descriptor, the same socket */
        ASSERT_EQ(gw_fdset_take(s, "rtp-3"), -ENOENT);
        ASSERT_EQ(gw_fdset_take(s, "rtp-1"), fa);
        ASSERT_FALSE(gw_fdset_has_file(s, dup_a));
        ASSERT_EQ(gw_fdset_remove(s, "rtp-2"), 1);
        ASSERT_EQ(gw_fdset_size(s), 0);
        ASSERT_TRUE(fcntl(fb, F_GETFD) < 0);             /* closed by remove */

        /* Bound where asked, a port of 0 matching any; not elsewhere, nor a stream socket. */
        ASSERT_TRUE(gw_socket_is_bound_to(fa, GW_SOCKADDR(&a)));
        ASSERT_FALSE(gw_socket_is_bound_to(fa, GW_SOCKADDR(&b)));
        gw_sockaddr_set_port(&b, 0);
        ASSERT_TRUE(gw_socket_is_bound_to(fa, GW_SOCKADDR(&b)));
        {
                int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                ASSERT_OK(bind(t, GW_SOCKADDR(&b), gw_sockaddr_len(&b)));
                ASSERT_FALSE(gw_socket_is_bound_to(t, GW_SOCKADDR(&b)));
                close(t);
        }
        close(fa);
        close(dup_a);
        gw_fdset_free(s);
}

/* LISTEN_FDS as a supervisor sets it: descriptors from 3, names, our pid. In a
 * child process, which may use descriptor 3 as it likes. */
TEST(fdset_from_env) {
        pid_t pid = fork();
        int status;

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                struct sockaddr_storage a;
                int fd, ok = 1;
                char buf[32];
                GwFdSet *s = NULL;

                (void) close_range(3, ~0U, 0);
                fd = udp_on("127.0.0.1", 0, &a);
                if (fd != 3 && dup2(fd, 3) != 3)
                        _exit(2);
                if (dup2(3, 4) != 4)
                        _exit(2);
                snprintf(buf, sizeof(buf), "%d", (int) getpid());
                setenv("LISTEN_PID", buf, 1);
                setenv("LISTEN_FDS", "2", 1);
                setenv("LISTEN_FDNAMES", "sip:rtp-4000", 1);
                ok &= gw_fdset_from_env(&s) == 0;
                ok &= gw_fdset_size(s) == 2;
                ok &= streq(gw_fdset_name(s, 0), "sip") && streq(gw_fdset_name(s, 1), "rtp-4000");
                ok &= gw_fdset_take(s, "rtp-4000") == 4;
                ok &= (fcntl(3, F_GETFD) & FD_CLOEXEC) != 0;    /* not for what we exec */
                ok &= !getenv("LISTEN_FDS") && !getenv("LISTEN_PID");
                ok &= gw_socket_is_bound_to(4, GW_SOCKADDR(&a));
                gw_fdset_free(s);
                ok &= fcntl(3, F_GETFD) < 0;
                /* Nothing passed: an empty set. */
                ok &= gw_fdset_from_env(&s) == 0 && gw_fdset_size(s) == 0;
                gw_fdset_free(s);
                _exit(ok ? 0 : 1);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* One datagram from the notify socket: its text, and the descriptor that came along (or -1). */
static ssize_t recv_notify(int sock, char *buf, size_t size, int *ret_fd) {
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(int) * 4)];
        } control = {};
        struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        *ret_fd = -1;
        if (n < 0)
                return -errno;
        buf[n] = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
        return n;
}

/* What the supervisor holds for us is sent again to a new supervisor: what we
 * stored and what was passed to us, not what we removed or closed. In a child
 * process: the list is process-wide. */
TEST(fdstore_resend_to_a_new_supervisor) {
        pid_t pid = fork();
        int status;

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                struct sockaddr_storage a, b;
                char buf[512], path[64];
                int sock, fa, fb, got, ok = 1;
                struct stat st1, st2;
                GwFdSet *s = NULL;

                snprintf(path, sizeof(path), "/tmp/test-gw-fdstore-%d.notify", (int) getpid());
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
                sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (sock < 0 || bind(sock, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        _exit(2);
                sock = fcntl(sock, F_DUPFD_CLOEXEC, 100);         /* 3 is LISTEN_FDS's below */
                if (sock < 0)
                        _exit(2);
                setenv("NOTIFY_SOCKET", path, 1);

                fa = udp_on("127.0.0.1", 0, &a);
                fb = udp_on("127.0.0.1", 0, &b);
                ok &= gw_fdstore_add(fa, "rtp-1") > 0;
                ok &= recv_notify(sock, buf, sizeof(buf), &got) > 0 && strstr(buf, "FDSTORE=1") &&
                      strstr(buf, "FDNAME=rtp-1") && got >= 0;
                ok &= got >= 0 && fstat(got, &st1) == 0 && fstat(fa, &st2) == 0 && st1.st_ino == st2.st_ino;
                if (got >= 0)
                        close(got);
                ok &= gw_fdstore_add(fb, "rtp-2") > 0;
                ok &= recv_notify(sock, buf, sizeof(buf), &got) > 0;
                if (got >= 0)
                        close(got);
                ok &= gw_fdstore_size() == 2;

                /* A new supervisor: both again, in order, with their names. */
                ok &= gw_fdstore_resend() == 2;
                ok &= recv_notify(sock, buf, sizeof(buf), &got) > 0 && strstr(buf, "FDNAME=rtp-1") &&
                      strstr(buf, "FDPOLL=0") && got >= 0;
                if (got >= 0)
                        close(got);
                ok &= recv_notify(sock, buf, sizeof(buf), &got) > 0 && strstr(buf, "FDNAME=rtp-2") && got >= 0;
                if (got >= 0)
                        close(got);
                ok &= recv_notify(sock, buf, sizeof(buf), &got) == -EAGAIN;

                /* Removed: not sent again. Closed without a remove: skipped and forgotten. */
                ok &= gw_fdstore_remove("rtp-2") > 0;
                close(fb);
                ok &= recv_notify(sock, buf, sizeof(buf), &got) > 0 && strstr(buf, "FDSTOREREMOVE=1");
                close(fa);
                fb = open("/dev/null", O_RDONLY | O_CLOEXEC);     /* may take fa's number */
                ok &= gw_fdstore_resend() == 0;
                ok &= gw_fdstore_size() == 0;
                ok &= recv_notify(sock, buf, sizeof(buf), &got) == -EAGAIN;
                close(fb);

                /* Passed to us: the supervisor holds it, so it is sent again too. */
                fa = udp_on("127.0.0.1", 0, &a);
                if (fa != 3 && dup2(fa, 3) != 3)
                        _exit(2);
                snprintf(buf, sizeof(buf), "%d", (int) getpid());
                setenv("LISTEN_PID", buf, 1);
                setenv("LISTEN_FDS", "1", 1);
                setenv("LISTEN_FDNAMES", "sip", 1);
                ok &= gw_fdset_from_env(&s) == 0 && gw_fdset_size(s) == 1;
                ok &= gw_fdset_take(s, "sip") == 3;
                ok &= gw_fdstore_resend() == 1;
                ok &= recv_notify(sock, buf, sizeof(buf), &got) > 0 && strstr(buf, "FDNAME=sip") && got >= 0;
                gw_fdset_free(s);
                (void) unlink(path);
                _exit(ok ? 0 : 1);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
}
