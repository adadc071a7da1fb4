#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench-reload.py: how long a live reload takes with N lines (default 256), and what it sends.

    bench-reload.py --build-dir BUILD [--lines N] [--rounds R] [--keep]

Registers N lines with a real Kamailio (tests/integration/kamailio/registrar.cfg,
127.0.0.83:5070; the gateway on 127.0.0.82:5062), then reloads the file R times
(default 5) with 'gwctl reload --json' in each of three ways: the file rewritten
with nothing changed, one line's password changed (Kamailio's too), and one line
added. Prints per kind the wall time of gwctl reload (median and max), the
longest time a daemon took to apply (as it measured itself), and the REGISTER
transactions regd sent (SipRequest on the tap) and the REGISTERs Kamailio
received during the round: a changed password must cost exactly one REGISTER
transaction, an unchanged file none. Figures only: no pass/fail threshold.
Exit 77 when kamailio or a daemon is missing.
"""

import argparse
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
                       to_yaml, wait_until)

DAEMONS = ("gwsupd", "sigd", "regd", "mediad", "linehwd")


def write_config(gw, cfg, note):
    tmp = gw.config_path + ".new"
    with open(tmp, "w") as f:
        f.write("# bench-reload: %s\n" % note)
        f.write(to_yaml(cfg) + "\n")
    os.chmod(tmp, 0o600)
    os.rename(tmp, gw.config_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--lines", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    def on_signal(sig, _frame):
        raise Failure("interrupted by signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    env = Env("bench-reload", a.build_dir, a.keep)
    rc = 0
    try:
        for d in DAEMONS + ("gwctl", "gwtap"):
            env.service_bin(d)
        n = a.lines
        users = {str(100000 + i): "pw-%d" % (100000 + i) for i in range(1, n + a.rounds + 1)}
        kam = Kamailio(env, "kamailio", "127.0.0.83:5070", users).start()
        numbers = sorted(users)
        cfg = {
            "sip": {"listen": "127.0.0.82:5062"},
            "profiles": [{"name": "provider", "proxy": "127.0.0.83:5070", "keepalive": "off",
                          "invite_total_timeout": "2s", "register_expires": "600s",
                          "register_retry_base": "1s", "register_retry_max": "4s"}],
            "lines": [{"port": i, "number": u, "password": users[u], "profile": "provider"}
                      for i, u in enumerate(numbers[:n], 1)],
            "log": {"level": "notice"},
        }
        gw = Gateway(env, cfg)
        cfg = gw.config                 # with bus.runtime_dir set
        gw.start_tap()
        gw.start()
        gwctl = env.service_bin("gwctl")

        def registered(count):
            def ok(doc):
                lines = doc.get("lines") or []
                return len(lines) == count and all(ln.get("registration") == "registered" for ln in lines)
            return ok
        gw.wait_status("%d lines registered" % n, registered(n), a.timeout)

        def sip_requests():
            return sum(1 for m in gw.tap_messages() if m.get("type") == "SipRequest")

        results = {}
        for kind in ("unchanged", "password", "added"):
            walls, applies, txs, regs = [], [], [], []
            for r in range(a.rounds):
                if kind == "password":
                    # The first line's password, at Kamailio first (as an operator would).
                    pw = "pw-new-%d" % r
                    kam.rpc("htable.sets", ["auth", numbers[0], pw])
                    cfg["lines"][0]["password"] = pw
                elif kind == "added":
                    u = numbers[len(cfg["lines"])]
                    cfg["lines"].append({"port": len(cfg["lines"]) + 1, "number": u, "password": users[u],
                                         "profile": "provider"})
                write_config(gw, cfg, "%s %d" % (kind, r))
                # Everything of the round before has settled: the tap is quiet.
                time.sleep(0.5)
                tx0, c0 = sip_requests(), kam.counters()
                t0 = time.monotonic()
                p = subprocess.run([gwctl, "--config", gw.config_path, "--json", "reload"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
                wall = time.monotonic() - t0
                if p.returncode != 0:
                    raise Failure("gwctl reload exited %d: %s" % (p.returncode, p.stderr.decode()))
                doc = json.loads(p.stdout)
                gw.wait_status("every line registered", registered(len(cfg["lines"])), 10)
                time.sleep(0.5)
                c1 = kam.counters()
                walls.append(wall)
                applies.append(max(d.get("duration_us", 0) for d in doc["daemons"].values()) / 1e6)
                txs.append(sip_requests() - tx0)
                regs.append(int(c1.get("register", 0)) - int(c0.get("register", 0)))
            results[kind] = (walls, applies, txs, regs)

        restarts = {}
        _, doc = gw.status()
        for s in (doc or {}).get("services", []):
            restarts[s["name"]] = s.get("restarts", 0)
        gw.stop(signal.SIGTERM, 30)
        wait_until("an empty location table", lambda: not kam.location(), 10, 0.05)

        print()
        print("bench-reload: %d lines registered with Kamailio %s, %d rounds per kind" % (n, kam.listen, a.rounds))
        print("  %-22s %12s %12s %12s %16s %16s" % ("reload", "gwctl med s", "gwctl max s", "apply max s",
                                                    "REGISTER tx", "REGISTERs at kam"))
        for kind, label in (("unchanged", "file, nothing changed"), ("password", "one password changed"),
                            ("added", "one line added")):
            walls, applies, txs, regs = results[kind]
            print("  %-22s %12.4f %12.4f %12.4f %16s %16s" % (
                label, statistics.median(walls), max(walls), max(applies),
                "/".join(str(x) for x in txs), "/".join(str(x) for x in regs)))
        print("  (REGISTER tx: regd's SipRequests per round; Kamailio counts a challenged one twice)")
        print("  daemon restarts: %s" % (", ".join("%s %s" % kv for kv in sorted(restarts.items())) or "-"))
        bad = [k for k in ("unchanged", "password") if any(t != (0 if k == "unchanged" else 1) for t in results[k][2])]
        if bad:
            print("warning: unexpected REGISTER transactions for: %s" % ", ".join(bad))
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
