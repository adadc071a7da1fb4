/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gwsupd-forward.h: typedefs shared by gwsupd's headers, to keep them free of include cycles. */
#pragma once

typedef struct Manager Manager;
typedef struct Child Child;
