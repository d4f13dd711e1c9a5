// REBALANCE PARTITIONS, RESTORE REDUNDANCY and EXPLAIN (actors/aggregator/rebalance.cpp,
// ha/planner) on the deterministic scheduler.
#include <algorithm>
#include <map>
#include <optional>

#include "cluster/workload.hpp"
#include "sim_cluster.hpp"

using namespace lg;
using lg::test::sim_cluster;

namespace {

std::map<std::string, int> masters_per_leaf(sim_cluster& c,
                                            const std::string& db) {
  return c.masters_per_leaf(db);
}

/// Starts leaves `a` and `b` (ports) and adds them, `a` into group
/// `group_a` and `b` into group 2 (by default: a new pair).
void add_pair(sim_cluster& c, int a, int b, int group_a = 1) {
  for (int port : {a, b})
    c.ok("START LEAF '127.0.0.1':" + std::to_string(port));
  c.ok("ADD LEAF '127.0.0.1':" + std::to_string(a) + " INTO GROUP "
       + std::to_string(group_a));
  c.ok("ADD LEAF '127.0.0.1':" + std::to_string(b) + " INTO GROUP 2");
}

/// Runs `stmt` and kills `leaf` as soon as a copy is running; returns the
/// statement's result.
pb::ResultSet kill_during_copy(sim_cluster& c, const std::string& stmt,
                               const std::string& leaf) {
  auto id = c.cluster().submit(stmt);
  BOOST_REQUIRE(c.cluster().run_until(
    [&] {
      auto rs = c.ok("SHOW REBALANCE STATUS ON db");
      for (auto& row : rs.rows())
        if (row.cells(0) == "copy" && row.cells(4) == "running")
          return true;
      return false;
    },
    std::chrono::seconds{5}));
  c.ok("KILL LEAF " + leaf);
  std::optional<pb::ResultSet> result;
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return (result = c.cluster().take_result(id)).has_value(); },
    std::chrono::seconds{30}));
  return *result;
}

/// The status of each REBALANCE run SHOW REBALANCE STATUS reports.
std::vector<std::string> rebalance_runs(sim_cluster& c) {
  std::vector<std::string> runs;
  auto status = c.ok("SHOW REBALANCE STATUS ON db");
  for (auto& row : status.rows())
    if (row.cells(0) == "rebalance")
      runs.push_back(row.cells(4));
  return runs;
}

} // namespace

BOOST_AUTO_TEST_SUITE(rebalance)

BOOST_AUTO_TEST_CASE(sixteen_partitions_on_three_pairs_are_six_five_five) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 16");
  auto workload = c.start_workload("db", 4);
  c.ok("SLEEP 30");
  add_pair(c, 10005, 10006);
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  auto masters = masters_per_leaf(c, "db");
  std::map<int, int> per_pair; // by the pair's first port
  for (auto& [port, n] : masters)
    per_pair[(std::stoi(port) - 10001) / 2] += n;
  std::vector<int> sizes;
  for (auto& [pair, n] : per_pair)
    sizes.push_back(n);
  std::sort(sizes.begin(), sizes.end());
  BOOST_TEST((sizes == std::vector<int>{5, 5, 6}));
  for (auto& [port, n] : masters)
    BOOST_TEST_CONTEXT("leaf " << port) {
      BOOST_TEST((n == 2 || n == 3));
    }
  c.stop(workload);
  BOOST_TEST(workload.record->failed.empty());
  c.expect_acked_present(*workload.record, "db");
}

BOOST_AUTO_TEST_CASE(masters_return_after_an_automatic_attach_once_the_delay_passed) {
  sim_cluster c{4, 2};
  c.ok("SET GLOBAL attach_rebalance_delay_seconds = 5");
  c.ok("CREATE DATABASE db PARTITIONS 8");
  auto workload = c.start_workload("db", 4);
  c.ok("SLEEP 30");
  BOOST_TEST(masters_per_leaf(c, "db")["10001"] == 2);
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("SLEEP 2000"); // failed over to 10002
  BOOST_TEST(masters_per_leaf(c, "db")["10002"] == 4);
  c.ok("RESTART LEAF '127.0.0.1':10001");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  // Attached by itself: its copies are replicas until the delay is over.
  BOOST_TEST(masters_per_leaf(c, "db")["10001"] == 0);
  auto waiting = [&] {
    int n = 0;
    auto rs = c.ok("SHOW REBALANCE STATUS ON db");
    for (auto& row : rs.rows())
      if (row.cells(0) == "rebalance after attach"
          && row.cells(4) == "running")
        ++n;
    return n;
  };
  BOOST_TEST(waiting() == 1);
  c.ok("SLEEP 3000");
  BOOST_TEST(masters_per_leaf(c, "db")["10001"] == 0);
  c.ok("SLEEP 3000");
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return masters_per_leaf(c, "db")["10001"] == 2; },
    std::chrono::seconds{10}));
  BOOST_TEST(waiting() == 0);
  BOOST_TEST(masters_per_leaf(c, "db")["10002"] == 2);
  c.stop(workload);
  BOOST_TEST(workload.record->failed.empty());
  c.expect_acked_present(*workload.record, "db");
}

