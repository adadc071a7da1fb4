/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-digitmap.h: RFC 3435-style digit maps ("x.T|[2-9]xxx|8xxxxxxxxxx|*xx#").
 *
 * Syntax: alternatives separated by '|', the whole optionally in parentheses.
 * An alternative is a sequence of elements:
 *   0-9 * # A-D   that symbol
 *   x             any digit 0-9
 *   [..]          a set: symbols and ranges of digits, e.g. [2-9], [135], [0-5*]
 *   .             the element before it, zero or more times
 *   T             the interdigit timer must expire (only last in an alternative)
 * x and T are case-insensitive.
 *
 * Matching follows RFC 3435 §2.1.5: a dialled string that fully matches an
 * alternative is complete at once only if no alternative could still take
 * another digit; otherwise it is complete when the interdigit timer expires.
 * So with "x.T|[2-9]xxx", "2345" waits for the timer (x.T could go on), while
 * "*12#" in "x.T|*xx#" is complete at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gw-macro.h"

typedef struct GwDigitMap GwDigitMap;

typedef enum GwDigitMapResult {
        GW_DIGITMAP_NO_MATCH,                   /* no alternative can match, whatever follows */
        GW_DIGITMAP_PARTIAL,                    /* more digits needed; at timeout: no match */
        GW_DIGITMAP_COMPLETE,                   /* dial now */
        GW_DIGITMAP_COMPLETE_AFTER_TIMEOUT,     /* a match, but more digits could come: dial at timeout */
        _GW_DIGITMAP_RESULT_MAX,
        _GW_DIGITMAP_RESULT_INVALID = -EINVAL,
} GwDigitMapResult;

const char *gw_digitmap_result_to_string(GwDigitMapResult r);

#define GW_DIGITMAP_MAX_TEXT 1024u

/* Parse text. On a syntax error returns -EINVAL and, if ret_error is given, a
 * static reason and the 0-based offset where it was found. */
int gw_digitmap_parse(const char *text, GwDigitMap **ret, const char **ret_error, size_t *ret_offset);
GwDigitMap *gw_digitmap_free(GwDigitMap *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(GwDigitMap *, gw_digitmap_free);

/* Match what was dialled so far ("0".."9", "*", "#", "A".."D"). A symbol
 * outside that alphabet never matches. */
GwDigitMapResult gw_digitmap_match(const GwDigitMap *m, const char *digits);
