/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd.c: the supervisor's main: arguments, config, pid file, bus, manager, loop.
 *
 * gwsupd does what gw_daemon_init() does for the other daemons, but by
 * itself, for two reasons: SIGTERM must start the orderly stop sequence
 * instead of ending the loop, and the pid file must be taken before the bus
 * endpoints are bound (binding an ipc endpoint would steal it from a running
 * gwsupd). The options and the exit code 78 on a bad config are the same. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "gw-build-config.h"
#include "gw-bus.h"
#include "gw-conf.h"
#include "gw-daemon.h"
#include "gw-log.h"
#include "gw-toneplan.h"
#include "gwsupd-manager.h"
#include "gwsupd-pidfile.h"

static const char *arg_config = NULL;

static void help(void) {
        printf("gwsupd --config FILE\n\n"
               "Supervisor of the fxsgw daemons (sigd, regd, mediad, linehwd), in the foreground.\n\n"
               "  -c --config FILE   configuration file (default: $FXSGW_CONFIG or /etc/fxsgw/fxsgw.yaml)\n"
               "  -h --help          show this help\n"
               "     --version       show the version\n");
}

/* Returns 0 to go on, or an exit code + 1 (so 0 can be returned for --help). */
static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "config",  required_argument, NULL, 'c' },
                { "help",    no_argument,       NULL, 'h' },
                { "version", no_argument,       NULL, 'V' },
                {}
        };
        int c;

        arg_config = getenv("FXSGW_CONFIG");
        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS + 1;
                case 'V':
                        printf("gwsupd %s\n", GW_VERSION);
                        return EXIT_SUCCESS + 1;
                default:
                        return EXIT_FAILURE + 1;
                }
        if (optind < argc) {
                fprintf(stderr, "gwsupd: unexpected argument '%s'\n", argv[optind]);
                return EXIT_FAILURE + 1;
        }
        if (!arg_config)
                arg_config = "/etc/fxsgw/fxsgw.yaml";
        return 0;
}

/* SIGHUP: reload the whole gateway (common/gw-reload.h), gwsupd's own part
 * included: its control socket answers on this same loop. */
typedef struct Reloading {
        GwConf **conf;
        const char *path;
        sd_event *event;
        GwReload *reload;
        GwReloadServer server;
} Reloading;

static void reloading_done(Reloading *rs) {
        rs->reload = gw_reload_free(rs->reload);
        gw_reload_server_done(&rs->server);
}

static void on_reload_done(GwReload *rl, const GwReloadResult *r, void *userdata) {
        Reloading *rs = userdata;

        if (r->error < 0)
                log_warning("%s", strna(r->message));
        else
                log_info("%s", strna(r->message));
        rs->reload = gw_reload_free(rs->reload);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Reloading *rs = userdata;
        int r;

        if (rs->reload) {
                log_info("SIGHUP received while a reload is under way, ignoring.");
                return 0;
        }
        log_info("SIGHUP received: reloading '%s'.", rs->path);
        r = gw_reload_start(rs->event, rs->path, *rs->conf, on_reload_done, rs, &rs->reload);
        if (r < 0)
                log_warning_errno(r, "Failed to start the reload, ignoring: %m");
        return 0;
}

/* Nothing of gwsupd's own changes without a restart (its keys are restart-only):
 * the manager only borrows the new config. */
static int apply_reload(GwConf *conf, GwTonePlan *plan, GwReloadChanges *ch, void *userdata) {
        Manager *m = userdata;

        m->conf = conf;
        return 0;
}

typedef struct PidFile {
        char *path;
} PidFile;

static void pid_file_done(PidFile *p) {
        if (p->path)
                pidfile_release(p->path);
        free(p->path);
        p->path = NULL;
}

static int run(int argc, char **argv) {
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        _cleanup_(pid_file_done) PidFile pidfile = {};
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(gw_bus_freep) GwBus *bus = NULL;
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *error = NULL, *config_abs = NULL;
        _cleanup_(reloading_done) Reloading reloading = {};
        sigset_t mask;
        pid_t other = 0;
        int r;

        /* Blocked before anything starts a thread (ZeroMQ does): signalfd and
         * the child watches see them only if no thread can take them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        log_open("gwsupd");
        r = parse_argv(argc, argv);
        if (r > 0)
                return r - 1;

        r = gw_conf_load(arg_config, &conf, &error);
        if (r < 0) {
                log_error("Refusing to start: %s", error ? error : strerror(-r));
                return EXIT_CONFIG;
        }
        log_set_max_level(conf->log_level);
        /* The daemons that need the tone plan refuse to start without it (exit 78,
         * not restarted); say so here once, before starting any of them. */
        {
                _cleanup_(gw_toneplan_freep) GwTonePlan *plan = NULL;

                free(error);
                error = NULL;
                r = gw_toneplan_load_for_conf(conf, &plan, &error);
                if (r < 0) {
                        log_error("Refusing to start: tone plan: %s", error ? error : strerror(-r));
                        return EXIT_CONFIG;
                }
        }
        config_abs = realpath(arg_config, NULL);
        if (!config_abs)
                return log_error_errno(errno, "Failed to resolve '%s': %m", arg_config), EXIT_FAILURE;

        r = gw_mkdir_parents(conf->runtime_dir, 0750);
        if (r < 0)
                return log_error_errno(r, "Failed to create the runtime directory '%s': %m",
                                       conf->runtime_dir), EXIT_FAILURE;

        if (asprintf(&pidfile.path, "%s/gwsupd.pid", conf->runtime_dir) < 0) {
                pidfile.path = NULL;
                return log_oom(), EXIT_FAILURE;
        }
        r = pidfile_acquire(pidfile.path, &other);
        if (r == -EBUSY) {
                log_error("Another gwsupd (pid %d) already supervises the gateway in '%s'; refusing to start.",
                          (int) other, conf->runtime_dir);
                free(TAKE_PTR(pidfile.path));    /* it is not ours to remove */
                return EXIT_FAILURE;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to create '%s': %m", pidfile.path);
                free(TAKE_PTR(pidfile.path));
                return EXIT_FAILURE;
        }

        r = sd_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to create event loop: %m"), EXIT_FAILURE;
        /* systemd may supervise us in turn (fxsgw-gwsupd.service). */
        r = sd_event_set_watchdog(event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");
        reloading = (Reloading) { .conf = &conf, .path = config_abs, .event = event };
        r = sd_event_add_signal(event, NULL, SIGHUP, on_sighup, &reloading);
        if (r < 0)
                return log_error_errno(r, "Failed to install the SIGHUP handler: %m"), EXIT_FAILURE;

        /* The notify socket before the bus: see manager_new(). */
        r = manager_new(event, conf, config_abs, &m);
        if (r < 0)
                return EXIT_FAILURE;

        r = gw_bus_new(event, conf, GW__SERVICE__SERVICE_GWSUPD, &bus);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the bus in '%s': %m", conf->runtime_dir), EXIT_FAILURE;
        r = manager_attach_bus(m, bus);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        gw_reload_server_attach(&reloading.server, bus, &conf, NULL, apply_reload, m);

        (void) sd_notifyf(false, "READY=1\nSTATUS=Supervising %zu daemon(s).", m->n_children);
        log_info("Supervising %zu daemon(s); runtime directory '%s'.", m->n_children, conf->runtime_dir);

        r = sd_event_loop(event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        log_info("Stopped (exit status %d).", r);
        return r;
}

int main(int argc, char **argv) {
        return run(argc, argv);
}
