/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-call.h: call control per line: the line's state machine (dial tone,
 * digit collection, ringing, connected, releasing), INVITE dialogs both ways,
 * SDP offer/answer and INVITE failover across a profile's entries.
 *
 * Like the client requests, calls know nothing of the bus: line and profile
 * facts come in through manager_line_*() and manager_profile_status(), and
 * what sigd publishes (LineControl, MediaControl, LineCall, CallEvent,
 * EntryReport) goes out through one publish callback. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <osip2/osip.h>

#include "gw-digitmap.h"
#include "gw.pb-c.h"
#include "sigd-sdp.h"

typedef struct Manager Manager;
typedef struct Call Call;

#define SIGD_HOWLER_AFTER_USEC (30 * USEC_PER_SEC)   /* far end gone: busy tone, then howler */
#define SIGD_CALL_LINGER_USEC  (32 * USEC_PER_SEC)   /* a released call waits this long for late answers */
#define SIGD_MAX_ROUTES 8
#define SIGD_MAX_ENTRIES 16

/* A profile as regd last described it (ProfileStatus). */
typedef struct ProfileState {
        char *active_proxy;              /* entry as configured; NULL: none known */
        char *active_target;             /* "ip:port" */
        bool known;                      /* a ProfileStatus arrived */
        bool any_up;                     /* some entry answers */
        /* Per entry (main, then redundant, as configured): out of use until
         * then after a 503 Retry-After, as regd's ProfileStatus says. */
        uint64_t held_until_real_us[SIGD_MAX_ENTRIES];
} ProfileState;

typedef enum LineTimer {
        LINE_TIMER_NONE,
        LINE_TIMER_INTERDIGIT,           /* dialling */
        LINE_TIMER_NO_ANSWER,            /* outgoing: CANCEL; incoming: 480 */
        LINE_TIMER_HOWLER,               /* releasing: busy -> howler */
} LineTimer;

typedef struct Line {
        Manager *manager;
        const GwLineConf *conf;
        size_t index;
        const GwProfileConf *profile;
        GwDigitMap *digitmap;

        bool off_hook;
        Gw__CallState state;
        char digits[64];
        uint64_t call_seq;               /* calls so far: picks the RTP port pair */

        /* desired outputs */
        bool ring;
        bool reversed;
        Gw__Tone tone;
        uint64_t generation;             /* MediaControl */

        LineTimer timer_kind;
        sd_event_source *timer;

        Call *call;                      /* the line's call, if any */
} Line;

/* One entry an outgoing INVITE may go to. */
typedef struct InviteEntry {
        const GwHostPort *proxy;         /* as configured */
        char target[80];                 /* "ip:port" */
        struct sockaddr_storage addr;
        socklen_t addr_len;
} InviteEntry;

struct Call {
        Manager *manager;
        Call *next, *prev;
        uint64_t serial;                 /* transactions refer to calls by this */
        Line *line;                      /* NULL once the line let go (the call only ends its SIP) */
        bool outgoing;
        char *remote_number;

        /* dialog */
        char *call_id, *local_tag, *remote_tag;
        char *local_uri, *remote_uri;    /* From/To URIs (ours, theirs) */
        char *remote_target;             /* their Contact */
        char *routes[SIGD_MAX_ROUTES];   /* route set, in the order the Route headers go */
        size_t n_routes;
        uint32_t local_cseq;             /* last CSeq we used */
        uint32_t remote_cseq;
        struct sockaddr_storage peer;    /* where the INVITE went, or came from */
        socklen_t peer_len;
        bool confirmed;                  /* 2xx sent/received */

        /* outgoing INVITE */
        char *request_uri;
        osip_transaction_t *ict;
        uint32_t invite_cseq;
        char branch[40];                 /* of the current attempt */
        bool got_1xx, got_18x, got_final;
        bool cancel_wanted, cancel_sent, bye_sent;
        InviteEntry entries[SIGD_MAX_ENTRIES];
        size_t n_entries, entry;         /* the list and the one in use */
        sd_event_source *invite_timer;   /* invite_total_timeout of the attempt */
        char *ack;                       /* our ACK for the 2xx, re-sent on retransmissions */
        size_t ack_len;
        struct {
                bool proxy;
                DigestChallenge challenge;
                uint32_t nc;
        } auth[4];
        size_t n_auth;
        char cnonce[33];

        /* incoming INVITE */
        osip_transaction_t *ist;
        osip_message_t *invite;          /* a clone of the INVITE, for our answers */
        char *ok;                        /* our 2xx, re-sent until the ACK */
        size_t ok_len;
        struct sockaddr_storage ok_dest;
        socklen_t ok_dest_len;
        sd_event_source *ok_timer;
        unsigned ok_sent;

        /* media */
        bool have_media;
        SdpResult media;                 /* holds both SRTP keys: wiped on change and at free */
        GwSrtpMode srtp;                 /* the line's profile's, fixed for the call */
        SdpCrypto offered[SDP_OFFER_CRYPTO]; /* our offer's a=crypto lines and keys (every attempt's) */
        size_t n_offered;
        bool made_offer;
        uint16_t local_port;
        uint64_t sdp_sess_id, sdp_version;

        /* release */
        const char *end_cause;
        uint32_t end_status;
        uint64_t start_real_us;
        sd_event_source *linger;
};

/* Transaction events noted by libosip2's callbacks, handled after it returns. */
typedef struct CallTxEvent {
        uint64_t serial;
        osip_transaction_t *tr;
        int kind;                        /* 1: response, 2: transport error, 3: Timer B */
        osip_message_t *msg;             /* kind 1: a clone */
} CallTxEvent;

typedef void (*manager_publish_cb_t)(Manager *m, const char *key, Gw__Envelope *env, void *userdata);

int manager_calls_init(Manager *m);
void manager_calls_done(Manager *m);
void manager_set_publish_callback(Manager *m, manager_publish_cb_t cb, void *userdata);

/* Bus inputs (validated by the caller's handler table for the sender). */
int manager_line_hook(Manager *m, unsigned port, bool off_hook);
int manager_line_digit(Manager *m, unsigned port, const char *digit);
int manager_line_flash(Manager *m, unsigned port);
int manager_profile_status(Manager *m, const Gw__ProfileStatus *ps);
/* Re-publish every line's LineControl, MediaControl and LineCall (StateSyncRequest). */
void manager_publish_lines(Manager *m);
/* Fill e (INIT'd by the caller) with line 'port''s call; storage is the caller's. */
int manager_line_call(Manager *m, unsigned port, Gw__LineCall *ret);

/* ---- internal, between sigd-*.c ---- */

/* sigd-message.c hands requests for calls here: INVITE (new or in a dialog),
 * ACK for a 2xx, BYE, CANCEL, INFO. Returns 1 when it took ev (answered it),
 * 0 when the generic answer applies. dest: where answers go. */
int calls_handle_request(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                         unsigned *ret_status);
/* A 2xx to INVITE that matched no transaction (a retransmission, or from an
 * abandoned attempt): re-ACK, or ACK and BYE. Returns 1 if handled. */
int calls_handle_stray_response(Manager *m, osip_message_t *resp, const struct sockaddr *from, socklen_t fromlen);
void calls_tx_event(Manager *m, osip_transaction_t *tr, int kind, osip_message_t *msg);
void calls_settle(Manager *m);
/* libosip2 is done with tr (about to be freed). */
void calls_transaction_gone(Manager *m, uint64_t serial, osip_transaction_t *tr);
void calls_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error);
