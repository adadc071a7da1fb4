/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwsupd-notify.c: the sd_notify datagram parser and the socket, with libsystemd's own sender. */
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "gw-test.h"
#include "gw-tests.h"
#include "gw-fdstore.h"
#include "gwsupd-notify.h"

DEFINE_TEST_MAIN;

static int parse(const char *s, NotifyMessage *m) {
        return notify_message_parse(s, strlen(s), m);
}

TEST(gwsupd_notify_ready_status) {
        NotifyMessage m;

        ASSERT_OK(parse("READY=1\nSTATUS=Registered 4 lines", &m));
        ASSERT_TRUE(m.ready);
        ASSERT_FALSE(m.watchdog);
        ASSERT_FALSE(m.stopping);
        ASSERT_STREQ(m.status, "Registered 4 lines");
        ASSERT_EQ(m.n_ignored, 0);
        notify_message_done(&m);

        /* The last STATUS= wins; a trailing newline and empty lines are fine. */
        ASSERT_OK(parse("STATUS=a\n\nSTATUS=b=c\n", &m));
        ASSERT_FALSE(m.ready);
        ASSERT_STREQ(m.status, "b=c");
        notify_message_done(&m);

        ASSERT_OK(parse("STATUS=", &m));
        ASSERT_STREQ(m.status, "");
        notify_message_done(&m);

        ASSERT_OK(parse("STATUS=Leitung gr\xc3\xbcn", &m));
        ASSERT_STREQ(m.status, "Leitung gr\xc3\xbcn");
        notify_message_done(&m);
}

TEST(gwsupd_notify_watchdog_stopping) {
        NotifyMessage m;

        ASSERT_OK(parse("WATCHDOG=1", &m));
        ASSERT_TRUE(m.watchdog);
        ASSERT_FALSE(m.watchdog_trigger);
        ASSERT_FALSE(m.ready);
        notify_message_done(&m);

        ASSERT_OK(parse("WATCHDOG=trigger", &m));
        ASSERT_FALSE(m.watchdog);
        ASSERT_TRUE(m.watchdog_trigger);
        notify_message_done(&m);

        ASSERT_OK(parse("WATCHDOG_USEC=2500000\nSTOPPING=1\nERRNO=5\nRELOADING=1", &m));
        ASSERT_TRUE(m.has_watchdog_usec);
        ASSERT_EQ(m.watchdog_usec, 2500000);
        ASSERT_TRUE(m.stopping);
        ASSERT_TRUE(m.reloading);
        ASSERT_TRUE(m.has_errno);
        ASSERT_EQ(m.errno_value, 5);
        notify_message_done(&m);
}

TEST(gwsupd_notify_garbage) {
        NotifyMessage m;

        /* Nothing understood at all: refused. */
        ASSERT_ERROR(parse("", &m), EBADMSG);
        ASSERT_ERROR(parse("\n\n", &m), EBADMSG);
        ASSERT_ERROR(parse("hello world", &m), EBADMSG);
        ASSERT_ERROR(parse("READY=yes", &m), EBADMSG);
        ASSERT_ERROR(parse("READY", &m), EBADMSG);
        ASSERT_ERROR(parse("ready=1", &m), EBADMSG);
        ASSERT_ERROR(parse("READY=1 ", &m), EBADMSG);
        ASSERT_ERROR(parse("WATCHDOG=0", &m), EBADMSG);
        ASSERT_ERROR(parse("WATCHDOG_USEC=12x", &m), EBADMSG);
        ASSERT_ERROR(parse("WATCHDOG_USEC=99999999999999999999999", &m), EBADMSG);
        ASSERT_ERROR(parse("WATCHDOG_USEC=", &m), EBADMSG);
        ASSERT_ERROR(parse("ERRNO=-1", &m), EBADMSG);
        ASSERT_ERROR(parse("MAINPID=12\nEXTEND_TIMEOUT_USEC=5", &m), EBADMSG);   /* FDSTORE= is understood now */
        /* Invalid UTF-8, overlong encodings, surrogates and control characters in STATUS. */
        ASSERT_ERROR(parse("STATUS=\xff\xfe", &m), EBADMSG);
        ASSERT_ERROR(parse("STATUS=\xc0\xaf", &m), EBADMSG);
        ASSERT_ERROR(parse("STATUS=\xed\xa0\x80", &m), EBADMSG);
        ASSERT_ERROR(parse("STATUS=\xe2\x82", &m), EBADMSG);
        ASSERT_ERROR(parse("STATUS=bell\a", &m), EBADMSG);
        /* An embedded NUL refuses the whole datagram, like systemd. */
        ASSERT_ERROR(notify_message_parse("READY=1\0STATUS=x", 16, &m), EBADMSG);
        ASSERT_ERROR(notify_message_parse(NULL, 0, &m), EBADMSG);

        /* Understood lines survive among garbage, which is counted. */
        ASSERT_OK(parse("junk\nREADY=1\nX=Y\nSTATUS=\xff", &m));
        ASSERT_TRUE(m.ready);
        ASSERT_TRUE(m.status == NULL);
        ASSERT_EQ(m.n_ignored, 3);
        notify_message_done(&m);
}

