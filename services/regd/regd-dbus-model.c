/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-dbus-model.c: the D-Bus API's objects as data, updated from the project bus's messages. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "gw-bus.h"
#include "gw-macro.h"
#include "gw-words.h"
#include "regd-dbus-model.h"

const char *const line_prop_names[] = {
        "Number", "Registration", "RegisteredVia", "Expires", "Hook", "CallState", "Remote", "Reason",
        "Profile", NULL,
};
const char *const profile_prop_names[] = {
        "ActiveProxy", "ActiveTarget", "Searching", "SearchCycles", "Proxies", NULL,
};
const char *const service_prop_names[] = {
        "State", "PID", "Restarts", NULL,
};

/* The API's words: a documented interface (docs/OPERATIONS.md), gwctl's (gw-words.h). */
const char *api_reg_state_to_string(Gw__RegState s) { return gw_word_reg_state(s) ?: "unknown"; }
const char *api_call_state_to_string(Gw__CallState s) { return gw_word_call_state(s) ?: "unknown"; }
const char *api_hook_to_string(Gw__HookState h) { return gw_word_hook(h) ?: "unknown"; }
const char *api_run_state_to_string(Gw__ServiceRunState s) { return gw_word_run_state(s) ?: "unknown"; }
const char *api_role_to_string(Gw__ProxyRole r) { return gw_word_role(r) ?: "unknown"; }
const char *api_health_to_string(Gw__ProxyHealth h) { return gw_word_health(h) ?: "unknown"; }

static const Gw__Service api_services[API_SERVICES_MAX] = {
        GW__SERVICE__SERVICE_SIGD, GW__SERVICE__SERVICE_REGD, GW__SERVICE__SERVICE_MEDIAD,
        GW__SERVICE__SERVICE_LINEHWD,
};

/* Replace *field with a copy of v (NULL: ""): 1 if it changed, 0 if not, -ENOMEM. */
static int set_string(char **field, const char *v) {
        char *n;

        v = strempty(v);
        if (*field && streq(*field, v))
                return 0;
        n = strdup(v);
        if (!n)
                return -ENOMEM;
        free(*field);
        *field = n;
        return 1;
}

static int set_static(const char **field, const char *v) {
        if (*field && streq(*field, v))
                return 0;
        *field = v;
        return 1;
}

/* OR 'bit' into *mask when r says it changed; pass errors on. */
#define TRACK(mask, bit, expr) ({                      \
                int _r_ = (expr);                      \
                if (_r_ > 0)                           \
                        (mask) |= (bit);               \
                _r_;                                   \
        })

static void proxy_done(ApiProxy *p) {
        free(p->address);
        free(p->last_failure_reason);
}

static void profile_done(ApiProfile *p) {
        free(p->name);
        free(p->path);
        free(p->active_proxy);
        free(p->active_target);
        for (size_t i = 0; i < p->n_proxies; i++)
                proxy_done(&p->proxies[i]);
        free(p->proxies);
}

static void line_done(ApiLine *l) {
        free(l->path);
        free(l->number);
        free(l->profile);
        free(l->reason);
        free(l->registered_via);
        free(l->remote);
}

void api_model_done(ApiModel *m) {
        for (size_t i = 0; i < m->n_lines; i++)
                line_done(&m->lines[i]);
        free(m->lines);
        for (size_t i = 0; i < m->n_profiles; i++)
                profile_done(&m->profiles[i]);
        free(m->profiles);
        for (size_t i = 0; i < API_SERVICES_MAX; i++)
                free(m->services[i].path);
        *m = (ApiModel) {};
}

static int line_init(ApiLine *l, const GwLineConf *lc) {
        l->port = lc->port;
        l->registration = api_reg_state_to_string(GW__REG_STATE__REG_UNREGISTERED);
        l->hook = "unknown";
        l->call_state = api_call_state_to_string(GW__CALL_STATE__CALL_IDLE);
        if (asprintf(&l->path, API_LINE_PREFIX "/%u", lc->port) < 0) {
                l->path = NULL;
                return -ENOMEM;
        }
        if (set_string(&l->number, lc->number) < 0 || set_string(&l->profile, lc->profile) < 0 ||
            set_string(&l->reason, NULL) < 0 || set_string(&l->registered_via, NULL) < 0 ||
            set_string(&l->remote, NULL) < 0)
                return -ENOMEM;
        return 0;
}

static int profile_init(ApiProfile *p, const GwProfileConf *pc) {
        int r;

        r = sd_bus_path_encode(API_PROFILE_PREFIX, pc->name, &p->path);
        if (r < 0)
                return r;
        if (set_string(&p->name, pc->name) < 0 || set_string(&p->active_proxy, NULL) < 0 ||
            set_string(&p->active_target, NULL) < 0)
                return -ENOMEM;
        return 0;
}

