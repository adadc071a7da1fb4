/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-call.c: call control per line (see sigd-call.h and docs/CALLS.md).
 *
 * A Line is the subscriber's side: hook, digits, what the line should hear
 * (MediaControl.tone) and do (LineControl.ring, polarity). A Call is the SIP
 * side: one INVITE dialog. A call outlives its line's interest in it when the
 * subscriber hangs up before the far end answered (the CANCEL, or the ACK and
 * BYE of a late 2xx, still have to go out): it is then detached (line NULL)
 * and freed when its INVITE transaction is over, or after a linger timeout.
 *
 * INVITE failover (issue 4 item 9): the INVITE goes to the profile's active
 * entry; before any 1xx, silence for invite_total_timeout, a transport error,
 * or a 408/503 (a 503 also after a 100, before any 18x) fail the entry, and
 * the same INVITE (Call-ID, From tag, CSeq; a new branch) goes to the next
 * entry, each entry at most once per call. After a 1xx a final response is
 * the call's outcome. sigd never decides entry health: every attempt's
 * lesson goes to regd as an EntryReport.
 *
 * libosip2's callbacks only note transaction events (calls_tx_event); they
 * are handled in calls_settle() once libosip2 is out of its loops. */
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
#include "gw-sockaddr.h"
#include "sigd-manager.h"

#define T1_USEC (500 * USEC_PER_MSEC)

static void line_release(Line *l, Gw__Tone tone);
static void line_set_state(Line *l, Gw__CallState s);
static void call_free(Call *c);
static void call_detach(Call *c);
static void call_send_bye(Call *c);
static void call_event_end(Call *c, const char *cause, uint32_t status);

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

static void publish(Manager *m, const char *key, Gw__Envelope *env) {
        if (m->publish_cb)
                m->publish_cb(m, key, env, m->publish_userdata);
}

static void port_key(const Line *l, char *buf, size_t n) {
        snprintf(buf, n, "%u", l->conf->port);
}

static void publish_line_control(Line *l) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineControl lc = GW__LINE_CONTROL__INIT;
        char key[16];

        lc.port = l->conf->port;
        lc.has_ring = true;
        lc.ring = l->ring;
        lc.has_polarity = true;
        lc.polarity = l->reversed ? GW__POLARITY__POLARITY_REVERSED : GW__POLARITY__POLARITY_NORMAL;
        if (l->ring && l->call && l->call->remote_number)
                lc.caller_number = l->call->remote_number;
        env.body_case = GW__ENVELOPE__BODY_LINE_CONTROL;
        env.line_control = &lc;
        port_key(l, key, sizeof key);
        publish(l->manager, key, &env);
}

static Gw__MediaDirection media_direction(SdpDirection d) {
        switch (d) {
        case SDP_SENDONLY: return GW__MEDIA_DIRECTION__DIRECTION_SENDONLY;
        case SDP_RECVONLY: return GW__MEDIA_DIRECTION__DIRECTION_RECVONLY;
        case SDP_INACTIVE: return GW__MEDIA_DIRECTION__DIRECTION_INACTIVE;
        default: return GW__MEDIA_DIRECTION__DIRECTION_SENDRECV;
        }
}

static void publish_media_control(Line *l, bool bump) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__MediaControl mc = GW__MEDIA_CONTROL__INIT;
        Gw__RtpSession rtp = GW__RTP_SESSION__INIT;
        Call *c = l->call;
        Gw__Secret tx_key = GW__SECRET__INIT, rx_key = GW__SECRET__INIT;
        char key[16];

        if (bump)
                l->generation++;
        mc.port = l->conf->port;
        mc.has_generation = true;
        mc.generation = l->generation;
        mc.has_tone = true;
        mc.tone = l->tone;
        mc.has_detect_digits = true;
        mc.detect_digits = true;
        if (c && c->have_media && l->off_hook &&
            (l->state == GW__CALL_STATE__CALL_CONNECTED || l->state == GW__CALL_STATE__CALL_RINGBACK)) {
                rtp.call_id = c->call_id;
                rtp.local_port = c->local_port;
                rtp.remote_ip = c->media.remote_addr;
                rtp.has_remote_port = true;
                rtp.remote_port = c->media.remote_port;
                rtp.has_payload_type = true;
                rtp.payload_type = (uint32_t) c->media.pt;
                rtp.has_telephone_event_pt = true;
                rtp.telephone_event_pt = c->media.telephone_event_pt >= 0 ? (uint32_t) c->media.telephone_event_pt : 0;
                rtp.has_direction = true;
                rtp.direction = media_direction(c->media.direction);
                rtp.has_ptime_ms = true;
                rtp.ptime_ms = SDP_PTIME_MS;
                if (c->media.local.suite != SDP_SRTP_NONE) {
                        /* Pointers into the call: packed by the bus (which wipes its buffer), never copied. */
                        rtp.srtp_suite = UNCONST(sdp_srtp_suite_to_string(c->media.local.suite));
                        tx_key.has_value = rx_key.has_value = true;
                        tx_key.value = (ProtobufCBinaryData) { SDP_KEY_SALT_LEN, c->media.local.key };
                        rx_key.value = (ProtobufCBinaryData) { SDP_KEY_SALT_LEN, c->media.remote_key };
                        rtp.srtp_tx_key = &tx_key;
                        rtp.srtp_rx_key = &rx_key;
                }
                mc.rtp = &rtp;
        }
        env.body_case = GW__ENVELOPE__BODY_MEDIA_CONTROL;
        env.media_control = &mc;
        port_key(l, key, sizeof key);
        publish(l->manager, key, &env);
}

int manager_line_call(Manager *m, unsigned port, Gw__LineCall *lc) {
        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = &m->lines[i];
                if (l->conf->port != port)
                        continue;
                lc->port = port;
                lc->state = l->state;
                if (l->call) {
                        lc->has_direction = true;
                        lc->direction = l->call->outgoing ? GW__CALL_DIRECTION__CALL_OUTGOING
                                                          : GW__CALL_DIRECTION__CALL_INCOMING;
                        lc->remote = l->call->remote_number;
                        lc->call_id = l->call->call_id;
                        if (l->call->outgoing && l->call->entry < l->call->n_entries)
                                lc->proxy = l->call->entries[l->call->entry].proxy->text;
                }
                if (l->digits[0])
                        lc->digits = l->digits;
                return 0;
        }
        return -ENOENT;
}

static void publish_line_call(Line *l) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineCall lc = GW__LINE_CALL__INIT;
        char key[16];

        (void) manager_line_call(l->manager, l->conf->port, &lc);
        env.body_case = GW__ENVELOPE__BODY_LINE_CALL;
        env.line_call = &lc;
        port_key(l, key, sizeof key);
        publish(l->manager, key, &env);
}

void manager_publish_lines(Manager *m) {
        for (size_t i = 0; i < m->n_lines; i++) {
                publish_line_control(&m->lines[i]);
                publish_media_control(&m->lines[i], false);
                publish_line_call(&m->lines[i]);
        }
}

static void publish_call_event(Call *c, Gw__CallEventKind kind, const char *cause, uint32_t status) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__CallEvent ce = GW__CALL_EVENT__INIT;
        char key[16];

        if (!c->line)
                return;
        ce.kind = kind;
        ce.port = c->line->conf->port;
        ce.call_id = c->call_id;
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
        port_key(c->line, key, sizeof key);
        publish(c->manager, key, &env);
}

