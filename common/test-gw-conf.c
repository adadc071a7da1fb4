/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-conf.c: configuration parsing — value parsers, every good and bad example file,
 * defaults, the dump (no secrets), and docs/CONFIG.md against the key table.
 * Runs from the source root (meson workdir). */

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <syslog.h>

#include "gw-conf.h"
#include "gw-tests.h"

/* ---- value parsers ---- */

TEST(duration) {
        static const struct {
                const char *s;
                int r;
                uint64_t usec;
        } cases[] = {
                { "500ms", 0, 500 * USEC_PER_MSEC },
                { "32s", 0, 32 * USEC_PER_SEC },
                { "5m", 0, 300 * USEC_PER_SEC },
                { "5min", 0, 300 * USEC_PER_SEC },
                { "1h", 0, 3600 * USEC_PER_SEC },
                { "250us", 0, 250 },
                { "30", 0, 30 * USEC_PER_SEC },
                { "0", 0, 0 },
                { "0ms", 0, 0 },
                { "18446744073709551615us", 0, UINT64_MAX },
                { "18446744073709551616us", -ERANGE, 0 },
                { "99999999999999999999h", -ERANGE, 0 },
                { "5124095576030431h", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "-5s", -EINVAL, 0 },
                { "+5s", -EINVAL, 0 },
                { " 5s", -EINVAL, 0 },
                { "5 s", -EINVAL, 0 },
                { "5s ", -EINVAL, 0 },
                { "1.5s", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { "5d", -EINVAL, 0 },
                { "5S", -EINVAL, 0 },
                { "1m30s", -EINVAL, 0 },
                { "abc", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 12345;
                int r = gw_parse_duration(cases[i].s, &v);

                if (r != cases[i].r)
                        GW_TEST_FAIL("gw_parse_duration(\"%s\") = %d, expected %d", cases[i].s, r, cases[i].r);
                ASSERT_EQ(v, cases[i].r == 0 ? cases[i].usec : 12345);
        }
        ASSERT_ERROR(gw_parse_duration(NULL, &(uint64_t){ 0 }), EINVAL);
}

TEST(host_port) {
        static const struct {
                const char *s;
                const char *host;          /* NULL: must fail */
                uint16_t port;
                bool is_ip;
        } cases[] = {
                { "sip.example.net", "sip.example.net", 0, false },
                { "sip.example.net:5060", "sip.example.net", 5060, false },
                { "SIP-2.Example.NET:1", "SIP-2.Example.NET", 1, false },
                { "localhost", "localhost", 0, false },
                { "192.0.2.20:5070", "192.0.2.20", 5070, true },
                { "192.0.2.20", "192.0.2.20", 0, true },
                { "[2001:db8::1]:5080", "2001:db8::1", 5080, true },
                { "[::1]", "::1", 0, true },
                { "2001:db8::1", "2001:db8::1", 0, true },
                { "::ffff:192.0.2.1", "::ffff:192.0.2.1", 0, true },
                { "a.b:65535", "a.b", 65535, false },
                { "x:y:z", NULL, 0, false },
                { "", NULL, 0, false },
                { ":5060", NULL, 0, false },
                { "host:", NULL, 0, false },
                { "host:0", NULL, 0, false },
                { "host:65536", NULL, 0, false },
                { "host:-1", NULL, 0, false },
                { "host:50a", NULL, 0, false },
                { "-host.example", NULL, 0, false },
                { "host-.example", NULL, 0, false },
                { "a..b", NULL, 0, false },
                { "a.b.", NULL, 0, false },
                { "ho_st", NULL, 0, false },
                { "ho st", NULL, 0, false },
                { "192.0.2.300", NULL, 0, false },
                { "1.2.3", NULL, 0, false },
                { "[2001:db8::1]5060", NULL, 0, false },
                { "[2001:db8::1", NULL, 0, false },
                { "[sip.example.net]:5060", NULL, 0, false },
                { "[192.0.2.1]:5060", NULL, 0, false },
                { "2001:db8::g", NULL, 0, false },
                { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.net", NULL, 0, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                GwHostPort hp = {};
                int r = gw_parse_host_port(cases[i].s, &hp);

                if (!cases[i].host) {
                        if (r != -EINVAL)
                                GW_TEST_FAIL("gw_parse_host_port(\"%s\") = %d, expected -EINVAL", cases[i].s, r);
                        ASSERT_TRUE(hp.text == NULL && hp.host == NULL);
                        continue;
                }
                if (r < 0)
                        GW_TEST_FAIL("gw_parse_host_port(\"%s\") = %d", cases[i].s, r);
                ASSERT_STREQ(hp.text, cases[i].s);
                ASSERT_STREQ(hp.host, cases[i].host);
                ASSERT_EQ(hp.port, cases[i].port);
                ASSERT_EQ(hp.is_ip, cases[i].is_ip);
                gw_host_port_done(&hp);
                ASSERT_TRUE(hp.text == NULL && hp.host == NULL);
        }
        ASSERT_ERROR(gw_parse_host_port(NULL, &(GwHostPort){}), EINVAL);
}

TEST(sockaddr) {
        struct sockaddr_storage ss;
        char buf[INET6_ADDRSTRLEN];

        ASSERT_OK(gw_parse_sockaddr("127.0.0.1:5062", 5060, &ss));
        ASSERT_EQ(ss.ss_family, AF_INET);
        ASSERT_EQ(ntohs(((struct sockaddr_in *) &ss)->sin_port), 5062);
        ASSERT_STREQ(inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, buf, sizeof buf), "127.0.0.1");

        ASSERT_OK(gw_parse_sockaddr("192.0.2.1", 5060, &ss));
        ASSERT_EQ(ntohs(((struct sockaddr_in *) &ss)->sin_port), 5060);

        ASSERT_OK(gw_parse_sockaddr("[::1]:5070", 0, &ss));
        ASSERT_EQ(ss.ss_family, AF_INET6);
        ASSERT_EQ(ntohs(((struct sockaddr_in6 *) &ss)->sin6_port), 5070);
        ASSERT_TRUE(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *) &ss)->sin6_addr));

        ASSERT_OK(gw_parse_sockaddr("2001:db8::1", 53, &ss));
        ASSERT_EQ(ntohs(((struct sockaddr_in6 *) &ss)->sin6_port), 53);

        ASSERT_ERROR(gw_parse_sockaddr("192.0.2.1", 0, &ss), EINVAL);       /* no port at all */
        ASSERT_ERROR(gw_parse_sockaddr("localhost:5060", 0, &ss), EINVAL);  /* not an IP */
        ASSERT_ERROR(gw_parse_sockaddr("1.2.3.4:x", 0, &ss), EINVAL);
        ASSERT_ERROR(gw_parse_sockaddr("", 5060, &ss), EINVAL);
}

