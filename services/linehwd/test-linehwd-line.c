/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-linehwd-line.c: debounce, flash vs hang-up, pulse digits and ring cadence on injected time. */
#include <stdio.h>
#include <string.h>

#include "gw-tests.h"
#include "linehwd-line.h"

#define MS USEC_PER_MSEC

typedef struct Log {
        char text[1024];                 /* "off@100 flash:300 digit:1/100 ring:on@0 on@800" */
} Log;

static void add(Log *g, const char *item) {
        size_t n = strlen(g->text);
        snprintf(g->text + n, sizeof g->text - n, "%s%s", n ? " " : "", item);
}

static void on_hook(LineLogic *l, LineHook hook, uint64_t at, void *userdata) {
        char b[64];
        snprintf(b, sizeof b, "%s@%llu", hook == LINE_HOOK_OFF ? "off" : "on", (unsigned long long) (at / MS));
        add(userdata, b);
}
static void on_flash(LineLogic *l, uint32_t ms, void *userdata) {
        char b[64];
        snprintf(b, sizeof b, "flash:%u", ms);
        add(userdata, b);
}
static void on_digit(LineLogic *l, char digit, uint32_t ms, void *userdata) {
        char b[64];
        snprintf(b, sizeof b, "digit:%c/%u", digit, ms);
        add(userdata, b);
}
static void on_ring(LineLogic *l, bool on, void *userdata) {
        add(userdata, on ? "ring:on" : "ring:off");
}

static const LineLogicOps ops = {
        .hook_changed = on_hook,
        .flash = on_flash,
        .pulse_digit = on_digit,
        .ring_output = on_ring,
};

/* Drive the line to 'until' ms the way linehwd does: tick at every deadline. */
static void run_to(LineLogic *l, uint64_t until_ms) {
        for (int i = 0; i < 10000; i++) {
                uint64_t d = line_logic_next_deadline(l);
                if (d > until_ms * MS)
                        break;
                line_logic_tick(l, d);
        }
        line_logic_tick(l, until_ms * MS);
}

static void edge(LineLogic *l, LineHook h, uint64_t at_ms) {
        run_to(l, at_ms);
        line_logic_hook(l, h, at_ms * MS);
}

static void setup(LineLogic *l, Log *g) {
        memset(g, 0, sizeof *g);
        line_logic_init(l, 1, 80 * MS, 700 * MS, &ops, g);
}

TEST(debounce) {
        LineLogic l;
        Log g;

        setup(&l, &g);
        /* a 5 ms blip is no off-hook */
        edge(&l, LINE_HOOK_OFF, 100);
        edge(&l, LINE_HOOK_ON, 105);
        run_to(&l, 1000);
        ASSERT_STREQ(g.text, "");
        ASSERT_EQ(line_logic_hook_state(&l), LINE_HOOK_ON);

        /* contacts bouncing for 6 ms: one off-hook, dated by the first edge */
        edge(&l, LINE_HOOK_OFF, 2000);
        edge(&l, LINE_HOOK_ON, 2002);
        edge(&l, LINE_HOOK_OFF, 2004);
        edge(&l, LINE_HOOK_ON, 2005);
        edge(&l, LINE_HOOK_OFF, 2006);
        run_to(&l, 2015);
        ASSERT_STREQ(g.text, "");
        run_to(&l, 2016);
        ASSERT_STREQ(g.text, "off@2000");
        ASSERT_EQ(line_logic_hook_state(&l), LINE_HOOK_OFF);

        /* bounce while off hook: nothing */
        edge(&l, LINE_HOOK_ON, 3000);
        edge(&l, LINE_HOOK_OFF, 3008);
        run_to(&l, 5000);
        ASSERT_STREQ(g.text, "off@2000");
}

