#!/usr/bin/env bash
# Mutual TLS: nodes and consoles with certificates from the cluster's CA
# work; a peer with a foreign certificate, or none, can neither join, nor
# send, nor run statements -- and does not disturb the links of the others.
source "$(dirname "$0")/lib.sh"
bash "$(dirname "$0")/../../scripts/make-certs.sh" "$WORK/certs" node > /dev/null
bash "$(dirname "$0")/../../scripts/make-certs.sh" "$WORK/foreign" intruder > /dev/null
TLS_ARGS=(--tls-cert "$WORK/certs/node.pem" --tls-key "$WORK/certs/node.key"
          --tls-ca "$WORK/certs/ca.pem")
FOREIGN=(--tls-cert "$WORK/foreign/intruder.pem"
         --tls-key "$WORK/foreign/intruder.key" --tls-ca "$WORK/foreign/ca.pem")
four_leaves_r2 db
grep -q "mutual TLS" "$WORK/leaf1.log" || fail "leaf 1 did not start with TLS"
insert_rows db 1 50
# A console with a foreign certificate.
if out=$("$LEAFGUARD" sql --port "$MA_PORT" "${FOREIGN[@]}" -e "SHOW LEAVES" 2>&1); then
  fail "a foreign console ran a statement: $out"
fi
echo "$out" | grep -q "cannot connect" || fail "unclear refusal: $out"
pass "foreign console refused: $out"
# A console without TLS.
if out=$("$LEAFGUARD" sql --port "$MA_PORT" -e "SHOW LEAVES" 2>&1); then
  fail "a console without TLS ran a statement: $out"
fi
pass "plain console refused"
# A foreign certificate that names the right CA file is still not signed by it.
if "$LEAFGUARD" sql --port "$MA_PORT" --tls-cert "$WORK/foreign/intruder.pem" \
     --tls-key "$WORK/foreign/intruder.key" --tls-ca "$WORK/certs/ca.pem" \
     -e "SHOW LEAVES" > /dev/null 2>&1; then
  fail "a certificate from another CA was accepted"
fi
# A leaf with a foreign certificate cannot join.
"$LEAFGUARD" leaf --port "$(leaf_port 5)" --data-dir "$WORK/leaf5" "${FOREIGN[@]}" \
  >> "$WORK/leaf5.log" 2>&1 &
PIDS[leaf5]=$!
wait_port "$(leaf_port 5)"
if out=$(sql "ADD LEAF '127.0.0.1':$(leaf_port 5)"); then
  fail "a foreign leaf joined: $out"
fi
pass "foreign leaf refused: $out"
# Nothing above disturbed the cluster's own links.
for n in 1 2 3 4; do state_is $n online || fail "leaf $n is $(leaf_state $n)"; done
grep -q "LinkLost" "$WORK/ma.log" && fail "a refused peer cut the aggregator's links"
expect_count db 50
kill -9 "${PIDS[leaf1]}"
wait_for "failover over TLS" 2 state_is 1 offline
expect_count db 50
