/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-fdstore.c: named descriptor sets, LISTEN_FDS, and the bound-address check. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
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