TEST(flash_vs_hangup) {
        LineLogic l;
        Log g;

        setup(&l, &g);
        edge(&l, LINE_HOOK_OFF, 0);
        /* 300 ms on hook: a flash; the hook state never changes */
        edge(&l, LINE_HOOK_ON, 1000);
        edge(&l, LINE_HOOK_OFF, 1300);
        run_to(&l, 2000);
        ASSERT_STREQ(g.text, "off@0 flash:300");
        /* exactly flash_min is a flash, just under flash_max too */
        edge(&l, LINE_HOOK_ON, 3000);
        edge(&l, LINE_HOOK_OFF, 3080);
        edge(&l, LINE_HOOK_ON, 4000);
        edge(&l, LINE_HOOK_OFF, 4699);
        run_to(&l, 5000);
        ASSERT_STREQ(g.text, "off@0 flash:300 flash:80 flash:699");
        ASSERT_EQ(line_logic_hook_state(&l), LINE_HOOK_OFF);
        /* 700 ms: a hang-up, reported at flash_max */
        edge(&l, LINE_HOOK_ON, 6000);
        run_to(&l, 6699);
        ASSERT_EQ(line_logic_hook_state(&l), LINE_HOOK_OFF);
        run_to(&l, 6700);
        ASSERT_STREQ(g.text, "off@0 flash:300 flash:80 flash:699 on@6700");
        ASSERT_EQ(line_logic_hook_state(&l), LINE_HOOK_ON);
        /* coming back after that is a new off-hook, not a flash */
        edge(&l, LINE_HOOK_OFF, 6800);
        run_to(&l, 7000);
        ASSERT_STREQ(g.text, "off@0 flash:300 flash:80 flash:699 on@6700 off@6800");

        /* other limits from the config */
        setup(&l, &g);
        line_logic_init(&l, 1, 100 * MS, 1000 * MS, &ops, &g);
        edge(&l, LINE_HOOK_OFF, 0);
        edge(&l, LINE_HOOK_ON, 1000);
        edge(&l, LINE_HOOK_OFF, 1900);
        run_to(&l, 3000);
        ASSERT_STREQ(g.text, "off@0 flash:900");
}

/* Dial 'digit' at 10 pulses/s (60 ms break, 40 ms make) from 'at' ms; returns the end of the last break. */
static uint64_t dial(LineLogic *l, unsigned pulses, uint64_t at, uint64_t brk, uint64_t make) {
        for (unsigned i = 0; i < pulses; i++) {
                edge(l, LINE_HOOK_ON, at);
                edge(l, LINE_HOOK_OFF, at + brk);
                at += brk + make;
        }
        return at - make;
}

TEST(pulse_digits) {
        LineLogic l;
        Log g;
        uint64_t t;

        setup(&l, &g);
        edge(&l, LINE_HOOK_OFF, 0);
        t = dial(&l, 1, 1000, 60, 40);           /* "1" */
        t = dial(&l, 10, t + 300, 60, 40);       /* "0" */
        t = dial(&l, 5, t + 300, 40, 60);        /* "5", short breaks */
        t = dial(&l, 3, t + 250, 79, 21);        /* "3", breaks just under flash_min */
        run_to(&l, t + 1000);
        ASSERT_STREQ(g.text, "off@0 digit:1/60 digit:0/960 digit:5/440 digit:3/279");
        ASSERT_EQ(line_logic_hook_state(&l), LINE_HOOK_OFF);

        /* 11 pulses are no digit */
        t = dial(&l, 11, t + 2000, 60, 40);
        run_to(&l, t + 1000);
        ASSERT_STREQ(g.text, "off@0 digit:1/60 digit:0/960 digit:5/440 digit:3/279");
        ASSERT_EQ(l.dropped_digits, 1);

        /* hanging up in the middle of a train loses it */
        t = dial(&l, 4, t + 2000, 60, 40);
        edge(&l, LINE_HOOK_ON, t + 40);
        run_to(&l, t + 2000);
        char want[256];
        snprintf(want, sizeof want, "off@0 digit:1/60 digit:0/960 digit:5/440 digit:3/279 on@%llu",
                 (unsigned long long) (t + 40 + 700));
        ASSERT_STREQ(g.text, want);
}

