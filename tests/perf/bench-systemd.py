#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench-systemd.py: the gateway's units under a real systemd, timed over several rounds.

    bench-systemd.py --build-dir BUILD [--rounds 5]

The set-up of tests/systemd/test_units.py (a container booted with systemd, Kamailio
and a SIP capture in namespaces of their own, 4 lines). Each round: systemctl start
fxsgw.target until every line is registered (200 in the capture), a SIGKILL of each
daemon (`systemctl kill -s KILL`) until systemd has it active again, systemctl stop
fxsgw.target until the last un-REGISTER is answered; then the same start and stop
with fxsgw-gwsupd.service. Prints the median and worst of each figure. Every round
also asserts what the test does (registrations, un-REGISTERs, no REGISTER storm).
Exit 77 where the test would skip.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "systemd"))
import test_units  # noqa: E402
import container  # noqa: E402
import netns  # noqa: E402
from fxsgwtest import EXIT_SKIP, Failure  # noqa: E402


class Bench(test_units.Suite):
    def figure(self, name, value, unit="s"):
        if isinstance(value, (int, float)):
            self.figures.setdefault(name, []).append(float(value))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    try:
        container.require()
        netns.require("kamailio")
    except container.Skip as e:
        print("skip: %s" % e)
        return EXIT_SKIP
    args.figures = None
    args.only = None
    b = Bench(args)
    rc = 0
    try:
        b.setup()
        for i in range(args.rounds):
            b.t_target_start = b.start_and_check("fxsgw.target", "target")
            b.check_kill()
            b.stop_and_check("fxsgw.target", "target", "fxsgw-sigd.service")
            b.start_and_check("fxsgw-gwsupd.service", "gwsupd")
            b.stop_and_check("fxsgw-gwsupd.service", "gwsupd", None)
            print("round %d done" % (i + 1), flush=True)
            time.sleep(0.5)
    except (Failure, container.Error) as e:
        print("FAIL: %s" % e)
        b.failed = True
        rc = 1
    finally:
        b.teardown()
        if rc:
            b.env.dump_logs()
        b.env.remove()
    print("\n%-70s %8s %8s %4s" % ("figure (%d rounds)" % args.rounds, "median", "worst", "n"))
    for name, vals in b.figures.items():
        if "REGISTERs sent" in name:
            print("%-70s %8d %8d %4d" % (name, statistics.median(vals), max(vals), len(vals)))
        else:
            print("%-70s %7.0fms %7.0fms %4d" % (name, 1000 * statistics.median(vals), 1000 * max(vals), len(vals)))
    return rc


if __name__ == "__main__":
    sys.exit(main())
