/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-manager.c: the manager object: creation, start, teardown, callbacks,
 * and the wiring of sigd's layers (docs/ARCHITECTURE.md):
 *
 *   calls and lines     sigd-line.c, sigd-call.c
 *   messages, requests  sigd-message.c (datagrams in), sigd-request.c (regd's), sigd-dialog.c
 *   transactions        sigd-transaction.c (libosip2)
 *   transport           sigd-transport.c (UDP)
 *
 * A layer calls the ones below it directly, and the one above only through
 * the handler table registered here. */
#include <assert.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "gw-log.h"
#include "sigd-call.h"
#include "sigd-line.h"
#include "sigd-manager.h"
#include "sigd-message.h"
#include "sigd-request.h"
#include "sigd-state.h"
#include "gw-sockaddr.h"
#include "sigd-transaction.h"
#include "sigd-transport.h"

/* libosip2 traces to stderr when built with tracing: route its messages to our debug log. */
static void osip_trace_to_log(const char *fi, int li, osip_trace_level_t level, const char *chfr, va_list ap) {
        char buf[512];

        if (log_get_max_level() < LOG_DEBUG)
                return;
        vsnprintf(buf, sizeof(buf), chfr, ap);
        buf[strcspn(buf, "\r\n")] = 0;
        log_debug("libosip2: %s", buf);
}

/* Everything libosip2 frees is wiped first: SIP messages carry SDP with SRTP
 * keys (a=crypto), and their parsed and printed copies must not linger in
 * freed memory after a call. A few hundred small blocks per message. */
static void osip_wiping_free(void *p) {
        if (p) {
                explicit_bzero(p, malloc_usable_size(p));
                free(p);
        }
}

static void *osip_wiping_realloc(void *p, size_t n) {
        size_t old;
        void *q;

        if (!p)
                return malloc(n);
        if (n == 0) {
                osip_wiping_free(p);
                return NULL;
        }
        old = malloc_usable_size(p);
        q = malloc(n);
        if (!q)
                return NULL;
        memcpy(q, p, MIN(old, n));
        osip_wiping_free(p);
        return q;
}

/* ---------------------------------------------------------------- the handler tables */

static void on_datagram(Manager *m, const void *buf, size_t n, const struct sockaddr *from, socklen_t fromlen) {
        (void) message_handle_datagram(m, buf, n, from, fromlen, NULL);
}

/* An ICMP error: every request and INVITE sent there ends or fails over. */
static void on_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error) {
        char dest[64] = "?";
        unsigned n;

        (void) gw_sockaddr_to_string(to, dest, sizeof(dest));
        n = request_transport_error(m, to, tolen, error);
        call_transport_error(m, to, tolen, error);
        log_debug("ICMP error for %s: %s (%u requests).", dest, strerror(error), n);
        transaction_run(m);
}

static const TransportHandlers transport_handlers = {
        .datagram = on_datagram,
        .error = on_transport_error,
};

/* After each libosip2 run: what its callbacks noted, requests first. */
static void on_settle(Manager *m) {
        request_settle(m);
        call_settle(m);
}

static const TransactionHandlers transaction_handlers = {
        .settle = on_settle,
};

static const MessageHandlers message_handlers = {
        .request = call_handle_request,
        .stray_response = call_handle_stray_response,
};

int manager_new(sd_event *e, const GwConf *c, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        assert(e);
        assert(c);
        assert(ret);

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->fd = -EBADF;
        m->event = sd_event_ref(e);
        m->conf = c;

        osip_trace_initialize_func(OSIP_INFO4, osip_trace_to_log);
        osip_set_allocators(malloc, osip_wiping_realloc, osip_wiping_free);
        transport_set_handlers(m, &transport_handlers);
        message_set_handlers(m, &message_handlers);
        r = transaction_init(m, &transaction_handlers);
        if (r < 0)
                return r;
        r = call_init(m);
        if (r < 0)
                return r;
        r = line_init(m);
        if (r < 0)
                return r;

        /* Until the socket is open, Via/Contact name the configured address. */
        m->local = c->sip_listen_addr;
        m->local_len = c->sip_listen_addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        snprintf(m->via_host, sizeof(m->via_host), "%s", "127.0.0.1");

        *ret = TAKE_PTR(m);
        return 0;
}

int manager_start(Manager *m) {
        return transport_open(m);
}

int manager_resume(Manager *m, const char *state_dir) {
        int r;

        r = state_init(m, state_dir);
        transaction_run(m);
        return r;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Requests die with us: regd re-sends them to the next sigd instance. */
        m->outcome_cb = NULL;
        request_free_all(m);
        state_done(m);                  /* the file stays: the next instance goes on with its calls */
        call_done(m);
        line_done(m);
        transaction_done(m);
        transport_close(m);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

void manager_set_outcome_callback(Manager *m, manager_outcome_cb_t cb, void *userdata) {
        m->outcome_cb = cb;
        m->outcome_userdata = userdata;
}

void manager_set_tx_hook(Manager *m, manager_tx_hook_t hook, void *userdata) {
        m->tx_hook = hook;
        m->tx_hook_userdata = userdata;
}

void manager_set_publish_callback(Manager *m, manager_publish_cb_t cb, void *userdata) {
        m->publish_cb = cb;
        m->publish_userdata = userdata;
}

int manager_submit(Manager *m, uint64_t correlation_id, const Gw__SipRequest *req) {
        return request_submit(m, correlation_id, req);
}

int manager_handle_datagram(Manager *m, const void *buf, size_t n,
                            const struct sockaddr *from, socklen_t fromlen, RxResult *ret) {
        return message_handle_datagram(m, buf, n, from, fromlen, ret);
}

int manager_line_hook(Manager *m, unsigned port, bool off_hook) {
        return line_hook(m, port, off_hook);
}

int manager_line_digit(Manager *m, unsigned port, const char *digit) {
        return line_digit(m, port, digit);
}

int manager_line_digit_from(Manager *m, unsigned port, const char *digit, int from, uint64_t instance,
                            uint32_t seq, bool replay) {
        return line_digit_from(m, port, digit, from ? LINE_DIGITS_PULSE : LINE_DIGITS_DTMF, instance, seq, replay);
}

int manager_line_flash(Manager *m, unsigned port) {
        return line_flash(m, port);
}

int manager_profile_status(Manager *m, const Gw__ProfileStatus *ps) {
        return call_profile_status(m, ps);
}

void manager_publish_lines(Manager *m) {
        line_publish_all(m);
}

int manager_line_call(Manager *m, unsigned port, Gw__LineCall *lc) {
        return line_call_info(m, port, lc);
}
