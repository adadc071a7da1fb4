/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-conf.c: the YAML configuration, parsed from libyaml's event stream against one key table.
 *
 * How it works: conf_keys[] below lists every key the file may hold — its path
 * ("profiles[].proxy"), its shape (section, list of sections, scalar, list of
 * scalars), where it lands (offset into GwConf, GwProfileConf or GwLineConf),
 * the parser that validates and stores it, its default and a line of help.
 * Parsing is a recursive descent over events in which every mapping key is
 * looked up in that table, so an unknown key, a value of the wrong shape or a
 * duplicate is refused where it is written. Defaults are the table's default
 * strings run through the same parsers. Rules that tie keys together (unique
 * ports, a line's profile exists, ...) run after the walk, using the marks
 * (line, column) remembered for each key. The first error ends the load and
 * the half-built config is freed: nothing is ever half-applied.
 *
 * The same table prints 'gwctl config keys' (gw_conf_dump_keys) and the
 * effective configuration (gw_conf_dump), secrets as '***'. */

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <syslog.h>
#include <yaml.h>
#include <zmq.h>

#include "gw-conf.h"
#include "gw-digitmap.h"
#include "gw-log.h"
#include "gw-sockaddr.h"

#define CONF_MAX_FILE_SIZE     (1024 * 1024)
#define CONF_MAX_RUNTIME_DIR   80     /* leaves room for "/bus/linehwd.ctl" in sun_path */
#define CONF_MAX_IPC_PATH      100    /* ".pub"/".ctl" is appended; sun_path holds 107 */
#define CONF_MAX_NAME          64
#define CONF_MAX_NUMBER        32
#define CONF_MAX_AUTH          128
#define CONF_Z85_KEY_LEN       40

/* ---- enums ---------------------------------------------------------------------------- */

static const char *const redundancy_mode_table[_REDUNDANCY_MAX] = {
        [REDUNDANCY_PARKING] = "parking",
        [REDUNDANCY_HOMING] = "homing",
};

static const char *const keepalive_mode_table[_KEEPALIVE_MAX] = {
        [KEEPALIVE_OPTIONS] = "options",
        [KEEPALIVE_REGISTER] = "register",
        [KEEPALIVE_INVITE] = "invite",
        [KEEPALIVE_OFF] = "off",
};

static int string_table_lookup(const char *const *table, size_t n, const char *s) {
        for (size_t i = 0; s && i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

const char *redundancy_mode_to_string(RedundancyMode m) {
        return m >= 0 && m < _REDUNDANCY_MAX ? redundancy_mode_table[m] : NULL;
}

RedundancyMode redundancy_mode_from_string(const char *s) {
        return (RedundancyMode) string_table_lookup(redundancy_mode_table, _REDUNDANCY_MAX, s);
}

const char *keepalive_mode_to_string(KeepaliveMode m) {
        return m >= 0 && m < _KEEPALIVE_MAX ? keepalive_mode_table[m] : NULL;
}

KeepaliveMode keepalive_mode_from_string(const char *s) {
        return (KeepaliveMode) string_table_lookup(keepalive_mode_table, _KEEPALIVE_MAX, s);
}

/* Only the levels an operator would pick; gw-log knows the rest. */
static const char *const conf_log_level_table[] = {
        [LOG_ERR] = "err",
        [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

/* ---- value parsers shared with the daemons ------------------------------------------- */

static int parse_u64(const char *s, const char **ret_end, uint64_t *ret) {
        uint64_t v = 0;
        const char *p = s;

        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret_end = p;
        *ret = v;
        return 0;
}

int gw_parse_duration(const char *s, uint64_t *ret_usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "",    USEC_PER_SEC },
                { "us",  1 },
                { "ms",  USEC_PER_MSEC },
                { "s",   USEC_PER_SEC },
                { "m",   60 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "h",   3600 * USEC_PER_SEC },
        };
        const char *end;
        uint64_t n;
        int r;

        r = parse_u64(s, &end, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                if (!streq(end, units[i].suffix))
                        continue;
                if (n > UINT64_MAX / units[i].usec)
                        return -ERANGE;
                *ret_usec = n * units[i].usec;
                return 0;
        }
        return -EINVAL;
}

/* The largest unit that shows the value exactly, minutes written as seconds
 * the way the product's manuals do: "32s", "500ms", "1800s", "1h". */
static const char *format_duration(char *buf, size_t n, uint64_t usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "h",  3600 * USEC_PER_SEC },
                { "s",  USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
                { "us", 1 },
        };

        if (usec == 0) {
                snprintf(buf, n, "0s");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (usec % units[i].usec == 0) {
                        snprintf(buf, n, "%" PRIu64 "%s", usec / units[i].usec, units[i].suffix);
                        break;
                }
        return buf;
}

/* RFC 1123 host name: labels of letters, digits and '-', not starting or ending
 * with '-', at most 63 characters each, 253 in all; the last label is not all
 * digits (that would be a mistyped IPv4 address). */
static bool hostname_is_valid(const char *s) {
        size_t label = 0, total = strlen(s);
        bool all_digits = true;

        if (total == 0 || total > 253)
                return false;
        for (const char *p = s;; p++) {
                if (*p == '.' || *p == '\0') {
                        if (label == 0 || p[-1] == '-')
                                return false;
                        if (*p == '\0')
                                return !all_digits;
                        label = 0;
                        all_digits = true;
                        continue;
                }
                if (!isalnum((unsigned char) *p) && *p != '-')
                        return false;
                if (label == 0 && *p == '-')
                        return false;
                if (!isdigit((unsigned char) *p))
                        all_digits = false;
                if (++label > 63)
                        return false;
        }
}

static int parse_port(const char *s, uint16_t *ret) {
        const char *end;
        uint64_t v;

        if (parse_u64(s, &end, &v) < 0 || *end || v < 1 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

void gw_host_port_done(GwHostPort *hp) {
        if (!hp)
                return;
        free(hp->text);
        free(hp->host);
        *hp = (GwHostPort) {};
}

int gw_parse_host_port(const char *s, GwHostPort *ret) {
        _cleanup_free_ char *host = NULL, *text = NULL;
        struct in6_addr a6;
        struct in_addr a4;
        uint16_t port = 0;
        bool is_ip = false;
        const char *colon;

        if (isempty(s))
                return -EINVAL;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');

                if (!close)
                        return -EINVAL;
                host = strndup(s + 1, (size_t) (close - s - 1));
                if (!host)
                        return -ENOMEM;
                if (inet_pton(AF_INET6, host, &a6) != 1)
                        return -EINVAL;
                if (close[1] == ':') {
                        if (parse_port(close + 2, &port) < 0)
                                return -EINVAL;
                } else if (close[1] != '\0')
                        return -EINVAL;
                is_ip = true;
        } else if ((colon = strchr(s, ':')) && strchr(colon + 1, ':')) {
                /* Two colons or more: a bare IPv6 literal, no port. */
                if (inet_pton(AF_INET6, s, &a6) != 1)
                        return -EINVAL;
                host = strdup(s);
                if (!host)
                        return -ENOMEM;
                is_ip = true;
        } else {
                host = colon ? strndup(s, (size_t) (colon - s)) : strdup(s);
                if (!host)
                        return -ENOMEM;
                if (colon && parse_port(colon + 1, &port) < 0)
                        return -EINVAL;
                if (inet_pton(AF_INET, host, &a4) == 1)
                        is_ip = true;
                else if (!hostname_is_valid(host))
                        return -EINVAL;
        }

        text = strdup(s);
        if (!text)
                return -ENOMEM;
        *ret = (GwHostPort) {
                .text = TAKE_PTR(text),
                .host = TAKE_PTR(host),
                .port = port,
                .is_ip = is_ip,
        };
        return 0;
}

int gw_parse_sockaddr(const char *s, uint16_t default_port, struct sockaddr_storage *ret) {
        GwHostPort hp = {};
        uint16_t port;
        int r;

        r = gw_parse_host_port(s, &hp);
        if (r < 0)
                return r;
        port = hp.port != 0 ? hp.port : default_port;
        if (!hp.is_ip || port == 0)
                r = -EINVAL;
        else
                r = gw_sockaddr_from_ip(hp.host, port, ret);
        gw_host_port_done(&hp);
        return r;
}

int gw_parse_cidr(const char *s, GwCidr *ret) {
        _cleanup_free_ char *ip = NULL;
        struct sockaddr_storage ss;
        const char *slash;
        uint64_t prefix;
        unsigned max;
        uint8_t *bytes;

        if (isempty(s))
                return -EINVAL;
        slash = strchr(s, '/');
        ip = slash ? strndup(s, (size_t) (slash - s)) : strdup(s);
        if (!ip)
                return -ENOMEM;
        if (gw_sockaddr_from_ip(ip, 0, &ss) < 0)
                return -EINVAL;

        if (ss.ss_family == AF_INET) {
                max = 32;
                bytes = (uint8_t *) &((struct sockaddr_in *) &ss)->sin_addr;
        } else {
                max = 128;
                bytes = (uint8_t *) &((struct sockaddr_in6 *) &ss)->sin6_addr;
        }
        if (slash) {
                const char *end;
                if (parse_u64(slash + 1, &end, &prefix) < 0 || *end || prefix > max)
                        return -EINVAL;
        } else
                prefix = max;

        /* Keep only the network part: "10.1.2.3/8" means 10.0.0.0/8. */
        for (unsigned bit = (unsigned) prefix; bit < max; bit++)
                bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));

        *ret = (GwCidr) { .addr = ss, .prefix = (unsigned) prefix };
        return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix) {
        unsigned full = prefix / 8, rest = prefix % 8;

        if (memcmp(a, b, full) != 0)
                return false;
        if (rest == 0)
                return true;
        return ((a[full] ^ b[full]) & (uint8_t) (0xff00u >> rest)) == 0;
}

bool gw_cidr_match(const GwCidr *c, const struct sockaddr *sa) {
        if (!c || !sa)
                return false;

        if (c->addr.ss_family == AF_INET) {
                const struct sockaddr_in *net = (const struct sockaddr_in *) &c->addr;
                const uint8_t *a;

                if (sa->sa_family == AF_INET)
                        a = (const uint8_t *) &((const struct sockaddr_in *) sa)->sin_addr;
                else if (sa->sa_family == AF_INET6 &&
                         IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *) sa)->sin6_addr))
                        /* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d. */
                        a = (const uint8_t *) &((const struct sockaddr_in6 *) sa)->sin6_addr + 12;
                else
                        return false;
                return prefix_equal(a, (const uint8_t *) &net->sin_addr, c->prefix);
        }
        if (c->addr.ss_family == AF_INET6 && sa->sa_family == AF_INET6)
                return prefix_equal((const uint8_t *) &((const struct sockaddr_in6 *) sa)->sin6_addr,
                                    (const uint8_t *) &((const struct sockaddr_in6 *) &c->addr)->sin6_addr,
                                    c->prefix);
        return false;
}

