/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwctl.c: status of a running gateway and configuration checks, for operators and scripts.
 *
 * 'status' reads the D-Bus management API (org.fxsgw.Gateway1 on the bus of
 * dbus.address, gwctl-dbus.c) where it is served — under systemd units too,
 * where no gwsupd runs. Otherwise it asks gwsupd (services) and regd
 * (profiles, lines) over their control sockets, one StatusRequest each with a
 * 1 s timeout. The output is the same either way. A daemon that
 * does not answer is reported as such (text: a line; JSON: an "errors"
 * entry) and the rest is still shown. The JSON shape is documented in
 * docs/TOOLS.md and only ever grows.
 *
 * Exit status: 0 success; 1 failure (including a daemon that did not answer);
 * 2 bad arguments; 3 gateway not running; 78 bad configuration file. */

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-build-config.h"
#include "gw-bus.h"
#include "gw-conf.h"
#include "gw-format.h"
#include "gw-log.h"
#include "gw-macro.h"
#include "gw-reload.h"
#include "gw-tool.h"
#include "gw-words.h"
#include "gwctl-dbus.h"
#include "gwctl-systemd.h"

#define EXIT_NOT_RUNNING 3
#define EXIT_CONFIG 78           /* EX_CONFIG, as the daemons */
#define CTL_TIMEOUT_USEC (1 * USEC_PER_SEC)

static GwToolArgs arg;               /* --config, --json */
static bool arg_pulse;
static const char *arg_from;         /* status: NULL (D-Bus where served), "dbus", "daemons" */

#define usage_error(...) gw_tool_usage_error("gwctl", __VA_ARGS__)

/* Words of the JSON and text output (gw-words.h); "unknown" for a value gwctl does not know. */
#define WORD(f, v) (f(v) ?: "unknown")

/* The answers of the daemons asked for status. */
typedef struct Status {
        int gateway_pid;                 /* 0: from D-Bus, or systemd's units (no gwsupd) */
        DbusStatus *dbus;                /* the D-Bus API's answer, or NULL */
        const Gw__StatusReply *supd_reply, *regd_reply;   /* from either source */
        Gw__Envelope *supd;              /* gwsupd's reply, or NULL */
        Gw__Envelope *regd;              /* regd's reply, or NULL */
        int supd_error;                  /* negative errno when NULL */
        int regd_error;
        char *supd_message;              /* ErrorReply text, if any */
        char *regd_message;
} Status;

static void status_done(Status *s) {
        dbus_status_free(s->dbus);
        if (s->supd)
                gw__envelope__free_unpacked(s->supd, NULL);
        if (s->regd)
                gw__envelope__free_unpacked(s->regd, NULL);
        free(s->supd_message);
        free(s->regd_message);
}

static void help(void) {
        printf("Usage: gwctl [OPTIONS] COMMAND\n\n"
               "Show the state of the fxsgw gateway and check its configuration.\n\n"
               "Commands:\n"
               "  status               services, SIP profiles with their proxies, lines\n"
               "  config check         validate the configuration file\n"
               "  config show          print the effective configuration (secrets as ***)\n"
               "  config keys          list every configuration key with type, default, help\n"
               "  reload               re-read the configuration file and apply what changed,\n"
               "                       without restarting (a bad file changes nothing)\n"
               "  line N status        line N: hook, ringing, polarity, call, tones and digits heard\n"
               "  line N offhook|onhook|flash   move the handset of simulated line N\n"
               "  line N dial DIGITS [--pulse]  dial on simulated line N: DTMF tones (0-9 * # A-D)\n"
               "                       into its audio, or hook pulses (0-9)\n\n"
               "Options:\n"
               "  -c --config FILE     configuration file (default: $FXSGW_CONFIG or /etc/fxsgw/fxsgw.yaml)\n"
               "  -j --json            JSON output (status, line N status)\n"
               "     --pulse          dial with hook pulses (line N dial)\n"
               "     --from dbus|daemons  status: only from the D-Bus API, or only from the\n"
               "                       daemons' control sockets (default: D-Bus where served)\n"
               "  -h --help            show this help\n"
               "     --version          show the version\n\n"
               "Exit status: 0 success, 1 failure (also: a daemon did not answer),\n"
               "2 bad arguments, 3 gateway not running, 78 bad configuration file (reload:\n"
               "refused, nothing changed: the file is invalid or changes a key that needs a restart).\n");
}

static int parse_option(int c, const char *value) {
        switch (c) {
        case 'p':
                arg_pulse = true;
                return 0;
        case 'f':
                if (!streq(value, "dbus") && !streq(value, "daemons"))
                        return -usage_error("--from takes 'dbus' or 'daemons', not '%s'", value);
                arg_from = value;
                return 0;
        default:
                assert(false);
                return -EXIT_FAILURE;
        }
}

/* Returns 1 to go on, 0 to exit successfully (help, version), <0: -exit code. */
static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "pulse", no_argument, NULL, 'p' },   /* long only: 'p' is not in the short options */
                { "from", required_argument, NULL, 'f' },
                {}
        };
        static const GwTool tool = {
                .name = "gwctl",
                .help = help,
                .options = options,
                .option = parse_option,
                .positional = true,
        };

        return gw_tool_parse_argv(&tool, argc, argv, &arg);
}

