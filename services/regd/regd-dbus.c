/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-dbus.c: the D-Bus management API org.fxsgw.Gateway1 on regd's loop (sd-bus).
 *
 * Why regd serves it: the API must be the same under fxsgw.target (no gwsupd)
 * and under gwsupd, so it cannot live in gwsupd; regd owns the registrations
 * and profiles — most of what the API shows — and hears the rest on the bus
 * (docs/ARCHITECTURE.md). Access control is the bus's: the policy file
 * deploy/dbus-1/org.fxsgw.Gateway1.conf lets root and group fxsgw call and
 * read; the methods are marked unprivileged for sd-bus so that group fxsgw,
 * not only root, gets through. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "gw-build-config.h"
#include "gw-bus.h"
#include "gw-log.h"
#include "gw-reload.h"
#include "regd-dbus-model.h"
#include "regd-dbus.h"

#define API_PENDING_MAX 8

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

const char *const api_bus_topics[] = {
        "LineHwState", "LineCall", "ServiceState", "ServiceRestartReply", NULL,
};

typedef enum PendingKind {
        PENDING_NONE,
        PENDING_RESTART_GWSUPD,          /* waits for ServiceRestartReply */
        PENDING_RESTART_SYSTEMD,         /* waits for RestartUnit's reply */
} PendingKind;

typedef struct Pending {
        Api *api;
        PendingKind kind;
        uint64_t cid;
        Gw__Service service;
        sd_bus_message *call;            /* the method call to answer */
        sd_bus_slot *slot;               /* systemd's call */
        sd_event_source *timer;
} Pending;

typedef struct NRestartsQuery {
        Api *api;
        Gw__Service service;
} NRestartsQuery;

struct Api {
        GwDaemon *daemon;                /* not owned: conf, bus, loop */
        sd_bus *bus;                     /* the API's connection */
        sd_bus *system;                  /* systemd's bus, when the daemons are units */
        bool units;                      /* regd runs as fxsgw-regd.service */
        bool lost;                       /* the connection ended (logged) */
        ApiModel model;
        Pending pending[API_PENDING_MAX];
        NRestartsQuery nrestarts[API_SERVICES_MAX];

        struct {
                sd_bus_message *call;    /* NULL: no reload under way */
                GwReload *run;           /* gw-reload.h: the same path as gwctl reload and SIGHUP */
        } reload;
};

/* ---------------------------------------------------------------- properties */

/* Generic getters: sd-bus hands them the object plus the property's offset. */
static int get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append_basic(reply, 's', strempty(*(const char *const *) userdata));
}

static int get_u32(sd_bus *bus, const char *path, const char *interface, const char *property,
                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append_basic(reply, 'u', userdata);
}

static int get_u64(sd_bus *bus, const char *path, const char *interface, const char *property,
                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append_basic(reply, 't', userdata);
}

static int get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        int b = *(const bool *) userdata;
        return sd_bus_message_append_basic(reply, 'b', &b);
}

static int get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", GW_VERSION);
}

static int get_manager_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Api *a = userdata;
        return sd_bus_message_append(reply, "s", a->model.state);
}

