/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-state.c: the calls file (see sigd-state.h and docs/CALLS.md "Restart").
 *
 * A file in the runtime directory rather than a memfd in an fd store: it
 * outlives sigd under gwsupd and under systemd alike, and gwsupd's own
 * restart too, with no fd passing; regd's and mediad's state live the same
 * way (docs/ARCHITECTURE.md, "Who owns which state"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw-daemon.h"
#include "gw-log.h"
#include "sigd-line.h"
#include "sigd-manager.h"
#include "sigd-state.h"

uint8_t *state_buffer_free(uint8_t *buf, size_t len) {
        if (buf) {
                explicit_bzero(buf, len);
                free(buf);
        }
        return NULL;
}

int state_serialize(Manager *m, uint8_t **ret, size_t *ret_len, size_t *ret_n_lines) {
        Gw__SigdState st = GW__SIGD_STATE__INIT;
        _cleanup_free_ LineSaved *saved = NULL;
        _cleanup_free_ Gw__SigdLine **ptrs = NULL;
        uint8_t *buf = NULL;
        size_t n = 0, len = 0, n_calls = 0;
        int r = 0;

        /* Checked after every event: only lines with a call, or dialing one, cost anything
         * (256 lines, few calls). */
        for (size_t i = 0; i < m->n_lines; i++)
                n_calls += line_kept(&m->lines[i]);
        saved = calloc(MAX(n_calls, (size_t) 1), sizeof(*saved));
        ptrs = calloc(MAX(n_calls, (size_t) 1), sizeof(*ptrs));
        if (!saved || !ptrs)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_lines && r >= 0; i++) {
                if (!line_kept(&m->lines[i]))
                        continue;
                r = line_save(&m->lines[i], &saved[n]);
                if (r > 0) {
                        ptrs[n] = &saved[n].line;
                        n++;
                }
        }
        if (r >= 0) {
                st.has_version = true;
                st.version = SIGD_STATE_VERSION;
                st.n_lines = n;
                st.lines = ptrs;
                len = gw__sigd_state__get_packed_size(&st);
                buf = malloc(MAX(len, (size_t) 1));
                if (buf)
                        gw__sigd_state__pack(&st, buf);
                else
                        r = -ENOMEM;
        }
        for (size_t i = 0; i < n_calls; i++)
                line_saved_done(&saved[i]);
        if (r < 0)
                return r;
        *ret = buf;
        *ret_len = len;
        *ret_n_lines = n;
        return 0;
}

int state_apply(Manager *m, const uint8_t *data, size_t len) {
        Gw__SigdState *st;
        int resumed = 0, r = 0;

        st = gw__sigd_state__unpack(NULL, len, data);
        if (!st)
                return -EBADMSG;
        if (!st->has_version || st->version != SIGD_STATE_VERSION)
                r = -EPROTO;
        for (size_t i = 0; r >= 0 && i < st->n_lines; i++) {
                const Gw__SigdLine *sl = st->lines[i];
                int k = line_restore(m, sl);

                if (k == -ENOMEM)
                        r = k;
                else if (k < 0)
                        log_warning("Line %u: the call (or dialing) kept before the restart is not usable (%s), dropped.",
                                    sl->port, k == -ENOENT ? "no such line" : "refused");
                else
                        resumed++;
        }
        /* The unpacked message holds keys: wipe its buffers before they go back to malloc. */
        for (size_t i = 0; i < st->n_lines; i++) {
                Gw__SigdCall *c = st->lines[i]->call;
                if (!c)
                        continue;
                if (c->invite)
                        explicit_bzero(c->invite, strlen(c->invite));
                if (c->media && c->media->local && c->media->local->key.data)
                        explicit_bzero(c->media->local->key.data, c->media->local->key.len);
                if (c->media && c->media->remote_key.data)
                        explicit_bzero(c->media->remote_key.data, c->media->remote_key.len);
                for (size_t k = 0; k < c->n_offered; k++)
                        if (c->offered[k] && c->offered[k]->key.data)
                                explicit_bzero(c->offered[k]->key.data, c->offered[k]->key.len);
        }
        gw__sigd_state__free_unpacked(st, NULL);
        return r < 0 ? r : resumed;
}

int state_save(Manager *m) {
        char path[512];
        uint8_t *buf = NULL;
        size_t len = 0, n_lines = 0;
        int r;

        if (!m->state_dir)
                return 0;
        r = state_serialize(m, &buf, &len, &n_lines);
        if (r < 0)
                return log_error_errno(r, "Failed to serialize the calls: %m");
        if (m->state_written && len == m->state_last_len && memcmp(buf, m->state_last, len) == 0) {
                state_buffer_free(buf, len);
                return 0;
        }
        snprintf(path, sizeof path, "%s/%s", m->state_dir, SIGD_STATE_FILE);
        r = gw_state_write_secret(m->state_dir, SIGD_STATE_FILE, buf, n_lines == 0 ? 0 : len);
        if (r < 0) {
                state_buffer_free(buf, len);
                m->state_written = false;             /* try again after the next event */
                return log_error_errno(r, "Failed to write '%s': %m", path);
        }
        state_buffer_free(m->state_last, m->state_last_len);
        m->state_last = buf;
        m->state_last_len = len;
        m->state_written = true;
        m->state_writes++;
        return 1;
}

/* After every event the loop dispatched: anything to keep changed? */
static int on_post(sd_event_source *s, void *userdata) {
        (void) state_save(userdata);
        return 0;
}

static int state_load(Manager *m) {
        _cleanup_free_ void *data = NULL;
        size_t len = 0;
        int r;

        r = gw_state_read(m->state_dir, SIGD_STATE_FILE, &data, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                log_warning_errno(r, "Failed to read '%s/%s', no call to go on with: %m", m->state_dir, SIGD_STATE_FILE);
                return 0;
        }
        r = state_apply(m, data, len);
        explicit_bzero(data, len);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_warning("'%s/%s' is not valid (%s), the calls in it are dropped.", m->state_dir, SIGD_STATE_FILE,
                            r == -EPROTO ? "another version" : "does not unpack");
                return 0;
        }
        if (r > 0)
                log_info("%d call(s) kept before the restart go on.", r);
        return r;
}

int state_init(Manager *m, const char *dir) {
        int resumed, r;

        if (!dir)
                return 0;
        m->state_dir = strdup(dir);
        if (!m->state_dir)
                return -ENOMEM;
        resumed = state_load(m);
        if (resumed < 0)
                return resumed;
        /* The file as it is now (a refused call gone from it, or none left). */
        (void) state_save(m);
        r = sd_event_add_post(m->event, &m->state_post, on_post, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the calls for the state file: %m");
        return resumed;
}

void state_done(Manager *m) {
        m->state_post = sd_event_source_disable_unref(m->state_post);
        m->state_last = state_buffer_free(m->state_last, m->state_last_len);
        m->state_last_len = 0;
        m->state_written = false;
        free(m->state_dir);
        m->state_dir = NULL;
}