static int load_config(GwConf **ret) {
        return gw_tool_load_config("gwctl", arg.config, ret);
}

/* ------------------------------------------------------------------ status */

/* The running gateway's pid (0: under systemd's units), or minus the exit code
 * after saying why there is none. */
static int gateway_pid(const GwConf *conf) {
        int r;

        r = gw_gateway_pid(conf);
        if (r < 0) {
                fprintf(stderr, "gwctl: Failed to read the gateway's pid file in '%s': %s\n",
                        conf->runtime_dir, strerror(-r));
                return -EXIT_FAILURE;
        }
        /* Under fxsgw.target no gwsupd runs: systemd knows the services. The units
         * use the default runtime directory; another one is never theirs. */
        if (r == 0 && streq(conf->runtime_dir, "/run/fxsgw") && gwctl_systemd_gateway_pid() > 0)
                return 0;
        if (r == 0) {
                fprintf(stderr, "gwctl: gateway is not running\n");
                return -EXIT_NOT_RUNNING;
        }
        return r;
}

/* 'req' to 'target' over its control socket, 1 s at most. On success *ret is the reply,
 * whose body is 'want' (protobuf-c sets a body's pointer with its case); otherwise a
 * negative errno and, for an ErrorReply, its text in *ret_message. */
static int ask(const GwConf *c, Gw__Service target, Gw__Envelope *req, Gw__Envelope__BodyCase want,
               Gw__Envelope **ret, char **ret_message) {
        Gw__Envelope *reply = NULL;
        int r;

        req->source = GW__SERVICE__SERVICE_GWCTL;
        r = gw_bus_ctl_call(c, target, req, CTL_TIMEOUT_USEC, &reply);
        if (r < 0)
                return r;
        if (reply->body_case == want) {
                *ret = reply;
                return 0;
        }
        if (reply->body_case == GW__ENVELOPE__BODY_ERROR_REPLY) {
                r = reply->error_reply->errno_value > 0 ? -reply->error_reply->errno_value : -EIO;
                if (!isempty(reply->error_reply->message))
                        *ret_message = strdup(reply->error_reply->message);
        } else
                r = -EBADMSG;
        gw__envelope__free_unpacked(reply, NULL);
        return r;
}

/* One StatusRequest to 'target'; *ret holds a StatusReply. */
static int ask_status(const GwConf *c, Gw__Service target, Gw__Envelope **ret, char **ret_message) {
        Gw__Envelope req = GW__ENVELOPE__INIT;
        Gw__StatusRequest sr = GW__STATUS_REQUEST__INIT;

        req.body_case = GW__ENVELOPE__BODY_STATUS_REQUEST;
        req.status_request = &sr;
        return ask(c, target, &req, GW__ENVELOPE__BODY_STATUS_REPLY, ret, ret_message);
}


static void json_str(const char *s) {
        gw_format_json_string(stdout, s, strlen(s));
}

/* A string, or null when absent or empty. */
static void json_str_or_null(const char *s) {
        if (isempty(s))
                fputs("null", stdout);
        else
                json_str(s);
}

static void json_time_or_null(bool has, uint64_t real_us) {
        char buf[GW_ISO8601_MAX];

        if (!has || real_us == 0)
                fputs("null", stdout);
        else
                printf("\"%s\"", gw_format_iso8601(real_us, buf));
}

static const char *error_text(int error, const char *message) {
        if (message)
                return message;
        if (error == -ETIMEDOUT)
                return "no answer within 1s";
        return strerror(-error);
}

