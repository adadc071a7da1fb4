# SPDX-License-Identifier: LGPL-2.1-or-later
"""fxsgwtest: processes, peers and the gateway for fxsgw's integration tests.

Shared by tests/integration/run.py (declarative cases), tests/perf/
bench-register.py and scripts/demo.sh. Python 3 standard library only.

Everything started here is recorded in an Env and stopped by Env.cleanup(),
also when a test fails half-way. Every wait is bounded in time.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KAMAILIO_CFG = os.path.join(HERE, "kamailio", "registrar.cfg")
SIPP_DIR = os.path.join(HERE, "sipp")

EXIT_SKIP = 77


class Skip(Exception):
    """A prerequisite is missing: the test is skipped (exit 77)."""


class Failure(Exception):
    """An expectation was not met."""


def log(msg):
    print("[%8.3f] %s" % (time.monotonic() % 100000, msg), flush=True)


# ---------------------------------------------------------------- YAML

_PLAIN = re.compile(r"^[A-Za-z_./@-][A-Za-z0-9_./:@-]*$")


def _yaml_scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in ("true", "false", "null", "yes", "no", "~"):
        return s
    return json.dumps(s)      # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts, lists and scalars (enough for gw configs)."""
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:" % (pad, k))
                out.append(to_yaml(v, indent + 2))
            elif isinstance(v, dict):
                out.append("%s%s: {}" % (pad, k))
            elif isinstance(v, list):
                out.append("%s%s: []" % (pad, k))
            else:
                out.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                sub = to_yaml(item, indent + 2).split("\n")
                out.append("%s- %s" % (pad, sub[0][indent + 2:]))
                out.extend(sub[1:])
            elif isinstance(item, (dict, list)):
                out.append("%s- %s" % (pad, "{}" if isinstance(item, dict) else "[]"))
            else:
                out.append("%s- %s" % (pad, _yaml_scalar(item)))
    else:
        out.append(pad + _yaml_scalar(obj))
    return "\n".join(out)


# ---------------------------------------------------------------- processes

class Proc:
    """One child process in its own session (process group), output to a log file."""

    def __init__(self, env, label, argv, extra_env=None, cwd=None, stdin=subprocess.DEVNULL):
        self.env = env
        self.label = label
        self.argv = [str(a) for a in argv]
        self.log_path = os.path.join(env.tmp, "%s.log" % label)
        n = 1
        while os.path.exists(self.log_path):
            n += 1
            self.log_path = os.path.join(env.tmp, "%s.%d.log" % (label, n))
        e = dict(os.environ)
        if extra_env:
            e.update(extra_env)
        self.logf = open(self.log_path, "wb")
        self.logf.write(("$ %s\n" % " ".join(self.argv)).encode())
        self.logf.flush()
        self.started = time.monotonic()
        self.p = subprocess.Popen(self.argv, stdin=stdin, stdout=self.logf, stderr=subprocess.STDOUT,
                                  env=e, cwd=cwd or env.tmp, start_new_session=True)
        self.pid = self.p.pid
        env.procs.append(self)
        env.logs.append((label, self.log_path))

    def poll(self):
        return self.p.poll()

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout=5.0):
        """SIGTERM the process, wait, then SIGKILL its whole process group."""
        if self.p.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                log("%s (pid %d) did not stop within %.1fs: SIGKILL" % (self.label, self.pid, timeout))
        try:
            os.killpg(self.pid, signal.SIGKILL)      # leftovers: workers, children
        except (ProcessLookupError, PermissionError):
            pass
        if self.p.poll() is None:
            self.wait(2.0)
        if not self.logf.closed:
            self.logf.close()
        return self.p.returncode

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


