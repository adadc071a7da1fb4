/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* regd-forward.h: typedefs of regd's objects, so headers need not include each other. */
#pragma once

typedef struct Manager Manager;
typedef struct Profile Profile;
typedef struct Proxy Proxy;
typedef struct Line Line;