/* a(ssssttta{st}): address, role, state, last failure reason, its time, held until, counters. */
static int get_proxies(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const ApiProfile *p = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sssstta{st})");
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_proxies; i++) {
                const ApiProxy *x = &p->proxies[i];

                r = sd_bus_message_append(reply, "(sssstta{st})", x->address, x->role, x->state,
                                          x->last_failure_reason, x->last_failure_usec, x->held_until_usec,
                                          (unsigned) 6, "sent", x->sent, "timeouts", x->timeouts, "r408", x->r408,
                                          "r503", x->r503, "transport_errors", x->transport_errors,
                                          "failovers", x->failovers);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

#define EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error);
static int method_restart_service(sd_bus_message *m, void *userdata, sd_bus_error *error);

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", get_manager_state, 0, EMITS),
        SD_BUS_METHOD("Reload", "", "", method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("RestartService", "s", SD_BUS_PARAM(name), "", , method_restart_service,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("ProxySwitched", "ssss", SD_BUS_PARAM(profile) SD_BUS_PARAM(from)
                                 SD_BUS_PARAM(to) SD_BUS_PARAM(reason), 0),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable line_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Port", "u", get_u32, offsetof(ApiLine, port), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Number", "s", get_string, offsetof(ApiLine, number), EMITS),
        SD_BUS_PROPERTY("Profile", "s", get_string, offsetof(ApiLine, profile), EMITS),
        SD_BUS_PROPERTY("Registration", "s", get_string, offsetof(ApiLine, registration), EMITS),
        SD_BUS_PROPERTY("Reason", "s", get_string, offsetof(ApiLine, reason), EMITS),
        SD_BUS_PROPERTY("RegisteredVia", "s", get_string, offsetof(ApiLine, registered_via), EMITS),
        SD_BUS_PROPERTY("Expires", "t", get_u64, offsetof(ApiLine, expires_usec), EMITS),
        SD_BUS_PROPERTY("Hook", "s", get_string, offsetof(ApiLine, hook), EMITS),
        SD_BUS_PROPERTY("CallState", "s", get_string, offsetof(ApiLine, call_state), EMITS),
        SD_BUS_PROPERTY("Remote", "s", get_string, offsetof(ApiLine, remote), EMITS),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable profile_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", get_string, offsetof(ApiProfile, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ActiveProxy", "s", get_string, offsetof(ApiProfile, active_proxy), EMITS),
        SD_BUS_PROPERTY("ActiveTarget", "s", get_string, offsetof(ApiProfile, active_target), EMITS),
        SD_BUS_PROPERTY("Searching", "b", get_bool, offsetof(ApiProfile, searching), EMITS),
        SD_BUS_PROPERTY("SearchCycles", "u", get_u32, offsetof(ApiProfile, search_cycles), EMITS),
        SD_BUS_PROPERTY("Proxies", "a(sssstta{st})", get_proxies, 0, EMITS),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", get_string, offsetof(ApiService, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", get_string, offsetof(ApiService, state), EMITS),
        SD_BUS_PROPERTY("PID", "u", get_u32, offsetof(ApiService, pid), EMITS),
        SD_BUS_PROPERTY("Restarts", "u", get_u32, offsetof(ApiService, restarts), EMITS),
        SD_BUS_VTABLE_END
};

/* ---------------------------------------------------------------- objects */

static int find_line(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                     sd_bus_error *error) {
        Api *a = userdata;
        const char *s = path + strlen(API_LINE_PREFIX "/");
        char *end = NULL;
        unsigned long port;
        ApiLine *l;

        if (strncmp(path, API_LINE_PREFIX "/", strlen(API_LINE_PREFIX "/")) != 0 || *s < '1' || *s > '9')
                return 0;
        errno = 0;
        port = strtoul(s, &end, 10);
        if (errno != 0 || *end != 0 || port > UINT32_MAX)
                return 0;
        l = api_model_line(&a->model, (uint32_t) port);
        if (!l)
                return 0;
        *ret_found = l;
        return 1;
}

static int find_profile(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                        sd_bus_error *error) {
        ApiProfile *p = api_model_profile_by_path(&((Api *) userdata)->model, path);

        if (!p)
                return 0;
        *ret_found = p;
        return 1;
}

static int find_service(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                        sd_bus_error *error) {
        Api *a = userdata;

        for (size_t i = 0; i < API_SERVICES_MAX; i++)
                if (streq(a->model.services[i].path, path)) {
                        *ret_found = &a->model.services[i];
                        return 1;
                }
        return 0;
}

/* A NULL-terminated array of n copies of paths; -ENOMEM. */
static int paths_dup(const char *const *paths, size_t n, char ***ret) {
        char **v = calloc(n + 1, sizeof *v);

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                v[i] = strdup(paths[i]);
                if (!v[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(v[j]);
                        free(v);
                        return -ENOMEM;
                }
        }
        *ret = v;
        return 0;
}

static int enumerate_lines(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        Api *a = userdata;
        _cleanup_free_ const char **paths = calloc(a->model.n_lines + 1, sizeof *paths);

        if (!paths)
                return -ENOMEM;
        for (size_t i = 0; i < a->model.n_lines; i++)
                paths[i] = a->model.lines[i].path;
        return paths_dup(paths, a->model.n_lines, ret);
}

static int enumerate_profiles(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        Api *a = userdata;
        _cleanup_free_ const char **paths = calloc(a->model.n_profiles + 1, sizeof *paths);

        if (!paths)
                return -ENOMEM;
        for (size_t i = 0; i < a->model.n_profiles; i++)
                paths[i] = a->model.profiles[i].path;
        return paths_dup(paths, a->model.n_profiles, ret);
}

