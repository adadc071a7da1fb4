# SPDX-License-Identifier: LGPL-2.1-or-later
"""audio.py: WAV files for the simulated lines, and what the tests measure in them.

Standard library only. Everything is 8 kHz, 16-bit, mono PCM, the format of
the simulated line's play: and record: files.
"""

import math
import struct
import wave

RATE = 8000


def write_tone(path, freqs, seconds, level=0.25, rate=RATE):
    """A WAV of the sum of sine waves 'freqs' (Hz), peak 'level' of full scale."""
    freqs = freqs if isinstance(freqs, (list, tuple)) else [freqs]
    n = int(seconds * rate)
    amp = level * 32767 / max(1, len(freqs))
    frames = bytearray()
    for i in range(n):
        v = sum(math.sin(2 * math.pi * f * i / rate) for f in freqs) * amp
        frames += struct.pack("<h", int(round(v)))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def read(path):
    """(rate, [samples]) of a 16-bit mono WAV; ValueError for anything else."""
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("%s: not 16-bit mono (%d channels, %d bytes)" %
                             (path, w.getnchannels(), w.getsampwidth()))
        rate = w.getframerate()
        data = w.readframes(w.getnframes())
    return rate, list(struct.unpack("<%dh" % (len(data) // 2), data))


def goertzel_power(block, freq, rate=RATE):
    """Power of 'block' at 'freq' (Goertzel), normalised like the block's mean square."""
    n = len(block)
    if n == 0:
        return 0.0
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in block:
        s0 = x + k * s1 - s2
        s2, s1 = s1, s0
    p = s1 * s1 + s2 * s2 - k * s1 * s2
    return 2 * p / (n * n)


def mean_square(block):
    return sum(x * x for x in block) / len(block) if block else 0.0


def blocks(samples, ms=20, rate=RATE):
    n = rate * ms // 1000
    return [samples[i:i + n] for i in range(0, len(samples) - n + 1, n)]


def tone_fraction(samples, freqs, rate=RATE, min_rms=100.0):
    """Of the blocks (20 ms) that are not silent (rms >= min_rms): the fraction of
    their power that lies at 'freqs' (a tone of several frequencies sums them),
    averaged; and how many blocks were not silent."""
    freqs = freqs if isinstance(freqs, (list, tuple)) else [freqs]
    fr, loud = 0.0, 0
    for b in blocks(samples, 20, rate):
        ms = mean_square(b)
        if ms < min_rms * min_rms:
            continue
        loud += 1
        fr += min(1.0, sum(goertzel_power(b, f, rate) for f in freqs) / ms)
    return (fr / loud if loud else 0.0), loud


def dominant(samples, candidates, rate=RATE, min_rms=100.0):
    """Which of candidates (Hz, or lists of Hz) holds most of the non-silent power."""
    best, best_fr = None, -1.0
    for c in candidates:
        fr, _ = tone_fraction(samples, c, rate, min_rms)
        if fr > best_fr:
            best, best_fr = c, fr
    return best, best_fr


def cadence(samples, freqs, rate=RATE, ms=10, min_fraction=0.5, min_rms=100.0):
    """On/off runs of a tone: [(on: bool, duration_ms), ...] in 'ms' steps."""
    freqs = freqs if isinstance(freqs, (list, tuple)) else [freqs]
    runs = []
    for b in blocks(samples, ms, rate):
        ms_ = mean_square(b)
        on = ms_ >= min_rms * min_rms and sum(goertzel_power(b, f, rate) for f in freqs) / ms_ >= min_fraction
        if runs and runs[-1][0] == on:
            runs[-1][1] += ms
        else:
            runs.append([on, ms])
    return [(on, d) for on, d in runs]


def longest_gap_ms(samples, rate=RATE, ms=5, min_rms=100.0, start_after_ms=0):
    """Longest run of silent 'ms' blocks after the first loud one (and after start_after_ms)."""
    longest = cur = 0
    started = False
    for i, b in enumerate(blocks(samples, ms, rate)):
        if i * ms < start_after_ms:
            continue
        loud = mean_square(b) >= min_rms * min_rms
        if loud:
            started = True
            cur = 0
        elif started:
            cur += ms
            longest = max(longest, cur)
    return longest
