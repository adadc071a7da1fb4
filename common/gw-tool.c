/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-tool.c: the command line the operator tools share (gwctl, gwtap): options, errors, config. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-build-config.h"
#include "gw-daemon.h"
#include "gw-tool.h"

int gw_tool_usage_error(const char *tool, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", tool);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s --help'.\n", tool);
        return -GW_EXIT_USAGE;
}

int gw_tool_parse_argv(const GwTool *t, int argc, char **argv, GwToolArgs *ret) {
        enum { ARG_VERSION = 0x80 };     /* below the tools' own (0x100 and up) */
        static const struct option common[] = {
                { "config",  required_argument, NULL, 'c' },
                { "json",    no_argument,       NULL, 'j' },
                { "help",    no_argument,       NULL, 'h' },
                { "version", no_argument,       NULL, ARG_VERSION },
        };
        struct option options[ELEMENTSOF(common) + GW_TOOL_OPTIONS_MAX + 1] = {};
        char short_options[64];
        GwToolArgs a = {};
        size_t n = 0;
        int c, r;

        for (size_t i = 0; i < ELEMENTSOF(common); i++)
                options[n++] = common[i];
        for (const struct option *o = t->options; o && o->name; o++) {
                assert(n < ELEMENTSOF(options) - 1);
                options[n++] = *o;
        }
        /* ':' first: a missing argument is ':', not '?', so it gets its own message. */
        r = snprintf(short_options, sizeof short_options, ":c:jh%s", strempty(t->short_options));
        assert(r > 0 && (size_t) r < sizeof short_options);

        opterr = 0;
        while ((c = getopt_long(argc, argv, short_options, options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        a.config = optarg;
                        break;
                case 'j':
                        a.json = true;
                        break;
                case 'h':
                        t->help();
                        return 0;
                case ARG_VERSION:
                        printf("%s %s\n", t->name, GW_VERSION);
                        return 0;
                case ':':
                        return gw_tool_usage_error(t->name, "option '%s' needs an argument", argv[optind - 1]);
                case '?':
                        return gw_tool_usage_error(t->name, "unknown option '%s'", argv[optind - 1]);
                default:
                        assert(t->option);
                        r = t->option(c, optarg);
                        if (r < 0)
                                return r;
                }

        if (!t->positional && optind < argc)
                return gw_tool_usage_error(t->name, "unexpected argument '%s'", argv[optind]);
        if (!a.config)
                a.config = getenv("FXSGW_CONFIG");
        if (isempty(a.config))
                a.config = "/etc/fxsgw/fxsgw.yaml";
        *ret = a;
        return 1;
}

int gw_tool_load_config(const char *tool, const char *path, GwConf **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = gw_conf_load(path, ret, &error);
        if (r < 0) {
                if (error)
                        fprintf(stderr, "%s: %s\n", tool, error);
                else
                        fprintf(stderr, "%s: Failed to load '%s': %s\n", tool, path, strerror(-r));
                return -EXIT_CONFIG;
        }
        return 0;
}
