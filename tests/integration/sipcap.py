#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sipcap.py: a SIP capture on one bridge port, for the namespace cases (stdlib only).

    ip netns exec <bridge-ns> python3 sipcap.py IFACE [name=ip ...]

Runs inside the lab's bridge namespace with a packet socket bound to the gateway's
bridge port (vh-gw): every frame the gateway sends or receives passes there exactly
once, also those a silenced proxy drops in its own namespace (the nftables rule sits
behind the bridge). Prints one JSON object per line, flushed:

  {"ready": true}                                        once the socket is bound
  {"t": mono, "src": "gw", "dst": "main", "sport": 5060, "dport": 5060,
   "method": "REGISTER" | null, "status": 200 | null, "reason": "OK",
   "call_id": "...", "cseq": 2, "cseq_method": "REGISTER", "branch": "z9hG4bK...",
   "to_user": "1001", "expires": "20" | null, "retry_after": "10" | null,
   "auth": true if it carries (Proxy-)Authorization}
  {"t": mono, "icmp": 3, "code": 3, "src": "main", "dst": "gw",
   "orig_dst": "main", "orig_dport": 5060}               ICMP destination unreachable

t is time.monotonic() at reception (CLOCK_MONOTONIC is the same in every network
namespace, so the runner compares it with its own clock). Hosts are named by the
name=ip arguments, unknown addresses are printed as they are. Runs until killed.
"""

import json
import re
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def header(headers, *names):
    for n in names:
        v = headers.get(n)
        if v is not None:
            return v
    return None


def parse_sip(payload):
    try:
        text = payload.decode("utf-8", "replace")
    except Exception:
        return None
    head = text.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    lines = [ln.rstrip("\r") for ln in head.split("\n")]
    if not lines or not lines[0]:
        return None
    first = lines[0]
    out = {"method": None, "status": None, "reason": None}
    m = re.match(r"^SIP/2\.0\s+(\d{3})\s*(.*)$", first)
    if m:
        out["status"] = int(m.group(1))
        out["reason"] = m.group(2)
    else:
        m = re.match(r"^([A-Z]+)\s+(\S+)\s+SIP/2\.0$", first)
        if not m:
            return None
        out["method"] = m.group(1)
        out["ruri"] = m.group(2)
    headers = {}
    for ln in lines[1:]:
        if ":" not in ln:
            continue
        k, v = ln.split(":", 1)
        k = k.strip().lower()
        if k not in headers:           # the first one (topmost Via)
            headers[k] = v.strip()
    out["call_id"] = header(headers, "call-id", "i")
    cseq = header(headers, "cseq") or ""
    m = re.match(r"^(\d+)\s+(\S+)", cseq)
    out["cseq"] = int(m.group(1)) if m else None
    out["cseq_method"] = m.group(2) if m else None
    via = header(headers, "via", "v") or ""
    m = re.search(r";\s*branch=([^;,\s]+)", via)
    out["branch"] = m.group(1) if m else None
    to = header(headers, "to", "t") or ""
    m = re.search(r"sips?:([^@;>]+)@", to)
    out["to_user"] = m.group(1) if m else None
    out["expires"] = header(headers, "expires")
    out["retry_after"] = header(headers, "retry-after")
    out["auth"] = header(headers, "authorization", "proxy-authorization") is not None
    return out


def main():
    iface = sys.argv[1]
    names = {}
    for a in sys.argv[2:]:
        n, ip = a.split("=", 1)
        names[ip] = n

    def name(ip):
        return names.get(ip, ip)

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((iface, 0))
    out = sys.stdout
    out.write(json.dumps({"ready": True, "t": time.monotonic()}) + "\n")
    out.flush()
    while True:
        frame = s.recv(65535)
        t = time.monotonic()
        if len(frame) < 34 or struct.unpack("!H", frame[12:14])[0] != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        proto = ip[9]
        src = socket.inet_ntoa(ip[12:16])
        dst = socket.inet_ntoa(ip[16:20])
        l4 = ip[ihl:]
        if proto == 17 and len(l4) >= 8:
            sport, dport = struct.unpack("!HH", l4[:4])
            sip = parse_sip(l4[8:])
            if sip is None:
                continue
            rec = {"t": round(t, 6), "src": name(src), "dst": name(dst), "sport": sport, "dport": dport}
            rec.update(sip)
        elif proto == 1 and len(l4) >= 8 and l4[0] == 3:
            inner = l4[8:]
            rec = {"t": round(t, 6), "icmp": l4[0], "code": l4[1], "src": name(src), "dst": name(dst)}
            if len(inner) >= 28:
                iihl = (inner[0] & 0x0F) * 4
                rec["orig_dst"] = name(socket.inet_ntoa(inner[16:20]))
                if len(inner) >= iihl + 4:
                    rec["orig_dport"] = struct.unpack("!H", inner[iihl + 2:iihl + 4])[0]
        else:
            continue
        out.write(json.dumps(rec) + "\n")
        out.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
