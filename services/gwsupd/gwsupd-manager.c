/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-manager.c: the supervisor's manager: child table, notify socket, bus side, stop sequence.
 *
 * Stopping the whole gateway (SIGTERM/SIGINT, or giving up):
 *  1. publish GatewayStopping{deadline_ms=1500}; no child is restarted from now on;
 *  2. if regd is running, wait for its UnregisterDone (it un-REGISTERs every
 *     line first) or 1.5 s, whichever comes first;
 *  3. SIGTERM every child; SIGKILL whatever is left 2 s after step 1;
 *  4. exit once every child is reaped.
 * One daemon's own restart never publishes GatewayStopping: peers see its
 * ServiceState go RESTARTING and back to RUNNING with a new instance_id. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "gw-build-config.h"
#include "gw-daemon.h"
#include "gw-log.h"
#include "gwsupd-manager.h"

const ChildSpec manager_child_table[] = {
        { "sigd",    GW__SERVICE__SERVICE_SIGD,    RESTART_ALWAYS },
        { "regd",    GW__SERVICE__SERVICE_REGD,    RESTART_ALWAYS },
        { "mediad",  GW__SERVICE__SERVICE_MEDIAD,  RESTART_ALWAYS },
        { "linehwd", GW__SERVICE__SERVICE_LINEHWD, RESTART_ALWAYS },
};
const size_t manager_child_table_size = ELEMENTSOF(manager_child_table);

/* Scratch for one StatusReply: the bus packs it before the handler's caller
 * returns, and the loop is single-threaded, so one per manager suffices. */
static struct {
        Gw__StatusReply reply;
        Gw__ServiceState states[MANAGER_CHILDREN_MAX];
        Gw__ServiceState *ptrs[MANAGER_CHILDREN_MAX];
        Gw__BusCounters counters;
} status_scratch;

Child *manager_child_by_pid(Manager *m, pid_t pid) {
        for (size_t i = 0; i < m->n_children; i++)
                if (m->children[i].pid == pid && pid > 0)
                        return &m->children[i];
        return NULL;
}

static void child_fill_state(const Child *c, Gw__ServiceState *ss) {
        *ss = (Gw__ServiceState) GW__SERVICE_STATE__INIT;
        ss->service = c->service;
        ss->state = child_state_to_run_state(c->state);
        ss->has_pid = c->pid > 0;
        ss->pid = (int32_t) c->pid;
        ss->has_restarts = true;
        ss->restarts = c->restarts;
        ss->status_text = c->status_text;
        ss->has_instance_id = c->instance_id != 0;
        ss->instance_id = c->instance_id;
}

/* ---------------------------------------------------------------- leftovers
 *
 * Daemons outlive a gwsupd that dies (no PR_SET_PDEATHSIG). A gwsupd started
 * again adopts them instead of running a second set next to them (which would
 * take over the bus endpoints and fight over the SIP socket): gwsupd keeps
 * <runtime_dir>/gwsupd.children (gwsupd-adopt.h: name, pid, start time, bus
 * instance, state, restarts per running child, written atomically on every
 * change) and, at start, adopts the processes listed there that still run
 * with the same pid and start time (so a recycled pid is never taken) and the
 * binary it would start itself. Those of another binary are stopped (SIGTERM,
 * SIGKILL after 2 s) and started anew; a process that is none of our daemons
 * is never signalled. */

