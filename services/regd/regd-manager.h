/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-manager.h: regd's manager: profiles, lines, the request window, stopping, state.
 *
 * The manager never touches the bus itself: the glue (regd-bus.c) sets
 * callbacks that publish, so tests drive the manager with synthetic outcomes
 * and capture what it would have sent. All callbacks run on the manager's
 * sd-event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw-resolve.h"
#include "gw.pb-c.h"
#include "regd-forward.h"
#include "regd-line.h"
#include "regd-profile.h"
#include "regd-resolve.h"
#include "regd-state.h"

#define REGD_MAX_IN_FLIGHT        16                     /* the whole gateway, normal operation */
#define REGD_STOP_MAX_IN_FLIGHT   64                     /* un-REGISTERs while stopping */
#define REGD_LOST_GRACE_USEC      (2 * USEC_PER_SEC)     /* beyond timeout_ms: sigd lost it */
#define REGD_STATE_FILE           "registrations"
#define REGD_STATE_MARGIN_USEC    (10 * USEC_PER_SEC)    /* plus invite_total_timeout */
#define REGD_RETRY_NOW_MAX        3                      /* consecutive 423s answered at once */
#define REGD_SIGD_SETTLE_USEC     (600 * USEC_PER_MSEC)  /* well above the bus's reconnect interval */
#define REGD_SIGD_MAX_WAIT_USEC   (10 * USEC_PER_SEC)
#define REGD_DNS_TIMEOUT_MS       1000                   /* first try; c-ares doubles it per round */
#define REGD_DNS_TRIES            2
#define REGD_DNS_HOLDOFF_USEC     USEC_PER_SEC           /* a name that did not resolve: not asked again sooner */
#define REGD_SIGD_RESEND_USEC     (250 * USEC_PER_MSEC)  /* a new sigd subscribes right after it says hello */

typedef struct ManagerCallbacks {
        /* Publish req (a SipRequest) with envelope correlation id cid. <0: not sent
         * (the loss timer re-sends it). */
        int (*send_request)(Manager *m, uint64_t cid, Gw__SipRequest *req, void *userdata);
        /* Fresh correlation id; NULL: the manager counts from 1. */
        uint64_t (*next_correlation_id)(Manager *m, void *userdata);
        void (*line_changed)(Manager *m, Line *l, void *userdata);
        void (*profile_changed)(Manager *m, Profile *p, void *userdata);
        void (*unregister_done)(Manager *m, unsigned lines, unsigned confirmed, void *userdata);
        /* The profile's active entry changed from 'from' to 'to' (indexes) because of 'reason'. */
        void (*proxy_switched)(Manager *m, Profile *p, size_t from, size_t to, const char *reason,
                               void *userdata);
        /* After the deferred flush of a loop iteration that changed something. */
        void (*flushed)(Manager *m, void *userdata);
} ManagerCallbacks;

struct Manager {
        sd_event *event;
        const GwConf *conf;              /* borrowed; outlives the manager */
        char *state_dir;                 /* NULL: no state file */

        GwResolver *resolver;            /* NULL unless an entry is a DNS name */

        Profile **profiles;
        size_t n_profiles;
        Line **lines;
        size_t n_lines;
        /* Reload: lines that left the config, un-REGISTERing (in no status), and
         * profiles that left, kept while such a line still names them. */
        Line **retiring;
        size_t n_retiring;
        Profile **retired_profiles;
        size_t n_retired_profiles;

        ManagerCallbacks cb;
        void *userdata;

        /* The request window: at most max_in_flight transmitted, the rest FIFO. */
        unsigned max_in_flight;
        unsigned n_in_flight;
        Line *queue_head, *queue_tail;
        size_t n_queued;
        uint64_t lost_grace_usec;
        uint64_t search_spacing_usec;    /* REGD_SEARCH_SPACING_USEC */
        uint64_t correlation;            /* used when cb.next_correlation_id is NULL */

        uint64_t rng;                    /* xorshift64* state, never 0 */

        sd_event_source *flush_source;   /* deferred: save state, publish dirty profiles */
        bool state_dirty;

