/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mediad-manager.c: mediad's manager driven with real frames and MediaControls:
 * tones of the plan in the down frames, DTMF on the line detected, generations,
 * two lines talking G.711 over RTP on 127.0.0.1, RFC 4733 events both ways. */
#include <arpa/inet.h>
#include <math.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw-bus.h"
#include "gw-test.h"
#include "gw-tests.h"
#include "mediad-manager.h"

#define MAX_FRAMES 2000

typedef struct Capture {
        int16_t pcm[3][MAX_FRAMES * GW_PCM_SAMPLES];   /* per port 1..2 */
        size_t frames[3];
        char digits[3][32];
        uint32_t durations[3][32];
        unsigned n_states;
        Gw__MediaState last_state[3];
        char last_error[3][128];
        Gw__MediaQuality last_quality[3];   /* of the last state with quality */
        unsigned n_quality[3];
        Gw__MediaState ended[3];            /* the last final state (session_ended) */
        char ended_call_id[3][64];
        unsigned n_ended[3];
} Capture;

static void cap_frame(Manager *m, const GwPcmFrame *f, void *userdata) {
        Capture *c = userdata;

        ASSERT_TRUE(f->port >= 1 && f->port <= 2);
        ASSERT_EQ(f->magic, GW_PCM_MAGIC);
        if (c->frames[f->port] < MAX_FRAMES)
                memcpy(c->pcm[f->port] + c->frames[f->port]++ * GW_PCM_SAMPLES, f->samples, sizeof(f->samples));
}

static void cap_digit(Manager *m, const Gw__DigitDetected *d, void *userdata) {
        Capture *c = userdata;
        size_t n = strlen(c->digits[d->port]);

        ASSERT_TRUE(n < 31);
        c->digits[d->port][n] = d->digit[0];
        c->durations[d->port][n] = d->duration_ms;
        ASSERT_EQ(d->source, GW__DIGIT_SOURCE__DIGIT_INBAND);
}

static void cap_state(Manager *m, const Gw__MediaState *s, void *userdata) {
        Capture *c = userdata;

        c->n_states++;
        c->last_state[s->port] = *s;
        snprintf(c->last_error[s->port], sizeof(c->last_error[s->port]), "%s", strempty(s->error));
        c->last_state[s->port].error = NULL;
        c->last_state[s->port].call_id = NULL;
        c->last_state[s->port].remote = NULL;
        c->last_state[s->port].quality = NULL;
        if (s->quality) {
                c->last_quality[s->port] = *s->quality;
                c->n_quality[s->port]++;
        }
        if (s->session_ended) {
                c->ended[s->port] = c->last_state[s->port];
                snprintf(c->ended_call_id[s->port], sizeof(c->ended_call_id[s->port]), "%s", strempty(s->call_id));
                c->n_ended[s->port]++;
        }
}

typedef struct Env {
        sd_event *e;
        GwConf *conf;
        GwTonePlan *plan;
        Manager *m;
        Capture *cap;
        uint32_t seq[3];
} Env;

static void env_open(Env *env, const char *plan) {
        static const char conf[] =
                "sip: {listen: '127.0.0.1:5062'}\n"
                "profiles: [{name: p, proxy: 192.0.2.1}]\n"
                "lines: [{port: 1, number: '1'}, {port: 2, number: '2'}]\n";
        const ManagerCallbacks cb = { .send_frame = cap_frame, .digit_detected = cap_digit, .media_state = cap_state };
        _cleanup_free_ char *path = NULL, *error = NULL;

        *env = (Env) {};
        ASSERT_OK(sd_event_new(&env->e));
        if (gw_conf_load_string("t.yaml", conf, &env->conf, &error) < 0)
                GW_TEST_FAIL("%s", strna(error));
        ASSERT_TRUE(asprintf(&path, "config/tone-plans/%s.yaml", plan) > 0);
        if (gw_toneplan_load_file(path, &env->plan, &error) < 0)
                GW_TEST_FAIL("%s", strna(error));
        ASSERT_OK(manager_new(env->e, env->conf, env->plan, &env->m));
        env->cap = calloc(1, sizeof(Capture));
        ASSERT_NOT_NULL(env->cap);
        manager_set_callbacks(env->m, &cb, env->cap);
}

static void env_close(Env *env) {
        manager_free(env->m);
        gw_toneplan_free(env->plan);
        gw_conf_free(env->conf);
        sd_event_unref(env->e);
        free(env->cap);
}

static void up(Env *env, uint32_t port, const int16_t *pcm, bool offhook) {
        GwPcmFrame f = { .magic = GW_PCM_MAGIC, .version = GW_PCM_VERSION, .port = (uint16_t) port,
                         .seq = env->seq[port]++, .flags = offhook ? GW_PCM_FLAG_OFFHOOK : GW_PCM_FLAG_RINGING };

        if (pcm)
                memcpy(f.samples, pcm, sizeof(f.samples));
        manager_frame(env->m, &f);
}

