#!/usr/bin/env bash
# The HA and cluster commands of the earlier issues, across processes:
# DETACH / ATTACH LEAF, REBALANCE (R1, after a new leaf joins), CHECK
# PARTITIONS, SHOW REBALANCE STATUS, REMOVE LEAF -- with every row kept.
source "$(dirname "$0")/lib.sh"
four_leaves_r2 db
insert_rows db 1 300
# DETACH moves the leaf's masters to its pair first; ATTACH brings it back
# and balances the pair again.
sql "DETACH LEAF '127.0.0.1':$(leaf_port 1)" > /dev/null
state_is 1 detached || fail "leaf 1 is $(leaf_state 1) after DETACH"
sql "SHOW PARTITIONS ON db" | grep "| $(leaf_port 1) " | grep -q Master \
  && fail "a master is still on the detached leaf"
expect_count db 300
insert_rows db 301 350
sql "ATTACH LEAF '127.0.0.1':$(leaf_port 1)" > /dev/null
wait_for "leaf 1 online after ATTACH" 10 state_is 1 online
wait_for "replicas in sync after ATTACH" 10 all_in_sync db
# Masters are handed back one by one as their replicas reach sync.
masters_on_leaf_1() {
  sql "SHOW PARTITIONS ON db" | grep "| $(leaf_port 1) " | grep -c Master
}
wait_for "ATTACH to balance masters back onto leaf 1" 10 masters_on_leaf_1
masters=$(masters_on_leaf_1)
pass "DETACH and ATTACH ($masters masters back on leaf 1)"
sql "SHOW REBALANCE STATUS ON db" | grep -q "detach" \
  || fail "no detach job in SHOW REBALANCE STATUS"
expect_count db 350
# A new leaf joins; REBALANCE ALL DATABASES runs across processes.
sql "CREATE DATABASE one PARTITIONS 6" > /dev/null
insert_rows one 1 60
start_leaf 5
sql "ADD LEAF '127.0.0.1':$(leaf_port 5)" > /dev/null
sql "EXPLAIN REBALANCE PARTITIONS ON db" > /dev/null
sql "REBALANCE ALL DATABASES" > /dev/null
expect_count db 350
expect_count one 60
pass "REBALANCE across processes"
# REMOVE LEAF hands the leaf's partitions over, then forgets it.
sql "REMOVE LEAF '127.0.0.1':$(leaf_port 5)" > /dev/null
sql "SHOW LEAVES" | grep -q "| $(leaf_port 5) " && fail "leaf 5 still listed after REMOVE"
expect_count db 350
expect_count one 60
wait_for "every copy in sync" 10 all_in_sync db
pass "REMOVE LEAF across processes"