/* ---- the key table --------------------------------------------------------------------- */

typedef enum KeyScope {
        SCOPE_CONF,                 /* offsets into GwConf */
        SCOPE_PROFILE,              /* into GwProfileConf */
        SCOPE_LINE,                 /* into GwLineConf */
} KeyScope;

typedef enum KeyShape {
        KEY_SECTION,                /* a mapping of further keys */
        KEY_SECTION_LIST,           /* a list of mappings: profiles, lines */
        KEY_SCALAR,                 /* one scalar, handed to .parse */
        KEY_LIST,                   /* a list of scalars, each handed to .parse */
} KeyShape;

enum {
        KEY_REQUIRED = 1 << 0,
        KEY_SECRET   = 1 << 1,      /* printed as '***', never echoed in errors */
        KEY_NULLABLE = 1 << 2,      /* a char * that stays NULL when not given */
};

typedef struct ParseCtx ParseCtx;
typedef struct ConfKey ConfKey;

/* Validate 'v' and store it at 'field' (for lists: the element). On a bad
 * value return conf_why(ctx, "expected ...") — the caller adds file, mark and key. */
typedef int (*KeyParser)(ParseCtx *ctx, const ConfKey *k, const char *v, void *field);
/* Print the stored value (after "key: ") as YAML. */
typedef void (*KeyPrinter)(const ConfKey *k, const void *field, FILE *f);

struct ConfKey {
        const char *path;
        KeyShape shape;
        KeyScope scope;
        KeyScope child_scope;       /* KEY_SECTION_LIST: scope of the element keys */
        const char *type;           /* for 'config keys' and messages */
        size_t offset;
        size_t n_offset;            /* KEY_LIST: the size_t count */
        size_t elem_size;           /* KEY_LIST */
        size_t max;                 /* KEY_LIST, KEY_SECTION_LIST: most entries */
        KeyParser parse;
        KeyPrinter print;
        uint64_t lo, hi;            /* range for durations and integers; hi 0: none */
        const char *def;            /* default, run through .parse; NULL: none */
        const char *def_text;       /* default as words when it derives from other keys */
        unsigned flags;
        const char *help;
};

typedef struct KeyMark {
        bool set;
        yaml_mark_t mark;           /* of the value */
} KeyMark;

static const ConfKey conf_keys[];
static const size_t n_conf_keys;

struct ParseCtx {
        yaml_parser_t parser;
        const char *name;
        GwConf *conf;
        char why[512];
        char *error;
        KeyMark *conf_marks;        /* [n_conf_keys] */
        KeyMark *profile_marks;     /* [n_profiles * n_conf_keys] */
        KeyMark *line_marks;        /* [n_lines * n_conf_keys] */
        yaml_mark_t root_mark;
};

_printf_(2, 3)
static int conf_why(ParseCtx *ctx, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(ctx->why, sizeof ctx->why, format, ap);
        va_end(ap);
        return -EINVAL;
}

/* A user's value for quoting in a message: at most 64 characters, nothing unprintable. */
static const char *value_for_message(const char *v, char *buf, size_t n) {
        size_t i = 0, max = MIN(n - 4, (size_t) 64);

        for (; v[i] && i < max; i++)
                buf[i] = isprint((unsigned char) v[i]) ? v[i] : '?';
        if (v[i]) {
                memcpy(buf + i, "...", 3);
                i += 3;
        }
        buf[i] = '\0';
        return buf;
}

#define GOT(v) value_for_message((v), (char[80]){}, 80)

#define FIELD(base, k) ((void *) ((uint8_t *) (base) + (k)->offset))

static int store_string(char **field, const char *v, bool secret) {
        char *s = strdup(v);

        if (!s)
                return -ENOMEM;
        if (secret)
                erase_and_free(*field);
        else
                free(*field);
        *field = s;
        return 0;
}

static int parse_duration_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        char a[32], b[32];
        uint64_t usec;

        if (gw_parse_duration(v, &usec) < 0)
                return conf_why(ctx, "expected a duration (e.g. 500ms, 32s, 5m), got '%s'", GOT(v));
        if (k->hi != 0 && (usec < k->lo || usec > k->hi))
                return conf_why(ctx, "expected a duration between %s and %s, got '%s'",
                                format_duration(a, sizeof a, k->lo), format_duration(b, sizeof b, k->hi),
                                GOT(v));
        if (usec < k->lo)
                return conf_why(ctx, "expected a duration of at least %s, got '%s'",
                                format_duration(a, sizeof a, k->lo), GOT(v));
        *(uint64_t *) field = usec;
        return 0;
}

static int parse_unsigned_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        uint64_t n, hi = k->hi != 0 ? k->hi : UINT_MAX;
        const char *end;

        if (parse_u64(v, &end, &n) < 0 || *end || n < k->lo || n > hi)
                return conf_why(ctx, "expected an integer between %" PRIu64 " and %" PRIu64 ", got '%s'",
                                k->lo, hi, GOT(v));
        *(unsigned *) field = (unsigned) n;
        return 0;
}

static int parse_bool_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        if (streq(v, "true") || streq(v, "yes") || streq(v, "on"))
                *(bool *) field = true;
        else if (streq(v, "false") || streq(v, "no") || streq(v, "off"))
                *(bool *) field = false;
        else
                return conf_why(ctx, "expected true or false, got '%s'", GOT(v));
        return 0;
}

static int parse_host_port_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        GwHostPort hp;
        int r;

        r = gw_parse_host_port(v, &hp);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return conf_why(ctx, "expected host[:port], got '%s'", GOT(v));
        gw_host_port_done(field);
        *(GwHostPort *) field = hp;
        return 0;
}

/* sip.listen: what we bind, so an IP literal and a port. */
static int parse_listen_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        struct sockaddr_storage ss;
        GwHostPort hp;
        bool ok;
        int r;

        r = gw_parse_host_port(v, &hp);
        if (r == -ENOMEM)
                return r;
        ok = r >= 0 && hp.is_ip && hp.port != 0;
        if (r >= 0)
                gw_host_port_done(&hp);
        if (!ok || gw_parse_sockaddr(v, 0, &ss) < 0)
                return conf_why(ctx, "expected an IP address and port (e.g. 0.0.0.0:5060 or [::1]:5060), got '%s'",
                                GOT(v));
        return store_string(field, v, false);
}

/* sip.advertised_address: "" (use the listen address) or host[:port]. */
static int parse_advertised_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        GwHostPort hp;
        int r;

        if (!isempty(v)) {
                r = gw_parse_host_port(v, &hp);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return conf_why(ctx, "expected host[:port] or \"\", got '%s'", GOT(v));
                gw_host_port_done(&hp);
        }
        return store_string(field, v, false);
}

static int parse_cidr_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        int r;

        r = gw_parse_cidr(v, field);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return conf_why(ctx, "expected an address or CIDR (e.g. 192.0.2.0/24, 2001:db8::/32), got '%s'",
                                GOT(v));
        return 0;
}

/* dns.servers[]: resolvers are addressed by IP, port optional. */
static int parse_dns_server_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        struct sockaddr_storage ss;
        int r;

        r = gw_parse_sockaddr(v, 53, &ss);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return conf_why(ctx, "expected an IP address with optional port (e.g. 192.0.2.53, [2001:db8::53]:53), got '%s'",
                                GOT(v));
        return store_string(field, v, false);
}

static bool name_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > CONF_MAX_NAME)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("_.-", *s))
                        return false;
        return true;
}

/* profiles[].name and lines[].profile: used in logs, journal fields and state files. */
static int parse_name_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        if (!name_is_valid(v))
                return conf_why(ctx, "expected a name of 1..%d letters, digits, '_', '.' or '-', got '%s'",
                                CONF_MAX_NAME, GOT(v));
        return store_string(field, v, false);
}

static int parse_domain_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        struct in6_addr a6;
        struct in_addr a4;

        if (!hostname_is_valid(v) && inet_pton(AF_INET, v, &a4) != 1 && inet_pton(AF_INET6, v, &a6) != 1)
                return conf_why(ctx, "expected a domain name or IP address, got '%s'", GOT(v));
        return store_string(field, v, false);
}

static int parse_number_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        size_t n = strlen(v);

        if (n == 0 || n > CONF_MAX_NUMBER || strspn(v, "0123456789*#+") != n)
                return conf_why(ctx, "expected 1..%d digits, '*', '#' or '+', got '%s'", CONF_MAX_NUMBER, GOT(v));
        return store_string(field, v, false);
}

static int parse_auth_user_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        size_t n = strlen(v);

        if (n == 0 || n > CONF_MAX_AUTH)
                return conf_why(ctx, "expected 1..%d characters, got '%s'", CONF_MAX_AUTH, GOT(v));
        for (const char *p = v; *p; p++)
                if (!isgraph((unsigned char) *p))
                        return conf_why(ctx, "expected no spaces or control characters, got '%s'", GOT(v));
        return store_string(field, v, false);
}

/* Secrets are never echoed, not even in an error. */
static int parse_password_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        if (strlen(v) > CONF_MAX_AUTH)
                return conf_why(ctx, "expected at most %d characters", CONF_MAX_AUTH);
        return store_string(field, v, true);
}

static bool z85_key_is_valid(const char *v) {
        static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

        return strlen(v) == CONF_Z85_KEY_LEN && strspn(v, z85) == CONF_Z85_KEY_LEN;
}

static int parse_curve_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        if (!z85_key_is_valid(v))
                return conf_why(ctx, "expected a %d-character Z85 key (zmq_curve_keypair)", CONF_Z85_KEY_LEN);
        return store_string(field, v, k->flags & KEY_SECRET);
}

static int parse_runtime_dir_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        if (v[0] != '/')
                return conf_why(ctx, "expected an absolute path, got '%s'", GOT(v));
        if (strlen(v) > CONF_MAX_RUNTIME_DIR)
                return conf_why(ctx, "'%s' is too long for an ipc socket path (max %d)", GOT(v),
                                CONF_MAX_RUNTIME_DIR);
        return store_string(field, v, false);
}

/* dbus.address: "system" (the system bus: $DBUS_SYSTEM_BUS_ADDRESS or its
 * socket), "off", or a D-Bus address ("unix:path=/run/x/bus_socket"). */