static void print_json(const Status *s) {
        const Gw__StatusReply *supd = s->supd_reply, *regd = s->regd_reply;
        bool first = true;

        printf("{\"services\":[");
        for (size_t i = 0; supd && i < supd->n_services; i++) {
                const Gw__ServiceState *ss = supd->services[i];
                const char *name = gw_service_to_string(ss->service);

                printf("%s{\"name\":", i ? "," : "");
                json_str(strempty(name));
                if (ss->has_pid && ss->pid > 0)
                        printf(",\"pid\":%" PRId32, ss->pid);
                else
                        printf(",\"pid\":null");
                printf(",\"state\":\"%s\",\"restarts\":%" PRIu32 "}",
                       WORD(gw_word_run_state, ss->state), ss->has_restarts ? ss->restarts : 0);
        }

        printf("],\"profiles\":[");
        for (size_t i = 0; regd && i < regd->n_profiles; i++) {
                const Gw__ProfileStatus *ps = regd->profiles[i];

                printf("%s{\"name\":", i ? "," : "");
                json_str(strempty(ps->name));
                printf(",\"active_proxy\":");
                json_str(strempty(ps->active_proxy));
                printf(",\"active_target\":");
                json_str_or_null(ps->active_target);
                printf(",\"searching\":%s,\"search_cycles\":%" PRIu32, ps->searching ? "true" : "false",
                       ps->search_cycles);
                printf(",\"proxies\":[");
                for (size_t j = 0; j < ps->n_proxies; j++) {
                        const Gw__ProxyEntryStatus *pe = ps->proxies[j];
                        static const Gw__ProxyCounters zero = GW__PROXY_COUNTERS__INIT;
                        const Gw__ProxyCounters *pc = pe->counters ? pe->counters : &zero;

                        printf("%s{\"address\":", j ? "," : "");
                        json_str(strempty(pe->address));
                        printf(",\"role\":\"%s\",\"state\":\"%s\",\"last_failure_reason\":",
                               WORD(gw_word_role, pe->role), WORD(gw_word_health, pe->state));
                        json_str_or_null(pe->last_failure_reason);
                        printf(",\"last_failure_at\":");
                        json_time_or_null(pe->has_last_failure_real_us, pe->last_failure_real_us);
                        printf(",\"held_until\":");
                        json_time_or_null(pe->has_held_until_real_us, pe->held_until_real_us);
                        printf(",\"counters\":{\"sent\":%" PRIu64 ",\"timeouts\":%" PRIu64
                               ",\"r408\":%" PRIu64 ",\"r503\":%" PRIu64 ",\"transport_errors\":%" PRIu64
                               ",\"failovers\":%" PRIu64 "}}",
                               pc->sent, pc->timeouts, pc->r408, pc->r503, pc->transport_errors, pc->failovers);
                }
                printf("]}");
        }

        printf("],\"lines\":[");
        for (size_t i = 0; regd && i < regd->n_lines; i++) {
                const Gw__LineStatus *ls = regd->lines[i];

                printf("%s{\"port\":%" PRIu32 ",\"number\":", i ? "," : "", ls->port);
                json_str(strempty(ls->number));
                printf(",\"registration\":\"%s\",\"reason\":", WORD(gw_word_reg_state, ls->registration));
                json_str_or_null(ls->reason);
                printf(",\"registered_via\":");
                json_str_or_null(ls->registered_via);
                if (ls->has_expires_in_s && ls->expires_in_s >= 0)
                        printf(",\"expires_in\":%" PRId64 "}", ls->expires_in_s);
                else
                        printf(",\"expires_in\":null}");
        }

        printf("],\"errors\":[");
        if (!supd) {
                printf("{\"service\":\"gwsupd\",\"error\":");
                json_str(error_text(s->supd_error, s->supd_message));
                printf("}");
                first = false;
        }
        if (!regd) {
                printf("%s{\"service\":\"regd\",\"error\":", first ? "" : ",");
                json_str(error_text(s->regd_error, s->regd_message));
                printf("}");
        }
        printf("]}\n");
}

/* Text output: user strings are printed as they are, empty as "-". */
static const char *dash(const char *s) {
        return isempty(s) ? "-" : s;
}

