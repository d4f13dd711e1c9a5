#!/usr/bin/env bash
# Finds a seed on which a broken variant fails a given check while the
# fixed code passes it: the seed a simulation.caught test is held to
# (tests/CMakeLists.txt). A change to the protocols' messages changes every
# seed's course, so such a seed has to be found again after one.
#   scripts/find-seed.sh VARIANT CHECK FAULTS [FIRST_SEED] [LAST_SEED]
# CHECK is the start of the failure text ("no acknowledged write is lost",
# "replicas converge"); FAULTS the comma-separated fault list the test uses.
# Runs two processes at a time; prints the first seed found (its number
# alone on the last line) or exits 1 when none is found up to LAST_SEED.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
if [ $# -lt 3 ]; then
  echo "usage: scripts/find-seed.sh VARIANT CHECK FAULTS [FIRST] [LAST]" >&2
  exit 2
fi
variant=$1
check=$2
faults=$3
first=${4:-1}
last=${5:-30000}
if ! [[ "$first" =~ ^[0-9]+$ && "$last" =~ ^[0-9]+$ ]]; then
  echo "find-seed: FIRST and LAST are seed numbers" >&2
  exit 2
fi
lg="$BUILD/leafguard"
if [ ! -x "$lg" ]; then
  echo "find-seed: $lg is missing; run make first" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
batch=200
seed=$first
while [ "$seed" -le "$last" ]; do
  a_end=$(( seed + batch - 1 ))
  b_start=$(( a_end + 1 ))
  b_end=$(( b_start + batch - 1 ))
  "$lg" simulate --seeds "$seed-$a_end" --break "$variant" \
    --faults "$faults" --trace-dir "$tmp" > "$tmp/a" 2>/dev/null &
  "$lg" simulate --seeds "$b_start-$b_end" --break "$variant" \
    --faults "$faults" --trace-dir "$tmp" > "$tmp/b" 2>/dev/null &
  wait || true
  for candidate in $(cat "$tmp/a" "$tmp/b" \
      | sed -n "s/^seed \([0-9]*\): FAIL: $check.*/\1/p"); do
    if "$lg" simulate --seed "$candidate" --faults "$faults" \
        --trace-dir "$tmp" 2>/dev/null | grep -q '^result: PASS'; then
      echo "find-seed: $variant fails '$check' on seed $candidate;" \
           "the fixed code passes it"
      echo "$candidate"
      exit 0
    fi
  done
  echo "find-seed: none in $seed-$b_end" >&2
  seed=$(( b_end + 1 ))
done
exit 1
