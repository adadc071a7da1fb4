/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mediad-bus.c: mediad's manager on a real bus (ipc endpoints in a temporary runtime
 * directory) against a scripted sigd and linehwd in the same process: MediaControl in,
 * MediaState and DigitDetected out, a MediaControl from anyone but sigd dropped,
 * StateSyncRequest answered, LineStatusRequest on the control socket; and real frames
 * through the data plane (GwPcm) from a line side: each answered, with the plan's tone. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gw-bus.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "mediad-bus.h"
#include "mediad-manager.h"

typedef struct FakeSigd {
        GwBus *bus;
        unsigned n_states;
        uint64_t last_generation;
        Gw__Tone last_tone;
        char digits[16];
} FakeSigd;

static int on_state(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        FakeSigd *s = userdata;

        if (env->media_state->port != 1)
                return 0;
        s->n_states++;
        s->last_generation = env->media_state->generation;
        s->last_tone = env->media_state->tone;
        return 0;
}

static int on_digit(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        FakeSigd *s = userdata;
        size_t n = strlen(s->digits);

        ASSERT_EQ(env->digit_detected->port, 1);
        if (n < sizeof(s->digits) - 1)
                s->digits[n] = env->digit_detected->digit[0];
        return 0;
}

static const GwBusHandler sigd_table[] = {
        [GW__ENVELOPE__BODY_MEDIA_STATE] = { "MediaState", on_state, GW_SERVICE_BIT(GW__SERVICE__SERVICE_MEDIAD) },
        [GW__ENVELOPE__BODY_DIGIT_DETECTED] = { "DigitDetected", on_digit, GW_SERVICE_BIT(GW__SERVICE__SERVICE_MEDIAD) },
};

static void publish_control(GwBus *b, uint64_t gen, Gw__Tone tone) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__MediaControl mc = GW__MEDIA_CONTROL__INIT;

        mc.port = 1;
        mc.has_generation = mc.has_tone = true;
        mc.generation = gen;
        mc.tone = tone;
        env.body_case = GW__ENVELOPE__BODY_MEDIA_CONTROL;
        env.media_control = &mc;
        ASSERT_OK(gw_bus_publish_auto(b, "1", &env));
}

static void count_down(const GwPcmFrame *f, void *userdata) {
        (*(unsigned *) userdata)++;
        ASSERT_EQ(f->port, 1);
}

typedef struct CallArgs {
        const GwConf *conf;
        Gw__Envelope *reply;
        int r;
} CallArgs;

static void *call_thread(void *p) {
        CallArgs *a = p;
        Gw__Envelope req = GW__ENVELOPE__INIT;
        Gw__LineStatusRequest lsr = GW__LINE_STATUS_REQUEST__INIT;

        lsr.has_port = true;
        lsr.port = 1;
        req.body_case = GW__ENVELOPE__BODY_LINE_STATUS_REQUEST;
        req.line_status_request = &lsr;
        a->r = gw_bus_ctl_call(a->conf, GW__SERVICE__SERVICE_MEDIAD, &req, 2 * USEC_PER_SEC, &a->reply);
        return NULL;
}

