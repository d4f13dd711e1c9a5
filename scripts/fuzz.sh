#!/usr/bin/env bash
# Builds the libFuzzer targets (statement parser, log and snapshot readers,
# message decoding, MySQL packets) with clang and AddressSanitizer in build-fuzz/, and runs
# each for a bounded time. Any crash stops the script with libFuzzer's
# report and the input that caused it.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET > 0]" >&2
  exit 2
fi
scripts/install-deps.sh clang
cmake -S . -B build-fuzz -DLG_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address" >/dev/null
cmake --build build-fuzz -j2 --target fuzz_parser fuzz_storage fuzz_messages fuzz_mysql
for t in parser storage messages mysql; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/$t/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz_$t for ${secs} s"
  log=build-fuzz/fuzz_$t.log
  status=0
  build-fuzz/fuzz/fuzz_$t -max_total_time="$secs" -print_final_stats=1 \
    -rss_limit_mb=4096 -artifact_prefix=build-fuzz/crash-$t- "$corpus" \
    >"$log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|^==[0-9]+==ERROR|^SUMMARY|^Done" "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz_$t found a crash (exit $status); full report: $log" >&2
    exit 1
  fi
done
echo "fuzz: no crash in 3 targets x ${secs} s"
