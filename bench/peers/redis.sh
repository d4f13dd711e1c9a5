#!/usr/bin/env bash
# The Redis peer of leafguard's benchmarks: a Redis master and an
# asynchronous replica (`replicaof`) on loopback, no persistence, so that
# leafguard's figures have a well-known system beside them, run on the same
# machine in the same run (bench/mysql and scripts/bench.sh pair them).
#
#   bench/peers/redis.sh unpipelined N [REQUESTS]
#       redis-benchmark -P 1 -c N -t set,get; prints redis_set_per_s=,
#       redis_get_per_s= and their p50/p99 latencies in ms
#   bench/peers/redis.sh pipelined N DEPTH [REQUESTS] [VALUE_BYTES]
#       redis-benchmark -P DEPTH -c N -t set, values of VALUE_BYTES
#       (default 16); prints redis_set_per_s= and its latencies
#   bench/peers/redis.sh failover DOWN_AFTER_MS
#       one redis-sentinel watches the master (quorum 1,
#       down-after-milliseconds DOWN_AFTER_MS); the master is sent SIGSTOP
#       (a hung server), then, on a fresh set-up, SIGKILL; prints
#       sentinel_failover_sigstop_ms= and sentinel_failover_sigkill_ms=, each
#       from the signal to `SENTINEL get-master-addr-by-name` naming the
#       replica (polled every 10 ms)
#   bench/peers/redis.sh resync MIB
#       a master filled with MIB MiB (DEBUG POPULATE, MIB x 256 keys of 4080
#       bytes), then a replica started with `replicaof`: a full resync
#       (diskless on the master, no delay); prints redis_resync_ms= (from the
#       replica's start to master_link_status:up and
#       master_sync_in_progress:0, polled every 10 ms) and
#       redis_resync_mb_per_s= (10^6 bytes of the RDB stream the replica read)
#
# Steps:
#   1. Installs redis-server and redis-tools (and redis-sentinel for
#      `failover`) when missing (scripts/install-deps.sh).
#   2. Starts the master and the replica on free loopback ports in a temp
#      dir (REDIS_MASTER_PORT / REDIS_REPLICA_PORT / REDIS_SENTINEL_PORT pick
#      them; a busy port given that way is an error), `save ""`,
#      `appendonly no`.
#   3. Waits until the replica is in sync (master_link_status:up on the
#      replica, the replica online on the master).
#   4. Measures (redis-benchmark against the master, a Sentinel failover, or
#      a full resync) and prints one `name=value` line per figure on stdout.
#   5. Stops every server and removes the temp dir on any exit.
#
# Everything but the figures goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

usage() {
  echo "usage: $0 unpipelined N [REQUESTS]" >&2
  echo "       $0 pipelined N DEPTH [REQUESTS] [VALUE_BYTES]" >&2
  echo "       $0 failover DOWN_AFTER_MS" >&2
  echo "       $0 resync MIB" >&2
  exit 2
}

is_count() {
  [[ "$1" =~ ^[1-9][0-9]*$ ]]
}

mode="${1:-}"
counts=()
value_bytes=16
case "$mode" in
  unpipelined)
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
    clients="$2"
    depth=1
    requests="${3:-200000}"
    tests=set,get
    counts=("$clients" "$depth" "$requests")
    ;;
  pipelined)
    if [ $# -lt 3 ] || [ $# -gt 5 ]; then usage; fi
    clients="$2"
    depth="$3"
    requests="${4:-1000000}"
    value_bytes="${5:-16}"
    tests="set"
    counts=("$clients" "$depth" "$requests" "$value_bytes")
    ;;
  failover)
    if [ $# -ne 2 ]; then usage; fi
    down_after_ms="$2"
    counts=("$down_after_ms")
    ;;
  resync)
    if [ $# -ne 2 ]; then usage; fi
    mib="$2"
    counts=("$mib")
    ;;
  *)
    usage
    ;;
esac
for n in "${counts[@]}"; do
  is_count "$n" || { echo "redis.sh: '$n' is not a positive count" >&2; usage; }
done

