#!/usr/bin/env bash
# Chaos: real leafguard processes, real signals, and a client whose history
# is held to linearizability by the same checker as the simulation's.
#   1. Starts a master aggregator and 4 leaves on loopback (ports PORT_BASE
#      and PORT_BASE+1..4), in redundancy 2 (leaves 1+2 and 3+4 are pairs),
#      and creates database db with 8 partitions WITH SYNC DURABILITY (2
#      masters on each leaf).
#   2. Starts `leafguard history`: 4 sequential clients upsert, delete and
#      read 8 keys for the whole run, streaming their history to a file.
#   3. Each round picks one leaf, or two leaves of different pairs, and sends
#      each SIGKILL or SIGSTOP; after 0.5 to 3 s a killed leaf starts again
#      from its data dir and a stopped one gets SIGCONT. Then it waits
#      (bounded) until every leaf is online and every copy is in sync.
#   4. After the last round the clients run 2 s more, then stop. Their
#      history must be linearizable (`leafguard check-history`), and every
#      copy in CHECK PARTITIONS ON db must be in_sync, with the checksum and
#      position of its master.
#   5. Prints a summary. Any failure exits 1 with the tails of the logs and
#      keeps the work directory (history, logs) under /tmp.
#
#   scripts/chaos.sh ROUNDS
#   LEAFGUARD   the leafguard binary (default: build/leafguard of this tree)
#   PORT_BASE   first of the 5 ports (default 23000)
#   SEED        picks the faults and seeds the clients' choice of operations
#               (default: random; timing is not replayed)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-}
if [[ ! "$rounds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/chaos.sh ROUNDS (a positive number of rounds)" >&2
  exit 2
fi
export LEAFGUARD=${LEAFGUARD:-$root/build/leafguard}
export PORT_BASE=${PORT_BASE:-23000}
[ -x "$LEAFGUARD" ] || {
  echo "chaos: no leafguard binary at $LEAFGUARD (build it, or set LEAFGUARD)" >&2
  exit 2
}
SEED=${SEED:-$(( ($(date +%s%N) / 1000) % 1000000000 ))}
RANDOM=$SEED
WORK_NAME=leafguard-chaos
source "$root/tests/integration/lib.sh"

history_pid=""
history_checked=""
kills=0
stops=0
doubles=0
# Between rounds: every leaf online within this many seconds, then every
# copy in sync within this many more.
online_limit=30
sync_limit=60

# ms_since START_NS: milliseconds since START_NS (date +%s%N).
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# all_online: SHOW LEAVES lists 4 leaves, all online.
all_online() {
  local out
  out=$(sql "SHOW LEAVES" 2> /dev/null) || return 1
  [ "$(echo "$out" | awk -F'|' '$7 ~ / online /' | wc -l)" -eq 4 ]
}

# copies_agree: once no write is in flight, every copy has its master's
# position and checksum.
copies_agree() {
  sql "CHECK PARTITIONS ON db" | awk -F'|' '
    $2 ~ /^ *[0-9]+ *$/ {
      gsub(/ /, "", $2); gsub(/ /, "", $7); gsub(/ /, "", $8)
      seen[$2] = seen[$2] " " $7 "/" $8
      if (!($2 in first)) first[$2] = $7 "/" $8
      else if (first[$2] != $7 "/" $8) bad[$2] = 1
    }
    END { for (p in bad) { print "partition " p ":" seen[p]; n++ } exit n > 0 }'
}

# stop_history: stops the clients (their operations in flight complete) and
# checks the history once; prints the checker's report.
stop_history() {
  [ -n "$history_checked" ] && return 0
  history_checked=yes
  if [ -n "$history_pid" ] && kill -0 "$history_pid" 2> /dev/null; then
    kill -TERM "$history_pid"
  fi
  local rc=0
  [ -z "$history_pid" ] || wait "$history_pid" || rc=$?
  unset 'PIDS[history]'
  cat "$WORK/history.log"
  [ $rc -eq 0 ] || echo "chaos: the history client exited with status $rc"
  "$LEAFGUARD" check-history "$WORK/history.txt" > "$WORK/check.txt" 2>&1 \
    || rc=$((rc == 0 ? 1 : rc))
  cat "$WORK/check.txt"
  return $rc
}

# chaos_fail WHY: reports WHY after checking what history there is.
chaos_fail() {
  echo "FAIL: $*" >&2
  for n in 1 2 3 4; do kill -CONT "${PIDS[leaf$n]}" 2> /dev/null || true; done
  stop_history || true
  echo "seed $SEED; history and logs kept in $WORK" >&2
  exit 1
}

# nodes_alive WHEN: fails when a node process ended by itself (a crash:
# the rounds only signal leaves, and restart the ones they killed).
nodes_alive() {
  local name rc
  for name in ma leaf1 leaf2 leaf3 leaf4; do
    kill -0 "${PIDS[$name]}" 2> /dev/null && continue
    rc=0
    wait "${PIDS[$name]}" 2> /dev/null || rc=$?
    chaos_fail "$1: $name exited by itself (status $rc); see $WORK/$name.log"
  done
}

# recover ROUND: waits until every leaf is online and every copy in sync.
recover() {
  local start
  start=$(date +%s%N)
  until nodes_alive "round $1" && all_online; do
    [ "$(ms_since "$start")" -lt $((online_limit * 1000)) ] \
      || chaos_fail "round $1: a leaf is not online after ${online_limit} s"
    sleep 0.1
  done
  until all_in_sync db 2> /dev/null; do
    [ "$(ms_since "$start")" -lt $(((online_limit + sync_limit) * 1000)) ] \
      || chaos_fail "round $1: copies not in sync after ${sync_limit} s:
$(sql "CHECK PARTITIONS ON db" 2>&1)"
    sleep 0.1
  done
  echo "  recovered in $(ms_since "$start") ms"
}

# 1. The cluster.
four_leaves_r2 "db PARTITIONS 8 WITH SYNC DURABILITY"
# The pairs the rounds rely on: 1+2 and 3+4.
for pair in "1 2" "3 4"; do
  set -- $pair
  sql "SHOW LEAVES" | awk -F'|' -v a="$(leaf_port "$1")" -v b="$(leaf_port "$2")" \
    '$3 ~ " "a" " && $6 ~ " "b" " { found = 1 } END { exit !found }' \
    || fail "leaves $1 and $2 are not a pair: $(sql "SHOW LEAVES")"
done
echo "chaos: $rounds rounds, seed $SEED, ports $PORT_BASE-$((PORT_BASE + 4)), in $WORK"

# 2. The clients.
"$LEAFGUARD" history --port "$MA_PORT" --database db --seed "$SEED" \
  --out "$WORK/history.txt" > "$WORK/history.log" 2>&1 &
history_pid=$!
PIDS[history]=$history_pid

# 3. The rounds.
for ((round = 1; round <= rounds; round++)); do
  kill -0 "$history_pid" 2> /dev/null \
    || chaos_fail "round $round: the history client is gone"
  nodes_alive "round $round"
  first=$((RANDOM % 4 + 1))
  victims=("$first")
  if ((RANDOM % 3 == 0)); then
    # A leaf of the other pair too.
    if ((first <= 2)); then victims+=($((RANDOM % 2 + 3))); else victims+=($((RANDOM % 2 + 1))); fi
    doubles=$((doubles + 1))
  fi
  down_ms=$((500 + RANDOM % 2500))
  declare -A how=()
  what=""
  for n in "${victims[@]}"; do
    if ((RANDOM % 2 == 0)); then how[$n]=KILL; else how[$n]=STOP; fi
    what+="${what:+, }SIG${how[$n]} leaf $n"
  done
  echo "round $round/$rounds: $what for $down_ms ms"
  for n in "${victims[@]}"; do
    kill -"${how[$n]}" "${PIDS[leaf$n]}"
    if [ "${how[$n]}" = KILL ]; then
      kills=$((kills + 1))
      { wait "${PIDS[leaf$n]}" || true; } 2> /dev/null
    else
      stops=$((stops + 1))
    fi
  done
  sleep "$((down_ms / 1000)).$(printf '%03d' $((down_ms % 1000)))"
  for n in "${victims[@]}"; do
    if [ "${how[$n]}" = KILL ]; then start_leaf "$n"; else kill -CONT "${PIDS[leaf$n]}"; fi
  done
  recover "$round"
  unset how
done

# 4. The history and the copies.
sleep 2
nodes_alive "after the rounds"
stop_history || chaos_fail "the history is not linearizable, or could not be checked"
ok_ops=$(sed -n 's/^history: .*(\([0-9]*\) ok,.*/\1/p' "$WORK/check.txt")
[ "${ok_ops:-0}" -gt 0 ] || chaos_fail "no operation of the clients succeeded"
start=$(date +%s%N)
until all_in_sync db 2> /dev/null && copies_agree > "$WORK/agree.txt"; do
  [ "$(ms_since "$start")" -lt $((sync_limit * 1000)) ] \
    || chaos_fail "copies differ after the clients stopped:
$(cat "$WORK/agree.txt")
$(sql "CHECK PARTITIONS ON db" 2>&1)"
  sleep 0.2
done
copies=$(sql "CHECK PARTITIONS ON db" | grep -c "in_sync")
offline=$(grep -c "LeafOffline" "$WORK/ma.log" || true)
promoted=$(grep -c "ReplicaPromoted" "$WORK/ma.log" || true)

# 5. The summary.
echo "chaos: PASS: $rounds rounds (seed $SEED; $kills SIGKILL, $stops SIGSTOP," \
  "$doubles with two leaves down; the aggregator saw a leaf offline $offline" \
  "times and promoted $promoted replicas); $(head -n 1 "$WORK/check.txt");" \
  "$copies copies in sync with their masters"
