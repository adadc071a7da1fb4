/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-manager.h: the supervisor: its children, the notify socket, the bus side, the stop sequence. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "gw-bus.h"
#include "gw-conf.h"
#include "gwsupd-child.h"
#include "gwsupd-forward.h"

#define MANAGER_STATE_INTERVAL_USEC     (5 * USEC_PER_SEC)     /* ServiceState heartbeat */
#define MANAGER_UNREGISTER_WAIT_MS      1500                   /* GatewayStopping.deadline_ms */
#define MANAGER_STOP_KILL_USEC          (2 * USEC_PER_SEC)     /* SIGKILL whatever is left by then */
#define MANAGER_CHILDREN_MAX            16

/* One row of the child table: which daemon, and how it is restarted. */
typedef struct ChildSpec {
        const char *name;
        Gw__Service service;
        RestartPolicy restart;
} ChildSpec;

struct Manager {
        sd_event *event;                 /* not owned */
        GwBus *bus;                      /* not owned */
        const GwConf *conf;              /* not owned */
        char *config_path;               /* absolute, passed as --config to children */
        char *notify_path;               /* <runtime_dir>/gwsupd.notify */
        char *self_status;
        char *saved_children;            /* last content of <runtime_dir>/gwsupd.children */

        int notify_fd;
        sd_event_source *notify_source;
        sd_event_source *state_timer;    /* every MANAGER_STATE_INTERVAL_USEC */
        sd_event_source *sigterm_source, *sigint_source;
        sd_event_source *unregister_timer;
        sd_event_source *stop_kill_timer;

        Child children[MANAGER_CHILDREN_MAX];
        size_t n_children;

        bool adopting;                   /* reading the previous gwsupd's children */
        bool stopping;
        bool terminating;                /* SIGTERM sent to the children */
        bool stop_killed;                /* SIGKILL sent to what was left */
        int exit_code;                   /* of gwsupd once every child is gone */
        uint64_t stop_begin;
};

/* The built-in child table (sigd, regd, mediad, linehwd). */
extern const ChildSpec manager_child_table[];
extern const size_t manager_child_table_size;

/* Build the manager: binds the notify socket, installs SIGTERM/SIGINT.
 * Children come from the table, or from $GWSUPD_CHILDREN ("name:/abs/path,...",
 * test-only) if set. Spawns nothing yet. Logs its errors. Called before the
 * bus exists: a daemon hands its stored descriptors back to a new gwsupd the
 * moment that gwsupd's bus subscribes to it, so the notify socket must be there. */
int manager_new(sd_event *e, const GwConf *c, const char *config_path, Manager **ret);
/* Install the bus handlers (before manager_start()). */
int manager_attach_bus(Manager *m, GwBus *bus);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Adopt the daemons a previous gwsupd left running (gwsupd-adopt.h), spawn the others. */
int manager_start(Manager *m);
/* Begin the stop sequence; the loop exits with exit_code when every child is gone. */
void manager_stop(Manager *m, int exit_code, const char *why);

/* Hooks for Child. */
void manager_child_changed(Manager *m, Child *c);    /* publish its ServiceState */
void manager_child_gone(Manager *m, Child *c);       /* a child process exited during stop */
void manager_give_up(Manager *m, Child *c);          /* restart limit hit */
Child *manager_child_by_pid(Manager *m, pid_t pid);

/* Parse $GWSUPD_CHILDREN: "name:/abs/path[,name:/abs/path...]". Fills
 * names/paths (malloc'd, caller frees) up to max. Returns the count or -EINVAL. */
int manager_parse_children_env(const char *s, char **ret_names, char **ret_paths, size_t max);
/* Find the binary of daemon 'name': next to our own executable in the build
 * tree (dirname(/proc/self/exe)/../<name>/<name>), else GW_LIBEXECDIR/<name>. */
int manager_find_binary(const char *name, char **ret);
