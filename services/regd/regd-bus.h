/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-bus.h: glue between regd's manager and the bus. */
#pragma once

#include "gw-bus.h"
#include "gw-daemon.h"
#include "regd-forward.h"

/* Install regd's handler table, control handler, peer callback and
 * subscriptions on bus, and the manager's callbacks that publish on it.
 * d (may be NULL) gets STATUS= updates ("3/4 lines registered"). */
int regd_bus_attach(Manager *m, GwBus *bus, GwDaemon *d);
/* End d's event loop once the un-REGISTERs of a stop are done (UnregisterDone). */
void regd_bus_exit_when_unregistered(void);

typedef struct Api Api;
/* Feed the D-Bus API (regd-dbus.h; NULL: none) with the manager's news and the
 * bus messages it needs (subscribed here), starting with the manager's state now. */
int regd_bus_attach_api(Manager *m, GwBus *bus, Api *api);
