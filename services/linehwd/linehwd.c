/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd.c: the line hardware daemon: main only (linehwd-manager.c does the work).
 *
 * linehwd owns the state of each line's hardware (hook, ringing, polarity,
 * feed) through a backend (linehwd-backend.h; the default is the simulated
 * line card), the line logic above it (linehwd-line.c: debounce, flash,
 * pulse digits, ring cadence) and the line side of the PCM data plane. */
#include <stdio.h>

#include "gw-daemon.h"
#include "gw-log.h"
#include "linehwd-manager.h"

/* A reload (gw-daemon.h): the lines; the ring cadence comes from d->tone_plan, swapped after. */
static int apply_reload(GwConf *conf, GwTonePlan *plan, GwReloadChanges *ch, void *userdata) {
        Manager *m = userdata;
        unsigned added = 0, removed = 0;
        int r;

        r = manager_reload(m, conf, &added, &removed);
        if (r < 0)
                return r;
        ch->changed = true;
        ch->lines_added = added;
        ch->lines_removed = removed;
        snprintf(ch->summary, sizeof ch->summary, "lines +%u -%u", added, removed);
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        _cleanup_(manager_freep) Manager *m = NULL;
        char status[128];
        int r;

        r = gw_daemon_init(&d, GW__SERVICE__SERVICE_LINEHWD, argc, argv);
        if (r > 0)
                return r;

        r = manager_new(&d, &m);
        if (r == -EOPNOTSUPP)
                return EXIT_CONFIG;
        if (r < 0)
                return EXIT_FAILURE;

        gw_daemon_set_reload(&d, apply_reload, m);
        snprintf(status, sizeof status, "%zu line(s) on the '%s' backend.", m->n_lines, m->backend->ops->name);
        r = gw_daemon_ready(&d, status);
        if (r < 0)
                return EXIT_FAILURE;
        return gw_daemon_run(&d);
}