static void manager_save_children(Manager *m) {
        char buf[MANAGER_CHILDREN_MAX * 128];
        size_t off = 0;
        int r;

        /* The predecessor's list stays until every line of it is dealt with: a
         * crash meanwhile must not lose the daemons not looked at yet. */
        if (m->adopting)
                return;

        for (size_t i = 0; i < m->n_children; i++) {
                const Child *c = &m->children[i];
                LeftoverEntry e = {
                        .pid = c->pid,
                        .starttime = c->starttime,
                        .instance_id = c->instance_id,
                        .ready = c->state == CHILD_RUNNING,
                        .restarts = c->restarts,
                };

                if (c->pid <= 0 || c->starttime == 0)
                        continue;
                snprintf(e.name, sizeof e.name, "%s", c->name);
                r = leftover_format(&e, buf + off, sizeof buf - off);
                if (r < 0)
                        return;
                off += (size_t) r;
        }
        if (m->saved_children && strlen(m->saved_children) == off && memcmp(m->saved_children, buf, off) == 0)
                return;
        r = gw_state_write(m->conf->runtime_dir, "gwsupd.children", buf, off);
        if (r < 0) {
                log_warning_errno(r, "Failed to write '%s/gwsupd.children', ignoring: %m", m->conf->runtime_dir);
                return;
        }
        free(m->saved_children);
        m->saved_children = strndup(buf, off);
}

static Child *manager_child_by_name(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_children; i++)
                if (streq(m->children[i].name, name))
                        return &m->children[i];
        return NULL;
}

/* Signal a leftover through its pidfd: never a process that took its pid
 * since. Without one (no pidfd_open()), by pid, its start time checked just before. */
static void leftover_signal(const LeftoverEntry *e, int pidfd, int sig) {
        if (pidfd >= 0)
                (void) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
        else if (proc_starttime(e->pid) == e->starttime)
                (void) kill(e->pid, sig);
}

/* Stop what must be replaced. Not our children: we can only watch them
 * vanish. Bounded: 2 s, then SIGKILL and 1 s. Closes the pidfds. */
static void manager_stop_leftovers(const LeftoverEntry *left, int *pidfds, size_t n) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + MANAGER_STOP_KILL_USEC;

        for (size_t i = 0; i < n; i++)
                leftover_signal(&left[i], pidfds[i], SIGTERM);
        for (bool killed = false; n > 0;) {
                bool any = false;
                for (size_t i = 0; i < n; i++)
                        if (proc_starttime(left[i].pid) == left[i].starttime)
                                any = true;
                if (!any)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= end) {
                        if (killed) {
                                log_error("Leftover daemons did not go away after SIGKILL; starting anyway.");
                                break;
                        }
                        for (size_t i = 0; i < n; i++)
                                if (proc_starttime(left[i].pid) == left[i].starttime) {
                                        log_warning("Leftover '%s' (pid %d) ignored SIGTERM; sending SIGKILL.",
                                                    left[i].name, (int) left[i].pid);
                                        leftover_signal(&left[i], pidfds[i], SIGKILL);
                                }
                        killed = true;
                        end = now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC;
                }
                (void) usleep(10 * 1000);
        }
        for (size_t i = 0; i < n; i++)
                if (pidfds[i] >= 0)
                        close(pidfds[i]);
}