/* Tell regd what happened to the current INVITE attempt: its first
 * provisional response, or its end (resp: the final response; NULL for a
 * timeout or a transport error). What that says about the entry is regd's
 * decision (regd-policy.c), not ours. */
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
        p = c->line->profile;
        er.profile = p->name;
        er.proxy = e->proxy->text;
        er.target = UNCONST(e->target);
        er.kind = kind;
        if (resp) {
                er.has_status_code = true;
                er.status_code = (uint32_t) resp->status_code;
                if (response_header_int(resp, "retry-after", &v) == 0) {
                        er.has_retry_after_s = true;
                        er.retry_after_s = v;
                }
        }
        er.has_got_provisional = er.has_got_18x = true;
        er.got_provisional = c->got_1xx && !provisional;
        er.got_18x = c->got_18x && !provisional;
        log_debug("Call %s: entry %s (%s): %s %u%s.", c->call_id, e->proxy->text, e->target,
                  kind == GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE ? "response" :
                  kind == GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT ? "timeout" : "transport error",
                  er.status_code, er.got_provisional ? " after a provisional" : "");
        env.body_case = GW__ENVELOPE__BODY_ENTRY_REPORT;
        env.entry_report = &er;
        publish(c->manager, p->name, &env);
}

static char *message_call_id(const osip_message_t *msg) {
        char *s = NULL, *d;

        if (!msg->call_id || osip_call_id_to_str(msg->call_id, &s) != 0)
                return NULL;
        d = strdup(s);
        osip_free(s);
        return d;
}

/* ---------------------------------------------------------------- line outputs and timers */

static void line_set_state(Line *l, Gw__CallState s) {
        if (l->state == s)
                return;
        l->state = s;
        publish_line_call(l);
}

static void line_set_tone(Line *l, Gw__Tone t) {
        l->tone = t;
        publish_media_control(l, true);
}

static void line_set_ring(Line *l, bool ring) {
        if (l->ring == ring)
                return;
        l->ring = ring;
        publish_line_control(l);
}

static void line_set_reversed(Line *l, bool reversed) {
        if (l->reversed == reversed)
                return;
        l->reversed = reversed;
        publish_line_control(l);
}

