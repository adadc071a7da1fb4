/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-child.c: one supervised daemon: fork+exec, READY/WATCHDOG, kill on hang, restart with back-off.
 *
 * Policy, as systemd applies it to a Type=notify unit with WatchdogSec=:
 *  - after exec the child has CHILD_START_TIMEOUT_USEC to send READY=1, or it
 *    gets SIGTERM (then SIGKILL) and counts as failed;
 *  - once READY, every WATCHDOG=1 re-arms a timer of the watchdog interval;
 *    when it fires the child gets SIGABRT (then SIGKILL) and counts as failed;
 *  - a child that exits is restarted after a back-off of 100 ms, doubling up
 *    to 5 s; ten seconds of continuous readiness reset the back-off;
 *  - exit status 78 (EX_CONFIG) means "fix the configuration first": the
 *    child is left FAILED, the rest of the gateway keeps running;
 *  - more than restart_limit restarts within 60 s and gwsupd gives up on the
 *    whole gateway (manager_give_up).
 *  - the fd store: descriptors the child stored (FDSTORE=1) are kept here,
 *    across any number of restarts, and passed to every new instance with
 *    LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID, until it removes them
 *    (FDSTOREREMOVE=1) or gwsupd exits.
 * Nothing here touches another child. */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-log.h"
#include "gwsupd-child.h"
#include "gwsupd-manager.h"

#define TIMER_ACCURACY_USEC 1000         /* the back-off is 100 ms: the default 250 ms slack is too coarse */

extern char **environ;

static int close_fd(int fd) {
        if (fd >= 0)
                close(fd);
        return -EBADF;
}

static const char *const child_state_table[_CHILD_STATE_MAX] = {
        [CHILD_STARTING] = "starting",
        [CHILD_RUNNING] = "running",
        [CHILD_RESTARTING] = "restarting",
        [CHILD_FAILED] = "failed",
        [CHILD_STOPPED] = "stopped",
};

const char *child_state_to_string(ChildState s) {
        return s >= 0 && s < _CHILD_STATE_MAX ? child_state_table[s] : NULL;
}

Gw__ServiceRunState child_state_to_run_state(ChildState s) {
        switch (s) {
        case CHILD_STARTING:   return GW__SERVICE_RUN_STATE__RUN_STATE_STARTING;
        case CHILD_RUNNING:    return GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING;
        case CHILD_RESTARTING: return GW__SERVICE_RUN_STATE__RUN_STATE_RESTARTING;
        case CHILD_FAILED:     return GW__SERVICE_RUN_STATE__RUN_STATE_FAILED;
        default:               return GW__SERVICE_RUN_STATE__RUN_STATE_STOPPED;
        }
}

int child_init(Child *c, Manager *m, const char *name, Gw__Service service, const char *path,
               RestartPolicy restart, unsigned restart_limit, uint64_t watchdog_usec) {
        int r;

        *c = (Child) {
                .manager = m,
                .service = service,
                .restart = restart,
                .state = CHILD_STOPPED,
                .watchdog_usec = watchdog_usec,
                .pidfd = -EBADF,
        };
        c->name = strdup(name);
        c->path = strdup(path);
        if (!c->name || !c->path)
                return -ENOMEM;
        r = restart_window_init(&c->window, restart_limit);
        if (r < 0)
                return r;
        return 0;
}

static void child_disable_timers(Child *c) {
        (void) sd_event_source_set_enabled(c->start_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->watchdog_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->kill_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->restart_timer, SD_EVENT_OFF);
}

void child_done(Child *c) {
        /* The process itself is left alone: daemons outlive their supervisor. */
        child_fdstore_clear(c);
        c->exit_source = sd_event_source_disable_unref(c->exit_source);
        c->start_timer = sd_event_source_disable_unref(c->start_timer);
        c->watchdog_timer = sd_event_source_disable_unref(c->watchdog_timer);
        c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
        c->restart_timer = sd_event_source_disable_unref(c->restart_timer);
        c->pidfd = close_fd(c->pidfd);
        restart_window_done(&c->window);
        free(c->name);
        free(c->path);
        free(c->status_text);
        c->name = c->path = c->status_text = NULL;
}

/* ---------------------------------------------------------------- fd store */

