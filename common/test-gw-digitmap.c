/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gw-digitmap.h"
#include "gw-tests.h"

DEFINE_TEST_MAIN

#define NO GW_DIGITMAP_NO_MATCH
#define PART GW_DIGITMAP_PARTIAL
#define DONE GW_DIGITMAP_COMPLETE
#define LATER GW_DIGITMAP_COMPLETE_AFTER_TIMEOUT

static void check(const char *map, const char *digits, GwDigitMapResult expect) {
        GwDigitMap *m = NULL;
        const char *why = NULL;
        size_t off = 0;
        GwDigitMapResult r;

        if (gw_digitmap_parse(map, &m, &why, &off) < 0)
                GW_TEST_FAIL("'%s' does not parse: %s at %zu", map, why, off);
        r = gw_digitmap_match(m, digits);
        if (r != expect)
                GW_TEST_FAIL("'%s' against '%s': %s, expected %s", digits, map,
                             gw_digitmap_result_to_string(r), gw_digitmap_result_to_string(expect));
        gw_digitmap_free(m);
}

static void check_bad(const char *map, const char *why_expected, size_t off_expected) {
        GwDigitMap *m = (GwDigitMap *) UNCONST("untouched");
        const char *why = NULL;
        size_t off = 999;

        ASSERT_ERROR(gw_digitmap_parse(map, &m, &why, &off), EINVAL);
        ASSERT_TRUE(m == (GwDigitMap *) UNCONST("untouched"));
        ASSERT_STREQ(why, why_expected);
        if (off != off_expected)
                GW_TEST_FAIL("'%s': offset %zu, expected %zu", map, off, off_expected);
}

TEST(issue_example) {
        static const char map[] = "x.T|[2-9]xxx|8xxxxxxxxxx|*xx#";

        check(map, "", PART);
        check(map, "2", LATER);                 /* x.T: a number after the timer */
        check(map, "2345", LATER);              /* x.T could take more: RFC 3435 waits */
        check(map, "*", PART);
        check(map, "*1", PART);
        check(map, "*12", PART);
        check(map, "*12#", DONE);
        check(map, "*123", NO);
        check(map, "*12#5", NO);
        check(map, "#", NO);
        check(map, "84951234567", LATER);
}

TEST(without_timer_alternatives) {
        static const char map[] = "[2-9]xxx|8xxxxxxxxxx|*xx#|112";

        check(map, "1", PART);
        check(map, "11", PART);
        check(map, "112", DONE);
        check(map, "113", NO);
        check(map, "2", PART);
        check(map, "234", PART);
        check(map, "2345", DONE);
        check(map, "23456", NO);
        check(map, "8", PART);                  /* [2-9]xxx or 8xxxxxxxxxx */
        check(map, "8123", LATER);              /* [2-9]xxx complete, 8x... could go on */
        check(map, "81234", PART);
        check(map, "84951234567", DONE);
        check(map, "849512345678", NO);
        check(map, "0", NO);
}

TEST(sets) {
        check("[135]", "1", DONE);
        check("[135]", "3", DONE);
        check("[135]", "2", NO);
        check("[0-35-7]x", "4", NO);
        check("[0-35-7]x", "6", PART);
        check("[0-35-7]x", "69", DONE);
        check("[*#]x", "#1", DONE);
        check("[2-2]", "2", DONE);
        check("[AD]", "D", DONE);
        check_bad("[A-D]", "a range must go from a digit to a digit not below it", 1);
}

TEST(repeat) {
        check("0.1", "1", DONE);                /* zero repetitions */
        check("0.1", "0001", DONE);
        check("0.1", "000", PART);
        check("0.1", "0010", NO);
        check("x.1", "1", LATER);               /* complete, but x. could go on */
        check("x.1", "11", LATER);
        check("x.1", "12", PART);
        check("[12].3", "12213", DONE);
        check("x.T", "5", LATER);
        check("x.T", "", PART);                 /* nothing dialled is never complete */
        check("x.T", "*", NO);
        check("xx.T", "", PART);
        check("xx.T", "5", LATER);              /* x, then zero or more x */
        check("xxx.T", "5", PART);
        check("xx.T", "55", LATER);
        check("9x.#", "9#", DONE);
        check("9x.#", "912345#", DONE);
}