static int on_line_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void line_timer_stop(Line *l) {
        l->timer_kind = LINE_TIMER_NONE;
        if (l->timer)
                (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
}

static void line_timer_start(Line *l, LineTimer kind, uint64_t after_usec) {
        int r;

        l->timer_kind = kind;
        if (!l->timer) {
                r = sd_event_add_time_relative(l->manager->event, &l->timer, CLOCK_MONOTONIC, after_usec,
                                               10 * USEC_PER_MSEC, on_line_timer, l);
                if (r < 0)
                        log_warning_errno(r, "Line %u: failed to add a timer, ignoring: %m", l->conf->port);
                return;
        }
        (void) sd_event_source_set_time_relative(l->timer, after_usec);
        (void) sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
}

/* ---------------------------------------------------------------- calls: life */

static Call *call_by_serial(Manager *m, uint64_t serial) {
        for (Call *c = m->calls; c; c = c->next)
                if (c->serial == serial)
                        return c;
        return NULL;
}

static int call_new(Manager *m, Line *l, bool outgoing, Call **ret) {
        Call *c;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->manager = m;
        c->serial = ++m->next_call_serial;
        c->line = l;
        c->outgoing = outgoing;
        c->start_real_us = now_usec(CLOCK_REALTIME);
        c->next = m->calls;
        if (m->calls)
                m->calls->prev = c;
        m->calls = c;
        if (l) {
                l->call = c;
                l->call_seq++;
                c->local_port = gw_conf_rtp_port(m->conf, l->index, l->call_seq);
                c->srtp = l->profile ? l->profile->srtp : m->conf->media_srtp;
        }
        *ret = c;
        return 0;
}

static void transaction_unhook(Manager *m, osip_transaction_t *tr) {
        TransactionCtx *ctx;

        if (!tr)
                return;
        ctx = osip_transaction_get_your_instance(tr);
        if (ctx)
                ctx->call = 0;
}

static void call_free(Call *c) {
        Manager *m;

        if (!c)
                return;
        m = c->manager;
        if (c->line && c->line->call == c)
                c->line->call = NULL;
        if (c->prev)
                c->prev->next = c->next;
        else if (m->calls == c)
                m->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        /* Transactions live on in libosip2 (retransmissions, Timer K/D) without us. */
        transaction_unhook(m, c->ict);
        transaction_unhook(m, c->ist);
        sd_event_source_disable_unref(c->invite_timer);
        sd_event_source_disable_unref(c->ok_timer);
        sd_event_source_disable_unref(c->linger);
        for (size_t i = 0; i < c->n_auth; i++)
                digest_challenge_done(&c->auth[i].challenge);
        for (size_t i = 0; i < c->n_routes; i++)
                free(c->routes[i]);
        if (c->invite)
                osip_message_free(c->invite);
        free(c->remote_number);
        free(c->call_id);
        free(c->local_tag);
        free(c->remote_tag);
        free(c->local_uri);
        free(c->remote_uri);
        free(c->remote_target);
        free(c->request_uri);
        free(c->ack);
        erase_and_free(c->ok);                    /* our SDP, with our key */
        sdp_result_wipe(&c->media);
        explicit_bzero(c->offered, sizeof c->offered);
        free(c);
}

static int on_linger(sd_event_source *s, uint64_t usec, void *userdata) {
        Call *c = userdata;
        Manager *m = c->manager;

        log_debug("Call %s: released, done waiting for late answers.", strna(c->call_id));
        call_free(c);
        manager_osip_run(m);
        return 0;
}

/* The line lets go; the call finishes its SIP alone, freed at the latest after the linger time. */
static void call_detach(Call *c) {
        if (c->line && c->line->call == c)
                c->line->call = NULL;
        c->line = NULL;
        c->invite_timer = sd_event_source_disable_unref(c->invite_timer);
        if (!c->linger &&
            sd_event_add_time_relative(c->manager->event, &c->linger, CLOCK_MONOTONIC, SIGD_CALL_LINGER_USEC,
                                       USEC_PER_SEC, on_linger, c) < 0)
                c->linger = NULL;
}

void calls_transaction_gone(Manager *m, uint64_t serial, osip_transaction_t *tr) {
        Call *c = call_by_serial(m, serial);

        if (!c)
                return;
        if (c->ict == tr)
                c->ict = NULL;
        if (c->ist == tr)
                c->ist = NULL;
}

/* ---------------------------------------------------------------- building messages */

static void host_of(Manager *m, char *buf, size_t n) {
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

static int set_sdp_body(Call *c, osip_message_t *msg) {
        Manager *m = c->manager;
        _cleanup_(sdp_text_freep) char *text = NULL;
        char host[sizeof m->via_host], len[24];
        SdpLocal l = {};
        int r;

        host_of(m, host, sizeof host);
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
                                return log_error_errno(r, "Call %s: no random SRTP key: %m", strna(c->call_id));
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

static int set_contact(Call *c, osip_message_t *msg) {
        _cleanup_free_ char *uri = NULL;
        char buf[512];
        const char *number = c->line ? c->line->conf->number : "fxsgw";

        if (contact_uri_for(c->manager, number, &uri) < 0)
                return -ENOMEM;
        snprintf(buf, sizeof buf, "<%s>", uri);
        return osip_message_set_contact(msg, buf) == 0 ? 0 : -ENOMEM;
}

/* A request of this dialog: method, CSeq, our Via with a new branch (returned
 * in ret_branch), the route set, to the remote target (or the INVITE's URI). */
static int call_request_build(Call *c, const char *method, uint32_t cseq, char *ret_branch, osip_message_t **ret) {
        Manager *m = c->manager;
        osip_message_t *msg = NULL;
        osip_uri_t *uri = NULL;
        char branch[33], buf[2048];
        const char *ruri = c->remote_target && c->confirmed ? c->remote_target : c->request_uri;

        if (!ruri || random_token(branch, 24) < 0)
                return -EINVAL;
        if (osip_message_init(&msg) != 0)
                return -ENOMEM;
        osip_message_set_method(msg, osip_strdup(method));
        osip_message_set_version(msg, osip_strdup("SIP/2.0"));
        if (osip_uri_init(&uri) != 0 || osip_uri_parse(uri, ruri) != 0) {
                if (uri)
                        osip_uri_free(uri);
                goto fail;
        }
        osip_message_set_uri(msg, uri);
        snprintf(buf, sizeof buf, "SIP/2.0/UDP %s:%u;rport;branch=z9hG4bK%s", m->via_host, m->via_port, branch);
        if (osip_message_set_via(msg, buf) != 0 || osip_message_set_max_forwards(msg, "70") != 0)
                goto fail;
        for (size_t i = 0; i < c->n_routes; i++)
                if (osip_message_set_route(msg, c->routes[i]) != 0)
                        goto fail;
        snprintf(buf, sizeof buf, "<%s>;tag=%s", c->local_uri, c->local_tag);
        if (osip_message_set_from(msg, buf) != 0)
                goto fail;
        if (c->remote_tag)
                snprintf(buf, sizeof buf, "<%s>;tag=%s", c->remote_uri, c->remote_tag);
        else
                snprintf(buf, sizeof buf, "<%s>", c->remote_uri);
        if (osip_message_set_to(msg, buf) != 0 || osip_message_set_call_id(msg, c->call_id) != 0)
                goto fail;
        snprintf(buf, sizeof buf, "%" PRIu32 " %s", cseq, method);
        if (osip_message_set_cseq(msg, buf) != 0 ||
            osip_message_set_user_agent(msg, "fxsgw/" GW_VERSION) != 0)
                goto fail;
        if (streq(method, "INVITE") && (set_contact(c, msg) < 0 || osip_message_set_header(msg, "Allow", SIGD_ALLOW) != 0))
                goto fail;
        if (!streq(method, "INVITE") && osip_message_set_content_length(msg, "0") != 0)
                goto fail;
        if (ret_branch)
                snprintf(ret_branch, 40, "z9hG4bK%s", branch);
        *ret = msg;
        return 0;
fail:
        osip_message_free(msg);
        return -EINVAL;
}

/* Where in-dialog requests go: the first route if it is an IP literal
 * (loose routing, as Kamailio record-routes), else the remote target's
 * host, else where the INVITE went or came from. */
static void call_dialog_dest(Call *c, struct sockaddr_storage *ret, socklen_t *ret_len) {
        const char *cands[2] = { c->n_routes > 0 ? c->routes[0] : NULL, c->remote_target };

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
                        ok = gw_parse_sockaddr(text, 5060, ret) >= 0 && ret->ss_family == c->manager->local.ss_family;
                }
                osip_route_free(rt);
                if (ok) {
                        *ret_len = ret->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
                        return;
                }
        }
        *ret = c->peer;
        *ret_len = c->peer_len;
}

/* Send a non-INVITE request in a new client transaction (BYE, CANCEL): its
 * answer matters to nobody, so it is not tied to the call. */
static int send_nict(Manager *m, osip_message_t *msg, const struct sockaddr_storage *dest, socklen_t dest_len) {
        osip_transaction_t *tr = NULL;
        TransactionCtx *ctx;

        ctx = calloc(1, sizeof(*ctx));
        if (!ctx) {
                osip_message_free(msg);
                return -ENOMEM;
        }
        ctx->manager = m;
        ctx->dest = *dest;
        ctx->dest_len = dest_len;
        if (osip_transaction_init(&tr, NICT, m->osip, msg) != 0) {
                free(ctx);
                osip_message_free(msg);
                return -EINVAL;
        }
        osip_transaction_set_your_instance(tr, ctx);
        osip_transaction_add_event(tr, osip_new_outgoing_sipmessage(msg));
        m->counters.requests_sent++;
        m->call_actions++;
        return 0;
}

static void call_send_bye(Call *c) {
        struct sockaddr_storage dest;
        socklen_t dest_len;
        osip_message_t *msg = NULL;

        if (c->bye_sent)
                return;
        c->bye_sent = true;
        if (call_request_build(c, "BYE", ++c->local_cseq, NULL, &msg) < 0) {
                log_warning("Call %s: could not build the BYE.", c->call_id);
                return;
        }
        call_dialog_dest(c, &dest, &dest_len);
        (void) send_nict(c->manager, msg, &dest, dest_len);
}

/* ACK for a 2xx: its own transaction-less request to the dialog's destination. */
static void call_send_ack(Call *c) {
        struct sockaddr_storage dest;
        socklen_t dest_len;

        if (!c->ack) {
                osip_message_t *msg = NULL;
                char *s = NULL;
                size_t len = 0;

                if (call_request_build(c, "ACK", c->invite_cseq, NULL, &msg) < 0)
                        return;
                if (osip_message_to_str(msg, &s, &len) == 0) {
                        c->ack = strndup(s, len);
                        c->ack_len = len;
                        osip_free(s);
                }
                osip_message_free(msg);
                if (!c->ack)
                        return;
        }
        call_dialog_dest(c, &dest, &dest_len);
        (void) transport_send(c->manager, c->ack, c->ack_len, (const struct sockaddr *) &dest, dest_len);
}

/* The CANCEL for the current INVITE attempt: same Request-URI, Call-ID, From,
 * To, CSeq number and top Via as the INVITE (RFC 3261 §9.1), to where it went. */
static void call_send_cancel(Call *c) {
        osip_message_t *inv, *msg = NULL;
        osip_via_t *via = NULL, *v2 = NULL;
        osip_route_t *r;
        TransactionCtx *ctx;
        char buf[64];

        if (c->cancel_sent || !c->ict || !(inv = c->ict->orig_request))
                return;
        ctx = osip_transaction_get_your_instance(c->ict);
        if (!ctx)
                return;
        if (osip_message_init(&msg) != 0)
                return;
        osip_message_set_method(msg, osip_strdup("CANCEL"));
        osip_message_set_version(msg, osip_strdup("SIP/2.0"));
        if (osip_uri_clone(inv->req_uri, &msg->req_uri) != 0 ||
            osip_message_get_via(inv, 0, &via) < 0 || !via || osip_via_clone(via, &v2) != 0)
                goto fail;
        osip_list_add(&msg->vias, v2, -1);
        for (int i = 0; osip_message_get_route(inv, i, &r) >= 0 && r; i++) {
                osip_route_t *r2 = NULL;
                if (osip_route_clone(r, &r2) != 0)
                        goto fail;
                osip_list_add(&msg->routes, r2, -1);
        }
        if (osip_from_clone(inv->from, &msg->from) != 0 || osip_to_clone(inv->to, &msg->to) != 0 ||
            osip_call_id_clone(inv->call_id, &msg->call_id) != 0)
                goto fail;
        snprintf(buf, sizeof buf, "%" PRIu32 " CANCEL", c->invite_cseq);
        if (osip_message_set_cseq(msg, buf) != 0 || osip_message_set_max_forwards(msg, "70") != 0 ||
            osip_message_set_content_length(msg, "0") != 0)
                goto fail;
        c->cancel_sent = true;
        (void) send_nict(c->manager, msg, &ctx->dest, ctx->dest_len);
        return;
fail:
        osip_message_free(msg);
        log_warning("Call %s: could not build the CANCEL.", strna(c->call_id));
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
        osip_message_t *msg = NULL;
        osip_transaction_t *tr = NULL;
        TransactionCtx *ctx;
        int r;

        r = call_request_build(c, "INVITE", c->invite_cseq, c->branch, &msg);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_auth; i++) {
                _cleanup_free_ char *v = NULL;
                const GwLineConf *lc = c->line->conf;

                c->auth[i].nc++;
                r = digest_authorization(&c->auth[i].challenge, lc->auth_user ?: lc->number, strempty(lc->password),
                                         "INVITE", c->request_uri, c->auth[i].nc, c->cnonce, &v);
                if (r < 0) {
                        osip_message_free(msg);
                        return r;
                }
                r = osip_message_set_header(msg, c->auth[i].proxy ? "Proxy-Authorization" : "Authorization", v);
                explicit_bzero(v, strlen(v));
                if (r != 0) {
                        osip_message_free(msg);
                        return -ENOMEM;
                }
        }
        r = set_sdp_body(c, msg);
        if (r < 0) {
                osip_message_free(msg);
                return r;
        }
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx) {
                osip_message_free(msg);
                return -ENOMEM;
        }
        ctx->manager = m;
        ctx->call = c->serial;
        ctx->dest = e->addr;
        ctx->dest_len = e->addr_len;
        if (osip_transaction_init(&tr, ICT, m->osip, msg) != 0) {
                free(ctx);
                osip_message_free(msg);
                return -EINVAL;
        }
        osip_transaction_set_your_instance(tr, ctx);
        if (c->ict)
                manager_transaction_kill(m, c->ict);     /* an abandoned attempt: no more retransmissions */
        c->ict = tr;
        c->got_1xx = c->got_18x = c->got_final = false;
        c->peer = e->addr;
        c->peer_len = e->addr_len;
        manager_note_peer(m, (const struct sockaddr *) &e->addr);
        osip_transaction_add_event(tr, osip_new_outgoing_sipmessage(msg));
        m->counters.requests_sent++;
        m->call_actions++;

        call_invite_timer_stop(c);
        r = sd_event_add_time_relative(m->event, &c->invite_timer, CLOCK_MONOTONIC,
                                       c->line->profile->invite_total_timeout_us, 10 * USEC_PER_MSEC,
                                       on_invite_timeout, c);
        if (r < 0)
                log_warning_errno(r, "Call %s: failed to add the INVITE timer, ignoring: %m", c->call_id);
        log_info("Line %u: INVITE %s via %s (%s), attempt %zu.", c->line->conf->port, c->request_uri,
                 e->proxy->text, e->target, c->entry + 1);
        return 0;
}