TEST(gwsupd_notify_socket_attributes_by_pid) {
        const char *dir = gw_test_tmpdir("test-gwsupd-notify");
        char path[128], buf[NOTIFY_DATAGRAM_MAX + 1];
        int fd = -1, status;
        pid_t child, from = 0;
        ssize_t n;
        NotifyMessage m;
        int fds[NOTIFY_FDS_MAX];
        size_t n_fds = 0;

        snprintf(path, sizeof path, "%s/notify", dir);
        ASSERT_OK(notify_socket_open(path, &fd));
        ASSERT_ERROR(notify_socket_receive(fd, buf, sizeof buf, &from, fds, &n_fds), EAGAIN);

        /* A real child using libsystemd's sd_notify(), as every daemon does. */
        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                setenv("NOTIFY_SOCKET", path, 1);
                _exit(sd_notify(0, "READY=1\nSTATUS=child here") > 0 ? 0 : 1);
        }
        ASSERT_EQ(waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        n = notify_socket_receive(fd, buf, sizeof buf, &from, fds, &n_fds);
        ASSERT_TRUE(n > 0);
        ASSERT_EQ(from, child);
        ASSERT_OK(notify_message_parse(buf, (size_t) n, &m));
        ASSERT_TRUE(m.ready);
        ASSERT_STREQ(m.status, "child here");
        notify_message_done(&m);

        /* An oversized datagram is consumed and refused, not cut. */
        {
                int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                static char big[NOTIFY_DATAGRAM_MAX + 100];

                memset(big, 'A', sizeof big);
                memcpy(big, "READY=1\n", 8);
                ASSERT_TRUE(strlen(path) < sizeof sa.sun_path);
                memcpy(sa.sun_path, path, strlen(path) + 1);
                ASSERT_TRUE(s >= 0);
                ASSERT_TRUE(sendto(s, big, sizeof big, 0, (struct sockaddr *) &sa, sizeof sa) == (ssize_t) sizeof big);
                ASSERT_ERROR(notify_socket_receive(fd, buf, sizeof buf - 1, &from, fds, &n_fds), EBADMSG);
                ASSERT_ERROR(notify_socket_receive(fd, buf, sizeof buf, &from, fds, &n_fds), EAGAIN);
                close(s);
        }

        /* Re-binding over a stale socket file works. */
        close(fd);
        ASSERT_OK(notify_socket_open(path, &fd));
        close(fd);
        gw_test_rm_rf(dir);
}

TEST(gwsupd_notify_fdstore_lines) {
        NotifyMessage m;

        ASSERT_OK(parse("FDSTORE=1\nFDNAME=rtp-40000\nFDPOLL=0", &m));
        ASSERT_TRUE(m.fdstore);
        ASSERT_FALSE(m.fdstore_remove);
        ASSERT_STREQ(m.fdname, "rtp-40000");
        ASSERT_EQ(m.n_ignored, 0);
        notify_message_done(&m);

        ASSERT_OK(parse("FDSTOREREMOVE=1\nFDNAME=sip", &m));
        ASSERT_TRUE(m.fdstore_remove);
        ASSERT_FALSE(m.fdstore);
        ASSERT_STREQ(m.fdname, "sip");
        notify_message_done(&m);

        /* A name with ':' (the LISTEN_FDNAMES separator) or a control character is refused. */
        ASSERT_OK(parse("FDSTORE=1\nFDNAME=a:b", &m));
        ASSERT_TRUE(m.fdname == NULL);
        ASSERT_EQ(m.n_ignored, 1);
        notify_message_done(&m);
        ASSERT_OK(parse("FDSTORE=1\nFDNAME=a\tb", &m));
        ASSERT_TRUE(m.fdname == NULL);
        notify_message_done(&m);
        ASSERT_FALSE(notify_fdname_is_valid("", 0));
        ASSERT_TRUE(notify_fdname_is_valid("rtcp-40001", 10));
        ASSERT_ERROR(parse("FDSTORE=2", &m), EBADMSG);
}

/* The daemons' side (gw_fdstore_add, through libsystemd) reaches ours with the descriptor. */
TEST(gwsupd_notify_socket_receives_stored_fd) {
        const char *dir = gw_test_tmpdir("test-gwsupd-notify-fd");
        char path[128], buf[NOTIFY_DATAGRAM_MAX + 1];
        int fd = -1, status, fds[NOTIFY_FDS_MAX];
        size_t n_fds = 0;
        pid_t child, from = 0;
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sin;
        NotifyMessage m;
        ssize_t n;
        int u;

        snprintf(path, sizeof path, "%s/notify", dir);
        ASSERT_OK(notify_socket_open(path, &fd));
        u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(u >= 0);
        ASSERT_TRUE(bind(u, (struct sockaddr *) &sin, sizeof sin) == 0);
        ASSERT_TRUE(getsockname(u, (struct sockaddr *) &sin, &len) == 0);

        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                setenv("NOTIFY_SOCKET", path, 1);
                _exit(gw_fdstore_add(u, "rtp-1") > 0 && gw_fdstore_remove("rtp-1") > 0 ? 0 : 1);
        }
        ASSERT_EQ(waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(u);

        n = notify_socket_receive(fd, buf, sizeof buf, &from, fds, &n_fds);
        ASSERT_TRUE(n > 0);
        ASSERT_EQ(from, child);
        ASSERT_EQ(n_fds, 1);
        ASSERT_OK(notify_message_parse(buf, (size_t) n, &m));
        ASSERT_TRUE(m.fdstore);
        ASSERT_STREQ(m.fdname, "rtp-1");
        notify_message_done(&m);
        /* The very socket: still bound where the child's was, though both its copies are closed. */
        ASSERT_TRUE(gw_socket_is_bound_to(fds[0], (struct sockaddr *) &sin));
        close(fds[0]);

        n = notify_socket_receive(fd, buf, sizeof buf, &from, fds, &n_fds);
        ASSERT_TRUE(n > 0);
        ASSERT_EQ(n_fds, 0);
        ASSERT_OK(notify_message_parse(buf, (size_t) n, &m));
        ASSERT_TRUE(m.fdstore_remove);
        ASSERT_STREQ(m.fdname, "rtp-1");
        notify_message_done(&m);
        close(fd);
        gw_test_rm_rf(dir);
}
