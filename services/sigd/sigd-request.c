/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-request.c: the life of one client request from regd's SipRequest to its outcome.
 *
 * Every field of the SipRequest is checked first; a bad one gives
 * OUTCOME_BAD_REQUEST and nothing is sent. The request goes out in a NICT of
 * its own. libosip2's callbacks reach it through request_tr_ops and only note
 * what happened (PENDING_*); request_settle() acts on it after libosip2
 * returns: a 401/407 is answered with a new transaction (CSeq+1), anything
 * else ends the request with its one outcome.
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

#include "gw-build-config.h"
#include "gw-bus.h"
#include "gw-log.h"
#include "sigd-manager.h"
#include "sigd-message.h"
#include "sigd-osip.h"
#include "sigd-request.h"
#include "sigd-scan.h"
#include "gw-sockaddr.h"
#include "sigd-transaction.h"

static void request_finish(ClientRequest *cr, Gw__SipOutcomeKind kind, const osip_message_t *resp,
                           const char *error);
static int request_build(ClientRequest *cr, osip_message_t **ret);
static int32_t request_granted_expires(const osip_message_t *resp, const char *contact_uri, int32_t asked);

/* ---------------------------------------------------------------- libosip2's news, noted */

static void request_on_message(void *owner, osip_transaction_t *tr, int type, osip_message_t *sip) {
        ClientRequest *cr = owner;

        if (cr->tr != tr || cr->pending != PENDING_NONE)
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

static void request_on_killed(void *owner, osip_transaction_t *tr, int type) {
        ClientRequest *cr = owner;

        if (cr->tr == tr && cr->pending == PENDING_NONE)
                cr->pending = PENDING_TIMEOUT;            /* Timer F */
}

static void request_on_transport_error(void *owner, osip_transaction_t *tr, int type) {
        ClientRequest *cr = owner;

        if (cr->tr == tr && cr->pending == PENDING_NONE) {
                cr->pending = PENDING_TRANSPORT;
                if (cr->error == 0)
                        cr->error = EIO;
        }
}

static void request_on_send_failed(void *owner, osip_transaction_t *tr, int error) {
        ClientRequest *cr = owner;

        cr->error = error;
}

static void request_on_gone(void *owner, osip_transaction_t *tr) {
        ClientRequest *cr = owner;

        if (cr->tr == tr)
                cr->tr = NULL;
}

static const TransactionOps request_tr_ops = {
        .message = request_on_message,
        .killed = request_on_killed,
        .transport_error = request_on_transport_error,
        .send_failed = request_on_send_failed,
        .gone = request_on_gone,
};

/* ---------------------------------------------------------------- requests */

static ClientRequest *request_free(ClientRequest *cr) {
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
                        transaction_kill(m, cr->tr);
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

static ClientRequest *request_find(Manager *m, uint64_t correlation_id) {
        for (ClientRequest *cr = m->requests; cr; cr = cr->next)
                if (cr->correlation_id == correlation_id)
                        return cr;
        return NULL;
}

static bool request_targets(const ClientRequest *cr, const struct sockaddr *sa, socklen_t len) {
        return gw_sockaddr_equal((const struct sockaddr *) &cr->target, cr->target_len, sa, len);
}

static void request_note_transport_error(ClientRequest *cr, int error) {
        if (cr->pending != PENDING_NONE)
                return;
        cr->pending = PENDING_TRANSPORT;
        cr->error = error;
}

/* Send cr as a new client transaction (first send, or after a challenge). */
static int request_send(ClientRequest *cr) {
        Manager *m = cr->manager;
        osip_message_t *msg = NULL;
        osip_transaction_t *tr = NULL;
        int r;

        r = request_build(cr, &msg);
        if (r < 0)
                return r;
        r = transaction_new_client(m, NICT, TAKE_PTR(msg), &cr->target, cr->target_len, &request_tr_ops, cr, &tr);
        if (r < 0)
                return r;
        /* The challenged transaction lives on (Timer K) to absorb retransmitted responses, without us. */
        transaction_set_owner(cr->tr, NULL, NULL);
        cr->tr = tr;
        cr->pending = PENDING_NONE;
        cr->response = NULL;
        cr->sent_usec = now_usec(CLOCK_MONOTONIC);
        return 0;
}

static int on_request_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        ClientRequest *cr = userdata;
        Manager *m = cr->manager;

        request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, NULL, NULL);
        transaction_run(m);
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

static const GwLineConf *conf_line(const GwConf *c, unsigned port) {
        for (size_t i = 0; c && i < c->n_lines; i++)
                if (c->lines[i].port == port)
                        return &c->lines[i];
        return NULL;
}

/* "sip:<number>@..." */
static bool uri_user_is(const char *uri, const char *number) {
        size_t n = strlen(strempty(number));

        return uri && number && strncmp(uri, "sip:", 4) == 0 && strncmp(uri + 4, number, n) == 0 && uri[4 + n] == '@';
}

/* Whose credentials: the line on that port — or, for a registration the
 * line had under an earlier config (a reload removed it or changed its
 * number: regd un-REGISTERs it), that config's line of the request's user. */
static const GwLineConf *request_line_conf(Manager *m, unsigned port, const char *from_uri) {
        const GwLineConf *cur = conf_line(m->conf, port);

        if (cur && (isempty(from_uri) || uri_user_is(from_uri, cur->number)))
                return cur;
        for (size_t i = m->n_old_confs; i > 0; i--) {
                const GwLineConf *lc = conf_line(m->old_confs[i - 1], port);

                if (lc && uri_user_is(from_uri, lc->number))
                        return lc;
        }
        return cur;
}

bool request_uses_conf(Manager *m, const GwConf *conf) {
        for (ClientRequest *cr = m->requests; cr; cr = cr->next)
                if ((const void *) cr->line >= (const void *) conf->lines &&
                    (const void *) cr->line < (const void *) (conf->lines + conf->n_lines))
                        return true;
        return false;
}

static void request_refuse(Manager *m, uint64_t cid, const Gw__SipRequest *req, const char *why) {
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

int request_submit(Manager *m, uint64_t cid, const Gw__SipRequest *req) {
        ClientRequest *cr;
        char tok[33];
        int r;

        assert(m);
        if (request_find(m, cid)) {
                log_debug("SipRequest %" PRIu64 " is already in flight, ignoring the duplicate.", cid);
                return 1;
        }
        if (!req || !req->method || !(streq(req->method, "REGISTER") || streq(req->method, "OPTIONS")))
                return request_refuse(m, cid, req, "method must be REGISTER or OPTIONS"), 0;
        if (!valid_sip_uri(req->request_uri))
                return request_refuse(m, cid, req, "invalid request_uri"), 0;
        if (m->n_requests >= SIGD_MAX_IN_FLIGHT)
                return request_refuse(m, cid, req, "too many requests in flight"), 0;

        cr = calloc(1, sizeof(*cr));
        if (!cr)
                return log_oom();
        cr->correlation_id = cid;
        cr->expires_s = -1;

        r = parse_target(req->target, &cr->target, &cr->target_len);
        if (r < 0 || cr->target.ss_family != m->local.ss_family) {
                request_free(cr);
                return request_refuse(m, cid, req, "target must be an ip:port literal of the listening address family"), 0;
        }
        if (req->has_line_port && req->line_port != 0) {
                cr->line = request_line_conf(m, req->line_port, req->from_uri);
                if (!cr->line) {
                        request_free(cr);
                        return request_refuse(m, cid, req, "unknown line_port"), 0;
                }
                cr->line_port = req->line_port;
        }
        if ((!isempty(req->from_uri) && !valid_sip_uri(req->from_uri)) ||
            (!isempty(req->to_uri) && !valid_sip_uri(req->to_uri))) {
                request_free(cr);
                return request_refuse(m, cid, req, "invalid from_uri or to_uri"), 0;
        }
        if ((!isempty(req->call_id) && (!valid_text(req->call_id, 256) || strchr(req->call_id, ','))) ||
            (!isempty(req->from_tag) && !valid_token(req->from_tag, 128))) {
                request_free(cr);
                return request_refuse(m, cid, req, "invalid call_id or from_tag"), 0;
        }
        if (req->has_cseq && req->cseq >= (UINT32_C(1) << 31) - SIGD_MAX_AUTH_ROUNDS) {
                request_free(cr);
                return request_refuse(m, cid, req, "cseq out of range"), 0;
        }
        if (req->with_contact && streq(req->method, "REGISTER") && !cr->line) {
                request_free(cr);
                return request_refuse(m, cid, req, "with_contact needs a line_port"), 0;
        }
        if (req->profile && strnlen(req->profile, 257) > 256) {
                request_free(cr);
                return request_refuse(m, cid, req, "invalid profile"), 0;
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
        else if (message_token(tok, 32) >= 0)
                r = asprintf(&cr->call_id, "%s@%s", tok, m->via_host[0] == '[' ? "fxsgw" : m->via_host);
        if (!isempty(req->from_tag))
                cr->from_tag = strdup(req->from_tag);
        else if (message_token(tok, 16) >= 0)
                cr->from_tag = strdup(tok);
        cr->profile = req->profile ? strdup(req->profile) : NULL;
        cr->cseq = req->has_cseq && req->cseq > 0 ? req->cseq : 1;
        if (streq(req->method, "REGISTER") && req->has_expires_s && req->expires_s >= 0)
                cr->expires_s = req->expires_s;
        cr->with_contact = req->with_contact && streq(req->method, "REGISTER");
        if (cr->with_contact)
                (void) message_contact_uri(m, cr->line->number, &cr->contact_uri);
        cr->timeout_ms = req->has_timeout_ms && req->timeout_ms > 0 ? MIN(req->timeout_ms, SIGD_MAX_TIMEOUT_MS)
                                                                    : SIGD_DEFAULT_TIMEOUT_MS;
        if (message_token(cr->cnonce, 32) < 0 || !cr->method || !cr->request_uri || !cr->target_text ||
            !cr->from_uri || !cr->to_uri || !cr->call_id || !cr->from_tag || (cr->with_contact && !cr->contact_uri)) {
                request_free(cr);
                return log_oom();
        }

        message_note_peer(m, (const struct sockaddr *) &cr->target);

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
                request_free(cr);
                return log_error_errno(r, "Failed to add a request timer: %m");
        }
        r = request_send(cr);
        if (r < 0) {
                request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST, NULL, "could not build the request");
                return 0;
        }
        log_debug("Sending %s to %s for line %u (id %" PRIu64 ", cseq %" PRIu32 ", timeout %" PRIu32 " ms).",
                  cr->method, cr->target_text, cr->line_port, cid, cr->cseq, cr->timeout_ms);
        transaction_run(m);
        return 0;
}

int request_header_int(const osip_message_t *msg, const char *name, int32_t *ret) {
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

static void request_finish(ClientRequest *cr, Gw__SipOutcomeKind kind, const osip_message_t *resp,
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
                        o.expires_s = request_granted_expires(resp, cr->contact_uri, cr->expires_s);
                }
                if (resp->status_code == 423 && request_header_int(resp, "min-expires", &v) == 0) {
                        o.has_min_expires_s = true;
                        o.min_expires_s = v;
                }
                if (request_header_int(resp, "retry-after", &v) == 0) {
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
        request_free(cr);
}

/* A 401/407: answer it with a new transaction, or end the request. */
static void request_challenged(ClientRequest *cr, const osip_message_t *resp) {
        bool proxy = resp->status_code == 407;
        DigestChallenge c;
        AuthAnswer *a = NULL;
        int r;

        cr->manager->counters.auth_challenges++;
        if (!cr->line || !cr->line->password)
                return request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_NO_CREDENTIALS, resp,
                                             "no credentials for this line");
        if (message_pick_challenge(resp, proxy, &c) < 0)
                return request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, resp,
                                             "no usable digest challenge");

        for (size_t i = 0; i < cr->n_auth; i++)
                if (cr->auth[i].proxy == proxy && streq(cr->auth[i].challenge.realm, c.realm))
                        a = &cr->auth[i];
        if (a && !c.stale) {
                digest_challenge_done(&c);
                return request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, resp,
                                             "credentials refused");
        }
        if (!a) {
                if (cr->n_auth >= SIGD_MAX_AUTH_ROUNDS) {
                        digest_challenge_done(&c);
                        return request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, resp,
                                                     "too many realms");
                }
                a = &cr->auth[cr->n_auth++];
                a->proxy = proxy;
        } else
                digest_challenge_done(&a->challenge);
        a->challenge = c;
        a->nc = 0;

        cr->cseq++;
        r = request_send(cr);
        if (r < 0)
                return request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED, resp,
                                             "could not answer the challenge");
        log_debug("Answering %u challenge of realm '%s' for %s %" PRIu64 " (cseq %" PRIu32 ").",
                  resp->status_code, c.realm, cr->method, cr->correlation_id, cr->cseq);
}

