/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sigd-loopback.c: the real socket, transactions and timers on 127.0.0.x:
 * REGISTER with digest authentication against a SIPp registrar, ICMP port
 * unreachable, a silent target, OPTIONS answered over the socket, bad requests. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "gw-bus.h"
#include "gw-log.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "sigd-manager.h"

typedef struct Outcome {
        unsigned n;
        uint64_t cid;
        Gw__SipOutcomeKind kind;
        uint32_t status, cseq;
        int32_t expires_s, min_expires_s, retry_after_s;
        bool has_expires, got_provisional;
        char error[128];
        uint64_t at_usec;
} Outcome;

static void on_outcome(Manager *m, uint64_t cid, const Gw__SipRequestOutcome *o, void *u) {
        Outcome *out = u;

        out->n++;
        out->cid = cid;
        out->kind = o->kind;
        out->status = o->status_code;
        out->cseq = o->cseq;
        out->expires_s = o->expires_s;
        out->has_expires = o->has_expires_s;
        out->min_expires_s = o->has_min_expires_s ? o->min_expires_s : -1;
        out->retry_after_s = o->has_retry_after_s ? o->retry_after_s : -1;
        out->got_provisional = o->got_provisional;
        snprintf(out->error, sizeof(out->error), "%s", strempty(o->error));
        out->at_usec = now_usec(CLOCK_MONOTONIC);
}

static GwConf conf;
static GwLineConf lines[1];

static void make_conf(void) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &conf.sip_listen_addr;

        memset(&conf, 0, sizeof(conf));
        sin->sin_family = AF_INET;
        inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);    /* port 0: the kernel picks */
        lines[0] = (GwLineConf) { .port = 1, .number = (char *) "1001", .auth_user = (char *) "1001",
                                  .password = (char *) "s3cret", .profile = (char *) "test" };
        conf.lines = lines;
        conf.n_lines = 1;
        ASSERT_OK(gw_parse_cidr("127.0.0.5/32", &conf.trusted_sources[0]));   /* the OPTIONS prober */
        conf.n_trusted_sources = 1;
}

static void start(sd_event **e, Manager **m, Outcome *out) {
        log_open("test-sigd-loopback");
        make_conf();
        ASSERT_OK(sd_event_new(e));
        ASSERT_OK(manager_new(*e, &conf, m));
        ASSERT_OK(manager_start(*m));
        manager_set_outcome_callback(*m, on_outcome, out);
}

/* Run the loop until n outcomes or the deadline. */
static void run_until(sd_event *e, const Outcome *out, unsigned n, uint64_t max_usec) {
        (void) GW_TEST_RUN_UNTIL(e, out->n >= n, max_usec);
}

static void fill_register(Gw__SipRequest *r, const char *target, uint32_t timeout_ms) {
        gw__sip_request__init(r);
        r->method = (char *) "REGISTER";
        r->request_uri = (char *) "sip:fxsgw.test";
        r->target = UNCONST(target);
        r->has_line_port = true;
        r->line_port = 1;
        r->from_uri = (char *) "sip:1001@fxsgw.test";
        r->to_uri = (char *) "sip:1001@fxsgw.test";
        r->has_cseq = true;
        r->cseq = 1;
        r->has_expires_s = true;
        r->expires_s = 300;
        r->has_with_contact = true;
        r->with_contact = true;
        r->has_timeout_ms = true;
        r->timeout_ms = timeout_ms;
}

