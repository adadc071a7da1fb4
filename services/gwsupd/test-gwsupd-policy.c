/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gwsupd-policy.c: restart back-off and the sliding restart window. */
#include "gw-tests.h"
#include "gwsupd-manager.h"
#include "gwsupd-policy.h"

DEFINE_TEST_MAIN;

#define MS(x) ((uint64_t) (x) * USEC_PER_MSEC)
#define S(x)  ((uint64_t) (x) * USEC_PER_SEC)

TEST(gwsupd_backoff_doubles_to_cap) {
        static const uint64_t expected_ms[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };

        for (unsigned i = 0; i < ELEMENTSOF(expected_ms); i++)
                ASSERT_EQ(restart_backoff_usec(i), MS(expected_ms[i]));
        ASSERT_EQ(restart_backoff_usec(63), RESTART_BACKOFF_MAX_USEC);
        ASSERT_EQ(restart_backoff_usec(UINT32_MAX), RESTART_BACKOFF_MAX_USEC);
}

TEST(gwsupd_first_restart_at_once_after_a_run) {
        ASSERT_EQ(restart_delay_usec(0, S(1)), 0);               /* READY >= 1 s: at once */
        ASSERT_EQ(restart_delay_usec(0, S(3600)), 0);
        ASSERT_EQ(restart_delay_usec(0, 0), MS(100));            /* never READY: back-off */
        ASSERT_EQ(restart_delay_usec(0, S(1) - 1), MS(100));
        ASSERT_EQ(restart_delay_usec(1, S(5)), MS(200));         /* again within 10 s: back-off */
        ASSERT_EQ(restart_delay_usec(3, 0), MS(800));
}

TEST(gwsupd_backoff_reset_after_10s_ready) {
        ASSERT_FALSE(restart_backoff_should_reset(0, S(100)));         /* never READY */
        ASSERT_FALSE(restart_backoff_should_reset(S(50), S(59)));      /* 9 s */
        ASSERT_FALSE(restart_backoff_should_reset(S(50), S(60) - 1));
        ASSERT_TRUE(restart_backoff_should_reset(S(50), S(60)));       /* exactly 10 s */
        ASSERT_TRUE(restart_backoff_should_reset(S(50), S(3600)));
        ASSERT_FALSE(restart_backoff_should_reset(S(50), S(40)));      /* clock before READY: no */
}

TEST(gwsupd_window_allows_limit_then_refuses) {
        RestartWindow w;

        ASSERT_OK(restart_window_init(&w, 3));
        ASSERT_TRUE(restart_window_admit(&w, S(1)));
        ASSERT_TRUE(restart_window_admit(&w, S(2)));
        ASSERT_TRUE(restart_window_admit(&w, S(3)));
        ASSERT_EQ(restart_window_count(&w, S(3)), 3);
        /* The 4th within 60 s is more than the limit. */
        ASSERT_FALSE(restart_window_admit(&w, S(4)));
        ASSERT_FALSE(restart_window_admit(&w, S(60)));
        ASSERT_EQ(restart_window_count(&w, S(60)), 3);
        /* At 61 s the one from 1 s has left the window (it is (now-60 s, now]). */
        ASSERT_EQ(restart_window_count(&w, S(61)), 2);
        ASSERT_TRUE(restart_window_admit(&w, S(61)));
        ASSERT_FALSE(restart_window_admit(&w, S(61) + 1));
        ASSERT_TRUE(restart_window_admit(&w, S(62)));
        ASSERT_EQ(restart_window_count(&w, S(62)), 3);
        /* Long quiet: everything expired. */
        ASSERT_EQ(restart_window_count(&w, S(1000)), 0);
        ASSERT_TRUE(restart_window_admit(&w, S(1000)));
        restart_window_done(&w);
}

TEST(gwsupd_window_sliding_not_fixed) {
        RestartWindow w;

        /* 10 restarts spread so that any 60 s hold at most 10: always allowed,
         * even though a fixed window starting at the first would count more. */
        ASSERT_OK(restart_window_init(&w, 10));
        for (unsigned i = 0; i < 100; i++)
                ASSERT_TRUE(restart_window_admit(&w, S(1) + i * MS(6001)));
        restart_window_done(&w);

        /* A crash loop at the back-off pace (0.1, 0.2, ... 5 s) hits the limit
         * of 10 on the 11th restart, about 30 s in. */
        ASSERT_OK(restart_window_init(&w, 10));
        uint64_t t = S(5);
        unsigned admitted = 0;
        for (unsigned i = 0; i < 20; i++) {
                t += restart_backoff_usec(i);
                if (!restart_window_admit(&w, t))
                        break;
                admitted++;
        }
        ASSERT_EQ(admitted, 10);
        fprintf(stderr, "crash loop given up after %u restarts, %.1f s\n", admitted,
                (double) (t - S(5)) / USEC_PER_SEC);
        restart_window_done(&w);
}

TEST(gwsupd_window_zero_limit) {
        RestartWindow w;

        ASSERT_OK(restart_window_init(&w, 0));
        ASSERT_FALSE(restart_window_admit(&w, S(1)));
        ASSERT_EQ(restart_window_count(&w, S(1)), 0);
        restart_window_done(&w);
}

TEST(gwsupd_children_env) {
        char *names[4] = {}, *paths[4] = {};

        ASSERT_EQ(manager_parse_children_env("mediad:/x/mediad,hang:/tmp/f-hang", names, paths, 4), 2);
        ASSERT_STREQ(names[0], "mediad");
        ASSERT_STREQ(paths[0], "/x/mediad");
        ASSERT_STREQ(names[1], "hang");
        ASSERT_STREQ(paths[1], "/tmp/f-hang");
        for (int i = 0; i < 2; i++) {
                free(names[i]);
                free(paths[i]);
        }
        ASSERT_ERROR(manager_parse_children_env("", names, paths, 4), EINVAL);
        ASSERT_ERROR(manager_parse_children_env("mediad", names, paths, 4), EINVAL);
        ASSERT_ERROR(manager_parse_children_env("mediad:relative/path", names, paths, 4), EINVAL);
        ASSERT_ERROR(manager_parse_children_env("a:/x,a:/y", names, paths, 4), EINVAL);
        ASSERT_ERROR(manager_parse_children_env("a:/x,", names, paths, 4), EINVAL);
        ASSERT_ERROR(manager_parse_children_env("Bad Name:/x", names, paths, 4), EINVAL);
        ASSERT_ERROR(manager_parse_children_env("a:/1,b:/2,c:/3", names, paths, 2), EINVAL);
        ASSERT_TRUE(names[0] == NULL && paths[0] == NULL);
}