static struct sockaddr_storage sa(const char *s) {
        struct sockaddr_storage ss;

        if (gw_parse_sockaddr(s, 9, &ss) < 0)
                GW_TEST_FAIL("bad test address '%s'", s);
        return ss;
}

TEST(cidr) {
        static const struct {
                const char *cidr;
                const char *addr;
                bool match;
        } cases[] = {
                { "192.0.2.0/24", "192.0.2.1", true },
                { "192.0.2.0/24", "192.0.2.255", true },
                { "192.0.2.0/24", "192.0.3.1", false },
                { "192.0.2.0/24", "::ffff:192.0.2.7", true },   /* v4-mapped on a dual-stack socket */
                { "192.0.2.0/24", "::ffff:192.0.3.7", false },
                { "192.0.2.0/24", "2001:db8::1", false },
                { "10.1.2.3/8", "10.200.0.1", true },           /* host bits are dropped */
                { "10.0.0.0/9", "10.127.0.1", true },
                { "10.0.0.0/9", "10.128.0.1", false },
                { "0.0.0.0/0", "203.0.113.9", true },
                { "198.51.100.7", "198.51.100.7", true },       /* bare address: /32 */
                { "198.51.100.7", "198.51.100.8", false },
                { "2001:db8::/32", "2001:db8:ffff::1", true },
                { "2001:db8::/32", "2001:db9::1", false },
                { "2001:db8::/32", "192.0.2.1", false },
                { "2001:db8::1/127", "2001:db8::0", true },
                { "2001:db8::1/128", "2001:db8::0", false },
                { "::/0", "::1", true },
        };
        static const char *const bad[] = {
                "", "192.0.2.0/33", "2001:db8::/129", "192.0.2.0/", "192.0.2.0/-1", "192.0.2.0/2x",
                "sip.example.net/24", "192.0.2/24", "/24", "192.0.2.0/24/1",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct sockaddr_storage ss = sa(cases[i].addr);
                GwCidr c;

                if (gw_parse_cidr(cases[i].cidr, &c) < 0)
                        GW_TEST_FAIL("gw_parse_cidr(\"%s\") failed", cases[i].cidr);
                if (gw_cidr_match(&c, (struct sockaddr *) &ss) != cases[i].match)
                        GW_TEST_FAIL("gw_cidr_match(%s, %s) != %d", cases[i].cidr, cases[i].addr, cases[i].match);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                GwCidr c;
                if (gw_parse_cidr(bad[i], &c) != -EINVAL)
                        GW_TEST_FAIL("gw_parse_cidr(\"%s\") did not fail", bad[i]);
        }
        ASSERT_FALSE(gw_cidr_match(NULL, NULL));
}