# 1. Packages.
packages=(redis-server redis-tools)
commands=(redis-server redis-benchmark redis-cli)
if [ "$mode" = failover ]; then
  packages+=(redis-sentinel)
  commands+=(redis-sentinel)
fi
for c in "${commands[@]}"; do
  if ! command -v "$c" >/dev/null; then
    "$root/scripts/install-deps.sh" "${packages[@]}" >&2
    break
  fi
done

# 2. Servers. Every process started here is stopped on exit, however the
# script ends.
tmp="$(mktemp -d /tmp/lg-redis-peer-XXXXXX)"
pids=()

stop_all() {
  # Stops every process started so far; a stopped one (SIGSTOP) is
  # continued first so that it can take SIGTERM.
  local pid
  for pid in "${pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
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
  pids=()
}
cleanup() {
  stop_all
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
  # A random port out of the ephemeral range that nothing holds and that is
  # not among the ports given (taken by servers of this run).
  local p a taken
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 20000))
    taken=no
    for a in "$@"; do
      [ "$p" = "$a" ] && taken=yes
    done
    [ "$taken" = no ] && ! port_busy "$p" && { echo "$p"; return 0; }
  done
  echo "redis.sh: found no free loopback port in 20000-39999" >&2
  return 1
}

pick_port() {
  # $1: the variable that may name the port; then ports to avoid.
  local var="$1" wanted="${!1:-}"
  shift
  if [ -n "$wanted" ]; then
    if port_busy "$wanted"; then
      echo "redis.sh: port $wanted ($var) is busy" >&2
      return 1
    fi
    echo "$wanted"
  else
    free_port "$@"
  fi
}

now_us() {
  # Sets `now` to the wall clock in microseconds, without a fork: the clock
  # of the timestamps in Redis's log lines.
  local t="$EPOCHREALTIME"
  now="${t/[.,]/}"
}

launch_server() {
  # $1: name, $2: port, then extra redis-server options. Does not wait.
  local name="$1" port="$2"
  shift 2
  mkdir -p "$tmp/$name"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp/$name" \
    --save "" --appendonly no --daemonize no --protected-mode yes \
    --logfile "$tmp/$name.log" "$@" </dev/null >/dev/null 2>&1 &
  pids+=("$!")
}

wait_answering() {
  # $1: name, $2: port, $3: pid, $4: log file. Waits up to 10 s for PONG.
  local name="$1" port="$2" pid="$3" log="$4"
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "redis.sh: the $name on port $port exited:" >&2
      tail -n 5 "$log" >&2 || true
      return 1
    fi
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "redis.sh: the $name on port $port does not answer after 10 s" >&2
  tail -n 5 "$log" >&2 || true
  return 1
}

start_server() {
  # $1: name, $2: port, then extra redis-server options. Waits for PONG.
  launch_server "$@"
  wait_answering "$1 redis-server" "$2" "${pids[-1]}" "$tmp/$1.log"
}

info_field() {
  # $1: port, $2: field, $3: INFO section (replication by default).
  redis-cli -p "$1" info "${3:-replication}" 2>/dev/null | tr -d '\r' \
    | sed -n "s/^$2://p"
}

wait_in_sync() {
  # $1: master port, $2: replica port. Up to 30 s.
  for _ in $(seq 300); do
    if [ "$(info_field "$2" master_link_status)" = up ] \
        && [ "$(info_field "$2" master_sync_in_progress)" = 0 ] \
        && info_field "$1" slave0 | grep -q 'state=online'; then
      return 0
    fi
    sleep 0.1
  done
  echo "redis.sh: the replica on port $2 is not in sync with the master on" \
       "port $1 after 30 s" >&2
  tail -n 5 "$tmp/replica.log" >&2 || true
  return 1
}

start_pair() {
  # Sets master_port, master_pid and replica_port.
  master_port="$(pick_port REDIS_MASTER_PORT)"
  # No wait for more replicas before a diskless full sync (5 s by default).
  start_server master "$master_port" --repl-diskless-sync-delay 0
  master_pid="${pids[-1]}"
  replica_port="$(pick_port REDIS_REPLICA_PORT "$master_port")"
  start_server replica "$replica_port" --replicaof 127.0.0.1 "$master_port"
  wait_in_sync "$master_port" "$replica_port"
}

