/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-tool.c: the operator tools' shared command line: common and own options, errors. */
#include <stdlib.h>

#include "gw-tests.h"
#include "gw-tool.h"

static unsigned helps;
static const char *topic;
static bool pulse;

static void help(void) {
        helps++;
}

static int option(int c, const char *value) {
        if (c == 't') {
                if (streq(value, "bad"))
                        return gw_tool_usage_error("test", "bad topic '%s'", value);
                topic = value;
        } else if (c == 0x100)
                pulse = true;
        return 0;
}

static const struct option own[] = {
        { "topic", required_argument, NULL, 't' },
        { "pulse", no_argument,       NULL, 0x100 },
        {}
};

static int parse(bool positional, GwToolArgs *a, char **argv) {
        const GwTool t = { "test", help, "t:", own, option, positional };
        int argc = 0;

        while (argv[argc])
                argc++;
        optind = 0;   /* GNU getopt: start over */
        topic = NULL;
        pulse = false;
        return gw_tool_parse_argv(&t, argc, argv, a);
}

#define ARGV(...) ((char *[]) { "test", __VA_ARGS__, NULL })

TEST(tool_common_and_own_options) {
        GwToolArgs a;

        ASSERT_EQ(unsetenv("FXSGW_CONFIG"), 0);
        ASSERT_EQ(parse(false, &a, ARGV("-j", "--topic", "Line/1", "--pulse", "-c", "x.yaml")), 1);
        ASSERT_TRUE(a.json);
        ASSERT_STREQ(a.config, "x.yaml");
        ASSERT_STREQ(topic, "Line/1");
        ASSERT_TRUE(pulse);

        ASSERT_EQ(parse(false, &a, ARGV("-tLine/2")), 1);
        ASSERT_FALSE(a.json);
        ASSERT_STREQ(a.config, "/etc/fxsgw/fxsgw.yaml");
        ASSERT_STREQ(topic, "Line/2");

        ASSERT_EQ(setenv("FXSGW_CONFIG", "env.yaml", 1), 0);
        ASSERT_EQ(parse(false, &a, ARGV("--json")), 1);
        ASSERT_STREQ(a.config, "env.yaml");
        ASSERT_EQ(parse(false, &a, ARGV("--config=opt.yaml")), 1);
        ASSERT_STREQ(a.config, "opt.yaml");
        ASSERT_EQ(setenv("FXSGW_CONFIG", "", 1), 0);
        ASSERT_EQ(parse(false, &a, ARGV("-j")), 1);
        ASSERT_STREQ(a.config, "/etc/fxsgw/fxsgw.yaml");
}

TEST(tool_positional_arguments) {
        GwToolArgs a;

        /* options may follow the arguments (gwctl line 1 dial 5 --pulse) */
        char **argv = ARGV("line", "1", "--pulse", "dial");
        ASSERT_EQ(parse(true, &a, argv), 1);
        ASSERT_TRUE(pulse);
        ASSERT_STREQ(argv[optind], "line");
        ASSERT_STREQ(argv[optind + 2], "dial");
        ASSERT_EQ(parse(false, &a, ARGV("line")), -GW_EXIT_USAGE);
}

TEST(tool_errors_and_exits) {
        GwToolArgs a = { .config = "untouched" };

        ASSERT_EQ(parse(false, &a, ARGV("-x")), -GW_EXIT_USAGE);
        ASSERT_EQ(parse(false, &a, ARGV("--nope")), -GW_EXIT_USAGE);
        ASSERT_EQ(parse(false, &a, ARGV("--config")), -GW_EXIT_USAGE);
        ASSERT_EQ(parse(false, &a, ARGV("-t")), -GW_EXIT_USAGE);
        ASSERT_EQ(parse(false, &a, ARGV("-t", "bad")), -GW_EXIT_USAGE);
        ASSERT_STREQ(a.config, "untouched");

        helps = 0;
        ASSERT_EQ(parse(false, &a, ARGV("-j", "--help", "-x")), 0);
        ASSERT_EQ(helps, 1);
        ASSERT_EQ(parse(false, &a, ARGV("--version")), 0);
}

DEFINE_TEST_MAIN
