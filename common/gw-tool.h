/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-tool.h: the command line the operator tools share (gwctl, gwtap): options, errors, config. */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "gw-conf.h"
#include "gw-macro.h"

#define GW_EXIT_USAGE 2                  /* bad arguments */
#define GW_TOOL_OPTIONS_MAX 16           /* a tool's own long options, at most */

/* What every tool takes:
 *   -c --config FILE   else $FXSGW_CONFIG, else /etc/fxsgw/fxsgw.yaml
 *   -j --json          JSON output
 *   -h --help          the tool's help(), then exit 0
 *      --version       "<name> <version>", then exit 0 */
typedef struct GwToolArgs {
        const char *config;              /* never NULL after gw_tool_parse_argv() */
        bool json;
} GwToolArgs;

typedef struct GwTool {
        const char *name;                /* "gwctl": starts every message */
        void (*help)(void);
        const char *short_options;       /* the tool's own, getopt syntax ("t:n:"), may be NULL */
        const struct option *options;    /* the tool's own, {}-terminated, may be NULL */
        /* One of the tool's own options ('arg' NULL when it takes none): 0 to go on, or
         * gw_tool_usage_error()'s result. */
        int (*option)(int c, const char *arg);
        bool positional;                 /* arguments left after the options are the tool's */
} GwTool;

/* Parse argv (GNU order: options may follow the arguments). Returns 1 to go on with
 * optind at the first positional argument, 0 to exit successfully (--help, --version),
 * or minus the exit code (GW_EXIT_USAGE, after a message on stderr). */
int gw_tool_parse_argv(const GwTool *t, int argc, char **argv, GwToolArgs *ret);

/* "<tool>: <message>" and "Try '<tool> --help'." on stderr; returns -GW_EXIT_USAGE. */
_printf_(2, 3) int gw_tool_usage_error(const char *tool, const char *fmt, ...);

/* gw_conf_load() with its error on stderr as "<tool>: ..."; -EXIT_CONFIG (78) on failure. */
int gw_tool_load_config(const char *tool, const char *path, GwConf **ret);
