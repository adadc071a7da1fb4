/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-toneplan.c: parse and check tone plan files (docs/TONES.md).
 *
 * The file is small, so it is loaded as a libyaml document and walked with
 * the node marks at hand for errors; every key is known and checked, an
 * unknown one is an error (a typo must not silently give a default). */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "gw-build-config.h"
#include "gw-toneplan.h"

#define MAX_PLAN_FILE (64 * 1024)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

static const char *const tone_names[GW_TONE_SLOTS] = {
        [GW__TONE__TONE_NONE]       = "none",
        [GW__TONE__TONE_DIAL]       = "dial",
        [GW__TONE__TONE_RINGBACK]   = "ringback",
        [GW__TONE__TONE_BUSY]       = "busy",
        [GW__TONE__TONE_CONGESTION] = "congestion",
        [GW__TONE__TONE_HOWLER]     = "howler",
};

const char *gw_tone_to_string(Gw__Tone t) {
        if ((unsigned) t >= GW_TONE_SLOTS)
                return NULL;
        return tone_names[t];
}

int gw_tone_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < GW_TONE_SLOTS; i++)
                if (streq(tone_names[i], s))
                        return (int) i;
        return -EINVAL;
}

uint64_t gw_cadence_cycle_ms(const GwCadence *c) {
        uint64_t sum = 0;

        for (unsigned i = 0; i < c->n; i++)
                sum += c->ms[i];
        return sum;
}

bool gw_cadence_on_at(const GwCadence *c, uint64_t ms) {
        uint64_t cycle = gw_cadence_cycle_ms(c);

        if (c->n == 0)
                return true;
        if (ms >= cycle) {
                if (!c->repeat)
                        return false;
                ms %= cycle;
        }
        for (unsigned i = 0; i < c->n; i++) {
                if (ms < c->ms[i])
                        return i % 2 == 0;
                ms -= c->ms[i];
        }
        return false;
}

GwTonePlan *gw_toneplan_free(GwTonePlan *p) {
        if (!p)
                return NULL;
        free(p->name);
        free(p->path);
        free(p->description);
        free(p);
        return NULL;
}

/* ---------------------------------------------------------------- parsing */

typedef struct PlanCtx {
        const char *name;            /* file name for messages */
        yaml_document_t doc;
        char *error;
} PlanCtx;

_printf_(3, 4)
static int plan_error(PlanCtx *ctx, const yaml_node_t *n, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        free(ctx->error);
        if (asprintf(&ctx->error, "%s:%zu:%zu: %s", ctx->name, n ? n->start_mark.line + 1 : 1,
                     n ? n->start_mark.column + 1 : 1, msg ? msg : "out of memory") < 0)
                ctx->error = NULL;
        return -EINVAL;
}

static const char *scalar(const yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static int parse_number(PlanCtx *ctx, const yaml_node_t *n, const char *what, double lo, double hi,
                        double *ret) {
        const char *s = scalar(n);
        char *end;
        double v;

        if (!s || !*s)
                return plan_error(ctx, n, "%s: expected a number", what);
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end != 0 || !isfinite(v))
                return plan_error(ctx, n, "%s: expected a number, got '%s'", what, s);
        if (v < lo || v > hi)
                return plan_error(ctx, n, "%s: %s is out of range %g..%g", what, s, lo, hi);
        *ret = v;
        return 0;
}

static int parse_bool(PlanCtx *ctx, const yaml_node_t *n, const char *what, bool *ret) {
        const char *s = scalar(n);

        if (s && (streq(s, "true") || streq(s, "yes")))
                *ret = true;
        else if (s && (streq(s, "false") || streq(s, "no")))
                *ret = false;
        else
                return plan_error(ctx, n, "%s: expected true or false", what);
        return 0;
}

