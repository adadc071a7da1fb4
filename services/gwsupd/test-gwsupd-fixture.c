/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwsupd-fixture.c: a stand-in daemon for test-gwsupd-e2e, behaving as the name it runs under says.
 *
 * The test links this binary under several names and lists them in
 * $GWSUPD_CHILDREN; the last component of argv[0] chooses what it does:
 *   *exit78*    exit 78 (EX_CONFIG) at once
 *   *crash*     exit 1 at once, without READY
 *   *hang*      READY=1, then never a WATCHDOG=1 again
 *   *stubborn*  READY=1 and WATCHDOG=1 pings, but SIGTERM is ignored
 *   *store*     uses the fd store: a UDP socket named "udp" passed to it
 *               (LISTEN_FDS) is read for up to 1 s and the datagram recorded
 *               ("inherited <port> <text>"), then removed from the store
 *               (FDSTOREREMOVE=1); without one it binds 127.0.0.1:0 and
 *               stores it ("bound <port>"); every passed descriptor is
 *               listed ("fd <n> <name>"), all in $GWSUPD_TEST_DIR/<name>.store
 * Each start appends "<CLOCK_MONOTONIC us> <pid>" to
 * $GWSUPD_TEST_DIR/<name>.starts, so the test can measure restart intervals.
 * It only ever uses the sd_notify protocol through libsystemd, like the real daemons. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void record_start(const char *name) {
        const char *dir = getenv("GWSUPD_TEST_DIR");
        char path[512], line[64];
        int fd, n;

        if (!dir)
                return;
        snprintf(path, sizeof path, "%s/%s.starts", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        n = snprintf(line, sizeof line, "%llu %d\n", (unsigned long long) mono_usec(), (int) getpid());
        (void) !write(fd, line, (size_t) n);
        close(fd);
}

static void record(const char *name, const char *line) {
        const char *dir = getenv("GWSUPD_TEST_DIR");
        char path[512];
        int fd;

        if (!dir)
                return;
        snprintf(path, sizeof path, "%s/%s.store", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        (void) !write(fd, line, strlen(line));
        close(fd);
}

static uint16_t port_of(int fd) {
        struct sockaddr_in sin = {};
        socklen_t len = sizeof sin;

        return getsockname(fd, (struct sockaddr *) &sin, &len) < 0 ? 0 : ntohs(sin.sin_port);
}

static void use_fd_store(const char *name) {
        char **names = NULL, line[512];
        int n = sd_listen_fds_with_names(1, &names), udp = -1;

        for (int i = 0; i < n; i++) {
                snprintf(line, sizeof line, "fd %d %s\n", SD_LISTEN_FDS_START + i, names[i]);
                record(name, line);
                if (strcmp(names[i], "udp") == 0 && udp < 0)
                        udp = SD_LISTEN_FDS_START + i;
        }
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);

        if (udp >= 0) {
                struct pollfd p = { .fd = udp, .events = POLLIN };
                char data[128] = "";
                ssize_t k = -1;

                if (poll(&p, 1, 1000) == 1)
                        k = recv(udp, data, sizeof data - 1, MSG_DONTWAIT);
                data[k > 0 ? k : 0] = 0;
                snprintf(line, sizeof line, "inherited %u %s\n", port_of(udp), data);
                record(name, line);
                (void) sd_notify(0, "FDSTOREREMOVE=1\nFDNAME=udp");
                close(udp);
                return;
        }
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (udp < 0 || bind(udp, (struct sockaddr *) &sin, sizeof sin) < 0)
                return;
        /* Stored twice: gwsupd keeps an open file once, as systemd does. */
        (void) sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=udp\nFDPOLL=0", &udp, 1);
        (void) sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=udp", &udp, 1);
        snprintf(line, sizeof line, "bound %u\n", port_of(udp));
        record(name, line);
}

int main(int argc, char **argv) {
        const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        uint64_t wd = 0;

        record_start(name);

        if (strstr(name, "exit78"))
                return 78;
        if (strstr(name, "crash"))
                return 1;

        if (strstr(name, "stubborn"))
                signal(SIGTERM, SIG_IGN);
        if (strstr(name, "store"))
                use_fd_store(name);
        (void) sd_notifyf(0, "READY=1\nSTATUS=fixture '%s' ready", name);

        /* Bounded: a fixture left behind by a broken test ends by itself. */
        for (unsigned i = 0; i < 6000; i++) {
                if (strstr(name, "hang"))
                        usleep(100 * 1000);
                else {
                        if (wd == 0 && sd_watchdog_enabled(0, &wd) <= 0)
                                wd = 1000000;
                        usleep((useconds_t) (wd / 4));
                        (void) sd_notify(0, "WATCHDOG=1");
                }
        }
        return 0;
}
