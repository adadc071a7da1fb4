/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-daemon.c: start-up, readiness, heartbeat and state files shared by every daemon. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "gw-build-config.h"
#include "gw-daemon.h"
#include "gw-log.h"

#define HEARTBEAT_USEC (5 * USEC_PER_SEC)

/* A restarted daemon asks its peers for their state. PUB/SUB connections
 * take a moment to form, so the request is repeated a few times; answers
 * are idempotent state, so duplicates are harmless. */
static const uint64_t sync_schedule_ms[] = { 0, 150, 400, 1000, 2500 };

static void publish_service_state(GwDaemon *d, Gw__ServiceRunState state) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ServiceState ss = GW__SERVICE_STATE__INIT;

        ss.service = d->service;
        ss.state = state;
        ss.has_pid = true;
        ss.pid = getpid();
        ss.has_instance_id = true;
        ss.instance_id = gw_bus_instance_id(d->bus);
        ss.status_text = d->status_text;
        env.body_case = GW__ENVELOPE__BODY_SERVICE_STATE;
        env.service_state = &ss;
        (void) gw_bus_publish_auto(d->bus, d->name, &env);
}

static void publish_counters(GwDaemon *d) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__BusCounters bc = GW__BUS_COUNTERS__INIT;
        Gw__PcmCounters pc = GW__PCM_COUNTERS__INIT;

        gw_bus_counters(d->bus, &bc);
        if (d->pcm) {
                gw_pcm_counters(d->pcm, &pc);
                bc.has_pcm_frames_tx = bc.has_pcm_frames_rx = true;
                bc.pcm_frames_tx = pc.frames_tx;
                bc.pcm_frames_rx = pc.frames_rx;
        }
        env.body_case = GW__ENVELOPE__BODY_BUS_COUNTERS;
        env.bus_counters = &bc;
        (void) gw_bus_publish_auto(d->bus, d->name, &env);

        if (d->pcm) {
                env = (Gw__Envelope) GW__ENVELOPE__INIT;
                env.body_case = GW__ENVELOPE__BODY_PCM_COUNTERS;
                env.pcm_counters = &pc;
                (void) gw_bus_publish_auto(d->bus, d->name, &env);
        }
}

static void publish_sync_request(GwDaemon *d) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__StateSyncRequest req = GW__STATE_SYNC_REQUEST__INIT;

        req.requester = d->service;
        env.body_case = GW__ENVELOPE__BODY_STATE_SYNC_REQUEST;
        env.state_sync_request = &req;
        (void) gw_bus_publish_auto(d->bus, d->name, &env);
}

static int on_sync_request(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        GwDaemon *d = userdata;

        publish_service_state(d, d->ready ? GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING
                                          : GW__SERVICE_RUN_STATE__RUN_STATE_STARTING);
        return 0;
}

/* A one-shot timer is disabled when it fires: set the time and enable it again. */
static int rearm(sd_event_source *s, uint64_t usec) {
        int r = sd_event_source_set_time_relative(s, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata) {
        GwDaemon *d = userdata;

        publish_service_state(d, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING);
        publish_counters(d);
        return rearm(s, HEARTBEAT_USEC);
}

static int on_sync_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        GwDaemon *d = userdata;

        publish_sync_request(d);
        if (++d->sync_round >= ELEMENTSOF(sync_schedule_ms))
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return rearm(s, (sync_schedule_ms[d->sync_round] - sync_schedule_ms[d->sync_round - 1]) * USEC_PER_MSEC);
}

int gw_daemon_reload(GwDaemon *d, const char *path, char **ret_message) {
        if (d->reload)
                return d->reload(d, path, ret_message);
        if (asprintf(ret_message, "%s: live reload is not implemented; it keeps its configuration", d->name) < 0)
                *ret_message = NULL;
        return -EOPNOTSUPP;
}

