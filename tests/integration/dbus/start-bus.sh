#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# start-bus.sh TMPDIR: the private system bus of the D-Bus API's cases, in the
# foreground. fxsgw's policy names group fxsgw (may read and call); where the
# host has no such group, the bus gets one of its own: a copy of /etc/group
# with an 'fxsgw' entry at a free gid, bind-mounted over /etc/group in a
# mount namespace of the bus alone. The gid is written to TMPDIR/fxsgw.gid for
# the test's clients (setpriv --groups=GID).
set -eu
tmp=$1
conf=$(dirname "$0")/system-bus.conf
gid=$(getent group fxsgw | cut -d: -f3 || true)
if [ -n "$gid" ]; then
        echo "$gid" > "$tmp/fxsgw.gid"
        exec dbus-daemon --nofork --nopidfile --config-file="$conf"
fi
gid=64990
while getent group "$gid" >/dev/null; do
        gid=$((gid + 1))
done
cp /etc/group "$tmp/group"
echo "fxsgw:x:$gid:" >> "$tmp/group"
echo "$gid" > "$tmp/fxsgw.gid"
exec unshare --mount -- sh -c 'mount --bind "$1" /etc/group && exec dbus-daemon --nofork --nopidfile --config-file="$2"' \
        sh "$tmp/group" "$conf"