BOOST_AUTO_TEST_CASE(a_failure_on_the_pair_calls_the_attach_rebalance_off) {
  sim_cluster c{4, 2};
  c.ok("SET GLOBAL attach_rebalance_delay_seconds = 5");
  c.ok("CREATE DATABASE db PARTITIONS 8");
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("SLEEP 2000");
  c.ok("RESTART LEAF '127.0.0.1':10001");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("SLEEP 8000");
  std::string status;
  auto rs = c.ok("SHOW REBALANCE STATUS ON db");
  for (auto& row : rs.rows())
    if (row.cells(0) == "rebalance after attach")
      status = row.cells(4);
  BOOST_TEST(status == "failed");
  BOOST_TEST(masters_per_leaf(c, "db")["10002"] == 4);
}

BOOST_AUTO_TEST_CASE(a_manual_attach_with_no_rebalance_leaves_masters_where_they_are) {
  sim_cluster c{4, 2};
  c.ok("SET GLOBAL attach_rebalance_delay_seconds = 1");
  c.ok("CREATE DATABASE db PARTITIONS 8");
  c.ok("DETACH LEAF '127.0.0.1':10001");
  c.ok("ATTACH LEAF '127.0.0.1':10001 NO REBALANCE");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  c.ok("SLEEP 3000");
  BOOST_TEST(masters_per_leaf(c, "db")["10001"] == 0);
  auto rs = c.ok("SHOW REBALANCE STATUS ON db");
  for (auto& row : rs.rows())
    BOOST_TEST(row.cells(0) != "rebalance after attach");
}

BOOST_AUTO_TEST_CASE(new_leaves_get_their_share_while_writes_go_on) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  auto workload = c.start_workload("db", 4);
  auto& record = workload.record;
  c.ok("SLEEP 20");
  c.ok("START LEAF '127.0.0.1':10003");
  c.ok("START LEAF '127.0.0.1':10004");
  c.ok("ADD LEAF '127.0.0.1':10003");
  c.ok("ADD LEAF '127.0.0.1':10004");
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() > 0);
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  for (auto& [leaf, n] : masters_per_leaf(c, "db"))
    BOOST_TEST_CONTEXT("leaf " << leaf) {
      BOOST_TEST(n == 2);
    }
  c.ok("SLEEP 50");
  c.stop(workload);
  BOOST_TEST(record->failed.empty());
  BOOST_TEST(record->acked.size() > 10u);
  c.expect_acked_present(*record, "db");
}

BOOST_AUTO_TEST_CASE(rebalance_switches_masters_back_within_a_pair) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2')");
  c.ok("DETACH LEAF '127.0.0.1':10001");
  c.ok("ATTACH LEAF '127.0.0.1':10001 NO REBALANCE");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  BOOST_TEST(masters_per_leaf(c, "db")["10002"] == 4);
  auto plan = c.ok("EXPLAIN REBALANCE PARTITIONS ON db");
  BOOST_REQUIRE_EQUAL(plan.rows_size(), 2);
  BOOST_TEST(plan.rows(0).cells(0) == "PROMOTE PARTITION");
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_TEST(masters_per_leaf(c, "db")["10001"] == 2);
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "2");
}

BOOST_AUTO_TEST_CASE(force_recreates_lost_partitions_empty_and_says_so) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("DESTROY LEAF '127.0.0.1':10001");
  auto plain = c.ok("REBALANCE PARTITIONS ON db");
  BOOST_TEST(plain.message().find("FORCE") != std::string::npos);
  c.fails("SELECT COUNT(*) FROM db");
  auto forced = c.ok("REBALANCE PARTITIONS ON db FORCE");
  BOOST_TEST(forced.message().find("re-created EMPTY") != std::string::npos);
  // Online again, with the rows of the surviving leaf only.
  auto count = std::stoi(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0));
  BOOST_TEST(count > 0);
  BOOST_TEST(count < 4);
  c.ok("INSERT INTO db VALUES ('e','5')");
}

