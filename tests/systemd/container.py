#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""container.py: fxsgw installed in a Debian 12 root booted with systemd as PID 1.

The test machine's PID 1 need not be systemd; a container's is (systemd-nspawn -b).
Python 3 stdlib only, for any test of the gateway under a real systemd:

    import container
    container.require()                              # Skip (exit 77) unless it can work
    base = container.base_root(build_dir)            # debootstrap once, cached by package list
    with container.Container(base, "/tmp/x", netns="/run/netns/fxgw123-gw") as c:
        c.install(build_dir)                         # DESTDIR=<root> meson install
        c.write("/etc/fxsgw/fxsgw.yaml", text, mode=0o640)
        c.boot()                                     # until 'systemctl is-system-running'
        c.systemctl("start", "fxsgw.target")
        c.show("fxsgw-sigd.service", "ActiveState", "MainPID")   # {'ActiveState': 'active', ...}
        c.journal("-u", "fxsgw-regd.service")         # journalctl -o json, parsed
        c.busctl("tree", "org.freedesktop.systemd1")
        c.run(["gwctl", "status", "--json"])        # any command inside (nsenter -a)

The root (base_root) is `debootstrap --variant=minbase bookworm` with systemd,
dbus and the gateway's runtime libraries, made once under the build directory
(systemd-root-<hash of the package list>/root) and never written to afterwards:
each Container mounts an overlay on it (its own upper directory), installs the
gateway there and boots that. A rerun starts in seconds.

Commands inside run with `nsenter -t <the container's PID 1> -a` (machinectl needs
a systemd on the host). With netns= the container joins a network namespace the
test made (`ip netns add`, e.g. a netns.Lab host), so its peers live in namespaces
of their own; without it, it shares the caller's network namespace.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

EXIT_SKIP = 77

# Runtime libraries of the daemons (ldd of build/services/*), plus systemd and a bus.
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "libzmq5", "libprotobuf-c1", "libosip2-15",
                 "libsrtp2-1", "libyaml-0-2", "libc-ares2", "libspandsp2")
# Installed with apt in the root after debootstrap: polkitd's maintainer scripts want
# a running system (its --include in debootstrap's second stage does not configure);
# in the booted container it is D-Bus activated and applies fxsgw's rule
# (RestartService() under fxsgw.target: regd, as user fxsgw, asks systemd).
POST_PACKAGES = ("polkitd",)
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Units a test container does not need: they only cost boot time.
MASKED_UNITS = ("console-getty.service", "getty.target", "systemd-logind.service",
                "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
                "e2scrub_all.timer", "fstrim.timer", "systemd-tmpfiles-clean.timer")


class Skip(Exception):
    """The container cannot run here (exit 77)."""


class Error(Exception):
    """Something in or around the container failed."""


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def require():
    """Raise Skip unless root with systemd-nspawn, debootstrap, nsenter and overlayfs."""
    if os.geteuid() != 0:
        raise Skip("not root")
    for prog in ("systemd-nspawn", "debootstrap", "nsenter", "mount", "ip"):
        if shutil.which(prog) is None and not os.path.exists("/usr/sbin/" + prog):
            raise Skip("'%s' not found (packages systemd-container, debootstrap)" % prog)
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            raise Skip("no overlayfs in this kernel")


def mirror():
    """The Debian mirror apt uses here (deb822 .sources or one-line .list), else deb.debian.org."""
    files = []
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        files += [os.path.join(d, n) for n in sorted(os.listdir(d))]
    files.append("/etc/apt/sources.list")
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m:
                        fields[m.group(1).lower()] = m.group(2).split()
                if SUITE in fields.get("suites", []) and "main" in fields.get("components", []):
                    for uri in fields.get("uris", []):
                        if uri.startswith("http"):
                            return uri
        else:
            for line in text.splitlines():
                m = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+%s\s+.*\bmain\b" % SUITE, line.strip())
                if m and m.group(1).startswith("http"):
                    return m.group(1)
    return DEFAULT_MIRROR


