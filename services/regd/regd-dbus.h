/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-dbus.h: the D-Bus management API org.fxsgw.Gateway1, served by regd (sd-bus).
 *
 * Objects (docs/OPERATIONS.md "D-Bus API", the XML in docs/dbus/):
 *   /org/fxsgw/Gateway1                 org.fxsgw.Gateway1.Manager: Version, State,
 *                                       Reload(), RestartService(s), ProxySwitched
 *   /org/fxsgw/Gateway1/line/<port>     org.fxsgw.Gateway1.Line
 *   /org/fxsgw/Gateway1/profile/<name>  org.fxsgw.Gateway1.Profile (sd_bus_path_encode)
 *   /org/fxsgw/Gateway1/service/<name>  org.fxsgw.Gateway1.Service
 * plus org.freedesktop.DBus.ObjectManager on the root (gwctl reads everything
 * with one GetManagedObjects).
 *
 * What it shows comes from the project bus (regd-dbus-model.h); what it does
 * goes back over it: RestartService() to gwsupd (ServiceRestartRequest) or to
 * systemd (RestartUnit) when the daemons are units, Reload() the way gwctl
 * reload and SIGHUP go (gw-reload.h). No D-Bus reachable: regd runs on without the API
 * (logged once). Everything runs on regd's sd-event loop; nothing blocks it. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "gw-daemon.h"
#include "gw.pb-c.h"

#define API_BUS_NAME        "org.fxsgw.Gateway1"
#define API_MANAGER_IFACE   "org.fxsgw.Gateway1.Manager"
#define API_LINE_IFACE      "org.fxsgw.Gateway1.Line"
#define API_PROFILE_IFACE   "org.fxsgw.Gateway1.Profile"
#define API_SERVICE_IFACE   "org.fxsgw.Gateway1.Service"

#define API_ERROR_INVALID_CONFIG "org.fxsgw.Gateway1.Error.InvalidConfiguration"
#define API_ERROR_RELOAD_FAILED  "org.fxsgw.Gateway1.Error.ReloadFailed"
#define API_ERROR_NO_SUPERVISOR  "org.fxsgw.Gateway1.Error.NoSupervisor"
#define API_ERROR_RESTART_FAILED "org.fxsgw.Gateway1.Error.RestartFailed"
#define API_ERROR_BUSY           "org.fxsgw.Gateway1.Error.Busy"
#define API_ERROR_TIMEOUT        "org.fxsgw.Gateway1.Error.Timeout"

#define API_ANSWER_TIMEOUT_USEC  (5 * USEC_PER_SEC)   /* gwsupd's, systemd's, the daemons' answers */

typedef struct Api Api;

/* Connect to the bus of dbus.address, publish the objects, ask for the name.
 * *ret is NULL (and 0 returned) when the API is off or no bus is reachable. */
int api_new(GwDaemon *d, Api **ret);
Api *api_free(Api *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Api *, api_free);

/* The topics of the project bus the API needs (regd subscribes to them). */
extern const char *const api_bus_topics[];

/* News from the project bus (and from regd's own manager). NULL 'a': nothing. */
void api_line_registration(Api *a, const Gw__LineRegistration *lr);
void api_profile_status(Api *a, const Gw__ProfileStatus *ps);
void api_line_hw(Api *a, const Gw__LineHwState *hw);
void api_line_call(Api *a, const Gw__LineCall *lc);
void api_service_state(Api *a, Gw__Service source, const Gw__ServiceState *ss);
void api_proxy_switched(Api *a, const char *profile, const char *from, const char *to, const char *reason);
void api_gateway_stopping(Api *a);
/* gwsupd's answer to RestartService(), matched by correlation id; unknown ids are ignored. */
void api_service_restart_reply(Api *a, uint64_t cid, const Gw__ServiceRestartReply *r);
/* A reload was applied (however it was asked: regd's reload apply calls this; the
 * D-Bus Reload() too): lines and profiles added or removed get or lose their
 * objects (InterfacesAdded/InterfacesRemoved). */
void api_config_applied(Api *a, const GwConf *conf);
