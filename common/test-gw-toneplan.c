/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-toneplan.c: the shipped tone plans, cadence arithmetic, lookup through the config,
 * and bad plan files refused with file:line. Runs from the source root (meson workdir). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw-test.h"
#include "gw-tests.h"
#include "gw-toneplan.h"

static GwTonePlan *load(const char *path) {
        _cleanup_free_ char *error = NULL;
        GwTonePlan *p = NULL;
        int r;

        r = gw_toneplan_load_file(path, &p, &error);
        if (r < 0)
                GW_TEST_FAIL("%s: %s", path, strna(error));
        return p;
}

TEST(ru_plan) {
        _cleanup_(gw_toneplan_freep) GwTonePlan *p = load("config/tone-plans/ru.yaml");
        const GwToneSpec *t;

        ASSERT_STREQ(p->name, "ru");
        t = &p->tones[GW__TONE__TONE_DIAL];
        ASSERT_EQ(t->n_freqs, 1);
        ASSERT_EQ(t->freqs_hz[0], 425);
        ASSERT_EQ(t->cadence.n, 0);
        t = &p->tones[GW__TONE__TONE_RINGBACK];
        ASSERT_EQ(t->cadence.n, 2);
        ASSERT_EQ(t->cadence.ms[0], 1000);
        ASSERT_EQ(t->cadence.ms[1], 4000);
        ASSERT_TRUE(t->cadence.repeat);
        t = &p->tones[GW__TONE__TONE_BUSY];
        ASSERT_EQ(t->cadence.ms[0], 350);
        ASSERT_EQ(t->cadence.ms[1], 350);
        t = &p->tones[GW__TONE__TONE_CONGESTION];
        ASSERT_EQ(t->cadence.ms[0], 175);
        ASSERT_EQ(t->cadence.ms[1], 175);
        ASSERT_EQ(p->ring.n, 2);
        ASSERT_EQ(p->ring.ms[0], 1000);
        ASSERT_EQ(p->ring.ms[1], 4000);
}

TEST(us_plan) {
        _cleanup_(gw_toneplan_freep) GwTonePlan *p = load("config/tone-plans/us.yaml");
        const GwToneSpec *t;

        ASSERT_STREQ(p->name, "us");
        t = &p->tones[GW__TONE__TONE_DIAL];
        ASSERT_EQ(t->n_freqs, 2);
        ASSERT_EQ(t->freqs_hz[0], 350);
        ASSERT_EQ(t->freqs_hz[1], 440);
        ASSERT_EQ(t->level_dbm0, -13);
        t = &p->tones[GW__TONE__TONE_RINGBACK];
        ASSERT_EQ(t->freqs_hz[0], 440);
        ASSERT_EQ(t->freqs_hz[1], 480);
        ASSERT_EQ(t->cadence.ms[0], 2000);
        ASSERT_EQ(t->cadence.ms[1], 4000);
        t = &p->tones[GW__TONE__TONE_BUSY];
        ASSERT_EQ(t->freqs_hz[1], 620);
        ASSERT_EQ(t->cadence.ms[0], 500);
        t = &p->tones[GW__TONE__TONE_CONGESTION];
        ASSERT_EQ(t->cadence.ms[0], 250);
        t = &p->tones[GW__TONE__TONE_HOWLER];
        ASSERT_EQ(t->n_freqs, 4);
        ASSERT_EQ(t->freqs_hz[3], 2600);
        ASSERT_EQ(t->cadence.ms[0], 100);
        ASSERT_EQ(p->ring.ms[0], 2000);
        ASSERT_EQ(p->ring.ms[1], 4000);
}

TEST(cadence) {
        GwCadence c = { .ms = { 350, 350 }, .n = 2, .repeat = true };
        GwCadence once = { .ms = { 100, 200, 300, 400 }, .n = 4, .repeat = false };
        GwCadence cont = {};

        ASSERT_EQ(gw_cadence_cycle_ms(&c), 700);
        ASSERT_TRUE(gw_cadence_on_at(&c, 0));
        ASSERT_TRUE(gw_cadence_on_at(&c, 349));
        ASSERT_FALSE(gw_cadence_on_at(&c, 350));
        ASSERT_FALSE(gw_cadence_on_at(&c, 699));
        ASSERT_TRUE(gw_cadence_on_at(&c, 700));
        ASSERT_TRUE(gw_cadence_on_at(&c, 7000 + 10));
        ASSERT_TRUE(gw_cadence_on_at(&once, 50));
        ASSERT_FALSE(gw_cadence_on_at(&once, 150));
        ASSERT_TRUE(gw_cadence_on_at(&once, 350));
        ASSERT_FALSE(gw_cadence_on_at(&once, 700));
        ASSERT_FALSE(gw_cadence_on_at(&once, 1050));   /* not repeated */
        ASSERT_TRUE(gw_cadence_on_at(&cont, 123456));
}