static void print_text(const Status *s) {
        const Gw__StatusReply *supd = s->supd_reply, *regd = s->regd_reply;
        char buf[GW_ISO8601_MAX];

        if (s->dbus)
                printf("Gateway running (status from D-Bus, org.fxsgw.Gateway1)\n\n");
        else if (s->gateway_pid > 0)
                printf("Gateway running (gwsupd pid %d)\n\n", s->gateway_pid);
        else
                printf("Gateway running (systemd units of fxsgw.target)\n\n");

        if (!supd)
                printf("Services: gwsupd did not answer: %s\n", error_text(s->supd_error, s->supd_message));
        else {
                printf("%-10s %-8s %-11s %s\n", "SERVICE", "PID", "STATE", "RESTARTS");
                for (size_t i = 0; i < supd->n_services; i++) {
                        const Gw__ServiceState *ss = supd->services[i];
                        char pid[16] = "-";

                        if (ss->has_pid && ss->pid > 0)
                                snprintf(pid, sizeof pid, "%" PRId32, ss->pid);
                        printf("%-10s %-8s %-11s %" PRIu32 "\n", dash(gw_service_to_string(ss->service)), pid,
                               WORD(gw_word_run_state, ss->state), ss->has_restarts ? ss->restarts : 0);
                }
        }
        printf("\n");

        if (!regd) {
                printf("Profiles and lines: regd did not answer: %s\n", error_text(s->regd_error, s->regd_message));
                return;
        }

        for (size_t i = 0; i < regd->n_profiles; i++) {
                const Gw__ProfileStatus *ps = regd->profiles[i];

                printf("Profile %s: active proxy %s", dash(ps->name), dash(ps->active_proxy));
                if (!isempty(ps->active_target))
                        printf(" (%s)", ps->active_target);
                if (ps->searching)
                        printf(", searching (%" PRIu32 " whole cycle%s without an answer)", ps->search_cycles,
                               ps->search_cycles == 1 ? "" : "s");
                printf("\n  %-28s %-9s %-7s %6s %8s %5s %5s %9s %9s  %s\n", "PROXY", "ROLE", "STATE", "SENT",
                       "TIMEOUTS", "408", "503", "TRANSPORT", "FAILOVERS", "LAST FAILURE");
                for (size_t j = 0; j < ps->n_proxies; j++) {
                        const Gw__ProxyEntryStatus *pe = ps->proxies[j];
                        static const Gw__ProxyCounters zero = GW__PROXY_COUNTERS__INIT;
                        const Gw__ProxyCounters *pc = pe->counters ? pe->counters : &zero;

                        printf("  %-28s %-9s %-7s %6" PRIu64 " %8" PRIu64 " %5" PRIu64 " %5" PRIu64
                               " %9" PRIu64 " %9" PRIu64 "  ",
                               dash(pe->address), WORD(gw_word_role, pe->role),
                               WORD(gw_word_health, pe->state), pc->sent, pc->timeouts, pc->r408,
                               pc->r503, pc->transport_errors, pc->failovers);
                        if (pe->has_last_failure_real_us && pe->last_failure_real_us > 0)
                                printf("%s %s", dash(pe->last_failure_reason),
                                       gw_format_iso8601(pe->last_failure_real_us, buf));
                        else
                                printf("%s", dash(pe->last_failure_reason));
                        /* After a 503 Retry-After: out of use until then (docs/REDUNDANCY.md). */
                        if (pe->has_held_until_real_us && pe->held_until_real_us > 0)
                                printf(", held until %s", gw_format_iso8601(pe->held_until_real_us, buf));
                        printf("\n");
                }
                printf("\n");
        }
        if (regd->n_profiles == 0)
                printf("No profiles.\n\n");

        if (regd->n_lines == 0) {
                printf("No lines.\n");
                return;
        }
        printf("%-5s %-16s %-13s %-28s %-8s %s\n", "PORT", "NUMBER", "REGISTRATION", "VIA", "EXPIRES", "REASON");
        for (size_t i = 0; i < regd->n_lines; i++) {
                const Gw__LineStatus *ls = regd->lines[i];
                char expires[24] = "-";

                if (ls->has_expires_in_s && ls->expires_in_s >= 0)
                        snprintf(expires, sizeof expires, "%" PRId64 "s", ls->expires_in_s);
                printf("%-5" PRIu32 " %-16s %-13s %-28s %-8s %s\n", ls->port, dash(ls->number),
                       WORD(gw_word_reg_state, ls->registration), dash(ls->registered_via), expires,
                       dash(ls->reason));
        }
}