TEST(register_with_digest_against_sipp) {
        const char *sipp = gw_test_require_program("sipp");
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        Gw__SipRequest req;
        char port_s[16], target[64];
        uint16_t port;
        pid_t pid;
        int status;

        port = gw_test_udp_port("127.0.0.2", NULL);
        snprintf(port_s, sizeof(port_s), "%u", port);
        pid = gw_test_spawn((char *const[]) { UNCONST(sipp), "-sf", "tests/registrar-401-200.xml", "-i", "127.0.0.2",
                                              "-p", port_s, "-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin",
                                              "-trace_err", "-error_file", "/tmp/sigd-test-sipp-errors.log", NULL },
                            NULL, GW_TEST_SPAWN_NULL_STDOUT | GW_TEST_SPAWN_DIE_WITH_TEST);
        /* wait (bounded) until SIPp has bound its port */
        ASSERT_TRUE(gw_test_port_wait_bound(NULL, SOCK_DGRAM, "127.0.0.2", port, 5 * USEC_PER_SEC));

        start(&e, &m, &out);
        snprintf(target, sizeof(target), "127.0.0.2:%u", port);
        fill_register(&req, target, 5000);
        ASSERT_EQ(manager_submit(m, 42, &req), 0);
        ASSERT_EQ(manager_submit(m, 42, &req), 1);          /* duplicate in flight: ignored */
        run_until(e, &out, 1, 10 * USEC_PER_SEC);

        ASSERT_EQ(out.n, 1);
        ASSERT_EQ(out.cid, 42);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE);
        ASSERT_EQ(out.status, 200);
        ASSERT_TRUE(out.has_expires);
        ASSERT_EQ(out.expires_s, 120);                       /* our contact's, not the Expires header's */
        ASSERT_EQ(out.cseq, 2);                              /* the authenticated retry */
        ASSERT_EQ(m->counters.auth_challenges, 1);
        ASSERT_EQ(m->n_requests, 0);

        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        fprintf(stderr, "sipp exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        manager_free(m);
        sd_event_unref(e);
}

TEST(icmp_port_unreachable_is_transport_error) {
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        Gw__SipRequest req;
        char target[64];
        uint64_t t0;

        start(&e, &m, &out);
        snprintf(target, sizeof(target), "127.0.0.3:%u", gw_test_udp_port("127.0.0.3", NULL));
        fill_register(&req, target, 5000);
        t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_EQ(manager_submit(m, 7, &req), 0);
        run_until(e, &out, 1, 3 * USEC_PER_SEC);
        ASSERT_EQ(out.n, 1);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT);
        ASSERT_STREQ(out.error, "Connection refused");
        fprintf(stderr, "ICMP port unreachable detected after %.3f ms\n", (double) (out.at_usec - t0) / 1000.0);
        ASSERT_TRUE(out.at_usec - t0 < 500 * USEC_PER_MSEC);  /* not a timeout */
        ASSERT_TRUE(m->counters.transport_errors >= 1);
        manager_free(m);
        sd_event_unref(e);
}

