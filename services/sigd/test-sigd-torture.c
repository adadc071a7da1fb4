/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sigd-torture.c: RFC 4475 torture messages and random mutations through
 * manager_handle_datagram(), the path the socket feeds (message_handle_datagram()). Outgoing
 * datagrams are captured by the tx hook, so nothing leaves the process. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-build-config.h"
#include "gw-log.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "sigd-manager.h"

#define TORTURE_DIR GW_SOURCE_ROOT "/tests/sip-torture"

typedef struct Captured {
        unsigned n;
        unsigned status;                 /* of the last response sent */
        struct sockaddr_storage to;
        char first[4096];
} Captured;

static int capture(Manager *m, const char *buf, size_t n, const struct sockaddr *to, socklen_t tolen, void *u) {
        Captured *c = u;

        c->n++;
        if (n > 12 && strncmp(buf, "SIP/2.0 ", 8) == 0)
                c->status = (unsigned) atoi(buf + 8);
        memcpy(&c->to, to, MIN((size_t) tolen, sizeof(c->to)));
        snprintf(c->first, sizeof(c->first), "%.*s", (int) MIN(n, sizeof(c->first) - 1), buf);
        return 1;                        /* consumed: never sent */
}

typedef struct Expect {
        const char *file;
        RxDisposition disposition;
        unsigned status;                 /* RX_ANSWERED */
        unsigned alt_status;             /* also acceptable, 0: none */
} Expect;

/* From the README's "expected handling", as an endpoint that is no registrar and has no line
 * with these numbers (an INVITE is answered 404). */
static const Expect expectations[] = {
        /* 3.1.1 valid */
        { "wsinv.dat", RX_ANSWERED, 481 },            /* its To has a tag: a dialog we do not know */
        { "intmeth.dat", RX_ANSWERED, 501 },
        { "esc01.dat", RX_ANSWERED, 404 },
        { "escnull.dat", RX_ANSWERED, 405 },
        { "esc02.dat", RX_ANSWERED, 501 },
        { "lwsdisp.dat", RX_ANSWERED, 200 },
        { "longreq.dat", RX_ANSWERED, 404 },
        { "dblreq.dat", RX_ANSWERED, 405 },
        { "semiuri.dat", RX_ANSWERED, 200 },
        { "transports.dat", RX_ANSWERED, 200 },
        { "mpart01.dat", RX_ANSWERED, 501 },
        { "unreason.dat", RX_RESPONSE_UNMATCHED },
        { "noreason.dat", RX_RESPONSE_UNMATCHED },
        /* 3.1.2 invalid */
        { "badinv01.dat", RX_ANSWERED, 400 },
        { "clerr.dat", RX_ANSWERED, 400 },
        { "ncl.dat", RX_ANSWERED, 400 },
        { "scalar02.dat", RX_ANSWERED, 400 },
        { "scalarlg.dat", RX_DROPPED_MALFORMED },
        { "quotbal.dat", RX_ANSWERED, 400 },
        { "ltgtruri.dat", RX_ANSWERED, 400 },
        { "lwsruri.dat", RX_ANSWERED, 400 },
        { "lwsstart.dat", RX_ANSWERED, 400 },
        { "trws.dat", RX_ANSWERED, 400 },
        { "escruri.dat", RX_ANSWERED, 400 },
        { "baddate.dat", RX_ANSWERED, 404 },          /* the Date does not matter to us */
        { "regbadct.dat", RX_ANSWERED, 400 },
        { "badaspec.dat", RX_ANSWERED, 400 },
        { "baddn.dat", RX_ANSWERED, 400 },
        { "badvers.dat", RX_ANSWERED, 505 },
        { "mismatch01.dat", RX_ANSWERED, 400 },
        { "mismatch02.dat", RX_ANSWERED, 400, 501 },
        { "bigcode.dat", RX_DROPPED_MALFORMED },
        /* 3.2 transaction layer */
        { "badbranch.dat", RX_ANSWERED, 400 },
        /* 3.3 application layer */
        { "insuf.dat", RX_ANSWERED, 400 },
        { "unkscm.dat", RX_ANSWERED, 416 },
        { "novelsc.dat", RX_ANSWERED, 416 },
        { "unksm2.dat", RX_ANSWERED, 400 },
        { "bext01.dat", RX_ANSWERED, 420 },
        { "invut.dat", RX_ANSWERED, 415 },
        { "regaut01.dat", RX_ANSWERED, 405 },
        { "multi01.dat", RX_ANSWERED, 400 },
        { "mcl01.dat", RX_ANSWERED, 400 },
        { "bcast.dat", RX_RESPONSE_UNMATCHED },
        { "zeromf.dat", RX_ANSWERED, 200 },
        { "cparam01.dat", RX_ANSWERED, 405 },
        { "cparam02.dat", RX_ANSWERED, 405 },
        { "regescrt.dat", RX_ANSWERED, 405 },
        { "sdp01.dat", RX_ANSWERED, 406 },
        /* 3.4 backward compatibility */
        { "inv2543.dat", RX_ANSWERED, 404 },
};

