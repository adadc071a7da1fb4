/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwctl-dbus.c: the gateway's status read from its D-Bus API, as StatusReply messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "gw-bus.h"
#include "gw-macro.h"
#include "gwctl-dbus.h"

#define API_BUS_NAME  "org.fxsgw.Gateway1"
#define API_ROOT_PATH "/org/fxsgw/Gateway1"
#define CALL_TIMEOUT_USEC (1 * USEC_PER_SEC)
#define MAX_ITEMS 4096

/* Everything the replies point to, freed at once. */
struct DbusStatus {
        Gw__StatusReply services, regd;
        void **allocs;
        size_t n_allocs, n_alloc;
};

static void *keep(DbusStatus *s, void *p) {
        if (!p)
                return NULL;
        if (s->n_allocs == s->n_alloc) {
                size_t n = s->n_alloc ? 2 * s->n_alloc : 64;
                void **v = realloc(s->allocs, n * sizeof *v);
                if (!v) {
                        free(p);
                        return NULL;
                }
                s->allocs = v;
                s->n_alloc = n;
        }
        s->allocs[s->n_allocs++] = p;
        return p;
}

static char *keep_str(DbusStatus *s, const char *v) {
        return keep(s, strdup(strempty(v)));
}

DbusStatus *dbus_status_free(DbusStatus *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_allocs; i++)
                free(s->allocs[i]);
        free(s->allocs);
        free(s);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(DbusStatus *, dbus_status_free);

/* The API's words back to the bus's enums (regd-dbus-model.c has the other way). */
static int word_index(const char *const *table, size_t n, const char *w, int fallback) {
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], w))
                        return (int) i;
        return fallback;
}

static const char *const reg_words[] = { "unregistered", "registering", "registered", "failed" };
static const char *const run_words[] = { "starting", "running", "restarting", "failed", "stopped" };
static const char *const role_words[] = { "main", "redundant" };
static const char *const health_words[] = { "unknown", "up", "down" };

/* Append p to the array *v of *n (growing by one; bounded). */
static int push(DbusStatus *s, void ***v, size_t *n, void *p) {
        void **nv;

        if (!p || *n >= MAX_ITEMS)
                return -ENOMEM;
        nv = realloc(*v, (*n + 1) * sizeof *nv);
        if (!nv)
                return -ENOMEM;
        if (*v == NULL && !keep(s, nv))
                return -ENOMEM;
        /* keep() holds the first pointer; a moved array replaces it there. */
        for (size_t i = 0; *v && i < s->n_allocs; i++)
                if (s->allocs[i] == (void *) *v)
                        s->allocs[i] = nv;
        *v = nv;
        nv[(*n)++] = p;
        return 0;
}

