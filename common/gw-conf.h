/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-conf.h: the gateway's YAML configuration, parsed once into plain structs.
 *
 * Every program loads the same file with gw_conf_load(). Parsing walks libyaml's
 * event stream against one key table (gw-conf.c), which also drives
 * 'gwctl config' and the check that docs/CONFIG.md documents every key. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "gw-macro.h"

#define GW_CONF_MAX_PROFILES 64
#define GW_CONF_MAX_LINES    1024
#define GW_CONF_MAX_PROXIES  16          /* main + redundant entries of one profile */

typedef enum RedundancyMode {
        REDUNDANCY_PARKING,
        REDUNDANCY_HOMING,
        _REDUNDANCY_MAX,
        _REDUNDANCY_INVALID = -EINVAL,
} RedundancyMode;

typedef enum KeepaliveMode {
        KEEPALIVE_OPTIONS,
        KEEPALIVE_REGISTER,
        KEEPALIVE_INVITE,
        KEEPALIVE_OFF,
        _KEEPALIVE_MAX,
        _KEEPALIVE_INVALID = -EINVAL,
} KeepaliveMode;

typedef enum UnregisteredCalls {
        UNREGISTERED_CALLS_ALLOW,
        UNREGISTERED_CALLS_REFUSE,
        _UNREGISTERED_CALLS_MAX,
        _UNREGISTERED_CALLS_INVALID = -EINVAL,
} UnregisteredCalls;

/* media.codecs, in the order of preference. */
typedef enum GwCodec {
        GW_CODEC_PCMU,                   /* G.711 mu-law, payload type 0 */
        GW_CODEC_PCMA,                   /* G.711 A-law, payload type 8 */
        _GW_CODEC_MAX,
        _GW_CODEC_INVALID = -EINVAL,
} GwCodec;

/* media.srtp and profiles[].srtp: SRTP with SDES keys (RFC 4568), docs/MEDIA.md "SRTP". */
typedef enum GwSrtpMode {
        GW_SRTP_OFF,                     /* RTP/AVP offers, no a=crypto; RTP/SAVP offers refused */
        GW_SRTP_OPTIONAL,                /* RTP/AVP offers with a=crypto; plain RTP if the peer has none */
        GW_SRTP_MANDATORY,               /* RTP/SAVP offers; nothing without a usable a=crypto */
        _GW_SRTP_MODE_MAX,
        _GW_SRTP_MODE_INVALID = -EINVAL,
} GwSrtpMode;

const char *gw_codec_to_string(GwCodec c);
GwCodec gw_codec_from_string(const char *s);
const char *unregistered_calls_to_string(UnregisteredCalls u);
UnregisteredCalls unregistered_calls_from_string(const char *s);
const char *redundancy_mode_to_string(RedundancyMode m);
RedundancyMode redundancy_mode_from_string(const char *s);
const char *keepalive_mode_to_string(KeepaliveMode m);
KeepaliveMode keepalive_mode_from_string(const char *s);
const char *gw_srtp_mode_to_string(GwSrtpMode m);
GwSrtpMode gw_srtp_mode_from_string(const char *s);

/* "host[:port]" as the user wrote it, split. host is an IPv4/IPv6 literal or a
 * DNS name; port 0 means "not given" (5060 for A/AAAA, SRV lookup for names). */
typedef struct GwHostPort {
        char *text;                      /* as configured, e.g. "sip.example.net:5060" */
        char *host;                      /* without brackets */
        uint16_t port;                   /* 0: not given */
        bool is_ip;
} GwHostPort;

typedef struct GwCidr {
        struct sockaddr_storage addr;
        unsigned prefix;
} GwCidr;

typedef struct GwProfileConf {
        char *name;
        GwHostPort proxy;                          /* the main entry */
        GwHostPort redundant[GW_CONF_MAX_PROXIES - 1];
        size_t n_redundant;
        RedundancyMode redundancy_mode;            /* default homing */
        KeepaliveMode keepalive;                   /* default options */
        uint64_t keepalive_period_us;              /* default 30 s */
        uint64_t invite_total_timeout_us;          /* default 32 s */
        bool register_lines;                       /* key 'register', default true */
        GwHostPort registrar;                      /* default: copy of proxy */
        bool registrar_set;                        /* given in the file */
        uint64_t register_expires_us;              /* default 3600 s */
        char *domain;                              /* default: registrar host */
        unsigned homing_confirm;                   /* default 1 */
        uint64_t register_retry_base_us;           /* default 30 s */
        uint64_t register_retry_max_us;            /* default 1800 s */
        uint64_t register_forbidden_retry_us;      /* default 3600 s */
        /* calls */
        char *dial_plan;                           /* RFC 3435-style digit map, default "x.T" */
        uint64_t interdigit_timeout_us;            /* default 4 s */
        uint64_t no_answer_timeout_us;             /* default 120 s */
        UnregisteredCalls unregistered_calls;      /* default allow */
        char *emergency_numbers[16];               /* always attempted */
        size_t n_emergency_numbers;
        GwSrtpMode srtp;                           /* default: media.srtp */
} GwProfileConf;

