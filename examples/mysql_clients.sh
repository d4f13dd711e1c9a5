#!/usr/bin/env bash
# leafguard from MySQL clients: an in-process test cluster serving the MySQL
# protocol, driven by Debian's `mariadb` console:
#   1. `leafguard local --mysql-port P` (4 leaves, redundancy 2; root with
#      no password on loopback);
#   2. a database, rows, and a user who may only read;
#   3. a leaf killed with KILL LEAF: SHOW PARTITIONS shows the replicas on
#      its pair promoted, and every row is still there;
#   4. the reader refused a write (error 1227).
#
#   examples/mysql_clients.sh [LEAFGUARD] [MYSQL_PORT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
L=${1:-$here/../build/leafguard}
port=${2:-23306}
[ -x "$L" ] || { echo "no leafguard binary at $L (run make first)" >&2; exit 2; }
command -v mariadb > /dev/null \
  || { echo "the mariadb console is missing (scripts/install-deps.sh)" >&2; exit 2; }
log=$(mktemp /tmp/leafguard-mysql-example-XXXXXX.log)
"$L" local --mysql-port "$port" < /dev/null > "$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2> /dev/null || true; wait $pid 2> /dev/null || true' EXIT
for _ in $(seq 200); do
  (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break
  sleep 0.05
done
my() {
  echo "mariadb> $*"
  mariadb -h 127.0.0.1 -P "$port" -u root -t -e "$*"
}
step() { printf '\n== %s\n' "$*"; }

step "1. the cluster, as any MySQL client sees it"
my "SELECT @@version_comment, USER(); SHOW LEAVES"
step "2. a database, rows, and a reader"
my "CREATE DATABASE shop PARTITIONS 4;
    INSERT INTO shop VALUES ('apple','3'), ('pear','5'), ('plum','7');
    CREATE USER 'reader'@'%' IDENTIFIED BY 'secret';
    GRANT SELECT ON shop.* TO 'reader'"
my "SHOW PARTITIONS ON shop"
step "3. a leaf killed: its pair's replicas become masters"
my "KILL LEAF '127.0.0.1':10001; SHOW LEAVES; SHOW PARTITIONS ON shop;
    SELECT COUNT(*) FROM shop"
step "4. the reader reads, and may not write"
mariadb -h 127.0.0.1 -P "$port" -u reader -psecret -t -e "SELECT * FROM shop WHERE key = 'pear'"
echo "mariadb (as reader)> INSERT INTO shop VALUES ('fig','1')"
if mariadb -h 127.0.0.1 -P "$port" -u reader -psecret -e "INSERT INTO shop VALUES ('fig','1')"; then
  echo "the reader wrote: that should not happen" >&2
  exit 1
fi
echo
echo "leafguard's log: $log"