TEST(silent_target_times_out_at_timeout_ms) {
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        Gw__SipRequest req;
        char target[64], buf[4096];
        int silent = -1;
        uint64_t t0, elapsed;
        unsigned seen = 0;

        start(&e, &m, &out);
        snprintf(target, sizeof(target), "127.0.0.4:%u", gw_test_udp_port("127.0.0.4", &silent));
        fill_register(&req, target, 1200);
        t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_EQ(manager_submit(m, 8, &req), 0);
        run_until(e, &out, 1, 5 * USEC_PER_SEC);
        elapsed = out.at_usec - t0;
        ASSERT_EQ(out.n, 1);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT);
        ASSERT_FALSE(out.got_provisional);
        fprintf(stderr, "timeout after %.3f ms (timeout_ms 1200), %llu retransmissions\n",
                (double) elapsed / 1000.0, (unsigned long long) m->counters.retransmissions);
        /* Lower bound exact; the upper one only tells our timer from libosip2's 32 s Timer F
         * (a loaded sanitizer build may run late). */
        ASSERT_TRUE(elapsed >= 1190 * USEC_PER_MSEC && elapsed < 5000 * USEC_PER_MSEC);
        /* Timer E: sent at 0, 500 ms, 1500 ms... -> at least one retransmission within 1.2 s */
        ASSERT_TRUE(m->counters.retransmissions >= 1);
        while (recv(silent, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                seen++;
        ASSERT_EQ(seen, 1 + m->counters.retransmissions);
        ASSERT_TRUE(strstr(buf, "REGISTER sip:fxsgw.test SIP/2.0") == buf);
        ASSERT_TRUE(strstr(buf, ";rport;branch=z9hG4bK") != NULL);
        ASSERT_TRUE(strstr(buf, "Expires: 300") != NULL);
        ASSERT_TRUE(strstr(buf, "Max-Forwards: 70") != NULL);
        ASSERT_TRUE(strstr(buf, "User-Agent: fxsgw/") != NULL);
        ASSERT_TRUE(strstr(buf, "s3cret") == NULL);

        /* nothing left: the transaction is out of libosip2 */
        ASSERT_EQ(m->n_requests, 0);
        close(silent);
        manager_free(m);
        sd_event_unref(e);
}

TEST(options_over_the_socket) {
        static const char options[] =
                "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.5:9;rport;branch=z9hG4bKloop0001\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:probe@127.0.0.5>;tag=1\r\n"
                "To: <sip:gw@127.0.0.1>\r\n"
                "Call-ID: loop-opt-1\r\n"
                "CSeq: 1 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n";
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        int peer = -1;
        char buf[4096], rport[32];
        uint16_t peer_port;
        ssize_t k = -1;

        start(&e, &m, &out);
        peer_port = gw_test_udp_port("127.0.0.5", &peer);
        ASSERT_EQ(sendto(peer, options, strlen(options), 0, (struct sockaddr *) &m->local, m->local_len),
                  (ssize_t) strlen(options));
        for (unsigned i = 0; i < 40 && k < 0; i++) {
                ASSERT_OK(sd_event_run(e, 50 * USEC_PER_MSEC));
                k = recv(peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        }
        ASSERT_TRUE(k > 0);
        buf[k] = 0;
        ASSERT_TRUE(strncmp(buf, "SIP/2.0 200 OK\r\n", 16) == 0);
        /* the Via said port 9 with rport: the answer came to our real port, which it names */
        snprintf(rport, sizeof(rport), "rport=%u", peer_port);
        ASSERT_TRUE(strstr(buf, rport) != NULL);
        ASSERT_TRUE(strstr(buf, "Allow: INVITE") != NULL);
        ASSERT_EQ(m->counters.requests_received, 1);
        close(peer);
        manager_free(m);
        sd_event_unref(e);
}

TEST(bad_requests) {
        static const char *const bad_targets[] = { "", "127.0.0.1", "localhost:5062", "127.0.0.1:0",
                                                    "127.0.0.1:70000", "[::1]:5062", "1.2.3.4:5x" };
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        Gw__SipRequest req;

        start(&e, &m, &out);
        for (size_t i = 0; i < ELEMENTSOF(bad_targets); i++) {
                fill_register(&req, bad_targets[i], 1000);
                ASSERT_EQ(manager_submit(m, 100 + i, &req), 0);
                ASSERT_EQ(out.n, i + 1);
                ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST);
        }
        fill_register(&req, "127.0.0.6:5062", 1000);
        req.method = (char *) "INVITE";
        ASSERT_EQ(manager_submit(m, 200, &req), 0);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST);
        fill_register(&req, "127.0.0.6:5062", 1000);
        req.request_uri = (char *) "http://x";
        ASSERT_EQ(manager_submit(m, 201, &req), 0);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST);
        fill_register(&req, "127.0.0.6:5062", 1000);
        req.line_port = 99;
        ASSERT_EQ(manager_submit(m, 202, &req), 0);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST);
        fill_register(&req, "127.0.0.6:5062", 1000);
        req.call_id = (char *) "a b\r\nVia: x";
        ASSERT_EQ(manager_submit(m, 203, &req), 0);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_BAD_REQUEST);
        ASSERT_EQ(m->n_requests, 0);
        manager_free(m);
        sd_event_unref(e);
}

/* A scripted registrar on a plain UDP socket: waits (bounded, driving the
 * loop) for one request and answers it with 'status' plus extra headers. */
