/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-manager.c: per line: DTMF detection, tones, RFC 4733 playback, the RTP session. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-bus.h"
#include "gw-log.h"
#include "mediad-manager.h"
#include "mediad-udp.h"

#define DTMF_PLAY_LEVEL   (-10)     /* dBm0 of each of the two tones (no twist) */
#define DTMF_PLAY_MIN     320       /* samples (40 ms): shorter is not a valid DTMF digit */
#define DTMF_LOST_END     12        /* frames (240 ms) without a packet: the end packets were lost */

MediaLine *manager_line(Manager *m, uint32_t port) {
        return port <= m->max_port ? m->by_port[port] : NULL;
}

static void publish_state(MediaLine *l) {
        Manager *m = l->manager;
        MediaStateStorage st;
        Gw__MediaState s;

        if (!m->cb.media_state)
                return;
        media_line_state_fill(l, &st, &s);
        m->cb.media_state(m, &s, m->userdata);
}

void media_line_state_fill(MediaLine *l, MediaStateStorage *st, Gw__MediaState *s) {
        gw__media_state__init(s);
        s->port = l->port;
        s->has_generation = true;
        s->generation = l->generation;
        s->has_tone = true;
        s->tone = l->tone;
        s->error = l->error[0] ? l->error : NULL;
        st->remote[0] = 0;
        if (l->rtp) {
                const RtpCounters *c = rtp_session_counters(l->rtp);
                const PlayoutCounters *pc = rtp_session_playout_counters(l->rtp);

                s->call_id = UNCONST(rtp_session_call_id(l->rtp));
                s->has_local_port = s->has_payload_type = s->has_direction = true;
                s->local_port = rtp_session_local_port(l->rtp);
                s->payload_type = rtp_session_payload_type(l->rtp);
                s->direction = rtp_session_direction(l->rtp);
                s->has_rtp_tx = s->has_rtp_rx = s->has_rtp_dropped = true;
                s->rtp_tx = c->tx;
                s->rtp_rx = c->rx;
                s->rtp_dropped = c->foreign + c->malformed + c->bad_pt + c->srtp_auth_failed + c->srtp_replayed;
                s->has_rtp_foreign = s->has_rtp_malformed = s->has_rtp_bad_pt = true;
                s->rtp_foreign = c->foreign;
                s->rtp_malformed = c->malformed;
                s->rtp_bad_pt = c->bad_pt;
                s->has_events_tx = s->has_events_rx = true;
                s->events_tx = c->events_tx;
                s->events_rx = c->events_rx;
                s->has_playout_late = s->has_playout_lost = true;
                s->playout_late = pc->late;
                s->playout_lost = pc->lost;
                s->has_playout_concealed = s->has_playout_overflow = s->has_playout_duplicates = true;
                s->playout_concealed = pc->concealed;
                s->playout_overflow = pc->overflow;
                s->playout_duplicates = pc->duplicates;
                s->has_playout_grown = s->has_playout_shrunk = true;
                s->playout_grown = pc->grown;
                s->playout_shrunk = pc->shrunk;
                s->has_playout_delay_ms = s->has_playout_max_delay_ms = s->has_playout_target_ms = true;
                s->playout_delay_ms = pc->delay_ms;
                s->playout_max_delay_ms = pc->max_delay_ms;
                s->playout_target_ms = pc->target_ms;
                rtp_session_remote_text(l->rtp, st->remote, sizeof(st->remote));
                s->remote = st->remote;
                s->has_ssrc = s->has_seq = true;
                s->ssrc = rtp_session_ssrc(l->rtp);
                s->seq = rtp_session_next_seq(l->rtp);
                if (rtp_session_srtp_suite(l->rtp) != SRTP_SUITE_NONE) {
                        s->srtp_suite = UNCONST(srtp_suite_to_string(rtp_session_srtp_suite(l->rtp)));
                        s->has_srtp_auth_failed = s->has_srtp_replayed = true;
                        s->srtp_auth_failed = c->srtp_auth_failed;
                        s->srtp_replayed = c->srtp_replayed;
                        s->has_srtp_tx_roc = s->has_srtp_rx_roc = true;
                        s->srtp_tx_roc = rtp_session_srtp_tx_roc(l->rtp);
                        s->srtp_rx_roc = rtp_session_srtp_rx_roc(l->rtp);
                }
                if (rtp_session_rtcp(l->rtp)) {
                        media_quality_fill(l->rtp, &st->quality);
                        s->quality = &st->quality;
                }
        }
}