/* The current entry failed (before any 1xx): the next one, or congestion. */
static void call_fail_over(Call *c, const char *reason, Gw__SipOutcomeKind kind, const osip_message_t *resp) {
        publish_entry_report(c, kind, resp);
        call_invite_timer_stop(c);
        if (c->ict) {
                manager_transaction_kill(c->manager, c->ict);
                c->ict = NULL;
        }
        c->n_auth = 0;
        while (++c->entry < c->n_entries) {
                if (call_send_invite(c) >= 0)
                        return;
        }
        log_warning("Line %u: call %s failed on every entry (last: %s).", c->line->conf->port, c->call_id, reason);
        c->entry = c->n_entries - 1;
        call_event_end(c, "congestion", 0);
        line_release(c->line, GW__TONE__TONE_CONGESTION);
        call_free(c);
}

static int on_invite_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Call *c = userdata;
        Manager *m = c->manager;

        c->invite_timer = sd_event_source_disable_unref(c->invite_timer);
        if (!c->line || c->got_1xx || c->got_final)
                return 0;
        call_fail_over(c, "timeout", GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT, NULL);
        manager_osip_run(m);
        return 0;
}

static void call_event_end(Call *c, const char *cause, uint32_t status) {
        publish_call_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_END, cause, status);
}

/* The entries to try, starting from the active one; with keepalive: invite
 * in homing mode, the main first. */
static void call_pick_entries(Call *c) {
        Manager *m = c->manager;
        const GwProfileConf *p = c->line->profile;
        const ProfileState *ps = &m->profiles[c->line->conf->profile_index];
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

/* Dialling is complete: INVITE sip:<digits>@<domain>. */
static void line_place_call(Line *l) {
        Manager *m = l->manager;
        const GwProfileConf *p = l->profile;
        const ProfileState *ps = &m->profiles[l->conf->profile_index];
        char tok[33];
        Call *c = NULL;
        int r;

        line_timer_stop(l);
        if (p->unregistered_calls == UNREGISTERED_CALLS_REFUSE && ps->known && !ps->any_up &&
            !is_emergency(p, l->digits)) {
                log_info("Line %u: no entry of profile %s answers, refusing the call to %s.", l->conf->port,
                         p->name, l->digits);
                line_release(l, GW__TONE__TONE_CONGESTION);
                return;
        }
        r = call_new(m, l, true, &c);
        if (r < 0) {
                log_oom();
                line_release(l, GW__TONE__TONE_CONGESTION);
                return;
        }
        c->remote_number = strdup(l->digits);
        if (random_token(tok, 32) >= 0)
                c->call_id = strdup_printf("%s@%s", tok, m->via_host[0] == '[' ? "fxsgw" : m->via_host);
        if (random_token(tok, 16) >= 0)
                c->local_tag = strdup(tok);
        {
                /* '#' is not allowed in a URI's user part (RFC 3261 §25.1): escaped */
                char user[3 * sizeof l->digits], *u = user;
                for (const char *d = l->digits; *d; d++)
                        u = *d == '#' ? stpcpy(u, "%23") : (*u = *d, u + 1);
                *u = 0;
                c->local_uri = strdup_printf("sip:%s@%s", l->conf->number, p->domain);
                c->remote_uri = strdup_printf("sip:%s@%s", user, p->domain);
        }
        c->request_uri = c->remote_uri ? strdup(c->remote_uri) : NULL;
        if (!c->remote_number || !c->call_id || !c->local_tag || !c->local_uri || !c->remote_uri ||
            !c->request_uri || random_token(c->cnonce, 32) < 0) {
                log_oom();
                call_free(c);
                line_release(l, GW__TONE__TONE_CONGESTION);
                return;
        }
        c->invite_cseq = c->local_cseq = 1;
        call_pick_entries(c);
        if (c->n_entries == 0) {
                log_warning("Line %u: profile %s has no entry with a known address, no call.", l->conf->port, p->name);
                call_free(c);
                line_release(l, GW__TONE__TONE_CONGESTION);
                return;
        }
        line_set_tone(l, GW__TONE__TONE_NONE);
        line_set_state(l, GW__CALL_STATE__CALL_PROCEEDING);
        publish_call_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_START, NULL, 0);
        line_timer_start(l, LINE_TIMER_NO_ANSWER, p->no_answer_timeout_us);
        for (c->entry = 0; c->entry < c->n_entries; c->entry++)
                if (call_send_invite(c) >= 0)
                        break;
        if (c->entry == c->n_entries) {
                c->entry = 0;
                call_event_end(c, "congestion", 0);
                call_free(c);
                line_release(l, GW__TONE__TONE_CONGESTION);
        }
}

