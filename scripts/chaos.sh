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
# With AGGREGATORS=3, two more aggregator processes (PORT_BASE+11, +12)
# are added as voting members, the clients follow the master aggregator
# through all three, and one round in three (and the last, if none did)
# also sends SIGKILL or SIGSTOP to the master aggregator's process at the
# same moment.
#
#   scripts/chaos.sh ROUNDS
#   LEAFGUARD   the leafguard binary (default: build/leafguard of this tree)
#   PORT_BASE   first of the ports (default 23000)
#   AGGREGATORS 1 (default) or 3
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
AGGREGATORS=${AGGREGATORS:-1}
[[ "$AGGREGATORS" =~ ^[13]$ ]] || {
  echo "chaos: AGGREGATORS is 1 or 3, not '$AGGREGATORS'" >&2
  exit 2
}
SEED=${SEED:-$(( ($(date +%s%N) / 1000) % 1000000000 ))}
RANDOM=$SEED
WORK_NAME=leafguard-chaos
source "$root/tests/integration/lib.sh"

history_pid=""
history_checked=""
agg_faults=0
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
  for name in "${!PIDS[@]}"; do kill -CONT "${PIDS[$name]}" 2> /dev/null || true; done
  stop_history || true
  echo "seed $SEED; history and logs kept in $WORK" >&2
  exit 1
}

# nodes_alive WHEN: fails when a node process ended by itself (a crash:
# the rounds restart the processes they killed).
nodes_alive() {
  local name rc
  for name in ma leaf1 leaf2 leaf3 leaf4 $(extra_aggregators); do
    kill -0 "${PIDS[$name]}" 2> /dev/null && continue
    rc=0
    wait "${PIDS[$name]}" 2> /dev/null || rc=$?
    chaos_fail "$1: $name exited by itself (status $rc); see $WORK/$name.log"
  done
}

# extra_aggregators: the names of the aggregator processes besides ma.
extra_aggregators() { ((AGGREGATORS == 3)) && echo agg1 agg2 || true; }
# process_of PORT: the PIDS name of the aggregator process on PORT.
process_of() {
  case $1 in
    "$PORT_BASE") echo ma ;;
    "$(agg_port 1)") echo agg1 ;;
    *) echo agg2 ;;
  esac
}
# restart_aggregator NAME: starts a killed aggregator process again.
restart_aggregator() {
  case $1 in
    ma) MA_PORT=$PORT_BASE start_ma ;;
    agg1) start_agg 1 ;;
    agg2) start_agg 2 ;;
  esac
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
also=()
if ((AGGREGATORS == 3)); then
  for k in 1 2; do
    start_agg $k
    sql "ADD AGGREGATOR '127.0.0.1':$(agg_port $k)" > /dev/null
  done
  also=(--also-aggregators "127.0.0.1:$(agg_port 1),127.0.0.1:$(agg_port 2)")
fi
echo "chaos: $rounds rounds, seed $SEED, $AGGREGATORS aggregators, ports from $PORT_BASE, in $WORK"

# 2. The clients.
"$LEAFGUARD" history --port "$MA_PORT" "${also[@]}" --database db --seed "$SEED" \
  --out "$WORK/history.txt" > "$WORK/history.log" 2>&1 &
history_pid=$!
PIDS[history]=$history_pid
# The rounds start once the clients run: the client first reads every key
# through the aggregator it was given, which a round may kill.
start=$(date +%s%N)
until grep -q "^leafguard history: .* clients on db" "$WORK/history.log" 2> /dev/null; do
  kill -0 "$history_pid" 2> /dev/null \
    || chaos_fail "the history client did not start: $(cat "$WORK/history.log")"
  [ "$(ms_since "$start")" -lt 30000 ] \
    || chaos_fail "the history client did not start within 30 s"
  sleep 0.05
done

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
    if ((RANDOM % 2 == 0)); then how[leaf$n]=KILL; else how[leaf$n]=STOP; fi
    what+="${what:+, }SIG${how[leaf$n]} leaf $n"
  done
  names=()
  for n in "${victims[@]}"; do names+=("leaf$n"); done
  # (In the last round at the latest, so that every run has one.)
  if ((AGGREGATORS == 3 && (RANDOM % 3 == 0 || (round == rounds && agg_faults == 0)))); then
    # The master aggregator's process too, at the same moment.
    master=$(sql "SHOW AGGREGATORS" | awk -F'|' '$5 ~ /1/ && $4 ~ /online/ { gsub(/ /, "", $3); print $3 }')
    if [ -n "$master" ]; then
      agg=$(process_of "$master")
      if ((RANDOM % 2 == 0)); then how[$agg]=KILL; else how[$agg]=STOP; fi
      names+=("$agg")
      what+=", SIG${how[$agg]} the master aggregator ($agg)"
      agg_faults=$((agg_faults + 1))
    fi
  fi
  echo "round $round/$rounds: $what for $down_ms ms"
  for name in "${names[@]}"; do
    kill -"${how[$name]}" "${PIDS[$name]}"
    if [ "${how[$name]}" = KILL ]; then
      kills=$((kills + 1))
      { wait "${PIDS[$name]}" || true; } 2> /dev/null
    else
      stops=$((stops + 1))
    fi
  done
  # Statements go to an aggregator that runs (any one forwards them).
  for port in $PORT_BASE $( ((AGGREGATORS == 3)) && echo "$(agg_port 1) $(agg_port 2)"); do
    [ -z "${how[$(process_of "$port")]:-}" ] && { MA_PORT=$port; break; }
  done
  sleep "$((down_ms / 1000)).$(printf '%03d' $((down_ms % 1000)))"
  for name in "${names[@]}"; do
    if [ "${how[$name]}" = KILL ]; then
      case $name in
        leaf*) start_leaf "${name#leaf}" ;;
        *) restart_aggregator "$name" ;;
      esac
    else
      kill -CONT "${PIDS[$name]}"
    fi
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
aggregator_logs=("$WORK/ma.log")
((AGGREGATORS == 1)) || aggregator_logs+=("$WORK/agg1.log" "$WORK/agg2.log")
offline=$(cat "${aggregator_logs[@]}" | grep -c "LeafOffline" || true)
# One line per leaf's answer: "ReplicasPromoted ... answered: N promoted".
promoted=$(cat "${aggregator_logs[@]}" \
  | sed -n 's/.*ReplicasPromoted.* answered: \([0-9]*\) promoted.*/\1/p' \
  | awk '{ n += $1 } END { print n + 0 }')

# 5. The summary.
echo "chaos: PASS: $rounds rounds (seed $SEED; $kills SIGKILL, $stops SIGSTOP," \
  "$doubles with two leaves down, $agg_faults with the master aggregator" \
  "down too; the aggregators saw a leaf offline $offline" \
  "times and promoted $promoted replicas); $(head -n 1 "$WORK/check.txt");" \
  "$copies copies in sync with their masters"
