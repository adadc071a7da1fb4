#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""stalepids.py: the runtime directory a crashed gwsupd might leave, pointing at
processes that are not its daemons; this process is the unrelated one.

    stalepids.py --runtime-dir DIR --out FILE

Writes DIR/gwsupd.pid naming this process, and DIR/gwsupd.children (the format
of services/gwsupd/gwsupd-adopt.h) listing:
  sigd    this pid with another start time (the pid was recycled);
  regd    this pid and its true start time, but this program is no daemon;
  mediad  the pid of a process that has exited.
FILE gets this pid. Then it sleeps until the runner stops it (SIGTERM): gwsupd
must neither adopt nor signal it (the case checks that it still runs).
A dead pid could be reused by the time gwsupd looks; its start time then
differs, which is the point."""
import argparse
import os
import signal
import subprocess
import time


def starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[19])     # field 22


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime-dir", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    me = os.getpid()
    st = starttime(me)
    p = subprocess.Popen(["true"])
    dead_st = 0
    try:
        dead_st = starttime(p.pid)
    except (OSError, ValueError, IndexError):
        dead_st = st + 5          # already gone: any start time will do
    p.wait()
    os.makedirs(args.runtime_dir, mode=0o750, exist_ok=True)
    with open(os.path.join(args.runtime_dir, "gwsupd.pid"), "w") as f:
        f.write("%d\n" % me)
    with open(os.path.join(args.runtime_dir, "gwsupd.children"), "w") as f:
        f.write("sigd %d %d 0000000000000001 running 0\n" % (me, st + 1))
        f.write("regd %d %d 0000000000000002 running 0\n" % (me, st))
        f.write("mediad %d %d 0000000000000003 running 0\n" % (p.pid, dead_st or st))
    with open(args.out + ".tmp", "w") as f:
        f.write("%d\n" % me)
    os.rename(args.out + ".tmp", args.out)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
