#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""test_units.py: the gateway's systemd units under a real systemd (one container boot).

    test_units.py --build-dir BUILD [--keep] [--figures FILE] [--only CHECK,...]

The gateway (a `meson install` of BUILD) runs in a Debian 12 container booted with
systemd as PID 1 (container.py), inside the network namespace "gw" of a netns.Lab;
Kamailio (tests/integration/kamailio/registrar.cfg) is the registrar in the
namespace "kam", and sipcap.py records every SIP message on the gateway's bridge
port. One boot serves every check, in this order (each leaves the gateway as the
next one expects it):

  security   systemd-analyze security of each unit: exposure level "OK" or better
  start      systemctl start fxsgw.target: each daemon active only after its
             READY=1, a STATUS= text, every line registered at Kamailio
  journal    journalctl -o json: GW_LINE, GW_PROFILE, GW_PROXY, SIP_CALL_ID and
             MESSAGE_ID on the registrations and on a call between two lines
  kill       systemctl kill -s KILL of each daemon: restarted (new MainPID,
             NRestarts+1), the others untouched; systemctl restart of regd and
             sigd; the registrations kept at Kamailio with no REGISTER (nor
             un-REGISTER) sent meanwhile
  reload     systemctl reload fxsgw.target (PropagatesReloadTo=) with the file
             rewritten unchanged: no REGISTER, no restart, every unit active again;
             a line's password changed (Kamailio's too), systemctl reload of one
             unit: that line's one REGISTER transaction, nothing else; a broken
             file: systemctl reload of a unit fails, the journal says why (of the
             target: "Reload failed for fxsgw-regd.service"), nothing changes
  watchdog   kill -STOP of every daemon: each is killed by the watchdog and
             restarted within WatchdogSec + 3 s
  dbus       the D-Bus API org.fxsgw.Gateway1 on the system bus (regd a unit):
             tree, introspect, lines registered, each service's PID = MainPID and
             Restarts = NRestarts, gwctl status --from dbus, RestartService(mediad)
             through systemd's RestartUnit as user fxsgw (polkitd applies the
             installed rule: mediad restarted; StopUnit, or another unit, refused
             to fxsgw), nobody refused
  stop       systemctl stop fxsgw.target: every line un-REGISTERed (Expires 0,
             with credentials, 200) before sigd stops; no unit timed out
  gwsupd     the same start and stop with fxsgw-gwsupd.service (and the D-Bus
             API served there too)
Figures (times) are printed and, with --figures, written as JSON.

Exit 0 pass, 1 fail, 77 skip (not root, or no systemd-nspawn/debootstrap/ip/nft).
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import container  # noqa: E402
import netns  # noqa: E402
from fxsgwtest import EXIT_SKIP, Env, Failure, Kamailio, Skip, log, to_yaml, wait_until  # noqa: E402

DAEMONS = ("sigd", "regd", "mediad", "linehwd")
UNITS = ["fxsgw-%s.service" % d for d in DAEMONS]
USERS = {"1001": "pw1001", "1002": "pw1002", "1003": "pw1003", "1004": "pw1004"}
WATCHDOG_S = 10            # WatchdogSec= of the units
EXPIRES_S = 600            # no refresh falls in the test's few minutes
MSG_REGISTERED = "686e1f4b4294449aa8b15be643316a0d"
MSG_UNREGISTER_DONE = "e566e4e7fea443b8b25e9e9f8246a943"
MSG_STOPPING = "f53dc797ba12434b9294f5909672ae9c"
MSG_CALL_ANSWERED = "cfe3ffd629a64a9688ada3b51bc87b51"
MSG_CALL_INCOMING = "a6c18ebd59d74f78aca601c607004364"
MSG_CALL_OUTGOING = "f0e58b99f2a54922868753de7d5fe8d6"
SECURITY_OK = ("SAFE", "OK")     # systemd-analyze's levels, best first: SAFE OK MEDIUM EXPOSED UNSAFE


def stamp(entry):
    """When a journal entry was sent (µs, CLOCK_REALTIME): the kernel's time stamp of
    the datagram, which follows causality across processes, unlike journald's own
    reception order of its several sockets."""
    return int(entry.get("_SOURCE_REALTIME_TIMESTAMP") or entry["__REALTIME_TIMESTAMP"])


