/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-message.c: what sigd does with a received datagram, and how it builds SIP messages.
 *
 * A datagram is checked twice. First our own scan of the raw bytes (start
 * line, header counts, scalar ranges, Content-Length, name-addr and Via
 * syntax): libosip2 is a liberal parser and accepts much of what RFC 4475
 * says must be refused (negative Content-Length, CSeq above 2^32-1, CSeq
 * method mismatch, extra SP in the request line...). Only then libosip2
 * parses it. A request that fails either check is answered statelessly with
 * 400 (505 for another SIP version) when its top Via gives us somewhere to
 * send the answer; anything else is dropped. Every failure is counted.
 *
 * Well-formed requests get a server transaction (libosip2's NIST, IST for
 * INVITE) so retransmissions are absorbed and our answer is repeated, and
 * are answered as an endpoint that is not a registrar: OPTIONS 200, REGISTER
 * 405, anything else 501; INVITE, BYE, CANCEL, INFO and ACK go to the call
 * layer (sigd-call.c), which answers what it does not know 481. ACK is never answered. Responses go to the
 * source address of the request, at the source port when the Via asks for
 * rport (RFC 3581), else at the Via's port (RFC 3261 §18.2.2). */
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

#define RAW_MAX_HEADERS 512

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

/* ---------------------------------------------------------------- small helpers */