BOOST_AUTO_TEST_CASE(interrupted_rebalance_keeps_data_and_a_rerun_finishes) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4'),"
       "('e','5'),('f','6'),('g','7'),('h','8')");
  c.ok("START LEAF '127.0.0.1':10003");
  c.ok("ADD LEAF '127.0.0.1':10003");
  // A leaf dies in the middle of a copy to it.
  auto first = kill_during_copy(c, "REBALANCE PARTITIONS ON db",
                                "'127.0.0.1':10003");
  BOOST_TEST(first.error_code() != 0);
  BOOST_TEST(first.error().find("keeps its data") != std::string::npos);
  // No partition lost its data.
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "8");
  c.ok("RESTART LEAF '127.0.0.1':10003");
  c.ok("SLEEP 500");
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "8");
  // SHOW REBALANCE STATUS reports both runs.
  BOOST_TEST(rebalance_runs(c)
               == (std::vector<std::string>{"failed", "success"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(force_in_redundancy_2_and_the_old_copy_comes_back_orphan) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4'),"
       "('e','5'),('f','6'),('g','7'),('h','8')");
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("KILL LEAF '127.0.0.1':10002");
  auto forced = c.ok("REBALANCE PARTITIONS ON db FORCE");
  BOOST_TEST(forced.message().find("4 partitions had no copy left")
             != std::string::npos);
  for (int i = 0; i < 8; ++i) {
    auto port = c.master_port("db", i);
    BOOST_TEST((port == "10003" || port == "10004"));
  }
  BOOST_REQUIRE(c.wait_in_sync("db"));
  c.ok("INSERT INTO db VALUES ('z','26')");
  auto before = c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0);
  // An old copy that comes back is an orphan, never served.
  c.ok("RESTART LEAF '127.0.0.1':10001");
  c.ok("SLEEP 200");
  int orphans = 0;
  auto status = c.ok("SHOW CLUSTER STATUS");
  for (auto& row : status.rows())
    if (row.cells(1) == "10001") {
      BOOST_TEST(row.cells(4) == "Orphan");
      ++orphans;
    }
  BOOST_TEST(orphans == 4);
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == before);
}

BOOST_AUTO_TEST_CASE(high_availability_enabled_and_disabled_under_writes) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  auto workload = c.start_workload("db", 4);
  auto& record = workload.record;
  c.ok("SLEEP 20");
  // Enabling: redundancy 2, new leaves into group 2 (each pairs with a
  // group-1 leaf), REBALANCE creates the replicas and balances masters.
  c.ok("SET GLOBAL redundancy_level = 2");
  add_pair(c, 10003, 10004, 2);
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  auto parts = c.ok("SHOW PARTITIONS ON db");
  BOOST_TEST(parts.rows_size() == 8); // a master and a replica each
  for (auto& [leaf, n] : masters_per_leaf(c, "db"))
    BOOST_TEST_CONTEXT("leaf " << leaf) {
      BOOST_TEST(n == 1);
    }
  // Now a leaf can die without losing anything.
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("SLEEP 50");
  c.ok("RESTART LEAF '127.0.0.1':10001");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  // Disabling: redundancy 1, then the group-2 leaves go once their masters
  // moved to the group-1 leaves.
  c.ok("SET GLOBAL redundancy_level = 1");
  c.ok("REMOVE LEAF '127.0.0.1':10003");
  c.ok("REMOVE LEAF '127.0.0.1':10004");
  auto after = c.ok("SHOW PARTITIONS ON db");
  BOOST_TEST(after.rows_size() == 4);
  for (auto& row : after.rows()) {
    BOOST_TEST(row.cells(3) == "Master");
    BOOST_TEST((row.cells(2) == "10001" || row.cells(2) == "10002"));
  }
  c.ok("SLEEP 50");
  c.stop(workload);
  BOOST_TEST(record->failed.empty());
  BOOST_TEST(record->acked.size() > 10u);
  c.expect_acked_present(*record, "db");
}