class Suite:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build_dir)
        self.env = Env("systemd-units", self.build, keep=args.keep)
        self.figures = {}
        self.lab = None
        self.ct = None
        self.capture = None
        self.kam = None

    # ------------------------------------------------------------ set-up

    def setup(self):
        self.lab = netns.Lab(["gw", "kam"], subnet="10.78.12")
        self.lab.open()
        gw, kam = self.lab.host("gw"), self.lab.host("kam")
        self.gw_ip, self.kam_ip = gw.ip, kam.ip
        self.capture = self.env.start("capture", [
            "ip", "netns", "exec", self.lab.br_ns, sys.executable, "-u",
            os.path.join(HERE, "..", "integration", "sipcap.py"), gw.port,
            "gw=%s" % gw.ip, "kam=%s" % kam.ip])
        wait_until("the SIP capture", lambda: '"ready"' in self.capture.output(), 5.0)
        # Its own namespace: never the 5060 of a Kamailio service on this machine.
        self.kam = Kamailio(self.env, "kam", "%s:5060" % kam.ip, USERS, netns=kam.ns)
        self.kam.start()

        base = container.base_root(self.build)
        self.ct = container.Container(base, self.env.path("ct"), name="fxsgw-test",
                                      netns="/run/netns/%s" % gw.ns)
        self.ct.mount()
        self.ct.install(self.build)
        config = {
            "sip": {"listen": "%s:5060" % gw.ip, "trusted_sources": ["10.78.12.0/24"]},
            "profiles": [{
                "name": "provider", "proxy": "%s:5060" % kam.ip, "keepalive": "off",
                "invite_total_timeout": "4s", "register_expires": "%ds" % EXPIRES_S,
                "register_retry_base": "1s", "register_retry_max": "4s",
                "domain": "fxsgw.test", "dial_plan": "1xxx", "interdigit_timeout": "1s"}],
            "lines": [{"port": i, "number": u, "password": pw, "profile": "provider"}
                      for i, (u, pw) in enumerate(sorted(USERS.items()), 1)],
            "log": {"level": "info"},
        }
        config["lines"][1]["auto_answer"] = "300ms"
        self.config = config
        self.ct.write("/etc/fxsgw/fxsgw.yaml", "# test_units.py\n" + to_yaml(config) + "\n", mode=0o640)
        # The documented drop-in: the socket unit on sip.listen's address (docs/OPERATIONS.md).
        self.ct.write("/etc/systemd/system/fxsgw-sigd.socket.d/listen.conf",
                      "[Socket]\nListenDatagram=\nListenDatagram=%s:5060\n" % gw.ip)
        # The D-Bus policy as docs/OPERATIONS.md says for a prefix dbus-daemon does not
        # read (/usr/local): a copy in /etc/dbus-1/system.d.
        with open(os.path.join(HERE, "..", "..", "deploy", "dbus-1", "org.fxsgw.Gateway1.conf")) as f:
            self.ct.write("/etc/dbus-1/system.d/org.fxsgw.Gateway1.conf", f.read())
        # The polkit rule likewise: polkitd reads /etc and /usr/share, not /usr/local.
        with open(os.path.join(HERE, "..", "..", "deploy", "polkit-1", "50-fxsgw.rules")) as f:
            self.ct.write("/etc/polkit-1/rules.d/50-fxsgw.rules", f.read())
        self.ct.boot()

    def teardown(self):
        if self.ct:
            if self.ct.leader and (self.args.keep or getattr(self, "failed", False)):
                try:
                    text = self.ct.run(["journalctl", "--no-pager", "-o", "short-monotonic", "-n", "400",
                                        "-u", "fxsgw*", "-u", "polkit.service"], check=False).stdout
                    with open(self.env.path("journal.txt"), "w") as f:
                        f.write(text)
                    self.env.logs.append(("journal (fxsgw*)", self.env.path("journal.txt")))
                except Exception as e:      # keep tearing down
                    log("journal: %s" % e)
            self.ct.teardown()
            if not self.args.keep:
                self.ct.remove()
        self.env.cleanup()
        if self.lab:
            self.lab.close()

    # ------------------------------------------------------------ helpers

    def packets(self):
        out = []
        for line in self.capture.output().splitlines():
            if line.startswith("{") and '"ready"' not in line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def registers(self, since, until=None, unregister=None):
        """REGISTERs the gateway sent in [since, until] (monotonic s)."""
        out = []
        for p in self.packets():
            if p.get("src") != "gw" or p.get("method") != "REGISTER" or p["t"] < since:
                continue
            if until is not None and p["t"] > until:
                continue
            if unregister is not None and (p.get("expires") == "0") != unregister:
                continue
            out.append(p)
        return out

    def answers(self, reqs, status=200):
        """Kamailio's answers (status) to these requests, by Call-ID and CSeq."""
        keys = {(p["call_id"], p["cseq"]) for p in reqs}
        return [p for p in self.packets() if p.get("src") == "kam" and p.get("status") == status
                and p.get("cseq_method") == "REGISTER" and (p.get("call_id"), p.get("cseq")) in keys]

    def location_users(self):
        return sorted(aor.split("@")[0] for aor, contacts in self.kam.location().items() if contacts)

    def wait_location(self, users, timeout):
        return wait_until("Kamailio's location to hold %s" % users,
                          lambda: self.location_users() == sorted(users), timeout, 0.05)

    def units_state(self):
        out = {}
        for u in UNITS:
            out[u] = self.ct.show(u, "ActiveState", "SubState", "MainPID", "NRestarts", "Result",
                                  "StatusText", "ExecMainStartTimestampMonotonic")
        return out

    def gwctl_status(self):
        r = self.ct.run(["gwctl", "status", "--json"], check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def journal_wait(self, what, args, pred, enough=None, timeout=5):
        """Journal entries (journalctl ARGS) matching pred, once there are some (or
        enough(entries) holds): journald stores what it gets a moment later."""
        def probe():
            es = [e for e in self.ct.journal(*args) if pred(e)]
            return es if (enough(es) if enough else es) else None
        return wait_until(what + " in the journal", probe, timeout, 0.1)[0]

    def cursor(self):
        """The journal's cursor now: entries after it are those to come."""
        out = self.ct.run(["journalctl", "-n", "0", "--show-cursor", "--no-pager"]).stdout
        return re.search(r"-- cursor: (\S+)", out).group(1)

    def figure(self, name, value, unit="s"):
        self.figures[name] = round(value, 3) if isinstance(value, float) else value
        log("figure: %s = %s%s" % (name, self.figures[name], " " + unit if unit else ""))

    def check(self, cond, what):
        if not cond:
            raise Failure(what)

    # ------------------------------------------------------------ checks

    def check_security(self):
        levels = {}
        for u in UNITS + ["fxsgw-gwsupd.service"]:
            r = self.ct.run(["systemd-analyze", "security", "--no-pager", u], check=False)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
            self.check(m, "systemd-analyze security %s: no overall level\n%s%s" % (u, r.stdout[-2000:], r.stderr))
            levels[u] = (float(m.group(1)), m.group(2))
            self.figure("security %s" % u, "%s %s" % (m.group(1), m.group(2)), "")
        bad = {u: lv for u, lv in levels.items() if lv[1] not in SECURITY_OK}
        self.check(not bad, "exposure worse than OK: %s" % bad)

    def start_and_check(self, unit, mode):
        t0 = time.monotonic()
        r = self.ct.systemctl("start", unit, timeout=60)
        t_started = time.monotonic()
        self.check(r.returncode == 0, "systemctl start %s failed" % unit)
        self.wait_location(USERS, 20)

        def all_ok():      # the capture writes what it saw a moment later
            regs = self.registers(t0, unregister=False)
            oks = self.answers(regs)
            return (regs, oks) if {p["to_user"] for p in oks} == set(USERS) else None
        try:
            (regs, oks), _ = wait_until("200s to REGISTERs of every line in the capture", all_ok, 5)
        except Failure:
            raise Failure("200 for the REGISTERs of %s only" %
                          sorted({p["to_user"] for p in self.answers(self.registers(t0))}))
        last_ok = max(min(p["t"] for p in oks if p["to_user"] == u) for u in USERS)
        self.figure("%s: systemctl start -> start job done" % mode, t_started - t0)
        self.figure("%s: systemctl start -> last line registered (200 seen)" % mode, last_ok - t0)
        self.figure("%s: REGISTERs sent for %d lines" % (mode, len(USERS)), len(regs), "")
        doc = None
        for _ in range(50):
            doc = self.gwctl_status()
            if doc and all(ln.get("registration") == "registered" for ln in doc.get("lines", [])):
                break
            time.sleep(0.1)
        self.check(doc and len(doc["lines"]) == len(USERS) and
                   all(ln.get("registration") == "registered" for ln in doc["lines"]),
                   "gwctl status: lines not all registered: %s" % (doc or {}).get("lines"))
        return t0

    def check_start(self):
        t0 = self.start_and_check("fxsgw.target", "target")
        st = self.units_state()
        for u, s in st.items():
            self.check(s["ActiveState"] == "active" and s["SubState"] == "running", "%s: %s" % (u, s))
            self.check(s["StatusText"], "%s: no STATUS= text" % u)
        # Type=notify: systemd's "Started" only after the daemon's READY=1 (its "Ready:" line).
        for d, u in zip(DAEMONS, UNITS):
            started = self.journal_wait("systemd's 'Started' of %s" % u, ["_PID=1", "-u", u],
                                        lambda e: str(e.get("MESSAGE", "")).startswith("Started "))
            ready = self.journal_wait("%s's 'Ready:'" % d, ["-u", u, "SYSLOG_IDENTIFIER=%s" % d],
                                      lambda e: str(e.get("MESSAGE", "")).startswith("Ready:"))
            self.check(all("_SOURCE_REALTIME_TIMESTAMP" in e for e in (started[-1], ready[-1])),
                       "%s: journal entries without _SOURCE_REALTIME_TIMESTAMP" % u)
            t_ready, t_started = stamp(ready[-1]), stamp(started[-1])
            self.check(t_ready <= t_started, "%s: active before READY (Ready: at %d, Started at %d)" %
                       (u, t_ready, t_started))
        # regd's STATUS= follows the registrations; `systemctl status` shows it.
        wait_until("regd's STATUS= to count the lines",
                   lambda: self.ct.show("fxsgw-regd.service", "StatusText")["StatusText"] ==
                   "%d/%d lines registered" % (len(USERS), len(USERS)), 5)
        out = self.ct.systemctl("status", "fxsgw-regd.service", check=False).stdout
        self.check(re.search(r"Status: \"%d/%d lines registered\"" % (len(USERS), len(USERS)), out),
                   "systemctl status shows no useful Status:\n%s" % out)
        for u, s in st.items():
            log("%s: %s" % (u, s["StatusText"]))
        self.t_target_start = t0

    def check_journal(self):
        # A call line 1 -> line 2 (auto_answer) through Kamailio, for SIP_CALL_ID on calls.
        t0 = time.monotonic()
        self.ct.run(["gwctl", "line", "1", "offhook"])
        time.sleep(0.3)
        self.ct.run(["gwctl", "line", "1", "dial", "1002"])

        def connected():
            r = self.ct.run(["gwctl", "line", "1", "status", "--json"], check=False)
            try:
                return json.loads(r.stdout).get("call", {}).get("state") == "connected"
            except (ValueError, AttributeError):
                return False
        _, took = wait_until("line 1's call to be connected", connected, 10)
        self.figure("call line 1 -> line 2 through Kamailio: dial -> connected", took)
        self.ct.run(["gwctl", "line", "1", "onhook"])

        def need(entries, what, fields):
            self.check(entries, "journal: no %s" % what)
            for e in entries:
                missing = [f for f in fields if not e.get(f)]
                self.check(not missing, "journal: %s without %s: %s" % (what, missing, e.get("MESSAGE")))

        reg = self.journal_wait("'line registered' of every line", ["MESSAGE_ID=%s" % MSG_REGISTERED],
                                lambda e: True, lambda es: len({e.get("GW_LINE") for e in es}) >= len(USERS))
        need(reg, "'line registered' entries", ["GW_LINE", "GW_PROFILE", "GW_PROXY", "SIP_CALL_ID", "GW_DAEMON"])
        self.check(sorted({e["GW_LINE"] for e in reg}) == ["1", "2", "3", "4"],
                   "journal: registered lines %s" % sorted({e["GW_LINE"] for e in reg}))
        self.check(all(e["GW_PROXY"] == "%s:5060" % self.kam_ip and e["GW_PROFILE"] == "provider" for e in reg),
                   "journal: GW_PROXY/GW_PROFILE of the registrations: %s" %
                   {(e["GW_PROXY"], e["GW_PROFILE"]) for e in reg})
        # The Call-ID of each line's REGISTER, as Kamailio saw it.
        seen = {(p["to_user"], p["call_id"]) for p in self.registers(self.t_target_start)}
        for e in reg:
            user = sorted(USERS)[int(e["GW_LINE"]) - 1]
            self.check((user, e["SIP_CALL_ID"]) in seen, "journal: SIP_CALL_ID %s of line %s never sent" %
                       (e["SIP_CALL_ID"], e["GW_LINE"]))
        deadline = time.monotonic() + 5
        while True:
            out = self.ct.journal("MESSAGE_ID=%s" % MSG_CALL_OUTGOING, "GW_LINE=1")
            inc = self.ct.journal("MESSAGE_ID=%s" % MSG_CALL_INCOMING, "GW_LINE=2")
            ans = self.ct.journal("MESSAGE_ID=%s" % MSG_CALL_ANSWERED)
            if (out and inc and len(ans) >= 2) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        need(out, "outgoing call on line 1", ["GW_LINE", "GW_PROFILE", "GW_PROXY", "SIP_CALL_ID"])
        need(inc, "incoming call on line 2", ["GW_LINE", "GW_PROFILE", "SIP_CALL_ID"])
        need(ans, "answered calls", ["GW_LINE", "SIP_CALL_ID"])
        invites = {p["call_id"] for p in self.packets() if p.get("method") == "INVITE" and p["t"] >= t0}
        self.check(out[-1]["SIP_CALL_ID"] in invites and inc[-1]["SIP_CALL_ID"] in invites,
                   "journal: the calls' SIP_CALL_IDs %s are not those of the INVITEs %s" %
                   ((out[-1]["SIP_CALL_ID"], inc[-1]["SIP_CALL_ID"]), invites))
        wait_until("line 1 idle again", lambda: not connected(), 5)

    def check_kill(self):
        t_begin = time.monotonic()
        before_counters = self.kam.counters()
        for d, u in zip(DAEMONS, UNITS):
            st = self.units_state()
            cursor = self.cursor()
            t0 = time.monotonic()
            self.ct.systemctl("kill", "-s", "KILL", u)

            def restarted():
                s = self.ct.show(u, "ActiveState", "SubState", "MainPID", "NRestarts")
                return s if (s["MainPID"] not in ("0", st[u]["MainPID"]) and s["ActiveState"] == "active"
                             and s["SubState"] == "running") else None
            s, took = wait_until("%s to be restarted" % u, restarted, 10, 0.01)
            self.figure("SIGKILL %s -> active again (new MainPID, READY), polled" % d, took)

            def logged():      # journald stores what it gets a moment later
                j = self.ct.journal("--after-cursor", cursor, "_PID=1", "UNIT=%s" % u)
                died = [e for e in j if "Main process exited" in str(e.get("MESSAGE", ""))]
                started = [e for e in j if str(e.get("MESSAGE", "")).startswith("Started ")]
                return (died, started) if died and started else None
            (died, started), _ = wait_until("%s's exit and start in the journal" % u, logged, 5, 0.1)
            self.figure("SIGKILL %s: exit seen by systemd -> Started (READY), journal" % d,
                        (stamp(started[-1]) - stamp(died[0])) / 1e6)
            self.check(int(s["NRestarts"]) == int(st[u]["NRestarts"]) + 1, "%s: NRestarts %s -> %s" %
                       (u, st[u]["NRestarts"], s["NRestarts"]))
            after = self.units_state()
            for o in UNITS:
                if o == u:
                    continue
                self.check(after[o]["MainPID"] == st[o]["MainPID"] and after[o]["NRestarts"] == st[o]["NRestarts"],
                           "killing %s restarted %s too: %s -> %s" % (u, o, st[o], after[o]))
            # The restarted daemon is back in the gateway (gwctl sees every daemon running).
            wait_until("every daemon running in gwctl status after %s" % d,
                       lambda: (lambda doc: doc and all(sv.get("state") == "running" for sv in doc.get("services", [])
                                                        if sv.get("name") in DAEMONS))(self.gwctl_status()), 5)
        # A restart (SIGTERM under a restart job) is not a stop: regd keeps the
        # registrations, un-REGISTERs nothing.
        for u in ("fxsgw-regd.service", "fxsgw-sigd.service"):
            pid = self.ct.show(u, "MainPID")["MainPID"]
            self.ct.systemctl("restart", u)
            s = self.ct.show(u, "MainPID", "ActiveState")
            self.check(s["MainPID"] != pid and s["ActiveState"] == "active", "systemctl restart %s: %s" % (u, s))
        time.sleep(2)      # settle: a REGISTER a restart would cause goes out by then
        regs = self.registers(t_begin)
        self.figure("REGISTERs sent across the 4 kills and 2 restarts", len(regs), "")
        self.check(not regs, "REGISTERs after the kills: %s" % [(p["to_user"], p["expires"]) for p in regs])
        after = self.kam.counters()
        self.check(after.get("register", 0) == before_counters.get("register", 0),
                   "Kamailio counted REGISTERs during the kills: %s -> %s" %
                   (before_counters.get("register"), after.get("register")))
        self.check(self.location_users() == sorted(USERS), "location after the kills: %s" % self.location_users())
        doc = self.gwctl_status()
        self.check(doc and all(ln.get("registration") == "registered" for ln in doc["lines"]),
                   "lines after the kills: %s" % (doc or {}).get("lines"))

    def check_reload(self):
        def write(text):
            self.ct.write("/etc/fxsgw/fxsgw.yaml", text, mode=0o640)

        # The whole gateway through the target: nothing changed, nothing sent.
        st = self.units_state()
        write("# test_units.py, reloaded\n" + to_yaml(self.config) + "\n")
        t0 = time.monotonic()
        self.ct.systemctl("reload", "fxsgw.target")
        self.figure("systemctl reload fxsgw.target (nothing changed)", time.monotonic() - t0)
        after = self.units_state()
        for u in UNITS:
            self.check(after[u]["ActiveState"] == "active" and after[u]["MainPID"] == st[u]["MainPID"] and
                       after[u]["NRestarts"] == st[u]["NRestarts"], "%s after reload: %s -> %s" % (u, st[u], after[u]))
        cursor = self.cursor()
        self.journal_wait("regd's 'Configuration reloaded'", ["-u", "fxsgw-regd.service"],
                          lambda e: "Configuration reloaded" in str(e.get("MESSAGE", "")), timeout=5)

        # One password (Kamailio's first), one unit's reload: one REGISTER transaction, that line's.
        self.kam.rpc("htable.sets", ["auth", "1004", "pw1004-new"])
        self.config["lines"][3]["password"] = "pw1004-new"
        write("# test_units.py, new password\n" + to_yaml(self.config) + "\n")
        t1 = time.monotonic()
        self.ct.systemctl("reload", "fxsgw-sigd.service")
        time.sleep(2)
        regs = self.registers(t1)
        self.figure("REGISTERs after a reload changing one password", len(regs), "")
        self.check(regs and all(p["to_user"] == "1004" for p in regs) and len({p["cseq"] for p in regs}) <= 2 and
                   self.answers(regs), "REGISTERs after the password change: %s" %
                   [(p["to_user"], p["cseq"], p["expires"]) for p in regs])
        self.check(not self.registers(t0, t1), "REGISTERs after the unchanged reload")

        # A broken file: the reload fails and says why; nothing changes. A unit's reload
        # fails; the target's reload job itself succeeds (systemd does not carry a
        # propagated job's result back), its unit's "Reload failed" is in the journal.
        write("lines: 3\n")
        r = self.ct.systemctl("reload", "fxsgw-regd.service", check=False)
        self.check(r.returncode != 0, "systemctl reload of a broken file succeeded")
        self.journal_wait("gwctl's refusal", ["--after-cursor", cursor],
                          lambda e: "nothing changed" in str(e.get("MESSAGE", "")), timeout=5)
        cursor = self.cursor()
        self.ct.systemctl("reload", "fxsgw.target", check=False)
        self.journal_wait("the propagated reload's failure", ["--after-cursor", cursor, "_PID=1"],
                          lambda e: str(e.get("MESSAGE", "")).startswith("Reload failed for fxsgw-regd.service"),
                          timeout=5)
        write("# test_units.py\n" + to_yaml(self.config) + "\n")
        after = self.units_state()
        for u in UNITS:
            self.check(after[u]["ActiveState"] == "active" and after[u]["MainPID"] == st[u]["MainPID"],
                       "%s after the refused reload: %s" % (u, after[u]))
        doc = self.gwctl_status()
        self.check(doc and len(doc["lines"]) == 4 and all(ln.get("registration") == "registered" for ln in doc["lines"]),
                   "lines after the reloads: %s" % (doc or {}).get("lines"))

    def check_watchdog(self):
        st = self.units_state()
        t0 = time.monotonic()
        for u in UNITS:
            os.kill(int(self.host_pid(st[u]["MainPID"])), signal.SIGSTOP)
        pending = set(UNITS)
        took = {}
        while pending:
            el = time.monotonic() - t0
            if el > WATCHDOG_S + 3:
                raise Failure("not restarted by the watchdog within %d s: %s" % (WATCHDOG_S + 3, sorted(pending)))
            for u in sorted(pending):
                s = self.ct.show(u, "ActiveState", "SubState", "MainPID", "NRestarts")
                if s["MainPID"] not in ("0", st[u]["MainPID"]) and s["ActiveState"] == "active":
                    took[u] = el
                    pending.discard(u)
                    self.check(int(s["NRestarts"]) == int(st[u]["NRestarts"]) + 1, "%s: NRestarts" % u)
            time.sleep(0.1)
        for u in UNITS:
            self.figure("SIGSTOP %s -> restarted by the watchdog (WatchdogSec=%d)" % (u, WATCHDOG_S), took[u])
            self.journal_wait("systemd's 'Watchdog timeout' of %s" % u, ["_PID=1", "-u", u],
                              lambda e: "atchdog timeout" in str(e.get("MESSAGE", "")))
        self.wait_location(USERS, 5)
        wait_until("every line registered after the watchdog restarts",
                   lambda: (lambda doc: doc and all(ln.get("registration") == "registered"
                                                    for ln in doc["lines"]))(self.gwctl_status()), 10)

    def host_pid(self, pid_inside):
        """The host's pid of a process known by its pid inside the container."""
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/status" % d) as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            ids = line.split()[1:]
                            if len(ids) >= 2 and ids[-1] == str(pid_inside) and \
                                    self.in_container(int(d)):
                                return int(d)
            except OSError:
                continue
        raise Failure("no host pid for %s" % pid_inside)

    def in_container(self, pid):
        try:
            return os.readlink("/proc/%d/ns/pid" % pid) == os.readlink("/proc/%d/ns/pid" % self.ct.leader)
        except OSError:
            return False

    def stop_and_check(self, unit, mode, sigd_unit):
        self.check(self.location_users() == sorted(USERS), "%s: not registered before the stop" % mode)
        cursor = self.cursor()
        t0 = time.monotonic()
        self.ct.systemctl("stop", unit, timeout=60)
        t_stopped = time.monotonic()
        self.figure("%s: systemctl stop -> returned" % mode, t_stopped - t0)
        def all_answered():      # the capture writes what it saw a moment later
            unregs = self.registers(t0, unregister=True)
            return unregs if {p["to_user"] for p in self.answers(unregs)} >= set(USERS) else None
        try:
            wait_until("200s to un-REGISTERs of every line in the capture", all_answered, 5)
        except Failure:
            pass          # the checks below say what is missing
        unregs = self.registers(t0, unregister=True)
        users = sorted({p["to_user"] for p in unregs})
        self.check(users == sorted(USERS), "%s: un-REGISTERs for %s only" % (mode, users))
        authed = [p for p in unregs if p.get("auth")]
        oks = self.answers(authed)
        self.check(sorted({p["to_user"] for p in authed}) == sorted(USERS),
                   "%s: un-REGISTERs with credentials for %s only" % (mode, sorted({p["to_user"] for p in authed})))
        ok_users = {}
        for req in authed:
            for a in oks:
                if (a["call_id"], a["cseq"]) == (req["call_id"], req["cseq"]):
                    ok_users[req["to_user"]] = min(ok_users.get(req["to_user"], 1e18), a["t"])
        self.check(sorted(ok_users) == sorted(USERS), "%s: 200 to the un-REGISTERs of %s only" % (mode, sorted(ok_users)))
        last_ok = max(ok_users.values())
        self.figure("%s: systemctl stop -> last un-REGISTER answered 200" % mode, last_ok - t0)
        self.check(self.location_users() == [], "%s: Kamailio still holds %s" % (mode, self.location_users()))
        # Every answer came while sigd still ran: regd confirmed each one (N of N: an
        # answer reaches regd through sigd), and only then was sigd told to stop.
        done = self.journal_wait("regd's un-REGISTER summary", ["--after-cursor", cursor],
                                 lambda e: e.get("MESSAGE_ID") == MSG_UNREGISTER_DONE)
        if sigd_unit:
            sigd_stop = self.journal_wait("systemd stopping %s" % sigd_unit, ["--after-cursor", cursor],
                                          lambda e: e.get("_PID") == "1" and e.get("UNIT") == sigd_unit and
                                          str(e.get("MESSAGE", "")).startswith("Stopping "))
        else:
            sigd_stop = self.journal_wait("sigd's 'Stopped.'", ["--after-cursor", cursor],
                                          lambda e: e.get("SYSLOG_IDENTIFIER") == "sigd" and
                                          e.get("MESSAGE") == "Stopped.")
        j = self.ct.journal("--after-cursor", cursor)
        self.check(done and re.search(r"Un-REGISTERed (\d+) of (\d+)", done[-1]["MESSAGE"]).groups() ==
                   (str(len(USERS)), str(len(USERS))), "%s: regd's summary: %s" %
                   (mode, [e["MESSAGE"] for e in done]))
        self.check(stamp(done[-1]) < stamp(sigd_stop[0]), "%s: sigd stopping (%s) before regd's un-REGISTERs "
                   "were done (%s)" % (mode, sigd_stop[0]["MESSAGE"], done[-1]["MESSAGE"]))
        self.figure("%s: un-REGISTERs done -> sigd told to stop" % mode,
                    (stamp(sigd_stop[0]) - stamp(done[-1])) / 1e6)
        timeouts = [e["MESSAGE"] for e in j if e.get("_PID") == "1" and "timed out" in str(e.get("MESSAGE", ""))]
        self.check(not timeouts, "%s: stop timed out: %s" % (mode, timeouts))
        for u in (UNITS if mode == "target" else ["fxsgw-gwsupd.service"]):
            s = self.ct.show(u, "ActiveState", "Result")
            self.check(s["ActiveState"] in ("inactive",) and s["Result"] == "success", "%s after the stop: %s" % (u, s))

    def api(self, *args, check=True):
        """busctl on the gateway's D-Bus API inside the container, as root."""
        return self.ct.busctl(*args, check=check)

    def get_prop(self, path, iface, prop):
        return self.ct.busctl_json("get-property", "org.fxsgw.Gateway1", path, "org.fxsgw.Gateway1." + iface,
                                   prop)["data"]

    def check_dbus(self):
        """The D-Bus API on the container's system bus, regd a unit (docs/OPERATIONS.md)."""
        root = "/org/fxsgw/Gateway1"
        tree = self.api("tree", "org.fxsgw.Gateway1").stdout
        for p in ["%s/line/%d" % (root, i) for i in range(1, len(USERS) + 1)] + \
                 ["%s/service/%s" % (root, d) for d in DAEMONS] + ["%s/profile/provider" % root]:
            self.check(re.search(re.escape(p) + "$", tree, re.M), "busctl tree: no %s\n%s" % (p, tree))
        intro = self.api("introspect", "org.fxsgw.Gateway1", root).stdout
        self.check(re.search(r"^\.RestartService +method +s ", intro, re.M) and
                   re.search(r"^\.ProxySwitched +signal +ssss ", intro, re.M), "introspect:\n%s" % intro)
        wait_until("Manager.State running", lambda: self.get_prop(root, "Manager", "State") == "running", 5)
        for i in range(1, len(USERS) + 1):
            self.check(self.get_prop("%s/line/%d" % (root, i), "Line", "Registration") == "registered",
                       "line %d not registered over D-Bus" % i)
        st = self.units_state()
        for d, u in zip(DAEMONS, UNITS):
            pid = self.get_prop("%s/service/%s" % (root, d), "Service", "PID")
            self.check(str(pid) == st[u]["MainPID"], "%s: PID %s over D-Bus, MainPID %s" % (d, pid, st[u]["MainPID"]))
            wait_until("%s's Restarts = NRestarts" % d, lambda: str(self.get_prop(
                "%s/service/%s" % (root, d), "Service", "Restarts")) == self.ct.show(u, "NRestarts")["NRestarts"], 5)
        # gwctl's status from D-Bus: there, without gwsupd.
        r = self.ct.run(["gwctl", "status", "--json", "--from", "dbus"], check=False)
        doc = json.loads(r.stdout) if r.returncode == 0 else None
        self.check(doc and sorted(sv["name"] for sv in doc["services"]) == sorted(DAEMONS) and
                   all(sv["state"] == "running" for sv in doc["services"]) and
                   all(ln["registration"] == "registered" for ln in doc["lines"]),
                   "gwctl status --from dbus: %s %s" % (r.stdout, r.stderr))
        # RestartService under the target goes to systemd's RestartUnit, as user fxsgw:
        # polkitd (D-Bus activated) applies the installed rule, which allows exactly that.
        before = st["fxsgw-mediad.service"]["MainPID"]
        r = self.api("call", "org.fxsgw.Gateway1", root, "org.fxsgw.Gateway1.Manager", "RestartService", "s",
                     "mediad", check=False)
        self.check(r.returncode == 0, "RestartService mediad under the target: %s%s" % (r.stdout, r.stderr))
        self.journal_wait("regd asking systemd", ["-u", "fxsgw-regd.service"],
                          lambda e: "Asked systemd to restart 'fxsgw-mediad.service'" in str(e.get("MESSAGE", "")))
        wait_until("mediad restarted by systemd (a new MainPID, active)", lambda: (
            self.ct.show("fxsgw-mediad.service", "MainPID")["MainPID"] not in (before, "0") and
            self.ct.show("fxsgw-mediad.service", "ActiveState")["ActiveState"] == "active"), 10)
        # The rule grants nothing else: stopping a unit, or restarting another one, as fxsgw.
        r = self.ct.run(["setpriv", "--reuid=fxsgw", "--regid=fxsgw", "--clear-groups", "busctl", "call",
                         "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                         "org.freedesktop.systemd1.Manager", "StopUnit", "ss", "fxsgw-mediad.service", "replace"],
                        check=False)
        self.check(r.returncode != 0, "user fxsgw stopped a unit: %s%s" % (r.stdout, r.stderr))
        r = self.ct.run(["setpriv", "--reuid=fxsgw", "--regid=fxsgw", "--clear-groups", "busctl", "call",
                         "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                         "org.freedesktop.systemd1.Manager", "RestartUnit", "ss", "dbus.service", "replace"],
                        check=False)
        self.check(r.returncode != 0, "user fxsgw restarted dbus.service: %s%s" % (r.stdout, r.stderr))
        # An unprivileged user is refused by the bus's policy; root's bad call reaches regd.
        r = self.ct.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "busctl", "call",
                         "org.fxsgw.Gateway1", root, "org.fxsgw.Gateway1.Manager", "Reload"], check=False)
        self.check(r.returncode != 0 and "Access denied" in r.stderr, "nobody's Reload: %s%s" % (r.stdout, r.stderr))
        r = self.api("call", "org.fxsgw.Gateway1", root, "org.fxsgw.Gateway1.Manager", "RestartService", "s",
                     "nosuchd", check=False)
        self.check(r.returncode != 0 and "No daemon 'nosuchd'" in r.stderr, "RestartService nosuchd: %s" % r.stderr)
        self.wait_location(USERS, 5)

    def check_stop(self):
        self.stop_and_check("fxsgw.target", "target", "fxsgw-sigd.service")

    def check_gwsupd(self):
        self.start_and_check("fxsgw-gwsupd.service", "gwsupd")
        s = self.ct.show("fxsgw-gwsupd.service", "ActiveState", "StatusText")
        self.check(s["ActiveState"] == "active" and s["StatusText"], "fxsgw-gwsupd.service: %s" % s)
        log("fxsgw-gwsupd.service: %s" % s["StatusText"])
        # The same D-Bus API under gwsupd: regd serves it there too.
        wait_until("Manager.State running under gwsupd",
                   lambda: self.get_prop("/org/fxsgw/Gateway1", "Manager", "State") == "running", 5)
        self.check(self.get_prop("/org/fxsgw/Gateway1/line/1", "Line", "Registration") == "registered",
                   "gwsupd: line 1 not registered over D-Bus")
        self.stop_and_check("fxsgw-gwsupd.service", "gwsupd", None)

    CHECKS = ("security", "start", "journal", "kill", "reload", "watchdog", "dbus", "stop", "gwsupd")

    def run(self):
        only = self.args.only.split(",") if self.args.only else None
        self.setup()
        n = 0
        for name in self.CHECKS:
            if only and name not in only and name not in ("start",):
                continue
            n += 1
            t0 = time.monotonic()
            log("== check %s" % name)
            getattr(self, "check_" + name)()
            log("ok %d - %s (%.1f s)" % (n, name, time.monotonic() - t0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--figures", help="write the figures here (JSON)")
    ap.add_argument("--only", help="comma-separated checks (start always runs)")
    args = ap.parse_args()
    try:
        container.require()
        netns.require("kamailio")
    except container.Skip as e:
        print("skip: %s" % e)
        return EXIT_SKIP
    s = Suite(args)
    t0 = time.monotonic()
    rc = 0
    try:
        s.run()
    except (Failure, container.Error, subprocess.TimeoutExpired) as e:
        s.failed = True
        print("FAIL: %s" % e, flush=True)
        rc = 1
    except Skip as e:
        print("skip: %s" % e)
        rc = EXIT_SKIP
    except BaseException:
        s.failed = True
        raise
    finally:
        try:
            s.teardown()
        finally:
            if rc == 1:
                s.env.dump_logs()
            s.env.remove()
    log("total %.1f s" % (time.monotonic() - t0))
    if args.figures:
        with open(args.figures, "w") as f:
            json.dump(s.figures, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
