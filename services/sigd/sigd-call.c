/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-call.c: calls: INVITE dialogs both ways (see sigd-call.h and docs/CALLS.md).
 *
 * A Call is the SIP side of a line's call: one INVITE dialog (sigd-dialog.c),
 * its SDP offer/answer and, outgoing, the entries it may go to. It tells its
 * line what happened through the CallLineOps the line layer registered
 * (m->call_line_ops), never by calling it.
 *
 * INVITE failover (issue 4 item 9): the INVITE goes to the profile's active
 * entry; before any 1xx, silence for invite_total_timeout, a transport error,
 * or a 408/503 (a 503 also after a 100, before any 18x) fail the entry (by
 * gw_outcome_classify(), the classification regd's policy uses too), and
 * the same INVITE (Call-ID, From tag, CSeq; a new branch) goes to the next
 * entry, each entry at most once per call. After a 1xx a final response is
 * the call's outcome. sigd never decides entry health: every attempt's
 * lesson goes to regd as an EntryReport.
 *
 * libosip2's callbacks only note transaction events (call_tr_ops); they
 * are handled in call_settle() once libosip2 is out of its loops. */
#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

#include "gw-build-config.h"
#include "gw-bus.h"
#include "gw-log.h"
#include "gw-outcome.h"
#include "gw-sockaddr.h"
#include "sigd-call.h"
#include "sigd-dialog.h"
#include "sigd-manager.h"
#include "sigd-message.h"
#include "sigd-osip.h"
#include "sigd-request.h"
#include "sigd-transaction.h"
#include "sigd-transport.h"

#define T1_USEC (500 * USEC_PER_MSEC)

static void call_event_end(Call *c, const char *cause, uint32_t status);
static const TransactionOps call_tr_ops;

_printf_(1, 2) static char *strdup_printf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

/* ---------------------------------------------------------------- publishing */

void call_publish(Manager *m, const char *key, Gw__Envelope *env) {
        if (m->publish_cb)
                m->publish_cb(m, key, env, m->publish_userdata);
}

void call_publish_event(Call *c, Gw__CallEventKind kind, const char *cause, uint32_t status) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__CallEvent ce = GW__CALL_EVENT__INIT;
        char key[16];

        if (!c->line)
                return;
        ce.kind = kind;
        ce.port = c->line_conf->port;
        ce.call_id = c->dialog.call_id;
        ce.has_direction = true;
        ce.direction = c->outgoing ? GW__CALL_DIRECTION__CALL_OUTGOING : GW__CALL_DIRECTION__CALL_INCOMING;
        ce.remote = c->remote_number;
        ce.has_real_us = true;
        ce.real_us = now_usec(CLOCK_REALTIME);
        ce.cause = UNCONST(cause);
        if (status) {
                ce.has_sip_status = true;
                ce.sip_status = status;
        }
        if (c->outgoing && c->entry < c->n_entries) {
                ce.proxy = c->entries[c->entry].proxy->text;
                ce.target = c->entries[c->entry].target;
        }
        if (c->have_media)
                ce.codec = UNCONST(gw_codec_to_string(c->media.codec));
        env.body_case = GW__ENVELOPE__BODY_CALL_EVENT;
        env.call_event = &ce;
        snprintf(key, sizeof key, "%u", c->line_conf->port);
        call_publish(c->manager, key, &env);
}

/* Tell regd what happened to the current INVITE attempt: its first
 * provisional response, or its end (resp: the final response; NULL for a
 * timeout or a transport error). What that says about the entry is regd's
 * decision (regd-policy.c), not ours. */
/* Whether final response 'code' to the current INVITE fails its entry: the
 * classification of common/gw-outcome.c, INVITE rule included. */
static bool call_response_fails_entry(const Call *c, unsigned code) {
        GwOutcome o = {
                .kind = GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE,
                .status_code = code,
                .got_provisional = c->got_1xx,
                .got_18x = c->got_18x,
        };

        return gw_outcome_classify(&o, true) == GW_VERDICT_FAILED;
}

static void publish_entry_report(Call *c, Gw__SipOutcomeKind kind, const osip_message_t *resp) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__EntryReport er = GW__ENTRY_REPORT__INIT;
        const InviteEntry *e;
        const GwProfileConf *p;
        bool provisional = resp && resp->status_code < 200;
        int32_t v;

        if (!c->outgoing || c->entry >= c->n_entries || !c->line)
                return;
        e = &c->entries[c->entry];
        p = c->profile;
        er.profile = p->name;
        er.proxy = e->proxy->text;
        er.target = UNCONST(e->target);
        er.kind = kind;
        if (resp) {
                er.has_status_code = true;
                er.status_code = (uint32_t) resp->status_code;
                if (request_header_int(resp, "retry-after", &v) == 0) {
                        er.has_retry_after_s = true;
                        er.retry_after_s = v;
                }
        }
        er.has_got_provisional = er.has_got_18x = true;
        er.got_provisional = c->got_1xx && !provisional;
        er.got_18x = c->got_18x && !provisional;
        log_debug("Call %s: entry %s (%s): %s %u%s.", c->dialog.call_id, e->proxy->text, e->target,
                  kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE ? "response" :
                  kind == GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT ? "timeout" : "transport error",
                  er.status_code, er.got_provisional ? " after a provisional" : "");
        env.body_case = GW__ENVELOPE__BODY_ENTRY_REPORT;
        env.entry_report = &er;
        call_publish(c->manager, p->name, &env);
}

/* ---------------------------------------------------------------- calls: life */

static Call *call_by_serial(Manager *m, uint64_t serial) {
        for (Call *c = m->calls; c; c = c->next)
                if (c->serial == serial)
                        return c;
        return NULL;
}

static const CallLineOps *line_ops(Manager *m) {
        assert(m->call_line_ops);
        return m->call_line_ops;
}

/* The call is over for its line, if it still has one. */
static void call_line_released(Call *c, Gw__Tone tone) {
        if (c->line)
                line_ops(c->manager)->released(c->line, tone);
}

void call_set_line_ops(Manager *m, const CallLineOps *ops) {
        m->call_line_ops = ops;
}

/* A new call in the manager's list, of line l (not attached: the caller does that). */
static Call *call_alloc(Manager *m, Line *l, const GwLineConf *lc, const GwProfileConf *p, bool outgoing) {
        Call *c;

        c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->manager = m;
        c->dialog.manager = m;
        c->serial = ++m->next_call_serial;
        c->line = l;
        c->line_conf = lc;
        c->profile = p;
        c->outgoing = outgoing;
        c->start_real_us = now_usec(CLOCK_REALTIME);
        c->next = m->calls;
        if (m->calls)
                m->calls->prev = c;
        m->calls = c;
        return c;
}

static int call_new(Manager *m, Line *l, const GwLineConf *lc, const GwProfileConf *p, bool outgoing, Call **ret) {
        Call *c = call_alloc(m, l, lc, p, outgoing);

        if (!c)
                return -ENOMEM;
        if (l) {
                c->local_port = line_ops(m)->attach(l, c);
                c->srtp = p ? p->srtp : m->conf->media_srtp;
        }
        *ret = c;
        return 0;
}

void call_free(Call *c) {
        Manager *m;

        if (!c)
                return;
        m = c->manager;
        if (c->line)
                line_ops(m)->detach(c->line, c);
        if (c->prev)
                c->prev->next = c->next;
        else if (m->calls == c)
                m->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        /* Transactions live on in libosip2 (retransmissions, Timer K/D) without us. */
        transaction_set_owner(c->ict, NULL, NULL);
        transaction_set_owner(c->ist, NULL, NULL);
        sd_event_source_disable_unref(c->invite_timer);
        sd_event_source_disable_unref(c->ok_timer);
        sd_event_source_disable_unref(c->linger);
        for (size_t i = 0; i < c->n_auth; i++)
                digest_challenge_done(&c->auth[i].challenge);
        if (c->invite)
                osip_message_free(c->invite);
        free(c->remote_number);
        dialog_done(&c->dialog);
        erase_and_free(c->ok);                    /* our SDP, with our key */
        sdp_result_wipe(&c->media);
        explicit_bzero(c->offered, sizeof c->offered);
        free(c);
}

static int on_linger(sd_event_source *s, uint64_t usec, void *userdata) {
        Call *c = userdata;
        Manager *m = c->manager;

        log_debug("Call %s: released, done waiting for late answers.", strna(c->dialog.call_id));
        call_free(c);
        transaction_run(m);
        return 0;
}

void call_forget_line(Call *c) {
        c->line = NULL;
}

