#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""demo.py: the fxsgw demo (run through scripts/demo.sh).

Two Kamailio registrars (tests/integration/kamailio/registrar.cfg): the main
proxy on 127.0.0.70:5070 and a redundant one on 127.0.0.72:5070, each with the
4 subscribers. The gateway (gwsupd and its 4 daemons) on 127.0.0.71:5062 with
4 simulated lines, homing mode, OPTIONS checks every 2 s; the bus shown live
by gwtap. The lines register on the main proxy; line 1 calls line 2 (DTMF
dialling, ringing, auto-answer, a tone each way over SDES-SRTP, recorded and
checked); the
main Kamailio is killed and the gateway moves every line to the redundant
one, where a second call goes through; the main comes back and the gateway
homes to it. 'gwctl status' and the location tables are
printed at each step; a clean stop (un-REGISTER, location table empty) on
Ctrl-C or after --duration seconds.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from fxsgwtest import Env, Failure, Gateway, Kamailio, Skip  # noqa: E402
import audio  # noqa: E402

KAM = "127.0.0.70:5070"
KAM_R1 = "127.0.0.72:5070"
GW = "127.0.0.71:5062"
USERS = {"1001": "demo-pw-1001", "1002": "demo-pw-1002", "1003": "demo-pw-1003", "1004": "demo-pw-1004"}


def say(msg):
    print("\n\033[1m== %s\033[0m" % msg if sys.stdout.isatty() else "\n== %s" % msg, flush=True)


def follow(path, prefix, stop):
    """Print new lines of a log file until stop is set."""
    with open(path, "rb") as f:
        while not stop.is_set():
            line = f.readline()
            if not line:
                time.sleep(0.1)
                continue
            print("%s%s" % (prefix, line.decode(errors="replace").rstrip()), flush=True)


