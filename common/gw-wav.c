/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-wav.c: RIFF/WAVE reading and atomic writing, 8 kHz 16-bit mono PCM only. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw-wav.h"
#include "gw-macro.h"

#define WAVE_FORMAT_PCM        1
#define WAVE_FORMAT_EXTENSIBLE 0xfffe

static void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

static int wav_error(char **ret_error, int r, const char *path, const char *fmt, ...) {
        va_list ap;
        char *msg = NULL, *full = NULL;

        if (!ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (msg && asprintf(&full, "%s: %s", path, msg) < 0)
                full = NULL;
        free(msg);
        free(*ret_error);
        *ret_error = full;
        return r;
}

static uint32_t rd32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint16_t rd16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static void wr32(uint8_t *p, uint32_t v) {
        p[0] = v & 0xff;
        p[1] = (v >> 8) & 0xff;
        p[2] = (v >> 16) & 0xff;
        p[3] = (v >> 24) & 0xff;
}

static void wr16(uint8_t *p, uint16_t v) {
        p[0] = v & 0xff;
        p[1] = (v >> 8) & 0xff;
}

/* Read exactly n bytes; -EBADMSG at a premature end. */
static int read_full(FILE *f, void *buf, size_t n) {
        if (n > 0 && fread(buf, 1, n, f) != n)
                return ferror(f) ? -EIO : -EBADMSG;
        return 0;
}

int gw_wav_read(const char *path, int16_t **ret_samples, size_t *ret_n, char **ret_error) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ int16_t *samples = NULL;
        uint8_t hdr[12], ch[8], fmt[40];
        bool have_fmt = false;
        int r;

        if (!path || !ret_samples || !ret_n)
                return -EINVAL;
        f = fopen(path, "re");
        if (!f)
                return wav_error(ret_error, -errno, path, "cannot open: %s", strerror(errno));

        r = read_full(f, hdr, sizeof hdr);
        if (r < 0 || memcmp(hdr, "RIFF", 4) != 0 || memcmp(hdr + 8, "WAVE", 4) != 0)
                return wav_error(ret_error, -EINVAL, path, "not a WAV file (no RIFF/WAVE header)");

        /* Walk the chunks: "fmt " must come before "data"; others (LIST, fact, ...) are skipped. */
        for (unsigned i = 0; i < 64; i++) {
                uint32_t size;

                r = read_full(f, ch, sizeof ch);
                if (r < 0)
                        return wav_error(ret_error, -EBADMSG, path, "no \"data\" chunk");
                size = rd32(ch + 4);

                if (memcmp(ch, "fmt ", 4) == 0) {
                        uint16_t format, channels, bits;
                        uint32_t rate;

                        if (size < 16 || size > sizeof fmt)
                                return wav_error(ret_error, -EBADMSG, path, "bad \"fmt \" chunk size %u", size);
                        r = read_full(f, fmt, size);
                        if (r < 0)
                                return wav_error(ret_error, -EBADMSG, path, "truncated \"fmt \" chunk");
                        if (size % 2 && fseek(f, 1, SEEK_CUR) < 0)
                                return wav_error(ret_error, -EBADMSG, path, "truncated \"fmt \" chunk");
                        format = rd16(fmt);
                        channels = rd16(fmt + 2);
                        rate = rd32(fmt + 4);
                        bits = rd16(fmt + 14);
                        /* WAVE_FORMAT_EXTENSIBLE: the real format is the sub-format GUID's first two bytes. */
                        if (format == WAVE_FORMAT_EXTENSIBLE && size >= 26)
                                format = rd16(fmt + 24);
                        if (format != WAVE_FORMAT_PCM || channels != 1 || rate != GW_WAV_RATE || bits != 16)
                                return wav_error(ret_error, -EOPNOTSUPP, path,
                                                 "format %u, %u channel(s), %u Hz, %u bits; only PCM (1), mono, 8000 Hz, 16 bits is supported",
                                                 format, channels, rate, bits);
                        have_fmt = true;
                        continue;
                }
                if (memcmp(ch, "data", 4) == 0) {
                        size_t n;

                        if (!have_fmt)
                                return wav_error(ret_error, -EBADMSG, path, "\"data\" before \"fmt \"");
                        if (size % 2)
                                return wav_error(ret_error, -EBADMSG, path, "odd \"data\" size %u", size);
                        n = size / 2;
                        if (n > GW_WAV_MAX_SAMPLES)
                                return wav_error(ret_error, -EFBIG, path, "%zu samples, more than the %u allowed",
                                                 n, GW_WAV_MAX_SAMPLES);
                        if (n > 0) {
                                samples = malloc(n * sizeof *samples);
                                if (!samples)
                                        return -ENOMEM;
                                r = read_full(f, samples, n * 2);
                                if (r < 0)
                                        return wav_error(ret_error, -EBADMSG, path,
                                                         "truncated: \"data\" says %u bytes", size);
                                for (size_t k = 0; k < n; k++)
                                        samples[k] = (int16_t) le16toh((uint16_t) samples[k]);
                        }
                        *ret_samples = TAKE_PTR(samples);
                        *ret_n = n;
                        return 0;
                }
                /* Skip an unknown chunk (padded to even size). */
                if (fseek(f, (long) size + (size % 2), SEEK_CUR) < 0)
                        return wav_error(ret_error, -EBADMSG, path, "truncated chunk");
        }
        return wav_error(ret_error, -EBADMSG, path, "no \"data\" chunk in the first 64 chunks");
}

int gw_wav_write(const char *path, const int16_t *samples, size_t n) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint8_t h[44];
        uint32_t data_len;
        int r;

        if (!path || (n > 0 && !samples) || n > GW_WAV_MAX_SAMPLES)
                return -EINVAL;
        data_len = (uint32_t) (n * 2);

        memcpy(h, "RIFF", 4);
        wr32(h + 4, 36 + data_len);
        memcpy(h + 8, "WAVEfmt ", 8);
        wr32(h + 16, 16);
        wr16(h + 20, WAVE_FORMAT_PCM);
        wr16(h + 22, 1);
        wr32(h + 24, GW_WAV_RATE);
        wr32(h + 28, GW_WAV_RATE * 2);
        wr16(h + 32, 2);
        wr16(h + 34, 16);
        memcpy(h + 36, "data", 4);
        wr32(h + 40, data_len);

        if (asprintf(&tmp, "%s.tmp-%d", path, (int) getpid()) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = 0;
        if (write(fd, h, sizeof h) != (ssize_t) sizeof h)
                r = -EIO;
        /* Little-endian samples, in blocks. */
        for (size_t off = 0; r == 0 && off < n;) {
                int16_t block[4096];
                size_t k = MIN(n - off, ELEMENTSOF(block));

                for (size_t i = 0; i < k; i++)
                        block[i] = (int16_t) htole16((uint16_t) samples[off + i]);
                if (write(fd, block, k * 2) != (ssize_t) (k * 2))
                        r = -EIO;
                off += k;
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}