static bool peer_answer(sd_event *e, int peer, unsigned status, const char *reason, const char *extra,
                        char *ret_req, size_t n) {
        char req[8192], resp[8192];
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t k = -1;
        size_t len = 0;

        for (unsigned i = 0; i < 100 && k < 0; i++) {
                ASSERT_OK(sd_event_run(e, 20 * USEC_PER_MSEC));
                fromlen = sizeof(from);
                k = recvfrom(peer, req, sizeof(req) - 1, MSG_DONTWAIT, (struct sockaddr *) &from, &fromlen);
        }
        if (k <= 0)
                return false;
        req[k] = 0;
        if (ret_req)
                snprintf(ret_req, n, "%s", req);
        len += (size_t) snprintf(resp + len, sizeof(resp) - len, "SIP/2.0 %u %s\r\n", status, reason);
        for (char *line = strtok(req, "\r\n"); line; line = strtok(NULL, "\r\n"))
                if (strncmp(line, "Via:", 4) == 0 || strncmp(line, "From:", 5) == 0 ||
                    strncmp(line, "Call-ID:", 8) == 0 || strncmp(line, "CSeq:", 5) == 0)
                        len += (size_t) snprintf(resp + len, sizeof(resp) - len, "%s\r\n", line);
                else if (strncmp(line, "To:", 3) == 0)
                        len += (size_t) snprintf(resp + len, sizeof(resp) - len, "%s;tag=peer\r\n", line);
        len += (size_t) snprintf(resp + len, sizeof(resp) - len, "%sContent-Length: 0\r\n\r\n", extra);
        ASSERT_EQ(sendto(peer, resp, len, 0, (struct sockaddr *) &from, fromlen), (ssize_t) len);
        return true;
}

TEST(provisional_then_silence) {
        char req_text[8192], late[8192];
        size_t len;
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        Gw__SipRequest req;
        char target[64];
        int peer = -1;

        start(&e, &m, &out);
        snprintf(target, sizeof(target), "127.0.0.7:%u", gw_test_udp_port("127.0.0.7", &peer));
        fill_register(&req, target, 800);
        ASSERT_EQ(manager_submit(m, 9, &req), 0);
        ASSERT_TRUE(peer_answer(e, peer, 100, "Trying", "", req_text, sizeof(req_text)));
        run_until(e, &out, 1, 3 * USEC_PER_SEC);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_TIMEOUT);
        ASSERT_TRUE(out.got_provisional);

        /* A 200 after our timeout matches nothing: dropped and counted, no second outcome. */
        len = (size_t) snprintf(late, sizeof(late), "SIP/2.0 200 OK\r\n");
        for (char *line = strtok(req_text, "\r\n"); line; line = strtok(NULL, "\r\n"))
                if (strncmp(line, "Via:", 4) == 0 || strncmp(line, "From:", 5) == 0 || strncmp(line, "To:", 3) == 0 ||
                    strncmp(line, "Call-ID:", 8) == 0 || strncmp(line, "CSeq:", 5) == 0)
                        len += (size_t) snprintf(late + len, sizeof(late) - len, "%s\r\n", line);
        len += (size_t) snprintf(late + len, sizeof(late) - len, "Content-Length: 0\r\n\r\n");
        ASSERT_EQ(sendto(peer, late, len, 0, (struct sockaddr *) &m->local, m->local_len), (ssize_t) len);
        for (unsigned i = 0; i < 40 && m->counters.unmatched_responses == 0; i++)
                ASSERT_OK(sd_event_run(e, 20 * USEC_PER_MSEC));
        ASSERT_EQ(m->counters.unmatched_responses, 1);
        ASSERT_EQ(out.n, 1);
        close(peer);
        manager_free(m);
        sd_event_unref(e);
}

TEST(challenge_twice_is_auth_failed) {
        static const char challenge[] =
                "WWW-Authenticate: Digest realm=\"r1\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\"\r\n"
                "WWW-Authenticate: Digest realm=\"r1\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"\r\n";
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        Gw__SipRequest req;
        char target[64], seen[8192];
        int peer = -1;

        start(&e, &m, &out);
        snprintf(target, sizeof(target), "127.0.0.8:%u", gw_test_udp_port("127.0.0.8", &peer));
        fill_register(&req, target, 3000);
        ASSERT_EQ(manager_submit(m, 10, &req), 0);
        ASSERT_TRUE(peer_answer(e, peer, 401, "Unauthorized", challenge, NULL, 0));
        /* SHA-256 is preferred over MD5; the retry carries CSeq 2 */
        ASSERT_TRUE(peer_answer(e, peer, 401, "Unauthorized", challenge, seen, sizeof(seen)));
        ASSERT_TRUE(strstr(seen, "algorithm=SHA-256") != NULL);
        ASSERT_TRUE(strstr(seen, "CSeq: 2 REGISTER") != NULL);
        ASSERT_TRUE(strstr(seen, "s3cret") == NULL);
        run_until(e, &out, 1, 2 * USEC_PER_SEC);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_AUTH_FAILED);
        ASSERT_EQ(out.status, 401);
        ASSERT_EQ(out.cseq, 2);
        ASSERT_EQ(m->counters.auth_challenges, 2);
        close(peer);
        manager_free(m);
        sd_event_unref(e);
}