static const osip_body_t *message_sdp(const osip_message_t *msg) {
        osip_body_t *b = NULL;

        if (osip_message_get_body(msg, 0, &b) < 0 || !b || !b->body || b->length == 0)
                return NULL;
        if (msg->content_type && msg->content_type->type &&
            !(strcasecmp(msg->content_type->type, "application") == 0 && msg->content_type->subtype &&
              strcasecmp(msg->content_type->subtype, "sdp") == 0))
                return NULL;
        return b;
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
                log_info("Call %s: SRTP %s (a=crypto tag %" PRIu32 ", %s).", c->call_id,
                         sdp_srtp_suite_to_string(c->media.local.suite), c->media.local.tag,
                         c->media.secure ? "RTP/SAVP" : "RTP/AVP");
        else if (c->srtp != GW_SRTP_OFF)
                log_info("Call %s: plain RTP (the peer has no SRTP).", c->call_id);
}

/* An SDP answer to our offer (183 or 2xx; the ACK after a late offer). */
static int call_take_answer(Call *c, const osip_message_t *resp) {
        const osip_body_t *b = message_sdp(resp);
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
                        log_warning("Call %s: unusable SDP answer in %d: %s.", c->call_id, resp->status_code, why);
                else
                        log_warning("Call %s: unusable SDP answer in the ACK: %s.", c->call_id, why);
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

/* Dialog state from a response to our INVITE: their tag, Contact, the route
 * set (Record-Route reversed, RFC 3261 §12.1.2). */
static void call_learn_dialog(Call *c, const osip_message_t *resp) {
        osip_generic_param_t *tag = NULL;
        osip_contact_t *ct = NULL;
        osip_record_route_t *rr;
        int n;

        if (resp->to && osip_to_get_tag(resp->to, &tag) == 0 && tag && tag->gvalue) {
                free(c->remote_tag);
                c->remote_tag = strdup(tag->gvalue);
        }
        if (osip_message_get_contact(resp, 0, &ct) >= 0 && ct && ct->url) {
                char *s = NULL;
                if (osip_uri_to_str(ct->url, &s) == 0) {
                        free(c->remote_target);
                        c->remote_target = strdup(s);
                        osip_free(s);
                }
        }
        for (size_t i = 0; i < c->n_routes; i++)
                free(c->routes[i]);
        c->n_routes = 0;
        n = osip_list_size(&resp->record_routes);
        for (int i = n - 1; i >= 0 && c->n_routes < SIGD_MAX_ROUTES; i--) {
                char *s = NULL;
                if (osip_message_get_record_route(resp, i, &rr) < 0 || !rr || osip_record_route_to_str(rr, &s) != 0)
                        continue;
                c->routes[c->n_routes++] = strdup(s);
                osip_free(s);
        }
}

static void line_connected(Line *l) {
        line_timer_stop(l);
        l->tone = GW__TONE__TONE_NONE;
        line_set_state(l, GW__CALL_STATE__CALL_CONNECTED);
        publish_media_control(l, true);
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
                call_learn_dialog(c, resp);
                if (call_take_answer(c, resp) >= 0) {
                        /* early media (183 or 180 with SDP): hear the far end */
                        l->tone = GW__TONE__TONE_NONE;
                        line_set_state(l, GW__CALL_STATE__CALL_RINGBACK);
                        publish_media_control(l, true);
                } else if (l->state != GW__CALL_STATE__CALL_RINGBACK || !c->have_media) {
                        line_set_state(l, GW__CALL_STATE__CALL_RINGBACK);
                        if (!c->have_media)
                                line_set_tone(l, GW__TONE__TONE_RINGBACK);
                }
                return;
        }

        c->got_final = true;
        call_invite_timer_stop(c);
        if (code < 300) {
                char label[64];
                bool sdp_ok;

                publish_entry_report(c, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, resp);
                call_learn_dialog(c, resp);
                c->confirmed = true;
                call_send_ack(c);
                if (!l || c->cancel_wanted) {
                        call_send_bye(c);
                        return;
                }
                sdp_ok = call_take_answer(c, resp) >= 0 || c->have_media;
                if (!sdp_ok) {
                        log_warning("Line %u: call %s answered without usable SDP, hanging up.", l->conf->port,
                                    c->call_id);
                        call_send_bye(c);
                        call_event_end(c, "bad-sdp", (uint32_t) code);
                        line_release(l, GW__TONE__TONE_CONGESTION);
                        call_detach(c);
                        return;
                }
                log_info("Line %u: call %s to %s answered (%s).", l->conf->port, c->call_id, c->remote_number,
                         media_label(c, label, sizeof label));
                line_set_reversed(l, true);
                line_connected(l);
                publish_call_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_ANSWER, NULL, (uint32_t) code);
                return;
        }

        /* 3xx-6xx; libosip2 sent the ACK (to where the INVITE went). */
        if ((code == 401 || code == 407) && l) {
                DigestChallenge ch;
                size_t i;

                c->manager->counters.auth_challenges++;
                publish_entry_report(c, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE, resp);
                if (!l->conf->password || response_pick_challenge(resp, code == 407, &ch) < 0)
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
                c->invite_cseq = ++c->local_cseq;
                c->ict = NULL;                            /* the challenged one ends by itself (Timer D) */
                if (call_send_invite(c) >= 0)
                        return;
                goto final;
        }
        /* The call goes on at the next entry after a 408 before any 1xx or a
         * 503 before any 18x; after that the final response is the callee's
         * (Kamailio's 408 when it rings out). What it says about the entry is
         * regd's decision: the report only says what happened. */
        if (l && ((!c->got_1xx && code == 408) || (!c->got_18x && code == 503))) {
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

                log_info("Line %u: call %s to %s failed: %d %s.", l->conf->port, c->call_id, c->remote_number, code,
                         strempty(resp->reason_phrase));
                call_event_end(c, cause, (uint32_t) code);
                line_release(l, busy ? GW__TONE__TONE_BUSY : GW__TONE__TONE_CONGESTION);
                call_free(c);
        }
}

void calls_tx_event(Manager *m, osip_transaction_t *tr, int kind, osip_message_t *msg) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);
        CallTxEvent *e;

        if (!ctx || !ctx->call)
                return;
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
        *e = (CallTxEvent) { .serial = ctx->call, .tr = tr, .kind = kind };
        if (msg && osip_message_clone(msg, &e->msg) != 0) {
                log_oom();
                return;
        }
        m->n_tx_events++;
        m->call_actions++;
}

