/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-scan.h: our own scan of a received datagram before libosip2 parses it
 * (RFC 3261 §7, §8.2, §18.3 and the RFC 4475 torture cases libosip2 accepts).
 *
 * Pure functions on the bytes: no I/O, no state, nothing logged. A
 * RawMessage points into its own unfolded copy of the head (start line and
 * headers), freed by scan_message_done(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sigd-forward.h"

#define RAW_MAX_HEADERS 512

typedef enum RawHeaderId {
        H_OTHER, H_VIA, H_FROM, H_TO, H_CALL_ID, H_CSEQ, H_MAX_FORWARDS, H_CONTENT_LENGTH, H_CONTACT,
        H_CONTENT_TYPE, H_REQUIRE, H_ACCEPT, _H_MAX,
} RawHeaderId;

typedef struct RawHeader {
        RawHeaderId id;
        const char *name;
        size_t name_len;
        const char *value;               /* unfolded, trimmed; may hold NUL bytes */
        size_t len;
} RawHeader;

typedef struct RawMessage {
        char *head;                      /* unfolded copy of start line and headers */
        bool is_request;
        const char *method;  size_t method_len;
        const char *uri;     size_t uri_len;
        const char *version; size_t version_len;
        unsigned status;
        RawHeader h[RAW_MAX_HEADERS];
        size_t n_h;
        size_t count[_H_MAX];
        size_t head_len;                 /* bytes of the datagram up to and with the empty line */
        size_t body_len;                 /* as framed by Content-Length (or the rest) */
        /* the top Via, for addressing a response */
        bool via_ok;
        bool via_rport;
        uint16_t via_port;
} RawMessage;

void scan_message_done(RawMessage *rm);

/* Split the datagram into start line and unfolded header lines. -EBADMSG if
 * it is not a SIP message at all, -E2BIG with too many headers, -ENOMEM. */
int scan_split(const char *buf, size_t n, RawMessage *rm);
/* The start line: 0, the status to answer (400, 505), or -EBADMSG for a bad status line. */
int scan_start_line(RawMessage *rm);
/* The header checks of RFC 3261 §8.2 / RFC 4475 that libosip2 leaves to us;
 * also finds the top Via (rm->via_*) to answer to, even when the rest is
 * broken. 0 or -EBADMSG. */
int scan_headers(RawMessage *rm, size_t datagram_len);
/* The first header of that kind, or NULL. */
const RawHeader *scan_header(const RawMessage *rm, RawHeaderId id);

/* A method we know (answered 501 otherwise), a URI scheme we take (416 otherwise). */
bool scan_method_known(const RawMessage *rm);
bool scan_uri_scheme_supported(const char *uri, size_t n);

/* Unsigned decimal of 1..10 digits, value <= max: 0, -EINVAL or -ERANGE. */
int scan_uint(const char *s, size_t n, uint64_t max, uint64_t *ret);
