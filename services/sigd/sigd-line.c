/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-line.c: the subscriber's side of each line (see sigd-line.h and docs/CALLS.md).
 *
 * A Line is the subscriber's side: hook, digits, what the line should hear
 * (MediaControl.tone) and do (LineControl.ring, polarity), and its call state
 * (LineCall). Off hook gives dial tone; digits are matched against the
 * profile's dial plan; a complete number places a call (sigd-call.c). The
 * calls report back through line_call_ops: a call never calls a line. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-bus.h"
#include "gw-log.h"
#include "gw-toneplan.h"
#include "sigd-call.h"
#include "sigd-line.h"
#include "sigd-manager.h"
#include "sigd-transaction.h"

static void line_release(Line *l, Gw__Tone tone);
static int on_line_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void line_call_end(Call *c, const char *cause, uint32_t status) {
        call_publish_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_END, cause, status);
}

/* ---------------------------------------------------------------- publishing */

static void line_port_key(const Line *l, char *buf, size_t n) {
        snprintf(buf, n, "%u", l->conf->port);
}

static void line_publish_control(Line *l) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineControl lc = GW__LINE_CONTROL__INIT;
        char key[16];

        lc.port = l->conf->port;
        lc.has_ring = true;
        lc.ring = l->ring;
        lc.has_polarity = true;
        lc.polarity = l->reversed ? GW__POLARITY__POLARITY_REVERSED : GW__POLARITY__POLARITY_NORMAL;
        if (l->ring && l->call && l->call->remote_number)
                lc.caller_number = l->call->remote_number;
        env.body_case = GW__ENVELOPE__BODY_LINE_CONTROL;
        env.line_control = &lc;
        line_port_key(l, key, sizeof key);
        call_publish(l->manager, key, &env);
}

static Gw__MediaDirection line_media_direction(SdpDirection d) {
        switch (d) {
        case SDP_SENDONLY: return GW__MEDIA_DIRECTION__DIRECTION_SENDONLY;
        case SDP_RECVONLY: return GW__MEDIA_DIRECTION__DIRECTION_RECVONLY;
        case SDP_INACTIVE: return GW__MEDIA_DIRECTION__DIRECTION_INACTIVE;
        default: return GW__MEDIA_DIRECTION__DIRECTION_SENDRECV;
        }
}

static void line_publish_media(Line *l, bool bump) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__MediaControl mc = GW__MEDIA_CONTROL__INIT;
        Gw__RtpSession rtp = GW__RTP_SESSION__INIT;
        Call *c = l->call;
        Gw__Secret tx_key = GW__SECRET__INIT, rx_key = GW__SECRET__INIT;
        char key[16];

        if (bump)
                l->generation++;
        mc.port = l->conf->port;
        mc.has_generation = true;
        mc.generation = l->generation;
        mc.has_tone = true;
        mc.tone = l->tone;
        mc.has_detect_digits = true;
        mc.detect_digits = true;
        if (c && c->have_media && l->off_hook &&
            (l->state == GW__CALL_STATE__CALL_CONNECTED || l->state == GW__CALL_STATE__CALL_RINGBACK)) {
                rtp.call_id = c->dialog.call_id;
                rtp.local_port = c->local_port;
                rtp.remote_ip = c->media.remote_addr;
                rtp.has_remote_port = true;
                rtp.remote_port = c->media.remote_port;
                rtp.has_payload_type = true;
                rtp.payload_type = (uint32_t) c->media.pt;
                rtp.has_telephone_event_pt = true;
                rtp.telephone_event_pt = c->media.telephone_event_pt >= 0 ? (uint32_t) c->media.telephone_event_pt : 0;
                rtp.has_direction = true;
                rtp.direction = line_media_direction(c->media.direction);
                rtp.has_ptime_ms = true;
                rtp.ptime_ms = SDP_PTIME_MS;
                if (c->media.local.suite != SDP_SRTP_NONE) {
                        /* Pointers into the call: packed by the bus (which wipes its buffer), never copied. */
                        rtp.srtp_suite = UNCONST(sdp_srtp_suite_to_string(c->media.local.suite));
                        tx_key.has_value = rx_key.has_value = true;
                        tx_key.value = (ProtobufCBinaryData) { SDP_KEY_SALT_LEN, c->media.local.key };
                        rx_key.value = (ProtobufCBinaryData) { SDP_KEY_SALT_LEN, c->media.remote_key };
                        rtp.srtp_tx_key = &tx_key;
                        rtp.srtp_rx_key = &rx_key;
                }
                mc.rtp = &rtp;
        }
        env.body_case = GW__ENVELOPE__BODY_MEDIA_CONTROL;
        env.media_control = &mc;
        line_port_key(l, key, sizeof key);
        call_publish(l->manager, key, &env);
}

