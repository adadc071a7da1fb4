/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-linehwd-manager.c: linehwd's manager in-process with a stand-in sigd (bus) and mediad (data plane):
 * hook states and events on the bus, up frames every 20 ms, DTMF dialled into the audio (detected with
 * spandsp), pulse digits, flash, play from connect, the recording at on-hook, ringing and auto-answer (also
 * across a restart of linehwd in the call). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <spandsp.h>

#include "gw-daemon.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "gw-wav.h"
#include "linehwd-manager.h"

#define DOWN_VALUE 4321
#define MAX_CAPTURE (GW_PCM_RATE * 4)

typedef struct World {
        /* what the stand-in sigd saw */
        Gw__HookState hook[3];
        bool ringing[3];
        Gw__Polarity polarity[3];
        unsigned hw_msgs[3];
        unsigned hook_on_msgs[3];
        char digits[16];
        unsigned flashes;
        uint32_t flash_ms;
        /* what the stand-in mediad saw */
        unsigned up[3], ringing_frames[3];
        uint32_t last_seq[3];
        unsigned seq_gaps;
        int16_t capture[MAX_CAPTURE];
        size_t n_capture;
        bool capturing;
        bool play_seen;
        GwPcm *media;
} World;

static int on_hw(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        World *w = userdata;
        const Gw__LineHwState *hw = env->line_hw_state;

        if (hw->port < 1 || hw->port > 2)
                return 0;
        w->hook[hw->port] = hw->hook;
        w->ringing[hw->port] = hw->ringing;
        w->polarity[hw->port] = hw->polarity;
        w->hw_msgs[hw->port]++;
        if (hw->hook == GW__HOOK_STATE__HOOK_ON)
                w->hook_on_msgs[hw->port]++;
        ASSERT_STREQ(hw->backend, "sim");
        return 0;
}

static int on_event(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        World *w = userdata;
        const Gw__LineEvent *ev = env->line_event;

        ASSERT_EQ(ev->port, 1);
        if (ev->kind == GW__LINE_EVENT_KIND__LINE_EVENT_FLASH) {
                w->flashes++;
                w->flash_ms = ev->duration_ms;
        } else {
                size_t n = strlen(w->digits);
                ASSERT_NOT_NULL(ev->digit);
                if (n + 1 < sizeof w->digits)
                        w->digits[n] = ev->digit[0];
        }
        return 0;
}

static const GwBusHandler sigd_handlers[] = {
        [GW__ENVELOPE__BODY_LINE_HW_STATE] = { "LineHwState", on_hw, GW_SERVICE_BIT(GW__SERVICE__SERVICE_LINEHWD) },
        [GW__ENVELOPE__BODY_LINE_EVENT] = { "LineEvent", on_event, GW_SERVICE_BIT(GW__SERVICE__SERVICE_LINEHWD) },
};

/* The played file is a ramp: sample k of the file is (k % 1000) * 10. */
static bool is_play_frame(const GwPcmFrame *f) {
        int start = f->samples[0] / 10;

        if (f->samples[0] % 10 || start >= 1000)
                return false;
        for (int k = 0; k < GW_PCM_SAMPLES; k++)
                if (f->samples[k] != ((start + k) % 1000) * 10)
                        return false;
        return f->samples[1] != 0;
}

/* The stand-in mediad: note every up frame, answer with a constant down frame. */
static void on_up(GwPcm *p, const GwPcmFrame *f, void *userdata) {
        World *w = userdata;
        GwPcmFrame down = { .port = f->port, .seq = f->seq };

        ASSERT_TRUE(f->port >= 1 && f->port <= 2);
        if (w->up[f->port] > 0 && f->seq != w->last_seq[f->port] + 1)
                w->seq_gaps++;
        w->up[f->port]++;
        w->last_seq[f->port] = f->seq;
        if (f->flags & GW_PCM_FLAG_RINGING)
                w->ringing_frames[f->port]++;
        if (f->port == 1 && w->capturing && w->n_capture + GW_PCM_SAMPLES <= MAX_CAPTURE) {
                memcpy(w->capture + w->n_capture, f->samples, sizeof f->samples);
                w->n_capture += GW_PCM_SAMPLES;
        }
        if (f->port == 1 && is_play_frame(f))
                w->play_seen = true;
        for (int i = 0; i < GW_PCM_SAMPLES; i++)
                down.samples[i] = DOWN_VALUE;
        (void) gw_pcm_send(w->media, &down);
}