static int cmp_line(const void *a, const void *b) {
        const ApiLine *x = a, *y = b;
        return x->port < y->port ? -1 : x->port > y->port;
}

int api_model_init(ApiModel *m, const GwConf *c) {
        int r;

        *m = (ApiModel) { .state = "starting" };
        if (c->n_lines > 0) {
                m->lines = calloc(c->n_lines, sizeof *m->lines);
                if (!m->lines)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_lines; i++) {
                m->n_lines++;
                r = line_init(&m->lines[i], &c->lines[i]);
                if (r < 0)
                        goto fail;
        }
        qsort(m->lines, m->n_lines, sizeof *m->lines, cmp_line);
        if (c->n_profiles > 0) {
                m->profiles = calloc(c->n_profiles, sizeof *m->profiles);
                if (!m->profiles) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        for (size_t i = 0; i < c->n_profiles; i++) {
                m->n_profiles++;
                r = profile_init(&m->profiles[i], &c->profiles[i]);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < API_SERVICES_MAX; i++) {
                ApiService *s = &m->services[i];

                s->service = api_services[i];
                s->name = gw_service_to_string(s->service);
                s->state = "unknown";
                if (asprintf(&s->path, API_SERVICE_PREFIX "/%s", s->name) < 0) {
                        s->path = NULL;
                        r = -ENOMEM;
                        goto fail;
                }
        }
        return 0;
fail:
        api_model_done(m);
        return r;
}

ApiLine *api_model_line(ApiModel *m, uint32_t port) {
        ApiLine key = { .port = port };

        if (m->n_lines == 0)
                return NULL;
        return bsearch(&key, m->lines, m->n_lines, sizeof *m->lines, cmp_line);
}

ApiProfile *api_model_profile(ApiModel *m, const char *name) {
        for (size_t i = 0; name && i < m->n_profiles; i++)
                if (streq(m->profiles[i].name, name))
                        return &m->profiles[i];
        return NULL;
}

ApiProfile *api_model_profile_by_path(ApiModel *m, const char *path) {
        for (size_t i = 0; path && i < m->n_profiles; i++)
                if (streq(m->profiles[i].path, path))
                        return &m->profiles[i];
        return NULL;
}

ApiService *api_model_service(ApiModel *m, Gw__Service s) {
        for (size_t i = 0; i < API_SERVICES_MAX; i++)
                if (m->services[i].service == s)
                        return &m->services[i];
        return NULL;
}

ApiService *api_model_service_by_name(ApiModel *m, const char *name) {
        for (size_t i = 0; name && i < API_SERVICES_MAX; i++)
                if (m->services[i].name && streq(m->services[i].name, name))
                        return &m->services[i];
        return NULL;
}

int api_model_line_registration(ApiModel *m, const Gw__LineRegistration *lr, ApiLine **ret) {
        ApiLine *l = api_model_line(m, lr->port);
        int mask = 0;

        if (!l)
                return 0;
        if (TRACK(mask, LINE_PROP_NUMBER, set_string(&l->number, lr->number)) < 0 ||
            TRACK(mask, LINE_PROP_REASON, set_string(&l->reason, lr->reason)) < 0 ||
            TRACK(mask, LINE_PROP_REGISTERED_VIA, set_string(&l->registered_via, lr->registered_via)) < 0 ||
            (lr->profile && TRACK(mask, LINE_PROP_PROFILE, set_string(&l->profile, lr->profile)) < 0))
                return -ENOMEM;
        TRACK(mask, LINE_PROP_REGISTRATION, set_static(&l->registration, api_reg_state_to_string(lr->state)));
        if (l->expires_usec != (lr->has_expires_at_real_us ? lr->expires_at_real_us : 0)) {
                l->expires_usec = lr->has_expires_at_real_us ? lr->expires_at_real_us : 0;
                mask |= LINE_PROP_EXPIRES;
        }
        if (ret)
                *ret = l;
        return mask;
}

int api_model_line_hw(ApiModel *m, const Gw__LineHwState *hw, ApiLine **ret) {
        ApiLine *l = api_model_line(m, hw->port);
        int mask = 0;

        if (!l)
                return 0;
        TRACK(mask, LINE_PROP_HOOK, set_static(&l->hook, api_hook_to_string(hw->hook)));
        if (ret)
                *ret = l;
        return mask;
}

int api_model_line_call(ApiModel *m, const Gw__LineCall *lc, ApiLine **ret) {
        ApiLine *l = api_model_line(m, lc->port);
        int mask = 0;

        if (!l)
                return 0;
        TRACK(mask, LINE_PROP_CALL_STATE, set_static(&l->call_state, api_call_state_to_string(lc->state)));
        /* The other party only while there is a call. */
        if (TRACK(mask, LINE_PROP_REMOTE,
                  set_string(&l->remote, lc->state == GW__CALL_STATE__CALL_IDLE ? NULL : lc->remote)) < 0)
                return -ENOMEM;
        if (ret)
                *ret = l;
        return mask;
}

static bool proxy_equal(const ApiProxy *a, const Gw__ProxyEntryStatus *e) {
        static const Gw__ProxyCounters zero = GW__PROXY_COUNTERS__INIT;
        const Gw__ProxyCounters *c = e->counters ? e->counters : &zero;

        return streq(a->address, strempty(e->address)) && streq(a->role, api_role_to_string(e->role)) &&
               streq(a->state, api_health_to_string(e->state)) &&
               streq(a->last_failure_reason, strempty(e->last_failure_reason)) &&
               a->last_failure_usec == (e->has_last_failure_real_us ? e->last_failure_real_us : 0) &&
               a->held_until_usec == (e->has_held_until_real_us ? e->held_until_real_us : 0) &&
               a->sent == c->sent && a->timeouts == c->timeouts && a->r408 == c->r408 && a->r503 == c->r503 &&
               a->transport_errors == c->transport_errors && a->failovers == c->failovers;
}

static int proxy_set(ApiProxy *a, const Gw__ProxyEntryStatus *e) {
        static const Gw__ProxyCounters zero = GW__PROXY_COUNTERS__INIT;
        const Gw__ProxyCounters *c = e->counters ? e->counters : &zero;

        if (set_string(&a->address, e->address) < 0 || set_string(&a->last_failure_reason, e->last_failure_reason) < 0)
                return -ENOMEM;
        a->role = api_role_to_string(e->role);
        a->state = api_health_to_string(e->state);
        a->last_failure_usec = e->has_last_failure_real_us ? e->last_failure_real_us : 0;
        a->held_until_usec = e->has_held_until_real_us ? e->held_until_real_us : 0;
        a->sent = c->sent;
        a->timeouts = c->timeouts;
        a->r408 = c->r408;
        a->r503 = c->r503;
        a->transport_errors = c->transport_errors;
        a->failovers = c->failovers;
        return 0;
}

int api_model_profile_status(ApiModel *m, const Gw__ProfileStatus *ps, ApiProfile **ret) {
        ApiProfile *p = api_model_profile(m, ps->name);
        bool same;
        int mask = 0;

        if (!p)
                return 0;
        if (TRACK(mask, PROFILE_PROP_ACTIVE_PROXY, set_string(&p->active_proxy, ps->active_proxy)) < 0 ||
            TRACK(mask, PROFILE_PROP_ACTIVE_TARGET, set_string(&p->active_target, ps->active_target)) < 0)
                return -ENOMEM;
        if (p->searching != ps->searching) {
                p->searching = ps->searching;
                mask |= PROFILE_PROP_SEARCHING;
        }
        if (p->search_cycles != ps->search_cycles) {
                p->search_cycles = ps->search_cycles;
                mask |= PROFILE_PROP_SEARCH_CYCLES;
        }

        same = p->n_proxies == ps->n_proxies;
        for (size_t i = 0; same && i < ps->n_proxies; i++)
                same = proxy_equal(&p->proxies[i], ps->proxies[i]);
        if (!same) {
                ApiProxy *n = NULL;

                if (ps->n_proxies > 0) {
                        n = calloc(ps->n_proxies, sizeof *n);
                        if (!n)
                                return -ENOMEM;
                }
                for (size_t i = 0; i < ps->n_proxies; i++)
                        if (proxy_set(&n[i], ps->proxies[i]) < 0) {
                                for (size_t j = 0; j <= i; j++)
                                        proxy_done(&n[j]);
                                free(n);
                                return -ENOMEM;
                        }
                for (size_t i = 0; i < p->n_proxies; i++)
                        proxy_done(&p->proxies[i]);
                free(p->proxies);
                p->proxies = n;
                p->n_proxies = ps->n_proxies;
                mask |= PROFILE_PROP_PROXIES;
        }
        if (ret)
                *ret = p;
        return mask;
}

int api_model_service_state(ApiModel *m, Gw__Service source, const Gw__ServiceState *ss, ApiService **ret) {
        ApiService *s = api_model_service(m, ss->service);
        int mask = 0;

        /* gwsupd speaks for its children; anyone else only for itself. */
        if (!s || (source != GW__SERVICE__SERVICE_GWSUPD && source != ss->service))
                return 0;
        TRACK(mask, SERVICE_PROP_STATE, set_static(&s->state, api_run_state_to_string(ss->state)));
        {
                uint32_t pid = ss->has_pid && ss->pid > 0 ? (uint32_t) ss->pid : 0;
                if (s->pid != pid) {
                        s->pid = pid;
                        mask |= SERVICE_PROP_PID;
                }
        }
        if (source == GW__SERVICE__SERVICE_GWSUPD && ss->has_restarts && s->restarts != ss->restarts) {
                s->restarts = ss->restarts;
                mask |= SERVICE_PROP_RESTARTS;
        }
        if (source == ss->service && ss->has_instance_id)
                s->instance_id = ss->instance_id;
        if (ret)
                *ret = s;
        return mask;
}

int api_model_service_restarts(ApiModel *m, Gw__Service svc, uint32_t restarts, ApiService **ret) {
        ApiService *s = api_model_service(m, svc);

        if (!s || s->restarts == restarts)
                return 0;
        s->restarts = restarts;
        if (ret)
                *ret = s;
        return SERVICE_PROP_RESTARTS;
}

void api_paths_free(char **paths) {
        for (size_t i = 0; paths && paths[i]; i++)
                free(paths[i]);
        free(paths);
}

/* Append a copy of path to the NULL-terminated *v (room for 'max' entries). */
static int paths_add(char **v, size_t *n, const char *path) {
        v[*n] = strdup(path);
        if (!v[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

int api_model_reconfigure(ApiModel *m, const GwConf *c, char ***ret_added, char ***ret_removed) {
        ApiModel n;
        char **added = NULL, **removed = NULL;
        size_t n_added = 0, n_removed = 0;
        int r;

        r = api_model_init(&n, c);
        if (r < 0)
                return r;
        added = calloc(n.n_lines + n.n_profiles + 1, sizeof *added);
        removed = calloc(m->n_lines + m->n_profiles + 1, sizeof *removed);
        if (!added || !removed) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < m->n_lines; i++)
                if (!api_model_line(&n, m->lines[i].port) && (r = paths_add(removed, &n_removed, m->lines[i].path)) < 0)
                        goto fail;
        for (size_t i = 0; i < m->n_profiles; i++)
                if (!api_model_profile(&n, m->profiles[i].name) &&
                    (r = paths_add(removed, &n_removed, m->profiles[i].path)) < 0)
                        goto fail;
        for (size_t i = 0; i < n.n_lines; i++)
                if (!api_model_line(m, n.lines[i].port) && (r = paths_add(added, &n_added, n.lines[i].path)) < 0)
                        goto fail;
        for (size_t i = 0; i < n.n_profiles; i++)
                if (!api_model_profile(m, n.profiles[i].name) &&
                    (r = paths_add(added, &n_added, n.profiles[i].path)) < 0)
                        goto fail;

        /* Nothing can fail from here. A kept object goes over with its state; the
         * fresh one built for it is freed with the old model. */
        for (size_t i = 0; i < n.n_lines; i++) {
                ApiLine *o = api_model_line(m, n.lines[i].port), tmp;
                if (!o)
                        continue;
                tmp = n.lines[i];
                n.lines[i] = *o;
                *o = tmp;
                /* What the configuration says comes from the new one (a reload may
                 * renumber a line or move it to another profile). */
                {
                        char *t = n.lines[i].number;
                        n.lines[i].number = o->number;
                        o->number = t;
                        t = n.lines[i].profile;
                        n.lines[i].profile = o->profile;
                        o->profile = t;
                }
        }
        for (size_t i = 0; i < n.n_profiles; i++) {
                ApiProfile *o = api_model_profile(m, n.profiles[i].name), tmp;
                if (!o)
                        continue;
                tmp = n.profiles[i];
                n.profiles[i] = *o;
                *o = tmp;
        }
        for (size_t i = 0; i < API_SERVICES_MAX; i++) {
                ApiService tmp = n.services[i];
                n.services[i] = m->services[i];
                m->services[i] = tmp;
        }
        n.stopping = m->stopping;
        n.all_seen_running = m->all_seen_running;
        n.state = m->state;
        api_model_done(m);
        *m = n;
        *ret_added = added;
        *ret_removed = removed;
        return 0;
fail:
        api_paths_free(added);
        api_paths_free(removed);
        api_model_done(&n);
        return r;
}

bool api_model_update_state(ApiModel *m) {
        const char *state;
        bool all = true;

        for (size_t i = 0; i < API_SERVICES_MAX; i++)
                if (!streq(m->services[i].state, "running"))
                        all = false;
        if (all)
                m->all_seen_running = true;
        if (m->stopping)
                state = "stopping";
        else if (all)
                state = "running";
        else
                state = m->all_seen_running ? "degraded" : "starting";
        if (streq(m->state, state))
                return false;
        m->state = state;
        return true;
}