static int enumerate_services(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        Api *a = userdata;
        const char *paths[API_SERVICES_MAX];

        for (size_t i = 0; i < API_SERVICES_MAX; i++)
                paths[i] = a->model.services[i].path;
        return paths_dup(paths, API_SERVICES_MAX, ret);
}

/* ---------------------------------------------------------------- signals */

/* PropertiesChanged with the names of 'mask' (bits in the order of names[]). */
static void emit_changed(Api *a, const char *path, const char *iface, const char *const *names, int mask) {
        const char *changed[16];
        size_t n = 0;
        int r;

        if (!a->bus || a->lost || mask <= 0)
                return;
        for (size_t i = 0; names[i] && n < ELEMENTSOF(changed) - 1; i++)
                if (mask & (1 << i))
                        changed[n++] = names[i];
        changed[n] = NULL;
        r = sd_bus_emit_properties_changed_strv(a->bus, path, iface, (char **) UNCONST(changed));
        if (r < 0)
                log_debug_errno(r, "Failed to emit PropertiesChanged for '%s': %m", path);
}

static void state_changed(Api *a) {
        static const char *const names[] = { "State", NULL };

        if (api_model_update_state(&a->model))
                emit_changed(a, API_ROOT_PATH, API_MANAGER_IFACE, names, 1);
}

void api_line_registration(Api *a, const Gw__LineRegistration *lr) {
        ApiLine *l = NULL;
        int mask;

        if (!a)
                return;
        mask = api_model_line_registration(&a->model, lr, &l);
        if (mask > 0)
                emit_changed(a, l->path, API_LINE_IFACE, line_prop_names, mask);
}

void api_line_hw(Api *a, const Gw__LineHwState *hw) {
        ApiLine *l = NULL;
        int mask;

        if (!a)
                return;
        mask = api_model_line_hw(&a->model, hw, &l);
        if (mask > 0)
                emit_changed(a, l->path, API_LINE_IFACE, line_prop_names, mask);
}

void api_line_call(Api *a, const Gw__LineCall *lc) {
        ApiLine *l = NULL;
        int mask;

        if (!a)
                return;
        mask = api_model_line_call(&a->model, lc, &l);
        if (mask > 0)
                emit_changed(a, l->path, API_LINE_IFACE, line_prop_names, mask);
}

void api_profile_status(Api *a, const Gw__ProfileStatus *ps) {
        ApiProfile *p = NULL;
        int mask;

        if (!a)
                return;
        mask = api_model_profile_status(&a->model, ps, &p);
        if (mask > 0)
                emit_changed(a, p->path, API_PROFILE_IFACE, profile_prop_names, mask);
}

static void nrestarts_query(Api *a, Gw__Service service);

void api_service_state(Api *a, Gw__Service source, const Gw__ServiceState *ss) {
        ApiService *s = NULL;
        uint64_t instance;
        int mask;

        if (!a)
                return;
        s = api_model_service(&a->model, ss->service);
        instance = s ? s->instance_id : 0;
        mask = api_model_service_state(&a->model, source, ss, &s);
        if (mask > 0)
                emit_changed(a, s->path, API_SERVICE_IFACE, service_prop_names, mask);
        /* A new instance under systemd: its restart count is systemd's. */
        if (a->units && s && s->instance_id != instance)
                nrestarts_query(a, s->service);
        state_changed(a);
}

void api_proxy_switched(Api *a, const char *profile, const char *from, const char *to, const char *reason) {
        int r;

        if (!a || !a->bus || a->lost)
                return;
        r = sd_bus_emit_signal(a->bus, API_ROOT_PATH, API_MANAGER_IFACE, "ProxySwitched", "ssss", strempty(profile),
                               strempty(from), strempty(to), strempty(reason));
        if (r < 0)
                log_debug_errno(r, "Failed to emit ProxySwitched: %m");
}

void api_gateway_stopping(Api *a) {
        if (!a)
                return;
        a->model.stopping = true;
        state_changed(a);
}

/* ---------------------------------------------------------------- RestartService() */

