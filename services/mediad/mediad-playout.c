/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-playout.c: a fixed playout buffer (PLAYOUT_PREFILL frames), ordered by RTP sequence. */
#include <string.h>

#include "mediad-playout.h"

void playout_buffer_reset(Playout *p) {
        PlayoutCounters c = p->counters;

        memset(p, 0, sizeof(*p));
        p->counters = c;
}

void playout_buffer_put(Playout *p, uint16_t seq, uint32_t ts, const int16_t pcm[GW_PCM_SAMPLES], uint64_t now_us) {
        unsigned i;
        int16_t ahead;

        if (!p->started) {
                p->started = true;
                p->next_seq = seq;
        }
        ahead = (int16_t) (uint16_t) (seq - p->next_seq);
        if (ahead < 0 && ahead >= -PLAYOUT_RESYNC) {
                p->counters.late++;
                return;
        }
        if (ahead < 0 || ahead >= PLAYOUT_SLOTS) {
                /* A jump (new source, long gap): start over from this frame. */
                playout_buffer_reset(p);
                p->started = true;
                p->next_seq = seq;
        }
        i = seq & (PLAYOUT_SLOTS - 1);
        if (p->slot[i].used) {
                p->counters.late++;       /* duplicate */
                return;
        }
        p->slot[i].used = true;
        p->slot[i].seq = seq;
        memcpy(p->slot[i].pcm, pcm, sizeof(p->slot[i].pcm));
        p->n_used++;
}

bool playout_buffer_get(Playout *p, int16_t out[GW_PCM_SAMPLES]) {
        unsigned i;

        if (!p->playing) {
                if (!p->started || p->n_used < PLAYOUT_PREFILL) {
                        memset(out, 0, GW_PCM_SAMPLES * sizeof(*out));
                        return false;
                }
                p->playing = true;
                /* Start at the oldest buffered frame. */
                while (!p->slot[p->next_seq & (PLAYOUT_SLOTS - 1)].used)
                        p->next_seq++;
        }
        i = p->next_seq & (PLAYOUT_SLOTS - 1);
        p->next_seq++;
        if (p->slot[i].used) {
                memcpy(out, p->slot[i].pcm, GW_PCM_SAMPLES * sizeof(*out));
                p->slot[i].used = false;
                p->n_used--;
                p->counters.played++;
                p->missing_run = 0;
                return true;
        }
        memset(out, 0, GW_PCM_SAMPLES * sizeof(*out));
        p->counters.lost++;
        if (++p->missing_run >= PLAYOUT_IDLE && p->n_used == 0) {
                /* The far end stopped (hold, silence suppression): prefill again. */
                p->playing = false;
                p->started = false;
                p->missing_run = 0;
        }
        return true;
}
