/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-format.c: generic text/JSON printer for protobuf-c messages (descriptor-driven). */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw-format.h"
#include "gw-macro.h"

/* Deeper nesting than any gw.proto message: a guard against hostile input. */
#define FORMAT_MAX_DEPTH 32

typedef struct Printer {
        FILE *f;
        bool json;
        bool defaults;
} Printer;

static void print_message(Printer *p, const ProtobufCMessage *m, unsigned depth);

static bool is_secret_descriptor(const ProtobufCMessageDescriptor *d) {
        return d && d->name && streq(d->name, GW_SECRET_TYPE_NAME);
}

/* Validate one UTF-8 sequence at s (n bytes left); returns its length, or 0 if invalid. */
static size_t utf8_sequence_len(const unsigned char *s, size_t n) {
        unsigned char c = s[0];
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
                len = 3;
                if (c == 0xE0)
                        lo = 0xA0;          /* overlong */
                else if (c == 0xED)
                        hi = 0x9F;          /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4;
                if (c == 0xF0)
                        lo = 0x90;
                else if (c == 0xF4)
                        hi = 0x8F;          /* > U+10FFFF */
        } else
                return 0;

        if (n < len)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xBF)
                        return 0;
        return len;
}

int gw_format_json_string(FILE *f, const char *s, size_t len) {
        const unsigned char *u = (const unsigned char *) s;

        fputc('"', f);
        for (size_t i = 0; i < len;) {
                unsigned char c = u[i];
                size_t l;

                switch (c) {
                case '"':  fputs("\\\"", f); i++; continue;
                case '\\': fputs("\\\\", f); i++; continue;
                case '\n': fputs("\\n", f);  i++; continue;
                case '\r': fputs("\\r", f);  i++; continue;
                case '\t': fputs("\\t", f);  i++; continue;
                case '\b': fputs("\\b", f);  i++; continue;
                case '\f': fputs("\\f", f);  i++; continue;
                default:
                        break;
                }
                if (c < 0x20 || c == 0x7f) {
                        fprintf(f, "\\u%04x", c);
                        i++;
                        continue;
                }
                l = utf8_sequence_len(u + i, len - i);
                if (l == 0) {
                        /* Not UTF-8: show the byte, keep the output valid JSON. */
                        fprintf(f, "\\u%04x", c);
                        i++;
                        continue;
                }
                fwrite(u + i, 1, l, f);
                i += l;
        }
        fputc('"', f);
        return ferror(f) ? -EIO : 0;
}

static void print_bytes(Printer *p, const ProtobufCBinaryData *b) {
        size_t n = MIN(b->len, (size_t) GW_FORMAT_BYTES_MAX);

        if (p->json || b->len == 0)
                fputc('"', p->f);
        for (size_t i = 0; i < n; i++)
                fprintf(p->f, "%02x", b->data[i]);
        if (b->len > n)
                fprintf(p->f, "...(%zu bytes)", b->len);
        if (p->json || b->len == 0)
                fputc('"', p->f);
}

static void print_double(Printer *p, double d, int precision) {
        if (isfinite(d)) {
                fprintf(p->f, "%.*g", precision, d);
                return;
        }
        /* JSON has no NaN/Infinity literals: use the proto3 JSON mapping's strings. */
        const char *s = isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";
        if (p->json)
                fprintf(p->f, "\"%s\"", s);
        else
                fputs(s, p->f);
}

static void print_enum(Printer *p, const ProtobufCEnumDescriptor *d, int value) {
        const ProtobufCEnumValue *v = d ? protobuf_c_enum_descriptor_get_value(d, value) : NULL;

        if (v && p->json)
                fprintf(p->f, "\"%s\"", v->name);
        else if (v)
                fputs(v->name, p->f);
        else
                fprintf(p->f, "%d", value);     /* a value a newer build added */
}