void call_detach(Call *c) {
        if (c->line)
                line_ops(c->manager)->detach(c->line, c);
        c->line = NULL;
        c->invite_timer = sd_event_source_disable_unref(c->invite_timer);
        if (!c->linger &&
            sd_event_add_time_relative(c->manager->event, &c->linger, CLOCK_MONOTONIC, SIGD_CALL_LINGER_USEC,
                                       USEC_PER_SEC, on_linger, c) < 0)
                c->linger = NULL;
}

/* ---------------------------------------------------------------- building messages */

static void call_sdp_host(Manager *m, char *buf, size_t n) {
        /* via_host without IPv6 brackets, for SDP */
        const char *h = m->via_host;
        size_t k = strlen(h);

        if (k >= 2 && h[0] == '[') {
                snprintf(buf, n, "%.*s", (int) (k - 2), h + 1);
                return;
        }
        if (k >= n)
                k = n - 1;
        memcpy(buf, h, k);
        buf[k] = 0;
}

static int call_set_sdp(Call *c, osip_message_t *msg) {
        Manager *m = c->manager;
        _cleanup_(sdp_text_freep) char *text = NULL;
        char host[sizeof m->via_host], len[24];
        SdpLocal l = {};
        int r;

        call_sdp_host(m, host, sizeof host);
        l.addr = host;
        l.family = m->local.ss_family;
        l.port = c->local_port;
        if (c->sdp_sess_id == 0) {
                c->sdp_sess_id = now_usec(CLOCK_REALTIME) / USEC_PER_SEC;
                c->sdp_version = c->sdp_sess_id;
        } else
                c->sdp_version++;
        l.sess_id = c->sdp_sess_id;
        l.sess_version = c->sdp_version;
        if (c->have_media)
                sdp_local_answer(&l, &c->media);
        else {
                /* One set of keys per call: every attempt (failover, authentication) offers the same. */
                if (!c->made_offer) {
                        r = sdp_offer_crypto(c->srtp, c->offered);
                        if (r < 0)
                                return log_error_errno(r, "Call %s: no random SRTP key: %m", strna(c->dialog.call_id));
                        c->n_offered = (size_t) r;
                        c->made_offer = true;
                }
                sdp_local_offer(&l, m->conf, c->srtp, c->offered, c->n_offered);
        }
        r = sdp_build(&l, &text);
        if (r < 0)
                return r;
        snprintf(len, sizeof len, "%zu", strlen(text));
        osip_list_special_free(&msg->bodies, (void (*)(void *)) osip_body_free);
        if (osip_message_set_body(msg, text, strlen(text)) != 0 ||
            osip_message_set_content_type(msg, "application/sdp") != 0)
                return -ENOMEM;
        if (msg->content_length) {
                osip_content_length_free(msg->content_length);
                msg->content_length = NULL;
        }
        if (osip_message_set_content_length(msg, len) != 0)
                return -ENOMEM;
        return 0;
}

static int call_set_contact(Call *c, osip_message_t *msg) {
        _cleanup_free_ char *uri = NULL;
        char buf[512];
        const char *number = c->line ? c->line_conf->number : "fxsgw";

        if (message_contact_uri(c->manager, number, &uri) < 0)
                return -ENOMEM;
        snprintf(buf, sizeof buf, "<%s>", uri);
        return osip_message_set_contact(msg, buf) == 0 ? 0 : -ENOMEM;
}

/* The CANCEL for the current INVITE attempt: same Request-URI, Call-ID, From,
 * To, CSeq number and top Via as the INVITE (RFC 3261 §9.1). */
static int call_cancel_build(Call *c, const osip_message_t *inv, osip_message_t **ret) {
        _cleanup_(osip_message_freep) osip_message_t *msg = NULL;
        osip_via_t *via = NULL, *v2 = NULL;
        osip_route_t *rt;
        char buf[64];
        int r;

        r = osip_to_errno(osip_message_init(&msg));
        if (r < 0)
                return r;
        osip_message_set_method(msg, osip_strdup("CANCEL"));
        osip_message_set_version(msg, osip_strdup("SIP/2.0"));
        r = osip_to_errno(osip_uri_clone(inv->req_uri, &msg->req_uri));
        if (r < 0)
                return r;
        r = osip_to_errno(osip_message_get_via(inv, 0, &via));
        if (r < 0 || !via)
                return r < 0 ? r : -EBADMSG;
        r = osip_to_errno(osip_via_clone(via, &v2));
        if (r < 0)
                return r;
        osip_list_add(&msg->vias, v2, -1);
        for (int i = 0; osip_message_get_route(inv, i, &rt) >= 0 && rt; i++) {
                osip_route_t *r2 = NULL;
                r = osip_to_errno(osip_route_clone(rt, &r2));
                if (r < 0)
                        return r;
                osip_list_add(&msg->routes, r2, -1);
        }
        r = osip_to_errno(osip_from_clone(inv->from, &msg->from));
        if (r >= 0)
                r = osip_to_errno(osip_to_clone(inv->to, &msg->to));
        if (r >= 0)
                r = osip_to_errno(osip_call_id_clone(inv->call_id, &msg->call_id));
        if (r < 0)
                return r;
        snprintf(buf, sizeof buf, "%" PRIu32 " CANCEL", c->dialog.invite_cseq);
        r = osip_to_errno(osip_message_set_cseq(msg, buf));
        if (r >= 0)
                r = osip_to_errno(osip_message_set_max_forwards(msg, "70"));
        if (r >= 0)
                r = osip_to_errno(osip_message_set_content_length(msg, "0"));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(msg);
        return 0;
}

/* Sent to where the INVITE went, in a transaction of its own. */
static void call_send_cancel(Call *c) {
        osip_message_t *inv, *msg = NULL;
        TransactionCtx *ctx;

        if (c->cancel_sent || !c->ict || !(inv = c->ict->orig_request))
                return;
        ctx = transaction_ctx(c->ict);
        if (!ctx)
                return;
        if (call_cancel_build(c, inv, &msg) < 0) {
                log_warning("Call %s: could not build the CANCEL.", strna(c->dialog.call_id));
                return;
        }
        c->cancel_sent = true;
        if (transaction_new_client(c->manager, NICT, msg, &ctx->dest, ctx->dest_len, NULL, NULL, NULL) >= 0)
                c->manager->call_actions++;
}

/* ---------------------------------------------------------------- outgoing calls */

static void call_invite_timer_stop(Call *c) {
        c->invite_timer = sd_event_source_disable_unref(c->invite_timer);
}

static int on_invite_timeout(sd_event_source *s, uint64_t usec, void *userdata);

/* Build and send the INVITE of the current attempt (entry c->entry). */
static int call_send_invite(Call *c) {
        Manager *m = c->manager;
        InviteEntry *e = &c->entries[c->entry];
        _cleanup_(osip_message_freep) osip_message_t *msg = NULL;
        osip_transaction_t *tr = NULL;
        int r;

        r = dialog_request_build(&c->dialog, "INVITE", c->dialog.invite_cseq, c->branch, &msg);
        if (r < 0)
                return r;
        r = call_set_contact(c, msg);
        if (r >= 0)
                r = osip_to_errno(osip_message_set_header(msg, "Allow", SIGD_ALLOW));
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_auth; i++) {
                _cleanup_free_ char *v = NULL;
                const GwLineConf *lc = c->line_conf;

                c->auth[i].nc++;
                r = digest_authorization(&c->auth[i].challenge, lc->auth_user ?: lc->number, strempty(lc->password),
                                         "INVITE", c->dialog.request_uri, c->auth[i].nc, c->cnonce, &v);
                if (r < 0)
                        return r;
                r = osip_to_errno(osip_message_set_header(msg, c->auth[i].proxy ? "Proxy-Authorization" : "Authorization", v));
                explicit_bzero(v, strlen(v));
                if (r < 0)
                        return r;
        }
        r = call_set_sdp(c, msg);
        if (r < 0)
                return r;
        r = transaction_new_client(m, ICT, TAKE_PTR(msg), &e->addr, e->addr_len, &call_tr_ops, c, &tr);
        if (r < 0)
                return r;
        if (c->ict)
                transaction_kill(m, c->ict);             /* an abandoned attempt: no more retransmissions */
        c->ict = tr;
        c->got_1xx = c->got_18x = c->got_final = false;
        c->dialog.peer = e->addr;
        c->dialog.peer_len = e->addr_len;
        message_note_peer(m, (const struct sockaddr *) &e->addr);
        m->call_actions++;

        call_invite_timer_stop(c);
        r = sd_event_add_time_relative(m->event, &c->invite_timer, CLOCK_MONOTONIC,
                                       c->profile->invite_total_timeout_us, 10 * USEC_PER_MSEC,
                                       on_invite_timeout, c);
        if (r < 0)
                log_warning_errno(r, "Call %s: failed to add the INVITE timer, ignoring: %m", c->dialog.call_id);
        call_log(c, LOG_INFO, c->entry == 0 ? SIGD_MESSAGE_CALL_OUTGOING : NULL,
                 "Line %u: INVITE %s via %s (%s), attempt %zu.", c->line_conf->port, c->dialog.request_uri,
                 e->proxy->text, e->target, c->entry + 1);
        return 0;
}

