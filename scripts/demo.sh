#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# demo.sh: install, build, and show fxsgw registering 4 simulated lines with a
# real Kamailio registrar on loopback (127.0.0.70:5070, never 5060), moving
# them to a redundant Kamailio (127.0.0.72:5070) when the main one is killed,
# and back (homing) when it returns.
#
#   ./scripts/demo.sh [--no-install] [--duration SECONDS]
#
# Shows the bus (gwtap), 'gwctl status' and Kamailio's location table; stops
# cleanly (lines un-registered) on Ctrl-C, or by itself after --duration
# seconds (default: 30 when stdin is not a terminal, until Ctrl-C otherwise).
set -euo pipefail

cd "$(dirname "$0")/.."

install=1
args=()
while [ $# -gt 0 ]; do
        case "$1" in
                --no-install) install=0 ;;
                --duration) args+=(--duration "$2"); shift ;;
                --duration=*) args+=(--duration "${1#*=}") ;;
                -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
                *) echo "demo.sh: unknown argument '$1'" >&2; exit 2 ;;
        esac
        shift
done

if [ "$install" = 1 ]; then
        ./scripts/install-deps.sh demo
fi

if [ ! -f build/build.ninja ]; then
        meson setup build .
fi
ninja -C build

exec python3 scripts/demo.py --build-dir build "${args[@]}"
