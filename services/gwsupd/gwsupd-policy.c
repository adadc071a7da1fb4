/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-policy.c: restart back-off and the sliding restart rate limit. */
#include <stdlib.h>

#include "gwsupd-policy.h"

uint64_t restart_backoff_usec(unsigned attempt) {
        uint64_t d = RESTART_BACKOFF_MIN_USEC;

        /* Doubling stops at the cap long before the shift could overflow. */
        for (unsigned i = 0; i < attempt && d < RESTART_BACKOFF_MAX_USEC; i++)
                d *= 2;
        return MIN(d, RESTART_BACKOFF_MAX_USEC);
}

uint64_t restart_delay_usec(unsigned attempt, uint64_t ready_for) {
        return attempt == 0 && ready_for >= RESTART_AT_ONCE_READY_USEC ? 0 : restart_backoff_usec(attempt);
}

bool restart_backoff_should_reset(uint64_t ready_at, uint64_t now) {
        return ready_at > 0 && now >= ready_at && now - ready_at >= RESTART_BACKOFF_RESET_USEC;
}

int restart_window_init(RestartWindow *w, unsigned limit) {
        *w = (RestartWindow) { .limit = limit };
        if (limit == 0)
                return 0;
        w->stamps = calloc(limit, sizeof *w->stamps);
        return w->stamps ? 0 : -ENOMEM;
}

void restart_window_done(RestartWindow *w) {
        free(w->stamps);
        *w = (RestartWindow) {};
}

unsigned restart_window_count(const RestartWindow *w, uint64_t now) {
        unsigned n = 0;

        for (unsigned i = 0; i < w->limit; i++) {
                uint64_t t = w->stamps[i];
                /* t > now - window, written so it cannot underflow near boot. */
                if (t > 0 && t <= now && now - t < RESTART_WINDOW_USEC)
                        n++;
        }
        return n;
}

bool restart_window_admit(RestartWindow *w, uint64_t now) {
        if (w->limit == 0)
                return false;
        if (restart_window_count(w, now) >= w->limit)
                return false;
        /* Not full within the window, so the slot at head is empty or expired:
         * the ring always overwrites its oldest entry. */
        w->stamps[w->head] = now > 0 ? now : 1;
        w->head = (w->head + 1) % w->limit;
        return true;
}
