#!/usr/bin/env bash
# Installs what is missing, builds ferry with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test (unit and integration, in
# real namespaces) through `meson test`; then runs every fuzz target under
# libFuzzer for a fixed time (scripts/fuzz.sh, a clang build). Ends with
# "N passed, N failed" over both.
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
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || rc=$?
logs=("$build/meson-logs/testlog.json")

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

python3 - "${logs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for log in sys.argv[1:]:
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