static size_t element_size(ProtobufCType t) {
        switch (t) {
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return sizeof(uint64_t);
        case PROTOBUF_C_TYPE_DOUBLE:
                return sizeof(double);
        case PROTOBUF_C_TYPE_FLOAT:
                return sizeof(float);
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_ENUM:
                return sizeof(int);
        case PROTOBUF_C_TYPE_STRING:
                return sizeof(char *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(ProtobufCMessage *);
        default:
                return sizeof(uint32_t);
        }
}

/* Print one value of field fd stored at v. */
static void print_value(Printer *p, const ProtobufCFieldDescriptor *fd, const void *v, unsigned depth) {
        switch (fd->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                fprintf(p->f, "%" PRId32, *(const int32_t *) v);
                break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                fprintf(p->f, "%" PRIu32, *(const uint32_t *) v);
                break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                fprintf(p->f, "%" PRId64, *(const int64_t *) v);
                break;
        case PROTOBUF_C_TYPE_UINT64:
                fprintf(p->f, "%" PRIu64, *(const uint64_t *) v);
                break;
        case PROTOBUF_C_TYPE_FIXED64:
                /* gw.proto uses fixed64 for random identifiers (instance_id): hex, as
                 * gwtap prints the envelope's, and a string in JSON so no reader rounds it. */
                fprintf(p->f, p->json ? "\"%016" PRIx64 "\"" : "%016" PRIx64, *(const uint64_t *) v);
                break;
        case PROTOBUF_C_TYPE_FLOAT:
                print_double(p, *(const float *) v, 9);
                break;
        case PROTOBUF_C_TYPE_DOUBLE:
                print_double(p, *(const double *) v, 17);
                break;
        case PROTOBUF_C_TYPE_BOOL:
                fputs(*(const protobuf_c_boolean *) v ? "true" : "false", p->f);
                break;
        case PROTOBUF_C_TYPE_ENUM:
                print_enum(p, fd->descriptor, *(const int *) v);
                break;
        case PROTOBUF_C_TYPE_STRING: {
                const char *s = *(const char *const *) v;
                if (s)
                        gw_format_json_string(p->f, s, strlen(s));
                else
                        fputs(p->json ? "null" : "\"\"", p->f);
                break;
        }
        case PROTOBUF_C_TYPE_BYTES:
                print_bytes(p, v);
                break;
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) v;
                if (is_secret_descriptor(fd->descriptor))
                        /* Masked by type, whatever the field: the value is never read. */
                        fputs(p->json ? "\"***\"" : "***", p->f);
                else if (!sub)
                        fputs(p->json ? "null" : "{}", p->f);
                else if (depth >= FORMAT_MAX_DEPTH)
                        fputs(p->json ? "\"...\"" : "{...}", p->f);
                else
                        print_message(p, sub, depth + 1);
                break;
        }
        default:
                fputs(p->json ? "null" : "?", p->f);
        }
}

static bool is_zero(const ProtobufCFieldDescriptor *fd, const void *v) {
        switch (fd->type) {
        case PROTOBUF_C_TYPE_STRING: {
                const char *s = *(const char *const *) v;
                return !s || !*s;
        }
        case PROTOBUF_C_TYPE_BYTES:
                return ((const ProtobufCBinaryData *) v)->len == 0;
        case PROTOBUF_C_TYPE_MESSAGE:
                return *(const void *const *) v == NULL;
        default: {
                static const uint8_t zero[8];
                return memcmp(v, zero, element_size(fd->type)) == 0;
        }
        }
}

/* Does m carry field fd? Follows protobuf-c's own packing rules. */
static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd, bool defaults) {
        const char *base = (const char *) m;
        const void *v = base + fd->offset;
        bool ptr_type = fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_MESSAGE;

        switch (fd->label) {
        case PROTOBUF_C_LABEL_REQUIRED:
                return !ptr_type || *(const void *const *) v;
        case PROTOBUF_C_LABEL_REPEATED:
                return *(const size_t *) (base + fd->quantifier_offset) > 0 || defaults;
        case PROTOBUF_C_LABEL_NONE:         /* proto3 without presence */
                return !is_zero(fd, v) || defaults;
        case PROTOBUF_C_LABEL_OPTIONAL:
        default:
                break;
        }

        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                return *(const uint32_t *) (base + fd->quantifier_offset) == fd->id &&
                       (!ptr_type || *(const void *const *) v);
        if (ptr_type) {
                const void *ptr = *(const void *const *) v;
                if (ptr && ptr != fd->default_value)
                        return true;
                /* An absent string with a default still has a value to show. */
                return defaults && fd->type == PROTOBUF_C_TYPE_STRING && ptr;
        }
        if (fd->quantifier_offset == 0)     /* no has_ member: always there */
                return true;
        return *(const protobuf_c_boolean *) (base + fd->quantifier_offset) || defaults;
}