/* One property's variant of a basic type into *ret (string copies kept). */
static int read_variant(DbusStatus *s, sd_bus_message *m, char type, void *ret) {
        const char sig[2] = { type, 0 };
        int r;

        r = sd_bus_message_enter_container(m, 'v', sig);
        if (r < 0)
                return r;
        if (type == 's') {
                const char *v;
                r = sd_bus_message_read_basic(m, 's', &v);
                if (r >= 0 && !(*(char **) ret = keep_str(s, v)))
                        r = -ENOMEM;
        } else if (type == 'b') {
                int b;
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r >= 0)
                        *(bool *) ret = b;
        } else
                r = sd_bus_message_read_basic(m, type, ret);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_proxies(DbusStatus *s, sd_bus_message *m, Gw__ProfileStatus *ps) {
        int r;

        r = sd_bus_message_enter_container(m, 'v', "a(sssstta{st})");
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'a', "(sssstta{st})");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'r', "sssstta{st}")) > 0) {
                Gw__ProxyEntryStatus *e = keep(s, calloc(1, sizeof *e));
                Gw__ProxyCounters *c = keep(s, calloc(1, sizeof *c));
                const char *address, *role, *state, *reason, *key;
                uint64_t failed_at, held_until, v;

                if (!e || !c)
                        return -ENOMEM;
                gw__proxy_entry_status__init(e);
                gw__proxy_counters__init(c);
                r = sd_bus_message_read(m, "sssstt", &address, &role, &state, &reason, &failed_at, &held_until);
                if (r < 0)
                        return r;
                e->address = keep_str(s, address);
                e->last_failure_reason = *reason ? keep_str(s, reason) : NULL;
                if (!e->address || (*reason && !e->last_failure_reason))
                        return -ENOMEM;
                e->role = word_index(role_words, ELEMENTSOF(role_words), role, 0);
                e->state = word_index(health_words, ELEMENTSOF(health_words), state, 0);
                e->has_last_failure_real_us = failed_at > 0;
                e->last_failure_real_us = failed_at;
                e->has_held_until_real_us = held_until > 0;
                e->held_until_real_us = held_until;
                r = sd_bus_message_enter_container(m, 'a', "{st}");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_read(m, "{st}", &key, &v)) > 0) {
                        if (streq(key, "sent"))
                                c->sent = v;
                        else if (streq(key, "timeouts"))
                                c->timeouts = v;
                        else if (streq(key, "r408"))
                                c->r408 = v;
                        else if (streq(key, "r503"))
                                c->r503 = v;
                        else if (streq(key, "transport_errors"))
                                c->transport_errors = v;
                        else if (streq(key, "failovers"))
                                c->failovers = v;
                }
                if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
                c->has_sent = c->has_timeouts = c->has_r408 = c->has_r503 = true;
                c->has_transport_errors = c->has_failovers = true;
                e->counters = c;
                r = push(s, (void ***) &ps->proxies, &ps->n_proxies, e);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_line(DbusStatus *s, sd_bus_message *m, uint64_t now) {
        Gw__LineStatus *ls = keep(s, calloc(1, sizeof *ls));
        char *registration = NULL;
        uint64_t expires = 0;
        const char *name;
        int r;

        if (!ls)
                return -ENOMEM;
        gw__line_status__init(ls);
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                if (streq(name, "Port"))
                        r = read_variant(s, m, 'u', &ls->port);
                else if (streq(name, "Number"))
                        r = read_variant(s, m, 's', &ls->number);
                else if (streq(name, "Registration"))
                        r = read_variant(s, m, 's', &registration);
                else if (streq(name, "Reason"))
                        r = read_variant(s, m, 's', &ls->reason);
                else if (streq(name, "RegisteredVia"))
                        r = read_variant(s, m, 's', &ls->registered_via);
                else if (streq(name, "Expires"))
                        r = read_variant(s, m, 't', &expires);
                else if (streq(name, "Profile"))
                        r = read_variant(s, m, 's', &ls->profile);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        ls->registration = word_index(reg_words, ELEMENTSOF(reg_words), strempty(registration), 0);
        /* As regd answers: seconds left while registered, else unknown. */
        ls->has_expires_in_s = true;
        ls->expires_in_s = -1;
        if (ls->registration == GW__REG_STATE__REG_REGISTERED && expires > 0)
                ls->expires_in_s = expires > now ? (int64_t) ((expires - now) / USEC_PER_SEC) : 0;
        if (!ls->number)
                ls->number = keep_str(s, "");
        return push(s, (void ***) &s->regd.lines, &s->regd.n_lines, ls);
}

static int read_profile(DbusStatus *s, sd_bus_message *m) {
        Gw__ProfileStatus *ps = keep(s, calloc(1, sizeof *ps));
        const char *name;
        int r;

        if (!ps)
                return -ENOMEM;
        gw__profile_status__init(ps);
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                if (streq(name, "Name"))
                        r = read_variant(s, m, 's', &ps->name);
                else if (streq(name, "ActiveProxy"))
                        r = read_variant(s, m, 's', &ps->active_proxy);
                else if (streq(name, "ActiveTarget"))
                        r = read_variant(s, m, 's', &ps->active_target);
                else if (streq(name, "Searching")) {
                        r = read_variant(s, m, 'b', &ps->searching);
                        ps->has_searching = true;
                } else if (streq(name, "SearchCycles")) {
                        r = read_variant(s, m, 'u', &ps->search_cycles);
                        ps->has_search_cycles = true;
                } else if (streq(name, "Proxies"))
                        r = read_proxies(s, m, ps);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!ps->name)
                ps->name = keep_str(s, "");
        return push(s, (void ***) &s->regd.profiles, &s->regd.n_profiles, ps);
}

