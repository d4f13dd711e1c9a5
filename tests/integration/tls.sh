#!/usr/bin/env bash
# Mutual TLS: nodes and consoles with certificates from the cluster's CA
# work; a peer with a foreign certificate, or none, can neither join, nor
# send, nor run statements -- and does not disturb the links of the others.
# Each certificate names one identity: a node does not start on another's,
# and a certificate of the cluster's CA for one role or name cannot join as
# another.
source "$(dirname "$0")/lib.sh"
certs=$WORK/certs
make_certs() { bash "$(dirname "$0")/../../scripts/make-certs.sh" "$@" > /dev/null; }
make_certs "$certs" --role aggregator "127.0.0.1:$MA_PORT" \
  --role leaf "127.0.0.1:$(leaf_port 1)" "127.0.0.1:$(leaf_port 2)" \
  "127.0.0.1:$(leaf_port 3)" "127.0.0.1:$(leaf_port 4)" \
  "127.0.0.1:$(leaf_port 6)" --role console console
make_certs "$WORK/foreign" --role leaf "127.0.0.1:$(leaf_port 5)"
cp "$WORK/foreign/127.0.0.1:$(leaf_port 5).pem" "$WORK/foreign/intruder.pem"
cp "$WORK/foreign/127.0.0.1:$(leaf_port 5).key" "$WORK/foreign/intruder.key"
TLS_DIR=$certs
TLS_ARGS=(--tls-cert "$certs/console.pem" --tls-key "$certs/console.key"
          --tls-ca "$certs/ca.pem")
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
# A node does not start on a certificate that is not its own.
out=$("$LEAFGUARD" leaf --port "$(leaf_port 7)" --data-dir "$WORK/leaf7" \
  $(node_tls "127.0.0.1:$(leaf_port 1)") 2>&1) && fail "leaf started: $out"
echo "$out" | grep -q "names '127.0.0.1:$(leaf_port 1)', but this node is" \
  || fail "unclear: $out"
out=$("$LEAFGUARD" master-aggregator --port "$(leaf_port 8)" --data-dir "$WORK/a8" \
  "${TLS_ARGS[@]}" 2>&1) && fail "aggregator started on a console cert: $out"
echo "$out" | grep -q "as 'console', which cannot run as master-aggregator" \
  || fail "unclear: $out"
pass "a node refuses a certificate that is not its own"
# A leaf with a certificate of the cluster's CA is not made a voting
# aggregator: it proves to be a leaf, and has no aggregator to vote.
make_certs "$certs" --role leaf "127.0.0.1:$(leaf_port 9)"
"$LEAFGUARD" leaf --port "$(leaf_port 9)" --data-dir "$WORK/leaf9" \
  $(node_tls "127.0.0.1:$(leaf_port 9)") >> "$WORK/leaf9.log" 2>&1 &
PIDS[leaf9]=$!
wait_port "$(leaf_port 9)"
if out=$(sql "ADD AGGREGATOR '127.0.0.1':$(leaf_port 9)" 2>&1); then
  fail "a leaf was added as an aggregator: $out"
fi
pass "a leaf is not made an aggregator: $out"
# Nothing above disturbed the cluster's own links.
for n in 1 2 3 4; do state_is $n online || fail "leaf $n is $(leaf_state $n)"; done
grep -q "LinkLost" "$WORK/ma.log" && fail "a refused peer cut the aggregator's links"
expect_count db 50
kill -9 "${PIDS[leaf1]}"
wait_for "failover over TLS" 2 state_is 1 offline
expect_count db 50