static int parse_cadence_list(PlanCtx *ctx, const yaml_node_t *n, const char *what, GwCadence *c) {
        unsigned i = 0;

        if (n->type != YAML_SEQUENCE_NODE)
                return plan_error(ctx, n, "%s: expected a list of on/off durations in ms, e.g. [1000, 4000]", what);
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
                const yaml_node_t *item = yaml_document_get_node(&ctx->doc, *it);
                double v;
                int r;

                if (i >= GW_TONE_MAX_CADENCE)
                        return plan_error(ctx, item, "%s: more than %d durations", what, GW_TONE_MAX_CADENCE);
                r = parse_number(ctx, item, what, 1, 60000, &v);
                if (r < 0)
                        return r;
                if (v != floor(v))
                        return plan_error(ctx, item, "%s: durations are whole milliseconds", what);
                c->ms[i] = (uint32_t) v;
        }
        if (i % 2 != 0)
                return plan_error(ctx, n, "%s: expected on/off pairs, got %u durations", what, i);
        c->n = i;
        return 0;
}

/* Iterate over a mapping's pairs: key string and value node. */
#define FOREACH_PAIR(ctx, map, key, keynode, val)                                               \
        for (yaml_node_pair_t *_p_ = (map)->data.mapping.pairs.start;                          \
             _p_ < (map)->data.mapping.pairs.top &&                                             \
             ((keynode) = yaml_document_get_node(&(ctx)->doc, _p_->key),                        \
              (val) = yaml_document_get_node(&(ctx)->doc, _p_->value),                          \
              (key) = scalar(keynode), true);                                                    \
             _p_++)

static int parse_ring(PlanCtx *ctx, const yaml_node_t *n, GwCadence *c) {
        const yaml_node_t *kn, *v;
        const char *key;
        bool have_cadence = false;
        int r;

        if (n->type != YAML_MAPPING_NODE)
                return plan_error(ctx, n, "ring: expected a mapping with 'cadence'");
        c->repeat = true;
        FOREACH_PAIR(ctx, n, key, kn, v) {
                if (key && streq(key, "cadence")) {
                        r = parse_cadence_list(ctx, v, "ring.cadence", c);
                        if (r < 0)
                                return r;
                        have_cadence = true;
                } else if (key && streq(key, "repeat")) {
                        r = parse_bool(ctx, v, "ring.repeat", &c->repeat);
                        if (r < 0)
                                return r;
                } else
                        return plan_error(ctx, kn, "ring: unknown key '%s' (known: cadence, repeat)", strna(key));
        }
        if (!have_cadence || c->n == 0)
                return plan_error(ctx, n, "ring: 'cadence' with at least one on/off pair is required");
        return 0;
}