void request_settle(Manager *m) {
        ClientRequest *next;

        for (ClientRequest *cr = m->requests; cr; cr = next) {
                next = cr->next;
                switch (cr->pending) {
                case PENDING_NONE:
                        break;
                case PENDING_RESPONSE:
                        if (cr->response->status_code == 401 || cr->response->status_code == 407)
                                request_challenged(cr, cr->response);
                        else
                                request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, cr->response, NULL);
                        break;
                case PENDING_TIMEOUT:
                        request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, NULL, NULL);
                        break;
                case PENDING_TRANSPORT:
                        m->counters.transport_errors++;
                        request_finish(cr, GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT, NULL,
                                              strerror(cr->error ?: EIO));
                        break;
                }
        }
}

static int request_build(ClientRequest *cr, osip_message_t **ret) {
        Manager *m = cr->manager;
        _cleanup_(osip_message_freep) osip_message_t *msg = NULL;
        osip_uri_t *uri = NULL;
        char branch[33], buf[2048];
        int r;

        if (message_token(branch, 24) < 0)
                return -EIO;
        r = osip_to_errno(osip_message_init(&msg));
        if (r < 0)
                return r;

        osip_message_set_method(msg, osip_strdup(cr->method));
        osip_message_set_version(msg, osip_strdup("SIP/2.0"));
        r = osip_to_errno(osip_uri_init(&uri));
        if (r < 0)
                return r;
        r = osip_to_errno(osip_uri_parse(uri, cr->request_uri));
        if (r < 0) {
                osip_uri_free(uri);
                return r;
        }
        osip_message_set_uri(msg, uri);

        /* 96 random bits after the magic cookie */
        snprintf(buf, sizeof(buf), "SIP/2.0/UDP %s:%u;rport;branch=z9hG4bK%s", m->via_host, m->via_port, branch);
        r = osip_to_errno(osip_message_set_via(msg, buf));
        if (r < 0)
                return r;
        r = osip_to_errno(osip_message_set_max_forwards(msg, "70"));
        if (r < 0)
                return r;
        snprintf(buf, sizeof(buf), "<%s>;tag=%s", cr->from_uri, cr->from_tag);
        r = osip_to_errno(osip_message_set_from(msg, buf));
        if (r < 0)
                return r;
        if (!msg->from || !msg->from->url)
                return -EINVAL;
        snprintf(buf, sizeof(buf), "<%s>", cr->to_uri);
        r = osip_to_errno(osip_message_set_to(msg, buf));
        if (r < 0)
                return r;
        if (!msg->to || !msg->to->url)
                return -EINVAL;
        r = osip_to_errno(osip_message_set_call_id(msg, cr->call_id));
        if (r < 0)
                return r;
        snprintf(buf, sizeof(buf), "%" PRIu32 " %s", cr->cseq, cr->method);
        r = osip_to_errno(osip_message_set_cseq(msg, buf));
        if (r < 0)
                return r;
        if (cr->contact_uri) {
                snprintf(buf, sizeof(buf), "<%s>", cr->contact_uri);
                r = osip_to_errno(osip_message_set_contact(msg, buf));
                if (r < 0)
                        return r;
        }
        if (cr->expires_s >= 0) {
                snprintf(buf, sizeof(buf), "%" PRIi32, cr->expires_s);
                r = osip_to_errno(osip_message_set_expires(msg, buf));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < cr->n_auth; i++) {
                AuthAnswer *a = &cr->auth[i];
                _cleanup_free_ char *v = NULL;

                a->nc++;
                r = digest_authorization(&a->challenge, cr->line->auth_user ?: cr->line->number,
                                         strempty(cr->line->password), cr->method, cr->request_uri,
                                         a->nc, cr->cnonce, &v);
                if (r < 0)
                        return r;
                r = osip_to_errno(osip_message_set_header(msg, a->proxy ? "Proxy-Authorization" : "Authorization", v));
                explicit_bzero(v, strlen(v));
                if (r < 0)
                        return r;
        }
        r = osip_to_errno(osip_message_set_user_agent(msg, "fxsgw/" GW_VERSION));
        if (r >= 0)
                r = osip_to_errno(osip_message_set_header(msg, "Allow", SIGD_ALLOW));
        if (r >= 0)
                r = osip_to_errno(osip_message_set_content_length(msg, "0"));
        if (r < 0)
                return r;

        *ret = TAKE_PTR(msg);
        return 0;
}
static bool uri_same_binding(const osip_uri_t *a, const osip_uri_t *b) {
        const char *pa, *pb;

        if (!a || !b || !a->host || !b->host)
                return false;
        if (!streq_ptr(a->username, b->username))
                return false;
        if (strcasecmp(a->host, b->host) != 0)
                return false;
        pa = a->port && *a->port ? a->port : "5060";
        pb = b->port && *b->port ? b->port : "5060";
        return atoi(pa) == atoi(pb);
}
static int32_t request_granted_expires(const osip_message_t *resp, const char *contact_uri, int32_t asked) {
        osip_uri_t *ours = NULL;
        osip_contact_t *c = NULL;
        osip_header_t *e = NULL;
        int32_t granted = -1;
        uint64_t v;

        if (contact_uri && osip_uri_init(&ours) == 0 && osip_uri_parse(ours, contact_uri) == 0) {
                for (int pos = 0; osip_message_get_contact(resp, pos, &c) >= 0 && c; pos++) {
                        osip_generic_param_t *p = NULL;
                        if (!uri_same_binding(c->url, ours))
                                continue;
                        if (osip_contact_param_get_byname(c, (char *) "expires", &p) == 0 && p && p->gvalue &&
                            scan_uint(p->gvalue, strlen(p->gvalue), INT32_MAX, &v) == 0)
                                granted = (int32_t) v;
                        break;
                }
        }
        if (ours)
                osip_uri_free(ours);
        if (granted >= 0)
                return granted;
        if (osip_message_get_expires(resp, 0, &e) >= 0 && e && e->hvalue &&
            scan_uint(e->hvalue, strlen(e->hvalue), INT32_MAX, &v) == 0)
                return (int32_t) v;
        return asked;
}

unsigned request_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error) {
        unsigned n = 0;

        for (ClientRequest *cr = m->requests; cr; cr = cr->next)
                if (request_targets(cr, to, tolen) && cr->pending == PENDING_NONE) {
                        request_note_transport_error(cr, error);
                        n++;
                }
        return n;
}

void request_free_all(Manager *m) {
        while (m->requests) {
                ClientRequest *cr = m->requests;
                cr->pending = PENDING_NONE;
                request_free(cr);
        }
}
