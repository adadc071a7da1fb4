/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-line.h: registration and refresh of one line. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw.pb-c.h"
#include "regd-forward.h"
#include "regd-proxy.h"

typedef enum LineState {
        LINE_UNREGISTERED,
        LINE_REGISTERING,
        LINE_REGISTERED,
        LINE_FAILED,
        _LINE_STATE_MAX,
        _LINE_STATE_INVALID = -EINVAL,
} LineState;

/* What regd does after an outcome to a REGISTER (expires > 0). */
typedef enum LineAction {
        LINE_ACTION_REGISTERED,          /* 2xx: refresh at about half the granted time */
        LINE_ACTION_RETRY_NOW,           /* 423 with Min-Expires: again at once, asking for that */
        LINE_ACTION_FORBIDDEN,           /* 403: failed, retried after register_forbidden_retry */
        LINE_ACTION_BACKOFF,             /* anything else: failed, retried with back-off */
        _LINE_ACTION_MAX,
        _LINE_ACTION_INVALID = -EINVAL,
} LineAction;

typedef struct LineVerdict {
        LineAction action;
        char reason[16];                 /* "" on success; "auth", "timeout", "transport", "403", "<code>" */
} LineVerdict;

typedef enum LineRequestKind {
        LINE_REQUEST_NONE,
        LINE_REQUEST_REGISTER,
        LINE_REQUEST_UNREGISTER,
} LineRequestKind;

/* The one request a line may have outstanding: queued in the manager's FIFO or in flight. */
typedef struct LineRequest {
        LineRequestKind kind;
        bool queued;
        bool in_flight;
        uint64_t correlation_id;         /* of the latest transmission */
        /* Earlier transmissions of the same request (lost, or re-sent on a sigd
         * restart): an outcome for any of them still completes it. */
        uint64_t earlier_ids[4];
        int32_t expires_s;
        size_t proxy_index;              /* entry it goes to (the active one, unless searching or homing) */
        RequestPurpose purpose;
        char target[REGD_TARGET_MAX];
        uint32_t timeout_ms;
        uint32_t cseq;                   /* of its first transmission */
        unsigned transmissions;
        sd_event_source *lost_timer;     /* timeout_ms + grace: sigd lost it */
} LineRequest;

/* What a line needs of the entries it registers through, asked of its
 * profile through this table (regd-profile.c fills it): a line never calls
 * into the profile nor reads its fields. */
typedef struct LineEntriesOps {
        size_t (*n_entries)(const Profile *p);
        size_t (*active)(const Profile *p);
        bool (*searching)(const Profile *p);
        /* Entry i as configured ("host:port"); NULL if there is no such entry. */
        const char *(*address)(const Profile *p, size_t i);
        /* The target of entry i for a request about to be sent, or the active
         * one's now (errors: resolve_entry_use_target, resolve_active_target). */
        int (*use_target)(Profile *p, size_t i, char *buf, size_t n);
        int (*active_target)(const Profile *p, char *buf, size_t n);
        /* The active entry does not resolve (l's request found it): true if
         * the profile searches now, and l waits for it. */
        bool (*unresolved)(Profile *p, Line *l);
        /* "'<name>' does not resolve: <why>" for the active entry. */
        void (*dns_detail)(const Profile *p, char *buf, size_t n);
        /* l waits (on) for the search, or no longer (its request goes out):
         * the profile keeps who waits, with the rest of the search. */
        void (*wait)(Profile *p, const Line *l, bool on);
} LineEntriesOps;

struct Line {
        Manager *manager;                /* owner */
        size_t index;                    /* in the manager's lines[] */
        Profile *profile;                /* opaque here: only passed to 'entries' */
        const GwProfileConf *pconf;      /* the profile's configuration, borrowed */
        const LineEntriesOps *entries;
        const GwLineConf *conf;          /* borrowed */
        unsigned port;
        char *number;
        char *aor;                       /* "sip:<number>@<domain>": To and From */
        char *request_uri;               /* "sip:<domain>" */

        LineState state;
        char reason[16];

        /* RFC 3261 §10.2.4: one Call-ID and From tag per line across refreshes. */
        char *call_id;
        char *from_tag;
        uint32_t cseq;                   /* last used */

        /* The registration that exists (state registered) or existed last. */
        char target[REGD_TARGET_MAX];    /* "" if none */
        size_t via_index;                /* entry it is registered through */
        uint64_t expires_at_real_us;     /* 0: not registered */
        uint32_t expires_req_s;          /* what we ask for: register_expires, or Min-Expires */
        unsigned failures;               /* consecutive */
        unsigned retry_now;              /* consecutive 423s: bounded */
        bool call_id_adopted;            /* identity taken from the state file */
        /* RFC 3263 §4.3: a request that failed at a target is sent again,
         * identical but for the Via branch, to the next one — same CSeq. A
         * target that has seen this CSeq gets a new one (a registrar that did
         * process it would refuse a CSeq that is not higher). This is the
         * identity of this line's own request, not the search's state (that
         * is ProfileSearch): each line's failed request has its own CSeq,
         * and it outlives the search (a waiting line renews at the entry
         * found with it). */
        struct {
                uint32_t cseq;           /* 0: none */
                uint64_t seen[GW_CONF_MAX_PROXIES];   /* hashes of the targets that saw it */
                size_t n_seen;
        } resend;

