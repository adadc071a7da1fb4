/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-reload.c: the reload coordinator: validate, ask every daemon to check, then to apply. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <zmq.h>

#include "gw-bus.h"
#include "gw-log.h"
#include "gw-reload.h"
#include "gw-toneplan.h"
#include "gw-zsource.h"

typedef enum Phase {
        PHASE_CHECK,
        PHASE_APPLY,
        PHASE_DONE,
} Phase;

typedef struct Peer {
        GwReload *reload;
        void *sock;                      /* DEALER to the daemon's ROUTER; NULL: absent */
        GwZSource *source;
        uint64_t waiting_cid;            /* 0: not waiting */
} Peer;

struct GwReload {
        sd_event *event;
        GwConf *conf;                    /* the file, validated */
        void *zctx;
        Peer peers[GW_RELOAD_N_DAEMONS];
        Phase phase;
        size_t apply_next;
        unsigned check_pending;
        sd_event_source *timer;
        sd_event_source *finish;         /* defer: the callback runs outside any socket's callback */
        uint64_t start_usec, instance, seq;
        GwReloadResult result;
        gw_reload_done_t done;
        void *userdata;
};

/* The apply order: the line side and media first, then sigd (the lines and the
 * credentials regd's REGISTERs need), then regd, then the supervisor. */
static const Gw__Service reload_order[GW_RELOAD_N_DAEMONS] = {
        GW__SERVICE__SERVICE_LINEHWD, GW__SERVICE__SERVICE_MEDIAD, GW__SERVICE__SERVICE_SIGD,
        GW__SERVICE__SERVICE_REGD, GW__SERVICE__SERVICE_GWSUPD,
};

void gw_reload_result_done(GwReloadResult *r) {
        if (!r)
                return;
        free(r->message);
        r->message = NULL;
        for (size_t i = 0; i < GW_RELOAD_N_DAEMONS; i++) {
                free(r->daemons[i].message);
                r->daemons[i].message = NULL;
        }
}

static void set_message(char **p, const char *fmt, ...) _printf_(2, 3);
static void set_message(char **p, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*p);
        *p = s;
}

static int on_finish(sd_event_source *s, void *userdata) {
        GwReload *rl = userdata;

        rl->finish = sd_event_source_disable_unref(rl->finish);
        if (rl->done)
                rl->done(rl, &rl->result, rl->userdata);
        return 0;
}

/* The one-line message of a finished reload: what failed, or what changed. */
static void compose_message(GwReload *rl) {
        GwReloadResult *r = &rl->result;
        char buf[1024];
        size_t off = 0;
        unsigned present = 0;

        if (r->message)                  /* set by whatever ended it early */
                return;
        for (size_t i = 0; i < GW_RELOAD_N_DAEMONS; i++) {
                const GwReloadDaemon *d = &r->daemons[i];

                present += d->present;
                if (!d->present || (!d->error && !d->changed) || off >= sizeof buf - 1)
                        continue;
                off += (size_t) snprintf(buf + off, sizeof buf - off, "%s%s: %s%s", off ? "; " : "",
                                         gw_service_to_string(d->service), d->error ? "failed: " : "",
                                         strna(d->message));
        }
        if (off >= sizeof buf)
                off = sizeof buf - 1;
        buf[off] = 0;
        if (r->error < 0)
                set_message(&r->message, "Reload of '%s' failed on a daemon (the others applied it): %s",
                            rl->conf->path, buf);
        else
                set_message(&r->message, "Reloaded '%s' (%u daemon(s) running): %s", rl->conf->path, present,
                            off ? buf : "nothing changed");
}

static void finish(GwReload *rl, int error) {
        if (rl->phase == PHASE_DONE)
                return;
        rl->phase = PHASE_DONE;
        rl->timer = sd_event_source_disable_unref(rl->timer);
        if (error < 0 && rl->result.error == 0)
                rl->result.error = error;
        rl->result.duration_usec = now_usec(CLOCK_MONOTONIC) - rl->start_usec;
        compose_message(rl);
        /* Deferred: a caller freeing the reload from its callback must not pull the
         * socket out from under the receive that got here. */
        if (sd_event_add_defer(rl->event, &rl->finish, on_finish, rl) < 0)
                (void) on_finish(NULL, rl);
}