def base_root(cache_dir, packages=BASE_PACKAGES, extra=()):
    """The path of a cached Debian root with these packages, made first if need be.
    Concurrent callers wait for one another (a lock next to it)."""
    pkgs = sorted(set(packages) | set(extra))
    key = hashlib.sha256((" ".join([SUITE, "minbase"] + pkgs + list(MASKED_UNITS) +
                                   ["post"] + list(POST_PACKAGES))).encode()).hexdigest()[:12]
    top = os.path.join(os.path.abspath(cache_dir), "systemd-root-" + key)
    root = os.path.join(top, "root")
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, "lock"), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(top, "complete")):
            return root
        tmp = os.path.join(top, "tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        src = mirror()
        log("debootstrap %s (minbase + %s) from %s into %s" % (SUITE, ",".join(pkgs), src, tmp))
        t0 = time.monotonic()
        r = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(pkgs),
                            SUITE, tmp, src], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=900)
        if r.returncode != 0:
            tail = r.stdout.decode(errors="replace").splitlines()[-30:]
            raise Error("debootstrap failed (%d):\n%s" % (r.returncode, "\n".join(tail)))
        if POST_PACKAGES:
            install_post_packages(tmp)
        # Smaller, and the same on every run: no package cache, an empty machine-id
        # (nspawn gives each boot a transient one).
        shutil.rmtree(os.path.join(tmp, "var/cache/apt/archives"), ignore_errors=True)
        os.makedirs(os.path.join(tmp, "var/cache/apt/archives/partial"), exist_ok=True)
        with open(os.path.join(tmp, "etc/machine-id"), "w"):
            pass
        for unit in MASKED_UNITS:
            link = os.path.join(tmp, "etc/systemd/system", unit)
            if not os.path.lexists(link):
                os.symlink("/dev/null", link)
        os.rename(tmp, root)
        with open(os.path.join(top, "complete"), "w") as f:
            f.write("%s\n" % " ".join(pkgs))
        log("root ready in %.0f s" % (time.monotonic() - t0))
        return root


def install_post_packages(root):
    """apt-get install POST_PACKAGES in the new root (chroot, /proc mounted, no service
    started: policy-rc.d says no), then its package lists removed again."""
    policy = os.path.join(root, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    proc = os.path.join(root, "proc")
    subprocess.run(["mount", "-t", "proc", "proc", proc], check=True)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + list(POST_PACKAGES)):
            r = subprocess.run(["chroot", root] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=env, timeout=600)
            if r.returncode != 0:
                tail = r.stdout.decode(errors="replace").splitlines()[-30:]
                raise Error("%s in the root failed (%d):\n%s" % (" ".join(argv), r.returncode, "\n".join(tail)))
    finally:
        subprocess.run(["umount", proc], check=False)
        os.unlink(policy)
    shutil.rmtree(os.path.join(root, "var/lib/apt/lists"), ignore_errors=True)
    os.makedirs(os.path.join(root, "var/lib/apt/lists/partial"), exist_ok=True)


OWNER_FILE = "container.owner"      # the pid of the process that mounted the overlay


def cleanup_stale():
    """Unmount the overlays of containers whose test process is gone (a SIGKILLed
    run leaves its mount behind; its processes die with its network namespace,
    netns.Lab.cleanup_stale). Returns the mount points removed."""
    removed = []
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if " - overlay " in line]
    except OSError:
        return removed
    for mp in points:
        owner = os.path.join(os.path.dirname(mp), OWNER_FILE)
        try:
            with open(owner) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if os.path.exists("/proc/%d" % pid):
            continue
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
        shutil.rmtree(os.path.dirname(mp), ignore_errors=True)
        removed.append(mp)
        log("removed the stale container overlay %s (pid %d gone)" % (mp, pid))
    return removed


