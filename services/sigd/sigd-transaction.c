/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-transaction.c: libosip2's transaction layer on our sd-event loop, and
 * the life of one client request from regd's SipRequest to its outcome.
 *
 * libosip2 keeps the RFC 3261 timers (E, F, K for NICT; G, H, I for IST; J for
 * NIST). One sd-event timer is re-armed after every event to
 * osip_timers_gettimeout(); when it fires, and after every received datagram,
 * manager_osip_run() runs libosip2's queues and timers. libosip2's callbacks
 * only note what happened on the request (PENDING_*); the request is settled
 * after libosip2 returns, because a transaction may not be freed (or a new one
 * started) from inside its loops. Transactions libosip2 is done with go to a
 * dead list, freed at the end of the run.
 *
 * libosip2 fixes Timer F at 32 s, so the request's own timeout_ms timer ends
 * the client transaction (OUTCOME_TIMEOUT) and takes it out of libosip2: a
 * late response then matches nothing and is dropped. */
#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

#include "gw-bus.h"
#include "gw-log.h"
#include "gw-sockaddr.h"
#include "sigd-manager.h"

static void client_request_finish(ClientRequest *cr, Gw__SipOutcomeKind kind, const osip_message_t *resp,
                                  const char *error);

/* ---------------------------------------------------------------- transactions */

static void dead_push(Manager *m, osip_transaction_t *tr) {
        for (size_t i = 0; i < m->n_dead; i++)
                if (m->dead[i] == tr)
                        return;
        if (m->n_dead == m->n_dead_alloc) {
                size_t k = MAX(m->n_dead_alloc * 2, (size_t) 16);
                osip_transaction_t **d = realloc(m->dead, k * sizeof(*d));
                if (!d) {
                        log_oom();
                        return;                           /* leaks one transaction rather than crash */
                }
                m->dead = d;
                m->n_dead_alloc = k;
        }
        m->dead[m->n_dead++] = tr;
}

static void dead_free(Manager *m) {
        for (size_t i = 0; i < m->n_dead; i++) {
                osip_transaction_t *tr = m->dead[i];
                TransactionCtx *ctx = osip_transaction_get_your_instance(tr);
                if (ctx && ctx->request && ctx->request->tr == tr)
                        ctx->request->tr = NULL;
                if (ctx && ctx->call)
                        calls_transaction_gone(m, ctx->call, tr);
                free(ctx);
                osip_transaction_set_your_instance(tr, NULL);
                osip_transaction_free(tr);                /* also removes it from libosip2 */
        }
        m->n_dead = 0;
}

void manager_transaction_kill(Manager *m, osip_transaction_t *tr) {
        TransactionCtx *ctx;

        if (!tr)
                return;
        ctx = osip_transaction_get_your_instance(tr);
        if (ctx && ctx->request) {
                if (ctx->request->tr == tr)
                        ctx->request->tr = NULL;
                ctx->request = NULL;
        }
        osip_remove_transaction(m->osip, tr);
        dead_push(m, tr);
}

int manager_transaction_start(Manager *m, osip_transaction_t *tr, TransactionCtx *ctx, osip_event_t *ev) {
        osip_transaction_set_your_instance(tr, ctx);
        if (ev)
                osip_transaction_add_event(tr, ev);
        return 0;
}

static int send_cb(osip_transaction_t *tr, osip_message_t *sip, char *host, int port, int out_socket) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);
        char *s = NULL;
        size_t len = 0;
        int r;

        if (!ctx)
                return -1;                               /* a transaction we already gave up */
        if (osip_message_to_str(sip, &s, &len) != 0)
                return -1;
        r = transport_send(ctx->manager, s, len, (const struct sockaddr *) &ctx->dest, ctx->dest_len);
        osip_free(s);
        if (r < 0) {
                if (ctx->request)
                        ctx->request->error = -r;
                return -1;
        }
        return 0;
}