static int parse_tone(PlanCtx *ctx, const char *tname, const yaml_node_t *n, GwToneSpec *t) {
        const yaml_node_t *kn, *v;
        const char *key;
        bool have_freqs = false, have_level = false;
        char what[64];
        double x;
        int r;

        if (n->type != YAML_MAPPING_NODE)
                return plan_error(ctx, n, "tones.%s: expected a mapping (frequencies, level, cadence)", tname);
        t->cadence.repeat = true;
        FOREACH_PAIR(ctx, n, key, kn, v) {
                snprintf(what, sizeof(what), "tones.%s.%s", tname, strna(key));
                if (key && streq(key, "frequencies")) {
                        unsigned i = 0;

                        if (v->type != YAML_SEQUENCE_NODE)
                                return plan_error(ctx, v, "%s: expected a list of 1..%d frequencies in Hz",
                                                  what, GW_TONE_MAX_FREQS);
                        for (yaml_node_item_t *it = v->data.sequence.items.start;
                             it < v->data.sequence.items.top; it++, i++) {
                                const yaml_node_t *item = yaml_document_get_node(&ctx->doc, *it);

                                if (i >= GW_TONE_MAX_FREQS)
                                        return plan_error(ctx, item, "%s: at most %d frequencies", what,
                                                          GW_TONE_MAX_FREQS);
                                /* Below Nyquist of 8 kHz with room for the telephone band's edge. */
                                r = parse_number(ctx, item, what, 50, 3800, &x);
                                if (r < 0)
                                        return r;
                                t->freqs_hz[i] = (float) x;
                        }
                        if (i == 0)
                                return plan_error(ctx, v, "%s: at least one frequency is required", what);
                        t->n_freqs = i;
                        have_freqs = true;
                } else if (key && streq(key, "level")) {
                        r = parse_number(ctx, v, what, -50, 3, &x);
                        if (r < 0)
                                return r;
                        t->level_dbm0 = (float) x;
                        have_level = true;
                } else if (key && streq(key, "cadence")) {
                        r = parse_cadence_list(ctx, v, what, &t->cadence);
                        if (r < 0)
                                return r;
                } else if (key && streq(key, "repeat")) {
                        r = parse_bool(ctx, v, what, &t->cadence.repeat);
                        if (r < 0)
                                return r;
                } else if (key && streq(key, "modulation")) {
                        r = parse_number(ctx, v, what, 1, 100, &x);
                        if (r < 0)
                                return r;
                        t->modulation_hz = (float) x;
                } else if (key && streq(key, "modulation_depth")) {
                        r = parse_number(ctx, v, what, 1, 100, &x);
                        if (r < 0)
                                return r;
                        t->modulation_pct = (unsigned) x;
                } else
                        return plan_error(ctx, kn, "tones.%s: unknown key '%s' (known: frequencies, level, "
                                          "cadence, repeat, modulation, modulation_depth)", tname, strna(key));
        }
        if (!have_freqs)
                return plan_error(ctx, n, "tones.%s: 'frequencies' is required", tname);
        if (!have_level)
                return plan_error(ctx, n, "tones.%s: 'level' (dBm0) is required", tname);
        if (t->modulation_pct > 0 && t->modulation_hz == 0)
                return plan_error(ctx, n, "tones.%s: 'modulation_depth' without 'modulation'", tname);
        if (t->modulation_hz > 0 && t->modulation_pct == 0)
                t->modulation_pct = 100;
        return 0;
}

static int parse_tones(PlanCtx *ctx, const yaml_node_t *n, GwTonePlan *p, bool seen[GW_TONE_SLOTS]) {
        const yaml_node_t *kn, *v;
        const char *key;
        int r, t;

        if (n->type != YAML_MAPPING_NODE)
                return plan_error(ctx, n, "tones: expected a mapping of dial, ringback, busy, congestion, howler");
        FOREACH_PAIR(ctx, n, key, kn, v) {
                t = gw_tone_from_string(key);
                if (t < GW_TONE_FIRST)
                        return plan_error(ctx, kn, "tones: unknown tone '%s' (known: dial, ringback, busy, "
                                          "congestion, howler)", strna(key));
                if (seen[t])
                        return plan_error(ctx, kn, "tones: '%s' given twice", key);
                r = parse_tone(ctx, key, v, &p->tones[t]);
                if (r < 0)
                        return r;
                seen[t] = true;
        }
        return 0;
}

static int parse_plan(PlanCtx *ctx, GwTonePlan *p) {
        const yaml_node_t *root = yaml_document_get_root_node(&ctx->doc), *kn, *v;
        bool seen[GW_TONE_SLOTS] = {}, have_ring = false;
        const char *key;
        int r;

        if (!root)
                return plan_error(ctx, NULL, "empty tone plan");
        if (root->type != YAML_MAPPING_NODE)
                return plan_error(ctx, root, "expected a mapping (name, description, tones, ring)");
        FOREACH_PAIR(ctx, root, key, kn, v) {
                if (key && (streq(key, "name") || streq(key, "description"))) {
                        const char *s = scalar(v);
                        char **field = streq(key, "name") ? &p->name : &p->description;

                        if (!s || strlen(s) > 256)
                                return plan_error(ctx, v, "%s: expected a string (at most 256 characters)", key);
                        free(*field);
                        *field = strdup(s);
                        if (!*field)
                                return -ENOMEM;
                } else if (key && streq(key, "tones")) {
                        r = parse_tones(ctx, v, p, seen);
                        if (r < 0)
                                return r;
                } else if (key && streq(key, "ring")) {
                        r = parse_ring(ctx, v, &p->ring);
                        if (r < 0)
                                return r;
                        have_ring = true;
                } else
                        return plan_error(ctx, kn, "unknown key '%s' (known: name, description, tones, ring)",
                                          strna(key));
        }
        if (!p->name)
                return plan_error(ctx, root, "'name' is required");
        for (int t = GW_TONE_FIRST; t <= GW_TONE_LAST; t++)
                if (!seen[t])
                        return plan_error(ctx, root, "tone '%s' is missing (a plan defines dial, ringback, "
                                          "busy, congestion and howler)", gw_tone_to_string(t));
        if (!have_ring)
                return plan_error(ctx, root, "'ring' (the ring cadence) is missing");
        return 0;
}

