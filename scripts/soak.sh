#!/usr/bin/env bash
# Runs simulation seeds for as long as it is told to and prints every
# failing seed (with its invariant and trace path).
#   scripts/soak.sh [SECONDS] [FIRST_SEED] [-- extra leafguard simulate args]
# Default: 600 s from seed 1000. Exit status 1 if any seed failed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
seconds=${1:-600}
seed=${2:-1000}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ && "$seed" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/soak.sh [SECONDS] [FIRST_SEED] [-- simulate args]" >&2
  exit 2
fi
if [ ! -x "$BUILD/leafguard" ]; then
  echo "soak: $BUILD/leafguard is missing; run make test (or make) first" >&2
  exit 2
fi
end=$(( $(date +%s) + seconds ))
ran=0
failed=0
batch=50
while [ "$(date +%s)" -lt "$end" ]; do
  last=$(( seed + batch - 1 ))
  out=$("$BUILD/leafguard" simulate --seeds "$seed-$last" "$@" 2>/dev/null) || true
  grep '^seed .*FAIL' <<<"$out" || true
  failed=$(( failed + $(grep -c '^seed .*FAIL' <<<"$out" || true) ))
  ran=$(( ran + batch ))
  seed=$(( last + 1 ))
  echo "soak: $ran seeds run, $failed failed (next seed $seed)"
done
[ "$failed" -eq 0 ]
