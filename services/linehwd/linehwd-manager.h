/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-manager.h: linehwd's lines: backend, line logic, PCM clock, bus and control socket. */
#pragma once

#include "gw-daemon.h"
#include "gw-pcm.h"
#include "linehwd-backend.h"
#include "gw-digit-log.h"
#include "linehwd-line.h"
#include "linehwd-simphone.h"

typedef struct Manager Manager;

typedef struct Line {
        Manager *manager;
        const GwLineConf *conf;
        unsigned port;
        LineLogic logic;
        sd_event_source *timer;          /* the logic's next deadline */
        uint64_t timer_at;
        uint32_t up_seq;
        SimPhone *phone;                 /* sim backend only */
        GwDigitLogLine digits;           /* pulse digits, numbered, sent again to a new sigd */
        uint64_t hook_changed_real_us;

        bool published;                  /* what went out last, to publish changes only */
        Gw__HookState pub_hook;
        bool pub_ringing, pub_feed;
        Gw__Polarity pub_polarity;
} Line;

struct Manager {
        GwDaemon *daemon;
        LineBackend *backend;
        GwPcm *pcm;
        Line *lines;
        size_t n_lines;
        sd_event_source *pcm_timer;
        sd_event_source *backend_io;     /* backends with an event fd */
        uint64_t pcm_next;
        sd_event_source *announce_timer; /* LineHwState of every line a few times after start */
        unsigned announce_round;
        uint64_t edge_at;                /* time of the hook edge being delivered (sim); 0: now */

        /* Control replies: packed by the bus right after the handler returns. */
        Gw__LineStatusEntry *reply_entries;
        Gw__LineStatusEntry **reply_ptrs;
        Gw__LineHwState *reply_hw;
        Gw__LineStatusReply reply_status;
        Gw__StatusReply reply_sr;
        Gw__BusCounters reply_counters;
};

int manager_new(GwDaemon *d, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
/* Publish every line's LineHwState (after start, and on StateSyncRequest). */
void manager_publish_all(Manager *m);
Line *manager_line(Manager *m, unsigned port);
