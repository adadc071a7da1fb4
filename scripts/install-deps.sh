#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# install-deps.sh: install the Debian 12 packages fxsgw needs (idempotent).
#
#   scripts/install-deps.sh build   build dependencies only
#   scripts/install-deps.sh demo    build + what scripts/demo.sh runs
#   scripts/install-deps.sh test    build + every test peer and tool
#
# Runs 'apt-get update' and 'apt-get install -y' as root. As another user,
# or with FXSGW_SKIP_INSTALL=1, it only checks that the packages are there.
#
# The kamailio package starts its own service on 5060 where systemd runs:
# the install is done under a temporary /usr/sbin/policy-rc.d that forbids
# service starts, and the service is then disabled and stopped. The tests and
# the demo start their own Kamailio, never on 5060.
set -euo pipefail

BUILD_PKGS=(meson ninja-build pkg-config gcc libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
            libosip2-dev libsrtp2-dev libyaml-dev libsystemd-dev libc-ares-dev libspandsp-dev)
DEMO_PKGS=(kamailio kamailio-extra-modules python3)
TEST_PKGS=(kamailio kamailio-extra-modules sip-tester python3 iproute2 nftables dnsmasq-base systemd procps dbus-daemon
           tshark baresip valgrind libclang-rt-14-dev systemd-container debootstrap)

what=${1:-test}
case "$what" in
        build) pkgs=("${BUILD_PKGS[@]}") ;;
        demo)  pkgs=("${BUILD_PKGS[@]}" "${DEMO_PKGS[@]}") ;;
        test)  pkgs=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
        *) echo "usage: $0 build|demo|test" >&2; exit 2 ;;
esac

missing() {
        local p
        for p in "${pkgs[@]}"; do
                dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
        done
}

if [ "${FXSGW_SKIP_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ]; then
        m=$(missing || true)
        if [ -n "$m" ]; then
                echo "install-deps: missing packages (run as root to install):" $m >&2
                exit 1
        fi
        exit 0
fi

export DEBIAN_FRONTEND=noninteractive
policy_created=0
cleanup() {
        if [ "$policy_created" = 1 ]; then
                rm -f /usr/sbin/policy-rc.d
        fi
}
trap cleanup EXIT

if [ -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
        # 101: "action not allowed" — invoke-rc.d starts no service during the install.
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
fi

apt-get update
apt-get install -y --no-install-recommends "${pkgs[@]}"

cleanup
policy_created=0

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        if systemctl list-unit-files kamailio.service >/dev/null 2>&1; then
                systemctl disable --now kamailio >/dev/null 2>&1 || true
        fi
fi
