/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-dialog.h: one SIP dialog (RFC 3261 §12): its identity, route set and
 * CSeq, and the requests sent in it (ACK for a 2xx, BYE).
 *
 * Beside the requests, above messages and transactions; below the calls,
 * each of which holds one Dialog. A dialog calls nothing above it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <osip2/osip.h>

#include "sigd-forward.h"

#define SIGD_MAX_ROUTES 8

struct Dialog {
        Manager *manager;
        char *call_id, *local_tag, *remote_tag;
        char *local_uri, *remote_uri;    /* From/To URIs (ours, theirs) */
        char *remote_target;             /* their Contact */
        char *routes[SIGD_MAX_ROUTES];   /* route set, in the order the Route headers go */
        size_t n_routes;
        char *request_uri;               /* of our INVITE (outgoing) */
        uint32_t local_cseq;             /* last CSeq we used */
        uint32_t remote_cseq;
        uint32_t invite_cseq;            /* of our current INVITE: its ACK and CANCEL carry it */
        struct sockaddr_storage peer;    /* where the INVITE went, or came from */
        socklen_t peer_len;
        bool confirmed;                  /* 2xx sent/received */
        bool bye_sent;
        char *ack;                       /* our ACK for the 2xx, re-sent on retransmissions */
        size_t ack_len;
};

/* Free what d owns (strings, routes, the ACK); d itself is the caller's. */
void dialog_done(Dialog *d);

/* A request of this dialog: method, CSeq, our Via with a new branch
 * ("z9hG4bK…" in ret_branch, 40 bytes, if not NULL), the route set, to the
 * remote target once confirmed (else the INVITE's Request-URI), Content-Length
 * 0 except for INVITE (its body comes later). */
int dialog_request_build(Dialog *d, const char *method, uint32_t cseq, char *ret_branch, osip_message_t **ret);
/* Where in-dialog requests go: the first route if it is an IP literal, else
 * the remote target's host, else the peer. */
void dialog_dest(const Dialog *d, struct sockaddr_storage *ret, socklen_t *ret_len);

/* Learn from a response to our INVITE: their tag, Contact, the route set. */
void dialog_learn(Dialog *d, const osip_message_t *resp);
/* The dialog of a received INVITE (UAS side), answers going to dest. -ENOMEM. */
int dialog_from_invite(Dialog *d, const osip_message_t *req, const struct sockaddr_storage *dest, socklen_t dest_len);

/* The ACK for a 2xx: built once, sent without a transaction (again on each retransmitted 2xx). */
void dialog_send_ack(Dialog *d);
/* BYE in a client transaction of its own, at most once per dialog. */
void dialog_send_bye(Dialog *d);
