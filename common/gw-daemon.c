/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-daemon.c: start-up, readiness, heartbeat and state files shared by every daemon. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "gw-build-config.h"
#include "gw-daemon.h"
#include "gw-fdstore.h"
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

/* A gwsupd instance we have not told yet hears us (its SUB subscribed to our PUB,
 * or it asked for state). A gwsupd started after the one that started us adopts
 * us (docs/SUPERVISOR.md) with an empty fd store and without our READY=1 and
 * STATUS=: say them again on $NOTIFY_SOCKET, which it has bound at the same
 * path before joining the bus. To our own gwsupd this repeats what it has (it
 * stores an open file once, and READY=1 counts only while starting). */
static void tell_supervisor(GwDaemon *d, uint64_t instance_id) {
        size_t n;

        if (instance_id == 0 || instance_id == d->supervisor_instance)
                return;
        if (d->ready)
                (void) sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(d->status_text));
        n = gw_fdstore_resend();
        if (d->supervisor_instance != 0)
                log_info("A new gwsupd (bus instance %016llx) supervises us; handed it %zu stored descriptor(s).",
                         (unsigned long long) instance_id, n);
        else
                log_debug("gwsupd (bus instance %016llx) hears us; %zu stored descriptor(s) sent again.",
                          (unsigned long long) instance_id, n);
        d->supervisor_instance = instance_id;
}