log_timeline() {
  # $1: a Redis log file, $2: an extended regex of the lines wanted, $3: the
  # time they are counted from, in microseconds. Prints each line, less its
  # pid and date, in ms from $3, on stderr.
  local line stamp ms
  grep -E "$2" "$1" 2>/dev/null | while IFS= read -r line; do
    # "1234:X 07 Dec 2026 20:56:03.611 # +sdown master lgpeer 127.0.0.1 1234"
    stamp="$(cut -d' ' -f2-5 <<<"$line")"
    ms="$(date -d "$stamp" +%s%3N 2>/dev/null)" || continue
    printf '  %+6d ms  %s\n' "$((ms - $3 / 1000))" \
      "$(cut -d' ' -f7- <<<"$line")" >&2
  done
}

# 4a. redis-benchmark against the master.
run_benchmark() {
  start_pair
  echo "redis.sh: master on $master_port, replica on $replica_port in sync;" \
       "redis-benchmark -P $depth -c $clients -t $tests -n $requests" \
       "-r 100000 -d $value_bytes" >&2

  # CSV: "test","rps","avg_latency_ms","min_latency_ms",
  # "p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms".
  # In the background with `wait`: a signal then stops the script (and,
  # through cleanup, the benchmark) at once, not when a command substitution
  # ends.
  redis-benchmark -h 127.0.0.1 -p "$master_port" -P "$depth" -c "$clients" \
    -t "$tests" -n "$requests" -r 100000 -d "$value_bytes" --csv </dev/null \
    >"$tmp/benchmark.csv" 2>"$tmp/benchmark.err" &
  pids=("$!" "${pids[@]}")
  if ! wait "$!"; then
    echo "redis.sh: redis-benchmark failed:" >&2
    cat "$tmp/benchmark.err" "$tmp/benchmark.csv" >&2
    exit 1
  fi
  local csv printed=0 test rps _avg _min p50 _p95 p99 _rest name
  csv="$(cat "$tmp/benchmark.csv")"
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
  local master_offset replica_offset
  master_offset="$(info_field "$master_port" master_repl_offset)"
  replica_offset="$(info_field "$replica_port" slave_repl_offset)"
  if [ -n "$master_offset" ] && [ -n "$replica_offset" ]; then
    echo "redis_replica_lag_bytes=$((master_offset - replica_offset))"
  fi
}

# 4b. A Sentinel failover.
sentinel_ready() {
  # $1: sentinel port. The Sentinel sees the master up, and the replica up
  # and linked to it: a failover can pick it.
  local master replicas
  master="$(redis-cli -p "$1" sentinel master lgpeer 2>/dev/null \
            | tr -d '\r')" || return 1
  replicas="$(redis-cli -p "$1" sentinel replicas lgpeer 2>/dev/null \
              | tr -d '\r')" || return 1
  [ "$(grep -A1 -x flags <<<"$master" | sed -n 2p)" = master ] \
    && [ "$(grep -A1 -x flags <<<"$replicas" | sed -n 2p)" = slave ] \
    && [ "$(grep -A1 -x master-link-status <<<"$replicas" | sed -n 2p)" = ok ]
}