static Pending *pending_new(Api *a, PendingKind kind, sd_bus_message *call, Gw__Service service) {
        for (size_t i = 0; i < API_PENDING_MAX; i++) {
                Pending *p = &a->pending[i];
                if (p->kind != PENDING_NONE)
                        continue;
                *p = (Pending) { .api = a, .kind = kind, .service = service, .call = sd_bus_message_ref(call) };
                return p;
        }
        return NULL;
}

static void pending_done(Pending *p) {
        sd_bus_message_unref(p->call);
        sd_bus_slot_unref(p->slot);
        sd_event_source_disable_unref(p->timer);
        *p = (Pending) {};
}

static int on_pending_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Pending *p = userdata;
        const char *name = strna(gw_service_to_string(p->service));

        log_warning("No answer to the restart of '%s' within %llu s.", name,
                    (unsigned long long) (API_ANSWER_TIMEOUT_USEC / USEC_PER_SEC));
        (void) sd_bus_reply_method_errorf(p->call, API_ERROR_TIMEOUT, "No answer from %s to the restart of '%s' "
                                          "within %llu s.", p->kind == PENDING_RESTART_GWSUPD ? "gwsupd" : "systemd",
                                          name, (unsigned long long) (API_ANSWER_TIMEOUT_USEC / USEC_PER_SEC));
        pending_done(p);
        return 0;
}

static int pending_arm(Pending *p) {
        return sd_event_add_time_relative(p->api->daemon->event, &p->timer, CLOCK_MONOTONIC,
                                          API_ANSWER_TIMEOUT_USEC, 0, on_pending_timeout, p);
}

static int publish_restart_request(Api *a, Gw__Service service, uint64_t cid) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ServiceRestartRequest req = GW__SERVICE_RESTART_REQUEST__INIT;

        req.service = service;
        env.has_correlation_id = true;
        env.correlation_id = cid;
        env.body_case = GW__ENVELOPE__BODY_SERVICE_RESTART_REQUEST;
        env.service_restart_request = &req;
        return gw_bus_publish_auto(a->daemon->bus, gw_service_to_string(service), &env);
}

static int restart_via_gwsupd(Api *a, sd_bus_message *m, Gw__Service service, sd_bus_error *error) {
        uint64_t cid = gw_bus_next_correlation_id(a->daemon->bus);
        Pending *p;
        int r;

        if (service == GW__SERVICE__SERVICE_REGD) {
                /* gwsupd's answer would reach the next regd, which knows nothing of this
                 * call: answer first, then ask — only if gwsupd surely hears it. */
                if (!gw_bus_peer_listening(a->daemon->bus, GW__SERVICE__SERVICE_GWSUPD))
                        return sd_bus_error_set(error, API_ERROR_BUSY,
                                                "gwsupd does not hear this regd yet; try again in a moment.");
                r = sd_bus_reply_method_return(m, NULL);
                if (r < 0)
                        return r;
                (void) sd_bus_flush(a->bus);
                r = publish_restart_request(a, service, cid);
                if (r < 0)
                        log_warning_errno(r, "Failed to ask gwsupd to restart regd: %m");
                return 1;
        }
        p = pending_new(a, PENDING_RESTART_GWSUPD, m, service);
        if (!p)
                return sd_bus_error_set(error, API_ERROR_BUSY, "Too many restarts under way.");
        p->cid = cid;
        r = pending_arm(p);
        if (r >= 0)
                r = publish_restart_request(a, service, cid);
        if (r < 0) {
                pending_done(p);
                return sd_bus_error_set_errnof(error, r, "Failed to ask gwsupd for the restart: %m");
        }
        return 1;
}

void api_service_restart_reply(Api *a, uint64_t cid, const Gw__ServiceRestartReply *rr) {
        if (!a)
                return;
        for (size_t i = 0; i < API_PENDING_MAX; i++) {
                Pending *p = &a->pending[i];
                if (p->kind != PENDING_RESTART_GWSUPD || p->cid != cid)
                        continue;
                if (rr->errno_value == 0)
                        (void) sd_bus_reply_method_return(p->call, NULL);
                else
                        (void) sd_bus_reply_method_errorf(p->call, API_ERROR_RESTART_FAILED,
                                                          "gwsupd cannot restart '%s': %s",
                                                          strna(gw_service_to_string(p->service)),
                                                          !isempty(rr->message) ? rr->message
                                                                                : strerror(rr->errno_value));
                pending_done(p);
                return;
        }
}

