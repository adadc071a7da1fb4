/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-bus.c: regd's handler table and the callbacks that publish the manager's news. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "gw-log.h"
#include "regd-bus.h"
#include "regd-dbus.h"
#include "regd-manager.h"

/* ---------------------------------------------------------------- manager → bus */

typedef struct RegdGlue {
        GwBus *bus;
        GwDaemon *daemon;
        Api *api;                        /* the D-Bus API, NULL without one */
        unsigned last_n, last_registered;
        bool status_set;
        bool exit_when_unregistered;
} RegdGlue;

static int send_request(Manager *m, uint64_t cid, Gw__SipRequest *req, void *userdata) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        char key[16];

        snprintf(key, sizeof(key), "%u", req->line_port);
        env.has_correlation_id = true;
        env.correlation_id = cid;
        env.body_case = GW__ENVELOPE__BODY_SIP_REQUEST;
        env.sip_request = req;
        return gw_bus_publish_auto(((RegdGlue *) userdata)->bus, key, &env);
}

static uint64_t next_correlation_id(Manager *m, void *userdata) {
        return gw_bus_next_correlation_id(((RegdGlue *) userdata)->bus);
}

static void line_changed(Manager *m, Line *l, void *userdata) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineRegistration lr;
        char key[16];

        line_registration_fill(l, &lr);
        snprintf(key, sizeof(key), "%u", l->port);
        env.body_case = GW__ENVELOPE__BODY_LINE_REGISTRATION;
        env.line_registration = &lr;
        (void) gw_bus_publish_auto(((RegdGlue *) userdata)->bus, key, &env);
        api_line_registration(((RegdGlue *) userdata)->api, &lr);
}

static void profile_changed(Manager *m, Profile *p, void *userdata) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        ProfileStatusStorage storage;
        Gw__ProfileStatus ps;

        profile_status_fill(p, &storage, &ps);
        env.body_case = GW__ENVELOPE__BODY_PROFILE_STATUS;
        env.profile_status = &ps;
        (void) gw_bus_publish_auto(((RegdGlue *) userdata)->bus, p->name, &env);
        api_profile_status(((RegdGlue *) userdata)->api, &ps);
}

static void proxy_switched(Manager *m, Profile *p, size_t from, size_t to, const char *reason, void *userdata) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ProxySwitch ps = GW__PROXY_SWITCH__INIT;
        char target[REGD_TARGET_MAX] = "", why[16];

        (void) resolve_entry_target(p, to, target, sizeof(target));
        snprintf(why, sizeof(why), "%s", strempty(reason));
        ps.profile = p->name;
        ps.from_proxy = p->proxies[from]->hp.text;
        ps.to_proxy = p->proxies[to]->hp.text;
        ps.reason = why;
        ps.to_target = target;
        env.body_case = GW__ENVELOPE__BODY_PROXY_SWITCH;
        env.proxy_switch = &ps;
        (void) gw_bus_publish_auto(((RegdGlue *) userdata)->bus, p->name, &env);
        api_proxy_switched(((RegdGlue *) userdata)->api, ps.profile, ps.from_proxy, ps.to_proxy, ps.reason);
}

static void unregister_done(Manager *m, unsigned lines, unsigned confirmed, void *userdata) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__UnregisterDone ud = GW__UNREGISTER_DONE__INIT;

        ud.has_lines = ud.has_confirmed = true;
        ud.lines = lines;
        ud.confirmed = confirmed;
        env.body_case = GW__ENVELOPE__BODY_UNREGISTER_DONE;
        env.unregister_done = &ud;
        (void) gw_bus_publish_auto(((RegdGlue *) userdata)->bus, NULL, &env);
        if (((RegdGlue *) userdata)->exit_when_unregistered && ((RegdGlue *) userdata)->daemon)
                (void) sd_event_exit(((RegdGlue *) userdata)->daemon->event, 0);
}

static void flushed(Manager *m, void *userdata) {
        RegdGlue *g = userdata;
        unsigned n, k;

        if (!g->daemon)
                return;
        manager_count(m, &n, &k);
        if (g->status_set && n == g->last_n && k == g->last_registered)
                return;
        g->status_set = true;
        g->last_n = n;
        g->last_registered = k;
        gw_daemon_status(g->daemon, "%u/%u lines registered", k, n);
}

