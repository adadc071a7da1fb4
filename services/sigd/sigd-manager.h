/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-manager.h: sigd's state: the SIP socket, libosip2's transaction layer,
 * the client requests sent on behalf of regd, and the counters.
 *
 * The manager knows nothing of the bus: regd's SipRequest comes in through
 * manager_submit() and its SipRequestOutcome goes out through the outcome
 * callback (set by sigd-bus.c, or by a test). Everything runs on one sd-event
 * loop; no function blocks. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <systemd/sd-event.h>
#include <osip2/osip.h>

#include "gw-conf.h"
#include "gw.pb-c.h"
#include "sigd-digest.h"
#include "sigd-call.h"

#define SIGD_MAX_DATAGRAM     65535u   /* larger (or empty) datagrams are dropped */
#define SIGD_RX_BURST         64u      /* datagrams read per wake-up */
#define SIGD_ERRQUEUE_BURST   64u      /* ICMP errors read per wake-up */
#define SIGD_DEFAULT_TIMEOUT_MS 32000u /* SipRequest without timeout_ms: Timer F */
#define SIGD_MAX_TIMEOUT_MS   300000u
#define SIGD_MAX_IN_FLIGHT    4096u
#define SIGD_MAX_AUTH_ROUNDS  4u       /* challenges answered per request */
#define SIGD_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"

typedef struct Manager Manager;
typedef struct ClientRequest ClientRequest;

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
} SigdCounters;

/* What manager_handle_datagram() did with one datagram. */
typedef enum RxDisposition {
        RX_ANSWERED,                    /* a request, answered with RxResult.status */
        RX_RETRANSMISSION,              /* a request retransmission, absorbed by its transaction */
        RX_ACK,                         /* an ACK: never answered */
        RX_RESPONSE_MATCHED,            /* a response given to its client transaction */
        RX_RESPONSE_UNMATCHED,          /* a well-formed response matching nothing: dropped */
        RX_DROPPED_MALFORMED,           /* invalid and not answerable */
        RX_DROPPED_SIZE,                /* empty or over 64 KiB */
        RX_DROPPED_UNTRUSTED,           /* a request from a source not allowed (sip.trusted_sources) */
        _RX_DISPOSITION_MAX,
        _RX_DISPOSITION_INVALID = -EINVAL,
} RxDisposition;

const char *rx_disposition_to_string(RxDisposition d);

typedef struct RxResult {
        RxDisposition disposition;
        unsigned status;                /* RX_ANSWERED: the status code we sent */
} RxResult;

/* Called exactly once per accepted SipRequest. o and its strings are valid
 * during the call only. */
typedef void (*manager_outcome_cb_t)(Manager *m, uint64_t correlation_id,
                                     const Gw__SipRequestOutcome *o, void *userdata);
/* Sees every datagram before it is sent; returning >0 consumes it (not sent). */
typedef int (*manager_tx_hook_t)(Manager *m, const char *buf, size_t n,
                                 const struct sockaddr *to, socklen_t tolen, void *userdata);

/* An osip transaction's context (its your_instance). */
typedef struct TransactionCtx {
        Manager *manager;
        ClientRequest *request;         /* client transactions while their request lives */
        uint64_t call;                  /* serial of the Call it belongs to; 0: none */
        struct sockaddr_storage dest;   /* where its messages go */
        socklen_t dest_len;
} TransactionCtx;

struct Manager {
        sd_event *event;
        const GwConf *conf;

        int fd;
        sd_event_source *io_source;
        struct sockaddr_storage local;
        socklen_t local_len;
        char via_host[INET6_ADDRSTRLEN + 2];  /* for Via and Contact; v6 in brackets */
        uint16_t via_port;

        osip_t *osip;
        sd_event_source *osip_timer;
        bool in_osip;                   /* inside manager_osip_run(): no re-entry */
        osip_transaction_t **dead;      /* to free once libosip2 is out of its loops */
        size_t n_dead, n_dead_alloc;

        ClientRequest *requests;        /* in flight, doubly linked */
        unsigned n_requests;

        SigdCounters counters;

        /* Addresses we sent requests to: their requests are trusted too (a proxy
         * configured by name, resolved by regd). A small ring, IPs only. */
        struct sockaddr_storage peers[64];
        size_t n_peers, next_peer;

        /* calls (sigd-call.c) */
        Line *lines;
        size_t n_lines;
        ProfileState *profiles;         /* per conf->profiles[] */
        Call *calls;                    /* doubly linked, incl. those a line let go */
        uint64_t next_call_serial;
        CallTxEvent *tx_events;         /* noted in libosip2's callbacks */
        size_t n_tx_events, n_tx_events_alloc;
        uint64_t call_actions;          /* bumped by anything the call layer queues for libosip2 */
        manager_publish_cb_t publish_cb;
        void *publish_userdata;

        manager_outcome_cb_t outcome_cb;
        void *outcome_userdata;
        manager_tx_hook_t tx_hook;
        void *tx_hook_userdata;
};

