#!/usr/bin/env bash
# The Redis peer of bench/mysql: a Redis master and an asynchronous replica
# (`replicaof`) on loopback, no persistence, measured with redis-benchmark,
# so that leafguard's figures have a well-known system beside them, run on
# the same machine in the same run.
#
#   bench/peers/redis.sh unpipelined N [REQUESTS]
#       redis-benchmark -P 1 -c N -t set,get; prints redis_set_per_s=,
#       redis_get_per_s= and their p50/p99 latencies in ms
#   bench/peers/redis.sh pipelined N DEPTH [REQUESTS]
#       redis-benchmark -P DEPTH -c N -t set; prints redis_set_per_s= and
#       its latencies
#
# Steps:
#   1. Installs redis-server and redis-tools when missing
#      (scripts/install-deps.sh).
#   2. Starts the master and the replica on free loopback ports in a temp
#      dir (REDIS_MASTER_PORT / REDIS_REPLICA_PORT pick them; a busy port
#      given that way is an error), `save ""`, `appendonly no`.
#   3. Waits until the replica is in sync (master_link_status:up on the
#      replica, the replica online on the master).
#   4. Runs redis-benchmark against the master (keys from 100000, 16-byte
#      values) and prints one `name=value` line per figure on stdout.
#   5. Stops both servers and removes the temp dir on any exit.
#
# Everything but the figures goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

usage() {
  echo "usage: $0 unpipelined N [REQUESTS]" >&2
  echo "       $0 pipelined N DEPTH [REQUESTS]" >&2
  exit 2
}

is_count() {
  [[ "$1" =~ ^[1-9][0-9]*$ ]]
}

mode="${1:-}"
case "$mode" in
  unpipelined)
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
    clients="$2"
    depth=1
    requests="${3:-200000}"
    tests=set,get
    ;;
  pipelined)
    if [ $# -lt 3 ] || [ $# -gt 4 ]; then usage; fi
    clients="$2"
    depth="$3"
    requests="${4:-1000000}"
    tests="set"
    ;;
  *)
    usage
    ;;
esac
for n in "$clients" "$depth" "$requests"; do
  is_count "$n" || { echo "redis.sh: '$n' is not a positive count" >&2; usage; }
done

# 1. Packages.
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark \
    >/dev/null || ! command -v redis-cli >/dev/null; then
  "$root/scripts/install-deps.sh" redis-server redis-tools >&2
fi

# 2. Servers. Every process started here is stopped on exit, however the
# script ends.
tmp="$(mktemp -d /tmp/lg-redis-peer-XXXXXX)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    # A server that ignores SIGTERM for 5 s is killed.
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_busy() {
  # Something accepts on the port, or holds it in LISTEN.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  if command -v ss >/dev/null; then
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
  fi
  return 1
}

free_port() {
  # A random port out of the ephemeral range that nothing holds; `avoid`
  # keeps the master's port from being picked for the replica too.
  local avoid="${1:-0}" p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 20000))
    [ "$p" != "$avoid" ] && ! port_busy "$p" && { echo "$p"; return 0; }
  done
  echo "redis.sh: found no free loopback port in 20000-39999" >&2
  return 1
}

pick_port() {
  # $1: the variable that may name the port; $2: a port to avoid.
  local wanted="${!1:-}"
  if [ -n "$wanted" ]; then
    if port_busy "$wanted"; then
      echo "redis.sh: port $wanted ($1) is busy" >&2
      return 1
    fi
    echo "$wanted"
  else
    free_port "$2"
  fi
}

start_server() {
  # $1: name, $2: port, then extra redis-server options.
  local name="$1" port="$2"
  shift 2
  mkdir -p "$tmp/$name"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp/$name" \
    --save "" --appendonly no --daemonize no --protected-mode yes \
    --logfile "$tmp/$name.log" "$@" </dev/null >/dev/null 2>&1 &
  pids+=("$!")
  local pid="$!"
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "redis.sh: the $name redis-server on port $port exited:" >&2
      tail -n 5 "$tmp/$name.log" >&2 || true
      return 1
    fi
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "redis.sh: the $name redis-server on port $port does not answer" \
       "after 10 s" >&2
  tail -n 5 "$tmp/$name.log" >&2 || true
  return 1
}

master_port="$(pick_port REDIS_MASTER_PORT 0)"
# No wait for more replicas before a diskless full sync (5 s by default).
start_server master "$master_port" --repl-diskless-sync-delay 0
replica_port="$(pick_port REDIS_REPLICA_PORT "$master_port")"
start_server replica "$replica_port" --replicaof 127.0.0.1 "$master_port"

# 3. Sync.
info_field() {
  # $1: port, $2: field of INFO replication.
  redis-cli -p "$1" info replication 2>/dev/null | tr -d '\r' \
    | sed -n "s/^$2://p"
}
synced=no
for _ in $(seq 300); do
  if [ "$(info_field "$replica_port" master_link_status)" = up ] \
      && [ "$(info_field "$replica_port" master_sync_in_progress)" = 0 ] \
      && info_field "$master_port" slave0 | grep -q 'state=online'; then
    synced=yes
    break
  fi
  sleep 0.1
done
if [ "$synced" != yes ]; then
  echo "redis.sh: the replica on port $replica_port is not in sync with" \
       "the master on port $master_port after 30 s" >&2
  tail -n 5 "$tmp/replica.log" >&2 || true
  exit 1
fi
echo "redis.sh: master on $master_port, replica on $replica_port in sync;" \
     "redis-benchmark -P $depth -c $clients -t $tests -n $requests" \
     "-r 100000 -d 16" >&2

# 4. Benchmark. CSV: "test","rps","avg_latency_ms","min_latency_ms",
# "p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms".
# In the background with `wait`: a signal then stops the script (and, through
# cleanup, the benchmark) at once, not when a command substitution ends.
redis-benchmark -h 127.0.0.1 -p "$master_port" -P "$depth" -c "$clients" \
  -t "$tests" -n "$requests" -r 100000 -d 16 --csv </dev/null \
  >"$tmp/benchmark.csv" 2>"$tmp/benchmark.err" &
pids=("$!" "${pids[@]}")
if ! wait "$!"; then
  echo "redis.sh: redis-benchmark failed:" >&2
  cat "$tmp/benchmark.err" "$tmp/benchmark.csv" >&2
  exit 1
fi
csv="$(cat "$tmp/benchmark.csv")"
printed=0
while IFS=, read -r test rps _avg _min p50 _p95 p99 _rest; do
  test="${test//\"/}"
  rps="${rps//\"/}"
  p50="${p50//\"/}"
  p99="${p99//\"/}"
  case "$test" in
    SET) name="set" ;;
    GET) name="get" ;;
    *) continue ;;
  esac
  echo "redis_${name}_per_s=$rps"
  [ -n "$p50" ] && echo "redis_${name}_p50_ms=$p50"
  [ -n "$p99" ] && echo "redis_${name}_p99_ms=$p99"
  printed=$((printed + 1))
done <<<"$csv"
if [ "$printed" -eq 0 ]; then
  echo "redis.sh: no figures in redis-benchmark's output:" >&2
  echo "$csv" >&2
  exit 1
fi
# The replica kept up: how far behind it was when the benchmark ended.
master_offset="$(info_field "$master_port" master_repl_offset)"
replica_offset="$(info_field "$replica_port" slave_repl_offset)"
if [ -n "$master_offset" ] && [ -n "$replica_offset" ]; then
  echo "redis_replica_lag_bytes=$((master_offset - replica_offset))"
fi
