#!/usr/bin/env bash
# Installs what is missing, builds ferry with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test (unit and integration, in
# real namespaces) through `meson test`; then runs every fuzz target under
# libFuzzer for a fixed time (scripts/fuzz.sh, a clang build). Ends with
# "N passed, N failed" over both. A process or named network namespace the
# tests leave behind (tests/tools/leftovers.py) fails the run and is ended.
# Usage (as root): scripts/test.sh [extra meson test args, e.g. --suite unit]
# The fuzz run is part of a full run (no arguments); FERRY_FUZZ=0 skips it,
# FERRY_FUZZ=1 adds it to a run with arguments.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/setup.sh

build=${FERRY_TEST_BUILD:-build-test}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dtests=enabled -Dbenchmarks=disabled >/dev/null
fi
ninja -C "$build"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
rc=0
# What the tests leave running (a daemon in a container's namespace, a
# process of the test user) or leave named (a network namespace) fails the
# run and is ended here, so it cannot leak into the next test or run.
snap=$(mktemp /tmp/ferry-leftovers.XXXXXX)
python3 tests/tools/leftovers.py snapshot "$snap"
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || rc=$?
logs=("$build/meson-logs/testlog.json")
leftover=0
python3 tests/tools/leftovers.py check "$snap" --kill || { leftover=1; rc=1; }
rm -f "$snap"

fuzz=${FERRY_FUZZ:-$([ $# -eq 0 ] && echo 1 || echo 0)}
if [ "$fuzz" = 1 ]; then
  fuzz_build=${FERRY_FUZZ_BUILD:-build-fuzz}
  rm -f "$fuzz_build/meson-logs/testlog.json"
  FERRY_FUZZ_BUILD=$fuzz_build scripts/fuzz.sh || rc=1
  if [ -f "$fuzz_build/meson-logs/testlog.json" ]; then
    logs+=("$fuzz_build/meson-logs/testlog.json")
  else
    echo "FAILED: scripts/fuzz.sh ran no fuzz target"
    rc=1
  fi
fi

python3 - "$leftover" "${logs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
if sys.argv[1] == "1":
    failed += 1
    print("FAILED: leftovers (processes or namespaces the tests left, listed above)")
for log in sys.argv[2:]:
    for line in open(log):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            print("FAILED:", json.loads(line).get("name"))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