failover_once() {
  # $1: STOP or KILL. Sets failover_ms.
  local signal="$1"
  start_pair
  local sentinel_port failover_timeout_ms
  sentinel_port="$(pick_port REDIS_SENTINEL_PORT "$master_port" \
                   "$replica_port")"
  # A failover not over within this is given up: long enough for the
  # replica's promotion (seen in its INFO, asked every 1 s during a
  # failover), short enough not to stall the run.
  failover_timeout_ms=$((down_after_ms * 2 > 3000 ? down_after_ms * 2 : 3000))
  mkdir -p "$tmp/sentinel"
  rm -f "$tmp/sentinel.log"
  # The Sentinel rewrites its config file as it learns: a new one per
  # set-up.
  cat >"$tmp/sentinel.conf" <<EOF
port $sentinel_port
bind 127.0.0.1
daemonize no
dir $tmp/sentinel
logfile $tmp/sentinel.log
sentinel monitor lgpeer 127.0.0.1 $master_port 1
sentinel down-after-milliseconds lgpeer $down_after_ms
sentinel failover-timeout lgpeer $failover_timeout_ms
sentinel parallel-syncs lgpeer 1
EOF
  redis-sentinel "$tmp/sentinel.conf" </dev/null >/dev/null 2>&1 &
  pids+=("$!")
  wait_answering redis-sentinel "$sentinel_port" "${pids[-1]}" \
    "$tmp/sentinel.log"
  local ready=no
  for _ in $(seq 300); do
    if sentinel_ready "$sentinel_port"; then
      ready=yes
      break
    fi
    sleep 0.1
  done
  if [ "$ready" != yes ]; then
    echo "redis.sh: the Sentinel on port $sentinel_port does not see the" \
         "master and its replica up after 30 s" >&2
    tail -n 10 "$tmp/sentinel.log" >&2 || true
    exit 1
  fi
  echo "redis.sh: master on $master_port, replica on $replica_port in sync," \
       "Sentinel on $sentinel_port (quorum 1, down-after-milliseconds" \
       "$down_after_ms, failover-timeout $failover_timeout_ms); SIG$signal" \
       "to the master" >&2
  local t0 addr port deadline
  now_us
  t0="$now"
  kill -"$signal" "$master_pid"
  if [ "$signal" = KILL ]; then
    # Reaped here, with stderr closed: else bash reports the killed job.
    wait "$master_pid" 2>/dev/null || true
  fi
  deadline=$((t0 + (down_after_ms + 60000) * 1000))
  while :; do
    addr="$(redis-cli -p "$sentinel_port" sentinel get-master-addr-by-name \
            lgpeer 2>/dev/null | tr -d '\r')" || true
    now_us
    port="$(sed -n 2p <<<"$addr")"
    [ "$port" = "$replica_port" ] && break
    if [ "$now" -gt "$deadline" ]; then
      echo "redis.sh: the Sentinel still names port ${port:-?}, not the" \
           "replica's $replica_port, $(((now - t0) / 1000000)) s after" \
           "SIG$signal" >&2
      tail -n 20 "$tmp/sentinel.log" >&2 || true
      exit 1
    fi
    sleep 0.01
  done
  failover_ms=$(((now - t0) / 1000))
  echo "redis.sh: SIG$signal: get-master-addr-by-name names the replica" \
       "after $failover_ms ms; the Sentinel's log, from the signal:" >&2
  log_timeline "$tmp/sentinel.log" \
    ' [#*] [+-](sdown|odown|try-failover|vote-for-leader|elected-leader|selected-slave|failover-state-send-slaveof-noone|promoted-slave|failover-state-reconf-slaves|failover-end|switch-master) ' \
    "$t0"
  stop_all
}

run_failover() {
  echo "redis.sh: how Sentinel fails over: it PINGs the master every" \
       "min(1000, down-after) ms; once a PING has gone unanswered for" \
       "down-after-milliseconds ($down_after_ms), from a hung master" \
       "(SIGSTOP) or a dead one (SIGKILL: refused connections) alike, the" \
       "master is subjectively down (+sdown), and with quorum 1 objectively" \
       "down (+odown) at once. The Sentinel then starts a failover in a new" \
       "epoch and asks for votes (+try-failover, +vote-for-leader; alone," \
       "it elects itself: +elected-leader), picks the replica" \
       "(+selected-slave), sends it REPLICAOF NO ONE, and waits to see" \
       "role:master in the replica's INFO (asked every 1 s during a" \
       "failover: +promoted-slave). From then on get-master-addr-by-name" \
       "names the replica." >&2
  failover_once STOP
  local stop_ms="$failover_ms"
  failover_once KILL
  echo "sentinel_failover_sigstop_ms=$stop_ms"
  echo "sentinel_failover_sigkill_ms=$failover_ms"
  echo "sentinel_down_after_ms=$down_after_ms"
}

