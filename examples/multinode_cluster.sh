#!/usr/bin/env bash
# A multi-node leafguard cluster on loopback, step by step:
#   1. 3 aggregators and 4 leaves, each its own process; the first
#      aggregator adds the other two as voting members;
#   2. the leaves added (redundancy 2) and a database created;
#   3. writes;
#   4. a leaf process killed (SIGKILL): the failover, also in the traces;
#   5. the leaf restarted: the recovery;
#   6. the master aggregator killed (SIGKILL): another aggregator is elected
#      and takes every command.
#
#   examples/multinode_cluster.sh [LEAFGUARD] [PORT_BASE]
#
# LEAFGUARD defaults to build/leafguard, PORT_BASE to 24000 (the first
# aggregator; leaves on the next 4 ports, the other aggregators on the 2
# after them). Everything lives in a temporary directory,
# kept when the script ends so that its logs and traces can be read.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
L=${1:-$here/../build/leafguard}
base=${2:-24000}
[ -x "$L" ] || { echo "no leafguard binary at $L (run make first)" >&2; exit 2; }
dir=$(mktemp -d /tmp/leafguard-example-XXXXXX)
pids=()
agg_pids=()
trap 'kill -9 "${pids[@]}" "${agg_pids[@]}" 2> /dev/null || true' EXIT

step() { printf '\n== %s\n' "$*"; }
at=$base # the aggregator the console talks to
sql() { echo "leafguard:$at> $1"; "$L" sql --port "$at" -e "$1"; }
wait_state() { # leaf port, state: poll SHOW LEAVES (10 s at most)
  for _ in $(seq 500); do
    "$L" sql --port "$at" -e "SHOW LEAVES" | grep -q "| $1 .*| $2 " && return 0
    sleep 0.02
  done
  echo "leaf $1 did not become $2" >&2
  exit 1
}

step "1. start 3 aggregators and 4 leaves (logs and traces in $dir)"
"$L" master-aggregator --port "$base" --data-dir "$dir/ma" \
  --trace "$dir/ma.trace" > "$dir/ma.log" 2>&1 &
pids+=($!)
for i in 5 6; do
  "$L" aggregator --port $((base + i)) --data-dir "$dir/agg$i" \
    --trace "$dir/agg$i.trace" > "$dir/agg$i.log" 2>&1 &
  agg_pids+=($!)
done
for i in 1 2 3 4; do
  "$L" leaf --port $((base + i)) --data-dir "$dir/leaf$i" \
    --trace "$dir/leaf$i.trace" > "$dir/leaf$i.log" 2>&1 &
  pids+=($!)
done
for p in $base $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) \
  $((base + 5)) $((base + 6)); do
  until (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; do sleep 0.02; done
done
head -n 1 "$dir/ma.log" "$dir/agg5.log" "$dir/leaf1.log"
# The port opens before the first aggregator has elected itself master
# aggregator (a few ms later): until then cluster statements get ERROR 2013.
for _ in $(seq 250); do
  "$L" sql --port "$base" -e "SHOW AGGREGATORS" > /dev/null 2>&1 && break
  sleep 0.02
done
sql "ADD AGGREGATOR '127.0.0.1':$((base + 5))"
sql "ADD AGGREGATOR '127.0.0.1':$((base + 6))"
sql "SHOW AGGREGATORS"

step "2. add the leaves (redundancy 2: pairs across two groups), create a database"
sql "SET GLOBAL redundancy_level = 2"
for i in 1 2 3 4; do sql "ADD LEAF '127.0.0.1':$((base + i))"; done
sql "CREATE DATABASE shop"
sql "SHOW LEAVES"

step "3. write"
sql "INSERT INTO shop VALUES ('apple','3'),('pear','5'),('plum','7'),('fig','2'),('kiwi','9'),('lime','4')"
sql "SHOW PARTITIONS ON shop"

step "4. kill leaf 127.0.0.1:$((base + 1)) with SIGKILL"
killed_at=$(date +%s%N)
kill -9 "${pids[1]}"
wait_state $((base + 1)) offline
echo "(offline $(( ($(date +%s%N) - killed_at) / 1000000 )) ms after the kill)"
grep -h "LeafOffline\|ReplicasPromoted" "$dir/ma.log" | sed 's/^/ma log: /'
sql "SHOW PARTITIONS ON shop"
sql "SELECT COUNT(*) FROM shop"
sql "INSERT INTO shop VALUES ('date','8')"
echo
echo "The failover in the traces (leafguard trace): the aggregator sends the"
echo "pair one LeafOrdersRequest, which it hands on to its instances:"
"$L" trace "$dir/ma.trace" --type LeafOrdersRequest | head -n 4
"$L" trace "$dir/leaf2.trace" --type PromoteRequest | head -n 6
"$L" trace "$dir/ma.trace" --type LeafOrdersReply | head -n 4

step "5. restart the leaf: it comes back as replica of its pair's new masters"
"$L" leaf --port $((base + 1)) --data-dir "$dir/leaf1" \
  --trace "$dir/leaf1.trace" >> "$dir/leaf1.log" 2>&1 &
pids[1]=$!
wait_state $((base + 1)) online
for _ in $(seq 500); do
  "$L" sql --port "$base" -e "CHECK PARTITIONS ON shop" | grep -q catching_up || break
  sleep 0.02
done
grep -h "LeafBack\|LeafAttached" "$dir/ma.log" | sed 's/^/ma log: /'
sql "CHECK PARTITIONS ON shop"
sql "SELECT * FROM shop"

step "6. kill the master aggregator 127.0.0.1:$base with SIGKILL"
killed_at=$(date +%s%N)
kill -9 "${pids[0]}"
at=$((base + 5)) # any aggregator takes statements: it forwards them
for _ in $(seq 500); do
  "$L" sql --port "$at" -e "SHOW AGGREGATORS" 2> /dev/null \
    | grep -q "| online *| 1 " && break
  sleep 0.02
done
echo "(a new master aggregator $(( ($(date +%s%N) - killed_at) / 1000000 )) ms after the kill)"
sql "SHOW AGGREGATORS"
grep -h "MasterAggregatorElected" "$dir"/agg*.log | sed 's/^/aggregator log: /'
sql "INSERT INTO shop VALUES ('lemon','6')"
sql "SELECT COUNT(*) FROM shop"
sql "SHOW LEAVES"

echo
echo "Logs and traces: $dir (merge them: $L trace $dir/*.trace --html out.html)"