int line_call_info(Manager *m, unsigned port, Gw__LineCall *lc) {
        for (size_t i = 0; i < m->n_lines; i++) {
                Line *l = &m->lines[i];
                if (l->conf->port != port)
                        continue;
                lc->port = port;
                lc->state = l->state;
                if (l->call) {
                        lc->has_direction = true;
                        lc->direction = l->call->outgoing ? GW__CALL_DIRECTION__CALL_OUTGOING
                                                          : GW__CALL_DIRECTION__CALL_INCOMING;
                        lc->remote = l->call->remote_number;
                        lc->call_id = l->call->dialog.call_id;
                        if (l->call->outgoing && l->call->entry < l->call->n_entries)
                                lc->proxy = l->call->entries[l->call->entry].proxy->text;
                }
                if (l->digits[0])
                        lc->digits = l->digits;
                return 0;
        }
        return -ENOENT;
}

static void line_publish_call(Line *l) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__LineCall lc = GW__LINE_CALL__INIT;
        char key[16];

        (void) line_call_info(l->manager, l->conf->port, &lc);
        env.body_case = GW__ENVELOPE__BODY_LINE_CALL;
        env.line_call = &lc;
        line_port_key(l, key, sizeof key);
        call_publish(l->manager, key, &env);
}

void line_publish_all(Manager *m) {
        for (size_t i = 0; i < m->n_lines; i++) {
                line_publish_control(&m->lines[i]);
                line_publish_media(&m->lines[i], false);
                line_publish_call(&m->lines[i]);
        }
}

/* ---------------------------------------------------------------- line outputs and timers */

static void line_set_state(Line *l, Gw__CallState s) {
        if (l->state == s)
                return;
        l->state = s;
        line_publish_call(l);
}

static void line_set_tone(Line *l, Gw__Tone t) {
        l->tone = t;
        line_publish_media(l, true);
}

static void line_set_ring(Line *l, bool ring) {
        if (l->ring == ring)
                return;
        l->ring = ring;
        line_publish_control(l);
}

static void line_set_reversed(Line *l, bool reversed) {
        if (l->reversed == reversed)
                return;
        l->reversed = reversed;
        line_publish_control(l);
}

static void line_timer_stop(Line *l) {
        l->timer_kind = LINE_TIMER_NONE;
        if (l->timer)
                (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
}

static void line_timer_start(Line *l, LineTimer kind, uint64_t after_usec) {
        int r;

        l->timer_kind = kind;
        if (kind == LINE_TIMER_NO_ANSWER)
                l->no_answer_at_real_us = now_usec(CLOCK_REALTIME) + after_usec;
        if (!l->timer) {
                r = sd_event_add_time_relative(l->manager->event, &l->timer, CLOCK_MONOTONIC, after_usec,
                                               10 * USEC_PER_MSEC, on_line_timer, l);
                if (r < 0)
                        log_warning_errno(r, "Line %u: failed to add a timer, ignoring: %m", l->conf->port);
                return;
        }
        (void) sd_event_source_set_time_relative(l->timer, after_usec);
        (void) sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
}

static void line_connected(Line *l) {
        line_timer_stop(l);
        l->tone = GW__TONE__TONE_NONE;
        line_set_state(l, GW__CALL_STATE__CALL_CONNECTED);
        line_publish_media(l, true);
}

/* ---------------------------------------------------------------- what the calls tell the line */

static Line *line_by_number(Manager *m, const char *user) {
        if (!user)
                return NULL;
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].profile && streq(m->lines[i].conf->number, user))
                        return &m->lines[i];
        return NULL;
}

