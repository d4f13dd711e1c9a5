#!/usr/bin/env bash
# The HTTP endpoint of node processes: /metrics passes `promtool check
# metrics` and its values move as a leaf is killed and comes back;
# /api/cluster is JSON on the master aggregator and on a leaf; bad requests
# get a 4xx and the node goes on serving.
source "$(dirname "$0")/lib.sh"
command -v promtool > /dev/null \
  || fail "promtool is missing (Debian's prometheus, scripts/install-deps.sh)"
MA_HTTP=$((PORT_BASE + 15))
LEAF_HTTP=$((PORT_BASE + 16))
start_ma --http-port "$MA_HTTP"
start_leaf 1 --http-port "$LEAF_HTTP"
for n in 2 3 4; do start_leaf $n; done
sql "SET GLOBAL redundancy_level = 2" > /dev/null
for n in 1 2 3 4; do sql "ADD LEAF '127.0.0.1':$(leaf_port $n)" > /dev/null; done
sql "CREATE DATABASE db PARTITIONS 8" > /dev/null
insert_rows db 1 100

scrape() { curl -sf "http://127.0.0.1:$1/metrics"; }
# metric PORT 'NAME{LABELS}': its value (empty when absent).
metric() {
  scrape "$1" | awk -v m="$2" 'index($0, m" ") == 1 { print $2 }'
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
metric_above() { local v; v=$(metric "$1" "$2"); [ -n "$v" ] && [ "${v%.*}" -gt "$3" ]; }

for port in "$MA_HTTP" "$LEAF_HTTP"; do
  scrape "$port" > "$WORK/metrics.$port" || fail "no /metrics on $port"
  promtool check metrics < "$WORK/metrics.$port" \
    || fail "promtool rejects /metrics on $port: $(promtool check metrics < "$WORK/metrics.$port" 2>&1)"
done
pass "/metrics of the master aggregator and of a leaf pass promtool"

leaf1="127.0.0.1:$(leaf_port 1)"
metric_above "$LEAF_HTTP" "leafguard_writes_total{leaf=\"$leaf1\"}" 0 \
  || fail "leaf 1 counts no writes: $(grep writes_total "$WORK/metrics.$LEAF_HTTP")"
grep -q "^leafguard_write_latency_seconds_bucket{leaf=\"$leaf1\",le=\"+Inf\"}" \
  "$WORK/metrics.$LEAF_HTTP" || fail "no write latency histogram"
grep -q "^leafguard_replication_lag_bytes{database=\"db\"" \
  "$WORK/metrics.$LEAF_HTTP" || fail "no replication lag of leaf 1's masters"
grep -q "^leafguard_leaf_max_replication_lag_bytes{leaf=\"$leaf1\"}" \
  "$WORK/metrics.$LEAF_HTTP" || fail "no largest lag of leaf 1"
grep -q "^leafguard_process_resident_memory_bytes [1-9]" \
  "$WORK/metrics.$LEAF_HTTP" || fail "no resident memory"
metric_is "$MA_HTTP" 'leafguard_partitions{state="online"}' 8 \
  || fail "8 partitions should be online: $(grep partitions "$WORK/metrics.$MA_HTTP")"
metric_is "$MA_HTTP" 'leafguard_leaves{state="online"}' 4 || fail "4 leaves online"
pass "writes, latency, lag, memory, partitions and leaves are counted"

before=$(metric "$MA_HTTP" leafguard_failovers_total)
kill -9 "${PIDS[leaf2]}"
wait_for "leaf 2 offline in /metrics" 5 \
  metric_is "$MA_HTTP" 'leafguard_leaves{state="offline"}' 1
wait_for "failovers_total counts the kill" 5 \
  metric_is "$MA_HTTP" leafguard_failovers_total $((${before:-0} + 1))
wait_for "the failover's duration observed" 5 \
  metric_is "$MA_HTTP" leafguard_failover_duration_seconds_count 1
metric_above "$MA_HTTP" 'leafguard_partitions{state="under_replicated"}' 0 \
  || fail "no partition under-replicated with leaf 2 dead"
metric_is "$MA_HTTP" 'leafguard_partitions{state="offline"}' 0 \
  || fail "a partition offline in redundancy 2 after one leaf died"
sql "SHOW FAILOVERS" | grep -q "$(leaf_port 2).*done" \
  || fail "SHOW FAILOVERS does not show leaf 2's failover done: $(sql 'SHOW FAILOVERS')"
pass "a killed leaf moves leaves, partitions and failover metrics"

start_leaf 2
wait_for "leaf 2 online again in /metrics" 20 \
  metric_is "$MA_HTTP" 'leafguard_leaves{state="online"}' 4
wait_for "every partition in sync again" 30 \
  metric_is "$MA_HTTP" 'leafguard_partitions{state="under_replicated"}' 0
pass "a restarted leaf moves them back"

for port in "$MA_HTTP" "$LEAF_HTTP"; do
  curl -sf "http://127.0.0.1:$port/api/cluster" > "$WORK/cluster.json" \
    || fail "no /api/cluster on $port"
  /usr/bin/python3 - "$WORK/cluster.json" << 'PY' || fail "bad /api/cluster on $port"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["errors"] == [], c["errors"]
assert len(c["leaves"]) == 4, c["leaves"]
assert len(c["partitions"]) == 8, len(c["partitions"])
assert all(len(p["instances"]) == 2 for p in c["partitions"])
assert any(f["status"] == "done" for f in c["failovers"]), c["failovers"]
PY
done
pass "/api/cluster on the master aggregator and on a leaf"

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(status "http://127.0.0.1:$MA_HTTP/nope")" = 404 ] || fail "unknown path"
[ "$(status -X POST "http://127.0.0.1:$MA_HTTP/metrics")" -ge 400 ] \
  || fail "POST /metrics"
[ "$(status "http://127.0.0.1:$LEAF_HTTP/")" = 404 ] \
  || fail "a leaf serves no cluster page"
[ "$(status -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' a)" \
      "http://127.0.0.1:$MA_HTTP/metrics")" -ge 400 ] || fail "a huge header"
reply=$( (exec 3<> "/dev/tcp/127.0.0.1/$MA_HTTP"
          printf 'GARBAGE \x01\x02\r\n\r\n' >&3; timeout 5 cat <&3) 2> /dev/null \
        || true)
echo "$reply" | head -1 | grep -q "^HTTP/1.1 4" \
  || fail "garbage bytes: '$(echo "$reply" | head -1)'"
scrape "$MA_HTTP" > /dev/null || fail "the endpoint stopped after bad requests"
pass "bad requests get a 4xx and the endpoint goes on"
