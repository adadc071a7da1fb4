#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# testlog-count.py: count the results of one 'meson test' run from its testlog.json.
#
#   testlog-count.py [--label LABEL] TESTLOG.json
#
# Prints one line per skipped test, "== LABEL: skipped NAME: REASON" (the reason is the
# test's "SKIP: ..." line, as gw_test_skip() writes it, else its last line of output), one
# per failed test, "== LABEL: failed NAME (RESULT)", and last "P F S": passed, failed and
# skipped counts. A missing or unreadable log counts as one failure: a run that left no
# log did not pass.
import json
import sys


def reason(entry):
    """The reason a skipped test gave: its SKIP: line, else its last line of output."""
    last = ""
    for stream in ("stderr", "stdout"):
        lines = [l.strip() for l in (entry.get(stream) or "").splitlines() if l.strip()]
        for line in reversed(lines):
            if line.startswith("SKIP:"):
                return line[len("SKIP:"):].strip()
        if lines and not last:
            last = lines[-1]
    return last or "no reason given"


def count(path, label):
    passed = failed = skipped = 0
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                entry = json.loads(line)
                result = entry.get("result")
                name = entry.get("name", "?")
                if result in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                    out.append("== %s: skipped %s: %s" % (label, name, reason(entry)))
                else:
                    # FAIL, TIMEOUT, UNEXPECTEDPASS, ERROR, and anything newer meson adds
                    failed += 1
                    out.append("== %s: failed %s (%s)" % (label, name, result))
    except (OSError, ValueError) as e:
        failed += 1
        out.append("== %s: no usable test log %s: %s" % (label, path, e))
    out.append("%d %d %d" % (passed, failed, skipped))
    return out


def main(argv):
    label = None
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--label":
        label, args = args[1], args[2:]
    if len(args) != 1:
        sys.stderr.write("usage: testlog-count.py [--label LABEL] TESTLOG.json\n")
        return 2
    print("\n".join(count(args[0], label or args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
