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
    "root": "why",                        # optional: skip (77) unless run as root
    "vars": {"gw": "127.0.0.20", ...},    # ${gw} anywhere below; also built in:
                                          # ${tmp} ${build} ${source} ${runtime_dir}
                                          # ${gw_config} ${bin:NAME} (a built binary)
    "peers": [                            # started by {"do": "start", "peer": NAME}
      {"name": "kam", "kind": "kamailio", "listen": "${kam}:5070",
       "users": {"1001": "pw1001"}, "realm": "optional",
       "media_relay": "optional IP: the SDP of INVITEs and answers gets it"},
      {"name": "reg", "kind": "sipp", "scenario": "reg-401-200.xml",
       "local": "${sipp}:5070", "remote": "optional ip:port",
       "vars": {"username": "1001", ...},  # ${...} in the scenario file
       "keys": {...}, "args": [...], "calls": 1, "timeout_s": 30},
      {"name": "a", "kind": "baresip",       # a SIP phone with real audio (fxsgwtest.Baresip)
       "host": "LABHOST", "port": 5060,   # in a lab host's namespace, at its address,
       | "local": "ip:port",              # or on this host's loopback
       "user": "alice", "play": "${file:x.wav}",  # 8 kHz mono WAV, repeated to play_s
       "play_s": 300,                     # (baresip closes the call when it ends)
       "answer": "auto" | "manual",       # manual: CALL_INCOMING, then baresip_accept
       "registrar": "ip:port", "password": "pw",  # optional; start waits for the
       "wait_registered": true,           # registration (reginfo OK) unless false
       "media_enc": "srtp" | "srtp-mand", # optional
       "codecs": ["PCMU", "PCMA"], "rtp_ports": "10000-10099"}   # defaults; on
                                          # loopback 20000+100*i.. for the i-th phone
      {"name": "rtp", "kind": "command",  # any program, in the background (logged,
       "argv": ["rtppeer.py", "--local", "${rtp}:40000", ...],  # stopped at the end); a
       "host": "LABHOST", "settle_s": 0.3} # relative *.py: from tests/integration/, with
                                          # python3; wait_peer waits for its exit
                                          # (rtppeer.py: RTP with RFC 4733 events)
    ],
    "gateway": { ...the YAML config as JSON; bus.runtime_dir is set by the runner... },
    "steps": [ {"do": ACTION, ...}, ... ]
  }