static Line *line_on_find(Manager *m, const char *user, const GwLineConf **ret_conf, const GwProfileConf **ret_profile) {
        Line *l = line_by_number(m, user);

        if (l) {
                *ret_conf = l->conf;
                *ret_profile = l->profile;
        }
        return l;
}

static bool line_on_busy(Line *l) {
        return l->off_hook || l->call || l->state != GW__CALL_STATE__CALL_IDLE;
}

static bool rtp_port_in_use(Manager *m, uint16_t port) {
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].call && m->lines[i].call->local_port == port)
                        return true;
        return false;
}

/* A line's calls alternate between the two RTP port pairs of its index. A call
 * in progress keeps its pair when a reload moves its line to another index:
 * the line now at the old index takes its other pair. */
static uint16_t line_on_attach(Line *l, Call *c) {
        Manager *m = l->manager;
        uint16_t port;

        l->call_seq++;
        port = gw_conf_rtp_port(m->conf, l->index, l->call_seq);
        if (rtp_port_in_use(m, port)) {
                l->call_seq++;
                port = gw_conf_rtp_port(m->conf, l->index, l->call_seq);
        }
        l->call = c;
        return port;
}

static void line_on_detach(Line *l, Call *c) {
        if (l->call == c)
                l->call = NULL;
}

static void line_on_ringing(Line *l) {
        line_set_state(l, GW__CALL_STATE__CALL_RINGING);
        line_set_ring(l, true);
        line_timer_start(l, LINE_TIMER_NO_ANSWER, l->profile->no_answer_timeout_us);
}

static void line_on_ringback(Line *l, Call *c, bool early_media) {
        if (early_media) {
                /* early media (183 or 180 with SDP): hear the far end */
                l->tone = GW__TONE__TONE_NONE;
                line_set_state(l, GW__CALL_STATE__CALL_RINGBACK);
                line_publish_media(l, true);
        } else if (l->state != GW__CALL_STATE__CALL_RINGBACK || !c->have_media) {
                line_set_state(l, GW__CALL_STATE__CALL_RINGBACK);
                if (!c->have_media)
                        line_set_tone(l, GW__TONE__TONE_RINGBACK);
        }
}

static void line_on_answered(Line *l, bool reversed) {
        line_set_ring(l, false);
        if (reversed)
                line_set_reversed(l, true);
        line_connected(l);
}

static void line_on_media_changed(Line *l) {
        line_publish_media(l, true);
}

static void line_on_cancelled(Line *l) {
        line_set_ring(l, false);
        line_timer_stop(l);
        line_set_state(l, GW__CALL_STATE__CALL_IDLE);
        l->call = NULL;
}

static const CallLineOps line_call_ops = {
        .find = line_on_find,
        .busy = line_on_busy,
        .attach = line_on_attach,
        .detach = line_on_detach,
        .ringing = line_on_ringing,
        .ringback = line_on_ringback,
        .answered = line_on_answered,
        .media_changed = line_on_media_changed,
        .released = line_release,
        .cancelled = line_on_cancelled,
};

/* ---------------------------------------------------------------- line inputs */

static Line *line_by_port(Manager *m, unsigned port) {
        for (size_t i = 0; i < m->n_lines; i++)
                if (m->lines[i].conf->port == port)
                        return &m->lines[i];
        return NULL;
}

/* The call is over for the subscriber: busy/congestion until on hook, or idle if on hook. */
static void line_release(Line *l, Gw__Tone tone) {
        if (!l)
                return;
        if (l->call) {
                call_forget_line(l->call);
                l->call = NULL;
        }
        line_set_ring(l, false);
        line_set_reversed(l, false);
        l->digits[0] = 0;
        if (!l->off_hook) {
                line_timer_stop(l);
                l->tone = GW__TONE__TONE_NONE;
                line_set_state(l, GW__CALL_STATE__CALL_IDLE);
                line_publish_media(l, true);
                return;
        }
        l->tone = tone;
        line_set_state(l, GW__CALL_STATE__CALL_RELEASING);
        line_publish_media(l, true);
        line_timer_start(l, LINE_TIMER_HOWLER, SIGD_HOWLER_AFTER_USEC);
}