typedef struct GwLineConf {
        unsigned port;                             /* 1.. unique */
        char *number;
        char *auth_user;                           /* default: number */
        char *password;                            /* secret: never logged; may be NULL */
        char *profile;                             /* name of a profile */
        size_t profile_index;                      /* resolved index into profiles[] */
        /* the simulated line (line_hw.backend sim) */
        uint64_t auto_answer_us;                   /* 0: off; else off hook that long after ringing starts */
        char *play;                                /* absolute path (relative ones resolved against the config's directory) or NULL */
        char *record;                              /* same */
} GwLineConf;

typedef struct GwConf {
        char *path;                                /* the file it came from */
        uint64_t digest;                           /* FNV-1a 64 of the text: "the same file" on reload */
        /* sip */
        char *sip_listen;                          /* "127.0.0.1:5062" as written */
        struct sockaddr_storage sip_listen_addr;   /* parsed */
        char *sip_advertised_address;              /* "" -> the listen address */
        GwCidr trusted_sources[64];
        size_t n_trusted_sources;
        /* dns */
        char *dns_servers[8];                      /* "ip[:port]"; none: system resolvers */
        size_t n_dns_servers;
        uint64_t dns_min_ttl_us;                   /* default 30 s */
        /* profiles and lines */
        GwProfileConf *profiles;
        size_t n_profiles;
        GwLineConf *lines;
        size_t n_lines;
        /* line_hw */
        char *line_hw_backend;                     /* "sim" */
        uint64_t line_hw_flash_min_us;             /* default 80 ms: shorter on-hook is a glitch */
        uint64_t line_hw_flash_max_us;             /* default 700 ms: longer on-hook is a hang-up */
        /* tones and media */
        char *tone_plan;                           /* name of a tone plan, default "ru" */
        char *media_rtp_ports;                     /* "20000-20999" as written */
        uint16_t media_rtp_port_min, media_rtp_port_max; /* parsed; min even */
        GwCodec media_codecs[_GW_CODEC_MAX];       /* default pcma, pcmu */
        size_t n_media_codecs;
        GwSrtpMode media_srtp;                     /* default off; profiles[].srtp overrides it */
        /* supervisor */
        uint64_t watchdog_interval_us;             /* default 10 s */
        unsigned restart_limit;                    /* default 10 */
        /* bus */
        char *runtime_dir;                         /* default /run/fxsgw */
        char *bus_endpoints[9];                    /* per Gw__Service; NULL: ipc in runtime_dir */
        char *bus_curve_secret_key;                /* secret (Z85); tcp endpoints only */
        char *bus_curve_public_key;                /* Z85 */

        /* dbus */
        char *dbus_address;                        /* "system", "off" or a D-Bus address */
        /* log */
        int log_level;                             /* LOG_INFO by default */
} GwConf;

/* Parse 'path'. On failure returns -EINVAL (or -errno for I/O) and, if
 * ret_error is non-NULL, a malloc'd message
 * "FILE:LINE:COLUMN: key 'profiles[0].proxy': expected host[:port], got ''". */
int gw_conf_load(const char *path, GwConf **ret, char **ret_error);
/* Same, from a string; 'name' stands for the file in messages. */
int gw_conf_load_string(const char *name, const char *text, GwConf **ret, char **ret_error);
GwConf *gw_conf_free(GwConf *c);

/* The keys that cannot change without restarting the gateway (docs/CONFIG.md
 * "Reload"): those of 'b' that differ from 'a', as a NULL-terminated array of
 * key paths ("sip.listen", "bus.endpoints.sigd") in *ret (malloc'd array of
 * static strings: free() only the array). Returns how many, or -ENOMEM. */
int gw_conf_restart_keys(const GwConf *a, const GwConf *b, const char ***ret);

/* Warn-worthy: the file is readable by group/others (it holds passwords).
 * Returns 1 if so, 0 if not, -errno on stat failure. */
int gw_conf_is_world_readable(const char *path);

/* Print every key with its type, default and help (for 'gwctl config keys'
 * and the docs check). */
void gw_conf_dump_keys(FILE *f);
/* Print the effective config as YAML, secrets as '***'. */
void gw_conf_dump(const GwConf *c, FILE *f);

/* The RTP port (even; RTCP is +1) of the line at lines[line_index] for its
 * call number call_seq: every line owns two pairs and alternates between
 * them, so a new call never receives the last call's late packets. */
uint16_t gw_conf_rtp_port(const GwConf *c, size_t line_index, uint64_t call_seq);

const GwProfileConf *gw_conf_profile_by_name(const GwConf *c, const char *name);
const GwLineConf *gw_conf_line_by_port(const GwConf *c, unsigned port);

/* "500ms", "32s", "5m", "1h", "250us"; a bare number is seconds. */
int gw_parse_duration(const char *s, uint64_t *ret_usec);
/* "host", "host:port", "[v6]:port", "v6". */
int gw_parse_host_port(const char *s, GwHostPort *ret);
void gw_host_port_done(GwHostPort *hp);
/* "ip:port" or "[v6]:port" literal into a sockaddr. */
int gw_parse_sockaddr(const char *s, uint16_t default_port, struct sockaddr_storage *ret);
int gw_parse_cidr(const char *s, GwCidr *ret);
bool gw_cidr_match(const GwCidr *c, const struct sockaddr *sa);

DEFINE_TRIVIAL_CLEANUP_FUNC(GwConf *, gw_conf_free);