int random_token(char *buf, size_t n_chars) {
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

static bool is_token_char(char c) {
        return isalnum((unsigned char) c) || (c && strchr("-.!%*_+`'~", c));
}

static bool is_lws(char c) {
        return c == ' ' || c == '\t';
}

static const char *skip_lws(const char *p, const char *end) {
        while (p < end && is_lws(*p))
                p++;
        return p;
}

/* Unsigned decimal of 1..10 digits, value <= max. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 10)
                return -ERANGE;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
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

bool manager_source_trusted(Manager *m, const struct sockaddr *sa) {
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

void manager_note_peer(Manager *m, const struct sockaddr *sa) {
        for (size_t i = 0; i < m->n_peers; i++)
                if (gw_sockaddr_same_ip((const struct sockaddr *) &m->peers[i], sa))
                        return;
        memset(&m->peers[m->next_peer], 0, sizeof(m->peers[0]));
        memcpy(&m->peers[m->next_peer], sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
        m->next_peer = (m->next_peer + 1) % ELEMENTSOF(m->peers);
        m->n_peers = MIN(m->n_peers + 1, ELEMENTSOF(m->peers));
}

/* ---------------------------------------------------------------- raw scan */

typedef enum RawHeaderId {
        H_OTHER, H_VIA, H_FROM, H_TO, H_CALL_ID, H_CSEQ, H_MAX_FORWARDS, H_CONTENT_LENGTH, H_CONTACT,
        H_CONTENT_TYPE, H_REQUIRE, H_ACCEPT, _H_MAX,
} RawHeaderId;

typedef struct RawHeader {
        RawHeaderId id;
        const char *name;
        size_t name_len;
        const char *value;               /* unfolded, trimmed; may hold NUL bytes */
        size_t len;
} RawHeader;

typedef struct RawMessage {
        char *head;                      /* unfolded copy of start line and headers */
        bool is_request;
        const char *method;  size_t method_len;
        const char *uri;     size_t uri_len;
        const char *version; size_t version_len;
        unsigned status;
        RawHeader h[RAW_MAX_HEADERS];
        size_t n_h;
        size_t count[_H_MAX];
        size_t head_len;                 /* bytes of the datagram up to and with the empty line */
        size_t body_len;                 /* as framed by Content-Length (or the rest) */
        /* the top Via, for addressing a response */
        bool via_ok;
        bool via_rport;
        uint16_t via_port;
} RawMessage;

static void raw_message_done(RawMessage *rm) {
        free(rm->head);
        rm->head = NULL;
}

static RawHeaderId header_id(const char *name, size_t n) {
        static const struct { const char *name; const char *compact; RawHeaderId id; } table[] = {
                { "Via", "v", H_VIA },
                { "From", "f", H_FROM },
                { "To", "t", H_TO },
                { "Call-ID", "i", H_CALL_ID },
                { "CSeq", NULL, H_CSEQ },
                { "Max-Forwards", NULL, H_MAX_FORWARDS },
                { "Content-Length", "l", H_CONTENT_LENGTH },
                { "Contact", "m", H_CONTACT },
                { "Content-Type", "c", H_CONTENT_TYPE },
                { "Require", NULL, H_REQUIRE },
                { "Accept", NULL, H_ACCEPT },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (strlen(table[i].name) == n && strncasecmp(name, table[i].name, n) == 0)
                        return table[i].id;
                if (table[i].compact && n == 1 && tolower((unsigned char) *name) == table[i].compact[0])
                        return table[i].id;
        }
        return H_OTHER;
}

static const RawHeader *raw_header(const RawMessage *rm, RawHeaderId id) {
        for (size_t i = 0; i < rm->n_h; i++)
                if (rm->h[i].id == id)
                        return &rm->h[i];
        return NULL;
}

/* Split the datagram into start line and unfolded header lines. Returns
 * -EBADMSG if it is not a SIP message at all. */
static int raw_split(const char *buf, size_t n, RawMessage *rm) {
        const char *end_head, *p, *end;
        char *out;
        size_t head_n;

        end_head = memmem(buf, n, "\r\n\r\n", 4);
        if (end_head) {
                head_n = (size_t) (end_head - buf) + 2;      /* keep the last header's CRLF */
                rm->head_len = head_n + 2;
        } else {
                /* No empty line: a truncated datagram. Scan what is there (still answerable). */
                head_n = n;
                rm->head_len = n;
        }

        rm->head = out = malloc(head_n + 1);
        if (!out)
                return -ENOMEM;

        /* Copy, unfolding CRLF followed by SP/HT into one SP; lines end in NUL. */
        p = buf;
        end = buf + head_n;
        const char *line_start = out;
        bool first = true;
        while (p < end) {
                const char *eol = memmem(p, (size_t) (end - p), "\r\n", 2);
                const char *stop = eol ? eol : end;

                memcpy(out, p, (size_t) (stop - p));
                out += stop - p;
                p = eol ? eol + 2 : end;
                if (p < end && is_lws(*p) && !first) {
                        *out++ = ' ';
                        continue;                         /* a folded continuation */
                }
                *out = 0;

                /* one complete logical line: [line_start, out) */
                size_t len = (size_t) (out - line_start);
                if (first) {
                        first = false;
                        if (len == 0)
                                return -EBADMSG;
                        /* keep the start line at the beginning of head */
                        rm->method = line_start;
                        rm->method_len = len;          /* fixed up in raw_check_start_line */
                } else {
                        const char *colon = memchr(line_start, ':', len), *name_end;
                        RawHeader *h;

                        if (!colon)
                                return -EBADMSG;
                        if (rm->n_h >= RAW_MAX_HEADERS)
                                return -E2BIG;
                        name_end = colon;
                        while (name_end > line_start && is_lws(name_end[-1]))
                                name_end--;
                        if (name_end == line_start)
                                return -EBADMSG;
                        for (const char *c = line_start; c < name_end; c++)
                                if (!is_token_char(*c))
                                        return -EBADMSG;
                        h = &rm->h[rm->n_h++];
                        h->name = line_start;
                        h->name_len = (size_t) (name_end - line_start);
                        h->id = header_id(h->name, h->name_len);
                        h->value = skip_lws(colon + 1, out);
                        h->len = (size_t) (out - h->value);
                        while (h->len > 0 && is_lws(h->value[h->len - 1]))
                                h->len--;
                        rm->count[h->id]++;
                }
                out++;
                line_start = out;
        }
        if (first)
                return -EBADMSG;
        rm->body_len = n - MIN(rm->head_len, n);
        return 0;
}

/* Start line. Returns 0, or the status to answer (400, 505) / -EBADMSG for a bad response line. */
static int raw_check_start_line(RawMessage *rm) {
        const char *line = rm->method, *sp1, *sp2;
        size_t len = rm->method_len;

        if (len >= 8 && strncmp(line, "SIP/", 4) == 0) {
                /* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
                uint64_t code;
                rm->is_request = false;
                if (len < 12 || strncmp(line, "SIP/2.0 ", 8) != 0)
                        return -EBADMSG;
                if (parse_uint(line + 8, 3, 699, &code) < 0 || code < 100 || line[11] != ' ')
                        return -EBADMSG;
                rm->status = (unsigned) code;
                return 0;
        }

        rm->is_request = true;
        sp1 = memchr(line, ' ', len);
        if (!sp1)
                return 400;
        sp2 = memchr(sp1 + 1, ' ', len - (size_t) (sp1 + 1 - line));
        if (!sp2)
                return 400;
        rm->method_len = (size_t) (sp1 - line);
        rm->uri = sp1 + 1;
        rm->uri_len = (size_t) (sp2 - rm->uri);
        rm->version = sp2 + 1;
        rm->version_len = len - (size_t) (rm->version - line);
        if (rm->method_len == 0 || rm->uri_len == 0 || rm->version_len == 0)
                return 400;                               /* double SP, leading SP */
        for (size_t i = 0; i < rm->method_len; i++)
                if (!is_token_char(line[i]))
                        return 400;
        for (size_t i = 0; i < rm->uri_len; i++)
                if ((unsigned char) rm->uri[i] <= ' ' || rm->uri[i] == 0x7f)
                        return 400;
        if (memchr(rm->version, ' ', rm->version_len))
                return 400;                               /* embedded LWS in the URI, trailing SP */
        if (rm->uri[0] == '<')
                return 400;                               /* <> around it */
        {
                /* headers ("?...") after the host part; '?' is legal in the user part */
                const char *at = memrchr(rm->uri, '@', rm->uri_len);
                const char *hostpart = at ? at + 1 : rm->uri;
                if (memchr(hostpart, '?', rm->uri_len - (size_t) (hostpart - rm->uri)))
                        return 400;
        }
        if (rm->version_len != 7 || strncmp(rm->version, "SIP/2.0", 7) != 0) {
                if (rm->version_len >= 7 && strncasecmp(rm->version, "SIP/", 4) == 0 &&
                    strcasecmp(rm->version, "SIP/2.0") != 0)
                        return 505;
                return 400;
        }
        return 0;
}

static bool raw_method_is(const RawMessage *rm, const char *m) {
        return rm->method_len == strlen(m) && strncmp(rm->method, m, rm->method_len) == 0;
}

/* Generic parameters ";name[=value]" from p; each must have a name. */
static int check_params(const char *p, const char *end) {
        while (p < end) {
                p = skip_lws(p, end);
                if (p == end)
                        return 0;
                if (*p != ';')
                        return -EBADMSG;
                p = skip_lws(p + 1, end);
                if (p == end || !is_token_char(*p))
                        return -EBADMSG;                  /* ";;" or ";" at the end */
                while (p < end && *p != ';') {
                        if (*p == '"') {
                                const char *q = p + 1;
                                while (q < end && *q != '"')
                                        q += *q == '\\' ? 2 : 1;
                                if (q >= end)
                                        return -EBADMSG;
                                p = q + 1;
                        } else
                                p++;
                }
        }
        return 0;
}

/* name-addr / addr-spec followed by params (From, To, one Contact value). */
static int check_name_addr(const char *p, const char *end, bool allow_star) {
        p = skip_lws(p, end);
        if (p == end)
                return -EBADMSG;
        if (allow_star && *p == '*' && skip_lws(p + 1, end) == end)
                return 0;

        if (*p == '"') {
                const char *q = p + 1;
                while (q < end && *q != '"')
                        q += *q == '\\' ? 2 : 1;
                if (q >= end)
                        return -EBADMSG;                  /* unterminated quoted string */
                p = skip_lws(q + 1, end);
                if (p == end || *p != '<')
                        return -EBADMSG;
        }

        const char *lt = memchr(p, '<', (size_t) (end - p));
        if (lt) {
                const char *gt;
                for (const char *c = p; c < lt; c++)
                        if (!is_token_char(*c) && !is_lws(*c))
                                return -EBADMSG;          /* display name with non-token characters */
                gt = memchr(lt, '>', (size_t) (end - lt));
                if (!gt || gt == lt + 1)
                        return -EBADMSG;
                for (const char *c = lt + 1; c < gt; c++)
                        if (is_lws(*c) || *c == '<')
                                return -EBADMSG;          /* spaces inside the addr-spec */
                return check_params(gt + 1, end);
        }


        /* addr-spec without <>: it ends at the first ';', and may hold neither '?' nor ',' nor LWS */
        const char *semi = memchr(p, ';', (size_t) (end - p));
        const char *spec_end = semi ? semi : end;
        while (spec_end > p && is_lws(spec_end[-1]))
                spec_end--;
        if (spec_end == p || !memchr(p, ':', (size_t) (spec_end - p)))
                return -EBADMSG;
        for (const char *c = p; c < spec_end; c++)
                if (*c == '?' || *c == ',' || is_lws(*c) || *c == '"' || *c == '>')
                        return -EBADMSG;
        return check_params(semi ? semi : end, end);
}

/* Split a header value at top-level commas (outside quotes and <>) and call f for each. */
static int for_each_value(const char *v, size_t n, int (*f)(const char *p, const char *end, void *u), void *u) {
        const char *p = v, *end = v + n, *start = v;
        bool quoted = false, angle = false;
        int r;

        for (; p <= end; p++) {
                if (p < end) {
                        if (quoted) {
                                if (*p == '\\')
                                        p++;
                                else if (*p == '"')
                                        quoted = false;
                                continue;
                        }
                        if (*p == '"')
                                quoted = true;
                        else if (*p == '<')
                                angle = true;
                        else if (*p == '>')
                                angle = false;
                        if (*p != ',' || angle)
                                continue;
                }
                if (p > end)
                        break;
                r = f(start, p, u);
                if (r < 0)
                        return r;
                start = p + 1;
        }
        return quoted ? -EBADMSG : 0;
}

static int check_contact_value(const char *p, const char *end, void *u) {
        return check_name_addr(p, end, true);
}

typedef struct ViaInfo {
        bool first_done;
        bool rport;
        uint16_t port;
        bool bad_branch;
} ViaInfo;

/* via-parm = sent-protocol LWS sent-by *( SEMI via-params ) */
static int check_via_value(const char *p, const char *end, void *u) {
        ViaInfo *vi = u;
        const char *q;
        uint16_t port = 0;
        bool bad_version = false;

        p = skip_lws(p, end);
        /* "SIP" / "2.0" / transport, LWS allowed around the slashes */
        for (int part = 0; part < 3; part++) {
                q = p;
                while (q < end && is_token_char(*q))
                        q++;
                if (q == p)
                        return -EBADMSG;
                if (part == 0 && !(q - p == 3 && strncasecmp(p, "SIP", 3) == 0))
                        return -EBADMSG;
                if (part == 1 && !(q - p == 3 && strncmp(p, "2.0", 3) == 0))
                        bad_version = true;       /* still addressable (505) */
                p = skip_lws(q, end);
                if (part < 2) {
                        if (p == end || *p != '/')
                                return -EBADMSG;
                        p = skip_lws(p + 1, end);
                }
        }
        if (p == end)
                return -EBADMSG;
        /* sent-by: host [":" port] */
        if (*p == '[') {
                q = memchr(p, ']', (size_t) (end - p));
                if (!q)
                        return -EBADMSG;
                q++;
        } else {
                q = p;
                while (q < end && (isalnum((unsigned char) *q) || *q == '.' || *q == '-' || *q == '_'))
                        q++;
                if (q == p)
                        return -EBADMSG;
        }
        q = skip_lws(q, end);
        if (q < end && *q == ':') {
                const char *d;
                uint64_t v;
                q = skip_lws(q + 1, end);
                d = q;
                while (q < end && isdigit((unsigned char) *q))
                        q++;
                if (parse_uint(d, (size_t) (q - d), 65535, &v) < 0 || v == 0)
                        return -EBADMSG;
                port = (uint16_t) v;
        }
        if (!vi->first_done) {
                /* rport (RFC 3581) and the bare magic cookie as branch (RFC 4475 §3.2.1) */
                for (const char *s = q; s < end; s++) {
                        if (*s != ';')
                                continue;
                        const char *nm = skip_lws(s + 1, end), *ne = nm;
                        while (ne < end && is_token_char(*ne))
                                ne++;
                        if (ne - nm == 5 && strncasecmp(nm, "rport", 5) == 0)
                                vi->rport = true;
                        if (ne - nm == 6 && strncasecmp(nm, "branch", 6) == 0) {
                                const char *bv = skip_lws(ne, end), *be;
                                if (bv < end && *bv == '=')
                                        bv = skip_lws(bv + 1, end);
                                be = bv;
                                while (be < end && *be != ';' && !is_lws(*be))
                                        be++;
                                if (be - bv == 7 && strncmp(bv, "z9hG4bK", 7) == 0)
                                        vi->bad_branch = true;
                        }
                }
                vi->port = port;
                vi->first_done = true;
        }
        return bad_version ? -EBADMSG : check_params(q, end);
}

/* The header checks of RFC 3261 §8.2 / RFC 4475 that libosip2 leaves to us.
 * Returns 0 or -EBADMSG. */
static int raw_check_headers(RawMessage *rm, size_t datagram_len) {
        const RawHeader *h;
        ViaInfo vi = {};
        uint64_t v;

        /* Where an answer would go: the top Via's sent-by, even if the rest is broken. */
        h = raw_header(rm, H_VIA);
        if (h) {
                ViaInfo top = {};
                (void) for_each_value(h->value, h->len, check_via_value, &top);
                rm->via_ok = top.first_done;
                rm->via_rport = top.rport;
                rm->via_port = top.port;
        }

        if (rm->count[H_VIA] < 1 || rm->count[H_FROM] != 1 || rm->count[H_TO] != 1 ||
            rm->count[H_CALL_ID] != 1 || rm->count[H_CSEQ] != 1 ||
            rm->count[H_MAX_FORWARDS] > 1 || rm->count[H_CONTENT_LENGTH] > 1)
                return -EBADMSG;

        for (size_t i = 0; i < rm->n_h; i++) {
                const RawHeader *x = &rm->h[i];
                int r = 0;

                switch (x->id) {
                case H_VIA:
                        r = x->len == 0 ? -EBADMSG : for_each_value(x->value, x->len, check_via_value, &vi);
                        break;
                case H_FROM:
                case H_TO:
                        if (memchr(x->value, 0, x->len))
                                break;                    /* raw NUL in a quoted display name: libosip2 decides */
                        r = check_name_addr(x->value, x->value + x->len, false);
                        break;
                case H_CONTACT:
                        r = for_each_value(x->value, x->len, check_contact_value, NULL);
                        break;
                default:
                        break;
                }
                if (r < 0)
                        return r;
        }

        h = raw_header(rm, H_CALL_ID);
        if (h->len == 0 || memchr(h->value, ' ', h->len))
                return -EBADMSG;

        /* CSeq = 1*DIGIT LWS Method, number below 2^32 */
        h = raw_header(rm, H_CSEQ);
        {
                const char *p = h->value, *end = h->value + h->len, *d = p, *m;
                while (p < end && isdigit((unsigned char) *p))
                        p++;
                if (parse_uint(d, (size_t) (p - d), UINT32_MAX, &v) < 0 || p == end || !is_lws(*p))
                        return -EBADMSG;
                m = skip_lws(p, end);
                if (m == end)
                        return -EBADMSG;
                for (p = m; p < end; p++)
                        if (!is_token_char(*p))
                                return -EBADMSG;
                if (rm->is_request && ((size_t) (end - m) != rm->method_len || strncmp(m, rm->method, rm->method_len) != 0))
                        return -EBADMSG;          /* start line and CSeq method differ */
        }

        h = raw_header(rm, H_MAX_FORWARDS);
        if (h && parse_uint(h->value, h->len, 255, &v) < 0 && !(h->len <= 10 && parse_uint(h->value, h->len, UINT32_MAX, &v) == 0))
                return -EBADMSG;                          /* non-numeric; large values are tolerated */

        /* Content-Length frames the body inside the datagram (RFC 3261 §18.3). */
        h = raw_header(rm, H_CONTENT_LENGTH);
        if (h) {
                if (parse_uint(h->value, h->len, SIGD_MAX_DATAGRAM, &v) < 0)
                        return -EBADMSG;
                if (v > rm->body_len)
                        return -EBADMSG;
                rm->body_len = (size_t) v;
        }
        if (rm->head_len > datagram_len)
                return -EBADMSG;                          /* no empty line after the headers */

        if (rm->is_request && vi.bad_branch)
                return -EBADMSG;
        return 0;
}

/* ---------------------------------------------------------------- responses */

static void response_destination(const struct sockaddr *from, socklen_t fromlen, bool rport, uint16_t via_port,
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
static int raw_respond(Manager *m, const RawMessage *rm, unsigned code, const char *reason,
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
        response_destination(from, fromlen, rm->via_rport, rm->via_port, &dest, &dest_len);
        (void) gw_sockaddr_ip_to_string(from, ip, sizeof(ip));
        r = random_token(tag, 16);
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

int response_build(const osip_message_t *req, unsigned code, osip_message_t **ret) {
        osip_message_t *r = NULL;
        char tag[17];
        int k;

        if (!req->from || !req->to || !req->call_id || !req->cseq || osip_list_size(&req->vias) < 1)
                return -EINVAL;
        if (osip_message_init(&r) != 0)
                return -ENOMEM;

        osip_message_set_version(r, osip_strdup("SIP/2.0"));
        osip_message_set_status_code(r, (int) code);
        osip_message_set_reason_phrase(r, osip_strdup(osip_message_get_reason((int) code) ?: "Unknown"));
        k = osip_list_clone(&req->vias, &r->vias, (int (*)(void *, void **)) & osip_via_clone);
        if (k < 0 || osip_from_clone(req->from, &r->from) != 0 || osip_to_clone(req->to, &r->to) != 0 ||
            osip_call_id_clone(req->call_id, &r->call_id) != 0 || osip_cseq_clone(req->cseq, &r->cseq) != 0)
                goto fail;
        if (code > 100) {
                osip_generic_param_t *t = NULL;
                if (osip_to_get_tag(r->to, &t) != 0 || !t) {
                        if (random_token(tag, 16) < 0 || osip_to_set_tag(r->to, osip_strdup(tag)) != 0)
                                goto fail;
                }
        }
        if (osip_message_set_header(r, "Server", "fxsgw/" GW_VERSION) != 0 ||
            osip_message_set_content_length(r, "0") != 0)
                goto fail;
        *ret = r;
        return 0;
fail:
        osip_message_free(r);
        return -ENOMEM;
}

int server_transaction_new(Manager *m, osip_event_t *ev, const struct sockaddr_storage *dest, socklen_t dest_len,
                           osip_transaction_t **ret) {
        osip_transaction_t *tr = NULL;
        TransactionCtx *ctx;

        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return -ENOMEM;
        ctx->manager = m;
        ctx->dest = *dest;
        ctx->dest_len = dest_len;
        if (osip_transaction_init(&tr, streq(ev->sip->sip_method, "INVITE") ? IST : NIST, m->osip, ev->sip) != 0) {
                free(ctx);
                return -EINVAL;
        }
        manager_transaction_start(m, tr, ctx, ev);
        *ret = tr;
        return 0;
}

void server_transaction_respond(Manager *m, osip_transaction_t *tr, osip_message_t *resp) {
        osip_transaction_add_event(tr, osip_new_outgoing_sipmessage(resp));
        m->call_actions++;
}

/* ---------------------------------------------------------------- incoming requests */

static bool uri_scheme_supported(const char *uri, size_t n) {
        return (n > 4 && strncasecmp(uri, "sip:", 4) == 0) || (n > 5 && strncasecmp(uri, "sips:", 5) == 0) ||
               (n > 4 && strncasecmp(uri, "tel:", 4) == 0);
}

static bool method_known(const RawMessage *rm) {
        static const char *const known[] = { "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO" };
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (raw_method_is(rm, known[i]))
                        return true;
        return false;
}

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
static unsigned request_answer(const osip_message_t *sip, const RawMessage *rm, char **ret_unsupported) {
        const char *method = sip->sip_method;
        osip_header_t *h = NULL;

        if (streq(method, "ACK"))
                return 0;
        if (!streq(method, "OPTIONS") && !streq(method, "INVITE") && !streq(method, "REGISTER") &&
            !streq(method, "BYE") && !streq(method, "CANCEL") && !streq(method, "INFO"))
                return 501;
        if (!uri_scheme_supported(rm->uri, rm->uri_len))
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

static int handle_request(Manager *m, osip_event_t *ev, const RawMessage *rm,
                          const struct sockaddr *from, socklen_t fromlen, RxResult *ret) {
        _cleanup_free_ char *unsupported = NULL;
        osip_message_t *sip = ev->sip, *resp = NULL;
        osip_transaction_t *tr = NULL;
        TransactionCtx *ctx;
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
                manager_osip_run(m);
                return 0;
        }
        if (streq(sip->sip_method, "ACK")) {
                /* An ACK for a 2xx (the call layer's), or for nothing we know: never answered. */
                unsigned dummy;
                if (calls_handle_request(m, ev, NULL, 0, &dummy) == 0)
                        osip_event_free(ev);
                *ret = (RxResult) { RX_ACK, 0 };
                manager_osip_run(m);
                return 0;
        }

        code = request_answer(sip, rm, &unsupported);
        if (code == 480 || code == 481) {
                struct sockaddr_storage dest;
                socklen_t dest_len;
                unsigned status = 0;

                response_destination(from, fromlen, rm->via_rport, rm->via_port, &dest, &dest_len);
                r = calls_handle_request(m, ev, &dest, dest_len, &status);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = (RxResult) { RX_ANSWERED, status };
                        manager_osip_run(m);
                        return 0;
                }
        }
        if (code == 400)
                m->counters.malformed++;
        r = response_build(sip, code, &resp);
        if (r == -EINVAL) {
                /* libosip2 accepted it but lost a header we need to answer: malformed */
                osip_event_free(ev);
                m->counters.malformed++;
                (void) raw_respond(m, rm, 400, "Bad Request", from, fromlen);
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

        ctx = calloc(1, sizeof(*ctx));
        if (!ctx) {
                osip_message_free(resp);
                osip_event_free(ev);
                return -ENOMEM;
        }
        ctx->manager = m;
        response_destination(from, fromlen, rm->via_rport, rm->via_port, &ctx->dest, &ctx->dest_len);

        if (osip_transaction_init(&tr, streq(sip->sip_method, "INVITE") ? IST : NIST, m->osip, sip) != 0) {
                /* libosip2 refused it (e.g. no usable Via): answer without a transaction */
                char *s = NULL;
                size_t len = 0;
                osip_event_free(ev);
                if (osip_message_to_str(resp, &s, &len) == 0) {
                        (void) transport_send(m, s, len, (const struct sockaddr *) &ctx->dest, ctx->dest_len);
                        osip_free(s);
                }
                free(ctx);
                osip_message_free(resp);
                *ret = (RxResult) { RX_ANSWERED, code };
                return 0;
        }
        r = manager_transaction_start(m, tr, ctx, ev);
        if (r < 0) {
                osip_message_free(resp);
                return r;
        }
        osip_transaction_add_event(tr, osip_new_outgoing_sipmessage(resp));
        manager_osip_run(m);
        *ret = (RxResult) { RX_ANSWERED, code };
        return 0;
}

int manager_handle_datagram(Manager *m, const void *data, size_t n,
                            const struct sockaddr *from, socklen_t fromlen, RxResult *ret) {
        _cleanup_(raw_message_done) RawMessage rm = {};
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

        r = raw_split(buf, n, &rm);
        if (r == -ENOMEM)
                return r;
        status = r < 0 ? 400 : raw_check_start_line(&rm);
        if (rm.is_request && !manager_source_trusted(m, from)) {
                /* Not even an error answer to strangers: that would make us a reflector. */
                log_debug("Dropping a request from untrusted %s.", src);
                m->counters.untrusted++;
                m->counters.dropped++;
                *ret = (RxResult) { RX_DROPPED_UNTRUSTED, 0 };
                return 0;
        }
        if (status == 0 && raw_check_headers(&rm, n) < 0)
                status = 400;
        if (status > 0 && r >= 0 && !rm.via_ok)
                (void) raw_check_headers(&rm, n);         /* for the Via to answer to */

        if (status == 0) {
                ev = osip_parse(buf, rm.head_len + rm.body_len);
                if (!ev || !ev->sip) {
                        if (ev)
                                osip_event_free(ev);
                        /* libosip2 could not parse what our scan accepted. For a request,
                         * still answer what an endpoint would: unknown method 501,
                         * unknown URI scheme 416, else 400. */
                        if (rm.is_request && rm.via_ok)
                                status = !method_known(&rm) ? 501 :
                                         !uri_scheme_supported(rm.uri, rm.uri_len) ? 416 : 400;
                        else
                                status = 400;
                        if (status == 501 || status == 416) {
                                r = raw_respond(m, &rm, (unsigned) status, status == 501 ? "Not Implemented" :
                                                "Unsupported URI Scheme", from, fromlen);
                                m->counters.requests_received++;
                                *ret = (RxResult) { RX_ANSWERED, (unsigned) status };
                                return 0;
                        }
                } else if (!rm.is_request) {
                        if (osip_find_transaction_and_add_event(m->osip, ev) == 0) {
                                *ret = (RxResult) { RX_RESPONSE_MATCHED, 0 };
                                manager_osip_run(m);
                        } else if (calls_handle_stray_response(m, ev->sip, from, fromlen) > 0) {
                                osip_event_free(ev);
                                *ret = (RxResult) { RX_RESPONSE_MATCHED, 0 };
                                manager_osip_run(m);
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
                        return handle_request(m, ev, &rm, from, fromlen, ret);
                }
        }

        /* Malformed. */
        m->counters.malformed++;
        if (rm.is_request && rm.via_ok && from) {
                log_debug("Answering malformed request from %s with %d.", src, status);
                r = raw_respond(m, &rm, (unsigned) status, status == 505 ? "Version Not Supported" : "Bad Request",
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

int contact_uri_for(Manager *m, const char *number, char **ret) {
        char *s;

        if (asprintf(&s, "sip:%s@%s:%u", number, m->via_host, m->via_port) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int request_build(ClientRequest *cr, osip_message_t **ret) {
        Manager *m = cr->manager;
        osip_message_t *msg = NULL;
        osip_uri_t *uri = NULL;
        char branch[33], buf[2048];
        int r = -EINVAL;

        if (random_token(branch, 24) < 0)
                return -EIO;
        if (osip_message_init(&msg) != 0)
                return -ENOMEM;

        osip_message_set_method(msg, osip_strdup(cr->method));
        osip_message_set_version(msg, osip_strdup("SIP/2.0"));
        if (osip_uri_init(&uri) != 0)
                goto fail;
        if (osip_uri_parse(uri, cr->request_uri) != 0) {
                osip_uri_free(uri);
                goto fail;
        }
        osip_message_set_uri(msg, uri);

        /* 96 random bits after the magic cookie */
        snprintf(buf, sizeof(buf), "SIP/2.0/UDP %s:%u;rport;branch=z9hG4bK%s", m->via_host, m->via_port, branch);
        if (osip_message_set_via(msg, buf) != 0)
                goto fail;
        if (osip_message_set_max_forwards(msg, "70") != 0)
                goto fail;
        snprintf(buf, sizeof(buf), "<%s>;tag=%s", cr->from_uri, cr->from_tag);
        if (osip_message_set_from(msg, buf) != 0 || !msg->from || !msg->from->url)
                goto fail;
        snprintf(buf, sizeof(buf), "<%s>", cr->to_uri);
        if (osip_message_set_to(msg, buf) != 0 || !msg->to || !msg->to->url)
                goto fail;
        if (osip_message_set_call_id(msg, cr->call_id) != 0)
                goto fail;
        snprintf(buf, sizeof(buf), "%" PRIu32 " %s", cr->cseq, cr->method);
        if (osip_message_set_cseq(msg, buf) != 0)
                goto fail;
        if (cr->contact_uri) {
                snprintf(buf, sizeof(buf), "<%s>", cr->contact_uri);
                if (osip_message_set_contact(msg, buf) != 0)
                        goto fail;
        }
        if (cr->expires_s >= 0) {
                snprintf(buf, sizeof(buf), "%" PRIi32, cr->expires_s);
                if (osip_message_set_expires(msg, buf) != 0)
                        goto fail;
        }
        for (size_t i = 0; i < cr->n_auth; i++) {
                AuthAnswer *a = &cr->auth[i];
                _cleanup_free_ char *v = NULL;

                a->nc++;
                r = digest_authorization(&a->challenge, cr->line->auth_user ?: cr->line->number,
                                         strempty(cr->line->password), cr->method, cr->request_uri,
                                         a->nc, cr->cnonce, &v);
                if (r < 0)
                        goto fail;
                r = osip_message_set_header(msg, a->proxy ? "Proxy-Authorization" : "Authorization", v);
                explicit_bzero(v, strlen(v));
                if (r != 0) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        if (osip_message_set_user_agent(msg, "fxsgw/" GW_VERSION) != 0 ||
            osip_message_set_header(msg, "Allow", SIGD_ALLOW) != 0 ||
            osip_message_set_content_length(msg, "0") != 0)
                goto fail;

        *ret = msg;
        return 0;
fail:
        osip_message_free(msg);
        return r < 0 ? r : -EINVAL;
}

static bool uri_same_binding(const osip_uri_t *a, const osip_uri_t *b) {
        const char *pa, *pb;

        if (!a || !b || !a->host || !b->host)
                return false;
        if (!streq_ptr(a->username, b->username))
                return false;
        if (strcasecmp(a->host, b->host) != 0)
                return false;
        pa = a->port && *a->port ? a->port : "5060";
        pb = b->port && *b->port ? b->port : "5060";
        return atoi(pa) == atoi(pb);
}

int32_t response_granted_expires(const osip_message_t *resp, const char *contact_uri, int32_t asked) {
        osip_uri_t *ours = NULL;
        osip_contact_t *c = NULL;
        osip_header_t *e = NULL;
        int32_t granted = -1;
        uint64_t v;

        if (contact_uri && osip_uri_init(&ours) == 0 && osip_uri_parse(ours, contact_uri) == 0) {
                for (int pos = 0; osip_message_get_contact(resp, pos, &c) >= 0 && c; pos++) {
                        osip_generic_param_t *p = NULL;
                        if (!uri_same_binding(c->url, ours))
                                continue;
                        if (osip_contact_param_get_byname(c, (char *) "expires", &p) == 0 && p && p->gvalue &&
                            parse_uint(p->gvalue, strlen(p->gvalue), INT32_MAX, &v) == 0)
                                granted = (int32_t) v;
                        break;
                }
        }
        if (ours)
                osip_uri_free(ours);
        if (granted >= 0)
                return granted;
        if (osip_message_get_expires(resp, 0, &e) >= 0 && e && e->hvalue &&
            parse_uint(e->hvalue, strlen(e->hvalue), INT32_MAX, &v) == 0)
                return (int32_t) v;
        return asked;
}
