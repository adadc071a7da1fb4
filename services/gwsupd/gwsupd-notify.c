/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-notify.c: the sd_notify protocol, receiving side. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "gw-macro.h"
#include "gwsupd-notify.h"

/* Strict UTF-8 check (no overlongs, no surrogates), so a STATUS= we publish
 * on the bus is always a valid protobuf string. Control characters other
 * than tab are refused too: the text ends up in logs and terminals. */
static bool status_text_is_valid(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;

        for (size_t i = 0; i < n;) {
                unsigned c = p[i], len;
                uint32_t cp;

                if (c < 0x80) {
                        if ((c < 0x20 && c != '\t') || c == 0x7f)
                                return false;
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        len = 2, cp = c & 0x1f;
                else if ((c & 0xf0) == 0xe0)
                        len = 3, cp = c & 0x0f;
                else if ((c & 0xf8) == 0xf0)
                        len = 4, cp = c & 0x07;
                else
                        return false;
                if (i + len > n)
                        return false;
                for (unsigned k = 1; k < len; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i + k] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 20)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                if (v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return true;
}

/* Does line (k, n) assign 'key'? Then point *ret_value at the value. */
static bool line_is(const char *k, size_t n, const char *key, const char **ret_value, size_t *ret_len) {
        size_t kl = strlen(key);

        if (n <= kl || memcmp(k, key, kl) != 0 || k[kl] != '=')
                return false;
        *ret_value = k + kl + 1;
        *ret_len = n - kl - 1;
        return true;
}

#define VALUE_IS(v, vl, lit) ((vl) == sizeof(lit) - 1 && memcmp((v), (lit), (vl)) == 0)

int notify_message_parse(const char *buf, size_t len, NotifyMessage *ret) {
        NotifyMessage m = {};
        unsigned understood = 0;

        if (!buf || len == 0 || memchr(buf, 0, len))
                return -EBADMSG;

        for (size_t pos = 0; pos < len;) {
                const char *line = buf + pos, *nl = memchr(line, '\n', len - pos), *v;
                size_t n = nl ? (size_t) (nl - line) : len - pos, vl;
                uint64_t u;

                pos += n + (nl ? 1 : 0);
                if (n == 0)
                        continue;           /* a trailing newline or an empty line */

                if (line_is(line, n, "READY", &v, &vl) && VALUE_IS(v, vl, "1"))
                        m.ready = true;
                else if (line_is(line, n, "RELOADING", &v, &vl) && VALUE_IS(v, vl, "1"))
                        m.reloading = true;
                else if (line_is(line, n, "STOPPING", &v, &vl) && VALUE_IS(v, vl, "1"))
                        m.stopping = true;
                else if (line_is(line, n, "WATCHDOG", &v, &vl) && VALUE_IS(v, vl, "1"))
                        m.watchdog = true;
                else if (line_is(line, n, "WATCHDOG", &v, &vl) && VALUE_IS(v, vl, "trigger"))
                        m.watchdog_trigger = true;
                else if (line_is(line, n, "WATCHDOG_USEC", &v, &vl) && parse_u64(v, vl, &u)) {
                        m.has_watchdog_usec = true;
                        m.watchdog_usec = u;
                } else if (line_is(line, n, "ERRNO", &v, &vl) && parse_u64(v, vl, &u) && u <= 4095) {
                        m.has_errno = true;
                        m.errno_value = (int) u;
                } else if (line_is(line, n, "FDSTORE", &v, &vl) && VALUE_IS(v, vl, "1"))
                        m.fdstore = true;
                else if (line_is(line, n, "FDSTOREREMOVE", &v, &vl) && VALUE_IS(v, vl, "1"))
                        m.fdstore_remove = true;
                else if (line_is(line, n, "FDPOLL", &v, &vl) && (VALUE_IS(v, vl, "0") || VALUE_IS(v, vl, "1")))
                        ;                   /* understood: gwsupd never polls what it stores */
                else if (line_is(line, n, "FDNAME", &v, &vl) && notify_fdname_is_valid(v, vl)) {
                        char *s = strndup(v, vl);
                        if (!s) {
                                notify_message_done(&m);
                                return -ENOMEM;
                        }
                        free(m.fdname);
                        m.fdname = s;
                } else if (line_is(line, n, "STATUS", &v, &vl) && status_text_is_valid(v, vl)) {
                        char *s = strndup(v, vl);
                        if (!s) {
                                notify_message_done(&m);
                                return -ENOMEM;
                        }
                        free(m.status);
                        m.status = s;
                } else {
                        m.n_ignored++;
                        continue;
                }
                understood++;
        }

        if (understood == 0) {
                notify_message_done(&m);
                return -EBADMSG;
        }
        *ret = m;
        return 0;
}

void notify_message_done(NotifyMessage *m) {
        free(m->status);
        free(m->fdname);
        *m = (NotifyMessage) {};
}

int notify_socket_open(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(path);
        int one = 1;

        if (n == 0 || n >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n + 1);

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return -errno;
        /* A socket file left by a dead gwsupd would make bind() fail. The pid
         * file already told us no other gwsupd owns this runtime dir. */
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1)) < 0)
                return -errno;
        /* Children may run as other users one day; the directory (0750) guards access. */
        (void) chmod(path, 0660);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

bool notify_fdname_is_valid(const char *s, size_t n) {
        if (n == 0 || n > NOTIFY_FDNAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < ' ' || s[i] > '~' || s[i] == ':')
                        return false;
        return true;
}

ssize_t notify_socket_receive(int fd, char *buf, size_t size, pid_t *ret_pid, int *fds, size_t *ret_n_fds) {
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_FDS_MAX)];
        } control = {};
        size_t n_fds = 0;
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = &control, .msg_controllen = sizeof control,
        };
        const struct ucred *cred = NULL;
        ssize_t n;

        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return errno == EINTR ? -EAGAIN : -errno;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        cred = (const struct ucred *) CMSG_DATA(c);
                else if (c->cmsg_type == SCM_RIGHTS) {
                        const int *p = (const int *) CMSG_DATA(c);
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                if (n_fds < NOTIFY_FDS_MAX)
                                        fds[n_fds++] = p[i];
                                else
                                        close(p[i]);
                        }
                }
        }
        if ((size_t) n > size || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !cred || cred->pid <= 0) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                return -EBADMSG;
        }
        *ret_pid = cred->pid;
        *ret_n_fds = n_fds;
        return n;
}
