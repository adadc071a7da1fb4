#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""rtprelay.py: a lossy, jittery UDP relay for RTP between two lines of the gateway
(integration tests; standard library only).

    rtprelay.py --listen IP --ports MIN-MAX --to GW_IP --result FILE
                [--phase SECONDS:LOSS_PERCENT:JITTER_MS ...] [--seed N]
                [--log FILE] [--max-seconds 120] [--max-packets 50000]

The test's Kamailio rewrites the SDP connection address of both lines to IP (the
ports stay), so each line sends its RTP to IP:p, p being the other line's port. The
relay binds every port of MIN-MAX on IP and forwards a datagram that came to IP:p
from GW_IP:q to GW_IP:p, sent from IP:q: each line sees its peer's packets come
from the address and port its SDP gave, so symmetric RTP and the source checks
hold. Datagrams from elsewhere, or from a port outside MIN-MAX, are counted
(foreign) and dropped.

RTP (even ports) goes through the phases, in order, from the first RTP datagram:
each lasts SECONDS, drops LOSS_PERCENT of the packets at random, and delays each
packet by JITTER_MS +- JITTER_MS (uniformly 0 to 2 x JITTER_MS: later packets
overtake earlier ones). The last phase goes on until the end. RTCP (odd ports)
is forwarded at once. With --seed the losses and delays are the same sequence
every run.

Bounded: it stops after --max-seconds, after --max-packets datagrams, or on
SIGTERM/SIGINT, then writes FILE (JSON; also every second while running):

  {"phases": [{"seconds": s, "loss_percent": p, "jitter_ms": j, "rtp_in": n,
               "dropped": n, "forwarded": n, "dropped_percent": x,
               "delay_ms": {"min": x, "mean": x, "max": x}, "reordered": n}, ...],
   "rtp_in": n, "rtcp_forwarded": n, "foreign": n, "send_errors": n,
   "flows": {"q->p": {"rtp_in": n, "dropped": n}}, "started": true|false,
   "stopped": "max-seconds" | "max-packets" | "signal" | null}

'reordered' counts packets sent after one of the same flow with a higher
sequence number. --log gets one line per RTP packet (time from the first,
flow, sequence number, and "drop" or the delay in ms).

