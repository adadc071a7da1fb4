/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-request.h: regd's requests (REGISTER, OPTIONS) from SipRequest to
 * SipRequestOutcome: checks, the request on the wire, digest challenges,
 * timeout. Beside the dialogs, above messages and transactions; the outcome
 * leaves through the manager's outcome callback, exactly once per request. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <osip2/osip.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw.pb-c.h"
#include "sigd-digest.h"
#include "sigd-forward.h"

#define SIGD_DEFAULT_TIMEOUT_MS 32000u /* SipRequest without timeout_ms: Timer F */
#define SIGD_MAX_TIMEOUT_MS   300000u
#define SIGD_MAX_IN_FLIGHT    4096u
#define SIGD_MAX_AUTH_ROUNDS  4u       /* challenges answered per request */

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

/* Start a client transaction for req. Returns 0 when accepted (the outcome
 * comes through the callback, possibly before this returns, e.g.
 * OUTCOME_BAD_REQUEST), 1 when ignored as a duplicate of a request in flight. */
/* A header with a non-negative integer value (Retry-After, Min-Expires) of a
 * response: -ENOENT, -EINVAL. Also for the calls' INVITE outcomes (EntryReport). */
int request_header_int(const osip_message_t *msg, const char *name, int32_t *ret);
int request_submit(Manager *m, uint64_t correlation_id, const Gw__SipRequest *req);
/* Does a request in flight use credentials from conf (an earlier config, kept by a reload)? */
bool request_uses_conf(Manager *m, const GwConf *conf);
/* Deliver the outcomes libosip2's callbacks noted, answer challenges (after each libosip2 run). */
void request_settle(Manager *m);
/* An ICMP error for 'to': the requests sent there end with OUTCOME_TRANSPORT. Returns how many. */
unsigned request_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error);
/* Drop every request without an outcome (the manager dies; regd re-sends them to the next instance). */
void request_free_all(Manager *m);