static void nict_message_cb(int type, osip_transaction_t *tr, osip_message_t *sip) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);
        ClientRequest *cr = ctx ? ctx->request : NULL;

        if (type == OSIP_NICT_REQUEST_SENT_AGAIN && ctx)
                ctx->manager->counters.retransmissions++;
        if (!cr || cr->tr != tr || cr->pending != PENDING_NONE)
                return;
        switch (type) {
        case OSIP_NICT_STATUS_1XX_RECEIVED:
                cr->got_provisional = true;
                break;
        case OSIP_NICT_STATUS_2XX_RECEIVED:
        case OSIP_NICT_STATUS_3XX_RECEIVED:
        case OSIP_NICT_STATUS_4XX_RECEIVED:
        case OSIP_NICT_STATUS_5XX_RECEIVED:
        case OSIP_NICT_STATUS_6XX_RECEIVED:
                cr->pending = PENDING_RESPONSE;
                cr->response = sip;                       /* owned by tr (its last_response) */
                break;
        default:
                break;
        }
}

static void ict_message_cb(int type, osip_transaction_t *tr, osip_message_t *sip) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);

        if (!ctx)
                return;
        if (type == OSIP_ICT_INVITE_SENT_AGAIN || type == OSIP_ICT_ACK_SENT_AGAIN)
                ctx->manager->counters.retransmissions++;
        if (ctx->call == 0)
                return;
        switch (type) {
        case OSIP_ICT_STATUS_1XX_RECEIVED:
        case OSIP_ICT_STATUS_2XX_RECEIVED:
        case OSIP_ICT_STATUS_3XX_RECEIVED:
        case OSIP_ICT_STATUS_4XX_RECEIVED:
        case OSIP_ICT_STATUS_5XX_RECEIVED:
        case OSIP_ICT_STATUS_6XX_RECEIVED:
                calls_tx_event(ctx->manager, tr, 1, sip);
                break;
        default:
                break;
        }
}

static void server_message_cb(int type, osip_transaction_t *tr, osip_message_t *sip) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);

        if (ctx && (type == OSIP_NIST_STATUS_2XX_SENT_AGAIN || type == OSIP_NIST_STATUS_3456XX_SENT_AGAIN ||
                    type == OSIP_IST_STATUS_3456XX_SENT_AGAIN))
                ctx->manager->counters.retransmissions++;
}

static void kill_cb(int type, osip_transaction_t *tr) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);
        Manager *m;

        if (!ctx)
                return;
        m = ctx->manager;
        if (ctx->request && ctx->request->tr == tr && ctx->request->pending == PENDING_NONE)
                ctx->request->pending = PENDING_TIMEOUT;  /* Timer F */
        if (ctx->call && type == OSIP_ICT_KILL_TRANSACTION)
                calls_tx_event(m, tr, 3, NULL);
        osip_remove_transaction(m->osip, tr);
        dead_push(m, tr);
}

static void transport_error_cb(int type, osip_transaction_t *tr, int error) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);

        if (ctx && ctx->call && type == OSIP_ICT_TRANSPORT_ERROR)
                calls_tx_event(ctx->manager, tr, 2, NULL);
        if (ctx && ctx->request && ctx->request->tr == tr && ctx->request->pending == PENDING_NONE) {
                ctx->request->pending = PENDING_TRANSPORT;
                if (ctx->request->error == 0)
                        ctx->request->error = EIO;
        }
}

static int on_osip_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_osip_run(userdata);
        return 0;
}

