#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench-chaos.py: repeated SIGKILLs of the daemons under continuous call traffic.

    bench-chaos.py --build-dir BUILD [--duration 300] [--kills 20] [--seed N] [--keep]

On loopback (Kamailio 127.0.0.150:5070 with dialog tracking, gateway
127.0.0.151:5062, SIPp 127.0.0.152): 8 simulated lines registered at a real
Kamailio. For --duration seconds:

* line-to-line calls: lines 1 and 2 go off hook and dial lines 3 and 4
  (gwctl line N dial), which answer by themselves; each call is held 1-4 s,
  then the caller hangs up; the next call starts at once;
* SIPp calls lines 5-8 in turn through Kamailio (one call every 2 s, at most
  4 at a time), holds each 1-4 s and sends BYE;
* --kills SIGKILLs at random moments (at least 3 s apart, none in the first
  8 s or the last 10 s), each of a daemon drawn at random among sigd, regd,
  mediad and linehwd; gwsupd restarts it.

Then traffic stops and the script checks and prints: calls set up and
connected (per source), kills per daemon and their restart times, calls lost
(connected calls that ended other than by a hang-up: a line-to-line call
whose lines left 'connected' before the caller hung up, a SIPp call that got
a BYE from the gateway or no 200 to its own BYE), lines stuck (not idle and on
hook at the end, or unable to complete one more call), dialogs open at
Kamailio ('dlg.list'), and per daemon (and gwsupd, which keeps the SIP and
RTP sockets across restarts) the open file descriptors and private/RSS
memory with no call up, before the first kill and after the run.

Fails (exit 1) on a lost call, a stuck line, an open dialog, more fds at the
end than at the start, or a daemon whose private memory (USS) grew by more
than 25 % and 1 MiB. Before the start sample every line carries one call
(warm-up), so both samples are of daemons that have carried calls, with none
up, each --settle-s (35 s) after the last call: sigd keeps an ended
transaction up to 32 s (libosip2 timers D and J over UDP), so a sample sooner counts the last
half-minute's transactions as growth. Exit 77 when kamailio, sipp or a daemon is missing. --seed makes the
kill schedule, the daemons killed and the hold times repeatable (the moments
the kills land in the call flow still depend on timing).
"""

import argparse
import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from fxsgwtest import (EXIT_SKIP, Env, Failure, Gateway, Kamailio, Skip,  # noqa: E402
                       log, wait_until)

KAM = "127.0.0.150:5070"
GW = "127.0.0.151:5062"
SIPP_IP = "127.0.0.152"
DAEMONS = ("sigd", "regd", "mediad", "linehwd")
PAIRS = ((1, 3), (2, 4))                # caller port -> callee port
SIPP_PORTS = (5, 6, 7, 8)
NUMBER = {p: str(3000 + p) for p in range(1, 9)}


def gwctl_line(gw, *args, timeout=5):
    r = subprocess.run([gw.gwctl, "--config", gw.config_path, "line"] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    if r.returncode != 0:
        raise Failure("gwctl line %s: %s" % (" ".join(map(str, args)), r.stdout.decode(errors="replace").strip()))
    return r.stdout.decode(errors="replace")


def line_state(gw, port):
    """(call state, hook) or None while gwctl gets no answer (a daemon restarting)."""
    try:
        doc = json.loads(gwctl_line(gw, port, "status", "--json"))
    except (Failure, ValueError, subprocess.TimeoutExpired):
        return None
    doc = doc[0] if isinstance(doc, list) else doc
    return (doc.get("call") or {}).get("state", "idle"), doc.get("hook")


def line_cmd(gw, port, *args, within=8.0):
    """A gwctl line command, retried while the daemon that takes it restarts."""
    end = time.monotonic() + within
    while True:
        try:
            return gwctl_line(gw, port, *args)
        except (Failure, subprocess.TimeoutExpired):
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def wait_state(gw, port, pred, timeout):
    """Last known state once pred(state) holds, or None at the timeout; states gwctl could
    not read are skipped."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = line_state(gw, port)
        if st is not None and pred(st):
            return st
        time.sleep(0.1)
    return None


