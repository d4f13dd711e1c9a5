// leaf_failover_fanout = 'load_balanced' (ha/placement, ha/planner,
// actors/aggregator/attach.cpp and handover.cpp) on the deterministic
// scheduler: a failed leaf's masters are promoted onto several leaves.
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "sim_cluster.hpp"

using namespace lg;
using lg::test::sim_cluster;

namespace {

std::map<std::string, int> masters_per_leaf(sim_cluster& c,
                                            const std::string& db) {
  return c.masters_per_leaf(db);
}

/// Per master leaf, the leaves holding the replicas of its masters.
std::map<std::string, std::set<std::string>>
replica_leaves(sim_cluster& c, const std::string& db) {
  std::map<std::string, std::string> master_of;
  std::map<std::string, std::set<std::string>> out;
  auto rs = c.ok("SHOW PARTITIONS ON " + db);
  for (auto& row : rs.rows())
    if (row.cells(3) == "Master")
      master_of[row.cells(0)] = row.cells(2);
  for (auto& row : rs.rows())
    if (row.cells(3) == "Replica")
      out[master_of[row.cells(0)]].insert(row.cells(2));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(load_balanced)

BOOST_AUTO_TEST_CASE(a_failed_leafs_masters_go_to_several_leaves) {
  sim_cluster c{6, 2};
  c.ok("SET GLOBAL leaf_failover_fanout = 'load_balanced'");
  c.ok("SET GLOBAL attach_rebalance_delay_seconds = 2");
  c.ok("CREATE DATABASE db PARTITIONS 24");
  auto masters = masters_per_leaf(c, "db");
  BOOST_TEST(masters.size() == 6u);
  for (auto& [leaf, n] : masters)
    BOOST_TEST(n == 4);
  // Each leaf's replicas are spread over the three leaves of the other
  // group, not on its pair alone.
  for (auto& [leaf, on] : replica_leaves(c, "db"))
    BOOST_TEST_CONTEXT("masters of " << leaf) {
      BOOST_TEST(on.size() == 3u);
    }
  auto workload = c.start_workload("db", 4);
  c.ok("SLEEP 30");
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("SLEEP 2000");
  masters = masters_per_leaf(c, "db");
  BOOST_TEST(masters.count("10001") == 0u);
  int promoted_onto = 0;
  for (auto& [leaf, n] : masters) {
    BOOST_TEST_CONTEXT("leaf " << leaf) {
      // 24 masters over the 5 leaves left: 4.8 on average.
      BOOST_TEST(n <= 6);
    }
    if (n > 4)
      ++promoted_onto;
  }
  BOOST_TEST(promoted_onto >= 2);
  // Online, every acknowledged write there.
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows_size() == 1);
  c.ok("RESTART LEAF '127.0.0.1':10001");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return masters_per_leaf(c, "db")["10001"] == 4; },
    std::chrono::seconds{15}));
  for (auto& [leaf, n] : masters_per_leaf(c, "db"))
    BOOST_TEST_CONTEXT("leaf " << leaf) {
      BOOST_TEST(n == 4);
    }
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  c.stop(workload);
  BOOST_TEST(workload.record->failed.empty());
  c.expect_acked_present(*workload.record, "db");
}

BOOST_AUTO_TEST_CASE(a_recovered_copy_follows_a_master_off_its_pair) {
  sim_cluster c{6, 2};
  c.ok("SET GLOBAL leaf_failover_fanout = 'load_balanced'");
  c.ok("CREATE DATABASE db PARTITIONS 12");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("KILL LEAF '127.0.0.1':10004");
  c.ok("SLEEP 2000");
  c.ok("RESTART LEAF '127.0.0.1':10004");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  // Its copies became replicas of masters on leaves other than its pair,
  // not orphans.
  auto status = c.ok("SHOW CLUSTER STATUS");
  for (auto& row : status.rows())
    BOOST_TEST(row.cells(11) != "Orphan");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
}

BOOST_AUTO_TEST_CASE(rebalance_converts_a_database_between_fanout_modes) {
  sim_cluster c{6, 2};
  c.ok("CREATE DATABASE db PARTITIONS 24");
  // Paired: the replicas of each leaf's masters are all on its pair.
  for (auto& [leaf, on] : replica_leaves(c, "db"))
    BOOST_TEST(on.size() == 1u);
  auto workload = c.start_workload("db", 4);
  c.ok("SLEEP 30");
  c.ok("SET GLOBAL leaf_failover_fanout = 'load_balanced'");
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() > 0);
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  for (auto& [leaf, on] : replica_leaves(c, "db"))
    BOOST_TEST_CONTEXT("masters of " << leaf) {
      BOOST_TEST(on.size() == 3u);
    }
  for (auto& [leaf, n] : masters_per_leaf(c, "db"))
    BOOST_TEST(n == 4);
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  // And back.
  c.ok("SET GLOBAL leaf_failover_fanout = 'paired'");
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  for (auto& [leaf, on] : replica_leaves(c, "db"))
    BOOST_TEST_CONTEXT("masters of " << leaf) {
      BOOST_TEST(on.size() == 1u);
    }
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  c.stop(workload);
  BOOST_TEST(workload.record->failed.empty());
  c.expect_acked_present(*workload.record, "db");
}

BOOST_AUTO_TEST_CASE(a_bad_fanout_value_is_refused_and_changes_nothing) {
  sim_cluster c{2, 2};
  auto err = c.fails("SET GLOBAL leaf_failover_fanout = 'sideways'");
  BOOST_TEST(err.find("expected one of 'paired', 'load_balanced'")
             != std::string::npos);
  auto rs = c.ok("SHOW VARIABLES LIKE 'leaf_failover_fanout'");
  BOOST_TEST(rs.rows(0).cells(1) == "paired");
}

BOOST_AUTO_TEST_SUITE_END()