/* The current entry failed (before any 1xx): the next one, or congestion. */
static void call_fail_over(Call *c, const char *reason, Gw__SipOutcomeKind kind, const osip_message_t *resp) {
        publish_entry_report(c, kind, resp);
        call_invite_timer_stop(c);
        if (c->ict) {
                transaction_kill(c->manager, c->ict);
                c->ict = NULL;
        }
        c->n_auth = 0;
        while (++c->entry < c->n_entries) {
                if (call_send_invite(c) >= 0)
                        return;
        }
        call_log(c, LOG_WARNING, SIGD_MESSAGE_CALL_FAILED,
                 "Line %u: call %s failed on every entry (last: %s).", c->line_conf->port, c->dialog.call_id, reason);
        c->entry = c->n_entries - 1;
        call_event_end(c, "congestion", 0);
        call_line_released(c, GW__TONE__TONE_CONGESTION);
        call_free(c);
}

static int on_invite_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Call *c = userdata;
        Manager *m = c->manager;

        c->invite_timer = sd_event_source_disable_unref(c->invite_timer);
        if (!c->line || c->got_1xx || c->got_final)
                return 0;
        call_fail_over(c, "timeout", GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, NULL);
        transaction_run(m);
        return 0;
}

static void call_event_end(Call *c, const char *cause, uint32_t status) {
        call_publish_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_END, cause, status);
}

/* The entries to try, starting from the active one; with keepalive: invite
 * in homing mode, the main first. */
static void call_pick_entries(Call *c) {
        Manager *m = c->manager;
        const GwProfileConf *p = c->profile;
        const ProfileState *ps = &m->profiles[c->line_conf->profile_index];
        const GwHostPort *all[SIGD_MAX_ENTRIES];
        size_t n = 0, active = 0, order[SIGD_MAX_ENTRIES], k = 0;

        all[n++] = &p->proxy;
        for (size_t i = 0; i < p->n_redundant && n < SIGD_MAX_ENTRIES; i++)
                all[n++] = &p->redundant[i];
        uint64_t now = now_usec(CLOCK_REALTIME);
        bool all_held = true;

        for (size_t i = 0; i < n && ps->active_proxy; i++)
                if (streq(all[i]->text, ps->active_proxy))
                        active = i;
        /* Entries held after a 503 Retry-After (regd's decision) are skipped,
         * unless every one is: a call still goes out then. */
        for (size_t i = 0; i < n; i++)
                all_held = all_held && ps->held_until_real_us[i] > now;
        if (p->keepalive == KEEPALIVE_INVITE && p->redundancy_mode == REDUNDANCY_HOMING && active != 0 &&
            (all_held || ps->held_until_real_us[0] <= now))
                order[k++] = 0;
        for (size_t i = 0; i < n; i++) {
                size_t j = (active + i) % n;
                if ((k > 0 && order[0] == j) || (!all_held && ps->held_until_real_us[j] > now))
                        continue;
                order[k++] = j;
        }
        c->n_entries = 0;
        for (size_t i = 0; i < k; i++) {
                const GwHostPort *hp = all[order[i]];
                InviteEntry *e = &c->entries[c->n_entries];
                char text[80];

                /* regd's active target is where REGISTER goes: for the main entry
                 * with its own registrar that is the registrar, not the proxy. */
                bool registrar_apart = order[i] == 0 && p->registrar_set && !streq(p->registrar.text, p->proxy.text);

                if (order[i] == active && !registrar_apart && ps->active_target && *ps->active_target)
                        snprintf(text, sizeof text, "%s", ps->active_target);
                else if (hp->is_ip)
                        snprintf(text, sizeof text, strchr(hp->host, ':') ? "[%s]:%u" : "%s:%u", hp->host,
                                 hp->port ? hp->port : 5060);
                else
                        continue;                         /* a name only regd resolves */
                if (gw_parse_sockaddr(text, 5060, &e->addr) < 0 || e->addr.ss_family != m->local.ss_family)
                        continue;
                e->addr_len = e->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
                e->proxy = hp;
                snprintf(e->target, sizeof e->target, "%s", text);
                c->n_entries++;
        }
}

static bool is_emergency(const GwProfileConf *p, const char *digits) {
        for (size_t i = 0; i < p->n_emergency_numbers; i++)
                if (streq(p->emergency_numbers[i], digits))
                        return true;
        return false;
}

bool call_profile_refuses(Manager *m, const GwLineConf *lc, const GwProfileConf *p, const char *digits) {
        const ProfileState *ps = &m->profiles[lc->profile_index];

        return p->unregistered_calls == UNREGISTERED_CALLS_REFUSE && ps->known && !ps->any_up &&
               !is_emergency(p, digits);
}

int call_new_outgoing(Manager *m, Line *l, const GwLineConf *lc, const GwProfileConf *p, const char *digits,
                      Call **ret) {
        char tok[33];
        Call *c = NULL;
        int r;

        r = call_new(m, l, lc, p, true, &c);
        if (r < 0)
                return log_oom();
        c->remote_number = strdup(digits);
        if (message_token(tok, 32) >= 0)
                c->dialog.call_id = strdup_printf("%s@%s", tok, m->via_host[0] == '[' ? "fxsgw" : m->via_host);
        if (message_token(tok, 16) >= 0)
                c->dialog.local_tag = strdup(tok);
        {
                /* '#' is not allowed in a URI's user part (RFC 3261 §25.1): escaped */
                char user[3 * strlen(digits) + 1], *u = user;
                for (const char *d = digits; *d; d++)
                        u = *d == '#' ? stpcpy(u, "%23") : (*u = *d, u + 1);
                *u = 0;
                c->dialog.local_uri = strdup_printf("sip:%s@%s", lc->number, p->domain);
                c->dialog.remote_uri = strdup_printf("sip:%s@%s", user, p->domain);
        }
        c->dialog.request_uri = c->dialog.remote_uri ? strdup(c->dialog.remote_uri) : NULL;
        if (!c->remote_number || !c->dialog.call_id || !c->dialog.local_tag || !c->dialog.local_uri ||
            !c->dialog.remote_uri || !c->dialog.request_uri || message_token(c->cnonce, 32) < 0) {
                call_free(c);
                return log_oom();
        }
        c->dialog.invite_cseq = c->dialog.local_cseq = 1;
        call_pick_entries(c);
        if (c->n_entries == 0) {
                log_warning("Line %u: profile %s has no entry with a known address, no call.", lc->port, p->name);
                call_free(c);
                return -ENOENT;
        }
        *ret = c;
        return 0;
}

int call_dial(Call *c) {
        for (c->entry = 0; c->entry < c->n_entries; c->entry++)
                if (call_send_invite(c) >= 0)
                        return 0;
        c->entry = 0;
        call_event_end(c, "congestion", 0);
        call_free(c);
        return -EHOSTUNREACH;
}

static bool srtp_differs(const SdpResult *a, const SdpResult *b) {
        return a->local.suite != b->local.suite || a->local.tag != b->local.tag ||
               memcmp(a->local.key, b->local.key, SDP_KEY_SALT_LEN) != 0 ||
               memcmp(a->remote_key, b->remote_key, SDP_KEY_SALT_LEN) != 0;
}

/* "pcma" or "pcma, SRTP AES_CM_128_HMAC_SHA1_80", for logs. */
static const char *media_label(const Call *c, char *buf, size_t n) {
        if (c->media.local.suite == SDP_SRTP_NONE)
                snprintf(buf, n, "%s", gw_codec_to_string(c->media.codec));
        else
                snprintf(buf, n, "%s, SRTP %s", gw_codec_to_string(c->media.codec),
                         sdp_srtp_suite_to_string(c->media.local.suite));
        return buf;
}

/* The SRTP in use, by suite and tag (never the keys). */
static void call_log_srtp(const Call *c) {
        if (c->media.local.suite != SDP_SRTP_NONE)
                log_info("Call %s: SRTP %s (a=crypto tag %" PRIu32 ", %s).", c->dialog.call_id,
                         sdp_srtp_suite_to_string(c->media.local.suite), c->media.local.tag,
                         c->media.secure ? "RTP/SAVP" : "RTP/AVP");
        else if (c->srtp != GW_SRTP_OFF)
                log_info("Call %s: plain RTP (the peer has no SRTP).", c->dialog.call_id);
}

