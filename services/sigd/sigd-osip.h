/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-osip.h: libosip2 in our conventions: its OSIP_* errors as negative
 * errno, and a scope guard for its messages. */
#pragma once

#include <errno.h>
#include <osipparser2/osip_parser.h>

#include "gw-macro.h"

/* libosip2's result as ours: 0 (or a positive count) stays, each OSIP_* error
 * becomes one errno. A caller converts right at the call:
 *     r = osip_to_errno(osip_message_set_via(msg, buf));
 *     if (r < 0)
 *             return r; */
static inline int osip_to_errno(int r) {
        if (r >= 0)
                return r;
        switch (r) {
        case OSIP_BADPARAMETER:         return -EINVAL;
        case OSIP_WRONG_STATE:          return -EBUSY;
        case OSIP_NOMEM:                return -ENOMEM;
        case OSIP_SYNTAXERROR:          return -EBADMSG;
        case OSIP_NOTFOUND:             return -ENOENT;
        case OSIP_API_NOT_INITIALIZED:  return -ENXIO;
        case OSIP_NO_NETWORK:           return -ENETDOWN;
        case OSIP_PORT_BUSY:            return -EADDRINUSE;
        case OSIP_UNKNOWN_HOST:         return -EHOSTUNREACH;
        case OSIP_TIMEOUT:              return -ETIMEDOUT;
        case OSIP_WRONG_FORMAT:         return -EBADMSG;
        default:                        return -EIO;     /* OSIP_UNDEFINED_ERROR and the rest */
        }
}

/* _cleanup_(osip_message_freep) osip_message_t *msg = NULL; ... *ret = TAKE_PTR(msg); */
DEFINE_TRIVIAL_CLEANUP_FUNC(osip_message_t *, osip_message_free);
