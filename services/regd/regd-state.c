/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-state.c: the registration state file that makes a regd restart invisible.
 *
 * After every change the manager writes, atomically (gw_state_write), one
 * RegdLineState per line and one RegdProfileState (the active entry) per
 * profile into <state_dir>/registrations. At start it reads it
 * back: a line that was registered, at the same target, for the same number
 * and profile, whose registration still has more than invite_total_timeout +
 * REGD_STATE_MARGIN_USEC to run, stays 'registered' without a REGISTER (no
 * storm after a restart) and refreshes on the remaining time. A line whose
 * entry matches but is not (validly) registered keeps its Call-ID, From tag
 * and CSeq and registers. Anything else registers afresh. A file that does not
 * unpack is ignored with a warning. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "gw-daemon.h"
#include "gw-log.h"
#include "regd-manager.h"
#include "regd-state.h"

#define REGD_STATE_VERSION 1

int regd_state_serialize(Manager *m, uint64_t now_real_us, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ Gw__RegdLineState *entries = NULL;
        _cleanup_free_ Gw__RegdLineState **ptrs = NULL;
        _cleanup_free_ Gw__RegdProfileState *pentries = NULL;
        _cleanup_free_ Gw__RegdProfileState **pptrs = NULL;
        Gw__RegdState st = GW__REGD_STATE__INIT;
        uint8_t *buf;
        size_t len;

        assert(ret);
        assert(ret_len);

        if (m->n_lines > 0) {
                entries = calloc(m->n_lines, sizeof(*entries));
                ptrs = calloc(m->n_lines, sizeof(*ptrs));
                if (!entries || !ptrs)
                        return -ENOMEM;
        }

        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = m->lines[i];
                Gw__RegdLineState *e = &entries[i];
                bool registered = l->state == LINE_REGISTERED;

                gw__regd_line_state__init(e);
                e->port = l->port;
                e->number = l->number;
                e->profile = l->profile->name;
                /* The target of the registration, else of the request on its way. */
                e->target = registered || isempty(l->req.target) ? l->target : l->req.target;
                e->call_id = l->call_id;
                e->from_tag = l->from_tag;
                e->has_cseq = true;
                e->cseq = l->cseq;
                e->has_state = true;
                e->state = line_state_to_proto(l->state);
                if (registered) {
                        e->has_expires_at_real_us = true;
                        e->expires_at_real_us = l->expires_at_real_us;
                        /* A reload may have taken its entry away: the line renews elsewhere soon. */
                        if (l->via_index < l->profile->n_proxies)
                                e->registered_via = l->profile->proxies[l->via_index]->hp.text;
                }
                ptrs[i] = e;
        }
        if (m->n_profiles > 0) {
                pentries = calloc(m->n_profiles, sizeof(*pentries));
                pptrs = calloc(m->n_profiles, sizeof(*pptrs));
                if (!pentries || !pptrs)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_profiles; i++) {
                gw__regd_profile_state__init(&pentries[i]);
                pentries[i].name = m->profiles[i]->name;
                pentries[i].active_proxy = profile_active_proxy(m->profiles[i])->hp.text;
                pptrs[i] = &pentries[i];
        }
        st.n_profiles = m->n_profiles;
        st.profiles = pptrs;

        st.has_version = true;
        st.version = REGD_STATE_VERSION;
        st.has_written_real_us = true;
        st.written_real_us = now_real_us;
        st.n_lines = m->n_lines;
        st.lines = ptrs;

        len = gw__regd_state__get_packed_size(&st);
        buf = malloc(MAX(len, (size_t) 1));
        if (!buf)
                return -ENOMEM;
        gw__regd_state__pack(&st, buf);

        *ret = buf;
        *ret_len = len;
        return 0;
}

int regd_state_save(Manager *m) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0;
        int r;

        if (!m->state_dir)
                return 0;

        r = regd_state_serialize(m, now_usec(CLOCK_REALTIME), &buf, &len);
        if (r < 0)
                return log_error_errno(r, "Failed to serialize the registration state: %m");
        r = gw_state_write(m->state_dir, REGD_STATE_FILE, buf, len);
        if (r < 0)
                return log_error_errno(r, "Failed to write '%s/%s': %m", m->state_dir, REGD_STATE_FILE);
        m->n_state_writes++;
        return 0;
}