/* An SDP answer to our offer (183 or 2xx; the ACK after a late offer). */
static int call_take_answer(Call *c, const osip_message_t *resp) {
        const osip_body_t *b = message_sdp_body(resp);
        const char *why = NULL;
        SdpMedia m;
        SdpResult res;
        bool changed;
        int r;

        if (!b)
                return -ENOENT;
        r = sdp_parse(b->body, &m, &why);
        if (r >= 0)
                r = sdp_accept_answer(&m, c->manager->conf, c->srtp, c->offered, c->n_offered, &res, &why);
        sdp_media_wipe(&m);
        if (r < 0) {
                if (resp->status_code)
                        log_warning("Call %s: unusable SDP answer in %d: %s.", c->dialog.call_id, resp->status_code, why);
                else
                        log_warning("Call %s: unusable SDP answer in the ACK: %s.", c->dialog.call_id, why);
                return r;
        }
        changed = !c->have_media || srtp_differs(&res, &c->media);
        sdp_result_wipe(&c->media);
        c->media = res;
        c->have_media = true;
        sdp_result_wipe(&res);
        if (changed)                              /* a 183's answer again in the 200: said once */
                call_log_srtp(c);
        return 0;
}

/* A response to our INVITE (the current attempt's). */
static void call_on_response(Call *c, osip_transaction_t *tr, const osip_message_t *resp) {
        Line *l = c->line;
        int code = resp->status_code;

        if (tr != c->ict)
                return;                                   /* an abandoned attempt's: stray 2xx handled elsewhere */
        if (code < 200) {
                bool first = !c->got_1xx;
                c->got_1xx = true;
                call_invite_timer_stop(c);
                if (first)
                        publish_entry_report(c, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, resp);
                if (c->cancel_wanted) {
                        call_send_cancel(c);
                        return;
                }
                if (!l || code == 100)
                        return;
                c->got_18x = true;
                dialog_learn(&c->dialog, resp);
                /* early media (183 or 180 with SDP): the line hears the far end */
                line_ops(c->manager)->ringback(l, c, call_take_answer(c, resp) >= 0);
                return;
        }

        c->got_final = true;
        call_invite_timer_stop(c);
        if (code < 300) {
                char label[64];
                bool sdp_ok;

                publish_entry_report(c, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, resp);
                dialog_learn(&c->dialog, resp);
                c->dialog.confirmed = true;
                dialog_send_ack(&c->dialog);
                if (!l || c->cancel_wanted) {
                        dialog_send_bye(&c->dialog);
                        return;
                }
                sdp_ok = call_take_answer(c, resp) >= 0 || c->have_media;
                if (!sdp_ok) {
                        log_warning("Line %u: call %s answered without usable SDP, hanging up.", c->line_conf->port,
                                    c->dialog.call_id);
                        dialog_send_bye(&c->dialog);
                        call_event_end(c, "bad-sdp", (uint32_t) code);
                        call_line_released(c, GW__TONE__TONE_CONGESTION);
                        call_detach(c);
                        return;
                }
                call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_ANSWERED,
                         "Line %u: call %s to %s answered (%s).", c->line_conf->port, c->dialog.call_id, c->remote_number,
                         media_label(c, label, sizeof label));
                line_ops(c->manager)->answered(l, true);
                call_publish_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_ANSWER, NULL, (uint32_t) code);
                return;
        }

        /* 3xx-6xx; libosip2 sent the ACK (to where the INVITE went). */
        if ((code == 401 || code == 407) && l) {
                DigestChallenge ch;
                size_t i;

                c->manager->counters.auth_challenges++;
                publish_entry_report(c, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, resp);
                if (!c->line_conf->password || message_pick_challenge(resp, code == 407, &ch) < 0)
                        goto final;
                for (i = 0; i < c->n_auth; i++)
                        if (c->auth[i].proxy == (code == 407) && streq(c->auth[i].challenge.realm, ch.realm))
                                break;
                if ((i < c->n_auth && !ch.stale) || (i == c->n_auth && c->n_auth >= ELEMENTSOF(c->auth))) {
                        digest_challenge_done(&ch);
                        goto final;
                }
                if (i == c->n_auth)
                        c->n_auth++;
                else
                        digest_challenge_done(&c->auth[i].challenge);
                c->auth[i].proxy = code == 407;
                c->auth[i].challenge = ch;
                c->auth[i].nc = 0;
                c->dialog.invite_cseq = ++c->dialog.local_cseq;
                transaction_set_owner(c->ict, NULL, NULL); /* the challenged one ends by itself (Timer D) */
                c->ict = NULL;
                if (call_send_invite(c) >= 0)
                        return;
                goto final;
        }
        /* The call goes on at the next entry when the response fails the entry
         * by the one classification regd's policy uses too (a 408 before any
         * 1xx, a 503 before any 18x); after that the final response is the
         * callee's (Kamailio's 408 when it rings out). What the failure means
         * for the profile is regd's decision: the report says what happened. */
        if (l && call_response_fails_entry(c, code)) {
                call_fail_over(c, code == 408 ? "408" : "503", GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, resp);
                return;
        }
        publish_entry_report(c, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, resp);
final:
        if (!l) {
                call_free(c);                             /* a cancelled call's 487 */
                return;
        }
        {
                bool busy = code == 486 || code == 600 || code == 603;
                const char *cause = code == 486 || code == 600 ? "busy" : code == 603 ? "rejected" :
                                    code == 487 ? "cancelled" : code == 480 || code == 408 ? "no-answer" : "congestion";

                call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_FAILED,
                         "Line %u: call %s to %s failed: %d %s.", c->line_conf->port, c->dialog.call_id, c->remote_number, code,
                         strempty(resp->reason_phrase));
                call_event_end(c, cause, (uint32_t) code);
                call_line_released(c, busy ? GW__TONE__TONE_BUSY : GW__TONE__TONE_CONGESTION);
                call_free(c);
        }
}

/* ---------------------------------------------------------------- libosip2's news, noted */

/* Noted in libosip2's callbacks, handled in call_settle(): by serial, as the call may be gone by then. */
static void call_tx_note(Call *c, osip_transaction_t *tr, int kind, osip_message_t *msg) {
        Manager *m = c->manager;
        CallTxEvent *e;

        if (m->n_tx_events == m->n_tx_events_alloc) {
                size_t k = MAX(m->n_tx_events_alloc * 2, (size_t) 16);
                CallTxEvent *n = realloc(m->tx_events, k * sizeof(*n));
                if (!n) {
                        log_oom();
                        return;
                }
                m->tx_events = n;
                m->n_tx_events_alloc = k;
        }
        e = &m->tx_events[m->n_tx_events];
        *e = (CallTxEvent) { .serial = c->serial, .tr = tr, .kind = kind };
        if (msg && osip_message_clone(msg, &e->msg) != 0) {
                log_oom();
                return;
        }
        m->n_tx_events++;
        m->call_actions++;
}

static void call_on_tx_message(void *owner, osip_transaction_t *tr, int type, osip_message_t *msg) {
        switch (type) {
        case OSIP_ICT_STATUS_1XX_RECEIVED:
        case OSIP_ICT_STATUS_2XX_RECEIVED:
        case OSIP_ICT_STATUS_3XX_RECEIVED:
        case OSIP_ICT_STATUS_4XX_RECEIVED:
        case OSIP_ICT_STATUS_5XX_RECEIVED:
        case OSIP_ICT_STATUS_6XX_RECEIVED:
                call_tx_note(owner, tr, 1, msg);
                break;
        default:
                break;
        }
}

static void call_on_tx_killed(void *owner, osip_transaction_t *tr, int type) {
        if (type == OSIP_ICT_KILL_TRANSACTION)
                call_tx_note(owner, tr, 3, NULL);
}

static void call_on_tx_transport_error(void *owner, osip_transaction_t *tr, int type) {
        if (type == OSIP_ICT_TRANSPORT_ERROR)
                call_tx_note(owner, tr, 2, NULL);
}

static void call_on_tx_gone(void *owner, osip_transaction_t *tr) {
        Call *c = owner;

        if (c->ict == tr)
                c->ict = NULL;
        if (c->ist == tr)
                c->ist = NULL;
}

static const TransactionOps call_tr_ops = {
        .message = call_on_tx_message,
        .killed = call_on_tx_killed,
        .transport_error = call_on_tx_transport_error,
        .gone = call_on_tx_gone,
};