static int send_request(GwReload *rl, size_t i, bool check_only) {
        Peer *p = &rl->peers[i];
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__ReloadRequest req = GW__RELOAD_REQUEST__INIT;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len;

        req.has_check_only = true;
        req.check_only = check_only;
        req.has_digest = true;
        req.digest = rl->conf->digest;
        env.body_case = GW__ENVELOPE__BODY_RELOAD_REQUEST;
        env.reload_request = &req;
        gw_envelope_stamp(&env, GW__SERVICE__SERVICE_GWCTL, rl->instance, ++rl->seq);
        env.has_correlation_id = true;
        env.correlation_id = rl->instance ^ rl->seq;
        len = gw__envelope__get_packed_size(&env);
        buf = malloc(len ? len : 1);
        if (!buf)
                return -ENOMEM;
        gw__envelope__pack(&env, buf);
        /* DEALER to ROUTER: the empty delimiter a REQ would add, then the envelope. */
        if (zmq_send(p->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(p->sock, buf, len, ZMQ_DONTWAIT) < 0)
                return gw_zmq_errno();
        p->waiting_cid = env.correlation_id;
        return 0;
}

static int arm_timer(GwReload *rl, uint64_t usec);

static void apply_next(GwReload *rl) {
        while (rl->apply_next < GW_RELOAD_N_DAEMONS) {
                size_t i = rl->apply_next++;
                GwReloadDaemon *d = &rl->result.daemons[i];
                int r;

                if (!d->present)
                        continue;
                r = send_request(rl, i, false);
                if (r < 0) {
                        d->error = r;
                        set_message(&d->message, "%s", strerror(-r));
                        rl->result.error = -EIO;
                        continue;
                }
                if (arm_timer(rl, GW_RELOAD_APPLY_TIMEOUT_USEC) < 0) {
                        finish(rl, -ENOMEM);
                        return;
                }
                return;
        }
        finish(rl, 0);
}

static void check_done(GwReload *rl) {
        GwReloadResult *r = &rl->result;
        unsigned present = 0;

        /* A refusal, or a daemon that read another file: nothing is applied anywhere. */
        for (size_t i = 0; i < GW_RELOAD_N_DAEMONS; i++) {
                GwReloadDaemon *d = &r->daemons[i];

                present += d->present;
                if (!d->present || d->error == 0)
                        continue;
                set_message(&r->message, "Reload of '%s' refused by %s, nothing changed: %s", rl->conf->path,
                            gw_service_to_string(d->service), strna(d->message));
                finish(rl, d->error == -ESTALE ? -ESTALE : -EINVAL);
                return;
        }
        if (present == 0) {
                set_message(&r->message, "No daemon of the gateway answered (is it running?); '%s' is valid.",
                            rl->conf->path);
                finish(rl, -ESRCH);
                return;
        }
        rl->phase = PHASE_APPLY;
        rl->apply_next = 0;
        apply_next(rl);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        GwReload *rl = userdata;

        if (rl->phase == PHASE_CHECK) {
                /* Whoever has not answered the check is not running: it reads the file when it starts. */
                for (size_t i = 0; i < GW_RELOAD_N_DAEMONS; i++)
                        if (rl->peers[i].waiting_cid) {
                                rl->peers[i].waiting_cid = 0;
                                rl->result.daemons[i].present = false;
                        }
                rl->check_pending = 0;
                check_done(rl);
        } else if (rl->phase == PHASE_APPLY) {
                size_t i = rl->apply_next - 1;
                GwReloadDaemon *d = &rl->result.daemons[i];

                rl->peers[i].waiting_cid = 0;
                d->error = -ETIMEDOUT;
                set_message(&d->message, "no answer to apply within %u s",
                            (unsigned) (GW_RELOAD_APPLY_TIMEOUT_USEC / USEC_PER_SEC));
                rl->result.error = -ETIMEDOUT;
                apply_next(rl);
        }
        return 0;
}

static int arm_timer(GwReload *rl, uint64_t usec) {
        int r;

        if (!rl->timer)
                return sd_event_add_time_relative(rl->event, &rl->timer, CLOCK_MONOTONIC, usec, 0, on_timer, rl);
        r = sd_event_source_set_time_relative(rl->timer, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(rl->timer, SD_EVENT_ONESHOT);
}

static void handle_reply(GwReload *rl, size_t i, const Gw__Envelope *env) {
        GwReloadDaemon *d = &rl->result.daemons[i];

        rl->peers[i].waiting_cid = 0;
        if (env->body_case == GW__ENVELOPE__BODY_RELOAD_REPLY) {
                const Gw__ReloadReply *rr = env->reload_reply;

                d->error = rr->ok ? 0 : -EINVAL;
                d->changed = rr->has_changed && rr->changed;
                d->duration_usec = rr->duration_us;
                set_message(&d->message, "%s", rr->ok ? strempty(rr->summary) : strna(rr->error));
                if (rl->phase == PHASE_APPLY && rr->ok) {
                        d->applied = true;
                        if (d->service == GW__SERVICE__SERVICE_REGD) {
                                rl->result.lines_added = rr->lines_added;
                                rl->result.lines_removed = rr->lines_removed;
                                rl->result.lines_changed = rr->lines_changed;
                        }
                }
        } else if (env->body_case == GW__ENVELOPE__BODY_ERROR_REPLY) {
                d->error = -abs(env->error_reply->errno_value ? env->error_reply->errno_value : EIO);
                set_message(&d->message, "%s", env->error_reply->message ? env->error_reply->message
                                                                          : strerror(-d->error));
        } else {
                d->error = -EBADMSG;
                set_message(&d->message, "unexpected answer");
        }

        if (rl->phase == PHASE_CHECK) {
                d->present = true;
                if (rl->check_pending > 0 && --rl->check_pending == 0) {
                        (void) sd_event_source_set_enabled(rl->timer, SD_EVENT_OFF);
                        check_done(rl);
                }
        } else if (rl->phase == PHASE_APPLY) {
                if (d->error < 0)
                        rl->result.error = -EIO;
                apply_next(rl);
        }
}

/* [empty][envelope] from the daemon's ROUTER. Late answers (after a timeout) are dropped. */
static int recv_one(void *sock, void *userdata) {
        Peer *p = userdata;
        GwReload *rl = p->reload;
        _cleanup_(gw__envelope__free_unpackedp_) Gw__Envelope *env = NULL;
        zmq_msg_t msg;
        int more = 0;
        size_t more_len = sizeof more;

        for (;;) {
                zmq_msg_init(&msg);
                if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
                        int r = zmq_errno();
                        zmq_msg_close(&msg);
                        return r == EAGAIN ? 0 : -r;
                }
                (void) zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
                if (!more)
                        break;
                zmq_msg_close(&msg);
        }
        if (zmq_msg_size(&msg) > 0 && zmq_msg_size(&msg) <= GW_BUS_MAX_MESSAGE)
                env = gw__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        zmq_msg_close(&msg);
        if (!env || !p->waiting_cid || env->correlation_id != p->waiting_cid || rl->phase == PHASE_DONE)
                return 1;
        handle_reply(rl, (size_t) (p - rl->peers), env);
        return 1;
}

/* An ipc socket file that is not there: the daemon is not running (no need to wait for it). */
static bool endpoint_absent(const GwConf *c, Gw__Service s) {
        char ep[256];
        struct stat st;

        if (gw_bus_endpoint(c, s, "ctl", ep, sizeof ep) < 0 || strncmp(ep, "ipc://", 6) != 0)
                return false;
        return stat(ep + 6, &st) < 0 && errno == ENOENT;
}

static int load_and_validate(GwReload *rl, const char *path) {
        _cleanup_free_ char *error = NULL;
        _cleanup_(gw_toneplan_freep) GwTonePlan *plan = NULL;
        int r;

        r = gw_conf_load(path, &rl->conf, &error);
        if (r < 0) {
                set_message(&rl->result.message, "Configuration not reloaded, nothing changed: %s",
                            error ? error : strerror(-r));
                return r == -ENOMEM ? r : -EINVAL;
        }
        r = gw_toneplan_load_for_conf(rl->conf, &plan, &error);
        if (r < 0) {
                set_message(&rl->result.message, "Configuration not reloaded, nothing changed: tone plan: %s",
                            error ? error : strerror(-r));
                return r == -ENOMEM ? r : -EINVAL;
        }
        return 0;
}

int gw_reload_start(sd_event *e, const char *path, const GwConf *bus, gw_reload_done_t done, void *userdata,
                    GwReload **ret) {
        _cleanup_(gw_reload_freep) GwReload *rl = NULL;
        const GwConf *ep;
        int r;

        assert(e && path && ret);
        rl = calloc(1, sizeof *rl);
        if (!rl)
                return -ENOMEM;
        rl->event = sd_event_ref(e);
        rl->done = done;
        rl->userdata = userdata;
        rl->start_usec = now_usec(CLOCK_MONOTONIC);
        if (getrandom(&rl->instance, sizeof rl->instance, GRND_NONBLOCK) != sizeof rl->instance)
                rl->instance = rl->start_usec;
        for (size_t i = 0; i < GW_RELOAD_N_DAEMONS; i++) {
                rl->peers[i].reload = rl;
                rl->result.daemons[i].service = reload_order[i];
        }

        r = load_and_validate(rl, path);
        if (r < 0) {
                if (!rl->conf) {
                        /* compose_message() needs a path */
                        rl->conf = calloc(1, sizeof *rl->conf);
                        if (!rl->conf || !(rl->conf->path = strdup(path)))
                                return -ENOMEM;
                }
                rl->phase = PHASE_CHECK;
                finish(rl, r);
                *ret = TAKE_PTR(rl);
                return 0;
        }

        ep = bus ? bus : rl->conf;
        rl->zctx = zmq_ctx_new();
        if (!rl->zctx)
                return gw_zmq_errno();
        rl->phase = PHASE_CHECK;
        for (size_t i = 0; i < GW_RELOAD_N_DAEMONS; i++) {
                Peer *p = &rl->peers[i];
                char name[32];

                if (endpoint_absent(ep, reload_order[i]))
                        continue;
                p->sock = zmq_socket(rl->zctx, ZMQ_DEALER);
                if (!p->sock)
                        return gw_zmq_errno();
                r = gw_zsocket_set_options(p->sock, 16);
                if (r >= 0)
                        r = gw_bus_connect_endpoint(ep, p->sock, reload_order[i], "ctl");
                if (r < 0)
                        return r;
                snprintf(name, sizeof name, "reload-%s", gw_service_to_string(reload_order[i]));
                r = gw_zsource_new(e, p->sock, name, 4, recv_one, p, &p->source);
                if (r < 0)
                        return r;
                r = send_request(rl, i, true);
                if (r < 0)
                        return r;
                rl->check_pending++;
        }
        if (rl->check_pending == 0)
                check_done(rl);
        else {
                r = arm_timer(rl, GW_RELOAD_CHECK_TIMEOUT_USEC);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(rl);
        return 0;
}

GwReload *gw_reload_free(GwReload *rl) {
        if (!rl)
                return NULL;
        sd_event_source_disable_unref(rl->timer);
        sd_event_source_disable_unref(rl->finish);
        for (size_t i = 0; i < GW_RELOAD_N_DAEMONS; i++) {
                gw_zsource_free(rl->peers[i].source);
                if (rl->peers[i].sock)
                        zmq_close(rl->peers[i].sock);
        }
        if (rl->zctx)
                zmq_ctx_term(rl->zctx);
        gw_reload_result_done(&rl->result);
        gw_conf_free(rl->conf);
        sd_event_unref(rl->event);
        free(rl);
        return NULL;
}

/* ---- synchronous form */

typedef struct SyncState {
        GwReloadResult *ret;
        bool done;
} SyncState;

static void sync_done(GwReload *rl, const GwReloadResult *r, void *userdata) {
        SyncState *st = userdata;

        /* Move the result out: the reload frees what it keeps. */
        *st->ret = *r;
        rl->result = (GwReloadResult) {};
        st->done = true;
        (void) sd_event_exit(rl->event, 0);
}

int gw_reload_run(const char *path, GwReloadResult *ret) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_reload_freep) GwReload *rl = NULL;
        SyncState st = { .ret = ret };
        int r;

        assert(path && ret);
        *ret = (GwReloadResult) {};
        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = gw_reload_start(e, path, NULL, sync_done, &st, &rl);
        if (r < 0)
                return r;
        r = sd_event_loop(e);
        if (r < 0)
                return r;
        if (!st.done)
                return -EIO;
        return ret->error;
}