void media_quality_fill(const RtpSession *rtp, Gw__MediaQuality *ret) {
        const RtcpCounters *c = rtcp_counters(rtp_session_rtcp(rtp));
        Gw__MediaQuality *m = ret;
        RtcpQuality q;

        gw__media_quality__init(m);
        (void) rtp_session_quality(rtp, &q);
        m->has_rx_packets = m->has_rx_expected = m->has_rx_lost = m->has_rx_loss_permille = true;
        m->rx_packets = q.rx_packets;
        m->rx_expected = q.rx_expected;
        m->rx_lost = q.rx_lost;
        m->rx_loss_permille = q.rx_lost > 0 && q.rx_expected > 0 ? (uint32_t) (1000 * (uint64_t) q.rx_lost / q.rx_expected) : 0;
        m->has_rx_fraction_lost = m->has_rx_jitter_us = true;
        m->rx_fraction_lost = q.rx_fraction_lost;
        m->rx_jitter_us = q.rx_jitter_us;
        if (q.have_remote) {
                m->has_remote_fraction_lost = m->has_remote_lost = m->has_remote_jitter_us = true;
                m->remote_fraction_lost = q.remote_fraction_lost;
                m->remote_lost = q.remote_lost;
                m->remote_jitter_us = q.remote_jitter_us;
        }
        m->has_rtt_us = q.have_rtt;
        m->rtt_us = q.rtt_us;
        m->has_r_factor = m->has_mos = true;
        m->r_factor = q.r_factor;
        m->mos = q.mos;
        m->has_rtcp_tx = m->has_rtcp_rx = m->has_rtcp_malformed = m->has_rtcp_foreign = true;
        m->rtcp_tx = c->tx;
        m->rtcp_rx = c->rx;
        m->rtcp_malformed = c->malformed;
        m->rtcp_foreign = c->foreign;
        if (rtp_session_srtp_suite(rtp) != SRTP_SUITE_NONE) {
                m->has_srtcp_auth_failed = m->has_srtcp_replayed = true;
                m->srtcp_auth_failed = c->auth_failed;
                m->srtcp_replayed = c->replayed;
        }
}

/* The session is about to end: its last figures, for call records (MediaState.session_ended). */
static void publish_final(MediaLine *l) {
        Manager *m = l->manager;
        MediaStateStorage st;
        Gw__MediaState s;

        if (!l->rtp || !m->cb.media_state)
                return;
        media_line_state_fill(l, &st, &s);
        s.has_session_ended = true;
        s.session_ended = true;
        m->cb.media_state(m, &s, m->userdata);
}

/* ---------------------------------------------------------------- DTMF on the line */

static void digit_ended(MediaLine *l) {
        Manager *m = l->manager;
        Gw__DigitDetected d = GW__DIGIT_DETECTED__INIT;
        char digit[2] = { l->digit, 0 };
        size_t n = strlen(l->last_digits);

        if (n < MEDIAD_LAST_DIGITS) {
                l->last_digits[n] = l->digit;
                l->last_digits[n + 1] = 0;
        }
        if (l->rtp)
                rtp_session_digit_end(l->rtp);
        d.port = l->port;
        d.digit = digit;
        d.has_source = d.has_duration_ms = true;
        d.source = GW__DIGIT_SOURCE__DIGIT_INBAND;
        d.duration_ms = (uint32_t) ((l->samples - l->digit_start) / (GW_PCM_RATE / 1000));
        d.has_seq = true;
        d.seq = gw_digit_log_add(&l->digits, l->digit, d.duration_ms, now_usec(CLOCK_MONOTONIC));
        l->digit = 0;
        log_debug("Line %u: digit '%s' (%u ms).", l->port, digit, d.duration_ms);
        if (m->cb.digit_detected)
                m->cb.digit_detected(m, &d, m->userdata);
}