static int open_system(Api *a) {
        int r;

        if (a->system)
                return 0;
        r = sd_bus_open_system_with_description(&a->system, "fxsgw-systemd");
        if (r < 0)
                return r;
        r = sd_bus_attach_event(a->system, a->daemon->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                a->system = sd_bus_flush_close_unref(a->system);
        return r;
}

static int on_restart_unit(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Pending *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                (void) sd_bus_reply_method_errorf(p->call, API_ERROR_RESTART_FAILED, "systemd cannot restart '%s': %s",
                                                  strna(gw_service_to_string(p->service)), strna(e->message));
        else
                (void) sd_bus_reply_method_return(p->call, NULL);
        pending_done(p);
        return 0;
}

static int restart_via_systemd(Api *a, sd_bus_message *m, Gw__Service service, sd_bus_error *error) {
        char unit[64];
        Pending *p;
        int r;

        r = open_system(a);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to connect to systemd: %m");
        p = pending_new(a, PENDING_RESTART_SYSTEMD, m, service);
        if (!p)
                return sd_bus_error_set(error, API_ERROR_BUSY, "Too many restarts under way.");
        snprintf(unit, sizeof unit, "fxsgw-%s.service", gw_service_to_string(service));
        r = pending_arm(p);
        if (r >= 0)
                r = sd_bus_call_method_async(a->system, &p->slot, "org.freedesktop.systemd1",
                                             "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                             "RestartUnit", on_restart_unit, p, "ss", unit, "replace");
        if (r < 0) {
                pending_done(p);
                return sd_bus_error_set_errnof(error, r, "Failed to ask systemd to restart '%s': %m", unit);
        }
        log_info("Asked systemd to restart '%s'.", unit);
        return 1;
}

static int method_restart_service(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Api *a = userdata;
        const char *name;
        ApiService *s;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        s = api_model_service_by_name(&a->model, name);
        if (!s)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "No daemon '%s': expected sigd, regd, mediad or linehwd.", name);
        log_info("Restart of '%s' asked over D-Bus.", s->name);
        /* The supervisor there is: gwsupd on the project bus (or its pid file, while its
         * subscription to a regd that just started is still on its way), else systemd. */
        if (gw_bus_peer_listening(a->daemon->bus, GW__SERVICE__SERVICE_GWSUPD) ||
            gw_gateway_pid(a->daemon->conf) > 0)
                return restart_via_gwsupd(a, m, s->service, error);
        if (a->units)
                return restart_via_systemd(a, m, s->service, error);
        return sd_bus_error_setf(error, API_ERROR_NO_SUPERVISOR,
                                 "Neither gwsupd nor systemd supervises the daemons: cannot restart '%s'.", name);
}

/* Restarts of a unit as systemd counts them. */
static int on_nrestarts(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        NRestartsQuery *q = userdata;
        ApiService *s = NULL;
        uint32_t n;
        int mask;

        if (sd_bus_message_is_method_error(reply, NULL) ||
            sd_bus_message_read(reply, "v", "u", &n) < 0)
                return 0;
        mask = api_model_service_restarts(&q->api->model, q->service, n, &s);
        if (mask > 0)
                emit_changed(q->api, s->path, API_SERVICE_IFACE, service_prop_names, mask);
        return 0;
}

static void nrestarts_query(Api *a, Gw__Service service) {
        _cleanup_free_ char *path = NULL;
        char unit[64];
        int r;

        for (size_t i = 0; i < API_SERVICES_MAX; i++) {
                NRestartsQuery *q = &a->nrestarts[i];
                if (q->service != service)
                        continue;
                snprintf(unit, sizeof unit, "fxsgw-%s.service", gw_service_to_string(service));
                if (open_system(a) < 0 ||
                    sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path) < 0)
                        return;
                r = sd_bus_call_method_async(a->system, NULL, "org.freedesktop.systemd1", path,
                                             "org.freedesktop.DBus.Properties", "Get", on_nrestarts, q, "ss",
                                             "org.freedesktop.systemd1.Service", "NRestarts");
                if (r < 0)
                        log_debug_errno(r, "Failed to ask systemd for NRestarts of '%s': %m", unit);
                return;
        }
}

/* ---------------------------------------------------------------- Reload() */

