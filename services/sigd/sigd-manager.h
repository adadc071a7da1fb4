/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-manager.h: sigd's state and its one public face.
 *
 * The manager holds every layer's state (each layer touches only its own
 * fields) and wires the layers: it registers the handler tables through
 * which a lower layer reaches the one above (docs/ARCHITECTURE.md draws them).
 *
 * It knows nothing of the bus: regd's SipRequest comes in through
 * manager_submit() and its SipRequestOutcome goes out through the outcome
 * callback (set by sigd-bus.c, or by a test); line and profile facts come in
 * through manager_line_*() and manager_profile_status(), and what the calls
 * publish goes out through the publish callback. Everything runs on one
 * sd-event loop; no function blocks. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <systemd/sd-event.h>
#include <osip2/osip.h>

#include "gw-conf.h"
#include "gw-fdstore.h"
#include "gw.pb-c.h"
#include "sigd-call.h"
#include "sigd-line.h"
#include "sigd-forward.h"
#include "sigd-message.h"
#include "sigd-request.h"
#include "sigd-transaction.h"
#include "sigd-transport.h"

typedef struct SigdCounters {
        uint64_t rx;                    /* datagrams received */
        uint64_t tx;                    /* datagrams sent */
        uint64_t malformed;             /* unparseable or invalid SIP (answered 400/505 or dropped) */
        uint64_t dropped;               /* not processed: size, malformed response, no transaction */
        uint64_t unmatched_responses;   /* responses matching no client transaction */
        uint64_t retransmissions;       /* requests and responses we sent again */
        uint64_t auth_challenges;       /* 401/407 received */
        uint64_t requests_received;
        uint64_t transport_errors;      /* ICMP errors and send failures */
        uint64_t requests_sent;         /* client transactions started */
        uint64_t outcomes;              /* SipRequestOutcomes delivered */
        uint64_t untrusted;             /* requests from sources not allowed: dropped silently */
        uint64_t rx_waited;             /* read from a kept socket before it first ran dry: they waited for us */
        bool socket_inherited;          /* the SIP socket came from the supervisor, not bind() */
} SigdCounters;

/* Called exactly once per accepted SipRequest. o and its strings are valid
 * during the call only. */
typedef void (*manager_outcome_cb_t)(Manager *m, uint64_t correlation_id,
                                     const Gw__SipRequestOutcome *o, void *userdata);
/* Sees every datagram before it is sent; returning >0 consumes it (not sent). */
typedef int (*manager_tx_hook_t)(Manager *m, const char *buf, size_t n,
                                 const struct sockaddr *to, socklen_t tolen, void *userdata);

struct Manager {
        sd_event *event;
        const GwConf *conf;
        SigdCounters counters;

        /* transport (sigd-transport.c) */
        int fd;
        sd_event_source *io_source;
        GwFdSet *inherited_fds;         /* tests: sockets "passed" instead of LISTEN_FDS; NULL: the environment */
        bool draining_waited;           /* a kept socket not yet read dry: what comes in waited */
        struct sockaddr_storage local;
        socklen_t local_len;
        char via_host[INET6_ADDRSTRLEN + 2];  /* for Via and Contact; v6 in brackets */
        uint16_t via_port;
        const TransportHandlers *transport_handlers;
        manager_tx_hook_t tx_hook;
        void *tx_hook_userdata;

        /* transactions (sigd-transaction.c) */
        osip_t *osip;
        sd_event_source *osip_timer;
        bool in_osip;                   /* inside transaction_run(): no re-entry */
        osip_transaction_t **dead;      /* to free once libosip2 is out of its loops */
        size_t n_dead, n_dead_alloc;
        const TransactionHandlers *transaction_handlers;
        uint64_t call_actions;          /* bumped by anything the layers above queue for libosip2 */

        /* messages (sigd-message.c) */
        const MessageHandlers *message_handlers;
        /* Addresses we sent requests to: their requests are trusted too (a proxy
         * configured by name, resolved by regd). A small ring, IPs only. */
        struct sockaddr_storage peers[64];
        size_t n_peers, next_peer;

        /* regd's requests (sigd-request.c) */
        ClientRequest *requests;        /* in flight, doubly linked */
        unsigned n_requests;
        manager_outcome_cb_t outcome_cb;
        void *outcome_userdata;

        /* calls (sigd-call.c) */
        ProfileState *profiles;         /* per conf->profiles[] */
        Call *calls;                    /* doubly linked, incl. those a line let go */
        uint64_t next_call_serial;
        CallTxEvent *tx_events;         /* noted in libosip2's callbacks */
        size_t n_tx_events, n_tx_events_alloc;
        const CallLineOps *call_line_ops;
        manager_publish_cb_t publish_cb;
        void *publish_userdata;

        /* lines (sigd-line.c) */
        Line *lines;
        size_t n_lines;

        /* the calls file (sigd-state.c) */
        char *state_dir;                /* NULL: calls are not kept */
        sd_event_source *state_post;
        uint8_t *state_last;            /* as last written (holds keys: wiped) */
        size_t state_last_len;
        bool state_written;
        uint64_t state_writes;
};

int manager_new(sd_event *e, const GwConf *c, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Open the SIP socket on conf->sip_listen_addr and start reading. */
int manager_start(Manager *m);

/* Go on with the calls kept in <state_dir>/calls by the instance before
 * (after manager_start(): a pending INVITE is sent again), and keep that file
 * from now on. Returns the number of calls resumed (a bad file: none, logged). */
int manager_resume(Manager *m, const char *state_dir);

void manager_set_outcome_callback(Manager *m, manager_outcome_cb_t cb, void *userdata);
void manager_set_tx_hook(Manager *m, manager_tx_hook_t hook, void *userdata);
void manager_set_publish_callback(Manager *m, manager_publish_cb_t cb, void *userdata);

/* regd's SipRequest: see request_submit(). */
int manager_submit(Manager *m, uint64_t correlation_id, const Gw__SipRequest *req);

/* Handle one received datagram: the socket's read path and the tests both come here. */
int manager_handle_datagram(Manager *m, const void *buf, size_t n,
                            const struct sockaddr *from, socklen_t fromlen, RxResult *ret);

/* Bus inputs (validated by the caller's handler table for the sender). */
int manager_line_hook(Manager *m, unsigned port, bool off_hook);
int manager_line_digit(Manager *m, unsigned port, const char *digit);
/* From the bus: see line_digit_from(). from: 0 DTMF (mediad), 1 pulses (linehwd). */
int manager_line_digit_from(Manager *m, unsigned port, const char *digit, int from, uint64_t instance,
                            uint32_t seq, bool replay);
int manager_line_flash(Manager *m, unsigned port);
int manager_profile_status(Manager *m, const Gw__ProfileStatus *ps);
/* Re-publish every line's LineControl, MediaControl and LineCall (StateSyncRequest). */
void manager_publish_lines(Manager *m);
/* Fill lc (INIT'd by the caller) with line 'port''s call; storage is the callee's. */
int manager_line_call(Manager *m, unsigned port, Gw__LineCall *lc);
