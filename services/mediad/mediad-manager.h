/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-manager.h: mediad's manager: the DSP side of each line and its RTP session.
 *
 * Everything is driven by the line's frames (gw-pcm.h): each up frame is run
 * through the DTMF detector and offered to the RTP session; the answer is one
 * down frame made of, in this order of precedence, DTMF being played for a
 * received RFC 4733 event, the RTP playout (once audio has arrived), the tone
 * sigd asked for, or silence.
 *
 * The manager never touches the bus or the data plane itself: the glue
 * (mediad-bus.c) sets callbacks, so tests drive it with frames and messages
 * and capture what it would have sent. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <spandsp.h>
#include <systemd/sd-event.h>

#include "gw-conf.h"
#include "gw-fdstore.h"
#include "gw-pcm.h"
#include "gw-toneplan.h"
#include "gw.pb-c.h"
#include "mediad-dsp.h"
#include "gw-digit-log.h"
#include "mediad-resume.h"
#include "mediad-rtp.h"

#define MEDIAD_LAST_TONES       8
#define MEDIAD_LAST_DIGITS      64
#define MEDIAD_STATE_USEC       (5 * USEC_PER_SEC)   /* MediaState while RTP runs */
#define MEDIAD_KEEP_UNCLAIMED_USEC MEDIAD_RESUME_MAX_AGE_USEC  /* a stream is not resumed later either */
#define MEDIAD_ONHOOK_GAP       50                   /* missing up frames (1 s, longer than a flash) that mean the line was on hook */

typedef struct Manager Manager;
typedef struct MediaLine MediaLine;

typedef struct ManagerCallbacks {
        /* A down frame for the data plane. */
        void (*send_frame)(Manager *m, const GwPcmFrame *f, void *userdata);
        void (*digit_detected)(Manager *m, const Gw__DigitDetected *d, void *userdata);
        void (*media_state)(Manager *m, const Gw__MediaState *s, void *userdata);
} ManagerCallbacks;

struct MediaLine {
        Manager *manager;
        uint32_t port;

        /* the applied MediaControl */
        uint64_t generation;
        bool have_control;
        Gw__Tone tone;
        bool detect_digits;

        ToneGen tone_gen;
        dtmf_rx_state_t *dtmf_rx;
        /* A received RFC 4733 event, played to the line for the duration it states. */
        GwToneSpec ev_spec;
        ToneGen ev_gen;
        bool ev_playing, ev_end_seen;
        uint32_t ev_target;           /* samples to play in all, once its end is known */
        uint32_t ev_played;
        unsigned ev_quiet;            /* frames since the event's last packet */
        char digit;                   /* being detected; 0: none */
        uint64_t digit_start;         /* samples counter at its start */
        uint64_t samples;             /* up samples processed */

        RtpSession *rtp;
        /* The MediaControl that set rtp up, packed (SRTP keys: wiped when freed), saved
         * with the stream so a restarted mediad goes on before sigd speaks (mediad-resume.h). */
        uint8_t *control;
        size_t control_len;
        char error[96];               /* MediaState.error */

        bool offhook;
        bool have_seq;
        uint32_t last_seq;

        Gw__Tone last_tones[MEDIAD_LAST_TONES];   /* ring */
        unsigned n_last_tones;                     /* total ever, the ring holds the last 8 */
        char last_digits[MEDIAD_LAST_DIGITS + 1];

        uint64_t frames_up, frames_down;
        GwDigitLogLine digits;        /* detected on the line, numbered, sent again to a new sigd */
};

struct Manager {
        sd_event *event;
        const GwConf *conf;           /* borrowed */
        const GwTonePlan *plan;       /* borrowed */
        MediaLine *lines;
        size_t n_lines;
        MediaLine **by_port;          /* [0..max_port]: the per-frame lookup is an index */
        uint32_t max_port;
        sd_event_source *state_timer;
        /* streams saved for a restart (mediad-resume.h); state_dir NULL: none */
        char *state_dir;
        MediaResume *resume;
        sd_event_source *save_timer;
        uint64_t streams_resumed;
        bool restoring;               /* manager_restore_sessions(): one save at the end */
        MediaUdpKeep *keep;           /* our sockets in the supervisor's fd store (mediad-udp.h); NULL: none */
        sd_event_source *keep_timer;  /* closes the kept sockets no session took */
        ManagerCallbacks cb;
        void *userdata;
        uint64_t frames_unknown_port; /* up frames for a port not in the config */
        uint64_t controls_stale;      /* MediaControls older than the applied one */
        uint64_t controls_bad;
};

int manager_new(sd_event *e, const GwConf *c, const GwTonePlan *plan, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
void manager_set_callbacks(Manager *m, const ManagerCallbacks *cb, void *userdata);
/* Keep our RTP streams in dir/mediad.streams and resume the ones saved there
 * by the previous instance (mediad-resume.h). */
int manager_set_state_dir(Manager *m, const char *dir);
/* Start again the sessions saved with their MediaControl by the previous instance
 * (after manager_keep_sockets(), so they take their kept sockets back). Returns
 * how many. sigd's own MediaControls, when they come, confirm or end them. */
size_t manager_restore_sessions(Manager *m);
/* Keep our RTP/RTCP sockets in the supervisor's fd store; 'inherited' (taken)
 * are those a previous instance kept: sessions resuming on their ports take
 * them, the rest is closed after MEDIAD_KEEP_UNCLAIMED_USEC. */
int manager_keep_sockets(Manager *m, GwFdSet *inherited);

MediaLine *manager_line(Manager *m, uint32_t port);

/* sigd's desired state. -ESTALE: an older generation, ignored; -EINVAL: refused
 * (MediaState.error says why, nothing else changed); -ENOENT: unknown port. */
int manager_media_control(Manager *m, const Gw__MediaControl *mc);
/* sigd restarted: its generations start again. */
void manager_sigd_restarted(Manager *m);
/* A restarted sigd asked for state: the digits of the last seconds again
 * (DigitDetected.replay), for those detected while it was down. */
void manager_replay_digits(Manager *m);
/* linehwd's hook state (resets last_digits at off hook). */
void manager_hook(Manager *m, uint32_t port, bool offhook);
/* One up frame: answered with one down frame through cb.send_frame. */
void manager_frame(Manager *m, const GwPcmFrame *up);

/* Publish every line's MediaState (StateSyncRequest). */
void manager_publish_all(Manager *m);

/* Fill a MediaState for l. Strings point into l/storage; valid until l changes. */
typedef struct MediaStateStorage {
        char remote[64];
        Gw__MediaQuality quality;
} MediaStateStorage;
void media_line_state_fill(MediaLine *l, MediaStateStorage *st, Gw__MediaState *ret);
/* MediaState.quality of a session with RTCP. */
void media_quality_fill(const RtpSession *rtp, Gw__MediaQuality *ret);

/* LineStatusReply for 'port' (0: all). Free with manager_line_status_free(). */
int manager_line_status(Manager *m, uint32_t port, Gw__LineStatusReply **ret);
void manager_line_status_free(Gw__LineStatusReply *r);
