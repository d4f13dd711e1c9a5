#!/usr/bin/env bash
# The master aggregator restarted from its data dir takes the cluster up as
# it was: it dials the leaves again, and data and placement are unchanged.
source "$(dirname "$0")/lib.sh"
four_leaves_r2 db
insert_rows db 1 100
before=$(sql "SHOW PARTITIONS ON db")
kill "${PIDS[ma]}"
wait "${PIDS[ma]}" || true
start_ma
for n in 1 2 3 4; do
  wait_for "leaf $n online after the restart" 10 state_is $n online
done
after=$(sql "SHOW PARTITIONS ON db")
[ "$before" = "$after" ] || fail "placement changed: $before -> $after"
pass "placement unchanged"
expect_count db 100
insert_rows db 101 120
expect_count db 120
# And it still fails over.
kill -9 "${PIDS[leaf1]}"
wait_for "leaf 1 offline" 2 state_is 1 offline
expect_count db 120
