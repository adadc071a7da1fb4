/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linehwd-backend.c: backend selection and the names of line states. */
#include <stdlib.h>
#include <string.h>

#include "linehwd-backend.h"

static const char *const hook_table[_LINE_HOOK_MAX] = {
        [LINE_HOOK_ON] = "on-hook",
        [LINE_HOOK_OFF] = "off-hook",
};
static const char *const polarity_table[_LINE_POLARITY_MAX] = {
        [LINE_POLARITY_NORMAL] = "normal",
        [LINE_POLARITY_REVERSED] = "reversed",
};
static const char *const feed_table[_LINE_FEED_MAX] = {
        [LINE_FEED_ACTIVE] = "active",
        [LINE_FEED_STANDBY] = "standby",
        [LINE_FEED_DISCONNECT] = "disconnect",
};

static int from_table(const char *const *t, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (t[i] && streq(t[i], s))
                        return (int) i;
        return -EINVAL;
}

const char *line_hook_to_string(LineHook h) {
        return h >= 0 && h < _LINE_HOOK_MAX ? hook_table[h] : NULL;
}
LineHook line_hook_from_string(const char *s) {
        return (LineHook) from_table(hook_table, ELEMENTSOF(hook_table), s);
}
const char *line_polarity_to_string(LinePolarity p) {
        return p >= 0 && p < _LINE_POLARITY_MAX ? polarity_table[p] : NULL;
}
LinePolarity line_polarity_from_string(const char *s) {
        return (LinePolarity) from_table(polarity_table, ELEMENTSOF(polarity_table), s);
}
const char *line_feed_to_string(LineFeed f) {
        return f >= 0 && f < _LINE_FEED_MAX ? feed_table[f] : NULL;
}
LineFeed line_feed_from_string(const char *s) {
        return (LineFeed) from_table(feed_table, ELEMENTSOF(feed_table), s);
}

static const LineBackendOps *const backends[] = {
        &line_backend_sim_ops,
};

int line_backend_new(const char *name, const unsigned *ports, size_t n_ports, LineBackend **ret) {
        _cleanup_(line_backend_freep) LineBackend *b = NULL;
        const LineBackendOps *ops = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(backends); i++)
                if (streq_ptr(backends[i]->name, name))
                        ops = backends[i];
        if (!ops)
                return -EOPNOTSUPP;

        for (size_t i = 0; i < n_ports; i++) {
                if (ports[i] == 0)
                        return -EINVAL;
                for (size_t k = 0; k < i; k++)
                        if (ports[k] == ports[i])
                                return -EINVAL;
        }

        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        if (n_ports > 0) {
                b->ports = calloc(n_ports, sizeof *b->ports);
                if (!b->ports)
                        return -ENOMEM;
                memcpy(b->ports, ports, n_ports * sizeof *ports);
        }
        b->n_ports = n_ports;
        r = ops->init(b, ports, n_ports);
        if (r < 0)
                return r;
        b->ops = ops;                    /* set last: free calls done() only after init */
        *ret = TAKE_PTR(b);
        return 0;
}

LineBackend *line_backend_free(LineBackend *b) {
        if (!b)
                return NULL;
        if (b->ops && b->ops->done)
                b->ops->done(b);
        free(b->ports);
        free(b);
        return NULL;
}

void line_backend_set_hook_callback(LineBackend *b, line_hook_cb_t cb, void *userdata) {
        b->hook_cb = cb;
        b->hook_userdata = userdata;
}

size_t line_backend_n_ports(const LineBackend *b) {
        return b->n_ports;
}

int line_backend_set_ports(LineBackend *b, const unsigned *ports, size_t n_ports) {
        unsigned *copy = NULL;
        int r;

        if (!b->ops->set_ports)
                return -EOPNOTSUPP;
        for (size_t i = 0; i < n_ports; i++) {
                if (ports[i] == 0)
                        return -EINVAL;
                for (size_t k = 0; k < i; k++)
                        if (ports[k] == ports[i])
                                return -EINVAL;
        }
        if (n_ports > 0) {
                copy = malloc(n_ports * sizeof *copy);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, ports, n_ports * sizeof *ports);
        }
        r = b->ops->set_ports(b, ports, n_ports);
        if (r < 0) {
                free(copy);
                return r;
        }
        free(b->ports);
        b->ports = copy;
        b->n_ports = n_ports;
        return 0;
}
