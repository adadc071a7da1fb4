/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-digitmap.c: digit map parser and matcher (see gw-digitmap.h).
 *
 * Each alternative compiles to a list of elements (a set of symbols, a
 * repeat flag for '.', or the timer); matching runs the alternative as an NFA
 * over element positions, so "x.1" and friends need no backtracking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw-digitmap.h"

#define SYM_DIGITS 0x03ffu              /* 0-9 */

typedef struct Element {
        uint16_t set;                   /* bit per symbol: 0-9, '*', '#', A-D */
        bool repeat;                    /* followed by '.' */
        bool timer;                     /* T */
} Element;

typedef struct Alternative {
        Element *elements;
        size_t n;
} Alternative;

struct GwDigitMap {
        Alternative *alts;
        size_t n_alts;
};

static const char *const result_table[_GW_DIGITMAP_RESULT_MAX] = {
        [GW_DIGITMAP_NO_MATCH] = "no-match",
        [GW_DIGITMAP_PARTIAL] = "partial",
        [GW_DIGITMAP_COMPLETE] = "complete",
        [GW_DIGITMAP_COMPLETE_AFTER_TIMEOUT] = "complete-after-timeout",
};

const char *gw_digitmap_result_to_string(GwDigitMapResult r) {
        return r >= 0 && r < _GW_DIGITMAP_RESULT_MAX ? result_table[r] : NULL;
}

static int symbol_index(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c == '*')
                return 10;
        if (c == '#')
                return 11;
        if (c >= 'A' && c <= 'D')
                return 12 + (c - 'A');
        if (c >= 'a' && c <= 'd')
                return 12 + (c - 'a');
        return -1;
}

GwDigitMap *gw_digitmap_free(GwDigitMap *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_alts; i++)
                free(m->alts[i].elements);
        free(m->alts);
        free(m);
        return NULL;
}

static int fail(const char *why, size_t off, const char **ret_error, size_t *ret_offset) {
        if (ret_error)
                *ret_error = why;
        if (ret_offset)
                *ret_offset = off;
        return -EINVAL;
}

/* "[...]" starting at s[*i] == '['; leaves *i after ']'. */
static int parse_set(const char *s, size_t end, size_t *i, uint16_t *ret, const char **ret_error, size_t *ret_offset) {
        size_t start = *i;
        uint16_t set = 0;

        for (size_t j = start + 1; j < end; j++) {
                int a, b;

                if (s[j] == ']') {
                        if (set == 0)
                                return fail("empty set '[]'", start, ret_error, ret_offset);
                        *i = j + 1;
                        *ret = set;
                        return 0;
                }
                a = symbol_index(s[j]);
                if (a < 0)
                        return fail("unexpected character in a set", j, ret_error, ret_offset);
                if (j + 2 < end && s[j + 1] == '-' && s[j + 2] != ']') {
                        b = symbol_index(s[j + 2]);
                        if (a > 9 || b < 0 || b > 9 || b < a)
                                return fail("a range must go from a digit to a digit not below it", j, ret_error, ret_offset);
                        for (int k = a; k <= b; k++)
                                set |= (uint16_t) (1u << k);
                        j += 2;
                        continue;
                }
                if (j + 1 < end && s[j + 1] == '-')
                        return fail("a range must go from a digit to a digit not below it", j, ret_error, ret_offset);
                set |= (uint16_t) (1u << a);
        }
        return fail("unclosed '['", start, ret_error, ret_offset);
}

static int parse_alternative(const char *s, size_t from, size_t to, Alternative *ret,
                             const char **ret_error, size_t *ret_offset) {
        _cleanup_free_ Element *el = NULL;
        size_t n = 0;

        if (from == to)
                return fail("empty alternative", from, ret_error, ret_offset);
        /* At most one element per character. */
        el = calloc(to - from, sizeof(Element));
        if (!el)
                return -ENOMEM;
        for (size_t i = from; i < to;) {
                char c = s[i];
                int k;

                if (n > 0 && el[n - 1].timer)
                        return fail("'T' must end its alternative", i, ret_error, ret_offset);
                if (c == '.') {
                        if (n == 0 || el[n - 1].repeat)
                                return fail("'.' must follow a digit, 'x' or a set", i, ret_error, ret_offset);
                        el[n - 1].repeat = true;
                        i++;
                } else if (c == 'x' || c == 'X') {
                        el[n++].set = SYM_DIGITS;
                        i++;
                } else if (c == 'T' || c == 't') {
                        el[n++].timer = true;
                        i++;
                } else if (c == '[') {
                        int r = parse_set(s, to, &i, &el[n].set, ret_error, ret_offset);
                        if (r < 0)
                                return r;
                        n++;
                } else if ((k = symbol_index(c)) >= 0) {
                        el[n++].set = (uint16_t) (1u << k);
                        i++;
                } else if (c == ']')
                        return fail("']' without '['", i, ret_error, ret_offset);
                else
                        return fail("unexpected character", i, ret_error, ret_offset);
        }
        if (n == 1 && el[0].timer)
                return fail("an alternative of only 'T'", from, ret_error, ret_offset);
        ret->elements = TAKE_PTR(el);
        ret->n = n;
        return 0;
}