void call_settle(Manager *m) {
        /* Handling may queue more (a new attempt's events come in a later run). */
        for (size_t i = 0; i < m->n_tx_events; i++) {
                CallTxEvent e = m->tx_events[i];
                Call *c = call_by_serial(m, e.serial);

                if (c && e.kind == 1 && e.msg)
                        call_on_response(c, e.tr, e.msg);
                else if (c && e.kind == 2 && e.tr == c->ict && !c->got_1xx && !c->got_final && c->line)
                        call_fail_over(c, "transport", GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT, NULL);
                else if (c && e.kind == 3 && e.tr == c->ict && !c->got_final) {
                        /* Timer B: no final answer at all */
                        if (!c->line)
                                call_free(c);
                        else if (!c->got_1xx)
                                call_fail_over(c, "timeout", GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, NULL);
                }
                if (e.msg)
                        osip_message_free(e.msg);
        }
        m->n_tx_events = 0;
}

void call_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error) {
        Call *next;

        for (Call *c = m->calls; c; c = next) {
                next = c->next;
                if (!c->outgoing || !c->line || !c->ict || c->got_1xx || c->got_final)
                        continue;
                if (!gw_sockaddr_equal((const struct sockaddr *) &c->dialog.peer, c->dialog.peer_len, to, tolen))
                        continue;
                log_debug("Call %s: %s from %s.", c->dialog.call_id, strerror(error), c->entries[c->entry].target);
                call_fail_over(c, "transport", GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT, NULL);
        }
}

/* A response no transaction took: a retransmitted 2xx (ACK again) or one of
 * an abandoned attempt or a call we let go (ACK, then BYE). */
int call_handle_stray_response(Manager *m, osip_message_t *resp, const struct sockaddr *from, socklen_t fromlen) {
        _cleanup_(dialog_done) Dialog tmp = { .manager = m };
        Call *c = NULL;
        osip_generic_param_t *tag = NULL;
        const char *to_tag;

        if (!resp->call_id || !resp->cseq || !resp->cseq->method || strcmp(resp->cseq->method, "INVITE") != 0 ||
            resp->status_code < 200 || resp->status_code >= 300)
                return 0;
        {
                _cleanup_free_ char *cid = message_call_id(resp);
                for (Call *i = m->calls; cid && i; i = i->next)
                        if (i->outgoing && i->dialog.call_id && streq(i->dialog.call_id, cid)) {
                                c = i;
                                break;
                        }
        }
        if (!c)
                return 0;
        to_tag = resp->to && osip_to_get_tag(resp->to, &tag) == 0 && tag ? tag->gvalue : NULL;
        if (c->dialog.confirmed && c->dialog.remote_tag && to_tag && streq(c->dialog.remote_tag, to_tag)) {
                dialog_send_ack(&c->dialog);                         /* our ACK got lost */
                return 1;
        }
        /* Another dialog on this call (an abandoned attempt answered after all):
         * confirm and end it at once, on a throw-away view of that dialog. */
        log_info("Call %s: 2xx from an abandoned attempt (%s), ACK and BYE.", c->dialog.call_id, strna(to_tag));
        tmp.call_id = strdup(c->dialog.call_id);
        tmp.local_tag = strdup(c->dialog.local_tag);
        tmp.local_uri = strdup(c->dialog.local_uri);
        tmp.remote_uri = strdup(c->dialog.remote_uri);
        tmp.request_uri = strdup(c->dialog.request_uri);
        if (!tmp.call_id || !tmp.local_tag || !tmp.local_uri || !tmp.remote_uri || !tmp.request_uri)
                return log_oom();
        tmp.invite_cseq = c->dialog.invite_cseq;
        tmp.local_cseq = c->dialog.local_cseq;
        memcpy(&tmp.peer, from, MIN((size_t) fromlen, sizeof(tmp.peer)));
        tmp.peer_len = fromlen;
        dialog_learn(&tmp, resp);
        tmp.confirmed = true;
        dialog_send_ack(&tmp);
        dialog_send_bye(&tmp);
        return 1;
}

/* ---------------------------------------------------------------- incoming calls */

/* An answer to request req in server transaction tr, with our tag. */
static int call_respond(Call *c, osip_transaction_t *tr, const osip_message_t *req, unsigned code,
                        const char *warning, bool with_sdp) {
        TransactionCtx *ctx = transaction_ctx(tr);
        _cleanup_(osip_message_freep) osip_message_t *resp = NULL;
        osip_generic_param_t *tag = NULL, *req_tag = NULL;
        int r;

        if (!ctx)
                return -ESTALE;

        r = message_response_build(req, code, &resp);
        if (r < 0)
                return r;
        if (c && code > 100 && resp->to && osip_to_get_tag(resp->to, &tag) == 0 && tag && c->dialog.local_tag &&
            !(req->to && osip_to_get_tag(req->to, &req_tag) == 0 && req_tag)) {
                osip_free(tag->gvalue);
                tag->gvalue = osip_strdup(c->dialog.local_tag);
        }
        if (warning) {
                char buf[256];
                snprintf(buf, sizeof buf, "399 fxsgw \"%s\"", warning);
                osip_message_set_warning(resp, buf);
        }
        if (code == 488 || code == 415)
                osip_message_set_header(resp, "Accept", "application/sdp");
        if (c && code >= 180 && code < 300 && streq(req->sip_method, "INVITE")) {
                /* Record-Route copied (RFC 3261 §12.1.1); Contact for the dialog */
                osip_list_clone(&req->record_routes, &resp->record_routes,
                                (int (*)(void *, void **)) &osip_record_route_clone);
                r = call_set_contact(c, resp);
                if (r >= 0 && code == 200)
                        r = osip_to_errno(osip_message_set_header(resp, "Allow", SIGD_ALLOW));
                if (r >= 0 && with_sdp)
                        r = call_set_sdp(c, resp);
                if (r < 0)
                        return r;
        }
        if (code >= 200 && code < 300 && c && tr == c->ist) {
                /* We repeat our 2xx until the ACK (RFC 3261 §13.3.1.4): keep its text. */
                char *s = NULL;
                size_t len = 0;
                if (osip_message_to_str(resp, &s, &len) == 0) {
                        erase_and_free(c->ok);
                        c->ok = strndup(s, len);
                        c->ok_len = len;
                        osip_free(s);
                }
        }
        transaction_respond(ctx->manager, tr, TAKE_PTR(resp));
        return 0;
}

static int on_ok_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Call *c = userdata;
        uint64_t next;

        if (!c->ok || c->ok_sent >= 10) {
                /* 64*T1 without an ACK: the dialog is dead (RFC 3261 §13.3.1.4) */
                c->ok_timer = sd_event_source_disable_unref(c->ok_timer);
                if (c->ok) {
                        log_warning("Call %s: no ACK for our 2xx, hanging up.", c->dialog.call_id);
                        c->ok = erase_and_free(c->ok);
                        dialog_send_bye(&c->dialog);
                        if (c->line) {
                                call_event_end(c, "no-ack", 0);
                                call_line_released(c, GW__TONE__TONE_CONGESTION);
                        }
                        call_detach(c);
                        transaction_run(c->manager);
                }
                return 0;
        }
        (void) transport_send(c->manager, c->ok, c->ok_len, (const struct sockaddr *) &c->ok_dest, c->ok_dest_len);
        c->manager->counters.retransmissions++;
        c->ok_sent++;
        next = MIN(T1_USEC << c->ok_sent, 4 * USEC_PER_SEC);
        (void) sd_event_source_set_time_relative(s, next);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

void call_reject(Call *c, unsigned code) {
        if (c->ist && c->invite)
                (void) call_respond(c, c->ist, c->invite, code, NULL, false);
}

void call_cancel(Call *c) {
        c->cancel_wanted = true;
        if (c->got_1xx)
                call_send_cancel(c);
}

void call_hang_up(Call *c) {
        dialog_send_bye(&c->dialog);
}

void call_answer(Call *c) {
        TransactionCtx *ctx;
        char label[64];

        if (!c->ist || !c->invite || !c->line)
                return;
        if (call_respond(c, c->ist, c->invite, 200, NULL, true) < 0) {
                log_warning("Line %u: could not build the 200 for call %s.", c->line_conf->port, c->dialog.call_id);
                return;
        }
        ctx = transaction_ctx(c->ist);
        if (ctx) {
                c->ok_dest = ctx->dest;
                c->ok_dest_len = ctx->dest_len;
        }
        c->dialog.confirmed = true;
        if (sd_event_add_time_relative(c->manager->event, &c->ok_timer, CLOCK_MONOTONIC, T1_USEC,
                                       10 * USEC_PER_MSEC, on_ok_timer, c) < 0)
                c->ok_timer = NULL;
        call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_ANSWERED,
                 "Line %u: answered call %s from %s (%s).", c->line_conf->port, c->dialog.call_id, strna(c->remote_number),
                 c->have_media ? media_label(c, label, sizeof label) : "our offer in the 200");
        line_ops(c->manager)->answered(c->line, false);
        call_publish_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_ANSWER, NULL, 200);
}