int child_fdstore_add(Child *c, int fd, const char *name) {
        int r;

        if (!c->fds) {
                c->fds = gw_fdset_new();
                if (!c->fds) {
                        close(fd);
                        return -ENOMEM;
                }
        }
        if (gw_fdset_has_file(c->fds, fd)) {
                close(fd);                        /* systemd too stores an open file once */
                return 0;
        }
        if (gw_fdset_size(c->fds) >= CHILD_FDSTORE_MAX) {
                close(fd);
                return -EXFULL;
        }
        r = gw_fdset_add(c->fds, fd, name);
        return r < 0 ? r : 1;
}

size_t child_fdstore_remove(Child *c, const char *name) {
        return gw_fdset_remove(c->fds, name);
}

void child_fdstore_clear(Child *c) {
        c->fds = gw_fdset_free(c->fds);
}

/* Arm (or re-arm) a one-shot timer 'usec' from now. */
static int child_arm_timer(Child *c, sd_event_source **s, uint64_t usec, sd_event_time_handler_t cb) {
        int r;

        if (*s) {
                r = sd_event_source_set_time_relative(*s, usec);
                if (r < 0)
                        return r;
                return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        }
        return sd_event_add_time_relative(c->manager->event, s, CLOCK_MONOTONIC, usec,
                                          TIMER_ACCURACY_USEC, cb, c);
}

static void child_set_state(Child *c, ChildState s) {
        if (c->state == s)
                return;
        log_debug("Daemon '%s': %s -> %s.", c->name, child_state_to_string(c->state), child_state_to_string(s));
        c->state = s;
        manager_child_changed(c->manager, c);
}

int child_kill(Child *c, int sig) {
        if (c->pid <= 0)
                return 0;
        /* Our own child cannot be recycled before we reap it; an adopted one
         * can once it exits (its new parent reaps it): signal it by pidfd. */
        if (c->pidfd >= 0) {
                if (syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) < 0)
                        return errno == ESRCH ? 0 : -errno;
                return 1;
        }
        if (kill(c->pid, sig) < 0)
                return errno == ESRCH ? 0 : -errno;
        return 1;
}

static int on_kill_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;

        if (c->pid > 0) {
                log_warning("Daemon '%s' (pid %d) is still there; sending SIGKILL.", c->name, (int) c->pid);
                (void) child_kill(c, SIGKILL);
        }
        return 0;
}

/* A hanging child: signal it, SIGKILL after CHILD_KILL_TIMEOUT_USEC; the
 * exit handler then restarts it. */
static void child_kill_hung(Child *c, int sig) {
        int r;

        if (c->pid <= 0 || c->killing)
                return;
        c->killing = true;
        (void) sd_event_source_set_enabled(c->start_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->watchdog_timer, SD_EVENT_OFF);
        (void) child_kill(c, sig);
        r = child_arm_timer(c, &c->kill_timer, CHILD_KILL_TIMEOUT_USEC, on_kill_timeout);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm kill timer for '%s', sending SIGKILL now: %m", c->name);
                (void) child_kill(c, SIGKILL);
        }
        child_set_state(c, CHILD_RESTARTING);
}

int child_restart(Child *c, const char *why) {
        switch (c->state) {
        case CHILD_STARTING:
        case CHILD_RUNNING:
                if (c->pid <= 0)
                        return -ESRCH;
                if (c->killing)
                        return 0;                /* already on its way out */
                log_info("Restarting daemon '%s' (pid %d): %s.", c->name, (int) c->pid, why);
                child_kill_hung(c, SIGTERM);
                return 0;
        case CHILD_RESTARTING:
                return 0;
        case CHILD_FAILED:
        case CHILD_STOPPED:
                log_info("Starting daemon '%s' again: %s.", c->name, why);
                c->attempt = 0;
                return child_spawn(c);
        default:
                return -EINVAL;
        }
}

static int on_start_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;

        log_error("Daemon '%s' (pid %d) did not send READY=1 within %llu s; terminating it.",
                  c->name, (int) c->pid, (unsigned long long) (CHILD_START_TIMEOUT_USEC / USEC_PER_SEC));
        child_kill_hung(c, SIGTERM);
        return 0;
}

static void child_watchdog_expired(Child *c, const char *why) {
        char f_service[64];

        snprintf(f_service, sizeof f_service, "GW_SERVICE=%s", c->name);
        log_struct(LOG_ERR, ((const char *[]) { GWSUPD_MESSAGE_CHILD_WATCHDOG, f_service, NULL }),
                   "Daemon '%s' (pid %d) %s; aborting it (SIGABRT) and restarting it.",
                   c->name, (int) c->pid, why);
        child_kill_hung(c, SIGABRT);
}

