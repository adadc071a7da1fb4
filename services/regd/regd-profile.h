/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-profile.h: a SIP profile, its ordered proxy entries and which one is active. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw.pb-c.h"
#include "regd-forward.h"
#include "regd-line.h"
#include "regd-policy.h"
#include "regd-proxy.h"
#include "regd-resolve.h"

/* An OPTIONS regd sends for a profile (no line): health check of the active
 * entry, homing check of the main entry, or a search attempt when no line can
 * carry it. At most one of each kind in flight. */
typedef enum ProbeKind {
        PROBE_CHECK,
        PROBE_HOME,
        PROBE_SEARCH,
        _PROBE_KIND_MAX,
        _PROBE_KIND_INVALID = -EINVAL,
} ProbeKind;

typedef struct ProfileProbe {
        bool in_flight;
        uint64_t correlation_id;
        size_t index;                    /* entry it went to */
        sd_event_source *lost_timer;     /* timeout_ms + grace: sigd lost it, nothing learned */
} ProfileProbe;

#define REGD_SEARCH_SPACING_USEC USEC_PER_SEC    /* at least this between two attempts to one entry */

/* The failover search: one per profile, all of its state. Where it goes next
 * is the policy's PolicySearch; the rest is how the profile carries it out. */
typedef struct ProfileSearch {
        bool on;                         /* searching */
        bool in_flight;                  /* an attempt is out */
        bool resolving;                  /* the attempt waits for the entry's DNS answer */
        char reason[16];                 /* why the entry it started from failed */
        char from_target[REGD_TARGET_MAX];   /* active target when the search started */
        PolicySearch cursor;             /* next entry, attempts in this cycle, cycles */
        /* Lines (by index) whose requests wait for the search; they renew
         * at the entry it finds, and then leave this set. */
        uint64_t waiting[(GW_CONF_MAX_LINES + 63) / 64];
        Line *line;                      /* preferred carrier of the attempts; NULL: OPTIONS */
        sd_event_source *timer;
} ProfileSearch;

struct Profile {
        Manager *manager;                /* owner; may be NULL in tests */
        const GwProfileConf *conf;       /* borrowed from the manager's config */
        char *name;

        Proxy *proxies[GW_CONF_MAX_PROXIES];   /* [0] main, then redundant in order */
        size_t n_proxies;
        size_t active;                   /* index into proxies[]; 0 at start */

        bool dirty;                      /* ProfileStatus not yet published */

        ProfileSearch search;

        unsigned homing_good;            /* consecutive good homing checks of the main entry */
        sd_event_source *check_timer;    /* keepalive_period */
        sd_event_source *renew_timer;    /* deferred: every line renews at the active entry */
        ProfileProbe probes[_PROBE_KIND_MAX];
};

/* What the profile answers its lines (regd-line.h): given to line_new(). */
extern const LineEntriesOps profile_line_ops;
/* Does line l wait for the search (or for the renewal after it)? */
bool profile_line_waits(const Profile *p, const Line *l);

int profile_new(Manager *m, const GwProfileConf *c, Profile **ret);
Profile *profile_free(Profile *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Profile *, profile_free);

Proxy *profile_active_proxy(const Profile *p);

/* Account one outcome of a request that went to entry 'x' for 'purpose', sent
 * by line l (NULL: a probe or a call): regd-policy.c decides, this carries it
 * out (search, switch, homing, Retry-After hold) and says what the line should
 * do. Marks the profile dirty. Never sends anything itself: sending is
 * deferred to the profile's timers. */
PolicyLineAction profile_record_outcome(Profile *p, Proxy *x, const GwOutcome *o, RequestPurpose purpose,
                                        Line *l, uint64_t now_real_us);

/* Another entry, or another target of the only entry, to fail over to. */
bool profile_has_alternatives(const Profile *p);

/* A reload gives the profile 'c' (same name): settings apply at once; a
 * changed entry list is rebuilt, an entry still listed keeping its state and
 * the active entry staying active if listed (else the main one is). ret_remap
 * [old index] = new index or SIZE_MAX (gone), for the lines to follow.
 * Returns 1 if the list changed (lines not registered at the active entry
 * renew there), 0 if not, -ENOMEM (nothing changed). */
int profile_reconfigure(Profile *p, const GwProfileConf *c, size_t ret_remap[GW_CONF_MAX_PROXIES],
                        bool *ret_entries_changed);

/* Start the periodic checks (manager_start). */
int profile_start(Profile *p);
/* The gateway is stopping: no search, no checks. */
void profile_stop(Profile *p);
/* Start the search because the active entry failed with 'reason' (l: the line
 * whose request failed, or NULL). No-op if already searching. */
void profile_search_start(Profile *p, const char *reason, Line *l);
/* What happened to an INVITE of a call at entry r->proxy: fed to the policy
 * as an outcome of purpose REQUEST_INVITE. -ENOENT: no such entry; -EINVAL:
 * a response without a status code. */
int profile_entry_report(Profile *p, const Gw__EntryReport *r);
/* An outcome for a probe of p with correlation id cid? Handles it and returns true. */
bool profile_probe_outcome(Profile *p, uint64_t cid, const Gw__SipRequestOutcome *o);

const char *probe_kind_to_string(ProbeKind k);

/* Journal MESSAGE_IDs (docs/REGISTRATION.md). */
#define REGD_MESSAGE_FAILOVER              "c9c1933e61764192895990f0a5ab2555"
#define REGD_MESSAGE_HOMING_RETURN         "418687d231054362a81d5b9ad15a8948"
#define REGD_MESSAGE_SEARCH_EXHAUSTED      "13db84432ce34716bffb82040beebbac"

/* Fill 'ret' (Gw__ProfileStatus, INIT'd by this call) from p. Strings and arrays
 * point into p and 'storage'; valid while both live and p is unchanged. */
typedef struct ProfileStatusStorage {
        Gw__ProxyEntryStatus entries[GW_CONF_MAX_PROXIES];
        Gw__ProxyEntryStatus *entry_ptrs[GW_CONF_MAX_PROXIES];
        Gw__ProxyCounters counters[GW_CONF_MAX_PROXIES];
        char target[REGD_TARGET_MAX];
} ProfileStatusStorage;
void profile_status_fill(Profile *p, ProfileStatusStorage *storage, Gw__ProfileStatus *ret);
