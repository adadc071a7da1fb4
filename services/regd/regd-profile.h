/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-profile.h: a SIP profile, its ordered proxy entries and which one is active. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gw-conf.h"
#include "gw.pb-c.h"
#include "regd-forward.h"
#include "regd-proxy.h"

struct Profile {
        Manager *manager;                /* owner; may be NULL in tests */
        const GwProfileConf *conf;       /* borrowed from the manager's config */
        char *name;

        Proxy *proxies[GW_CONF_MAX_PROXIES];   /* [0] main, then redundant in order */
        size_t n_proxies;
        size_t active;                   /* index into proxies[]; 0 at start */

        bool dirty;                      /* ProfileStatus not yet published */
};

int profile_new(Manager *m, const GwProfileConf *c, Profile **ret);
Profile *profile_free(Profile *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Profile *, profile_free);

Proxy *profile_active_proxy(const Profile *p);

/* Where requests of the active entry go: the registrar while the main entry is
 * active, else the entry itself. Writes "ip:port". -EADDRNOTAVAIL for a DNS name. */
int profile_active_target(const Profile *p, char *buf, size_t n);
/* The host:port (as configured) a REGISTER of the active entry goes to. */
const GwHostPort *profile_active_hostport(const Profile *p);

/* Account one outcome of a request that went to entry 'x' (the entry active
 * when it was sent). Marks the profile dirty when its status changed. */
void profile_record_outcome(Profile *p, Proxy *x, const Gw__SipRequestOutcome *o,
                            const char *reason, uint64_t now_real_us);

/* Fill 'ret' (Gw__ProfileStatus, INIT'd by this call) from p. Strings and arrays
 * point into p and 'storage'; valid while both live and p is unchanged. */
typedef struct ProfileStatusStorage {
        Gw__ProxyEntryStatus entries[GW_CONF_MAX_PROXIES];
        Gw__ProxyEntryStatus *entry_ptrs[GW_CONF_MAX_PROXIES];
        Gw__ProxyCounters counters[GW_CONF_MAX_PROXIES];
        char target[REGD_TARGET_MAX];
} ProfileStatusStorage;
void profile_status_fill(Profile *p, ProfileStatusStorage *storage, Gw__ProfileStatus *ret);