/* The dialog of a new incoming call, from its INVITE. -ENOMEM. */
static int call_take_invite(Call *c, osip_transaction_t *tr, const osip_message_t *req,
                            const struct sockaddr_storage *dest, socklen_t dest_len) {
        char tok[17];
        int r;

        c->ist = tr;
        transaction_set_owner(tr, &call_tr_ops, c);
        if (osip_message_clone(req, &c->invite) != 0 || message_token(tok, 16) < 0 ||
            !(c->dialog.local_tag = strdup(tok)))
                return -ENOMEM;
        r = dialog_from_invite(&c->dialog, req, dest, dest_len);
        if (r < 0)
                return r;
        c->remote_number = strdup(req->from && req->from->url && req->from->url->username ? req->from->url->username : "");
        if (!c->remote_number)
                return -ENOMEM;
        return 0;
}

static int call_incoming_invite(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                           unsigned *ret_status) {
        osip_message_t *req = ev->sip;
        const char *user = req->req_uri ? req->req_uri->username : NULL;
        const GwLineConf *lc = NULL;
        const GwProfileConf *p = NULL;
        const osip_body_t *b;
        osip_transaction_t *tr = NULL;
        const char *why = NULL;
        Line *l;
        Call *c = NULL;
        int r;

        l = line_ops(m)->find(m, user, &lc, &p);
        if (!l && req->to && req->to->url)
                l = line_ops(m)->find(m, req->to->url->username, &lc, &p);
        r = transaction_new_server(m, ev, dest, dest_len, &tr);
        if (r < 0) {
                osip_event_free(ev);
                return r == -ENOMEM ? r : 1;
        }
        if (!l) {
                *ret_status = 404;
                return call_respond(NULL, tr, req, 404, NULL, false) < 0 ? -ENOMEM : 1;
        }
        b = message_sdp_body(req);
        if (b) {
                _cleanup_(sdp_media_wipe) SdpMedia offer = {};
                _cleanup_(sdp_result_wipe) SdpResult res = {};
                r = sdp_parse(b->body, &offer, &why);
                if (r >= 0)
                        r = sdp_answer_offer(&offer, m->conf, p->srtp, false, NULL, &res, &why);
                if (r == -EPROTO || r == -EBADMSG) {
                        log_warning("Line %u: refusing INVITE %s: %s.", lc->port,
                                    req->call_id && req->call_id->number ? req->call_id->number : "?", why);
                        *ret_status = 488;
                        return call_respond(NULL, tr, req, 488, why, false) < 0 ? -ENOMEM : 1;
                }
                if (line_ops(m)->busy(l)) {
                        *ret_status = 486;
                        return call_respond(NULL, tr, req, 486, NULL, false) < 0 ? -ENOMEM : 1;
                }
                if (r < 0) {
                        log_warning_errno(r, "Line %u: refusing INVITE: %m", lc->port);
                        *ret_status = 500;
                        return call_respond(NULL, tr, req, 500, NULL, false) < 0 ? -ENOMEM : 1;
                }
                r = call_new(m, l, lc, p, false, &c);
                if (r < 0)
                        return r;
                c->media = res;
                c->have_media = true;
        } else {
                if (line_ops(m)->busy(l)) {
                        *ret_status = 486;
                        return call_respond(NULL, tr, req, 486, NULL, false) < 0 ? -ENOMEM : 1;
                }
                /* Late offer (RFC 3261 §13.2.1): we offer in the 200, the answer comes in the ACK. */
                r = call_new(m, l, lc, p, false, &c);
                if (r < 0)
                        return r;
        }

        r = call_take_invite(c, tr, req, dest, dest_len);
        if (r < 0) {
                (void) call_respond(NULL, tr, req, 500, NULL, false);
                call_free(c);
                return r;
        }

        call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_INCOMING,
                 "Line %u: incoming call %s from %s.", lc->port, c->dialog.call_id, c->remote_number);
        if (c->have_media)
                call_log_srtp(c);
        (void) call_respond(c, tr, req, 100, NULL, false);
        (void) call_respond(c, tr, req, 180, NULL, false);
        line_ops(m)->ringing(l);
        call_publish_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_START, NULL, 0);
        *ret_status = 180;
        return 1;
}

/* The call whose dialog (or pending INVITE, for CANCEL) a request belongs to. */
static Call *call_for_request(Manager *m, const osip_message_t *req, bool cancel) {
        _cleanup_free_ char *cid = message_call_id(req);
        osip_generic_param_t *ft = NULL, *tt = NULL;
        const char *from_tag, *to_tag;

        if (!cid)
                return NULL;
        from_tag = req->from && osip_from_get_tag(req->from, &ft) == 0 && ft ? ft->gvalue : NULL;
        to_tag = req->to && osip_to_get_tag(req->to, &tt) == 0 && tt ? tt->gvalue : NULL;
        for (Call *c = m->calls; c; c = c->next) {
                if (!c->dialog.call_id || !streq(c->dialog.call_id, cid))
                        continue;
                if (cancel) {
                        if (!c->outgoing && streq_ptr(c->dialog.remote_tag, from_tag))
                                return c;
                        continue;
                }
                if (!from_tag || !to_tag || !c->dialog.remote_tag || !c->dialog.local_tag)
                        continue;
                if (streq(c->dialog.local_tag, to_tag) && streq(c->dialog.remote_tag, from_tag))
                        return c;
        }
        return NULL;
}

/* The far end hung up (BYE): busy tone, then howler. */
static void call_remote_bye(Call *c) {
        if (!c->line)
                return;
        call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_ENDED,
                 "Line %u: call %s ended by the far end.", c->line_conf->port, c->dialog.call_id);
        call_event_end(c, "normal", 0);
        c->have_media = false;
        call_line_released(c, GW__TONE__TONE_BUSY);
        call_detach(c);
}

static int call_reinvite(Manager *m, Call *c, osip_event_t *ev, const struct sockaddr_storage *dest,
                              socklen_t dest_len, unsigned *ret_status) {
        osip_message_t *req = ev->sip;
        osip_transaction_t *tr = NULL;
        const osip_body_t *b = message_sdp_body(req);
        const char *why = NULL;
        _cleanup_(sdp_media_wipe) SdpMedia offer = {};
        _cleanup_(sdp_result_wipe) SdpResult res = {};
        osip_contact_t *ct = NULL;
        bool srtp_changed;
        int r;

        r = transaction_new_server(m, ev, dest, dest_len, &tr);
        if (r < 0) {
                osip_event_free(ev);
                return r == -ENOMEM ? r : 1;
        }
        if (!b) {
                *ret_status = 488;
                return call_respond(c, tr, req, 488, "a re-INVITE without SDP is not supported", false) < 0 ? -ENOMEM : 1;
        }
        r = sdp_parse(b->body, &offer, &why);
        if (r >= 0)
                r = sdp_answer_offer(&offer, m->conf, c->srtp, false, c->have_media ? &c->media : NULL, &res, &why);
        if (r < 0) {
                bool refused = r == -EPROTO || r == -EBADMSG;
                log_warning("Call %s: refusing re-INVITE: %s.", c->dialog.call_id, refused ? why : strerror(-r));
                *ret_status = refused ? 488 : 500;
                return call_respond(c, tr, req, *ret_status, refused ? why : NULL, false) < 0 ? -ENOMEM : 1;
        }
        srtp_changed = !c->have_media || srtp_differs(&res, &c->media);
        sdp_result_wipe(&c->media);
        c->media = res;
        c->have_media = true;
        if (srtp_changed)
                call_log_srtp(c);
        if (osip_message_get_contact(req, 0, &ct) >= 0 && ct && ct->url) {
                char *t = message_uri_string(ct->url);
                if (t) {
                        free(c->dialog.remote_target);
                        c->dialog.remote_target = t;
                }
        }
        log_info("Call %s: re-INVITE, media %s to %s:%u.", c->dialog.call_id, sdp_direction_to_string(res.direction),
                 res.remote_addr, res.remote_port);
        *ret_status = 200;
        r = call_respond(c, tr, req, 200, NULL, true);
        if (c->line)
                line_ops(c->manager)->media_changed(c->line);
        return r < 0 ? r : 1;
}