        /* GatewayStopping */
        bool stopping;                   /* un-REGISTERing */
        bool stopped;                    /* done: registers nothing any more */
        bool exiting;                    /* being freed: transmits nothing */

        /* Until sigd is seen on the bus, requests only queue (see regd-manager.c). */
        bool hold;
        bool hold_seen;                  /* sigd seen while holding */
        uint64_t hold_release_min_mono;  /* not before: sigd's SUB must have reached our PUB */
        sd_event_source *hold_timer;
        sd_event_source *resend_timer;   /* a new sigd instance was seen */
        unsigned unreg_lines, unreg_confirmed, unreg_pending;
        sd_event_source *stop_timer;

        /* Counters for the curious (debug log and tests). */
        uint64_t n_sent, n_outcomes, n_unknown_outcomes, n_lost, n_state_writes;
};

int manager_new(sd_event *e, const GwConf *c, const char *state_dir, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

void manager_set_callbacks(Manager *m, const ManagerCallbacks *cb, void *userdata);

/* Load the state file, then start every line that registers. */
int manager_start(Manager *m);

/* A SipRequestOutcome arrived with envelope correlation id cid. Unknown ids
 * (a late answer to a re-sent request) are counted and ignored. */
int manager_handle_outcome(Manager *m, uint64_t cid, const Gw__SipRequestOutcome *o);
/* sigd has a new instance: re-send every in-flight request at once. */
void manager_resend_in_flight(Manager *m);
/* Transmit nothing before sigd is seen (manager_sigd_seen) and settle_usec have
 * passed; release anyway after max_wait_usec. */
int manager_hold_until_sigd(Manager *m, uint64_t settle_usec, uint64_t max_wait_usec);
/* The bus saw a sigd instance (first sighting or restart). After a restart the
 * in-flight requests go again REGD_SIGD_RESEND_USEC later (its first message
 * may precede its subscriptions). */
void manager_sigd_seen(Manager *m);
/* GatewayStopping: un-REGISTER within deadline_ms, then UnregisterDone. */
int manager_gateway_stopping(Manager *m, uint32_t deadline_ms);
/* Re-publish every line and profile (StateSyncRequest). */
void manager_publish_all(Manager *m);

/* Save state now if dirty, publish dirty profiles (also done deferred). */
void manager_flush(Manager *m);

/* Status for the control socket. The reply's arrays live in *ret_storage
 * (free() it after packing); strings point into the manager. */
int manager_status_fill(Manager *m, Gw__StatusReply *reply, void **ret_storage);

typedef struct ManagerReloadCounts {
        unsigned lines_added, lines_removed, lines_changed;
        unsigned profiles_added, profiles_removed, profiles_changed;   /* changed: its entry list */
} ManagerReloadCounts;

/* Apply config c (the new one; borrowed from now on, the old one may go after
 * return) without restarting: see regd-manager.c "reload". -ENOMEM: nothing
 * changed, the old config stays in use; -EBUSY: the gateway is stopping. */
int manager_reload(Manager *m, const GwConf *c, ManagerReloadCounts *ret);

Line *manager_line_by_port(Manager *m, unsigned port);
/* Count lines that register, and of those the registered ones. */
void manager_count(Manager *m, unsigned *ret_registering_lines, unsigned *ret_registered);
Profile *manager_profile_by_name(Manager *m, const char *name);
/* sigd's report on an entry from an INVITE (calls): fed to the profile's
 * policy like the outcome of our own request. -ENOENT: no such profile/entry. */
int manager_entry_report(Manager *m, const Gw__EntryReport *r);

/* ---- for the line and profile objects ---- */
uint64_t manager_new_correlation_id(Manager *m);
/* Publish an OPTIONS (no line) to target for p with correlation id cid.
 * -EAGAIN while holding for sigd or stopping: nothing sent. */
int manager_send_options(Manager *m, Profile *p, uint64_t cid, const char *target, uint32_t timeout_ms);
int manager_submit(Manager *m, Line *l);
void manager_cancel(Manager *m, Line *l);
void manager_line_changed(Manager *m, Line *l);
void manager_mark_dirty(Manager *m);
double manager_random(Manager *m);
uint64_t manager_now(Manager *m, clockid_t clock);