static void pump(Env *env) {
        for (unsigned i = 0; i < 8; i++)
                ASSERT_OK(sd_event_run(env->e, 0));
}

static int control(Env *env, uint32_t port, uint64_t gen, Gw__Tone tone, Gw__RtpSession *rtp) {
        Gw__MediaControl mc = GW__MEDIA_CONTROL__INIT;

        mc.port = port;
        mc.has_generation = mc.has_tone = true;
        mc.generation = gen;
        mc.tone = tone;
        mc.rtp = rtp;
        return manager_media_control(env->m, &mc);
}

static double energy(const int16_t *x, size_t n) {
        double e = 0;
        for (size_t i = 0; i < n; i++)
                e += (double) x[i] * x[i];
        return e;
}

static double share(const int16_t *x, size_t n, double f) {
        double e = energy(x, n);
        return e > 0 ? 2.0 * goertzel_power(x, n, f) / (n * e) : 0;
}

/* The plan's dial tone in 1 s of down frames; ru and us differ. */
TEST(tones_ru_us) {
        Env ru, us;
        const int16_t *a, *b;

        env_open(&ru, "ru");
        env_open(&us, "us");
        ASSERT_OK(control(&ru, 1, 1, GW__TONE__TONE_DIAL, NULL));
        ASSERT_OK(control(&us, 1, 1, GW__TONE__TONE_DIAL, NULL));
        for (unsigned i = 0; i < 50; i++) {
                up(&ru, 1, NULL, true);
                up(&us, 1, NULL, true);
        }
        ASSERT_EQ(ru.cap->frames[1], 50);
        a = ru.cap->pcm[1];
        b = us.cap->pcm[1];
        ASSERT_TRUE(share(a, 8000, 425) > 0.95);
        ASSERT_TRUE(share(a, 8000, 350) + share(a, 8000, 440) < 0.02);
        ASSERT_TRUE(share(b, 8000, 350) + share(b, 8000, 440) > 0.95);
        ASSERT_TRUE(share(b, 8000, 425) < 0.02);

        /* Busy: 350 ms on, 350 off, from the change on. */
        ASSERT_OK(control(&ru, 1, 2, GW__TONE__TONE_BUSY, NULL));
        for (unsigned i = 0; i < 70; i++)
                up(&ru, 1, NULL, true);
        for (unsigned ms = 0; ms < 1400; ms += 10) {
                bool on = (ms % 700) < 350;
                double e = energy(a + 8000 + ms * 8, 80);
                if (on != (e > 0))
                        GW_TEST_FAIL("busy at %u ms: energy %g", ms, e);
        }
        /* The same tone again (level-triggered duplicate) does not restart the cadence. */
        ASSERT_OK(control(&ru, 1, 2, GW__TONE__TONE_BUSY, NULL));
        ASSERT_OK(control(&ru, 1, 3, GW__TONE__TONE_NONE, NULL));
        up(&ru, 1, NULL, true);
        ASSERT_EQ(energy(a + 120 * GW_PCM_SAMPLES, GW_PCM_SAMPLES), 0);
        {
                Gw__LineStatusReply *r = NULL;
                ASSERT_OK(manager_line_status(ru.m, 1, &r));
                ASSERT_EQ(r->n_lines, 1);
                ASSERT_EQ(r->lines[0]->n_last_tones, 2);
                ASSERT_STREQ(r->lines[0]->last_tones[0], "dial");
                ASSERT_STREQ(r->lines[0]->last_tones[1], "busy");
                ASSERT_EQ(r->lines[0]->media->tone, GW__TONE__TONE_NONE);
                manager_line_status_free(r);
                ASSERT_ERROR(manager_line_status(ru.m, 9, &r), ENOENT);
        }
        env_close(&ru);
        env_close(&us);
}

/* Digits played into the up frames with spandsp's generator are detected, each once, when it ends. */
static void dial(Env *env, uint32_t port, const char *digits, unsigned frames) {
        dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
        int16_t pcm[GW_PCM_SAMPLES];

        ASSERT_NOT_NULL(tx);
        dtmf_tx_set_timing(tx, 80, 80);
        ASSERT_EQ(dtmf_tx_put(tx, digits, -1), 0);
        for (unsigned i = 0; i < frames; i++) {
                int n = dtmf_tx(tx, pcm, GW_PCM_SAMPLES);
                if (n < GW_PCM_SAMPLES)
                        memset(pcm + n, 0, (GW_PCM_SAMPLES - (size_t) n) * sizeof(int16_t));
                up(env, port, pcm, true);
                pump(env);
        }
        dtmf_tx_free(tx);
}