static int on_watchdog_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;
        char why[96];

        snprintf(why, sizeof why, "sent no WATCHDOG=1 within %llu ms",
                 (unsigned long long) (c->watchdog_usec / USEC_PER_MSEC));
        child_watchdog_expired(c, why);
        return 0;
}

static void child_arm_watchdog(Child *c) {
        int r;

        if (c->state != CHILD_RUNNING || c->killing)
                return;
        if (c->watchdog_usec == 0) {
                (void) sd_event_source_set_enabled(c->watchdog_timer, SD_EVENT_OFF);
                return;
        }
        r = child_arm_timer(c, &c->watchdog_timer, c->watchdog_usec, on_watchdog_timeout);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the watchdog of '%s', ignoring: %m", c->name);
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;

        if (c->manager->stopping)
                return 0;
        (void) child_spawn(c);
        return 0;
}

/* The child is gone (or never came to be): restart it after its back-off, or
 * give up on the gateway if it restarts too often. */
static void child_schedule_restart(Child *c, const char *what) {
        uint64_t now = now_usec(CLOCK_MONOTONIC), delay;
        uint64_t ready_for = c->ready_at > 0 && now > c->ready_at ? now - c->ready_at : 0;
        char f_service[64];
        int r;

        if (restart_backoff_should_reset(c->ready_at, now))
                c->attempt = 0;
        c->ready_at = 0;

        if (!restart_window_admit(&c->window, now)) {
                manager_give_up(c->manager, c);
                return;
        }
        delay = restart_delay_usec(c->attempt, ready_for);
        if (c->attempt < 64)
                c->attempt++;
        c->restarts++;

        snprintf(f_service, sizeof f_service, "GW_SERVICE=%s", c->name);
        log_struct(LOG_WARNING, ((const char *[]) { GWSUPD_MESSAGE_CHILD_RESTART, f_service, NULL }),
                   "Daemon '%s' %s; restarting it in %llu ms (restart %u).",
                   c->name, what, (unsigned long long) (delay / USEC_PER_MSEC), c->restarts);

        r = child_arm_timer(c, &c->restart_timer, delay, on_restart_timer);
        if (r < 0) {
                log_error_errno(r, "Failed to arm restart timer for '%s', restarting now: %m", c->name);
                c->state = CHILD_RESTARTING;
                (void) child_spawn(c);
                return;
        }
        if (c->state == CHILD_RESTARTING)
                /* The count changed even if the state did not (after a hang kill). */
                manager_child_changed(c->manager, c);
        else
                child_set_state(c, CHILD_RESTARTING);
}

/* The process is gone. known: exited/status/dumped are from waitid(); an
 * adopted process is not our child, so how it ended is not known. */
static void child_handle_exit(Child *c, bool known, bool exited, int status, bool dumped) {
        Manager *m = c->manager;
        char what[160], f_service[64];

        c->exit_source = sd_event_source_disable_unref(c->exit_source);
        c->pidfd = close_fd(c->pidfd);
        c->pid = 0;
        c->starttime = 0;
        c->killing = false;
        c->stopping_notified = false;
        child_disable_timers(c);

        if (!known) {
                /* Treated as a failure: restarted (also what exited 0 or 78). */
                snprintf(what, sizeof what, "(adopted from a previous gwsupd) ended; its exit status is "
                         "unknown, it was not our child");
                exited = false;
                status = 0;
        } else if (exited)
                snprintf(what, sizeof what, "exited with status %d", status);
        else
                snprintf(what, sizeof what, "was killed by signal %s%s", strna(sigabbrev_np(status)),
                         dumped ? " (core dumped)" : "");

        if (m->stopping) {
                log_info("Daemon '%s' %s.", c->name, what);
                child_set_state(c, CHILD_STOPPED);
                manager_child_gone(m, c);
                return;
        }

        if (exited && status == EXIT_CONFIG) {
                snprintf(f_service, sizeof f_service, "GW_SERVICE=%s", c->name);
                log_struct(LOG_ERR, ((const char *[]) { GWSUPD_MESSAGE_CHILD_CONFIG, f_service, NULL }),
                           "Daemon '%s' exited with status 78 (EX_CONFIG): it refuses the configuration "
                           "'%s'. Not restarting it; fix the configuration and restart the gateway.",
                           c->name, m->config_path);
                c->ready_at = 0;
                child_set_state(c, CHILD_FAILED);
                return;
        }
        if (exited && status == 0 && c->restart == RESTART_ON_FAILURE) {
                log_info("Daemon '%s' exited cleanly; its policy is to restart on failure only.", c->name);
                c->ready_at = 0;
                child_set_state(c, CHILD_STOPPED);
                return;
        }
        if (exited && status == CHILD_EXIT_EXEC)
                snprintf(what, sizeof what, "could not be executed ('%s')", c->path);

        child_schedule_restart(c, what);
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        child_handle_exit(userdata, true, si->si_code == CLD_EXITED, si->si_status, si->si_code == CLD_DUMPED);
        return 0;
}