TEST(timer) {
        check("xxT", "1", PART);
        check("xxT", "12", LATER);
        check("xxT", "123", NO);
        check("0T|00T", "0", LATER);
        check("0T|00T", "00", LATER);
        check("0T|00T", "000", NO);
}

TEST(case_and_parentheses) {
        check("(XX|*1)", "12", DONE);
        check("(xx|*1)", "*1", DONE);
        check("x.t", "7", LATER);
        check("A|B", "A", DONE);
        check("a|b", "A", DONE);
        check("A|B", "a", NO);                  /* dialled symbols are upper case */
        check("12", "1x", NO);
}

TEST(syntax_errors) {
        check_bad("", "empty digit map", 0);
        check_bad("x.T|", "empty alternative", 4);
        check_bad("|x", "empty alternative", 0);
        check_bad("x||x", "empty alternative", 2);
        check_bad(".x", "'.' must follow a digit, 'x' or a set", 0);
        check_bad("x..", "'.' must follow a digit, 'x' or a set", 2);
        check_bad("x|.", "'.' must follow a digit, 'x' or a set", 2);
        check_bad("Tx", "'T' must end its alternative", 1);
        check_bad("xT.", "'T' must end its alternative", 2);
        check_bad("T", "an alternative of only 'T'", 0);
        check_bad("[2-9", "unclosed '['", 0);
        check_bad("[2-9xx", "unexpected character in a set", 4);
        check_bad("[]x", "empty set '[]'", 0);
        check_bad("[9-2]", "a range must go from a digit to a digit not below it", 1);
        check_bad("[2-]", "a range must go from a digit to a digit not below it", 1);
        check_bad("tT", "'T' must end its alternative", 1);
        check_bad("[*-9]", "a range must go from a digit to a digit not below it", 1);
        check_bad("[x]", "unexpected character in a set", 1);
        check_bad("x]", "']' without '['", 1);
        check_bad("(x.T", "unclosed '('", 0);
        check_bad("(x)|(y)", "parentheses only around the whole map", 2);
        check_bad("x.;rm", "unexpected character", 2);
        check_bad("1 2", "unexpected character", 1);
}

TEST(limits) {
        char big[GW_DIGITMAP_MAX_TEXT + 2], dialled[GW_DIGITMAP_MAX_TEXT + 2];
        GwDigitMap *m = NULL;

        memset(big, 'x', GW_DIGITMAP_MAX_TEXT);
        big[GW_DIGITMAP_MAX_TEXT] = '\0';
        ASSERT_OK(gw_digitmap_parse(big, &m, NULL, NULL));
        memset(dialled, '5', GW_DIGITMAP_MAX_TEXT);
        dialled[GW_DIGITMAP_MAX_TEXT] = '\0';
        ASSERT_EQ(gw_digitmap_match(m, dialled), DONE);
        dialled[GW_DIGITMAP_MAX_TEXT] = '5';    /* one more than the map and the buffer hold */
        dialled[GW_DIGITMAP_MAX_TEXT + 1] = '\0';
        ASSERT_EQ(gw_digitmap_match(m, dialled), NO);
        gw_digitmap_free(m);

        big[GW_DIGITMAP_MAX_TEXT] = 'x';
        big[GW_DIGITMAP_MAX_TEXT + 1] = '\0';
        check_bad(big, "longer than 1024 characters", GW_DIGITMAP_MAX_TEXT);

        /* Many repeats: the NFA stays linear, no backtracking blow-up. */
        m = NULL;
        ASSERT_OK(gw_digitmap_parse("x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.1", &m, NULL, NULL));
        memset(dialled, '0', 1000);
        dialled[1000] = '\0';
        ASSERT_EQ(gw_digitmap_match(m, dialled), PART);
        gw_digitmap_free(m);
}

TEST(result_strings) {
        ASSERT_STREQ(gw_digitmap_result_to_string(GW_DIGITMAP_COMPLETE_AFTER_TIMEOUT), "complete-after-timeout");
        ASSERT_TRUE(gw_digitmap_result_to_string(_GW_DIGITMAP_RESULT_MAX) == NULL);
}
