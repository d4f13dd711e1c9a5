#!/usr/bin/env bash
# The console: exit status, errors that name what was wrong, and a leaf that
# sends cluster commands to the aggregator's address.
source "$(dirname "$0")/lib.sh"
start_ma
start_leaf 1
start_leaf 2
sql "ADD LEAF '127.0.0.1':$(leaf_port 1); ADD LEAF '127.0.0.1':$(leaf_port 2); CREATE DATABASE db" > /dev/null
# Exit status 1 when any statement fails, 0 otherwise.
sql "SELECT COUNT(*) FROM db" > /dev/null || fail "a good statement failed"
set +e
out=$(sql "SELECT COUNT(*) FROM db; SELECT * FROM nosuchdb")
rc=$?
set -e
[ $rc -eq 1 ] || fail "exit status $rc after a failed statement"
echo "$out" | grep -q "ERROR 1049: unknown database 'nosuchdb'" || fail "no clear error: $out"
pass "exit status 1 and a clear error"
out=$(sql "SELEC 1" || true)
echo "$out" | grep -q "ERROR 1064" || fail "syntax error not reported: $out"
# A leaf runs reads and writes, but sends cluster commands to the aggregator.
sql_at "$(leaf_port 1)" "INSERT INTO db VALUES ('a','1')" > /dev/null
out=$(sql_at "$(leaf_port 2)" "SELECT * FROM db WHERE key = 'a'")
echo "$out" | grep -q "| a   | 1 " || fail "a read through leaf 2: $out"
out=$(sql_at "$(leaf_port 1)" "REBALANCE PARTITIONS ON db" || true)
echo "$out" | grep -q "master aggregator at 127.0.0.1:$MA_PORT" \
  || fail "the leaf did not name the aggregator: $out"
# What only shows the cluster's state is asked of the aggregator.
out=$(sql_at "$(leaf_port 1)" "SHOW LEAVES")
echo "$out" | grep -q "$(leaf_port 2)" || fail "SHOW LEAVES through a leaf: $out"
pass "leaf refuses cluster commands: $out"
out=$(sql_at "$(leaf_port 1)" "KILL LEAF '127.0.0.1':1" || true)
echo "$out" | grep -q "ERROR" || fail "KILL LEAF was accepted on nodes"
# Statements from a file and from stdin.
echo "SELECT COUNT(*) FROM db;" > "$WORK/stmts.sql"
"$LEAFGUARD" sql --port "$MA_PORT" "$WORK/stmts.sql" | grep -q "| 1 " \
  || fail "FILE argument not run"
echo "SELECT COUNT(*) FROM db;" | "$LEAFGUARD" sql --port "$MA_PORT" | grep -q "| 1 " \
  || fail "stdin not run"
# Bad options and unreachable nodes: status 2 and a message naming them.
set +e
out=$("$LEAFGUARD" sql --port 0 -e "SHOW LEAVES" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q -- "--port" || fail "bad port: $rc $out"
out=$("$LEAFGUARD" sql --port "$(leaf_port 9)" -e "SHOW LEAVES" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "cannot connect to 127.0.0.1:$(leaf_port 9)" \
  || fail "unreachable node: $rc $out"
out=$("$LEAFGUARD" sql --bogus 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q -- "--bogus" || fail "unknown option: $out"
# A node's config file is validated at start.
printf 'port = %s\ndata-dir = %s\nbogus = 1\n' "$(leaf_port 7)" "$WORK/l7" > "$WORK/bad.conf"
out=$("$LEAFGUARD" leaf --config "$WORK/bad.conf" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "$WORK/bad.conf line 3: unknown key 'bogus'" \
  || fail "config file: $rc $out"
# A second node on a taken port says so.
out=$("$LEAFGUARD" leaf --port "$(leaf_port 1)" --data-dir "$WORK/dup" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "cannot listen on 127.0.0.1:$(leaf_port 1)" \
  || fail "taken port: $rc $out"
# A second process on a data dir in use stops, naming the dir and the holder.
out=$("$LEAFGUARD" leaf --port "$(leaf_port 6)" --data-dir "$WORK/leaf1" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "data-dir '$WORK/leaf1' is in use by another process (pid ${PIDS[leaf1]})" \
  || fail "data dir in use: $rc $out"
out=$("$LEAFGUARD" master-aggregator --port "$(leaf_port 6)" --data-dir "$WORK/ma" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "data-dir '$WORK/ma' is in use" \
  || fail "aggregator data dir in use: $rc $out"
# Without TLS a node binds loopback only unless told --insecure.
out=$("$LEAFGUARD" leaf --port "$(leaf_port 8)" --data-dir "$WORK/l8" --bind 0.0.0.0 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "insecure" || fail "non-loopback bind: $rc $out"
set -e
pass "console and node errors"
