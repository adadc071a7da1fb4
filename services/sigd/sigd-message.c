/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-message.c: what sigd does with a received datagram, and the SIP messages every layer builds.
 *
 * A datagram is checked twice. First our own scan of the raw bytes
 * (sigd-scan.c), because libosip2 is a liberal parser; only then libosip2
 * parses it. A request that fails either check is answered statelessly with
 * 400 (505 for another SIP version) when its top Via gives us somewhere to
 * send the answer; anything else is dropped. Every failure is counted. A
 * request from a source we do not trust gets no answer at all.
 *
 * Well-formed requests get a server transaction (libosip2's NIST, IST for
 * INVITE) so retransmissions are absorbed and our answer is repeated, and
 * are answered as an endpoint that is not a registrar: OPTIONS 200, REGISTER
 * 405, anything else 501; INVITE, BYE, CANCEL, INFO and ACK go up through the
 * MessageHandlers (the calls, sigd-call.c), which answer what they do not know
 * 481. ACK is never answered. Responses go to the source address of the
 * request, at the source port when the Via asks for rport (RFC 3581), else at
 * the Via's port (RFC 3261 §18.2.2). */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <osipparser2/osip_parser.h>

#include "gw-build-config.h"
#include "gw-log.h"
#include "gw-sockaddr.h"
#include "sigd-manager.h"
#include "sigd-message.h"
#include "sigd-osip.h"
#include "sigd-scan.h"
#include "sigd-transaction.h"
#include "sigd-transport.h"


static const char *const rx_disposition_table[_RX_DISPOSITION_MAX] = {
        [RX_ANSWERED] = "answered",
        [RX_RETRANSMISSION] = "retransmission",
        [RX_ACK] = "ack",
        [RX_RESPONSE_MATCHED] = "response-matched",
        [RX_RESPONSE_UNMATCHED] = "response-unmatched",
        [RX_DROPPED_MALFORMED] = "dropped-malformed",
        [RX_DROPPED_SIZE] = "dropped-size",
        [RX_DROPPED_UNTRUSTED] = "dropped-untrusted",
};

const char *rx_disposition_to_string(RxDisposition d) {
        return d >= 0 && d < _RX_DISPOSITION_MAX ? rx_disposition_table[d] : NULL;
}

void message_set_handlers(Manager *m, const MessageHandlers *h) {
        m->message_handlers = h;
}

/* ---------------------------------------------------------------- small helpers */