/* Dialling is complete: INVITE sip:<digits>@<domain>. */
static void line_place_call(Line *l) {
        Manager *m = l->manager;
        const GwProfileConf *p = l->profile;
        Call *c = NULL;
        int r;

        line_timer_stop(l);
        if (call_profile_refuses(m, l->conf, p, l->digits)) {
                log_info("Line %u: no entry of profile %s answers, refusing the call to %s.", l->conf->port,
                         p->name, l->digits);
                line_release(l, GW__TONE__TONE_CONGESTION);
                return;
        }
        r = call_new_outgoing(m, l, l->conf, p, l->digits, &c);
        if (r < 0) {
                line_release(l, GW__TONE__TONE_CONGESTION);
                return;
        }
        line_set_tone(l, GW__TONE__TONE_NONE);
        line_set_state(l, GW__CALL_STATE__CALL_PROCEEDING);
        call_publish_event(c, GW__CALL_EVENT_KIND__CALL_EVENT_START, NULL, 0);
        line_timer_start(l, LINE_TIMER_NO_ANSWER, p->no_answer_timeout_us);
        if (call_dial(c) < 0)
                line_release(l, GW__TONE__TONE_CONGESTION);
}

static void line_check_digits(Line *l, bool timed_out) {
        GwDigitMapResult r = gw_digitmap_match(l->digitmap, l->digits);

        log_debug("Line %u: '%s' against the dial plan: %s%s.", l->conf->port, l->digits,
                  gw_digitmap_result_to_string(r), timed_out ? " (timeout)" : "");
        if (r == GW_DIGITMAP_COMPLETE || (timed_out && r == GW_DIGITMAP_COMPLETE_AFTER_TIMEOUT)) {
                line_place_call(l);
                return;
        }
        if (r == GW_DIGITMAP_NO_MATCH || timed_out) {
                log_info("Line %u: '%s' matches no dial plan entry.", l->conf->port, l->digits);
                line_release(l, l->digits[0] ? GW__TONE__TONE_CONGESTION : GW__TONE__TONE_HOWLER);
                return;
        }
        line_timer_start(l, LINE_TIMER_INTERDIGIT, l->profile->interdigit_timeout_us);
}

static int on_line_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Line *l = userdata;
        Manager *m = l->manager;
        LineTimer kind = l->timer_kind;
        Call *c = l->call;

        l->timer_kind = LINE_TIMER_NONE;
        switch (kind) {
        case LINE_TIMER_INTERDIGIT:
                if (l->state == GW__CALL_STATE__CALL_DIALING)
                        line_check_digits(l, true);
                break;
        case LINE_TIMER_NO_ANSWER:
                if (!c)
                        break;
                if (c->outgoing && (l->state == GW__CALL_STATE__CALL_PROCEEDING ||
                                    l->state == GW__CALL_STATE__CALL_RINGBACK)) {
                        call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_ENDED,
                                 "Line %u: call %s not answered, cancelling.", l->conf->port, c->dialog.call_id);
                        line_call_end(c, "no-answer", 0);
                        call_cancel(c);
                        line_release(l, GW__TONE__TONE_BUSY);
                        call_detach(c);
                } else if (!c->outgoing && l->state == GW__CALL_STATE__CALL_RINGING) {
                        call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_ENDED,
                                 "Line %u: call %s not answered.", l->conf->port, c->dialog.call_id);
                        call_reject(c, 480);
                        line_call_end(c, "no-answer", 480);
                        line_release(l, GW__TONE__TONE_NONE);
                        call_free(c);
                }
                break;
        case LINE_TIMER_HOWLER:
                if (l->state == GW__CALL_STATE__CALL_RELEASING && l->off_hook)
                        line_set_tone(l, GW__TONE__TONE_HOWLER);
                break;
        default:
                break;
        }
        transaction_run(m);
        return 0;
}