TEST(stale_nonce_is_retried_and_423_reports_min_expires) {
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        Gw__SipRequest req;
        char target[64], seen[8192];
        int peer = -1;

        start(&e, &m, &out);
        snprintf(target, sizeof(target), "127.0.0.9:%u", gw_test_udp_port("127.0.0.9", &peer));
        fill_register(&req, target, 3000);
        ASSERT_EQ(manager_submit(m, 11, &req), 0);
        ASSERT_TRUE(peer_answer(e, peer, 401, "Unauthorized", "WWW-Authenticate: Digest realm=\"r\", nonce=\"n1\"\r\n", NULL, 0));
        ASSERT_TRUE(peer_answer(e, peer, 401, "Unauthorized",
                                "WWW-Authenticate: Digest realm=\"r\", nonce=\"n2\", stale=true\r\n", seen, sizeof(seen)));
        ASSERT_TRUE(strstr(seen, "nonce=\"n1\"") != NULL);
        ASSERT_TRUE(peer_answer(e, peer, 423, "Interval Too Brief", "Min-Expires: 900\r\nRetry-After: 5\r\n", seen, sizeof(seen)));
        ASSERT_TRUE(strstr(seen, "nonce=\"n2\"") != NULL);
        ASSERT_TRUE(strstr(seen, "CSeq: 3 REGISTER") != NULL);
        run_until(e, &out, 1, 2 * USEC_PER_SEC);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_RESPONSE);
        ASSERT_EQ(out.status, 423);
        ASSERT_EQ(out.cseq, 3);
        ASSERT_EQ(out.min_expires_s, 900);
        ASSERT_EQ(out.retry_after_s, 5);
        close(peer);
        manager_free(m);
        sd_event_unref(e);
}

TEST(ipv6_icmp_and_options) {
        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        Gw__SipRequest req;
        char target[64], buf[4096];
        int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ssize_t k = -1;

        if (fd < 0 || bind(fd, (struct sockaddr *) &sin6, sizeof(sin6)) < 0) {
                fprintf(stderr, "No IPv6 loopback, skipping this test.\n");
                if (fd >= 0)
                        close(fd);
                return;
        }
        close(fd);
        /* a closed port, reserved: nobody binds it meanwhile */
        snprintf(target, sizeof(target), "[::1]:%u", gw_test_udp_port("::1", NULL));

        make_conf();
        memset(&conf.sip_listen_addr, 0, sizeof(conf.sip_listen_addr));
        ((struct sockaddr_in6 *) &conf.sip_listen_addr)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *) &conf.sip_listen_addr)->sin6_addr = in6addr_loopback;
        ASSERT_OK(gw_parse_cidr("::1/128", &conf.trusted_sources[0]));
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(manager_new(e, &conf, &m));
        ASSERT_OK(manager_start(m));
        manager_set_outcome_callback(m, on_outcome, &out);
        ASSERT_STREQ(m->via_host, "[::1]");

        fill_register(&req, target, 2000);
        ASSERT_EQ(manager_submit(m, 60, &req), 0);
        run_until(e, &out, 1, 3 * USEC_PER_SEC);
        ASSERT_EQ(out.kind, GW__SIP_OUTCOME_KIND__OUTCOME_TRANSPORT);
        ASSERT_STREQ(out.error, "Connection refused");

        /* and an OPTIONS over IPv6 is answered */
        fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sin6.sin6_port = 0;
        ASSERT_OK(bind(fd, (struct sockaddr *) &sin6, sizeof(sin6)));
        {
                static const char options[] =
                        "OPTIONS sip:gw@[::1] SIP/2.0\r\n"
                        "Via: SIP/2.0/UDP [::1]:9;rport;branch=z9hG4bKv6opt01\r\n"
                        "From: <sip:probe@[::1]>;tag=1\r\nTo: <sip:gw@[::1]>\r\n"
                        "Call-ID: v6-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
                ASSERT_EQ(sendto(fd, options, strlen(options), 0, (struct sockaddr *) &m->local, m->local_len),
                          (ssize_t) strlen(options));
        }
        for (unsigned i = 0; i < 40 && k < 0; i++) {
                ASSERT_OK(sd_event_run(e, 50 * USEC_PER_MSEC));
                k = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        }
        ASSERT_TRUE(k > 0);
        buf[k] = 0;
        ASSERT_TRUE(strncmp(buf, "SIP/2.0 200 OK\r\n", 16) == 0);
        close(fd);
        manager_free(m);
        sd_event_unref(e);
}