static int verb_status(void) {
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        _cleanup_(status_done) Status s = {};
        int r;

        r = load_config(&conf);
        if (r < 0)
                return -r;

        /* The D-Bus API where it is served (also under systemd units, without gwsupd). */
        r = arg_from && streq(arg_from, "daemons") ? -ENOENT
                                                  : dbus_status_read(conf, &s.dbus, &s.supd_reply, &s.regd_reply);
        if (r < 0 && arg_from && streq(arg_from, "dbus")) {
                fprintf(stderr, "gwctl: The D-Bus API org.fxsgw.Gateway1 is not there (dbus.address '%s'): %s\n",
                        strempty(conf->dbus_address), r == -ENOENT ? "not served" : strerror(-r));
                return EXIT_NOT_RUNNING;
        }
        if (r < 0 && r != -ENOENT)
                fprintf(stderr, "gwctl: Failed to read the status over D-Bus (%s); asking the daemons.\n",
                        strerror(-r));
        if (r < 0) {
                r = gateway_pid(conf);
                if (r < 0)
                        return -r;
                s.gateway_pid = r;

                if (s.gateway_pid > 0)
                        s.supd_error = ask_status(conf, GW__SERVICE__SERVICE_GWSUPD, &s.supd, &s.supd_message);
                else
                        s.supd_error = gwctl_systemd_services(&s.supd);
                s.regd_error = ask_status(conf, GW__SERVICE__SERVICE_REGD, &s.regd, &s.regd_message);
                s.supd_reply = s.supd ? s.supd->status_reply : NULL;
                s.regd_reply = s.regd ? s.regd->status_reply : NULL;
        }

        if (arg.json)
                print_json(&s);
        else
                print_text(&s);
        if (fflush(stdout) != 0)
                return EXIT_FAILURE;
        return s.supd_reply && s.regd_reply ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ------------------------------------------------------------------ config */

static int verb_config(int argc, char **argv) {
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        const char *what;
        int r;

        if (argc < 1)
                return -usage_error("'config' needs a subcommand: check, show or keys");
        if (argc > 1)
                return -usage_error("unexpected argument '%s'", argv[1]);
        what = argv[0];

        if (streq(what, "keys")) {
                gw_conf_dump_keys(stdout);
                return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        }
        if (!streq(what, "check") && !streq(what, "show"))
                return -usage_error("unknown config subcommand '%s' (check, show, keys)", what);

        r = load_config(&conf);
        if (r < 0)
                return -r;
        if (gw_conf_is_world_readable(arg.config) > 0)
                fprintf(stderr, "gwctl: warning: '%s' is readable by group or others and may hold passwords\n",
                        arg.config);

        if (streq(what, "show"))
                gw_conf_dump(conf, stdout);
        else
                printf("%s: OK (%zu profile%s, %zu line%s)\n", arg.config, conf->n_profiles,
                       conf->n_profiles == 1 ? "" : "s", conf->n_lines, conf->n_lines == 1 ? "" : "s");
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ------------------------------------------------------------------ line */

#define LINE_MAX_DIGITS 32               /* as the simulated phone takes them */

/* Why a daemon refused or failed a line request, in words. */
static const char *line_error_text(int error, const char *message) {
        switch (error) {
        case -ETIMEDOUT:
                return "no answer within 1s";
        case -EBUSY:
                return "the simulated phone is still sending pulses or a flash";
        case -ENOTCONN:
                return "the line is on hook (go off hook first)";
        case -EOPNOTSUPP:
                return message ? message : "not supported (only simulated lines take commands)";
        case -ENXIO:
                return "the daemon does not know this line";
        default:
                return message ? message : strerror(-error);
        }
}

/* One control request to 'target' expecting a LineStatusReply; the entry for 'port' in *ret_entry (may be NULL if absent). */
static int ask_line(const GwConf *c, Gw__Service target, Gw__Envelope *req, unsigned port,
                    Gw__Envelope **ret, const Gw__LineStatusEntry **ret_entry, char **ret_message) {
        Gw__Envelope *reply = NULL;
        int r;

        req->has_correlation_id = false;
        req->instance_id = 0;
        r = ask(c, target, req, GW__ENVELOPE__BODY_LINE_STATUS_REPLY, &reply, ret_message);
        if (r < 0)
                return r;
        *ret_entry = NULL;
        for (size_t i = 0; i < reply->line_status_reply->n_lines; i++)
                if (reply->line_status_reply->lines[i]->port == port)
                        *ret_entry = reply->line_status_reply->lines[i];
        *ret = reply;
        return 0;
}

static void envelope_freep(Gw__Envelope **e) {
        if (*e)
                gw__envelope__free_unpacked(*e, NULL);
}

typedef struct LinePart {
        Gw__Service service;
        Gw__Envelope *reply;
        const Gw__LineStatusEntry *entry;
        int error;
        char *message;
} LinePart;

/* A live RTP session of mediad's MediaState, its jitter buffer and RTCP figures (docs/MEDIA.md). */
static void print_media_json(const Gw__MediaState *ms) {
        const Gw__MediaQuality *q = ms->quality;

        fputs(",\"media\":{\"call_id\":", stdout);
        json_str_or_null(ms->call_id);
        fputs(",\"remote\":", stdout);
        json_str_or_null(ms->remote);
        printf(",\"rtp_tx\":%" PRIu64 ",\"rtp_rx\":%" PRIu64 ",\"rtp_dropped\":%" PRIu64,
               ms->rtp_tx, ms->rtp_rx, ms->rtp_dropped);
        fputs(",\"srtp\":", stdout);
        if (isempty(ms->srtp_suite))
                fputs("null", stdout);
        else {
                json_str_or_null(ms->srtp_suite);
                printf(",\"srtp_auth_failed\":%" PRIu64 ",\"srtp_replayed\":%" PRIu64,
                       ms->srtp_auth_failed, ms->srtp_replayed);
        }
        fputs(",\"playout\":", stdout);
        if (ms->has_playout_delay_ms)
                printf("{\"delay_ms\":%u,\"target_ms\":%u,\"max_delay_ms\":%u,\"lost\":%" PRIu64 ",\"late\":%" PRIu64
                       ",\"concealed\":%" PRIu64 ",\"overflow\":%" PRIu64 ",\"duplicates\":%" PRIu64
                       ",\"grown\":%" PRIu64 ",\"shrunk\":%" PRIu64 "}",
                       ms->playout_delay_ms, ms->playout_target_ms, ms->playout_max_delay_ms, ms->playout_lost,
                       ms->playout_late, ms->playout_concealed, ms->playout_overflow, ms->playout_duplicates,
                       ms->playout_grown, ms->playout_shrunk);
        else
                fputs("null", stdout);
        fputs(",\"quality\":", stdout);
        if (!q) {
                fputs("null}", stdout);
                return;
        }
        printf("{\"rx_expected\":%" PRIu64 ",\"rx_lost\":%" PRId64 ",\"rx_loss_permille\":%u,\"rx_jitter_us\":%u",
               q->rx_expected, q->rx_lost, q->rx_loss_permille, q->rx_jitter_us);
        if (q->has_remote_lost)
                printf(",\"remote_lost\":%" PRId64 ",\"remote_fraction_lost\":%u,\"remote_jitter_us\":%u",
                       q->remote_lost, q->remote_fraction_lost, q->remote_jitter_us);
        else
                fputs(",\"remote_lost\":null,\"remote_fraction_lost\":null,\"remote_jitter_us\":null", stdout);
        if (q->has_rtt_us)
                printf(",\"rtt_us\":%u", q->rtt_us);
        else
                fputs(",\"rtt_us\":null", stdout);
        printf(",\"mos\":%.2f,\"rtcp_tx\":%" PRIu64 ",\"rtcp_rx\":%" PRIu64 ",\"rtcp_dropped\":%" PRIu64 "}}",
               q->mos, q->rtcp_tx, q->rtcp_rx,
               q->rtcp_malformed + q->rtcp_foreign + q->srtcp_auth_failed + q->srtcp_replayed);
}

static void print_media_text(const Gw__MediaState *ms) {
        const Gw__MediaQuality *q = ms->quality;

        printf("  media:  call-id %s, remote %s, rtp tx %" PRIu64 " rx %" PRIu64 " dropped %" PRIu64 "\n",
               dash(ms->call_id), dash(ms->remote), ms->rtp_tx, ms->rtp_rx, ms->rtp_dropped);
        if (!isempty(ms->srtp_suite))
                printf("  srtp:   %s, dropped: auth %" PRIu64 ", replay %" PRIu64 "\n", ms->srtp_suite,
                       ms->srtp_auth_failed, ms->srtp_replayed);
        else
                printf("  srtp:   off (plain RTP)\n");
        if (ms->has_playout_delay_ms)
                printf("  playout: delay %u ms (target %u, max %u), lost %" PRIu64 ", late %" PRIu64
                       ", concealed %" PRIu64 ", overflow %" PRIu64 "\n", ms->playout_delay_ms, ms->playout_target_ms,
                       ms->playout_max_delay_ms, ms->playout_lost, ms->playout_late, ms->playout_concealed,
                       ms->playout_overflow);
        if (!q)
                return;
        printf("  quality: loss %.1f %% (%" PRId64 " of %" PRIu64 "), jitter %.1f ms", q->rx_loss_permille / 10.0,
               q->rx_lost, q->rx_expected, q->rx_jitter_us / 1000.0);
        if (q->has_rtt_us)
                printf(", rtt %.1f ms", q->rtt_us / 1000.0);
        if (q->has_remote_lost)
                printf(", far end: loss %.1f %%, jitter %.1f ms", q->remote_fraction_lost * 100.0 / 256,
                       q->remote_jitter_us / 1000.0);
        printf(", MOS %.2f\n", q->mos);
}

static void print_line_json(unsigned port, const LinePart *parts, size_t n) {
        const Gw__LineStatusEntry *hw = parts[0].entry, *call = parts[1].entry, *media = parts[2].entry;
        const Gw__LineHwState *h = hw ? hw->hw : NULL;
        const Gw__LineCall *lc = call ? call->call : NULL;
        bool first = true;

        printf("{\"port\":%u,\"hook\":", port);
        if (h)
                printf("\"%s\",\"ringing\":%s,\"polarity\":\"%s\",\"feed\":%s", h->hook == GW__HOOK_STATE__HOOK_OFF ? "off" : "on",
                       h->ringing ? "true" : "false",
                       h->polarity == GW__POLARITY__POLARITY_REVERSED ? "reversed" : "normal",
                       !h->has_feed || h->feed ? "true" : "false");
        else
                fputs("null,\"ringing\":null,\"polarity\":null,\"feed\":null", stdout);

        fputs(",\"call\":{\"state\":", stdout);
        if (lc && gw_word_call_state(lc->state))
                printf("\"%s\"", gw_word_call_state(lc->state));
        else if (parts[1].reply)
                fputs("\"idle\"", stdout);      /* sigd answered: no call on the line */
        else
                fputs("null", stdout);
        fputs(",\"remote\":", stdout);
        json_str_or_null(lc ? lc->remote : NULL);
        fputs(",\"call_id\":", stdout);
        json_str_or_null(lc ? lc->call_id : NULL);
        fputs("},\"last_tones\":[", stdout);
        for (size_t i = 0; media && i < media->n_last_tones; i++) {
                if (i > 0)
                        fputc(',', stdout);
                json_str(media->last_tones[i]);
        }
        fputs("],\"last_digits\":", stdout);
        json_str(media && media->last_digits ? media->last_digits : "");
        if (media && media->media && !isempty(media->media->call_id))
                print_media_json(media->media);
        fputs(",\"errors\":[", stdout);
        for (size_t i = 0; i < n; i++) {
                if (!parts[i].error)
                        continue;
                printf("%s{\"service\":\"%s\",\"error\":", first ? "" : ",", gw_service_to_string(parts[i].service));
                json_str(line_error_text(parts[i].error, parts[i].message));
                fputc('}', stdout);
                first = false;
        }
        fputs("]}\n", stdout);
}

static void print_line_text(unsigned port, const LinePart *parts, size_t n) {
        const Gw__LineStatusEntry *hw = parts[0].entry, *call = parts[1].entry, *media = parts[2].entry;
        const Gw__LineHwState *h = hw ? hw->hw : NULL;
        const Gw__LineCall *lc = call ? call->call : NULL;

        if (h)
                printf("line %u: %s hook%s, polarity %s, feed %s (%s)\n", port,
                       h->hook == GW__HOOK_STATE__HOOK_OFF ? "off" : "on", h->ringing ? ", ringing" : "",
                       h->polarity == GW__POLARITY__POLARITY_REVERSED ? "reversed" : "normal",
                       !h->has_feed || h->feed ? "on" : "off", dash(h->backend));
        else
                printf("line %u: hardware state unknown\n", port);
        if (lc && gw_word_call_state(lc->state))
                printf("  call:   %s%s%s%s%s\n", gw_word_call_state(lc->state),
                       isempty(lc->remote) ? "" : ", remote ", strempty(lc->remote),
                       isempty(lc->call_id) ? "" : ", call-id ", strempty(lc->call_id));
        else if (parts[1].reply)
                printf("  call:   idle\n");
        if (media) {
                printf("  tones:  ");
                for (size_t i = 0; i < media->n_last_tones; i++)
                        printf("%s%s", i ? ", " : "", media->last_tones[i]);
                printf("%s\n  digits: %s\n", media->n_last_tones ? "" : "-", dash(media->last_digits));
                if (media->media && !isempty(media->media->call_id))
                        print_media_text(media->media);
        }
        for (size_t i = 0; i < n; i++)
                if (parts[i].error)
                        printf("  (%s: %s)\n", gw_service_to_string(parts[i].service),
                               line_error_text(parts[i].error, parts[i].message));
}

static int line_status(const GwConf *conf, unsigned port) {
        LinePart parts[] = {
                { .service = GW__SERVICE__SERVICE_LINEHWD },
                { .service = GW__SERVICE__SERVICE_SIGD },
                { .service = GW__SERVICE__SERVICE_MEDIAD },
        };
        int ret;

        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                Gw__Envelope req = GW__ENVELOPE__INIT;
                Gw__LineStatusRequest lsr = GW__LINE_STATUS_REQUEST__INIT;

                lsr.has_port = true;
                lsr.port = port;
                req.body_case = GW__ENVELOPE__BODY_LINE_STATUS_REQUEST;
                req.line_status_request = &lsr;
                parts[i].error = ask_line(conf, parts[i].service, &req, port, &parts[i].reply, &parts[i].entry,
                                          &parts[i].message);
        }
        if (arg.json)
                print_line_json(port, parts, ELEMENTSOF(parts));
        else
                print_line_text(port, parts, ELEMENTSOF(parts));
        /* The hardware state is the line's status; the other parts only add to it. */
        ret = parts[0].entry && parts[0].entry->hw ? EXIT_SUCCESS : EXIT_FAILURE;
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                envelope_freep(&parts[i].reply);
                free(parts[i].message);
        }
        if (fflush(stdout) != 0)
                return EXIT_FAILURE;
        return ret;
}

