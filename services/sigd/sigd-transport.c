/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-transport.c: the UDP socket: reading datagrams, sending, ICMP errors.
 *
 * IP_RECVERR (IPV6_RECVERR) queues ICMP errors on the socket; the socket then
 * wakes with EPOLLERR, and the error queue is drained in the same callback
 * (or the loop would spin). Each error names the destination of the datagram
 * that caused it; the client transactions sent there end with
 * OUTCOME_TRANSPORT. The kernel also sets the socket's pending error, which
 * the next sendto() reports for whatever destination: such a send is retried
 * once.
 *
 * The socket outlives us: sigd binds it once and hands it to the supervisor's
 * fd store (gw-fdstore.h), or gets it from a socket unit; every later sigd
 * gets that same socket, so what arrives while none runs waits in its buffer
 * instead of drawing an ICMP port unreachable.
 *
 * The lowest layer: what comes in goes up through the TransportHandlers the
 * manager registered (datagrams to sigd-message.c, ICMP errors to the requests
 * and calls). */
#include <arpa/inet.h>
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "gw-fdstore.h"
#include "gw-log.h"
#include "gw-sockaddr.h"
#include "sigd-manager.h"
#include "sigd-transport.h"

void transport_set_handlers(Manager *m, const TransportHandlers *h) {
        m->transport_handlers = h;
}

static bool errno_is_async_icmp(int e) {
        return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN ||
               e == EPROTO || e == ENOPROTOOPT;
}

int transport_send(Manager *m, const char *buf, size_t n, const struct sockaddr *to, socklen_t tolen) {
        ssize_t k;

        if (m->tx_hook) {
                int r = m->tx_hook(m, buf, n, to, tolen, m->tx_hook_userdata);
                if (r > 0) {
                        m->counters.tx++;
                        return 0;
                }
        }
        if (m->fd < 0) {
                m->counters.transport_errors++;
                return -ENOTCONN;
        }
        for (unsigned attempt = 0;; attempt++) {
                k = sendto(m->fd, buf, n, MSG_NOSIGNAL, to, tolen);
                if (k >= 0)
                        break;
                if (attempt == 0 && (errno_is_async_icmp(errno) || errno == EINTR))
                        continue;                         /* an earlier ICMP error, not this send's */
                m->counters.transport_errors++;
                return -errno;
        }
        m->counters.tx++;
        return 0;
}

static void drain_errqueue(Manager *m) {
        for (unsigned i = 0; i < SIGD_ERRQUEUE_BURST; i++) {
                union {
                        struct cmsghdr h;
                        uint8_t buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
                } control;
                struct sockaddr_storage dest = {};
                char data[64];
                struct iovec iov = { data, sizeof(data) };
                struct msghdr mh = {
                        .msg_name = &dest, .msg_namelen = sizeof(dest),
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = &control, .msg_controllen = sizeof(control),
                };
                ssize_t k = recvmsg(m->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);

                if (k < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                log_debug_errno(errno, "Failed to read the error queue: %m");
                        return;
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                        const struct sock_extended_err *ee;
                        if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                              (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
                                continue;
                        ee = (const struct sock_extended_err *) CMSG_DATA(c);
                        if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6 &&
                            ee->ee_origin != SO_EE_ORIGIN_LOCAL)
                                continue;
                        if (ee->ee_errno == EMSGSIZE)
                                continue;                 /* path MTU news, not a dead peer */
                        m->counters.transport_errors++;
                        if (m->transport_handlers && m->transport_handlers->error)
                                m->transport_handlers->error(m, (const struct sockaddr *) &dest, mh.msg_namelen,
                                                             (int) ee->ee_errno);
                }
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        static uint8_t buf[SIGD_MAX_DATAGRAM + 1];

        if (revents & EPOLLERR)
                drain_errqueue(m);

        for (unsigned i = 0; i < SIGD_RX_BURST; i++) {
                struct sockaddr_storage from = {};
                socklen_t fromlen = sizeof(from);
                ssize_t k = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &from, &fromlen);

                if (k < 0) {
                        if (errno == EAGAIN && m->draining_waited) {
                                m->draining_waited = false;
                                log_info("%" PRIu64 " datagram(s) waited in the SIP socket while sigd was down.",
                                         m->counters.rx_waited);
                        }
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        if (errno_is_async_icmp(errno)) {
                                drain_errqueue(m);
                                continue;
                        }
                        log_warning_errno(errno, "Failed to receive a datagram, ignoring: %m");
                        break;
                }
                if (m->draining_waited)
                        m->counters.rx_waited++;
                if ((size_t) k > SIGD_MAX_DATAGRAM) {
                        m->counters.rx++;
                        m->counters.dropped++;
                        continue;
                }
                if (m->transport_handlers && m->transport_handlers->datagram)
                        m->transport_handlers->datagram(m, buf, (size_t) k, (const struct sockaddr *) &from, fromlen);
                explicit_bzero(buf, (size_t) k);          /* it may have held an SRTP key (SDP a=crypto) */
        }
        return 0;
}

/* The SIP socket a supervisor passed us ("sip": a socket unit, or our own
 * from the fd store), if it is bound where sip.listen says. Anything else
 * passed is not ours to keep: closed and removed from the store. */