/* Adopt what a previous gwsupd left running; stop what cannot be adopted. */
static void manager_adopt_leftovers(Manager *m) {
        _cleanup_free_ char *raw = NULL;
        LeftoverEntry left[MANAGER_CHILDREN_MAX], stop[MANAGER_CHILDREN_MAX];
        int stop_fds[MANAGER_CHILDREN_MAX];
        size_t len = 0, n, n_stop = 0;
        int r;

        r = gw_state_read(m->conf->runtime_dir, "gwsupd.children", (void **) &raw, &len);
        if (r < 0) {
                if (r != -ENOENT)
                        log_warning_errno(r, "Failed to read '%s/gwsupd.children', ignoring: %m",
                                          m->conf->runtime_dir);
                return;
        }
        n = leftover_parse(raw, len, left, ELEMENTSOF(left));
        m->adopting = true;
        for (size_t i = 0; i < n; i++) {
                const LeftoverEntry *e = &left[i];
                Child *c = manager_child_by_name(m, e->name);
                LeftoverVerdict v = leftover_check(e, c ? c->path : NULL);
                int fd;

                if (v == LEFTOVER_ADOPT && c->pid > 0)
                        v = LEFTOVER_REPLACE;    /* listed twice: one of them must go */
                switch (v) {
                case LEFTOVER_GONE:
                        log_info("Daemon '%s' (pid %d) of the previous gwsupd no longer runs (exited, or "
                                 "its pid now belongs to another process); starting it anew.",
                                 e->name, (int) e->pid);
                        break;
                case LEFTOVER_FOREIGN:
                        log_warning("Process %d, listed as daemon '%s' in '%s/gwsupd.children', runs another "
                                    "program; leaving it alone.", (int) e->pid, e->name, m->conf->runtime_dir);
                        break;
                case LEFTOVER_ADOPT:
                        fd = leftover_pidfd(e);
                        if (fd == -ESRCH) {
                                log_info("Daemon '%s' (pid %d) ended just now; starting it anew.",
                                         e->name, (int) e->pid);
                                break;
                        }
                        if (fd >= 0 && child_adopt(c, e, fd) >= 0)
                                break;
                        if (fd >= 0)
                                close(fd);
                        else
                                log_warning_errno(fd, "Failed to open a pidfd for '%s' (pid %d): %m",
                                                  e->name, (int) e->pid);
                        __attribute__((fallthrough));
                case LEFTOVER_REPLACE:
                        fd = leftover_pidfd(e);
                        if (fd == -ESRCH)
                                break;           /* gone meanwhile */
                        log_warning("Daemon '%s' (pid %d) was left running by a previous gwsupd and cannot "
                                    "be adopted; stopping it before starting a new one.", e->name, (int) e->pid);
                        stop[n_stop] = *e;
                        stop_fds[n_stop++] = fd;
                        break;
                }
        }
        manager_stop_leftovers(stop, stop_fds, n_stop);
        m->adopting = false;
        manager_save_children(m);
}

void manager_child_changed(Manager *m, Child *c) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ServiceState ss;
        int r;

        manager_save_children(m);

        child_fill_state(c, &ss);
        env.body_case = GW__ENVELOPE__BODY_SERVICE_STATE;
        env.service_state = &ss;
        r = gw_bus_publish_auto(m->bus, c->name, &env);
        if (r < 0)
                log_debug_errno(r, "Failed to publish ServiceState/%s: %m", c->name);
}

static void manager_publish_self(Manager *m) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ServiceState ss = GW__SERVICE_STATE__INIT;

        ss.service = GW__SERVICE__SERVICE_GWSUPD;
        ss.state = GW__SERVICE_RUN_STATE__RUN_STATE_RUNNING;
        ss.has_pid = true;
        ss.pid = getpid();
        ss.has_instance_id = true;
        ss.instance_id = gw_bus_instance_id(m->bus);
        ss.status_text = m->stopping ? (char *) "stopping the gateway" : m->self_status;
        env.body_case = GW__ENVELOPE__BODY_SERVICE_STATE;
        env.service_state = &ss;
        (void) gw_bus_publish_auto(m->bus, "gwsupd", &env);
}

static void manager_publish_all(Manager *m) {
        manager_publish_self(m);
        for (size_t i = 0; i < m->n_children; i++)
                manager_child_changed(m, &m->children[i]);
}

static int on_state_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_publish_all(m);
        return sd_event_source_set_time_relative(s, MANAGER_STATE_INTERVAL_USEC);
}

/* ---------------------------------------------------------------- notify socket */