static int read_service(DbusStatus *s, sd_bus_message *m) {
        Gw__ServiceState *ss = keep(s, calloc(1, sizeof *ss));
        char *service = NULL, *state = NULL;
        uint32_t pid = 0;
        const char *name;
        int r;

        if (!ss)
                return -ENOMEM;
        gw__service_state__init(ss);
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                if (streq(name, "Name"))
                        r = read_variant(s, m, 's', &service);
                else if (streq(name, "State"))
                        r = read_variant(s, m, 's', &state);
                else if (streq(name, "PID"))
                        r = read_variant(s, m, 'u', &pid);
                else if (streq(name, "Restarts")) {
                        r = read_variant(s, m, 'u', &ss->restarts);
                        ss->has_restarts = true;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        ss->service = gw_service_from_string(strempty(service));
        /* "unknown" (not heard yet) has no word in the status: it is not running. */
        ss->state = word_index(run_words, ELEMENTSOF(run_words), strempty(state),
                               GW__SERVICE_RUN_STATE__RUN_STATE_STOPPED);
        ss->has_pid = pid > 0;
        ss->pid = (int32_t) pid;
        return push(s, (void ***) &s->services.services, &s->services.n_services, ss);
}

/* a{oa{sa{sv}}} of GetManagedObjects. */
static int read_objects(DbusStatus *s, sd_bus_message *m) {
        uint64_t now = now_usec(CLOCK_REALTIME);
        const char *path, *iface;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
                r = sd_bus_message_read_basic(m, 'o', &path);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                        r = sd_bus_message_read_basic(m, 's', &iface);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_enter_container(m, 'a', "{sv}");
                        if (r < 0)
                                return r;
                        if (streq(iface, "org.fxsgw.Gateway1.Line"))
                                r = read_line(s, m, now);
                        else if (streq(iface, "org.fxsgw.Gateway1.Profile"))
                                r = read_profile(s, m);
                        else if (streq(iface, "org.fxsgw.Gateway1.Service"))
                                r = read_service(s, m);
                        else
                                while ((r = sd_bus_message_skip(m, "{sv}")) > 0)
                                        ;
                        if (r < 0)
                                return r;
                        if ((r = sd_bus_message_exit_container(m)) < 0 ||
                            (r = sd_bus_message_exit_container(m)) < 0)
                                return r;
                }
                if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0 ||
                    (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int cmp_line(const void *a, const void *b) {
        const Gw__LineStatus *x = *(Gw__LineStatus *const *) a, *y = *(Gw__LineStatus *const *) b;
        return x->port < y->port ? -1 : x->port > y->port;
}

static int cmp_service(const void *a, const void *b) {
        const Gw__ServiceState *x = *(Gw__ServiceState *const *) a, *y = *(Gw__ServiceState *const *) b;
        return x->service < y->service ? -1 : x->service > y->service;
}

static int open_bus(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (streq(address, "system"))
                r = sd_bus_open_system(&bus);
        else {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                if ((r = sd_bus_set_address(bus, address)) < 0 || (r = sd_bus_set_bus_client(bus, true)) < 0)
                        return r;
                r = sd_bus_start(bus);
        }
        if (r < 0)
                return r;
        r = sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_USEC);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int dbus_status_read(const GwConf *c, DbusStatus **ret, const Gw__StatusReply **ret_services,
                     const Gw__StatusReply **ret_regd) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(dbus_status_freep) DbusStatus *s = NULL;
        const char *address = c->dbus_address ? c->dbus_address : "system";
        int r;

        if (streq(address, "off"))
                return -ENOENT;
        if (open_bus(address, &bus) < 0)
                return -ENOENT;
        /* Nobody serving the API here (the gateway is not running, or predates it). */
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", API_BUS_NAME);
        if (r < 0)
                return -ENOENT;
        {
                int owned = 0;
                r = sd_bus_message_read(reply, "b", &owned);
                if (r < 0 || !owned)
                        return -ENOENT;
        }
        reply = sd_bus_message_unref(reply);
        r = sd_bus_call_method(bus, API_BUS_NAME, API_ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, NULL);
        if (r < 0)
                return r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        gw__status_reply__init(&s->services);
        gw__status_reply__init(&s->regd);
        r = read_objects(s, reply);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        if (s->regd.n_lines > 1)
                qsort(s->regd.lines, s->regd.n_lines, sizeof *s->regd.lines, cmp_line);
        if (s->services.n_services > 1)
                qsort(s->services.services, s->services.n_services, sizeof *s->services.services, cmp_service);
        *ret_services = &s->services;
        *ret_regd = &s->regd;
        *ret = TAKE_PTR(s);
        return 0;
}
