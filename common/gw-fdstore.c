/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-fdstore.c: named inherited descriptors and the supervisor's fd store (gw-fdstore.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "gw-fdstore.h"
#include "gw-macro.h"
#include "gw-sockaddr.h"

typedef struct GwNamedFd {
        int fd;
        char *name;
} GwNamedFd;

struct GwFdSet {
        GwNamedFd *fds;
        size_t n, allocated;
};

/* What the supervisor's store holds for us that we hold open too: what we
 * stored, and what was passed to us. Kept so that it can be handed to a new
 * supervisor (gw_fdstore_resend()). Device and inode tell a descriptor
 * number reused for another file. */
typedef struct GwStoredFd {
        int fd;
        char *name;
        dev_t dev;
        ino_t ino;
} GwStoredFd;

static struct {
        GwStoredFd *fds;
        size_t n, allocated;
} stored;

static void stored_add(int fd, const char *name) {
        struct stat st;
        char *copy;

        if (fstat(fd, &st) < 0)
                return;
        if (stored.n == stored.allocated) {
                size_t k = stored.allocated ? stored.allocated * 2 : 8;
                GwStoredFd *p = reallocarray(stored.fds, k, sizeof(*p));
                if (!p)
                        return;
                stored.fds = p;
                stored.allocated = k;
        }
        copy = strdup(name);
        if (!copy)
                return;
        stored.fds[stored.n++] = (GwStoredFd) { .fd = fd, .name = copy, .dev = st.st_dev, .ino = st.st_ino };
}

static void stored_remove(const char *name) {
        size_t k = 0;

        for (size_t i = 0; i < stored.n; i++)
                if (streq(stored.fds[i].name, name))
                        free(stored.fds[i].name);
                else
                        stored.fds[k++] = stored.fds[i];
        stored.n = k;
        if (k == 0) {
                free(stored.fds);
                stored.fds = NULL;
                stored.allocated = 0;
        }
}

GwFdSet *gw_fdset_new(void) {
        return calloc(1, sizeof(GwFdSet));
}

int gw_fdset_add(GwFdSet *s, int fd, const char *name) {
        char *copy;

        if (s->n == s->allocated) {
                size_t k = s->allocated ? s->allocated * 2 : 8;
                GwNamedFd *p = reallocarray(s->fds, k, sizeof(*p));
                if (!p) {
                        close(fd);
                        return -ENOMEM;
                }
                s->fds = p;
                s->allocated = k;
        }
        copy = strdup(name);
        if (!copy) {
                close(fd);
                return -ENOMEM;
        }
        s->fds[s->n++] = (GwNamedFd) { .fd = fd, .name = copy };
        return 0;
}

int gw_fdset_from_env(GwFdSet **ret) {
        char **names = NULL;
        GwFdSet *s = gw_fdset_new();
        int n, r = 0;

        if (!s)
                return -ENOMEM;
        n = sd_listen_fds_with_names(true, &names);
        for (int i = 0; i < MAX(n, 0); i++) {
                int fd = SD_LISTEN_FDS_START + i;

                /* Ours alone: a program we exec must not inherit them. */
                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (r < 0)
                        close(fd);
                else {
                        const char *name = names && names[i] ? names[i] : "unknown";

                        r = gw_fdset_add(s, fd, name);
                        if (r >= 0)
                                stored_add(fd, name);
                }
        }
        for (int i = 0; names && names[i]; i++)
                free(names[i]);
        free(names);
        if (r < 0) {
                gw_fdset_free(s);
                return r;
        }
        *ret = s;
        return n < 0 ? n : 0;
}

int gw_fdset_take(GwFdSet *s, const char *name) {
        for (size_t i = 0; s && i < s->n; i++)
                if (streq(s->fds[i].name, name)) {
                        int fd = s->fds[i].fd;
                        free(s->fds[i].name);
                        memmove(s->fds + i, s->fds + i + 1, (s->n - i - 1) * sizeof(*s->fds));
                        s->n--;
                        return fd;
                }
        return -ENOENT;
}

size_t gw_fdset_size(const GwFdSet *s) {
        return s ? s->n : 0;
}

int gw_fdset_fd(const GwFdSet *s, size_t i) {
        return s->fds[i].fd;
}

const char *gw_fdset_name(const GwFdSet *s, size_t i) {
        return s->fds[i].name;
}

bool gw_fdset_has_file(const GwFdSet *s, int fd) {
        struct stat a, b;

        if (!s || fstat(fd, &b) < 0)
                return false;
        for (size_t i = 0; i < s->n; i++)
                if (fstat(s->fds[i].fd, &a) >= 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                        return true;
        return false;
}

size_t gw_fdset_remove(GwFdSet *s, const char *name) {
        size_t k = 0, n = 0;

        for (size_t i = 0; s && i < s->n; i++) {
                if (streq(s->fds[i].name, name)) {
                        close(s->fds[i].fd);
                        free(s->fds[i].name);
                        n++;
                } else
                        s->fds[k++] = s->fds[i];
        }
        if (s)
                s->n = k;
        return n;
}

size_t gw_fdset_drop(GwFdSet *s) {
        size_t n = gw_fdset_size(s);

        for (size_t i = 0; i < n; i++) {
                close(s->fds[i].fd);
                (void) gw_fdstore_remove(s->fds[i].name);
                free(s->fds[i].name);
        }
        if (s)
                s->n = 0;
        return n;
}

GwFdSet *gw_fdset_free(GwFdSet *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++) {
                close(s->fds[i].fd);
                free(s->fds[i].name);
        }
        free(s->fds);
        free(s);
        return NULL;
}

static int fdstore_send(int fd, const char *name) {
        char buf[300];

        snprintf(buf, sizeof(buf), "FDSTORE=1\nFDNAME=%s\nFDPOLL=0", name);
        return sd_pid_notify_with_fds(0, false, buf, &fd, 1);
}

int gw_fdstore_add(int fd, const char *name) {
        int r = fdstore_send(fd, name);

        if (r > 0)
                stored_add(fd, name);
        return r;
}

int gw_fdstore_remove(const char *name) {
        stored_remove(name);
        return sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", name);
}

size_t gw_fdstore_resend(void) {
        size_t k = 0, sent = 0;

        for (size_t i = 0; i < stored.n; i++) {
                GwStoredFd *e = &stored.fds[i];
                struct stat st;

                /* Closed (or the number reused) without gw_fdstore_remove(): not ours to send. */
                if (fstat(e->fd, &st) < 0 || st.st_dev != e->dev || st.st_ino != e->ino) {
                        free(e->name);
                        continue;
                }
                if (fdstore_send(e->fd, e->name) > 0)
                        sent++;
                stored.fds[k++] = *e;
        }
        stored.n = k;
        return sent;
}

size_t gw_fdstore_size(void) {
        return stored.n;
}

bool gw_socket_is_bound_to(int fd, const struct sockaddr *sa) {
        struct sockaddr_storage bound = {}, want = {};
        socklen_t len = sizeof(bound);
        int type = 0;
        socklen_t tl = sizeof(type);

        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM)
                return false;
        if (getsockname(fd, (struct sockaddr *) &bound, &len) < 0 || bound.ss_family != sa->sa_family)
                return false;
        if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
                return false;
        memcpy(&want, sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
        if (gw_sockaddr_port(sa) == 0)
                gw_sockaddr_set_port(&want, gw_sockaddr_port(GW_SOCKADDR(&bound)));
        return gw_sockaddr_equal(GW_SOCKADDR(&bound), len, GW_SOCKADDR(&want), gw_sockaddr_len(&want));
}