TEST(dtmf_detected) {
        Env env;
        Gw__LineStatusReply *r = NULL;

        env_open(&env, "ru");
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_DIAL, NULL));
        dial(&env, 1, "123#*0D", 60);
        ASSERT_STREQ(env.cap->digits[1], "123#*0D");
        for (unsigned i = 0; i < 7; i++)
                ASSERT_TRUE(env.cap->durations[1][i] >= 40 && env.cap->durations[1][i] <= 140);
        ASSERT_OK(manager_line_status(env.m, 1, &r));
        ASSERT_STREQ(r->lines[0]->last_digits, "123#*0D");
        manager_line_status_free(r);

        /* Not off hook (ringing frames): nothing detected. detect_digits false: nothing either. */
        memset(env.cap->digits[1], 0, sizeof(env.cap->digits[1]));
        {
                dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
                int16_t pcm[GW_PCM_SAMPLES];
                dtmf_tx_put(tx, "9", -1);
                for (unsigned i = 0; i < 10; i++) {
                        int n = dtmf_tx(tx, pcm, GW_PCM_SAMPLES);
                        if (n < GW_PCM_SAMPLES)
                                memset(pcm + n, 0, (GW_PCM_SAMPLES - (size_t) n) * sizeof(int16_t));
                        up(&env, 1, pcm, false);
                }
                dtmf_tx_free(tx);
        }
        ASSERT_STREQ(env.cap->digits[1], "");
        /* A new off hook starts last_digits again. */
        dial(&env, 1, "42", 20);
        ASSERT_STREQ(env.cap->digits[1], "42");
        ASSERT_OK(manager_line_status(env.m, 1, &r));
        ASSERT_STREQ(r->lines[0]->last_digits, "42");
        manager_line_status_free(r);
        {
                Gw__MediaControl mc = GW__MEDIA_CONTROL__INIT;
                mc.port = 1;
                mc.has_generation = mc.has_detect_digits = true;
                mc.generation = 2;
                mc.detect_digits = false;
                ASSERT_OK(manager_media_control(env.m, &mc));
        }
        dial(&env, 1, "7", 20);
        ASSERT_STREQ(env.cap->digits[1], "42");
        env_close(&env);
}

/* An older generation is ignored; a restarted sigd starts again. */
TEST(generations) {
        Env env;
        Gw__RtpSession bad = GW__RTP_SESSION__INIT;

        env_open(&env, "ru");
        ASSERT_OK(control(&env, 1, 5, GW__TONE__TONE_BUSY, NULL));
        ASSERT_ERROR(control(&env, 1, 4, GW__TONE__TONE_DIAL, NULL), ESTALE);
        ASSERT_EQ(manager_line(env.m, 1)->tone, GW__TONE__TONE_BUSY);
        ASSERT_EQ(env.cap->last_state[1].generation, 5);
        ASSERT_OK(control(&env, 1, 6, GW__TONE__TONE_DIAL, NULL));
        ASSERT_EQ(manager_line(env.m, 1)->tone, GW__TONE__TONE_DIAL);
        manager_sigd_restarted(env.m);
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_CONGESTION, NULL));
        ASSERT_EQ(manager_line(env.m, 1)->tone, GW__TONE__TONE_CONGESTION);
        ASSERT_ERROR(control(&env, 7, 9, GW__TONE__TONE_DIAL, NULL), ENOENT);

        /* A bad session is refused: error published, nothing else changes. */
        bad.call_id = (char *) "c@x";
        bad.local_port = 20000;
        bad.payload_type = 3;
        ASSERT_ERROR(control(&env, 1, 2, GW__TONE__TONE_DIAL, &bad), EINVAL);
        ASSERT_EQ(manager_line(env.m, 1)->tone, GW__TONE__TONE_CONGESTION);
        ASSERT_EQ(manager_line(env.m, 1)->generation, 1);
        ASSERT_TRUE(strstr(env.cap->last_error[1], "payload_type") != NULL);
        ASSERT_EQ(env.m->controls_stale, 1);
        env_close(&env);
}

/* An even port for mediad to bind, with its odd neighbour (RTCP), reserved (see gw-test.h). */
static uint16_t rtp_port(void) {
        return gw_test_port(SOCK_DGRAM, "127.0.0.1", 2, NULL);
}

static void rtp_session_proto(Gw__RtpSession *r, const char *call_id, uint16_t local, uint16_t remote,
                              uint32_t pt, uint32_t te) {
        gw__rtp_session__init(r);
        r->call_id = UNCONST(call_id);
        r->local_port = local;
        r->local_ip = (char *) "127.0.0.1";
        r->remote_ip = (char *) "127.0.0.1";
        r->has_remote_port = r->has_payload_type = r->has_telephone_event_pt = true;
        r->remote_port = remote;
        r->payload_type = pt;
        r->telephone_event_pt = te;
}

