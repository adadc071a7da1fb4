/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-transaction.h: libosip2's transaction layer on the manager's sd-event loop.
 *
 * Above the transport, below messages, requests and calls. Each transaction
 * carries a TransactionCtx: where its messages go and, optionally, an owner
 * with a TransactionOps table through which libosip2's callbacks reach the
 * layer above. The ops run inside libosip2's loops: they only note what
 * happened; the work is done in the settle handler, which transaction_run()
 * calls once libosip2 has returned. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <osip2/osip.h>

#include "sigd-forward.h"

typedef struct TransactionOps {
        /* libosip2's message callback (a response received, a request sent again...); msg belongs to tr. */
        void (*message)(void *owner, osip_transaction_t *tr, int type, osip_message_t *msg);
        /* libosip2 ends tr (its timer ran out: Timer B, F, ...); type is OSIP_*_KILL_TRANSACTION. */
        void (*killed)(void *owner, osip_transaction_t *tr, int type);
        /* libosip2 reports a transport error on tr; type is OSIP_*_TRANSPORT_ERROR. */
        void (*transport_error)(void *owner, osip_transaction_t *tr, int type);
        /* Sending one of tr's messages failed (positive errno). */
        void (*send_failed)(void *owner, osip_transaction_t *tr, int error);
        /* tr is about to be freed, or the owner is let go by transaction_kill(): forget it. */
        void (*gone)(void *owner, osip_transaction_t *tr);
} TransactionOps;

/* A transaction's context (libosip2's your_instance), freed with it. */
struct TransactionCtx {
        Manager *manager;
        const TransactionOps *ops;       /* NULL: nobody above listens */
        void *owner;
        struct sockaddr_storage dest;    /* where its messages go */
        socklen_t dest_len;
};

typedef struct TransactionHandlers {
        /* After every run of libosip2's queues and timers: handle what the ops noted. */
        void (*settle)(Manager *m);
} TransactionHandlers;

/* h must outlive the manager. */
int transaction_init(Manager *m, const TransactionHandlers *h);
/* Free every transaction and libosip2 (owners should have let go by now). */
void transaction_done(Manager *m);

/* Run libosip2's queues and timers, settle, re-arm our one timer. Not re-entrant: a nested call returns. */
void transaction_run(Manager *m);

/* A client transaction (ICT, NICT) sending msg (taken, also on failure) to dest. */
int transaction_new_client(Manager *m, osip_fsm_type_t type, osip_message_t *msg, const struct sockaddr_storage *dest,
                           socklen_t dest_len, const TransactionOps *ops, void *owner, osip_transaction_t **ret);
/* A server transaction (IST for INVITE, else NIST) for a received request.
 * Takes ev on success; -EINVAL if libosip2 refuses it (ev left to the caller). */
int transaction_new_server(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                           osip_transaction_t **ret);
/* Send resp (taken) in server transaction tr. */
void transaction_respond(Manager *m, osip_transaction_t *tr, osip_message_t *resp);

TransactionCtx *transaction_ctx(osip_transaction_t *tr);
/* Give tr an owner, or take it away (ops NULL). */
void transaction_set_owner(osip_transaction_t *tr, const TransactionOps *ops, void *owner);
/* Take tr out of libosip2 now (its owner told 'gone' and let go) and free it once safe. */
void transaction_kill(Manager *m, osip_transaction_t *tr);