int message_token(char *buf, size_t n_chars) {
        static const char digits[] = "0123456789abcdef";
        uint8_t raw[64];

        assert(n_chars / 2 + 1 <= sizeof(raw));
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
                return -EIO;
        for (size_t i = 0; i < n_chars; i++)
                buf[i] = digits[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
        buf[n_chars] = 0;
        return 0;
}

/* ---------------------------------------------------------------- sources */

static bool host_port_is(const GwHostPort *hp, const struct sockaddr *sa) {
        struct sockaddr_storage ss;

        if (!hp->is_ip || isempty(hp->host))
                return false;
        if (gw_sockaddr_from_ip(hp->host, 0, &ss) < 0)
                return false;
        return gw_sockaddr_same_ip((const struct sockaddr *) &ss, sa);
}

bool message_source_trusted(Manager *m, const struct sockaddr *sa) {
        const GwConf *c = m->conf;

        if (!sa)
                return false;
        for (size_t i = 0; i < c->n_trusted_sources; i++)
                if (gw_cidr_match(&c->trusted_sources[i], sa))
                        return true;
        for (size_t i = 0; i < c->n_profiles; i++) {
                const GwProfileConf *p = &c->profiles[i];
                if (host_port_is(&p->proxy, sa) || host_port_is(&p->registrar, sa))
                        return true;
                for (size_t j = 0; j < p->n_redundant; j++)
                        if (host_port_is(&p->redundant[j], sa))
                                return true;
        }
        for (size_t i = 0; i < m->n_peers; i++)
                if (gw_sockaddr_same_ip((const struct sockaddr *) &m->peers[i], sa))
                        return true;
        return false;
}

void message_note_peer(Manager *m, const struct sockaddr *sa) {
        for (size_t i = 0; i < m->n_peers; i++)
                if (gw_sockaddr_same_ip((const struct sockaddr *) &m->peers[i], sa))
                        return;
        memset(&m->peers[m->next_peer], 0, sizeof(m->peers[0]));
        memcpy(&m->peers[m->next_peer], sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
        m->next_peer = (m->next_peer + 1) % ELEMENTSOF(m->peers);
        m->n_peers = MIN(m->n_peers + 1, ELEMENTSOF(m->peers));
}


/* ---------------------------------------------------------------- responses */

static void message_response_dest(const struct sockaddr *from, socklen_t fromlen, bool rport, uint16_t via_port,
                                 struct sockaddr_storage *ret, socklen_t *ret_len) {
        memset(ret, 0, sizeof(*ret));
        memcpy(ret, from, MIN((size_t) fromlen, sizeof(*ret)));
        *ret_len = fromlen;
        if (!rport)
                gw_sockaddr_set_port(ret, via_port ? via_port : 5060);
}

static void fput_header(FILE *f, const RawHeader *h) {
        fwrite(h->name, 1, h->name_len, f);
        fputs(": ", f);
        fwrite(h->value, 1, h->len, f);
        fputs("\r\n", f);
}

/* Answer statelessly from the raw headers (the request may not have parsed). */
static int message_respond_raw(Manager *m, const RawMessage *rm, unsigned code, const char *reason,
                       const struct sockaddr *from, socklen_t fromlen) {
        _cleanup_free_ char *buf = NULL;
        struct sockaddr_storage dest;
        socklen_t dest_len;
        char ip[INET6_ADDRSTRLEN] = "", tag[17];
        bool first_via = true;
        size_t size = 0;
        FILE *f;
        int r;

        if (!rm->via_ok)
                return -EDESTADDRREQ;
        message_response_dest(from, fromlen, rm->via_rport, rm->via_port, &dest, &dest_len);
        (void) gw_sockaddr_ip_to_string(from, ip, sizeof(ip));
        r = message_token(tag, 16);
        if (r < 0)
                return r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "SIP/2.0 %u %s\r\n", code, reason);
        for (size_t i = 0; i < rm->n_h; i++) {
                const RawHeader *h = &rm->h[i];
                if (h->id == H_VIA && first_via) {
                        /* The top value gets received= (and rport=) as RFC 3581 asks of a server. */
                        const char *comma = NULL;
                        bool quoted = false;
                        for (const char *c = h->value; c < h->value + h->len; c++) {
                                if (*c == '"')
                                        quoted = !quoted;
                                else if (*c == ',' && !quoted) {
                                        comma = c;
                                        break;
                                }
                        }
                        size_t top = comma ? (size_t) (comma - h->value) : h->len;
                        fwrite(h->name, 1, h->name_len, f);
                        fputs(": ", f);
                        fwrite(h->value, 1, top, f);
                        fprintf(f, ";received=%s", ip);
                        if (rm->via_rport)
                                fprintf(f, ";rport=%u", gw_sockaddr_port(from));
                        fwrite(h->value + top, 1, h->len - top, f);
                        fputs("\r\n", f);
                        first_via = false;
                } else if (h->id == H_VIA || h->id == H_FROM || h->id == H_CALL_ID || h->id == H_CSEQ)
                        fput_header(f, h);
                else if (h->id == H_TO) {
                        fwrite(h->name, 1, h->name_len, f);
                        fputs(": ", f);
                        fwrite(h->value, 1, h->len, f);
                        if (!memmem(h->value, h->len, "tag=", 4))
                                fprintf(f, ";tag=%s", tag);
                        fputs("\r\n", f);
                }
        }
        fprintf(f, "Server: fxsgw/%s\r\nContent-Length: 0\r\n\r\n", GW_VERSION);
        if (fclose(f) != 0)
                return -ENOMEM;

        return transport_send(m, buf, size, (const struct sockaddr *) &dest, dest_len);
}

int message_response_build(const osip_message_t *req, unsigned code, osip_message_t **ret) {
        _cleanup_(osip_message_freep) osip_message_t *resp = NULL;
        char tag[17];
        int r;

        if (!req->from || !req->to || !req->call_id || !req->cseq || osip_list_size(&req->vias) < 1)
                return -EINVAL;
        r = osip_to_errno(osip_message_init(&resp));
        if (r < 0)
                return r;

        osip_message_set_version(resp, osip_strdup("SIP/2.0"));
        osip_message_set_status_code(resp, (int) code);
        osip_message_set_reason_phrase(resp, osip_strdup(osip_message_get_reason((int) code) ?: "Unknown"));
        /* A failure past the checks above is libosip2 out of memory: -ENOMEM, never -EINVAL (the caller's "malformed"). */
        if (osip_list_clone(&req->vias, &resp->vias, (int (*)(void *, void **)) & osip_via_clone) < 0 ||
            osip_from_clone(req->from, &resp->from) != 0 || osip_to_clone(req->to, &resp->to) != 0 ||
            osip_call_id_clone(req->call_id, &resp->call_id) != 0 || osip_cseq_clone(req->cseq, &resp->cseq) != 0)
                return -ENOMEM;
        if (code > 100) {
                osip_generic_param_t *t = NULL;
                if (osip_to_get_tag(resp->to, &t) != 0 || !t) {
                        r = message_token(tag, 16);
                        if (r < 0)
                                return -ENOMEM;
                        if (osip_to_set_tag(resp->to, osip_strdup(tag)) != 0)
                                return -ENOMEM;
                }
        }
        if (osip_message_set_header(resp, "Server", "fxsgw/" GW_VERSION) != 0 ||
            osip_message_set_content_length(resp, "0") != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(resp);
        return 0;
}



/* Choose the challenge to answer from a 401/407: SHA-256 before MD5. */
int message_pick_challenge(const osip_message_t *resp, bool proxy, DigestChallenge *ret) {
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

/* ---------------------------------------------------------------- incoming requests */

/* Does the request's Accept list (if any) admit application/sdp? */
static bool accepts_sdp(const osip_message_t *sip) {
        osip_list_iterator_t it;

        if (osip_list_size(&sip->accepts) <= 0)
                return true;
        for (osip_accept_t *a = osip_list_get_first(UNCONST(&sip->accepts), &it); a; a = osip_list_get_next(&it)) {
                if (!a->type)
                        return true;                      /* "Accept:" empty: be liberal */
                if ((strcmp(a->type, "*") == 0 || strcasecmp(a->type, "application") == 0) &&
                    (!a->subtype || strcmp(a->subtype, "*") == 0 || strcasecmp(a->subtype, "sdp") == 0))
                        return true;
        }
        return false;
}

/* What we answer to a well-formed request (RFC 3261 §8.2 in order: method,
 * Request-URI, Require, content). 0 for ACK. */
static unsigned message_answer_code(const osip_message_t *sip, const RawMessage *rm, char **ret_unsupported) {
        const char *method = sip->sip_method;
        osip_header_t *h = NULL;

        if (streq(method, "ACK"))
                return 0;
        if (!streq(method, "OPTIONS") && !streq(method, "INVITE") && !streq(method, "REGISTER") &&
            !streq(method, "BYE") && !streq(method, "CANCEL") && !streq(method, "INFO"))
                return 501;
        if (!scan_uri_scheme_supported(rm->uri, rm->uri_len))
                return 416;
        if (streq(method, "REGISTER")) {
                /* We are no registrar; a REGISTER with a non-SIP To is malformed anyway. */
                const char *s = sip->to && sip->to->url ? sip->to->url->scheme : NULL;
                if (!s || (strcasecmp(s, "sip") != 0 && strcasecmp(s, "sips") != 0))
                        return 400;
                return 405;
        }
        if (!streq(method, "CANCEL") && osip_message_header_get_byname(sip, "require", 0, &h) >= 0 && h && h->hvalue) {
                *ret_unsupported = strdup(h->hvalue);
                return 420;
        }
        if (osip_list_size(&sip->bodies) > 0 && sip->content_type && sip->content_type->type &&
            !(strcasecmp(sip->content_type->type, "application") == 0 && sip->content_type->subtype &&
              strcasecmp(sip->content_type->subtype, "sdp") == 0) &&
            strcasecmp(sip->content_type->type, "multipart") != 0)
                return 415;
        if (streq(method, "OPTIONS"))
                return 200;
        if (streq(method, "BYE") || streq(method, "CANCEL") || streq(method, "INFO"))
                return 481;                               /* unless the call layer knows the dialog */
        if (!accepts_sdp(sip))
                return 406;
        return 480;                                       /* unless the call layer takes it */
}

static int message_handle_request(Manager *m, osip_event_t *ev, const RawMessage *rm,
                          const struct sockaddr *from, socklen_t fromlen, RxResult *ret) {
        _cleanup_free_ char *unsupported = NULL;
        _cleanup_(osip_message_freep) osip_message_t *resp = NULL;
        osip_message_t *sip = ev->sip;
        osip_transaction_t *tr = NULL;
        struct sockaddr_storage dest;
        socklen_t dest_len;
        char ip[INET6_ADDRSTRLEN] = "";
        uint16_t port;
        unsigned code;
        int r;

        (void) gw_sockaddr_ip_to_string(from, ip, sizeof(ip));
        port = gw_sockaddr_port(from);
        /* received= and rport= on the top Via (RFC 3261 §18.2.1, RFC 3581 §4) */
        osip_message_fix_last_via_header(sip, ip, port);

        /* A retransmission (or the ACK of our final answer) belongs to a transaction. */
        if (osip_find_transaction_and_add_event(m->osip, ev) == 0) {
                if (streq(sip->sip_method, "ACK")) {
                        *ret = (RxResult) { RX_ACK, 0 };
                } else {
                        m->counters.retransmissions++;
                        *ret = (RxResult) { RX_RETRANSMISSION, 0 };
                }
                transaction_run(m);
                return 0;
        }
        if (streq(sip->sip_method, "ACK")) {
                /* An ACK for a 2xx (the call layer's), or for nothing we know: never answered. */
                unsigned dummy;
                if (!m->message_handlers || m->message_handlers->request(m, ev, NULL, 0, &dummy) == 0)
                        osip_event_free(ev);
                *ret = (RxResult) { RX_ACK, 0 };
                transaction_run(m);
                return 0;
        }

        code = message_answer_code(sip, rm, &unsupported);
        if (code == 480 || code == 481) {
                unsigned status = 0;

                message_response_dest(from, fromlen, rm->via_rport, rm->via_port, &dest, &dest_len);
                r = m->message_handlers ? m->message_handlers->request(m, ev, &dest, dest_len, &status) : 0;
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = (RxResult) { RX_ANSWERED, status };
                        transaction_run(m);
                        return 0;
                }
        }
        if (code == 400)
                m->counters.malformed++;
        r = message_response_build(sip, code, &resp);
        if (r == -EINVAL) {
                /* libosip2 accepted it but lost a header we need to answer: malformed */
                osip_event_free(ev);
                m->counters.malformed++;
                (void) message_respond_raw(m, rm, 400, "Bad Request", from, fromlen);
                *ret = (RxResult) { RX_ANSWERED, 400 };
                return 0;
        }
        if (r < 0) {
                osip_event_free(ev);
                return r;
        }
        if (code == 200 && streq(sip->sip_method, "OPTIONS")) {
                osip_message_set_header(resp, "Allow", SIGD_ALLOW);
                osip_message_set_header(resp, "Accept", "application/sdp");
                osip_message_set_header(resp, "Supported", "");
        } else if (code == 405 || code == 501)
                osip_message_set_header(resp, "Allow", SIGD_ALLOW);
        else if (code == 415 || code == 406)
                osip_message_set_header(resp, "Accept", "application/sdp");
        else if (code == 420 && unsupported)
                osip_message_set_header(resp, "Unsupported", unsupported);

        message_response_dest(from, fromlen, rm->via_rport, rm->via_port, &dest, &dest_len);
        r = transaction_new_server(m, ev, &dest, dest_len, &tr);
        if (r == -EINVAL) {
                /* libosip2 refused it (e.g. no usable Via): answer without a transaction */
                char *s = NULL;
                size_t len = 0;
                osip_event_free(ev);
                if (osip_message_to_str(resp, &s, &len) == 0) {
                        (void) transport_send(m, s, len, (const struct sockaddr *) &dest, dest_len);
                        osip_free(s);
                }
                *ret = (RxResult) { RX_ANSWERED, code };
                return 0;
        }
        if (r < 0) {
                osip_event_free(ev);
                return r;
        }
        transaction_respond(m, tr, TAKE_PTR(resp));
        transaction_run(m);
        *ret = (RxResult) { RX_ANSWERED, code };
        return 0;
}

int message_handle_datagram(Manager *m, const void *data, size_t n,
                            const struct sockaddr *from, socklen_t fromlen, RxResult *ret) {
        _cleanup_(scan_message_done) RawMessage rm = {};
        const char *buf = data;
        osip_event_t *ev;
        RxResult dummy;
        char src[64] = "?";
        int r, status;

        assert(m);
        if (!ret)
                ret = &dummy;
        m->counters.rx++;
        if (from)
                (void) gw_sockaddr_to_string(from, src, sizeof(src));

        if (n == 0 || n > SIGD_MAX_DATAGRAM) {
                m->counters.dropped++;
                *ret = (RxResult) { RX_DROPPED_SIZE, 0 };
                return 0;
        }
        /* Leading CRLFs are allowed (RFC 3261 §7.5); CRLF-only is a keep-alive. */
        while (n >= 2 && buf[0] == '\r' && buf[1] == '\n') {
                buf += 2;
                n -= 2;
        }
        if (n == 0) {
                m->counters.dropped++;
                *ret = (RxResult) { RX_DROPPED_SIZE, 0 };
                return 0;
        }

        r = scan_split(buf, n, &rm);
        if (r == -ENOMEM)
                return r;
        status = r < 0 ? 400 : scan_start_line(&rm);
        if (rm.is_request && !message_source_trusted(m, from)) {
                /* Not even an error answer to strangers: that would make us a reflector. */
                log_debug("Dropping a request from untrusted %s.", src);
                m->counters.untrusted++;
                m->counters.dropped++;
                *ret = (RxResult) { RX_DROPPED_UNTRUSTED, 0 };
                return 0;
        }
        if (status == 0 && scan_headers(&rm, n) < 0)
                status = 400;
        if (status > 0 && r >= 0 && !rm.via_ok)
                (void) scan_headers(&rm, n);         /* for the Via to answer to */

        if (status == 0) {
                ev = osip_parse(buf, rm.head_len + rm.body_len);
                if (!ev || !ev->sip) {
                        if (ev)
                                osip_event_free(ev);
                        /* libosip2 could not parse what our scan accepted. For a request,
                         * still answer what an endpoint would: unknown method 501,
                         * unknown URI scheme 416, else 400. */
                        if (rm.is_request && rm.via_ok)
                                status = !scan_method_known(&rm) ? 501 :
                                         !scan_uri_scheme_supported(rm.uri, rm.uri_len) ? 416 : 400;
                        else
                                status = 400;
                        if (status == 501 || status == 416) {
                                r = message_respond_raw(m, &rm, (unsigned) status, status == 501 ? "Not Implemented" :
                                                "Unsupported URI Scheme", from, fromlen);
                                m->counters.requests_received++;
                                *ret = (RxResult) { RX_ANSWERED, (unsigned) status };
                                return 0;
                        }
                } else if (!rm.is_request) {
                        if (osip_find_transaction_and_add_event(m->osip, ev) == 0) {
                                *ret = (RxResult) { RX_RESPONSE_MATCHED, 0 };
                                transaction_run(m);
                        } else if (m->message_handlers &&
                                   m->message_handlers->stray_response(m, ev->sip, from, fromlen) > 0) {
                                osip_event_free(ev);
                                *ret = (RxResult) { RX_RESPONSE_MATCHED, 0 };
                                transaction_run(m);
                        } else {
                                log_debug("Dropping %d response from %s: no transaction.", ev->sip->status_code, src);
                                osip_event_free(ev);
                                m->counters.unmatched_responses++;
                                m->counters.dropped++;
                                *ret = (RxResult) { RX_RESPONSE_UNMATCHED, 0 };
                        }
                        return 0;
                } else {
                        m->counters.requests_received++;
                        return message_handle_request(m, ev, &rm, from, fromlen, ret);
                }
        }

        /* Malformed. */
        m->counters.malformed++;
        if (rm.is_request && rm.via_ok && from) {
                log_debug("Answering malformed request from %s with %d.", src, status);
                r = message_respond_raw(m, &rm, (unsigned) status, status == 505 ? "Version Not Supported" : "Bad Request",
                                from, fromlen);
                if (r < 0)
                        log_debug_errno(r, "Failed to answer %s: %m", src);
                *ret = (RxResult) { RX_ANSWERED, (unsigned) status };
                return 0;
        }
        log_debug("Dropping malformed datagram of %zu bytes from %s.", n, src);
        m->counters.dropped++;
        *ret = (RxResult) { RX_DROPPED_MALFORMED, 0 };
        return 0;
}

/* ---------------------------------------------------------------- outgoing requests */

int message_contact_uri(Manager *m, const char *number, char **ret) {
        char *s;

        if (asprintf(&s, "sip:%s@%s:%u", number, m->via_host, m->via_port) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}




/* ---------------------------------------------------------------- reading libosip2's messages */

char *message_call_id(const osip_message_t *msg) {
        char *s = NULL, *d;

        if (!msg->call_id || osip_call_id_to_str(msg->call_id, &s) != 0)
                return NULL;
        d = strdup(s);
        osip_free(s);
        return d;
}

char *message_uri_string(const osip_uri_t *u) {
        char *s = NULL, *d;

        if (!u || osip_uri_to_str(u, &s) != 0)
                return NULL;
        d = strdup(s);
        osip_free(s);
        return d;
}

const osip_body_t *message_sdp_body(const osip_message_t *msg) {
        osip_body_t *b = NULL;

        if (osip_message_get_body(msg, 0, &b) < 0 || !b || !b->body || b->length == 0)
                return NULL;
        if (msg->content_type && msg->content_type->type &&
            !(strcasecmp(msg->content_type->type, "application") == 0 && msg->content_type->subtype &&
              strcasecmp(msg->content_type->subtype, "sdp") == 0))
                return NULL;
        return b;
}