int regd_state_apply_line(Line *l, const Gw__RegdLineState *e, uint64_t now_real_us) {
        char target[REGD_TARGET_MAX];
        uint64_t margin;
        int r;

        assert(l);
        assert(e);

        if (e->port != l->port || !streq_ptr(e->number, l->number) ||
            !streq_ptr(e->profile, l->profile->name))
                return -EXDEV;
        if (isempty(e->call_id) || isempty(e->from_tag) || strlen(e->call_id) > 128 || strlen(e->from_tag) > 64)
                return -EXDEV;
        r = resolve_active_target(l->profile, target, sizeof(target));
        if (r == -EAGAIN && resolve_entry_seed_target(l->profile, l->profile->active, e->target) >= 0)
                /* A name not resolved yet: the registration's target stays in use while it answers. */
                r = resolve_active_target(l->profile, target, sizeof(target));
        if (r < 0 || !streq_ptr(e->target, target))
                return -EXDEV;

        /* Same registrar, same identity: continue the same Call-ID and CSeq. */
        if (!streq(l->call_id, e->call_id)) {
                char *c = strdup(e->call_id), *t = strdup(e->from_tag);

                if (!c || !t) {
                        free(c);
                        free(t);
                        return -ENOMEM;
                }
                free(l->call_id);
                free(l->from_tag);
                l->call_id = c;
                l->from_tag = t;
        }
        if (e->has_cseq && e->cseq > l->cseq)
                /* A request may have been sent after the last write: stay above it. */
                l->cseq = e->cseq + 1;

        if (!e->has_state || e->state != GW__REG_STATE__REG_REGISTERED || !e->has_expires_at_real_us)
                return 0;
        margin = l->profile->conf->invite_total_timeout_us + REGD_STATE_MARGIN_USEC;
        if (e->expires_at_real_us <= now_real_us + margin)
                return -ESTALE;
        /* Never trust an expiry further away than we could have been granted... by a lot. */
        if (e->expires_at_real_us - now_real_us > 7 * 24 * 3600 * USEC_PER_SEC)
                return -ESTALE;

        r = line_adopt_registration(l, target, e->expires_at_real_us, now_real_us);
        if (r < 0)
                return r;
        return 1;
}

int regd_state_apply(Manager *m, const uint8_t *data, size_t len, uint64_t now_real_us) {
        Gw__RegdState *st;
        int kept = 0;

        st = gw__regd_state__unpack(NULL, len, data);
        if (!st)
                return -EBADMSG;
        if (!st->has_version || st->version != REGD_STATE_VERSION) {
                gw__regd_state__free_unpacked(st, NULL);
                return -EPROTO;
        }

        /* The active entry first: a line's registration is kept only at the
         * current target. (This milestone never moves it; failover will.) */
        for (size_t i = 0; i < st->n_profiles; i++) {
                const Gw__RegdProfileState *ps = st->profiles[i];
                Profile *p = manager_profile_by_name(m, ps->name);

                if (!p || isempty(ps->active_proxy))
                        continue;
                for (size_t k = 0; k < p->n_proxies; k++)
                        if (streq(proxy_address(p->proxies[k]), ps->active_proxy)) {
                                p->active = k;
                                break;
                        }
        }

        for (size_t i = 0; i < st->n_lines; i++) {
                const Gw__RegdLineState *e = st->lines[i];
                Line *l = manager_line_by_port(m, e->port);
                int r;

                if (!l || !line_wants_registration(l))
                        continue;
                if (l->call_id_adopted)
                        continue;      /* a duplicate entry for the port: first one wins */
                r = regd_state_apply_line(l, e, now_real_us);
                if (r == -ENOMEM) {
                        gw__regd_state__free_unpacked(st, NULL);
                        return r;
                }
                if (r >= 0)
                        l->call_id_adopted = true;
                if (r > 0)
                        kept++;
                else if (r == -ESTALE)
                        log_debug("Line %u: the saved registration expires too soon, registering.", l->port);
                else if (r < 0)
                        log_debug("Line %u: the saved registration is for another number, profile or target, registering afresh.",
                                  l->port);
        }

        gw__regd_state__free_unpacked(st, NULL);
        return kept;
}

int regd_state_load(Manager *m) {
        _cleanup_free_ void *data = NULL;
        size_t len = 0;
        int r;

        if (!m->state_dir)
                return 0;

        r = gw_state_read(m->state_dir, REGD_STATE_FILE, &data, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_warning_errno(r, "Failed to read '%s/%s', registering every line: %m",
                                         m->state_dir, REGD_STATE_FILE), 0;

        r = regd_state_apply(m, data, len, now_usec(CLOCK_REALTIME));
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_warning_errno(r, "Ignoring corrupted state file '%s/%s', registering every line: %m",
                                         m->state_dir, REGD_STATE_FILE), 0;
        return r;
}