static void close_many(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        char buf[NOTIFY_DATAGRAM_MAX + 1];

        /* Bounded per wake-up; the fd is level-triggered, so nothing is lost. */
        for (unsigned i = 0; i < 64; i++) {
                NotifyMessage msg;
                int fds[NOTIFY_FDS_MAX];
                size_t n_fds = 0;
                pid_t pid = 0;
                ssize_t n;
                Child *c;
                int r;

                n = notify_socket_receive(fd, buf, sizeof buf, &pid, fds, &n_fds);
                if (n == -EAGAIN)
                        break;
                if (n == -EBADMSG) {
                        log_warning("Received a truncated notification or one without credentials, ignoring.");
                        continue;
                }
                if (n < 0)
                        return log_warning_errno((int) n, "Failed to receive a notification, ignoring: %m"), 0;

                c = manager_child_by_pid(m, pid);
                if (!c) {
                        /* NotifyAccess=main: only a child's main pid speaks for it. */
                        log_debug("Notification from pid %d, which is no daemon of ours, ignoring.", (int) pid);
                        close_many(fds, n_fds);
                        continue;
                }
                r = notify_message_parse(buf, (size_t) n, &msg);
                if (r < 0) {
                        log_warning_errno(r, "Malformed notification from '%s' (pid %d), ignoring: %m",
                                          c->name, (int) pid);
                        close_many(fds, n_fds);
                        continue;
                }
                if (msg.n_ignored > 0)
                        log_debug("Notification from '%s': %u line(s) not understood, ignoring them.",
                                  c->name, msg.n_ignored);
                child_handle_notify(c, &msg, fds, n_fds);
                notify_message_done(&msg);
        }
        return 0;
}

/* ---------------------------------------------------------------- bus side */

static Child *manager_child_by_service(Manager *m, Gw__Service s) {
        for (size_t i = 0; i < m->n_children; i++)
                if (m->children[i].service == s && s != GW__SERVICE__SERVICE_UNKNOWN)
                        return &m->children[i];
        return NULL;
}

/* A daemon's own ServiceState tells us its bus instance_id. */
static int handle_service_state(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Manager *m = userdata;
        const Gw__ServiceState *ss = env->service_state;
        Child *c;

        if (!ss || ss->service != env->source)
                return 0;                /* gwsupd-style reports about others are not evidence */
        c = manager_child_by_service(m, env->source);
        if (!c || !ss->has_pid || ss->pid != c->pid || c->pid <= 0)
                return 0;
        if (c->instance_id != env->instance_id) {
                c->instance_id = env->instance_id;
                manager_child_changed(m, c);
        }
        return 0;
}

static int handle_state_sync_request(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        /* A restarted peer rebuilds its view: re-send every ServiceState we own. */
        manager_publish_all(userdata);
        return 0;
}

static void manager_terminate_children(Manager *m);

static int handle_unregister_done(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Manager *m = userdata;
        const Gw__UnregisterDone *u = env->unregister_done;

        if (!m->stopping || m->terminating)
                return 0;
        log_info("regd un-REGISTERed the lines (%u of %u confirmed) after %llu ms.",
                 u && u->has_confirmed ? u->confirmed : 0, u && u->has_lines ? u->lines : 0,
                 (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - m->stop_begin) / USEC_PER_MSEC));
        manager_terminate_children(m);
        return 0;
}

/* regd's D-Bus API asks for a daemon's restart (RestartService()): do it, answer. */
static int handle_service_restart_request(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Manager *m = userdata;
        const Gw__ServiceRestartRequest *req = env->service_restart_request;
        Gw__Envelope reply = GW__ENVELOPE__INIT;
        Gw__ServiceRestartReply srr = GW__SERVICE_RESTART_REPLY__INIT;
        const char *message = NULL;
        Child *c;
        int r;

        if (!req || !env->has_correlation_id)
                return -EBADMSG;
        c = manager_child_by_service(m, req->service);
        if (!c) {
                r = -ESRCH;
                message = "no such daemon under gwsupd";
        } else if (m->stopping) {
                r = -ESHUTDOWN;
                message = "the gateway is stopping";
        } else
                r = child_restart(c, "asked over D-Bus");
        srr.service = req->service;
        srr.has_errno_value = true;
        srr.errno_value = r < 0 ? -r : 0;
        srr.message = UNCONST(message);
        reply.has_correlation_id = true;
        reply.correlation_id = env->correlation_id;
        reply.body_case = GW__ENVELOPE__BODY_SERVICE_RESTART_REPLY;
        reply.service_restart_reply = &srr;
        return gw_bus_publish_auto(m->bus, strna(gw_service_to_string(req->service)), &reply);
}