int line_hook(Manager *m, unsigned port, bool off_hook) {
        Line *l = line_by_port(m, port);
        Call *c;

        if (!l)
                return -ENOENT;
        if (l->off_hook == off_hook)
                return 0;
        l->off_hook = off_hook;
        c = l->call;
        if (off_hook) {
                if (c && !c->outgoing && l->state == GW__CALL_STATE__CALL_RINGING) {
                        call_answer(c);
                } else if (l->state == GW__CALL_STATE__CALL_IDLE) {
                        l->digits[0] = 0;
                        l->tone = GW__TONE__TONE_DIAL;
                        line_set_state(l, GW__CALL_STATE__CALL_DIALING);
                        line_publish_media(l, true);
                        line_timer_start(l, LINE_TIMER_INTERDIGIT, l->profile->interdigit_timeout_us);
                }
                transaction_run(m);
                return 0;
        }

        /* on hook */
        if (c) {
                switch (l->state) {
                case GW__CALL_STATE__CALL_PROCEEDING:
                case GW__CALL_STATE__CALL_RINGBACK:
                        call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_ENDED,
                                 "Line %u: caller hung up before the answer, cancelling %s.", port, c->dialog.call_id);
                        line_call_end(c, "cancelled", 0);
                        call_cancel(c);
                        call_detach(c);
                        break;
                case GW__CALL_STATE__CALL_CONNECTED:
                        call_log(c, LOG_INFO, SIGD_MESSAGE_CALL_ENDED,
                                 "Line %u: hung up, BYE for %s.", port, c->dialog.call_id);
                        line_call_end(c, "normal", 0);
                        call_hang_up(c);
                        call_detach(c);
                        break;
                default:
                        break;
                }
        }
        line_release(l, GW__TONE__TONE_NONE);
        transaction_run(m);
        return 0;
}

int line_digit_from(Manager *m, unsigned port, const char *digit, LineDigitSender from, uint64_t instance,
                    uint32_t seq, bool replay) {
        Line *l = line_by_port(m, port);

        if (!l)
                return -ENOENT;
        if (seq > 0) {
                bool same = l->digit_instance[from] == instance;

                if (same && seq <= l->digit_seq[from])
                        return 0;               /* taken already (a repeat of the replay) */
                if (replay && !same)
                        return 0;               /* not known to be missed: never take it twice */
                if (replay)
                        log_info("Line %u: digit '%s' sent while sigd was down, taken now.", port, strempty(digit));
                l->digit_instance[from] = instance;
                l->digit_seq[from] = seq;
        }
        return line_digit(m, port, digit);
}

int line_digit(Manager *m, unsigned port, const char *digit) {
        Line *l = line_by_port(m, port);
        size_t n;

        if (!l)
                return -ENOENT;
        if (!digit || strlen(digit) != 1 || !strchr("0123456789*#ABCD", digit[0]))
                return -EINVAL;
        if (l->state != GW__CALL_STATE__CALL_DIALING || !l->off_hook)
                return 0;                                 /* in a call: mediad sends it as an RFC 4733 event */
        n = strlen(l->digits);
        if (n + 1 >= sizeof(l->digits)) {
                line_release(l, GW__TONE__TONE_CONGESTION);
                return 0;
        }
        l->digits[n] = digit[0];
        l->digits[n + 1] = 0;
        if (n == 0)
                line_set_tone(l, GW__TONE__TONE_NONE);
        line_publish_call(l);
        line_check_digits(l, false);
        transaction_run(m);
        return 0;
}

int line_flash(Manager *m, unsigned port) {
        /* No supplementary services yet (hold, transfer): a flash changes nothing. */
        return line_by_port(m, port) ? 0 : -ENOENT;
}

/* ---------------------------------------------------------------- across a restart */

static bool line_dialing(const Line *l) {
        return !l->call && l->state == GW__CALL_STATE__CALL_DIALING && l->off_hook;
}

bool line_kept(const Line *l) {
        return l->call || line_dialing(l);
}

