/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwsupd-fixture.c: a stand-in daemon for test-gwsupd-e2e, behaving as the name it runs under says.
 *
 * The test links this binary under several names and lists them in
 * $GWSUPD_CHILDREN; the last component of argv[0] chooses what it does:
 *   *exit78*    exit 78 (EX_CONFIG) at once
 *   *crash*     exit 1 at once, without READY
 *   *hang*      READY=1, then never a WATCHDOG=1 again
 *   *stubborn*  READY=1 and WATCHDOG=1 pings, but SIGTERM is ignored
 * Each start appends "<CLOCK_MONOTONIC us> <pid>" to
 * $GWSUPD_TEST_DIR/<name>.starts, so the test can measure restart intervals.
 * It only ever uses the sd_notify protocol through libsystemd, like the real daemons. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
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