def show_status(gw):
    r = subprocess.run([gw.gwctl, "--config", gw.config_path, "status"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=5)
    print(r.stdout.decode(errors="replace").rstrip(), flush=True)


def show_location(kam):
    loc = kam.location()
    if not loc:
        print("(location table empty)", flush=True)
    for aor, contacts in sorted(loc.items()):
        for c in contacts:
            print("  %-6s %-32s expires in %ss" % (aor, c.get("Address"), c.get("Expires")), flush=True)


def gwctl_line(gw, *args):
    r = subprocess.run([gw.gwctl, "--config", gw.config_path, "line"] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    return r.returncode, r.stdout.decode(errors="replace").strip()


def line_state(gw, port):
    rc, out = gwctl_line(gw, port, "status", "--json")
    try:
        doc = json.loads(out) if rc == 0 else {}
    except ValueError:
        return {}
    return doc[0] if isinstance(doc, list) and doc else doc


def call(gw, how):
    """Line 1 (saying 1 kHz) calls line 2 (600 Hz, answers by itself): talk 3 s, hang up, check what each heard."""
    say("a call %s: line 1 goes off hook and dials 1002 (DTMF), line 2 rings and answers" % how)
    for f in ("heard-1.wav", "heard-2.wav"):
        if os.path.exists(gw.env.path(f)):
            os.unlink(gw.env.path(f))
    gwctl_line(gw, 1, "offhook")
    time.sleep(0.6)
    t0 = time.monotonic()
    gwctl_line(gw, 1, "dial", "1002")
    deadline = time.monotonic() + 15
    st = {}
    while time.monotonic() < deadline:
        st = line_state(gw, 1)
        if (st.get("call") or {}).get("state") == "connected":
            break
        time.sleep(0.1)
    else:
        raise Failure("the call did not connect: line 1 %s" % json.dumps(st))
    print("connected %.2f s after dialling began" % (time.monotonic() - t0), flush=True)
    for port in (1, 2):
        print("  $ gwctl line %d status\n%s" % (port, "\n".join("    " + x for x in gwctl_line(gw, port, "status")[1].splitlines())),
              flush=True)
    time.sleep(3)
    say("line 1 hangs up; line 2 hears busy tone and hangs up too")
    gwctl_line(gw, 1, "onhook")
    time.sleep(1.0)
    gwctl_line(gw, 2, "onhook")
    time.sleep(0.5)
    for port, expect in ((1, 600), (2, 1000)):
        path = gw.env.path("heard-%d.wav" % port)
        deadline = time.monotonic() + 5      # an on-hook is a hang-up only after flash_max
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not os.path.exists(path):
            raise Failure("line %d's recording %s was not written" % (port, path))
        _, samples = audio.read(path)
        print("line %d heard %.1f s; of the loud part, %.0f %% is at %s Hz (the other side says %d Hz)" %
              (port, len(samples) / 8000.0, 100 * audio.tone_fraction(samples, expect)[0], expect, expect), flush=True)


def all_via(doc, proxy):
    lines = doc.get("lines", [])
    return len(lines) == 4 and all(ln.get("registration") == "registered" and ln.get("registered_via") == proxy
                                   for ln in lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(SRC, "build"))
    ap.add_argument("--duration", type=float, default=None,
                    help="stop after this many seconds (default: 30 without a terminal on stdin)")
    a = ap.parse_args()
    duration = a.duration
    if duration is None and not sys.stdin.isatty():
        duration = 30.0

    env = Env("demo", a.build_dir)
    stop_follow = threading.Event()

    def on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started with SIGINT ignored
    rc = 0
    kam = gw = None
    try:
        say("Kamailio registrar on udp:%s (subscribers %s)" % (KAM, ", ".join(USERS)))
        kam = Kamailio(env, "kamailio-main", KAM, USERS).start()
        say("Kamailio registrar as the redundant proxy on udp:%s" % KAM_R1)
        kam_r1 = Kamailio(env, "kamailio-r1", KAM_R1, USERS).start()

        cfg = {
            "sip": {"listen": GW},
            "profiles": [{"name": "provider", "proxy": KAM, "redundant_proxies": [KAM_R1],
                          "redundancy_mode": "homing", "keepalive": "options", "keepalive_period": "2s",
                          "invite_total_timeout": "2s", "register_expires": "60s",
                          "register_retry_base": "1s", "register_retry_max": "8s"}],
            "lines": [{"port": i, "number": n, "password": pw, "profile": "provider"}
                      for i, (n, pw) in enumerate(sorted(USERS.items()), 1)],
            # SDES SRTP where the far end offers or accepts it (both ends are ours here).
            "media": {"srtp": "optional"},
        }
        # What the subscribers of lines 1 and 2 say (a tone each) and hear (recorded);
        # line 2 answers by itself. Four-digit numbers: the call starts at the 4th digit.
        cfg["profiles"][0]["dial_plan"] = "xxxx"
        for port, hz in ((1, 1000), (2, 600)):
            audio.write_tone(env.path("say-%d.wav" % port), hz, 2.0)
            cfg["lines"][port - 1].update({"play": env.path("say-%d.wav" % port),
                                           "record": env.path("heard-%d.wav" % port)})
        cfg["lines"][1]["auto_answer"] = "500ms"
        gw = Gateway(env, cfg)
        say("gateway: gwsupd --config %s (4 simulated lines on sip %s)" % (gw.config_path, GW))
        print(open(gw.config_path).read().replace("demo-pw-", "***-"), flush=True)
        gw.start()
        tap = gw.start_tap(json_lines=False)
        say("bus tap (gwtap), live:")
        threading.Thread(target=follow, args=(tap.log_path, "  tap| ", stop_follow), daemon=True).start()

        gw.wait_status("4 lines registered", lambda d: len(d.get("lines", [])) == 4 and all(
            ln.get("registration") == "registered" for ln in d["lines"]), 15 * env.time_factor)
        time.sleep(0.5)
        say("gwctl status")
        show_status(gw)
        say("Kamailio's location table (ul.dump)")
        show_location(kam)

        call(gw, "through the main proxy")

        say("the main proxy fails: Kamailio on %s killed (SIGKILL to all its processes)" % KAM)
        os.killpg(kam.proc.pid, signal.SIGKILL)
        kam.proc.wait(5)
        t_fail = time.monotonic()
        gw.wait_status("every line registered on the redundant proxy", lambda d: all_via(d, KAM_R1),
                       30 * env.time_factor)
        print("all 4 lines registered on %s %.2f s after the main proxy died" % (KAM_R1, time.monotonic() - t_fail),
              flush=True)
        time.sleep(0.3)
        say("gwctl status")
        show_status(gw)
        say("the redundant Kamailio's location table")
        show_location(kam_r1)
        call(gw, "through the redundant proxy")

        say("the main proxy is back: Kamailio on %s restarted (homing)" % KAM)
        kam = Kamailio(env, "kamailio-main", KAM, USERS).start()
        t_back = time.monotonic()
        gw.wait_status("every line registered on the main proxy again", lambda d: all_via(d, KAM),
                       30 * env.time_factor)
        print("all 4 lines back on %s %.2f s after it restarted" % (KAM, time.monotonic() - t_back), flush=True)
        time.sleep(0.3)
        say("gwctl status")
        show_status(gw)
        say("the main Kamailio's location table")
        show_location(kam)

        t0 = time.monotonic()
        say("running%s — Ctrl-C to stop" % (" for %.0f s" % duration if duration else ""))
        while duration is None or time.monotonic() - t0 < duration:
            time.sleep(0.5)
            if gw.proc.poll() is not None:
                raise Failure("gwsupd exited with %s" % gw.proc.poll())
    except KeyboardInterrupt:
        print("\n(interrupted)", flush=True)
    except (Failure, Skip) as e:
        print("demo: %s" % e, file=sys.stderr, flush=True)
        env.dump_logs(60)
        rc = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not cut the clean stop short
        try:
            if gw and gw.proc and gw.proc.poll() is None:
                say("stopping the gateway (SIGTERM: lines un-REGISTER)")
                code, secs = gw.stop(signal.SIGTERM, 10)
                print("gwsupd exited %s after %.2f s" % (code, secs), flush=True)
                time.sleep(0.3)
                if kam:
                    say("Kamailio's location table after the stop")
                    show_location(kam)
        except Exception as e:
            print("demo: %s" % e, file=sys.stderr)
            rc = 1
        stop_follow.set()
        env.cleanup()
        env.remove()
    return rc


if __name__ == "__main__":
    sys.exit(main())