static char *read_file(const char *name, size_t *ret_n) {
        char path[512];
        FILE *f;
        char *buf;
        size_t n;

        snprintf(path, sizeof(path), "%s/%s", TORTURE_DIR, name);
        f = fopen(path, "rb");
        if (!f)
                return NULL;
        buf = malloc(70000);
        n = fread(buf, 1, 70000, f);
        fclose(f);
        *ret_n = n;
        return buf;
}

static GwConf conf;
static sd_event *event;

static void setup(Manager **ret, Captured *cap) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &conf.sip_listen_addr;

        sin->sin_family = AF_INET;
        inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
        conf.n_trusted_sources = 0;
        ASSERT_OK(gw_parse_cidr("127.0.0.0/8", &conf.trusted_sources[conf.n_trusted_sources++]));
        if (!event)
                ASSERT_OK(sd_event_new(&event));
        ASSERT_OK(manager_new(event, &conf, ret));
        manager_set_tx_hook(*ret, capture, cap);
}

static struct sockaddr_in source(void) {
        struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = htons(40123) };
        inet_pton(AF_INET, "127.0.0.77", &from.sin_addr);
        return from;
}

TEST(torture_table) {
        Manager *m = NULL;
        Captured cap = {};
        struct sockaddr_in from = source();
        unsigned checked = 0;
        size_t probe_n;
        char *probe = read_file("wsinv.dat", &probe_n);

        /* The messages are part of the tree: missing is a failure, not a skip. */
        if (!probe)
                GW_TEST_FAIL("no torture messages in %s", TORTURE_DIR);
        free(probe);

        for (size_t i = 0; i < ELEMENTSOF(expectations); i++) {
                const Expect *e = &expectations[i];
                size_t n;
                char *buf = read_file(e->file, &n);
                RxResult rx = {};
                uint64_t malformed = 0;

                ASSERT_NOT_NULL(buf);
                /* a fresh manager per message: some share a branch and would be retransmissions */
                setup(&m, &cap);
                malformed = m->counters.malformed;
                cap.n = 0;
                cap.status = 0;
                ASSERT_OK(manager_handle_datagram(m, buf, n, (struct sockaddr *) &from, sizeof(from), &rx));
                fprintf(stderr, "%-16s %-20s %u\n", e->file, rx_disposition_to_string(rx.disposition), rx.status);
                if (rx.disposition != e->disposition ||
                    (e->disposition == RX_ANSWERED && rx.status != e->status && rx.status != e->alt_status))
                        GW_TEST_FAIL("%s: got %s %u, expected %s %u", e->file, rx_disposition_to_string(rx.disposition),
                                     rx.status, rx_disposition_to_string(e->disposition), e->status);
                if (e->disposition == RX_ANSWERED) {
                        /* exactly one response, with that status, back to the source address */
                        ASSERT_EQ(cap.n, 1);
                        ASSERT_EQ(cap.status, rx.status);
                        ASSERT_EQ(((struct sockaddr_in *) &cap.to)->sin_addr.s_addr, from.sin_addr.s_addr);
                        ASSERT_TRUE(strstr(cap.first, "received=127.0.0.77") != NULL);
                } else
                        ASSERT_EQ(cap.n, 0);
                if (rx.status == 400 || rx.status == 505 || e->disposition == RX_DROPPED_MALFORMED)
                        ASSERT_EQ(m->counters.malformed, malformed + 1);
                free(buf);
                m = manager_free(m);
                checked++;
        }

        /* Every file of the directory has a row. */
        ASSERT_EQ(checked, 49);
}