/* spandsp's realtime report: code is the digit at its start, 0 at its end. */
static void on_dtmf(void *userdata, int code, int level, int delay) {
        MediaLine *l = userdata;

        if (code == 0) {
                if (l->digit)
                        digit_ended(l);
                return;
        }
        if (l->digit)
                digit_ended(l);         /* a new digit without a gap */
        l->digit = (char) code;
        l->digit_start = l->samples;
        if (l->rtp)
                rtp_session_digit_begin(l->rtp, l->digit);
}

static void new_offhook(MediaLine *l) {
        l->last_digits[0] = 0;
        l->digit = 0;
        dtmf_rx_init(l->dtmf_rx, NULL, NULL);     /* re-init in place: no state from the last call */
        dtmf_rx_set_realtime_callback(l->dtmf_rx, on_dtmf, l);
}

/* A received RFC 4733 event: heard on the line as DTMF, as long as the event lasted. */
static void on_rtp_event(RtpSession *s, char digit, RtpEventPhase phase, uint32_t duration, void *userdata) {
        static const char keys[] = "123A456B789C*0#D";
        static const float rows[] = { 697, 770, 852, 941 }, cols[] = { 1209, 1336, 1477, 1633 };
        MediaLine *l = userdata;
        const char *k;

        switch (phase) {
        case RTP_EVENT_BEGIN:
                k = strchr(keys, digit);
                if (!k || !digit)
                        return;
                l->ev_spec = (GwToneSpec) {
                        .freqs_hz = { rows[(k - keys) / 4], cols[(k - keys) % 4] },
                        .n_freqs = 2,
                        .level_dbm0 = DTMF_PLAY_LEVEL,
                };
                tone_gen_start(&l->ev_gen, &l->ev_spec);
                l->ev_playing = true;
                l->ev_end_seen = false;
                l->ev_played = 0;
                l->ev_quiet = 0;
                break;
        case RTP_EVENT_UPDATE:
                l->ev_quiet = 0;
                break;
        case RTP_EVENT_END:
                l->ev_end_seen = true;
                l->ev_target = MAX(duration, DTMF_PLAY_MIN);
                l->ev_quiet = 0;
                break;
        }
}

/* Fill a down frame from the event being played; false if none plays. */
static bool event_fill(MediaLine *l, int16_t *out) {
        size_t n = GW_PCM_SAMPLES;

        if (!l->ev_playing)
                return false;
        if (l->ev_end_seen)
                n = l->ev_target > l->ev_played ? MIN(n, (size_t) (l->ev_target - l->ev_played)) : 0;
        else if (++l->ev_quiet > DTMF_LOST_END)
                n = 0;
        tone_gen_fill(&l->ev_gen, out, n);
        memset(out + n, 0, (GW_PCM_SAMPLES - n) * sizeof(*out));
        l->ev_played += (uint32_t) n;
        if (n < GW_PCM_SAMPLES)
                l->ev_playing = false;
        return n > 0;
}

/* ---------------------------------------------------------------- control */

static void set_tone(MediaLine *l, Gw__Tone tone) {
        Manager *m = l->manager;

        if (tone == l->tone)
                return;          /* level-triggered: the same tone again keeps its cadence */
        l->tone = tone;
        tone_gen_start(&l->tone_gen, tone != GW__TONE__TONE_NONE ? &m->plan->tones[tone] : NULL);
        if (tone != GW__TONE__TONE_NONE)
                l->last_tones[l->n_last_tones++ % MEDIAD_LAST_TONES] = tone;
}

static int state_timer_arm(Manager *m);
static void save_streams(Manager *m);

static void line_forget_control(MediaLine *l) {
        if (l->control) {
                explicit_bzero(l->control, l->control_len);
                free(l->control);
        }
        l->control = NULL;
        l->control_len = 0;
}

/* Keep the control in force for the session to save with it; true if it changed. */
static bool line_keep_control(MediaLine *l, const Gw__MediaControl *mc) {
        size_t len;
        uint8_t *buf;

        if (!l->rtp || !mc) {
                bool had = l->control;
                line_forget_control(l);
                return had;
        }
        len = gw__media_control__get_packed_size(mc);
        buf = malloc(len ?: 1);
        if (!buf) {
                line_forget_control(l);         /* not saved: sigd's next MediaControl restores it */
                return true;
        }
        gw__media_control__pack(mc, buf);
        if (l->control && l->control_len == len && memcmp(l->control, buf, len) == 0) {
                explicit_bzero(buf, len);
                free(buf);
                return false;
        }
        line_forget_control(l);
        l->control = buf;
        l->control_len = len;
        return true;
}