int manager_new(sd_event *e, const GwConf *c, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Open the SIP socket on conf->sip_listen_addr and start reading. */
int manager_start(Manager *m);

void manager_set_outcome_callback(Manager *m, manager_outcome_cb_t cb, void *userdata);
void manager_set_tx_hook(Manager *m, manager_tx_hook_t hook, void *userdata);

/* Start a client transaction for req. Returns 0 when accepted (the outcome
 * comes through the callback, possibly before this returns, e.g.
 * OUTCOME_BAD_REQUEST), 1 when ignored as a duplicate of a request in flight. */
int manager_submit(Manager *m, uint64_t correlation_id, const Gw__SipRequest *req);

/* Handle one received datagram: the socket's read path and the tests both come here. */
int manager_handle_datagram(Manager *m, const void *buf, size_t n,
                            const struct sockaddr *from, socklen_t fromlen, RxResult *ret);

/* ---- internal, between sigd-*.c ---- */

typedef enum RequestPending {
        PENDING_NONE,
        PENDING_RESPONSE,               /* a final response arrived (ClientRequest.response) */
        PENDING_TIMEOUT,                /* libosip2's Timer F fired */
        PENDING_TRANSPORT,              /* send failure or ICMP error (ClientRequest.error) */
} RequestPending;

/* A challenge we answered: re-sent (with nc+1) on every later retry. */
typedef struct AuthAnswer {
        bool proxy;                     /* 407 / Proxy-Authorization */
        DigestChallenge challenge;
        uint32_t nc;
} AuthAnswer;

/* One SipRequest from regd, from submit to its outcome. */
struct ClientRequest {
        Manager *manager;
        ClientRequest *next, *prev;
        uint64_t correlation_id;

        char *method;
        char *request_uri;
        char *target_text;
        struct sockaddr_storage target;
        socklen_t target_len;
        const GwLineConf *line;         /* NULL when line_port is 0 */
        unsigned line_port;
        char *from_uri, *to_uri, *call_id, *from_tag, *profile;
        uint32_t cseq;                  /* of the request on the wire */
        int32_t expires_s;              /* -1: no Expires header */
        bool with_contact;
        char *contact_uri;              /* ours, for matching the granted expiry */
        uint32_t timeout_ms;

        osip_transaction_t *tr;         /* the current client transaction */
        sd_event_source *timeout_source;
        uint64_t sent_usec;             /* CLOCK_MONOTONIC, first send of the current transaction */
        bool got_provisional;

        AuthAnswer auth[SIGD_MAX_AUTH_ROUNDS];
        size_t n_auth;
        char cnonce[33];

        RequestPending pending;
        osip_message_t *response;       /* owned by tr */
        int error;                      /* PENDING_TRANSPORT: positive errno */
};

/* sigd-message.c: sources */
/* May a request from sa be answered? trusted_sources, the profiles' IP
 * proxies and registrars, and addresses we sent requests to. */
bool manager_source_trusted(Manager *m, const struct sockaddr *sa);
void manager_note_peer(Manager *m, const struct sockaddr *sa);

/* sigd-transaction.c: the challenge to answer in a 401/407 (SHA-256 before MD5) */
int response_pick_challenge(const osip_message_t *resp, bool proxy, DigestChallenge *ret);
/* A header with a non-negative integer value (Retry-After, Min-Expires): -ENOENT, -EINVAL. */
int response_header_int(const osip_message_t *msg, const char *name, int32_t *ret);

/* sigd-message.c: building messages */
int request_build(ClientRequest *cr, osip_message_t **ret);
int response_build(const osip_message_t *req, unsigned code, osip_message_t **ret);
/* Start a server transaction (IST for INVITE) for a received request; takes ev. */
int server_transaction_new(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                           osip_transaction_t **ret);
/* Send resp in server transaction tr (takes resp). */
void server_transaction_respond(Manager *m, osip_transaction_t *tr, osip_message_t *resp);
/* Our Contact URI for a line: "sip:NUMBER@host:port". */
int contact_uri_for(Manager *m, const char *number, char **ret);
/* Expiry granted to contact_uri by a 2xx to REGISTER; asked if none. */
int32_t response_granted_expires(const osip_message_t *resp, const char *contact_uri, int32_t asked);

/* sigd-transport.c */
int transport_open(Manager *m);
void transport_close(Manager *m);
/* Send one datagram; -errno on failure (counted). */
int transport_send(Manager *m, const char *buf, size_t n, const struct sockaddr *to, socklen_t tolen);
/* An ICMP error came back for a datagram we sent to 'to'. */
void manager_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error);

/* sigd-transaction.c */
int manager_osip_init(Manager *m);
void manager_osip_done(Manager *m);
/* Run libosip2's queues and timers, settle the requests, re-arm our one timer. */
void manager_osip_run(Manager *m);
/* Hand tr to libosip2 with its context; on failure tr and ctx are freed. */
int manager_transaction_start(Manager *m, osip_transaction_t *tr, TransactionCtx *ctx, osip_event_t *ev);
/* Take tr out of libosip2 now and free it once safe. */
void manager_transaction_kill(Manager *m, osip_transaction_t *tr);
int client_request_new(Manager *m, uint64_t correlation_id, const Gw__SipRequest *req, ClientRequest **ret);
ClientRequest *client_request_find(Manager *m, uint64_t correlation_id);
void client_request_transport_error(ClientRequest *cr, int error);
bool client_request_targets(const ClientRequest *cr, const struct sockaddr *sa, socklen_t len);
void manager_settle_requests(Manager *m);

/* sigd-message.c */
int random_token(char *buf, size_t n_chars);                             /* lowercase hex */