/* An adopted process's pidfd turns readable when it exits (zombie or reaped by
 * its new parent, init or a subreaper). */
static int on_adopted_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        child_handle_exit(userdata, false, false, 0, false);
        return 0;
}

/* Write the decimal of v into buf (>= 12 bytes) with a NUL; async-signal-safe. */
static void format_pid(char *buf, pid_t v) {
        char tmp[16];
        size_t n = 0, i = 0;
        unsigned long u = (unsigned long) v;

        do {
                tmp[n++] = (char) ('0' + u % 10);
                u /= 10;
        } while (u > 0 && n < sizeof tmp);
        while (n > 0)
                buf[i++] = tmp[--n];
        buf[i] = 0;
}

static bool env_is_ours(const char *e) {
        static const char *const prefixes[] = {
                "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
                "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=",
        };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

/* Runs between fork() and execve(): only async-signal-safe calls. The
 * stored descriptors go to 3, 4, ... in order (LISTEN_FDS); tmp has room for
 * n_fds. pid_slots: where the child's own pid is written (WATCHDOG_PID=, LISTEN_PID=). */
_Noreturn static void child_exec(const char *path, char *const *argv, char *const *envp, char *const *pid_slots,
                                 const int *fds, size_t n_fds, int *tmp) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t empty;
        int fd, first_free = SD_LISTEN_FDS_START + (int) n_fds;

        /* Our SIGPIPE is ignored and SIGTERM/SIGINT/SIGCHLD are blocked: none
         * of that may leak into the daemon. */
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &sa, NULL);
        sigemptyset(&empty);
        (void) sigprocmask(SIG_SETMASK, &empty, NULL);

        /* Own session: a Ctrl-C on gwsupd's terminal is gwsupd's to handle
         * (orderly stop), and the daemon is not tied to our process group. */
        (void) setsid();

        fd = open("/dev/null", O_RDONLY);
        if (fd >= 0 && fd != STDIN_FILENO) {
                (void) dup2(fd, STDIN_FILENO);
                (void) close(fd);
        }
        /* Two steps, so that no stored descriptor is overwritten before it is
         * moved: first above the target range, then into it (dup2 clears
         * close-on-exec). */
        for (size_t i = 0; i < n_fds; i++) {
                tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, first_free);
                if (tmp[i] < 0)
                        _exit(CHILD_EXIT_EXEC);
        }
        for (size_t i = 0; i < n_fds; i++)
                if (dup2(tmp[i], SD_LISTEN_FDS_START + (int) i) < 0)
                        _exit(CHILD_EXIT_EXEC);
        if (close_range((unsigned) first_free, ~0U, 0) < 0)
                for (int i = first_free; i < 65536; i++)
                        (void) close(i);

        for (size_t i = 0; pid_slots[i]; i++)
                format_pid(pid_slots[i], getpid());
        execve(path, argv, envp);

        static const char msg[] = "gwsupd: execve() of a daemon failed\n";
        (void) !write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(CHILD_EXIT_EXEC);
}