/* What every saved line holds: its identity and outputs. */
static void line_save_common(Line *l, Gw__SigdLine *s) {
        gw__sigd_line__init(s);
        s->has_port = s->has_state = s->has_off_hook = s->has_ring = s->has_reversed = true;
        s->has_tone = s->has_generation = s->has_call_seq = true;
        s->port = l->conf->port;
        s->number = l->conf->number;
        s->profile = l->profile->name;
        s->state = l->state;
        s->off_hook = l->off_hook;
        s->ring = l->ring;
        s->reversed = l->reversed;
        s->tone = l->tone;
        s->generation = l->generation;
        s->call_seq = l->call_seq;
}

/* A line dialing: what it dialed so far, so a restart in the middle of the
 * number does not give the subscriber dial tone again (the rest of the
 * number would then be dialed as a new one). */
static int line_save_dialing(Line *l, Gw__SigdLine *s) {
        line_save_common(l, s);
        s->digits = l->digits;
        s->has_dtmf_instance = s->has_dtmf_seq = s->has_pulse_instance = s->has_pulse_seq = true;
        s->dtmf_instance = l->digit_instance[LINE_DIGITS_DTMF];
        s->dtmf_seq = l->digit_seq[LINE_DIGITS_DTMF];
        s->pulse_instance = l->digit_instance[LINE_DIGITS_PULSE];
        s->pulse_seq = l->digit_seq[LINE_DIGITS_PULSE];
        return 1;
}

int line_save(Line *l, LineSaved *ret) {
        Gw__SigdLine *s = &ret->line;
        Call *c = l->call;
        bool ours_pending = l->state == GW__CALL_STATE__CALL_PROCEEDING || l->state == GW__CALL_STATE__CALL_RINGBACK;
        int r;

        *ret = (LineSaved) {};
        if (line_dialing(l))
                return line_save_dialing(l, s);
        if (!c || !(l->state == GW__CALL_STATE__CALL_CONNECTED || l->state == GW__CALL_STATE__CALL_RINGING ||
                    ours_pending))
                return 0;
        r = call_save(c, &ret->call);
        if (r < 0) {
                call_saved_done(&ret->call);
                return r == -ENOENT ? 0 : r;
        }
        line_save_common(l, s);
        if (l->timer_kind == LINE_TIMER_NO_ANSWER) {
                s->has_no_answer_at_real_us = true;
                s->no_answer_at_real_us = l->no_answer_at_real_us;
        }
        s->call = &ret->call.call;
        return 1;
}

void line_saved_done(LineSaved *s) {
        call_saved_done(&s->call);
}

/* The same line (port, number, profile), idle here, and a saved state within bounds. */
static bool line_restore_fits(const Line *l, const Gw__SigdLine *s) {
        return l->profile && streq_ptr(s->number, l->conf->number) && streq_ptr(s->profile, l->profile->name) &&
               s->has_state && s->has_off_hook && s->has_tone && s->tone >= GW__TONE__TONE_NONE &&
               s->tone <= GW_TONE_LAST && !l->call && l->state == GW__CALL_STATE__CALL_IDLE;
}

static void line_restore_outputs(Line *l, const Gw__SigdLine *s) {
        l->state = s->state;
        l->off_hook = s->off_hook;
        l->ring = s->ring;
        l->reversed = s->reversed;
        l->tone = s->tone;
        l->generation = s->generation;                 /* MediaControl goes on from there */
        l->call_seq = s->call_seq;
}

/* The interdigit timer starts again in full: at most one timeout more to dial in. */
static int line_restore_dialing(Line *l, const Gw__SigdLine *s) {
        size_t n = s->digits ? strlen(s->digits) : 0;

        if (!s->off_hook || n >= sizeof(l->digits) || (s->digits && strspn(s->digits, "0123456789*#ABCD") != n))
                return -EBADMSG;
        memcpy(l->digits, s->digits ?: "", n + 1);
        line_restore_outputs(l, s);
        l->digit_instance[LINE_DIGITS_DTMF] = s->dtmf_instance;
        l->digit_seq[LINE_DIGITS_DTMF] = s->dtmf_seq;
        l->digit_instance[LINE_DIGITS_PULSE] = s->pulse_instance;
        l->digit_seq[LINE_DIGITS_PULSE] = s->pulse_seq;
        line_timer_start(l, LINE_TIMER_INTERDIGIT, l->profile->interdigit_timeout_us);
        log_info("Line %u: dialing goes on after the restart ('%s' so far).", l->conf->port, l->digits);
        return 0;
}