def _nspid_is_init(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    ids = line.split()[1:]
                    return len(ids) >= 2 and ids[-1] == "1"
    except OSError:
        pass
    return False


def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # The comm field may hold spaces: the ppid is the 2nd field after its ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(d))
    return out


class Container:
    """One boot of the base root (with an overlay of its own) under systemd-nspawn."""

    def __init__(self, base, workdir, name="fxsgw", netns=None, bind=()):
        self.base = base
        self.workdir = os.path.abspath(workdir)
        self.name = name
        self.netns = netns                # a path under /run/netns, or None
        self.bind = list(bind)            # extra --bind= specs
        self.upper = os.path.join(self.workdir, "upper")
        self.ovl_work = os.path.join(self.workdir, "ovl-work")
        self.root = os.path.join(self.workdir, "root")
        self.log_path = os.path.join(self.workdir, "nspawn.log")
        self.proc = None
        self.leader = None
        self.mounted = False
        os.makedirs(self.workdir, exist_ok=True)

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self):
        self.mount()
        return self

    def __exit__(self, *exc):
        self.teardown()
        return False

    def mount(self):
        cleanup_stale()
        for d in (self.upper, self.ovl_work, self.root):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(self.workdir, OWNER_FILE), "w") as f:
            f.write("%d\n" % os.getpid())
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=%s,upperdir=%s,workdir=%s" % (self.base, self.upper, self.ovl_work),
                        self.root], check=True, timeout=30)
        self.mounted = True

    def install(self, build_dir):
        """DESTDIR=<root> meson install of build_dir (its prefix, e.g. /usr or /usr/local:
        systemd reads units, sysusers.d and tmpfiles.d under both)."""
        r = subprocess.run(["meson", "install", "-C", build_dir, "--no-rebuild", "--quiet",
                            "--destdir", self.root], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=300)
        if r.returncode != 0:
            raise Error("meson install failed:\n%s" % r.stdout.decode(errors="replace")[-3000:])

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def write(self, p, text, mode=0o644):
        full = self.path(p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        os.chmod(full, mode)

    def boot(self, timeout=90):
        """Boot and wait until the system is up ('running' or 'degraded', which is
        then an Error naming the failed units)."""
        argv = ["systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "--console=pipe",
                "-D", self.root, "-M", self.name, "--boot"]
        if self.netns:
            argv.append("--network-namespace-path=" + self.netns)
        argv += ["--bind=" + b for b in self.bind]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        t0 = time.monotonic()
        while self.leader is None:
            if self.proc.poll() is not None:
                raise Error("systemd-nspawn exited with %s:\n%s" % (self.proc.returncode, self.console()))
            if time.monotonic() - t0 > timeout:
                raise Error("no container init within %d s" % timeout)
            # nspawn's child, or its grandchild: the process that is PID 1 inside.
            todo = _children(self.proc.pid)
            while todo and self.leader is None:
                p = todo.pop()
                if _nspid_is_init(p):
                    self.leader = p
                else:
                    todo += _children(p)
            time.sleep(0.05)
        # Until systemd has its private socket, systemctl fails at once: try again.
        while True:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise Error("system not up within %d s (%s):\n%s" % (timeout, r.stderr.strip(), self.console()))
            r = self.run(["systemctl", "is-system-running", "--wait"], check=False, timeout=left)
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                break
            if state in ("maintenance", "stopping", "offline"):
                raise Error("system state '%s' after boot:\n%s" % (state, self.console()))
            time.sleep(0.1)
        if state == "degraded":
            failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"], check=False).stdout
            raise Error("boot degraded, failed units:\n%s" % failed)
        log("container '%s' up (init pid %d) in %.1f s" % (self.name, self.leader, time.monotonic() - t0))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def teardown(self, timeout=20):
        """Power off (SIGTERM to nspawn: an orderly shutdown inside), SIGKILL after
        timeout, unmount the overlay. The upper directory stays for the logs until
        the work directory is removed."""
        if self.alive():
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log("container '%s' did not stop within %d s: SIGKILL" % (self.name, timeout))
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                if self.leader:
                    try:
                        os.kill(self.leader, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.wait(timeout=10)
        if getattr(self, "logf", None) and not self.logf.closed:
            self.logf.close()
        if self.mounted:
            for _ in range(50):
                if subprocess.run(["umount", self.root], stderr=subprocess.DEVNULL).returncode == 0:
                    break
                time.sleep(0.1)
            else:
                subprocess.run(["umount", "-l", self.root])
            self.mounted = False

    def remove(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def console(self, max_lines=80):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-max_lines:])

    # ---------------------------------------------------------------- inside

    def argv(self, argv):
        """argv run inside every namespace of the container."""
        if not self.leader:
            raise Error("container not booted")
        return ["nsenter", "-t", str(self.leader), "-a"] + [str(a) for a in argv]

    def run(self, argv, check=True, timeout=30, input=None):
        """subprocess.run inside; text output. check: Error on a non-zero exit."""
        r = subprocess.run(self.argv(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise Error("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def popen(self, argv, **kw):
        return subprocess.Popen(self.argv(argv), **kw)

    def systemctl(self, *args, check=True, timeout=60):
        return self.run(["systemctl", "--no-pager"] + list(args), check=check, timeout=timeout)

    def show(self, unit, *props):
        """systemctl show's properties of a unit as a dict of strings."""
        r = self.systemctl("show", unit, "-p", ",".join(props))
        out = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out

    def journal(self, *args):
        """journalctl -o json ARGS, one dict per entry (binary fields as journald gives them)."""
        r = self.run(["journalctl", "--no-pager", "-o", "json"] + list(args), check=False, timeout=60)
        out = []
        for line in r.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def busctl(self, *args, check=True, timeout=30):
        return self.run(["busctl", "--no-pager"] + list(args), check=check, timeout=timeout)

    def busctl_json(self, *args):
        """busctl --json=short ARGS (get-property, call, introspect) parsed."""
        r = self.busctl("--json=short", *args)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def realtime_usec(self):
        """CLOCK_REALTIME now, in µs, as the journal stamps entries (the same clock as ours)."""
        return int(time.time() * 1e6)


if __name__ == "__main__":
    # Make (or reuse) the root and print its path: container.py BUILD_DIR
    try:
        require()
        print(base_root(sys.argv[1] if len(sys.argv) > 1 else "."))
    except Skip as e:
        print("skip: %s" % e, file=sys.stderr)
        sys.exit(EXIT_SKIP)
