/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-resolve.h: where the requests of a proxy entry go (IP literals, DNS
 * names resolved with c-ares); regd-resolve.c states the policy. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gw-conf.h"
#include "regd-forward.h"

/* Create the resolver (dns.servers) if any entry is a DNS name. */
int resolve_setup(Manager *m);
/* What entry i resolves: the registrar for the main entry, else the entry. */
const GwHostPort *resolve_entry_hostport(const Profile *p, size_t i);
/* An answer for entry x of p: it got targets (resolved), or did not resolve. */
typedef void (*ResolveAnswerFn)(Profile *p, Proxy *x, bool resolved);
/* Set up the entries' destinations and the targets of IP literals
 * (profile_new); 'answered' hears every later answer. */
int resolve_entries_init(Profile *p, ResolveAnswerFn answered);
/* The current target of entry i ("ip:port" or "[v6]:port") into buf, without
 * side effects. -EAGAIN: a name not resolved yet (or being resolved);
 * -EADDRNOTAVAIL: a name that did not resolve (the entry failed with 'dns');
 * -EINVAL: an invalid address; -ENOBUFS: buf too small. */
int resolve_entry_target(const Profile *p, size_t i, char *buf, size_t n);
/* The same for a request about to be sent: also starts the resolution of a
 * name never resolved, failed more than REGD_DNS_HOLDOFF_USEC ago, or whose
 * answer outlived its TTL (the known targets stay in use meanwhile). On
 * -EAGAIN the profile resumes its search or renews its lines when the answer
 * comes (the ResolveAnswerFn). */
int resolve_entry_use_target(Profile *p, size_t i, char *buf, size_t n);
/* Resolve every name entry that has no targets yet (profile_start). */
void resolve_all(Profile *p);
/* Adopt 'target' as the current target of name entry i before any resolution
 * (a registration kept from the state file). */
int resolve_entry_seed_target(Profile *p, size_t i, const char *target);
/* "no such name", ... for a resolution error (0: "no address"). */
const char *resolve_error_to_string(int error);

/* Where requests of the active entry go: the registrar while the main entry is
 * active, else the entry itself: its current target. Errors as resolve_entry_target(). */
int resolve_active_target(const Profile *p, char *buf, size_t n);
/* The host:port (as configured) a REGISTER of the active entry goes to. */
const GwHostPort *resolve_active_hostport(const Profile *p);
