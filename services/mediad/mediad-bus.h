/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-bus.h: mediad's bus handlers, control socket and data-plane glue. */
#pragma once

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-pcm.h"
#include "mediad-manager.h"

int mediad_bus_attach(Manager *m, GwBus *bus, GwPcm *pcm, GwDaemon *d);
/* The GwPcm handler: an up frame from linehwd. userdata: the Manager. */
void mediad_on_frame(GwPcm *p, const GwPcmFrame *f, void *userdata);
