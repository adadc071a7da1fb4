#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench-register.py: N lines (default 256) registering with a real Kamailio.

    bench-register.py --build-dir BUILD [--lines N] [--expires 300s] [--keep]

Starts tests/integration/kamailio/registrar.cfg with N subscribers on
127.0.0.81:5070 and the gateway on 127.0.0.80:5062 with N lines, then prints:
the time from gwsupd's start until 'gwctl status --json' shows every line
registered (polled every 50 ms) and from Kamailio's first REGISTER, the REGISTERs Kamailio received, the CPU
seconds (utime+stime from /proc/<pid>/stat) of each daemon and of Kamailio
(all its processes) over that time, and the time of a clean stop until
Kamailio's location table is empty. Figures only: no pass/fail threshold.
Exit 77 when kamailio or a daemon is missing.
"""

import argparse
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from fxsgwtest import (EXIT_SKIP, Env, Failure, Gateway, Kamailio, Skip,  # noqa: E402
                       cpu_seconds, cpu_seconds_tree, wait_until)

DAEMONS = ("gwsupd", "sigd", "regd", "mediad", "linehwd")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--lines", type=int, default=256)
    ap.add_argument("--expires", default="300s")
    ap.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    def on_signal(sig, _frame):
        raise Failure("interrupted by signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    env = Env("bench-register", a.build_dir, a.keep)
    rc = 0
    try:
        for d in DAEMONS + ("gwctl",):
            env.service_bin(d)
        n = a.lines
        users = {str(100000 + i): "pw-%d" % (100000 + i) for i in range(1, n + 1)}
        kam = Kamailio(env, "kamailio", "127.0.0.81:5070", users).start()
        cfg = {
            "sip": {"listen": "127.0.0.80:5062"},
            "profiles": [{"name": "provider", "proxy": "127.0.0.81:5070", "keepalive": "off",
                          "invite_total_timeout": "2s", "register_expires": a.expires,
                          "register_retry_base": "1s", "register_retry_max": "4s"}],
            "lines": [{"port": i, "number": u, "password": users[u], "profile": "provider"}
                      for i, u in enumerate(sorted(users), 1)],
            "log": {"level": "notice"},
        }
        gw = Gateway(env, cfg)
        kam_cpu0 = cpu_seconds_tree(kam.proc.pid)
        c0 = kam.counters()
        t0 = time.monotonic()
        gw.start()

        first = []

        def all_registered(doc):
            if not first and int(kam.counters().get("register", 0)) > int(c0.get("register", 0)):
                first.append(time.monotonic() - t0)
            lines = doc.get("lines") or []
            return len(lines) == n and all(ln.get("registration") == "registered" for ln in lines)
        doc, _ = gw.wait_status("%d lines registered" % n, all_registered, a.timeout)
        t_reg = time.monotonic() - t0

        pids = {}
        for d in DAEMONS:
            if d == "gwsupd":
                pids[d] = gw.proc.pid
            else:
                s = Gateway.service(doc, d)
                pids[d] = int(s["pid"]) if s and s.get("pid") else None
        cpu = {d: (cpu_seconds(p) if p else None) for d, p in pids.items()}
        kam_cpu = cpu_seconds_tree(kam.proc.pid) - kam_cpu0
        c1 = kam.counters()
        loc = kam.location()
        regs = int(c1.get("register", 0)) - int(c0.get("register", 0))
        ok = int(c1.get("register_ok", 0)) - int(c0.get("register_ok", 0))

        t1 = time.monotonic()
        code, t_stop = gw.stop(signal.SIGTERM, 30)
        wait_until("an empty location table", lambda: not kam.location(), 10, 0.05)
        t_unreg = time.monotonic() - t1

        restarts = {s["name"]: s.get("restarts", 0) for s in doc.get("services", [])}
        print()
        print("bench-register: %d lines, register_expires %s, Kamailio %s" % (n, a.expires, kam.listen))
        print("  %-44s %10.3f s" % ("gwsupd start -> all lines registered", t_reg))
        if first:
            print("  %-44s %10.3f s (+/- 0.05)" % ("gwsupd start -> first REGISTER at Kamailio", first[0]))
            print("  %-44s %10.3f s" % ("first REGISTER -> all lines registered", t_reg - first[0]))
            print("  %-44s %10.1f /s" % ("registrations per second (from the first)", n / max(t_reg - first[0], 1e-3)))
        print("  %-44s %10d" % ("REGISTERs received by Kamailio", regs))
        print("  %-44s %10d" % ("  of which accepted (200)", ok))
        print("  %-44s %10d" % ("contacts in Kamailio's location table", sum(len(v) for v in loc.values())))
        print("  %-44s %10.3f s (exit %s)" % ("SIGTERM -> gwsupd exited", t_stop, code))
        print("  %-44s %10.3f s" % ("SIGTERM -> location table empty", t_unreg))
        print()
        print("  %-10s %8s %10s %9s" % ("process", "pid", "CPU s", "restarts"))
        for d in DAEMONS:
            c = cpu[d]
            print("  %-10s %8s %10s %9s" % (d, pids[d] or "-", "%.3f" % c if c is not None else "-",
                                             restarts.get(d, "-") if d != "gwsupd" else "-"))
        print("  %-10s %8s %10.3f %9s" % ("kamailio", kam.proc.pid, kam_cpu, "-"))
        total = sum(c for c in cpu.values() if c is not None)
        print("  %-10s %8s %10.3f" % ("gateway", "", total))
        print("  (CPU from each process's start until all lines were registered; Kamailio's over the same time, all its processes)")
        if len(loc) != n:
            print("warning: Kamailio's table has %d AoRs, expected %d" % (len(loc), n))
    except Skip as e:
        print("SKIP: %s" % e)
        rc = EXIT_SKIP
    except Failure as e:
        print("FAIL: %s" % e)
        env.dump_logs(80)
        env.keep = True
        rc = 1
    finally:
        env.cleanup()
        env.remove()
    return rc


if __name__ == "__main__":
    sys.exit(main())