void calls_settle(Manager *m) {
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

void calls_transport_error(Manager *m, const struct sockaddr *to, socklen_t tolen, int error) {
        Call *next;

        for (Call *c = m->calls; c; c = next) {
                next = c->next;
                if (!c->outgoing || !c->line || !c->ict || c->got_1xx || c->got_final)
                        continue;
                if (!gw_sockaddr_equal((const struct sockaddr *) &c->peer, c->peer_len, to, tolen))
                        continue;
                log_debug("Call %s: %s from %s.", c->call_id, strerror(error), c->entries[c->entry].target);
                call_fail_over(c, "transport", GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT, NULL);
        }
}

/* A response no transaction took: a retransmitted 2xx (ACK again) or one of
 * an abandoned attempt or a call we let go (ACK, then BYE). */
int calls_handle_stray_response(Manager *m, osip_message_t *resp, const struct sockaddr *from, socklen_t fromlen) {
        Call *c = NULL, tmp = {};
        osip_generic_param_t *tag = NULL;
        const char *to_tag;

        if (!resp->call_id || !resp->cseq || !resp->cseq->method || strcmp(resp->cseq->method, "INVITE") != 0 ||
            resp->status_code < 200 || resp->status_code >= 300)
                return 0;
        {
                _cleanup_free_ char *cid = message_call_id(resp);
                for (Call *i = m->calls; cid && i; i = i->next)
                        if (i->outgoing && i->call_id && streq(i->call_id, cid)) {
                                c = i;
                                break;
                        }
        }
        if (!c)
                return 0;
        to_tag = resp->to && osip_to_get_tag(resp->to, &tag) == 0 && tag ? tag->gvalue : NULL;
        if (c->confirmed && c->remote_tag && to_tag && streq(c->remote_tag, to_tag)) {
                call_send_ack(c);                         /* our ACK got lost */
                return 1;
        }
        /* Another dialog on this call (an abandoned attempt answered after all):
         * confirm and end it at once, on a throw-away view of that dialog. */
        log_info("Call %s: 2xx from an abandoned attempt (%s), ACK and BYE.", c->call_id, strna(to_tag));
        tmp.manager = m;
        tmp.call_id = c->call_id;
        tmp.local_tag = c->local_tag;
        tmp.local_uri = c->local_uri;
        tmp.remote_uri = c->remote_uri;
        tmp.request_uri = c->request_uri;
        tmp.invite_cseq = c->invite_cseq;
        tmp.local_cseq = c->local_cseq;
        memcpy(&tmp.peer, from, MIN((size_t) fromlen, sizeof(tmp.peer)));
        tmp.peer_len = fromlen;
        call_learn_dialog(&tmp, resp);
        tmp.confirmed = true;
        call_send_ack(&tmp);
        call_send_bye(&tmp);
        for (size_t i = 0; i < tmp.n_routes; i++)
                free(tmp.routes[i]);
        free(tmp.remote_tag);
        free(tmp.remote_target);
        free(tmp.ack);
        return 1;
}

/* ---------------------------------------------------------------- incoming calls */

static Line *line_by_number(Manager *m, const char *user) {
        if (!user)
                return NULL;
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].profile && streq(m->lines[i].conf->number, user))
                        return &m->lines[i];
        return NULL;
}

/* An answer to request req in server transaction tr, with our tag. */
static int call_respond(Call *c, osip_transaction_t *tr, const osip_message_t *req, unsigned code,
                        const char *warning, bool with_sdp) {
        TransactionCtx *ctx = osip_transaction_get_your_instance(tr);
        osip_message_t *resp = NULL;
        osip_generic_param_t *tag = NULL, *req_tag = NULL;
        int r;

        if (!ctx)
                return -ESTALE;

        r = response_build(req, code, &resp);
        if (r < 0)
                return r;
        if (c && code > 100 && resp->to && osip_to_get_tag(resp->to, &tag) == 0 && tag && c->local_tag &&
            !(req->to && osip_to_get_tag(req->to, &req_tag) == 0 && req_tag)) {
                osip_free(tag->gvalue);
                tag->gvalue = osip_strdup(c->local_tag);
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
                if (set_contact(c, resp) < 0 || (code == 200 && osip_message_set_header(resp, "Allow", SIGD_ALLOW) != 0)) {
                        osip_message_free(resp);
                        return -ENOMEM;
                }
                if (with_sdp && (r = set_sdp_body(c, resp)) < 0) {
                        osip_message_free(resp);
                        return r;
                }
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
        server_transaction_respond(ctx->manager, tr, resp);
        return 0;
}

static int on_ok_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Call *c = userdata;
        uint64_t next;

        if (!c->ok || c->ok_sent >= 10) {
                /* 64*T1 without an ACK: the dialog is dead (RFC 3261 §13.3.1.4) */
                c->ok_timer = sd_event_source_disable_unref(c->ok_timer);
                if (c->ok) {
                        log_warning("Call %s: no ACK for our 2xx, hanging up.", c->call_id);
                        c->ok = erase_and_free(c->ok);
                        call_send_bye(c);
                        if (c->line) {
                                call_event_end(c, "no-ack", 0);
                                line_release(c->line, GW__TONE__TONE_CONGESTION);
                        }
                        call_detach(c);
                        manager_osip_run(c->manager);
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

/* The subscriber answered the ringing line. */
static void call_answer(Call *c) {
        Line *l = c->line;
        TransactionCtx *ctx;
        char label[64];

        if (!c->ist || !c->invite)
                return;
        line_set_ring(l, false);
        if (call_respond(c, c->ist, c->invite, 200, NULL, true) < 0) {
                log_warning("Line %u: could not build the 200 for call %s.", l->conf->port, c->call_id);
                return;
        }
        ctx = osip_transaction_get_your_instance(c->ist);
        if (ctx) {
                c->ok_dest = ctx->dest;
                c->ok_dest_len = ctx->dest_len;
        }
        c->confirmed = true;
        if (sd_event_add_time_relative(c->manager->event, &c->ok_timer, CLOCK_MONOTONIC, T1_USEC,
                                       10 * USEC_PER_MSEC, on_ok_timer, c) < 0)
                c->ok_timer = NULL;
        log_info("Line %u: answered call %s from %s (%s).", l->conf->port, c->call_id, strna(c->remote_number),
                 c->have_media ? media_label(c, label, sizeof label) : "our offer in the 200");
        line_connected(l);
        publish_call_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_ANSWER, NULL, 200);
}

static char *uri_string(const osip_uri_t *u) {
        char *s = NULL, *d;

        if (!u || osip_uri_to_str(u, &s) != 0)
                return NULL;
        d = strdup(s);
        osip_free(s);
        return d;
}

static int incoming_invite(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                           unsigned *ret_status) {
        osip_message_t *req = ev->sip;
        const char *user = req->req_uri ? req->req_uri->username : NULL;
        const osip_body_t *b;
        osip_generic_param_t *tag = NULL;
        osip_transaction_t *tr = NULL;
        const char *why = NULL;
        Line *l;
        Call *c = NULL;
        char tok[17];
        int r;

        l = line_by_number(m, user);
        if (!l && req->to && req->to->url)
                l = line_by_number(m, req->to->url->username);
        r = server_transaction_new(m, ev, dest, dest_len, &tr);
        if (r < 0) {
                osip_event_free(ev);
                return r == -ENOMEM ? r : 1;
        }
        if (!l) {
                *ret_status = 404;
                return call_respond(NULL, tr, req, 404, NULL, false) < 0 ? -ENOMEM : 1;
        }
        b = message_sdp(req);
        if (b) {
                _cleanup_(sdp_media_wipe) SdpMedia offer = {};
                _cleanup_(sdp_result_wipe) SdpResult res = {};
                r = sdp_parse(b->body, &offer, &why);
                if (r >= 0)
                        r = sdp_answer_offer(&offer, m->conf, l->profile->srtp, false, NULL, &res, &why);
                if (r == -EPROTO || r == -EBADMSG) {
                        log_warning("Line %u: refusing INVITE %s: %s.", l->conf->port,
                                    req->call_id && req->call_id->number ? req->call_id->number : "?", why);
                        *ret_status = 488;
                        return call_respond(NULL, tr, req, 488, why, false) < 0 ? -ENOMEM : 1;
                }
                if (l->off_hook || l->call || l->state != GW__CALL_STATE__CALL_IDLE) {
                        *ret_status = 486;
                        return call_respond(NULL, tr, req, 486, NULL, false) < 0 ? -ENOMEM : 1;
                }
                if (r < 0) {
                        log_warning_errno(r, "Line %u: refusing INVITE: %m", l->conf->port);
                        *ret_status = 500;
                        return call_respond(NULL, tr, req, 500, NULL, false) < 0 ? -ENOMEM : 1;
                }
                r = call_new(m, l, false, &c);
                if (r < 0)
                        return r;
                c->media = res;
                c->have_media = true;
        } else {
                if (l->off_hook || l->call || l->state != GW__CALL_STATE__CALL_IDLE) {
                        *ret_status = 486;
                        return call_respond(NULL, tr, req, 486, NULL, false) < 0 ? -ENOMEM : 1;
                }
                /* Late offer (RFC 3261 §13.2.1): we offer in the 200, the answer comes in the ACK. */
                r = call_new(m, l, false, &c);
                if (r < 0)
                        return r;
        }

        c->ist = tr;
        ((TransactionCtx *) osip_transaction_get_your_instance(tr))->call = c->serial;
        if (osip_message_clone(req, &c->invite) != 0 || random_token(tok, 16) < 0 || !(c->local_tag = strdup(tok)))
                goto oom;
        {
                char *cid = NULL;
                if (osip_call_id_to_str(req->call_id, &cid) != 0)
                        goto oom;
                c->call_id = strdup(cid);
                osip_free(cid);
        }
        if (req->from && osip_from_get_tag(req->from, &tag) == 0 && tag && tag->gvalue)
                c->remote_tag = strdup(tag->gvalue);
        c->remote_uri = uri_string(req->from ? req->from->url : NULL);
        c->local_uri = uri_string(req->to ? req->to->url : NULL);
        c->remote_number = strdup(req->from && req->from->url && req->from->url->username ? req->from->url->username : "");
        {
                osip_contact_t *ct = NULL;
                if (osip_message_get_contact(req, 0, &ct) >= 0 && ct)
                        c->remote_target = uri_string(ct->url);
        }
        for (int i = 0; i < osip_list_size(&req->record_routes) && c->n_routes < SIGD_MAX_ROUTES; i++) {
                osip_record_route_t *rr = NULL;
                char *s = NULL;
                if (osip_message_get_record_route(req, i, &rr) >= 0 && rr && osip_record_route_to_str(rr, &s) == 0) {
                        c->routes[c->n_routes++] = strdup(s);
                        osip_free(s);
                }
        }
        c->remote_cseq = (uint32_t) strtoul(req->cseq->number, NULL, 10);
        memcpy(&c->peer, dest, sizeof(c->peer));
        c->peer_len = dest_len;
        if (!c->call_id || !c->remote_uri || !c->local_uri || !c->remote_number)
                goto oom;

        log_info("Line %u: incoming call %s from %s.", l->conf->port, c->call_id, c->remote_number);
        if (c->have_media)
                call_log_srtp(c);
        (void) call_respond(c, tr, req, 100, NULL, false);
        (void) call_respond(c, tr, req, 180, NULL, false);
        line_set_state(l, GW__CALL_STATE__CALL_RINGING);
        line_set_ring(l, true);
        publish_call_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_START, NULL, 0);
        line_timer_start(l, LINE_TIMER_NO_ANSWER, l->profile->no_answer_timeout_us);
        *ret_status = 180;
        return 1;
oom:
        (void) call_respond(NULL, tr, req, 500, NULL, false);
        call_free(c);
        return -ENOMEM;
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
                if (!c->call_id || !streq(c->call_id, cid))
                        continue;
                if (cancel) {
                        if (!c->outgoing && streq_ptr(c->remote_tag, from_tag))
                                return c;
                        continue;
                }
                if (!from_tag || !to_tag || !c->remote_tag || !c->local_tag)
                        continue;
                if (streq(c->local_tag, to_tag) && streq(c->remote_tag, from_tag))
                        return c;
        }
        return NULL;
}

