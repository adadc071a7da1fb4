/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-dialog.c: one SIP dialog: identity, route set, CSeq, ACK and BYE (see sigd-dialog.h).
 *
 * Requests in a dialog follow its route set (loose routing, RFC 3261 §12.2.1.1)
 * to its remote target; an ACK for a 2xx is its own transaction-less request,
 * kept so a retransmitted 2xx is ACKed again with the same bytes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "gw-build-config.h"
#include "gw-log.h"
#include "sigd-dialog.h"
#include "sigd-manager.h"
#include "sigd-message.h"
#include "sigd-osip.h"
#include "sigd-transaction.h"
#include "sigd-transport.h"

void dialog_done(Dialog *d) {
        for (size_t i = 0; i < d->n_routes; i++)
                free(d->routes[i]);
        d->n_routes = 0;
        free(d->call_id);
        free(d->local_tag);
        free(d->remote_tag);
        free(d->local_uri);
        free(d->remote_uri);
        free(d->remote_target);
        free(d->request_uri);
        free(d->ack);
        *d = (Dialog) { .manager = d->manager };
}

int dialog_request_build(Dialog *d, const char *method, uint32_t cseq, char *ret_branch, osip_message_t **ret) {
        Manager *m = d->manager;
        _cleanup_(osip_message_freep) osip_message_t *msg = NULL;
        osip_uri_t *uri = NULL;
        char branch[33], buf[2048];
        const char *ruri = d->remote_target && d->confirmed ? d->remote_target : d->request_uri;
        int r;

        if (!ruri || message_token(branch, 24) < 0)
                return -EINVAL;
        r = osip_to_errno(osip_message_init(&msg));
        if (r < 0)
                return r;
        osip_message_set_method(msg, osip_strdup(method));
        osip_message_set_version(msg, osip_strdup("SIP/2.0"));
        r = osip_to_errno(osip_uri_init(&uri));
        if (r < 0)
                return r;
        r = osip_to_errno(osip_uri_parse(uri, ruri));
        if (r < 0) {
                osip_uri_free(uri);
                return r;
        }
        osip_message_set_uri(msg, uri);
        snprintf(buf, sizeof buf, "SIP/2.0/UDP %s:%u;rport;branch=z9hG4bK%s", m->via_host, m->via_port, branch);
        r = osip_to_errno(osip_message_set_via(msg, buf));
        if (r >= 0)
                r = osip_to_errno(osip_message_set_max_forwards(msg, "70"));
        for (size_t i = 0; r >= 0 && i < d->n_routes; i++)
                r = osip_to_errno(osip_message_set_route(msg, d->routes[i]));
        if (r < 0)
                return r;
        snprintf(buf, sizeof buf, "<%s>;tag=%s", d->local_uri, d->local_tag);
        r = osip_to_errno(osip_message_set_from(msg, buf));
        if (r < 0)
                return r;
        if (d->remote_tag)
                snprintf(buf, sizeof buf, "<%s>;tag=%s", d->remote_uri, d->remote_tag);
        else
                snprintf(buf, sizeof buf, "<%s>", d->remote_uri);
        r = osip_to_errno(osip_message_set_to(msg, buf));
        if (r >= 0)
                r = osip_to_errno(osip_message_set_call_id(msg, d->call_id));
        if (r < 0)
                return r;
        snprintf(buf, sizeof buf, "%" PRIu32 " %s", cseq, method);
        r = osip_to_errno(osip_message_set_cseq(msg, buf));
        if (r >= 0)
                r = osip_to_errno(osip_message_set_user_agent(msg, "fxsgw/" GW_VERSION));
        if (r >= 0 && !streq(method, "INVITE"))
                r = osip_to_errno(osip_message_set_content_length(msg, "0"));
        if (r < 0)
                return r;
        if (ret_branch)
                snprintf(ret_branch, 40, "z9hG4bK%s", branch);
        *ret = TAKE_PTR(msg);
        return 0;
}

/* Where in-dialog requests go: the first route if it is an IP literal
 * (loose routing, as Kamailio record-routes), else the remote target's
 * host, else where the INVITE went or came from. */
void dialog_dest(const Dialog *d, struct sockaddr_storage *ret, socklen_t *ret_len) {
        const char *cands[2] = { d->n_routes > 0 ? d->routes[0] : NULL, d->remote_target };

        for (size_t i = 0; i < ELEMENTSOF(cands); i++) {
                osip_route_t *rt = NULL;
                char text[128];
                bool ok = false;

                if (!cands[i])
                        continue;
                if (osip_route_init(&rt) != 0)
                        continue;
                if (osip_route_parse(rt, cands[i]) == 0 && rt->url && rt->url->host) {
                        const char *port = rt->url->port && *rt->url->port ? rt->url->port : "5060";
                        if (strchr(rt->url->host, ':'))
                                snprintf(text, sizeof text, "[%s]:%s", rt->url->host, port);
                        else
                                snprintf(text, sizeof text, "%s:%s", rt->url->host, port);
                        ok = gw_parse_sockaddr(text, 5060, ret) >= 0 && ret->ss_family == d->manager->local.ss_family;
                }
                osip_route_free(rt);
                if (ok) {
                        *ret_len = ret->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
                        return;
                }
        }
        *ret = d->peer;
        *ret_len = d->peer_len;
}

