/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-words.c: the words of the bus's states (gw-words.h). */
#include "gw-macro.h"
#include "gw-words.h"

static const char *const reg_state_table[] = {
        [GW__REG_STATE__REG_UNREGISTERED] = "unregistered",
        [GW__REG_STATE__REG_REGISTERING] = "registering",
        [GW__REG_STATE__REG_REGISTERED] = "registered",
        [GW__REG_STATE__REG_FAILED] = "failed",
};

static const char *const call_state_table[] = {
        [GW__CALL_STATE__CALL_IDLE] = "idle",
        [GW__CALL_STATE__CALL_DIALING] = "dialing",
        [GW__CALL_STATE__CALL_PROCEEDING] = "proceeding",
        [GW__CALL_STATE__CALL_RINGBACK] = "ringback",
        [GW__CALL_STATE__CALL_RINGING] = "ringing",
        [GW__CALL_STATE__CALL_CONNECTED] = "connected",
        [GW__CALL_STATE__CALL_RELEASING] = "releasing",
};

static const char *const hook_table[] = {
        [GW__HOOK_STATE__HOOK_ON] = "on",
        [GW__HOOK_STATE__HOOK_OFF] = "off",
};

static const char *const run_state_table[] = {
        [GW__SERVICE_RUN_STATE__RUN_STATE_STARTING] = "starting",
        [GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING] = "running",
        [GW__SERVICE_RUN_STATE__RUN_STATE_RESTARTING] = "restarting",
        [GW__SERVICE_RUN_STATE__RUN_STATE_FAILED] = "failed",
        [GW__SERVICE_RUN_STATE__RUN_STATE_STOPPED] = "stopped",
};

static const char *const role_table[] = {
        [GW__PROXY_ROLE__ROLE_MAIN] = "main",
        [GW__PROXY_ROLE__ROLE_REDUNDANT] = "redundant",
};

static const char *const health_table[] = {
        [GW__PROXY_HEALTH__HEALTH_UNKNOWN] = "unknown",
        [GW__PROXY_HEALTH__HEALTH_UP] = "up",
        [GW__PROXY_HEALTH__HEALTH_DOWN] = "down",
};

#define WORD(table, v) ((unsigned) (v) < ELEMENTSOF(table) ? (table)[(v)] : NULL)

const char *gw_word_reg_state(Gw__RegState s) { return WORD(reg_state_table, s); }
const char *gw_word_call_state(Gw__CallState s) { return WORD(call_state_table, s); }
const char *gw_word_hook(Gw__HookState h) { return WORD(hook_table, h); }
const char *gw_word_run_state(Gw__ServiceRunState s) { return WORD(run_state_table, s); }
const char *gw_word_role(Gw__ProxyRole r) { return WORD(role_table, r); }
const char *gw_word_health(Gw__ProxyHealth h) { return WORD(health_table, h); }
