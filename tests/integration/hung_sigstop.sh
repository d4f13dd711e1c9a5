#!/usr/bin/env bash
# A hung leaf (SIGSTOP) keeps its connection open: only the aggregator's own
# heartbeats find it. Once it runs again (SIGCONT) it rejoins.
source "$(dirname "$0")/lib.sh"
four_leaves_r2 db
insert_rows db 1 100
kill -STOP "${PIDS[leaf2]}"
wait_for "hung leaf 2 offline" 3 state_is 2 offline
grep -q "127.0.0.1:$(leaf_port 2): no heartbeat reply" "$WORK/ma.log" \
  || fail "the hung leaf was not detected by heartbeats"
pass "detected by heartbeats"
expect_count db 100
insert_rows db 101 150
kill -CONT "${PIDS[leaf2]}"
wait_for "leaf 2 online again" 10 state_is 2 online
wait_for "replicas in sync" 10 all_in_sync db
expect_count db 150