static void osip_timer_rearm(Manager *m) {
        struct timeval tv = {};
        uint64_t delay, now;
        int r;

        osip_timers_gettimeout(m->osip, &tv);
        delay = (uint64_t) tv.tv_sec * USEC_PER_SEC + (uint64_t) tv.tv_usec;
        delay = CLAMP(delay, USEC_PER_MSEC, 3600 * USEC_PER_SEC);
        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                now = now_usec(CLOCK_MONOTONIC);
        if (!m->osip_timer) {
                r = sd_event_add_time(m->event, &m->osip_timer, CLOCK_MONOTONIC, now + delay, USEC_PER_MSEC,
                                      on_osip_timer, m);
                if (r < 0)
                        log_error_errno(r, "Failed to add the transaction timer: %m");
                else
                        (void) sd_event_source_set_description(m->osip_timer, "osip-timers");
                return;
        }
        (void) sd_event_source_set_time(m->osip_timer, now + delay);
        (void) sd_event_source_set_enabled(m->osip_timer, SD_EVENT_ONESHOT);
}

/* NIST before IST: the 200 for a CANCEL leaves before the INVITE's 487. */
static void osip_execute_all(Manager *m) {
        osip_ict_execute(m->osip);
        osip_nist_execute(m->osip);
        osip_ist_execute(m->osip);
        osip_nict_execute(m->osip);
        osip_timers_ict_execute(m->osip);
        osip_timers_ist_execute(m->osip);
        osip_timers_nict_execute(m->osip);
        osip_timers_nist_execute(m->osip);
        osip_ict_execute(m->osip);
        osip_nist_execute(m->osip);
        osip_ist_execute(m->osip);
        osip_nict_execute(m->osip);
}

void manager_osip_run(Manager *m) {
        if (m->in_osip)
                return;
        m->in_osip = true;
        for (unsigned i = 0; i < 8; i++) {
                uint64_t before = m->counters.tx + m->counters.outcomes + m->counters.requests_sent + m->call_actions;
                osip_execute_all(m);
                manager_settle_requests(m);
                calls_settle(m);
                if (m->counters.tx + m->counters.outcomes + m->counters.requests_sent + m->call_actions == before)
                        break;
        }
        dead_free(m);
        m->in_osip = false;
        if (m->osip)
                osip_timer_rearm(m);
}

int manager_osip_init(Manager *m) {
        if (osip_init(&m->osip) != 0)
                return -ENOMEM;
        osip_set_application_context(m->osip, m);
        osip_set_cb_send_message(m->osip, send_cb);
        for (int t = OSIP_NICT_REGISTER_SENT; t <= OSIP_NICT_STATUS_3456XX_RECEIVED_AGAIN; t++)
                osip_set_message_callback(m->osip, t, nict_message_cb);
        for (int t = OSIP_ICT_INVITE_SENT; t <= OSIP_ICT_STATUS_3456XX_RECEIVED_AGAIN; t++)
                osip_set_message_callback(m->osip, t, ict_message_cb);
        for (int t = OSIP_IST_INVITE_RECEIVED; t <= OSIP_IST_STATUS_3456XX_SENT_AGAIN; t++)
                osip_set_message_callback(m->osip, t, server_message_cb);
        for (int t = OSIP_NIST_REGISTER_RECEIVED; t <= OSIP_NIST_STATUS_3456XX_SENT_AGAIN; t++)
                osip_set_message_callback(m->osip, t, server_message_cb);
        osip_set_kill_transaction_callback(m->osip, OSIP_ICT_KILL_TRANSACTION, kill_cb);
        osip_set_kill_transaction_callback(m->osip, OSIP_IST_KILL_TRANSACTION, kill_cb);
        osip_set_kill_transaction_callback(m->osip, OSIP_NICT_KILL_TRANSACTION, kill_cb);
        osip_set_kill_transaction_callback(m->osip, OSIP_NIST_KILL_TRANSACTION, kill_cb);
        osip_set_transport_error_callback(m->osip, OSIP_ICT_TRANSPORT_ERROR, transport_error_cb);
        osip_set_transport_error_callback(m->osip, OSIP_IST_TRANSPORT_ERROR, transport_error_cb);
        osip_set_transport_error_callback(m->osip, OSIP_NICT_TRANSPORT_ERROR, transport_error_cb);
        osip_set_transport_error_callback(m->osip, OSIP_NIST_TRANSPORT_ERROR, transport_error_cb);
        return 0;
}