TEST(bus) {
        static const char conf_fmt[] =
                "sip: {listen: '127.0.0.1:5062'}\n"
                "profiles: [{name: p, proxy: 192.0.2.1}]\n"
                "lines: [{port: 1, number: '1'}]\n"
                "bus: {runtime_dir: %s}\n";
        const char *dir = gw_test_tmpdir("test-mediad-bus");
        _cleanup_free_ char *text = NULL, *error = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_conf_freep) GwConf *c = NULL;
        _cleanup_(gw_toneplan_freep) GwTonePlan *plan = NULL;
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(gw_bus_freep) GwBus *mbus = NULL, *lbus = NULL;
        FakeSigd sigd = {};
        unsigned n_down = 0;
        uint64_t end;

        ASSERT_TRUE(asprintf(&text, conf_fmt, dir) > 0);
        if (gw_conf_load_string("t.yaml", text, &c, &error) < 0)
                GW_TEST_FAIL("%s", strna(error));
        ASSERT_OK(gw_toneplan_load_file("config/tone-plans/ru.yaml", &plan, NULL));
        ASSERT_OK(sd_event_new(&e));

        ASSERT_OK(gw_bus_new(e, c, GW__SERVICE__SERVICE_SIGD, &sigd.bus));
        gw_bus_set_handlers(sigd.bus, sigd_table, ELEMENTSOF(sigd_table), &sigd);
        ASSERT_OK(gw_bus_subscribe(sigd.bus, "MediaState"));
        ASSERT_OK(gw_bus_subscribe(sigd.bus, "DigitDetected"));
        ASSERT_OK(gw_bus_new(e, c, GW__SERVICE__SERVICE_LINEHWD, &lbus));

        ASSERT_OK(gw_bus_new(e, c, GW__SERVICE__SERVICE_MEDIAD, &mbus));
        ASSERT_OK(manager_new(e, c, plan, &m));
        ASSERT_OK(mediad_bus_attach(m, mbus, count_down, &n_down, NULL));

        /* Desired state is level-triggered: re-sent until the connection is up. */
        end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
        while (sigd.last_generation != 3 && now_usec(CLOCK_MONOTONIC) < end) {
                publish_control(sigd.bus, 3, GW__TONE__TONE_DIAL);
                gw_test_run_for(e, 50 * USEC_PER_MSEC);
        }
        ASSERT_EQ(sigd.last_generation, 3);
        ASSERT_EQ(sigd.last_tone, GW__TONE__TONE_DIAL);
        ASSERT_EQ(manager_line(m, 1)->tone, GW__TONE__TONE_DIAL);

        /* Older generation: ignored. From linehwd: dropped by the handler table. */
        publish_control(sigd.bus, 2, GW__TONE__TONE_BUSY);
        publish_control(lbus, 9, GW__TONE__TONE_HOWLER);
        gw_test_run_for(e, 300 * USEC_PER_MSEC);
        ASSERT_EQ(manager_line(m, 1)->tone, GW__TONE__TONE_DIAL);
        ASSERT_EQ(manager_line(m, 1)->generation, 3);
        ASSERT_EQ(m->controls_stale, 1);

        /* StateSyncRequest: MediaState again. */
        {
                Gw__Envelope env = GW__ENVELOPE__INIT;
                Gw__StateSyncRequest sr = GW__STATE_SYNC_REQUEST__INIT;
                unsigned n0 = sigd.n_states;

                sr.requester = GW__SERVICE__SERVICE_SIGD;
                env.body_case = GW__ENVELOPE__BODY_STATE_SYNC_REQUEST;
                env.state_sync_request = &sr;
                ASSERT_OK(gw_bus_publish_auto(sigd.bus, "sigd", &env));
                gw_test_run_for(e, 300 * USEC_PER_MSEC);
                ASSERT_TRUE(sigd.n_states > n0);
        }

        /* Digits in the line's audio reach sigd as DigitDetected/1. */
        {
                dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
                GwPcmFrame f = { .magic = GW_PCM_MAGIC, .version = GW_PCM_VERSION, .port = 1,
                                 .flags = GW_PCM_FLAG_OFFHOOK };

                ASSERT_EQ(dtmf_tx_put(tx, "*5#", -1), 0);
                for (uint32_t k = 0; k < 30; k++) {
                        int n = dtmf_tx(tx, f.samples, GW_PCM_SAMPLES);
                        if (n < GW_PCM_SAMPLES)
                                memset(f.samples + n, 0, (GW_PCM_SAMPLES - (size_t) n) * sizeof(int16_t));
                        f.seq = k;
                        mediad_on_frame(NULL, &f, m);
                }
                dtmf_tx_free(tx);
                ASSERT_EQ(n_down, 30);                  /* one down frame per up frame */
                (void) GW_TEST_RUN_UNTIL(e, strlen(sigd.digits) >= 3, 3 * USEC_PER_SEC);
                ASSERT_STREQ(sigd.digits, "*5#");
        }

        /* The control socket: LineStatusRequest for line 1. */
        {
                CallArgs a = { .conf = c };
                pthread_t t;

                ASSERT_EQ(pthread_create(&t, NULL, call_thread, &a), 0);
                gw_test_run_for(e, 500 * USEC_PER_MSEC);
                ASSERT_EQ(pthread_join(t, NULL), 0);
                ASSERT_OK(a.r);
                ASSERT_EQ(a.reply->body_case, GW__ENVELOPE__BODY_LINE_STATUS_REPLY);
                ASSERT_EQ(a.reply->line_status_reply->n_lines, 1);
                ASSERT_STREQ(a.reply->line_status_reply->lines[0]->last_digits, "*5#");
                ASSERT_EQ(a.reply->line_status_reply->lines[0]->n_last_tones, 1);
                ASSERT_STREQ(a.reply->line_status_reply->lines[0]->last_tones[0], "dial");
                ASSERT_EQ(a.reply->line_status_reply->lines[0]->media->generation, 3);
                gw__envelope__free_unpacked(a.reply, NULL);
        }

        m = manager_free(m);
        mbus = gw_bus_free(mbus);
        lbus = gw_bus_free(lbus);
        sigd.bus = gw_bus_free(sigd.bus);
        gw_test_rm_rf(dir);
}