int gw_toneplan_load_string(const char *name, const char *text, GwTonePlan **ret, char **ret_error) {
        _cleanup_(gw_toneplan_freep) GwTonePlan *p = NULL;
        PlanCtx ctx = { .name = name };
        yaml_parser_t parser;
        int r;

        assert(name);
        assert(text);
        assert(ret);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->path = strdup(name);
        if (!p->path)
                return -ENOMEM;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) text, strlen(text));
        if (!yaml_parser_load(&parser, &ctx.doc)) {
                yaml_mark_t m = parser.problem_mark;
                if (ret_error && asprintf(ret_error, "%s:%zu:%zu: syntax error: %s", name, m.line + 1,
                                          m.column + 1, strna(parser.problem)) < 0)
                        *ret_error = NULL;
                yaml_parser_delete(&parser);
                return -EINVAL;
        }
        yaml_parser_delete(&parser);

        r = parse_plan(&ctx, p);
        yaml_document_delete(&ctx.doc);
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(ctx.error);
                free(ctx.error);
                return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int gw_toneplan_load_file(const char *path, GwTonePlan **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        size_t n;

        f = fopen(path, "re");
        if (!f) {
                int r = -errno;
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        text = malloc(MAX_PLAN_FILE + 1);
        if (!text)
                return -ENOMEM;
        n = fread(text, 1, MAX_PLAN_FILE + 1, f);
        if (ferror(f)) {
                if (ret_error && asprintf(ret_error, "%s: read error", path) < 0)
                        *ret_error = NULL;
                return -EIO;
        }
        if (n > MAX_PLAN_FILE) {
                if (ret_error && asprintf(ret_error, "%s: larger than %d bytes", path, MAX_PLAN_FILE) < 0)
                        *ret_error = NULL;
                return -EFBIG;
        }
        if (memchr(text, 0, n)) {
                if (ret_error && asprintf(ret_error, "%s: not a text file", path) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        text[n] = 0;
        return gw_toneplan_load_string(path, text, ret, ret_error);
}

int gw_toneplan_load_for_conf(const GwConf *c, GwTonePlan **ret, char **ret_error) {
        const char *name = c->tone_plan ? c->tone_plan : "ru";
        _cleanup_free_ char *confdir = NULL, *tried = NULL;
        const char *dirs[3];
        size_t n_dirs = 0;
        const char *slash;

        if (c->path && (slash = strrchr(c->path, '/')))
                confdir = strndup(c->path, (size_t) (slash - c->path));
        else
                confdir = strdup(".");
        if (!confdir)
                return -ENOMEM;
        dirs[n_dirs++] = confdir;
        dirs[n_dirs++] = GW_SOURCE_ROOT "/config";
        dirs[n_dirs++] = GW_DATADIR;

        for (size_t i = 0; i < n_dirs; i++) {
                _cleanup_free_ char *path = NULL;
                char *t;

                if (asprintf(&path, "%s/tone-plans/%s.yaml", dirs[i], name) < 0)
                        return -ENOMEM;
                if (access(path, F_OK) == 0)
                        return gw_toneplan_load_file(path, ret, ret_error);
                if (asprintf(&t, "%s%s%s", strempty(tried), tried ? ", " : "", path) < 0)
                        return -ENOMEM;
                free(tried);
                tried = t;
        }
        if (ret_error && asprintf(ret_error, "tone plan '%s' not found (looked for %s)", name, tried) < 0)
                *ret_error = NULL;
        return -ENOENT;
}