/* Generous bounds: they only end a test that fails anyway. */
#define RUN_UNTIL(e, cond, max_ms) GW_TEST_ASSERT_RUN_UNTIL(e, cond, 3 * (max_ms) * USEC_PER_MSEC)

static void publish_control(GwBus *sigd, unsigned port, int ring, int polarity) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineControl lc = GW__LINE_CONTROL__INIT;

        lc.port = port;
        if (ring >= 0) {
                lc.has_ring = true;
                lc.ring = ring;
        }
        if (polarity >= 0) {
                lc.has_polarity = true;
                lc.polarity = polarity;
        }
        env.body_case = GW__ENVELOPE__BODY_LINE_CONTROL;
        env.line_control = &lc;
        ASSERT_OK(gw_bus_publish_auto(sigd, "x", &env));
}

static void publish_call(GwBus *sigd, unsigned port, Gw__CallState state) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineCall lc = GW__LINE_CALL__INIT;

        lc.port = port;
        lc.state = state;
        env.body_case = GW__ENVELOPE__BODY_LINE_CALL;
        env.line_call = &lc;
        ASSERT_OK(gw_bus_publish_auto(sigd, "x", &env));
}

static void on_dtmf(void *user_data, const char *digits, int len) {
        char *out = user_data;
        size_t n = strlen(out);

        for (int i = 0; i < len && n + 1 < 16; i++)
                out[n++] = digits[i];
}