TEST(tone_names) {
        ASSERT_STREQ(gw_tone_to_string(GW__TONE__TONE_CONGESTION), "congestion");
        ASSERT_EQ(gw_tone_from_string("howler"), GW__TONE__TONE_HOWLER);
        ASSERT_EQ(gw_tone_from_string("ding"), -EINVAL);
        ASSERT_TRUE(gw_tone_to_string(99) == NULL);
}

static const char good_tones[] =
        "  dial: {frequencies: [425], level: -10}\n"
        "  ringback: {frequencies: [425], level: -10, cadence: [1000, 4000]}\n"
        "  busy: {frequencies: [425], level: -10, cadence: [350, 350]}\n"
        "  congestion: {frequencies: [425], level: -10, cadence: [175, 175]}\n"
        "  howler: {frequencies: [400], level: -5, modulation: 25, cadence: [100, 100], repeat: false}\n";

TEST(minimal_and_modulated) {
        _cleanup_(gw_toneplan_freep) GwTonePlan *p = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;

        ASSERT_TRUE(asprintf(&text, "name: x\ntones:\n%sring: {cadence: [400, 200, 400, 2000]}\n", good_tones) > 0);
        ASSERT_OK(gw_toneplan_load_string("x.yaml", text, &p, &error));
        ASSERT_EQ(p->tones[GW__TONE__TONE_HOWLER].modulation_hz, 25);
        ASSERT_EQ(p->tones[GW__TONE__TONE_HOWLER].modulation_pct, 100);
        ASSERT_FALSE(p->tones[GW__TONE__TONE_HOWLER].cadence.repeat);
        ASSERT_EQ(p->ring.n, 4);
        ASSERT_EQ(gw_cadence_cycle_ms(&p->ring), 3000);
}

