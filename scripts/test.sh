#!/usr/bin/env bash
# Installs what is missing, builds ferry with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test (unit and integration, in
# real namespaces) through `meson test`. Ends with "N passed, N failed".
# Usage (as root): scripts/test.sh [extra meson test args, e.g. --suite unit]
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

python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
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