TEST(enums) {
        ASSERT_STREQ(redundancy_mode_to_string(REDUNDANCY_PARKING), "parking");
        ASSERT_STREQ(redundancy_mode_to_string(REDUNDANCY_HOMING), "homing");
        ASSERT_TRUE(redundancy_mode_to_string(_REDUNDANCY_MAX) == NULL);
        ASSERT_TRUE(redundancy_mode_to_string(_REDUNDANCY_INVALID) == NULL);
        ASSERT_EQ(redundancy_mode_from_string("parking"), REDUNDANCY_PARKING);
        ASSERT_EQ(redundancy_mode_from_string("homing"), REDUNDANCY_HOMING);
        ASSERT_EQ(redundancy_mode_from_string("Homing"), _REDUNDANCY_INVALID);
        ASSERT_EQ(redundancy_mode_from_string(NULL), _REDUNDANCY_INVALID);

        for (KeepaliveMode m = 0; m < _KEEPALIVE_MAX; m++)
                ASSERT_EQ(keepalive_mode_from_string(keepalive_mode_to_string(m)), m);
        ASSERT_STREQ(keepalive_mode_to_string(KEEPALIVE_OFF), "off");
        ASSERT_EQ(keepalive_mode_from_string("ping"), _KEEPALIVE_INVALID);
        ASSERT_TRUE(keepalive_mode_to_string(_KEEPALIVE_MAX) == NULL);

        for (GwSrtpMode m = 0; m < _GW_SRTP_MODE_MAX; m++)
                ASSERT_EQ(gw_srtp_mode_from_string(gw_srtp_mode_to_string(m)), m);
        ASSERT_STREQ(gw_srtp_mode_to_string(GW_SRTP_OPTIONAL), "optional");
        ASSERT_EQ(gw_srtp_mode_from_string("Mandatory"), _GW_SRTP_MODE_INVALID);
        ASSERT_EQ(gw_srtp_mode_from_string("on"), _GW_SRTP_MODE_INVALID);
        ASSERT_EQ(gw_srtp_mode_from_string(NULL), _GW_SRTP_MODE_INVALID);
        ASSERT_TRUE(gw_srtp_mode_to_string(_GW_SRTP_MODE_MAX) == NULL);
}

/* ---- files ---- */

static GwConf *load_ok(const char *path) {
        GwConf *c = NULL;
        char *error = NULL;
        int r;

        r = gw_conf_load(path, &c, &error);
        if (r < 0)
                GW_TEST_FAIL("loading '%s' failed: %d: %s", path, r, error ? error : "(no message)");
        ASSERT_TRUE(error == NULL);
        ASSERT_NOT_NULL(c);
        ASSERT_STREQ(c->path, path);
        return c;
}

static char *load_error(const char *name, const char *text) {
        GwConf *c = (GwConf *) UNCONST("untouched");
        char *error = NULL;

        ASSERT_ERROR(gw_conf_load_string(name, text, &c, &error), EINVAL);
        ASSERT_TRUE(c == (GwConf *) UNCONST("untouched"));
        ASSERT_NOT_NULL(error);
        return error;
}

TEST(good_files) {
        glob_t g = {};
        size_t n = 0;

        ASSERT_EQ(glob("tests/config/good-*.yaml", 0, NULL, &g), 0);
        ASSERT_OK(glob("config/fxsgw.yaml", GLOB_APPEND, NULL, &g));
        ASSERT_TRUE(g.gl_pathc >= 5);
        for (size_t i = 0; i < g.gl_pathc; i++) {
                GwConf *c = load_ok(g.gl_pathv[i]);

                /* Invariants of every loaded config. */
                ASSERT_TRUE(c->n_profiles >= 1 && c->n_lines >= 1);
                ASSERT_NOT_NULL(c->sip_listen);
                ASSERT_NOT_NULL(c->sip_advertised_address);
                ASSERT_TRUE(c->sip_listen_addr.ss_family == AF_INET || c->sip_listen_addr.ss_family == AF_INET6);
                for (size_t j = 0; j < c->n_profiles; j++) {
                        ASSERT_NOT_NULL(c->profiles[j].registrar.host);
                        ASSERT_NOT_NULL(c->profiles[j].domain);
                }
                for (size_t j = 0; j < c->n_lines; j++) {
                        const GwLineConf *l = &c->lines[j];
                        ASSERT_TRUE(l->profile_index < c->n_profiles);
                        ASSERT_STREQ(l->profile, c->profiles[l->profile_index].name);
                        ASSERT_NOT_NULL(l->auth_user);
                        ASSERT_TRUE(gw_conf_line_by_port(c, l->port) == l);
                }
                gw_conf_free(c);
                n++;
        }
        ASSERT_EQ(n, g.gl_pathc);
        globfree(&g);
}

