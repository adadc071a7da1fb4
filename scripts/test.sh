#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test.sh: install what the tests need, build, and run every meson test suite
# twice: in a normal build (build/) and in a sanitizer build (build-san/,
# AddressSanitizer + UndefinedBehaviorSanitizer, leaks detected, any report
# fatal); the unit suite once more under valgrind (memcheck, definite leaks
# and invalid accesses fatal). Exits non-zero on any failure; the last line is
# "N passed, N failed, N skipped", summed over all runs. The 'systemd' suite
# (the units in a container booted with systemd, tests/systemd/) runs in the
# normal build only: the sanitizer build does not define it. Skipped tests (exit 77:
# a peer program missing) are listed by name with their reason; with CI=true in
# the environment they count as failures too, since the install step provides
# every peer and a skip there means a broken install.
#
#   ./scripts/test.sh [--no-install] [--no-san] [--no-valgrind] [-- MESON-TEST-ARGS...]
set -euo pipefail

cd "$(dirname "$0")/.."
SRC=$(pwd)

install=1
san=1
vg=1
extra=()
while [ $# -gt 0 ]; do
        case "$1" in
                --no-install) install=0 ;;
                --no-san) san=0 ;;
                --no-valgrind) vg=0 ;;
                --) shift; extra=("$@"); break ;;
                -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
                *) echo "test.sh: unknown argument '$1'" >&2; exit 2 ;;
        esac
        shift
done

if [ "$install" = 1 ]; then
        ./scripts/install-deps.sh test
fi

JOBS=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
skipped=0
skip_lines=()        # repeated at the end, next to the totals
ci=0
[ "${CI:-}" = true ] && ci=1

# count BUILDDIR [LABEL]: add the results of the last 'meson test' in BUILDDIR,
# naming its skipped and failed tests.
count() {
        local p f s line
        local -a lines
        mapfile -t lines < <(python3 "$SRC/scripts/testlog-count.py" --label "${2:-$1}" "$1/meson-logs/testlog.json")
        for line in "${lines[@]:0:${#lines[@]}-1}"; do
                echo "$line"
                case "$line" in *": skipped "*) skip_lines+=("$line") ;; esac
        done
        read -r p f s <<<"${lines[-1]}"
        passed=$((passed + p))
        failed=$((failed + f))
        skipped=$((skipped + s))
        echo "== ${2:-$1}: $p passed, $f failed, $s skipped"
}

# run_build DIR [meson setup options...]
run_build() {
        local dir=$1; shift
        echo "== build $dir $*"
        if [ ! -f "$dir/build.ninja" ]; then
                if ! meson setup "$dir" "$SRC" "$@"; then
                        failed=$((failed + 1)); echo "== $dir: meson setup failed"; return
                fi
        else
                if ! meson configure "$dir" "$@" >/dev/null; then
                        failed=$((failed + 1)); echo "== $dir: meson configure failed"; return
                fi
        fi
        if ! ninja -C "$dir" -j "$JOBS"; then
                failed=$((failed + 1)); echo "== $dir: build failed"; return
        fi
        rm -f "$dir/meson-logs/testlog.json" "$dir/meson-logs/testlog-integration.json"
        # Non-zero when a test fails: counted below, not fatal here.
        if [ ${#extra[@]} -eq 0 ]; then
                # Integration cases mostly wait (timers, peers), each in a network namespace
                # of its own: twice as many at once as there are cores (measured: 2 cores,
                # 54 cases, 218 s with 2 at once, 120 s with 4).
                meson test -C "$dir" --print-errorlogs --num-processes "$JOBS" --no-suite integration "${mt_args[@]}" || true
                meson test -C "$dir" --print-errorlogs --num-processes $((JOBS * 2)) --suite integration \
                        --logbase testlog-integration "${mt_args[@]}" || true
                cat "$dir/meson-logs/testlog-integration.json" >>"$dir/meson-logs/testlog.json" 2>/dev/null || true
        else
                meson test -C "$dir" --print-errorlogs --num-processes "$JOBS" "${mt_args[@]}" "${extra[@]}" || true
        fi
        count "$dir"
}

start=$(date +%s)

mt_args=()
run_build build

if [ "$vg" = 1 ] && [ -f build/build.ninja ]; then
        echo "== valgrind: unit suite of build/"
        rm -f build/meson-logs/testlog-valgrind*.json
        meson test -C build --suite unit --print-errorlogs --num-processes "$JOBS" --timeout-multiplier 10 \
                --logbase testlog-valgrind \
                --wrap='valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --quiet' \
                "${extra[@]}" || true
        # meson adds the wrapper's name to the log base (testlog-valgrind-valgrind.json).
        vglog=$(ls build/meson-logs/testlog-valgrind*.json 2>/dev/null | head -n 1 || true)
        if [ -n "$vglog" ]; then cp "$vglog" build/meson-logs/testlog.json; else rm -f build/meson-logs/testlog.json; fi
        count build "build (valgrind)"
fi

if [ "$san" = 1 ]; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
        export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
        mt_args=(--timeout-multiplier 3)
        run_build build-san -Db_sanitize=address,undefined -Db_lundef=false
        unset ASAN_OPTIONS UBSAN_OPTIONS
fi

echo "== total time $(( $(date +%s) - start )) s"
for line in "${skip_lines[@]}"; do echo "$line"; done
if [ "$ci" = 1 ] && [ "$skipped" -gt 0 ]; then
        echo "== CI=true: the $skipped skipped tests count as failed (every peer should be installed)"
        failed=$((failed + skipped))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