static void sine(int16_t *x, unsigned frame, double f, double amp) {
        for (unsigned i = 0; i < GW_PCM_SAMPLES; i++)
                x[i] = (int16_t) lrint(amp * sin(2 * M_PI * f * (frame * GW_PCM_SAMPLES + i) / 8000.0));
}

/* Line 1 says 1 kHz, line 2 hears it, through RTP on 127.0.0.1; and 600 Hz the other way. */
static void talk(uint32_t pt) {
        uint16_t p1 = rtp_port(), p2 = rtp_port();
        Gw__RtpSession r1, r2;
        Env env;

        env_open(&env, "ru");
        rtp_session_proto(&r1, "call-a", p1, p2, pt, 101);
        rtp_session_proto(&r2, "call-b", p2, p1, pt, 101);
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_NONE, &r1));
        ASSERT_OK(control(&env, 2, 1, GW__TONE__TONE_RINGBACK, &r2));
        ASSERT_STREQ(env.cap->last_error[1], "");
        for (unsigned k = 0; k < 100; k++) {
                int16_t a[GW_PCM_SAMPLES], b[GW_PCM_SAMPLES];

                sine(a, k, 1000, 6000);
                sine(b, k, 600, 6000);
                up(&env, 1, a, true);
                up(&env, 2, b, true);
                pump(&env);
        }
        /* After the first frames (ringback until audio arrives, then the prefill), 1 kHz only. */
        ASSERT_TRUE(share(env.cap->pcm[2] + 20 * GW_PCM_SAMPLES, 60 * GW_PCM_SAMPLES, 1000) > 0.95);
        ASSERT_TRUE(share(env.cap->pcm[1] + 20 * GW_PCM_SAMPLES, 60 * GW_PCM_SAMPLES, 600) > 0.95);
        /* G.711 at this level keeps ~38 dB SNR: the received frame has the sent power. */
        ASSERT_TRUE(fabs(10 * log10(energy(env.cap->pcm[2] + 50 * GW_PCM_SAMPLES, GW_PCM_SAMPLES) /
                                    (GW_PCM_SAMPLES * 6000.0 * 6000 / 2))) < 0.5);
        manager_publish_all(env.m);
        /* telephone-event negotiated: RTP_DTMF_LOOKAHEAD frames are still held back. */
        ASSERT_EQ(env.cap->last_state[1].rtp_tx, 100 - RTP_DTMF_LOOKAHEAD);
        ASSERT_TRUE(env.cap->last_state[2].rtp_rx >= 98);
        ASSERT_EQ(env.cap->last_state[2].rtp_dropped, 0);
        ASSERT_EQ(env.cap->last_state[2].payload_type, pt);
        /* RTCP figures beside (no report yet: its first is ~2.5 s away). */
        ASSERT_TRUE(env.cap->n_quality[2] > 0);
        ASSERT_EQ(env.cap->last_quality[2].rx_packets, env.cap->last_state[2].rtp_rx);
        ASSERT_EQ(env.cap->last_quality[2].rx_lost, 0);
        ASSERT_EQ(env.cap->last_quality[2].rtcp_malformed + env.cap->last_quality[2].rtcp_foreign, 0);
        ASSERT_FALSE(env.cap->last_quality[2].has_rtt_us);
        ASSERT_TRUE(env.cap->last_quality[2].has_mos && fabs(env.cap->last_quality[2].mos - 4.4) < 0.05);
        ASSERT_EQ(env.cap->n_ended[2], 0);
        /* The call ends on line 2: one final state of "call-b" with its figures, then the state without it. */
        {
                uint64_t rx = env.cap->last_state[2].rtp_rx;

                ASSERT_OK(control(&env, 2, 2, GW__TONE__TONE_NONE, NULL));
                ASSERT_EQ(env.cap->n_ended[2], 1);
                ASSERT_STREQ(env.cap->ended_call_id[2], "call-b");
                ASSERT_EQ(env.cap->ended[2].rtp_rx, rx);
                ASSERT_EQ(env.cap->last_quality[2].rx_packets, rx);
                ASSERT_FALSE(env.cap->last_state[2].session_ended);
                ASSERT_FALSE(env.cap->last_state[2].has_rtp_rx);
        }
        env_close(&env);
}

TEST(rtp_pcmu) { talk(0); }
TEST(rtp_pcma) { talk(8); }

/* A far end we control: a plain UDP socket. */
static int far_socket(uint16_t *ret_port) {
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(in);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(bind(fd, (struct sockaddr *) &in, sizeof(in)));
        ASSERT_OK(getsockname(fd, (struct sockaddr *) &in, &len));
        *ret_port = ntohs(in.sin_port);
        return fd;
}

/* A digit dialled during a call: RFC 4733 packets (start with marker, updates, three ends,
 * one timestamp) and no trace of the tone in the audio sent. */
