/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-transaction.c: libosip2's transaction layer on our sd-event loop.
 *
 * libosip2 keeps the RFC 3261 timers (E, F, K for NICT; G, H, I for IST; J for
 * NIST). One sd-event timer is re-armed after every event to
 * osip_timers_gettimeout(); when it fires, and after every received datagram,
 * transaction_run() runs libosip2's queues and timers. libosip2's callbacks
 * reach a transaction's owner through its TransactionOps, and the owners only
 * note what happened (a request's PENDING_*, a call's queued event); the
 * manager's settle handler does the work after libosip2 returns, because a
 * transaction may not be freed (or a new one started) from inside its loops.
 * Transactions libosip2 is done with go to a dead list, freed at the end of
 * the run. */
#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>
#include "gw-bus.h"
#include "gw-log.h"
#include "sigd-manager.h"
#include "sigd-transaction.h"
#include "sigd-transport.h"

static void dead_push(Manager *m, osip_transaction_t *tr) {
        for (size_t i = 0; i < m->n_dead; i++)
                if (m->dead[i] == tr)
                        return;
        if (m->n_dead == m->n_dead_alloc) {
                size_t k = MAX(m->n_dead_alloc * 2, (size_t) 16);
                osip_transaction_t **d = realloc(m->dead, k * sizeof(*d));
                if (!d) {
                        log_oom();
                        return;                           /* leaks one transaction rather than crash */
                }
                m->dead = d;
                m->n_dead_alloc = k;
        }
        m->dead[m->n_dead++] = tr;
}

static void ctx_gone(TransactionCtx *ctx, osip_transaction_t *tr) {
        if (ctx && ctx->owner && ctx->ops && ctx->ops->gone)
                ctx->ops->gone(ctx->owner, tr);
}

static void dead_free(Manager *m) {
        for (size_t i = 0; i < m->n_dead; i++) {
                osip_transaction_t *tr = m->dead[i];
                TransactionCtx *ctx = osip_transaction_get_your_instance(tr);

                ctx_gone(ctx, tr);
                free(ctx);
                osip_transaction_set_your_instance(tr, NULL);
                osip_transaction_free(tr);                /* also removes it from libosip2 */
        }
        m->n_dead = 0;
}

TransactionCtx *transaction_ctx(osip_transaction_t *tr) {
        return tr ? osip_transaction_get_your_instance(tr) : NULL;
}

void transaction_set_owner(osip_transaction_t *tr, const TransactionOps *ops, void *owner) {
        TransactionCtx *ctx = transaction_ctx(tr);

        if (!ctx)
                return;
        ctx->ops = owner ? ops : NULL;
        ctx->owner = ops ? owner : NULL;
}

void transaction_kill(Manager *m, osip_transaction_t *tr) {
        TransactionCtx *ctx;

        if (!tr)
                return;
        ctx = osip_transaction_get_your_instance(tr);
        ctx_gone(ctx, tr);
        transaction_set_owner(tr, NULL, NULL);
        osip_remove_transaction(m->osip, tr);
        dead_push(m, tr);
}

static TransactionCtx *ctx_new(Manager *m, const struct sockaddr_storage *dest, socklen_t dest_len,
                               const TransactionOps *ops, void *owner) {
        TransactionCtx *ctx = calloc(1, sizeof(*ctx));

        if (!ctx)
                return NULL;
        ctx->manager = m;
        ctx->ops = owner ? ops : NULL;
        ctx->owner = ops ? owner : NULL;
        ctx->dest = *dest;
        ctx->dest_len = dest_len;
        return ctx;
}

int transaction_new_client(Manager *m, osip_fsm_type_t type, osip_message_t *msg, const struct sockaddr_storage *dest,
                           socklen_t dest_len, const TransactionOps *ops, void *owner, osip_transaction_t **ret) {
        osip_transaction_t *tr = NULL;
        TransactionCtx *ctx;

        assert(type == ICT || type == NICT);
        ctx = ctx_new(m, dest, dest_len, ops, owner);
        if (!ctx) {
                osip_message_free(msg);
                return -ENOMEM;
        }
        if (osip_transaction_init(&tr, type, m->osip, msg) != 0) {
                free(ctx);
                osip_message_free(msg);
                return -EINVAL;
        }
        osip_transaction_set_your_instance(tr, ctx);
        osip_transaction_add_event(tr, osip_new_outgoing_sipmessage(msg));
        m->counters.requests_sent++;
        if (ret)
                *ret = tr;
        return 0;
}

