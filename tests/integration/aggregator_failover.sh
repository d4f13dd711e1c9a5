#!/usr/bin/env bash
# Three aggregator processes: the first founds the group, two more are added
# with ADD AGGREGATOR. Statements work through any of them. SIGKILL of the
# master aggregator together with a leaf: another aggregator is elected and
# fails the leaf over; the killed one comes back as a follower. SIGSTOP of the
# master aggregator: another is elected. A follower is removed.
source "$(dirname "$0")/lib.sh"
# masters_at PORT: the ports of the rows of SHOW AGGREGATORS with
# Master_Aggregator 1, asked at PORT.
masters_at() {
  sql_at "$1" "SHOW AGGREGATORS" 2> /dev/null \
    | awk -F'|' '$5 ~ /1/ && $4 ~ /online/ { gsub(/ /, "", $3); print $3 }'
}
master_is_not() { # PORT OLD: a master other than OLD, asked at PORT
  local m
  m=$(masters_at "$1")
  [ -n "$m" ] && [ "$m" != "$2" ] && [ "$(echo "$m" | wc -l)" = 1 ]
}

start_ma
start_agg 1
start_agg 2
for n in 1 2 3 4; do start_leaf $n; done
sql "ADD AGGREGATOR '127.0.0.1':$(agg_port 1)" > /dev/null
sql "ADD AGGREGATOR '127.0.0.1':$(agg_port 2)" > /dev/null
rows=$(sql "SHOW AGGREGATORS" | grep -c "| online ")
[ "$rows" = 3 ] || fail "SHOW AGGREGATORS shows $rows online aggregators"
[ "$(masters_at "$MA_PORT")" = "$MA_PORT" ] || fail "the first is not master"
pass "three voting aggregators, the first one master"

out=$(sql "ADD AGGREGATOR '127.0.0.1':$(agg_port 1)" 2>&1) && fail "added twice"
echo "$out" | grep -q "already a voting member" || fail "twice: $out"
out=$(sql "REMOVE AGGREGATOR '127.0.0.1':$MA_PORT" 2>&1) && fail "removed master"
echo "$out" | grep -q "master aggregator" || fail "remove master: $out"
out=$(sql "REMOVE AGGREGATOR '127.0.0.1':1" 2>&1) && fail "removed unknown"
echo "$out" | grep -q "no aggregator '127.0.0.1:1'" || fail "unknown: $out"
pass "membership errors name the aggregator"

# Statements through a follower are forwarded to the master aggregator.
sql_at "$(agg_port 1)" "SET GLOBAL redundancy_level = 2" > /dev/null
for n in 1 2 3 4; do
  sql_at "$(agg_port 2)" "ADD LEAF '127.0.0.1':$(leaf_port $n)" > /dev/null
done
sql_at "$(agg_port 1)" "CREATE DATABASE db" > /dev/null
insert_rows db 1 100
expect_count db 100
sql_at "$(agg_port 2)" "CREATE USER 'ops'@'%' IDENTIFIED BY 'opspw';
  GRANT CLUSTER ON *.* TO 'ops'" > /dev/null
pass "statements through the other aggregators"

kill -9 "${PIDS[ma]}" "${PIDS[leaf1]}"
old_ma=$MA_PORT
MA_PORT=$(agg_port 1)
wait_for "a new master aggregator after SIGKILL" 5 master_is_not "$MA_PORT" "$old_ma"
wait_for "leaf 1 offline under the new master aggregator" 10 state_is 1 offline
insert_rows db 101 150
expect_count db 150
pass "writes and reads after the master aggregator and a leaf died"
# Users live in the replicated metadata: the new master aggregator knows
# them.
out=$(LEAFGUARD_PASSWORD=opspw "$LEAFGUARD" sql --port "$(agg_port 2)"   --user ops -e "SHOW GRANTS" 2>&1) || fail "ops cannot log in: $out"
echo "$out" | grep -q "GRANT CLUSTER ON \*.\* TO 'ops'@'%'"   || fail "ops lost its grant: $out"
pass "a user created before the failover logs in with its grants after it"

# The killed one comes back as a follower.
MA_PORT=$old_ma
start_ma
MA_PORT=$(agg_port 1)
wait_for "the restarted aggregator online" 10 \
  bash -c "$(declare -f sql_at); LEAFGUARD=$LEAFGUARD; \
           sql_at $MA_PORT 'SHOW AGGREGATORS' | grep -q '| $old_ma .*| online '"
[ "$(masters_at "$old_ma" | wc -l)" = 1 ] || fail "not one master after restart"
master_is_not "$old_ma" "$old_ma" || fail "the restarted aggregator leads"
pass "restarted as a follower"

# SIGSTOP of the master aggregator: the other one is elected.
master=$(masters_at "$MA_PORT")
other=$(agg_port 1)
[ "$master" = "$other" ] && other=$(agg_port 2)
stopped=ma
for k in 1 2; do [ "$(agg_port $k)" = "$master" ] && stopped=agg$k; done
kill -STOP "${PIDS[$stopped]}"
wait_for "a new master aggregator after SIGSTOP" 5 master_is_not "$other" "$master"
MA_PORT=$other
insert_rows db 151 160
kill -CONT "${PIDS[$stopped]}"
wait_for "one master aggregator after SIGCONT" 5 master_is_not "$master" "$master"
expect_count db 160
pass "SIGSTOP: elected elsewhere, and one master after SIGCONT"

# A follower is taken out; two voting aggregators remain.
master=$(masters_at "$MA_PORT")
victim=$old_ma
[ "$victim" = "$master" ] && victim=$(agg_port 1)
[ "$victim" = "$master" ] && victim=$(agg_port 2)
sql "REMOVE AGGREGATOR '127.0.0.1':$victim" > /dev/null
rows=$(sql "SHOW AGGREGATORS" | grep -c "| 127.0.0.1 ")
[ "$rows" = 2 ] || fail "SHOW AGGREGATORS has $rows rows after REMOVE"
pass "a follower removed"