static void kill_list(Manager *m, osip_list_t *l) {
        osip_list_iterator_t it;
        osip_transaction_t *tr;

        for (tr = osip_list_get_first(l, &it); tr; tr = osip_list_get_next(&it))
                dead_push(m, tr);
}

void manager_osip_done(Manager *m) {
        if (!m->osip)
                return;
        kill_list(m, &m->osip->osip_ict_transactions);
        kill_list(m, &m->osip->osip_ist_transactions);
        kill_list(m, &m->osip->osip_nict_transactions);
        kill_list(m, &m->osip->osip_nist_transactions);
        dead_free(m);
        osip_release(m->osip);
        m->osip = NULL;
        free(m->dead);
        m->dead = NULL;
        m->n_dead = m->n_dead_alloc = 0;
}

/* ---------------------------------------------------------------- client requests */

static ClientRequest *client_request_free(ClientRequest *cr) {
        if (!cr)
                return NULL;
        if (cr->manager) {
                Manager *m = cr->manager;
                if (cr->prev)
                        cr->prev->next = cr->next;
                else if (m->requests == cr)
                        m->requests = cr->next;
                if (cr->next)
                        cr->next->prev = cr->prev;
                m->n_requests--;
                if (cr->tr)
                        manager_transaction_kill(m, cr->tr);
        }
        sd_event_source_disable_unref(cr->timeout_source);
        for (size_t i = 0; i < cr->n_auth; i++)
                digest_challenge_done(&cr->auth[i].challenge);
        free(cr->method);
        free(cr->request_uri);
        free(cr->target_text);
        free(cr->from_uri);
        free(cr->to_uri);
        free(cr->call_id);
        free(cr->from_tag);
        free(cr->profile);
        free(cr->contact_uri);
        free(cr);
        return NULL;
}

ClientRequest *client_request_find(Manager *m, uint64_t correlation_id) {
        for (ClientRequest *cr = m->requests; cr; cr = cr->next)
                if (cr->correlation_id == correlation_id)
                        return cr;
        return NULL;
}

bool client_request_targets(const ClientRequest *cr, const struct sockaddr *sa, socklen_t len) {
        return gw_sockaddr_equal((const struct sockaddr *) &cr->target, cr->target_len, sa, len);
}

void client_request_transport_error(ClientRequest *cr, int error) {
        if (cr->pending != PENDING_NONE)
                return;
        cr->pending = PENDING_TRANSPORT;
        cr->error = error;
}

/* Send cr as a new client transaction (first send, or after a challenge). */
static int client_request_send(ClientRequest *cr) {
        Manager *m = cr->manager;
        osip_message_t *msg = NULL;
        osip_transaction_t *tr = NULL;
        TransactionCtx *ctx;
        int r;

        r = request_build(cr, &msg);
        if (r < 0)
                return r;
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx) {
                osip_message_free(msg);
                return -ENOMEM;
        }
        ctx->manager = m;
        ctx->request = cr;
        ctx->dest = cr->target;
        ctx->dest_len = cr->target_len;
        if (osip_transaction_init(&tr, NICT, m->osip, msg) != 0) {
                free(ctx);
                osip_message_free(msg);
                return -EINVAL;
        }
        osip_transaction_set_your_instance(tr, ctx);
        if (cr->tr) {
                /* The challenged transaction lives on (Timer K) to absorb retransmitted responses. */
                TransactionCtx *old = osip_transaction_get_your_instance(cr->tr);
                if (old)
                        old->request = NULL;
        }
        cr->tr = tr;
        cr->pending = PENDING_NONE;
        cr->response = NULL;
        cr->sent_usec = now_usec(CLOCK_MONOTONIC);
        m->counters.requests_sent++;
        osip_transaction_add_event(tr, osip_new_outgoing_sipmessage(msg));
        return 0;
}

