/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-gw-wav.c: WAV round trip, chunks skipped, other formats and broken files refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw-test.h"
#include "gw-tests.h"
#include "gw-wav.h"

static const char *dir;

static void put_file(const char *path, const void *data, size_t n) {
        FILE *f = fopen(path, "we");
        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fwrite(data, 1, n, f), n);
        ASSERT_EQ(fclose(f), 0);
}

static size_t header(uint8_t *h, uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits, uint32_t data_len) {
        memcpy(h, "RIFF", 4);
        uint32_t riff = 36 + data_len;
        memcpy(h + 4, &riff, 4);
        memcpy(h + 8, "WAVEfmt ", 8);
        uint32_t fl = 16;
        memcpy(h + 16, &fl, 4);
        memcpy(h + 20, &format, 2);
        memcpy(h + 22, &channels, 2);
        memcpy(h + 24, &rate, 4);
        uint32_t br = rate * channels * bits / 8;
        memcpy(h + 28, &br, 4);
        uint16_t ba = channels * bits / 8;
        memcpy(h + 32, &ba, 2);
        memcpy(h + 34, &bits, 2);
        memcpy(h + 36, "data", 4);
        memcpy(h + 40, &data_len, 4);
        return 44;
}

static void expect_refused(const char *name, const void *data, size_t n, int err, const char *words) {
        char path[256];
        int16_t *s = NULL;
        size_t ns = 0;
        char *msg = NULL;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        put_file(path, data, n);
        ASSERT_ERROR(gw_wav_read(path, &s, &ns, &msg), err);
        ASSERT_NOT_NULL(msg);
        ASSERT_NOT_NULL(strstr(msg, path));
        ASSERT_NOT_NULL(strstr(msg, words));
        ASSERT_TRUE(s == NULL);
        free(msg);
}

TEST(round_trip) {
        char path[256];
        int16_t in[1000], *out = NULL;
        size_t n = 0;

        dir = gw_test_tmpdir("gw-test-wav");
        for (int i = 0; i < 1000; i++)
                in[i] = (int16_t) (i * 65 - 32768);
        snprintf(path, sizeof path, "%s/a.wav", dir);
        ASSERT_OK(gw_wav_write(path, in, 1000));
        ASSERT_OK(gw_wav_read(path, &out, &n, NULL));
        ASSERT_EQ(n, 1000);
        ASSERT_EQ(memcmp(in, out, sizeof in), 0);
        free(out);

        /* the file is a canonical 44-byte-header WAV */
        FILE *f = fopen(path, "re");
        uint8_t h[44];
        ASSERT_EQ(fread(h, 1, 44, f), 44);
        fclose(f);
        ASSERT_EQ(memcmp(h, "RIFF", 4), 0);
        ASSERT_EQ(memcmp(h + 8, "WAVEfmt ", 8), 0);
        ASSERT_EQ(h[24] | h[25] << 8, 8000);

        /* rewriting replaces it completely, and an empty one is valid */
        ASSERT_OK(gw_wav_write(path, in, 0));
        out = NULL;
        ASSERT_OK(gw_wav_read(path, &out, &n, NULL));
        ASSERT_EQ(n, 0);
        free(out);
        /* no temporary file left behind */
        char cmd[512];
        snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", dir);
        ASSERT_EQ(system(cmd), 0);
}

TEST(chunks_skipped) {
        uint8_t buf[200];
        char path[256];
        int16_t *out = NULL;
        size_t n = 0, k;

        /* RIFF, fmt, a LIST chunk of odd size (padded), then data of 2 samples */
        k = header(buf, 1, 1, 8000, 16, 4);
        memmove(buf + 36 + 14, buf + 36, 8);
        memcpy(buf + 36, "LIST", 4);
        uint32_t ls = 5;
        memcpy(buf + 40, &ls, 4);
        memcpy(buf + 44, "abcde\0", 6);
        k += 14;
        int16_t two[2] = { 1234, -1234 };
        memcpy(buf + k, two, 4);
        snprintf(path, sizeof path, "%s/list.wav", dir);
        put_file(path, buf, k + 4);
        ASSERT_OK(gw_wav_read(path, &out, &n, NULL));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(out[0], 1234);
        ASSERT_EQ(out[1], -1234);
        free(out);
}

TEST(refused) {
        uint8_t buf[200] = {};
        size_t k;

        expect_refused("text.wav", "hello, world, not a wav", 23, EINVAL, "not a WAV");
        k = header(buf, 1, 2, 8000, 16, 8);
        expect_refused("stereo.wav", buf, k + 8, EOPNOTSUPP, "2 channel(s)");
        k = header(buf, 1, 1, 16000, 16, 8);
        expect_refused("16k.wav", buf, k + 8, EOPNOTSUPP, "16000 Hz");
        k = header(buf, 1, 1, 8000, 8, 8);
        expect_refused("8bit.wav", buf, k + 8, EOPNOTSUPP, "8 bits");
        k = header(buf, 7, 1, 8000, 8, 8);
        expect_refused("ulaw.wav", buf, k + 8, EOPNOTSUPP, "format 7");
        k = header(buf, 1, 1, 8000, 16, 100);
        expect_refused("short.wav", buf, k + 10, EBADMSG, "truncated");
        k = header(buf, 1, 1, 8000, 16, 3);
        expect_refused("odd.wav", buf, k + 4, EBADMSG, "odd");
        k = header(buf, 1, 1, 8000, 16, 0);
        expect_refused("nodata.wav", buf, 36, EBADMSG, "no \"data\"");
        k = header(buf, 1, 1, 8000, 16, 0xfffffff0u);
        expect_refused("huge.wav", buf, k + 8, EFBIG, "more than");

        char path[256], *msg = NULL;
        int16_t *s = NULL;
        size_t n;
        snprintf(path, sizeof path, "%s/missing.wav", dir);
        ASSERT_ERROR(gw_wav_read(path, &s, &n, &msg), ENOENT);
        ASSERT_NOT_NULL(strstr(msg, "cannot open"));
        free(msg);

        /* writing into a missing directory fails and leaves nothing */
        ASSERT_ERROR(gw_wav_write("/nonexistent-dir/x.wav", (int16_t[]) { 1 }, 1), ENOENT);

        gw_test_rm_rf(dir);
}

DEFINE_TEST_MAIN