int line_restore(Manager *m, const Gw__SigdLine *s) {
        Line *l = s->has_port ? line_by_port(m, s->port) : NULL;
        bool connected, ringing, ours_pending;
        Call *c = NULL;
        int r;

        if (!l)
                return -ENOENT;
        if (!line_restore_fits(l, s))
                return -EBADMSG;
        if (!s->call)
                return s->state == GW__CALL_STATE__CALL_DIALING ? line_restore_dialing(l, s) : -EBADMSG;
        connected = s->state == GW__CALL_STATE__CALL_CONNECTED;
        ringing = s->state == GW__CALL_STATE__CALL_RINGING;
        ours_pending = s->state == GW__CALL_STATE__CALL_PROCEEDING || s->state == GW__CALL_STATE__CALL_RINGBACK;
        if (!(connected || (ringing && !s->call->outgoing) || (ours_pending && s->call->outgoing)) ||
            !s->call->dialog || s->call->dialog->confirmed != connected)
                return -EBADMSG;
        r = call_restore(m, l, l->conf, l->profile, s->call, &c);
        if (r < 0)
                return r;
        l->call = c;
        line_restore_outputs(l, s);
        if (!connected) {
                /* What is left of the no-answer time, no more than a whole one. */
                uint64_t now = now_usec(CLOCK_REALTIME), full = l->profile->no_answer_timeout_us, left = full;

                if (s->has_no_answer_at_real_us)
                        left = s->no_answer_at_real_us <= now ? 0 : MIN(s->no_answer_at_real_us - now, full);
                line_timer_start(l, LINE_TIMER_NO_ANSWER, left);
        }
        log_info("Line %u: %s call %s %s goes on after the restart.", l->conf->port,
                 c->outgoing ? "outgoing" : "incoming", c->dialog.call_id,
                 connected ? "(connected)" : ringing ? "(ringing)" : "(not answered yet)");
        return 0;
}

/* ---------------------------------------------------------------- reload */

/* A line that leaves the config: its call ends as if the handset went down
 * (CANCEL, BYE or 480), and it goes idle. */
static void line_drop(Line *l) {
        Call *c = l->call;

        if (c)
                switch (l->state) {
                case GW__CALL_STATE__CALL_PROCEEDING:
                case GW__CALL_STATE__CALL_RINGBACK:
                        line_call_end(c, "cancelled", 0);
                        call_cancel(c);
                        call_detach(c);
                        break;
                case GW__CALL_STATE__CALL_CONNECTED:
                        line_call_end(c, "normal", 0);
                        call_hang_up(c);
                        call_detach(c);
                        break;
                case GW__CALL_STATE__CALL_RINGING:
                        line_call_end(c, "rejected", 480);
                        call_reject(c, 480);
                        call_detach(c);
                        break;
                default:
                        break;
                }
        l->off_hook = false;
        line_release(l, GW__TONE__TONE_NONE);
        log_info("Line %u left the configuration%s.", l->conf->port, c ? ", its call ended" : "");
}

