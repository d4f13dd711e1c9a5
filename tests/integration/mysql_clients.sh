#!/usr/bin/env bash
# Real MySQL clients against a cluster of node processes, through the
# master aggregator's MySQL port with a root password: Debian's `mariadb`
# console (HA commands, the same tables as `leafguard sql`, a leaf killed),
# then PyMySQL (mysql_pymysql.py: data, error codes as numbers, a wrong
# password, a missing privilege, a failover in the middle of a write loop).
source "$(dirname "$0")/lib.sh"
command -v mariadb > /dev/null \
  || fail "the mariadb console is missing (scripts/install-deps.sh)"
/usr/bin/python3 -c "import pymysql" 2> /dev/null \
  || fail "python3-pymysql is missing (scripts/install-deps.sh)"
MYSQL_PORT=$((PORT_BASE + 19))
ROOT_PASSWORD="correct horse"
printf '%s\n' "$ROOT_PASSWORD" > "$WORK/root-password"
chmod 600 "$WORK/root-password"
export LEAFGUARD_PASSWORD=$ROOT_PASSWORD
# The console logs in as root: without a password it is refused here.
sql() {
  "$LEAFGUARD" sql --port "$MA_PORT" --user root -e "$1"
}
my() {
  mariadb -h 127.0.0.1 -P "$MYSQL_PORT" -u root -p"$ROOT_PASSWORD" "$@"
}

start_ma --mysql-port "$MYSQL_PORT" --root-password-file "$WORK/root-password"
wait_port "$MYSQL_PORT"
for n in 1 2 3 4; do start_leaf $n; done
out=$(LEAFGUARD_PASSWORD= "$LEAFGUARD" sql --port "$MA_PORT" -e "SHOW LEAVES" 2>&1) \
  && fail "a console without a password ran a statement: $out"
echo "$out" | grep -q "ERROR 1045" || fail "no error 1045 without a password: $out"
pass "the console without root's password is refused (1045)"

# HA commands as one mariadb script.
my -e "SET GLOBAL redundancy_level = 2;
ADD LEAF '127.0.0.1':$(leaf_port 1);
ADD LEAF '127.0.0.1':$(leaf_port 2);
ADD LEAF '127.0.0.1':$(leaf_port 3);
ADD LEAF '127.0.0.1':$(leaf_port 4);
CREATE DATABASE db PARTITIONS 8;
INSERT INTO db VALUES ('a','1'),('b','2'),('c','3');
REBALANCE PARTITIONS ON db;" > /dev/null || fail "the HA script through mariadb"
[ "$(my -N -e "SHOW LEAVES" | grep -c online)" = 4 ] \
  || fail "SHOW LEAVES through mariadb: $(my -e 'SHOW LEAVES')"
pass "HA commands through mariadb"

# mariadb -t prints the table leafguard sql prints (without its count).
for stmt in "SHOW DATABASES" "SHOW PARTITIONS ON db" \
  "SELECT * FROM db WHERE key = 'b'" "SELECT COUNT(*) FROM db" \
  "SHOW VARIABLES LIKE 'redundancy_level'" "SHOW USERS" "SHOW GRANTS"; do
  theirs=$(my -t -e "$stmt")
  ours=$(sql "$stmt" | grep -Ev '^[0-9]+ rows? in set$')
  [ "$theirs" = "$ours" ] || fail "'$stmt': mariadb printed
$theirs
and leafguard sql
$ours"
done
pass "mariadb -t prints leafguard sql's tables"
start=$(date +%s%N)
my -e "SLEEP 300; SELECT 1" > /dev/null || fail "SLEEP through mariadb"
took=$((($(date +%s%N) - start) / 1000000))
[ "$took" -ge 300 ] || fail "SLEEP 300 took $took ms"
pass "SLEEP 300 waits (${took} ms), as in the console"

out=$(mariadb -h 127.0.0.1 -P "$MYSQL_PORT" -u root -pwrong -e "SHOW LEAVES" 2>&1) \
  && fail "a wrong password was taken"
echo "$out" | grep -q "ERROR 1045 (28000)" || fail "wrong password: $out"
my -e "CREATE USER 'viewer'@'%' IDENTIFIED BY 'v'; GRANT SELECT ON db.* TO 'viewer'"
out=$(mariadb -h 127.0.0.1 -P "$MYSQL_PORT" -u viewer -pv -e "REMOVE LEAF '127.0.0.1':$(leaf_port 1)" 2>&1) \
  && fail "a user without CLUSTER removed a leaf"
echo "$out" | grep -q "ERROR 1227 (42000).*CLUSTER" || fail "missing CLUSTER: $out"
grep -q "AccessDenied.*user=viewer" "$WORK/ma.log" || fail "the refusal is not logged"
pass "wrong password 1045, missing privilege 1227, logged"

kill -9 "${PIDS[leaf1]}"
wait_for "leaf 1 offline in mariadb's SHOW LEAVES" 5 \
  bash -c "mariadb -h 127.0.0.1 -P $MYSQL_PORT -u root -p'$ROOT_PASSWORD' -N -e 'SHOW LEAVES' | grep -q '$(leaf_port 1).*offline'"
[ "$(my -N -e "SELECT COUNT(*) FROM db")" = 3 ] || fail "rows lost after the kill"
pass "a killed leaf shows offline through mariadb, and no row is lost"

MYSQL_PORT=$MYSQL_PORT ROOT_PASSWORD=$ROOT_PASSWORD VICTIM_PID=${PIDS[leaf3]} \
  /usr/bin/python3 "$(dirname "$0")/mysql_pymysql.py" || fail "the PyMySQL test"
