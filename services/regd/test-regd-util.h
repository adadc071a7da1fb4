/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-regd-util.h: a hand-built configuration and a capture of what the manager sends. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gw-conf.h"
#include "regd-manager.h"

#define TEST_MAX_LINES 300
#define TEST_MAX_SENT  8192

typedef struct TestConf {
        GwConf conf;
        GwProfileConf profile;
        GwLineConf lines[TEST_MAX_LINES];
        char numbers[TEST_MAX_LINES][16];
} TestConf;

/* One profile "p1" (main 127.0.0.1, no redundant entries, registrar = proxy,
 * domain "example.test"), n lines numbered 1000+port. Timers short. */
void test_conf_init(TestConf *t, size_t n_lines);

typedef struct Sent {
        uint64_t cid;
        char method[16];                 /* "REGISTER" | "OPTIONS" (port 0) */
        uint64_t mono_us;                /* when it was sent */
        unsigned port;
        uint32_t cseq;
        int32_t expires_s;
        uint32_t timeout_ms;
        bool with_contact;
        char target[64];
        char call_id[80];
        char from_tag[40];
        char request_uri[80];
        char from_uri[80];
        char to_uri[80];
        char profile[32];
} Sent;

typedef struct Capture {
        Sent sent[TEST_MAX_SENT];
        size_t n_sent;
        size_t n_line_changes;
        size_t n_profile_changes;
        unsigned max_in_flight_seen;
        int n_done;
        unsigned done_lines, done_confirmed;
        unsigned n_switches;             /* proxy_switched */
        size_t switch_from, switch_to;
        char switch_reason[16];
        Manager *m;
} Capture;

void capture_attach(Manager *m, Capture *c);
/* The latest request sent for port, or NULL. */
const Sent *capture_last_for(const Capture *c, unsigned port);
size_t capture_count_for(const Capture *c, unsigned port);

/* Synthetic outcomes. */
Gw__SipRequestOutcome outcome_response(unsigned code, int32_t expires_s);
Gw__SipRequestOutcome outcome_kind(Gw__SipOutcomeKind kind);

/* Answer the request s with o (cseq and call_id filled from s). */
int answer(Manager *m, const Sent *s, Gw__SipRequestOutcome o);

/* A redundant entry for test configurations (static storage). */
GwHostPort test_hostport(char *ip);

/* A fresh empty temporary directory (gw_test_tmpdir(), removed at exit), malloc'd. */
char *test_tmpdir(void);
