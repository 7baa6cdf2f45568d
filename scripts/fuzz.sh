#!/usr/bin/env bash
# Runs every fuzz target (tests/fuzz/meson.build collects them from all
# components) under libFuzzer for a fixed time each, as the meson test suite
# `fuzz-run` of a separate clang build with AddressSanitizer and
# UndefinedBehaviorSanitizer (clang-14 and libclang-rt-14-dev from Debian,
# installed by scripts/setup.sh). scripts/test.sh calls it; its results
# (one test per target) are counted with the other tests.
# Usage: scripts/fuzz.sh [extra meson test args]
# Environment: FUZZ_SECONDS (per target, default 20), FERRY_FUZZ_BUILD (build
# dir, default build-fuzz).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

build=${FERRY_FUZZ_BUILD:-build-fuzz}
seconds=${FUZZ_SECONDS:-20}
if [ ! -f "$build/build.ninja" ]; then
  cxx=clang++ cc=clang
  command -v clang++ >/dev/null || { cxx=clang++-14 cc=clang-14; }
  CXX=$cxx CC=$cc meson setup "$build" -Dfuzzers=true -Dfuzz_seconds="$seconds" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dtests=enabled -Dbenchmarks=disabled >/dev/null
else
  meson configure "$build" -Dfuzz_seconds="$seconds" >/dev/null
fi
# Only the libFuzzer binaries: the rest of the project is built and tested
# by the gcc build.
mapfile -t targets < <(meson introspect --targets "$build" | python3 -c '
import json, sys, os
for t in json.load(sys.stdin):
    if t["name"].startswith("fuzz-") and not t["name"].startswith("fuzz-corpus-"):
        print(os.path.relpath(t["filename"][0], sys.argv[1]))
' "$build")
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz targets found in $build" >&2; exit 1; }
ninja -C "$build" "${targets[@]}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
meson test -C "$build" --no-rebuild --suite fuzz-run --print-errorlogs --num-processes 2 "$@"
