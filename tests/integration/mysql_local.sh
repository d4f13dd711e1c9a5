#!/usr/bin/env bash
# `leafguard local --mysql-port P` with its standard input closed: it keeps
# serving MySQL clients (root without a password on loopback), runs the
# test-cluster statements they send, and stops cleanly on SIGTERM.
source "$(dirname "$0")/lib.sh"
command -v mariadb > /dev/null \
  || fail "the mariadb console is missing (scripts/install-deps.sh)"
MYSQL_PORT=$((PORT_BASE + 19))
"$LEAFGUARD" local --mysql-port "$MYSQL_PORT" < /dev/null \
  > "$WORK/local.log" 2>&1 &
PIDS[local]=$!
wait_port "$MYSQL_PORT"
my() { mariadb -h 127.0.0.1 -P "$MYSQL_PORT" -u root "$@"; }
my -e "CREATE DATABASE db PARTITIONS 4; INSERT INTO db VALUES ('a','1')" \
  || fail "statements through the MySQL port"
sleep 0.5 # the standard input ended long ago: the process must still serve
kill -0 "${PIDS[local]}" || fail "leafguard local stopped when its input ended"
my -e "KILL LEAF '127.0.0.1':10001" || fail "a test-cluster statement"
my -N -e "SHOW LEAVES" | grep -q "10001.*offline" \
  || fail "the killed leaf is not offline: $(my -e 'SHOW LEAVES')"
[ "$(my -N -e "SELECT * FROM db WHERE key = 'a'")" = "$(printf 'a\t1')" ] \
  || fail "the row is not readable after the kill"
pass "test-cluster statements and reads through the MySQL port"
kill -TERM "${PIDS[local]}"
deadline=$((SECONDS + 15))
while kill -0 "${PIDS[local]}" 2> /dev/null; do
  [ $SECONDS -lt $deadline ] || fail "SIGTERM did not stop leafguard local"
  sleep 0.05
done
wait "${PIDS[local]}" || fail "leafguard local exited with $? on SIGTERM"
unset 'PIDS[local]'
grep -q "stopping (signal 15)" "$WORK/local.log" || fail "no stop line"
pass "SIGTERM stops it cleanly"