TEST(defaults) {
        GwConf *c = load_ok("tests/config/good-minimal.yaml");
        const GwProfileConf *p = &c->profiles[0];
        const GwLineConf *l = &c->lines[0];

        ASSERT_STREQ(c->sip_listen, "0.0.0.0:5060");
        ASSERT_STREQ(c->sip_advertised_address, "0.0.0.0:5060");
        ASSERT_EQ(c->sip_listen_addr.ss_family, AF_INET);
        ASSERT_EQ(ntohs(((struct sockaddr_in *) &c->sip_listen_addr)->sin_port), 5060);
        ASSERT_EQ(c->n_trusted_sources, 0);
        ASSERT_EQ(c->n_dns_servers, 0);
        ASSERT_EQ(c->dns_min_ttl_us, 30 * USEC_PER_SEC);

        ASSERT_EQ(c->n_profiles, 1);
        ASSERT_STREQ(p->name, "provider");
        ASSERT_STREQ(p->proxy.host, "sip.example.net");
        ASSERT_EQ(p->proxy.port, 0);
        ASSERT_FALSE(p->proxy.is_ip);
        ASSERT_EQ(p->n_redundant, 0);
        ASSERT_EQ(p->redundancy_mode, REDUNDANCY_HOMING);
        ASSERT_EQ(p->keepalive, KEEPALIVE_OPTIONS);
        ASSERT_EQ(p->keepalive_period_us, 30 * USEC_PER_SEC);
        ASSERT_EQ(p->invite_total_timeout_us, 32 * USEC_PER_SEC);
        ASSERT_TRUE(p->register_lines);
        ASSERT_FALSE(p->registrar_set);
        ASSERT_STREQ(p->registrar.text, "sip.example.net");
        ASSERT_STREQ(p->registrar.host, "sip.example.net");
        ASSERT_TRUE(p->registrar.text != p->proxy.text);      /* a copy, freed on its own */
        ASSERT_EQ(p->register_expires_us, 3600 * USEC_PER_SEC);
        ASSERT_STREQ(p->domain, "sip.example.net");
        ASSERT_EQ(p->homing_confirm, 1);
        ASSERT_EQ(p->register_retry_base_us, 30 * USEC_PER_SEC);
        ASSERT_EQ(p->register_retry_max_us, 1800 * USEC_PER_SEC);
        ASSERT_EQ(p->register_forbidden_retry_us, 3600 * USEC_PER_SEC);
        ASSERT_EQ(p->srtp, GW_SRTP_OFF);
        ASSERT_EQ(c->media_srtp, GW_SRTP_OFF);

        ASSERT_EQ(c->n_lines, 1);
        ASSERT_EQ(l->port, 1);
        ASSERT_STREQ(l->number, "1001");
        ASSERT_STREQ(l->auth_user, "1001");
        ASSERT_TRUE(l->password == NULL);
        ASSERT_STREQ(l->profile, "provider");
        ASSERT_EQ(l->profile_index, 0);

        ASSERT_STREQ(c->line_hw_backend, "sim");
        ASSERT_EQ(c->watchdog_interval_us, 10 * USEC_PER_SEC);
        ASSERT_EQ(c->restart_limit, 10);
        ASSERT_STREQ(c->runtime_dir, "/run/fxsgw");
        for (size_t i = 0; i < ELEMENTSOF(c->bus_endpoints); i++)
                ASSERT_TRUE(c->bus_endpoints[i] == NULL);
        ASSERT_TRUE(c->bus_curve_secret_key == NULL && c->bus_curve_public_key == NULL);
        ASSERT_EQ(c->log_level, LOG_INFO);
        gw_conf_free(c);
}

TEST(full) {
        GwConf *c = load_ok("tests/config/good-full.yaml");
        const GwProfileConf *p, *b;
        struct sockaddr_storage ss;

        ASSERT_STREQ(c->sip_listen, "127.0.0.1:5062");
        ASSERT_STREQ(c->sip_advertised_address, "gw.example.net:5062");
        ASSERT_EQ(c->n_trusted_sources, 4);
        ss = sa("10.99.0.1");
        ASSERT_TRUE(gw_cidr_match(&c->trusted_sources[1], (struct sockaddr *) &ss));
        ASSERT_FALSE(gw_cidr_match(&c->trusted_sources[0], (struct sockaddr *) &ss));
        ss = sa("2001:db8:1::1");
        ASSERT_TRUE(gw_cidr_match(&c->trusted_sources[2], (struct sockaddr *) &ss));
        ASSERT_EQ(c->trusted_sources[3].prefix, 32);
        ASSERT_EQ(c->n_dns_servers, 3);
        ASSERT_STREQ(c->dns_servers[0], "127.0.0.1:5353");
        ASSERT_STREQ(c->dns_servers[1], "[::1]");
        ASSERT_STREQ(c->dns_servers[2], "192.0.2.53");
        ASSERT_EQ(c->dns_min_ttl_us, 300 * USEC_PER_SEC);

        ASSERT_EQ(c->n_profiles, 2);
        p = gw_conf_profile_by_name(c, "provider");
        b = gw_conf_profile_by_name(c, "backup-trunk");
        ASSERT_TRUE(p == &c->profiles[0] && b == &c->profiles[1]);
        ASSERT_TRUE(gw_conf_profile_by_name(c, "nosuch") == NULL);
        ASSERT_TRUE(gw_conf_profile_by_name(c, NULL) == NULL);

        ASSERT_STREQ(p->proxy.text, "sip.example.net:5060");
        ASSERT_EQ(p->proxy.port, 5060);
        ASSERT_EQ(p->n_redundant, 3);
        ASSERT_STREQ(p->redundant[0].host, "sip2.example.net");
        ASSERT_EQ(p->redundant[0].port, 0);
        ASSERT_STREQ(p->redundant[1].host, "192.0.2.20");
        ASSERT_EQ(p->redundant[1].port, 5070);
        ASSERT_TRUE(p->redundant[1].is_ip);
        ASSERT_STREQ(p->redundant[2].host, "2001:db8::1");
        ASSERT_EQ(p->redundant[2].port, 5080);
        ASSERT_EQ(p->redundancy_mode, REDUNDANCY_PARKING);
        ASSERT_EQ(p->keepalive, KEEPALIVE_REGISTER);
        ASSERT_EQ(p->keepalive_period_us, 500 * USEC_PER_MSEC);
        ASSERT_EQ(p->invite_total_timeout_us, 2 * USEC_PER_SEC);
        ASSERT_TRUE(p->register_lines);
        ASSERT_TRUE(p->registrar_set);
        ASSERT_STREQ(p->registrar.host, "reg.example.net");
        ASSERT_EQ(p->registrar.port, 5070);
        ASSERT_EQ(p->register_expires_us, 600 * USEC_PER_SEC);
        ASSERT_STREQ(p->domain, "example.net");
        ASSERT_EQ(p->homing_confirm, 3);
        ASSERT_EQ(p->register_retry_base_us, 250 * USEC_PER_MSEC);
        ASSERT_EQ(p->register_retry_max_us, 3600 * USEC_PER_SEC);
        ASSERT_EQ(p->register_forbidden_retry_us, 120 * USEC_PER_SEC);

        ASSERT_STREQ(b->proxy.host, "2001:db8::5");
        ASSERT_TRUE(b->proxy.is_ip);
        ASSERT_EQ(b->keepalive, KEEPALIVE_OFF);
        ASSERT_FALSE(b->register_lines);
        ASSERT_EQ(b->redundancy_mode, REDUNDANCY_HOMING);
        ASSERT_STREQ(b->registrar.host, "2001:db8::5");
        ASSERT_STREQ(b->domain, "2001:db8::5");
        ASSERT_EQ(c->media_srtp, GW_SRTP_MANDATORY);
        ASSERT_EQ(p->srtp, GW_SRTP_MANDATORY);                 /* inherited from media.srtp */
        ASSERT_EQ(b->srtp, GW_SRTP_OFF);                       /* its own */

        ASSERT_EQ(c->n_lines, 3);
        ASSERT_STREQ(c->lines[0].number, "+4930123");
        ASSERT_STREQ(c->lines[0].auth_user, "user-1@example.net");
        ASSERT_STREQ(c->lines[0].password, "s3cr3t-one");
        ASSERT_EQ(c->lines[0].profile_index, 0);
        ASSERT_STREQ(c->lines[1].number, "*#1002");
        ASSERT_STREQ(c->lines[1].auth_user, "*#1002");
        ASSERT_EQ(c->lines[1].profile_index, 1);
        ASSERT_EQ(c->lines[2].port, 24);
        ASSERT_STREQ(c->lines[2].number, "1024");
        ASSERT_STREQ(c->lines[2].profile, "provider");
        ASSERT_TRUE(c->lines[2].password == NULL);
        ASSERT_TRUE(gw_conf_line_by_port(c, 24) == &c->lines[2]);
        ASSERT_TRUE(gw_conf_line_by_port(c, 3) == NULL);

        ASSERT_EQ(c->watchdog_interval_us, 3 * USEC_PER_SEC);
        ASSERT_EQ(c->restart_limit, 5);
        ASSERT_STREQ(c->runtime_dir, "/tmp/fxsgw-test");
        ASSERT_STREQ(c->bus_endpoints[3], "ipc:///tmp/fxsgw-test/regd-bus");     /* SERVICE_REGD */
        ASSERT_TRUE(c->bus_endpoints[2] == NULL);
        ASSERT_EQ(c->log_level, LOG_DEBUG);
        gw_conf_free(c);
}