/* The far end hung up (BYE): busy tone, then howler. */
static void call_remote_bye(Call *c) {
        Line *l = c->line;

        if (!l)
                return;
        log_info("Line %u: call %s ended by the far end.", l->conf->port, c->call_id);
        call_event_end(c, "normal", 0);
        c->have_media = false;
        line_release(l, GW__TONE__TONE_BUSY);
        call_detach(c);
}

static int in_dialog_reinvite(Manager *m, Call *c, osip_event_t *ev, const struct sockaddr_storage *dest,
                              socklen_t dest_len, unsigned *ret_status) {
        osip_message_t *req = ev->sip;
        osip_transaction_t *tr = NULL;
        const osip_body_t *b = message_sdp(req);
        const char *why = NULL;
        _cleanup_(sdp_media_wipe) SdpMedia offer = {};
        _cleanup_(sdp_result_wipe) SdpResult res = {};
        osip_contact_t *ct = NULL;
        bool srtp_changed;
        int r;

        r = server_transaction_new(m, ev, dest, dest_len, &tr);
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
                log_warning("Call %s: refusing re-INVITE: %s.", c->call_id, refused ? why : strerror(-r));
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
                char *t = uri_string(ct->url);
                if (t) {
                        free(c->remote_target);
                        c->remote_target = t;
                }
        }
        log_info("Call %s: re-INVITE, media %s to %s:%u.", c->call_id, sdp_direction_to_string(res.direction),
                 res.remote_addr, res.remote_port);
        *ret_status = 200;
        r = call_respond(c, tr, req, 200, NULL, true);
        if (c->line)
                publish_media_control(c->line, true);
        return r < 0 ? r : 1;
}

/* The ACK of our 2xx to an INVITE without SDP carries the answer to our offer. */
static void call_take_late_answer(Call *c, const osip_message_t *ack) {
        if (call_take_answer(c, ack) >= 0) {
                if (c->line)
                        publish_media_control(c->line, true);
                return;
        }
        log_warning("Call %s: no usable SDP answer in the ACK, hanging up.", c->call_id);
        call_send_bye(c);
        if (c->line) {
                call_event_end(c, "bad-sdp", 0);
                line_release(c->line, GW__TONE__TONE_CONGESTION);
        }
        call_detach(c);
}