static const GwBusHandler manager_bus_handlers[] = {
        [GW__ENVELOPE__BODY_SERVICE_STATE] = {
                "ServiceState", handle_service_state, GW_SRC_DAEMONS },
        [GW__ENVELOPE__BODY_STATE_SYNC_REQUEST] = {
                "StateSyncRequest", handle_state_sync_request, GW_SRC_DAEMONS },
        [GW__ENVELOPE__BODY_UNREGISTER_DONE] = {
                "UnregisterDone", handle_unregister_done, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
        /* regd serves the D-Bus API (docs/OPERATIONS.md). */
        [GW__ENVELOPE__BODY_SERVICE_RESTART_REQUEST] = {
                "ServiceRestartRequest", handle_service_restart_request, GW_SERVICE_BIT(GW__SERVICE__SERVICE_REGD) },
};

static int on_ctl(GwBus *bus, const Gw__Envelope *req, Gw__Envelope *reply, void *userdata) {
        Manager *m = userdata;

        if (req->body_case != GW__ENVELOPE__BODY_STATUS_REQUEST)
                return -EOPNOTSUPP;

        status_scratch.reply = (Gw__StatusReply) GW__STATUS_REPLY__INIT;
        status_scratch.counters = (Gw__BusCounters) GW__BUS_COUNTERS__INIT;
        for (size_t i = 0; i < m->n_children; i++) {
                child_fill_state(&m->children[i], &status_scratch.states[i]);
                status_scratch.ptrs[i] = &status_scratch.states[i];
        }
        status_scratch.reply.n_services = m->n_children;
        status_scratch.reply.services = status_scratch.ptrs;
        gw_bus_counters(m->bus, &status_scratch.counters);
        status_scratch.reply.counters = &status_scratch.counters;

        reply->body_case = GW__ENVELOPE__BODY_STATUS_REPLY;
        reply->status_reply = &status_scratch.reply;
        return 0;
}

/* ---------------------------------------------------------------- stop sequence */

static bool manager_children_alive(const Manager *m) {
        for (size_t i = 0; i < m->n_children; i++)
                if (m->children[i].pid > 0)
                        return true;
        return false;
}

static void manager_check_done(Manager *m) {
        if (!m->stopping || manager_children_alive(m))
                return;
        log_info("Every daemon has stopped after %llu ms.",
                 (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - m->stop_begin) / USEC_PER_MSEC));
        (void) sd_event_exit(m->event, m->exit_code);
}

void manager_child_gone(Manager *m, Child *c) {
        manager_check_done(m);
}

static void manager_terminate_children(Manager *m) {
        if (m->terminating)
                return;
        m->terminating = true;
        (void) sd_event_source_set_enabled(m->unregister_timer, SD_EVENT_OFF);
        for (size_t i = 0; i < m->n_children; i++) {
                Child *c = &m->children[i];
                if (c->pid > 0) {
                        log_debug("Sending SIGTERM to '%s' (pid %d).", c->name, (int) c->pid);
                        (void) child_kill(c, SIGTERM);
                }
        }
        manager_check_done(m);
}

static int on_unregister_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_warning("No UnregisterDone from regd within %u ms; stopping the daemons anyway.",
                    MANAGER_UNREGISTER_WAIT_MS);
        manager_terminate_children(m);
        return 0;
}