/* A reload asked on the bus (regd's D-Bus Reload()): apply, answer with the outcome. */
static int on_config_reload_request(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        GwDaemon *d = userdata;
        Gw__Envelope reply = GW__ENVELOPE__INIT;
        Gw__ConfigReloadReply crr = GW__CONFIG_RELOAD_REPLY__INIT;
        _cleanup_free_ char *message = NULL;
        const char *path;
        int r;

        if (!env->config_reload_request || !env->has_correlation_id)
                return -EBADMSG;
        path = env->config_reload_request->config_path;
        r = gw_daemon_reload(d, isempty(path) ? d->conf->path : path, &message);
        crr.service = d->service;
        crr.has_errno_value = true;
        crr.errno_value = r < 0 ? -r : 0;
        crr.message = message;
        reply.has_correlation_id = true;
        reply.correlation_id = env->correlation_id;
        reply.body_case = GW__ENVELOPE__BODY_CONFIG_RELOAD_REPLY;
        reply.config_reload_reply = &crr;
        return gw_bus_publish_auto(d->bus, d->name, &reply);
}

static const GwBusHandler daemon_common_handlers[] = {
        [GW__ENVELOPE__BODY_CONFIG_RELOAD_REQUEST] = {
                "ConfigReloadRequest", on_config_reload_request, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
};

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("SIGHUP received; configuration reload is not supported yet, ignoring.");
        return 0;
}

#define IN_SET_SERVICE(s, a, b, c, d) ((s) == (a) || (s) == (b) || (s) == (c) || (s) == (d))

int gw_daemon_load_tone_plan(GwDaemon *d) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = gw_toneplan_load_for_conf(d->conf, &d->tone_plan, &error);
        if (r < 0) {
                log_error("Refusing to start: tone plan: %s", error ? error : strerror(-r));
                return EXIT_CONFIG;
        }
        log_debug("Tone plan '%s' from %s.", d->tone_plan->name, d->tone_plan->path);
        return 0;
}

static void help(const char *name) {
        printf("%s --config FILE\n\n"
               "fxsgw daemon '%s'. Normally started by gwsupd or systemd.\n\n"
               "  -c --config FILE   configuration file (default: $FXSGW_CONFIG or /etc/fxsgw/fxsgw.yaml)\n"
               "  -h --help          show this help\n"
               "     --version       show the version\n", name, name);
}

int gw_daemon_init(GwDaemon *d, Gw__Service service, int argc, char **argv) {
        static const struct option options[] = {
                { "config",  required_argument, NULL, 'c' },
                { "help",    no_argument,       NULL, 'h' },
                { "version", no_argument,       NULL, 'V' },
                {}
        };
        const char *config = getenv("FXSGW_CONFIG");
        _cleanup_free_ char *error = NULL;
        sigset_t mask;
        int c, r;

        d->service = service;
        d->name = gw_service_to_string(service);
        log_open(d->name);

        optind = 0;
        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'h':
                        help(d->name);
                        exit(EXIT_SUCCESS);          /* nothing to clean up yet */
                case 'V':
                        printf("%s %s\n", d->name, GW_VERSION);
                        exit(EXIT_SUCCESS);
                default:
                        return EXIT_FAILURE;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument '%s'\n", d->name, argv[optind]);
                return EXIT_FAILURE;
        }
        if (!config)
                config = "/etc/fxsgw/fxsgw.yaml";

        r = gw_conf_load(config, &d->conf, &error);
        if (r < 0) {
                log_error("Refusing to start: %s", error ? error : strerror(-r));
                return EXIT_CONFIG;
        }
        if (gw_conf_is_world_readable(config) > 0)
                log_warning("Configuration '%s' is readable by other users but holds passwords; "
                            "chmod 0600 it.", config);
        log_set_max_level(d->conf->log_level);

        if (IN_SET_SERVICE(service, GW__SERVICE__SERVICE_GWSUPD, GW__SERVICE__SERVICE_SIGD,
                           GW__SERVICE__SERVICE_MEDIAD, GW__SERVICE__SERVICE_LINEHWD)) {
                r = gw_daemon_load_tone_plan(d);
                if (r != 0)
                        return r;
        }

        if (asprintf(&d->state_dir, "%s/%s", d->conf->runtime_dir, d->name) < 0) {
                d->state_dir = NULL;
                return log_oom(), EXIT_FAILURE;
        }
        r = gw_mkdir_parents(d->state_dir, 0750);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s': %m", d->state_dir), EXIT_FAILURE;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        /* A vanished tool on a socket must not kill a daemon. */
        signal(SIGPIPE, SIG_IGN);

        r = sd_event_new(&d->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create event loop: %m"), EXIT_FAILURE;
        if ((r = sd_event_add_signal(d->event, NULL, SIGTERM, NULL, NULL)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGINT, NULL, NULL)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGHUP, on_sighup, d)) < 0)
                return log_error_errno(r, "Failed to install signal handlers: %m"), EXIT_FAILURE;
        /* Pings WATCHDOG=1 at half of $WATCHDOG_USEC, from systemd or gwsupd alike. */
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

        r = gw_bus_new(d->event, d->conf, service, &d->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the bus in '%s': %m", d->conf->runtime_dir),
                       EXIT_FAILURE;
        gw_bus_set_sync_hook(d->bus, on_sync_request, d);
        gw_bus_set_common_handlers(d->bus, daemon_common_handlers, ELEMENTSOF(daemon_common_handlers), d);
        r = gw_bus_subscribe(d->bus, "StateSyncRequest");
        if (r >= 0 && service != GW__SERVICE__SERVICE_REGD)
                r = gw_bus_subscribe(d->bus, "ConfigReloadRequest");
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe: %m"), EXIT_FAILURE;

        publish_service_state(d, GW__SERVICE_RUN_STATE__RUN_STATE_STARTING);
        r = sd_event_add_time_relative(d->event, &d->sync_timer, CLOCK_MONOTONIC, 0, 0,
                                       on_sync_timer, d);
        if (r < 0)
                return log_error_errno(r, "Failed to add timer: %m"), EXIT_FAILURE;
        return 0;
}

