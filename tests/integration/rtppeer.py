#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""rtppeer.py: a small RTP end point for the integration tests (standard library only).

    rtppeer.py --local IP:PORT --result FILE [--law pcmu|pcma] [--pt N] [--te-pt 101]
               [--send-digits 5#] [--send-after 1.0] [--event-ms 200] [--gap-ms 200]
               [--expect-digits 79] [--min-run 0] [--tail 0.5] [--timeout 30]
               [--tone HZ] [--inject-from IP [--inject-tone HZ]] [--malformed-every N]
               [--ssrc-change-after S]

It waits on IP:PORT (the address the SIP peer's SDP gave) for the gateway's RTP and
answers symmetrically (to where that came from, from IP:PORT), every 20 ms:
G.711 silence, and --send-after seconds after the first packet the RFC 4733 events
--send-digits (RFC 4733 §2.5.1: a start packet with the marker bit, updates every
20 ms with the same timestamp and a growing duration, the end bit set on the last
one, sent three times; audio is suppressed while an event lasts, --gap-ms of
silence between two events).

What it receives it records: each RFC 4733 event (one per timestamp: key, end bit,
how many end packets, volume, final duration, whether the duration never shrank and
the first packet had the marker) and the G.711 audio, which it searches for DTMF
(audio.py's Goertzel detector) to tell whether a digit also went in-band.

--tone sends a sine (a multiple of 50 Hz) instead of silence. The hostile modes
play an attacker and a misbehaving peer against the gateway's RTP discipline:
--inject-from IP sends, from another socket on IP (a source the gateway did not
negotiate), a copy of our stream (same SSRC, sequence and timestamps) carrying
--inject-tone instead, one packet per tick; --malformed-every N sends, from our
own address, every N ticks one malformed packet (in turn: short, version 0, CSRC
count past the end, extension past the end, padding past the end);
--ssrc-change-after S restarts our stream S seconds after the first packet with
a new SSRC, sequence and timestamp (as a B2BUA switching its media source).

It stops once it has sent its digits and received an ended event for each of
--expect-digits (then --tail seconds more, and not before --min-run seconds after
the first packet), at --timeout, or on SIGTERM, and writes FILE (JSON):

  {"remote": "ip:port", "rtp_rx": n, "audio_rx": n, "events_rx_packets": n,
   "payload_types": [..], "events": [{"key": "7", "end": true, "end_packets": 3,
   "duration": 1120, "volume": 10, "marker": true, "monotonic": true,
   "packets": n, "ts": n}, ...],
   "digits": "79" (keys of the ended events, in order), "inband_digits": "",
   "inband_runs": [[key, start_ms, ms], ...], "sent_digits": "5#", "sent_packets": n,
   "stopped": "done" | "timeout" | "signal"}

Exit 0 once the file is written (the case checks its contents), 2 on bad usage.
"""

import argparse
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402

EVENT_KEYS = "0123456789*#ABCD"
FRAME = 160                    # 20 ms at 8 kHz


class Stop(Exception):
    pass


def rtp_header(marker, pt, seq, ts, ssrc):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xffff, ts & 0xffffffff, ssrc)


def parse(pkt):
    """(pt, marker, seq, ts, ssrc, payload) of an RTP packet, or None."""
    if len(pkt) < 12 or pkt[0] >> 6 != 2:
        return None
    cc = pkt[0] & 0x0f
    n = 12 + 4 * cc
    if pkt[0] & 0x10:                      # header extension
        if len(pkt) < n + 4:
            return None
        n += 4 + 4 * struct.unpack("!H", pkt[n + 2:n + 4])[0]
    end = len(pkt)
    if pkt[0] & 0x20:                      # padding
        end -= pkt[-1]
    if n > end:
        return None
    _, b1, seq, ts, ssrc = struct.unpack("!BBHII", pkt[:12])
    return b1 & 0x7f, bool(b1 & 0x80), seq, ts, ssrc, pkt[n:end]


class Sender:
    """Our stream: 20 ms ticks of silence, events replacing the audio while they last."""

    def __init__(self, a):
        self.a = a
        self.seq = random.randint(0, 0xffff)
        self.ts = random.randint(0, 0x7fffffff)
        self.ssrc = random.randint(1, 0xffffffff)
        self.silence = bytes([audio.g711_encode_silence(a.law)]) * FRAME
        if a.tone:
            self.silence = audio.tone_frame(a.tone, a.law)
        self.ssrcs = [self.ssrc]
        self.inject = audio.tone_frame(a.inject_tone, a.law) if a.inject_from else None
        self.injected = 0
        self.malformed = 0
        self.ticks = 0
        self.first = True
        self.packets = 0
        self.plan = []             # per tick: None (audio) or (key, tick in event, ticks)
        gap = max(1, a.gap_ms // 20)
        ev = max(2, a.event_ms // 20)
        for k in a.send_digits:
            self.plan += [None] * gap
            self.plan += [(k, i, ev) for i in range(ev)]
        self.plan += [None] * gap
        self.started = None        # monotonic time events start
        self.ev_ts = 0
        self.sent_digits = ""

    def packet(self, marker, pt, ts, payload):
        p = rtp_header(marker, pt, self.seq, ts, self.ssrc) + payload
        self.seq += 1
        self.packets += 1
        return p

    def restart_stream(self):
        self.ssrc = random.randint(1, 0xffffffff)
        self.seq = random.randint(0, 0xffff)
        self.ts = random.randint(0, 0x7fffffff)
        self.first = True
        self.ssrcs.append(self.ssrc)

    MALFORMED = ("short", "version", "csrc", "extension", "padding")

    def malformed_packet(self):
        kind = self.MALFORMED[self.malformed % len(self.MALFORMED)]
        hdr = bytearray(rtp_header(False, self.a.pt, self.seq, self.ts, self.ssrc))
        body = bytearray(self.silence)
        if kind == "short":
            return bytes(hdr[:8])
        if kind == "version":
            hdr[0] = 0x00
        elif kind == "csrc":
            hdr[0] = 0x8f                  # 15 CSRCs: 60 bytes, the packet has 12 + 8
            body = body[:8]
        elif kind == "extension":
            hdr[0] = 0x90                  # X: a 4-byte extension header claiming 0xffff words
            body = bytearray(struct.pack("!HH", 0xbede, 0xffff)) + body
        elif kind == "padding":
            hdr[0] = 0xa0
            body[-1] = 0xff                # 255 bytes of padding in a 172-byte packet
        return bytes(hdr + body)

    def tick(self, sock, remote, now, isock=None):
        """One 20 ms tick: the packets to send now."""
        out = []
        step = None
        self.ticks += 1
        if self.inject is not None and isock is not None:
            isock.sendto(rtp_header(False, self.a.pt, self.seq, self.ts, self.ssrc) + self.inject, remote)
            self.injected += 1
        if self.a.malformed_every and self.ticks % self.a.malformed_every == 0:
            sock.sendto(self.malformed_packet(), remote)
            self.malformed += 1
        if self.started is not None and now >= self.started and self.plan:
            step = self.plan.pop(0)
        if step is None:
            out.append(self.packet(self.first, self.a.pt, self.ts, self.silence))
            self.first = False
        else:
            k, i, n = step
            code = EVENT_KEYS.index(k)
            if i == 0:
                self.ev_ts = self.ts
            dur = (i + 1) * FRAME
            end = i == n - 1
            payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, dur)
            for _ in range(3 if end else 1):
                out.append(self.packet(i == 0, self.a.te_pt, self.ev_ts, payload))
            if end:
                self.sent_digits += k
        self.ts += FRAME
        for p in out:
            sock.sendto(p, remote)

    def done(self):
        return self.started is not None and not self.plan


class Receiver:
    def __init__(self, a):
        self.a = a
        self.rtp_rx = 0
        self.audio_rx = 0
        self.ev_packets = 0
        self.pts = set()
        self.events = []
        self.by_ts = {}
        self.pcm = []

    def packet(self, pkt):
        r = parse(pkt)
        if r is None:
            return
        pt, marker, seq, ts, ssrc, payload = r
        self.rtp_rx += 1
        self.pts.add(pt)
        if pt == self.a.te_pt:
            if len(payload) < 4:
                return
            self.ev_packets += 1
            code, flags, dur = struct.unpack("!BBH", payload[:4])
            key = EVENT_KEYS[code] if code < len(EVENT_KEYS) else "ev%d" % code
            e = self.by_ts.get((ssrc, ts))
            if e is None:
                e = {"key": key, "ts": ts, "marker": marker, "end": False, "end_packets": 0,
                     "duration": dur, "volume": flags & 0x3f, "monotonic": True, "packets": 0,
                     "keys": [key]}
                self.by_ts[(ssrc, ts)] = e
                self.events.append(e)
            if key not in e["keys"]:
                e["keys"].append(key)
            e["packets"] += 1
            if dur < e["duration"]:
                e["monotonic"] = False
            e["duration"] = max(e["duration"], dur)
            if flags & 0x80:
                e["end"] = True
                e["end_packets"] += 1
        elif pt == self.a.pt:
            self.audio_rx += 1
            self.pcm += audio.g711_decode(payload, self.a.law)

    def ended_digits(self):
        return "".join(e["key"] for e in self.events if e["end"])


def main():
    ap = argparse.ArgumentParser(description="RFC 4733 / G.711 RTP peer for the tests")
    ap.add_argument("--local", required=True)
    ap.add_argument("--result", required=True)
    ap.add_argument("--law", choices=("pcmu", "pcma"), default="pcmu")
    ap.add_argument("--pt", type=int)
    ap.add_argument("--te-pt", type=int, default=101)
    ap.add_argument("--send-digits", default="")
    ap.add_argument("--send-after", type=float, default=1.0)
    ap.add_argument("--event-ms", type=int, default=200)
    ap.add_argument("--gap-ms", type=int, default=200)
    ap.add_argument("--expect-digits", default="")
    ap.add_argument("--min-run", type=float, default=0.0)
    ap.add_argument("--tail", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--tone", type=int, default=0)
    ap.add_argument("--inject-from")
    ap.add_argument("--inject-tone", type=int, default=2000)
    ap.add_argument("--malformed-every", type=int, default=0)
    ap.add_argument("--ssrc-change-after", type=float)
    a = ap.parse_args()
    for f in (a.tone, a.inject_tone):
        if f < 0 or f % 50:
            ap.error("--tone/--inject-tone: a multiple of 50 Hz")
    if a.pt is None:
        a.pt = 0 if a.law == "pcmu" else 8
    if any(k not in EVENT_KEYS for k in a.send_digits):
        ap.error("--send-digits: only %s" % EVENT_KEYS)
    ip, port = a.local.rsplit(":", 1)

    def on_term(sig, _f):
        raise Stop()
    signal.signal(signal.SIGTERM, on_term)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ip, int(port)))
    isock = None
    if a.inject_from:
        isock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        isock.bind((a.inject_from, 0))
    print("rtppeer: on %s, result %s" % (a.local, a.result), flush=True)
    snd, rcv = Sender(a), Receiver(a)
    remote = None
    first_at = None
    done_at = None
    stopped = "timeout"
    t0 = time.monotonic()
    next_tick = None
    try:
        while True:
            now = time.monotonic()
            if now - t0 > a.timeout:
                break
            wait = 0.2 if next_tick is None else max(0.0, next_tick - now)
            r, _, _ = select.select([sock], [], [], wait)
            if r:
                pkt, src = sock.recvfrom(2048)
                if remote is None:
                    remote, first_at = src, time.monotonic()
                    snd.started = first_at + a.send_after
                    next_tick = first_at
                    print("rtppeer: first packet from %s:%d" % src, flush=True)
                if src == remote:
                    rcv.packet(pkt)
            now = time.monotonic()
            if next_tick is not None and now >= next_tick:
                if a.ssrc_change_after is not None and len(snd.ssrcs) == 1 and \
                        now - first_at >= a.ssrc_change_after:
                    snd.restart_stream()
                snd.tick(sock, remote, now, isock)
                next_tick += 0.020
                if next_tick < now - 0.1:          # stalled: do not burst to catch up
                    next_tick = now + 0.020
            if done_at is None and snd.done() and now - first_at >= a.min_run and \
                    all(d in rcv.ended_digits() for d in a.expect_digits):
                done_at = now
            if done_at is not None and now - done_at >= a.tail:
                stopped = "done"
                break
    except Stop:
        stopped = "signal"
    runs = audio.dtmf_runs(rcv.pcm)
    res = {
        "remote": "%s:%d" % remote if remote else None,
        "rtp_rx": rcv.rtp_rx, "audio_rx": rcv.audio_rx, "events_rx_packets": rcv.ev_packets,
        "payload_types": sorted(rcv.pts), "events": rcv.events, "digits": rcv.ended_digits(),
        "inband_digits": "".join(k for k, _, _ in runs), "inband_runs": [list(x) for x in runs],
        "sent_digits": snd.sent_digits, "sent_packets": snd.packets, "stopped": stopped,
        "injected": snd.injected, "malformed_sent": snd.malformed, "ssrcs": snd.ssrcs,
    }
    tmp = a.result + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
    os.rename(tmp, a.result)
    print("rtppeer: %s: %s" % (stopped, json.dumps(res)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