/* ---- the data plane: real frames through GwPcm from a line side in this process ---- */

typedef struct LineSide {
        unsigned n_down;
        uint32_t last_seq;
        bool seq_ok;
        int16_t heard[50 * GW_PCM_SAMPLES];
} LineSide;

static void line_on_frame(GwPcm *p, const GwPcmFrame *f, void *userdata) {
        LineSide *l = userdata;

        ASSERT_EQ(f->port, 1);
        if (l->n_down > 0 && f->seq != l->last_seq + 1)
                l->seq_ok = false;
        l->last_seq = f->seq;
        if (l->n_down < 50)
                memcpy(l->heard + l->n_down * GW_PCM_SAMPLES, f->samples, sizeof(f->samples));
        l->n_down++;
}

static void pcm_sink(const GwPcmFrame *f, void *userdata) {
        ASSERT_OK(gw_pcm_send(userdata, f));
}

TEST(data_plane) {
        static const char conf_fmt[] =
                "sip: {listen: '127.0.0.1:5062'}\n"
                "profiles: [{name: p, proxy: 192.0.2.1}]\n"
                "lines: [{port: 1, number: '1'}]\n"
                "bus: {runtime_dir: %s}\n";
        const char *dir = gw_test_tmpdir("test-mediad-pcm");
        _cleanup_free_ char *text = NULL, *error = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(gw_conf_freep) GwConf *c = NULL;
        _cleanup_(gw_toneplan_freep) GwTonePlan *plan = NULL;
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(gw_bus_freep) GwBus *mbus = NULL;
        _cleanup_(gw_pcm_freep) GwPcm *line = NULL, *media = NULL;
        Gw__MediaControl mc = GW__MEDIA_CONTROL__INIT;
        LineSide *ls = calloc(1, sizeof(LineSide));
        GwPcmFrame up = { .port = 1, .flags = GW_PCM_FLAG_OFFHOOK };
        uint64_t end;
        uint32_t first = 0;
        double e425 = 0, eall = 0;

        ASSERT_NOT_NULL(ls);
        ls->seq_ok = true;
        ASSERT_TRUE(asprintf(&text, conf_fmt, dir) > 0);
        if (gw_conf_load_string("t.yaml", text, &c, &error) < 0)
                GW_TEST_FAIL("%s", strna(error));
        ASSERT_OK(gw_toneplan_load_file("config/tone-plans/ru.yaml", &plan, NULL));
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(gw_bus_new(e, c, GW__SERVICE__SERVICE_MEDIAD, &mbus));
        ASSERT_OK(manager_new(e, c, plan, &m));
        ASSERT_OK(gw_pcm_new(e, c, GW_PCM_MEDIA, mediad_on_frame, m, &media));
        ASSERT_OK(mediad_bus_attach(m, mbus, pcm_sink, media, NULL));
        ASSERT_OK(gw_pcm_new(e, c, GW_PCM_LINE, line_on_frame, ls, &line));

        mc.port = 1;
        mc.has_generation = mc.has_tone = true;
        mc.generation = 1;
        mc.tone = GW__TONE__TONE_DIAL;
        ASSERT_OK(manager_media_control(m, &mc));

        /* Up frames every 20 ms (the line's clock) until 50 answers came back; the
         * first ones may be lost while the connections form. */
        end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
        for (uint32_t seq = 0; ls->n_down < 50 && now_usec(CLOCK_MONOTONIC) < end; seq++) {
                up.seq = seq;
                (void) gw_pcm_send(line, &up);
                gw_test_run_for(e, 20 * USEC_PER_MSEC);
        }
        ASSERT_EQ(ls->n_down >= 50, true);
        ASSERT_TRUE(ls->seq_ok);             /* one down frame per up frame, same seq, in order */
        first = ls->last_seq - (ls->n_down - 1);
        ASSERT_TRUE(first < 250);
        for (size_t i = 0; i < 50 * GW_PCM_SAMPLES; i++)
                eall += (double) ls->heard[i] * ls->heard[i];
        e425 = 2.0 * goertzel_power(ls->heard, 50 * GW_PCM_SAMPLES, 425) / (50 * GW_PCM_SAMPLES);
        ASSERT_TRUE(eall > 0 && e425 / eall > 0.95);   /* the ru dial tone is what the line hears */

        line = gw_pcm_free(line);
        media = gw_pcm_free(media);
        m = manager_free(m);
        mbus = gw_bus_free(mbus);
        free(ls);
        gw_test_rm_rf(dir);
}

DEFINE_TEST_MAIN