/* ---------------------------------------------------------------- bus → manager */

static int handle_outcome(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        if (!env->sip_request_outcome)
                return -EBADMSG;
        if (!env->has_correlation_id)
                return -EBADMSG;
        return manager_handle_outcome(userdata, env->correlation_id, env->sip_request_outcome);
}

static int handle_state_sync(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        manager_publish_all(userdata);
        return 0;
}

static RegdGlue glue;

static int handle_gateway_stopping(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        if (!env->gateway_stopping)
                return -EBADMSG;
        api_gateway_stopping(glue.api);
        return manager_gateway_stopping(userdata, env->gateway_stopping->deadline_ms);
}

/* What one of sigd's INVITEs learnt about an entry: regd decides. */
static int handle_entry_report(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        if (!env->entry_report)
                return -EBADMSG;
        return manager_entry_report(userdata, env->entry_report);
}

/* sigd's heartbeat and its answer to our StateSyncRequest: the bus reports its
 * instance to on_peer() before this runs. With the D-Bus API, every daemon's
 * and gwsupd's reports about its children feed the service objects. */
static int handle_service_state(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        if (env->service_state)
                api_service_state(glue.api, env->source, env->service_state);
        return 0;
}

/* The D-Bus API's view of the lines (hook, call), and gwsupd's answer to a restart. */
static int handle_line_hw_state(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        if (!env->line_hw_state)
                return -EBADMSG;
        api_line_hw(glue.api, env->line_hw_state);
        return 0;
}

static int handle_line_call(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        if (!env->line_call)
                return -EBADMSG;
        api_line_call(glue.api, env->line_call);
        return 0;
}

static int handle_service_restart_reply(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        if (!env->service_restart_reply || !env->has_correlation_id)
                return -EBADMSG;
        api_service_restart_reply(glue.api, env->correlation_id, env->service_restart_reply);
        return 0;
}

