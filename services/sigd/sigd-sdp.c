/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-sdp.c: SDP offer/answer for one audio stream (see sigd-sdp.h). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include "sigd-sdp.h"

static const char *const direction_table[_SDP_DIRECTION_MAX] = {
        [SDP_SENDRECV] = "sendrecv",
        [SDP_SENDONLY] = "sendonly",
        [SDP_RECVONLY] = "recvonly",
        [SDP_INACTIVE] = "inactive",
};

const char *sdp_direction_to_string(SdpDirection d) {
        return d >= 0 && d < _SDP_DIRECTION_MAX ? direction_table[d] : NULL;
}

static SdpDirection direction_from_string(const char *s) {
        for (int i = 0; i < _SDP_DIRECTION_MAX; i++)
                if (strcmp(direction_table[i], s) == 0)
                        return i;
        return _SDP_DIRECTION_INVALID;
}

static int parse_number(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || !*s || strlen(s) > 20)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static void sdp_message_freep(sdp_message_t **s) {
        if (*s)
                sdp_message_free(*s);
}

/* "IN IP4 192.0.2.1": a unicast IP literal of the given type. */
static int check_connection(const sdp_connection_t *c, SdpMedia *m) {
        struct in6_addr a;

        if (!c || !c->c_nettype || !c->c_addrtype || !c->c_addr || strcmp(c->c_nettype, "IN") != 0)
                return -EBADMSG;
        if (strcmp(c->c_addrtype, "IP4") == 0 && inet_pton(AF_INET, c->c_addr, &a) == 1)
                m->family = AF_INET;
        else if (strcmp(c->c_addrtype, "IP6") == 0 && inet_pton(AF_INET6, c->c_addr, &a) == 1)
                m->family = AF_INET6;
        else
                return -EBADMSG;
        if (strlen(c->c_addr) >= sizeof(m->addr))
                return -EBADMSG;
        strcpy(m->addr, c->c_addr);
        return 0;
}

/* "<pt> <name>/<rate>[/<channels>]" */
static void note_rtpmap(SdpMedia *m, const char *v, bool *mapped) {
        char name[32];
        unsigned pt, rate;
        bool in_m = false;

        if (!v || sscanf(v, "%u %31[^/]/%u", &pt, name, &rate) != 3 || pt > 127)
                return;

        for (size_t i = 0; i < m->n_pts; i++)
                if (m->pts[i] == (int) pt)
                        mapped[i] = in_m = true;
        if (!in_m || rate != 8000)              /* a map for a PT not in m= does not count */
                return;
        if (strcasecmp(name, "PCMU") == 0 && m->pcmu_pt < 0)
                m->pcmu_pt = (int) pt;
        else if (strcasecmp(name, "PCMA") == 0 && m->pcma_pt < 0)
                m->pcma_pt = (int) pt;
        else if (strcasecmp(name, "telephone-event") == 0 && m->telephone_event_pt < 0)
                m->telephone_event_pt = (int) pt;
}

static bool pt_static_known(int pt) {
        /* RFC 3551 table 4: static audio/video assignments (1, 2, 19, 20-24, 27, 29, 30 reserved or unassigned) */
        static const int known[] = { 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 25, 26, 28, 31, 32, 33, 34 };
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (known[i] == pt)
                        return true;
        return false;
}