/* Each bad file names the file, the line of the problem and what is wrong. */
TEST(bad_plans) {
        static const struct {
                const char *head, *tail, *where, *what;
        } cases[] = {
                { "name: x\ntones:\n", "ring: {cadence: [1000]}\n", "bad.yaml:8:", "on/off pairs" },
                { "name: x\ntones:\n", "ring: {cadence: [1000, 4000]}\nbogus: 1\n", "bad.yaml:9:", "unknown key 'bogus'" },
                { "name: x\ntones:\n", "", "bad.yaml:1:", "'ring'" },
                { "tones:\n", "ring: {cadence: [1000, 4000]}\n", "bad.yaml:1:", "'name' is required" },
                { "name: x\ntones:\n  dial: {frequencies: [5000], level: -10}\n", "", "bad.yaml:3:", "out of range" },
                { "name: x\ntones:\n  beep: {frequencies: [500], level: -10}\n", "", "bad.yaml:3:", "unknown tone 'beep'" },
                { "name: x\ntones:\n  dial: {frequencies: [], level: -10}\n", "", "bad.yaml:3:", "at least one frequency" },
                { "name: x\ntones:\n  dial: {frequencies: [1,2,3,4,5], level: -10}\n", "", "bad.yaml:3:", "" },
                { "name: x\ntones:\n  dial: {frequencies: [425]}\n", "", "bad.yaml:3:", "'level'" },
                { "name: x\ntones:\n  dial: {frequencies: [425], level: loud}\n", "", "bad.yaml:3:", "expected a number" },
                { "name: x\ntones:\n  dial: {frequencies: [425], level: -10, cadence: [0, 10]}\n", "", "bad.yaml:3:", "out of range" },
                { "name: x\ntones:\n  dial: {frequencies: [425], level: -10, cadence: [10.5, 10]}\n", "", "bad.yaml:3:", "whole milliseconds" },
                { "name: x\ntones:\n  dial: {frequencies: [425], level: -10, repeat: maybe}\n", "", "bad.yaml:3:", "true or false" },
                { "name: x\ntones:\n  dial: [425]\n", "", "bad.yaml:3:", "expected a mapping" },
                { "name: x\ntones: [\n", "", "bad.yaml:", "syntax error" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(gw_toneplan_freep) GwTonePlan *p = NULL;
                _cleanup_free_ char *text = NULL, *error = NULL;
                bool has_tones = strstr(cases[i].head, "  ") != NULL || streq(cases[i].head, "name: x\ntones: [\n");

                ASSERT_TRUE(asprintf(&text, "%s%s%s", cases[i].head, has_tones ? "" : good_tones, cases[i].tail) > 0);
                ASSERT_ERROR(gw_toneplan_load_string("bad.yaml", text, &p, &error), EINVAL);
                ASSERT_TRUE(p == NULL);
                if (!error || strncmp(error, cases[i].where, strlen(cases[i].where)) != 0 ||
                    !strstr(error, cases[i].what))
                        GW_TEST_FAIL("case %zu: got '%s', expected '%s...%s'", i, strna(error), cases[i].where,
                                     cases[i].what);
        }
}

/* A missing tone is named. */
TEST(missing_tone) {
        _cleanup_(gw_toneplan_freep) GwTonePlan *p = NULL;
        _cleanup_free_ char *error = NULL;

        ASSERT_ERROR(gw_toneplan_load_string("m.yaml",
                        "name: m\ntones:\n  dial: {frequencies: [425], level: -10}\nring: {cadence: [1, 1]}\n",
                        &p, &error), EINVAL);
        ASSERT_TRUE(strstr(error, "m.yaml:1:1: tone 'ringback' is missing") != NULL);
}

/* The config's tone_plan is found beside the config first, then in the source tree. */
TEST(load_for_conf) {
        const char *dir = gw_test_tmpdir("test-toneplan");
        _cleanup_free_ char *cpath = NULL, *ppath = NULL, *pdir = NULL, *error = NULL;
        _cleanup_(gw_conf_freep) GwConf *c = NULL;
        GwConf fake = {};
        FILE *f;

        ASSERT_TRUE(asprintf(&cpath, "%s/fxsgw.yaml", dir) > 0);
        ASSERT_TRUE(asprintf(&pdir, "%s/tone-plans", dir) > 0);
        ASSERT_TRUE(asprintf(&ppath, "%s/tone-plans/zz.yaml", dir) > 0);
        ASSERT_OK(mkdir(pdir, 0755));

        /* Shipped plan, from the source tree. */
        fake.path = cpath;
        fake.tone_plan = (char *) "us";
        {
                _cleanup_(gw_toneplan_freep) GwTonePlan *p = NULL;
                ASSERT_OK(gw_toneplan_load_for_conf(&fake, &p, &error));
                ASSERT_STREQ(p->name, "us");
        }
        /* Unknown plan: -ENOENT naming the places searched. */
        fake.tone_plan = (char *) "zz";
        {
                _cleanup_(gw_toneplan_freep) GwTonePlan *p = NULL;
                ASSERT_ERROR(gw_toneplan_load_for_conf(&fake, &p, &error), ENOENT);
                ASSERT_TRUE(strstr(error, "tone plan 'zz' not found") != NULL);
                ASSERT_TRUE(strstr(error, ppath) != NULL);
                free(error);
                error = NULL;
        }
        /* A broken plan beside the config: file:line. */
        f = fopen(ppath, "we");
        ASSERT_NOT_NULL(f);
        fputs("name: zz\ntones:\n  dial: {frequencies: [425], level: 99}\n", f);
        fclose(f);
        {
                _cleanup_(gw_toneplan_freep) GwTonePlan *p = NULL;
                _cleanup_free_ char *want = NULL;
                ASSERT_ERROR(gw_toneplan_load_for_conf(&fake, &p, &error), EINVAL);
                ASSERT_TRUE(asprintf(&want, "%s:3:", ppath) > 0);
                ASSERT_TRUE(strncmp(error, want, strlen(want)) == 0);
                free(error);
                error = NULL;
        }
        /* Through a real config file, with the default plan. */
        f = fopen(cpath, "we");
        ASSERT_NOT_NULL(f);
        fputs("profiles: [{name: p, proxy: 192.0.2.1}]\nlines: [{port: 1, number: '1'}]\n", f);
        fclose(f);
        if (gw_conf_load(cpath, &c, &error) >= 0) {
                _cleanup_(gw_toneplan_freep) GwTonePlan *p = NULL;
                ASSERT_STREQ(c->tone_plan, "ru");
                ASSERT_OK(gw_toneplan_load_for_conf(c, &p, &error));
                ASSERT_STREQ(p->name, "ru");
        } else
                GW_TEST_FAIL("config: %s", strna(error));

        gw_test_rm_rf(dir);
}

DEFINE_TEST_MAIN