static int on_request_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        ClientRequest *cr = userdata;
        Manager *m = cr->manager;

        client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, NULL, NULL);
        manager_osip_run(m);
        return 0;
}

static bool valid_text(const char *s, size_t max) {
        if (!s)
                return false;
        size_t n = strnlen(s, max + 1);
        if (n == 0 || n > max)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x21 || s[i] == 0x7f || s[i] == '<' || s[i] == '>' || s[i] == '"')
                        return false;
        return true;
}

static bool valid_token(const char *s, size_t max) {
        if (!valid_text(s, max))
                return false;
        for (const char *p = s; *p; p++)
                if (strchr("(),;:\\/[]?={}", *p) && !(*p == '@' || *p == ':'))
                        if (*p != ':')
                                return false;
        return true;
}

static bool valid_sip_uri(const char *s) {
        osip_uri_t *u = NULL;
        bool ok;

        if (!valid_text(s, 1024))
                return false;
        if (strncasecmp(s, "sip:", 4) != 0 && strncasecmp(s, "sips:", 5) != 0)
                return false;
        if (osip_uri_init(&u) != 0)
                return false;
        ok = osip_uri_parse(u, s) == 0 && u->host && *u->host;
        osip_uri_free(u);
        return ok;
}

/* "ip:port" or "[v6]:port" as regd sends it, nothing else (no names: regd resolves them). */
static int parse_target(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        if (!valid_text(s, 64))
                return -EINVAL;
        return gw_sockaddr_parse(s, ret, ret_len);
}

static const GwLineConf *line_by_port(const GwConf *c, unsigned port) {
        for (size_t i = 0; c && i < c->n_lines; i++)
                if (c->lines[i].port == port)
                        return &c->lines[i];
        return NULL;
}

static void bad_request(Manager *m, uint64_t cid, const Gw__SipRequest *req, const char *why) {
        Gw__SipRequestOutcome o = GW__SIP_REQUEST_OUTCOME__INIT;

        log_warning("Refusing SipRequest %" PRIu64 ": %s.", cid, why);
        o.kind = GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST;
        o.error = UNCONST(why);
        if (req && req->has_line_port) {
                o.has_line_port = true;
                o.line_port = req->line_port;
        }
        if (req && req->target && strnlen(req->target, 65) <= 64)
                o.target = req->target;
        m->counters.outcomes++;
        if (m->outcome_cb)
                m->outcome_cb(m, cid, &o, m->outcome_userdata);
}

