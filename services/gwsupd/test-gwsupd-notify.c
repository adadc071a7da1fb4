/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwsupd-notify.c: the sd_notify datagram parser and the socket, with libsystemd's own sender. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "gw-test.h"
#include "gw-tests.h"
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
        ASSERT_ERROR(parse("MAINPID=12\nFDSTORE=1", &m), EBADMSG);
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

        snprintf(path, sizeof path, "%s/notify", dir);
        ASSERT_OK(notify_socket_open(path, &fd));
        ASSERT_ERROR(notify_socket_receive(fd, buf, sizeof buf, &from), EAGAIN);

        /* A real child using libsystemd's sd_notify(), as every daemon does. */
        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                setenv("NOTIFY_SOCKET", path, 1);
                _exit(sd_notify(0, "READY=1\nSTATUS=child here") > 0 ? 0 : 1);
        }
        ASSERT_EQ(waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        n = notify_socket_receive(fd, buf, sizeof buf, &from);
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
                ASSERT_ERROR(notify_socket_receive(fd, buf, sizeof buf - 1, &from), EBADMSG);
                ASSERT_ERROR(notify_socket_receive(fd, buf, sizeof buf, &from), EAGAIN);
                close(s);
        }

        /* Re-binding over a stale socket file works. */
        close(fd);
        ASSERT_OK(notify_socket_open(path, &fd));
        close(fd);
        gw_test_rm_rf(dir);
}