/* The objects follow the lines and profiles of an applied configuration. */
void api_config_applied(Api *a, const GwConf *conf) {
        char **added = NULL, **removed = NULL;
        int r;

        if (!a)
                return;
        r = api_model_reconfigure(&a->model, conf, &added, &removed);
        if (r < 0) {
                log_warning_errno(r, "Failed to update the D-Bus objects to the new configuration: %m");
                return;
        }
        for (size_t i = 0; !a->lost && removed[i]; i++)
                (void) sd_bus_emit_interfaces_removed(a->bus, removed[i],
                                                      strstr(removed[i], "/line/") ? API_LINE_IFACE
                                                                                   : API_PROFILE_IFACE, NULL);
        for (size_t i = 0; !a->lost && added[i]; i++)
                (void) sd_bus_emit_interfaces_added(a->bus, added[i],
                                                    strstr(added[i], "/line/") ? API_LINE_IFACE : API_PROFILE_IFACE,
                                                    NULL);
        api_paths_free(added);
        api_paths_free(removed);
}

static void on_reload_done(GwReload *reload, const GwReloadResult *res, void *userdata) {
        Api *a = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = TAKE_PTR(a->reload.call);
        const char *why = !isempty(res->message) ? res->message : strerror(-res->error);

        if (res->error == 0) {
                /* regd has applied it by now (its turn comes before the answer). */
                api_config_applied(a, a->daemon->conf);
                (void) sd_bus_reply_method_return(call, NULL);
        } else
                /* Refused (a bad file, a key that needs a restart): nothing changed. Else a
                 * daemon failed while applying; the message says which. */
                (void) sd_bus_reply_method_errorf(call, res->error == -EINVAL ? API_ERROR_INVALID_CONFIG
                                                                              : API_ERROR_RELOAD_FAILED, "%s", why);
        a->reload.run = gw_reload_free(a->reload.run);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Api *a = userdata;
        GwDaemon *d = a->daemon;
        int r;

        if (a->reload.call)
                return sd_bus_error_set(error, API_ERROR_BUSY, "A reload is already under way.");
        log_info("Reload of '%s' asked over D-Bus.", d->conf->path);
        a->reload.call = sd_bus_message_ref(m);
        r = gw_reload_start(d->event, d->conf->path, d->conf, on_reload_done, a, &a->reload.run);
        if (r < 0) {
                a->reload.call = sd_bus_message_unref(a->reload.call);
                return sd_bus_error_set_errnof(error, r, "Failed to start the reload: %m");
        }
        return 1;
}

/* ---------------------------------------------------------------- connection */

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Api *a = userdata;

        if (!a->lost)
                log_warning("The D-Bus connection of the management API ended; running on without the API.");
        a->lost = true;
        return 0;
}

static int on_name(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint32_t v = 0;

        if (e) {
                log_warning("Cannot own the D-Bus name '" API_BUS_NAME "' (%s); the management API is not "
                            "reachable by name.", strna(e->message));
                return 0;
        }
        (void) sd_bus_message_read(m, "u", &v);
        if (v == 1 /* DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER */ || v == 4 /* ALREADY_OWNER */)
                log_info("D-Bus management API on '" API_BUS_NAME "'.");
        else
                log_info("D-Bus name '" API_BUS_NAME "' is held by another process; queued for it.");
        return 0;
}

/* Are we one of the gateway's units (not fxsgw-gwsupd.service's child)? Read from our
 * own cgroup: sd_pid_get_unit() also reads PID 1's, which ProtectProc=invisible hides. */
static bool running_as_unit(void) {
        _cleanup_(fclosep) FILE *f = fopen("/proc/self/cgroup", "re");
        char line[512];

        if (!f)
                return false;
        while (fgets(line, sizeof line, f)) {
                char *unit, *end;

                if (strncmp(line, "0::", 3) != 0)        /* the unified hierarchy's line */
                        continue;
                line[strcspn(line, "\n")] = 0;
                unit = strrchr(line, '/');
                if (!unit)
                        return false;
                unit++;
                end = unit + strlen(unit);
                return strncmp(unit, "fxsgw-", 6) == 0 && end - unit > 8 && streq(end - 8, ".service") &&
                       !streq(unit, "fxsgw-gwsupd.service");
        }
        return false;
}