static int transport_inherit(Manager *m, const struct sockaddr *sa, const char *addr) {
        GwFdSet *set = m->inherited_fds;
        int fd = -EBADF, k;

        if (!set) {
                k = gw_fdset_from_env(&set);
                if (k < 0)
                        log_warning_errno(k, "Failed to read the sockets passed to us, ignoring: %m");
                if (!set)
                        return -ENOMEM;
        }
        while ((k = gw_fdset_take(set, SIGD_FDNAME_SIP)) >= 0) {
                if (fd < 0 && gw_socket_is_bound_to(k, sa)) {
                        fd = k;
                        continue;
                }
                log_warning("A SIP socket passed to us is not bound to sip.listen %s; closing it.", addr);
                close(k);
                (void) gw_fdstore_remove(SIGD_FDNAME_SIP);
        }
        if (gw_fdset_drop(set) > 0)
                log_warning("Closed sockets passed to us that sigd does not use.");
        if (set != m->inherited_fds)
                gw_fdset_free(set);
        return fd;
}

int transport_open(Manager *m) {
        _cleanup_close_ int fd = -EBADF;
        const struct sockaddr *sa = (const struct sockaddr *) &m->conf->sip_listen_addr;
        socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        char addr[64] = "?";
        int one = 1, r;
        bool inherited;

        if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
                return log_error_errno(EAFNOSUPPORT, "sip.listen has no usable address.");
        (void) gw_sockaddr_to_string(sa, addr, sizeof(addr));

        fd = transport_inherit(m, sa, addr);
        inherited = fd >= 0;
        if (inherited) {
                /* A socket unit's socket is blocking unless NonBlocking=yes. */
                r = fcntl(fd, F_GETFL);
                if (r < 0 || fcntl(fd, F_SETFL, r | O_NONBLOCK) < 0)
                        return log_error_errno(errno, "Failed to make the passed SIP socket non-blocking: %m");
                m->counters.socket_inherited = true;
                /* Count what waited only if something did: a socket unit's socket at
                 * the first start is empty, and what comes later did not wait for us. */
                char b;
                m->draining_waited = !(recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN);
        } else {
                fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to create the SIP socket: %m");
        }
        /* Set on a passed socket too: a socket unit does not know IP_RECVERR. */
        if (sa->sa_family == AF_INET)
                r = setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
        else
                r = setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
        if (r < 0)
                return log_error_errno(errno, "Failed to enable ICMP error reporting: %m");
        if (!inherited) {
                if (bind(fd, sa, len) < 0)
                        return log_error_errno(errno, "Failed to bind '%s': %m", addr);
                /* Hand it to the supervisor: the next sigd gets this very socket,
                 * and what arrives while none runs waits in its buffer. */
                r = gw_fdstore_add(fd, SIGD_FDNAME_SIP);
                if (r < 0)
                        log_warning_errno(r, "Failed to pass the SIP socket to the supervisor's store, ignoring: %m");
        } else
                log_info("Using the SIP socket on %s passed by the supervisor.", addr);

        m->local_len = sizeof(m->local);
        if (getsockname(fd, (struct sockaddr *) &m->local, &m->local_len) < 0)
                return log_error_errno(errno, "Failed to read the bound address: %m");

        /* Via sent-by and Contact: sip.advertised_address, else the bound address. */
        m->via_port = gw_sockaddr_port((const struct sockaddr *) &m->local);
        GwHostPort hp = {};
        if (!isempty(m->conf->sip_advertised_address) &&
            gw_parse_host_port(m->conf->sip_advertised_address, &hp) >= 0 && !isempty(hp.host) &&
            !streq(hp.host, "0.0.0.0") && !streq(hp.host, "::")) {
                /* host[:port] as configured; without a port, the one we are bound to */
                if (strchr(hp.host, ':'))
                        snprintf(m->via_host, sizeof(m->via_host), "[%s]", hp.host);
                else
                        snprintf(m->via_host, sizeof(m->via_host), "%s", hp.host);
                if (hp.port != 0 && gw_sockaddr_port((const struct sockaddr *) &m->conf->sip_listen_addr) != 0)
                        m->via_port = hp.port;
                gw_host_port_done(&hp);
        } else {
                gw_host_port_done(&hp);
                char ip[INET6_ADDRSTRLEN] = "";
                (void) gw_sockaddr_ip_to_string((const struct sockaddr *) &m->local, ip, sizeof(ip));
                snprintf(m->via_host, sizeof(m->via_host), m->local.ss_family == AF_INET6 ? "[%s]" : "%s", ip);
        }

        r = sd_event_add_io(m->event, &m->io_source, fd, EPOLLIN, on_io, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the SIP socket: %m");
        (void) sd_event_source_set_description(m->io_source, "sip-udp");
        m->fd = TAKE_FD(fd);
        return 0;
}

void transport_close(Manager *m) {
        /* Closed, not removed from the fd store: the next sigd takes it up. */
        m->io_source = sd_event_source_disable_unref(m->io_source);
        m->inherited_fds = gw_fdset_free(m->inherited_fds);
        if (m->fd >= 0)
                close(m->fd);
        m->fd = -EBADF;
}