Exit 0 once FILE is written, 2 on bad usage.
"""

import argparse
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time


class Stop(Exception):
    pass


def parse_phase(text):
    try:
        secs, loss, jitter = text.split(":")
        p = {"seconds": float(secs), "loss_percent": float(loss), "jitter_ms": float(jitter)}
    except ValueError:
        raise argparse.ArgumentTypeError("phase is SECONDS:LOSS_PERCENT:JITTER_MS, not %r" % text)
    if p["seconds"] <= 0 or not 0 <= p["loss_percent"] <= 100 or p["jitter_ms"] < 0:
        raise argparse.ArgumentTypeError("phase %r out of range" % text)
    return p


def parse_ports(text):
    try:
        lo, hi = (int(x) for x in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError("ports are MIN-MAX, not %r" % text)
    if not 1024 <= lo <= hi <= 65535 or hi - lo > 1000:
        raise argparse.ArgumentTypeError("ports %r out of range" % text)
    return lo, hi


class Relay:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.socks = {}
        self.by_fd = {}
        for port in range(a.ports[0], a.ports[1] + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((a.listen, port))
            s.setblocking(False)
            self.socks[port] = s
            self.by_fd[s.fileno()] = (port, s)
        self.phases = [dict(p, rtp_in=0, dropped=0, forwarded=0, delays=[], reordered=0) for p in a.phase]
        self.t0 = None                    # first RTP datagram
        self.queue = []                   # (due, n, port_from, port_to, data, phase index, flow)
        self.n = 0
        self.rtp_in = self.rtcp = self.foreign = self.send_errors = 0
        self.flows = {}
        self.highest_sent = {}
        self.log = open(a.log, "w") if a.log else None
        self.stopped = None

    def phase(self, now):
        t = now - self.t0
        for i, p in enumerate(self.phases):
            if t < p["seconds"]:
                return i
            t -= p["seconds"]
        return len(self.phases) - 1

    def receive(self, port, s, now):
        while True:
            try:
                data, (ip, q) = s.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return                    # ICMP errors of our sends come back here
            if ip != self.a.to or q not in self.socks:
                self.foreign += 1
                continue
            self.n += 1
            if port % 2 == 1:             # RTCP: as it is
                self.rtcp += 1
                self.send(q, port, data)
                continue
            if self.t0 is None:
                self.t0 = now
            i = self.phase(now)
            p = self.phases[i]
            flow = "%d->%d" % (q, port)
            f = self.flows.setdefault(flow, {"rtp_in": 0, "dropped": 0})
            self.rtp_in += 1
            p["rtp_in"] += 1
            f["rtp_in"] += 1
            seq = struct.unpack("!H", data[2:4])[0] if len(data) >= 12 else -1
            if self.rng.random() * 100 < p["loss_percent"]:
                p["dropped"] += 1
                f["dropped"] += 1
                self.note(now, flow, seq, "drop")
                continue
            delay = self.rng.uniform(0, 2 * p["jitter_ms"]) if p["jitter_ms"] > 0 else 0.0
            p["delays"].append(delay)
            self.note(now, flow, seq, "%.2f" % delay)
            heapq.heappush(self.queue, (now + delay / 1000.0, self.n, q, port, data, i, flow, seq))

    def note(self, now, flow, seq, what):
        if self.log:
            self.log.write("%.4f %s %d %s\n" % (now - self.t0, flow, seq, what))

    def send(self, q, port, data):
        try:
            self.socks[q].sendto(data, (self.a.to, port))
        except OSError:
            self.send_errors += 1

    def flush(self, now):
        while self.queue and self.queue[0][0] <= now:
            _, _, q, port, data, i, flow, seq = heapq.heappop(self.queue)
            self.send(q, port, data)
            p = self.phases[i]
            p["forwarded"] += 1
            last = self.highest_sent.get(flow)
            if last is not None and seq >= 0 and ((last - seq) & 0xffff) < 0x8000 and last != seq:
                p["reordered"] += 1
            else:
                self.highest_sent[flow] = seq

    def result(self):
        phases = []
        for p in self.phases:
            d = p["delays"]
            phases.append({
                "seconds": p["seconds"], "loss_percent": p["loss_percent"], "jitter_ms": p["jitter_ms"],
                "rtp_in": p["rtp_in"], "dropped": p["dropped"], "forwarded": p["forwarded"],
                "dropped_percent": round(100.0 * p["dropped"] / p["rtp_in"], 2) if p["rtp_in"] else 0.0,
                "delay_ms": {"min": round(min(d), 2) if d else None, "mean": round(sum(d) / len(d), 2) if d else None,
                             "max": round(max(d), 2) if d else None},
                "reordered": p["reordered"]})
        return {"phases": phases, "rtp_in": self.rtp_in, "rtcp_forwarded": self.rtcp, "foreign": self.foreign,
                "send_errors": self.send_errors, "flows": self.flows, "started": self.t0 is not None,
                "stopped": self.stopped}

    def write(self):
        tmp = self.a.result + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.result(), f, indent=1)
        os.replace(tmp, self.a.result)
        if self.log:
            self.log.flush()

    def run(self):
        start = time.monotonic()
        next_write = start + 1.0
        poller = select.poll()
        for fd in self.by_fd:
            poller.register(fd, select.POLLIN)
        while True:
            now = time.monotonic()
            if now - start >= self.a.max_seconds:
                self.stopped = "max-seconds"
                break
            if self.n >= self.a.max_packets:
                self.stopped = "max-packets"
                break
            wait = min(next_write, start + self.a.max_seconds) - now
            if self.queue:
                wait = min(wait, self.queue[0][0] - now)
            for fd, _ in poller.poll(max(0, wait) * 1000.0):
                port, s = self.by_fd[fd]
                self.receive(port, s, time.monotonic())
            now = time.monotonic()
            self.flush(now)
            if now >= next_write:
                self.write()
                next_write = now + 1.0


def main():
    ap = argparse.ArgumentParser(description="Lossy, jittery UDP relay for the gateway's RTP (tests).")
    ap.add_argument("--listen", required=True, help="the relay's IP (the SDP address Kamailio writes)")
    ap.add_argument("--ports", required=True, type=parse_ports, help="MIN-MAX: the gateway's media.rtp_ports")
    ap.add_argument("--to", required=True, help="the gateway's IP")
    ap.add_argument("--result", required=True)
    ap.add_argument("--phase", action="append", type=parse_phase, default=[],
                    help="SECONDS:LOSS_PERCENT:JITTER_MS, in order (default 3600:0:0)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--log")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--max-packets", type=int, default=50000)
    a = ap.parse_args()
    if not a.phase:
        a.phase = [parse_phase("3600:0:0")]
    relay = Relay(a)

    def on_signal(sig, _frame):
        raise Stop()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        relay.run()
    except Stop:
        relay.stopped = "signal"
    relay.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
