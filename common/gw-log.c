/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-log.c: log sink selection (journal or stderr) and formatting. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "gw-log.h"

static const char *log_ident = "fxsgw";
static int log_max_level = LOG_INFO;
static int log_to_journal = -1;          /* -1: not decided yet */

/* journald connects stderr to a stream and says so in $JOURNAL_STREAM="dev:ino". */
static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
                [LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (streq(s, "warn"))
                return LOG_WARNING;
        return -EINVAL;
}

void log_open(const char *ident) {
        const char *e;
        int l;

        if (ident)
                log_ident = ident;
        log_to_journal = stderr_is_journal();
        e = getenv("GW_LOG_LEVEL");
        if (e && (l = log_level_from_string(e)) >= 0)
                log_max_level = l;
}

void log_set_max_level(int level) {
        /* An explicit $GW_LOG_LEVEL wins over the config file. */
        if (getenv("GW_LOG_LEVEL") && log_level_from_string(getenv("GW_LOG_LEVEL")) >= 0)
                return;
        log_max_level = CLAMP(level, LOG_EMERG, LOG_DEBUG);
}

int log_get_max_level(void) {
        return log_max_level;
}

static void log_dispatch(int level, const char *file, int line, const char *func,
                         const char *const *fields, const char *msg) {
        if (log_to_journal < 0)
                log_to_journal = stderr_is_journal();

        if (log_to_journal) {
                char f_msg[2048 + 16], f_prio[16], f_file[256], f_line[32], f_func[128], f_ident[64], f_daemon[64];
                struct iovec iov[32];
                size_t n = 0;

                snprintf(f_msg, sizeof f_msg, "MESSAGE=%s", msg);
                snprintf(f_prio, sizeof f_prio, "PRIORITY=%d", level);
                snprintf(f_file, sizeof f_file, "CODE_FILE=%s", file);
                snprintf(f_line, sizeof f_line, "CODE_LINE=%d", line);
                snprintf(f_func, sizeof f_func, "CODE_FUNC=%s", func);
                snprintf(f_ident, sizeof f_ident, "SYSLOG_IDENTIFIER=%s", log_ident);
                snprintf(f_daemon, sizeof f_daemon, "GW_DAEMON=%s", log_ident);
                const char *base[] = { f_msg, f_prio, f_file, f_line, f_func, f_ident, f_daemon };
                for (size_t i = 0; i < ELEMENTSOF(base); i++)
                        iov[n++] = (struct iovec) { (void *) (uintptr_t) base[i], strlen(base[i]) };
                for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++)
                        iov[n++] = (struct iovec) { (void *) (uintptr_t) fields[i], strlen(fields[i]) };
                if (sd_journal_sendv(iov, (int) n) >= 0)
                        return;
                /* fall back to stderr */
        }

        /* One write per line so lines from several processes do not interleave. */
        char buf[4096];
        int k = snprintf(buf, sizeof buf, "<%d>%s: %s", level, log_ident, msg);
        if (k < 0)
                return;
        for (size_t i = 0; fields && fields[i] && (size_t) k < sizeof buf - 2; i++)
                k += snprintf(buf + k, sizeof buf - (size_t) k, "%s%s", i == 0 ? " [" : " ", fields[i]);
        if (fields && fields[0] && (size_t) k < sizeof buf - 2)
                k += snprintf(buf + k, sizeof buf - (size_t) k, "]");
        if ((size_t) k >= sizeof buf - 1)
                k = (int) sizeof buf - 2;
        buf[k++] = '\n';
        (void) !write(STDERR_FILENO, buf, (size_t) k);
}

static int log_va(int level, int error, const char *file, int line, const char *func,
                  const char *const *fields, const char *format, va_list ap) {
        char msg[2048];
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > log_max_level) {
                errno = saved;
                return -error;
        }
        errno = error;                   /* %m prints strerror(errno) in glibc */
        vsnprintf(msg, sizeof msg, format, ap);
        log_dispatch(level, file, line, func, fields, msg);
        errno = saved;
        return -error;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_va(level, error, file, line, func, NULL, format, ap);
        va_end(ap);
        return r;
}

int log_struct_internal(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_va(level, error, file, line, func, fields, format, ap);
        va_end(ap);
        return r;
}