/* Their tag, Contact, the route set (Record-Route reversed, RFC 3261 §12.1.2). */
void dialog_learn(Dialog *d, const osip_message_t *resp) {
        osip_generic_param_t *tag = NULL;
        osip_contact_t *ct = NULL;
        osip_record_route_t *rr;
        int n;

        if (resp->to && osip_to_get_tag(resp->to, &tag) == 0 && tag && tag->gvalue) {
                free(d->remote_tag);
                d->remote_tag = strdup(tag->gvalue);
        }
        if (osip_message_get_contact(resp, 0, &ct) >= 0 && ct && ct->url) {
                char *s = NULL;
                if (osip_uri_to_str(ct->url, &s) == 0) {
                        free(d->remote_target);
                        d->remote_target = strdup(s);
                        osip_free(s);
                }
        }
        for (size_t i = 0; i < d->n_routes; i++)
                free(d->routes[i]);
        d->n_routes = 0;
        n = osip_list_size(&resp->record_routes);
        for (int i = n - 1; i >= 0 && d->n_routes < SIGD_MAX_ROUTES; i--) {
                char *s = NULL;
                if (osip_message_get_record_route(resp, i, &rr) < 0 || !rr || osip_record_route_to_str(rr, &s) != 0)
                        continue;
                d->routes[d->n_routes++] = strdup(s);
                osip_free(s);
        }
}

int dialog_from_invite(Dialog *d, const osip_message_t *req, const struct sockaddr_storage *dest, socklen_t dest_len) {
        osip_generic_param_t *tag = NULL;
        osip_contact_t *ct = NULL;

        d->call_id = message_call_id(req);
        if (!d->call_id)
                return -ENOMEM;
        if (req->from && osip_from_get_tag(req->from, &tag) == 0 && tag && tag->gvalue)
                d->remote_tag = strdup(tag->gvalue);
        d->remote_uri = message_uri_string(req->from ? req->from->url : NULL);
        d->local_uri = message_uri_string(req->to ? req->to->url : NULL);
        if (osip_message_get_contact(req, 0, &ct) >= 0 && ct)
                d->remote_target = message_uri_string(ct->url);
        for (int i = 0; i < osip_list_size(&req->record_routes) && d->n_routes < SIGD_MAX_ROUTES; i++) {
                osip_record_route_t *rr = NULL;
                char *s = NULL;
                if (osip_message_get_record_route(req, i, &rr) >= 0 && rr && osip_record_route_to_str(rr, &s) == 0) {
                        d->routes[d->n_routes++] = strdup(s);
                        osip_free(s);
                }
        }
        d->remote_cseq = (uint32_t) strtoul(req->cseq->number, NULL, 10);
        memcpy(&d->peer, dest, sizeof(d->peer));
        d->peer_len = dest_len;
        if (!d->remote_uri || !d->local_uri)
                return -ENOMEM;
        return 0;
}

void dialog_send_ack(Dialog *d) {
        struct sockaddr_storage dest;
        socklen_t dest_len;

        if (!d->ack) {
                _cleanup_(osip_message_freep) osip_message_t *msg = NULL;
                char *s = NULL;
                size_t len = 0;

                if (dialog_request_build(d, "ACK", d->invite_cseq, NULL, &msg) < 0)
                        return;
                if (osip_message_to_str(msg, &s, &len) == 0) {
                        d->ack = strndup(s, len);
                        d->ack_len = len;
                        osip_free(s);
                }
                if (!d->ack)
                        return;
        }
        dialog_dest(d, &dest, &dest_len);
        (void) transport_send(d->manager, d->ack, d->ack_len, (const struct sockaddr *) &dest, dest_len);
}

void dialog_send_bye(Dialog *d) {
        struct sockaddr_storage dest;
        socklen_t dest_len;
        osip_message_t *msg = NULL;

        if (d->bye_sent)
                return;
        d->bye_sent = true;
        if (dialog_request_build(d, "BYE", ++d->local_cseq, NULL, &msg) < 0) {
                log_warning("Call %s: could not build the BYE.", d->call_id);
                return;
        }
        dialog_dest(d, &dest, &dest_len);
        if (transaction_new_client(d->manager, NICT, msg, &dest, dest_len, NULL, NULL, NULL) >= 0)
                d->manager->call_actions++;
}