        sd_event_source *timer;          /* refresh or retry */
        LineRequest req;
        Line *queue_next;                /* manager's FIFO */
};

const char *line_state_to_string(LineState s);
LineState line_state_from_string(const char *s);
Gw__RegState line_state_to_proto(LineState s);
LineState line_state_from_proto(Gw__RegState s);

int line_new(Manager *m, Profile *p, const GwProfileConf *pc, const LineEntriesOps *ops, const GwLineConf *c,
             Line **ret);
Line *line_free(Line *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Line *, line_free);

/* Policy helpers, pure: r is a uniform random number in [0, 1). The back-off
 * of retries is regd_backoff_usec() (regd-policy.h). */
/* 45–55 % of the granted time. */
uint64_t regd_refresh_usec(uint64_t granted_usec, double r);
/* Outcome of a REGISTER with expires > 0 → what to do and the reason to show. */
void line_classify_outcome(const Gw__SipRequestOutcome *o, LineVerdict *ret);

bool line_wants_registration(const Line *l);
/* Begin (or after adoption from the state file, schedule) registration. */
int line_start(Line *l);
/* Send a REGISTER now (initial, refresh, retry) to the active entry. No-op if
 * one is outstanding; while the profile searches, the line only waits. */
int line_register(Line *l);
/* Send a REGISTER to entry 'index' for 'purpose' (the search, a homing check). */
int line_register_to(Line *l, size_t index, RequestPurpose purpose);
/* Just before a queued REGISTER is first transmitted: aim it at the entry that
 * is active now. false: the profile is searching, the request was dropped and
 * the line waits (the caller must not transmit). */
bool line_retarget(Line *l);
/* CSeq for the first transmission of l->req: the failed request's again
 * (failover to a target that has not seen it), else the next one. */
uint32_t line_next_cseq(Line *l);
uint64_t line_target_hash(const char *target);
/* The active entry's name does not resolve and there is nothing else to try:
 * failed with 'dns', retried with back-off. */
void line_dns_failed(Line *l);
/* What l->req was for, as the policy needs it: its purpose (REQUEST_NORMAL
 * for an un-REGISTER) and the entry it went to. */
RequestPurpose line_request_purpose(const Line *l);
/* An outcome of l->req (already taken off the manager's window), after the
 * profile learnt from it: 'act' is what the policy said the line does.
 * Returns the request kind it answered. */
LineRequestKind line_handle_outcome(Line *l, const Gw__SipRequestOutcome *o, PolicyLineAction act);
/* Gateway stopping: un-REGISTER l if it is (or may be about to be) registered.
 * Returns 1 if an un-REGISTER was submitted, 0 if nothing to do. */
int line_unregister(Line *l, uint32_t timeout_ms);
/* The end of registering (after stopping): no timers, state unregistered. */
void line_stop(Line *l);
/* Keep an existing registration (from the state file): registered at
 * 'target' until expires_at, refresh scheduled on the remaining time. */
int line_adopt_registration(Line *l, const char *target, uint64_t expires_at_real_us,
                            uint64_t now_real_us);

/* Fill ret (INIT'd by this) with pointers into l. */
void line_registration_fill(Line *l, Gw__LineRegistration *ret);
void line_status_fill(Line *l, uint64_t now_real_us, Gw__LineStatus *ret);
const char *line_registered_via(const Line *l);   /* NULL if not registered */

/* Journal MESSAGE_IDs (docs/REGISTRATION.md). */
#define REGD_MESSAGE_LINE_REGISTERED       "686e1f4b4294449aa8b15be643316a0d"
#define REGD_MESSAGE_REGISTRATION_FAILED   "59afb9107c984156881cbfdc5a9aa86c"
#define REGD_MESSAGE_REGISTRATION_LOST     "1ef295b0b1004bda90e050fe458f3dd7"
#define REGD_MESSAGE_UNREGISTER_DONE       "e566e4e7fea443b8b25e9e9f8246a943"
/* The gateway is stopping (as gwsupd's GWSUPD_MESSAGE_GATEWAY_STOPPING): regd's
 * own unit is stopped by systemd. */
#define REGD_MESSAGE_GATEWAY_STOPPING      "f53dc797ba12434b9294f5909672ae9c"