static int on_stop_kill(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (!manager_children_alive(m))
                return 0;
        if (m->stop_killed) {
                /* SIGKILL was sent a second ago and something is still there (stuck in
                 * the kernel?): do not hang the shutdown on it. */
                log_error("Daemons still not reaped 1 s after SIGKILL; exiting anyway.");
                return sd_event_exit(m->event, EXIT_FAILURE);
        }
        m->stop_killed = true;
        manager_terminate_children(m);
        for (size_t i = 0; i < m->n_children; i++) {
                Child *c = &m->children[i];
                if (c->pid > 0) {
                        log_warning("Daemon '%s' (pid %d) did not stop within %llu ms; sending SIGKILL.",
                                    c->name, (int) c->pid,
                                    (unsigned long long) (MANAGER_STOP_KILL_USEC / USEC_PER_MSEC));
                        (void) child_kill(c, SIGKILL);
                }
        }
        (void) sd_event_source_set_time_relative(s, USEC_PER_SEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

void manager_stop(Manager *m, int exit_code, const char *why) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__GatewayStopping gs = GW__GATEWAY_STOPPING__INIT;
        Child *regd;
        int r;

        if (m->stopping) {
                if (exit_code != EXIT_SUCCESS)
                        m->exit_code = exit_code;
                return;
        }
        m->stopping = true;
        m->exit_code = exit_code;
        m->stop_begin = now_usec(CLOCK_MONOTONIC);
        log_struct(LOG_NOTICE, ((const char *[]) { GWSUPD_MESSAGE_GATEWAY_STOPPING, NULL }),
                   "Stopping the gateway (%s).", why);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping the gateway.");

        for (size_t i = 0; i < m->n_children; i++)
                child_cancel_restart(&m->children[i]);

        gs.deadline_ms = MANAGER_UNREGISTER_WAIT_MS;
        env.body_case = GW__ENVELOPE__BODY_GATEWAY_STOPPING;
        env.gateway_stopping = &gs;
        r = gw_bus_publish_auto(m->bus, NULL, &env);
        if (r < 0)
                log_warning_errno(r, "Failed to publish GatewayStopping, ignoring: %m");
        manager_publish_self(m);

        r = sd_event_add_time_relative(m->event, &m->stop_kill_timer, CLOCK_MONOTONIC,
                                       MANAGER_STOP_KILL_USEC, 1000, on_stop_kill, m);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the stop timer, ignoring: %m");

        /* Only a running regd has lines to un-REGISTER. */
        regd = manager_child_by_service(m, GW__SERVICE__SERVICE_REGD);
        if (regd && regd->pid > 0 && regd->state == CHILD_RUNNING) {
                r = sd_event_add_time_relative(m->event, &m->unregister_timer, CLOCK_MONOTONIC,
                                               MANAGER_UNREGISTER_WAIT_MS * USEC_PER_MSEC, 1000,
                                               on_unregister_timeout, m);
                if (r >= 0) {
                        log_info("Waiting up to %u ms for regd to un-REGISTER the lines.",
                                 MANAGER_UNREGISTER_WAIT_MS);
                        return;
                }
                log_warning_errno(r, "Failed to arm the un-REGISTER timer, not waiting: %m");
        }
        manager_terminate_children(m);
}

void manager_give_up(Manager *m, Child *c) {
        char f_service[64], f_limit[64];

        snprintf(f_service, sizeof f_service, "GW_SERVICE=%s", c->name);
        snprintf(f_limit, sizeof f_limit, "GW_RESTART_LIMIT=%u", c->window.limit);
        log_struct(LOG_CRIT, ((const char *[]) { GWSUPD_MESSAGE_GAVE_UP, f_service, f_limit, NULL }),
                   "Daemon '%s' would need more than %u restarts within %llu s; giving up on the "
                   "whole gateway. Look at its log for why it keeps failing.",
                   c->name, c->window.limit, (unsigned long long) (RESTART_WINDOW_USEC / USEC_PER_SEC));
        c->ready_at = 0;
        c->state = CHILD_FAILED;
        manager_child_changed(m, c);
        manager_stop(m, EXIT_FAILURE, "a daemon keeps failing");
        /* It may have been the last one alive. */
        manager_check_done(m);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        if (m->stopping) {
                log_notice("Received %s while stopping; not waiting for regd any longer.",
                           strna(sigabbrev_np((int) si->ssi_signo)));
                manager_terminate_children(m);
                return 0;
        }
        manager_stop(m, EXIT_SUCCESS, si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return 0;
}

/* ---------------------------------------------------------------- setup */

int manager_find_binary(const char *name, char **ret) {
        char self[PATH_MAX], *slash;
        ssize_t n;
        char *p = NULL;

        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
                self[n] = 0;
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        /* build tree: build/services/gwsupd/gwsupd -> build/services/<d>/<d> */
                        if (asprintf(&p, "%s/../%s/%s", self, name, name) < 0)
                                return -ENOMEM;
                        if (access(p, X_OK) == 0) {
                                char *canon = realpath(p, NULL);
                                free(p);
                                if (!canon)
                                        return -errno;
                                *ret = canon;
                                return 0;
                        }
                        free(p);
                }
        }
        if (asprintf(&p, "%s/%s", GW_LIBEXECDIR, name) < 0)
                return -ENOMEM;
        if (access(p, X_OK) < 0) {
                int r = -errno;
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

static bool child_name_is_valid(const char *s, size_t n) {
        if (n == 0 || n > 32)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
                        return false;
        return true;
}

int manager_parse_children_env(const char *s, char **ret_names, char **ret_paths, size_t max) {
        size_t n = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p;) {
                const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
                const char *colon = memchr(p, ':', (size_t) (end - p));

                if (!colon || !child_name_is_valid(p, (size_t) (colon - p)) || colon[1] != '/' || n >= max)
                        goto fail;
                for (size_t i = 0; i < n; i++)
                        if (strlen(ret_names[i]) == (size_t) (colon - p) &&
                            strncmp(ret_names[i], p, (size_t) (colon - p)) == 0)
                                goto fail;
                ret_names[n] = strndup(p, (size_t) (colon - p));
                ret_paths[n] = strndup(colon + 1, (size_t) (end - colon - 1));
                n++;
                if (!ret_names[n - 1] || !ret_paths[n - 1])
                        goto fail;
                p = comma ? comma + 1 : end;
                if (comma && !*p)
                        goto fail;       /* trailing comma */
        }
        return (int) n;
fail:
        for (size_t i = 0; i < n; i++) {
                free(ret_names[i]);
                free(ret_paths[i]);
                ret_names[i] = ret_paths[i] = NULL;
        }
        return -EINVAL;
}

static int manager_add_children(Manager *m) {
        const char *env = getenv("GWSUPD_CHILDREN");
        int r;

        if (env) {
                char *names[MANAGER_CHILDREN_MAX] = {}, *paths[MANAGER_CHILDREN_MAX] = {};
                int n = manager_parse_children_env(env, names, paths, MANAGER_CHILDREN_MAX);

                if (n < 0)
                        return log_error_errno(n, "$GWSUPD_CHILDREN='%s' is not a list of name:/absolute/path: %m", env);
                log_notice("Using the child table from $GWSUPD_CHILDREN (for tests only).");
                r = 0;
                for (int i = 0; i < n; i++) {
                        Gw__Service svc = gw_service_from_string(names[i]);
                        if (r >= 0) {
                                r = child_init(&m->children[m->n_children], m, names[i], svc, paths[i],
                                               RESTART_ALWAYS, m->conf->restart_limit,
                                               m->conf->watchdog_interval_us);
                                m->n_children++;
                        }
                        free(names[i]);
                        free(paths[i]);
                }
                return r < 0 ? log_oom() : 0;
        }

        for (size_t i = 0; i < manager_child_table_size; i++) {
                const ChildSpec *spec = &manager_child_table[i];
                _cleanup_free_ char *path = NULL;

                r = manager_find_binary(spec->name, &path);
                if (r < 0)
                        return log_error_errno(r, "Cannot find the daemon '%s' next to gwsupd or in '%s': %m",
                                               spec->name, GW_LIBEXECDIR);
                r = child_init(&m->children[m->n_children], m, spec->name, spec->service, path,
                               spec->restart, m->conf->restart_limit, m->conf->watchdog_interval_us);
                m->n_children++;
                if (r < 0)
                        return log_oom();
        }
        return 0;
}

int manager_new(sd_event *e, const GwConf *c, const char *config_path, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_oom();
        m->event = e;
        m->conf = c;
        m->notify_fd = -EBADF;
        m->exit_code = EXIT_SUCCESS;
        m->config_path = strdup(config_path);
        if (!m->config_path || asprintf(&m->notify_path, "%s/gwsupd.notify", c->runtime_dir) < 0)
                return log_oom();

        r = manager_add_children(m);
        if (r < 0)
                return r;

        r = notify_socket_open(m->notify_path, &m->notify_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to bind the notify socket '%s': %m", m->notify_path);
        r = sd_event_add_io(e, &m->notify_source, m->notify_fd, EPOLLIN, on_notify, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the notify socket: %m");
        /* READY and WATCHDOG before bus chatter: a late ping could kill a healthy child. */
        (void) sd_event_source_set_priority(m->notify_source, SD_EVENT_PRIORITY_IMPORTANT);

        if ((r = sd_event_add_signal(e, &m->sigterm_source, SIGTERM, on_signal, m)) < 0 ||
            (r = sd_event_add_signal(e, &m->sigint_source, SIGINT, on_signal, m)) < 0)
                return log_error_errno(r, "Failed to install signal handlers: %m");

        r = sd_event_add_time_relative(e, &m->state_timer, CLOCK_MONOTONIC, MANAGER_STATE_INTERVAL_USEC,
                                       0, on_state_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the state timer: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

int manager_attach_bus(Manager *m, GwBus *bus) {
        int r;

        m->bus = bus;
        gw_bus_set_handlers(bus, manager_bus_handlers, ELEMENTSOF(manager_bus_handlers), m);
        gw_bus_set_ctl_handler(bus, on_ctl, NULL, m);
        if ((r = gw_bus_subscribe(bus, "UnregisterDone")) < 0 ||
            (r = gw_bus_subscribe(bus, "StateSyncRequest")) < 0 ||
            (r = gw_bus_subscribe(bus, "ServiceState")) < 0 ||
            (r = gw_bus_subscribe(bus, "ServiceRestartRequest")) < 0)
                return log_error_errno(r, "Failed to subscribe on the bus: %m");
        return 0;
}

int manager_start(Manager *m) {
        manager_adopt_leftovers(m);
        for (size_t i = 0; i < m->n_children; i++)
                if (m->children[i].pid == 0)
                        (void) child_spawn(&m->children[i]);
        free(m->self_status);
        if (asprintf(&m->self_status, "Supervising %zu daemon(s).", m->n_children) < 0)
                m->self_status = NULL;
        manager_publish_self(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_children; i++)
                child_done(&m->children[i]);
        sd_event_source_disable_unref(m->notify_source);
        sd_event_source_disable_unref(m->state_timer);
        sd_event_source_disable_unref(m->sigterm_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->unregister_timer);
        sd_event_source_disable_unref(m->stop_kill_timer);
        if (m->bus) {
                gw_bus_set_handlers(m->bus, NULL, 0, NULL);
                gw_bus_set_ctl_handler(m->bus, NULL, NULL, NULL);
        }
        if (m->notify_fd >= 0) {
                close(m->notify_fd);
                (void) unlink(m->notify_path);
        }
        free(m->notify_path);
        free(m->saved_children);
        free(m->config_path);
        free(m->self_status);
        free(m);
        return NULL;
}
