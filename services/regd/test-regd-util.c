/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-util.c: helpers shared by regd's unit tests. */
#include <stdio.h>
#include <time.h>

#include "gw-bus.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "test-regd-util.h"

void test_conf_init(TestConf *t, size_t n_lines) {
        GwProfileConf *p = &t->profile;

        memset(t, 0, sizeof(*t));
        p->name = (char *) "p1";
        p->proxy = (GwHostPort) { .text = (char *) "127.0.0.1", .host = (char *) "127.0.0.1", .port = 0, .is_ip = true };
        p->registrar = p->proxy;
        p->redundancy_mode = REDUNDANCY_HOMING;
        p->keepalive = KEEPALIVE_OFF;
        p->invite_total_timeout_us = 200 * USEC_PER_MSEC;
        p->register_lines = true;
        p->register_expires_us = 3600 * USEC_PER_SEC;
        p->domain = (char *) "example.test";
        p->homing_confirm = 1;
        p->register_retry_base_us = 100 * USEC_PER_MSEC;
        p->register_retry_max_us = 800 * USEC_PER_MSEC;
        p->register_forbidden_retry_us = 3600 * USEC_PER_SEC;

        ASSERT_TRUE(n_lines <= TEST_MAX_LINES);
        for (size_t i = 0; i < n_lines; i++) {
                snprintf(t->numbers[i], sizeof(t->numbers[i]), "%zu", 1001 + i);
                t->lines[i] = (GwLineConf) {
                        .port = (unsigned) i + 1,
                        .number = t->numbers[i],
                        .profile = (char *) "p1",
                        .profile_index = 0,
                };
        }
        t->conf.profiles = p;
        t->conf.n_profiles = 1;
        t->conf.lines = t->lines;
        t->conf.n_lines = n_lines;
        t->conf.runtime_dir = (char *) "/nonexistent";
}

static void copy(char *dst, size_t n, const char *src) {
        snprintf(dst, n, "%s", src ? src : "");
}

static int cap_send(Manager *m, uint64_t cid, Gw__SipRequest *req, void *userdata) {
        Capture *c = userdata;
        Sent *s;

        ASSERT_TRUE(c->n_sent < TEST_MAX_SENT);
        s = &c->sent[c->n_sent++];
        copy(s->method, sizeof(s->method), req->method);
        s->cid = cid;
        s->port = req->has_line_port ? req->line_port : 0;
        s->mono_us = now_usec(CLOCK_MONOTONIC);
        s->cseq = req->cseq;
        s->expires_s = req->expires_s;
        s->timeout_ms = req->timeout_ms;
        s->with_contact = req->has_with_contact && req->with_contact;
        copy(s->target, sizeof(s->target), req->target);
        copy(s->call_id, sizeof(s->call_id), req->call_id);
        copy(s->from_tag, sizeof(s->from_tag), req->from_tag);
        copy(s->request_uri, sizeof(s->request_uri), req->request_uri);
        copy(s->from_uri, sizeof(s->from_uri), req->from_uri);
        copy(s->to_uri, sizeof(s->to_uri), req->to_uri);
        copy(s->profile, sizeof(s->profile), req->profile);
        if (m->n_in_flight > c->max_in_flight_seen)
                c->max_in_flight_seen = m->n_in_flight;
        return 0;
}

static void cap_line(Manager *m, Line *l, void *userdata) {
        ((Capture *) userdata)->n_line_changes++;
}

static void cap_profile(Manager *m, Profile *p, void *userdata) {
        ((Capture *) userdata)->n_profile_changes++;
}

static void cap_done(Manager *m, unsigned lines, unsigned confirmed, void *userdata) {
        Capture *c = userdata;

        c->n_done++;
        c->done_lines = lines;
        c->done_confirmed = confirmed;
}

static void cap_switch(Manager *m, Profile *p, size_t from, size_t to, const char *reason, void *userdata) {
        Capture *c = userdata;

        c->n_switches++;
        c->switch_from = from;
        c->switch_to = to;
        copy(c->switch_reason, sizeof(c->switch_reason), reason);
}

GwHostPort test_hostport(char *ip) {
        return (GwHostPort) { .text = ip, .host = ip, .port = 0, .is_ip = true };
}

void capture_attach(Manager *m, Capture *c) {
        const ManagerCallbacks cb = {
                .send_request = cap_send,
                .line_changed = cap_line,
                .profile_changed = cap_profile,
                .unregister_done = cap_done,
                .proxy_switched = cap_switch,
        };

        memset(c, 0, sizeof(*c));
        c->m = m;
        manager_set_callbacks(m, &cb, c);
}

const Sent *capture_last_for(const Capture *c, unsigned port) {
        for (size_t i = c->n_sent; i > 0; i--)
                if (c->sent[i - 1].port == port)
                        return &c->sent[i - 1];
        return NULL;
}

size_t capture_count_for(const Capture *c, unsigned port) {
        size_t n = 0;

        for (size_t i = 0; i < c->n_sent; i++)
                n += c->sent[i].port == port;
        return n;
}

Gw__SipRequestOutcome outcome_response(unsigned code, int32_t expires_s) {
        Gw__SipRequestOutcome o = GW__SIP_REQUEST_OUTCOME__INIT;

        o.kind = GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE;
        o.has_status_code = true;
        o.status_code = code;
        if (expires_s >= 0) {
                o.has_expires_s = true;
                o.expires_s = expires_s;
        }
        return o;
}

Gw__SipRequestOutcome outcome_kind(Gw__SipOutcomeKind kind) {
        Gw__SipRequestOutcome o = GW__SIP_REQUEST_OUTCOME__INIT;

        o.kind = kind;
        return o;
}

int answer(Manager *m, const Sent *s, Gw__SipRequestOutcome o) {
        char call_id[80];

        ASSERT_NOT_NULL(s);
        copy(call_id, sizeof(call_id), s->call_id);
        if (!o.has_cseq) {
                o.has_cseq = true;
                o.cseq = s->cseq;
        }
        o.call_id = call_id;
        o.has_line_port = true;
        o.line_port = s->port;
        return manager_handle_outcome(m, s->cid, &o);
}

char *test_tmpdir(void) {
        char *d = strdup(gw_test_tmpdir("test-regd"));

        ASSERT_NOT_NULL(d);
        return d;
}