int manager_submit(Manager *m, uint64_t cid, const Gw__SipRequest *req) {
        ClientRequest *cr;
        char tok[33];
        int r;

        assert(m);
        if (client_request_find(m, cid)) {
                log_debug("SipRequest %" PRIu64 " is already in flight, ignoring the duplicate.", cid);
                return 1;
        }
        if (!req || !req->method || !(streq(req->method, "REGISTER") || streq(req->method, "OPTIONS")))
                return bad_request(m, cid, req, "method must be REGISTER or OPTIONS"), 0;
        if (!valid_sip_uri(req->request_uri))
                return bad_request(m, cid, req, "invalid request_uri"), 0;
        if (m->n_requests >= SIGD_MAX_IN_FLIGHT)
                return bad_request(m, cid, req, "too many requests in flight"), 0;

        cr = calloc(1, sizeof(*cr));
        if (!cr)
                return log_oom();
        cr->correlation_id = cid;
        cr->expires_s = -1;

        r = parse_target(req->target, &cr->target, &cr->target_len);
        if (r < 0 || cr->target.ss_family != m->local.ss_family) {
                client_request_free(cr);
                return bad_request(m, cid, req, "target must be an ip:port literal of the listening address family"), 0;
        }
        if (req->has_line_port && req->line_port != 0) {
                cr->line = line_by_port(m->conf, req->line_port);
                if (!cr->line) {
                        client_request_free(cr);
                        return bad_request(m, cid, req, "unknown line_port"), 0;
                }
                cr->line_port = req->line_port;
        }
        if ((!isempty(req->from_uri) && !valid_sip_uri(req->from_uri)) ||
            (!isempty(req->to_uri) && !valid_sip_uri(req->to_uri))) {
                client_request_free(cr);
                return bad_request(m, cid, req, "invalid from_uri or to_uri"), 0;
        }
        if ((!isempty(req->call_id) && (!valid_text(req->call_id, 256) || strchr(req->call_id, ','))) ||
            (!isempty(req->from_tag) && !valid_token(req->from_tag, 128))) {
                client_request_free(cr);
                return bad_request(m, cid, req, "invalid call_id or from_tag"), 0;
        }
        if (req->has_cseq && req->cseq >= (UINT32_C(1) << 31) - SIGD_MAX_AUTH_ROUNDS) {
                client_request_free(cr);
                return bad_request(m, cid, req, "cseq out of range"), 0;
        }
        if (req->with_contact && streq(req->method, "REGISTER") && !cr->line) {
                client_request_free(cr);
                return bad_request(m, cid, req, "with_contact needs a line_port"), 0;
        }
        if (req->profile && strnlen(req->profile, 257) > 256) {
                client_request_free(cr);
                return bad_request(m, cid, req, "invalid profile"), 0;
        }

        cr->method = strdup(req->method);
        cr->request_uri = strdup(req->request_uri);
        cr->target_text = strdup(req->target);
        if (!isempty(req->from_uri))
                cr->from_uri = strdup(req->from_uri);
        else if (cr->line)
                r = asprintf(&cr->from_uri, "sip:%s@%s:%u", cr->line->number, m->via_host, m->via_port);
        else
                r = asprintf(&cr->from_uri, "sip:fxsgw@%s:%u", m->via_host, m->via_port);
        cr->to_uri = strdup(!isempty(req->to_uri) ? req->to_uri :
                            streq(req->method, "REGISTER") ? cr->from_uri ?: "" : req->request_uri);
        if (!isempty(req->call_id))
                cr->call_id = strdup(req->call_id);
        else if (random_token(tok, 32) >= 0)
                r = asprintf(&cr->call_id, "%s@%s", tok, m->via_host[0] == '[' ? "fxsgw" : m->via_host);
        if (!isempty(req->from_tag))
                cr->from_tag = strdup(req->from_tag);
        else if (random_token(tok, 16) >= 0)
                cr->from_tag = strdup(tok);
        cr->profile = req->profile ? strdup(req->profile) : NULL;
        cr->cseq = req->has_cseq && req->cseq > 0 ? req->cseq : 1;
        if (streq(req->method, "REGISTER") && req->has_expires_s && req->expires_s >= 0)
                cr->expires_s = req->expires_s;
        cr->with_contact = req->with_contact && streq(req->method, "REGISTER");
        if (cr->with_contact)
                (void) contact_uri_for(m, cr->line->number, &cr->contact_uri);
        cr->timeout_ms = req->has_timeout_ms && req->timeout_ms > 0 ? MIN(req->timeout_ms, SIGD_MAX_TIMEOUT_MS)
                                                                    : SIGD_DEFAULT_TIMEOUT_MS;
        if (random_token(cr->cnonce, 32) < 0 || !cr->method || !cr->request_uri || !cr->target_text ||
            !cr->from_uri || !cr->to_uri || !cr->call_id || !cr->from_tag || (cr->with_contact && !cr->contact_uri)) {
                client_request_free(cr);
                return log_oom();
        }

        manager_note_peer(m, (const struct sockaddr *) &cr->target);

        /* link in, then send */
        cr->manager = m;
        cr->next = m->requests;
        if (m->requests)
                m->requests->prev = cr;
        m->requests = cr;
        m->n_requests++;

        r = sd_event_add_time_relative(m->event, &cr->timeout_source, CLOCK_MONOTONIC,
                                       (uint64_t) cr->timeout_ms * USEC_PER_MSEC, USEC_PER_MSEC,
                                       on_request_timeout, cr);
        if (r < 0) {
                client_request_free(cr);
                return log_error_errno(r, "Failed to add a request timer: %m");
        }
        r = client_request_send(cr);
        if (r < 0) {
                client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST, NULL, "could not build the request");
                return 0;
        }
        log_debug("Sending %s to %s for line %u (id %" PRIu64 ", cseq %" PRIu32 ", timeout %" PRIu32 " ms).",
                  cr->method, cr->target_text, cr->line_port, cid, cr->cseq, cr->timeout_ms);
        manager_osip_run(m);
        return 0;
}

