/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwctl-systemd.c: the daemons' systemd units as gwctl's list of services. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "gw-bus.h"
#include "gw-macro.h"
#include "gwctl-systemd.h"

static const Gw__Service daemons[] = {
        GW__SERVICE__SERVICE_SIGD, GW__SERVICE__SERVICE_REGD,
        GW__SERVICE__SERVICE_MEDIAD, GW__SERVICE__SERVICE_LINEHWD,
};

typedef struct UnitInfo {
        char active[32], sub[32];
        uint32_t main_pid, restarts;
} UnitInfo;

static int unit_info(sd_bus *bus, Gw__Service s, UnitInfo *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *active = NULL, *sub = NULL;
        char unit[64];
        int r;

        snprintf(unit, sizeof unit, "fxsgw-%s.service", gw_service_to_string(s));
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path);
        if (r < 0)
                return r;
        *ret = (UnitInfo) {};
        r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit",
                                       "ActiveState", &error, &active);
        if (r < 0)
                return r;
        r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit",
                                       "SubState", &error, &sub);
        if (r < 0)
                return r;
        snprintf(ret->active, sizeof ret->active, "%s", active);
        snprintf(ret->sub, sizeof ret->sub, "%s", sub);
        /* A unit never loaded has no Service interface: pid and restarts stay 0. */
        (void) sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", path,
                                           "org.freedesktop.systemd1.Service", "MainPID", &error, 'u',
                                           &ret->main_pid);
        (void) sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", path,
                                           "org.freedesktop.systemd1.Service", "NRestarts", &error, 'u',
                                           &ret->restarts);
        return 0;
}

static int open_bus(sd_bus **ret) {
        if (sd_booted() <= 0)
                return -ENOMEDIUM;
        return sd_bus_open_system(ret);
}

int gwctl_systemd_gateway_pid(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = open_bus(&bus);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(daemons); i++) {
                UnitInfo u;

                r = unit_info(bus, daemons[i], &u);
                if (r < 0)
                        return r;
                if (streq(u.active, "active") && u.main_pid > 0)
                        return (int) u.main_pid;
        }
        return 0;
}

/* systemd's states in gwsupd's words. */
static Gw__ServiceRunState run_state(const UnitInfo *u) {
        if (streq(u->active, "active") || streq(u->active, "reloading"))
                return GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING;
        if (streq(u->active, "activating"))
                return streq(u->sub, "auto-restart") || u->restarts > 0 ?
                       GW__SERVICE_RUN_STATE__RUN_STATE_RESTARTING : GW__SERVICE_RUN_STATE__RUN_STATE_STARTING;
        if (streq(u->active, "failed"))
                return GW__SERVICE_RUN_STATE__RUN_STATE_FAILED;
        return GW__SERVICE_RUN_STATE__RUN_STATE_STOPPED;
}

int gwctl_systemd_services(Gw__Envelope **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        Gw__Envelope *env = NULL;
        Gw__StatusReply *sr;
        int r;

        r = open_bus(&bus);
        if (r < 0)
                return r;
        /* Built with malloc, as protobuf-c's unpacker would: freed by free_unpacked. */
        env = malloc(sizeof *env);
        sr = malloc(sizeof *sr);
        if (!env || !sr) {
                free(env);
                free(sr);
                return -ENOMEM;
        }
        gw__envelope__init(env);
        gw__status_reply__init(sr);
        env->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        env->status_reply = sr;
        sr->services = calloc(ELEMENTSOF(daemons), sizeof *sr->services);
        if (!sr->services) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < ELEMENTSOF(daemons); i++) {
                Gw__ServiceState *ss;
                UnitInfo u;

                r = unit_info(bus, daemons[i], &u);
                if (r < 0)
                        goto fail;
                ss = malloc(sizeof *ss);
                if (!ss) {
                        r = -ENOMEM;
                        goto fail;
                }
                gw__service_state__init(ss);
                ss->service = daemons[i];
                ss->state = run_state(&u);
                ss->has_pid = u.main_pid > 0;
                ss->pid = (int32_t) u.main_pid;
                ss->has_restarts = true;
                ss->restarts = u.restarts;
                sr->services[sr->n_services++] = ss;
        }
        *ret = env;
        return 0;
fail:
        gw__envelope__free_unpacked(env, NULL);
        return r;
}
