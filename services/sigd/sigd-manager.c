/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-manager.c: the manager object: creation, start, teardown, callbacks. */
#include <assert.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "gw-log.h"
#include "sigd-manager.h"

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
        r = manager_osip_init(m);
        if (r < 0)
                return r;
        r = manager_calls_init(m);
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

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Requests die with us: regd re-sends them to the next sigd instance. */
        m->outcome_cb = NULL;
        while (m->requests) {
                ClientRequest *cr = m->requests;
                cr->pending = PENDING_NONE;
                m->requests = cr->next;
                if (m->requests)
                        m->requests->prev = NULL;
                cr->next = cr->prev = NULL;
                if (cr->tr)
                        manager_transaction_kill(m, cr->tr);
                cr->manager = NULL;
                sd_event_source_disable_unref(cr->timeout_source);
                for (size_t i = 0; i < cr->n_auth; i++)
                        digest_challenge_done(&cr->auth[i].challenge);
                free(cr->method); free(cr->request_uri); free(cr->target_text); free(cr->from_uri);
                free(cr->to_uri); free(cr->call_id); free(cr->from_tag); free(cr->profile); free(cr->contact_uri);
                free(cr);
        }
        manager_calls_done(m);
        manager_osip_done(m);
        m->osip_timer = sd_event_source_disable_unref(m->osip_timer);
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
