#!/usr/bin/env bash
# Runs every benchmark and prints its figures. Benchmarks are not tests: they
# measure this machine; see docs/benchmarks.md for how each one measures and
# for dated results.
#
# write_throughput, failover and rebuild each have a Redis peer
# (bench/peers/redis.sh), run right after them, never at the same time (2
# cores), in this same run; a `ratio:` line then sets the leafguard figure,
# read from the benchmark's `result name=value ...` line, beside the peer's:
#   write_throughput R2 writes/s      / Redis pipelined SET/s (16 x 64)
#   failover ISOLATE ms, KILL ms      / Sentinel failover ms after SIGSTOP,
#                                       SIGKILL (down-after-milliseconds =
#                                       leafguard's leaf_failure_timeout_ms)
#   rebuild MB/s                      / Redis full resync MB/s, same MiB
# A peer that fails is reported and the run goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PEER=bench/peers/redis.sh
out="$(mktemp -d /tmp/lg-bench-XXXXXX)"
trap 'rm -rf "$out"' EXIT

result_field() {
  # $1: a benchmark's output, $2: a name in its last `result` line. Prints
  # nothing, and succeeds, when there is none.
  { grep '^result ' "$1" || true; } | tail -n 1 | tr ' ' '\n' \
    | sed -n "s/^$2=//p"
}

result_sizes() {
  # $1: a benchmark's output, $2: a prefix. The N of each $2_N in its last
  # `result` line.
  { grep '^result ' "$1" || true; } | tail -n 1 | tr ' ' '\n' \
    | sed -n "s/^$2_\([0-9][0-9]*\)=.*/\1/p"
}

peer_field() {
  # $1: a peer's output, $2: the name of one of its name=value lines.
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

peer() {
  # $1: output name, then redis.sh's arguments. Its figures go to the
  # terminal and to $out/$1; a failure is said, not fatal.
  local name="$1"
  shift
  echo "== Redis peer: $PEER $* (alone on the machine)"
  if "$PEER" "$@" | tee "$out/$name"; then
    return 0
  fi
  echo "ratio: none for $name: $PEER $* failed"
  return 1
}

ratio() {
  # $1: what leafguard's figure is, $2: it, $3: what the peer's is, $4: it,
  # $5: the unit, $6: a note. Prints "ratio: A x UNIT vs B y UNIT = x/y".
  if [ -z "$2" ] || [ -z "$4" ]; then
    echo "ratio: none for $1 vs $3: a figure is missing"
    return 0
  fi
  awk -v a="$1" -v x="$2" -v b="$3" -v y="$4" -v u="$5" -v note="$6" '
    function fig(v) { return sprintf(v < 100 ? "%.1f" : "%.0f", v) }
    BEGIN {
      if (y + 0 == 0) { printf "ratio: none for %s vs %s: zero\n", a, b; exit }
      r = x / y
      printf "ratio: %s %s%s vs %s %s%s = %s%s\n", a, fig(x), u, b, fig(y), u,
             sprintf(r < 0.1 ? "%.2gx" : "%.2fx", r), note
    }'
}

echo "== write_throughput (16 x 64 in flight, the default set-up)"
"$BUILD/bench/write_throughput" | tee "$out/write_throughput"
# The same 16 x 64 requests in flight: 16 connections, 64 pipelined each,
# and the same writes: 100-byte values over 100,000 keys.
if peer redis_pipelined pipelined 16 64 1000000 100; then
  ratio "write_throughput R2" \
    "$(result_field "$out/write_throughput" r2_writes_per_s)" \
    "Redis pipelined SET" \
    "$(peer_field "$out/redis_pipelined" redis_set_per_s)" "/s" \
    " (higher is faster)"
fi
echo "target: metrics cost $(result_field "$out/write_throughput" \
  metrics_cost_pct)% of R2 writes/s (with against without, same run; at most 2%)"
echo "== write_throughput (16 x 512 in flight)"
"$BUILD/bench/write_throughput" 0.25 512
echo "== failover"
"$BUILD/bench/failover" 16 256 4096 | tee "$out/failover"
# Sentinel's down-after-milliseconds: leafguard's default heartbeat timeout,
# which the failover benchmark runs with.
down_after_ms="$(sed -n \
  's/.*{"leaf_failure_timeout_ms", "\([0-9][0-9]*\)".*/\1/p' \
  config/variables.cpp | head -n 1)"
if [ -z "$down_after_ms" ]; then
  echo "ratio: none for failover: no default leaf_failure_timeout_ms found" \
       "in config/variables.cpp"
elif peer redis_failover failover "$down_after_ms"; then
  stop_ms="$(peer_field "$out/redis_failover" sentinel_failover_sigstop_ms)"
  kill_ms="$(peer_field "$out/redis_failover" sentinel_failover_sigkill_ms)"
  # The sizes the failover benchmark ran: the N of its isolate_ms_N.
  for n in $(result_sizes "$out/failover" isolate_ms); do
    ratio "failover ISOLATE $n masters" \
      "$(result_field "$out/failover" "isolate_ms_$n")" \
      "Sentinel after SIGSTOP (down-after ${down_after_ms} ms)" "$stop_ms" \
      " ms" " (lower is faster)"
    ratio "failover KILL $n masters" \
      "$(result_field "$out/failover" "kill_ms_$n")" \
      "Sentinel after SIGKILL (down-after ${down_after_ms} ms)" "$kill_ms" \
      " ms" " (lower is faster)"
  done
fi
echo "== checkpoint"
"$BUILD/bench/checkpoint" 400000 100
echo "== rebuild"
"$BUILD/bench/rebuild" 1024 | tee "$out/rebuild"
# The size the rebuild loaded, from its result line.
rebuild_mib="$(result_field "$out/rebuild" rebuild_mib)"
if [ -z "$rebuild_mib" ]; then
  echo "ratio: none for rebuild: no rebuild_mib in its result line"
elif peer redis_resync resync "$rebuild_mib"; then
  ratio "rebuild $rebuild_mib MiB" \
    "$(result_field "$out/rebuild" rebuild_mb_per_s)" \
    "Redis full resync $rebuild_mib MiB (RDB stream)" \
    "$(peer_field "$out/redis_resync" redis_resync_mb_per_s)" " MB/s" \
    " (higher is faster)"
fi
echo "== rebalance"
"$BUILD/bench/rebalance" 16 64
echo "== multinode"
"$BUILD/bench/multinode" "$BUILD/leafguard" 5 256 16 256
echo "== mysql (50 connections, one query at a time, beside Redis)"
"$BUILD/bench/mysql" --connections 50 --seconds 10
