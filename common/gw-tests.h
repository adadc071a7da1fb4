/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-tests.h: a tiny unit test harness. TEST(name) registers a test; main runs them all.
 * Exit status: 0 all passed, 1 a failure, 77 skipped (meson's convention). */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct GwTest {
        const char *name;
        void (*func)(void);
} GwTest;

#define GW_TESTS_MAX 256
extern GwTest gw_tests[GW_TESTS_MAX];
extern unsigned gw_tests_n;

#define TEST(name)                                                             \
        static void test_##name(void);                                         \
        __attribute__((constructor)) static void register_##name(void) {       \
                if (gw_tests_n < GW_TESTS_MAX)                                  \
                        gw_tests[gw_tests_n++] = (GwTest){ #name, test_##name }; \
        }                                                                      \
        static void test_##name(void)

#define GW_TEST_FAIL(...) do {                                                 \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                \
                fprintf(stderr, __VA_ARGS__);                                  \
                fputc('\n', stderr);                                           \
                abort();                                                       \
        } while (0)

#define ASSERT_TRUE(expr) do { if (!(expr)) GW_TEST_FAIL("Assertion failed: %s", #expr); } while (0)
#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))
#define ASSERT_OK(expr) do {                                                   \
                long long _r_ = (expr);                                        \
                if (_r_ < 0) GW_TEST_FAIL("'%s' failed: %lld (%s)", #expr, _r_, strerror((int) -_r_)); \
        } while (0)
#define ASSERT_ERROR(expr, err) do {                                           \
                long long _r_ = (expr);                                        \
                if (_r_ != -(long long)(err)) GW_TEST_FAIL("'%s' = %lld, expected -%s", #expr, _r_, #err); \
        } while (0)
#define ASSERT_EQ(a, b) do {                                                   \
                long long _a_ = (long long)(a), _b_ = (long long)(b);          \
                if (_a_ != _b_) GW_TEST_FAIL("'%s == %s' failed: %lld != %lld", #a, #b, _a_, _b_); \
        } while (0)
#define ASSERT_STREQ(a, b) do {                                                \
                const char *_a_ = (a), *_b_ = (b);                             \
                if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0)                     \
                        GW_TEST_FAIL("'%s == %s' failed: \"%s\" != \"%s\"", #a, #b, _a_ ? _a_ : "(null)", _b_ ? _b_ : "(null)"); \
        } while (0)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)

/* Provide main() in exactly one translation unit per test binary. */
#define DEFINE_TEST_MAIN                                                       \
        GwTest gw_tests[GW_TESTS_MAX];                                         \
        unsigned gw_tests_n;                                                   \
        int main(int argc, char **argv) {                                      \
                for (unsigned _i_ = 0; _i_ < gw_tests_n; _i_++) {              \
                        if (argc > 1 && strcmp(argv[1], gw_tests[_i_].name) != 0) \
                                continue;                                      \
                        fprintf(stderr, "=== %s\n", gw_tests[_i_].name);       \
                        gw_tests[_i_].func();                                  \
                }                                                              \
                fprintf(stderr, "%u tests passed\n", gw_tests_n);              \
                return 0;                                                      \
        }