int transaction_new_server(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                           osip_transaction_t **ret) {
        osip_transaction_t *tr = NULL;
        TransactionCtx *ctx;

        ctx = ctx_new(m, dest, dest_len, NULL, NULL);
        if (!ctx)
                return -ENOMEM;
        if (osip_transaction_init(&tr, streq(ev->sip->sip_method, "INVITE") ? IST : NIST, m->osip, ev->sip) != 0) {
                free(ctx);
                return -EINVAL;
        }
        osip_transaction_set_your_instance(tr, ctx);
        osip_transaction_add_event(tr, ev);
        *ret = tr;
        return 0;
}

void transaction_respond(Manager *m, osip_transaction_t *tr, osip_message_t *resp) {
        osip_transaction_add_event(tr, osip_new_outgoing_sipmessage(resp));
        m->call_actions++;
}

/* ---------------------------------------------------------------- libosip2's callbacks */

static int send_cb(osip_transaction_t *tr, osip_message_t *sip, char *host, int port, int out_socket) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);
        char *s = NULL;
        size_t len = 0;
        int r;

        if (!ctx)
                return -1;                               /* a transaction we already gave up */
        if (osip_message_to_str(sip, &s, &len) != 0)
                return -1;
        r = transport_send(ctx->manager, s, len, (const struct sockaddr *) &ctx->dest, ctx->dest_len);
        osip_free(s);
        if (r < 0) {
                if (ctx->owner && ctx->ops->send_failed)
                        ctx->ops->send_failed(ctx->owner, tr, -r);
                return -1;
        }
        return 0;
}

static bool type_is_retransmission(int type) {
        /* our 2xx to INVITE is repeated by the call (sigd-call.c), which counts it */
        return type == OSIP_NICT_REQUEST_SENT_AGAIN || type == OSIP_ICT_INVITE_SENT_AGAIN ||
               type == OSIP_ICT_ACK_SENT_AGAIN || type == OSIP_NIST_STATUS_2XX_SENT_AGAIN ||
               type == OSIP_NIST_STATUS_3456XX_SENT_AGAIN || type == OSIP_IST_STATUS_3456XX_SENT_AGAIN;
}

static void message_cb(int type, osip_transaction_t *tr, osip_message_t *sip) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);

        if (!ctx)
                return;
        if (type_is_retransmission(type))
                ctx->manager->counters.retransmissions++;
        if (ctx->owner && ctx->ops->message)
                ctx->ops->message(ctx->owner, tr, type, sip);
}

static void kill_cb(int type, osip_transaction_t *tr) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);
        Manager *m;

        if (!ctx)
                return;
        m = ctx->manager;
        if (ctx->owner && ctx->ops->killed)
                ctx->ops->killed(ctx->owner, tr, type);
        osip_remove_transaction(m->osip, tr);
        dead_push(m, tr);
}

static void transport_error_cb(int type, osip_transaction_t *tr, int error) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);

        if (ctx && ctx->owner && ctx->ops->transport_error)
                ctx->ops->transport_error(ctx->owner, tr, type);
}

/* ---------------------------------------------------------------- the run */

static int on_osip_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        transaction_run(userdata);
        return 0;
}

static void osip_timer_rearm(Manager *m) {
        struct timeval tv = {};
        uint64_t delay, now;
        int r;

        osip_timers_gettimeout(m->osip, &tv);
        delay = (uint64_t) tv.tv_sec * USEC_PER_SEC + (uint64_t) tv.tv_usec;
        delay = CLAMP(delay, USEC_PER_MSEC, 3600 * USEC_PER_SEC);
        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                now = now_usec(CLOCK_MONOTONIC);
        if (!m->osip_timer) {
                r = sd_event_add_time(m->event, &m->osip_timer, CLOCK_MONOTONIC, now + delay, USEC_PER_MSEC,
                                      on_osip_timer, m);
                if (r < 0)
                        log_error_errno(r, "Failed to add the transaction timer: %m");
                else
                        (void) sd_event_source_set_description(m->osip_timer, "osip-timers");
                return;
        }
        (void) sd_event_source_set_time(m->osip_timer, now + delay);
        (void) sd_event_source_set_enabled(m->osip_timer, SD_EVENT_ONESHOT);
}

