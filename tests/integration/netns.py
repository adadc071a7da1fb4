# SPDX-License-Identifier: LGPL-2.1-or-later
"""netns.py: network-namespace test hosts for fxsgw integration tests (Python 3 stdlib only).

Why
---
A dead SIP proxy does not answer at all: no response, no ICMP. A process killed on
loopback does not look like that (the kernel answers ICMP port unreachable), so the
redundancy tests put each proxy on a host of its own: a network namespace. Three ways a
proxy can fail are then available, and they are different for the gateway:

  host.silence()      an nftables rule in the proxy's namespace drops incoming UDP before
                      any socket sees it: no answer, no ICMP (the "dead proxy" case).
  host.kill_port_listener(port), or just stopping the process
                      ICMP port unreachable at once: ECONNREFUSED on a connected socket.
  host.link_down()    the host's link is cut at the bridge: ARP for it fails, and a
                      sender with IP_RECVERR gets EHOSTUNREACH once its neighbour entry
                      has failed. Timing with the kernel defaults (measured here):
                      - fresh entry (link_down(flush_neigh=True) flushes the peers'):
                        3 probes x 1 s, EHOSTUNREACH after ~3.06 s;
                      - the sender still holds a REACHABLE entry (the realistic case):
                        datagrams vanish silently until the entry goes STALE
                        (reachable_time, 15-45 s), then DELAY 5 s and 3 probes; with a
                        datagram every 200 ms EHOSTUNREACH came after 48-49 s. A single
                        datagram never gets an error: nothing triggers the probes.
                      Host.sysctl("net.ipv4.neigh.eth0.base_reachable_time_ms", ...)
                      shortens that for a test that needs the realistic case (entries
                      made before the change keep their old timer: flush them);
                      with 2000 ms and delay_first_probe_time 1: 8.7-10.3 s.
netem (delay, loss) is not available on the test kernels, so there is no such knob.

Topology
--------
    ns <prefix>-gw  eth0 10.77.0.10/24 --- vh-gw -+
    ns <prefix>-p1  eth0 10.77.0.11/24 --- vh-p1 -+- br0   (vh-* and br0 in ns <prefix>-br)
    ns <prefix>-p2  eth0 10.77.0.12/24 --- vh-p2 -+
<prefix> is "fxgw<pid>" ("fxgw<pid>n<k>" for a process's k-th further lab), unique per
run; interface names are per namespace, so they are the same in every lab. Hosts get
addresses in the order given. Every namespace has lo up; there is no default route, no
NAT, nothing leaves the namespaces. IPv6 is disabled inside them (no DAD/RS noise).

Usage
-----
    import netns
    netns.require()                    # exits 77 unless root with ip, nft (and what you name)
    with netns.Lab(["gw", "p1", "p2"]) as lab:
        gw, p1 = lab.host("gw"), lab.host("p1")
        uas = p1.popen(["sipp", "-sn", "uas", "-i", p1.ip, "-p", "5060"])
        gw.run(["sipp", "-sn", "uac", "-m", "1", "-i", gw.ip, f"{p1.ip}:5060"], check=True)
        p1.silence()                   # all UDP; or p1.silence(udp_port=5060)
        r = gw.udp_probe(p1.ip, 5060)  # {'result': 'timeout', 'elapsed_ms': 1000.4}
        p1.unsilence()
        p1.link_down(); p1.link_up()

Host.run() is subprocess.run() inside the namespace, Host.popen() subprocess.Popen()
(processes started with popen are terminated when the Lab closes). The Lab removes its
namespaces on exit, also after an exception or SIGTERM/SIGINT/SIGHUP; Lab.cleanup_stale()
removes what killed runs (SIGKILL) left behind, recognised by the prefix scheme and a pid
that no longer exists. Run `python3 netns.py --cleanup` to do only that.
"""

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

PREFIX_BASE = "fxgw"
_PREFIX_RE = re.compile(r"^" + PREFIX_BASE + r"(\d+)(?:n\d+)?-[A-Za-z0-9_]+$")
_labs_made = 0
NFT_TABLE = "fxgw_silence"


