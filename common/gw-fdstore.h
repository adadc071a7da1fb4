/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-fdstore.h: sockets that outlive the daemon: the supervisor's file descriptor store.
 *
 * A daemon hands a socket to its supervisor with sd_notify "FDSTORE=1" and a
 * name (FDNAME=); the supervisor (systemd, or gwsupd which speaks the same
 * protocol) keeps it open while the daemon is down and passes it to the next
 * instance with the socket-activation protocol (LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES). Datagrams that arrive meanwhile wait in the socket's
 * buffer. A stored socket stays stored across any number of restarts until
 * the daemon removes it ("FDSTOREREMOVE=1"). FDPOLL=0 is always sent: a UDP
 * socket with IP_RECVERR shows EPOLLERR after an ICMP error, and systemd
 * would otherwise drop it from the store. Without a supervisor (tests, a
 * daemon run by hand) the notifications go nowhere and nothing is inherited. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct GwFdSet GwFdSet;

/* The named descriptors passed to this process (sd_listen_fds_with_names();
 * the LISTEN_* variables are unset). An empty set if none were passed. */
int gw_fdset_from_env(GwFdSet **ret);
GwFdSet *gw_fdset_new(void);
/* Add fd (taken, closed on failure) under name. */
int gw_fdset_add(GwFdSet *s, int fd, const char *name);
/* Take the first descriptor named 'name' out of the set; -ENOENT if none. */
int gw_fdset_take(GwFdSet *s, const char *name);
size_t gw_fdset_size(const GwFdSet *s);
/* The i-th descriptor and its name (i < size), in the order they were added. */
int gw_fdset_fd(const GwFdSet *s, size_t i);
const char *gw_fdset_name(const GwFdSet *s, size_t i);
/* Does the set hold a descriptor of the same open file (device and inode) as fd? */
bool gw_fdset_has_file(const GwFdSet *s, int fd);
/* Close and forget every descriptor named 'name'; how many. The store is not told. */
size_t gw_fdset_remove(GwFdSet *s, const char *name);
/* Close what nobody took and remove those names from the supervisor's store.
 * Returns how many were dropped. */
size_t gw_fdset_drop(GwFdSet *s);
/* Closes what is left (without touching the store: the process is exiting). */
GwFdSet *gw_fdset_free(GwFdSet *s);

/* FDSTORE=1 with FDNAME=name and FDPOLL=0. 0 without a supervisor, > 0 sent.
 * Once sent, fd is remembered (it must stay open until gw_fdstore_remove()). */
int gw_fdstore_add(int fd, const char *name);
/* FDSTOREREMOVE=1 with FDNAME=name; forgets the descriptors of that name. */
int gw_fdstore_remove(const char *name);
/* Send FDSTORE=1 again for every descriptor the supervisor holds for us and we
 * hold open: those stored with gw_fdstore_add() and those passed to us
 * (gw_fdset_from_env()), until their name is removed. For a new supervisor
 * that adopted this process (gwsupd after a crash: docs/SUPERVISOR.md): its
 * store starts empty. Descriptors closed meanwhile are skipped and forgotten.
 * Returns how many were sent. */
size_t gw_fdstore_resend(void);
/* How many descriptors gw_fdstore_resend() would consider. */
size_t gw_fdstore_size(void);

/* Is fd a datagram socket of the family of 'sa' bound to exactly that
 * address and port (a port of 0 in 'sa' matches any port)? */
bool gw_socket_is_bound_to(int fd, const struct sockaddr *sa);