int calls_handle_request(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
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
                }
                osip_event_free(ev);
                return 1;
        }
        if (streq(method, "INVITE") && !has_to_tag)
                return incoming_invite(m, ev, dest, dest_len, ret_status);

        c = call_for_request(m, req, streq(method, "CANCEL"));
        if (!c && streq(method, "INVITE")) {
                /* A re-INVITE for a dialog we do not know */
                r = server_transaction_new(m, ev, dest, dest_len, &tr);
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
                return in_dialog_reinvite(m, c, ev, dest, dest_len, ret_status);

        r = server_transaction_new(m, ev, dest, dest_len, &tr);
        if (r < 0) {
                osip_event_free(ev);
                return r == -ENOMEM ? r : 1;
        }
        *ret_status = 200;
        r = call_respond(c, tr, req, 200, NULL, false);
        if (r < 0)
                return r;
        if (streq(method, "CANCEL")) {
                if (c->ist && !c->confirmed && c->invite) {
                        Line *l = c->line;
                        (void) call_respond(c, c->ist, c->invite, 487, NULL, false);
                        if (l) {
                                log_info("Line %u: call %s cancelled by the caller.", l->conf->port, c->call_id);
                                call_event_end(c, "cancelled", 487);
                                line_set_ring(l, false);
                                line_timer_stop(l);
                                line_set_state(l, GW__CALL_STATE__CALL_IDLE);
                                l->call = NULL;
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

/* ---------------------------------------------------------------- line inputs */

static Line *line_by_port(Manager *m, unsigned port) {
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].conf->port == port)
                        return &m->lines[i];
        return NULL;
}

/* The call is over for the subscriber: busy/congestion until on hook, or idle if on hook. */
static void line_release(Line *l, Gw__Tone tone) {
        if (!l)
                return;
        if (l->call) {
                l->call->line = NULL;
                l->call = NULL;
        }
        line_set_ring(l, false);
        line_set_reversed(l, false);
        l->digits[0] = 0;
        if (!l->off_hook) {
                line_timer_stop(l);
                l->tone = GW__TONE__TONE_NONE;
                line_set_state(l, GW__CALL_STATE__CALL_IDLE);
                publish_media_control(l, true);
                return;
        }
        l->tone = tone;
        line_set_state(l, GW__CALL_STATE__CALL_RELEASING);
        publish_media_control(l, true);
        line_timer_start(l, LINE_TIMER_HOWLER, SIGD_HOWLER_AFTER_USEC);
}

static void line_check_digits(Line *l, bool timed_out) {
        GwDigitMapResult r = gw_digitmap_match(l->digitmap, l->digits);

        log_debug("Line %u: '%s' against the dial plan: %s%s.", l->conf->port, l->digits,
                  gw_digitmap_result_to_string(r), timed_out ? " (timeout)" : "");
        if (r == GW_DIGITMAP_COMPLETE || (timed_out && r == GW_DIGITMAP_COMPLETE_AFTER_TIMEOUT)) {
                line_place_call(l);
                return;
        }
        if (r == GW_DIGITMAP_NO_MATCH || timed_out) {
                log_info("Line %u: '%s' matches no dial plan entry.", l->conf->port, l->digits);
                line_release(l, l->digits[0] ? GW__TONE__TONE_CONGESTION : GW__TONE__TONE_HOWLER);
                return;
        }
        line_timer_start(l, LINE_TIMER_INTERDIGIT, l->profile->interdigit_timeout_us);
}

static int on_line_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Line *l = userdata;
        Manager *m = l->manager;
        LineTimer kind = l->timer_kind;
        Call *c = l->call;

        l->timer_kind = LINE_TIMER_NONE;
        switch (kind) {
        case LINE_TIMER_INTERDIGIT:
                if (l->state == GW__CALL_STATE__CALL_DIALING)
                        line_check_digits(l, true);
                break;
        case LINE_TIMER_NO_ANSWER:
                if (!c)
                        break;
                if (c->outgoing && (l->state == GW__CALL_STATE__CALL_PROCEEDING ||
                                    l->state == GW__CALL_STATE__CALL_RINGBACK)) {
                        log_info("Line %u: call %s not answered, cancelling.", l->conf->port, c->call_id);
                        call_event_end(c, "no-answer", 0);
                        c->cancel_wanted = true;
                        if (c->got_1xx)
                                call_send_cancel(c);
                        line_release(l, GW__TONE__TONE_BUSY);
                        call_detach(c);
                } else if (!c->outgoing && l->state == GW__CALL_STATE__CALL_RINGING) {
                        log_info("Line %u: call %s not answered.", l->conf->port, c->call_id);
                        if (c->ist && c->invite)
                                (void) call_respond(c, c->ist, c->invite, 480, NULL, false);
                        call_event_end(c, "no-answer", 480);
                        line_release(l, GW__TONE__TONE_NONE);
                        call_free(c);
                }
                break;
        case LINE_TIMER_HOWLER:
                if (l->state == GW__CALL_STATE__CALL_RELEASING && l->off_hook)
                        line_set_tone(l, GW__TONE__TONE_HOWLER);
                break;
        default:
                break;
        }
        manager_osip_run(m);
        return 0;
}

int manager_line_hook(Manager *m, unsigned port, bool off_hook) {
        Line *l = line_by_port(m, port);
        Call *c;

        if (!l)
                return -ENOENT;
        if (l->off_hook == off_hook)
                return 0;
        l->off_hook = off_hook;
        c = l->call;
        if (off_hook) {
                if (c && !c->outgoing && l->state == GW__CALL_STATE__CALL_RINGING) {
                        call_answer(c);
                } else if (l->state == GW__CALL_STATE__CALL_IDLE) {
                        l->digits[0] = 0;
                        l->tone = GW__TONE__TONE_DIAL;
                        line_set_state(l, GW__CALL_STATE__CALL_DIALING);
                        publish_media_control(l, true);
                        line_timer_start(l, LINE_TIMER_INTERDIGIT, l->profile->interdigit_timeout_us);
                }
                manager_osip_run(m);
                return 0;
        }

        /* on hook */
        if (c) {
                switch (l->state) {
                case GW__CALL_STATE__CALL_PROCEEDING:
                case GW__CALL_STATE__CALL_RINGBACK:
                        log_info("Line %u: caller hung up before the answer, cancelling %s.", port, c->call_id);
                        call_event_end(c, "cancelled", 0);
                        c->cancel_wanted = true;
                        if (c->got_1xx)
                                call_send_cancel(c);
                        call_detach(c);
                        break;
                case GW__CALL_STATE__CALL_CONNECTED:
                        log_info("Line %u: hung up, BYE for %s.", port, c->call_id);
                        call_event_end(c, "normal", 0);
                        call_send_bye(c);
                        call_detach(c);
                        break;
                default:
                        break;
                }
        }
        line_release(l, GW__TONE__TONE_NONE);
        manager_osip_run(m);
        return 0;
}

int manager_line_digit(Manager *m, unsigned port, const char *digit) {
        Line *l = line_by_port(m, port);
        size_t n;

        if (!l)
                return -ENOENT;
        if (!digit || strlen(digit) != 1 || !strchr("0123456789*#ABCD", digit[0]))
                return -EINVAL;
        if (l->state != GW__CALL_STATE__CALL_DIALING || !l->off_hook)
                return 0;                                 /* in a call: mediad sends it as an RFC 4733 event */
        n = strlen(l->digits);
        if (n + 1 >= sizeof(l->digits)) {
                line_release(l, GW__TONE__TONE_CONGESTION);
                return 0;
        }
        l->digits[n] = digit[0];
        l->digits[n + 1] = 0;
        if (n == 0)
                line_set_tone(l, GW__TONE__TONE_NONE);
        publish_line_call(l);
        line_check_digits(l, false);
        manager_osip_run(m);
        return 0;
}

int manager_line_flash(Manager *m, unsigned port) {
        /* No supplementary services yet (hold, transfer): a flash changes nothing. */
        return line_by_port(m, port) ? 0 : -ENOENT;
}

int manager_profile_status(Manager *m, const Gw__ProfileStatus *ps) {
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

int manager_calls_init(Manager *m) {
        const GwConf *c = m->conf;

        m->profiles = calloc(MAX(c->n_profiles, (size_t) 1), sizeof(ProfileState));
        m->lines = calloc(MAX(c->n_lines, (size_t) 1), sizeof(Line));
        if (!m->profiles || !m->lines)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_lines; i++) {
                Line *l = &m->lines[i];
                const char *why = NULL;
                size_t off = 0;
                int r;

                l->manager = m;
                l->conf = &c->lines[i];
                l->index = i;
                l->profile = l->conf->profile_index < c->n_profiles ? &c->profiles[l->conf->profile_index] : NULL;
                l->state = GW__CALL_STATE__CALL_IDLE;
                m->n_lines = i + 1;
                if (!l->profile)
                        continue;                         /* a test's hand-made config without profiles */
                r = gw_digitmap_parse(l->profile->dial_plan ?: "x.T", &l->digitmap, &why, &off);
                if (r < 0)
                        return log_error_errno(r, "Profile %s: bad dial plan: %s at character %zu.", l->profile->name,
                                               strna(why), off + 1);
        }
        return 0;
}

void manager_calls_done(Manager *m) {
        while (m->calls)
                call_free(m->calls);
        for (size_t i = 0; i < m->n_lines; i++) {
                sd_event_source_disable_unref(m->lines[i].timer);
                gw_digitmap_free(m->lines[i].digitmap);
        }
        free(m->lines);
        m->lines = NULL;
        m->n_lines = 0;
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

void manager_set_publish_callback(Manager *m, manager_publish_cb_t cb, void *userdata) {
        m->publish_cb = cb;
        m->publish_userdata = userdata;
}
