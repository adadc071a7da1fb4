/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-call.h: calls: INVITE dialogs both ways, SDP offer/answer, INVITE
 * failover across a profile's entries, CallEvent and EntryReport.
 *
 * Above the dialogs, messages and transactions; below the lines
 * (sigd-line.c). A call belongs to a line but never calls into it: what the
 * line must hear of (ringing, answered, released...) goes through the
 * CallLineOps the line layer registers. A call outlives its line's interest
 * in it when the subscriber hangs up before the far end answered (the
 * CANCEL, or the ACK and BYE of a late 2xx, still have to go out): it is
 * then detached (line NULL) and freed when its INVITE transaction is over,
 * or after a linger timeout. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <osip2/osip.h>

#include "gw-conf.h"
#include "gw.pb-c.h"
#include "sigd-dialog.h"
#include "sigd-digest.h"
#include "sigd-forward.h"
#include "sigd-sdp.h"

#define SIGD_CALL_LINGER_USEC  (32 * USEC_PER_SEC)   /* a released call waits this long for late answers */
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
        uint64_t serial;                 /* transactions' events refer to calls by this */
        Line *line;                      /* NULL once the line let go (the call only ends its SIP) */
        const GwLineConf *line_conf;     /* the line's, kept after it let go */
        const GwProfileConf *profile;
        bool outgoing;
        char *remote_number;

        Dialog dialog;

        /* outgoing INVITE */
        osip_transaction_t *ict;
        char branch[40];                 /* of the current attempt */
        bool got_1xx, got_18x, got_final;
        bool cancel_wanted, cancel_sent;
        InviteEntry entries[SIGD_MAX_ENTRIES];
        size_t n_entries, entry;         /* the list and the one in use */
        sd_event_source *invite_timer;   /* invite_total_timeout of the attempt */
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

/* Journal MESSAGE_IDs of a call's life (docs/OPERATIONS.md). */
#define SIGD_MESSAGE_CALL_OUTGOING  "f0e58b99f2a54922868753de7d5fe8d6"
#define SIGD_MESSAGE_CALL_INCOMING  "a6c18ebd59d74f78aca601c607004364"
#define SIGD_MESSAGE_CALL_ANSWERED  "cfe3ffd629a64a9688ada3b51bc87b51"
#define SIGD_MESSAGE_CALL_ENDED     "7c0307637b704c0f8b0150dc5977c843"
#define SIGD_MESSAGE_CALL_FAILED    "980bea076e93423a8611f333a394585a"

/* A log line about call c with the journal fields GW_LINE=, GW_PROFILE=,
 * GW_PROXY= (an outgoing call's current entry), SIP_CALL_ID= and MESSAGE_ID=
 * (message_id may be NULL). */
#define call_log(c, level, message_id, ...) do {                                                \
                const Call *_c_ = (c);                                                          \
                char _fl_[32], _fp_[96], _fx_[160], _fc_[320], _fm_[64];                        \
                const char *_f_[6] = {};                                                        \
                size_t _n_ = 0;                                                                 \
                snprintf(_fl_, sizeof(_fl_), "GW_LINE=%u", _c_->line_conf->port);               \
                _f_[_n_++] = _fl_;                                                              \
                snprintf(_fp_, sizeof(_fp_), "GW_PROFILE=%s", strempty(_c_->profile->name));    \
                _f_[_n_++] = _fp_;                                                              \
                if (_c_->outgoing && _c_->entry < _c_->n_entries && _c_->entries[_c_->entry].proxy) { \
                        snprintf(_fx_, sizeof(_fx_), "GW_PROXY=%s", _c_->entries[_c_->entry].proxy->text); \
                        _f_[_n_++] = _fx_;                                                      \
                }                                                                               \
                snprintf(_fc_, sizeof(_fc_), "SIP_CALL_ID=%s", strna(_c_->dialog.call_id));     \
                _f_[_n_++] = _fc_;                                                              \
                if (message_id) {                                                               \
                        snprintf(_fm_, sizeof(_fm_), "MESSAGE_ID=%s", (const char *) (message_id)); \
                        _f_[_n_++] = _fm_;                                                      \
                }                                                                               \
                log_struct((level), _f_, __VA_ARGS__);                                          \
        } while (0)

/* Transaction events noted by libosip2's callbacks, handled after it returns. */
typedef struct CallTxEvent {
        uint64_t serial;
        osip_transaction_t *tr;
        int kind;                        /* 1: response, 2: transport error, 3: Timer B */
        osip_message_t *msg;             /* kind 1: a clone */
} CallTxEvent;