static int parse_audio(sdp_message_t *sdp, int pos, SdpMedia *m, const char **ret_error) {
        sdp_media_t *med = osip_list_get(&sdp->m_medias, pos);
        bool mapped[SDP_MAX_PAYLOADS] = {};
        osip_list_iterator_t it;
        uint64_t v;

        if (parse_number(med->m_port, 65535, &v) < 0)
                return *ret_error = "m= port is not a number up to 65535", -EBADMSG;
        m->port = (uint16_t) v;
        if (med->m_number_of_port)
                return *ret_error = "m= port count is not supported", -EBADMSG;
        if (!med->m_proto)
                return *ret_error = "m= without a transport", -EBADMSG;
        if (strcmp(med->m_proto, "RTP/AVP") == 0)
                m->secure = false;
        else if (strcmp(med->m_proto, "RTP/SAVP") == 0)
                m->secure = true;
        else
                return *ret_error = "m= transport is neither RTP/AVP nor RTP/SAVP", -EBADMSG;

        m->n_pts = 0;
        for (char *p = osip_list_get_first(&med->m_payloads, &it); p; p = osip_list_get_next(&it)) {
                if (parse_number(p, 127, &v) < 0)
                        return *ret_error = "m= payload type is not a number up to 127", -EBADMSG;
                if (m->n_pts >= SDP_MAX_PAYLOADS)
                        return *ret_error = "too many payload types", -EBADMSG;
                m->pts[m->n_pts++] = (int) v;
        }
        if (m->n_pts == 0)
                return *ret_error = "m= without payload types", -EBADMSG;

        /* Connection: the media's, else the session's. */
        if (osip_list_size(&med->c_connections) > 0) {
                if (check_connection(osip_list_get(&med->c_connections, 0), m) < 0)
                        return *ret_error = "c= is not 'IN IP4|IP6 <address literal>'", -EBADMSG;
        } else if (!sdp->c_connection)
                return *ret_error = "no c= for the audio stream", -EBADMSG;
        else if (check_connection(sdp->c_connection, m) < 0)
                return *ret_error = "c= is not 'IN IP4|IP6 <address literal>'", -EBADMSG;

        m->pcmu_pt = m->pcma_pt = m->telephone_event_pt = -1;
        m->direction = SDP_SENDRECV;
        m->ptime_ms = 0;
        /* Session-level direction first; the media's overrides it. */
        for (int level = 0; level < 2; level++) {
                osip_list_t *attrs = level == 0 ? &sdp->a_attributes : &med->a_attributes;
                for (sdp_attribute_t *a = osip_list_get_first(attrs, &it); a; a = osip_list_get_next(&it)) {
                        SdpDirection d;

                        if (!a->a_att_field)
                                continue;
                        d = direction_from_string(a->a_att_field);
                        if (d >= 0)
                                m->direction = d;
                        else if (level == 1 && strcmp(a->a_att_field, "rtpmap") == 0)
                                note_rtpmap(m, a->a_att_value, mapped);
                        else if (level == 1 && strcmp(a->a_att_field, "ptime") == 0 &&
                                 parse_number(a->a_att_value, 1000, &v) == 0)
                                m->ptime_ms = (unsigned) v;
                }
        }
        for (size_t i = 0; i < m->n_pts; i++) {
                if (m->pts[i] == 0 && m->pcmu_pt < 0)
                        m->pcmu_pt = 0;
                if (m->pts[i] == 8 && m->pcma_pt < 0)
                        m->pcma_pt = 8;
                if (!mapped[i] && !pt_static_known(m->pts[i]))
                        return *ret_error = "payload type neither static nor mapped by a=rtpmap", -EBADMSG;
        }
        return 0;
}