int manager_media_control(Manager *m, const Gw__MediaControl *mc) {
        MediaLine *l = manager_line(m, mc->port);
        const char *why = NULL;
        bool sessions_changed = false;          /* a session started or ended: save the streams */
        RtpParams p;
        int r;

        if (!l) {
                m->controls_bad++;
                return -ENOENT;
        }
        if (l->have_control && mc->has_generation && mc->generation < l->generation) {
                m->controls_stale++;
                log_debug("Line %u: MediaControl generation %" PRIu64 " < %" PRIu64 ", ignoring.",
                          l->port, mc->generation, l->generation);
                return -ESTALE;
        }
        if (mc->has_tone && (mc->tone < GW__TONE__TONE_NONE || mc->tone > GW_TONE_LAST))
                why = "unknown tone";
        else if (mc->rtp && rtp_params_from_proto(mc->rtp, &m->conf->sip_listen_addr, &p, &why) >= 0)
                why = NULL;
        if (why) {
                m->controls_bad++;
                snprintf(l->error, sizeof(l->error), "refused MediaControl: %s", why);
                log_warning("Line %u: MediaControl generation %" PRIu64 " refused: %s, ignoring.",
                            l->port, mc->generation, why);
                publish_state(l);
                return -EINVAL;
        }

        l->have_control = true;
        l->generation = mc->generation;
        l->detect_digits = mc->has_detect_digits ? mc->detect_digits : true;
        l->error[0] = 0;

        if (mc->rtp) {
                if (l->rtp && rtp_session_same_socket(l->rtp, &p)) {
                        r = rtp_session_update(l->rtp, &p);
                        if (r < 0) {
                                /* Only SRTP set-up can fail here (memory): no half-keyed session. */
                                snprintf(l->error, sizeof(l->error), "SRTP: %s", strerror(-r));
                                log_warning_errno(r, "Line %u: failed to set up SRTP, RTP session %s ended: %m",
                                                  l->port, rtp_session_call_id(l->rtp));
                                publish_final(l);
                                l->rtp = rtp_session_free(l->rtp);
                                sessions_changed = true;
                        }
                } else {
                        uint32_t skip = 0;
                        bool resumed;

                        publish_final(l);
                        l->rtp = rtp_session_free(l->rtp);
                        sessions_changed = true;
                        resumed = media_resume_apply(m->resume, l->port, &p, &skip);
                        p.keep = m->keep;
                        r = rtp_session_new(m->event, &p, on_rtp_event, l, &l->rtp);
                        if (r < 0) {
                                snprintf(l->error, sizeof(l->error), "port %u: %s", mc->rtp->local_port,
                                         r == -EADDRINUSE ? "in use" : strerror(-r));
                                log_warning_errno(r, "Line %u: failed to open RTP port %u: %m", l->port,
                                                  mc->rtp->local_port);
                        } else {
                                log_debug("Line %u: RTP session %s on port %u.", l->port, mc->rtp->call_id,
                                          mc->rtp->local_port);
                                if (resumed) {
                                        m->streams_resumed++;
                                        log_info("Line %u: RTP session %s resumes its stream of before the restart "
                                                 "(SSRC %08x, %u sequence numbers on).", l->port, mc->rtp->call_id,
                                                 p.ssrc, skip);
                                }
                                if (!rtp_session_rtcp(l->rtp))
                                        log_warning_errno(rtp_session_rtcp_error(l->rtp),
                                                          "Line %u: failed to open RTCP port %u, call without RTCP: %m",
                                                          l->port, mc->rtp->local_port + 1);
                        }
                }
        } else if (l->rtp) {
                log_debug("Line %u: RTP session %s ended.", l->port, rtp_session_call_id(l->rtp));
                publish_final(l);
                l->rtp = rtp_session_free(l->rtp);
                sessions_changed = true;
        }
        if (line_keep_control(l, mc))
                sessions_changed = true;
        set_tone(l, mc->has_tone ? mc->tone : GW__TONE__TONE_NONE);
        publish_state(l);
        if (sessions_changed && !m->restoring)
                save_streams(m);
        return state_timer_arm(m);
}

