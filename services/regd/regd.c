/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd.c: the registration daemon: registers every line, keeps proxy health, survives restarts. */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "gw-daemon.h"
#include "gw-log.h"
#include "regd-bus.h"
#include "regd-line.h"
#include "regd-dbus.h"
#include "regd-manager.h"

/* The deadline of the un-REGISTERs when systemd stops regd's unit, as gwsupd's. */
#define REGD_STOP_UNREGISTER_MS 1500

/* Is systemd stopping our own unit (a stop job on a service whose main process
 * we are: 'systemctl stop fxsgw.target' or 'systemctl stop fxsgw-regd.service')?
 * A restart job, 'systemctl kill', a crash or gwsupd's SIGTERM (we are not the
 * main process of fxsgw-gwsupd.service) are not stops: registrations are kept.
 * Asked over D-Bus once SIGTERM is here; any failure means "not a stop". */
static bool systemd_stops_our_unit(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *unit_path = NULL, *job_type = NULL;
        const char *path = NULL, *job_path = NULL;
        uint32_t main_pid = 0, job_id = 0;
        int r;

        if (sd_booted() <= 0)
                return false;
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_debug_errno(r, "No system bus: %m"), false;
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnitByPID", &error, &reply,
                               "u", (uint32_t) getpid());
        if (r < 0 || sd_bus_message_read(reply, "o", &path) < 0 || !(unit_path = strdup(path)))
                return log_debug("No unit of ours: %s", error.message ?: "bad reply"), false;
        reply = sd_bus_message_unref(reply);
        r = sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", unit_path,
                                        "org.freedesktop.systemd1.Service", "MainPID", &error, 'u', &main_pid);
        if (r < 0 || main_pid != (uint32_t) getpid())
                return false;
        r = sd_bus_get_property(bus, "org.freedesktop.systemd1", unit_path, "org.freedesktop.systemd1.Unit",
                                "Job", &error, &reply, "(uo)");
        if (r < 0 || sd_bus_message_read(reply, "(uo)", &job_id, &job_path) < 0 || job_id == 0)
                return false;
        r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", job_path,
                                       "org.freedesktop.systemd1.Job", "JobType", &error, &job_type);
        if (r < 0)
                return false;
        log_debug("SIGTERM with job %" PRIu32 " '%s' on our unit.", job_id, job_type);
        return streq(job_type, "stop");
}

static int on_terminate(GwDaemon *d, void *userdata) {
        Manager *m = userdata;

        if (!systemd_stops_our_unit())
                return 0;
        log_struct(LOG_NOTICE, ((const char *[]) { "MESSAGE_ID=" REGD_MESSAGE_GATEWAY_STOPPING, NULL }),
                   "systemd stops this unit: un-REGISTERing the lines before exiting.");
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Un-REGISTERing the lines.");
        d->on_terminate = NULL;      /* a second SIGTERM ends the loop at once */
        regd_bus_exit_when_unregistered();
        if (manager_gateway_stopping(m, REGD_STOP_UNREGISTER_MS) < 0)
                return 0;
        return 1;
}

int main(int argc, char **argv) {
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        _cleanup_(api_freep) Api *api = NULL;         /* freed after the manager, whose news it hears */
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        r = gw_daemon_init(&d, GW__SERVICE__SERVICE_REGD, argc, argv);
        if (r > 0)
                return r;
        if (r < 0)
                return EXIT_FAILURE;

        r = manager_new(d.event, d.conf, d.state_dir, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the registration manager: %m"), EXIT_FAILURE;
        r = regd_bus_attach(m, d.bus, &d);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_start(m);
        if (r < 0)
                return log_error_errno(r, "Failed to start registering: %m"), EXIT_FAILURE;
        d.on_terminate = on_terminate;
        d.terminate_userdata = m;
        /* The D-Bus management API (docs/OPERATIONS.md); without a bus, none. */
        r = api_new(&d, &api);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the D-Bus API: %m"), EXIT_FAILURE;
        r = regd_bus_attach_api(m, d.bus, api);
        if (r < 0)
                return EXIT_FAILURE;

        gw_daemon_ready(&d, "Registering lines");
        r = gw_daemon_run(&d);
        /* A plain SIGTERM is a restart as far as regd knows: keep every registration.
         * After a stop's un-REGISTERs the lines are stopped (nothing to keep). */
        manager_flush(m);
        return r;
}
