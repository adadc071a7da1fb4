#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench-calls.py: call figures of the whole gateway on loopback.

    bench-calls.py --build-dir BUILD [--calls 20] [--lines 64] [--rates 5,10,20,40,60,80] [--keep]

1. Delays, line to line through a real Kamailio (registrar and record-routing
   proxy, 407 on INVITE): line 1 dials 1002 with DTMF, line 2 answers by
   itself; --calls times. From the bus tap (each sender's realtime stamp):
   post-dial delay = the last DigitDetected (mediad) -> LineCall PROCEEDING
   (sigd publishes it as it sends the INVITE); from the recordings: answer to
   audio = LineCall CONNECTED of a line -> the first 20 ms of the other side's
   tone in what it hears (its recording starts at its off-hook, LineHwState).
2. Calls per second: SIPp calls the --lines auto-answering lines directly
   (each number in turn, BYE 300 ms after the answer, at most one call per
   line at a time) at each rate of --rates for 8 s; the highest rate with 0
   failed calls, and the CPU seconds of sigd, mediad and linehwd per call.
   A simulated phone needs flash_max (700 ms) on hook before its hang-up
   counts, so each line takes about one call per 1.1 s: the line count
   bounds the rate (about 55 calls/s for 64 lines).

Figures only, no pass/fail threshold. Exit 77 when kamailio, sipp or a daemon
is missing.
"""

import argparse
import calendar
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from fxsgwtest import (EXIT_SKIP, Env, Failure, Gateway, Kamailio, Skip,  # noqa: E402
                       cpu_seconds, wait_until)
import audio  # noqa: E402

KAM = "127.0.0.93:5070"
GW = "127.0.0.94:5062"
SIPP_IP = "127.0.0.95"


def tap_time(m):
    """Sender's realtime of a tap JSON line, in seconds."""
    t = m["time"]                                 # 2026-11-24T20:36:09.837Z
    base, frac = t.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def gwctl_line(gw, *args):
    r = subprocess.run([gw.gwctl, "--config", gw.config_path, "line"] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    if r.returncode != 0:
        raise Failure("gwctl line %s: %s" % (" ".join(map(str, args)), r.stdout.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def call_state(gw, port):
    doc = json.loads(gwctl_line(gw, port, "status", "--json"))
    doc = doc[0] if isinstance(doc, list) else doc
    return (doc.get("call") or {}).get("state"), doc.get("hook")


def onset_s(path, freq):
    """Seconds from the start of a recording to the first 20 ms block mostly at freq."""
    _, s = audio.read(path)
    for i, b in enumerate(audio.blocks(s, 20)):
        ms = audio.mean_square(b)
        if ms >= 100 * 100 and audio.goertzel_power(b, freq) / ms >= 0.5:
            return i * 0.020
    return None


def delays(env, a):
    users = {"1001": "bench-pw-1", "1002": "bench-pw-2"}
    kam = Kamailio(env, "kamailio", KAM, users).start()
    audio.write_tone(env.path("say-1.wav"), 1000, 2.0)
    audio.write_tone(env.path("say-2.wav"), 600, 2.0)
    cfg = {
        "sip": {"listen": GW},
        "profiles": [{"name": "p", "proxy": KAM, "keepalive": "off", "register_expires": "300s",
                      "invite_total_timeout": "2s", "dial_plan": "xxxx"}],
        "lines": [{"port": 1, "number": "1001", "password": users["1001"], "play": env.path("say-1.wav"),
                   "record": env.path("heard-1.wav")},
                  {"port": 2, "number": "1002", "password": users["1002"], "auto_answer": "200ms",
                   "play": env.path("say-2.wav"), "record": env.path("heard-2.wav")}],
        "log": {"level": "notice"},
    }
    gw = Gateway(env, cfg, name="gw-delays")
    gw.start()
    gw.start_tap()
    gw.wait_status("both lines registered", lambda d: len(d.get("lines", [])) == 2 and all(
        ln.get("registration") == "registered" for ln in d["lines"]), 15)
    pdd, a2a_caller, a2a_callee = [], [], []
    for n in range(a.calls):
        for f in ("heard-1.wav", "heard-2.wav"):
            if os.path.exists(env.path(f)):
                os.unlink(env.path(f))
        mark = len(gw.tap_messages())
        gwctl_line(gw, 1, "offhook")
        time.sleep(0.3)
        gwctl_line(gw, 1, "dial", "1002")
        wait_until("call %d to connect" % n, lambda: call_state(gw, 1)[0] == "connected", 10, 0.05)
        time.sleep(1.0)
        gwctl_line(gw, 1, "onhook")
        wait_until("line 2 to be released", lambda: call_state(gw, 2)[0] in ("releasing", "idle"), 10, 0.05)
        gwctl_line(gw, 2, "onhook")
        wait_until("both recordings", lambda: all(os.path.exists(env.path(f)) for f in ("heard-1.wav", "heard-2.wav")),
                   5, 0.05)
        wait_until("both lines idle", lambda: call_state(gw, 1) == ("idle", "on") and call_state(gw, 2) == ("idle", "on"),
                   5, 0.05)
        msgs = gw.tap_messages()[mark:]

        def first(pred):
            for m in msgs:
                if pred(m):
                    return tap_time(m)
            return None
        digits = [tap_time(m) for m in msgs if m.get("type") == "DigitDetected" and m["body"].get("port") == 1]
        proceeding = first(lambda m: m.get("type") == "LineCall" and m["body"].get("port") == 1 and
                           m["body"].get("state") == "CALL_PROCEEDING")
        conn = {p: first(lambda m, p=p: m.get("type") == "LineCall" and m["body"].get("port") == p and
                         m["body"].get("state") == "CALL_CONNECTED") for p in (1, 2)}
        off = {p: first(lambda m, p=p: m.get("type") == "LineHwState" and m["body"].get("port") == p and
                        m["body"].get("hook") == "HOOK_OFF") for p in (1, 2)}
        if digits and proceeding:
            pdd.append(proceeding - digits[-1])
        for port, freq, out in ((1, 600, a2a_caller), (2, 1000, a2a_callee)):
            o = onset_s(env.path("heard-%d.wav" % port), freq)
            if o is not None and off[port] and conn[port]:
                out.append(off[port] + o - conn[port])
    gw.stop(signal.SIGTERM, 10)
    kam.stop()
    return pdd, a2a_caller, a2a_callee


def rate_sweep(env, a):
    n = a.lines
    numbers = [str(2001 + i) for i in range(n)]
    cfg = {
        "sip": {"listen": GW, "trusted_sources": [SIPP_IP + "/32"]},
        "profiles": [{"name": "p", "proxy": "127.0.0.96:5070", "register": False, "keepalive": "off",
                      "invite_total_timeout": "2s"}],
        "lines": [{"port": i + 1, "number": num, "auto_answer": "20ms"} for i, num in enumerate(numbers)],
        "log": {"level": "warning"},
    }
    gw = Gateway(env, cfg, name="gw-rate")
    gw.start()
    gw.wait_status("lines up", lambda d: len(d.get("lines", [])) == n, 15)
    inf = env.path("numbers.csv")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n" + "".join("%s;\n" % x for x in numbers))
    scenario = os.path.join(HERE, "sipp", "bench-uac.xml")
    sipp = Env.system_bin("sipp")
    pids = {}
    for d in ("sigd", "mediad", "linehwd"):
        svc = gw.service(gw.status()[1], d)
        pids[d] = int(svc["pid"])
    rows = []
    for rate in a.rates:
        total = int(rate * a.step_s)
        cpu0 = {d: cpu_seconds(p) for d, p in pids.items()}
        t0 = time.monotonic()
        stat = env.path("sipp-%d.csv" % rate)
        argv = [sipp, GW, "-sf", scenario, "-inf", inf, "-i", SIPP_IP, "-p", "5099", "-mi", SIPP_IP,
                "-mp", "40000", "-r", str(rate), "-m", str(total), "-l", str(n), "-recv_timeout", "5000",
                "-timeout", "%ds" % int(a.step_s + 20), "-timeout_error", "-bg", "-trace_stat",
                "-stf", stat, "-fd", "1", "-nostdin"]
        r = subprocess.run([x for x in argv if x != "-bg"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=a.step_s + 40)
        secs = time.monotonic() - t0
        cpu1 = {d: cpu_seconds(p) for d, p in pids.items()}
        ok = failed = 0
        try:
            with open(stat) as f:
                lines = [ln.strip().split(";") for ln in f if ln.strip()]
            head, last = lines[0], lines[-1]
            ok = int(last[head.index("SuccessfulCall(C)")])
            failed = int(last[head.index("FailedCall(C)")])
        except (OSError, ValueError, IndexError):
            failed = total
        cpu = {d: cpu1[d] - cpu0[d] for d in pids}
        rows.append((rate, total, ok, failed, secs, cpu, r.returncode))
        print("  rate %3d/s: %4d calls, %4d ok, %3d failed in %.1f s (sipp exit %d); CPU ms/call: %s" % (
            rate, total, ok, failed, secs, r.returncode,
            ", ".join("%s %.2f" % (d, 1000 * cpu[d] / max(ok, 1)) for d in pids)), flush=True)
        # Let every line return on hook (released calls end in the auto-answering phones).
        wait_until("all lines idle", lambda: all(
            (ln.get("call") or {}).get("state", "idle") == "idle" for ln in line_states(gw, n)), 15, 0.2)
        if failed:
            break
    gw.stop(signal.SIGTERM, 10)
    return rows


def line_states(gw, n):
    docs = []
    for port in range(1, n + 1):
        doc = json.loads(gwctl_line(gw, port, "status", "--json"))
        docs.append(doc[0] if isinstance(doc, list) else doc)
    return docs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--lines", type=int, default=64)
    ap.add_argument("--rates", default="10,20,30,40,50,60,70,80")
    ap.add_argument("--step-s", type=float, default=8.0)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.rates = [int(x) for x in a.rates.split(",")]

    def on_signal(sig, _frame):
        raise Failure("interrupted by signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    env = Env("bench-calls", a.build_dir, a.keep)
    rc = 0
    try:
        for d in ("gwsupd", "sigd", "regd", "mediad", "linehwd", "gwctl", "gwtap"):
            env.service_bin(d)
        Env.system_bin("kamailio")
        Env.system_bin("sipp")
        print("== delays: %d calls line 1 -> line 2 through Kamailio" % a.calls, flush=True)
        pdd, a2a1, a2a2 = delays(env, a)
        print("== calls per second: SIPp -> %d auto-answering lines" % a.lines, flush=True)
        rows = rate_sweep(env, a)

        ms = lambda v: 1000 * v  # noqa: E731
        print("\n%-40s %8s %8s %8s %5s" % ("figure (ms)", "median", "p99", "max", "n"))
        for name, v in (("post-dial delay (last digit -> INVITE)", pdd),
                        ("answer -> audio, caller", a2a1),
                        ("answer -> audio, callee", a2a2)):
            print("%-40s %8.1f %8.1f %8.1f %5d" % (name, ms(statistics.median(v)) if v else float("nan"),
                                                    ms(pct(v, 99)), ms(max(v)) if v else float("nan"), len(v)))
        print("(tap timestamps have 1 ms resolution: 0.0 means under a millisecond)")
        good = [r for r in rows if r[3] == 0 and r[2] == r[1]]
        best = max(good, key=lambda r: r[0]) if good else None
        if best:
            rate, total, ok, failed, secs, cpu, _ = best
            print("highest rate with 0 failed calls: %d calls/s (%d calls, %d lines); CPU per call: %s" % (
                rate, total, a.lines, ", ".join("%s %.2f ms" % (d, 1000 * c / max(ok, 1)) for d, c in cpu.items())))
        else:
            print("no rate completed without failed calls")
    except Skip as e:
        print("skipped: %s" % e)
        rc = EXIT_SKIP
    except Failure as e:
        print("bench-calls: %s" % e, file=sys.stderr)
        env.dump_logs(80)
        rc = 1
    finally:
        env.cleanup()
        if not a.keep:
            env.remove()
    return rc


if __name__ == "__main__":
    sys.exit(main())
