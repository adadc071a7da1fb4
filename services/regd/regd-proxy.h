/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-proxy.h: one proxy entry of a SIP profile: its address, health and counters. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gw-conf.h"
#include "gw-resolve.h"
#include "gw.pb-c.h"
#include "regd-forward.h"
#include "regd-policy.h"

#define REGD_DEFAULT_SIP_PORT 5060
#define REGD_TARGET_MAX 64               /* "[v6]:port" */

typedef enum ProxyRole {
        PROXY_ROLE_MAIN,
        PROXY_ROLE_REDUNDANT,
        _PROXY_ROLE_MAX,
        _PROXY_ROLE_INVALID = -EINVAL,
} ProxyRole;

typedef enum ProxyHealth {
        PROXY_HEALTH_UNKNOWN,
        PROXY_HEALTH_UP,
        PROXY_HEALTH_DOWN,
        _PROXY_HEALTH_MAX,
        _PROXY_HEALTH_INVALID = -EINVAL,
} ProxyHealth;

/* One address an entry's requests may go to. */
typedef struct ProxyTarget {
        char addr[REGD_TARGET_MAX];      /* "ip:port" or "[v6]:port" */
        uint64_t last_attempt_mono_us;   /* last request sent to it: search pacing */
} ProxyTarget;

typedef struct ProxyCounters {
        uint64_t sent;
        uint64_t timeouts;
        uint64_t r408;
        uint64_t r503;
        uint64_t transport_errors;
        uint64_t failovers;
} ProxyCounters;

struct Proxy {
        Profile *profile;                /* owner */
        unsigned index;                  /* 0: the main entry */
        ProxyRole role;
        GwHostPort hp;                   /* own copy of the entry as configured */

        ProxyHealth health;
        char last_failure_reason[32];    /* "" if none */
        uint64_t last_failure_real_us;   /* 0 if none */
        ProxyCounters counters;

        uint64_t last_attempt_mono_us;   /* last request sent to it (any target) */
        uint64_t down_until_mono_us;     /* 503 Retry-After: skipped and not checked until then */

        /* Where its requests go (regd-resolve.c). 'dest' is what is resolved: the
         * registrar for the main entry, else the entry itself. An IP literal has one
         * target for ever; a name has the ordered targets of its last resolution
         * (RFC 3263), and requests go to targets[cur_target] while it answers. */
        const GwHostPort *dest;          /* borrowed: the profile's config or &hp */
        ProxyTarget *targets;
        size_t n_targets;
        size_t cur_target;
        uint64_t resolve_after_mono_us;  /* a name: resolve again from then on (TTL) */
        uint64_t dns_failed_mono_us;     /* last resolution failed then (0: it did not) */
        int dns_error;                   /* of the last resolution, 0 if it worked */
        GwResolveQuery *query;           /* resolution in progress */
        void (*answered)(Profile *p, Proxy *x, bool resolved);   /* the owner hears the answers */
};

const char *proxy_role_to_string(ProxyRole r);
const char *proxy_health_to_string(ProxyHealth h);

int proxy_new(Profile *p, unsigned index, const GwHostPort *hp, Proxy **ret);
Proxy *proxy_free(Proxy *x);

/* "ip:port" ("[v6]:port") of host/port; port 0 means 5060. -EADDRNOTAVAIL if
 * the host is a DNS name (resolution is not built yet), -ENOBUFS if n is too small. */
int hostport_format_target(const GwHostPort *hp, char *buf, size_t n);

/* The entry as configured ("sip.example.net:5070"). */
const char *proxy_address(const Proxy *x);

/* A request went to 'target' of x (NULL: its current target). */
void proxy_note_sent(Proxy *x, const char *target, uint64_t now_mono_us);
/* true if the entry is a DNS name (resolved by regd), false for an IP literal. */
bool proxy_is_name(const Proxy *x);
/* The target requests go to now, NULL if none is known. */
const char *proxy_current_target(const Proxy *x);
/* Replace the targets with addrs[n] (copied), keeping the current one if it is
 * among them; if not, 'sticky' keeps it first (it stays while it answers). */
int proxy_set_targets(Proxy *x, const char *const *addrs, size_t n, bool sticky);
/* Count the outcome and update health, as classified by the policy (v, and
 * the failure reason "timeout", "503", ...). An outcome that says nothing
 * about the entry (GW_VERDICT_NONE: a call's own outcome) counts nothing.
 * Returns true if the entry's visible status changed. */
bool proxy_record_outcome(Proxy *x, const GwOutcome *o, GwVerdict v, const char *reason,
                          uint64_t now_real_us);

DEFINE_TRIVIAL_CLEANUP_FUNC(Proxy *, proxy_free);