TEST(events_sent) {
        uint16_t pl = rtp_port(), pf;
        _cleanup_close_ int far = far_socket(&pf);
        uint8_t buf[RTP_MAX_PACKET];
        unsigned n_audio = 0, n_ev = 0, n_end = 0;
        uint32_t ev_ts = 0, last_dur = 0, first_audio_ts = 0;
        uint16_t last_seq = 0;
        bool have_seq = false;
        Gw__RtpSession r;
        int16_t audio[200 * GW_PCM_SAMPLES];
        Env env;
        ssize_t n;

        env_open(&env, "ru");
        rtp_session_proto(&r, "call-ev", pl, pf, 0, 101);
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_NONE, &r));
        {
                int16_t quiet[GW_PCM_SAMPLES] = {};
                for (unsigned i = 0; i < 10; i++)
                        up(&env, 1, quiet, true);
        }
        dial(&env, 1, "5", 30);
        ASSERT_STREQ(env.cap->digits[1], "5");

        while ((n = recv(far, buf, sizeof(buf), 0)) > 0) {
                RtpHeader h;

                ASSERT_OK(rtp_parse(buf, (size_t) n, &h));
                if (have_seq)
                        ASSERT_EQ(h.seq, (uint16_t) (last_seq + 1));    /* one sequence for audio and events */
                have_seq = true;
                last_seq = h.seq;
                if (h.pt == 0) {
                        ASSERT_EQ(h.payload_len, GW_PCM_SAMPLES);
                        ASSERT_TRUE(n_audio < 200);
                        if (n_audio == 0)
                                first_audio_ts = h.ts;
                        ASSERT_EQ(h.ts, first_audio_ts + n_audio * GW_PCM_SAMPLES);
                        g711_decode_frame(LAW_ULAW, h.payload, audio + n_audio * GW_PCM_SAMPLES, GW_PCM_SAMPLES);
                        n_audio++;
                        continue;
                }
                ASSERT_EQ(h.pt, 101);
                ASSERT_EQ(h.payload_len, 4);
                ASSERT_EQ(h.payload[0], 5);                      /* event "5" */
                ASSERT_EQ(h.payload[1] & 0x3f, 10);              /* volume */
                if (n_ev == 0) {
                        ASSERT_TRUE(h.marker);
                        ev_ts = h.ts;
                        /* The event starts where the (cut) tone started: within the look-ahead. */
                        ASSERT_TRUE(h.ts >= first_audio_ts + 10 * GW_PCM_SAMPLES - 2 * GW_PCM_SAMPLES);
                } else
                        ASSERT_FALSE(h.marker);
                ASSERT_EQ(h.ts, ev_ts);
                {
                        uint32_t dur = ((uint32_t) h.payload[2] << 8) | h.payload[3];
                        if (h.payload[1] & 0x80) {
                                n_end++;
                                ASSERT_TRUE(n_end == 1 ? dur >= last_dur : dur == last_dur);
                        } else {
                                ASSERT_EQ(n_end, 0);
                                ASSERT_EQ(dur, (n_ev + 1) * GW_PCM_SAMPLES);
                        }
                        last_dur = dur;
                }
                n_ev++;
        }
        ASSERT_EQ(n_end, 3);
        ASSERT_TRUE(last_dur >= 40 * 8 && last_dur <= 140 * 8);   /* about the 80 ms dialled */
        ASSERT_TRUE(n_audio >= 38);
        /* The tone is not in the audio: nothing at 770 or 1336 Hz (the digit 5), not even a bit. */
        ASSERT_EQ(energy(audio, n_audio * GW_PCM_SAMPLES), 0);
        manager_publish_all(env.m);
        ASSERT_EQ(env.cap->last_state[1].events_tx, 1);
        env_close(&env);
}

