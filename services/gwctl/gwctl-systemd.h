/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwctl-systemd.h: the gateway under fxsgw.target, where no gwsupd runs: the
 * daemons' units, read from systemd over the system bus, stand in for gwsupd's
 * list of services. */
#pragma once

#include "gw.pb-c.h"

/* > 0: the main pid of one of the daemons' units that is active (the gateway
 * runs under systemd's units); 0: none is; < 0: systemd could not be asked. */
int gwctl_systemd_gateway_pid(void);

/* A StatusReply (in an Envelope, as gwsupd's) listing sigd, regd, mediad and
 * linehwd with their units' state, main pid and restarts. Free it with
 * gw__envelope__free_unpacked(*ret, NULL). */
int gwctl_systemd_services(Gw__Envelope **ret);
