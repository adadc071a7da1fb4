/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-simphone.c: the simulated telephone: hook switch, DTMF and pulse dialling, play and record. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <spandsp.h>

#include "gw-bus.h"
#include "gw-log.h"
#include "gw-wav.h"
#include "linehwd-simphone.h"

#define DTMF_ON_MS  80                   /* comfortably above detectors' 40 ms minimum */
#define DTMF_OFF_MS 80

typedef struct HookStep {
        uint64_t at;
        LineHook hook;
} HookStep;

struct SimPhone {
        sd_event *event;
        LineBackend *backend;
        const GwLineConf *conf;
        unsigned port;
        uint64_t flash_min_us, flash_max_us;
        sim_phone_hook_t hook_cb;
        void *userdata;

        LineHook hook;                   /* where the handset is (as the phone knows it) */

        /* hook pulses and flashes: scheduled switch edges */
        HookStep *steps;
        size_t n_steps, step_idx;
        sd_event_source *step_timer;

        sd_event_source *answer_timer;

        dtmf_tx_state_t *dtmf;
        bool dtmf_active;

        int16_t *play;
        size_t play_n, play_pos;
        bool playing;
        bool auto_answered;              /* this call was answered by auto_answer: hang up with it */
        bool was_connected;              /* ... once it was connected (a stale IDLE before that is not its end) */

        int16_t *rec;
        size_t rec_n, rec_cap;
        size_t rec_disk;                 /* samples at the head of "<record>.part" only (a restart's
                                          * predecessor heard them): read back when the call ends */
        bool recording;
        bool resume_recording;           /* restored off hook after a restart: go on with "<record>.part" */
        int rec_fd;                      /* "<record>.part": what was heard so far, as raw samples */
};

