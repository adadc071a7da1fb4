/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-words.h: the words of the bus's states as operators see them, in gwctl's
 * text and JSON and on the D-Bus API (docs/TOOLS.md, docs/OPERATIONS.md): a
 * documented interface, so spelled out here once rather than derived from the
 * proto's enum names. Each returns NULL for a value it does not know. */
#pragma once

#include "gw.pb-c.h"

const char *gw_word_reg_state(Gw__RegState s);
const char *gw_word_call_state(Gw__CallState s);
const char *gw_word_hook(Gw__HookState h);
const char *gw_word_run_state(Gw__ServiceRunState s);
const char *gw_word_role(Gw__ProxyRole r);
const char *gw_word_health(Gw__ProxyHealth h);
