/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-bus.h: sigd's bus glue: handler table, outcomes out, status on the control socket. */
#pragma once

#include "gw-bus.h"
#include "sigd-manager.h"

/* Install the handler table and control handler on bus, subscribe, and route
 * the manager's outcomes to the bus. */
int sigd_bus_attach(GwBus *bus, Manager *m);