static void send_event(int fd, uint16_t to_port, uint16_t seq, uint32_t ts, uint8_t ev, bool marker, bool end,
                       uint16_t dur) {
        uint8_t p[16] = { 0x80, (uint8_t) ((marker ? 0x80 : 0) | 101), (uint8_t) (seq >> 8), (uint8_t) seq,
                          (uint8_t) (ts >> 24), (uint8_t) (ts >> 16), (uint8_t) (ts >> 8), (uint8_t) ts,
                          9, 9, 9, 9, ev, (uint8_t) ((end ? 0x80 : 0) | 10), (uint8_t) (dur >> 8), (uint8_t) dur };
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(to_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

        ASSERT_EQ(sendto(fd, p, sizeof(p), 0, (struct sockaddr *) &to, sizeof(to)), sizeof(p));
}

/* Samples from the first to the last non-zero one in frames [from, to) of port 1. */
static size_t sounding(const Env *env, size_t from, size_t to) {
        const int16_t *x = env->cap->pcm[1];
        size_t first = SIZE_MAX, last = 0;

        for (size_t i = from * GW_PCM_SAMPLES; i < to * GW_PCM_SAMPLES; i++)
                if (x[i] != 0) {
                        first = MIN(first, i);
                        last = i;
                }
        return first == SIZE_MAX ? 0 : last - first + 1;
}

/* Events from the far end are played to the line as DTMF for the duration they state
 * (and detected back from the down frames); an event whose end packets are lost stops
 * 240 ms after its last packet. */
TEST(events_received) {
        uint16_t pl = rtp_port(), pf;
        _cleanup_close_ int far = far_socket(&pf);
        dtmf_rx_state_t *rx;
        char got[16] = "";
        size_t start[3];
        unsigned seq = 1;
        Gw__RtpSession r;
        Env env;

        env_open(&env, "ru");
        rtp_session_proto(&r, "call-in", pl, pf, 8, 101);
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_NONE, &r));
        for (unsigned k = 0; k < 2; k++) {
                uint32_t ts = 1000 + k * 8000;
                uint8_t ev = k == 0 ? 7 : 11;   /* "7" (100 ms), then "#" (200 ms) */
                uint16_t dur = k == 0 ? 800 : 1600;

                for (unsigned i = 0; i < 5; i++)
                        send_event(far, pl, (uint16_t) seq++, ts, ev, i == 0, false, (uint16_t) ((i + 1) * 160));
                for (unsigned i = 0; i < 3; i++)
                        send_event(far, pl, (uint16_t) seq++, ts, ev, false, true, dur);
                pump(&env);
                start[k] = env.cap->frames[1];
                for (unsigned i = 0; i < 20; i++) {
                        up(&env, 1, NULL, true);
                        pump(&env);
                }
        }
        /* "9": start and one update, then nothing (its end packets lost). */
        send_event(far, pl, (uint16_t) seq++, 50000, 9, true, false, 160);
        send_event(far, pl, (uint16_t) seq++, 50000, 9, false, false, 320);
        pump(&env);
        start[2] = env.cap->frames[1];
        for (unsigned i = 0; i < 25; i++) {
                up(&env, 1, NULL, true);
                pump(&env);
        }
        /* (A sine starts at 0: the first sample of each is silent.) */
        ASSERT_TRUE(sounding(&env, start[0], start[1]) >= 798 && sounding(&env, start[0], start[1]) <= 800);
        ASSERT_TRUE(sounding(&env, start[1], start[2]) >= 1598 && sounding(&env, start[1], start[2]) <= 1600);
        ASSERT_TRUE(sounding(&env, start[2], env.cap->frames[1]) >= 12 * GW_PCM_SAMPLES - 2 &&
                    sounding(&env, start[2], env.cap->frames[1]) <= 12 * GW_PCM_SAMPLES);

        rx = dtmf_rx_init(NULL, NULL, NULL);
        ASSERT_NOT_NULL(rx);
        dtmf_rx(rx, env.cap->pcm[1], (int) (env.cap->frames[1] * GW_PCM_SAMPLES));
        dtmf_rx_get(rx, got, sizeof(got) - 1);
        dtmf_rx_free(rx);
        ASSERT_STREQ(got, "7#9");
        manager_publish_all(env.m);
        ASSERT_EQ(env.cap->last_state[1].events_rx, 3);
        ASSERT_EQ(env.cap->last_state[1].rtp_rx, 18);
        /* The far end's digits are not the subscriber's: no DigitDetected. */
        ASSERT_STREQ(env.cap->digits[1], "");
        env_close(&env);
}

/* A port already in use: the session's error is published, the tone still applies. */
TEST(port_in_use) {
        uint16_t pf;
        _cleanup_close_ int busy = far_socket(&pf);
        Gw__RtpSession r;
        Env env;

        env_open(&env, "ru");
        rtp_session_proto(&r, "call-x", pf, 40000, 0, 0);
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_RINGBACK, &r));
        ASSERT_TRUE(strstr(env.cap->last_error[1], "in use") != NULL);
        ASSERT_EQ(manager_line(env.m, 1)->tone, GW__TONE__TONE_RINGBACK);
        env_close(&env);
}

/* ---------------------------------------------------------------- restart */

TEST(resume_advance) {
        uint16_t seq;
        uint32_t roc;

        media_resume_advance(100, 0, 100, &seq, &roc);
        ASSERT_EQ(seq, 200);
        ASSERT_EQ(roc, 0);
        media_resume_advance(65500, 3, 100, &seq, &roc);           /* over a wrap: the ROC follows */
        ASSERT_EQ(seq, 64);
        ASSERT_EQ(roc, 4);
}

/* Line 1 sends SRTP to the test, which unprotects with its own libsrtp context (as
 * a peer would); mediad "restarts" (a new manager on the same state directory);
 * sigd's MediaControl for the same call comes again: the stream goes on with the
 * same SSRC and later indexes, and the peer takes every packet (no replay, no
 * auth failure). A session of another call does not inherit it. */
