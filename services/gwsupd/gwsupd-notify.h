/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-notify.h: the sd_notify protocol, receiving side: socket and datagram parser.
 *
 * A child writes newline-separated KEY=VALUE assignments in one datagram to
 * $NOTIFY_SOCKET (an AF_UNIX datagram socket); the kernel attaches the
 * sender's credentials because the socket has SO_PASSCRED, and gwsupd
 * attributes the datagram to a child by that pid, as systemd does with
 * NotifyAccess=main. Understood keys: READY=1, RELOADING=1, STOPPING=1,
 * WATCHDOG=1, WATCHDOG=trigger, WATCHDOG_USEC=, STATUS=, ERRNO=, and the fd
 * store's FDSTORE=1, FDSTOREREMOVE=1, FDNAME=, FDPOLL= (the descriptors come
 * along as SCM_RIGHTS). Other keys (MAINPID=, EXTEND_TIMEOUT_USEC=, ...) are
 * ignored, as are lines that are no assignment. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NOTIFY_DATAGRAM_MAX 4096          /* systemd's NOTIFY_BUFFER_MAX (PIPE_BUF) */
#define NOTIFY_FDS_MAX      253           /* the kernel's SCM_MAX_FD: descriptors in one datagram */
#define NOTIFY_FDNAME_MAX   255           /* systemd's FDNAME_MAX */

typedef struct NotifyMessage {
        bool ready;
        bool reloading;
        bool stopping;
        bool watchdog;                    /* WATCHDOG=1: a keep-alive ping */
        bool watchdog_trigger;            /* WATCHDOG=trigger: act as if it timed out */
        bool has_watchdog_usec;
        uint64_t watchdog_usec;           /* WATCHDOG_USEC=: new interval for this child */
        bool has_errno;
        int errno_value;
        char *status;                     /* STATUS=, malloc'd; NULL if absent or not UTF-8 */
        bool fdstore;                     /* FDSTORE=1: keep the descriptors sent along */
        bool fdstore_remove;              /* FDSTOREREMOVE=1: drop those named FDNAME= */
        char *fdname;                     /* FDNAME=, malloc'd; NULL if absent or invalid */
        unsigned n_ignored;               /* lines not understood */
} NotifyMessage;

/* Parse one datagram of 'len' bytes (not NUL-terminated). Returns 0 with
 * *ret filled (release with notify_message_done()), -EBADMSG for a datagram
 * that is empty, holds a NUL byte or has no line we understand, -ENOMEM. */
int notify_message_parse(const char *buf, size_t len, NotifyMessage *ret);
void notify_message_done(NotifyMessage *m);

/* Bind a SOCK_DGRAM AF_UNIX socket at 'path' (a stale file is replaced),
 * non-blocking, close-on-exec, with SO_PASSCRED. */
int notify_socket_open(const char *path, int *ret_fd);

/* Receive one datagram into buf (size >= NOTIFY_DATAGRAM_MAX). Returns its
 * length, -EAGAIN if none is queued, -EBADMSG if it was truncated or came
 * without credentials (it is consumed). File descriptors sent along (close-on-exec)
 * are put in fds[] (room for NOTIFY_FDS_MAX), their number in *ret_n_fds; the
 * caller owns them. On error none are returned (they are closed). */
ssize_t notify_socket_receive(int fd, char *buf, size_t size, pid_t *ret_pid, int *fds, size_t *ret_n_fds);

/* systemd's fdname_is_valid(): 1..255 printable ASCII characters, no ':'. */
bool notify_fdname_is_valid(const char *s, size_t n);