void manager_replay_digits(Manager *m) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (!m->cb.digit_detected)
                return;
        for (size_t i = 0; i < m->n_lines; i++) {
                MediaLine *l = &m->lines[i];
                GwDigitLogEntry e[GW_DIGIT_LOG_KEEP];
                size_t n = gw_digit_log_recent(&l->digits, now, e);

                for (size_t k = 0; k < n; k++) {
                        Gw__DigitDetected d = GW__DIGIT_DETECTED__INIT;
                        char digit[2] = { e[k].digit, 0 };

                        d.port = l->port;
                        d.digit = digit;
                        d.has_source = d.has_duration_ms = d.has_seq = d.has_replay = true;
                        d.source = GW__DIGIT_SOURCE__DIGIT_INBAND;
                        d.duration_ms = e[k].duration_ms;
                        d.seq = e[k].seq;
                        d.replay = true;
                        m->cb.digit_detected(m, &d, m->userdata);
                }
        }
}

void manager_sigd_restarted(Manager *m) {
        for (size_t i = 0; i < m->n_lines; i++)
                m->lines[i].have_control = false;   /* its generations start again */
}

void manager_hook(Manager *m, uint32_t port, bool offhook) {
        MediaLine *l = manager_line(m, port);

        if (!l)
                return;
        if (offhook && !l->offhook)
                new_offhook(l);
        l->offhook = offhook;
}

/* ---------------------------------------------------------------- frames */

void manager_frame(Manager *m, const GwPcmFrame *up) {
        MediaLine *l = manager_line(m, up->port);
        bool offhook = up->flags & GW_PCM_FLAG_OFFHOOK;
        int16_t rtp_pcm[GW_PCM_SAMPLES];
        GwPcmFrame down;
        bool have_rtp = false, any = false;

        if (!l) {
                m->frames_unknown_port++;
                return;
        }
        l->frames_up++;
        /* Frames stop while on hook: a long gap or a frame that was not off hook before means a new off-hook. */
        if (offhook && (!l->offhook || (l->have_seq && up->seq - l->last_seq > MEDIAD_ONHOOK_GAP)))
                new_offhook(l);
        l->offhook = offhook;
        l->have_seq = true;
        l->last_seq = up->seq;

        if (offhook && l->detect_digits)
                dtmf_rx(l->dtmf_rx, up->samples, GW_PCM_SAMPLES);   /* may call on_dtmf */
        else if (l->digit)
                digit_ended(l);
        l->samples += GW_PCM_SAMPLES;
        if (l->rtp)
                rtp_session_send_frame(l->rtp, up->samples);

        down = (GwPcmFrame) {
                .magic = GW_PCM_MAGIC,
                .version = GW_PCM_VERSION,
                .port = up->port,
                .seq = up->seq,
                .mono_us = up->mono_us,
        };
        if (l->rtp)
                have_rtp = rtp_session_playout(l->rtp, rtp_pcm) && rtp_session_receiving(l->rtp);
        if (event_fill(l, down.samples))
                any = true;
        else if (have_rtp) {
                memcpy(down.samples, rtp_pcm, sizeof(rtp_pcm));
                any = true;
        } else if (l->rtp && rtp_session_receiving(l->rtp)) {
                memset(down.samples, 0, sizeof(down.samples));   /* RTP plays, nothing arrived yet */
        } else
                any = tone_gen_fill(&l->tone_gen, down.samples, GW_PCM_SAMPLES);
        if (!any)
                down.flags |= GW_PCM_FLAG_SILENT;
        l->frames_down++;
        if (m->cb.send_frame)
                m->cb.send_frame(m, &down, m->userdata);
}

/* ---------------------------------------------------------------- state */

void manager_publish_all(Manager *m) {
        for (size_t i = 0; i < m->n_lines; i++)
                publish_state(&m->lines[i]);
}