static int on_sync_request(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        GwDaemon *d = userdata;

        if (env->source == GW__SERVICE__SERVICE_GWSUPD)
                tell_supervisor(d, env->instance_id);
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

/* ---------------------------------------------------------------- reload: answering ReloadRequest */

static void reload_reply_reset(GwReloadServer *s) {
        free(s->error);
        free(s->summary);
        free(s->restart_keys);
        s->error = s->summary = NULL;
        s->restart_keys = NULL;
        s->reply = (Gw__ReloadReply) GW__RELOAD_REPLY__INIT;
}

static int reload_refuse(GwReloadServer *s, Gw__Envelope *reply, char *error) {
        s->error = error;
        s->reply.ok = false;
        s->reply.error = s->error ? s->error : (char *) "out of memory";
        reply->body_case = GW__ENVELOPE__BODY_RELOAD_REPLY;
        reply->reload_reply = &s->reply;
        return 0;
}

/* A daemon never trusts the coordinator's reading of the file: it reads and
 * validates it again, so what it applies is what it checked. */
static int on_reload_request(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        GwReloadServer *s = userdata;
        const Gw__ReloadRequest *rq = req->reload_request;
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        _cleanup_(gw_toneplan_freep) GwTonePlan *plan = NULL;
        _cleanup_free_ char *error = NULL;
        GwReloadChanges ch = {};
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        bool check = rq->has_check_only && rq->check_only;
        char *msg = NULL;
        int n, r;

        reload_reply_reset(s);
        r = gw_conf_load((*s->conf)->path, &conf, &error);
        if (r < 0) {
                log_warning("Reload refused, nothing changed: %s", error ? error : strerror(-r));
                return reload_refuse(s, reply, error ? TAKE_PTR(error) : strdup(strerror(-r)));
        }
        if (rq->has_digest && rq->digest != 0 && rq->digest != conf->digest) {
                log_warning("Reload refused, nothing changed: '%s' is not the file that was checked "
                            "(changed meanwhile, or another file).", conf->path);
                return -ESTALE;
        }
        if (s->plan) {
                r = gw_toneplan_load_for_conf(conf, &plan, &error);
                if (r < 0) {
                        log_warning("Reload refused, nothing changed: tone plan: %s", error ? error : strerror(-r));
                        if (asprintf(&msg, "tone plan: %s", error ? error : strerror(-r)) < 0)
                                msg = NULL;
                        return reload_refuse(s, reply, msg);
                }
        }
        n = gw_conf_restart_keys(*s->conf, conf, &s->restart_keys);
        if (n < 0)
                return n;
        if (n > 0) {
                size_t len = 0;

                for (int i = 0; i < n; i++)
                        len += strlen(s->restart_keys[i]) + 2;
                msg = malloc(len + 64);
                if (msg) {
                        strcpy(msg, "changed keys need a restart of the gateway: ");
                        for (int i = 0; i < n; i++) {
                                strcat(msg, s->restart_keys[i]);
                                if (i + 1 < n)
                                        strcat(msg, ", ");
                        }
                }
                log_struct(LOG_WARNING, ((const char *[]) { GW_MESSAGE_RELOAD_REFUSED, NULL }),
                           "Reload refused, nothing changed: %s.", strna(msg));
                s->reply.n_restart_keys = (size_t) n;
                s->reply.restart_keys = UNCONST(s->restart_keys);
                return reload_refuse(s, reply, msg);
        }

        s->reply.ok = true;
        s->reply.has_changed = true;
        reply->body_case = GW__ENVELOPE__BODY_RELOAD_REPLY;
        reply->reload_reply = &s->reply;
        if (check) {
                s->reply.changed = conf->digest != (*s->conf)->digest;
                return 0;
        }
        if (conf->digest == (*s->conf)->digest) {
                /* The same text: the same configuration, nothing to do. */
                s->reply.changed = false;
                s->reply.summary = s->summary = strdup("unchanged");
                return 0;
        }

        /* systemd (Type=notify): reloading until READY=1; MONOTONIC_USEC ties the
         * two to this reload. */
        (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=Reloading '%s'",
                          t0, conf->path);
        if (s->apply) {
                r = s->apply(conf, plan, &ch, s->userdata);
                if (r < 0) {
                        (void) sd_notify(false, "READY=1");
                        return log_error_errno(r, "Failed to apply the reloaded configuration, keeping the old one: %m");
                }
        } else
                ch.changed = true;
        gw_conf_free(*s->conf);
        *s->conf = TAKE_PTR(conf);
        if (s->plan) {
                gw_toneplan_free(*s->plan);
                *s->plan = TAKE_PTR(plan);
        }
        log_set_max_level((*s->conf)->log_level);
        (void) sd_notify(false, "READY=1\nSTATUS=Configuration reloaded");

        s->reply.changed = ch.changed;
        s->reply.summary = s->summary = strdup(ch.summary[0] ? ch.summary : ch.changed ? "applied" : "nothing of mine changed");
        s->reply.has_lines_added = s->reply.has_lines_removed = s->reply.has_lines_changed = true;
        s->reply.lines_added = ch.lines_added;
        s->reply.lines_removed = ch.lines_removed;
        s->reply.lines_changed = ch.lines_changed;
        s->reply.has_duration_us = true;
        s->reply.duration_us = now_usec(CLOCK_MONOTONIC) - t0;
        log_struct(LOG_INFO, ((const char *[]) { GW_MESSAGE_RELOADED, NULL }),
                   "Configuration reloaded from '%s' in %" PRIu64 " us: %s.", (*s->conf)->path,
                   s->reply.duration_us, strna(s->summary));
        return 0;
}

void gw_reload_server_attach(GwReloadServer *s, GwBus *bus, GwConf **conf, GwTonePlan **plan,
                             gw_reload_apply_t apply, void *userdata) {
        s->conf = conf;
        s->plan = plan;
        s->apply = apply;
        s->userdata = userdata;
        s->reply = (Gw__ReloadReply) GW__RELOAD_REPLY__INIT;
        gw_bus_set_reload_hook(bus, on_reload_request, s);
}

void gw_reload_server_done(GwReloadServer *s) {
        reload_reply_reset(s);
}

void gw_daemon_set_reload(GwDaemon *d, gw_reload_apply_t apply, void *userdata) {
        d->reload.apply = apply;
        d->reload.userdata = userdata;
}

/* SIGHUP to any daemon reloads the whole gateway, as gwsupd's does. */
static void on_sighup_reload_done(GwReload *rl, const GwReloadResult *r, void *userdata) {
        GwDaemon *d = userdata;

        if (r->error < 0)
                log_warning("%s", strna(r->message));
        else
                log_info("%s", strna(r->message));
        d->sighup_reload = gw_reload_free(d->sighup_reload);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        GwDaemon *d = userdata;
        int r;

        if (d->sighup_reload) {
                log_info("SIGHUP received while a reload is under way, ignoring.");
                return 0;
        }
        log_info("SIGHUP received: reloading '%s'.", d->conf->path);
        r = gw_reload_start(d->event, d->conf->path, d->conf, on_sighup_reload_done, d, &d->sighup_reload);
        if (r < 0)
                log_warning_errno(r, "Failed to start the reload, ignoring: %m");
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        GwDaemon *d = userdata;

        if (d->on_terminate && d->on_terminate(d, d->terminate_userdata) > 0)
                return 0;
        return sd_event_exit(d->event, 0);
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

/* The file holds passwords: readable by others, or by a group that is not ours
 * (tmpfiles.d makes it 0640 root:fxsgw for the daemons running as fxsgw). */
static bool conf_readable_by_others(const char *path) {
        struct stat st;

        if (gw_conf_is_world_readable(path) <= 0 || stat(path, &st) < 0)
                return false;
        return (st.st_mode & 0007) || st.st_gid != getegid();
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
        if (conf_readable_by_others(config))
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
        if ((r = sd_event_add_signal(d->event, NULL, SIGTERM, on_sigterm, d)) < 0 ||
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
        gw_reload_server_attach(&d->reload, d->bus, &d->conf, d->tone_plan ? &d->tone_plan : NULL,
                                d->reload.apply, d->reload.userdata);
        r = gw_bus_subscribe(d->bus, "StateSyncRequest");
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
        /* Logged first: in the journal it comes before the supervisor's "Started". */
        log_info("Ready: %s", strempty(status));
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(status));
        publish_service_state(d, GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING);

        r = sd_event_add_time_relative(d->event, &d->heartbeat, CLOCK_MONOTONIC, HEARTBEAT_USEC, 0,
                                       on_heartbeat, d);
        if (r < 0)
                return log_error_errno(r, "Failed to add heartbeat timer: %m");
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
        d->sighup_reload = gw_reload_free(d->sighup_reload);
        gw_reload_server_done(&d->reload);
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

/* Overwrite the file's content with zeros in place, through fd (open on the old inode). */
static void state_wipe_fd(int fd) {
        static const uint8_t zeros[4096];
        struct stat sb;
        off_t off = 0;

        if (fd < 0 || fstat(fd, &sb) < 0)
                return;
        while (off < sb.st_size) {
                ssize_t n = pwrite(fd, zeros, MIN((size_t) (sb.st_size - off), sizeof zeros), off);
                if (n <= 0)
                        break;
                off += n;
        }
}

int gw_state_write_secret(const char *dir, const char *name, const void *data, size_t len) {
        _cleanup_close_ int old = -EBADF;
        char path[512];
        int r;

        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path)
                return -ENAMETOOLONG;
        old = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (len == 0) {
                state_wipe_fd(old);
                return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        }
        r = gw_state_write(dir, name, data, len);
        if (r >= 0)
                state_wipe_fd(old);
        return r;
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