static void print_field(Printer *p, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
                        unsigned depth) {
        const char *base = (const char *) m;

        if (p->json) {
                gw_format_json_string(p->f, fd->name, strlen(fd->name));
                fputc(':', p->f);
        } else
                fprintf(p->f, "%s=", fd->name);

        if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
                print_value(p, fd, base + fd->offset, depth);
                return;
        }

        size_t n = *(const size_t *) (base + fd->quantifier_offset);
        const char *arr = *(const char *const *) (base + fd->offset);
        size_t sz = element_size(fd->type);

        fputc('[', p->f);
        for (size_t i = 0; i < n && arr; i++) {
                if (i > 0)
                        fputc(p->json ? ',' : ' ', p->f);
                print_value(p, fd, arr + i * sz, depth);
        }
        fputc(']', p->f);
}

/* protobuf-c keeps an unknown length-delimited field with its length prefix:
 * report the payload's length, as the sender meant it. */
static size_t unknown_field_len(const ProtobufCMessageUnknownField *u) {
        size_t i;

        if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
                return u->len;
        for (i = 0; i < u->len && i < 10; i++)
                if (!(u->data[i] & 0x80))
                        return u->len - (i + 1);
        return u->len;
}

static void print_unknown_fields(Printer *p, const ProtobufCMessage *m, bool *first) {
        for (unsigned i = 0; i < m->n_unknown_fields; i++) {
                const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];

                if (!p->json) {
                        fprintf(p->f, "%s#%" PRIu32 "(%zu bytes)", *first ? "" : " ", u->tag, unknown_field_len(u));
                        *first = false;
                        continue;
                }

                /* JSON members must be unique: one per field number, lengths summed. */
                bool seen = false;
                for (unsigned j = 0; j < i && !seen; j++)
                        seen = m->unknown_fields[j].tag == u->tag;
                if (seen)
                        continue;
                size_t len = 0;
                for (unsigned j = i; j < m->n_unknown_fields; j++)
                        if (m->unknown_fields[j].tag == u->tag)
                                len += unknown_field_len(&m->unknown_fields[j]);
                fprintf(p->f, "%s\"#%" PRIu32 "\":\"(%zu bytes)\"", *first ? "" : ",", u->tag, len);
                *first = false;
        }
}

static void print_fields(Printer *p, const ProtobufCMessage *m, unsigned depth) {
        const ProtobufCMessageDescriptor *d = m->descriptor;
        bool first = true;

        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *fd = &d->fields[i];

                if (!field_present(m, fd, p->defaults))
                        continue;
                if (!first)
                        fputc(p->json ? ',' : ' ', p->f);
                first = false;
                print_field(p, m, fd, depth);
        }
        print_unknown_fields(p, m, &first);
}

static void print_message(Printer *p, const ProtobufCMessage *m, unsigned depth) {
        if (is_secret_descriptor(m->descriptor)) {
                fputs(p->json ? "\"***\"" : "***", p->f);
                return;
        }
        fputc('{', p->f);
        print_fields(p, m, depth);
        fputc('}', p->f);
}

int gw_format_message(FILE *f, const ProtobufCMessage *m, GwFormatFlags flags) {
        Printer p = {
                .f = f,
                .json = flags & GW_FORMAT_JSON,
                .defaults = flags & GW_FORMAT_DEFAULTS,
        };

        if (!f || !m || !m->descriptor)
                return -EINVAL;

        if (p.json || is_secret_descriptor(m->descriptor))
                print_message(&p, m, 0);
        else
                print_fields(&p, m, 0);   /* top level text has no braces */

        return ferror(f) ? -EIO : 0;
}

int gw_format_message_to_string(const ProtobufCMessage *m, GwFormatFlags flags, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        r = gw_format_message(f, m, flags);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;

        *ret = TAKE_PTR(buf);
        return 0;
}

char *gw_format_iso8601(uint64_t real_us, char buf[static GW_ISO8601_MAX]) {
        time_t t = (time_t) (real_us / USEC_PER_SEC);
        unsigned ms = (unsigned) (real_us % USEC_PER_SEC / USEC_PER_MSEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm)) {
                snprintf(buf, GW_ISO8601_MAX, "@%" PRIu64 "us", real_us);
                return buf;
        }
        size_t n = strftime(buf, GW_ISO8601_MAX - 6, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, GW_ISO8601_MAX - n, ".%03uZ", ms);
        return buf;
}