int child_spawn(Child *c) {
        Manager *m = c->manager;
        _cleanup_free_ char **envp = NULL;
        _cleanup_free_ char *notify_env = NULL, *watchdog_env = NULL, *fds_env = NULL, *names_env = NULL;
        _cleanup_free_ int *tmp = NULL, *fds = NULL;
        size_t n_fds = gw_fdset_size(c->fds);
        char pid_env[32] = "WATCHDOG_PID=", listen_pid_env[32] = "LISTEN_PID=";
        char *pid_slots[3] = {};
        size_t n_slots = 0, names_len = strlen("LISTEN_FDNAMES=") + 1;
        char *argv[] = { c->path, (char *) "--config", m->config_path, NULL };
        size_t n_env = 0, k = 0;
        pid_t pid;
        int r;

        assert(c->pid == 0);

        /* Everything is allocated before fork(): the child may only exec. */
        for (char **e = environ; e && *e; e++)
                n_env++;
        envp = calloc(n_env + 7, sizeof *envp);
        tmp = calloc(n_fds ?: 1, sizeof *tmp);
        fds = calloc(n_fds ?: 1, sizeof *fds);
        if (!envp || !tmp || !fds)
                return log_oom();
        if (n_fds > 0) {
                char *p;

                if (asprintf(&fds_env, "LISTEN_FDS=%zu", n_fds) < 0) {
                        fds_env = NULL;
                        return log_oom();
                }
                for (size_t i = 0; i < n_fds; i++)
                        names_len += strlen(gw_fdset_name(c->fds, i)) + 1;
                names_env = malloc(names_len);
                if (!names_env)
                        return log_oom();
                p = stpcpy(names_env, "LISTEN_FDNAMES=");
                for (size_t i = 0; i < n_fds; i++) {
                        if (i > 0)
                                *p++ = ':';
                        p = stpcpy(p, gw_fdset_name(c->fds, i));
                        fds[i] = gw_fdset_fd(c->fds, i);
                }
        }
        if (asprintf(&notify_env, "NOTIFY_SOCKET=%s", m->notify_path) < 0) {
                notify_env = NULL;
                return log_oom();
        }
        if (c->watchdog_usec > 0 &&
            asprintf(&watchdog_env, "WATCHDOG_USEC=%llu", (unsigned long long) c->watchdog_usec) < 0) {
                watchdog_env = NULL;
                return log_oom();
        }
        for (char **e = environ; e && *e; e++)
                if (!env_is_ours(*e))
                        envp[k++] = *e;
        envp[k++] = notify_env;
        if (watchdog_env) {
                envp[k++] = watchdog_env;
                envp[k++] = pid_env;     /* the child writes its own pid after "WATCHDOG_PID=" */
                pid_slots[n_slots++] = pid_env + strlen("WATCHDOG_PID=");
        }
        if (fds_env) {
                envp[k++] = fds_env;
                envp[k++] = names_env;
                envp[k++] = listen_pid_env;
                pid_slots[n_slots++] = listen_pid_env + strlen("LISTEN_PID=");
        }
        envp[k] = NULL;

        c->killing = false;
        c->ready_at = 0;
        c->stopping_notified = false;
        c->instance_id = 0;
        c->started_at = now_usec(CLOCK_MONOTONIC);

        pid = fork();
        if (pid < 0) {
                r = -errno;
                log_error_errno(r, "Failed to fork for daemon '%s': %m", c->name);
                child_schedule_restart(c, "could not be forked");
                return r;
        }
        if (pid == 0)
                child_exec(c->path, argv, envp, pid_slots, fds, n_fds, tmp);

        c->pid = pid;
        /* The same process after exec: this start time is what gwsupd.children records. */
        c->starttime = proc_starttime(pid);
        r = sd_event_add_child(m->event, &c->exit_source, pid, WEXITED, on_child_exit, c);
        if (r < 0) {
                /* Without a watch we cannot supervise it: do not leave it unattended. */
                log_error_errno(r, "Failed to watch daemon '%s' (pid %d), killing it: %m", c->name, (int) pid);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                c->pid = 0;
                child_schedule_restart(c, "could not be watched");
                return r;
        }

        r = child_arm_timer(c, &c->start_timer, CHILD_START_TIMEOUT_USEC, on_start_timeout);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the start timeout of '%s', ignoring: %m", c->name);

        log_info("Started daemon '%s' (pid %d): %s --config %s%s", c->name, (int) pid, c->path, m->config_path,
                 n_fds > 0 ? " (with the descriptors it stored)" : "");
        if (n_fds > 0)
                log_debug("Daemon '%s' gets %zu stored descriptor(s).", c->name, n_fds);
        /* Publish even if it was STARTING before: the pid is new. */
        c->state = CHILD_STARTING;
        manager_child_changed(m, c);
        return 0;
}