static int on_state_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        bool any = false;

        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].rtp) {
                        publish_state(&m->lines[i]);
                        any = true;
                }
        if (!any)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        (void) sd_event_source_set_time_relative(s, MEDIAD_STATE_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int state_timer_arm(Manager *m) {
        int enabled = SD_EVENT_OFF;
        int r;

        if (!m->state_timer)
                return sd_event_add_time_relative(m->event, &m->state_timer, CLOCK_MONOTONIC, MEDIAD_STATE_USEC,
                                                  0, on_state_timer, m);
        r = sd_event_source_get_enabled(m->state_timer, &enabled);
        if (r < 0 || enabled != SD_EVENT_OFF)
                return r < 0 ? r : 0;
        r = sd_event_source_set_time_relative(m->state_timer, MEDIAD_STATE_USEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(m->state_timer, SD_EVENT_ONESHOT);
}

typedef struct StatusBox {
        Gw__LineStatusEntry entry;
        Gw__MediaState media;
        MediaStateStorage storage;
        char *tones[MEDIAD_LAST_TONES];
        char digits[MEDIAD_LAST_DIGITS + 1];
} StatusBox;

int manager_line_status(Manager *m, uint32_t port, Gw__LineStatusReply **ret) {
        Gw__LineStatusReply *r;
        size_t n = 0;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        gw__line_status_reply__init(r);
        r->lines = calloc(m->n_lines ?: 1, sizeof(*r->lines));
        if (!r->lines) {
                free(r);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_lines; i++) {
                MediaLine *l = &m->lines[i];
                unsigned k, first;
                StatusBox *b;

                if (port != 0 && l->port != port)
                        continue;
                b = calloc(1, sizeof(*b));
                if (!b) {
                        r->n_lines = n;
                        manager_line_status_free(r);
                        return -ENOMEM;
                }
                gw__line_status_entry__init(&b->entry);
                b->entry.port = l->port;
                media_line_state_fill(l, &b->storage, &b->media);
                b->entry.media = &b->media;
                /* The ring holds the last MEDIAD_LAST_TONES: oldest first. */
                k = MIN(l->n_last_tones, MEDIAD_LAST_TONES);
                first = l->n_last_tones - k;
                for (unsigned j = 0; j < k; j++)
                        b->tones[j] = UNCONST(gw_tone_to_string(l->last_tones[(first + j) % MEDIAD_LAST_TONES]));
                b->entry.n_last_tones = k;
                b->entry.last_tones = b->tones;
                memcpy(b->digits, l->last_digits, sizeof(b->digits));
                b->entry.last_digits = b->digits;
                r->lines[n++] = &b->entry;      /* first member: freed as the box */
        }
        r->n_lines = n;
        if (port != 0 && n == 0) {
                manager_line_status_free(r);
                return -ENOENT;
        }
        *ret = r;
        return 0;
}

void manager_line_status_free(Gw__LineStatusReply *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_lines; i++)
                free(r->lines[i]);
        free(r->lines);
        free(r);
}

/* ---------------------------------------------------------------- restart */

static int on_save_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        save_streams(userdata);
        return 0;
}

/* Now, and every second while sessions run (their sequence numbers move on). */
static void save_streams(Manager *m) {
        MediaResumeEntry e[m->n_lines ?: 1];
        size_t n = 0;
        int r;

        if (!m->state_dir)
                return;
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].rtp)
                        e[n++] = (MediaResumeEntry) { .port = m->lines[i].port, .rtp = m->lines[i].rtp,
                                                      .control = m->lines[i].control,
                                                      .control_len = m->lines[i].control_len };
        r = media_resume_save(m->state_dir, e, n);
        if (r < 0)
                log_warning_errno(r, "Failed to save the RTP streams to %s: %m", m->state_dir);
        if (!m->save_timer) {
                r = sd_event_add_time_relative(m->event, &m->save_timer, CLOCK_MONOTONIC, MEDIAD_RESUME_SAVE_USEC,
                                               0, on_save_timer, m);
                if (r < 0) {
                        log_warning_errno(r, "Failed to arm the stream save timer: %m");
                        return;
                }
        } else
                (void) sd_event_source_set_time_relative(m->save_timer, MEDIAD_RESUME_SAVE_USEC);
        (void) sd_event_source_set_enabled(m->save_timer, n > 0 ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
}

int manager_set_state_dir(Manager *m, const char *dir) {
        char *d = strdup(dir);

        if (!d)
                return -ENOMEM;
        free(m->state_dir);
        m->state_dir = d;
        m->resume = media_resume_free(m->resume);
        return media_resume_load(dir, &m->resume);
}

