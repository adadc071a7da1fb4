/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-format.h: print any protobuf-c message through its descriptors, as compact text or JSON.
 *
 * Nothing here knows a message type by hand: fields, oneofs, enums (by name),
 * repeated and nested messages are walked through the descriptors, so a new
 * message in gw.proto prints without a change here. Rules:
 *  - required fields always print; optional fields only when present
 *    (unless GW_FORMAT_DEFAULTS); a oneof prints its set member only;
 *  - any field whose type is the message "gw.Secret" prints as *** (text) or
 *    "***" (JSON); its bytes are never read;
 *  - fields unknown to this build (kept by protobuf-c in base.unknown_fields)
 *    print as #<number>(<len> bytes) — e.g. an envelope body case that a newer
 *    build added; their bytes are never printed;
 *  - strings are escaped the JSON way (quotes, backslash, control characters,
 *    invalid UTF-8 bytes as \u00XX) in both forms;
 *  - bytes print as lowercase hex, cut after 32 bytes: "0011…...(100 bytes)".
 *
 * Text:  port=3 number="1001" state=REG_REGISTERED counters={sent=5} ids=[1 2]
 * JSON:  {"port":3,"number":"1001","state":"REG_REGISTERED","counters":{"sent":5},"ids":[1,2]}
 * In JSON an unknown field is a member "#<number>":"(<len> bytes)" (lengths of
 * repeated occurrences summed). 64-bit integers are JSON numbers, except
 * fixed64 (random identifiers such as instance_id in gw.proto): 16 lowercase hex
 * digits, a string in JSON.
 *
 * Functions return 0 or a negative errno (-ENOMEM, -EIO from the stream,
 * -EINVAL for a NULL message). They never log. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <protobuf-c/protobuf-c.h>

#include "gw.pb-c.h"

typedef enum GwFormatFlags {
        GW_FORMAT_JSON     = 1 << 0,  /* JSON object instead of compact text */
        GW_FORMAT_DEFAULTS = 1 << 1,  /* also print absent optional scalars with their default */
} GwFormatFlags;

#define GW_FORMAT_BYTES_MAX 32       /* bytes printed before the cut */
#define GW_SECRET_TYPE_NAME "gw.Secret"
#define GW_ISO8601_MAX 40            /* "2026-11-24T17:21:38.123Z" + NUL, with room */

/* Print the fields of m to f. Text: "a=1 b={c=2}" (empty message: nothing).
 * JSON: one object "{...}". No newline. */
int gw_format_message(FILE *f, const ProtobufCMessage *m, GwFormatFlags flags);

/* The same into a malloc'd, NUL-terminated string owned by the caller. */
int gw_format_message_to_string(const ProtobufCMessage *m, GwFormatFlags flags, char **ret);

/* Write s as a JSON string literal with quotes. len (bytes) lets s hold NULs. */
int gw_format_json_string(FILE *f, const char *s, size_t len);

/* CLOCK_REALTIME microseconds → "2026-11-24T17:21:38.123Z" (UTC, ms; RFC 3339
 * and ISO 8601). Returns buf. */
char *gw_format_iso8601(uint64_t real_us, char buf[static GW_ISO8601_MAX]);

/* One tap line for an envelope received under 'topic', without newline.
 * Text:  <time> <source> <topic> seq=<n> [corr=<id>] <Type> <fields...>
 * JSON:  {"time":..,"source":..,"instance_id":"<16 hex>","seq":n,"topic":..,
 *         ["correlation_id":n,]"type":"<Type>"|null,"body":{..}|null[,"unknown":{..}]}
 * A body case this build does not know has type "#<number>" (its field number),
 * shown as #<number>(<len> bytes) in text and "body":null plus
 * "unknown":{"#<number>":"(<len> bytes)"} in JSON. */
int gw_format_envelope(FILE *f, const char *topic, const Gw__Envelope *env, GwFormatFlags flags);