TEST(tcp_curve) {
        GwConf *c = load_ok("tests/config/good-tcp-curve.yaml");

        ASSERT_EQ(c->sip_listen_addr.ss_family, AF_INET6);
        ASSERT_STREQ(c->profiles[0].proxy.host, "2001:db8::10");
        ASSERT_STREQ(c->bus_endpoints[2], "tcp://10.0.0.2:7100");                 /* SERVICE_SIGD */
        ASSERT_STREQ(c->bus_endpoints[5], "tcp://linecard.example.net:7200");     /* SERVICE_LINEHWD */
        ASSERT_TRUE(c->bus_endpoints[1] == NULL && c->bus_endpoints[3] == NULL && c->bus_endpoints[4] == NULL);
        ASSERT_EQ(strlen(c->bus_curve_secret_key), 40);
        ASSERT_STREQ(c->bus_curve_public_key, "C/bd/uSWsI9D:f}n9ZjZcK+tCGrv2STVzmS^DMV[");
        ASSERT_EQ(c->log_level, LOG_WARNING);
        gw_conf_free(c);
}

TEST(example) {
        GwConf *c = load_ok("config/fxsgw.yaml");

        ASSERT_EQ(c->n_profiles, 1);
        ASSERT_EQ(c->n_lines, 4);
        for (unsigned port = 1; port <= 4; port++) {
                const GwLineConf *l = gw_conf_line_by_port(c, port);
                ASSERT_NOT_NULL(l);
                ASSERT_EQ(l->profile_index, 0);
                ASSERT_NOT_NULL(l->password);
        }
        ASSERT_STREQ(c->profiles[0].registrar.host, "127.0.0.2");
        ASSERT_EQ(c->profiles[0].n_redundant, 2);
        gw_conf_free(c);
}

static char *read_first_line(const char *path) {
        char *line = NULL;
        size_t n = 0;
        ssize_t k;
        FILE *f = fopen(path, "re");

        ASSERT_NOT_NULL(f);
        k = getline(&line, &n, f);
        fclose(f);
        ASSERT_TRUE(k > 0);
        if (line[k - 1] == '\n')
                line[k - 1] = '\0';
        return line;
}