size_t manager_restore_sessions(Manager *m) {
        size_t n = 0;

        m->restoring = true;
        for (size_t i = 0; i < media_resume_count(m->resume); i++) {
                Gw__MediaControl *mc;
                const uint8_t *data;
                size_t len;

                if (!media_resume_control(m->resume, i, &data, &len))
                        continue;
                mc = gw__media_control__unpack(NULL, len, data);
                if (!mc) {
                        log_warning("A saved MediaControl does not unpack, its session waits for sigd.");
                        continue;
                }
                if (mc->rtp && manager_media_control(m, mc) >= 0 && manager_line(m, mc->port) &&
                    manager_line(m, mc->port)->rtp)
                        n++;
                if (mc->rtp && mc->rtp->srtp_tx_key && mc->rtp->srtp_tx_key->value.data)
                        explicit_bzero(mc->rtp->srtp_tx_key->value.data, mc->rtp->srtp_tx_key->value.len);
                if (mc->rtp && mc->rtp->srtp_rx_key && mc->rtp->srtp_rx_key->value.data)
                        explicit_bzero(mc->rtp->srtp_rx_key->value.data, mc->rtp->srtp_rx_key->value.len);
                gw__media_control__free_unpacked(mc, NULL);
        }
        m->restoring = false;
        if (n > 0)
                log_info("%zu RTP session(s) started again as saved; sigd's MediaControls confirm them.", n);
        save_streams(m);        /* the saved file's keys of calls that did not come back are wiped */
        return n;
}

static int on_keep_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        size_t n = media_udp_keep_drop_unclaimed(m->keep);

        if (n > 0)
                log_info("Closed %zu RTP/RTCP socket(s) kept for sessions that did not come back.", n);
        return 0;
}

int manager_keep_sockets(Manager *m, GwFdSet *inherited) {
        size_t n = gw_fdset_size(inherited);
        int r;

        m->keep = media_udp_keep_free(m->keep);
        r = media_udp_keep_new(inherited, &m->keep);
        if (r < 0)
                return r;
        if (n == 0)
                return 0;
        log_info("%zu RTP/RTCP socket(s) kept while mediad was down are waiting for their sessions.", n);
        m->keep_timer = sd_event_source_disable_unref(m->keep_timer);
        return sd_event_add_time_relative(m->event, &m->keep_timer, CLOCK_MONOTONIC, MEDIAD_KEEP_UNCLAIMED_USEC,
                                          USEC_PER_SEC, on_keep_timer, m);
}

/* ---------------------------------------------------------------- life cycle */

int manager_new(sd_event *e, const GwConf *c, const GwTonePlan *plan, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;

        assert(e);
        assert(c);
        assert(plan);

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->conf = c;
        m->plan = plan;
        m->lines = calloc(c->n_lines ?: 1, sizeof(*m->lines));
        if (!m->lines)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_lines; i++) {
                MediaLine *l = &m->lines[m->n_lines];

                l->manager = m;
                l->port = c->lines[i].port;
                l->detect_digits = true;
                l->dtmf_rx = dtmf_rx_init(NULL, NULL, NULL);
                m->n_lines++;
                if (!l->dtmf_rx)
                        return -ENOMEM;
                dtmf_rx_set_realtime_callback(l->dtmf_rx, on_dtmf, l);
                m->max_port = MAX(m->max_port, l->port);
        }
        m->by_port = calloc(m->max_port + 1, sizeof(*m->by_port));
        if (!m->by_port)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_lines; i++)
                m->by_port[m->lines[i].port] = &m->lines[i];
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Exiting (or a test's end): the sockets closed below stay in the fd
         * store, for the next instance. */
        media_udp_keep_stop(m->keep);
        sd_event_source_disable_unref(m->keep_timer);
        for (size_t i = 0; i < m->n_lines; i++) {
                MediaLine *l = &m->lines[i];

                rtp_session_free(l->rtp);
                line_forget_control(l);
                if (l->dtmf_rx)
                        dtmf_rx_free(l->dtmf_rx);
        }
        free(m->lines);
        free(m->by_port);
        sd_event_source_disable_unref(m->state_timer);
        sd_event_source_disable_unref(m->save_timer);
        media_resume_free(m->resume);
        media_udp_keep_free(m->keep);
        free(m->state_dir);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

void manager_set_callbacks(Manager *m, const ManagerCallbacks *cb, void *userdata) {
        m->cb = *cb;
        m->userdata = userdata;
}
