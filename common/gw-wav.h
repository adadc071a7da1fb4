/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-wav.h: the one WAV format fxsgw reads and writes: 8 kHz, 16-bit linear PCM, mono.
 *
 * Used by the simulated line (lines[].play and .record), the integration
 * tests and benchmarks. Anything else (stereo, other rates or sample sizes,
 * compressed formats, WAVE_FORMAT_EXTENSIBLE other than PCM) is refused with
 * a message saying what the file is, never converted. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define GW_WAV_RATE 8000
/* 10 minutes of audio: a longer file is refused (-EFBIG), so a stray large
 * file cannot eat the memory of a daemon. */
#define GW_WAV_MAX_SAMPLES (GW_WAV_RATE * 600)

/* Read all samples of 'path'. *ret_samples is malloc'd (NULL for an empty
 * file). On failure returns -errno (-EINVAL: not a WAV, -EOPNOTSUPP: a WAV in
 * another format, -EBADMSG: truncated or inconsistent, -EFBIG: too long) and,
 * if ret_error, a malloc'd message "FILE: what is wrong". */
int gw_wav_read(const char *path, int16_t **ret_samples, size_t *ret_n, char **ret_error);

/* Write 'n' samples as a complete file, atomically: a reader sees the old
 * file or the new one, never a partial one (tmp file in the same directory,
 * fsync, rename). */
int gw_wav_write(const char *path, const int16_t *samples, size_t n);