int sdp_parse(const char *body, SdpMedia *ret, const char **ret_error) {
        _cleanup_(sdp_message_freep) sdp_message_t *sdp = NULL;
        const char *dummy;
        SdpMedia m = {};
        uint64_t v;
        int audio = -1, r;

        if (!ret_error)
                ret_error = &dummy;
        if (!body || !*body)
                return *ret_error = "empty SDP", -EBADMSG;
        if (strlen(body) > 16384)
                return *ret_error = "SDP longer than 16 KiB", -EBADMSG;
        if (sdp_message_init(&sdp) != 0)
                return -ENOMEM;
        if (sdp_message_parse(sdp, body) != 0)
                return *ret_error = "SDP does not parse", -EBADMSG;

        if (!sdp->v_version || strcmp(sdp->v_version, "0") != 0)
                return *ret_error = "v= missing or not 0", -EBADMSG;
        if (!sdp->o_username || !sdp->o_sess_id || !sdp->o_sess_version || !sdp->o_nettype ||
            !sdp->o_addrtype || !sdp->o_addr)
                return *ret_error = "o= missing or incomplete", -EBADMSG;
        if (parse_number(sdp->o_sess_id, UINT64_MAX, &m.sess_id) < 0 ||
            parse_number(sdp->o_sess_version, UINT64_MAX, &m.sess_version) < 0)
                return *ret_error = "o= session id or version is not a number", -EBADMSG;
        if (!sdp->s_name)
                return *ret_error = "s= missing", -EBADMSG;
        if (osip_list_size(&sdp->t_descrs) <= 0)
                return *ret_error = "t= missing", -EBADMSG;
        for (int i = 0; i < osip_list_size(&sdp->t_descrs); i++) {
                sdp_time_descr_t *t = osip_list_get(&sdp->t_descrs, i);
                if (!t || parse_number(t->t_start_time, UINT64_MAX, &v) < 0 ||
                    parse_number(t->t_stop_time, UINT64_MAX, &v) < 0)
                        return *ret_error = "t= times are not numbers", -EBADMSG;
        }
        if (osip_list_size(&sdp->m_medias) <= 0)
                return *ret_error = "m= missing", -EBADMSG;

        /* Every m= must be well-formed; the first audio stream with a port is ours. */
        for (int i = 0; i < osip_list_size(&sdp->m_medias); i++) {
                sdp_media_t *med = osip_list_get(&sdp->m_medias, i);
                if (!med || !med->m_media || !med->m_port || parse_number(med->m_port, 65535, &v) < 0)
                        return *ret_error = "m= port is not a number up to 65535", -EBADMSG;
                if (audio < 0 && strcmp(med->m_media, "audio") == 0 && v != 0)
                        audio = i;
        }
        if (audio < 0) {
                /* All audio refused (port 0) or none at all. */
                for (int i = 0; i < osip_list_size(&sdp->m_medias); i++) {
                        sdp_media_t *med = osip_list_get(&sdp->m_medias, i);
                        if (strcmp(med->m_media, "audio") == 0) {
                                audio = i;
                                break;
                        }
                }
                if (audio < 0)
                        return *ret_error = "no audio stream", -EBADMSG;
        }
        r = parse_audio(sdp, audio, &m, ret_error);
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

static int pick_codec(const SdpMedia *r, const GwConf *c, SdpResult *ret) {
        for (size_t i = 0; i < c->n_media_codecs; i++) {
                int pt = c->media_codecs[i] == GW_CODEC_PCMU ? r->pcmu_pt : r->pcma_pt;
                if (pt >= 0) {
                        ret->codec = c->media_codecs[i];
                        ret->pt = pt;
                        return 0;
                }
        }
        return -EPROTO;
}

static int result_common(const SdpMedia *r, const GwConf *c, SdpResult *ret, const char **ret_error) {
        const char *dummy;

        if (!ret_error)
                ret_error = &dummy;
        if (r->port == 0)
                return *ret_error = "the audio stream is refused (port 0)", -EPROTO;
        if (r->secure)
                return *ret_error = "SRTP (RTP/SAVP) is not supported", -EPROTO;
        if (r->ptime_ms != 0 && r->ptime_ms % 10 != 0)
                return *ret_error = "ptime is not a multiple of 10 ms", -EPROTO;
        if (pick_codec(r, c, ret) < 0)
                return *ret_error = "no common codec (PCMU, PCMA)", -EPROTO;
        ret->telephone_event_pt = r->telephone_event_pt;
        strcpy(ret->remote_addr, r->addr);
        ret->remote_port = r->port;
        return 0;
}

int sdp_answer_offer(const SdpMedia *offer, const GwConf *c, bool local_hold, SdpResult *ret,
                     const char **ret_error) {
        SdpResult res = {};
        int r;

        r = result_common(offer, c, &res, ret_error);
        if (r < 0)
                return r;
        switch (offer->direction) {
        case SDP_SENDONLY:
                res.direction = SDP_RECVONLY;
                break;
        case SDP_RECVONLY:
                res.direction = SDP_SENDONLY;
                break;
        case SDP_INACTIVE:
                res.direction = SDP_INACTIVE;
                break;
        default:
                res.direction = SDP_SENDRECV;
                break;
        }
        /* RFC 2543 hold (c=0.0.0.0): nothing to send to. */
        if (streq(offer->addr, "0.0.0.0"))
                res.direction = res.direction == SDP_SENDRECV || res.direction == SDP_RECVONLY ? SDP_RECVONLY
                                                                                               : SDP_INACTIVE;
        if (local_hold)
                res.direction = res.direction == SDP_SENDRECV || res.direction == SDP_SENDONLY ? SDP_SENDONLY
                                                                                               : SDP_INACTIVE;
        *ret = res;
        return 0;
}

int sdp_accept_answer(const SdpMedia *answer, const GwConf *c, SdpResult *ret, const char **ret_error) {
        SdpResult res = {};
        int r;

        r = result_common(answer, c, &res, ret_error);
        if (r < 0)
                return r;
        /* Our offer was sendrecv: the answer's direction is what the far end does. */
        switch (answer->direction) {
        case SDP_SENDONLY:
                res.direction = SDP_RECVONLY;
                break;
        case SDP_RECVONLY:
                res.direction = SDP_SENDONLY;
                break;
        default:
                res.direction = answer->direction;
                break;
        }
        if (streq(answer->addr, "0.0.0.0"))
                res.direction = SDP_RECVONLY;
        /* Events only if the answer kept them (RFC 4733 §7.1.2): their PT is the answer's. */
        *ret = res;
        return 0;
}

void sdp_local_offer(SdpLocal *l, const GwConf *c) {
        l->n_codecs = 0;
        for (size_t i = 0; i < c->n_media_codecs && i < ELEMENTSOF(l->codecs); i++) {
                l->codecs[l->n_codecs] = c->media_codecs[i];
                l->pts[l->n_codecs] = c->media_codecs[i] == GW_CODEC_PCMU ? 0 : 8;
                l->n_codecs++;
        }
        l->telephone_event_pt = SDP_TELEPHONE_EVENT_PT;
        l->direction = SDP_SENDRECV;
}

void sdp_local_answer(SdpLocal *l, const SdpResult *res) {
        l->codecs[0] = res->codec;
        l->pts[0] = res->pt;
        l->n_codecs = 1;
        l->telephone_event_pt = res->telephone_event_pt;
        l->direction = res->direction;
}

int sdp_build(const SdpLocal *l, char **ret) {
        const char *ipv = l->family == AF_INET6 ? "IP6" : "IP4";
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "v=0\r\no=fxsgw %" PRIu64 " %" PRIu64 " IN %s %s\r\ns=fxsgw\r\nc=IN %s %s\r\nt=0 0\r\n",
                l->sess_id, l->sess_version, ipv, l->addr, ipv, l->addr);
        fprintf(f, "m=audio %u RTP/AVP", l->port);
        for (size_t i = 0; i < l->n_codecs; i++)
                fprintf(f, " %d", l->pts[i]);
        if (l->telephone_event_pt >= 0)
                fprintf(f, " %d", l->telephone_event_pt);
        fputs("\r\n", f);
        for (size_t i = 0; i < l->n_codecs; i++)
                fprintf(f, "a=rtpmap:%d %s/8000\r\n", l->pts[i], l->codecs[i] == GW_CODEC_PCMU ? "PCMU" : "PCMA");
        if (l->telephone_event_pt >= 0)
                fprintf(f, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n",
                        l->telephone_event_pt, l->telephone_event_pt);
        fprintf(f, "a=ptime:%d\r\na=%s\r\n", SDP_PTIME_MS, sdp_direction_to_string(l->direction));
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}