static int add_timer(SimPhone *p, sd_event_source **s, sd_event_time_handler_t cb, const char *what) {
        int r = sd_event_add_time(p->event, s, CLOCK_MONOTONIC, UINT64_MAX, 1, cb, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(*s, what);
        /* Before the line logic's timers when both are due in one loop turn:
         * an edge then always reaches the logic before any later deadline
         * is handled (line_logic_hook() handles the earlier ones first). */
        (void) sd_event_source_set_priority(*s, SD_EVENT_PRIORITY_IMPORTANT);
        return sd_event_source_set_enabled(*s, SD_EVENT_OFF);
}

static void arm(sd_event_source *s, uint64_t at) {
        (void) sd_event_source_set_time(s, at);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void move_hook(SimPhone *p, LineHook hook, uint64_t at) {
        p->hook = hook;
        p->hook_cb(p, hook, at, p->userdata);
}

static int on_step(sd_event_source *s, uint64_t usec, void *userdata) {
        SimPhone *p = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        /* Apply every edge that is due, each with its own time. */
        while (p->step_idx < p->n_steps && p->steps[p->step_idx].at <= now) {
                move_hook(p, p->steps[p->step_idx].hook, p->steps[p->step_idx].at);
                p->step_idx++;
        }
        if (p->step_idx < p->n_steps)
                arm(s, p->steps[p->step_idx].at);
        else {
                free(p->steps);
                p->steps = NULL;
                p->n_steps = p->step_idx = 0;
        }
        return 0;
}

static int on_answer(sd_event_source *s, uint64_t usec, void *userdata) {
        SimPhone *p = userdata;

        if (p->hook == LINE_HOOK_ON && !sim_phone_busy(p)) {
                log_info("Line %u: auto-answering.", p->port);
                p->auto_answered = true;
                move_hook(p, LINE_HOOK_OFF, usec);
        }
        return 0;
}

int sim_phone_new(sd_event *e, LineBackend *b, const GwLineConf *lc, uint64_t flash_min_us, uint64_t flash_max_us,
                  sim_phone_hook_t hook, void *userdata, SimPhone **ret) {
        _cleanup_(sim_phone_freep) SimPhone *p = NULL;
        int r;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->event = sd_event_ref(e);
        p->backend = b;
        p->conf = lc;
        p->port = lc->port;
        p->flash_min_us = flash_min_us;
        p->flash_max_us = flash_max_us;
        p->hook_cb = hook;
        p->userdata = userdata;
        p->hook = LINE_HOOK_ON;
        p->rec_fd = -EBADF;

        p->dtmf = dtmf_tx_init(NULL);
        if (!p->dtmf)
                return -ENOMEM;
        dtmf_tx_set_timing(p->dtmf, DTMF_ON_MS, DTMF_OFF_MS);

        r = add_timer(p, &p->step_timer, on_step, "sim-hook-steps");
        if (r < 0)
                return r;
        r = add_timer(p, &p->answer_timer, on_answer, "sim-auto-answer");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

SimPhone *sim_phone_free(SimPhone *p) {
        if (!p)
                return NULL;
        sd_event_source_disable_unref(p->step_timer);
        sd_event_source_disable_unref(p->answer_timer);
        if (p->dtmf)
                dtmf_tx_free(p->dtmf);
        free(p->steps);
        free(p->play);
        free(p->rec);
        if (p->rec_fd >= 0)
                close(p->rec_fd);
        sd_event_unref(p->event);
        free(p);
        return NULL;
}

bool sim_phone_busy(const SimPhone *p) {
        return p->step_idx < p->n_steps;
}

bool sim_phone_auto_answered(const SimPhone *p) {
        return p->auto_answered;
}

/* After a restart of linehwd: the handset was off hook, answered by
 * auto_answer or not, so that it still hangs up with the call. */
int sim_phone_restore_off_hook(SimPhone *p, bool auto_answered) {
        p->auto_answered = auto_answered;
        p->resume_recording = true;
        return sim_phone_set_hook(p, LINE_HOOK_OFF);
}

int sim_phone_set_hook(SimPhone *p, LineHook hook) {
        if (hook != LINE_HOOK_ON && hook != LINE_HOOK_OFF)
                return -EINVAL;
        if (sim_phone_busy(p))
                return -EBUSY;
        if (p->hook != hook)
                move_hook(p, hook, now_usec(CLOCK_MONOTONIC));
        return 0;
}

static int schedule(SimPhone *p, HookStep *steps, size_t n) {
        free(p->steps);
        p->steps = steps;
        p->n_steps = n;
        p->step_idx = 0;
        arm(p->step_timer, steps[0].at);
        return 0;
}

int sim_phone_flash(SimPhone *p) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        HookStep *s;

        if (sim_phone_busy(p))
                return -EBUSY;
        if (p->hook != LINE_HOOK_OFF)
                return -ENOTCONN;
        s = calloc(2, sizeof *s);
        if (!s)
                return -ENOMEM;
        /* In the middle of flash_min..flash_max. */
        s[0] = (HookStep) { now, LINE_HOOK_ON };
        s[1] = (HookStep) { now + (p->flash_min_us + p->flash_max_us) / 2, LINE_HOOK_OFF };
        return schedule(p, s, 2);
}

int sim_phone_dial(SimPhone *p, const char *digits, bool pulse) {
        size_t n = digits ? strlen(digits) : 0;

        if (n == 0 || n > SIM_PHONE_MAX_DIGITS)
                return -EINVAL;
        if (strspn(digits, pulse ? "0123456789" : "0123456789*#ABCD") != n)
                return -EINVAL;
        if (sim_phone_busy(p))
                return -EBUSY;
        if (p->hook != LINE_HOOK_OFF)
                return -ENOTCONN;

        if (!pulse) {
                if (dtmf_tx_put(p->dtmf, digits, (int) n) != 0)
                        return -EBUSY;  /* the generator's queue is full */
                p->dtmf_active = true;
                return 0;
        }

        _cleanup_free_ HookStep *s = calloc(n * 10 * 2, sizeof *s);
        size_t k = 0;
        uint64_t t = now_usec(CLOCK_MONOTONIC);

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                unsigned pulses = digits[i] == '0' ? 10 : (unsigned) (digits[i] - '0');

                for (unsigned j = 0; j < pulses; j++) {
                        s[k++] = (HookStep) { t, LINE_HOOK_ON };
                        t += SIM_PULSE_BREAK_MS * USEC_PER_MSEC;
                        s[k++] = (HookStep) { t, LINE_HOOK_OFF };
                        t += SIM_PULSE_MAKE_MS * USEC_PER_MSEC;
                }
                t += (SIM_PULSE_GAP_MS - SIM_PULSE_MAKE_MS) * USEC_PER_MSEC;
        }
        return schedule(p, TAKE_PTR(s), k);
}

/* The recording outlives a restart of linehwd (the phone would): every frame
 * heard is appended to "<record>.part" too. A handset restored off hook after
 * the restart goes on with it, after as much silence as the time since its
 * last frame (its mtime): the gap the subscriber heard while linehwd was down. */
static int close_fd(int fd) {
        if (fd >= 0)
                close(fd);
        return -EBADF;
}

static int record_part_path(const SimPhone *p, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s.part", p->conf->record);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static bool record_append(SimPhone *p, const int16_t *samples, size_t n) {
        if (p->rec_disk + p->rec_n + n > GW_WAV_MAX_SAMPLES)
                return false;   /* full: the file keeps the first 10 minutes */
        if (p->rec_n + n > p->rec_cap) {
                size_t cap = MAX(p->rec_cap ? p->rec_cap * 2 : (size_t) GW_WAV_RATE * 10, p->rec_n + n);
                int16_t *q = realloc(p->rec, MIN(cap, (size_t) GW_WAV_MAX_SAMPLES) * sizeof *q);
                if (!q)
                        return false;
                p->rec = q;
                p->rec_cap = MIN(cap, (size_t) GW_WAV_MAX_SAMPLES);
        }
        if (samples)
                memcpy(p->rec + p->rec_n, samples, n * sizeof *samples);
        else
                memset(p->rec + p->rec_n, 0, n * sizeof *p->rec);
        if (p->rec_fd >= 0 && write(p->rec_fd, p->rec + p->rec_n, n * sizeof *p->rec) != (ssize_t) (n * sizeof *p->rec)) {
                log_warning_errno(errno, "Line %u: cannot append to the recording, no longer kept across a restart: %m",
                                  p->port);
                p->rec_fd = close_fd(p->rec_fd);
        }
        p->rec_n += n;
        return true;
}

static void record_start(SimPhone *p) {
        char part[PATH_MAX];
        struct stat st = {};
        bool resume = p->resume_recording;

        p->resume_recording = false;
        p->rec_n = p->rec_disk = 0;
        p->recording = true;
        p->rec_fd = close_fd(p->rec_fd);
        if (record_part_path(p, part, sizeof part) < 0)
                return;
        /* What the predecessor heard stays on disk (not read now: the restart is
         * on the clock), and is read back when the call ends. */
        if (resume && stat(part, &st) == 0 && st.st_size > 0 &&
            (size_t) st.st_size <= GW_WAV_MAX_SAMPLES * sizeof(int16_t))
                p->rec_disk = (size_t) st.st_size / sizeof(int16_t);
        p->rec_fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | (p->rec_disk > 0 ? O_APPEND : O_TRUNC), 0644);
        if (p->rec_fd < 0) {
                log_warning_errno(errno, "Line %u: cannot open '%s', the recording is not kept across a restart: %m",
                                  p->port, part);
                p->rec_disk = 0;
        } else if (p->rec_disk > 0 && ftruncate(p->rec_fd, (off_t) (p->rec_disk * sizeof(int16_t))) < 0)
                p->rec_disk = 0;        /* an odd byte cut off; on failure the head is lost */
        if (p->rec_disk > 0) {
                uint64_t now = now_usec(CLOCK_REALTIME), last = (uint64_t) st.st_mtim.tv_sec * USEC_PER_SEC + (uint64_t) st.st_mtim.tv_nsec / 1000;
                size_t silence = now > last ? (size_t) ((now - last) * GW_WAV_RATE / USEC_PER_SEC) : 0;

                log_info("Line %u: the recording goes on after %zu ms without audio (linehwd restarted).",
                         p->port, silence / 8);
                (void) record_append(p, NULL, silence);
        }
}

