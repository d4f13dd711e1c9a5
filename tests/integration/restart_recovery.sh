#!/usr/bin/env bash
# A leaf process restarted from its data dir is a new CAF node: the
# aggregator knows it by its identity and incarnation, and the recovery
# rules bring its copies back as in-sync replicas.
source "$(dirname "$0")/lib.sh"
four_leaves_r2 db
insert_rows db 1 100
kill -9 "${PIDS[leaf3]}"
wait_for "leaf 3 offline" 2 state_is 3 offline
insert_rows db 101 200
start_leaf 3
wait_for "leaf 3 online again" 10 state_is 3 online
grep -q "LeafBack .*127.0.0.1:$(leaf_port 3) incarnation=2" "$WORK/ma.log" \
  || fail "the restarted leaf was not recognised with incarnation 2"
pass "recognised by identity and incarnation 2"
wait_for "every copy in sync" 10 all_in_sync db
expect_count db 200
# Its own copies serve again once the pair's masters fail over to it.
kill -9 "${PIDS[leaf4]}"
wait_for "leaf 4 offline" 2 state_is 4 offline
expect_count db 200