TEST(bad_files) {
        static const char prefix[] = "# expect: ";
        glob_t g = {};

        ASSERT_EQ(glob("tests/config/bad-*.yaml", 0, NULL, &g), 0);
        ASSERT_TRUE(g.gl_pathc >= 25);
        for (size_t i = 0; i < g.gl_pathc; i++) {
                GwConf *c = (GwConf *) UNCONST("untouched");
                char *expect = read_first_line(g.gl_pathv[i]), *error = NULL;
                int r;

                if (strncmp(expect, prefix, strlen(prefix)) != 0)
                        GW_TEST_FAIL("%s: first line is not '# expect: ...'", g.gl_pathv[i]);
                r = gw_conf_load(g.gl_pathv[i], &c, &error);
                if (r != -EINVAL)
                        GW_TEST_FAIL("%s: gw_conf_load() = %d, expected -EINVAL", g.gl_pathv[i], r);
                ASSERT_TRUE(c == (GwConf *) UNCONST("untouched"));
                ASSERT_STREQ(error, expect + strlen(prefix));
                free(error);
                free(expect);
        }
        globfree(&g);
}

TEST(empty_and_io) {
        char *error;
        GwConf *c = NULL;
        char path[] = "/tmp/test-gw-conf-XXXXXX";
        int fd;

        error = load_error("mem.yaml", "");
        ASSERT_STREQ(error, "mem.yaml:1:1: empty configuration");
        free(error);
        error = load_error("mem.yaml", "---\n");
        ASSERT_STREQ(error, "mem.yaml:2:1: empty configuration");
        free(error);
        error = load_error(NULL, "foo: 1\n");
        ASSERT_STREQ(error, "<string>:1:1: unknown key 'foo' at the top level");
        free(error);

        /* A 0-byte file on disk. */
        fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_ERROR(gw_conf_load(path, &c, &error), EINVAL);
        ASSERT_TRUE(strstr(error, ":1:1: empty configuration") != NULL);
        ASSERT_TRUE(strncmp(error, path, strlen(path)) == 0);
        free(error);

        /* A NUL byte in the file. */
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "sip:\0", 5), 5);
        close(fd);
        ASSERT_ERROR(gw_conf_load(path, &c, &error), EINVAL);
        ASSERT_TRUE(strstr(error, "NUL") != NULL);
        free(error);
        unlink(path);

        ASSERT_ERROR(gw_conf_load("tests/config/does-not-exist.yaml", &c, &error), ENOENT);
        ASSERT_STREQ(error, "tests/config/does-not-exist.yaml: No such file or directory");
        free(error);
        ASSERT_ERROR(gw_conf_load("tests/config", &c, &error), EISDIR);
        free(error);
        /* Without ret_error. */
        ASSERT_ERROR(gw_conf_load("tests/config/bad-empty.yaml", &c, NULL), EINVAL);
        ASSERT_TRUE(c == NULL);
}

/* head, then fmt (with two %u, both i) for i in 1..n: a macro so fmt stays a checked literal. */
#define repeat_entries(head, fmt, n) ({                                        \
                char *_buf_ = NULL;                                            \
                size_t _size_ = 0;                                             \
                FILE *_f_ = open_memstream(&_buf_, &_size_);                   \
                ASSERT_NOT_NULL(_f_);                                          \
                fputs((head), _f_);                                            \
                for (unsigned _i_ = 1; _i_ <= (unsigned) (n); _i_++)          \
                        fprintf(_f_, fmt, _i_, _i_);                           \
                fclose(_f_);                                                   \
                _buf_;                                                         \
        })

TEST(limits) {
        char *text, *error;
        GwConf *c;

        /* GW_CONF_MAX_PROFILES profiles load, one more does not. */
        text = repeat_entries("lines: [{port: 1, number: '1'}]\nprofiles:\n",
                              "  - {name: p%u, proxy: 'sip%u.example.net'}\n", GW_CONF_MAX_PROFILES);
        ASSERT_OK(gw_conf_load_string("many.yaml", text, &c, NULL));
        ASSERT_EQ(c->n_profiles, GW_CONF_MAX_PROFILES);
        gw_conf_free(c);
        free(text);
        text = repeat_entries("lines: [{port: 1, number: '1'}]\nprofiles:\n",
                              "  - {name: p%u, proxy: 'sip%u.example.net'}\n", GW_CONF_MAX_PROFILES + 1);
        error = load_error("many.yaml", text);
        ASSERT_STREQ(error, "many.yaml:67:5: key 'profiles': too many entries (max 64)");
        free(error);
        free(text);

        text = repeat_entries("profiles: [{name: p, proxy: 192.0.2.1}]\nlines:\n",
                              "  - {port: %u, number: '%u'}\n", GW_CONF_MAX_LINES);
        ASSERT_OK(gw_conf_load_string("lines.yaml", text, &c, NULL));
        ASSERT_EQ(c->n_lines, GW_CONF_MAX_LINES);
        ASSERT_STREQ(gw_conf_line_by_port(c, GW_CONF_MAX_LINES)->number, "1024");
        gw_conf_free(c);
        free(text);
        text = repeat_entries("profiles: [{name: p, proxy: 192.0.2.1}]\nlines:\n",
                              "  - {port: %u, number: '%u'}\n", GW_CONF_MAX_LINES + 1);
        error = load_error("lines.yaml", text);
        ASSERT_STREQ(error, "lines.yaml:1027:5: key 'lines': too many entries (max 1024)");
        free(error);
        free(text);

        /* The longest runtime_dir is fine, one more character is not. */
        ASSERT_OK(asprintf(&text, "profiles: [{name: p, proxy: a.b}]\nlines: [{port: 1, number: '1'}]\n"
                                  "bus: {runtime_dir: /%079d}\n", 0));
        ASSERT_OK(gw_conf_load_string("rd.yaml", text, &c, NULL));
        ASSERT_EQ(strlen(c->runtime_dir), 80);
        gw_conf_free(c);
        free(text);
        ASSERT_OK(asprintf(&text, "profiles: [{name: p, proxy: a.b}]\nlines: [{port: 1, number: '1'}]\n"
                                  "bus: {runtime_dir: /%080d}\n", 0));
        error = load_error("rd.yaml", text);
        ASSERT_TRUE(strstr(error, "rd.yaml:3:20: key 'bus.runtime_dir': '/0000") == error);
        ASSERT_TRUE(strstr(error, "too long for an ipc socket path (max 80)") != NULL);
        free(error);
        free(text);
}

