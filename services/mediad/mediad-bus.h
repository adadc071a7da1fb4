/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-bus.h: mediad's bus handlers, control socket and data-plane glue. */
#pragma once

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-pcm.h"
#include "mediad-manager.h"

/* Where down frames go: the data plane in mediad (gw_pcm_send), a capture in tests. */
typedef void (*mediad_frame_sink_t)(const GwPcmFrame *f, void *userdata);

int mediad_bus_attach(Manager *m, GwBus *bus, mediad_frame_sink_t sink, void *sink_userdata, GwDaemon *d);
/* The GwPcm handler: an up frame from linehwd. userdata: the Manager. */
void mediad_on_frame(GwPcm *p, const GwPcmFrame *f, void *userdata);