static void record_flush(SimPhone *p) {
        char part[PATH_MAX];
        int r;

        if (!p->recording)
                return;
        p->recording = false;
        if (p->rec_disk > 0) {
                /* The head from the file, then what this instance heard. */
                int16_t *all = malloc((p->rec_disk + p->rec_n) * sizeof *all);
                ssize_t k = all ? pread(p->rec_fd, all, p->rec_disk * sizeof *all, 0) : -1;

                if (k == (ssize_t) (p->rec_disk * sizeof *all)) {
                        if (p->rec_n > 0)
                                memcpy(all + p->rec_disk, p->rec, p->rec_n * sizeof *all);
                        free(p->rec);
                        p->rec = all;
                        p->rec_n += p->rec_disk;
                        p->rec_cap = p->rec_n;
                } else {
                        log_warning("Line %u: cannot read back what was heard before linehwd restarted.", p->port);
                        free(all);
                }
                p->rec_disk = 0;
        }
        p->rec_fd = close_fd(p->rec_fd);
        if (record_part_path(p, part, sizeof part) == 0)
                (void) unlink(part);
        r = gw_wav_write(p->conf->record, p->rec, p->rec_n);
        if (r < 0)
                log_warning_errno(r, "Line %u: failed to write the recording '%s', ignoring: %m",
                                  p->port, p->conf->record);
        else
                log_info("Line %u: recorded %zu ms to '%s'.", p->port, p->rec_n / 8, p->conf->record);
}