TEST(simulated_lines) {
        const char *dir = gw_test_tmpdir("test-linehwd");
        char conf_path[256], text[1024], say[256], heard[256];
        char *argv[] = { (char *) "linehwd", (char *) "--config", conf_path, NULL };
        _cleanup_(gw_daemon_done) GwDaemon d = {};
        _cleanup_(manager_freep) Manager *m = NULL;
        World *w = calloc(1, sizeof *w);
        GwBus *sigd = NULL;
        int16_t ramp[8000];
        Line *l1;

        ASSERT_NOT_NULL(w);
        snprintf(conf_path, sizeof conf_path, "%s/fxsgw.yaml", dir);
        snprintf(say, sizeof say, "%s/say.wav", dir);
        snprintf(heard, sizeof heard, "%s/heard.wav", dir);
        for (int k = 0; k < 8000; k++)
                ramp[k] = (int16_t) ((k % 1000) * 10);
        ASSERT_OK(gw_wav_write(say, ramp, 8000));
        snprintf(text, sizeof text,
                 "sip:\n  listen: 127.0.0.1:5062\n"
                 "profiles:\n  - name: p\n    proxy: 127.0.0.1:5060\n"
                 "lines:\n"
                 "  - {port: 1, number: \"1001\", profile: p, play: say.wav, record: heard.wav}\n"
                 "  - {port: 2, number: \"1002\", profile: p, auto_answer: 300ms}\n"
                 "bus:\n  runtime_dir: %s/run\n"
                 "log:\n  level: warning\n", dir);
        gw_test_write_file(conf_path, text);

        ASSERT_EQ(gw_daemon_init(&d, GW__SERVICE__SERVICE_LINEHWD, 3, argv), 0);
        ASSERT_OK(manager_new(&d, &m));
        ASSERT_TRUE(d.pcm == m->pcm);
        ASSERT_OK(gw_bus_new(d.event, d.conf, GW__SERVICE__SERVICE_SIGD, &sigd));
        gw_bus_set_handlers(sigd, sigd_handlers, ELEMENTSOF(sigd_handlers), w);
        ASSERT_OK(gw_bus_subscribe(sigd, "Line"));
        ASSERT_OK(gw_pcm_new(d.event, d.conf, GW_PCM_MEDIA, on_up, w, &w->media));

        /* Both lines announced on hook after start (repeated until subscribers are connected). */
        RUN_UNTIL(d.event, w->hw_msgs[1] > 0 && w->hw_msgs[2] > 0, 4000);
        ASSERT_EQ(w->hook[1], GW__HOOK_STATE__HOOK_ON);
        ASSERT_EQ(w->up[1] + w->up[2], 0);          /* on-hook, not ringing: no audio */

        /* Off hook: the state on the bus, up frames every 20 ms with consecutive seq. */
        l1 = manager_line(m, 1);
        ASSERT_NOT_NULL(l1);
        ASSERT_OK(sim_phone_set_hook(l1->phone, LINE_HOOK_OFF));
        RUN_UNTIL(d.event, w->hook[1] == GW__HOOK_STATE__HOOK_OFF, 2000);
        RUN_UNTIL(d.event, w->up[1] >= 10, 3000);
        w->seq_gaps = 0;
        RUN_UNTIL(d.event, w->up[1] >= 30, 3000);
        ASSERT_EQ(w->up[2], 0);
        ASSERT_EQ(w->seq_gaps, 0);

        /* DTMF: the tones are in the up audio, a detector finds the digits. */
        ASSERT_ERROR(sim_phone_dial(l1->phone, "12x", false), EINVAL);
        w->n_capture = 0;
        w->capturing = true;
        ASSERT_OK(sim_phone_dial(l1->phone, "5#9", false));
        RUN_UNTIL(d.event, w->n_capture >= GW_PCM_RATE * 3 / 4, 3000);
        w->capturing = false;
        char found[16] = "";
        dtmf_rx_state_t *rx = dtmf_rx_init(NULL, on_dtmf, found);
        ASSERT_NOT_NULL(rx);
        dtmf_rx(rx, w->capture, (int) w->n_capture);
        dtmf_rx_free(rx);
        ASSERT_STREQ(found, "5#9");
        ASSERT_STREQ(w->digits, "");                 /* DTMF is no LineEvent: mediad detects it */

        /* Pulses: a LineEvent per digit, in order; the hook never looks on. */
        ASSERT_ERROR(sim_phone_dial(l1->phone, "1*", true), EINVAL);
        unsigned on_before = w->hook_on_msgs[1];
        ASSERT_OK(sim_phone_dial(l1->phone, "307", true));
        ASSERT_ERROR(sim_phone_dial(l1->phone, "1", true), EBUSY);
        RUN_UNTIL(d.event, strlen(w->digits) == 3, 6000);
        ASSERT_STREQ(w->digits, "307");
        ASSERT_EQ(w->hook[1], GW__HOOK_STATE__HOOK_OFF);
        ASSERT_EQ(w->hook_on_msgs[1], on_before);

        /* Flash: in the middle of 80..700 ms, measured exactly. */
        ASSERT_OK(sim_phone_flash(l1->phone));
        RUN_UNTIL(d.event, w->flashes == 1, 2000);
        ASSERT_EQ(w->flash_ms, 390);
        ASSERT_EQ(w->hook[1], GW__HOOK_STATE__HOOK_OFF);

        /* Connected: the phone plays its file into the line. */
        ASSERT_FALSE(w->play_seen);
        publish_call(sigd, 1, GW__CALL_STATE__CALL_CONNECTED);
        RUN_UNTIL(d.event, w->play_seen, 2000);
        publish_call(sigd, 1, GW__CALL_STATE__CALL_RELEASING);
        gw_test_run_for(d.event, 100 * USEC_PER_MSEC);
        w->play_seen = false;
        gw_test_run_for(d.event, 200 * USEC_PER_MSEC);
        ASSERT_FALSE(w->play_seen);

        /* On hook: reported after flash_max; the recording holds what mediad sent down. */
        ASSERT_OK(sim_phone_set_hook(l1->phone, LINE_HOOK_ON));
        RUN_UNTIL(d.event, w->hook[1] == GW__HOOK_STATE__HOOK_ON, 2000);
        int16_t *rec = NULL;
        size_t n_rec = 0;
        ASSERT_OK(gw_wav_read(heard, &rec, &n_rec, NULL));
        ASSERT_TRUE(n_rec >= GW_PCM_SAMPLES * 100);
        ASSERT_EQ(n_rec % GW_PCM_SAMPLES, 0);
        for (size_t i = 0; i < n_rec; i++)
                if (rec[i] != DOWN_VALUE)
                        GW_TEST_FAIL("recorded sample %zu is %d", i, rec[i]);
        free(rec);
        unsigned up1 = w->up[1];
        gw_test_run_for(d.event, 200 * USEC_PER_MSEC);
        ASSERT_EQ(w->up[1], up1);                    /* on hook: no more audio */

        /* Ringing line 2: RINGING frames, then auto-answer 300 ms later trips it. */
        publish_control(sigd, 99, 1, -1);            /* an unknown line changes nothing */
        publish_control(sigd, 2, 1, -1);
        RUN_UNTIL(d.event, w->ringing[2], 2000);
        RUN_UNTIL(d.event, w->ringing_frames[2] >= 3, 2000);
        RUN_UNTIL(d.event, w->hook[2] == GW__HOOK_STATE__HOOK_OFF, 2000);
        ASSERT_FALSE(w->ringing[2]);
        ASSERT_EQ(w->hook[1], GW__HOOK_STATE__HOOK_ON);

        /* Polarity reversal asked by sigd, seen in LineHwState. */
        publish_control(sigd, 2, 0, GW__POLARITY__POLARITY_REVERSED);
        RUN_UNTIL(d.event, w->polarity[2] == GW__POLARITY__POLARITY_REVERSED, 2000);

        /* The far end hangs up: the auto-answering phone hangs up too (after
         * flash_max the on-hook is a hang-up); line 1, answered by hand, would not. */
        publish_call(sigd, 2, GW__CALL_STATE__CALL_CONNECTED);
        gw_test_run_for(d.event, 100 * USEC_PER_MSEC);
        ASSERT_EQ(w->hook[2], GW__HOOK_STATE__HOOK_OFF);
        /* ... even across a restart of linehwd in the call: the handset comes back off hook and
         * still knows it answered by itself (line 1, on hook, stays on hook). */
        gw_pcm_free(w->media);
        w->media = NULL;
        m = manager_free(m);
        w->hook[2] = GW__HOOK_STATE__HOOK_ON;
        w->up[1] = w->up[2] = 0;                     /* the new process counts its frames afresh */
        ASSERT_OK(manager_new(&d, &m));
        ASSERT_OK(gw_pcm_new(d.event, d.conf, GW_PCM_MEDIA, on_up, w, &w->media));
        unsigned on2 = w->hook_on_msgs[2];
        RUN_UNTIL(d.event, w->hook[2] == GW__HOOK_STATE__HOOK_OFF, 4000);
        gw_test_run_for(d.event, 100 * USEC_PER_MSEC);
        ASSERT_EQ(w->hook_on_msgs[2], on2);          /* never published on hook meanwhile (a hang-up) */
        ASSERT_EQ(w->hook[1], GW__HOOK_STATE__HOOK_ON);
        publish_call(sigd, 2, GW__CALL_STATE__CALL_RELEASING);
        RUN_UNTIL(d.event, w->hook[2] == GW__HOOK_STATE__HOOK_ON, 3000);

        /* The counters mediad would see in PcmCounters. */
        Gw__PcmCounters pc = GW__PCM_COUNTERS__INIT;
        gw_pcm_counters(m->pcm, &pc);
        ASSERT_EQ(pc.service, GW__SERVICE__SERVICE_LINEHWD);
        ASSERT_TRUE(pc.frames_tx >= w->up[1] + w->up[2]);
        ASSERT_TRUE(pc.frames_rx > 0);
        ASSERT_EQ(pc.dropped_malformed, 0);

        /* linehwd restarts while line 2, answered by auto_answer, is in a call:
         * the handset is restored off hook and still hangs up with the call. */
        publish_call(sigd, 2, GW__CALL_STATE__CALL_IDLE);
        publish_control(sigd, 2, 1, -1);
        RUN_UNTIL(d.event, w->hook[2] == GW__HOOK_STATE__HOOK_OFF, 2000);
        publish_call(sigd, 2, GW__CALL_STATE__CALL_CONNECTED);
        /* Line 1 records across the restart: what it heard before, the 200 ms
         * linehwd was down as silence, then what it hears after. */
        ASSERT_OK(sim_phone_set_hook(manager_line(m, 1)->phone, LINE_HOOK_OFF));
        RUN_UNTIL(d.event, w->hook[1] == GW__HOOK_STATE__HOOK_OFF, 2000);
        gw_test_run_for(d.event, 300 * USEC_PER_MSEC);
        m = manager_free(m);
        usleep(200 * USEC_PER_MSEC);
        ASSERT_OK(manager_new(&d, &m));
        /* Off hook from the start, before any publication (no debounce). */
        ASSERT_EQ(line_logic_hook_state(&manager_line(m, 1)->logic), LINE_HOOK_OFF);
        ASSERT_EQ(line_logic_hook_state(&manager_line(m, 2)->logic), LINE_HOOK_OFF);
        RUN_UNTIL(d.event, m->announce_round > 0, 2000);
        gw_test_run_for(d.event, 300 * USEC_PER_MSEC);
        ASSERT_OK(sim_phone_set_hook(manager_line(m, 1)->phone, LINE_HOOK_ON));
        RUN_UNTIL(d.event, w->hook[1] == GW__HOOK_STATE__HOOK_ON, 2000);
        ASSERT_OK(gw_wav_read(heard, &rec, &n_rec, NULL));
        size_t first_zero = n_rec, last_zero = 0;
        for (size_t i = 0; i < n_rec; i++)
                if (rec[i] == 0) {
                        first_zero = MIN(first_zero, i);
                        last_zero = i;
                } else if (rec[i] != DOWN_VALUE)
                        GW_TEST_FAIL("recorded sample %zu is %d", i, rec[i]);
        free(rec);
        ASSERT_TRUE(first_zero >= GW_PCM_RATE / 10);            /* >= 100 ms heard before */
        ASSERT_TRUE(last_zero - first_zero + 1 >= GW_PCM_RATE / 5);   /* >= the 200 ms down */
        ASSERT_TRUE(last_zero - first_zero + 1 < GW_PCM_RATE);
        ASSERT_TRUE(n_rec - last_zero >= GW_PCM_RATE / 10);     /* >= 100 ms heard after */
        ASSERT_TRUE(access(heard, F_OK) == 0);
        char part[300];
        snprintf(part, sizeof part, "%s.part", heard);
        ASSERT_TRUE(access(part, F_OK) < 0);                      /* the part file is gone */
        ASSERT_TRUE(sim_phone_auto_answered(manager_line(m, 2)->phone));
        ASSERT_FALSE(sim_phone_auto_answered(manager_line(m, 1)->phone));
        publish_call(sigd, 2, GW__CALL_STATE__CALL_CONNECTED);
        gw_test_run_for(d.event, 100 * USEC_PER_MSEC);
        ASSERT_EQ(w->hook[2], GW__HOOK_STATE__HOOK_OFF);
        publish_call(sigd, 2, GW__CALL_STATE__CALL_RELEASING);
        RUN_UNTIL(d.event, w->hook[2] == GW__HOOK_STATE__HOOK_ON, 3000);

        gw_pcm_free(w->media);
        gw_bus_free(sigd);
        m = manager_free(m);
        free(w);
        gw_test_rm_rf(dir);
}

DEFINE_TEST_MAIN