int child_adopt(Child *c, const LeftoverEntry *e, int pidfd) {
        Manager *m = c->manager;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        assert(c->pid == 0);
        assert(pidfd >= 0);

        r = sd_event_add_io(m->event, &c->exit_source, pidfd, EPOLLIN, on_adopted_exit, c);
        if (r < 0)
                return log_warning_errno(r, "Failed to watch daemon '%s' (pid %d): %m", c->name, (int) e->pid);
        c->pidfd = pidfd;
        c->pid = e->pid;
        c->starttime = e->starttime;
        c->killing = false;
        c->stopping_notified = false;
        c->instance_id = e->instance_id;
        c->restarts = e->restarts;
        c->started_at = now;
        if (e->ready) {
                /* Its READY=1 went to the previous gwsupd; its WATCHDOG=1 pings come
                 * to us (same notify socket path) from now on. Ready for about as
                 * long as it runs: one that had run for a while is restarted at
                 * once if it dies right after the adoption, as under its first gwsupd. */
                uint64_t age = proc_age_usec(e->starttime);

                c->ready_at = age > 0 && age < now ? now - age : now;
                c->state = CHILD_RUNNING;
                child_arm_watchdog(c);
        } else {
                c->ready_at = 0;
                c->state = CHILD_STARTING;
                r = child_arm_timer(c, &c->start_timer, CHILD_START_TIMEOUT_USEC, on_start_timeout);
                if (r < 0)
                        log_warning_errno(r, "Failed to arm the start timeout of '%s', ignoring: %m", c->name);
        }
        log_info("Adopted daemon '%s' (pid %d, %s, bus instance %016llx) left running by a previous gwsupd.",
                 c->name, (int) c->pid, child_state_to_string(c->state), (unsigned long long) c->instance_id);
        manager_child_changed(m, c);
        return 0;
}

void child_cancel_restart(Child *c) {
        (void) sd_event_source_set_enabled(c->start_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->watchdog_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->restart_timer, SD_EVENT_OFF);
        if (c->pid <= 0 && c->state == CHILD_RESTARTING)
                child_set_state(c, CHILD_STOPPED);
}

void child_handle_notify(Child *c, const NotifyMessage *msg, int *fds, size_t n_fds) {
        bool changed = false;
        const char *fdname = msg->fdname ?: "stored";

        if (msg->fdstore_remove && msg->fdname) {
                size_t k = child_fdstore_remove(c, msg->fdname);
                log_debug("Daemon '%s' removed %zu stored descriptor(s) named '%s'.", c->name, k, msg->fdname);
        }
        for (size_t i = 0; i < n_fds; i++) {
                int r;

                if (!msg->fdstore) {
                        close(fds[i]);
                        continue;
                }
                r = child_fdstore_add(c, fds[i], fdname);
                if (r == -EXFULL)
                        log_warning("Daemon '%s' stores more than %d descriptors; closing '%s'.", c->name,
                                    CHILD_FDSTORE_MAX, fdname);
                else if (r < 0)
                        log_warning_errno(r, "Failed to store descriptor '%s' of '%s', closing it: %m", fdname,
                                          c->name);
                else
                        log_debug("Daemon '%s' stored descriptor '%s'%s.", c->name, fdname,
                                  r == 0 ? " (already stored)" : "");
        }

        if (msg->status && !streq_ptr(msg->status, c->status_text)) {
                char *s = strdup(msg->status);
                if (s) {
                        free(c->status_text);
                        c->status_text = s;
                        changed = true;
                }
        }
        if (msg->has_errno)
                log_info("Daemon '%s' reports ERRNO=%d (%s).", c->name, msg->errno_value,
                         strerror(msg->errno_value));
        if (msg->stopping && !c->stopping_notified) {
                c->stopping_notified = true;
                log_debug("Daemon '%s' (pid %d) is stopping.", c->name, (int) c->pid);
        }
        if (msg->has_watchdog_usec) {
                log_debug("Daemon '%s' sets its watchdog interval to %llu us.", c->name,
                          (unsigned long long) msg->watchdog_usec);
                c->watchdog_usec = msg->watchdog_usec;
                child_arm_watchdog(c);
        }

        if (msg->ready && c->state == CHILD_STARTING && !c->killing) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);

                c->ready_at = now;
                (void) sd_event_source_set_enabled(c->start_timer, SD_EVENT_OFF);
                log_info("Daemon '%s' (pid %d) is ready after %llu ms%s%s%s.", c->name, (int) c->pid,
                         (unsigned long long) ((now - c->started_at) / USEC_PER_MSEC),
                         c->status_text ? ": '" : "", strempty(c->status_text), c->status_text ? "'" : "");
                c->state = CHILD_RUNNING;
                child_arm_watchdog(c);
                changed = true;
        } else if (msg->watchdog && c->state == CHILD_RUNNING)
                child_arm_watchdog(c);

        if (msg->watchdog_trigger && c->pid > 0)
                child_watchdog_expired(c, "asked for its watchdog to fire (WATCHDOG=trigger)");

        if (changed)
                manager_child_changed(c->manager, c);
}
