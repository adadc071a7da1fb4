/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-resume.c: save and resume our RTP streams across a restart (mediad-resume.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw-bus.h"
#include "gw-daemon.h"
#include "gw-log.h"
#include "gw-sockaddr.h"
#include "mediad-resume.h"

struct MediaResume {
        Gw__MediadStreams *streams;        /* NULL: nothing saved */
        bool *used;
};

int media_resume_load(const char *dir, MediaResume **ret) {
        _cleanup_free_ void *data = NULL;
        MediaResume *r;
        size_t len = 0;
        int k;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        *ret = r;
        if (!dir)
                return 0;
        k = gw_state_read(dir, MEDIAD_STREAMS_FILE, &data, &len);
        if (k == -ENOENT)
                return 0;
        if (k < 0) {
                log_warning_errno(k, "Failed to read %s/%s, no stream to resume: %m", dir, MEDIAD_STREAMS_FILE);
                return 0;
        }
        r->streams = gw__mediad_streams__unpack(NULL, len, data);
        explicit_bzero(data, len);
        if (!r->streams) {
                log_warning("%s/%s is not valid, no stream to resume.", dir, MEDIAD_STREAMS_FILE);
                return 0;
        }
        r->used = calloc(r->streams->n_streams ?: 1, sizeof(bool));
        if (!r->used) {
                gw__mediad_streams__free_unpacked(r->streams, NULL);
                r->streams = NULL;
                return -ENOMEM;
        }
        if (r->streams->n_streams > 0)
                log_info("%zu RTP stream(s) saved before the restart may resume.", r->streams->n_streams);
        return 0;
}

MediaResume *media_resume_free(MediaResume *r) {
        if (!r)
                return NULL;
        if (r->streams) {
                for (size_t i = 0; i < r->streams->n_streams; i++) {
                        ProtobufCBinaryData *c = &r->streams->streams[i]->control;
                        if (c->data)
                                explicit_bzero(c->data, c->len);
                }
                gw__mediad_streams__free_unpacked(r->streams, NULL);
        }
        free(r->used);
        free(r);
        return NULL;
}

void media_resume_advance(uint16_t seq, uint32_t roc, uint32_t skip, uint16_t *ret_seq, uint32_t *ret_roc) {
        uint64_t index = ((uint64_t) roc << 16 | seq) + skip;   /* the SRTP packet index (RFC 3711 §3.3.1) */

        *ret_seq = (uint16_t) index;
        *ret_roc = (uint32_t) (index >> 16);
}

static bool saved_recently(const Gw__MediadStream *s, uint64_t now) {
        return now <= s->saved_usec || now - s->saved_usec <= MEDIAD_RESUME_MAX_AGE_USEC;
}

size_t media_resume_count(const MediaResume *r) {
        return r && r->streams ? r->streams->n_streams : 0;
}

bool media_resume_control(const MediaResume *r, size_t i, const uint8_t **ret, size_t *ret_len) {
        const Gw__MediadStream *s;

        if (i >= media_resume_count(r))
                return false;
        s = r->streams->streams[i];
        if (!s->has_control || s->control.len == 0 || !saved_recently(s, now_usec(CLOCK_BOOTTIME)))
                return false;
        *ret = s->control.data;
        *ret_len = s->control.len;
        return true;
}

bool media_resume_apply(MediaResume *r, uint32_t port, RtpParams *p, uint32_t *ret_skip) {
        uint64_t now = now_usec(CLOCK_BOOTTIME);

        if (!r || !r->streams || p->ssrc != 0)
                return false;
        for (size_t i = 0; i < r->streams->n_streams; i++) {
                const Gw__MediadStream *s = r->streams->streams[i];
                uint64_t age;
                uint32_t skip;

                if (r->used[i] || s->port != port || !streq_ptr(s->call_id, p->call_id) ||
                    s->local_port != gw_sockaddr_port(GW_SOCKADDR(&p->local)) || s->ssrc == 0 || s->seq > 0xffff)
                        continue;
                r->used[i] = true;                              /* once: a later session is a new stream */
                age = now > s->saved_usec ? now - s->saved_usec : 0;
                if (age > MEDIAD_RESUME_MAX_AGE_USEC)
                        return false;
                skip = (uint32_t) (age * 50 / USEC_PER_SEC) + MEDIAD_RESUME_SEQ_MARGIN;
                p->ssrc = s->ssrc;
                media_resume_advance((uint16_t) s->seq, s->srtp_tx_roc, skip, &p->seq, &p->srtp_tx_roc);
                p->have_seq = true;
                p->ts = s->ts + (uint32_t) (age * 8000 / USEC_PER_SEC);
                p->have_ts = true;
                p->srtp_rx_roc = s->srtp_rx_roc;
                p->have_srtp_rx_seq = s->has_srtp_rx_seq && s->srtp_rx_seq <= 0xffff;
                p->srtp_rx_seq = (uint16_t) s->srtp_rx_seq;
                if (ret_skip)
                        *ret_skip = skip;
                return true;
        }
        return false;
}

int media_resume_save(const char *dir, const MediaResumeEntry *e, size_t n) {
        Gw__MediadStreams all = GW__MEDIAD_STREAMS__INIT;
        _cleanup_free_ Gw__MediadStream *s = NULL;
        _cleanup_free_ Gw__MediadStream **ptrs = NULL;
        uint64_t now = now_usec(CLOCK_BOOTTIME);
        uint8_t *buf;
        size_t len;
        int r;

        if (!dir)
                return 0;
        s = calloc(n ?: 1, sizeof(*s));
        ptrs = calloc(n ?: 1, sizeof(*ptrs));
        if (!s || !ptrs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const RtpSession *rtp = e[i].rtp;

                gw__mediad_stream__init(&s[i]);
                s[i].has_port = s[i].has_local_port = s[i].has_ssrc = s[i].has_seq = s[i].has_ts = true;
                s[i].port = e[i].port;
                s[i].call_id = UNCONST(rtp_session_call_id(rtp));
                s[i].local_port = rtp_session_local_port(rtp);
                s[i].ssrc = rtp_session_ssrc(rtp);
                s[i].seq = rtp_session_next_seq(rtp);
                s[i].ts = rtp_session_next_ts(rtp);
                s[i].has_srtp_tx_roc = s[i].has_srtp_rx_roc = s[i].has_saved_usec = true;
                s[i].srtp_tx_roc = rtp_session_srtp_next_roc(rtp);
                s[i].srtp_rx_roc = rtp_session_srtp_rx_roc(rtp);
                s[i].saved_usec = now;
                {
                        uint16_t rx_seq;
                        if (rtp_session_srtp_rx_seq(rtp, &rx_seq)) {
                                s[i].has_srtp_rx_seq = true;
                                s[i].srtp_rx_seq = rx_seq;
                        }
                }
                if (e[i].control) {
                        s[i].has_control = true;
                        s[i].control = (ProtobufCBinaryData) { e[i].control_len, UNCONST(e[i].control) };
                }
                ptrs[i] = &s[i];
        }
        all.n_streams = n;
        all.streams = ptrs;
        len = gw__mediad_streams__get_packed_size(&all);
        buf = malloc(len ?: 1);
        if (!buf)
                return -ENOMEM;
        gw__mediad_streams__pack(&all, buf);
        r = gw_state_write_secret(dir, MEDIAD_STREAMS_FILE, buf, len);
        explicit_bzero(buf, len);
        free(buf);
        return r;
}
