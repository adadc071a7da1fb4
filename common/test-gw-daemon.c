/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-daemon.c: the file helpers every daemon shares (mkdir -p, state files). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "gw-daemon.h"
#include "gw-test.h"
#include "gw-tests.h"

TEST(mkdir_parents) {
        const char *dir = gw_test_tmpdir("gw-test-daemon");
        char path[256], cmd[300];
        struct stat st;

        umask(022);
        snprintf(path, sizeof path, "%s/a/b/c", dir);
        ASSERT_OK(gw_mkdir_parents(path, 0700));
        ASSERT_EQ(stat(path, &st), 0);
        ASSERT_TRUE(S_ISDIR(st.st_mode));
        ASSERT_EQ(st.st_mode & 0777, 0700);
        snprintf(cmd, sizeof cmd, "%s/a", dir);
        ASSERT_EQ(stat(cmd, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0755);

        /* an existing directory is fine and keeps its mode */
        ASSERT_OK(gw_mkdir_parents(path, 0755));
        ASSERT_EQ(stat(path, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0700);
        /* a trailing slash names the same directory */
        snprintf(cmd, sizeof cmd, "%s/", path);
        ASSERT_OK(gw_mkdir_parents(cmd, 0700));

        ASSERT_ERROR(gw_mkdir_parents("", 0700), EINVAL);
        ASSERT_ERROR(gw_mkdir_parents("/proc/self/no/such", 0700), ENOENT);

        gw_test_rm_rf(dir);
}

DEFINE_TEST_MAIN