static int verb_line(int argc, char **argv) {
        _cleanup_(gw_conf_freep) GwConf *conf = NULL;
        _cleanup_(envelope_freep) Gw__Envelope *reply = NULL;
        _cleanup_free_ char *message = NULL;
        Gw__Envelope req = GW__ENVELOPE__INIT;
        Gw__LineCommand cmd = GW__LINE_COMMAND__INIT;
        const Gw__LineStatusEntry *entry = NULL;   /* the line after the command */
        const char *action, *digits = NULL;
        char *end;
        unsigned long port;
        int r;

        if (argc < 2)
                return -usage_error("'line' needs a line number and an action: offhook, onhook, flash, dial DIGITS or status");
        errno = 0;
        port = strtoul(argv[0], &end, 10);
        if (errno || *end || argv[0][0] == '-' || argv[0][0] == '+' || port < 1 || port > 65535)
                return -usage_error("invalid line number '%s' (expected 1..65535)", argv[0]);
        action = argv[1];

        if (streq(action, "dial")) {
                if (argc < 3)
                        return -usage_error("'line %lu dial' needs the digits to dial", port);
                if (argc > 3)
                        return -usage_error("unexpected argument '%s'", argv[3]);
                digits = argv[2];
                if (strlen(digits) < 1 || strlen(digits) > LINE_MAX_DIGITS)
                        return -usage_error("between 1 and %d digits can be dialled at once, got %zu",
                                            LINE_MAX_DIGITS, strlen(digits));
                if (strspn(digits, arg_pulse ? "0123456789" : "0123456789*#ABCD") != strlen(digits))
                        return -usage_error(arg_pulse ? "invalid digits '%s' for pulse dialling (0-9 only)"
                                                      : "invalid DTMF digits '%s' (0-9, *, #, A-D)", digits);
        } else if (streq(action, "offhook") || streq(action, "onhook") || streq(action, "flash") ||
                   streq(action, "status")) {
                if (argc > 2)
                        return -usage_error("unexpected argument '%s'", argv[2]);
        } else
                return -usage_error("unknown line action '%s' (offhook, onhook, flash, dial, status)", action);
        if (arg_pulse && !digits)
                return -usage_error("--pulse is only for 'line N dial'");
        if (arg.json && !streq(action, "status"))
                return -usage_error("--json is only for 'line N status'");

        r = load_config(&conf);
        if (r < 0)
                return -r;
        if (!gw_conf_line_by_port(conf, (unsigned) port))
                return -usage_error("line %lu is not configured in '%s'", port, arg.config);

        r = gateway_pid(conf);
        if (r < 0)
                return -r;

        if (streq(action, "status"))
                return line_status(conf, (unsigned) port);

        cmd.port = (uint32_t) port;
        cmd.action = streq(action, "offhook") ? GW__LINE_ACTION__LINE_ACTION_OFFHOOK :
                     streq(action, "onhook") ? GW__LINE_ACTION__LINE_ACTION_ONHOOK :
                     streq(action, "flash") ? GW__LINE_ACTION__LINE_ACTION_FLASH : GW__LINE_ACTION__LINE_ACTION_DIAL;
        cmd.digits = UNCONST(digits);
        cmd.has_pulse = digits != NULL;
        cmd.pulse = arg_pulse;
        req.body_case = GW__ENVELOPE__BODY_LINE_COMMAND;
        req.line_command = &cmd;
        r = ask_line(conf, GW__SERVICE__SERVICE_LINEHWD, &req, (unsigned) port, &reply, &entry, &message);
        if (r < 0) {
                fprintf(stderr, "gwctl: line %lu %s: %s\n", port, action, line_error_text(r, message));
                return EXIT_FAILURE;
        }
        /* The command is under way (debounce, pulses, tones take their time); 'status' shows the outcome. */
        printf("line %lu: %s\n", port,
               cmd.action == GW__LINE_ACTION__LINE_ACTION_OFFHOOK ? "handset lifted" :
               cmd.action == GW__LINE_ACTION__LINE_ACTION_ONHOOK ? "handset down" :
               cmd.action == GW__LINE_ACTION__LINE_ACTION_FLASH ? "hook flash" :
               arg_pulse ? "dialling (hook pulses)" : "dialling (DTMF)");
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ------------------------------------------------------------------ reload */

static void print_reload_json(const GwReloadResult *r) {
        bool first = true;

        printf("{\"ok\":%s,\"error\":", r->error >= 0 ? "true" : "false");
        json_str_or_null(r->error < 0 ? strerror(-r->error) : NULL);
        printf(",\"message\":");
        json_str_or_null(r->message);
        printf(",\"duration_us\":%" PRIu64 ",\"lines_added\":%u,\"lines_removed\":%u,\"lines_changed\":%u,"
               "\"daemons\":{", r->duration_usec, r->lines_added, r->lines_removed, r->lines_changed);
        for (size_t i = 0; i < GW_RELOAD_N_DAEMONS; i++) {
                const GwReloadDaemon *d = &r->daemons[i];

                printf("%s", first ? "" : ",");
                first = false;
                json_str(gw_service_to_string(d->service));
                printf(":{\"running\":%s,\"applied\":%s,\"changed\":%s,\"duration_us\":%" PRIu64 ",\"message\":",
                       d->present ? "true" : "false", d->applied ? "true" : "false", d->changed ? "true" : "false",
                       d->duration_usec);
                json_str_or_null(d->message);
                printf("}");
        }
        printf("}}\n");
}

/* The one reload path (common/gw-reload.h), as systemd's ExecReload= runs it. */
static int verb_reload(void) {
        GwReloadResult res = {};
        int r;

        r = gw_reload_run(arg.config, &res);
        if (arg.json)
                print_reload_json(&res);
        if (r >= 0) {
                if (!arg.json)
                        printf("%s\n", strna(res.message));
        } else
                fprintf(stderr, "gwctl: %s\n", res.message ? res.message : strerror(-r));
        gw_reload_result_done(&res);
        if (fflush(stdout) != 0)
                return EXIT_FAILURE;
        return r >= 0 ? EXIT_SUCCESS :
               r == -EINVAL ? EXIT_CONFIG :
               r == -ESRCH ? EXIT_NOT_RUNNING : EXIT_FAILURE;
}

static int run(int argc, char **argv) {
        const char *verb;
        int r;

        log_open("gwctl");
        r = parse_argv(argc, argv);
        if (r <= 0)
                return -r;

        if (optind >= argc)
                return -usage_error("missing command (status, config, reload, line)");
        verb = argv[optind];

        if (arg_pulse && !streq(verb, "line"))
                return -usage_error("--pulse is only for 'line N dial'");
        if (streq(verb, "status")) {
                if (optind + 1 < argc)
                        return -usage_error("unexpected argument '%s'", argv[optind + 1]);
                return verb_status();
        }
        if (streq(verb, "config")) {
                r = verb_config(argc - optind - 1, argv + optind + 1);
                return r < 0 ? -r : r;
        }
        if (streq(verb, "reload")) {
                if (optind + 1 < argc)
                        return -usage_error("unexpected argument '%s'", argv[optind + 1]);
                return verb_reload();
        }
        if (streq(verb, "line")) {
                r = verb_line(argc - optind - 1, argv + optind + 1);
                return r < 0 ? -r : r;
        }
        return -usage_error("unknown command '%s' (status, config, reload, line)", verb);
}

int main(int argc, char **argv) {
        return run(argc, argv);
}