/* "SERVICE_SIGD" -> "sigd", from the enum's descriptor. */
static void print_service(FILE *f, Gw__Service s, bool json) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&gw__service__descriptor, s);
        char name[32];
        const char *n;
        size_t i;

        if (!v) {
                fprintf(f, json ? "\"#%d\"" : "#%d", (int) s);
                return;
        }
        n = v->name;
        if (strncmp(n, "SERVICE_", 8) == 0)
                n += 8;
        for (i = 0; n[i] && i < sizeof(name) - 1; i++)
                name[i] = (char) (n[i] >= 'A' && n[i] <= 'Z' ? n[i] - 'A' + 'a' : n[i]);
        name[i] = 0;
        fprintf(f, json ? "\"%s\"" : "%s", name);
}

static const ProtobufCFieldDescriptor *envelope_body_field(const Gw__Envelope *env) {
        const ProtobufCMessageDescriptor *d = &gw__envelope__descriptor;

        if (env->body_case == GW__ENVELOPE__BODY__NOT_SET)
                return NULL;
        for (unsigned i = 0; i < d->n_fields; i++)
                if ((d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && d->fields[i].id == (uint32_t) env->body_case)
                        return &d->fields[i];
        return NULL;
}

/* First unknown field in the body's number range: a body case this build lacks. */
static const ProtobufCMessageUnknownField *envelope_unknown_body(const Gw__Envelope *env) {
        for (unsigned i = 0; i < env->base.n_unknown_fields; i++)
                if (env->base.unknown_fields[i].tag >= GW__ENVELOPE__BODY_SERVICE_STATE)
                        return &env->base.unknown_fields[i];
        return NULL;
}

int gw_format_envelope(FILE *f, const char *topic, const Gw__Envelope *env, GwFormatFlags flags) {
        Printer p = { .f = f, .json = flags & GW_FORMAT_JSON, .defaults = flags & GW_FORMAT_DEFAULTS };
        const ProtobufCFieldDescriptor *fd;
        const ProtobufCMessage *body = NULL;
        const ProtobufCMessageUnknownField *ub;
        char ts[GW_ISO8601_MAX];
        bool first = true;

        if (!f || !env)
                return -EINVAL;

        fd = envelope_body_field(env);
        if (fd)
                body = *(const ProtobufCMessage *const *) ((const char *) env + fd->offset);
        ub = envelope_unknown_body(env);
        gw_format_iso8601(env->real_us, ts);

        if (p.json) {
                fprintf(f, "{\"time\":\"%s\",\"source\":", ts);
                print_service(f, env->source, true);
                fprintf(f, ",\"instance_id\":\"%016" PRIx64 "\",\"seq\":%" PRIu64 ",\"topic\":",
                        env->instance_id, env->seq);
                gw_format_json_string(f, strempty(topic), strlen(strempty(topic)));
                if (env->has_correlation_id)
                        fprintf(f, ",\"correlation_id\":%" PRIu64, env->correlation_id);
                if (fd)
                        fprintf(f, ",\"type\":\"%s\",\"body\":", fd->descriptor ?
                                ((const ProtobufCMessageDescriptor *) fd->descriptor)->short_name : fd->name);
                else if (ub)
                        fprintf(f, ",\"type\":\"#%" PRIu32 "\",\"body\":", ub->tag);
                else
                        fputs(",\"type\":null,\"body\":", f);
                if (body)
                        print_message(&p, body, 1);
                else
                        fputs("null", f);
                if (env->base.n_unknown_fields > 0) {
                        fputs(",\"unknown\":{", f);
                        print_unknown_fields(&p, &env->base, &first);
                        fputc('}', f);
                }
                fputc('}', f);
                return ferror(f) ? -EIO : 0;
        }

        fprintf(f, "%s ", ts);
        print_service(f, env->source, false);
        fprintf(f, " %s seq=%" PRIu64, isempty(topic) ? "-" : topic, env->seq);
        if (env->has_correlation_id)
                fprintf(f, " corr=%" PRIu64, env->correlation_id);
        if (fd) {
                fprintf(f, " %s", fd->descriptor ?
                        ((const ProtobufCMessageDescriptor *) fd->descriptor)->short_name : fd->name);
                if (body && is_secret_descriptor(body->descriptor))
                        fputs(" ***", f);
                else if (body) {
                        /* A separator only when the body has something to print. */
                        _cleanup_free_ char *text = NULL;
                        int r = gw_format_message_to_string(body, flags & ~GW_FORMAT_JSON, &text);
                        if (r < 0)
                                return r;
                        if (*text)
                                fprintf(f, " %s", text);
                }
        } else if (!ub)
                fputs(" -", f);
        if (env->base.n_unknown_fields > 0) {
                fputc(' ', f);
                print_unknown_fields(&p, &env->base, &first);
        }
        return ferror(f) ? -EIO : 0;
}