int response_header_int(const osip_message_t *msg, const char *name, int32_t *ret) {
        osip_header_t *h = NULL;
        long v;
        char *end;

        if (osip_message_header_get_byname(msg, name, 0, &h) < 0 || !h || !h->hvalue)
                return -ENOENT;
        errno = 0;
        v = strtol(h->hvalue, &end, 10);
        if (errno || end == h->hvalue || v < 0 || v > INT32_MAX)
                return -EINVAL;
        *ret = (int32_t) v;
        return 0;
}

static void client_request_finish(ClientRequest *cr, Gw__SipOutcomeKind kind, const osip_message_t *resp,
                                  const char *error) {
        Manager *m = cr->manager;
        Gw__SipRequestOutcome o = GW__SIP_REQUEST_OUTCOME__INIT;
        int32_t v;

        o.kind = kind;
        o.target = cr->target_text;
        o.has_cseq = true;
        o.cseq = cr->cseq;
        o.call_id = cr->call_id;
        o.has_got_provisional = true;
        o.got_provisional = cr->got_provisional;
        o.has_line_port = true;
        o.line_port = cr->line_port;
        o.error = UNCONST(error);
        if (resp) {
                o.has_status_code = true;
                o.status_code = (uint32_t) resp->status_code;
                o.reason_phrase = resp->reason_phrase;
                o.has_rtt_ms = true;
                o.rtt_ms = (uint32_t) ((now_usec(CLOCK_MONOTONIC) - cr->sent_usec) / USEC_PER_MSEC);
                if (resp->status_code >= 200 && resp->status_code < 300 && streq(cr->method, "REGISTER")) {
                        o.has_expires_s = true;
                        o.expires_s = response_granted_expires(resp, cr->contact_uri, cr->expires_s);
                }
                if (resp->status_code == 423 && response_header_int(resp, "min-expires", &v) == 0) {
                        o.has_min_expires_s = true;
                        o.min_expires_s = v;
                }
                if (response_header_int(resp, "retry-after", &v) == 0) {
                        o.has_retry_after_s = true;
                        o.retry_after_s = v;
                }
        }
        log_debug("%s %" PRIu64 " to %s: %s %u%s%s.", cr->method, cr->correlation_id, cr->target_text,
                  protobuf_c_enum_descriptor_get_value(&gw__sip_outcome_kind__descriptor, kind) ?
                  protobuf_c_enum_descriptor_get_value(&gw__sip_outcome_kind__descriptor, kind)->name : "?",
                  o.status_code, error ? ": " : "", strempty(error));

        m->counters.outcomes++;
        if (m->outcome_cb)
                m->outcome_cb(m, cr->correlation_id, &o, m->outcome_userdata);
        client_request_free(cr);
}