/* The ACK of our 2xx to an INVITE without SDP carries the answer to our offer. */
static void call_take_late_answer(Call *c, const osip_message_t *ack) {
        if (call_take_answer(c, ack) >= 0) {
                if (c->line)
                        line_ops(c->manager)->media_changed(c->line);
                return;
        }
        log_warning("Call %s: no usable SDP answer in the ACK, hanging up.", c->dialog.call_id);
        dialog_send_bye(&c->dialog);
        if (c->line) {
                call_event_end(c, "bad-sdp", 0);
                call_line_released(c, GW__TONE__TONE_CONGESTION);
        }
        call_detach(c);
}

int call_handle_request(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                         unsigned *ret_status) {
        osip_message_t *req = ev->sip;
        const char *method = req->sip_method;
        osip_transaction_t *tr = NULL;
        osip_generic_param_t *tt = NULL;
        bool has_to_tag = req->to && osip_to_get_tag(req->to, &tt) == 0 && tt;
        Call *c;
        int r;

        if (streq(method, "ACK")) {
                c = call_for_request(m, req, false);
                if (c && c->ok) {
                        c->ok_timer = sd_event_source_disable_unref(c->ok_timer);
                        c->ok = erase_and_free(c->ok);
                        if (!c->have_media)
                                call_take_late_answer(c, req);
                } else if (c && c->line && !c->outgoing && c->dialog.confirmed && !c->have_media)
                        /* Our 2xx's ACK after a restart (the 2xx no longer kept): the answer to our late offer. */
                        call_take_late_answer(c, req);
                osip_event_free(ev);
                return 1;
        }
        if (streq(method, "INVITE") && !has_to_tag)
                return call_incoming_invite(m, ev, dest, dest_len, ret_status);

        c = call_for_request(m, req, streq(method, "CANCEL"));
        if (!c && streq(method, "INVITE")) {
                /* A re-INVITE for a dialog we do not know */
                r = transaction_new_server(m, ev, dest, dest_len, &tr);
                if (r < 0) {
                        osip_event_free(ev);
                        return r == -ENOMEM ? r : 1;
                }
                *ret_status = 481;
                return call_respond(NULL, tr, req, 481, NULL, false) < 0 ? -ENOMEM : 1;
        }
        if (!c)
                return 0;                                 /* 481 from the generic path */
        if (streq(method, "INVITE"))
                return call_reinvite(m, c, ev, dest, dest_len, ret_status);

        r = transaction_new_server(m, ev, dest, dest_len, &tr);
        if (r < 0) {
                osip_event_free(ev);
                return r == -ENOMEM ? r : 1;
        }
        *ret_status = 200;
        r = call_respond(c, tr, req, 200, NULL, false);
        if (r < 0)
                return r;
        if (streq(method, "CANCEL")) {
                if (c->ist && !c->dialog.confirmed && c->invite) {
                        Line *l = c->line;

                        (void) call_respond(c, c->ist, c->invite, 487, NULL, false);
                        if (l) {
                                call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_ENDED,
                                         "Line %u: call %s cancelled by the caller.", c->line_conf->port, c->dialog.call_id);
                                call_event_end(c, "cancelled", 487);
                                line_ops(m)->cancelled(l);
                        }
                        call_free(c);
                }
        } else if (streq(method, "BYE")) {
                c->ok_timer = sd_event_source_disable_unref(c->ok_timer);
                if (c->line)
                        call_remote_bye(c);
                call_free(c);
        }
        /* INFO: acknowledged; DTMF goes as RFC 4733 events, not INFO. */
        return 1;
}

/* ---------------------------------------------------------------- profiles */

int call_profile_status(Manager *m, const Gw__ProfileStatus *ps) {
        const GwProfileConf *p = NULL;
        ProfileState *st;
        size_t i;

        if (!ps || !ps->name)
                return -EBADMSG;
        for (i = 0; i < m->conf->n_profiles; i++)
                if (streq(m->conf->profiles[i].name, ps->name)) {
                        p = &m->conf->profiles[i];
                        break;
                }
        if (!p)
                return -ENOENT;
        if ((ps->active_target && strlen(ps->active_target) > 64) || (ps->active_proxy && strlen(ps->active_proxy) > 300))
                return -EBADMSG;
        st = &m->profiles[i];
        free(st->active_proxy);
        free(st->active_target);
        st->active_proxy = ps->active_proxy && *ps->active_proxy ? strdup(ps->active_proxy) : NULL;
        st->active_target = ps->active_target && *ps->active_target ? strdup(ps->active_target) : NULL;
        st->known = true;
        st->any_up = false;
        memset(st->held_until_real_us, 0, sizeof(st->held_until_real_us));
        for (size_t k = 0; k < ps->n_proxies; k++) {
                if (!ps->proxies[k])
                        continue;
                if (ps->proxies[k]->state == GW__PROXY_HEALTH__HEALTH_UP)
                        st->any_up = true;
                if (ps->proxies[k]->has_held_until_real_us)
                        for (size_t e = 0; e <= p->n_redundant && e < SIGD_MAX_ENTRIES; e++)
                                if (streq(e == 0 ? p->proxy.text : p->redundant[e - 1].text,
                                          strempty(ps->proxies[k]->address)))
                                        st->held_until_real_us[e] = ps->proxies[k]->held_until_real_us;
        }
        return 0;
}

/* ---------------------------------------------------------------- setup */

int call_init(Manager *m) {
        m->profiles = calloc(MAX(m->conf->n_profiles, (size_t) 1), sizeof(ProfileState));
        if (!m->profiles)
                return -ENOMEM;
        return 0;
}

void call_done(Manager *m) {
        while (m->calls)
                call_free(m->calls);
        for (size_t i = 0; m->profiles && i < m->conf->n_profiles; i++) {
                free(m->profiles[i].active_proxy);
                free(m->profiles[i].active_target);
        }
        free(m->profiles);
        m->profiles = NULL;
        for (size_t i = 0; i < m->n_tx_events; i++)
                if (m->tx_events[i].msg)
                        osip_message_free(m->tx_events[i].msg);
        free(m->tx_events);
        m->tx_events = NULL;
        m->n_tx_events = m->n_tx_events_alloc = 0;
}

/* ---------------------------------------------------------------- across a restart */

static void call_save_crypto(const SdpCrypto *k, Gw__SigdCrypto *ret) {
        gw__sigd_crypto__init(ret);
        ret->has_tag = ret->has_suite = ret->has_key = true;
        ret->tag = k->tag;
        ret->suite = (uint32_t) k->suite;
        ret->key = (ProtobufCBinaryData) { SDP_KEY_SALT_LEN, UNCONST(k->key) };
}

int call_save(const Call *c, CallSaved *ret) {
        const osip_message_t *invite = NULL;
        Gw__SigdCall *s = &ret->call;

        *ret = (CallSaved) {};
        if (!c->dialog.confirmed) {
                invite = c->outgoing ? (c->ict ? c->ict->orig_request : NULL) : (c->ist ? c->invite : NULL);
                if (!invite)
                        return -ENOENT;
        }
        gw__sigd_call__init(s);
        s->has_outgoing = s->has_local_port = s->has_srtp = s->has_sdp_sess_id = s->has_sdp_version = true;
        s->has_start_real_us = s->has_got_1xx = s->has_got_18x = true;
        s->outgoing = c->outgoing;
        s->remote_number = c->remote_number;
        s->local_port = c->local_port;
        s->srtp = (uint32_t) c->srtp;
        s->sdp_sess_id = c->sdp_sess_id;
        s->sdp_version = c->sdp_version;
        s->start_real_us = c->start_real_us;
        s->got_1xx = c->got_1xx;
        s->got_18x = c->got_18x;
        dialog_save(&c->dialog, &ret->dialog, ret->peer, sizeof ret->peer);
        s->dialog = &ret->dialog;
        if (c->outgoing && c->entry < c->n_entries) {
                s->proxy = c->entries[c->entry].proxy->text;
                s->target = UNCONST(c->entries[c->entry].target);
        }
        if (c->have_media) {
                Gw__SigdMedia *md = &ret->media;

                gw__sigd_media__init(md);
                md->codec = UNCONST(gw_codec_to_string(c->media.codec));
                md->has_pt = md->has_telephone_event_pt = md->has_direction = md->has_remote_port = md->has_secure = true;
                md->pt = (uint32_t) c->media.pt;
                md->telephone_event_pt = c->media.telephone_event_pt;
                md->direction = (uint32_t) c->media.direction;
                md->remote_addr = UNCONST(c->media.remote_addr);
                md->remote_port = c->media.remote_port;
                md->secure = c->media.secure;
                if (c->media.local.suite != SDP_SRTP_NONE) {
                        call_save_crypto(&c->media.local, &ret->local);
                        md->local = &ret->local;
                        md->has_remote_key = true;
                        md->remote_key = (ProtobufCBinaryData) { SDP_KEY_SALT_LEN, UNCONST(c->media.remote_key) };
                }
                s->media = md;
        }
        if (invite) {
                char *text = NULL;
                size_t len = 0;

                if (osip_message_to_str(UNCONST(invite), &text, &len) != 0)
                        return -ENOMEM;
                ret->invite = strndup(text, len);
                explicit_bzero(text, len);
                osip_free(text);
                if (!ret->invite)
                        return -ENOMEM;
                s->invite = ret->invite;
        }
        if (invite || !c->have_media) {
                /* Our offer waits for its answer (a 2xx or 18x; the ACK after a late offer): its keys too. */
                for (size_t i = 0; i < c->n_offered; i++) {
                        call_save_crypto(&c->offered[i], &ret->offered[i]);
                        ret->offered_ptrs[i] = &ret->offered[i];
                }
                s->n_offered = c->n_offered;
                s->offered = s->n_offered > 0 ? ret->offered_ptrs : NULL;
        }
        return 0;
}

