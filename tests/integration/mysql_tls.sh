#!/usr/bin/env bash
# The MySQL port of a node with TLS requires TLS, with the node's
# certificate: mariadb and PyMySQL connect with --ssl and check the
# certificate's name; a client that does not ask for TLS gets error 3159.
# One connection over mysql-max-connections gets error 1040. Its HTTP port
# serves HTTPS with the same certificate, and nothing in plain HTTP.
source "$(dirname "$0")/lib.sh"
command -v mariadb > /dev/null \
  || fail "the mariadb console is missing (scripts/install-deps.sh)"
certs=$WORK/certs
bash "$(dirname "$0")/../../scripts/make-certs.sh" "$certs" \
  --role aggregator "127.0.0.1:$MA_PORT" > /dev/null
TLS_DIR=$certs
MYSQL_PORT=$((PORT_BASE + 19))
HTTP_PORT=$((PORT_BASE + 18))
start_ma --mysql-port "$MYSQL_PORT" --mysql-max-connections 2 \
  --http-port "$HTTP_PORT"
wait_port "$MYSQL_PORT"
grep -q "MySQL clients on 127.0.0.1:$MYSQL_PORT (TLS required)" "$WORK/ma.log" \
  || fail "the node does not say its MySQL port requires TLS"
out=$(mariadb -h 127.0.0.1 -P "$MYSQL_PORT" -u root --ssl \
  --ssl-ca="$certs/ca.pem" --ssl-verify-server-cert -N -e "SHOW AGGREGATORS" 2>&1) \
  || fail "mariadb over TLS: $out"
echo "$out" | grep -q "online" || fail "SHOW AGGREGATORS over TLS: $out"
pass "mariadb --ssl checks the node's certificate and runs statements"
out=$(mariadb -h 127.0.0.1 -P "$MYSQL_PORT" -u root --skip-ssl \
  -e "SHOW AGGREGATORS" 2>&1) && fail "a client without TLS ran a statement"
echo "$out" | grep -q "ERROR 3159" || fail "without TLS: $out"
pass "a client without TLS gets error 3159"
CA=$certs/ca.pem PORT=$MYSQL_PORT /usr/bin/python3 - << 'PY' || fail "PyMySQL over TLS"
import os
import pymysql
c = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]),
                    user="root", password="", ssl={"ca": os.environ["CA"]})
cur = c.cursor()
cur.execute("SHOW AGGREGATORS")
assert cur.fetchone()[2] == "online"
print("ok: PyMySQL over TLS, the certificate checked")
PY
PORT=$MYSQL_PORT /usr/bin/python3 - << 'PY' || fail "mysql-max-connections"
import os
import socket
port = int(os.environ["PORT"])
held = [socket.create_connection(("127.0.0.1", port), timeout=5)
        for _ in range(2)]
for s in held:
    assert s.recv(4096)[4] == 10, "a greeting (protocol 10)"
third = socket.create_connection(("127.0.0.1", port), timeout=5)
reply = third.recv(4096)
assert reply[4] == 0xFF and reply[5:7] == (1040).to_bytes(2, "little"), reply
assert b"Too many connections" in reply, reply
for s in held:
    s.close()
print("ok: a third connection over mysql-max-connections 2 gets error 1040")
PY
out=$(curl -sS --cacert "$certs/ca.pem" "https://127.0.0.1:$HTTP_PORT/metrics" 2>&1) \
  || fail "HTTPS with the node's certificate: $out"
echo "$out" | grep -q "^leafguard_process_resident_memory_bytes" \
  || fail "no metrics over HTTPS: $out"
# Read whole, then searched: grep -q leaving early would fail curl's write
# (and the pipeline, under pipefail).
page=$(curl -sS --cacert "$certs/ca.pem" "https://127.0.0.1:$HTTP_PORT/" 2>&1)
echo "$page" | grep -q "<title>" || fail "no cluster page over HTTPS: ${page:0:200}"
plain=$(curl -s -m 5 "http://127.0.0.1:$HTTP_PORT/metrics" || true)
echo "$plain" | grep -q leafguard_ \
  && fail "metrics served in plain HTTP on a node with TLS"
curl -sS -m 5 "https://127.0.0.1:$HTTP_PORT/metrics" > /dev/null 2>&1 \
  && fail "curl accepted the node's certificate without the cluster's CA"
pass "the HTTP port serves HTTPS with the node's certificate only"