def proc_figures(pid):
    """(open fds, private kB, RSS kB) of a process. Private (USS: Private_Clean + Private_Dirty),
    not PSS: PSS shares library pages among whatever processes map them, so it moves when SIPp
    or a restarted daemon comes and goes."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    uss = rss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for ln in f:
            if ln.startswith(("Private_Clean:", "Private_Dirty:")):
                uss += int(ln.split()[1])
            elif ln.startswith("Rss:"):
                rss = int(ln.split()[1])
    return fds, uss, rss


class Chaos:
    def __init__(self, env, a):
        self.env = env
        self.a = a
        self.rng = random.Random(a.seed)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.l2l = collections.Counter()      # set_up, connected, lost, not_connected, callee_manual_onhook
        self.lost = []
        self.kills = collections.Counter()
        self.restart_s = collections.defaultdict(list)
        self.errors = []
        self.stuck_during = []                # callee lines that did not follow the hang-up

    def note_lost(self, what):
        with self.lock:
            self.lost.append(what)
        log("LOST: %s" % what)

    # ---------------------------------------------------------- set-up

    def start(self):
        users = {NUMBER[p]: "chaos-pw-%d" % p for p in NUMBER}
        self.kam = Kamailio(self.env, "kamailio", KAM, users, extra_defines={"KAM_DIALOG": "1"}).start()
        cfg = {
            "sip": {"listen": GW},
            "profiles": [{"name": "p", "proxy": KAM, "keepalive": "off", "register_expires": "300s",
                          "invite_total_timeout": "4s", "dial_plan": "xxxx", "interdigit_timeout": "2s"}],
            "lines": [],
            "log": {"level": self.a.log_level},
        }
        for p in sorted(NUMBER):
            ln = {"port": p, "number": NUMBER[p], "password": users[NUMBER[p]]}
            if p not in (1, 2):
                ln["auto_answer"] = "200ms"
            cfg["lines"].append(ln)
        self.gw = Gateway(self.env, cfg, name="gw-chaos")
        self.gw.start()
        self.gw.wait_status("every daemon running", lambda d: all(
            (Gateway.service(d, s) or {}).get("state") == "running" for s in DAEMONS), 15)
        self.gw.wait_status("all lines registered", lambda d: len(d.get("lines", [])) == len(NUMBER) and all(
            ln.get("registration") == "registered" for ln in d["lines"]), 20)

    def pids(self):
        _, doc = self.gw.status()
        out = {"gwsupd": self.gw.proc.pid}
        for d in DAEMONS:
            out[d] = int((Gateway.service(doc, d) or {}).get("pid") or 0)
        return out

    def sample(self):
        out = {}
        for name, pid in self.pids().items():
            out[name] = proc_figures(pid) if pid else None
        return out

    # ---------------------------------------------------------- traffic

    def line_to_line(self, caller, callee):
        gw = self.gw
        while not self.stop.is_set():
            try:
                self.one_line_call(caller, callee, self.rng_hold())
            except Exception as e:           # noqa: BLE001 (any failure is reported, the loop goes on)
                with self.lock:
                    self.errors.append("line %d: %s" % (caller, e))
                log("line %d: %s" % (caller, e))
                time.sleep(1)
                try:
                    line_cmd(gw, caller, "onhook")
                except Exception:             # noqa: BLE001
                    pass
                wait_state(gw, caller, lambda s: s == ("idle", "on"), 10)

    def rng_hold(self):
        with self.lock:
            return self.rng.uniform(1.0, 4.0)

    def one_line_call(self, caller, callee, hold):
        """One call caller -> callee; returns 'connected', 'lost' or 'not connected'."""
        gw = self.gw
        line_cmd(gw, caller, "offhook")
        time.sleep(0.4)
        line_cmd(gw, caller, "dial", NUMBER[callee])
        with self.lock:
            self.l2l["set up"] += 1
        both = lambda: (line_state(gw, caller) or ("?",))[0] == "connected" and \
            (line_state(gw, callee) or ("?",))[0] == "connected"
        end = time.monotonic() + 12
        connected = False
        while time.monotonic() < end:
            if both():
                connected = True
                break
            time.sleep(0.1)
        outcome = "not connected"
        if connected:
            with self.lock:
                self.l2l["connected"] += 1
            outcome = "connected"
            t_end = time.monotonic() + hold
            while time.monotonic() < t_end:
                for port in (caller, callee):
                    st = line_state(gw, port)
                    # None: gwctl had no answer (a daemon restarting): not a verdict.
                    if st is not None and st[0] != "connected":
                        outcome = "lost"
                if outcome == "lost":
                    self.note_lost("line %d -> line %d: %s while the call was held" % (
                        caller, callee, (line_state(gw, caller), line_state(gw, callee))))
                    with self.lock:
                        self.l2l["lost"] += 1
                    break
                time.sleep(0.25)
        else:
            with self.lock:
                self.l2l["not connected"] += 1
            log("line %d -> line %d: not connected (%s, %s)" % (caller, callee, line_state(gw, caller),
                                                                line_state(gw, callee)))
        line_cmd(gw, caller, "onhook")
        if wait_state(gw, callee, lambda s: s == ("idle", "on"), 8) is None:
            with self.lock:
                self.l2l["callee hung up by hand"] += 1
                self.stuck_during.append("line %d still %s 8 s after line %d hung up" % (
                    callee, line_state(gw, callee), caller))
            log("line %d still %s 8 s after the hang-up: gwctl onhook" % (callee, line_state(gw, callee)))
            line_cmd(gw, callee, "onhook")
            wait_state(gw, callee, lambda s: s == ("idle", "on"), 5)
        wait_state(gw, caller, lambda s: s == ("idle", "on"), 8)
        return outcome

    def start_sipp(self, name, calls, rate_period_ms, limit, numbers):
        inf = self.env.path("%s.csv" % name)
        with open(inf, "w") as f:
            f.write("SEQUENTIAL\n" + "".join("%s;\n" % n for n in numbers))
        sipp = Env.system_bin("sipp")
        msglog = self.env.path("%s.messages.log" % name)
        argv = [sipp, KAM, "-sf", os.path.join(HERE, "sipp", "chaos-uac.xml"), "-inf", inf,
                "-i", SIPP_IP, "-p", "5099", "-mi", SIPP_IP, "-mp", "41000",
                "-r", "1", "-rp", str(rate_period_ms), "-m", str(calls), "-l", str(limit),
                "-recv_timeout", "15000", "-nostdin", "-trace_msg", "-message_file", msglog,
                "-trace_stat", "-stf", self.env.path("%s.stat.csv" % name), "-fd", "1"]
        return self.env.start(name, argv), msglog

    # ---------------------------------------------------------- kills

    def killer(self, t0):
        a = self.a
        usable = max(1.0, a.duration - 18.0)
        times = sorted(self.rng.uniform(0, usable) for _ in range(a.kills))
        # At least 3 s apart: spread any cluster forward.
        for i in range(1, len(times)):
            times[i] = max(times[i], times[i - 1] + 3.0)
        victims = [self.rng.choice(DAEMONS) for _ in times]
        for at, victim in zip(times, victims):
            at += 8.0
            if at > a.duration - 10.0:
                log("kill schedule: no room for more kills")
                break
            while time.monotonic() - t0 < at:
                if self.stop.wait(0.05):
                    return
            try:
                _, doc = self.gw.status()
                svc = Gateway.service(doc, victim) or {}
                if svc.get("state") != "running" or not svc.get("pid"):
                    self.gw.wait_status("%s running" % victim, lambda d: (Gateway.service(d, victim) or {}).get(
                        "state") == "running", 10)
                    _, doc = self.gw.status()
                    svc = Gateway.service(doc, victim)
                pid = int(svc["pid"])
                os.kill(pid, signal.SIGKILL)
                k = time.monotonic()
                with self.lock:
                    self.kills[victim] += 1
                log("kill #%d at %.1f s: %s (pid %d)" % (sum(self.kills.values()), k - t0, victim, pid))

                def back(d):
                    s = Gateway.service(d, victim) or {}
                    return s.get("state") == "running" and s.get("pid") not in (None, 0, pid)
                self.gw.wait_status("%s back" % victim, back, 10)
                self.restart_s[victim].append(time.monotonic() - k)
            except (Failure, OSError, KeyError, TypeError, ValueError) as e:
                with self.lock:
                    self.errors.append("kill %s: %s" % (victim, e))
                log("kill %s: %s" % (victim, e))

    # ---------------------------------------------------------- SIPp outcome

    @staticmethod
    def sipp_calls(path):
        """{call-id: {'connected', 'far_bye', 'bye_ok', 'final'}} from a SIPp message log."""
        calls = collections.defaultdict(lambda: {"connected": False, "far_bye": False, "bye_ok": False,
                                                 "final": None})
        try:
            text = open(path, errors="replace").read()
        except OSError:
            return {}
        for block in re.split(r"\n-{20,}[^\n]*\n", "\n" + text):
            head, _, msg = block.partition("\n\n")
            if "message received" not in head and "message sent" not in head:
                continue
            received = "received" in head
            msg = msg.strip()
            first = msg.split("\n", 1)[0]
            cid = re.search(r"^(?:Call-ID|i)\s*:\s*(\S+)", msg, re.M | re.I)
            cseq = re.search(r"^CSeq\s*:\s*\d+\s+(\w+)", msg, re.M | re.I)
            if not cid or not cseq:
                continue
            c = calls[cid.group(1)]
            method = cseq.group(1).upper()
            if not received:
                continue
            m = re.match(r"SIP/2\.0\s+(\d{3})", first)
            if m:
                code = int(m.group(1))
                if method == "INVITE" and code >= 200:
                    c["final"] = code
                    if code == 200:
                        c["connected"] = True
                elif method == "BYE" and code == 200:
                    c["bye_ok"] = True
            elif first.startswith("BYE "):
                c["far_bye"] = True
        return calls

    # ---------------------------------------------------------- run

    def run(self):
        a = self.a
        self.start()
        # Warm-up (not counted): a call on every line, so that the start figures, like the end
        # ones, are of daemons that have carried calls; then no call is up at either sample.
        counted = collections.Counter(self.l2l)
        bad = self.every_line_calls("warm-up")
        self.l2l = counted
        if bad:
            raise Failure("warm-up: %s" % "; ".join(bad))
        time.sleep(a.settle_s)
        self.before = self.sample()
        log("start figures: %s" % self.before)
        t0 = time.monotonic()
        sipp_calls = max(1, int((a.duration - 6) / 2.0))
        sipp, self.msglog = self.start_sipp("sipp-chaos", sipp_calls, 2000, len(SIPP_PORTS), [NUMBER[p] for p in SIPP_PORTS])
        threads = [threading.Thread(target=self.line_to_line, args=pair, daemon=True) for pair in PAIRS]
        killer = threading.Thread(target=self.killer, args=(t0,), daemon=True)
        for t in threads + [killer]:
            t.start()
        while time.monotonic() - t0 < a.duration:
            self.gw.check_alive()
            time.sleep(0.5)
        self.stop.set()
        killer.join(15)
        for t in threads:
            t.join(40)
        rc = sipp.wait(60)
        if rc is None:
            sipp.stop()
            self.errors.append("SIPp still running 60 s after the end")
        self.sipp_rc = rc
        # Let the last transactions end, then look.
        time.sleep(3.0)
        self.check_end()

    def check_end(self):
        gw = self.gw
        self.stuck = list(self.stuck_during)
        for p in sorted(NUMBER):
            if wait_state(gw, p, lambda s: s == ("idle", "on"), 10) is None:
                self.stuck.append("line %d ends %s" % (p, line_state(gw, p)))
        try:
            self.dialogs = wait_until("no dialog at Kamailio", lambda: self.dlg_count() == 0 or None, 10, 0.5) \
                and 0
        except Failure:
            self.dialogs = self.dlg_count()
        gw.wait_status("every daemon running", lambda d: all(
            (Gateway.service(d, s) or {}).get("state") == "running" for s in DAEMONS), 15)
        time.sleep(self.a.settle_s)
        self.after = self.sample()
        log("end figures: %s" % self.after)
        # Every line can still make or take a call (not counted in the run's figures).
        counted = collections.Counter(self.l2l)
        self.stuck += self.every_line_calls("final")
        self.l2l = counted

    def every_line_calls(self, name):
        """One call on every line: lines 1, 2 -> 3, 4 and SIPp -> 5..8; what failed."""
        bad = []
        for caller, callee in PAIRS:
            if self.one_line_call(caller, callee, 0.5) != "connected":
                bad.append("line %d -> line %d: no call (%s)" % (caller, callee, name))
        sipp, msglog = self.start_sipp("sipp-%s" % name, len(SIPP_PORTS), 1500, len(SIPP_PORTS),
                                       [NUMBER[p] for p in SIPP_PORTS])
        sipp.wait(40)
        calls = self.sipp_calls(msglog)
        ok = sum(1 for c in calls.values() if c["connected"] and c["bye_ok"] and not c["far_bye"])
        if ok != len(SIPP_PORTS):
            bad.append("SIPp -> lines 5-8 (%s): %d of %d calls completed" % (name, ok, len(SIPP_PORTS)))
        for p in SIPP_PORTS:
            wait_state(self.gw, p, lambda s: s == ("idle", "on"), 5)
        return bad

    def dlg_count(self):
        res = self.kam.rpc("dlg.list")
        if isinstance(res, list):
            return len(res)
        return len((res or {}).get("Dialogs", []) or [])

    def report(self):
        sc = self.sipp_calls(self.msglog)
        s_set = len(sc)
        s_conn = sum(1 for c in sc.values() if c["connected"])
        s_lost = [cid for cid, c in sc.items() if c["connected"] and (c["far_bye"] or not c["bye_ok"])]
        s_fail = collections.Counter(c["final"] for c in sc.values() if not c["connected"])
        for cid in s_lost:
            self.note_lost("SIPp call %s: %s" % (cid, sc[cid]))
        lost = self.l2l["lost"] + len(s_lost)
        print("\n== bench-chaos: %.0f s, seed %s" % (self.a.duration, self.a.seed))
        print("calls set up:    %d (line to line %d, SIPp -> lines %d)" % (self.l2l["set up"] + s_set,
                                                                          self.l2l["set up"], s_set))
        print("calls connected: %d (line to line %d, SIPp -> lines %d)" % (self.l2l["connected"] + s_conn,
                                                                          self.l2l["connected"], s_conn))
        print("not connected:   line to line %d; SIPp %s" % (self.l2l["not connected"], dict(s_fail) or 0))
        if self.l2l["callee hung up by hand"]:
            print("callee lines hung up by hand (auto-answer did not): %d" % self.l2l["callee hung up by hand"])
        print("kills:           %d (%s)" % (sum(self.kills.values()), ", ".join(
            "%s %d" % (d, self.kills[d]) for d in DAEMONS)))
        for d in DAEMONS:
            v = self.restart_s.get(d)
            if v:
                print("  %-8s back running after %.2f s median, %.2f s worst" % (d, sorted(v)[len(v) // 2], max(v)))
        print("calls lost:      %d" % lost)
        for w in self.lost:
            print("  " + w)
        print("lines stuck:     %d" % len(self.stuck))
        for w in self.stuck:
            print("  " + w)
        print("dialogs open at Kamailio at the end: %d" % self.dialogs)
        print("%-8s %14s %20s %18s" % ("daemon", "fds start/end", "private kB start/end", "RSS kB start/end"))
        growth = []
        for name in ("gwsupd",) + DAEMONS:
            b, e = self.before.get(name), self.after.get(name)
            if not b or not e:
                print("%-8s (no figures)" % name)
                continue
            print("%-8s %7d/%-6d %11d/%-8d %9d/%-8d" % (name, b[0], e[0], b[1], e[1], b[2], e[2]))
            if e[0] > b[0]:
                growth.append("%s: %d fds at the end, %d at the start" % (name, e[0], b[0]))
            if e[1] - b[1] > max(1024, b[1] // 4):
                growth.append("%s: private memory %d kB at the end, %d kB at the start" % (name, e[1], b[1]))
        for w in growth:
            print("GROWTH: " + w)
        for w in self.errors:
            print("error: " + w)
        print("(SIPp exit %s)" % self.sipp_rc)
        return 0 if not lost and not self.stuck and not self.dialogs and not growth else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of traffic (30..900)")
    ap.add_argument("--kills", type=int, default=20, help="SIGKILLs (0..60)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: drawn and printed)")
    ap.add_argument("--settle-s", type=float, default=35.0,
                    help="idle seconds before each fd/memory sample (0..60): ended transactions are kept "
                         "up to 32 s (timers D, J)")
    ap.add_argument("--log-level", default="notice", help="the gateway's log level (info to look into a failure)")
    ap.add_argument("--keep", action="store_true", help="keep the run's directory (logs, SIPp message logs)")
    a = ap.parse_args()
    a.duration = min(900.0, max(30.0, a.duration))
    a.kills = min(60, max(0, a.kills))
    a.settle_s = min(60.0, max(0.0, a.settle_s))
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    print("bench-chaos: seed %d (--seed %d repeats the schedule)" % (a.seed, a.seed), flush=True)

    def on_signal(sig, _frame):
        raise Failure("interrupted by signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    env = Env("bench-chaos", a.build_dir, a.keep)
    rc = 0
    try:
        for d in ("gwsupd", "gwctl") + DAEMONS:
            env.service_bin(d)
        Env.system_bin("kamailio")
        Env.system_bin("sipp")
        chaos = Chaos(env, a)
        chaos.run()
        rc = chaos.report()
        if rc:
            env.dump_logs(60)
        chaos.gw.stop(signal.SIGTERM, 10)
        chaos.kam.stop()
    except Skip as e:
        print("skipped: %s" % e)
        rc = EXIT_SKIP
    except Failure as e:
        print("bench-chaos: %s" % e, file=sys.stderr)
        env.dump_logs(80)
        rc = 1
    finally:
        env.cleanup()
        if not a.keep:
            env.remove()
    return rc


if __name__ == "__main__":
    sys.exit(main())
