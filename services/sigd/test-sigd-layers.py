#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""test-sigd-layers.py: sigd's layering, checked on the compiled objects.

    test-sigd-layers.py NM LIBSIGD.a

Reads every object of libsigd with nm and fails when a file calls a
function defined in a file of the same or a higher layer (a lower layer
reaches up only through the handler tables the layer above registers, which
nm does not see as calls), or when a global function's name does not start
with its file's prefix. The layers, lowest first, as docs/ARCHITECTURE.md
draws them.
"""

import subprocess
import sys

LAYERS = [
    ["sigd-scan", "sigd-digest", "sigd-sdp"],   # no Manager: pure helpers
    ["sigd-transport"],
    ["sigd-transaction"],
    ["sigd-message"],
    ["sigd-request", "sigd-dialog"],            # beside each other: neither calls the other
    ["sigd-call"],
    ["sigd-line"],
    ["sigd-manager"],
]
PREFIX = {
    "sigd-scan": "scan_", "sigd-transport": "transport_", "sigd-transaction": "transaction_",
    "sigd-message": "message_", "sigd-request": "request_", "sigd-dialog": "dialog_",
    "sigd-call": "call_", "sigd-line": "line_", "sigd-manager": "manager_",
}
# Enum string tables keep the x_to_string() form (docs/STYLE.md, Naming).
PREFIX_EXCEPTIONS = {"rx_disposition_to_string"}


def main():
    nm, archive = sys.argv[1], sys.argv[2]
    rank = {f: i for i, files in enumerate(LAYERS) for f in files}
    out = subprocess.run([nm, archive], capture_output=True, text=True, check=True).stdout
    defined, used, members, member = {}, {}, set(), None
    for line in out.splitlines():
        if line.endswith(".o:"):
            member = line[:-2].split("/")[-1].split(".c")[0]
            members.add(member)
            continue
        parts = line.split()
        if member is None or member not in rank:
            continue
        if len(parts) == 3 and parts[1] == "T":
            defined[parts[2]] = member
        elif len(parts) == 2 and parts[0] == "U":
            used.setdefault(member, set()).add(parts[1])
    errors = []
    if not defined:
        errors.append("no functions read")
    for f in sorted(members - set(rank)):
        errors.append(f"{f} is in no layer: add it to LAYERS")
    for f, symbols in sorted(used.items()):
        for s in sorted(symbols):
            g = defined.get(s)
            if g and g != f and rank[g] >= rank[f]:
                errors.append(f"{f} calls {s}() of {g}, a layer at or above its own")
    for s, f in sorted(defined.items()):
        p = PREFIX.get(f)
        if p and not s.startswith(p) and s not in PREFIX_EXCEPTIONS:
            errors.append(f"{f} defines {s}(): not named {p}...")
    for e in errors:
        print(e)
    print(f"{len(defined)} functions in {len(rank)} files checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
