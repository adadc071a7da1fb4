#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""run.py: run one declarative integration case against real peers.

    run.py --build-dir BUILD cases/NAME.json [--keep]

A case file is JSON:

  {
    "description": "one sentence",
    "timeout_s": 60,                      # whole case, internal bound
    "requires": ["gwsupd", "sigd", ...],  # built binaries or installed programs;
                                          # missing: skip (77). Peers add their own.
    "vars": {"gw": "127.0.0.20", ...},    # ${gw} anywhere below; also built in:
                                          # ${tmp} ${build} ${source} ${runtime_dir}
                                          # ${gw_config} ${bin:NAME} (a built binary)
    "peers": [                            # started by {"do": "start", "peer": NAME}
      {"name": "kam", "kind": "kamailio", "listen": "${kam}:5070",
       "users": {"1001": "pw1001"}, "realm": "optional"},
      {"name": "reg", "kind": "sipp", "scenario": "reg-401-200.xml",
       "local": "${sipp}:5070", "remote": "optional ip:port",
       "vars": {"username": "1001", ...},  # ${...} in the scenario file
       "keys": {...}, "args": [...], "calls": 1, "timeout_s": 30}
    ],
    "gateway": { ...the YAML config as JSON; bus.runtime_dir is set by the runner... },
    "steps": [ {"do": ACTION, ...}, ... ]
  }

Actions:
  start            peer                      start a peer (Kamailio waits for its RPC)
  start_gateway                              gwsupd --config (and gwtap if "tap": true)
  wait_status      timeout_s, lines|services|profiles   poll 'gwctl status --json'
                   until each listed item matches ("*" = every item; a list of
                   names/ports = each of those); fields match as in fxsgwtest.match
  expect_status    same, once, no waiting
  expect_location  peer, users: [...], exact: bool, timeout_s   Kamailio's ul.dump
  expect_location_empty  peer, timeout_s
  save_counters    peer, as                  Kamailio's REGISTER counters
  expect_counters  peer, since, key, max_increase / min_increase, settle_s
  kill_service     service, signal           kill -SIG the daemon's pid (from gwctl)
  wait_restarted   service, within_s         new pid, restarts+1, running
  stop_gateway     signal, expect_exit, within_s
  wait_peer        peer, expect_exit, timeout_s   a SIPp peer's exit code
  expect_tap       match, min                gwtap --json lines seen so far
  run              argv, expect_exit, output_regex, timeout_s   a command to completion
  write_file       name, text
  sleep            s
  for_each         var, values, steps        the steps once per value (${var})

Time bounds (within_s, timeout_s) are multiplied by the time factor (3 in a
sanitizer build, or FXSGW_TEST_TIME_FACTOR).

Exit: 0 pass, 1 fail (logs of the gateway and the peers printed), 77 skip.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fxsgwtest import (EXIT_SKIP, Env, Failure, Gateway, Kamailio, Sipp, Skip,  # noqa: E402
                       log, match, substitute, wait_until)


SERVICES = ("gwsupd", "sigd", "regd", "mediad", "linehwd", "gwctl", "gwtap")