static unsigned srtp_take(int fd, MediaSrtp *peer, uint32_t *ssrc, uint16_t *last_seq, unsigned *bad) {
        uint8_t pkt[RTP_MAX_PACKET + SRTP_TRAILER_MAX];
        unsigned n = 0;
        ssize_t k;

        while ((k = recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT)) > 0) {
                size_t len = (size_t) k;

                if (media_srtp_unprotect(peer, pkt, &len) < 0) {
                        (*bad)++;
                        continue;
                }
                *ssrc = (uint32_t) pkt[8] << 24 | (uint32_t) pkt[9] << 16 | (uint32_t) pkt[10] << 8 | pkt[11];
                *last_seq = (uint16_t) (pkt[2] << 8 | pkt[3]);
                n++;
        }
        return n;
}

static void talk_frames(Env *env, uint32_t port, unsigned frames) {
        for (unsigned k = 0; k < frames; k++) {
                int16_t a[GW_PCM_SAMPLES];

                sine(a, k, 1000, 6000);
                up(env, port, a, true);
                pump(env);
        }
}

/* An SRTP session of line 1 to a far socket, with random keys, and a peer
 * context that receives with our tx key (as the far end would). */
typedef struct SrtpCall {
        uint8_t ktx[SRTP_KEY_SALT_LEN], krx[SRTP_KEY_SALT_LEN];
        Gw__Secret stx, srx;
        Gw__RtpSession r;
        MediaSrtp *peer;
} SrtpCall;

static void srtp_call_init(SrtpCall *c, const char *call_id, uint16_t port, uint16_t far_port) {
        *c = (SrtpCall) { .stx = GW__SECRET__INIT, .srx = GW__SECRET__INIT };
        ASSERT_EQ(getrandom(c->ktx, sizeof(c->ktx), 0), sizeof(c->ktx));
        ASSERT_EQ(getrandom(c->krx, sizeof(c->krx), 0), sizeof(c->krx));
        c->stx.has_value = c->srx.has_value = true;
        c->stx.value = (ProtobufCBinaryData) { sizeof(c->ktx), c->ktx };
        c->srx.value = (ProtobufCBinaryData) { sizeof(c->krx), c->krx };
        rtp_session_proto(&c->r, call_id, port, far_port, 0, 101);
        c->r.srtp_suite = (char *) "AES_CM_128_HMAC_SHA1_80";
        c->r.srtp_tx_key = &c->stx;
        c->r.srtp_rx_key = &c->srx;
        ASSERT_OK(media_srtp_new(&(MediaSrtpParams) { .suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_80,
                                                       .tx_key = c->krx, .rx_key = c->ktx, .tx_ssrc = 1 },
                                 &c->peer));
}

TEST(resume_srtp_stream_after_restart) {
        const char *dir = gw_test_tmpdir("test-mediad-resume");
        uint16_t p1 = rtp_port(), far_port, seq_before = 0, seq_after = 0;
        uint32_t ssrc_before = 0, ssrc_after = 0;
        unsigned bad = 0, got;
        int far = far_socket(&far_port);
        SrtpCall call;
        Gw__RtpSession *r = &call.r;
        MediaSrtp *peer;
        Env env;

        srtp_call_init(&call, "call-srtp", p1, far_port);
        peer = call.peer;

        env_open(&env, "ru");
        ASSERT_OK(manager_set_state_dir(env.m, dir));
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_NONE, r));
        talk_frames(&env, 1, 40);
        /* the save timer (1 s) runs while the call does */
        gw_test_run_for(env.e, 1200 * USEC_PER_MSEC);
        talk_frames(&env, 1, 40);
        got = srtp_take(far, peer, &ssrc_before, &seq_before, &bad);
        ASSERT_TRUE(got >= 70);
        ASSERT_EQ(bad, 0);
        env_close(&env);                                  /* mediad dies: the file stays */

        env_open(&env, "ru");
        ASSERT_OK(manager_set_state_dir(env.m, dir));
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_NONE, r));   /* sigd re-sends the call's MediaControl */
        ASSERT_EQ(env.m->streams_resumed, 1);
        talk_frames(&env, 1, 40);
        got = srtp_take(far, peer, &ssrc_after, &seq_after, &bad);
        ASSERT_TRUE(got >= 30);
        ASSERT_EQ(bad, 0);                                /* not one replayed or unauthenticated packet */
        ASSERT_EQ(ssrc_after, ssrc_before);
        ASSERT_TRUE((uint16_t) (seq_after - seq_before) > 40);
        ASSERT_TRUE((uint16_t) (seq_after - seq_before) < 40 + 100 + 100);
        env_close(&env);

        /* a third instance: the stream was taken once; another call on the line starts afresh */
        env_open(&env, "ru");
        ASSERT_OK(manager_set_state_dir(env.m, dir));
        r->call_id = (char *) "another-call";
        ASSERT_OK(control(&env, 1, 1, GW__TONE__TONE_NONE, r));
        ASSERT_EQ(env.m->streams_resumed, 0);
        env_close(&env);

        {
                _cleanup_free_ char *f = NULL;

                ASSERT_TRUE(asprintf(&f, "%s/%s", dir, MEDIAD_STREAMS_FILE) > 0);
                (void) unlink(f);
                ASSERT_OK(rmdir(dir));
        }
        media_srtp_free(call.peer);
        close(far);
}