static const GwBusHandler regd_handlers[] = {
        [GW__ENVELOPE__BODY_SERVICE_STATE] = {
                "ServiceState", handle_service_state, GW_SRC_DAEMONS },
        [GW__ENVELOPE__BODY_SIP_REQUEST_OUTCOME] = {
                "SipRequestOutcome", handle_outcome, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
        [GW__ENVELOPE__BODY_STATE_SYNC_REQUEST] = {
                "StateSyncRequest", handle_state_sync, GW_SRC_DAEMONS },
        [GW__ENVELOPE__BODY_ENTRY_REPORT] = {
                "EntryReport", handle_entry_report, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
        /* Only the supervisor may stop the gateway. */
        [GW__ENVELOPE__BODY_GATEWAY_STOPPING] = {
                "GatewayStopping", handle_gateway_stopping, GW_SERVICE_BIT(GW__SERVICE__SERVICE_GWSUPD) },
        /* Subscribed only with the D-Bus API (regd_bus_attach_api). */
        [GW__ENVELOPE__BODY_LINE_HW_STATE] = {
                "LineHwState", handle_line_hw_state, GW_SERVICE_BIT(GW__SERVICE__SERVICE_LINEHWD) },
        [GW__ENVELOPE__BODY_LINE_CALL] = {
                "LineCall", handle_line_call, GW_SERVICE_BIT(GW__SERVICE__SERVICE_SIGD) },
        [GW__ENVELOPE__BODY_SERVICE_RESTART_REPLY] = {
                "ServiceRestartReply", handle_service_restart_reply, GW_SERVICE_BIT(GW__SERVICE__SERVICE_GWSUPD) },
};

static void on_peer(GwBus *bus, Gw__Service peer, uint64_t instance_id, void *userdata) {
        if (peer != GW__SERVICE__SERVICE_SIGD)
                return;
        log_debug("sigd instance %016" PRIx64 " seen.", instance_id);
        manager_sigd_seen(userdata);
}

/* ---------------------------------------------------------------- control socket */

static int on_ctl(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        void *storage = NULL;
        int r;

        if (req->body_case != GW__ENVELOPE__BODY_STATUS_REQUEST)
                return -EOPNOTSUPP;

        r = gw_bus_status_reply_new(bus, reply);
        if (r < 0)
                return r;
        r = manager_status_fill(userdata, reply->status_reply, &storage);
        if (r < 0) {
                (void) gw_bus_status_reply_free(reply);
                return r;
        }
        gw_bus_status_reply_own(reply, storage);
        return 0;
}

static void on_ctl_free(Gw__Envelope *reply, void *userdata) {
        (void) gw_bus_status_reply_free(reply);
}

/* A reload (gw-daemon.h): the manager applies the difference. */
static int apply_reload(GwConf *conf, GwTonePlan *plan, GwReloadChanges *ch, void *userdata) {
        Manager *m = userdata;
        ManagerReloadCounts n;
        int r;

        r = manager_reload(m, conf, &n);
        if (r < 0)
                return r;
        /* The D-Bus objects point into the configuration: onto the new one before
         * gw-daemon frees the old (lines and profiles added or removed). */
        api_config_applied(glue.api, conf);
        ch->lines_added = n.lines_added;
        ch->lines_removed = n.lines_removed;
        ch->lines_changed = n.lines_changed;
        ch->changed = n.lines_added || n.lines_removed || n.lines_changed || n.profiles_added ||
                      n.profiles_removed || n.profiles_changed;
        snprintf(ch->summary, sizeof ch->summary,
                 "lines +%u -%u ~%u, profiles +%u -%u, entry lists changed %u; %zu line(s) un-REGISTERing",
                 n.lines_added, n.lines_removed, n.lines_changed, n.profiles_added, n.profiles_removed,
                 n.profiles_changed, m->n_retiring);
        return 0;
}

void regd_bus_exit_when_unregistered(void) {
        glue.exit_when_unregistered = true;
}

int regd_bus_attach(Manager *m, GwBus *bus, GwDaemon *d) {
        static const char *const topics[] = {
                "SipRequestOutcome", "StateSyncRequest", "GatewayStopping", "EntryReport",
                "ServiceState/sigd",    /* to see sigd (and a new instance of it) early */
        };
        const ManagerCallbacks cb = {
                .send_request = send_request,
                .next_correlation_id = next_correlation_id,
                .line_changed = line_changed,
                .profile_changed = profile_changed,
                .unregister_done = unregister_done,
                .proxy_switched = proxy_switched,
                .flushed = flushed,
        };
        int r;

        assert(m);
        assert(bus);

        /* One manager per process: the glue's state can live here. */
        glue = (RegdGlue) { .bus = bus, .daemon = d };
        manager_set_callbacks(m, &cb, &glue);
        r = manager_hold_until_sigd(m, REGD_SIGD_SETTLE_USEC, REGD_SIGD_MAX_WAIT_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the wait for sigd: %m");
        gw_bus_set_handlers(bus, regd_handlers, ELEMENTSOF(regd_handlers), m);
        gw_bus_set_ctl_handler(bus, on_ctl, on_ctl_free, m);
        gw_bus_set_peer_callback(bus, on_peer, m);
        if (d)
                gw_daemon_set_reload(d, apply_reload, m);

        for (size_t i = 0; i < ELEMENTSOF(topics); i++) {
                r = gw_bus_subscribe(bus, topics[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to '%s': %m", topics[i]);
        }
        return 0;
}

int regd_bus_attach_api(Manager *m, GwBus *bus, Api *api) {
        int r;

        glue.api = api;
        if (!api)
                return 0;
        for (size_t i = 0; api_bus_topics[i]; i++) {
                r = gw_bus_subscribe(bus, api_bus_topics[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to '%s': %m", api_bus_topics[i]);
        }
        /* What the manager has now (the state file's registrations); news follow. */
        for (size_t i = 0; i < m->n_lines; i++) {
                Gw__LineRegistration lr;

                line_registration_fill(m->lines[i], &lr);
                api_line_registration(api, &lr);
        }
        for (size_t i = 0; i < m->n_profiles; i++) {
                ProfileStatusStorage storage;
                Gw__ProfileStatus ps;

                profile_status_fill(m->profiles[i], &storage, &ps);
                api_profile_status(api, &ps);
        }
        return 0;
}
