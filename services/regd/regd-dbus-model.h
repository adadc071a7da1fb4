/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-dbus-model.h: what the D-Bus API shows, as data: lines, profiles, services, the gateway.
 *
 * Fed with the project bus's messages (LineRegistration, LineHwState, LineCall,
 * ProfileStatus, ServiceState) and nothing else: no sd-bus, no clock, no I/O,
 * so the mapping from the bus's enums to the API's words is tested by tables
 * (test-regd-dbus-model.c). Every update returns the mask of the properties it
 * changed, which regd-dbus.c turns into one PropertiesChanged signal.
 *
 * Strings are never NULL once the model is built ("" for none): the getters
 * hand them to sd-bus as they are. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gw-conf.h"
#include "gw.pb-c.h"

/* Properties of org.fxsgw.Gateway1.Line, as bits of a change mask. */
typedef enum LineProp {
        LINE_PROP_NUMBER        = 1 << 0,
        LINE_PROP_REGISTRATION  = 1 << 1,
        LINE_PROP_REGISTERED_VIA = 1 << 2,
        LINE_PROP_EXPIRES       = 1 << 3,
        LINE_PROP_HOOK          = 1 << 4,
        LINE_PROP_CALL_STATE    = 1 << 5,
        LINE_PROP_REMOTE        = 1 << 6,
        LINE_PROP_REASON        = 1 << 7,
        LINE_PROP_PROFILE       = 1 << 8,
} LineProp;

typedef enum ProfileProp {
        PROFILE_PROP_ACTIVE_PROXY  = 1 << 0,
        PROFILE_PROP_ACTIVE_TARGET = 1 << 1,
        PROFILE_PROP_SEARCHING     = 1 << 2,
        PROFILE_PROP_SEARCH_CYCLES = 1 << 3,
        PROFILE_PROP_PROXIES       = 1 << 4,
} ProfileProp;

typedef enum ServiceProp {
        SERVICE_PROP_STATE    = 1 << 0,
        SERVICE_PROP_PID      = 1 << 1,
        SERVICE_PROP_RESTARTS = 1 << 2,
} ServiceProp;

/* Names of the properties in mask order, NULL-terminated; for PropertiesChanged. */
extern const char *const line_prop_names[];
extern const char *const profile_prop_names[];
extern const char *const service_prop_names[];

typedef struct ApiLine {
        uint32_t port;
        char *path;                      /* /org/fxsgw/Gateway1/line/<port> */
        char *number;
        char *profile;
        const char *registration;        /* static: "unregistered" ... */
        char *reason;
        char *registered_via;
        uint64_t expires_usec;           /* CLOCK_REALTIME µs the registration ends; 0 none */
        const char *hook;                /* "on", "off", "unknown" until linehwd is heard */
        const char *call_state;          /* "idle" ... */
        char *remote;
} ApiLine;

typedef struct ApiProxy {
        char *address;
        const char *role;                /* "main", "redundant" */
        const char *state;               /* "unknown", "up", "down" */
        char *last_failure_reason;
        uint64_t last_failure_usec;      /* CLOCK_REALTIME µs; 0 none */
        uint64_t held_until_usec;        /* 503 Retry-After; 0 none */
        uint64_t sent, timeouts, r408, r503, transport_errors, failovers;
} ApiProxy;

typedef struct ApiProfile {
        char *name;
        char *path;                      /* sd_bus_path_encode("/org/fxsgw/Gateway1/profile", name) */
        char *active_proxy;
        char *active_target;
        bool searching;
        uint32_t search_cycles;
        ApiProxy *proxies;
        size_t n_proxies;
} ApiProfile;

/* The daemons with an object: sigd, regd, mediad, linehwd. */
#define API_SERVICES_MAX 4

typedef struct ApiService {
        Gw__Service service;
        const char *name;                /* "sigd" */
        char *path;                      /* /org/fxsgw/Gateway1/service/<name> */
        const char *state;               /* "unknown" until heard, then ServiceState's words */
        uint32_t pid;
        uint32_t restarts;
        uint64_t instance_id;            /* its bus instance, when it reported itself */
} ApiService;

typedef struct ApiModel {
        ApiLine *lines;                  /* in port order, from the configuration */
        size_t n_lines;
        ApiProfile *profiles;            /* in configuration order */
        size_t n_profiles;
        ApiService services[API_SERVICES_MAX];
        bool stopping;                   /* GatewayStopping seen */
        bool all_seen_running;           /* every daemon was running once */
        const char *state;               /* Manager.State: "starting", "running", "degraded", "stopping" */
} ApiModel;

#define API_ROOT_PATH     "/org/fxsgw/Gateway1"
#define API_LINE_PREFIX   API_ROOT_PATH "/line"
#define API_PROFILE_PREFIX API_ROOT_PATH "/profile"
#define API_SERVICE_PREFIX API_ROOT_PATH "/service"

/* One object per configured line and profile, the four daemons unknown. -ENOMEM. */
int api_model_init(ApiModel *m, const GwConf *c);
void api_model_done(ApiModel *m);

ApiLine *api_model_line(ApiModel *m, uint32_t port);
ApiProfile *api_model_profile(ApiModel *m, const char *name);
ApiProfile *api_model_profile_by_path(ApiModel *m, const char *path);
ApiService *api_model_service(ApiModel *m, Gw__Service s);
ApiService *api_model_service_by_name(ApiModel *m, const char *name);

/* Each returns the LineProp/ProfileProp/ServiceProp bits it changed (0: none, or
 * not a configured line/profile/daemon), or -ENOMEM. 'l'/'p'/'s' get the object changed. */
int api_model_line_registration(ApiModel *m, const Gw__LineRegistration *lr, ApiLine **ret);
int api_model_line_hw(ApiModel *m, const Gw__LineHwState *hw, ApiLine **ret);
int api_model_line_call(ApiModel *m, const Gw__LineCall *lc, ApiLine **ret);
int api_model_profile_status(ApiModel *m, const Gw__ProfileStatus *ps, ApiProfile **ret);
/* 'source' is the sender: gwsupd speaks for its children (state, pid, restarts),
 * a daemon for itself (state, pid, instance; its restarts are not its to know). */
int api_model_service_state(ApiModel *m, Gw__Service source, const Gw__ServiceState *ss, ApiService **ret);
/* Restarts as systemd counts them (NRestarts) when the daemons are units. */
int api_model_service_restarts(ApiModel *m, Gw__Service s, uint32_t restarts, ApiService **ret);

/* After a reload: the lines and profiles become those of 'c'. An object kept (same
 * port, same profile name) keeps its state; the paths of the objects that
 * appeared and went are returned in NULL-terminated arrays (free each string
 * and the array). -ENOMEM leaves the model as it was. */
int api_model_reconfigure(ApiModel *m, const GwConf *c, char ***ret_added, char ***ret_removed);
void api_paths_free(char **paths);

/* Recompute Manager.State; true if it changed. */
bool api_model_update_state(ApiModel *m);

/* The API's words for the bus's enums ("unknown" for a value not in the table). */
const char *api_reg_state_to_string(Gw__RegState s);
const char *api_call_state_to_string(Gw__CallState s);
const char *api_hook_to_string(Gw__HookState h);
const char *api_run_state_to_string(Gw__ServiceRunState s);
const char *api_role_to_string(Gw__ProxyRole r);
const char *api_health_to_string(Gw__ProxyHealth h);