DEFINE_TEST_MAIN

/* The SIP socket outlives sigd: a new instance passed the previous one's
 * socket (here by hand, as the supervisor does with LISTEN_FDS) takes it, and
 * answers what arrived while no sigd ran. A passed "sip" socket bound
 * elsewhere, and sockets of other names, are closed. */
TEST(kept_socket_is_adopted) {
        static const char options[] =
                "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.5:9;rport;branch=z9hG4bKkept0001\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:probe@127.0.0.5>;tag=1\r\n"
                "To: <sip:gw@127.0.0.1>\r\n"
                "Call-ID: kept-opt-1\r\n"
                "CSeq: 1 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n";
        sd_event *e = NULL;
        Manager *m = NULL;
        Outcome out = {};
        int peer = -1, kept, wrong = -1, junk = -1, e_err = 0;
        socklen_t elen = sizeof(e_err);
        struct sockaddr_storage bound;
        socklen_t bound_len;
        char buf[4096];
        ssize_t k = -1;
        GwFdSet *set;

        /* The first sigd binds (port chosen by the kernel); the supervisor keeps a copy. */
        start(&e, &m, &out);
        ASSERT_FALSE(m->counters.socket_inherited);
        kept = fcntl(m->fd, F_DUPFD_CLOEXEC, 3);
        ASSERT_TRUE(kept >= 0);
        bound = m->local;
        bound_len = m->local_len;
        manager_free(m);

        /* While no sigd runs, an OPTIONS arrives: it waits, no ICMP error. */
        (void) gw_test_udp_port("127.0.0.5", &peer);
        ASSERT_EQ(sendto(peer, options, strlen(options), 0, (struct sockaddr *) &bound, bound_len),
                  (ssize_t) strlen(options));

        conf.sip_listen_addr = bound;                          /* the next start: sip.listen with its port */
        ASSERT_OK(manager_new(e, &conf, &m));
        set = gw_fdset_new();
        ASSERT_NOT_NULL(set);
        (void) gw_test_udp_port("127.0.0.1", &wrong);
        (void) gw_test_udp_port("127.0.0.1", &junk);
        ASSERT_OK(gw_fdset_add(set, wrong, SIGD_FDNAME_SIP));
        ASSERT_OK(gw_fdset_add(set, kept, SIGD_FDNAME_SIP));
        ASSERT_OK(gw_fdset_add(set, junk, "unrelated"));
        m->inherited_fds = set;
        ASSERT_OK(manager_start(m));
        ASSERT_TRUE(m->counters.socket_inherited);
        ASSERT_EQ(m->fd, kept);
        ASSERT_EQ(gw_fdset_size(set), 0);
        for (unsigned i = 0; i < 40 && k < 0; i++) {
                ASSERT_OK(sd_event_run(e, 50 * USEC_PER_MSEC));
                k = recv(peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        }
        ASSERT_TRUE(k > 0);
        buf[k] = 0;
        ASSERT_TRUE(strncmp(buf, "SIP/2.0 200 OK\r\n", 16) == 0);
        ASSERT_TRUE(strstr(buf, "kept-opt-1") != NULL);
        ASSERT_EQ(m->counters.rx_waited, 1);
        ASSERT_OK(getsockopt(peer, SOL_SOCKET, SO_ERROR, &e_err, &elen));
        ASSERT_EQ(e_err, 0);
        /* Set on the passed socket too: ICMP errors still reach the transactions. */
        {
                int on = 0;
                socklen_t l = sizeof(on);
                ASSERT_OK(getsockopt(m->fd, SOL_IP, IP_RECVERR, &on, &l));
                ASSERT_EQ(on, 1);
        }
        close(peer);
        manager_free(m);
        sd_event_unref(e);
}