class Case:
    def __init__(self, path, build_dir, keep):
        with open(path) as f:
            self.spec = json.load(f)
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.env = Env(self.name, build_dir, keep)
        self.peers = {}
        self.gw = None
        self.saved = {}
        self.services_before = {}
        self.figures = []
        e = self.env
        self.vars = {"tmp": e.tmp, "build": e.build_dir, "source": e.source_dir,
                     "runtime_dir": e.path("gw-run"), "gw_config": e.path("gw.yaml")}
        self.vars.update(self.spec.get("vars", {}))
        self.deadline = time.monotonic() + self.spec.get("timeout_s", 120) * e.time_factor

    # ------------------------------------------------------------ helpers

    def sub(self, obj, extra=None):
        v = dict(self.vars)
        if extra:
            v.update(extra)
        obj = substitute(obj, v, strict=False)

        def bins(o):
            if isinstance(o, str):
                return re.sub(r"\$\{bin:([a-z]+)\}", lambda m: self.env.service_bin(m.group(1)), o)
            if isinstance(o, list):
                return [bins(x) for x in o]
            if isinstance(o, dict):
                return {k: bins(x) for k, x in o.items()}
            return o
        return bins(obj)

    def t(self, seconds):
        return float(seconds) * self.env.time_factor

    def check_deadline(self):
        if time.monotonic() > self.deadline:
            raise Failure("case exceeded its timeout_s")

    def peer_spec(self, name):
        for p in self.spec.get("peers", []):
            if p["name"] == name:
                return p
        raise Failure("no peer '%s' in the case" % name)

    def kam(self, name):
        p = self.peers.get(name)
        if not isinstance(p, Kamailio):
            raise Failure("peer '%s' is not a running Kamailio" % name)
        return p

    # ------------------------------------------------------------ status matching

    @staticmethod
    def select(items, key, which):
        if which == "*":
            return items
        names = which if isinstance(which, list) else [which]
        out = []
        for n in names:
            found = [i for i in items if str(i.get(key)) == str(n)]
            if not found:
                return None
            out += found
        return out

    def status_mismatch(self, doc, step):
        for section, key in (("services", "name"), ("lines", "port"), ("profiles", "name")):
            want = step.get(section)
            if want is None:
                continue
            items = doc.get(section) or []
            if isinstance(want, dict):
                groups = want.items()
            else:
                raise Failure("%s: expected an object {selector: fields}" % section)
            for which, fields in groups:
                sel = self.select(items, key, which.split(",") if "," in which else which)
                if not sel:
                    return "%s %s: not in status" % (section, which)
                for item in sel:
                    m = match(item, fields, "%s[%s=%s]" % (section, key, item.get(key)))
                    if m:
                        return m
            if "count" in step and section in step["count"] and len(items) != step["count"][section]:
                return "%s: %d items, expected %d" % (section, len(items), step["count"][section])
        return None

    # ------------------------------------------------------------ actions

    def do_start(self, s):
        spec = self.sub(self.peer_spec(s["peer"]))
        kind = spec.get("kind")
        if kind == "kamailio":
            p = Kamailio(self.env, spec["name"], spec["listen"], spec.get("users", {}), spec.get("realm"))
            p.start(timeout=self.t(10))
        elif kind == "sipp":
            p = Sipp(self.env, spec["name"], spec["scenario"], spec["local"], spec.get("remote"),
                     spec.get("vars"), spec.get("keys"), spec.get("args"), spec.get("calls", 1),
                     int(spec.get("timeout_s", 30) * self.env.time_factor))
            p.start()
            time.sleep(0.2)       # a UAS binds its socket before anyone sends to it
        else:
            raise Failure("unknown peer kind '%s'" % kind)
        self.peers[spec["name"]] = p

    def do_start_gateway(self, s):
        cfg = self.sub(self.spec["gateway"])
        self.gw = Gateway(self.env, cfg)
        self.vars["runtime_dir"] = self.gw.runtime_dir
        self.vars["gw_config"] = self.gw.config_path
        if s.get("tap", True):
            # Before gwsupd, so the tap misses nothing of the start (it
            # connects to the ipc endpoints as they appear).
            self.gw.start_tap()
        self.gw.start()

    def need_gw(self):
        if not self.gw:
            raise Failure("the gateway was not started")
        return self.gw

    def do_wait_status(self, s):
        gw = self.need_gw()
        what = s.get("what") or json.dumps({k: s[k] for k in ("services", "lines", "profiles") if k in s})
        doc, secs = gw.wait_status(what, lambda d: self.status_mismatch(d, s) is None, self.t(s.get("timeout_s", 10)))
        log("status reached after %.2fs: %s" % (secs, what[:200]))
        if s.get("figure"):
            self.figures.append((s["figure"], "%.2f s" % secs))
        return doc

    def do_expect_status(self, s):
        gw = self.need_gw()
        rc, doc = gw.status()
        if rc != 0 or doc is None:
            raise Failure("gwctl status failed: exit %s" % rc)
        m = self.status_mismatch(doc, s)
        if m:
            raise Failure("status: %s\n%s" % (m, json.dumps(doc, indent=1)))

    def do_expect_location(self, s):
        kam = self.kam(s["peer"])
        users = [str(u) for u in s["users"]]
        exact = s.get("exact", True)
        contact_regex = s.get("contact_regex")

        def probe():
            loc = kam.location()
            for u in users:
                cs = loc.get(u)
                if not cs:
                    return None
                if contact_regex and not any(re.search(contact_regex, c.get("Address", "")) for c in cs):
                    return None
            if exact and set(loc) != set(users):
                return None
            return loc
        try:
            loc, secs = wait_until("location table %s" % users, probe, self.t(s.get("timeout_s", 3)), 0.1)
        except Failure:
            log("location table: %s" % json.dumps(kam.location(), indent=1))
            raise
        log("location table has %s (%.2fs): %s" % (
            users, secs, ", ".join("%s→%s" % (u, loc[u][0].get("Address")) for u in users)))

    def do_expect_location_empty(self, s):
        kam = self.kam(s["peer"])
        try:
            _, secs = wait_until("an empty location table", lambda: not kam.location() or None,
                                 self.t(s.get("timeout_s", 3)), 0.1)
        except Failure:
            log("location table: %s" % json.dumps(kam.location(), indent=1))
            raise
        log("location table empty (%.2fs)" % secs)

    def do_save_counters(self, s):
        c = self.kam(s["peer"]).counters()
        self.saved[s["as"]] = c
        log("counters '%s': %s" % (s["as"], c))

    def do_expect_counters(self, s):
        if s.get("settle_s"):
            time.sleep(float(s["settle_s"]))
        c = self.kam(s["peer"]).counters()
        base = self.saved.get(s["since"], {}) if s.get("since") else {}
        key = s.get("key", "register")
        inc = int(c.get(key, 0)) - int(base.get(key, 0))
        log("counter %s: %s -> %s (+%d)" % (key, base.get(key, 0), c.get(key, 0), inc))
        if s.get("figure"):
            self.figures.append((s["figure"], "+%d" % inc))
        if "max_increase" in s and inc > s["max_increase"]:
            raise Failure("%s increased by %d (max %d): %s -> %s" % (key, inc, s["max_increase"], base, c))
        if "min_increase" in s and inc < s["min_increase"]:
            raise Failure("%s increased by %d (min %d): %s -> %s" % (key, inc, s["min_increase"], base, c))

    def do_kill_service(self, s):
        gw = self.need_gw()
        rc, doc = gw.status()
        svc = Gateway.service(doc, s["service"])
        if not svc or not svc.get("pid"):
            raise Failure("no pid for %s in status: %s" % (s["service"], doc))
        self.services_before[s["service"]] = svc
        sig = getattr(signal, "SIG" + s.get("signal", "KILL"))
        os.kill(int(svc["pid"]), sig)
        self.killed_at = time.monotonic()
        log("killed %s (pid %s) with %s" % (s["service"], svc["pid"], sig.name))

    def do_wait_restarted(self, s):
        gw = self.need_gw()
        name = s["service"]
        before = self.services_before[name]

        def ok(doc):
            svc = Gateway.service(doc, name)
            return (svc and svc.get("state") == "running" and svc.get("pid") not in (None, 0, before.get("pid"))
                    and int(svc.get("restarts", 0)) >= int(before.get("restarts", 0)) + 1)
        doc, _ = gw.wait_status("%s restarted and running" % name, ok, self.t(s.get("within_s", 1.5)))
        secs = time.monotonic() - self.killed_at
        svc = Gateway.service(doc, name)
        log("%s back as pid %s, restarts %s, %.2fs after the kill" % (name, svc["pid"], svc["restarts"], secs))
        self.figures.append(("%s back after SIGKILL" % name, "%.2f s" % secs))

    def do_stop_gateway(self, s):
        gw = self.need_gw()
        sig = getattr(signal, "SIG" + s.get("signal", "TERM"))
        rc, secs = gw.stop(sig, timeout=self.t(s.get("within_s", 2)) + 5)
        log("gwsupd exit %s after %.2fs" % (rc, secs))
        self.figures.append(("gwsupd stop (%s)" % sig.name, "%.2f s" % secs))
        if rc is None:
            raise Failure("gwsupd still running %.1fs after %s" % (secs, sig.name))
        if "expect_exit" in s and rc != s["expect_exit"]:
            raise Failure("gwsupd exited %s, expected %s" % (rc, s["expect_exit"]))
        if "within_s" in s and secs > self.t(s["within_s"]):
            raise Failure("gwsupd took %.2fs to exit (bound %.1fs)" % (secs, self.t(s["within_s"])))

    def do_wait_peer(self, s):
        p = self.peers.get(s["peer"])
        if not isinstance(p, Sipp):
            raise Failure("peer '%s' is not a running SIPp" % s["peer"])
        rc = p.wait(self.t(s.get("timeout_s", 30)))
        log("sipp '%s' exited %d" % (p.name, rc))
        if "expect_exit" in s and rc != s["expect_exit"]:
            raise Failure("SIPp '%s' exited %d, expected %d" % (p.name, rc, s["expect_exit"]))

    def do_expect_tap(self, s):
        gw = self.need_gw()

        def probe():
            seen = [m for m in gw.tap_messages() if match(m, s["match"]) is None]
            return seen if len(seen) >= s.get("min", 1) else None
        seen, _ = wait_until("gwtap to show %s" % json.dumps(s["match"]), probe, self.t(s.get("timeout_s", 2)), 0.1)
        log("gwtap showed %d x %s" % (len(seen), json.dumps(s["match"])))

    def do_run(self, s):
        argv = [str(a) for a in s["argv"]]
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=self.t(s.get("timeout_s", 10)), cwd=self.env.tmp)
        except subprocess.TimeoutExpired:
            raise Failure("%s did not finish within %ss" % (argv, s.get("timeout_s", 10)))
        out = r.stdout.decode(errors="replace")
        log("$ %s -> exit %d\n%s" % (" ".join(argv), r.returncode, out.rstrip()))
        if "expect_exit" in s and r.returncode != s["expect_exit"]:
            raise Failure("%s exited %d, expected %d" % (argv[0], r.returncode, s["expect_exit"]))
        for rx in ([s["output_regex"]] if isinstance(s.get("output_regex"), str) else s.get("output_regex", [])):
            if not re.search(rx, out, re.M):
                raise Failure("output of %s does not match /%s/" % (argv[0], rx))

    def do_write_file(self, s):
        p = self.env.path(s["name"])
        with open(p, "w") as f:
            f.write(s["text"])
        self.vars["file:" + s["name"]] = p

    def do_sleep(self, s):
        time.sleep(float(s["s"]))

    def do_for_each(self, s):
        for v in s["values"]:
            log("--- %s = %s" % (s["var"], v))
            self.run_steps(s["steps"], {s["var"]: v})

    # ------------------------------------------------------------ driver

    def run_steps(self, steps, extra=None):
        for raw in steps:
            self.check_deadline()
            if raw.get("do") == "for_each":
                step = dict(raw)
                step["values"] = self.sub(raw["values"], extra)
                self.do_for_each(step)
                continue
            step = self.sub(raw, extra)
            fn = getattr(self, "do_" + step["do"], None)
            if not fn:
                raise Failure("unknown action '%s'" % step["do"])
            if step["do"] not in ("sleep",):
                log("step: %s" % json.dumps(step)[:300])
            fn(step)

    def check_requirements(self):
        for name in self.spec.get("requires", []):
            if name in SERVICES:
                self.env.service_bin(name)
            else:
                Env.system_bin(name)
        for p in self.spec.get("peers", []):
            Env.system_bin({"kamailio": "kamailio", "sipp": "sipp"}.get(p.get("kind"), p.get("kind")))

    def run(self):
        self.check_requirements()
        log("case %s: %s" % (self.name, self.spec.get("description", "")))
        log("tmp %s" % self.env.tmp)
        self.run_steps(self.spec["steps"])


def main():
    ap = argparse.ArgumentParser(description="Run one fxsgw integration case.")
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("case")
    a = ap.parse_args()

    def on_signal(sig, _frame):
        # meson's timeout (SIGTERM) or Ctrl-C: stop everything we started first.
        raise Failure("interrupted by signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    case = None
    rc = 1
    try:
        case = Case(a.case, a.build_dir, a.keep)
        case.run()
        rc = 0
    except Skip as e:
        print("SKIP: %s" % e, flush=True)
        rc = EXIT_SKIP
    except Failure as e:
        print("FAIL: %s" % e, flush=True)
    except Exception as e:       # a bug in the case or the runner is a failure too
        import traceback
        traceback.print_exc()
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
    finally:
        if case:
            case.env.cleanup()
            if rc == 1:
                case.env.dump_logs()
                case.env.keep = True
                print("kept %s" % case.env.tmp)
            if case.figures:
                print("figures:")
                for k, v in case.figures:
                    print("  %-40s %s" % (k, v))
            case.env.remove()
    if rc == 0:
        print("PASS: %s" % case.name)
    return rc


if __name__ == "__main__":
    sys.exit(main())
