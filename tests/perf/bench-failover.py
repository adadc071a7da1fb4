#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench-failover.py: failover and homing times of the gateway, in network namespaces.

    bench-failover.py --build-dir BUILD [--lines 1,32,256] [--runs N] [--budget S]

For each line count: the gateway (its own namespace) with a main proxy and one
redundant proxy (SIPp, proxy-ok.xml, each in its own namespace), homing mode with
OPTIONS checks, invite_total_timeout 1 s, keepalive_period 1 s. Once every line is
registered on the main proxy, each run:
  - silences the main (nftables drop: no answer, no ICMP) and measures the time
    until every line shows registered via the redundant proxy (gwctl status);
  - lets the main answer again and measures the time until every line is back on it.
It prints the median and worst of the runs, and for the largest line count the SIP
requests per second the gateway sent during a failover (from a capture on its bridge
port, sipcap.py). A figure that did not come within the run's bound is shown as
'-' with the count of such runs. Figures, not pass/fail: exit 0 unless the harness
itself broke; 77 (skip) unless root with ip, nft and sipp.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import netns  # noqa: E402
from fxsgwtest import Env, Failure, Gateway, Sipp, Skip, log  # noqa: E402

ITT_S = 1
KP_S = 1


def config(lab, n_lines):
    return {
        "sip": {"listen": "%s:5060" % lab["gw"].ip},
        "profiles": [{
            "name": "provider", "proxy": lab["main"].ip, "redundant_proxies": [lab["r1"].ip],
            "redundancy_mode": "homing", "keepalive": "options",
            "keepalive_period": "%ds" % KP_S, "invite_total_timeout": "%ds" % ITT_S,
            "register_expires": "300s", "register_retry_base": "1s", "register_retry_max": "4s",
            "domain": "fxsgw.test"}],
        "lines": [{"port": i, "number": str(2000 + i), "profile": "provider"} for i in range(1, n_lines + 1)],
        "log": {"level": "notice"},
    }


def all_on(gw, ip, n_lines):
    rc, doc = gw.status()
    if rc != 0 or not doc:
        return False
    lines = doc.get("lines") or []
    return len(lines) == n_lines and all(
        ln.get("registration") == "registered" and ln.get("registered_via") == ip for ln in lines)


def wait_all_on(gw, ip, n_lines, bound):
    t0 = time.monotonic()
    while time.monotonic() - t0 < bound:
        gw.check_alive()
        if all_on(gw, ip, n_lines):
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def capture_packets(cap):
    out = []
    for line in cap.output().splitlines():
        if line.startswith('{"t"'):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def bench(build_dir, n_lines, runs, deadline):
    env = Env("bench-failover-%d" % n_lines, build_dir)
    res = {"lines": n_lines, "failover": [], "homing": [], "missed_failover": 0, "missed_homing": 0,
           "msgs_per_s": None}
    lab = netns.Lab(["gw", "main", "r1"], subnet="10.78.0")
    try:
        lab.open()
        names = ["%s=%s" % (h.name, h.ip) for h in lab.hosts.values()]
        cap = env.start("capture", ["ip", "netns", "exec", lab.br_ns, sys.executable, "-u",
                                    os.path.join(HERE, "..", "integration", "sipcap.py"), lab["gw"].port] + names)
        peers = {}
        for h in ("main", "r1"):
            p = Sipp(env, h, "proxy-ok.xml", "%s:5060" % lab[h].ip, variables={"expires": "300"},
                     args=["-l", "10000"], calls=1000000, timeout_s=900, netns=lab[h].ns)
            p.start()
            peers[h] = p
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end and not all(lab[h].udp_listeners(5060) for h in peers):
            time.sleep(0.05)
        gw = Gateway(env, config(lab, n_lines), netns=lab["gw"].ns)
        gw.start()
        if wait_all_on(gw, lab["main"].ip, n_lines, 30) is None:
            raise Failure("%d lines did not register on the main proxy within 30 s" % n_lines)
        bound_fail = ITT_S + KP_S + 10 + n_lines / 16.0
        bound_home = 2 * KP_S + 10 + n_lines / 16.0
        for i in range(runs):
            if time.monotonic() + bound_fail + bound_home > deadline:
                log("time budget used up after %d run(s)" % i)
                break
            lab["main"].silence(udp_port=5060)
            t0 = time.monotonic()
            f = wait_all_on(gw, lab["r1"].ip, n_lines, bound_fail)
            t1 = time.monotonic()
            if f is None:
                res["missed_failover"] += 1
            else:
                res["failover"].append(f)
                if res["msgs_per_s"] is None:
                    sent = [p for p in capture_packets(cap) if p["src"] == "gw" and p.get("method")
                            and t0 <= p["t"] <= t1]
                    res["msgs_per_s"] = len(sent) / max(f, 1e-3)
                    res["msgs"] = len(sent)
            lab["main"].unsilence()
            h = wait_all_on(gw, lab["main"].ip, n_lines, bound_home)
            if f is None:
                # No failover: a homing time would mean nothing, and more runs say nothing new.
                h = None
                log("%d lines, run %d: no failover within %.0f s" % (n_lines, i + 1, bound_fail))
                break
            if h is None:
                res["missed_homing"] += 1
            else:
                res["homing"].append(h)
            log("%d lines, run %d: failover %s, homing %s" % (
                n_lines, i + 1, "%.2f s" % f if f is not None else "-", "%.2f s" % h if h is not None else "-"))
        gw.stop(timeout=10)
    finally:
        env.cleanup()
        lab.close()
        env.remove()
    return res


