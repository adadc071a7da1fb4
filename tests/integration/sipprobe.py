#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sipprobe.py: a steady stream of SIP OPTIONS to the gateway, each answer timed (stdlib only).

    sipprobe.py --to IP:PORT --local IP --result FILE [--interval-ms 20] [--duration 3]
                [--tail 2]

Sends one OPTIONS (its own Call-ID and branch) every --interval-ms for --duration
seconds from a UDP socket on --local (ephemeral port) connected to --to, then
waits --tail seconds for the last answers. A connected UDP socket reports an
ICMP port unreachable as ECONNREFUSED on the next send or receive: each one is
counted. Writes FILE (JSON):

  {"sent": n, "answered": n (final responses matched by Call-ID), "statuses": {"200": n},
   "refused": n (ECONNREFUSED seen), "unanswered": n, "max_latency_ms": x,
   "median_latency_ms": x, "late": n (answered more than --late-ms after being sent:
   they waited for the gateway), "late_ms": [..]}

Exit 0 once the file is written (the case checks it), 2 on bad usage.
"""

import argparse
import errno
import json
import os
import select
import socket
import time


def options(dst, src, n):
    call_id = "probe-%d-%d" % (os.getpid(), n)
    return call_id, ("OPTIONS sip:%s:%d SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP %s:%d;rport;branch=z9hG4bK-%s\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:probe@%s>;tag=p%d\r\n"
                     "To: <sip:%s:%d>\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: 1 OPTIONS\r\n"
                     "Content-Length: 0\r\n\r\n" % (dst[0], dst[1], src[0], src[1], call_id, src[0], os.getpid(),
                                                    dst[0], dst[1], call_id)).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True)
    ap.add_argument("--local", required=True)
    ap.add_argument("--result", required=True)
    ap.add_argument("--interval-ms", type=float, default=20)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--tail", type=float, default=2)
    ap.add_argument("--late-ms", type=float, default=50)
    a = ap.parse_args()
    ip, port = a.to.rsplit(":", 1)
    dst = (ip, int(port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.local, 0))
    s.connect(dst)
    src = s.getsockname()
    sent, answered, statuses, refused = {}, {}, {}, 0
    start = time.monotonic()
    next_send, n = start, 0
    end_send = start + a.duration
    while True:
        now = time.monotonic()
        if now >= end_send + a.tail or (now >= end_send and len(answered) == len(sent)):
            break
        if now >= next_send and now < end_send:
            call_id, msg = options(dst, src, n)
            n += 1
            try:
                s.send(msg)
            except ConnectionRefusedError:
                refused += 1
                s.send(msg)
            sent[call_id] = time.monotonic()
            next_send += a.interval_ms / 1000.0
        wait = max(0.0, min(next_send if now < end_send else end_send + a.tail, end_send + a.tail) - time.monotonic())
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            continue
        try:
            data = s.recv(65535)
        except ConnectionRefusedError:
            refused += 1
            continue
        except OSError as e:
            if e.errno == errno.EAGAIN:
                continue
            raise
        text = data.decode(errors="replace")
        if not text.startswith("SIP/2.0 "):
            continue
        code = int(text[8:11])
        cid = next((ln.split(":", 1)[1].strip() for ln in text.split("\r\n") if ln.lower().startswith("call-id:")),
                   None)
        if code < 200 or cid not in sent or cid in answered:
            continue
        answered[cid] = time.monotonic() - sent[cid]
        statuses[str(code)] = statuses.get(str(code), 0) + 1
    lat = sorted(v * 1000 for v in answered.values())
    late = [round(v, 1) for v in lat if v > a.late_ms]
    doc = {"sent": len(sent), "answered": len(answered), "statuses": statuses, "refused": refused,
           "unanswered": len(sent) - len(answered),
           "max_latency_ms": round(lat[-1], 1) if lat else None,
           "median_latency_ms": round(lat[len(lat) // 2], 1) if lat else None,
           "late": len(late), "late_ms": late}
    with open(a.result + ".tmp", "w") as f:
        json.dump(doc, f)
    os.rename(a.result + ".tmp", a.result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