static int parse_dbus_address_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        const char *colon = strchr(v, ':');

        if (!streq(v, "system") && !streq(v, "off") &&
            (!colon || colon == v || !strchr(colon, '=') || strlen(v) > 512))
                return conf_why(ctx, "expected 'system', 'off' or a D-Bus address such as "
                                "'unix:path=/run/dbus/system_bus_socket', got '%s'", GOT(v));
        return store_string(field, v, false);
}

/* bus.endpoints.*: where that daemon binds; gw-bus uses port and port+1 on tcp. */
static int parse_endpoint_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        if (strncmp(v, "tcp://", 6) == 0) {
                GwHostPort hp;
                bool ok;
                int r;

                r = gw_parse_host_port(v + 6, &hp);
                if (r == -ENOMEM)
                        return r;
                ok = r >= 0 && hp.port != 0 && hp.port < 65535;
                if (r >= 0)
                        gw_host_port_done(&hp);
                if (!ok)
                        return conf_why(ctx, "expected tcp://host:port with port 1..65534 (port+1 is the control socket), got '%s'",
                                        GOT(v));
        } else if (strncmp(v, "ipc://", 6) == 0) {
                if (v[6] != '/')
                        return conf_why(ctx, "expected ipc:// with an absolute path, got '%s'", GOT(v));
                if (strlen(v + 6) > CONF_MAX_IPC_PATH)
                        return conf_why(ctx, "'%s' is too long for an ipc socket path (max %d)", GOT(v),
                                        CONF_MAX_IPC_PATH);
        } else
                return conf_why(ctx, "expected tcp://host:port or ipc:///path, got '%s'", GOT(v));
        return store_string(field, v, false);
}

static int parse_redundancy_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        RedundancyMode m = redundancy_mode_from_string(v);

        if (m < 0)
                return conf_why(ctx, "expected parking or homing, got '%s'", GOT(v));
        *(RedundancyMode *) field = m;
        return 0;
}

static int parse_keepalive_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        KeepaliveMode m = keepalive_mode_from_string(v);

        if (m < 0)
                return conf_why(ctx, "expected options, register, invite or off, got '%s'", GOT(v));
        *(KeepaliveMode *) field = m;
        return 0;
}

static int parse_log_level_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        int l = string_table_lookup(conf_log_level_table, ELEMENTSOF(conf_log_level_table), v);

        if (l < 0)
                return conf_why(ctx, "expected debug, info, notice, warning or err, got '%s'", GOT(v));
        *(int *) field = l;
        return 0;
}

static int parse_backend_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        if (!streq(v, "sim"))
                return conf_why(ctx, "expected sim (the only backend so far), got '%s'", GOT(v));
        return store_string(field, v, false);
}

static const char *const gw_codec_table[_GW_CODEC_MAX] = {
        [GW_CODEC_PCMU] = "pcmu",
        [GW_CODEC_PCMA] = "pcma",
};

const char *gw_codec_to_string(GwCodec c) {
        return c >= 0 && c < _GW_CODEC_MAX ? gw_codec_table[c] : NULL;
}

GwCodec gw_codec_from_string(const char *s) {
        int i = s ? string_table_lookup(gw_codec_table, ELEMENTSOF(gw_codec_table), s) : -EINVAL;
        return i < 0 ? _GW_CODEC_INVALID : (GwCodec) i;
}

static const char *const unregistered_calls_table[_UNREGISTERED_CALLS_MAX] = {
        [UNREGISTERED_CALLS_ALLOW] = "allow",
        [UNREGISTERED_CALLS_REFUSE] = "refuse",
};

const char *unregistered_calls_to_string(UnregisteredCalls u) {
        return u >= 0 && u < _UNREGISTERED_CALLS_MAX ? unregistered_calls_table[u] : NULL;
}

UnregisteredCalls unregistered_calls_from_string(const char *s) {
        int i = s ? string_table_lookup(unregistered_calls_table, ELEMENTSOF(unregistered_calls_table), s) : -EINVAL;
        return i < 0 ? _UNREGISTERED_CALLS_INVALID : (UnregisteredCalls) i;
}

static int parse_unregistered_calls_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        UnregisteredCalls u = unregistered_calls_from_string(v);

        if (u < 0)
                return conf_why(ctx, "expected allow or refuse, got '%s'", GOT(v));
        *(UnregisteredCalls *) field = u;
        return 0;
}

static const char *const gw_srtp_mode_table[_GW_SRTP_MODE_MAX] = {
        [GW_SRTP_OFF] = "off",
        [GW_SRTP_OPTIONAL] = "optional",
        [GW_SRTP_MANDATORY] = "mandatory",
};

const char *gw_srtp_mode_to_string(GwSrtpMode m) {
        return m >= 0 && m < _GW_SRTP_MODE_MAX ? gw_srtp_mode_table[m] : NULL;
}

GwSrtpMode gw_srtp_mode_from_string(const char *s) {
        int i = s ? string_table_lookup(gw_srtp_mode_table, ELEMENTSOF(gw_srtp_mode_table), s) : -EINVAL;
        return i < 0 ? _GW_SRTP_MODE_INVALID : (GwSrtpMode) i;
}

static int parse_srtp_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        GwSrtpMode m = gw_srtp_mode_from_string(v);

        if (m < 0)
                return conf_why(ctx, "expected off, optional or mandatory, got '%s'", GOT(v));
        *(GwSrtpMode *) field = m;
        return 0;
}

static int parse_codec_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        GwCodec c = gw_codec_from_string(v);

        if (c < 0)
                return conf_why(ctx, "expected pcmu or pcma, got '%s'", GOT(v));
        *(GwCodec *) field = c;
        return 0;
}

/* media.rtp_ports: "MIN-MAX", MIN even (RTP even, RTCP odd), at least 4 ports. */
static int parse_rtp_ports_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        uint64_t lo, hi;
        const char *end;

        if (parse_u64(v, &end, &lo) < 0 || *end != '-' || parse_u64(end + 1, &end, &hi) < 0 || *end ||
            lo < 1024 || hi > 65535 || lo % 2 != 0 || hi < lo + 3)
                return conf_why(ctx, "expected MIN-MAX with an even MIN >= 1024, MAX <= 65535 and at least 4 ports, got '%s'",
                                GOT(v));
        ctx->conf->media_rtp_port_min = (uint16_t) lo;
        ctx->conf->media_rtp_port_max = (uint16_t) hi;
        return store_string(field, v, false);
}

/* profiles[].dial_plan: the digit map's alphabet; sigd parses the structure. */
static int parse_dial_plan_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        size_t n = strlen(v);

        if (n == 0 || n > 1024 || strspn(v, "0123456789*#xXtT.|[]-()ABCDabcd") != n)
                return conf_why(ctx, "expected a digit map of digits, '*', '#', x, T, '.', '|', [ranges] (at most 1024 characters), got '%s'",
                                GOT(v));
        return store_string(field, v, false);
}

/* lines[].play and .record: a WAV file; relative paths are relative to the config file. */
static int parse_path_key(ParseCtx *ctx, const ConfKey *k, const char *v, void *field) {
        _cleanup_free_ char *dir = NULL;
        const char *slash;
        char *s;

        if (isempty(v) || strlen(v) > 1024 || strchr(v, '\n'))
                return conf_why(ctx, "expected a file path, got '%s'", GOT(v));
        if (v[0] == '/' || !(slash = strrchr(ctx->name, '/')))
                return store_string(field, v, false);
        dir = strndup(ctx->name, (size_t) (slash - ctx->name));
        if (!dir || asprintf(&s, "%s/%s", dir, v) < 0)
                return -ENOMEM;
        free(*(char **) field);
        *(char **) field = s;
        return 0;
}

/* ---- printers ------------------------------------------------------------------------- */

static void print_quoted(const char *s, FILE *f) {
        fputc('"', f);
        for (; s && *s; s++) {
                if (*s == '"' || *s == '\\')
                        fprintf(f, "\\%c", *s);
                else if (!isprint((unsigned char) *s))
                        fprintf(f, "\\x%02x", (unsigned char) *s);
                else
                        fputc(*s, f);
        }
        fputc('"', f);
}

static void print_string(const ConfKey *k, const void *field, FILE *f) {
        print_quoted(*(char *const *) field, f);
}

static void print_secret(const ConfKey *k, const void *field, FILE *f) {
        fputs("\"***\"", f);
}

static void print_duration(const ConfKey *k, const void *field, FILE *f) {
        char buf[32];
        fputs(format_duration(buf, sizeof buf, *(const uint64_t *) field), f);
}

static void print_unsigned(const ConfKey *k, const void *field, FILE *f) {
        fprintf(f, "%u", *(const unsigned *) field);
}

static void print_bool(const ConfKey *k, const void *field, FILE *f) {
        fputs(*(const bool *) field ? "true" : "false", f);
}

static void print_host_port(const ConfKey *k, const void *field, FILE *f) {
        print_quoted(((const GwHostPort *) field)->text, f);
}

static void print_cidr(const ConfKey *k, const void *field, FILE *f) {
        const GwCidr *c = field;
        char buf[INET6_ADDRSTRLEN] = "?";

        (void) gw_sockaddr_ip_to_string(GW_SOCKADDR(&c->addr), buf, sizeof buf);
        fprintf(f, "\"%s/%u\"", buf, c->prefix);
}

static void print_redundancy(const ConfKey *k, const void *field, FILE *f) {
        fputs(strempty(redundancy_mode_to_string(*(const RedundancyMode *) field)), f);
}

static void print_keepalive(const ConfKey *k, const void *field, FILE *f) {
        fputs(strempty(keepalive_mode_to_string(*(const KeepaliveMode *) field)), f);
}

static void print_codec(const ConfKey *k, const void *field, FILE *f) {
        fputs(strempty(gw_codec_to_string(*(const GwCodec *) field)), f);
}

static void print_srtp(const ConfKey *k, const void *field, FILE *f) {
        fputs(strempty(gw_srtp_mode_to_string(*(const GwSrtpMode *) field)), f);
}

static void print_unregistered_calls(const ConfKey *k, const void *field, FILE *f) {
        fputs(strempty(unregistered_calls_to_string(*(const UnregisteredCalls *) field)), f);
}

static void print_log_level(const ConfKey *k, const void *field, FILE *f) {
        int l = *(const int *) field;
        fputs(l >= 0 && (size_t) l < ELEMENTSOF(conf_log_level_table) && conf_log_level_table[l] ?
              conf_log_level_table[l] : "info", f);
}

