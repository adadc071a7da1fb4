/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-state.h: the registration state file that makes a regd restart invisible. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gw.pb-c.h"
#include "regd-forward.h"

/* Pack the state of every line. */
int regd_state_serialize(Manager *m, uint64_t now_real_us, uint8_t **ret, size_t *ret_len);
int regd_state_save(Manager *m);
/* Apply a packed state to the manager's lines. Returns the number of lines
 * kept registered, -EBADMSG if it does not unpack. */
int regd_state_apply(Manager *m, const uint8_t *data, size_t len, uint64_t now_real_us);
/* Apply one entry: 1 kept registered, 0 only its Call-ID/tag/CSeq adopted,
 * -EXDEV if it is for another number/profile/target, -ESTALE if it expires too soon. */
int regd_state_apply_line(Line *l, const Gw__RegdLineState *e, uint64_t now_real_us);
/* Read <state_dir>/registrations and apply it; a missing or corrupted file is
 * not an error (warning). Returns lines kept registered. */
int regd_state_load(Manager *m);