Actions:
  start            peer                      start a peer (Kamailio waits for its RPC)
  start_gateway                              gwsupd --config (and gwtap if "tap": true)
  kill_gateway         signal, within_s      gwsupd itself gets the signal (default KILL) and is gone
                                             (the services' pids from gwctl just before are kept)
  restart_gateway      as, adopt, timeout_s  a new gwsupd on the same configuration; adopt: true:
                                             it must adopt every daemon the dead one left (each
                                             running with the pid it had, restarts unchanged)
  wait_status      timeout_s, lines|services|profiles   poll 'gwctl status --json'
                   until each listed item matches ("*" = every item; a list of
                   names/ports = each of those); fields match as in fxsgwtest.match
  expect_status    same, once, no waiting
  expect_location  peer, users: [...], exact: bool, timeout_s   Kamailio's ul.dump
  expect_location_empty  peer, timeout_s
  save_counters    peer, as                  Kamailio's REGISTER counters
  kamailio_user    peer, user, password      set a user's password in the running Kamailio
  expect_counters  peer, since, key, max_increase / min_increase, settle_s
  kill_service     service, signal           kill -SIG the daemon's pid (from gwctl);
                   hold_supervisor: true: SIGSTOP gwsupd first, so no new instance
                   starts until a signal_gateway CONT
  signal_gateway   signal                    send gwsupd a signal, not waiting (STOP, CONT)
  wait_restarted   service, within_s         new pid, restarts+1, running
  stop_gateway     signal, expect_exit, within_s
  wait_peer        peer, expect_exit, timeout_s   a SIPp peer's exit code
  expect_tap       match, min                gwtap --json lines seen so far
                   (since: a tap_mark's name: only lines after it; sequence: [match, ...]
                   instead of match: these in this order, others between them allowed;
                   max N (with settle_s): at most N such lines, no waiting)
  tap_mark         as                        remember how many tap lines were seen
  mark_recordings  as                        remember how long every "<record>.part" is now
  run              argv, expect_exit, output_regex, timeout_s   a command to completion
                   (until_s: again every 0.1 s until it passes, e.g. busctl get-property)
  exec_reload      unit, expect_exit, output_regex   the ExecReload= command of a built
                                             systemd unit (build/deploy/UNIT), run as systemd
                                             would, its program the built one and its
                                             --config the gateway's
  write_file       name, text
  rewrite_config   merge | gateway | text        write the running gateway's config file anew:
                                             merge: deep-merged into the current one (lists
                                             replaced whole); gateway: a whole new one;
                                             text: raw (a broken file); bus.runtime_dir kept
  gwctl            args, expect_exit, output_regex, json: {match}, as, figure   gwctl
                                             --config <the gateway's> ARGS to completion
                                             (json: --json added, its output matched)
  sleep            s | until (a mark: "connected+12.5")
  for_each         var, values, steps        the steps once per value (${var})
  write_wav        name, freq (Hz or [Hz]), seconds, level   a tone WAV for a line's play:
                                             (${file:NAME} is its path); or segments:
                                             [[Hz, seconds], ...] one after the other
  line             port, action (offhook|onhook|flash|dial), digits, pulse
                                             gwctl line PORT ACTION on a simulated line
  wait_line        port, match, timeout_s, as   poll 'gwctl line PORT status --json' until
                                             it matches (fields as in fxsgwtest.match)
  expect_dtmf      file, digits (exactly these DTMF keys, in order) | contains,
                   min_ms, skip_ms           DTMF in a recorded WAV (audio.dtmf_runs:
                                             Goertzel on the row and column tones)
  expect_json      file, match, timeout_s    a JSON file (e.g. a command peer's result)
                                             matches (fxsgwtest.match); figures: {label:
                                             key} reports those values
                                             (sipprobe.py: OPTIONS answered, timed)
  expect_wav       file, freq, min_fraction, min_loud_ms, not_freq, max_fraction,
                   max_gap_ms, skip_ms, trim_end_ms, raw   what a recorded WAV holds (audio.py):
                                             (raw: true reads a "<record>.part" still being written;
                                             since_recordings: a mark_recordings name: only
                                             what was recorded after it)
                                             the fraction of its non-silent power at freq
                                             (several Hz for a dual tone), the longest gap;
                   window_freq, window_ms, min_window_fraction, min_window_level
                                             every window's power fraction at window_freq,
                                             every 20 ms block's level against the median
  expect_wav_markers  file, freq, base_freq, markers_ms, reference, max_added_ms,
                   min_added_ms              delay added along a call, measured in the sound:
                                             bursts of freq in a base_freq tone, their
                                             arrivals against the reference marker's
  line_value       port, path, as, le, ge, max_above: {ref, by}, figure   one number of
                                             'gwctl line N status --json' (e.g.
                                             media.playout.delay_ms), remembered and checked

Packet captures (dumpcap and tshark, Debian package tshark):
  capture_start    as, filter (BPF, default "udp"), host   dumpcap on the bridge port of
                                             'host' (default the gateway's) in a lab, else
                                             on lo (filter by your own addresses there)
  capture_stop     name                      stop it (SIGINT: the file is complete)
  expect_rtp       capture, match {src, dst, sport, dport}, srtp (true|false), freq,
                   min_packets | max_packets the RTP packets (PCMU/PCMA) of the capture
                                             that match: srtp true: none carries G.711
                                             (payload = 160 bytes + a 4 or 10 byte tag,
                                             byte entropy >= 7.5 bits, no tone at freq);
                                             false: plain 160-byte G.711 with the tone
  expect_no_keys   sources [log labels, capture names, files], in [log labels],
                   min_keys                  every SDES key (a=crypto inline:) found in
                                             the sources, as base64 or hex, appears in
                                             none of the 'in' logs (e.g. gw, gw-tap);
                                             at least min_keys distinct keys were found

Phones (baresip peers; ${uri:NAME} is a started phone's own sip:user@ip:port):
  baresip_dial     peer, uri, as             dial (ctrl_tcp 'dial')
  baresip_hangup   peer, as                  hang up the current call
  baresip_accept   peer, as                  answer the incoming call (answer: manual)
  baresip_wait     peer, event, timeout_s, match, since, as   wait for a baresip event
                   (CALL_INCOMING, CALL_RINGING, CALL_PROGRESS, CALL_ESTABLISHED,
                   CALL_CLOSED (param: the reason), CALL_RTPESTAB, CALL_MENC, ...):
                   the first one of that type not waited for before that came after
                   the last command to this phone (and after the mark 'since'); "as"
                   marks when it arrived; match: its fields (fxsgwtest.match)
  ${rec:NAME}      what the phone heard in its latest call (the sndfile dump after
                   the decoder, copied with its sizes fixed, so also during a call):
                   for expect_wav's file; ${sent:NAME} what it sent (before the encoder)

Network namespaces (netns.py): a case with
    "lab": {"hosts": ["gw", "main", "r1"], "subnet": "10.77.0"}
gets one namespace per host joined by a bridge (skip, 77, unless root with ip and nft),
${ip:HOST} for each host's address, peers with "host": HOST run inside that host's
namespace, the gateway (gwsupd and its daemons) inside "gw" (or "gateway_host"), and
a SIP capture (sipcap.py) on the gateway's bridge port records every SIP message and
ICMP unreachable the gateway sends or receives, also those a silenced proxy drops.
Lab actions (each may take "as": MARK, the monotonic time it happened):
  silence / unsilence  host, udp_port          nftables drop in the host (a silent proxy)
  link_down / link_up  host, flush_neigh       cut the host at the bridge
  sysctl               host, name, value
  stop_peer            peer, signal (TERM)     stop a peer (then "start" another on the host)
  kill_peer            peer                    SIGKILL: the port answers ICMP at once
  mark                 as
  capture_mark         as, match, after, nth, timeout_s   wait for the nth captured packet
                       matching (fxsgwtest.match on the record) after a mark
  expect_requests      match, since, until, sequence | starts_with | ends_with,
                       never_to, to_counts {host: matcher}, min, max
                       requests the gateway sent (consecutive ones to the same host
                       collapsed for the sequence), in capture order
  expect_packets       match, since, until, min, max, figure   capture records (SIP or
                       ICMP, e.g. {"icmp": 3, "src": "gw"}: unreachables the gateway sent)
  expect_elapsed       from, to, le, ge, figure   between two marks
  expect_in_flight     match, since, until, timeout_s (the transaction timeout), max,
                       search: {host: max}     transactions (Via branch) open at once;
                       and how many a host got before it first answered
  expect_pacing        match, since, until, min_gap_s, max_in_flight   per host
  probe                host, to, port, expect, timeout_s   one OPTIONS from a host
  expect_log           log, regex, min, max, figure, timeout_s   lines of a process's log
                       (figure: the regex's group in the last match; timeout_s: wait
                       that long for min matches)
  wait_status          also: since MARK, within_s BOUND (asserted), as MARK
Marks are written "NAME", "NAME+1.5" or "NAME-0.2"; bounds may be arithmetic on
${vars} ("${itt} + 1"). Everything is torn down, also on failure: processes first,
then the namespaces.

Time bounds (within_s, timeout_s) are multiplied by the time factor (3 in a
sanitizer build, or FXSGW_TEST_TIME_FACTOR).

Isolation: a case runs in a network namespace of its own (the runner re-executes
itself under `unshare --net` and brings lo up there), so its 127.0.0.x addresses
and ports, and those of a lab's namespaces, are its alone and meson runs cases
concurrently. Without that (not root, no unshare) a case takes an exclusive lock,
/tmp/fxsgw-integration.lock, for its whole run: cases then run one at a time.

Exit: 0 pass, 1 fail (logs of the gateway and the peers printed), 77 skip.
"""

import argparse
import array
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fxsgwtest import (EXIT_SKIP, Baresip, Env, Failure, Gateway, Kamailio, Sipp, Skip,  # noqa: E402
                       log, match, substitute, wait_until)
import netns  # noqa: E402
import fxsgwtest  # noqa: E402
import audio  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


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
        self.recording_marks = {}
        self.figures = []
        self.tap_marks = {}
        self.values = {}
        self.captures = {}
        e = self.env
        self.vars = {"tmp": e.tmp, "build": e.build_dir, "source": e.source_dir,
                     "runtime_dir": e.path("gw-run"), "gw_config": e.path("gw.yaml")}
        self.lab = None
        self.capture = None
        self.marks = {}
        labspec = self.spec.get("lab")
        if labspec:
            subnet = labspec.get("subnet", "10.77.0")
            for i, h in enumerate(labspec["hosts"]):
                self.vars["ip:" + h] = "%s.%d" % (subnet, 10 + i)
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
                o = re.sub(r"\$\{(rec|sent):([A-Za-z0-9_.-]+)\}",
                           lambda m: self.baresip(m.group(2)).recorded_wav("dec" if m.group(1) == "rec" else "enc"), o)
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
            defines = {}
            if spec.get("media_relay"):
                # Both parties' SDP get the relay's address (registrar.cfg route MEDIA).
                defines["KAM_MEDIA_SUBST"] = '"/c=IN IP4 [0-9.]+/c=IN IP4 %s/g"' % spec["media_relay"]
            p = Kamailio(self.env, spec["name"], spec["listen"], spec.get("users", {}), spec.get("realm"),
                         extra_defines=defines)
            p.start(timeout=self.t(10))
        elif kind == "sipp":
            host = self.lab_host(spec["host"]) if spec.get("host") else None
            p = Sipp(self.env, spec["name"], spec["scenario"], spec["local"], spec.get("remote"),
                     spec.get("vars"), spec.get("keys"), spec.get("args"), spec.get("calls", 1),
                     int(spec.get("timeout_s", 30) * self.env.time_factor),
                     netns=host.ns if host else None)
            p.start()
            if host:
                port = int(spec["local"].rsplit(":", 1)[1])
                wait_until("SIPp '%s' to listen on %s" % (spec["name"], spec["local"]),
                           lambda: host.udp_listeners(port) or (p.proc.poll() is not None and
                                                               self._peer_died(spec["name"], p)),
                           self.t(5), 0.05)
            else:
                time.sleep(0.2)   # a UAS binds its socket before anyone sends to it
        elif kind == "baresip":
            p = self.start_baresip(spec)
        elif kind == "command":
            host = self.lab_host(spec["host"]) if spec.get("host") else None
            argv = [str(a) for a in spec["argv"]]
            if argv and argv[0].endswith(".py") and not os.path.isabs(argv[0]):
                argv = [sys.executable, os.path.join(HERE, argv[0])] + argv[1:]
            if host:
                argv = ["ip", "netns", "exec", host.ns] + argv
            p = self.env.start(spec["name"], argv)
            log("command '%s' started (pid %d): %s" % (spec["name"], p.pid, " ".join(argv)))
            time.sleep(float(spec.get("settle_s", 0.3)))     # binds its socket first
            if p.poll() is not None:
                raise Failure("peer '%s' exited with %s at once" % (spec["name"], p.poll()))
        else:
            raise Failure("unknown peer kind '%s'" % kind)
        self.peers[spec["name"]] = p

    def start_baresip(self, spec):
        if spec.get("host"):
            host = self.lab_host(spec["host"])
            ip, port, ns = host.ip, int(spec.get("port", 5060)), host.ns
            rtp = spec.get("rtp_ports", "10000-10099")
        elif spec.get("local"):
            ip, port = spec["local"].rsplit(":", 1)
            ns = None
            # On the host's loopback the RTP sockets (bound to 0.0.0.0) must not collide.
            idx = [q["name"] for q in self.spec["peers"] if q.get("kind") == "baresip"].index(spec["name"])
            rtp = spec.get("rtp_ports", "%d-%d" % (20000 + 100 * idx, 20099 + 100 * idx))
        else:
            raise Failure("baresip peer '%s' needs \"host\" (a lab host) or \"local\" (ip:port)" % spec["name"])
        p = Baresip(self.env, spec["name"], ip, port, user=spec.get("user"), play=spec.get("play"),
                    answer=spec.get("answer", "auto"), registrar=spec.get("registrar"),
                    password=spec.get("password"), media_enc=spec.get("media_enc"), netns=ns,
                    rtp_ports=rtp, codecs=spec.get("codecs", ["PCMU", "PCMA"]),
                    play_s=spec.get("play_s", 300))
        p.start(timeout=self.t(10))
        if spec.get("registrar") and spec.get("wait_registered", True):
            p.wait_registered(self.t(spec.get("timeout_s", 10)))
        self.vars["uri:" + spec["name"]] = p.uri
        return p

    def baresip(self, name):
        p = self.peers.get(name)
        if not isinstance(p, Baresip):
            raise Failure("peer '%s' is not a running baresip" % name)
        return p

    def do_baresip_dial(self, s):
        p = self.baresip(s["peer"])
        t0 = time.monotonic()
        out = p.dial(s["uri"])
        self.set_mark(s, t0)
        log("baresip '%s' dials %s%s" % (p.name, s["uri"], (": " + out.strip()) if out.strip() else ""))

    def do_baresip_hangup(self, s):
        p = self.baresip(s["peer"])
        t0 = time.monotonic()
        p.hangup()
        self.set_mark(s, t0)
        log("baresip '%s' hangs up" % p.name)

    def do_baresip_accept(self, s):
        p = self.baresip(s["peer"])
        t0 = time.monotonic()
        p.accept()
        self.set_mark(s, t0)
        log("baresip '%s' accepts" % p.name)

    def do_baresip_wait(self, s):
        p = self.baresip(s["peer"])
        e = p.wait_event(s["event"], self.t(s.get("timeout_s", 10)), s.get("match"), self.mark(s.get("since")))
        self.set_mark(s, e["t"])
        log("baresip '%s': %s %s" % (p.name, e.get("type"), json.dumps({k: e[k] for k in ("peeruri", "param")
                                                                        if k in e})))

    def do_start_gateway(self, s):
        cfg = self.sub(self.spec["gateway"])
        ns = None
        if self.lab:
            ns = self.lab_host(s.get("host", self.spec.get("gateway_host", "gw"))).ns
        self.gw = Gateway(self.env, cfg, netns=ns)
        self.vars["runtime_dir"] = self.gw.runtime_dir
        self.vars["gw_config"] = self.gw.config_path
        if s.get("tap", True):
            # Before gwsupd, so the tap misses nothing of the start (it
            # connects to the ipc endpoints as they appear).
            self.gw.start_tap()
        self.gw.start()
        if s.get("as"):
            self.marks[s["as"]] = time.monotonic()

    def need_gw(self):
        if not self.gw:
            raise Failure("the gateway was not started")
        return self.gw

    def do_wait_status(self, s):
        gw = self.need_gw()
        what = s.get("what") or json.dumps({k: s[k] for k in ("services", "lines", "profiles") if k in s})
        timeout = s.get("timeout_s", 10)
        if "within_s" in s and "since" in s:
            # Wait somewhat past the bound so a miss is reported with the time it took.
            bound = self.t(self.num(s["within_s"]))
            left = self.mark(s["since"]) + bound - time.monotonic()
            timeout = max(float(s.get("timeout_s", 0)), left + max(2.0, bound)) / self.env.time_factor
        doc, secs = gw.wait_status(what, lambda d: self.status_mismatch(d, s) is None, self.t(timeout))
        now = time.monotonic()
        if s.get("as"):
            self.marks[s["as"]] = now
        if "since" in s:
            secs = now - self.mark(s["since"])
            log("status reached %.2fs after %s: %s" % (secs, s["since"], what[:200]))
            if "within_s" in s and secs > self.t(self.num(s["within_s"])):
                raise Failure("status %s reached %.2fs after %s, bound %s = %.2fs" % (
                    what[:200], secs, s["since"], s["within_s"], self.t(self.num(s["within_s"]))))
        else:
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

    def do_kamailio_user(self, s):
        kam = self.kam(s["peer"])
        kam.rpc("htable.sets", ["auth", str(s["user"]), str(self.sub(s["password"]))])
        log("kamailio '%s': user %s has a new password" % (kam.name, s["user"]))

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
        if s.get("hold_supervisor"):
            gw.proc.signal(signal.SIGSTOP)
            log("gwsupd (pid %d) stopped: it restarts nothing until SIGCONT" % gw.proc.pid)
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

    def do_signal_gateway(self, s):
        gw = self.need_gw()
        sig = getattr(signal, "SIG" + s["signal"])
        gw.proc.signal(sig)
        if sig == signal.SIGCONT:
            self.killed_at = time.monotonic()      # wait_restarted measures from here
        log("sent %s to gwsupd (pid %d)" % (sig.name, gw.proc.pid))

    def do_kill_gateway(self, s):
        # gwsupd itself (standalone mode): its daemons live on (no PR_SET_PDEATHSIG).
        gw = self.need_gw()
        rc, doc = gw.status()
        self.gateway_services_before = {v["name"]: v for v in (doc or {}).get("services", [])} if rc == 0 else {}
        sig = getattr(signal, "SIG" + s.get("signal", "KILL"))
        gw.proc.signal(sig)
        rc = gw.proc.wait(self.t(s.get("within_s", 2)))
        if rc is None:
            raise Failure("gwsupd still running after %s" % sig.name)
        self.killed_at = time.monotonic()
        log("killed gwsupd (pid %d) with %s: exit %s" % (gw.proc.pid, sig.name, rc))

    def do_restart_gateway(self, s):
        # A new gwsupd on the same configuration, as systemd restarts fxsgw-gwsupd.service;
        # it adopts the daemons the dead one left (gwsupd.children, docs/SUPERVISOR.md).
        gw = self.need_gw()
        gw.start()
        if s.get("as"):
            self.marks[s["as"]] = time.monotonic()
        if not s.get("adopt"):
            return
        before = getattr(self, "gateway_services_before", {})
        if not before:
            raise Failure("restart_gateway adopt: no services seen before kill_gateway")

        def adopted(doc):
            now = {v["name"]: v for v in doc.get("services", [])}
            return all(n in now and now[n].get("state") == "running" and now[n].get("pid") == b.get("pid")
                       for n, b in before.items()) or None
        try:
            doc, secs = gw.wait_status("every daemon adopted (same pid, running)", adopted,
                                       self.t(s.get("timeout_s", 5)))
        except Failure:
            rc, doc = gw.status()
            raise Failure("the new gwsupd did not adopt the daemons: before %s, now %s" % (
                json.dumps(before), json.dumps((doc or {}).get("services"))))
        for v in doc["services"]:
            b = before[v["name"]]
            if int(v.get("restarts", 0)) != int(b.get("restarts", 0)):
                raise Failure("%s: restarts %s after the adoption, %s before" % (
                    v["name"], v.get("restarts"), b.get("restarts")))
        log("the new gwsupd adopted %s after %.2fs" % (
            ", ".join("%s (pid %s)" % (v["name"], v["pid"]) for v in doc["services"]), secs))
        self.figures.append(("gwsupd restart: every daemon adopted", "%.2f s" % secs))

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
        if isinstance(p, fxsgwtest.Proc):            # a "command" peer
            rc = p.wait(self.t(s.get("timeout_s", 30)))
            if rc is None:
                raise Failure("'%s' still running after %ss" % (p.label, s.get("timeout_s", 30)))
            log("'%s' exited %d" % (p.label, rc))
            if "expect_exit" in s and rc != s["expect_exit"]:
                raise Failure("'%s' exited %d, expected %d" % (p.label, rc, s["expect_exit"]))
            return
        if not isinstance(p, Sipp):
            raise Failure("peer '%s' is not a running SIPp" % s["peer"])
        rc = p.wait(self.t(s.get("timeout_s", 30)))
        log("sipp '%s' exited %d" % (p.name, rc))
        if "expect_exit" in s and rc != s["expect_exit"]:
            raise Failure("SIPp '%s' exited %d, expected %d" % (p.name, rc, s["expect_exit"]))

    def do_expect_tap(self, s):
        gw = self.need_gw()
        start = self.tap_marks[s["since"]] if "since" in s else 0

        if "sequence" in s:
            def probe_seq():
                want = s["sequence"]
                i = 0
                for m in gw.tap_messages()[start:]:
                    if i < len(want) and match(m, want[i]) is None:
                        i += 1
                return True if i == len(want) else None
            wait_until("gwtap to show in order %s" % json.dumps(s["sequence"]), probe_seq,
                       self.t(s.get("timeout_s", 2)), 0.1)
            log("gwtap showed in order %s" % json.dumps(s["sequence"]))
            return

        if "max" in s:
            # At most: no waiting for more, only settle_s for what is under way.
            time.sleep(self.t(s.get("settle_s", 0)))
            seen = [m for m in gw.tap_messages()[start:] if match(m, s["match"]) is None]
            log("gwtap showed %d x %s (at most %d)" % (len(seen), json.dumps(s["match"]), s["max"]))
            if len(seen) > s["max"]:
                raise Failure("gwtap showed %d x %s, expected at most %d: %s" % (
                    len(seen), json.dumps(s["match"]), s["max"], json.dumps(seen[0])[:300]))
            return

        def probe():
            seen = [m for m in gw.tap_messages()[start:] if match(m, s["match"]) is None]
            return seen if len(seen) >= s.get("min", 1) else None
        seen, _ = wait_until("gwtap to show %s" % json.dumps(s["match"]), probe, self.t(s.get("timeout_s", 2)), 0.1)
        log("gwtap showed %d x %s" % (len(seen), json.dumps(s["match"])))

    def do_tap_mark(self, s):
        self.tap_marks[s["as"]] = len(self.need_gw().tap_messages())

    def do_mark_recordings(self, s):
        sizes = {}
        for name in os.listdir(self.env.tmp):
            if name.endswith(".part"):
                sizes[name] = os.path.getsize(os.path.join(self.env.tmp, name)) & ~1
        self.recording_marks[s["as"]] = sizes
        log("recordings at mark '%s': %d file(s)" % (s["as"], len(sizes)))

    def do_run(self, s):
        if "until_s" in s:
            # Again until it passes (exit and output), e.g. a property that is about to change.
            step = {k: v for k, v in s.items() if k != "until_s"}
            end = time.monotonic() + self.t(s["until_s"])
            while True:
                try:
                    return self.do_run(step)
                except Failure:
                    if time.monotonic() > end:
                        raise
                time.sleep(0.1)
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

    def do_rewrite_config(self, s):
        gw = self.need_gw()
        if "text" in s:
            text = self.sub(s["text"])
        else:
            if "gateway" in s:
                cfg = self.sub(s["gateway"])
            else:
                def merge(a, b):
                    for k, v in b.items():
                        a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
                    return a
                cfg = merge(json.loads(json.dumps(gw.config)), self.sub(s["merge"]))
            cfg.setdefault("bus", {})["runtime_dir"] = gw.runtime_dir
            gw.config = cfg
            text = "# rewritten by tests/integration/run.py\n" + fxsgwtest.to_yaml(cfg) + "\n"
        tmp = gw.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.rename(tmp, gw.config_path)
        log("config rewritten: %s" % (json.dumps(s.get("merge"))[:300] if "merge" in s else
                                      "whole" if "gateway" in s else "raw text"))

    def do_gwctl(self, s):
        gw = self.need_gw()
        argv = [self.env.service_bin("gwctl"), "--config", gw.config_path] + \
            (["--json"] if "json" in s else []) + [str(self.sub(a)) for a in s["args"]]
        t0 = time.monotonic()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=self.t(s.get("timeout_s", 15)), cwd=self.env.tmp)
        secs = time.monotonic() - t0
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        log("$ gwctl %s -> exit %d (%.3f s)\n%s%s" % (" ".join(argv[3:]), r.returncode, secs, out, err))
        self.set_mark(s, t0 + secs)
        if "expect_exit" in s and r.returncode != s["expect_exit"]:
            raise Failure("gwctl %s exited %d, expected %d" % (" ".join(argv[3:]), r.returncode, s["expect_exit"]))
        for rx in ([s["output_regex"]] if isinstance(s.get("output_regex"), str) else s.get("output_regex", [])):
            if not re.search(rx, out + err, re.M):
                raise Failure("output of gwctl %s does not match /%s/" % (" ".join(argv[3:]), rx))
        if "json" in s:
            m = match(json.loads(out), self.sub(s["json"]))
            if m:
                raise Failure("gwctl %s --json: %s\n%s" % (" ".join(argv[3:]), m, out))
        if s.get("figure"):
            self.figures.append((s["figure"], "%.3f s" % secs))

    def do_exec_reload(self, s):
        gw = self.need_gw()
        unit = os.path.join(self.env.build_dir, "deploy", s["unit"])
        with open(unit) as f:
            lines = [ln.strip() for ln in f if ln.strip().startswith("ExecReload=")]
        if len(lines) != 1:
            raise Failure("%s: %d ExecReload= lines, expected 1" % (unit, len(lines)))
        argv = lines[0][len("ExecReload="):].split()
        # The installed paths, mapped to this build and this gateway's config.
        argv[0] = self.env.service_bin(os.path.basename(argv[0]))
        argv = [gw.config_path if a.startswith("/etc/fxsgw/") else a for a in argv]
        self.do_run({"argv": argv, "expect_exit": s.get("expect_exit", 0),
                     "output_regex": s.get("output_regex", []), "timeout_s": s.get("timeout_s", 15)})

    def do_write_file(self, s):
        p = self.env.path(s["name"])
        os.makedirs(os.path.dirname(p), exist_ok=True)   # "tone-plans/x.yaml"
        with open(p, "w") as f:
            f.write(s["text"])
        self.vars["file:" + s["name"]] = p

    def do_sleep(self, s):
        if "until" in s:
            # Until a mark (+/- seconds), e.g. "connected+12.5"; not beyond the case's timeout.
            t = self.mark(s["until"])
            if t > self.deadline:
                raise Failure("sleep until %s lies beyond the case's timeout_s" % s["until"])
            time.sleep(max(0.0, t - time.monotonic()))
            return
        time.sleep(float(s["s"]))

    def do_write_wav(self, s):
        p = self.env.path(s["name"])
        if "segments" in s:
            audio.write_segments(p, s["segments"], float(s.get("level", 0.25)))
        else:
            audio.write_tone(p, s["freq"], float(s.get("seconds", 2)), float(s.get("level", 0.25)))
        self.vars["file:" + s["name"]] = p

    def gwctl_line(self, port, args, timeout=10):
        gw = self.need_gw()
        argv = [gw.gwctl, "--config", gw.config_path, "line", str(port)] + [str(a) for a in args]
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=self.t(timeout))
        except subprocess.TimeoutExpired:
            raise Failure("%s did not finish within %ss" % (" ".join(argv), timeout))
        return r

    def do_line(self, s):
        args = [s["action"]]
        if s["action"] == "dial":
            args.append(str(s["digits"]))
            if s.get("pulse"):
                args.append("--pulse")
        r = self.gwctl_line(s["port"], args)
        log("$ gwctl line %s %s -> exit %d %s" % (s["port"], " ".join(args), r.returncode,
                                                   (r.stdout + r.stderr).decode(errors="replace").strip()))
        if r.returncode != s.get("expect_exit", 0):
            raise Failure("gwctl line %s %s exited %d" % (s["port"], " ".join(args), r.returncode))

    def line_status(self, port):
        r = self.gwctl_line(port, ["status", "--json"])
        if r.returncode != 0:
            return None
        try:
            doc = json.loads(r.stdout.decode())
        except ValueError:
            raise Failure("gwctl line %s status --json: not JSON: %r" % (port, r.stdout[:200]))
        if isinstance(doc, list):
            doc = doc[0] if doc else {}
        return doc

    def do_wait_line(self, s):
        last = [None]

        def probe():
            doc = self.line_status(s["port"])
            if doc is None:
                return None
            last[0] = doc
            return doc if match(doc, s["match"], "line %s" % s["port"]) is None else None
        try:
            wait_until("line %s to match %s" % (s["port"], json.dumps(s["match"])), probe,
                       self.t(s.get("timeout_s", 5)), 0.1)
        except Failure:
            log("line %s status: %s" % (s["port"], json.dumps(last[0])))
            raise
        self.set_mark(s)
        log("line %s: %s" % (s["port"], json.dumps(last[0])))

    def do_line_value(self, s):
        """One figure of 'gwctl line N status --json' (a dotted path), remembered as
        'as' and checked: le / ge, and max_above / min_below another remembered one."""
        doc = self.line_status(s["port"])
        if doc is None:
            raise Failure("gwctl line %s status failed" % s["port"])
        v = doc
        for key in s["path"].split("."):
            v = v.get(key) if isinstance(v, dict) else None
        if not isinstance(v, (int, float)):
            raise Failure("line %s: %s is %r, not a number" % (s["port"], s["path"], v))
        log("line %s: %s = %s" % (s["port"], s["path"], v))
        if s.get("as"):
            self.values[s["as"]] = v
        if s.get("figure"):
            self.figures.append((s["figure"], str(v)))
        if "le" in s and v > self.num(s["le"]):
            raise Failure("line %s: %s = %s, expected <= %s" % (s["port"], s["path"], v, s["le"]))
        if "ge" in s and v < self.num(s["ge"]):
            raise Failure("line %s: %s = %s, expected >= %s" % (s["port"], s["path"], v, s["ge"]))
        if "max_above" in s:
            ref, bound = self.values[s["max_above"]["ref"]], self.num(s["max_above"]["by"])
            log("line %s: %s = %s, %+g over %s" % (s["port"], s["path"], v, v - ref, s["max_above"]["ref"]))
            if v - ref > bound:
                raise Failure("line %s: %s = %s is %g over %s (%s), expected at most %g" % (
                    s["port"], s["path"], v, v - ref, s["max_above"]["ref"], ref, bound))

    def written_file(self, s):
        """The path of s["file"] (relative: in the case's directory), once it exists
        (within s["timeout_s"], default 5 s)."""
        path = s["file"]
        if not os.path.isabs(path):
            path = self.env.path(path)
        deadline = time.monotonic() + self.t(s.get("timeout_s", 5))
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise Failure("%s was not written" % path)
            time.sleep(0.1)
        return path

    def do_expect_wav(self, s):
        path = self.written_file(s)
        if s.get("raw"):
            # A recording still going on: linehwd's simulated phone appends what it
            # hears to "<record>.part" (16-bit, 8 kHz, host order) until its hang-up.
            with open(path, "rb") as f:
                data = f.read()
            if s.get("since_recordings"):
                data = data[self.recording_marks[s["since_recordings"]].get(os.path.basename(path), 0):]
            rate, samples = audio.RATE, list(array.array("h", data[:len(data) & ~1]))
        else:
            rate, samples = audio.read(path)
        if rate != audio.RATE:
            raise Failure("%s: %d Hz, expected %d" % (path, rate, audio.RATE))
        samples = samples[int(s.get("skip_ms", 0)) * rate // 1000:]
        if s.get("trim_end_ms"):
            samples = samples[:max(0, len(samples) - int(s["trim_end_ms"]) * rate // 1000)]
        loud_ms = 0
        if "min_window_fraction" in s or "min_window_level" in s:
            self.check_windows(path, samples, s)
        if "freq" in s:
            fr, loud = audio.tone_fraction(samples, s["freq"], rate)
            loud_ms = loud * 20
            log("%s: %.0f ms not silent, %.1f %% of it at %s Hz" % (os.path.basename(path), loud_ms, 100 * fr, s["freq"]))
            self.figures.append(("%s power at %s Hz" % (os.path.basename(path), s["freq"]), "%.1f %%" % (100 * fr)))
            if fr < float(s.get("min_fraction", 0.5)):
                raise Failure("%s: only %.1f %% of the power at %s Hz (expected >= %.0f %%)" %
                              (path, 100 * fr, s["freq"], 100 * float(s.get("min_fraction", 0.5))))
            if loud_ms < float(s.get("min_loud_ms", 200)):
                raise Failure("%s: only %.0f ms of sound (expected >= %s ms)" % (path, loud_ms, s.get("min_loud_ms", 200)))
        if "not_freq" in s:
            fr, _ = audio.tone_fraction(samples, s["not_freq"], rate)
            if fr > float(s.get("max_fraction", 0.2)):
                raise Failure("%s: %.1f %% of the power at %s Hz (expected <= %.0f %%)" %
                              (path, 100 * fr, s["not_freq"], 100 * float(s.get("max_fraction", 0.2))))
        if "max_gap_ms" in s:
            gap = audio.longest_gap_ms(samples, rate)
            log("%s: longest gap %d ms" % (os.path.basename(path), gap))
            if gap > float(s["max_gap_ms"]):
                raise Failure("%s: a gap of %d ms (expected <= %s ms)" % (path, gap, s["max_gap_ms"]))

    def check_windows(self, path, samples, s):
        """Every window (window_ms, 100 by default) holds min_window_fraction of its power at
        window_freq, and every 20 ms block at least min_window_level of the median block's rms."""
        name = os.path.basename(path)
        wins = audio.window_figures(samples, s.get("window_freq", s.get("freq")), int(s.get("window_ms", 100)))
        if not wins:
            raise Failure("%s: nothing to check" % path)
        worst = min(wins, key=lambda w: w[2])
        log("%s: %d windows of %s ms, the worst %.1f %% at %s Hz (at %d ms)" % (
            name, len(wins), s.get("window_ms", 100), 100 * worst[2], s.get("window_freq", s.get("freq")),
            worst[0] + int(s.get("skip_ms", 0))))
        self.figures.append(("%s worst window at %s Hz" % (name, s.get("window_freq", s.get("freq"))),
                             "%.1f %%" % (100 * worst[2])))
        if "min_window_fraction" in s and worst[2] < float(s["min_window_fraction"]):
            bad = [w for w in wins if w[2] < float(s["min_window_fraction"])]
            raise Failure("%s: %d window(s) below %.0f %% at the tone, e.g. %.1f %% at %d ms" % (
                path, len(bad), 100 * float(s["min_window_fraction"]), 100 * bad[0][2],
                bad[0][0] + int(s.get("skip_ms", 0))))
        if "min_window_level" in s:
            blk = audio.window_figures(samples, s.get("window_freq", s.get("freq")), 20)
            levels = sorted(b[1] for b in blk)
            median = levels[len(levels) // 2]
            low = min(blk, key=lambda b: b[1])
            log("%s: 20 ms blocks: median rms %.0f, the lowest %.0f (%.0f %%) at %d ms" % (
                name, median, low[1], 100 * low[1] / median if median else 0, low[0] + int(s.get("skip_ms", 0))))
            self.figures.append(("%s lowest 20 ms block" % name, "%.0f %% of the median" % (
                100 * low[1] / median if median else 0)))
            if low[1] < float(s["min_window_level"]) * median:
                bad = [b for b in blk if b[1] < float(s["min_window_level"]) * median]
                raise Failure("%s: %d block(s) of 20 ms below %.0f %% of the median level, e.g. at %d ms" % (
                    path, len(bad), 100 * float(s["min_window_level"]), bad[0][0] + int(s.get("skip_ms", 0))))

    def do_expect_wav_markers(self, s):
        """Delay measured in the sound: the source holds short bursts of 'freq' (markers,
        at markers_ms of the played file) in a tone of 'base_freq'; each burst's arrival
        in the recording is found in order (audio.onset_ms). Its delay relative to the
        reference marker's (the same path before any impairment) is the delay added since:
        delay_i = (arrival_i - arrival_ref) - (marker_i - marker_ref). max_added_ms: a bound
        (or null) per marker."""
        path = s["file"] if os.path.isabs(s["file"]) else self.env.path(s["file"])
        rate, samples = audio.read(path)
        markers = [float(m) for m in s["markers_ms"]]
        ref = int(s.get("reference", 0))
        arrivals = []
        start = 0.0
        for i, m in enumerate(markers):
            if i > 0:
                start = arrivals[-1] + (m - markers[i - 1]) - float(s.get("search_ms", 400))
            t = audio.onset_ms(samples, float(s["freq"]), float(s["base_freq"]), start,
                               start + (float(s.get("first_within_ms", 5000)) if i == 0 else
                                        2 * float(s.get("search_ms", 400))), rate)
            if t is None:
                raise Failure("%s: marker %d (%.0f ms in the source) not found" % (path, i, m))
            arrivals.append(t)
        added = [(arrivals[i] - arrivals[ref]) - (markers[i] - markers[ref]) for i in range(len(markers))]
        log("%s: markers at %s ms arrived at %s ms: added delay %s ms" % (
            os.path.basename(path), markers, ["%.1f" % a for a in arrivals], ["%.1f" % a for a in added]))
        for i, a in enumerate(added):
            if i != ref:
                self.figures.append(("%s added delay at %.1f s" % (os.path.basename(path), markers[i] / 1000),
                                     "%.1f ms" % a))
        for i, bound in enumerate(s.get("max_added_ms", [])):
            if bound is not None and added[i] > float(bound):
                raise Failure("%s: marker %d (%.0f ms) arrived %.1f ms later than the reference's delay, "
                              "expected at most %s ms" % (path, i, markers[i], added[i], bound))
        for i, bound in enumerate(s.get("min_added_ms", [])):
            if bound is not None and added[i] < float(bound):
                raise Failure("%s: marker %d (%.0f ms) arrived only %.1f ms later than the reference's delay, "
                              "expected at least %s ms" % (path, i, markers[i], added[i], bound))

    def do_expect_json(self, s):
        path = self.written_file(s)
        with open(path) as f:
            doc = json.load(f)
        log("%s: %s" % (os.path.basename(path), json.dumps(doc)[:2000]))
        for label, key in s.get("figures", {}).items():
            self.figures.append((label, "%s" % doc.get(key)))
        m = match(doc, s["match"])
        if m:
            raise Failure("%s: %s" % (os.path.basename(path), m))

    def do_expect_dtmf(self, s):
        path = self.written_file(s)
        rate, samples = audio.read(path)
        samples = samples[int(s.get("skip_ms", 0)) * rate // 1000:]
        runs = audio.dtmf_runs(samples, rate)
        got = "".join(k for k, _, _ in runs)
        log("%s: DTMF %r %s" % (os.path.basename(path), got, runs))
        self.figures.append(("%s DTMF" % os.path.basename(path),
                             " ".join("%s@%d+%dms" % r for r in runs) or "none"))
        if "digits" in s and got != s["digits"]:
            raise Failure("%s: DTMF %r heard, expected exactly %r" % (path, got, s["digits"]))
        if "contains" in s and s["contains"] not in got:
            raise Failure("%s: DTMF %r heard, expected %r among them" % (path, got, s["contains"]))
        for k, _, d in runs:
            if d < int(s.get("min_ms", 0)):
                raise Failure("%s: DTMF %s lasted only %d ms (expected >= %s ms)" % (path, k, d, s["min_ms"]))

    def do_for_each(self, s):
        for v in s["values"]:
            log("--- %s = %s" % (s["var"], v))
            self.run_steps(s["steps"], {s["var"]: v})


    # ------------------------------------------------------------ packet captures

    def do_capture_start(self, s):
        name = s["as"]
        dumpcap = Env.system_bin("dumpcap")
        path = self.env.path("%s.pcapng" % name)
        if self.lab:
            h = self.lab_host(s.get("host", self.spec.get("gateway_host", "gw")))
            argv = ["ip", "netns", "exec", self.lab.br_ns, dumpcap, "-i", h.port]
        else:
            argv = [dumpcap, "-i", "lo"]
        argv += ["-f", s.get("filter", "udp"), "-w", path]
        proc = self.env.start("capture-%s" % name, argv)
        wait_until("dumpcap '%s' to capture" % name,
                   lambda: "Capturing on" in proc.output() or (
                       proc.poll() is not None and self._peer_died("capture-" + name, proc)), self.t(5), 0.05)
        self.captures[name] = (proc, path)
        self.vars["capture:" + name] = path
        log("capture '%s' on %s: %s" % (name, argv[argv.index("-i") + 1], s.get("filter", "udp")))

    def do_capture_stop(self, s):
        proc, path = self.captures[s["name"]]
        time.sleep(0.3)                          # what is still in flight
        proc.signal(signal.SIGINT)
        if proc.wait(self.t(5)) is None:
            raise Failure("dumpcap '%s' did not stop" % s["name"])
        log("capture '%s' stopped: %s" % (s["name"], proc.output().strip().splitlines()[-1:]))

    def capture_udp(self, name):
        """[(src, sport, dst, dport, payload bytes)] of a stopped capture, via tshark."""
        if name not in self.captures:
            raise Failure("no capture '%s'" % name)
        proc, path = self.captures[name]
        if proc.poll() is None:
            raise Failure("capture '%s' is still running (capture_stop first)" % name)
        r = subprocess.run([Env.system_bin("tshark"), "-r", path, "-Y", "udp", "-T", "fields",
                            "-E", "separator=/t", "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst",
                            "-e", "udp.dstport", "-e", "udp.payload"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=self.t(30))
        out = []
        for line in r.stdout.decode(errors="replace").splitlines():
            f = line.split("\t")
            if len(f) == 5 and f[4]:
                out.append((f[0], int(f[1]), f[2], int(f[3]), bytes.fromhex(f[4].replace(":", ""))))
        return out

    @staticmethod
    def entropy_bits(data):
        import math
        if not data:
            return 0.0
        counts = [0] * 256
        for b in data:
            counts[b] += 1
        n = float(len(data))
        return -sum(c / n * math.log2(c / n) for c in counts if c)

    def do_expect_rtp(self, s):
        want = s.get("match", {})
        pkts = []
        ids = []                   # (SSRC, sequence number) of each audio packet
        for src, sport, dst, dport, p in self.capture_udp(s["capture"]):
            rec = {"src": src, "sport": sport, "dst": dst, "dport": dport}
            if match(rec, want) is not None:
                continue
            # RTP version 2 with PCMU/PCMA; RTCP (PT 72-76 after the marker bit) and events are not audio
            if len(p) < 12 or p[0] >> 6 != 2 or (p[1] & 0x7f) not in (0, 8):
                continue
            head = 12 + 4 * (p[0] & 0x0f)
            if p[0] & 0x10 and len(p) >= head + 4:
                head += 4 + 4 * int.from_bytes(p[head + 2:head + 4], "big")
            pkts.append((p[1] & 0x7f, p[head:]))
            ids.append((int.from_bytes(p[8:12], "big"), int.from_bytes(p[2:4], "big")))
        n = len(pkts)
        what = "%s %s" % (s["capture"], json.dumps(want))
        if "max_packets" in s:
            log("%s: %d RTP packets (at most %s)" % (what, n, s["max_packets"]))
            if n > int(s["max_packets"]):
                raise Failure("%s: %d RTP packets, expected at most %s" % (what, n, s["max_packets"]))
            if n == 0:
                return
        elif n < int(s.get("min_packets", 50)):
            raise Failure("%s: %d RTP packets (PCMU/PCMA), expected at least %s" % (what, n, s.get("min_packets", 50)))
        payload = b"".join(p for _, p in pkts)
        sizes = sorted(set(len(p) for _, p in pkts))
        ent = self.entropy_bits(payload)
        fr = None
        if "freq" in s:
            samples = []
            for pt, p in pkts:
                samples += audio.g711_decode(p[:160], "pcmu" if pt == 0 else "pcma")
            fr, _ = audio.tone_fraction(samples, s["freq"])
        log("%s: %d RTP packets, payload sizes %s, byte entropy %.2f bits%s" % (
            what, n, sizes, ent, "" if fr is None else ", %.1f %% of the decoded G.711 at %s Hz" % (100 * fr, s["freq"])))
        self.figures.append(("%s entropy" % s["capture"], "%.2f bits/byte" % ent))
        ssrcs = sorted(set(x for x, _ in ids))
        if "max_ssrcs" in s:
            log("%s: SSRCs %s" % (what, ["%08x" % x for x in ssrcs]))
            if len(ssrcs) > int(s["max_ssrcs"]):
                raise Failure("%s: %d SSRCs %s, expected at most %s" % (
                    what, len(ssrcs), ["%08x" % x for x in ssrcs], s["max_ssrcs"]))
        if s.get("unique_seq"):
            # With SRTP a (SSRC, sequence number) sent twice within a ROC is an index used twice.
            dup = len(ids) - len(set(ids))
            log("%s: %d sequence numbers sent more than once" % (what, dup))
            if dup:
                raise Failure("%s: %d (SSRC, sequence number) pairs sent more than once" % (what, dup))
        if s.get("srtp", True):
            if any(x not in (164, 170) for x in sizes):
                raise Failure("%s: payload sizes %s: not 160 bytes of G.711 + an SRTP tag (4 or 10)" % (what, sizes))
            if ent < 7.5:
                raise Failure("%s: byte entropy %.2f bits: the payload is not encrypted" % (what, ent))
            if fr is not None and fr > 0.2:
                raise Failure("%s: %.1f %% of the payload decodes to the %s Hz tone" % (what, 100 * fr, s["freq"]))
        else:
            if sizes != [160]:
                raise Failure("%s: payload sizes %s, expected plain G.711 (160)" % (what, sizes))
            if ent > 7.0:
                raise Failure("%s: byte entropy %.2f bits: does not look like G.711 of a tone" % (what, ent))
            if fr is not None and fr < 0.8:
                raise Failure("%s: only %.1f %% of the payload at %s Hz" % (what, 100 * fr, s["freq"]))

    KEY_RE = re.compile(rb"inline:([A-Za-z0-9+/]{40})(?![A-Za-z0-9+/=])")

    def do_expect_no_keys(self, s):
        import base64
        keys = set()
        logs = dict(self.env.logs)
        for src in s["sources"]:
            if src in self.captures:
                path = self.captures[src][1]
            elif src in logs:
                path = logs[src]
            else:
                path = src if os.path.isabs(src) else self.env.path(src)
            try:
                with open(path, "rb") as f:
                    keys.update(m.group(1).decode() for m in self.KEY_RE.finditer(f.read()))
            except OSError as e:
                raise Failure("expect_no_keys: cannot read source %s: %s" % (src, e))
        log("SDES keys found in %s: %d distinct" % (s["sources"], len(keys)))
        if len(keys) < int(s.get("min_keys", 2)):
            raise Failure("only %d SDES keys found in %s (expected >= %s): nothing to look for" % (
                len(keys), s["sources"], s.get("min_keys", 2)))
        forms = []
        for k in keys:
            raw = base64.b64decode(k)
            forms += [k.encode(), raw.hex().encode(), raw.hex().upper().encode(), raw]
        for label in s.get("in", ["gw", "gw-tap"]):
            found = [path for lb, path in self.env.logs if lb == label]
            if not found:
                raise Failure("expect_no_keys: no log '%s'" % label)
            for path in found:
                with open(path, "rb") as f:
                    text = f.read()
                hits = sum(text.count(x) for x in forms)
                log("log %s (%d bytes): %d occurrence(s) of the keys" % (label, len(text), hits))
                if hits:
                    raise Failure("an SRTP key appears %d time(s) in log %s (%s)" % (hits, label, path))

    # ------------------------------------------------------------ network namespaces

    def lab_host(self, name):
        if not self.lab:
            raise Failure("the case has no lab")
        try:
            return self.lab.host(name)
        except KeyError:
            raise Failure("no host '%s' in the lab" % name)

    def _peer_died(self, name, p):
        raise Failure("peer '%s' exited with %s before listening" % (name, p.proc.poll()))

    def open_lab(self):
        labspec = self.spec["lab"]
        self.lab = netns.Lab(labspec["hosts"], subnet=labspec.get("subnet", "10.77.0"))
        old = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        self.lab.open()
        for sig, h in old.items():          # ours: raise Failure, so the finally-block runs
            signal.signal(sig, h)
        log("lab %s: %s" % (self.lab.prefix, ", ".join("%s=%s" % (h.name, h.ip) for h in self.lab.hosts.values())))
        if labspec.get("capture", True):
            gwh = self.lab_host(self.spec.get("gateway_host", "gw"))
            names = ["%s=%s" % (h.name, h.ip) for h in self.lab.hosts.values()]
            self.capture = self.env.start("capture", ["ip", "netns", "exec", self.lab.br_ns, sys.executable, "-u",
                                                      os.path.join(HERE, "sipcap.py"), gwh.port] + names)
            wait_until("the SIP capture to start",
                       lambda: '"ready"' in self.capture.output() or (
                           self.capture.poll() is not None and self._peer_died("capture", self.capture)),
                       5.0, 0.05)

    def close_lab(self):
        if self.lab:
            self.lab.close()
            self.lab = None

    def packets(self):
        if not self.capture:
            raise Failure("no capture (the case has no lab)")
        out = []
        for line in self.capture.output().splitlines():
            if line.startswith('{"t"'):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass          # the last line may be half-written
        return out

    def num(self, v):
        """A bound: a number, or arithmetic on numbers ("1 + 2*0.5") after ${} substitution."""
        if isinstance(v, (int, float)):
            return float(v)
        v = str(self.sub(v))
        if not re.fullmatch(r"[0-9.+\-*/() ]+", v):
            raise Failure("not a numeric expression: %r" % v)
        return float(eval(v, {"__builtins__": {}}, {}))

    def mark(self, expr):
        if expr is None:
            return None
        if isinstance(expr, (int, float)):
            return float(expr)
        m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:([+-])\s*(.+))?", str(expr))
        if not m:
            raise Failure("bad mark %r" % expr)
        if m.group(1) == "now":
            base = time.monotonic()
        elif m.group(1) in self.marks:
            base = self.marks[m.group(1)]
        else:
            raise Failure("no mark '%s' (marks: %s)" % (m.group(1), sorted(self.marks)))
        if m.group(2):
            off = self.num(m.group(3))
            base = base + off if m.group(2) == "+" else base - off
        return base

    def set_mark(self, s, t=None):
        if s.get("as"):
            self.marks[s["as"]] = time.monotonic() if t is None else t
            log("mark %s" % s["as"])

    def select_packets(self, s, default_match=None):
        since, until = self.mark(s.get("since")), self.mark(s.get("until"))
        want = s.get("match", default_match or {})
        out = []
        for p in self.packets():
            if since is not None and p["t"] < since:
                continue
            if until is not None and p["t"] > until:
                continue
            if want and match(p, want) is not None:
                continue
            out.append(p)
        return out

    def wait_until_mark(self, s):
        """Evaluation over [since, until]: wait until 'until' has passed (plus the
        capture's latency)."""
        until = self.mark(s.get("until"))
        if until is not None:
            left = until - time.monotonic() + 0.2
            if left > 0:
                if until > self.deadline:
                    raise Failure("'until' lies beyond the case's timeout_s")
                time.sleep(left)
        if s.get("settle_s"):
            time.sleep(float(s["settle_s"]))

    def do_silence(self, s):
        self.lab_host(s["host"]).silence(udp_port=s.get("udp_port"))
        self.set_mark(s)
        log("%s silenced%s" % (s["host"], " (udp %s)" % s["udp_port"] if s.get("udp_port") else ""))

    def do_unsilence(self, s):
        h = self.lab_host(s["host"])
        n = h.silenced_packets()
        h.unsilence()
        self.set_mark(s)
        log("%s unsilenced (%d datagrams were dropped)" % (s["host"], n))

    def do_link_down(self, s):
        self.lab_host(s["host"]).link_down(flush_neigh=s.get("flush_neigh", False))
        self.set_mark(s)

    def do_link_up(self, s):
        self.lab_host(s["host"]).link_up()
        self.set_mark(s)

    def do_sysctl(self, s):
        self.lab_host(s["host"]).sysctl(s["name"], s["value"])

    def do_stop_peer(self, s):
        p = self.peers.pop(s["peer"], None)
        if p is None:
            raise Failure("peer '%s' is not running" % s["peer"])
        proc = getattr(p, "proc", p)      # a Proc itself for a "command" peer
        proc.signal(getattr(signal, "SIG" + s.get("signal", "TERM")))
        if proc.wait(self.t(5)) is None:
            raise Failure("peer '%s' did not stop" % s["peer"])
        proc.stop()
        self.set_mark(s)
        log("peer '%s' stopped (exit %s)" % (s["peer"], proc.poll()))

    def do_kill_peer(self, s):
        s = dict(s)
        s["signal"] = "KILL"
        self.do_stop_peer(s)

    def do_mark(self, s):
        self.set_mark(s)

    def do_capture_mark(self, s):
        nth = int(s.get("nth", 1))
        after = self.mark(s.get("after"))

        def probe():
            ps = [p for p in self.packets() if (after is None or p["t"] >= after) and match(p, s["match"]) is None]
            return ps[nth - 1] if len(ps) >= nth else None
        p, _ = wait_until("capture: packet #%d matching %s" % (nth, json.dumps(s["match"])), probe,
                          self.t(self.num(s.get("timeout_s", 10))), 0.05)
        self.marks[s["as"]] = p["t"]
        log("mark %s: %s" % (s["as"], self.describe(p)))

    @staticmethod
    def describe(p):
        if "icmp" in p:
            return "%.3f ICMP %d/%d %s -> %s (for %s:%s)" % (p["t"], p["icmp"], p["code"], p["src"], p["dst"],
                                                            p.get("orig_dst"), p.get("orig_dport"))
        what = p["method"] or "%s %s" % (p["status"], p.get("reason", ""))
        return "%.3f %s -> %s %s (%s %s, %s, to %s)" % (p["t"], p["src"], p["dst"], what, p.get("cseq"),
                                                        p.get("cseq_method"), p.get("call_id"), p.get("to_user"))

    def log_packets(self, ps, limit=60):
        for p in ps[:limit]:
            log("  " + self.describe(p))
        if len(ps) > limit:
            log("  ... %d more" % (len(ps) - limit))

    def do_expect_requests(self, s):
        self.wait_until_mark(s)
        gw = self.spec.get("gateway_host", "gw")
        ps = self.select_packets(s, {"src": gw, "method": {"present": True}})
        seq = []
        for p in ps:
            if not seq or seq[-1] != p["dst"]:
                seq.append(p["dst"])
        log("requests %s: %d, destinations in order: %s" % (json.dumps(s.get("match", {})), len(ps), " ".join(seq)))
        problems = []
        if "sequence" in s and seq != s["sequence"]:
            problems.append("destinations %s, expected %s" % (seq, s["sequence"]))
        if "starts_with" in s and seq[:len(s["starts_with"])] != s["starts_with"]:
            problems.append("destinations %s do not start with %s" % (seq, s["starts_with"]))
        if "ends_with" in s and seq[-len(s["ends_with"]):] != s["ends_with"]:
            problems.append("destinations %s do not end with %s" % (seq, s["ends_with"]))
        for h in s.get("never_to", []):
            n = sum(1 for p in ps if p["dst"] == h)
            if n:
                problems.append("%d request(s) to %s" % (n, h))
        for h, m in s.get("to_counts", {}).items():
            n = sum(1 for p in ps if p["dst"] == h)
            e = match(n, m, "requests to %s" % h)
            if e:
                problems.append(e)
        if "min" in s and len(ps) < s["min"]:
            problems.append("%d requests, expected at least %d" % (len(ps), s["min"]))
        if "max" in s and len(ps) > s["max"]:
            problems.append("%d requests, expected at most %d" % (len(ps), s["max"]))
        if problems:
            self.log_packets(ps)
            raise Failure("; ".join(problems))

    def do_expect_packets(self, s):
        """Capture records (SIP messages and ICMP unreachables, sipcap.py) matching, counted."""
        self.wait_until_mark(s)
        ps = self.select_packets(s)
        log("captured %s: %d" % (json.dumps(s.get("match", {})), len(ps)))
        if s.get("figure"):
            self.figures.append((s["figure"], "%d" % len(ps)))
        if ("min" in s and len(ps) < s["min"]) or ("max" in s and len(ps) > s["max"]):
            self.log_packets(ps)
            raise Failure("%d captured %s, expected %s..%s" % (len(ps), json.dumps(s.get("match", {})),
                                                               s.get("min", 0), s.get("max", "")))

    def do_expect_elapsed(self, s):
        a, b = self.mark(s["from"]), self.mark(s["to"])
        secs = b - a
        log("%s -> %s: %.3f s" % (s["from"], s["to"], secs))
        if s.get("figure"):
            self.figures.append((s["figure"], "%.3f s" % secs))
        if "le" in s and secs > self.t(self.num(s["le"])):
            raise Failure("%s -> %s took %.3f s, bound %s = %.2f s" % (s["from"], s["to"], secs, s["le"],
                                                                      self.t(self.num(s["le"]))))
        if "ge" in s and secs < self.num(s["ge"]):
            raise Failure("%s -> %s took %.3f s, at least %s = %.2f s expected" % (
                s["from"], s["to"], secs, s["ge"], self.num(s["ge"])))

    def transactions(self, s):
        """Client transactions of the gateway, by Via branch: [start, end, dst, first answer]."""
        gw = self.spec.get("gateway_host", "gw")
        timeout = self.num(s.get("timeout_s", 2))
        tol = float(s.get("tolerance_s", 0.05))
        since, until = self.mark(s.get("since")), self.mark(s.get("until"))
        want = s.get("match", {})
        tx = {}
        order = []
        for p in self.packets():
            if p.get("branch") is None:
                continue
            if p["src"] == gw and p["method"]:
                if (since is not None and p["t"] < since) or (until is not None and p["t"] > until):
                    continue
                if want and match(p, want) is not None:
                    continue
                if p["branch"] not in tx:
                    tx[p["branch"]] = {"start": p["t"], "end": p["t"] + timeout - tol, "dst": p["dst"],
                                       "answered": None, "p": p}
                    order.append(p["branch"])
            elif p["dst"] == gw and p["status"] and p["branch"] in tx:
                t = tx[p["branch"]]
                if p["status"] >= 200 and t["answered"] is None:
                    t["answered"] = p["t"]
                    t["end"] = min(t["end"], p["t"])
        return [tx[b] for b in order]

    def do_expect_in_flight(self, s):
        self.wait_until_mark(s)
        txs = self.transactions(s)
        peak, at = 0, None
        for t in txs:
            n = sum(1 for u in txs if u["start"] <= t["start"] < u["end"])
            if n > peak:
                peak, at = n, t["start"]
        log("%d transactions, at most %d open at once (at %s)" % (len(txs), peak, at))
        if s.get("figure"):
            self.figures.append((s["figure"], "%d" % peak))
        problems = []
        if "max" in s and peak > s["max"]:
            problems.append("%d transactions open at once (max %d) at %.3f" % (peak, s["max"], at))
        for host, mx in s.get("search", {}).items():
            first = min((t["answered"] for t in txs if t["dst"] == host and t["answered"]), default=None)
            before = [t for t in txs if t["dst"] == host and (first is None or t["start"] <= first)]
            log("%s: %d transaction(s) before its first answer (%s)" % (host, len(before), first))
            if len(before) > mx:
                problems.append("%d transactions to %s before it first answered (max %d)" % (len(before), host, mx))
        if problems:
            raise Failure("; ".join(problems))

    def do_expect_pacing(self, s):
        self.wait_until_mark(s)
        txs = self.transactions(s)
        gap = self.num(s.get("min_gap_s", 1))
        problems = []
        by = {}
        for t in txs:
            by.setdefault(t["dst"], []).append(t["start"])
        for host, starts in sorted(by.items()):
            gaps = [b - a for a, b in zip(starts, starts[1:])]
            log("%s: %d transactions, gaps %s" % (host, len(starts), " ".join("%.2f" % g for g in gaps)))
            small = [g for g in gaps if g < gap]
            if small:
                problems.append("%s: %d gap(s) below %.2f s (%s)" % (host, len(small), gap,
                                                                   " ".join("%.3f" % g for g in small)))
        if "max_in_flight" in s:
            peak = max((sum(1 for u in txs if u["start"] <= t["start"] < u["end"]) for t in txs), default=0)
            log("at most %d open at once" % peak)
            if peak > s["max_in_flight"]:
                problems.append("%d transactions open at once (max %d)" % (peak, s["max_in_flight"]))
        for host, m in s.get("counts", {}).items():
            e = match(len(by.get(host, [])), m, "transactions to %s" % host)
            if e:
                problems.append(e)
        if problems:
            raise Failure("; ".join(problems))

    def do_probe(self, s):
        h = self.lab_host(s["host"])
        to = s["to"]
        ip = self.lab_host(to).ip if self.lab and to in self.lab.hosts else to
        # ;rport: the answer comes back to the probe's own (ephemeral) port.
        payload = netns.sip_options(ip, int(s.get("port", 5060)), h.ip).replace(";branch=", ";rport;branch=", 1)
        r = h.udp_probe(ip, int(s.get("port", 5060)), payload=payload, timeout=self.t(s.get("timeout_s", 1.0)))
        log("probe %s -> %s:%s: %s after %.0f ms%s" % (s["host"], ip, s.get("port", 5060), r["result"],
                                                     r["elapsed_ms"], (": " + r["data"].split("\r\n")[0])
                                                     if r.get("data") else ""))
        if "expect" in s and r["result"] != s["expect"]:
            raise Failure("probe from %s to %s: %s, expected %s" % (s["host"], ip, r["result"], s["expect"]))
        if "expect_status" in s:
            first = (r.get("data") or "").split("\r\n")[0]
            if not re.match(r"SIP/2\.0 %s\b" % s["expect_status"], first):
                raise Failure("probe answer %r, expected status %s" % (first, s["expect_status"]))

    def do_expect_log(self, s):
        label = s.get("log", "gw")

        def find():
            text = ""
            for lb, path in self.env.logs:
                if lb == label:
                    try:
                        with open(path, "rb") as f:
                            text += f.read().decode(errors="replace")
                    except OSError:
                        pass
            return re.findall(s["regex"], text, re.M)
        found = find()
        if "timeout_s" in s and "min" in s and len(found) < s["min"]:
            try:
                found, _ = wait_until("log %s: %d x /%s/" % (label, s["min"], s["regex"]),
                                      lambda: (lambda f: f if len(f) >= s["min"] else None)(find()),
                                      self.t(s["timeout_s"]), 0.1)
            except Failure:
                found = find()
        n = len(found)
        log("log %s: %d line(s) match /%s/" % (label, n, s["regex"]))
        if s.get("figure") and found:
            # The regex's group in the last matching line (e.g. a count the daemon logs).
            self.figures.append((s["figure"], found[-1] if isinstance(found[-1], str) else found[-1][0]))
        if "min" in s and n < s["min"]:
            raise Failure("log %s: %d match(es) of /%s/, expected at least %d" % (label, n, s["regex"], s["min"]))
        if "max" in s and n > s["max"]:
            raise Failure("log %s: %d match(es) of /%s/, expected at most %d" % (label, n, s["regex"], s["max"]))

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
            if p.get("kind") == "command":
                continue
            Env.system_bin({"kamailio": "kamailio", "sipp": "sipp"}.get(p.get("kind"), p.get("kind")))
        if any(p.get("kind") == "baresip" for p in self.spec.get("peers", [])):
            mods = ["g711", "aufile", "aubridge", "sndfile", "menu", "ctrl_tcp", "account"]
            if any(p.get("media_enc") for p in self.spec.get("peers", [])):
                mods.append("srtp")
            for m in mods:
                if not os.path.exists(os.path.join(fxsgwtest.BARESIP_MODULES, m + ".so")):
                    raise Skip("baresip module %s.so is not installed" % m)
        if self.spec.get("root") and os.geteuid() != 0:
            raise Skip("the case needs root: %s" % self.spec["root"])
        if self.spec.get("lab"):
            if os.geteuid() != 0:
                raise Skip("network namespaces need root")
            for prog in ("ip", "nft", "ss"):
                Env.system_bin(prog)
            if subprocess.run(["ip", "netns", "list"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode != 0:
                raise Skip("'ip netns' does not work here")

    def run(self):
        self.check_requirements()
        log("case %s: %s" % (self.name, self.spec.get("description", "")))
        log("tmp %s" % self.env.tmp)
        if self.spec.get("lab"):
            self.open_lab()
        self.run_steps(self.spec["steps"])
        self.check_sanitizers()

    SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                              r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)")

    def check_sanitizers(self):
        """Every case, at its end: stop the gateway cleanly (its daemons report
        leaks at exit) and fail on any sanitizer report in any log."""
        if self.gw and self.gw.proc and self.gw.proc.poll() is None:
            self.gw.stop(signal.SIGTERM, 10)
        for label, path in self.env.logs:
            try:
                with open(path, "rb") as f:
                    text = f.read().decode(errors="replace")
            except OSError:
                continue
            m = self.SANITIZER_RE.search(text)
            if m:
                start = text.rfind("\n", 0, m.start()) + 1
                raise Failure("sanitizer report in %s's log: %s" % (label, text[start:start + 300].strip()))


ISOLATED_ENV = "FXSGW_TEST_NETNS"
SERIAL_LOCK = "/tmp/fxsgw-integration.lock"


def isolate():
    """Give this case a network namespace of its own (re-exec under unshare --net; the
    pid stays, so meson's SIGTERM still reaches us), or else wait for the serial lock.
    Returns a description for the log."""
    if os.environ.get(ISOLATED_ENV) == "1":
        r = subprocess.run(["ip", "link", "set", "lo", "up"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=10)
        if r.returncode != 0:
            raise Failure("ip link set lo up in the case's namespace: %s" % r.stdout.strip())
        return "own network namespace"
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if os.geteuid() == 0 and unshare and ip and subprocess.run(
            [unshare, "--net", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=10).returncode == 0:
        os.environ[ISOLATED_ENV] = "1"
        sys.stdout.flush()
        os.execv(unshare, [unshare, "--net", "--", sys.executable] + sys.argv)
    import fcntl
    fd = os.open(SERIAL_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    t0 = time.monotonic()
    fcntl.flock(fd, fcntl.LOCK_EX)      # released when the process exits
    return "no network namespace (not root or no unshare): serial, waited %.1fs" % (time.monotonic() - t0)


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
        log("isolation: %s" % isolate())
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
            try:
                case.close_lab()
            except Exception as e:
                print("removing the lab: %s" % e, flush=True)
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