/* What a call tells its line, registered by the line layer. A Line is opaque here. */
typedef struct CallLineOps {
        /* The line a new INVITE for number 'user' rings, or NULL; its configuration in ret_conf, ret_profile. */
        Line *(*find)(Manager *m, const char *user, const GwLineConf **ret_conf, const GwProfileConf **ret_profile);
        /* May the line take a new incoming call? */
        bool (*busy)(Line *l);
        /* c is the line's call from now on; returns the RTP port it uses. */
        uint16_t (*attach)(Line *l, Call *c);
        /* c lets go of the line (freed or detached). */
        void (*detach)(Line *l, Call *c);
        /* An incoming call: ring. */
        void (*ringing)(Line *l);
        /* An 18x to our INVITE: ringback tone, or the far end's early media. */
        void (*ringback)(Line *l, Call *c, bool early_media);
        /* The call is answered (by the far end, or here): connected; reversed polarity if asked. */
        void (*answered)(Line *l, bool reversed);
        /* The media changed (re-INVITE, the answer in an ACK). */
        void (*media_changed)(Line *l);
        /* The call is over for the subscriber: tone until on hook. */
        void (*released)(Line *l, Gw__Tone tone);
        /* The caller cancelled the ringing call. */
        void (*cancelled)(Line *l);
} CallLineOps;

typedef void (*manager_publish_cb_t)(Manager *m, const char *key, Gw__Envelope *env, void *userdata);

int call_init(Manager *m);
void call_done(Manager *m);
/* ops must outlive the manager. */
void call_set_line_ops(Manager *m, const CallLineOps *ops);
/* Through the manager's publish callback: what the calls and lines tell the bus. */
void call_publish(Manager *m, const char *key, Gw__Envelope *env);

/* regd's ProfileStatus: the active entry, whether any answers. */
int call_profile_status(Manager *m, const Gw__ProfileStatus *ps);
/* unregistered_calls: refuse, and no entry of the line's profile answers (emergency numbers always go). */
bool call_profile_refuses(Manager *m, const GwLineConf *lc, const GwProfileConf *p, const char *digits);

/* A new outgoing call of line l to 'digits': dialog and entries, nothing
 * sent yet. -ENOMEM, -ENOENT (no entry with a known address); logged, and
 * then no call exists. */
int call_new_outgoing(Manager *m, Line *l, const GwLineConf *lc, const GwProfileConf *p, const char *digits,
                      Call **ret);
/* Send the INVITE to the first entry that takes it. If none does: CallEvent
 * END (congestion), the call freed, -EHOSTUNREACH. */
int call_dial(Call *c);
/* The subscriber answered the ringing call: 200 with our SDP; the line hears of it (answered). */
void call_answer(Call *c);
/* Reject the incoming call not answered yet (480 when no one answers). */
void call_reject(Call *c, unsigned code);
/* Give up an outgoing call not answered: CANCEL once a 1xx came (else when it comes). */
void call_cancel(Call *c);
/* End a confirmed call: BYE. */
void call_hang_up(Call *c);
/* The line lets go (without being told). */
void call_forget_line(Call *c);
/* The call finishes its SIP alone, freed at the latest after the linger time. */
void call_detach(Call *c);
void call_free(Call *c);
void call_publish_event(Call *c, Gw__CallEventKind kind, const char *cause, uint32_t status);

/* The MessageHandlers: requests for calls (INVITE new or in a dialog, ACK
 * for a 2xx, BYE, CANCEL, INFO) and 2xx responses no transaction took. */
int call_handle_request(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                        unsigned *ret_status);
int call_handle_stray_response(Manager *m, osip_message_t *resp, const struct sockaddr *from, socklen_t fromlen);
/* Handle the transaction events noted in libosip2's callbacks (after each run). */
void call_settle(Manager *m);
/* An ICMP error for 'to': outgoing INVITEs there (before any 1xx) fail over. */
void call_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error);

/* ---------------------------------------------------------------- across a restart (sigd-state.c) */

/* A call as the state file keeps it: the messages point into the call, valid
 * while it is unchanged; invite is our INVITE or theirs as text (it may hold
 * our SRTP key): call_saved_done() wipes and frees it. */
typedef struct CallSaved {
        Gw__SigdCall call;
        Gw__SigdDialog dialog;
        Gw__SigdMedia media;
        Gw__SigdCrypto local, offered[SDP_OFFER_CRYPTO];
        Gw__SigdCrypto *offered_ptrs[SDP_OFFER_CRYPTO];
        char peer[64];
        char *invite;
} CallSaved;

/* Fill ret from c: a confirmed call, or one whose INVITE is still pending (the
 * INVITE's text kept). -ENOMEM; -ENOENT for a call there is nothing to go on
 * with (e.g. its INVITE transaction already gone). */
int call_save(const Call *c, CallSaved *ret);
void call_saved_done(CallSaved *s);
/* Rebuild line l's call from s, every field checked (-EBADMSG: nothing is
 * left of it). A pending INVITE gets its transaction again: ours is sent
 * again (a retransmission, same branch: the proxy answers with its last
 * response), theirs is answered 180 again. Nothing is told to the line. */
int call_restore(Manager *m, Line *l, const GwLineConf *lc, const GwProfileConf *p, const Gw__SigdCall *s,
                 Call **ret);