void call_saved_done(CallSaved *s) {
        s->invite = erase_and_free(s->invite);
}

static int call_restore_crypto(const Gw__SigdCrypto *s, SdpCrypto *ret) {
        if (!s || !s->has_tag || s->tag < 1 || s->tag > 999999999 || !s->has_suite ||
            (s->suite != SDP_SRTP_AES_CM_128_HMAC_SHA1_80 && s->suite != SDP_SRTP_AES_CM_128_HMAC_SHA1_32) ||
            !s->has_key || s->key.len != SDP_KEY_SALT_LEN)
                return -EBADMSG;
        ret->tag = s->tag;
        ret->suite = (SdpSrtpSuite) s->suite;
        memcpy(ret->key, s->key.data, SDP_KEY_SALT_LEN);
        return 0;
}

static int call_restore_media(Call *c, const Gw__SigdMedia *s) {
        SdpResult *r = &c->media;
        struct in6_addr a6;
        int family = c->manager->local.ss_family;

        if (!s->codec || gw_codec_from_string(s->codec) < 0 || !s->has_pt || s->pt > 127 ||
            !s->has_telephone_event_pt || s->telephone_event_pt < -1 || s->telephone_event_pt > 127 ||
            !s->has_direction || s->direction >= _SDP_DIRECTION_MAX || !s->remote_addr ||
            strlen(s->remote_addr) >= sizeof r->remote_addr || inet_pton(family, s->remote_addr, &a6) != 1 ||
            !s->has_remote_port || s->remote_port > 65535)
                return -EBADMSG;
        r->codec = gw_codec_from_string(s->codec);
        r->pt = (int) s->pt;
        r->telephone_event_pt = s->telephone_event_pt;
        r->direction = (SdpDirection) s->direction;
        snprintf(r->remote_addr, sizeof r->remote_addr, "%s", s->remote_addr);
        r->remote_port = (uint16_t) s->remote_port;
        r->secure = s->secure;
        if (s->local) {
                if (call_restore_crypto(s->local, &r->local) < 0 || !s->has_remote_key ||
                    s->remote_key.len != SDP_KEY_SALT_LEN)
                        return -EBADMSG;
                memcpy(r->remote_key, s->remote_key.data, SDP_KEY_SALT_LEN);
        } else
                r->local.suite = SDP_SRTP_NONE;
        c->have_media = true;
        return 0;
}

/* The entry an outgoing call went to: the configured proxy of that text, at the saved target. */
static int call_restore_entry(Call *c, const Gw__SigdCall *s) {
        const GwProfileConf *p = c->profile;
        InviteEntry *e = &c->entries[0];

        if (!s->proxy || !s->target || strlen(s->target) >= sizeof e->target)
                return -EBADMSG;
        if (streq(p->proxy.text, s->proxy))
                e->proxy = &p->proxy;
        for (size_t i = 0; !e->proxy && i < p->n_redundant; i++)
                if (streq(p->redundant[i].text, s->proxy))
                        e->proxy = &p->redundant[i];
        if (!e->proxy || gw_sockaddr_parse(s->target, &e->addr, &e->addr_len) < 0 ||
            e->addr.ss_family != c->manager->local.ss_family)
                return -EBADMSG;
        snprintf(e->target, sizeof e->target, "%s", s->target);
        c->n_entries = 1;
        c->entry = 0;
        return 0;
}

/* A pending INVITE goes on in a new transaction: ours sent again, theirs answered 180 again. */
static int call_restore_invite(Call *c, const char *text) {
        Manager *m = c->manager;
        size_t len = strlen(text);
        int r;

        if (c->outgoing) {
                _cleanup_(osip_message_freep) osip_message_t *msg = NULL;
                osip_generic_param_t *br = NULL;
                osip_via_t *via = NULL;

                if (osip_message_init(&msg) != 0)
                        return -ENOMEM;
                if (osip_message_parse(msg, text, len) != 0 || !MSG_IS_INVITE(msg) || !msg->cseq || !msg->cseq->number ||
                    strtoul(msg->cseq->number, NULL, 10) != c->dialog.invite_cseq ||
                    osip_message_get_via(msg, 0, &via) < 0 || !via || osip_via_param_get_byname(via, "branch", &br) != 0 ||
                    !br || !br->gvalue || strlen(br->gvalue) >= sizeof c->branch)
                        return -EBADMSG;
                snprintf(c->branch, sizeof c->branch, "%s", br->gvalue);
                r = transaction_new_client(m, ICT, TAKE_PTR(msg), &c->entries[0].addr, c->entries[0].addr_len,
                                           &call_tr_ops, c, &c->ict);
                if (r < 0)
                        return r;
        } else {
                osip_event_t *ev = osip_parse(text, len);
                osip_transaction_t *tr = NULL;

                if (!ev || !ev->sip || !MSG_IS_INVITE(ev->sip) || !ev->sip->cseq || !ev->sip->call_id) {
                        if (ev)
                                osip_event_free(ev);
                        return -EBADMSG;
                }
                if (osip_message_clone(ev->sip, &c->invite) != 0) {
                        osip_event_free(ev);
                        return -ENOMEM;
                }
                r = transaction_new_server(m, ev, &c->dialog.peer, c->dialog.peer_len, &tr);
                if (r < 0) {
                        osip_event_free(ev);
                        return r;
                }
                c->ist = tr;
                transaction_set_owner(tr, &call_tr_ops, c);
                (void) call_respond(c, tr, c->invite, 180, NULL, false);
        }
        m->call_actions++;
        return 0;
}

int call_restore(Manager *m, Line *l, const GwLineConf *lc, const GwProfileConf *p, const Gw__SigdCall *s,
                 Call **ret) {
        Call *c;
        int r = 0;

        if (!s || !s->dialog || !s->has_outgoing || !s->has_local_port || s->local_port == 0 || s->local_port > 65535 ||
            !s->has_srtp || s->srtp >= _GW_SRTP_MODE_MAX || !s->remote_number || strlen(s->remote_number) > 64 ||
            s->n_offered > SDP_OFFER_CRYPTO || (!s->dialog->confirmed && !s->invite))
                return -EBADMSG;
        c = call_alloc(m, l, lc, p, s->outgoing);
        if (!c)
                return -ENOMEM;
        c->local_port = (uint16_t) s->local_port;
        c->srtp = (GwSrtpMode) s->srtp;
        c->sdp_sess_id = s->sdp_sess_id;
        c->sdp_version = s->sdp_version;
        c->start_real_us = s->start_real_us;
        c->got_1xx = s->got_1xx;
        c->got_18x = s->got_18x;
        c->remote_number = strdup(s->remote_number);
        if (!c->remote_number)
                r = -ENOMEM;
        if (r >= 0 && c->outgoing)
                r = call_restore_entry(c, s);
        if (r >= 0 && c->outgoing)
                message_note_peer(m, (const struct sockaddr *) &c->entries[0].addr);  /* its requests are trusted */
        if (r >= 0 && c->outgoing && message_token(c->cnonce, 32) < 0)
                r = -EIO;
        if (r >= 0 && s->media)
                r = call_restore_media(c, s->media);
        for (size_t i = 0; r >= 0 && i < s->n_offered; i++) {
                r = call_restore_crypto(s->offered[i], &c->offered[i]);
                c->n_offered = i + 1;
        }
        c->made_offer = c->n_offered > 0 || c->srtp == GW_SRTP_OFF;
        if (r >= 0)
                r = dialog_restore(&c->dialog, s->dialog);
        if (r >= 0 && !c->dialog.confirmed)
                r = call_restore_invite(c, s->invite);
        if (r < 0) {
                c->line = NULL;                           /* the line never had it */
                call_free(c);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        *ret = c;
        return 0;
}
