# SPDX-License-Identifier: LGPL-2.1-or-later
"""audio.py: WAV files for the simulated lines, and what the tests measure in them.

Standard library only. Everything is 8 kHz, 16-bit, mono PCM, the format of
the simulated line's play: and record: files.
"""

import bisect
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


def write_segments(path, segments, level=0.25, rate=RATE):
    """A WAV of consecutive tones: segments = [[freq (Hz, 0: silence), seconds], ...],
    each sine continuing the running sample index (a change of frequency is a
    change of phase too, not a gap)."""
    amp = level * 32767
    frames = bytearray()
    n = 0
    for freq, seconds in segments:
        for _ in range(int(round(seconds * rate))):
            v = math.sin(2 * math.pi * freq * n / rate) * amp if freq else 0.0
            frames += struct.pack("<h", int(round(v)))
            n += 1
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


DTMF_ROWS = (697, 770, 852, 941)
DTMF_COLS = (1209, 1336, 1477, 1633)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")


def dtmf_block(block, rate=RATE, min_rms=100.0, min_fraction=0.6, min_ratio=4.0):
    """The DTMF key in one block (a row and a column tone holding most of its power,
    each well above the other rows / columns), or None."""
    ms = mean_square(block)
    if ms < min_rms * min_rms:
        return None
    rows = sorted(((goertzel_power(block, f, rate), i) for i, f in enumerate(DTMF_ROWS)), reverse=True)
    cols = sorted(((goertzel_power(block, f, rate), i) for i, f in enumerate(DTMF_COLS)), reverse=True)
    if (rows[0][0] + cols[0][0]) / ms < min_fraction:
        return None
    if rows[0][0] < min_ratio * rows[1][0] or cols[0][0] < min_ratio * cols[1][0]:
        return None
    return DTMF_KEYS[rows[0][1]][cols[0][1]]


def dtmf_runs(samples, rate=RATE, ms=10, min_ms=30, **kw):
    """DTMF keys in the samples, in order: [(key, start_ms, duration_ms), ...] for each
    run of 'ms' blocks holding the same key lasting at least min_ms (a key held, then
    released and pressed again, is two runs)."""
    runs = []
    for i, b in enumerate(blocks(samples, ms, rate)):
        k = dtmf_block(b, rate, **kw)
        if runs and runs[-1][0] == k and runs[-1][1] + runs[-1][2] == i * ms:
            runs[-1][2] += ms
        else:
            runs.append([k, i * ms, ms])
    return [(k, s, d) for k, s, d in runs if k is not None and d >= min_ms]


def dtmf_digits(samples, rate=RATE, **kw):
    """The DTMF keys heard in the samples, as a string in order ('5#')."""
    return "".join(k for k, _, _ in dtmf_runs(samples, rate, **kw))


ULAW_BIAS = 0x84


def ulaw_decode(b):
    b = ~b & 0xff
    t = ((b & 0x0f) << 3) + ULAW_BIAS
    t <<= (b & 0x70) >> 4
    return (ULAW_BIAS - t) if b & 0x80 else (t - ULAW_BIAS)


def alaw_decode(b):
    b ^= 0x55
    t = (b & 0x0f) << 4
    seg = (b & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if b & 0x80 else -t


ULAW_TABLE = [ulaw_decode(i) for i in range(256)]
ALAW_TABLE = [alaw_decode(i) for i in range(256)]


def g711_decode(payload, law="pcmu"):
    """Linear samples of a G.711 payload (bytes), 'pcmu' or 'pcma'."""
    t = ULAW_TABLE if law == "pcmu" else ALAW_TABLE
    return [t[b] for b in payload]


def g711_encode_silence(law="pcmu"):
    """The code of a zero sample."""
    return 0xff if law == "pcmu" else 0xd5


def g711_encode(samples, law="pcmu"):
    """G.711 codes of linear samples: the code whose decoded value is nearest
    (exact for what decodes from a code; fine for the tests' tones)."""
    t = ULAW_TABLE if law == "pcmu" else ALAW_TABLE
    order = sorted(range(256), key=lambda c: t[c])
    values = [t[c] for c in order]
    out = bytearray()
    for s in samples:
        i = bisect.bisect_left(values, s)
        if i == len(values) or (i > 0 and s - values[i - 1] <= values[i] - s):
            i -= 1
        out.append(order[i])
    return bytes(out)


def tone_frame(freq, law="pcmu", level=0.25, n=160, rate=RATE):
    """One 20 ms G.711 frame of a sine at 'freq' (a multiple of 50 Hz, so frames join up)."""
    return g711_encode([round(level * 32767 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)], law)


def window_figures(samples, freqs, ms=100, rate=RATE, sub_ms=20):
    """Per window of 'ms': (start_ms, rms, fraction of its power at freqs). The fraction
    is taken per 'sub_ms' block (a 20 ms frame of the line) and weighted by the blocks'
    power, so a change from one of freqs to another between two frames counts as tone."""
    freqs = freqs if isinstance(freqs, (list, tuple)) else [freqs]
    out = []
    for i, b in enumerate(blocks(samples, ms, rate)):
        at, total = 0.0, 0.0
        for sb in blocks(b, min(sub_ms, ms), rate):
            e = mean_square(sb)
            if e > 0:
                at += min(1.0, sum(goertzel_power(sb, f, rate) for f in freqs) / e) * e
                total += e
        out.append((i * ms, math.sqrt(mean_square(b)), at / total if total > 0 else 0.0))
    return out


def onset_ms(samples, freq, other, start_ms, end_ms, rate=RATE, win_ms=10, step_ms=2.5, min_fraction=0.5):
    """The first time in [start_ms, end_ms) where a 'win_ms' window holds more power
    at 'freq' than at 'other' and at least min_fraction of its power at freq: where
    a change from 'other' to 'freq' arrived (the window's middle), or None."""
    n = rate * win_ms // 1000
    t = start_ms
    while t < end_ms:
        i = int(t * rate / 1000)
        b = samples[i:i + n]
        if len(b) < n:
            return None
        e = mean_square(b)
        if e > 0:
            pf, po = goertzel_power(b, freq, rate), goertzel_power(b, other, rate)
            if pf > po and pf / e >= min_fraction:
                return t + win_ms / 2.0
        t += step_ms
    return None
