#!/usr/bin/env bash
# One timed libFuzzer run, as a meson test of the fuzz build (suite fuzz-run,
# see tests/fuzz/meson.build and scripts/fuzz.sh).
# Usage: run_fuzzer.sh FUZZER SEED_CORPUS WORK_DIR
# Runs FUZZER for $FUZZ_SECONDS (default 20) seconds starting from the seeds;
# new inputs go to WORK_DIR/corpus (kept between runs, never the committed
# seeds), a crash leaves WORK_DIR/crash-* and fails the test.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3
mkdir -p "$work/corpus"
rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
rc=0
"$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$seeds" 2>"$work/log" || rc=$?
tail -n 20 "$work/log"
if [ "$rc" != 0 ]; then
  echo "FAIL: $(basename "$fuzzer") exited $rc; artifacts:"
  ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null || true
  grep -m 20 -E "ERROR|SUMMARY|runtime error" "$work/log" || true
fi
exit "$rc"