def fmt(xs, missed):
    if not xs:
        return "%8s %8s" % ("-", "-") + ("  (%d missed)" % missed if missed else "")
    s = "%8.2f %8.2f" % (statistics.median(xs), max(xs))
    return s + ("  (%d missed)" % missed if missed else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--lines", default="1,32,256")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--budget", type=float, default=240, help="seconds for the whole benchmark")
    a = ap.parse_args()
    try:
        netns.require("sipp", "ss")
        env_probe = Env("bench-failover-probe", a.build_dir)
        for s in ("gwsupd", "sigd", "regd", "gwctl"):
            env_probe.service_bin(s)
        env_probe.remove()
    except Skip as e:
        print("SKIP: %s" % e)
        return 77
    deadline = time.monotonic() + a.budget
    counts = [int(x) for x in a.lines.split(",")]
    results = []
    for i, n in enumerate(counts):
        # Share what is left among the remaining line counts.
        share = (deadline - time.monotonic()) / (len(counts) - i)
        try:
            results.append(bench(a.build_dir, n, a.runs, time.monotonic() + share))
        except Failure as e:
            print("%d lines: %s" % (n, e))
            results.append({"lines": n, "failover": [], "homing": [], "missed_failover": 0,
                            "missed_homing": 0, "msgs_per_s": None, "error": str(e)})
    print()
    print("failover (main silenced -> all lines on redundant 1) and homing (main back ->")
    print("all lines on main); invite_total_timeout %d s, keepalive_period %d s, homing/options" % (ITT_S, KP_S))
    print("%6s | %-8s %-8s | %-8s %-8s | runs" % ("lines", "fail med", "worst", "home med", "worst"))
    for r in results:
        print("%6d | %s | %s | %d" % (r["lines"], fmt(r["failover"], r["missed_failover"]),
                                      fmt(r["homing"], r["missed_homing"]), len(r["failover"]) + r["missed_failover"]))
    big = max(results, key=lambda r: r["lines"]) if results else None
    if big and big.get("msgs_per_s") is not None:
        print("SIP requests sent during a %d-line failover: %d, %.0f/s" % (big["lines"], big["msgs"], big["msgs_per_s"]))
    elif big:
        print("SIP requests/s during a %d-line failover: - (no failover completed)" % big["lines"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