def require(*programs):
    """Exit 77 (meson: skipped) unless root and ip, nft and the named programs exist."""
    if os.geteuid() != 0:
        print("netns: not root, skipping", file=sys.stderr)
        sys.exit(77)
    for prog in ("ip", "nft") + tuple(programs):
        if shutil.which(prog) is None:
            print(f"netns: '{prog}' not found, skipping", file=sys.stderr)
            sys.exit(77)
    if not _ip_ok(["netns", "list"]):
        print("netns: 'ip netns' does not work here, skipping", file=sys.stderr)
        sys.exit(77)


def _ip_ok(args):
    return subprocess.run(["ip"] + args, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def _ip(*args, ns=None, check=True):
    argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


def _netns_list():
    r = _ip("netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_ns_processes(ns):
    """SIGKILL what still runs inside ns (bounded: 10 rounds of 50 ms)."""
    for _ in range(10):
        r = _ip("netns", "pids", ns, check=False)
        pids = [int(p) for p in r.stdout.split() if p.isdigit()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _delete_ns(ns):
    _kill_ns_processes(ns)
    _ip("netns", "del", ns, check=False)


# Runs inside a namespace: one datagram to (ip, port) on a connected UDP socket, then wait
# for an answer or an error. ICMP port unreachable is a hard error (ECONNREFUSED on any
# connected socket); host unreachable - also the kernel's own report of a failed ARP
# resolution - is a soft one, reported only with IP_RECVERR (as sigd sets it).
_PROBE = r"""
import errno, json, socket, sys, time
ip, port, timeout, payload = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if sys.argv[5] == "1":
    s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
s.connect((ip, port))
resend = float(sys.argv[6])
t0 = time.monotonic()
end = t0 + timeout
res, sent = {"result": "timeout"}, 0
try:
    while True:
        s.send(payload.encode().replace(b"\n", b"\r\n"))
        sent += 1
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(min(left, resend) if resend > 0 else left)
        try:
            data = s.recv(65535)
            res = {"result": "answer", "data": data.decode("utf-8", "replace")}
            break
        except socket.timeout:
            if resend <= 0 or time.monotonic() >= end:
                break
except OSError as e:
    res = {"result": errno.errorcode.get(e.errno, str(e.errno))}
res["elapsed_ms"] = round((time.monotonic() - t0) * 1000.0, 1)
res["sent"] = sent
print(json.dumps(res))
"""


def sip_options(dst_ip, dst_port, src_ip, src_port=5060, call_id=None):
    """A minimal SIP OPTIONS request (LF line ends; udp_probe sends CRLF)."""
    call_id = call_id or f"probe-{os.getpid()}-{time.monotonic_ns()}"
    return (f"OPTIONS sip:{dst_ip}:{dst_port} SIP/2.0\n"
            f"Via: SIP/2.0/UDP {src_ip}:{src_port};branch=z9hG4bK-{call_id}\n"
            f"Max-Forwards: 70\n"
            f"From: <sip:probe@{src_ip}>;tag=p{os.getpid()}\n"
            f"To: <sip:{dst_ip}:{dst_port}>\n"
            f"Call-ID: {call_id}\n"
            f"CSeq: 1 OPTIONS\n"
            f"Content-Length: 0\n\n")


class Host:
    """One test host: a network namespace with eth0 on the lab's bridge."""

    def __init__(self, lab, name, ns, ip, port):
        self.lab = lab
        self.name = name
        self.ns = ns            # namespace name, for 'ip netns exec'
        self.ip = ip            # IPv4 address of eth0
        self.port = port        # the bridge port (interface name in the bridge namespace)
        self._silenced = False

    def __repr__(self):
        return f"<Host {self.name} {self.ip} ns={self.ns}>"

    def argv(self, argv):
        return ["ip", "netns", "exec", self.ns] + list(argv)

    def run(self, argv, **kwargs):
        """subprocess.run(argv) inside this namespace. Give a timeout= for anything that
        might not end by itself."""
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.argv(argv), **kwargs)

    def popen(self, argv, **kwargs):
        """subprocess.Popen(argv) inside this namespace; terminated when the Lab closes."""
        p = subprocess.Popen(self.argv(argv), **kwargs)
        self.lab._procs.append(p)
        return p

    def nft(self, script):
        r = self.run(["nft", "-f", "-"], input=script, text=True,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        if r.returncode != 0:
            raise RuntimeError(f"nft in {self.ns}: {r.stderr.strip()}")

    def silence(self, udp_port=None):
        """Drop incoming UDP (to udp_port, or all UDP) before any socket sees it: the host
        neither answers nor sends ICMP errors. ARP still works, as for a hung proxy behind
        a live link. Calls add up; unsilence() removes them all."""
        if not self._silenced:
            self.nft(f"table inet {NFT_TABLE} {{\n"
                     f"  chain in {{ type filter hook prerouting priority -300; policy accept; }}\n"
                     f"}}\n")
            self._silenced = True
        match = f"udp dport {int(udp_port)}" if udp_port else "meta l4proto udp"
        self.nft(f"add rule inet {NFT_TABLE} in {match} counter drop\n")

    def unsilence(self):
        if self._silenced:
            self.nft(f"delete table inet {NFT_TABLE}\n")
            self._silenced = False

    def silenced_packets(self):
        """Packets dropped by silence() rules so far (from the nft counters)."""
        if not self._silenced:
            return 0
        r = self.run(["nft", "list", "table", "inet", NFT_TABLE], stdout=subprocess.PIPE,
                     text=True, timeout=10)
        return sum(int(n) for n in re.findall(r"counter packets (\d+)", r.stdout))

    def link_down(self, flush_neigh=False):
        """Cut this host off at the bridge. Senders get EHOSTUNREACH once their ARP for
        this host fails. flush_neigh=True also forgets this host's neighbour entries in
        the other hosts, so that happens after a fresh resolution (~3 s) rather than after
        a REACHABLE entry ages out."""
        _ip("link", "set", "dev", self.port, "down", ns=self.lab.br_ns)
        if flush_neigh:
            for h in self.lab.hosts.values():
                if h is not self:
                    _ip("neigh", "flush", "to", self.ip, ns=h.ns, check=False)

    def link_up(self):
        _ip("link", "set", "dev", self.port, "up", ns=self.lab.br_ns)

    def sysctl(self, name, value):
        """Set a sysctl inside this namespace (net.* keys are per namespace)."""
        r = self.run(["sysctl", "-qw", f"{name}={value}"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError(f"sysctl {name} in {self.ns}: {r.stderr.strip()}")

    def udp_listeners(self, port):
        """pids of processes in this namespace with a UDP socket bound to port."""
        r = self.run(["ss", "-Hunlp", f"sport = :{int(port)}"], stdout=subprocess.PIPE,
                     text=True, timeout=10)
        return sorted({int(p) for p in re.findall(r"pid=(\d+)", r.stdout)})

    def kill_port_listener(self, port, sig=signal.SIGKILL):
        """Kill whatever listens on UDP port here (the port then answers ICMP port
        unreachable). Returns the pids signalled."""
        pids = self.udp_listeners(port)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def udp_probe(self, ip, port, payload=None, timeout=1.0, recverr=True, resend_ms=0):
        """Send one datagram from this host to ip:port on a connected socket and wait up
        to timeout s; with resend_ms > 0 send it again every resend_ms until then. Returns
        {'result': 'answer'|'timeout'|'ECONNREFUSED'|'EHOSTUNREACH'|..., 'elapsed_ms': float,
        'sent': datagrams sent, 'data': str (answers only)}. The default payload is a SIP
        OPTIONS request. recverr=False leaves IP_RECVERR off: EHOSTUNREACH is then never
        seen (a plain connected socket reports only hard ICMP errors)."""
        if payload is None:
            payload = sip_options(ip, port, self.ip)
        r = self.run([sys.executable, "-c", _PROBE, ip, str(port), str(timeout), payload,
                      "1" if recverr else "0", str(resend_ms / 1000.0)],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     timeout=timeout + 10)
        if r.returncode != 0:
            raise RuntimeError(f"udp probe in {self.ns} failed: {r.stderr.strip()}")
        return json.loads(r.stdout)


class Lab:
    """Namespaces for the named hosts plus one for the bridge; a context manager."""

    def __init__(self, hosts=("gw", "p1", "p2"), subnet="10.77.0", prefix=None):
        if not hosts or len(set(hosts)) != len(hosts):
            raise ValueError("host names must be unique and non-empty")
        for h in hosts:
            if not re.fullmatch(r"[A-Za-z0-9_]{1,12}", h) or h == "br":
                raise ValueError(f"bad host name '{h}'")
        if len(hosts) > 240:
            raise ValueError("too many hosts")
        global _labs_made
        if not re.fullmatch(r"10\.\d{1,3}\.\d{1,3}", subnet):
            raise ValueError("subnet must be the first three octets of a 10.x.y.0/24")
        # fxgw<pid> for the first lab of a process, fxgw<pid>n<k> for further ones.
        self.prefix = prefix or (f"{PREFIX_BASE}{os.getpid()}" +
                                 (f"n{_labs_made}" if _labs_made else ""))
        _labs_made += 1
        self.br_ns = f"{self.prefix}-br"
        self.subnet = subnet
        self.hosts = {}
        self._names = list(hosts)
        self._procs = []
        self._created = []
        self._old_handlers = {}
        self._closed = True

    # --- lifecycle ---

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def open(self):
        Lab.cleanup_stale()
        self._closed = False
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:      # not the main thread: atexit only
                pass
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _on_signal(self, signum, frame):
        # Unwind through the with-block so close() runs, then exit like the signal would.
        raise SystemExit(128 + signum)

    def _add_ns(self, ns):
        _ip("netns", "add", ns)
        self._created.append(ns)
        _ip("link", "set", "lo", "up", ns=ns)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                        "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)

    def _build(self):
        self._add_ns(self.br_ns)
        _ip("link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
            ns=self.br_ns)
        _ip("link", "set", "br0", "up", ns=self.br_ns)
        for i, name in enumerate(self._names):
            ns = f"{self.prefix}-{name}"
            ip = f"{self.subnet}.{10 + i}"
            self._add_ns(ns)
            # The pair is born in the bridge namespace; its peer goes straight into the host.
            port = f"vh-{name}"     # "dev" keyword: a bare name could read as an ip keyword
            _ip("link", "add", "dev", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
                ns=self.br_ns)
            _ip("link", "set", "dev", port, "master", "br0", ns=self.br_ns)
            _ip("link", "set", "dev", port, "up", ns=self.br_ns)
            _ip("addr", "add", f"{ip}/24", "dev", "eth0", ns=ns)
            _ip("link", "set", "eth0", "up", ns=ns)
            self.hosts[name] = Host(self, name, ns, ip, port)

    def close(self):
        if self._closed:
            return
        self._closed = True
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 3.0
        for p in self._procs:
            try:
                p.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
        for ns in reversed(self._created):
            _delete_ns(ns)
        self._created.clear()
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)
        self._old_handlers.clear()
        try:
            atexit.unregister(self.close)
        except Exception:
            pass

    @staticmethod
    def cleanup_stale():
        """Delete namespaces named <PREFIX_BASE><pid>-* whose pid is gone (runs that were
        SIGKILLed). Returns the names removed."""
        removed = []
        for ns in _netns_list():
            m = _PREFIX_RE.match(ns)
            if m and not _pid_alive(int(m.group(1))):
                _delete_ns(ns)
                removed.append(ns)
        return removed

    # --- access ---

    def host(self, name):
        return self.hosts[name]

    def __getitem__(self, name):
        return self.hosts[name]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--cleanup":
        require()
        for ns in Lab.cleanup_stale():
            print(f"removed {ns}")
        sys.exit(0)
    print(__doc__)