/* Choose the challenge to answer from a 401/407: SHA-256 before MD5. */
int response_pick_challenge(const osip_message_t *resp, bool proxy, DigestChallenge *ret) {
        DigestChallenge best = {};
        bool have = false;
        osip_list_iterator_t it;
        const osip_list_t *l = proxy ? &resp->proxy_authenticates : &resp->www_authenticates;

        for (osip_www_authenticate_t *w = osip_list_get_first(UNCONST(l), &it); w;
             w = osip_list_get_next(&it)) {
                DigestChallenge c;
                char *s = NULL;
                int r;

                if (osip_www_authenticate_to_str(w, &s) != 0 || !s)
                        continue;
                r = digest_challenge_parse(s, &c);
                osip_free(s);
                if (r < 0)
                        continue;
                if (!have || (c.algorithm >= DIGEST_SHA256 && best.algorithm < DIGEST_SHA256)) {
                        digest_challenge_done(&best);
                        best = c;
                        have = true;
                } else
                        digest_challenge_done(&c);
        }
        if (!have)
                return -ENOENT;
        *ret = best;
        return 0;
}

/* A 401/407: answer it with a new transaction, or end the request. */
static void client_request_challenged(ClientRequest *cr, const osip_message_t *resp) {
        bool proxy = resp->status_code == 407;
        DigestChallenge c;
        AuthAnswer *a = NULL;
        int r;

        cr->manager->counters.auth_challenges++;
        if (!cr->line || !cr->line->password)
                return client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_NO_CREDENTIALS, resp,
                                             "no credentials for this line");
        if (response_pick_challenge(resp, proxy, &c) < 0)
                return client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, resp,
                                             "no usable digest challenge");

        for (size_t i = 0; i < cr->n_auth; i++)
                if (cr->auth[i].proxy == proxy && streq(cr->auth[i].challenge.realm, c.realm))
                        a = &cr->auth[i];
        if (a && !c.stale) {
                digest_challenge_done(&c);
                return client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, resp,
                                             "credentials refused");
        }
        if (!a) {
                if (cr->n_auth >= SIGD_MAX_AUTH_ROUNDS) {
                        digest_challenge_done(&c);
                        return client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, resp,
                                                     "too many realms");
                }
                a = &cr->auth[cr->n_auth++];
                a->proxy = proxy;
        } else
                digest_challenge_done(&a->challenge);
        a->challenge = c;
        a->nc = 0;

        cr->cseq++;
        r = client_request_send(cr);
        if (r < 0)
                return client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, resp,
                                             "could not answer the challenge");
        log_debug("Answering %u challenge of realm '%s' for %s %" PRIu64 " (cseq %" PRIu32 ").",
                  resp->status_code, c.realm, cr->method, cr->correlation_id, cr->cseq);
}

void manager_settle_requests(Manager *m) {
        ClientRequest *next;

        for (ClientRequest *cr = m->requests; cr; cr = next) {
                next = cr->next;
                switch (cr->pending) {
                case PENDING_NONE:
                        break;
                case PENDING_RESPONSE:
                        if (cr->response->status_code == 401 || cr->response->status_code == 407)
                                client_request_challenged(cr, cr->response);
                        else
                                client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, cr->response, NULL);
                        break;
                case PENDING_TIMEOUT:
                        client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, NULL, NULL);
                        break;
                case PENDING_TRANSPORT:
                        m->counters.transport_errors++;
                        client_request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT, NULL,
                                              strerror(cr->error ?: EIO));
                        break;
                }
        }
}

void manager_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error) {
        char dest[64] = "?";
        unsigned n = 0;

        (void) gw_sockaddr_to_string(to, dest, sizeof(dest));
        for (ClientRequest *cr = m->requests; cr; cr = cr->next)
                if (client_request_targets(cr, to, tolen) && cr->pending == PENDING_NONE) {
                        client_request_transport_error(cr, error);
                        n++;
                }
        calls_transport_error(m, to, tolen, error);
        log_debug("ICMP error for %s: %s (%u requests).", dest, strerror(error), n);
        manager_osip_run(m);
}