TEST(ring_cadence) {
        LineLogic l;
        Log g;
        GwCadence ru = { .ms = { 1000, 4000 }, .n = 2, .repeat = true };
        GwCadence once = { .ms = { 400, 200, 400, 2000 }, .n = 4, .repeat = false };

        setup(&l, &g);
        ASSERT_OK(line_logic_ring(&l, true, &ru, 0));
        ASSERT_STREQ(g.text, "ring:on");
        run_to(&l, 999);
        ASSERT_STREQ(g.text, "ring:on");
        run_to(&l, 1000);
        ASSERT_STREQ(g.text, "ring:on ring:off");
        /* repeated requests do not restart the cadence */
        ASSERT_OK(line_logic_ring(&l, true, &ru, 3000 * MS));
        run_to(&l, 10001);
        ASSERT_STREQ(g.text, "ring:on ring:off ring:on ring:off ring:on");
        ASSERT_TRUE(l.ringing);
        /* answering trips the ringing */
        edge(&l, LINE_HOOK_OFF, 10500);
        run_to(&l, 10600);
        ASSERT_STREQ(g.text, "ring:on ring:off ring:on ring:off ring:on ring:off off@10500");
        ASSERT_FALSE(l.ringing);
        /* an off-hook line does not ring */
        ASSERT_ERROR(line_logic_ring(&l, true, &ru, 11000 * MS), EBUSY);
        ASSERT_FALSE(l.ringing);

        /* a non-repeating cadence stays off at its end; stop is idempotent */
        setup(&l, &g);
        ASSERT_OK(line_logic_ring(&l, true, &once, 0));
        run_to(&l, 20000);
        ASSERT_STREQ(g.text, "ring:on ring:off ring:on ring:off");
        ASSERT_TRUE(l.ringing);
        ASSERT_OK(line_logic_ring(&l, false, NULL, 20000 * MS));
        ASSERT_OK(line_logic_ring(&l, false, NULL, 20000 * MS));
        ASSERT_FALSE(l.ringing);
        ASSERT_STREQ(g.text, "ring:on ring:off ring:on ring:off");

        /* continuous ringing (no cadence), stopped */
        setup(&l, &g);
        ASSERT_OK(line_logic_ring(&l, true, NULL, 0));
        ASSERT_EQ(line_logic_next_deadline(&l), UINT64_MAX);
        ASSERT_OK(line_logic_ring(&l, false, NULL, 5000 * MS));
        ASSERT_STREQ(g.text, "ring:on ring:off");
}

/* A bouncing contact: a few short blips (under the debounce) right after an edge. */
static void edge_bouncy(LineLogic *l, LineHook h, uint64_t at_ms, unsigned *rnd) {
        unsigned blips = (*rnd = *rnd * 1103515245u + 12345u) >> 16 & 3;

        edge(l, h, at_ms);
        for (unsigned i = 0; i < blips; i++) {
                edge(l, h == LINE_HOOK_ON ? LINE_HOOK_OFF : LINE_HOOK_ON, at_ms + 1 + 2 * i);
                edge(l, h, at_ms + 2 + 2 * i);
        }
}

static unsigned in_range(unsigned *rnd, unsigned lo, unsigned hi) {
        *rnd = *rnd * 1103515245u + 12345u;
        return lo + (*rnd >> 16) % (hi - lo + 1);
}

/* 200 numbers of up to 12 digits, each pulse and gap drawn inside the
 * specification (breaks 40-79 ms, makes 30-60 ms, 250-1000 ms between
 * digits), contacts bouncing: every digit comes out, nothing else. */
TEST(pulse_digits_random) {
        LineLogic l;
        Log g;
        unsigned rnd = 4242;

        for (int number = 0; number < 200; number++) {
                char want[16] = "", got[16] = "";
                unsigned n = in_range(&rnd, 1, 12);
                uint64_t t = 1000;

                setup(&l, &g);
                edge(&l, LINE_HOOK_OFF, 0);
                for (unsigned i = 0; i < n; i++) {
                        unsigned digit = in_range(&rnd, 0, 9), pulses = digit == 0 ? 10 : digit;

                        want[i] = (char) ('0' + digit);
                        for (unsigned p = 0; p < pulses; p++) {
                                unsigned brk = in_range(&rnd, 40, 79), make = in_range(&rnd, 30, 60);
                                edge_bouncy(&l, LINE_HOOK_ON, t, &rnd);
                                edge_bouncy(&l, LINE_HOOK_OFF, t + brk, &rnd);
                                t += brk + make;
                        }
                        t += in_range(&rnd, 250, 1000);
                }
                run_to(&l, t + 1000);
                /* collect the digits from the log */
                size_t k = 0;
                for (const char *p = g.text; (p = strstr(p, "digit:")); p += 6)
                        got[k++] = p[6];
                if (!streq(want, got) || strstr(g.text, "flash") || strstr(g.text, "on@"))
                        GW_TEST_FAIL("number %d: dialled %s, got '%s'", number, want, g.text);
        }
}

DEFINE_TEST_MAIN