static int api_connect(Api *a, const char *address) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (streq(address, "system"))
                r = sd_bus_open_system_with_description(&bus, "fxsgw-api");
        else {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                if ((r = sd_bus_set_address(bus, address)) < 0 ||
                    (r = sd_bus_set_bus_client(bus, true)) < 0 ||
                    (r = sd_bus_set_description(bus, "fxsgw-api")) < 0)
                        return r;
                r = sd_bus_start(bus);
        }
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, a->daemon->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        a->bus = TAKE_PTR(bus);
        return 0;
}

static int api_publish_objects(Api *a) {
        sd_bus *b = a->bus;
        int r;

        if ((r = sd_bus_add_object_vtable(b, NULL, API_ROOT_PATH, API_MANAGER_IFACE, manager_vtable, a)) < 0 ||
            (r = sd_bus_add_fallback_vtable(b, NULL, API_LINE_PREFIX, API_LINE_IFACE, line_vtable, find_line, a)) < 0 ||
            (r = sd_bus_add_node_enumerator(b, NULL, API_LINE_PREFIX, enumerate_lines, a)) < 0 ||
            (r = sd_bus_add_fallback_vtable(b, NULL, API_PROFILE_PREFIX, API_PROFILE_IFACE, profile_vtable,
                                            find_profile, a)) < 0 ||
            (r = sd_bus_add_node_enumerator(b, NULL, API_PROFILE_PREFIX, enumerate_profiles, a)) < 0 ||
            (r = sd_bus_add_fallback_vtable(b, NULL, API_SERVICE_PREFIX, API_SERVICE_IFACE, service_vtable,
                                            find_service, a)) < 0 ||
            (r = sd_bus_add_node_enumerator(b, NULL, API_SERVICE_PREFIX, enumerate_services, a)) < 0 ||
            (r = sd_bus_add_object_manager(b, NULL, API_ROOT_PATH)) < 0)
                return r;
        r = sd_bus_match_signal(b, NULL, "org.freedesktop.DBus.Local", NULL, "org.freedesktop.DBus.Local",
                                "Disconnected", on_disconnected, a);
        if (r < 0)
                return r;
        return sd_bus_request_name_async(b, NULL, API_BUS_NAME, SD_BUS_NAME_QUEUE, on_name, a);
}

int api_new(GwDaemon *d, Api **ret) {
        _cleanup_(api_freep) Api *a = NULL;
        const char *address = d->conf->dbus_address ? d->conf->dbus_address : "system";
        ApiService *self;
        int r;

        *ret = NULL;
        if (streq(address, "off")) {
                log_info("D-Bus management API off (dbus.address: off).");
                return 0;
        }
        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        a->daemon = d;
        r = api_model_init(&a->model, d->conf);
        if (r < 0)
                return r;
        for (size_t i = 0; i < API_SERVICES_MAX; i++)
                a->nrestarts[i] = (NRestartsQuery) { .api = a, .service = a->model.services[i].service };
        self = api_model_service(&a->model, GW__SERVICE__SERVICE_REGD);
        self->state = "running";
        self->pid = (uint32_t) getpid();
        a->units = running_as_unit();

        r = api_connect(a, address);
        if (r < 0) {
                /* Once: the gateway does not need the API to work. */
                log_warning_errno(r, "No D-Bus at '%s' (%m); running without the management API.", address);
                return 0;
        }
        r = api_publish_objects(a);
        if (r < 0) {
                log_warning_errno(r, "Failed to publish the D-Bus management API, running without it: %m");
                return 0;
        }
        if (a->units)
                nrestarts_query(a, GW__SERVICE__SERVICE_REGD);
        *ret = TAKE_PTR(a);
        return 0;
}

Api *api_free(Api *a) {
        if (!a)
                return NULL;
        a->reload.run = gw_reload_free(a->reload.run);
        if (a->reload.call)
                (void) sd_bus_reply_method_errorf(a->reload.call, API_ERROR_RELOAD_FAILED, "regd is stopping.");
        a->reload.call = sd_bus_message_unref(a->reload.call);
        for (size_t i = 0; i < API_PENDING_MAX; i++)
                if (a->pending[i].kind != PENDING_NONE) {
                        (void) sd_bus_reply_method_errorf(a->pending[i].call, API_ERROR_RESTART_FAILED,
                                                          "regd is stopping.");
                        pending_done(&a->pending[i]);
                }
        a->bus = sd_bus_flush_close_unref(a->bus);
        a->system = sd_bus_flush_close_unref(a->system);
        api_model_done(&a->model);
        free(a);
        return NULL;
}
