#!/usr/bin/env bash
# A leaf process killed with SIGKILL: the aggregator sees the connection go
# (not a heartbeat timeout), promotes the replicas on its pair, and every
# acknowledged write stays readable; writes go on.
source "$(dirname "$0")/lib.sh"
four_leaves_r2 db
insert_rows db 1 200
expect_count db 200
kill -9 "${PIDS[leaf1]}"
wait_for "leaf 1 offline after SIGKILL" 2 state_is 1 offline
grep -q "127.0.0.1:$(leaf_port 1): connection lost" "$WORK/ma.log" \
  || fail "the aggregator did not detect the kill through the lost connection"
pass "detected through the lost connection"
sql "SHOW PARTITIONS ON db" | grep "$(leaf_port 1)" | grep -q Master \
  && fail "a master is still on the killed leaf"
expect_count db 200
insert_rows db 201 300
expect_count db 300
pass "failover after SIGKILL kept every write"