/* A restarted mediad starts the saved sessions at once, before sigd says anything
 * (sigd may be down too): the SRTP stream goes on to the peer. sigd's MediaControl,
 * when it comes, confirms the session in place; its end wipes the keys from the
 * file (mode 0600 while they are in it). */
static bool file_holds(const char *path, const uint8_t *needle, size_t n) {
        _cleanup_free_ uint8_t *buf = NULL;
        FILE *f = fopen(path, "re");
        size_t len;

        if (!f)
                return false;
        buf = malloc(65536);
        len = buf ? fread(buf, 1, 65536, f) : 0;
        fclose(f);
        for (size_t i = 0; i + n <= len; i++)
                if (memcmp(buf + i, needle, n) == 0)
                        return true;
        return false;
}

TEST(restore_sessions_before_sigd) {
        const char *dir = gw_test_tmpdir("test-mediad-restore");
        _cleanup_free_ char *file = NULL;
        uint16_t p1 = rtp_port(), far_port, seq_before = 0, seq_after = 0;
        uint32_t ssrc_before = 0, ssrc_after = 0;
        unsigned bad = 0, got;
        int far = far_socket(&far_port);
        RtpSession *restored;
        struct stat st;
        SrtpCall call;
        Gw__RtpSession *r = &call.r;
        const uint8_t *ktx = call.ktx, *krx = call.krx;
        MediaSrtp *peer;
        Env env;

        ASSERT_TRUE(asprintf(&file, "%s/%s", dir, MEDIAD_STREAMS_FILE) > 0);
        srtp_call_init(&call, "call-restore", p1, far_port);
        peer = call.peer;

        env_open(&env, "ru");
        ASSERT_OK(manager_set_state_dir(env.m, dir));
        ASSERT_OK(control(&env, 1, 7, GW__TONE__TONE_NONE, r));
        talk_frames(&env, 1, 40);
        got = srtp_take(far, peer, &ssrc_before, &seq_before, &bad);
        ASSERT_TRUE(got >= 35);
        ASSERT_EQ(bad, 0);
        ASSERT_OK(stat(file, &st));
        ASSERT_EQ(st.st_mode & 0777, 0600);
        env_close(&env);                                  /* mediad dies */

        env_open(&env, "ru");
        ASSERT_OK(manager_set_state_dir(env.m, dir));
        ASSERT_EQ(manager_restore_sessions(env.m), 1);    /* no MediaControl from sigd yet */
        restored = manager_line(env.m, 1)->rtp;
        ASSERT_TRUE(restored != NULL);
        ASSERT_EQ(manager_line(env.m, 1)->generation, 7);
        ASSERT_EQ(manager_line(env.m, 2)->rtp, NULL);
        talk_frames(&env, 1, 40);
        got = srtp_take(far, peer, &ssrc_after, &seq_after, &bad);
        ASSERT_TRUE(got >= 35);
        ASSERT_EQ(bad, 0);                                /* same keys, later indexes: the peer takes all */
        ASSERT_EQ(ssrc_after, ssrc_before);
        ASSERT_TRUE((uint16_t) (seq_after - seq_before) > 40);

        ASSERT_OK(control(&env, 1, 7, GW__TONE__TONE_NONE, r));   /* sigd re-sends the same control */
        ASSERT_EQ(manager_line(env.m, 1)->rtp, restored);           /* confirmed in place */
        ASSERT_EQ(env.m->streams_resumed, 1);
        ASSERT_TRUE(file_holds(file, ktx, SRTP_KEY_SALT_LEN));

        ASSERT_OK(control(&env, 1, 8, GW__TONE__TONE_NONE, NULL));  /* the call ends */
        ASSERT_EQ(manager_line(env.m, 1)->rtp, NULL);
        ASSERT_FALSE(file_holds(file, ktx, SRTP_KEY_SALT_LEN));
        ASSERT_FALSE(file_holds(file, krx, SRTP_KEY_SALT_LEN));
        env_close(&env);

        /* nothing left to restore */
        env_open(&env, "ru");
        ASSERT_OK(manager_set_state_dir(env.m, dir));
        ASSERT_EQ(manager_restore_sessions(env.m), 0);
        env_close(&env);

        (void) unlink(file);
        ASSERT_OK(rmdir(dir));
        media_srtp_free(call.peer);
        close(far);
}

DEFINE_TEST_MAIN
