/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-message.h: received datagrams in, SIP messages built; who may talk to us.
 *
 * Above the transaction layer. Requests it cannot answer as a plain endpoint
 * (INVITE, ACK for a 2xx, BYE, CANCEL, INFO) and 2xx responses no transaction
 * took go up through the MessageHandlers the manager registers (the calls). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <osip2/osip.h>

#include "sigd-digest.h"
#include "sigd-forward.h"

#define SIGD_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"

/* What message_handle_datagram() did with one datagram. */
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

typedef struct MessageHandlers {
        /* A request for the calls: INVITE (new or in a dialog), ACK for a 2xx,
         * BYE, CANCEL, INFO. Returns 1 when it took ev (and answered it, status
         * in ret_status), 0 when the generic answer applies, <0 on failure.
         * dest: where answers go (NULL for an ACK). */
        int (*request)(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                       unsigned *ret_status);
        /* A 2xx to INVITE no transaction took. Returns 1 if handled. */
        int (*stray_response)(Manager *m, osip_message_t *resp, const struct sockaddr *from, socklen_t fromlen);
} MessageHandlers;

/* h must outlive the manager. */
void message_set_handlers(Manager *m, const MessageHandlers *h);

/* Handle one received datagram: scan, parse, answer or hand to its transaction. ret may be NULL. */
int message_handle_datagram(Manager *m, const void *buf, size_t n,
                            const struct sockaddr *from, socklen_t fromlen, RxResult *ret);

/* May a request from sa be answered? trusted_sources, the profiles' IP
 * proxies and registrars, and addresses we sent requests to. */
bool message_source_trusted(Manager *m, const struct sockaddr *sa);
/* We send requests to sa: trust its requests too (a small ring of IPs). */
void message_note_peer(Manager *m, const struct sockaddr *sa);

/* n_chars random lowercase hex digits and a NUL (branches, tags, Call-IDs, cnonces). */
int message_token(char *buf, size_t n_chars);
/* Our Contact URI for a line: "sip:NUMBER@host:port" (caller frees). */
int message_contact_uri(Manager *m, const char *number, char **ret);
/* A response to req with Via, From, To (our tag above 100), Call-ID, CSeq
 * copied. -EINVAL when req lacks one of them. */
int message_response_build(const osip_message_t *req, unsigned code, osip_message_t **ret);
/* The challenge to answer in a 401/407: SHA-256 before MD5. -ENOENT if none is usable. */
int message_pick_challenge(const osip_message_t *resp, bool proxy, DigestChallenge *ret);

/* Copies (caller frees, NULL on failure) of a message's Call-ID and of a URI. */
char *message_call_id(const osip_message_t *msg);
char *message_uri_string(const osip_uri_t *u);
/* The message's body if it is SDP (no Content-Type counts as SDP), else NULL. */
const osip_body_t *message_sdp_body(const osip_message_t *msg);