BOOST_AUTO_TEST_CASE(a_new_pair_gets_its_share_in_redundancy_2_under_writes) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 6");
  auto workload = c.start_workload("db", 4);
  auto& record = workload.record;
  c.ok("SLEEP 30");
  add_pair(c, 10005, 10006);
  auto plan = c.ok("EXPLAIN REBALANCE PARTITIONS ON db");
  BOOST_TEST(plan.rows_size() > 0);
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  // One master per leaf, each with its replica on the leaf's pair, and no
  // copy left behind on the old leaves.
  auto masters = masters_per_leaf(c, "db");
  BOOST_TEST(masters.size() == 6u);
  for (auto& [leaf, n] : masters)
    BOOST_TEST_CONTEXT("leaf " << leaf) {
      BOOST_TEST(n == 1);
    }
  auto parts = c.ok("SHOW PARTITIONS ON db");
  BOOST_TEST(parts.rows_size() == 12);
  auto status = c.ok("SHOW CLUSTER STATUS");
  for (auto& row : status.rows())
    BOOST_TEST(row.cells(4) != "Orphan");
  c.ok("SLEEP 50");
  c.stop(workload);
  BOOST_TEST(record->failed.empty());
  BOOST_TEST(record->acked.size() > 10u);
  c.expect_acked_present(*record, "db");
  // The moved partitions fail over like any other.
  c.ok("KILL LEAF '127.0.0.1':10005");
  c.expect_acked_present(*record, "db");
}

BOOST_AUTO_TEST_CASE(locked_shows_only_during_the_switch) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("DETACH LEAF '127.0.0.1':10001");
  c.ok("ATTACH LEAF '127.0.0.1':10001 NO REBALANCE");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  auto locked_rows = [&](const pb::ResultSet& rs) {
    int n = 0;
    for (auto& row : rs.rows())
      n += row.cells(4) == "1" ? 1 : 0;
    return n;
  };
  BOOST_TEST(locked_rows(c.ok("SHOW PARTITIONS ON db")) == 0);
  auto& cl = c.cluster();
  auto rebalance = cl.submit("REBALANCE PARTITIONS ON db");
  int seen_locked = 0;
  std::optional<pb::ResultSet> done;
  for (int i = 0; i < 200 && !done; ++i) {
    auto show = cl.submit("SHOW PARTITIONS ON db");
    std::optional<pb::ResultSet> rs;
    BOOST_REQUIRE(cl.run_until([&] { return (rs = cl.take_result(show))
                                              .has_value(); },
                               std::chrono::seconds{5}));
    seen_locked = std::max(seen_locked, locked_rows(*rs));
    done = cl.take_result(rebalance);
  }
  BOOST_REQUIRE(done.has_value());
  BOOST_TEST(done->error_code() == 0);
  // The partitions being handed over showed Locked (master and replica
  // row), and nothing stays locked afterwards.
  BOOST_TEST(seen_locked >= 2);
  BOOST_TEST(locked_rows(c.ok("SHOW PARTITIONS ON db")) == 0);
}

BOOST_AUTO_TEST_CASE(interrupted_move_between_pairs_keeps_data_and_a_rerun_finishes) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 6");
  auto workload = c.start_workload("db", 2);
  auto& record = workload.record;
  c.ok("SLEEP 30");
  add_pair(c, 10005, 10006);
  auto first = kill_during_copy(c, "REBALANCE PARTITIONS ON db",
                                "'127.0.0.1':10005");
  BOOST_TEST(first.error_code() != 0);
  c.ok("SLEEP 50");
  c.expect_acked_present(*record, "db");
  c.ok("RESTART LEAF '127.0.0.1':10005");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  c.ok("REBALANCE PARTITIONS ON db");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  for (auto& [leaf, n] : masters_per_leaf(c, "db"))
    BOOST_TEST_CONTEXT("leaf " << leaf) {
      BOOST_TEST(n == 1);
    }
  c.ok("SLEEP 50");
  c.stop(workload);
  c.expect_acked_present(*record, "db");
  BOOST_TEST(rebalance_runs(c)
               == (std::vector<std::string>{"failed", "success"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(explain_on_a_balanced_database_is_empty) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  BOOST_TEST(c.ok("EXPLAIN REBALANCE PARTITIONS ON db").rows_size() == 0);
  BOOST_TEST(c.ok("EXPLAIN RESTORE REDUNDANCY ON db").rows_size() == 0);
  BOOST_TEST(c.fails("EXPLAIN REBALANCE PARTITIONS ON nowhere")
               .find("nowhere")
             != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
