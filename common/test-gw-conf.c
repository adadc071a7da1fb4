/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gw-conf.h"
#include "gw-tests.h"
TEST(placeholder) {}
DEFINE_TEST_MAIN