int line_reload(Manager *m, const GwConf *c, unsigned *ret_added, unsigned *ret_removed) {
        _cleanup_free_ Line *next = NULL;
        _cleanup_free_ GwDigitMap **maps = NULL;
        _cleanup_free_ size_t *from = NULL;
        unsigned added = 0, removed = 0;
        int r = 0;

        next = calloc(MAX(c->n_lines, (size_t) 1), sizeof(Line));
        maps = calloc(MAX(c->n_lines, (size_t) 1), sizeof(GwDigitMap *));
        from = calloc(MAX(c->n_lines, (size_t) 1), sizeof(size_t));
        if (!next || !maps || !from)
                return -ENOMEM;

        /* 1. Dial plans parsed (a line whose plan did not change keeps its map). */
        for (size_t i = 0; i < c->n_lines && r >= 0; i++) {
                const GwLineConf *lc = &c->lines[i];
                const GwProfileConf *p = lc->profile_index < c->n_profiles ? &c->profiles[lc->profile_index] : NULL;
                Line *old = line_by_port(m, lc->port);
                const char *why = NULL;
                size_t off = 0;

                from[i] = old ? (size_t) (old - m->lines) : SIZE_MAX;
                if (!p || (old && old->profile && streq_ptr(old->profile->dial_plan, p->dial_plan)))
                        continue;
                r = gw_digitmap_parse(p->dial_plan ?: "x.T", &maps[i], &why, &off);
                if (r < 0)
                        log_error_errno(r, "Profile %s: bad dial plan: %s at character %zu.", p->name, strna(why), off + 1);
        }
        if (r < 0) {
                for (size_t i = 0; i < c->n_lines; i++)
                        gw_digitmap_free(maps[i]);
                return r;
        }

        /* 2. Lines that leave. */
        for (size_t k = 0; k < m->n_lines; k++) {
                Line *l = &m->lines[k];

                if (gw_conf_line_by_port(c, l->conf->port))
                        continue;
                line_drop(l);
                sd_event_source_disable_unref(l->timer);
                gw_digitmap_free(l->digitmap);
                removed++;
        }

        /* 3. The new array: kept lines moved (their calls follow), new ones made. */
        for (size_t i = 0; i < c->n_lines; i++) {
                Line *l = &next[i];

                if (from[i] != SIZE_MAX) {
                        Line *old = &m->lines[from[i]];

                        *l = *old;
                        call_line_moved(m, old, l);
                        if (l->timer)
                                (void) sd_event_source_set_userdata(l->timer, l);
                        if (maps[i]) {
                                gw_digitmap_free(l->digitmap);
                                l->digitmap = TAKE_PTR(maps[i]);
                        }
                } else {
                        l->manager = m;
                        l->state = GW__CALL_STATE__CALL_IDLE;
                        l->digitmap = TAKE_PTR(maps[i]);
                        added++;
                }
                l->conf = &c->lines[i];
                l->index = i;
                l->profile = l->conf->profile_index < c->n_profiles ? &c->profiles[l->conf->profile_index] : NULL;
        }
        free(m->lines);
        m->lines = TAKE_PTR(next);
        m->n_lines = c->n_lines;
        for (size_t i = 0; i < m->n_lines; i++)
                if (from[i] == SIZE_MAX)
                        line_publish_call(&m->lines[i]);
        *ret_added = added;
        *ret_removed = removed;
        return 0;
}

/* ---------------------------------------------------------------- setup */

int line_init(Manager *m) {
        const GwConf *c = m->conf;

        m->lines = calloc(MAX(c->n_lines, (size_t) 1), sizeof(Line));
        if (!m->lines)
                return -ENOMEM;
        call_set_line_ops(m, &line_call_ops);
        for (size_t i = 0; i < c->n_lines; i++) {
                Line *l = &m->lines[i];
                const char *why = NULL;
                size_t off = 0;
                int r;

                l->manager = m;
                l->conf = &c->lines[i];
                l->index = i;
                l->profile = l->conf->profile_index < c->n_profiles ? &c->profiles[l->conf->profile_index] : NULL;
                l->state = GW__CALL_STATE__CALL_IDLE;
                m->n_lines = i + 1;
                if (!l->profile)
                        continue;                         /* a test's hand-made config without profiles */
                r = gw_digitmap_parse(l->profile->dial_plan ?: "x.T", &l->digitmap, &why, &off);
                if (r < 0)
                        return log_error_errno(r, "Profile %s: bad dial plan: %s at character %zu.", l->profile->name,
                                               strna(why), off + 1);
        }
        return 0;
}

void line_done(Manager *m) {
        for (size_t i = 0; i < m->n_lines; i++) {
                sd_event_source_disable_unref(m->lines[i].timer);
                gw_digitmap_free(m->lines[i].digitmap);
        }
        free(m->lines);
        m->lines = NULL;
        m->n_lines = 0;
}