/* Nothing after a key, ~ or null: an empty section or list, an unset optional value. */
TEST(nulls) {
        static const char text[] =
                "sip:\n"
                "dns: ~\n"
                "profiles:\n"
                "  - name: p\n"
                "    proxy: 192.0.2.1\n"
                "    redundant_proxies: null\n"
                "lines:\n"
                "  - {port: 1, number: '1', password: ~}\n"
                "  - {port: 2, number: '2', password: ''}\n"
                "  - {port: 3, number: '3', password: }\n"
                "bus:\n"
                "  endpoints: {sigd: ~}\n";
        GwConf *c = NULL;
        char *error;

        ASSERT_OK(gw_conf_load_string("nulls.yaml", text, &c, NULL));
        ASSERT_EQ(c->profiles[0].n_redundant, 0);
        ASSERT_TRUE(c->lines[0].password == NULL);
        ASSERT_STREQ(c->lines[1].password, "");
        ASSERT_TRUE(c->lines[2].password == NULL);
        ASSERT_TRUE(c->bus_endpoints[2] == NULL);
        gw_conf_free(c);

        /* A required scalar left empty is an empty value, refused as such. */
        error = load_error("nulls.yaml", "profiles: [{name: p, proxy: }]\nlines: [{port: 1, number: '1'}]\n");
        ASSERT_STREQ(error, "nulls.yaml:1:29: key 'profiles[0].proxy': expected host[:port], got ''");
        free(error);
}

/* Secrets never come back out: not in the dump, not in an error. */
TEST(secrets) {
        static const char base[] =
                "profiles: [{name: p, proxy: 192.0.2.1}]\n"
                "lines:\n"
                "  - port: 1\n"
                "    number: '1'\n";
        GwConf *c = load_ok("tests/config/good-full.yaml");
        char *buf = NULL, *text, *error;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ASSERT_NOT_NULL(f);
        gw_conf_dump(c, f);
        fclose(f);
        ASSERT_TRUE(strstr(buf, "s3cr3t") == NULL);
        ASSERT_TRUE(strstr(buf, "password: \"***\"") != NULL);
        gw_conf_free(c);
        free(buf);

        c = load_ok("tests/config/good-tcp-curve.yaml");
        f = open_memstream(&buf, &size);
        gw_conf_dump(c, f);
        fclose(f);
        ASSERT_TRUE(strstr(buf, "rHJL&IYQ") == NULL);
        ASSERT_TRUE(strstr(buf, "curve_secret_key: \"***\"") != NULL);
        ASSERT_TRUE(strstr(buf, "C/bd/uSWsI9D") != NULL);        /* the public key is not secret */
        gw_conf_free(c);
        free(buf);

        /* A password that does not fit, a curve secret key that is not Z85. */
        ASSERT_OK(asprintf(&text, "%s    password: '%0129d'\n", base, 7));
        error = load_error("pw.yaml", text);
        ASSERT_STREQ(error, "pw.yaml:5:15: key 'lines[0].password': expected at most 128 characters");
        free(error);
        free(text);
        ASSERT_OK(asprintf(&text, "%sbus: {curve_secret_key: 'hunter2-hunter2-hunter2-hunter2-hunter2'}\n", base));
        error = load_error("ck.yaml", text);
        ASSERT_TRUE(strstr(error, "hunter2") == NULL);
        ASSERT_TRUE(strstr(error, "key 'bus.curve_secret_key': expected a 40-character Z85 key") != NULL);
        free(error);
        free(text);
}

static char *dump_to_string(const GwConf *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ASSERT_NOT_NULL(f);
        gw_conf_dump(c, f);
        fclose(f);
        return buf;
}

/* The dump is valid configuration that means the same (passwords aside). */
TEST(dump_round_trip) {
        static const char *const files[] = {
                "tests/config/good-minimal.yaml", "tests/config/good-full.yaml",
                "tests/config/good-empty-sections.yaml", "config/fxsgw.yaml",
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                GwConf *a = load_ok(files[i]), *b = NULL;
                char *da = dump_to_string(a), *db, *error = NULL;
                int r;

                r = gw_conf_load_string(files[i], da, &b, &error);
                if (r < 0)
                        GW_TEST_FAIL("reloading the dump of %s failed: %s\n%s", files[i], error, da);
                db = dump_to_string(b);
                ASSERT_STREQ(da, db);
                ASSERT_EQ(a->n_lines, b->n_lines);
                for (size_t j = 0; j < a->n_lines; j++)
                        ASSERT_EQ(!a->lines[j].password, !b->lines[j].password);
                free(da);
                free(db);
                gw_conf_free(a);
                gw_conf_free(b);
        }
}