int gw_daemon_ready(GwDaemon *d, const char *status) {
        int r;

        free(d->status_text);
        d->status_text = status ? strdup(status) : NULL;
        d->ready = true;
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(status));
        publish_service_state(d, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING);

        r = sd_event_add_time_relative(d->event, &d->heartbeat, CLOCK_MONOTONIC, HEARTBEAT_USEC, 0,
                                       on_heartbeat, d);
        if (r < 0)
                return log_error_errno(r, "Failed to add heartbeat timer: %m");
        log_info("Ready: %s", strempty(status));
        return 0;
}

void gw_daemon_status(GwDaemon *d, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s)
                return;
        free(d->status_text);
        d->status_text = s;
        (void) sd_notifyf(false, "STATUS=%s", s);
}

int gw_daemon_run(GwDaemon *d) {
        int r;

        r = sd_event_loop(d->event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        log_info("Stopped.");
        return r;
}

void gw_daemon_done(GwDaemon *d) {
        sd_event_source_disable_unref(d->heartbeat);
        sd_event_source_disable_unref(d->sync_timer);
        d->bus = gw_bus_free(d->bus);
        d->event = sd_event_unref(d->event);
        d->conf = gw_conf_free(d->conf);
        d->tone_plan = gw_toneplan_free(d->tone_plan);
        free(d->state_dir);
        free(d->status_text);
        d->state_dir = d->status_text = NULL;
}

int gw_mkdir_parents(const char *path, mode_t mode) {
        char buf[PATH_MAX];
        size_t n = strlen(path);

        if (n == 0)
                return -EINVAL;
        if (n >= sizeof buf)
                return -ENAMETOOLONG;
        memcpy(buf, path, n + 1);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        /* An existing directory keeps its mode: tmpfiles.d or the operator owns it. */
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int gw_state_write(const char *dir, const char *name, const void *data, size_t len) {
        char tmp[512], path[512];
        _cleanup_close_ int fd = -EBADF;
        const uint8_t *p = data;

        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path ||
            snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int) sizeof tmp)
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        (void) unlink(tmp);
                        return r;
                }
                p += n;
                len -= (size_t) n;
        }
        /* rename() over the old file is atomic: a reader sees old or new, never half. */
        if (rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

int gw_state_read(const char *dir, const char *name, void **ret, size_t *ret_len) {
        char path[512];
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        size_t off = 0;

        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path)
                return -ENAMETOOLONG;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size > 64 * 1024 * 1024)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (off < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + off, (size_t) st.st_size - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                off += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = off;
        return 0;
}