/* NIST before IST: the 200 for a CANCEL leaves before the INVITE's 487. */
static void osip_execute_all(Manager *m) {
        osip_ict_execute(m->osip);
        osip_nist_execute(m->osip);
        osip_ist_execute(m->osip);
        osip_nict_execute(m->osip);
        osip_timers_ict_execute(m->osip);
        osip_timers_ist_execute(m->osip);
        osip_timers_nict_execute(m->osip);
        osip_timers_nist_execute(m->osip);
        osip_ict_execute(m->osip);
        osip_nist_execute(m->osip);
        osip_ist_execute(m->osip);
        osip_nict_execute(m->osip);
}

void transaction_run(Manager *m) {
        if (m->in_osip)
                return;
        m->in_osip = true;
        for (unsigned i = 0; i < 8; i++) {
                uint64_t before = m->counters.tx + m->counters.outcomes + m->counters.requests_sent + m->call_actions;
                osip_execute_all(m);
                if (m->transaction_handlers && m->transaction_handlers->settle)
                        m->transaction_handlers->settle(m);
                if (m->counters.tx + m->counters.outcomes + m->counters.requests_sent + m->call_actions == before)
                        break;
        }
        dead_free(m);
        m->in_osip = false;
        if (m->osip)
                osip_timer_rearm(m);
}

int transaction_init(Manager *m, const TransactionHandlers *h) {
        if (osip_init(&m->osip) != 0)
                return -ENOMEM;
        m->transaction_handlers = h;
        osip_set_application_context(m->osip, m);
        osip_set_cb_send_message(m->osip, send_cb);
        for (int t = OSIP_NICT_REGISTER_SENT; t <= OSIP_NICT_STATUS_3456XX_RECEIVED_AGAIN; t++)
                osip_set_message_callback(m->osip, t, message_cb);
        for (int t = OSIP_ICT_INVITE_SENT; t <= OSIP_ICT_STATUS_3456XX_RECEIVED_AGAIN; t++)
                osip_set_message_callback(m->osip, t, message_cb);
        for (int t = OSIP_IST_INVITE_RECEIVED; t <= OSIP_IST_STATUS_3456XX_SENT_AGAIN; t++)
                osip_set_message_callback(m->osip, t, message_cb);
        for (int t = OSIP_NIST_REGISTER_RECEIVED; t <= OSIP_NIST_STATUS_3456XX_SENT_AGAIN; t++)
                osip_set_message_callback(m->osip, t, message_cb);
        osip_set_kill_transaction_callback(m->osip, OSIP_ICT_KILL_TRANSACTION, kill_cb);
        osip_set_kill_transaction_callback(m->osip, OSIP_IST_KILL_TRANSACTION, kill_cb);
        osip_set_kill_transaction_callback(m->osip, OSIP_NICT_KILL_TRANSACTION, kill_cb);
        osip_set_kill_transaction_callback(m->osip, OSIP_NIST_KILL_TRANSACTION, kill_cb);
        osip_set_transport_error_callback(m->osip, OSIP_ICT_TRANSPORT_ERROR, transport_error_cb);
        osip_set_transport_error_callback(m->osip, OSIP_IST_TRANSPORT_ERROR, transport_error_cb);
        osip_set_transport_error_callback(m->osip, OSIP_NICT_TRANSPORT_ERROR, transport_error_cb);
        osip_set_transport_error_callback(m->osip, OSIP_NIST_TRANSPORT_ERROR, transport_error_cb);
        return 0;
}

static void kill_list(Manager *m, osip_list_t *l) {
        osip_list_iterator_t it;
        osip_transaction_t *tr;

        for (tr = osip_list_get_first(l, &it); tr; tr = osip_list_get_next(&it))
                dead_push(m, tr);
}

void transaction_done(Manager *m) {
        if (!m->osip)
                return;
        kill_list(m, &m->osip->osip_ict_transactions);
        kill_list(m, &m->osip->osip_ist_transactions);
        kill_list(m, &m->osip->osip_nict_transactions);
        kill_list(m, &m->osip->osip_nist_transactions);
        dead_free(m);
        osip_release(m->osip);
        m->osip = NULL;
        free(m->dead);
        m->dead = NULL;
        m->n_dead = m->n_dead_alloc = 0;
        m->osip_timer = sd_event_source_disable_unref(m->osip_timer);
}
