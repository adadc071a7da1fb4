/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-digit-log.c: numbered recent digits of a line (gw-digit-log.h). */
#include "gw-digit-log.h"

uint32_t gw_digit_log_add(GwDigitLogLine *l, char digit, uint32_t duration_ms, uint64_t now_us) {
        uint32_t seq = ++l->next_seq;

        if (seq == 0)
                seq = l->next_seq = 1;          /* after 2^32 digits: 0 means "none" */
        l->ring[seq % GW_DIGIT_LOG_KEEP] = (GwDigitLogEntry) {
                .seq = seq, .digit = digit, .duration_ms = duration_ms, .mono_us = now_us,
        };
        return seq;
}

size_t gw_digit_log_recent(const GwDigitLogLine *l, uint64_t now_us, GwDigitLogEntry *ret) {
        size_t n = 0;
        uint32_t first = l->next_seq >= GW_DIGIT_LOG_KEEP ? l->next_seq - GW_DIGIT_LOG_KEEP + 1 : 1;

        for (uint32_t seq = first; l->next_seq > 0 && seq <= l->next_seq; seq++) {
                const GwDigitLogEntry *e = &l->ring[seq % GW_DIGIT_LOG_KEEP];

                if (e->seq != seq || now_us < e->mono_us || now_us - e->mono_us > GW_DIGIT_LOG_MAX_AGE_USEC)
                        continue;
                ret[n++] = *e;
        }
        return n;
}
