/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-scan.c: the raw scan of a received datagram (see sigd-scan.h).
 *
 * libosip2 is a liberal parser and accepts much of what RFC 4475 says must be
 * refused (negative Content-Length, CSeq above 2^32-1, CSeq method mismatch,
 * extra SP in the request line...). This scan of the raw bytes — start line,
 * header counts, scalar ranges, Content-Length, name-addr and Via syntax —
 * runs first; sigd-message.c decides what to answer. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw-macro.h"
#include "sigd-scan.h"

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
int scan_uint(const char *s, size_t n, uint64_t max, uint64_t *ret) {
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

/* ---------------------------------------------------------------- raw scan */



void scan_message_done(RawMessage *rm) {
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

const RawHeader *scan_header(const RawMessage *rm, RawHeaderId id) {
        for (size_t i = 0; i < rm->n_h; i++)
                if (rm->h[i].id == id)
                        return &rm->h[i];
        return NULL;
}

/* Split the datagram into start line and unfolded header lines. Returns
 * -EBADMSG if it is not a SIP message at all. */
int scan_split(const char *buf, size_t n, RawMessage *rm) {
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
                        rm->method_len = len;          /* fixed up in scan_start_line */
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
int scan_start_line(RawMessage *rm) {
        const char *line = rm->method, *sp1, *sp2;
        size_t len = rm->method_len;

        if (len >= 8 && strncmp(line, "SIP/", 4) == 0) {
                /* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
                uint64_t code;
                rm->is_request = false;
                if (len < 12 || strncmp(line, "SIP/2.0 ", 8) != 0)
                        return -EBADMSG;
                if (scan_uint(line + 8, 3, 699, &code) < 0 || code < 100 || line[11] != ' ')
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
                if (scan_uint(d, (size_t) (q - d), 65535, &v) < 0 || v == 0)
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
int scan_headers(RawMessage *rm, size_t datagram_len) {
        const RawHeader *h;
        ViaInfo vi = {};
        uint64_t v;

        /* Where an answer would go: the top Via's sent-by, even if the rest is broken. */
        h = scan_header(rm, H_VIA);
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

        h = scan_header(rm, H_CALL_ID);
        if (h->len == 0 || memchr(h->value, ' ', h->len))
                return -EBADMSG;

        /* CSeq = 1*DIGIT LWS Method, number below 2^32 */
        h = scan_header(rm, H_CSEQ);
        {
                const char *p = h->value, *end = h->value + h->len, *d = p, *m;
                while (p < end && isdigit((unsigned char) *p))
                        p++;
                if (scan_uint(d, (size_t) (p - d), UINT32_MAX, &v) < 0 || p == end || !is_lws(*p))
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

        h = scan_header(rm, H_MAX_FORWARDS);
        if (h && scan_uint(h->value, h->len, 255, &v) < 0 && !(h->len <= 10 && scan_uint(h->value, h->len, UINT32_MAX, &v) == 0))
                return -EBADMSG;                          /* non-numeric; large values are tolerated */

        /* Content-Length frames the body inside the datagram (RFC 3261 §18.3). */
        h = scan_header(rm, H_CONTENT_LENGTH);
        if (h) {
                if (scan_uint(h->value, h->len, SIGD_MAX_DATAGRAM, &v) < 0)
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

bool scan_uri_scheme_supported(const char *uri, size_t n) {
        return (n > 4 && strncasecmp(uri, "sip:", 4) == 0) || (n > 5 && strncasecmp(uri, "sips:", 5) == 0) ||
               (n > 4 && strncasecmp(uri, "tel:", 4) == 0);
}

bool scan_method_known(const RawMessage *rm) {
        static const char *const known[] = { "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO" };
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (raw_method_is(rm, known[i]))
                        return true;
        return false;
}