TEST(keys_documented) {
        char *keys = NULL, *doc = NULL, *save = NULL;
        size_t size = 0, n = 0;
        FILE *f = open_memstream(&keys, &size);
        FILE *d;
        long len;

        ASSERT_NOT_NULL(f);
        gw_conf_dump_keys(f);
        fclose(f);

        d = fopen("docs/CONFIG.md", "re");
        ASSERT_NOT_NULL(d);
        ASSERT_OK(fseek(d, 0, SEEK_END));
        len = ftell(d);
        ASSERT_TRUE(len > 0);
        rewind(d);
        doc = calloc(1, (size_t) len + 1);
        ASSERT_NOT_NULL(doc);
        ASSERT_EQ(fread(doc, 1, (size_t) len, d), (size_t) len);
        fclose(d);

        for (char *line = strtok_r(keys, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char path[128], quoted[132];

                ASSERT_EQ(sscanf(line, "%127s", path), 1);
                snprintf(quoted, sizeof quoted, "`%s`", path);
                if (!strstr(doc, quoted))
                        GW_TEST_FAIL("docs/CONFIG.md does not document %s", quoted);
                n++;
        }
        ASSERT_TRUE(n >= 40);
        free(keys);
        free(doc);
}

/* What a reload refuses (docs/CONFIG.md "Keys that need a restart"), and the digest
 * that tells two readings of a file apart. */
TEST(restart_keys) {
        static const char base[] =
                "sip:\n  listen: 127.0.0.1:5062\n"
                "profiles:\n  - name: p\n    proxy: 127.0.0.2:5070\n"
                "lines:\n  - port: 1\n    number: '1001'\n    profile: p\n";
        static const struct {
                const char *text;
                const char *keys;                 /* joined by ',' */
        } cases[] = {
                { base, "" },
                /* lines, profiles, tone plan, codecs, SRTP, log level: applied live */
                { "sip:\n  listen: 127.0.0.1:5062\n"
                  "profiles:\n  - name: q\n    proxy: 127.0.0.3:5070\n    dial_plan: '9x'\n    srtp: optional\n"
                  "lines:\n  - port: 2\n    number: '1002'\n    profile: q\n"
                  "tone_plan: us\nmedia:\n  codecs: [pcmu]\nlog:\n  level: debug\n", "" },
                { "sip:\n  listen: 127.0.0.1:5064\n"
                  "profiles:\n  - name: p\n    proxy: 127.0.0.2:5070\n"
                  "lines:\n  - port: 1\n    number: '1001'\n    profile: p\n", "sip.listen" },
                { "sip:\n  listen: 127.0.0.1:5062\n  advertised_address: 192.0.2.1\n"
                  "profiles:\n  - name: p\n    proxy: 127.0.0.2:5070\n"
                  "lines:\n  - port: 1\n    number: '1001'\n    profile: p\n", "sip.advertised_address" },
                { "sip:\n  listen: 127.0.0.1:5062\n"
                  "profiles:\n  - name: p\n    proxy: 127.0.0.2:5070\n"
                  "lines:\n  - port: 1\n    number: '1001'\n    profile: p\n"
                  "media:\n  rtp_ports: 30000-30999\nbus:\n  runtime_dir: /run/other\n"
                  "supervisor:\n  restart_limit: 3\ndns:\n  servers: [192.0.2.53]\n",
                  "dns.servers,media.rtp_ports,supervisor.restart_limit,bus.runtime_dir" },
        };
        _cleanup_(gw_conf_freep) GwConf *a = NULL;
        _cleanup_free_ char *error = NULL;

        ASSERT_OK(gw_conf_load_string("a.yaml", base, &a, &error));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(gw_conf_freep) GwConf *b = NULL;
                _cleanup_free_ const char **keys = NULL;
                char joined[256] = "";
                int n;

                ASSERT_OK(gw_conf_load_string("b.yaml", cases[i].text, &b, &error));
                n = gw_conf_restart_keys(a, b, &keys);
                ASSERT_TRUE(n >= 0);
                for (int k = 0; k < n; k++) {
                        strcat(joined, k ? "," : "");
                        strcat(joined, keys[k]);
                }
                ASSERT_TRUE(keys[n] == NULL);
                ASSERT_STREQ(joined, cases[i].keys);
                ASSERT_EQ(a->digest == b->digest, i == 0);
        }
}

TEST(world_readable) {
        char path[] = "/tmp/test-gw-conf-XXXXXX";
        int fd = mkstemp(path);

        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_OK(chmod(path, 0600));
        ASSERT_EQ(gw_conf_is_world_readable(path), 0);
        ASSERT_OK(chmod(path, 0640));
        ASSERT_EQ(gw_conf_is_world_readable(path), 1);
        ASSERT_OK(chmod(path, 0604));
        ASSERT_EQ(gw_conf_is_world_readable(path), 1);
        unlink(path);
        ASSERT_ERROR(gw_conf_is_world_readable(path), ENOENT);
}

DEFINE_TEST_MAIN