int gw_digitmap_parse(const char *text, GwDigitMap **ret, const char **ret_error, size_t *ret_offset) {
        _cleanup_(gw_digitmap_freep) GwDigitMap *m = NULL;
        size_t len, start, end, n_alts = 1;
        int r;

        len = strlen(text);
        if (len == 0)
                return fail("empty digit map", 0, ret_error, ret_offset);
        if (len > GW_DIGITMAP_MAX_TEXT)
                return fail("longer than 1024 characters", GW_DIGITMAP_MAX_TEXT, ret_error, ret_offset);
        start = 0;
        end = len;
        if (text[0] == '(') {
                if (text[len - 1] != ')')
                        return fail("unclosed '('", 0, ret_error, ret_offset);
                start = 1;
                end = len - 1;
        }
        for (size_t i = start; i < end; i++) {
                if (text[i] == '(' || text[i] == ')')
                        return fail("parentheses only around the whole map", i, ret_error, ret_offset);
                if (text[i] == '|')
                        n_alts++;
        }

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->alts = calloc(n_alts, sizeof(Alternative));
        if (!m->alts)
                return -ENOMEM;
        for (size_t i = start, from = start; i <= end; i++) {
                if (i < end && text[i] != '|')
                        continue;
                r = parse_alternative(text, from, i, &m->alts[m->n_alts], ret_error, ret_offset);
                if (r < 0)
                        return r;
                m->n_alts++;
                from = i + 1;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* Add position p and what '.' lets us skip (zero repetitions). */
static void closure_add(const Alternative *a, bool *states, size_t p) {
        for (; p <= a->n; p++) {
                states[p] = true;
                if (p == a->n || !a->elements[p].repeat)
                        break;
        }
}

typedef struct AltMatch {
        bool complete;                  /* ends here without the timer */
        bool complete_timer;            /* ends here once the timer expires */
        bool extend;                    /* could take another digit */
} AltMatch;

static AltMatch alternative_match(const Alternative *a, const int *syms, size_t n_syms) {
        bool buf[2][GW_DIGITMAP_MAX_TEXT + 1];
        bool *cur = buf[0], *next = buf[1];
        AltMatch am = {};

        memset(cur, 0, a->n + 1);
        closure_add(a, cur, 0);
        for (size_t d = 0; d < n_syms; d++) {
                bool any = false;

                memset(next, 0, a->n + 1);
                for (size_t p = 0; p < a->n; p++) {
                        const Element *e = &a->elements[p];

                        if (!cur[p] || e->timer || !(e->set & (1u << syms[d])))
                                continue;
                        any = true;
                        closure_add(a, next, e->repeat ? p : p + 1);
                }
                if (!any)
                        return am;
                bool *t = cur;
                cur = next;
                next = t;
        }
        am.complete = cur[a->n];
        for (size_t p = 0; p < a->n; p++) {
                if (!cur[p])
                        continue;
                if (a->elements[p].timer)
                        am.complete_timer = true;  /* T is last, so after it comes the end */
                else
                        am.extend = true;
        }
        return am;
}

GwDigitMapResult gw_digitmap_match(const GwDigitMap *m, const char *digits) {
        int syms[GW_DIGITMAP_MAX_TEXT];
        size_t n = 0;
        bool complete = false, complete_timer = false, extend = false;

        for (const char *c = digits; *c; c++) {
                int k = symbol_index(*c);
                /* Lower-case a-d are not dialled symbols. */
                if (k < 0 || (*c >= 'a' && *c <= 'd') || n >= ELEMENTSOF(syms))
                        return GW_DIGITMAP_NO_MATCH;
                syms[n++] = k;
        }
        for (size_t i = 0; i < m->n_alts; i++) {
                AltMatch am = alternative_match(&m->alts[i], syms, n);

                complete = complete || am.complete;
                complete_timer = complete_timer || am.complete_timer;
                extend = extend || am.extend;
        }
        if (n == 0)                     /* nothing dialled is never a call ("x.T" matches it) */
                complete = complete_timer = false;
        if (complete && !extend)
                return GW_DIGITMAP_COMPLETE;
        if (complete || complete_timer)
                return GW_DIGITMAP_COMPLETE_AFTER_TIMEOUT;
        if (extend)
                return GW_DIGITMAP_PARTIAL;
        return GW_DIGITMAP_NO_MATCH;
}