/* ---- the table ------------------------------------------------------------------------ */

#define C_(field) offsetof(GwConf, field)
#define P_(field) offsetof(GwProfileConf, field)
#define L_(field) offsetof(GwLineConf, field)
#define SECTION(p, h) { .path = p, .shape = KEY_SECTION, .type = "section", .help = h }
#define DURATION .type = "duration", .parse = parse_duration_key, .print = print_duration
#define UNSIGNED .type = "integer", .parse = parse_unsigned_key, .print = print_unsigned
#define ENDPOINT(d) { .path = "bus.endpoints." #d, .shape = KEY_SCALAR, .type = "endpoint",        \
                      .offset = C_(bus_endpoints[GW_SERVICE_INDEX_##d]), .parse = parse_endpoint_key,  \
                      .print = print_string, .flags = KEY_NULLABLE,                                 \
                      .def_text = "ipc in runtime_dir",                                              \
                      .help = "Where " #d " binds its bus sockets: tcp://host:port (port and port+1) or ipc:///path" }

/* Gw__Service values of proto/gw.proto; gw-conf does not depend on the generated code. */
#define GW_SERVICE_INDEX_gwsupd  1
#define GW_SERVICE_INDEX_sigd    2
#define GW_SERVICE_INDEX_regd    3
#define GW_SERVICE_INDEX_mediad  4
#define GW_SERVICE_INDEX_linehwd 5

static const ConfKey conf_keys[] = {
        SECTION("sip", "SIP transport of the gateway"),
        { .path = "sip.listen", .shape = KEY_SCALAR, .type = "ip:port", .offset = C_(sip_listen),
          .parse = parse_listen_key, .print = print_string, .def = "0.0.0.0:5060",
          .help = "Local address and port for SIP over UDP (IP literal; IPv6 as [::1]:5062)" },
        { .path = "sip.advertised_address", .shape = KEY_SCALAR, .type = "host[:port]",
          .offset = C_(sip_advertised_address), .parse = parse_advertised_key, .print = print_string,
          .def = "", .def_text = "the listen address",
          .help = "Address put in Contact and Via, for a wildcard or NATed listen address" },
        { .path = "sip.trusted_sources", .shape = KEY_LIST, .type = "list of CIDR",
          .offset = C_(trusted_sources), .n_offset = C_(n_trusted_sources), .elem_size = sizeof(GwCidr),
          .max = ELEMENTSOF(((GwConf *) NULL)->trusted_sources), .parse = parse_cidr_key, .print = print_cidr,
          .def_text = "none",
          .help = "Networks besides the profiles' proxies from which SIP requests are accepted" },

        SECTION("dns", "Name resolution of proxies and registrars"),
        { .path = "dns.servers", .shape = KEY_LIST, .type = "list of ip[:port]",
          .offset = C_(dns_servers), .n_offset = C_(n_dns_servers), .elem_size = sizeof(char *),
          .max = ELEMENTSOF(((GwConf *) NULL)->dns_servers), .parse = parse_dns_server_key,
          .print = print_string, .def_text = "the system resolvers",
          .help = "DNS servers to ask, in order" },
        { .path = "dns.min_ttl", .shape = KEY_SCALAR, DURATION, .offset = C_(dns_min_ttl_us), .def = "30s",
          .help = "Shortest time a DNS answer is kept, whatever its TTL" },

        { .path = "profiles", .shape = KEY_SECTION_LIST, .type = "list of sections",
          .child_scope = SCOPE_PROFILE, .max = GW_CONF_MAX_PROFILES, .flags = KEY_REQUIRED,
          .help = "SIP profiles: a main proxy, redundant proxies, registrar and their policy" },
        { .path = "profiles[].name", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, .type = "name",
          .offset = P_(name), .parse = parse_name_key, .print = print_string, .flags = KEY_REQUIRED,
          .help = "Unique name of the profile, referred to by lines[].profile" },
        { .path = "profiles[].proxy", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, .type = "host[:port]",
          .offset = P_(proxy), .parse = parse_host_port_key, .print = print_host_port, .flags = KEY_REQUIRED,
          .help = "Main proxy: IP or domain name; no port means 5060, or SRV lookup for a name" },
        { .path = "profiles[].redundant_proxies", .shape = KEY_LIST, .scope = SCOPE_PROFILE,
          .type = "list of host[:port]", .offset = P_(redundant), .n_offset = P_(n_redundant),
          .elem_size = sizeof(GwHostPort), .max = GW_CONF_MAX_PROXIES - 1,
          .parse = parse_host_port_key, .print = print_host_port, .def_text = "none",
          .help = "Proxies tried in order when the active one fails" },
        { .path = "profiles[].redundancy_mode", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE,
          .type = "parking|homing", .offset = P_(redundancy_mode), .parse = parse_redundancy_key,
          .print = print_redundancy, .def = "homing",
          .help = "parking: stay on the proxy found; homing: go back to the main proxy once it answers" },
        { .path = "profiles[].keepalive", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE,
          .type = "options|register|invite|off", .offset = P_(keepalive), .parse = parse_keepalive_key,
          .print = print_keepalive, .def = "options",
          .help = "How proxies are checked: OPTIONS, the REGISTER refresh, outgoing INVITEs, or not at all" },
        { .path = "profiles[].keepalive_period", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, DURATION,
          .offset = P_(keepalive_period_us), .lo = 100 * USEC_PER_MSEC, .def = "30s",
          .help = "Interval of the OPTIONS checks" },
        { .path = "profiles[].invite_total_timeout", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, DURATION,
          .offset = P_(invite_total_timeout_us), .lo = 100 * USEC_PER_MSEC, .hi = 300 * USEC_PER_SEC,
          .def = "32s",
          .help = "Time without any response after which a proxy counts as failed (SIP Timer B/F)" },
        { .path = "profiles[].register", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, .type = "boolean",
          .offset = P_(register_lines), .parse = parse_bool_key, .print = print_bool, .def = "true",
          .help = "Whether the profile's lines register" },
        { .path = "profiles[].registrar", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, .type = "host[:port]",
          .offset = P_(registrar), .parse = parse_host_port_key, .print = print_host_port,
          .def_text = "the main proxy",
          .help = "Registrar of the lines; REGISTER goes through the active proxy" },
        { .path = "profiles[].register_expires", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, DURATION,
          .offset = P_(register_expires_us), .lo = 10 * USEC_PER_SEC, .def = "3600s",
          .help = "Expires asked for in REGISTER" },
        { .path = "profiles[].domain", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, .type = "domain",
          .offset = P_(domain), .parse = parse_domain_key, .print = print_string,
          .def_text = "the registrar host",
          .help = "Domain of the lines' AoR (sip:number@domain)" },
        { .path = "profiles[].homing_confirm", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, UNSIGNED,
          .offset = P_(homing_confirm), .lo = 1, .hi = 100, .def = "1",
          .help = "Successful checks of the main proxy in a row before homing back to it" },
        { .path = "profiles[].register_retry_base", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, DURATION,
          .offset = P_(register_retry_base_us), .lo = 100 * USEC_PER_MSEC, .def = "30s",
          .help = "First wait before retrying a failed registration; doubles up to register_retry_max" },
        { .path = "profiles[].register_retry_max", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, DURATION,
          .offset = P_(register_retry_max_us), .lo = 100 * USEC_PER_MSEC, .def = "1800s",
          .help = "Longest wait between registration retries" },
        { .path = "profiles[].register_forbidden_retry", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE,
          DURATION, .offset = P_(register_forbidden_retry_us), .lo = USEC_PER_SEC, .def = "3600s",
          .help = "Wait after a 403 (or failed authentication) before registering again" },
        { .path = "profiles[].dial_plan", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, .type = "digit map",
          .offset = P_(dial_plan), .parse = parse_dial_plan_key, .print = print_string, .def = "x.T",
          .help = "When dialled digits are complete (RFC 3435 digit map, e.g. x.T|[2-9]xxx|8xxxxxxxxxx)" },
        { .path = "profiles[].interdigit_timeout", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, DURATION,
          .offset = P_(interdigit_timeout_us), .lo = 500 * USEC_PER_MSEC, .hi = 60 * USEC_PER_SEC, .def = "4s",
          .help = "The T of the dial plan: wait for another digit this long" },
        { .path = "profiles[].no_answer_timeout", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE, DURATION,
          .offset = P_(no_answer_timeout_us), .lo = USEC_PER_SEC, .hi = 3600 * USEC_PER_SEC, .def = "120s",
          .help = "An outgoing call not answered within this is given up (CANCEL)" },
        { .path = "profiles[].unregistered_calls", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE,
          .type = "allow|refuse", .offset = P_(unregistered_calls), .parse = parse_unregistered_calls_key,
          .print = print_unregistered_calls, .def = "allow",
          .help = "refuse: while no proxy answers, outgoing calls get congestion tone at once" },
        { .path = "profiles[].emergency_numbers", .shape = KEY_LIST, .scope = SCOPE_PROFILE,
          .type = "list of numbers", .offset = P_(emergency_numbers), .n_offset = P_(n_emergency_numbers),
          .elem_size = sizeof(char *), .max = ELEMENTSOF(((GwProfileConf *) NULL)->emergency_numbers),
          .parse = parse_number_key, .print = print_string, .def_text = "none",
          .help = "Numbers always attempted, even when unregistered_calls refuses" },
        { .path = "profiles[].srtp", .shape = KEY_SCALAR, .scope = SCOPE_PROFILE,
          .type = "off|optional|mandatory", .offset = P_(srtp), .parse = parse_srtp_key, .print = print_srtp,
          .def_text = "media.srtp",
          .help = "SRTP of the profile's calls, overriding media.srtp" },

        { .path = "lines", .shape = KEY_SECTION_LIST, .type = "list of sections",
          .child_scope = SCOPE_LINE, .max = GW_CONF_MAX_LINES, .flags = KEY_REQUIRED,
          .help = "Subscriber lines (FXS ports)" },
        { .path = "lines[].port", .shape = KEY_SCALAR, .scope = SCOPE_LINE, UNSIGNED, .offset = L_(port),
          .lo = 1, .hi = GW_CONF_MAX_LINES, .flags = KEY_REQUIRED,
          .help = "FXS port of the line, unique" },
        { .path = "lines[].number", .shape = KEY_SCALAR, .scope = SCOPE_LINE, .type = "number",
          .offset = L_(number), .parse = parse_number_key, .print = print_string, .flags = KEY_REQUIRED,
          .help = "Subscriber number: the user part of the line's AoR (digits, '*', '#', '+')" },
        { .path = "lines[].auth_user", .shape = KEY_SCALAR, .scope = SCOPE_LINE, .type = "string",
          .offset = L_(auth_user), .parse = parse_auth_user_key, .print = print_string,
          .def_text = "the number",
          .help = "User name for digest authentication" },
        { .path = "lines[].password", .shape = KEY_SCALAR, .scope = SCOPE_LINE, .type = "secret",
          .offset = L_(password), .parse = parse_password_key, .print = print_secret,
          .flags = KEY_SECRET | KEY_NULLABLE, .def_text = "none",
          .help = "Password for digest authentication; never logged" },
        { .path = "lines[].profile", .shape = KEY_SCALAR, .scope = SCOPE_LINE, .type = "name",
          .offset = L_(profile), .parse = parse_name_key, .print = print_string,
          .def_text = "the first profile",
          .help = "Name of the profile the line uses" },
        { .path = "lines[].auto_answer", .shape = KEY_SCALAR, .scope = SCOPE_LINE, DURATION,
          .offset = L_(auto_answer_us), .hi = 600 * USEC_PER_SEC, .def = "0",
          .help = "Simulated line: go off hook this long after ringing starts (0: never)" },
        { .path = "lines[].play", .shape = KEY_SCALAR, .scope = SCOPE_LINE, .type = "path",
          .offset = L_(play), .parse = parse_path_key, .print = print_string, .flags = KEY_NULLABLE,
          .def_text = "silence",
          .help = "Simulated line: what the subscriber says, 8 kHz 16-bit mono WAV, from connect, looped" },
        { .path = "lines[].record", .shape = KEY_SCALAR, .scope = SCOPE_LINE, .type = "path",
          .offset = L_(record), .parse = parse_path_key, .print = print_string, .flags = KEY_NULLABLE,
          .def_text = "none",
          .help = "Simulated line: WAV of what the subscriber hears while off hook, written at on-hook" },

        SECTION("line_hw", "Line hardware"),
        { .path = "line_hw.backend", .shape = KEY_SCALAR, .type = "sim", .offset = C_(line_hw_backend),
          .parse = parse_backend_key, .print = print_string, .def = "sim",
          .help = "Line hardware driver; 'sim' simulates the ports (controlled over the bus)" },
        { .path = "line_hw.flash_min", .shape = KEY_SCALAR, DURATION, .offset = C_(line_hw_flash_min_us),
          .lo = 20 * USEC_PER_MSEC, .hi = 2 * USEC_PER_SEC, .def = "80ms",
          .help = "Shortest on-hook that counts as a hook flash (shorter: ignored)" },
        { .path = "line_hw.flash_max", .shape = KEY_SCALAR, DURATION, .offset = C_(line_hw_flash_max_us),
          .lo = 20 * USEC_PER_MSEC, .hi = 5 * USEC_PER_SEC, .def = "700ms",
          .help = "Longest on-hook that counts as a hook flash (longer: hang-up)" },

        { .path = "tone_plan", .shape = KEY_SCALAR, .type = "name", .offset = C_(tone_plan),
          .parse = parse_name_key, .print = print_string, .def = "ru",
          .help = "Tones and ring cadence of the country: ru, us (files in the tone-plans directory)" },

        SECTION("media", "RTP, codecs and SRTP"),
        { .path = "media.rtp_ports", .shape = KEY_SCALAR, .type = "MIN-MAX", .offset = C_(media_rtp_ports),
          .parse = parse_rtp_ports_key, .print = print_string, .def = "16384-32767",
          .help = "UDP ports of RTP (even) and RTCP (odd); four per line" },
        { .path = "media.codecs", .shape = KEY_LIST, .type = "list of pcmu|pcma", .offset = C_(media_codecs),
          .n_offset = C_(n_media_codecs), .elem_size = sizeof(GwCodec), .max = _GW_CODEC_MAX,
          .parse = parse_codec_key, .print = print_codec, .def_text = "[pcma, pcmu]",
          .help = "Codecs offered and accepted, in order of preference" },
        { .path = "media.srtp", .shape = KEY_SCALAR, .type = "off|optional|mandatory", .offset = C_(media_srtp),
          .parse = parse_srtp_key, .print = print_srtp, .def = "off",
          .help = "SRTP with SDES keys: off (plain RTP), optional (offer keys, accept plain), mandatory (SRTP or no call)" },

        SECTION("supervisor", "gwsupd, or systemd's watchdog settings"),
        { .path = "supervisor.watchdog_interval", .shape = KEY_SCALAR, DURATION,
          .offset = C_(watchdog_interval_us), .lo = USEC_PER_SEC, .def = "10s",
          .help = "Watchdog timeout given to each daemon (it pings at half of it)" },
        { .path = "supervisor.restart_limit", .shape = KEY_SCALAR, UNSIGNED, .offset = C_(restart_limit),
          .lo = 1, .hi = 1000, .def = "10",
          .help = "Restarts of one daemon allowed before gwsupd gives up on it" },

        SECTION("bus", "The message bus between the daemons"),
        { .path = "bus.runtime_dir", .shape = KEY_SCALAR, .type = "path", .offset = C_(runtime_dir),
          .parse = parse_runtime_dir_key, .print = print_string, .def = "/run/fxsgw",
          .help = "Directory of ipc sockets and state files (absolute, at most 80 characters)" },
        SECTION("bus.endpoints", "Per-daemon bus endpoints; unset ones are ipc in runtime_dir"),
        ENDPOINT(gwsupd),
        ENDPOINT(sigd),
        ENDPOINT(regd),
        ENDPOINT(mediad),
        ENDPOINT(linehwd),
        { .path = "bus.curve_secret_key", .shape = KEY_SCALAR, .type = "secret", .offset = C_(bus_curve_secret_key),
          .parse = parse_curve_key, .print = print_secret, .flags = KEY_SECRET | KEY_NULLABLE,
          .def_text = "none",
          .help = "CURVE secret key (Z85, 40 characters) of the gateway; required with tcp:// endpoints" },
        { .path = "bus.curve_public_key", .shape = KEY_SCALAR, .type = "Z85 key", .offset = C_(bus_curve_public_key),
          .parse = parse_curve_key, .print = print_string, .flags = KEY_NULLABLE, .def_text = "none",
          .help = "CURVE public key (Z85, 40 characters) matching curve_secret_key" },

        SECTION("dbus", "The D-Bus management API (served by regd)"),
        { .path = "dbus.address", .shape = KEY_SCALAR, .type = "system|off|address", .offset = C_(dbus_address),
          .parse = parse_dbus_address_key, .print = print_string, .def = "system",
          .help = "Bus of the API org.fxsgw.Gateway1: the system bus, none, or a D-Bus address" },

        SECTION("log", "Logging"),
        { .path = "log.level", .shape = KEY_SCALAR, .type = "debug|info|notice|warning|err",
          .offset = C_(log_level), .parse = parse_log_level_key, .print = print_log_level, .def = "info",
          .help = "Most verbose level logged ($GW_LOG_LEVEL overrides it)" },
};

static const size_t n_conf_keys = ELEMENTSOF(conf_keys);

static int key_lookup(const char *path) {
        for (size_t i = 0; i < n_conf_keys; i++)
                if (streq(conf_keys[i].path, path))
                        return (int) i;
        return -ENOENT;
}

static size_t key_index(const char *path) {
        int i = key_lookup(path);
        assert(i >= 0);
        return (size_t) i;
}

/* The last component of a path: "profiles[].proxy" -> "proxy". */
static const char *key_name(const ConfKey *k) {
        const char *dot = strrchr(k->path, '.');
        return dot ? dot + 1 : k->path;
}

/* ---- the event walk ------------------------------------------------------------------- */

static void set_error_va(ParseCtx *ctx, const yaml_mark_t *m, const char *format, va_list ap) {
        _cleanup_free_ char *msg = NULL;

        if (ctx->error)
                return;
        if (vasprintf(&msg, format, ap) < 0)
                return;
        if (asprintf(&ctx->error, "%s:%zu:%zu: %s", ctx->name, m->line + 1, m->column + 1, msg) < 0)
                ctx->error = NULL;
}

_printf_(3, 4)
static int set_error(ParseCtx *ctx, const yaml_mark_t *m, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        set_error_va(ctx, m, format, ap);
        va_end(ap);
        return -EINVAL;
}

static int syntax_error(ParseCtx *ctx) {
        const yaml_parser_t *p = &ctx->parser;

        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        if (p->error == YAML_READER_ERROR)
                return set_error(ctx, &p->mark, "invalid input: %s", strna(p->problem));
        if (p->context && (p->context_mark.line != p->problem_mark.line ||
                           p->context_mark.column != p->problem_mark.column))
                return set_error(ctx, &p->problem_mark, "syntax error: %s %s started at %zu:%zu",
                                 strna(p->problem), p->context,
                                 p->context_mark.line + 1, p->context_mark.column + 1);
        if (p->context)
                return set_error(ctx, &p->problem_mark, "syntax error: %s %s", strna(p->problem), p->context);
        return set_error(ctx, &p->problem_mark, "syntax error: %s", strna(p->problem));
}

static int next_event(ParseCtx *ctx, yaml_event_t *ev) {
        yaml_event_delete(ev);
        if (!yaml_parser_parse(&ctx->parser, ev))
                return syntax_error(ctx);
        if (ev->type == YAML_ALIAS_EVENT)
                return set_error(ctx, &ev->start_mark, "aliases are not supported");
        return 0;
}

static const char *event_kind(const yaml_event_t *ev) {
        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                return "a scalar";
        case YAML_SEQUENCE_START_EVENT:
                return "a list";
        case YAML_MAPPING_START_EVENT:
                return "a mapping";
        default:
                return "something else";
        }
}

/* "key:" with nothing after it, or ~ / null: an empty section or list. */
static bool event_is_null(const yaml_event_t *ev) {
        const char *v;

        if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        v = (const char *) ev->data.scalar.value;
        return streq(v, "") || streq(v, "~") || streq(v, "null");
}

static void apply_defaults(ParseCtx *ctx, KeyScope scope, void *base) {
        for (size_t i = 0; i < n_conf_keys; i++) {
                const ConfKey *k = &conf_keys[i];
                int r;

                if (k->scope != scope || !k->def || k->shape != KEY_SCALAR)
                        continue;
                r = k->parse(ctx, k, k->def, FIELD(base, k));
                assert(r >= 0);   /* a default that does not parse is our bug */
                (void) r;
        }
}

static int check_required(ParseCtx *ctx, KeyScope scope, const KeyMark *marks, const char *where,
                          const yaml_mark_t *m) {
        for (size_t i = 0; i < n_conf_keys; i++) {
                const ConfKey *k = &conf_keys[i];

                if (k->scope != scope || !(k->flags & KEY_REQUIRED) || marks[i].set)
                        continue;
                if (isempty(where))
                        return set_error(ctx, m, "missing required key '%s'", key_name(k));
                return set_error(ctx, m, "missing required key '%s' in '%s'", key_name(k), where);
        }
        return 0;
}

static int parse_mapping(ParseCtx *ctx, const char *tpath, const char *dpath, KeyScope scope, void *base,
                         KeyMark *marks);

/* A scalar value for key k (shape KEY_SCALAR, or one element of a KEY_LIST). */
static int parse_scalar(ParseCtx *ctx, const ConfKey *k, yaml_event_t *ev, const char *dpath, void *field) {
        const char *v = (const char *) ev->data.scalar.value;
        int r;

        if (ev->type != YAML_SCALAR_EVENT)
                return set_error(ctx, &ev->start_mark, "key '%s': expected %s, got %s", dpath,
                                 k->shape == KEY_LIST ? k->type + strlen("list of ") : k->type, event_kind(ev));
        if (strlen(v) != ev->data.scalar.length)
                r = conf_why(ctx, "expected text without NUL characters");
        else if ((k->flags & KEY_NULLABLE) && event_is_null(ev)) {
                /* "password: ~" is no password, while "password: ''" is an empty one. */
                if (k->flags & KEY_SECRET)
                        *(char **) field = erase_and_free(*(char **) field);
                else {
                        free(*(char **) field);
                        *(char **) field = NULL;
                }
                r = 0;
        } else
                r = k->parse(ctx, k, event_is_null(ev) ? "" : v, field);
        if (k->flags & KEY_SECRET)
                explicit_bzero(ev->data.scalar.value, ev->data.scalar.length);
        if (r == -EINVAL)
                return set_error(ctx, &ev->start_mark, "key '%s': %s", dpath, ctx->why);
        return r;
}

static int parse_list(ParseCtx *ctx, const ConfKey *k, yaml_event_t *ev, const char *dpath, void *base) {
        size_t *n = (size_t *) ((uint8_t *) base + k->n_offset);
        int r;

        if (event_is_null(ev))
                return 0;
        if (ev->type != YAML_SEQUENCE_START_EVENT)
                return set_error(ctx, &ev->start_mark, "key '%s': expected a %s, got %s", dpath, k->type,
                                 event_kind(ev));
        for (;;) {
                char epath[300];

                r = next_event(ctx, ev);
                if (r < 0)
                        return r;
                if (ev->type == YAML_SEQUENCE_END_EVENT)
                        return 0;
                snprintf(epath, sizeof epath, "%s[%zu]", dpath, *n);
                if (*n >= k->max)
                        return set_error(ctx, &ev->start_mark, "key '%s': too many entries (max %zu)", dpath,
                                         k->max);
                r = parse_scalar(ctx, k, ev, epath, (uint8_t *) FIELD(base, k) + *n * k->elem_size);
                if (r < 0)
                        return r;
                (*n)++;
        }
}

static int add_element(ParseCtx *ctx, KeyScope scope, void **ret_elem, KeyMark **ret_marks) {
        GwConf *c = ctx->conf;
        KeyMark **marks = scope == SCOPE_PROFILE ? &ctx->profile_marks : &ctx->line_marks;
        size_t n = scope == SCOPE_PROFILE ? c->n_profiles : c->n_lines;
        KeyMark *m;

        m = reallocarray(*marks, (n + 1) * n_conf_keys, sizeof(KeyMark));
        if (!m)
                return -ENOMEM;
        *marks = m;
        memset(m + n * n_conf_keys, 0, n_conf_keys * sizeof(KeyMark));
        *ret_marks = m + n * n_conf_keys;

        if (scope == SCOPE_PROFILE) {
                GwProfileConf *p = reallocarray(c->profiles, n + 1, sizeof(GwProfileConf));
                if (!p)
                        return -ENOMEM;
                c->profiles = p;
                p[n] = (GwProfileConf) {};
                *ret_elem = &p[n];
                c->n_profiles++;
        } else {
                GwLineConf *l = reallocarray(c->lines, n + 1, sizeof(GwLineConf));
                if (!l)
                        return -ENOMEM;
                c->lines = l;
                l[n] = (GwLineConf) {};
                *ret_elem = &l[n];
                c->n_lines++;
        }
        apply_defaults(ctx, scope, *ret_elem);
        return 0;
}

static int parse_section_list(ParseCtx *ctx, const ConfKey *k, yaml_event_t *ev, const char *dpath) {
        int r;

        if (event_is_null(ev))
                return 0;
        if (ev->type != YAML_SEQUENCE_START_EVENT)
                return set_error(ctx, &ev->start_mark, "key '%s': expected a list of mappings, got %s", dpath,
                                 event_kind(ev));
        for (size_t i = 0;; i++) {
                char epath[300], tpath[64];
                KeyMark *marks;
                yaml_mark_t start;
                void *elem;

                r = next_event(ctx, ev);
                if (r < 0)
                        return r;
                if (ev->type == YAML_SEQUENCE_END_EVENT)
                        return 0;
                snprintf(epath, sizeof epath, "%s[%zu]", dpath, i);
                if (i >= k->max)
                        return set_error(ctx, &ev->start_mark, "key '%s': too many entries (max %zu)", dpath, k->max);
                if (ev->type != YAML_MAPPING_START_EVENT)
                        return set_error(ctx, &ev->start_mark, "key '%s': expected a mapping, got %s", epath,
                                         event_kind(ev));
                start = ev->start_mark;
                r = add_element(ctx, k->child_scope, &elem, &marks);
                if (r < 0)
                        return r;
                snprintf(tpath, sizeof tpath, "%s[]", k->path);
                r = parse_mapping(ctx, tpath, epath, k->child_scope, elem, marks);
                if (r < 0)
                        return r;
                r = check_required(ctx, k->child_scope, marks, epath, &start);
                if (r < 0)
                        return r;
        }
}

/* The value of key k; the key itself was the previous event. */
static int parse_value(ParseCtx *ctx, size_t idx, const char *dpath, KeyScope scope, void *base,
                       KeyMark *marks) {
        _cleanup_(yaml_event_delete) yaml_event_t ev = {};
        const ConfKey *k = &conf_keys[idx];
        int r;

        r = next_event(ctx, &ev);
        if (r < 0)
                return r;
        marks[idx] = (KeyMark) { .set = true, .mark = ev.start_mark };

        switch (k->shape) {
        case KEY_SECTION:
                if (event_is_null(&ev))
                        return 0;
                if (ev.type != YAML_MAPPING_START_EVENT)
                        return set_error(ctx, &ev.start_mark, "key '%s': expected a mapping, got %s", dpath,
                                         event_kind(&ev));
                return parse_mapping(ctx, k->path, dpath, scope, base, marks);
        case KEY_SECTION_LIST:
                return parse_section_list(ctx, k, &ev, dpath);
        case KEY_LIST:
                return parse_list(ctx, k, &ev, dpath, base);
        case KEY_SCALAR:
                return parse_scalar(ctx, k, &ev, dpath, FIELD(base, k));
        }
        return -EINVAL;
}

/* Keys of one mapping, after its MAPPING-START. tpath is its path in the table
 * ("profiles[]"), dpath as shown to the user ("profiles[0]"). */
static int parse_mapping(ParseCtx *ctx, const char *tpath, const char *dpath, KeyScope scope, void *base,
                         KeyMark *marks) {
        _cleanup_(yaml_event_delete) yaml_event_t ev = {};
        int r;

        for (;;) {
                char kt[256], kd[256];
                const char *key;
                int idx;

                r = next_event(ctx, &ev);
                if (r < 0)
                        return r;
                if (ev.type == YAML_MAPPING_END_EVENT)
                        return 0;
                if (ev.type != YAML_SCALAR_EVENT)
                        return set_error(ctx, &ev.start_mark, "expected a key in '%s', got %s",
                                         isempty(dpath) ? "the top level" : dpath, event_kind(&ev));

                key = (const char *) ev.data.scalar.value;
                snprintf(kt, sizeof kt, "%s%s%s", tpath, isempty(tpath) ? "" : ".", key);
                snprintf(kd, sizeof kd, "%s%s%s", dpath, isempty(dpath) ? "" : ".", key);
                idx = strpbrk(key, ".[]") || strlen(key) != ev.data.scalar.length ? -ENOENT : key_lookup(kt);
                if (idx < 0) {
                        if (isempty(dpath))
                                return set_error(ctx, &ev.start_mark, "unknown key '%s' at the top level",
                                                 GOT(key));
                        return set_error(ctx, &ev.start_mark, "unknown key '%s' in '%s'", GOT(key), dpath);
                }
                if (marks[idx].set) {
                        if (isempty(dpath))
                                return set_error(ctx, &ev.start_mark, "duplicate key '%s' at the top level", key);
                        return set_error(ctx, &ev.start_mark, "duplicate key '%s' in '%s'", key, dpath);
                }

                r = parse_value(ctx, (size_t) idx, kd, scope, base, marks);
                if (r < 0)
                        return r;
        }
}

static int parse_document(ParseCtx *ctx) {
        _cleanup_(yaml_event_delete) yaml_event_t ev = {};
        int r;

        r = next_event(ctx, &ev);                 /* STREAM-START */
        if (r < 0)
                return r;
        r = next_event(ctx, &ev);
        if (r < 0)
                return r;
        if (ev.type == YAML_STREAM_END_EVENT)
                return set_error(ctx, &ev.start_mark, "empty configuration");
        /* DOCUMENT-START */
        r = next_event(ctx, &ev);
        if (r < 0)
                return r;
        if (event_is_null(&ev))
                return set_error(ctx, &ev.start_mark, "empty configuration");
        if (ev.type != YAML_MAPPING_START_EVENT)
                return set_error(ctx, &ev.start_mark, "expected a mapping of sections at the top level, got %s",
                                 event_kind(&ev));
        ctx->root_mark = ev.start_mark;
        r = parse_mapping(ctx, "", "", SCOPE_CONF, ctx->conf, ctx->conf_marks);
        if (r < 0)
                return r;
        r = check_required(ctx, SCOPE_CONF, ctx->conf_marks, NULL, &ctx->root_mark);
        if (r < 0)
                return r;

        r = next_event(ctx, &ev);                 /* DOCUMENT-END */
        if (r < 0)
                return r;
        r = next_event(ctx, &ev);
        if (r < 0)
                return r;
        if (ev.type != YAML_STREAM_END_EVENT)
                return set_error(ctx, &ev.start_mark, "only one YAML document is allowed");
        return 0;
}

/* ---- rules across keys, then derived defaults ------------------------------------------ */

static const yaml_mark_t *mark_of(ParseCtx *ctx, const KeyMark *marks, const char *path) {
        const KeyMark *m = &marks[key_index(path)];
        return m->set ? &m->mark : &ctx->root_mark;
}

static int validate_profiles(ParseCtx *ctx) {
        GwConf *c = ctx->conf;
        int r;

        if (c->n_profiles == 0)
                return set_error(ctx, mark_of(ctx, ctx->conf_marks, "profiles"),
                                 "key 'profiles': at least one profile is required");

        for (size_t i = 0; i < c->n_profiles; i++) {
                const GwProfileConf *p = &c->profiles[i];
                const KeyMark *marks = ctx->profile_marks + i * n_conf_keys;

                for (size_t j = 0; j < i; j++)
                        if (streq(c->profiles[j].name, p->name))
                                return set_error(ctx, mark_of(ctx, marks, "profiles[].name"),
                                                 "key 'profiles[%zu].name': duplicate profile name '%s' (also profiles[%zu])",
                                                 i, p->name, j);

                if (p->keepalive == KEEPALIVE_REGISTER && !p->register_lines)
                        return set_error(ctx, mark_of(ctx, marks, "profiles[].keepalive"),
                                         "key 'profiles[%zu].keepalive': 'register' needs 'register: true'", i);

                if (p->dial_plan) {
                        _cleanup_(gw_digitmap_freep) GwDigitMap *dm = NULL;
                        const char *why = NULL;
                        size_t off = 0;

                        r = gw_digitmap_parse(p->dial_plan, &dm, &why, &off);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return set_error(ctx, mark_of(ctx, marks, "profiles[].dial_plan"),
                                                 "key 'profiles[%zu].dial_plan': %s at character %zu of '%s'",
                                                 i, why, off + 1, p->dial_plan);
                }

                if (p->register_retry_base_us > p->register_retry_max_us) {
                        char a[32], b[32];
                        const KeyMark *base = &marks[key_index("profiles[].register_retry_base")];

                        return set_error(ctx, base->set ? &base->mark :
                                         mark_of(ctx, marks, "profiles[].register_retry_max"),
                                         "key 'profiles[%zu].register_retry_base': %s exceeds register_retry_max (%s)",
                                         i, format_duration(a, sizeof a, p->register_retry_base_us),
                                         format_duration(b, sizeof b, p->register_retry_max_us));
                }
        }
        return 0;
}

static int validate_lines(ParseCtx *ctx) {
        GwConf *c = ctx->conf;

        if (c->n_lines == 0)
                return set_error(ctx, mark_of(ctx, ctx->conf_marks, "lines"),
                                 "key 'lines': at least one line is required");

        for (size_t i = 0; i < c->n_lines; i++) {
                GwLineConf *l = &c->lines[i];
                const KeyMark *marks = ctx->line_marks + i * n_conf_keys;

                for (size_t j = 0; j < i; j++)
                        if (c->lines[j].port == l->port)
                                return set_error(ctx, mark_of(ctx, marks, "lines[].port"),
                                                 "key 'lines[%zu].port': port %u is already used by lines[%zu]",
                                                 i, l->port, j);

                if (!l->profile) {
                        l->profile = strdup(c->profiles[0].name);
                        if (!l->profile)
                                return -ENOMEM;
                        l->profile_index = 0;
                        continue;
                }
                for (l->profile_index = 0; l->profile_index < c->n_profiles; l->profile_index++)
                        if (streq(c->profiles[l->profile_index].name, l->profile))
                                break;
                if (l->profile_index == c->n_profiles)
                        return set_error(ctx, mark_of(ctx, marks, "lines[].profile"),
                                         "key 'lines[%zu].profile': no profile named '%s'", i, l->profile);
        }
        return 0;
}

static int validate_bus(ParseCtx *ctx) {
        GwConf *c = ctx->conf;

        for (size_t s = 0; s < ELEMENTSOF(c->bus_endpoints); s++) {
                const char *ep = c->bus_endpoints[s];
                char path[64];

                if (!ep || strncmp(ep, "tcp://", 6) != 0)
                        continue;
                if (c->bus_curve_secret_key && c->bus_curve_public_key)
                        continue;
                for (size_t i = 0; i < n_conf_keys; i++)
                        if (conf_keys[i].offset == offsetof(GwConf, bus_endpoints) + s * sizeof(char *) &&
                            conf_keys[i].scope == SCOPE_CONF && conf_keys[i].shape == KEY_SCALAR) {
                                snprintf(path, sizeof path, "%s", conf_keys[i].path);
                                break;
                        }
                return set_error(ctx, mark_of(ctx, ctx->conf_marks, path),
                                 "key '%s': a tcp:// endpoint needs bus.curve_secret_key and bus.curve_public_key",
                                 path);
        }

        if (c->bus_curve_secret_key && c->bus_curve_public_key) {
                char pub[CONF_Z85_KEY_LEN + 1];

                /* Without CURVE support in libzmq (ENOTSUP) the pair cannot be checked here;
                 * binding a tcp endpoint then fails in gw-bus. */
                if (zmq_curve_public(pub, c->bus_curve_secret_key) == 0 &&
                    !streq(pub, c->bus_curve_public_key)) {
                        explicit_bzero(pub, sizeof pub);
                        return set_error(ctx, mark_of(ctx, ctx->conf_marks, "bus.curve_public_key"),
                                         "key 'bus.curve_public_key': does not belong to bus.curve_secret_key");
                }
                explicit_bzero(pub, sizeof pub);
        }
        return 0;
}

static int validate_media(ParseCtx *ctx) {
        GwConf *c = ctx->conf;
        size_t ports;

        if (c->line_hw_flash_min_us >= c->line_hw_flash_max_us) {
                char a[32], b[32];

                return set_error(ctx, mark_of(ctx, ctx->conf_marks, "line_hw.flash_min"),
                                 "key 'line_hw.flash_min': %s is not below line_hw.flash_max (%s)",
                                 format_duration(a, sizeof a, c->line_hw_flash_min_us),
                                 format_duration(b, sizeof b, c->line_hw_flash_max_us));
        }

        for (size_t i = 0; i < c->n_media_codecs; i++)
                for (size_t j = 0; j < i; j++)
                        if (c->media_codecs[i] == c->media_codecs[j])
                                return set_error(ctx, mark_of(ctx, ctx->conf_marks, "media.codecs"),
                                                 "key 'media.codecs': '%s' is listed twice",
                                                 gw_codec_to_string(c->media_codecs[i]));
        if (c->n_media_codecs == 0) {
                c->media_codecs[0] = GW_CODEC_PCMA;
                c->media_codecs[1] = GW_CODEC_PCMU;
                c->n_media_codecs = 2;
        }

        /* Each line owns two RTP/RTCP pairs, used alternately by its calls (docs/CALLS.md). */
        ports = (size_t) c->media_rtp_port_max - c->media_rtp_port_min + 1;
        if (ports / 4 < c->n_lines)
                return set_error(ctx, mark_of(ctx, ctx->conf_marks, "media.rtp_ports"),
                                 "key 'media.rtp_ports': %zu ports are too few for %zu lines (4 per line)",
                                 ports, c->n_lines);
        return 0;
}

static int fill_derived(ParseCtx *ctx) {
        GwConf *c = ctx->conf;
        int r;

        if (isempty(c->sip_advertised_address)) {
                r = store_string(&c->sip_advertised_address, c->sip_listen, false);
                if (r < 0)
                        return r;
        }
        r = gw_parse_sockaddr(c->sip_listen, 0, &c->sip_listen_addr);
        if (r < 0)
                return r;

        for (size_t i = 0; i < c->n_profiles; i++) {
                GwProfileConf *p = &c->profiles[i];

                p->registrar_set = ctx->profile_marks[i * n_conf_keys + key_index("profiles[].registrar")].set;
                if (!p->registrar_set) {
                        r = gw_parse_host_port(p->proxy.text, &p->registrar);
                        if (r < 0)
                                return r;
                }
                if (!p->domain) {
                        r = store_string(&p->domain, p->registrar.host, false);
                        if (r < 0)
                                return r;
                }
                if (!ctx->profile_marks[i * n_conf_keys + key_index("profiles[].srtp")].set)
                        p->srtp = c->media_srtp;
        }
        for (size_t i = 0; i < c->n_lines; i++) {
                GwLineConf *l = &c->lines[i];

                if (!l->auth_user) {
                        r = store_string(&l->auth_user, l->number, false);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

uint16_t gw_conf_rtp_port(const GwConf *c, size_t line_index, uint64_t call_seq) {
        assert(c);
        assert(line_index < c->n_lines);
        return (uint16_t) (c->media_rtp_port_min + 4 * line_index + 2 * (call_seq % 2));
}

/* ---- API ------------------------------------------------------------------------------ */

GwConf *gw_conf_free(GwConf *c) {
        if (!c)
                return NULL;

        free(c->path);
        free(c->sip_listen);
        free(c->sip_advertised_address);
        for (size_t i = 0; i < c->n_dns_servers; i++)
                free(c->dns_servers[i]);
        for (size_t i = 0; i < c->n_profiles; i++) {
                GwProfileConf *p = &c->profiles[i];

                free(p->name);
                gw_host_port_done(&p->proxy);
                for (size_t j = 0; j < p->n_redundant; j++)
                        gw_host_port_done(&p->redundant[j]);
                gw_host_port_done(&p->registrar);
                free(p->domain);
                free(p->dial_plan);
                for (size_t j = 0; j < p->n_emergency_numbers; j++)
                        free(p->emergency_numbers[j]);
        }
        free(c->profiles);
        for (size_t i = 0; i < c->n_lines; i++) {
                GwLineConf *l = &c->lines[i];

                free(l->number);
                free(l->auth_user);
                erase_and_free(l->password);
                free(l->profile);
                free(l->play);
                free(l->record);
        }
        free(c->lines);
        free(c->line_hw_backend);
        free(c->tone_plan);
        free(c->media_rtp_ports);
        free(c->runtime_dir);
        for (size_t i = 0; i < ELEMENTSOF(c->bus_endpoints); i++)
                free(c->bus_endpoints[i]);
        erase_and_free(c->bus_curve_secret_key);
        free(c->bus_curve_public_key);
        free(c->dbus_address);
        free(c);
        return NULL;
}

int gw_conf_load_string(const char *name, const char *text, GwConf **ret, char **ret_error) {
        _cleanup_(gw_conf_freep) GwConf *c = NULL;
        _cleanup_free_ KeyMark *conf_marks = NULL;
        ParseCtx ctx = {};
        int r;

        assert(ret);
        if (!name)
                name = "<string>";
        if (!text)
                return -EINVAL;

        c = calloc(1, sizeof *c);
        conf_marks = calloc(n_conf_keys, sizeof(KeyMark));
        if (!c || !conf_marks)
                return -ENOMEM;
        c->path = strdup(name);
        if (!c->path)
                return -ENOMEM;
        if (!yaml_parser_initialize(&ctx.parser))
                return -ENOMEM;

        ctx.name = name;
        ctx.conf = c;
        ctx.conf_marks = conf_marks;
        apply_defaults(&ctx, SCOPE_CONF, c);

        /* FNV-1a: cheap, and enough to tell two reads of a file apart (not a MAC). */
        c->digest = UINT64_C(0xcbf29ce484222325);
        for (const unsigned char *t = (const unsigned char *) text; *t; t++)
                c->digest = (c->digest ^ *t) * UINT64_C(0x100000001b3);

        yaml_parser_set_input_string(&ctx.parser, (const unsigned char *) text, strlen(text));
        r = parse_document(&ctx);
        if (r >= 0)
                r = validate_profiles(&ctx);
        if (r >= 0)
                r = validate_lines(&ctx);
        if (r >= 0)
                r = validate_bus(&ctx);
        if (r >= 0)
                r = validate_media(&ctx);
        if (r >= 0)
                r = fill_derived(&ctx);

        yaml_parser_delete(&ctx.parser);
        free(ctx.profile_marks);
        free(ctx.line_marks);

        if (r < 0) {
                if (r == -EINVAL && !ctx.error)
                        (void) asprintf(&ctx.error, "%s: invalid configuration", name);
                if (r == -ENOMEM && !ctx.error)
                        (void) asprintf(&ctx.error, "%s: out of memory", name);
                log_debug("Failed to load configuration: %s", strna(ctx.error));
                if (ret_error)
                        *ret_error = TAKE_PTR(ctx.error);
                free(ctx.error);
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int gw_conf_load(const char *path, GwConf **ret, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        char *text;
        struct stat st;
        size_t n = 0;
        int r;

        assert(path);
        assert(ret);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                goto fail_io;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail_io;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                goto fail_io;
        }
        if (st.st_size > CONF_MAX_FILE_SIZE) {
                r = -EFBIG;
                goto fail_io;
        }

        text = malloc(CONF_MAX_FILE_SIZE + 1);
        if (!text)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, text + n, CONF_MAX_FILE_SIZE + 1 - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        erase_and_free(text);
                        goto fail_io;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > CONF_MAX_FILE_SIZE) {
                        erase_and_free(text);
                        r = -EFBIG;
                        goto fail_io;
                }
        }
        text[n] = '\0';
        if (strlen(text) != n) {
                erase_and_free(text);
                if (ret_error && asprintf(ret_error, "%s: the file contains a NUL byte", path) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }

        r = gw_conf_load_string(path, text, ret, ret_error);
        /* The text holds the passwords. */
        explicit_bzero(text, n);
        free(text);
        return r;

fail_io:
        log_debug_errno(r, "Failed to read configuration '%s': %m", path);
        if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                *ret_error = NULL;
        return r;
}

int gw_conf_is_world_readable(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        return (st.st_mode & 077) != 0;
}

void gw_conf_dump_keys(FILE *f) {
        for (size_t i = 0; i < n_conf_keys; i++) {
                const ConfKey *k = &conf_keys[i];
                const char *def;

                if (k->def_text)
                        def = k->def_text;
                else if (k->def)
                        def = isempty(k->def) ? "\"\"" : k->def;
                else
                        def = (k->flags & KEY_REQUIRED) ? "(required)" : "-";
                fprintf(f, "%-36s %-30s %-22s %s\n", k->path, k->type, def, k->help);
        }
}

static void dump_scope(const GwConf *c, KeyScope scope, const void *base, FILE *f, int col, bool dash);

/* 'col' spaces, or for the first key of a list entry col-2 spaces and "- ". */
static void dump_indent(FILE *f, int col, bool dash) {
        if (dash)
                fprintf(f, "%*s- ", col - 2, "");
        else
                fprintf(f, "%*s", col, "");
}

static void dump_key(const GwConf *c, const ConfKey *k, const void *base, FILE *f, int col, bool dash) {
        const void *field = (const uint8_t *) base + k->offset;

        dump_indent(f, col, dash);
        switch (k->shape) {
        case KEY_SECTION:
                fprintf(f, "%s:\n", key_name(k));
                break;
        case KEY_SECTION_LIST: {
                bool profiles = k->child_scope == SCOPE_PROFILE;
                size_t n = profiles ? c->n_profiles : c->n_lines;

                fprintf(f, "%s:\n", key_name(k));
                for (size_t i = 0; i < n; i++) {
                        const void *elem = profiles ? (const void *) &c->profiles[i] : (const void *) &c->lines[i];
                        dump_scope(c, k->child_scope, elem, f, col + 4, true);
                }
                break;
        }
        case KEY_LIST: {
                size_t n = *(const size_t *) ((const uint8_t *) base + k->n_offset);

                fprintf(f, "%s: [", key_name(k));
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                fputs(", ", f);
                        k->print(k, (const uint8_t *) field + i * k->elem_size, f);
                }
                fputs("]\n", f);
                break;
        }
        case KEY_SCALAR:
                /* A list entry starts with a required key, so no "- #" comment can occur. */
                if ((k->flags & KEY_NULLABLE) && !*(char *const *) field) {
                        fprintf(f, "# %s: (not set)\n", key_name(k));
                        break;
                }
                fprintf(f, "%s: ", key_name(k));
                k->print(k, field, f);
                fputc('\n', f);
                break;
        }
}

/* Keys of one scope in table order, indented by their depth. */
static void dump_scope(const GwConf *c, KeyScope scope, const void *base, FILE *f, int col, bool dash) {
        for (size_t i = 0; i < n_conf_keys; i++) {
                const ConfKey *k = &conf_keys[i];
                int depth = 0;

                if (k->scope != scope)
                        continue;
                for (const char *p = strchr(k->path, '.'); scope == SCOPE_CONF && p; p = strchr(p + 1, '.'))
                        depth++;
                dump_key(c, k, base, f, col + 2 * depth, dash);
                dash = false;
        }
}

void gw_conf_dump(const GwConf *c, FILE *f) {
        fprintf(f, "# Effective configuration from '%s' (secrets shown as ***)\n", strna(c->path));
        dump_scope(c, SCOPE_CONF, c, f, 0, false);
}

const GwProfileConf *gw_conf_profile_by_name(const GwConf *c, const char *name) {
        for (size_t i = 0; c && name && i < c->n_profiles; i++)
                if (streq(c->profiles[i].name, name))
                        return &c->profiles[i];
        return NULL;
}

const GwLineConf *gw_conf_line_by_port(const GwConf *c, unsigned port) {
        for (size_t i = 0; c && i < c->n_lines; i++)
                if (c->lines[i].port == port)
                        return &c->lines[i];
        return NULL;
}

/* Keys whose value is fixed for the life of a process: sockets bound and
 * endpoints connected at start, the RTP port range every line's ports are
 * carved from, the line hardware, the resolver, and what gwsupd hands its
 * children when it starts them. Everything else a reload applies. */
int gw_conf_restart_keys(const GwConf *a, const GwConf *b, const char ***ret) {
        static const char *const endpoint_keys[ELEMENTSOF(a->bus_endpoints)] = {
                [1] = "bus.endpoints.gwsupd", [2] = "bus.endpoints.sigd", [3] = "bus.endpoints.regd",
                [4] = "bus.endpoints.mediad", [5] = "bus.endpoints.linehwd",
        };
        const char **keys;
        size_t n = 0;
        bool dns_same;

        assert(a && b && ret);
        keys = calloc(32, sizeof *keys);
        if (!keys)
                return -ENOMEM;
#define CHANGED(cond, key) do { if ((cond) && n < 31) keys[n++] = (key); } while (0)
        CHANGED(!streq_ptr(a->sip_listen, b->sip_listen), "sip.listen");
        /* Unset, it is the listen address: only a change of its own counts. */
        CHANGED(!streq_ptr(a->sip_advertised_address, b->sip_advertised_address) &&
                !(streq_ptr(a->sip_advertised_address, a->sip_listen) &&
                  streq_ptr(b->sip_advertised_address, b->sip_listen)), "sip.advertised_address");
        dns_same = a->n_dns_servers == b->n_dns_servers;
        for (size_t i = 0; dns_same && i < a->n_dns_servers; i++)
                dns_same = streq_ptr(a->dns_servers[i], b->dns_servers[i]);
        CHANGED(!dns_same, "dns.servers");
        CHANGED(a->dns_min_ttl_us != b->dns_min_ttl_us, "dns.min_ttl");
        CHANGED(!streq_ptr(a->line_hw_backend, b->line_hw_backend), "line_hw.backend");
        CHANGED(a->line_hw_flash_min_us != b->line_hw_flash_min_us, "line_hw.flash_min");
        CHANGED(a->line_hw_flash_max_us != b->line_hw_flash_max_us, "line_hw.flash_max");
        CHANGED(a->media_rtp_port_min != b->media_rtp_port_min || a->media_rtp_port_max != b->media_rtp_port_max,
                "media.rtp_ports");
        CHANGED(a->watchdog_interval_us != b->watchdog_interval_us, "supervisor.watchdog_interval");
        CHANGED(a->restart_limit != b->restart_limit, "supervisor.restart_limit");
        CHANGED(!streq_ptr(a->runtime_dir, b->runtime_dir), "bus.runtime_dir");
        for (size_t i = 0; i < ELEMENTSOF(a->bus_endpoints); i++)
                CHANGED(endpoint_keys[i] && !streq_ptr(a->bus_endpoints[i], b->bus_endpoints[i]), endpoint_keys[i]);
        CHANGED(!streq_ptr(a->bus_curve_secret_key, b->bus_curve_secret_key), "bus.curve_secret_key");
        CHANGED(!streq_ptr(a->bus_curve_public_key, b->bus_curve_public_key), "bus.curve_public_key");
#undef CHANGED
        keys[n] = NULL;
        *ret = keys;
        return (int) n;
}