# 4c. A full resync of a replica started empty.
run_resync() {
  local keys=$((mib * 256)) value_bytes=4080
  master_port="$(pick_port REDIS_MASTER_PORT)"
  # Diskless: the master streams the RDB to the replica's socket without
  # writing it to its disk first, and at once (no wait for more replicas).
  # rdbcompression no: DEBUG POPULATE's values are mostly zero bytes, which
  # LZF would shrink to nearly nothing; the stream then carries every byte,
  # as leafguard's rebuild does.
  start_server master "$master_port" --repl-diskless-sync yes \
    --repl-diskless-sync-delay 0 --rdbcompression no \
    --enable-debug-command local
  echo "redis.sh: master on $master_port (repl-diskless-sync yes," \
       "repl-diskless-sync-delay 0, rdbcompression no); DEBUG POPULATE" \
       "$keys key $value_bytes ($mib MiB of keys and values)" >&2
  redis-cli -p "$master_port" debug populate "$keys" key "$value_bytes" \
    >"$tmp/populate.out" 2>&1 </dev/null &
  pids=("$!" "${pids[@]}")
  if ! wait "$!" || [ "$(tr -d '\r' <"$tmp/populate.out")" != OK ]; then
    echo "redis.sh: DEBUG POPULATE failed:" >&2
    cat "$tmp/populate.out" >&2
    exit 1
  fi
  local dataset_bytes
  dataset_bytes="$(info_field "$master_port" used_memory_dataset memory)"
  replica_port="$(pick_port REDIS_REPLICA_PORT "$master_port")"
  echo "redis.sh: used_memory_dataset $dataset_bytes bytes; starting the" \
       "replica on $replica_port with replicaof (repl-diskless-load" \
       "disabled, the default: it writes the RDB to its disk, then loads it)" \
       >&2
  local t0 pid deadline info synced=no
  now_us
  t0="$now"
  launch_server replica "$replica_port" --replicaof 127.0.0.1 "$master_port"
  pid="${pids[-1]}"
  deadline=$((t0 + 600 * 1000000))
  while :; do
    # One INFO for both fields. A replica loading the RDB still answers it.
    info="$(redis-cli -p "$replica_port" info replication 2>/dev/null \
            | tr -d '\r')" || true
    now_us
    if grep -qx master_link_status:up <<<"$info" \
        && grep -qx master_sync_in_progress:0 <<<"$info"; then
      synced=yes
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "redis.sh: the replica exited:" >&2
      tail -n 10 "$tmp/replica.log" >&2 || true
      exit 1
    fi
    [ "$now" -gt "$deadline" ] && break
    sleep 0.01
  done
  if [ "$synced" != yes ]; then
    echo "redis.sh: the replica is not in sync after 600 s" >&2
    tail -n 10 "$tmp/replica.log" >&2 || true
    exit 1
  fi
  local ms=$(((now - t0) / 1000)) rdb_bytes replica_keys
  [ "$ms" -gt 0 ] || ms=1
  # What the replica read from its master's link: the RDB stream, and a few
  # bytes of handshake.
  rdb_bytes="$(info_field "$replica_port" total_net_repl_input_bytes stats)"
  replica_keys="$(redis-cli -p "$replica_port" dbsize | tr -d '\r')"
  if [ "$replica_keys" != "$keys" ]; then
    echo "redis.sh: the replica holds $replica_keys keys, not $keys" >&2
    exit 1
  fi
  echo "redis.sh: in sync after $ms ms; the replica's log, from its start:" >&2
  log_timeline "$tmp/replica.log" \
    'Full resync|receiving streamed RDB|Loading DB in memory|Done loading RDB|Finished with success' \
    "$t0"
  echo "redis_resync_ms=$ms"
  awk -v b="$rdb_bytes" -v ms="$ms" \
    'BEGIN { printf "redis_resync_mb_per_s=%.0f\n", b / 1e6 / (ms / 1000) }'
  echo "redis_resync_rdb_bytes=$rdb_bytes"
  echo "redis_resync_dataset_bytes=$dataset_bytes"
  echo "redis_resync_keys=$keys"
}

case "$mode" in
  unpipelined|pipelined) run_benchmark ;;
  failover) run_failover ;;
  resync) run_resync ;;
esac
