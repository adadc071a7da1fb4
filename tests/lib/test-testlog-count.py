#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-testlog-count.py: scripts/testlog-count.py on crafted meson test logs: every result
# kind counted, skipped tests named with their reason, a missing log a failure.
import json
import os
import subprocess
import sys
import tempfile

COUNT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "testlog-count.py")


def run(path, label="b"):
    out = subprocess.run([sys.executable, COUNT, "--label", label, path], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    return out[:-1], tuple(int(x) for x in out[-1].split())


def check(got, want):
    if got != want:
        sys.stderr.write("got  %r\nwant %r\n" % (got, want))
        sys.exit(1)


with tempfile.TemporaryDirectory() as d:
    log = os.path.join(d, "testlog.json")
    entries = [
        {"name": "fxsgw:unit+lib / a", "result": "OK", "stderr": "", "stdout": ""},
        {"name": "fxsgw:unit+lib / b", "result": "EXPECTEDFAIL", "stderr": "", "stdout": ""},
        {"name": "fxsgw:unit+sigd / test-sigd-call", "result": "SKIP",
         "stderr": "=== outgoing_busy\nSKIP: 'sipp' not found\n", "stdout": ""},
        {"name": "fxsgw:integration / gw-x", "result": "SKIP", "stderr": "",
         "stdout": "starting\nkamailio missing: skipping\n\n"},
        {"name": "fxsgw:unit / silent", "result": "SKIP", "stderr": None, "stdout": ""},
        {"name": "fxsgw:unit / c", "result": "FAIL", "stderr": "", "stdout": ""},
        {"name": "fxsgw:unit / d", "result": "TIMEOUT", "stderr": "", "stdout": ""},
        {"name": "fxsgw:unit / e", "result": "ERROR", "stderr": "", "stdout": ""},
        {"name": "fxsgw:unit / f", "result": "UNEXPECTEDPASS", "stderr": "", "stdout": ""},
        {"name": "fxsgw:unit / g", "result": "INTERRUPT", "stderr": "", "stdout": ""},
    ]
    with open(log, "w") as fh:
        for e in entries:
            fh.write(json.dumps(e) + "\n\n")
    lines, totals = run(log)
    check(totals, (2, 5, 3))
    check([l for l in lines if ": skipped " in l], [
        "== b: skipped fxsgw:unit+sigd / test-sigd-call: 'sipp' not found",
        "== b: skipped fxsgw:integration / gw-x: kamailio missing: skipping",
        "== b: skipped fxsgw:unit / silent: no reason given",
    ])
    check(len([l for l in lines if ": failed " in l]), 5)
    check("== b: failed fxsgw:unit / d (TIMEOUT)" in lines, True)

    # an empty log: nothing ran, nothing counted
    open(log, "w").close()
    check(run(log), ([], (0, 0, 0)))

    # no log, or a broken one: one failure
    lines, totals = run(os.path.join(d, "missing.json"))
    check(totals, (0, 1, 0))
    with open(log, "w") as fh:
        fh.write("{not json\n")
    check(run(log)[1], (0, 1, 0))
print("ok")