def cpu_seconds(pid):
    """utime+stime of a live process from /proc/<pid>/stat, in seconds (None if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def cpu_seconds_tree(pid):
    """CPU seconds of pid and every live process of its process group (e.g. Kamailio workers)."""
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if int(d) != pid and os.getpgid(int(d)) != pid:
                continue
        except OSError:
            continue
        c = cpu_seconds(int(d))
        if c is not None:
            total += c
    return total


class Env:
    """A test's temporary directory, its processes and their logs."""

    def __init__(self, name, build_dir, keep=False):
        self.name = name
        self.build_dir = os.path.abspath(build_dir)
        self.source_dir = os.path.dirname(os.path.dirname(HERE))
        self.tmp = tempfile.mkdtemp(prefix="fxsgw-%s-" % name[:20], dir="/tmp")
        os.chmod(self.tmp, 0o755)
        self.keep = keep
        self.procs = []
        self.logs = []
        self.time_factor = 1.0
        if self.sanitized():
            self.time_factor = float(os.environ.get("FXSGW_TEST_TIME_FACTOR", "3"))
        elif "FXSGW_TEST_TIME_FACTOR" in os.environ:
            self.time_factor = float(os.environ["FXSGW_TEST_TIME_FACTOR"])

    def sanitized(self):
        try:
            with open(os.path.join(self.build_dir, "meson-info", "intro-buildoptions.json")) as f:
                for o in json.load(f):
                    if o.get("name") == "b_sanitize":
                        return o.get("value") not in ("none", "", None, [])
        except (OSError, ValueError):
            pass
        return False

    def service_bin(self, name):
        p = os.path.join(self.build_dir, "services", name, name)
        if not os.access(p, os.X_OK):
            raise Skip("%s not built (%s)" % (name, p))
        return p

    @staticmethod
    def system_bin(name):
        p = shutil.which(name) or (os.path.exists("/usr/sbin/" + name) and "/usr/sbin/" + name)
        if not p:
            raise Skip("%s is not installed" % name)
        return p

    def start(self, label, argv, **kw):
        return Proc(self, label, argv, **kw)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def cleanup(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:    # keep stopping the others
                log("stopping %s: %s" % (p.label, e))
        self.kill_strays()

    def kill_strays(self):
        """SIGKILL any process still running with this Env's temporary directory in
        its command line (a daemon that left gwsupd's process group, say): only
        processes this test started can name that directory."""
        me = os.getpid()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == me:
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            if self.tmp in cmd:
                log("stray process %s (%s): SIGKILL" % (d, cmd.replace("\0", " ")[:120]))
                try:
                    os.kill(int(d), signal.SIGKILL)
                except OSError:
                    pass

    def dump_logs(self, max_lines=300):
        for label, path in self.logs:
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode(errors="replace").splitlines()
            except OSError:
                continue
            print("----- %s (%s)%s -----" % (label, path,
                  ", last %d lines" % max_lines if len(lines) > max_lines else ""))
            for line in lines[-max_lines:]:
                print(line)
        print("----- end of logs -----", flush=True)

    def remove(self):
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def wait_until(what, fn, timeout, interval=0.05):
    """Call fn() until it returns a true value; return (value, seconds). Failure on timeout."""
    t0 = time.monotonic()
    last = None
    while True:
        last = fn()
        if last:
            return last, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise Failure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def udp_port_free(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------- Kamailio

class Kamailio:
    """kamailio/registrar.cfg in the foreground, with its own runtime dir and RPC FIFO."""

    def __init__(self, env, name, listen, users, realm=None, cfg=KAMAILIO_CFG, extra_defines=None,
                 netns=None):
        self.env = env
        self.netns = netns        # run inside this network namespace (ip netns exec)
        self.name = name
        self.listen = listen
        self.users = dict(users)
        self.realm = realm
        self.cfg = cfg
        self.rundir = env.path(name)
        self.defines = dict(extra_defines or {})
        self.proc = None
        self._rpc_id = 0

    def start(self, timeout=10.0):
        binary = Env.system_bin("kamailio")
        ip, port = self.listen.rsplit(":", 1)
        if (ip, port) == ("127.0.0.1", "5060"):
            raise Failure("refusing to run Kamailio on 127.0.0.1:5060")
        if not self.netns and not udp_port_free(ip, int(port)):
            raise Failure("udp %s is already in use" % self.listen)
        os.makedirs(os.path.join(self.rundir, "db"), exist_ok=True)
        with open(os.path.join(self.rundir, "db", "htable"), "w") as f:
            f.write("id(int,auto) key_name(str) key_type(int) value_type(int) key_value(str) expires(int)\n")
            for i, (user, pw) in enumerate(sorted(self.users.items()), 1):
                esc = lambda s: s.replace("\\", "\\\\").replace(":", "\\:").replace("\n", "\\n")
                f.write("%d:%s:0:0:%s:0\n" % (i, esc(user), esc(pw)))
        defines = {"KAM_RUNDIR": '"%s/"' % self.rundir, "KAM_DBURL": '"text://%s/db"' % self.rundir}
        if self.realm:
            defines["KAM_REALM"] = '"%s"' % self.realm
        defines.update(self.defines)
        argv = [binary, "-DD", "-E", "-f", self.cfg, "-Y", self.rundir, "-w", self.rundir,
                "-P", os.path.join(self.rundir, "kamailio.pid"), "-l", "udp:%s" % self.listen,
                "-m", "64", "-M", "8"]
        for k, v in defines.items():
            argv += ["-A", "%s=%s" % (k, v)]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        self.proc = self.env.start(self.name, argv)
        wait_until("Kamailio '%s' to answer RPC" % self.name, self._ready, timeout, 0.1)
        log("kamailio '%s' up on udp:%s (pid %d)" % (self.name, self.listen, self.proc.pid))
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise Failure("Kamailio '%s' exited with %s" % (self.name, self.proc.poll()))
        if not os.path.exists(os.path.join(self.rundir, "kamailio_rpc.fifo")):
            return False
        try:
            return self.rpc("core.version", timeout=1.0) is not None
        except (OSError, Failure):
            return False

    def rpc(self, method, params=None, timeout=5.0):
        """One JSON-RPC call over the FIFO; returns 'result' (Failure on 'error')."""
        self._rpc_id += 1
        reply_name = "rpc-reply-%d-%d" % (os.getpid(), self._rpc_id)
        reply_path = os.path.join(self.rundir, reply_name)
        os.mkfifo(reply_path, 0o600)
        try:
            # O_RDWR: the reply FIFO has a reader before Kamailio opens it, and
            # no EOF is seen early; the reply ends where its JSON document does.
            rfd = os.open(reply_path, os.O_RDWR | os.O_NONBLOCK)
            try:
                req = {"jsonrpc": "2.0", "method": method, "id": self._rpc_id, "reply_name": reply_name}
                if params is not None:
                    req["params"] = params
                wfd = os.open(os.path.join(self.rundir, "kamailio_rpc.fifo"), os.O_WRONLY | os.O_NONBLOCK)
                try:
                    os.write(wfd, (json.dumps(req) + "\n").encode())
                finally:
                    os.close(wfd)
                buf = b""
                deadline = time.monotonic() + timeout
                dec = json.JSONDecoder()
                import select
                while time.monotonic() < deadline:
                    r, _, _ = select.select([rfd], [], [], 0.05)
                    if r:
                        try:
                            chunk = os.read(rfd, 1 << 16)
                        except BlockingIOError:
                            chunk = b""
                        buf += chunk
                        text = buf.decode(errors="replace").strip()
                        if text:
                            try:
                                doc, _ = dec.raw_decode(text)
                            except ValueError:
                                continue
                            if "error" in doc:
                                raise Failure("Kamailio RPC %s: %s" % (method, doc["error"]))
                            return doc.get("result")
                raise Failure("Kamailio RPC %s: no reply within %.1fs" % (method, timeout))
            finally:
                os.close(rfd)
        finally:
            os.unlink(reply_path)

    def location(self):
        """{aor: [contact dicts]} from ul.dump."""
        res = self.rpc("ul.dump") or {}
        out = {}
        for d in res.get("Domains", []):
            for aor in d.get("Domain", {}).get("AoRs", []) or []:
                info = aor.get("Info", {})
                out[str(info.get("AoR"))] = [c.get("Contact", {}) for c in info.get("Contacts", []) or []]
        return out

    def counters(self):
        """The 'regstats' htable: register, register_ok, unregister, auth_failed, options,
        register::<user>."""
        res = self.rpc("htable.dump", ["regstats"]) or []
        out = {}
        for entry in res:
            for slot in entry.get("slot", []) or []:
                out[slot["name"]] = slot["value"]
        return out

    def stop(self):
        if self.proc:
            return self.proc.stop()


# ---------------------------------------------------------------- SIPp

class Sipp:
    """A SIPp scenario from tests/integration/sipp/, ${var}s filled in first."""

    def __init__(self, env, name, scenario, local, remote=None, variables=None, keys=None,
                 args=None, calls=1, timeout_s=30, netns=None):
        self.env = env
        self.netns = netns        # run inside this network namespace (ip netns exec)
        self.name = name
        self.scenario = scenario if os.path.isabs(scenario) else os.path.join(SIPP_DIR, scenario)
        self.local = local
        self.remote = remote
        self.variables = {k: str(v) for k, v in (variables or {}).items()}
        self.keys = {k: str(v) for k, v in (keys or {}).items()}
        self.args = [str(a) for a in (args or [])]
        self.calls = calls
        self.timeout_s = timeout_s
        self.proc = None

    def start(self):
        binary = Env.system_bin("sipp")
        with open(self.scenario) as f:
            text = f.read()
        text = substitute(text, self.variables, strict=True)
        sf = self.env.path("%s.xml" % self.name)
        with open(sf, "w") as f:
            f.write(text)
        ip, port = self.local.rsplit(":", 1)
        argv = [binary, "-sf", sf, "-i", ip, "-p", port, "-m", str(self.calls),
                "-timeout", "%ds" % self.timeout_s, "-timeout_error", "-nostdin",
                "-trace_err", "-error_file", self.env.path("%s.errors.log" % self.name),
                "-trace_msg", "-message_file", self.env.path("%s.messages.log" % self.name)]
        for k, v in self.keys.items():
            argv += ["-key", k, v]
        argv += self.args
        if self.remote:
            argv.append(self.remote)
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        self.proc = self.env.start(self.name, argv)
        self.env.logs.append((self.name + " errors", self.env.path("%s.errors.log" % self.name)))
        self.env.logs.append((self.name + " messages", self.env.path("%s.messages.log" % self.name)))
        log("sipp '%s' %s on %s (pid %d)" % (self.name, os.path.basename(self.scenario), self.local, self.proc.pid))
        return self

    def wait(self, timeout):
        rc = self.proc.wait(timeout)
        if rc is None:
            raise Failure("SIPp '%s' still running after %.1fs" % (self.name, timeout))
        return rc


# ---------------------------------------------------------------- baresip

BARESIP_DIR = os.path.join(HERE, "baresip")
BARESIP_MODULES = "/usr/lib/baresip/modules"


def _netns_socket(netns, family, kind):
    """A socket created inside the network namespace 'netns' (ip netns name). setns()
    moves only the calling thread, so a short-lived thread does it; the socket stays
    in that namespace for good."""
    if not netns:
        return socket.socket(family, kind)
    import ctypes
    import threading
    out = {}

    def make():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open("/var/run/netns/%s" % netns, os.O_RDONLY)
            try:
                if libc.setns(fd, 0x40000000) != 0:       # CLONE_NEWNET
                    e = ctypes.get_errno()
                    raise OSError(e, "setns(%s): %s" % (netns, os.strerror(e)))
            finally:
                os.close(fd)
            out["sock"] = socket.socket(family, kind)
        except Exception as e:    # handed to the caller
            out["error"] = e
    t = threading.Thread(target=make)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["sock"]


def wav_fixed_copy(src, dst):
    """Copy a WAV that may still be being written (libsndfile writes the sizes in its
    header when it closes the file) with the sizes made right: every whole sample after
    the 'data' chunk header counts. Returns dst."""
    import struct
    import wave
    with open(src, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise Failure("%s: not a WAV file" % src)
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", data[pos + 8:pos + 24])
        elif cid == b"data":
            pcm = data[pos + 8:]
            break
        pos += 8 + size + (size & 1)
    if fmt is None or pcm is None:
        raise Failure("%s: no fmt/data chunk" % src)
    _tag, channels, rate, _bps, align, bits = fmt
    pcm = pcm[:len(pcm) - len(pcm) % max(1, align)]
    with wave.open(dst, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(bits // 8)
        w.setframerate(rate)
        w.writeframes(pcm)
    return dst


class Baresip:
    """baresip 1.0 as a headless SIP phone with real audio (a test peer).

    It plays a WAV file (8 kHz mono 16-bit; repeated to at least play_s seconds:
    baresip closes the call when the file ends) and records what it hears (the
    sndfile module's dump-*-dec.wav). It is driven over ctrl_tcp (netstring JSON:
    menu's commands dial/hangup/accept, and baresip's events on the same
    connection). The config is generated from baresip/config in a directory of
    its own under the Env.

    ip, port: its SIP address (it listens there only and puts ip into SDP);
    netns: the lab host's namespace, if any (ctrl_tcp then listens on 127.0.0.1
    in there). user: the account's user part. registrar: "ip:port" to register
    with (regint 600), else no REGISTER and the AOR is sip:user@ip:port.
    answer: "auto" (answermode=auto) or "manual" (CALL_INCOMING, then accept()).
    media_enc: None, "srtp" or "srtp-mand" (module srtp.so; the account's mediaenc).

    'menu: ua_connect failed: Invalid argument' on dial means baresip has no user
    agent: the accounts file holds no (parsable) account (the template baresip writes
    into an empty config dir has every line commented out), so menu dials with
    uag_current() == NULL and ua_connect() returns EINVAL. Hence the one account
    written here, and start() checks that reginfo lists it.
    """

    def __init__(self, env, name, ip, port=5060, user=None, play=None, answer="auto",
                 registrar=None, password=None, media_enc=None, netns=None, rtp_ports="10000-10099",
                 ctrl=None, codecs=("PCMU", "PCMA"), play_s=300, sip_trace=True):
        self.env = env
        self.name = name
        self.ip = ip
        self.port = int(port)
        self.user = user or name
        self.play = play
        self.answer = answer
        self.registrar = registrar
        self.password = password
        self.media_enc = media_enc
        self.netns = netns
        self.rtp_ports = rtp_ports
        self.ctrl = ctrl or ("127.0.0.1:4444" if netns else "%s:4444" % ip)
        self.codecs = list(codecs)
        self.play_s = float(play_s)
        self.sip_trace = sip_trace
        self.dir = env.path("baresip-%s" % name)
        self.snd_dir = os.path.join(self.dir, "snd")
        self.proc = None
        self.sock = None
        self.events = []            # every event, in arrival order
        self._taken = {}            # event type -> index after the last one wait_event returned
        self._last_command = 0.0    # when the last command was sent (monotonic)
        self._responses = {}
        self._token = 0
        self._cond = None
        self._reader = None
        self._snapshots = 0
        if answer not in ("auto", "manual"):
            raise Failure("baresip '%s': answer must be auto or manual, not %r" % (name, answer))
        if media_enc not in (None, "", "srtp", "srtp-mand"):
            raise Failure("baresip '%s': media_enc must be srtp or srtp-mand, not %r" % (name, media_enc))

    @property
    def aor(self):
        host = self.registrar or "%s:%d" % (self.ip, self.port)
        return "sip:%s@%s" % (self.user, host)

    @property
    def uri(self):
        """Where to send a request for this phone directly (no registrar)."""
        return "sip:%s@%s:%d" % (self.user, self.ip, self.port)

    def _play_file(self):
        """The play WAV repeated (whole copies) to at least play_s seconds; silence without one."""
        import wave
        out = os.path.join(self.dir, "play.wav")
        if self.play:
            with wave.open(self.play, "rb") as w:
                if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, 8000):
                    raise Failure("baresip '%s': %s must be 8 kHz mono 16-bit (aufile)" % (self.name, self.play))
                frames = w.readframes(w.getnframes())
        else:
            frames = b"\0\0" * 8000
        if not frames:
            raise Failure("baresip '%s': %s is empty" % (self.name, self.play))
        n = max(1, -(-int(self.play_s * 16000) // len(frames)))
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(frames * n)
        return out

    def write_config(self):
        os.makedirs(self.snd_dir, exist_ok=True)
        with open(os.path.join(BARESIP_DIR, "config")) as f:
            text = f.read()
        text = substitute(text, {
            "name": self.name, "sip_listen": "%s:%d" % (self.ip, self.port), "ip": self.ip,
            "play": self._play_file(), "rtp_ports": self.rtp_ports, "ctrl_listen": self.ctrl,
            "snd_path": self.snd_dir,
            "srtp_module": "module\t\t\tsrtp.so" if self.media_enc else ""}, strict=True)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(text)
        params = ["answermode=%s" % self.answer, "audio_codecs=%s" % ",".join(self.codecs)]
        if self.registrar:
            params.append("regint=600")
            if self.password:
                params.append("auth_pass=%s" % self.password)
        else:
            params.append("regint=0")
        if self.media_enc:
            params.append("mediaenc=%s" % self.media_enc)
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write("<%s>;%s\n" % (self.aor, ";".join(params)))
        open(os.path.join(self.dir, "contacts"), "w").close()

    def registration(self):
        """'OK', 'ERR' or None (not yet / no registrar): the status 'reginfo' shows."""
        out = self.command("reginfo")
        m = re.search(r"\b(OK|ERR)\b", re.sub(r"\x1b\[[0-9;]*m", "", out))
        return m.group(1) if m else None

    def wait_registered(self, timeout=10.0):
        def probe():
            st = self.registration()
            if st == "ERR":
                raise Failure("baresip '%s': registration with %s failed (see its log)" % (self.name, self.registrar))
            return st == "OK"
        _, secs = wait_until("baresip '%s' to register with %s" % (self.name, self.registrar), probe, timeout, 0.1)
        log("baresip '%s' registered with %s (%.2fs)" % (self.name, self.registrar, secs))

    def start(self, timeout=10.0):
        binary = Env.system_bin("baresip")
        self.write_config()
        argv = [binary, "-f", self.dir] + (["-s"] if self.sip_trace else [])
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        self.proc = self.env.start(self.name, argv)
        wait_until("baresip '%s' to answer on ctrl_tcp %s" % (self.name, self.ctrl), self._connect, timeout, 0.1)
        out = self.command("reginfo")
        if self.aor not in out:
            raise Failure("baresip '%s': no user agent %s (reginfo: %r)" % (self.name, self.aor, out))
        log("baresip '%s' up: %s on %s:%d, answer %s (pid %d)" % (self.name, self.aor, self.ip, self.port,
                                                                  self.answer, self.proc.pid))
        return self

    def _connect(self):
        if self.proc.poll() is not None:
            raise Failure("baresip '%s' exited with %s" % (self.name, self.proc.poll()))
        ip, port = self.ctrl.rsplit(":", 1)
        s = _netns_socket(self.netns, socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect((ip, int(port)))
        except OSError:
            s.close()
            return False
        s.settimeout(None)
        import threading
        self.sock = s
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        return True

    def _read_loop(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buf += chunk
            while True:          # netstrings: <length>:<payload>,
                colon = buf.find(b":")
                if colon < 0 or not buf[:colon].isdigit():
                    break
                n = int(buf[:colon])
                if len(buf) < colon + 1 + n + 1:
                    break
                payload, buf = buf[colon + 1:colon + 1 + n], buf[colon + 2 + n:]
                try:
                    msg = json.loads(payload.decode(errors="replace"))
                except ValueError:
                    continue
                with self._cond:
                    if msg.get("response"):
                        self._responses[str(msg.get("token"))] = msg
                    elif msg.get("event"):
                        msg["t"] = time.monotonic()
                        self.events.append(msg)
                    self._cond.notify_all()

    def command(self, command, params="", timeout=5.0):
        """One ctrl_tcp command; returns its output text (Failure if not ok)."""
        if not self.sock:
            raise Failure("baresip '%s' is not connected" % self.name)
        self._token += 1
        token = "%s-%d" % (self.name, self._token)
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._last_command = time.monotonic()
        self.sock.sendall(b"%d:%s," % (len(body), body))
        deadline = time.monotonic() + timeout
        with self._cond:
            while token not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise Failure("baresip '%s': no answer to %s within %.1fs" % (self.name, command, timeout))
                self._cond.wait(min(left, 0.2))
            r = self._responses.pop(token)
        if not r.get("ok"):
            raise Failure("baresip '%s': %s %s failed: %s" % (self.name, command, params,
                                                            str(r.get("data", "")).strip()))
        return r.get("data", "")

    def dial(self, uri):
        return self.command("dial", uri)

    def hangup(self):
        return self.command("hangup")

    def accept(self):
        return self.command("accept")

    def wait_event(self, etype, timeout=10.0, fields=None, since=None):
        """The next event of this type, optionally matching fields (as in match()):
        the first one not returned before that arrived after the last command sent to
        this phone (dial, hangup, accept) and after 'since' (monotonic), so that a
        wait after a new dial does not return an event of the call before. Failure
        after timeout (at once if the process died)."""
        deadline = time.monotonic() + timeout
        floor = max(self._last_command, since or 0.0)
        with self._cond:
            while True:
                start = self._taken.get(etype, 0)
                for i in range(start, len(self.events)):
                    e = self.events[i]
                    if e["t"] < floor:
                        continue
                    if e.get("type") == etype and (not fields or match(e, fields) is None):
                        self._taken[etype] = i + 1
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = ", ".join(e.get("type", "?") for e in self.events[-20:])
                    raise Failure("baresip '%s': no %s within %.1fs (events: %s)" % (self.name, etype, timeout,
                                                                                  seen or "none"))
                if self.proc.poll() is not None:
                    raise Failure("baresip '%s' exited with %s" % (self.name, self.proc.poll()))
                self._cond.wait(min(left, 0.2))

    def _dumps(self, kind):
        try:
            names = [n for n in os.listdir(self.snd_dir) if n.startswith("dump-") and n.endswith("-%s.wav" % kind)]
        except OSError:
            names = []
        return sorted((os.path.join(self.snd_dir, n) for n in names), key=os.path.getmtime)

    def recorded_wav(self, kind="dec"):
        """A copy (sizes fixed, so also during a call) of the newest recording: what the
        phone heard ("dec", after the decoder) or sent ("enc", before the encoder).
        sndfile names the files by the second the call's audio started: two calls
        within one second share a file."""
        files = self._dumps(kind)
        if not files:
            raise Failure("baresip '%s' has no %s recording in %s" % (self.name, kind, self.snd_dir))
        self._snapshots += 1
        dst = os.path.join(self.dir, "%s-%s-%d.wav" % (self.name, "heard" if kind == "dec" else "sent",
                                                       self._snapshots))
        return wav_fixed_copy(files[-1], dst)

    def stop(self):
        rc = None
        if self.proc:
            # The first SIGTERM unregisters and waits for the SIP transactions (up to
            # 32 s with a registrar gone); a second one exits at once.
            self.proc.signal(signal.SIGTERM)
            if self.proc.wait(2.0) is None:
                self.proc.signal(signal.SIGTERM)
            rc = self.proc.stop()
        if self.sock:
            for fn in (lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close):
                try:
                    fn()
                except OSError:
                    pass
            self.sock = None
        return rc


# ---------------------------------------------------------------- the gateway

class Gateway:
    """gwsupd with a generated config; gwctl and gwtap against it."""

    def __init__(self, env, config, name="gw", netns=None):
        self.env = env
        self.netns = netns        # gwsupd (and so the daemons) inside this network namespace
        self.name = name
        self.runtime_dir = env.path("%s-run" % name)
        cfg = json.loads(json.dumps(config))
        cfg.setdefault("bus", {})
        cfg["bus"]["runtime_dir"] = self.runtime_dir
        # Off the host's system bus unless a case gives its own (a private dbus-daemon):
        # concurrent cases would meet there, and gwctl would read another's gateway.
        cfg.setdefault("dbus", {}).setdefault("address", "off")
        self.config = cfg
        self.config_path = env.path("%s.yaml" % name)
        with open(self.config_path, "w") as f:
            f.write("# generated by tests/integration/fxsgwtest.py\n")
            f.write(to_yaml(cfg) + "\n")
        os.chmod(self.config_path, 0o600)
        self.proc = None
        self.tap = None

    def start(self):
        self.gwsupd = self.env.service_bin("gwsupd")
        self.gwctl = self.env.service_bin("gwctl")
        argv = [self.gwsupd, "--config", self.config_path]
        if self.netns:
            # The bus is ipc:// in runtime_dir (filesystem sockets): gwctl and gwtap
            # reach it from outside the namespace.
            argv = ["ip", "netns", "exec", self.netns] + argv
        self.proc = self.env.start(self.name, argv)
        log("gwsupd started (pid %d), config %s" % (self.proc.pid, self.config_path))
        return self

    def start_tap(self, json_lines=True):
        gwtap = self.env.service_bin("gwtap")
        argv = [gwtap, "--config", self.config_path] + (["--json"] if json_lines else [])
        self.tap = self.env.start("%s-tap" % self.name, argv)
        return self.tap

    def tap_messages(self):
        if not self.tap:
            return []
        out = []
        for line in self.tap.output().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def status(self, timeout=5.0):
        """(exit code, parsed JSON or None) of 'gwctl status --json'."""
        try:
            r = subprocess.run([self.gwctl, "--config", self.config_path, "status", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, None
        doc = None
        if r.returncode == 0:
            try:
                doc = json.loads(r.stdout.decode())
            except ValueError:
                doc = None
        self.last_status = (r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))
        return r.returncode, doc

    def check_alive(self):
        if self.proc and self.proc.poll() is not None:
            raise Failure("gwsupd exited with %s" % self.proc.poll())

    @staticmethod
    def service(doc, name):
        for s in (doc or {}).get("services", []):
            if s.get("name") == name:
                return s
        return None

    @staticmethod
    def line(doc, port):
        for ln in (doc or {}).get("lines", []):
            if int(ln.get("port", -1)) == int(port):
                return ln
        return None

    def wait_status(self, what, pred, timeout):
        """Poll gwctl until pred(doc) is true; returns (doc, seconds)."""
        def probe():
            self.check_alive()
            rc, doc = self.status()
            if rc == 0 and doc is not None and pred(doc):
                return doc
            return None
        try:
            return wait_until(what, probe, timeout, 0.1)
        except Failure:
            st = getattr(self, "last_status", None)
            if st:
                log("last gwctl status: exit %s\n%s%s" % st)
            raise

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal gwsupd; returns (exit code or None, seconds)."""
        t0 = time.monotonic()
        self.proc.signal(sig)
        rc = self.proc.wait(timeout)
        return rc, time.monotonic() - t0


# ---------------------------------------------------------------- matching

_VAR = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def substitute(obj, variables, strict=True):
    """Replace ${name} in every string of obj (recursively)."""
    if isinstance(obj, str):
        def rep(m):
            k = m.group(1)
            if k in variables:
                return str(variables[k])
            if strict:
                raise Failure("undefined variable ${%s}" % k)
            return m.group(0)
        whole = _VAR.fullmatch(obj)
        if whole and whole.group(1) in variables and not isinstance(variables[whole.group(1)], str):
            return variables[whole.group(1)]      # keep numbers numbers
        return _VAR.sub(rep, obj)
    if isinstance(obj, list):
        return [substitute(x, variables, strict) for x in obj]
    if isinstance(obj, dict):
        return {substitute(k, variables, strict): substitute(v, variables, strict) for k, v in obj.items()}
    return obj


def match(actual, expected, path="$"):
    """None if actual matches expected, else a message. expected: a scalar (equal),
    a dict of fields (subset), a list (same length, element-wise), or an operator
    object {"regex": s} {"in": [..]} {"ge": n} {"le": n} {"gt": n} {"ne": v}
    {"present": bool} {"nonempty": true} {"len": n}."""
    if isinstance(expected, dict):
        ops = {"regex", "in", "ge", "le", "gt", "lt", "ne", "present", "nonempty", "len"}
        if expected and set(expected) <= ops:
            for op, v in expected.items():
                if op == "present":
                    if (actual is not None) != bool(v):
                        return "%s: present=%s expected %s" % (path, actual is not None, v)
                elif op == "in":
                    if actual not in v:
                        return "%s: %r not in %r" % (path, actual, v)
                elif actual is None:
                    return "%s: missing (expected %s)" % (path, expected)
                elif op == "regex" and not re.search(v, str(actual)):
                    return "%s: %r does not match /%s/" % (path, actual, v)
                elif op == "ge" and not actual >= v:
                    return "%s: %r < %r" % (path, actual, v)
                elif op == "gt" and not actual > v:
                    return "%s: %r <= %r" % (path, actual, v)
                elif op == "le" and not actual <= v:
                    return "%s: %r > %r" % (path, actual, v)
                elif op == "lt" and not actual < v:
                    return "%s: %r >= %r" % (path, actual, v)
                elif op == "ne" and actual == v:
                    return "%s: %r == %r" % (path, actual, v)
                elif op == "nonempty" and not actual:
                    return "%s: empty" % path
                elif op == "len" and (not hasattr(actual, "__len__") or len(actual) != v):
                    return "%s: %r does not have %d elements" % (path, actual, v)
            return None
        if not isinstance(actual, dict):
            return "%s: expected an object, got %r" % (path, actual)
        for k, v in expected.items():
            m = match(actual.get(k), v, "%s.%s" % (path, k))
            if m:
                return m
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return "%s: expected %d elements, got %r" % (path, len(expected), actual)
        for i, (a, e) in enumerate(zip(actual, expected)):
            m = match(a, e, "%s[%d]" % (path, i))
            if m:
                return m
        return None
    if actual != expected and not (isinstance(expected, (int, float)) and isinstance(actual, str)
                                   and actual == str(expected)):
        return "%s: %r != %r" % (path, actual, expected)
    return None
