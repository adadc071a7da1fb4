/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwctl-dbus.h: 'gwctl status' from the D-Bus management API (org.fxsgw.Gateway1).
 *
 * One GetManagedObjects call on the API's root returns every line, profile and
 * service; they are turned into the same StatusReply messages the control
 * sockets answer with, so the output (text and JSON) is the same either way. */
#pragma once

#include "gw-conf.h"
#include "gw.pb-c.h"

typedef struct DbusStatus DbusStatus;

/* Read the API on the bus of c->dbus_address. -ENOENT when it is off, the bus
 * absent or nobody owns org.fxsgw.Gateway1 (the caller falls back to the
 * control sockets); another negative errno on a failed call. On success
 * *ret_services holds ServiceStates (as gwsupd answers), *ret_regd profiles and
 * lines (as regd answers), both valid until dbus_status_free(*ret). */
int dbus_status_read(const GwConf *c, DbusStatus **ret, const Gw__StatusReply **ret_services,
                     const Gw__StatusReply **ret_regd);
DbusStatus *dbus_status_free(DbusStatus *s);
