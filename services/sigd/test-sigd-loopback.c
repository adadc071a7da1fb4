/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder replaced below */
#include "gw-tests.h"
DEFINE_TEST_MAIN