TEST(options_answer_and_retransmission) {
        static const char options[] =
                "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.77:5099;rport;branch=z9hG4bKabcdef0123\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:probe@127.0.0.77>;tag=1\r\n"
                "To: <sip:gw@127.0.0.1>\r\n"
                "Call-ID: opt-1@127.0.0.77\r\n"
                "CSeq: 1 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n";
        Manager *m = NULL;
        Captured cap = {};
        struct sockaddr_in from = source();
        RxResult rx;

        setup(&m, &cap);
        ASSERT_OK(manager_handle_datagram(m, options, strlen(options), (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_ANSWERED);
        ASSERT_EQ(rx.status, 200);
        ASSERT_EQ(cap.n, 1);
        ASSERT_TRUE(strstr(cap.first, "Allow: ") != NULL);
        ASSERT_TRUE(strstr(cap.first, "Accept: application/sdp") != NULL);
        ASSERT_TRUE(strstr(cap.first, "rport=40123") != NULL);
        /* rport: answered at the source port, not the Via's 5099 */
        ASSERT_EQ(ntohs(((struct sockaddr_in *) &cap.to)->sin_port), 40123);

        /* the same request again: the server transaction repeats its answer */
        ASSERT_OK(manager_handle_datagram(m, options, strlen(options), (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_RETRANSMISSION);
        ASSERT_EQ(cap.n, 2);
        ASSERT_EQ(cap.status, 200);
        manager_free(m);
}

TEST(untrusted_sources) {
        static const char options[] =
                "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.77:5099;branch=z9hG4bKtrust0001\r\n"
                "From: <sip:probe@127.0.0.77>;tag=1\r\n"
                "To: <sip:gw@127.0.0.1>\r\n"
                "Call-ID: trust-1\r\n"
                "CSeq: 1 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n";
        GwProfileConf profile = { .name = (char *) "p",
                                  .proxy = { .text = (char *) "127.0.0.77:5060", .host = (char *) "127.0.0.77",
                                             .port = 5060, .is_ip = true } };
        Manager *m = NULL;
        Captured cap = {};
        struct sockaddr_in from = source();
        RxResult rx;

        setup(&m, &cap);
        conf.n_trusted_sources = 0;             /* only the profiles' proxies now */
        ASSERT_OK(manager_handle_datagram(m, options, strlen(options), (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_DROPPED_UNTRUSTED);
        ASSERT_EQ(cap.n, 0);
        ASSERT_EQ(m->counters.untrusted, 1);
        /* even a malformed one gets no answer */
        ASSERT_OK(manager_handle_datagram(m, "OPTIONS  sip:x SIP/2.0\r\n\r\n", 26, (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_DROPPED_UNTRUSTED);

        conf.profiles = &profile;
        conf.n_profiles = 1;
        ASSERT_OK(manager_handle_datagram(m, options, strlen(options), (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_ANSWERED);
        ASSERT_EQ(rx.status, 200);
        conf.profiles = NULL;
        conf.n_profiles = 0;
        manager_free(m);
}

TEST(sizes_and_keepalive) {
        Manager *m = NULL;
        Captured cap = {};
        struct sockaddr_in from = source();
        RxResult rx;
        char *big = calloc(1, SIGD_MAX_DATAGRAM + 2);

        setup(&m, &cap);
        ASSERT_OK(manager_handle_datagram(m, "", 0, (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_DROPPED_SIZE);
        ASSERT_OK(manager_handle_datagram(m, "\r\n\r\n", 4, (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_DROPPED_SIZE);
        memset(big, 'A', SIGD_MAX_DATAGRAM + 1);
        ASSERT_OK(manager_handle_datagram(m, big, SIGD_MAX_DATAGRAM + 1, (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_DROPPED_SIZE);
        ASSERT_OK(manager_handle_datagram(m, "garbage", 7, (struct sockaddr *) &from, sizeof(from), &rx));
        ASSERT_EQ(rx.disposition, RX_DROPPED_MALFORMED);
        ASSERT_EQ(cap.n, 0);
        ASSERT_EQ(m->counters.dropped, 4);
        free(big);
        manager_free(m);
}

TEST(random_mutations) {
        static const char *const files[] = { "wsinv.dat", "longreq.dat", "mpart01.dat", "zeromf.dat",
                                             "cparam01.dat", "unreason.dat", "inv2543.dat", "esc01.dat" };
        Manager *m = NULL;
        Captured cap = {};
        struct sockaddr_in from = source();
        unsigned seed = 4475, runs = 0;

        setup(&m, &cap);
        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                size_t n;
                char *orig = read_file(files[f], &n);
                if (!orig)
                        gw_test_skip("'%s/%s' not readable", TORTURE_DIR, files[f]);
                for (unsigned i = 0; i < 400; i++) {
                        char *buf = malloc(n + 16);
                        size_t len = n;
                        RxResult rx;

                        memcpy(buf, orig, n);
                        for (unsigned k = 0, edits = 1 + rand_r(&seed) % 8; k < edits; k++) {
                                size_t at = (size_t) rand_r(&seed) % len;
                                switch (rand_r(&seed) % 4) {
                                case 0: buf[at] = (char) rand_r(&seed); break;              /* flip a byte */
                                case 1: buf[at] = "\r\n :;,<>\"@\0"[rand_r(&seed) % 11]; break;
                                case 2: len = at + 1; break;                                 /* truncate */
                                case 3: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
                                }
                                if (len < 2)
                                        break;
                        }
                        ASSERT_OK(manager_handle_datagram(m, buf, len, (struct sockaddr *) &from, sizeof(from), &rx));
                        ASSERT_TRUE(rx.disposition >= 0 && rx.disposition < _RX_DISPOSITION_MAX);
                        free(buf);
                        runs++;
                }
                free(orig);
        }
        fprintf(stderr, "%u mutated datagrams: rx %llu, malformed %llu, answered/tx %llu\n", runs,
                (unsigned long long) m->counters.rx, (unsigned long long) m->counters.malformed,
                (unsigned long long) m->counters.tx);
        manager_free(m);
}

DEFINE_TEST_MAIN