void sim_phone_hook_changed(SimPhone *p, LineHook hook) {
        if (hook == LINE_HOOK_OFF) {
                (void) sd_event_source_set_enabled(p->answer_timer, SD_EVENT_OFF);
                if (p->conf->record)
                        record_start(p);
                return;
        }
        /* The handset is down: whatever it was saying stops. */
        p->auto_answered = false;
        p->was_connected = false;
        dtmf_tx_init(p->dtmf);
        dtmf_tx_set_timing(p->dtmf, DTMF_ON_MS, DTMF_OFF_MS);
        p->dtmf_active = false;
        p->playing = false;
        record_flush(p);
}

/* The far end released the call (or it ended): an auto-answering phone is
 * an answering machine, it hangs up too, so the line can take the next call. */
void sim_phone_call_ended(SimPhone *p) {
        if (!p->auto_answered || !p->was_connected || p->hook != LINE_HOOK_OFF || sim_phone_busy(p))
                return;
        log_info("Line %u: call ended, the auto-answering phone hangs up.", p->port);
        p->auto_answered = false;
        move_hook(p, LINE_HOOK_ON, now_usec(CLOCK_MONOTONIC));
}

void sim_phone_get_answered(const SimPhone *p, bool *auto_answered, bool *was_connected) {
        *auto_answered = p->auto_answered;
        *was_connected = p->was_connected;
}

void sim_phone_restore_answered(SimPhone *p, bool auto_answered, bool was_connected) {
        if (p->hook != LINE_HOOK_OFF)
                return;
        p->auto_answered = auto_answered;
        p->was_connected = was_connected;
}

void sim_phone_ringing(SimPhone *p, bool on) {
        if (on && p->conf->auto_answer_us > 0 && p->hook == LINE_HOOK_ON)
                arm(p->answer_timer, now_usec(CLOCK_MONOTONIC) + p->conf->auto_answer_us);
        else if (!on)
                (void) sd_event_source_set_enabled(p->answer_timer, SD_EVENT_OFF);
}

void sim_phone_connected(SimPhone *p, bool connected) {
        _cleanup_free_ char *error = NULL;
        int16_t *s = NULL;
        size_t n = 0;
        int r;

        if (connected && p->hook == LINE_HOOK_OFF)
                p->was_connected = true;
        if (!connected || !p->conf->play) {
                p->playing = false;
                return;
        }
        if (p->playing)
                return;
        /* Read at every connect: the file may have been replaced since. */
        r = gw_wav_read(p->conf->play, &s, &n, &error);
        if (r < 0) {
                log_error_errno(r, "Line %u: cannot play: %s", p->port, error ? error : "failed to read");
                return;
        }
        free(p->play);
        p->play = s;
        p->play_n = n;
        p->play_pos = 0;
        p->playing = n > 0;
}

void sim_phone_speak(SimPhone *p) {
        int16_t frame[LINE_PCM_FRAME_SAMPLES] = {};
        bool have = false;

        if (p->dtmf_active) {
                int k = dtmf_tx(p->dtmf, frame, LINE_PCM_FRAME_SAMPLES);
                if (k > 0)
                        have = true;
                if (k < LINE_PCM_FRAME_SAMPLES)
                        p->dtmf_active = false;
        } else if (p->playing) {
                for (size_t i = 0; i < LINE_PCM_FRAME_SAMPLES; i++) {
                        frame[i] = p->play[p->play_pos];
                        p->play_pos = (p->play_pos + 1) % p->play_n;
                }
                have = true;
        }
        if (have)
                (void) line_backend_sim_push_pcm(p->backend, p->port, frame);
}

void sim_phone_hear(SimPhone *p) {
        int16_t frame[LINE_PCM_FRAME_SAMPLES];

        for (unsigned i = 0; i < LINE_SIM_PCM_QUEUE; i++) {
                if (line_backend_sim_pop_pcm(p->backend, p->port, frame) < 0)
                        return;
                if (p->recording)
                        (void) record_append(p, frame, LINE_PCM_FRAME_SAMPLES);
        }
}
