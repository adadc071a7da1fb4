#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""test_netns.py: self-test of the namespace harness (netns.py) with real SIPp peers.

Checks, in a lab of gw + p1 + p2: a SIPp call gw -> p1 works; silence() makes p1 mute (no
answer, no ICMP) and the call fails; unsilence() brings it back; a killed listener answers
ICMP port unreachable (ECONNREFUSED at once); a link set down gives EHOSTUNREACH once ARP
has failed, for a fresh and for a cached neighbour entry (times printed); the namespaces vanish on exit, on SIGTERM, and cleanup_stale()
removes leftovers of killed runs. Exit 77 unless root with ip, nft, ss and sipp.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def wait_listening(host, port, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if host.udp_listeners(port):
            return True
        time.sleep(0.05)
    return False


def sipp_call(gw, dst, workdir, recv_timeout_ms=2000):
    """One SIPp UAC call from gw to dst (ip:port); returns sipp's exit code."""
    r = gw.run(["sipp", "-sn", "uac", "-m", "1", "-i", gw.ip, "-p", "5060", "-nostdin",
                "-recv_timeout", str(recv_timeout_ms), "-timeout", "15s", dst],
               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=workdir,
               timeout=30)
    return r.returncode


def our_namespaces(prefix):
    return [ns for ns in netns._netns_list() if ns.startswith(prefix + "-")]


def test_lab(workdir):
    with netns.Lab(["gw", "p1", "p2"]) as lab:
        gw, p1, p2 = lab.host("gw"), lab.host("p1"), lab.host("p2")
        prefix = lab.prefix
        check(sorted(our_namespaces(prefix)) == sorted(f"{prefix}-{n}" for n in ("br", "gw", "p1", "p2")),
              "one namespace per host plus the bridge's")
        routes = gw.run(["ip", "route"], stdout=subprocess.PIPE, text=True).stdout
        check("default" not in routes, f"no default route in gw ({routes.strip()!r})")

        r = gw.udp_probe(p2.ip, 5099)
        check(r["result"] == "ECONNREFUSED", f"gw reaches p2: closed port refused ({r})")

        uas = p1.popen(["sipp", "-sn", "uas", "-i", p1.ip, "-p", "5060", "-nostdin"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
        check(wait_listening(p1, 5060), "SIPp UAS listens in p1")
        rc = sipp_call(gw, f"{p1.ip}:5060", workdir)
        check(rc == 0, f"SIPp call gw -> p1 succeeds (rc {rc})")

        p1.silence()
        r = gw.udp_probe(p1.ip, 5060)
        check(r["result"] == "timeout", f"silenced p1:5060: no answer, no ICMP in 1 s ({r})")
        r = gw.udp_probe(p1.ip, 5099)
        check(r["result"] == "timeout", f"silenced p1, closed port: no ICMP either ({r})")
        t0 = time.monotonic()
        rc = sipp_call(gw, f"{p1.ip}:5060", workdir, recv_timeout_ms=1500)
        check(rc != 0, f"SIPp call to silenced p1 fails (rc {rc}, {time.monotonic() - t0:.1f} s)")
        n = p1.silenced_packets()
        check(n >= 3, f"the drop rule counted the datagrams ({n})")
        check(uas.poll() is None, "the UAS kept running while silenced")

        p1.unsilence()
        r = gw.udp_probe(p1.ip, 5099)
        check(r["result"] == "ECONNREFUSED", f"unsilenced p1: closed port refused again ({r})")
        rc = sipp_call(gw, f"{p1.ip}:5060", workdir)
        check(rc == 0, f"SIPp call gw -> p1 succeeds again (rc {rc})")

        killed = p1.kill_port_listener(5060)
        check(uas.pid in killed, f"kill_port_listener(5060) killed the UAS ({killed}, uas {uas.pid})")
        uas.wait(timeout=5)
        r = gw.udp_probe(p1.ip, 5060)
        check(r["result"] == "ECONNREFUSED" and r["elapsed_ms"] < 200,
              f"killed UAS: ICMP port unreachable at once ({r})")

        p1.link_down(flush_neigh=True)
        r = gw.udp_probe(p1.ip, 5060, timeout=10)
        print(f"     link down: {r['result']} after {r['elapsed_ms']:.0f} ms (fresh ARP entry)")
        check(r["result"] == "EHOSTUNREACH" and 2000 <= r["elapsed_ms"] <= 6000,
              f"link down: EHOSTUNREACH once ARP fails ({r})")
        r = gw.udp_probe(p2.ip, 5099)
        check(r["result"] == "ECONNREFUSED", f"p2 unaffected by p1's link ({r})")
        p1.link_up()
        r = gw.udp_probe(p1.ip, 5099, timeout=5)
        check(r["result"] == "ECONNREFUSED", f"link up: p1 reachable again ({r})")

        # The realistic case: gw still holds a REACHABLE entry for p1 and keeps sending.
        # Kernel defaults take ~50 s; shortened neighbour timers keep this test quick.
        gw.sysctl("net.ipv4.neigh.eth0.base_reachable_time_ms", 2000)
        gw.sysctl("net.ipv4.neigh.eth0.delay_first_probe_time", 1)
        gw.run(["ip", "neigh", "flush", "dev", "eth0"], check=True)    # entries with new timers
        r = gw.udp_probe(p1.ip, 5099)
        check(r["result"] == "ECONNREFUSED", f"p1 reachable, neighbour entry fresh ({r})")
        p1.link_down(flush_neigh=False)
        r = gw.udp_probe(p1.ip, 5060, timeout=20, resend_ms=200)
        print(f"     link down, cached entry, resending every 200 ms: {r['result']} after "
              f"{r['elapsed_ms']:.0f} ms, {r['sent']} datagrams")
        check(r["result"] == "EHOSTUNREACH" and r["elapsed_ms"] >= 3000,
              f"link down with a cached entry: silence first, then EHOSTUNREACH ({r})")
        p1.link_up()

    check(our_namespaces(prefix) == [], "namespaces removed on exit")


_CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import netns
with netns.Lab(["a", "b"]) as lab:
    lab.host("a").popen(["sleep", "30"])
    print(lab.prefix, flush=True)
    time.sleep(30)
"""


def test_sigterm():
    p = subprocess.Popen([sys.executable, "-c", _CHILD, os.path.dirname(os.path.abspath(__file__))],
                         stdout=subprocess.PIPE, text=True)
    prefix = p.stdout.readline().strip()
    check(prefix.startswith(netns.PREFIX_BASE) and len(our_namespaces(prefix)) == 3,
          f"child lab up ({prefix})")
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    check(rc == 128 + signal.SIGTERM, f"child exited on SIGTERM (rc {rc})")
    check(prefix != "" and our_namespaces(prefix) == [], "SIGTERM: namespaces removed")


def test_cleanup_stale():
    # A pid that has just ended stands for a run killed with SIGKILL.
    p = subprocess.Popen(["true"])
    p.wait()
    ns = f"{netns.PREFIX_BASE}{p.pid}-gw"
    if netns._pid_alive(p.pid):
        print("     (pid reused, skipping the stale check)")
        return
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "netns", "add", f"{netns.PREFIX_BASE}{os.getpid()}-live"], check=True)
    removed = netns.Lab.cleanup_stale()
    check(ns in removed and ns not in netns._netns_list(), f"cleanup_stale removed {ns}")
    live = f"{netns.PREFIX_BASE}{os.getpid()}-live"
    check(live in netns._netns_list(), "cleanup_stale keeps a live run's namespace")
    subprocess.run(["ip", "netns", "del", live], check=False)


def main():
    netns.require("sipp", "ss")
    with tempfile.TemporaryDirectory(prefix="fxgw-netns-") as workdir:
        test_lab(workdir)
    test_sigterm()
    test_cleanup_stale()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
