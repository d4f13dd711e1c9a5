// Leaf recovery and reattach (actors/aggregator/attach.cpp, rebuild.proto), on the
// deterministic scheduler in virtual time.
#include <map>
#include <string>
#include <utility>

#include "base/bugs.hpp"
#include "cluster/workload.hpp"
#include "sim_cluster.hpp"

using namespace lg;
using lg::test::sim_cluster;

namespace {

const std::string leaf1 = "'127.0.0.1':10001";
const std::string leaf2 = "'127.0.0.1':10002";

/// Every copy of each partition has the same checksum.
void expect_equal_checksums(sim_cluster& c, const std::string& db) {
  auto rs = c.check(db);
  std::map<std::string, std::string> by_ordinal;
  for (auto& row : rs.rows()) {
    if (row.cells(3) == "Orphan")
      continue;
    auto& sum = by_ordinal[row.cells(0)];
    BOOST_TEST_CONTEXT("partition " << db << ":" << row.cells(0) << " on "
                                    << row.cells(2)) {
      BOOST_TEST(row.cells(6) != "NULL");
      if (sum.empty())
        sum = row.cells(6);
      else
        BOOST_TEST(row.cells(6) == sum);
    }
  }
}

/// The role of the copy of db:ordinal on `port` in CHECK PARTITIONS.
std::string role_on(sim_cluster& c, const std::string& db, int ordinal,
                    int port) {
  auto rs = c.check(db);
  for (auto& row : rs.rows())
    if (row.cells(0) == std::to_string(ordinal)
        && row.cells(2) == std::to_string(port))
      return row.cells(3);
  return "<none>";
}

/// The port of the leaf whose copy of db:0 is master.
int master_port_of(sim_cluster& c, const std::string& db) {
  auto port = c.master_port(db, 0);
  BOOST_REQUIRE(!port.empty());
  return std::stoi(port);
}

/// A SYNC database of one partition holding five rows, each acknowledged by
/// its own statement.
void write_five_rows(sim_cluster& c) {
  c.ok("CREATE DATABASE db PARTITIONS 1 WITH SYNC DURABILITY");
  const std::pair<const char*, const char*> rows[] = {
    {"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}};
  for (auto [key, value] : rows)
    c.ok(std::string{"INSERT INTO db VALUES ('"} + key + "','" + value + "')");
}

/// The log of the copy of db:0 on `port`.
std::string wal_of(int port) {
  return sim_cluster::leaf_dir(port) + "/instances/db.0/wal.log";
}

/// Flips the byte at offset 46 of the log of the copy on `port`: the top
/// byte of its second record's length, in the middle of the log. Returns
/// the damaged bytes.
std::string damage_second_record(sim_cluster& c, int port) {
  auto path = wal_of(port);
  BOOST_REQUIRE(c.fs().files().count(path) == 1u);
  BOOST_REQUIRE(!c.fs().corrupt(path, 46));
  return c.fs().files()[path]->data;
}

/// The damaged copy on `port` was kept aside, untouched: the log under
/// discarded/ is `damaged`, byte for byte.
void expect_kept_aside(sim_cluster& c, int port, const std::string& damaged) {
  auto dir = sim_cluster::leaf_dir(port) + "/discarded";
  auto aside = c.fs().list_dir(dir);
  BOOST_REQUIRE(aside.ok());
  BOOST_REQUIRE_EQUAL(aside->size(), 1u);
  BOOST_TEST(aside->front().find("-corrupt-") != std::string::npos);
  auto kept = c.fs().read_file(dir + "/" + aside->front() + "/wal.log");
  BOOST_REQUIRE(kept.ok());
  BOOST_TEST((*kept == damaged));
}

/// Both copies are in sync, hold the same rows, and the five rows are there.
void expect_five_rows_on_both(sim_cluster& c) {
  BOOST_REQUIRE(c.wait_in_sync("db"));
  expect_equal_checksums(c, "db");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "5");
}

} // namespace

BOOST_AUTO_TEST_SUITE(recovery)

BOOST_AUTO_TEST_CASE(redundancy_1_leaf_is_reintroduced_with_its_data) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("KILL LEAF " + leaf1);
  BOOST_TEST(c.leaf_state(10001) == "offline");
  c.ok("RESTART LEAF " + leaf1);
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return c.leaf_state(10001) == "online"; },
    std::chrono::seconds{2}));
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
  BOOST_TEST(c.all_in_sync("db"));
}

BOOST_AUTO_TEST_CASE(copy_whose_pair_holds_the_master_becomes_its_replica) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("KILL LEAF " + leaf1);
  c.ok("INSERT INTO db VALUES ('e','5'),('f','6')");
  c.ok("RESTART LEAF " + leaf1);
  // (b): every copy on the recovered leaf is now a replica of its pair.
  BOOST_REQUIRE(c.wait_in_sync("db"));
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST(role_on(c, "db", i, 10001) == "Replica");
    BOOST_TEST(role_on(c, "db", i, 10002) == "Master");
  }
  expect_equal_checksums(c, "db");
  BOOST_TEST(c.leaf_state(10001) == "online");
  // The rebuilt replicas are synchronous again: losing the pair now fails
  // over to them with nothing lost.
  c.ok("KILL LEAF " + leaf2);
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "6");
}

BOOST_AUTO_TEST_CASE(only_copy_is_reintroduced_as_master_when_pair_is_down) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("KILL LEAF " + leaf1); // its masters fail over to 10002
  c.ok("INSERT INTO db VALUES ('e','5')");
  c.ok("KILL LEAF " + leaf2); // no in-sync copy left: offline
  c.fails("SELECT COUNT(*) FROM db");
  // (a): 10002 held every acknowledged write; it comes back as master of
  // all four partitions.
  c.ok("RESTART LEAF " + leaf2);
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return c.leaf_state(10002) == "online"; },
    std::chrono::seconds{2}));
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(c.master_port("db", i) == "10002");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "5");
  // 10001 lacks the last write: it must not have been made master, and it
  // returns as a replica.
  c.ok("RESTART LEAF " + leaf1);
  BOOST_REQUIRE(c.wait_in_sync("db"));
  expect_equal_checksums(c, "db");
}

BOOST_AUTO_TEST_CASE(copy_that_may_lack_acknowledged_writes_is_not_served) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2')");
  c.ok("KILL LEAF " + leaf1); // 10002 takes over all masters
  c.ok("INSERT INTO db VALUES ('c','3')");
  c.ok("KILL LEAF " + leaf2);
  // 10001 comes back alone: its copies miss 'c', which 10002 acknowledged.
  c.ok("RESTART LEAF " + leaf1);
  c.ok("SLEEP 100");
  auto err = c.fails("SELECT COUNT(*) FROM db");
  BOOST_TEST(err.find("127.0.0.1:10002") != std::string::npos);
  c.ok("RESTART LEAF " + leaf2);
  BOOST_REQUIRE(c.wait_in_sync("db"));
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "3");
}

BOOST_AUTO_TEST_CASE(diverged_copy_is_discarded_and_rebuilt) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  int ord = c.master_on("db", 2, 10001);
  BOOST_REQUIRE(ord >= 0);
  auto key = sim_cluster::key_on(static_cast<uint32_t>(ord), 2);
  c.ok("INSERT INTO db VALUES ('" + key + "','acked')");
  // The master logs a write its replica never receives; it is never
  // acknowledged (the client gives up first).
  c.ok("SET GLOBAL request_timeout_ms = 300");
  c.cluster().transport().faults().cut_link("127.0.0.1:10001", "127.0.0.1:10002");
  auto lost = sim_cluster::key_on(static_cast<uint32_t>(ord), 2, 1);
  c.fails("INSERT INTO db VALUES ('" + lost + "','never acknowledged')");
  c.ok("KILL LEAF " + leaf1);
  c.cluster().transport().faults().heal_link("127.0.0.1:10001", "127.0.0.1:10002");
  c.ok("SET GLOBAL request_timeout_ms = 10000");
  // The replica is promoted and written to under the new term.
  c.ok("INSERT INTO db VALUES ('" + key + "','after failover')");
  auto discarded_before = sim_cluster::probe_count("diverged_copy_discarded");
  c.ok("RESTART LEAF " + leaf1);
  BOOST_REQUIRE(c.wait_in_sync("db"));
  BOOST_TEST(sim_cluster::probe_count("diverged_copy_discarded")
             == discarded_before + 1);
  // Moved aside, not deleted.
  auto aside = c.fs().list_dir(sim_cluster::leaf_dir(10001) + "/discarded");
  BOOST_REQUIRE(aside.ok());
  BOOST_TEST(aside->size() == 1u);
  expect_equal_checksums(c, "db");
  auto rs = c.ok("SELECT * FROM db");
  std::map<std::string, std::string> rows;
  for (auto& row : rs.rows())
    rows[row.cells(0)] = row.cells(1);
  BOOST_TEST(rows[key] == "after failover");
  BOOST_TEST(rows.count(lost) == 0u);
  // The rebuilt copy holds the same data: fail back onto it.
  c.ok("KILL LEAF " + leaf2);
  auto again = c.ok("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_TEST(again.rows(0).cells(1) == "after failover");
  auto status = c.ok("SHOW REBALANCE STATUS ON db");
  bool saw_rebuild = false;
  for (auto& row : status.rows())
    if (row.cells(0) == "rebuild" && row.cells(4) == "success"
        && row.cells(9).find("diverged") != std::string::npos)
      saw_rebuild = true;
  BOOST_TEST(saw_rebuild);
}

BOOST_AUTO_TEST_CASE(auto_attach_off_keeps_the_leaf_detached) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("SET GLOBAL auto_attach = OFF");
  c.ok("KILL LEAF " + leaf1);
  c.ok("RESTART LEAF " + leaf1);
  c.ok("SLEEP 500");
  BOOST_TEST(c.leaf_state(10001) == "detached");
  for (int i = 0; i < 2; ++i)
    BOOST_TEST(c.master_port("db", i) == "10002");
  c.ok("ATTACH LEAF " + leaf1);
  BOOST_TEST(c.leaf_state(10001) == "online");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  // ATTACH LEAF ALL attaches every detached leaf.
  c.ok("KILL LEAF " + leaf2);
  c.ok("RESTART LEAF " + leaf2);
  c.ok("SLEEP 100");
  BOOST_TEST(c.leaf_state(10002) == "detached");
  c.ok("ATTACH LEAF ALL");
  BOOST_TEST(c.leaf_state(10002) == "online");
  BOOST_REQUIRE(c.wait_in_sync("db"));
}

BOOST_AUTO_TEST_CASE(auto_attach_on_goes_through_attaching_to_online) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("KILL LEAF " + leaf1);
  c.ok("RESTART LEAF " + leaf1);
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return c.leaf_state(10001) == "online"; },
    std::chrono::seconds{1}));
  BOOST_REQUIRE(c.wait_in_sync("db"));
}

BOOST_AUTO_TEST_CASE(detach_and_attach_round_trip_keeps_writes_working) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2')");
  c.ok("DETACH LEAF " + leaf1);
  BOOST_TEST(c.leaf_state(10001) == "detached");
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(c.master_port("db", i) == "10002");
  c.ok("INSERT INTO db VALUES ('c','3'),('d','4')");
  // Detaching twice, or attaching an online leaf, is refused.
  BOOST_TEST(c.fails("DETACH LEAF " + leaf1).find("not online")
             != std::string::npos);
  BOOST_TEST(c.fails("ATTACH LEAF " + leaf2).find("not detached")
             != std::string::npos);
  BOOST_TEST(c.fails("ATTACH LEAF '127.0.0.1':9").find("not in the cluster")
             != std::string::npos);
  c.ok("ATTACH LEAF " + leaf1);
  BOOST_TEST(c.leaf_state(10001) == "online");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  expect_equal_checksums(c, "db");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
}

BOOST_AUTO_TEST_CASE(attach_hands_masters_back_within_the_pair) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  auto masters_on = [&](int port) {
    int n = 0;
    for (int i = 0; i < 4; ++i)
      if (c.master_port("db", i) == std::to_string(port))
        ++n;
    return n;
  };
  BOOST_REQUIRE_EQUAL(masters_on(10001), 2);
  auto workload = c.start_workload("db", 4);
  auto& record = workload.record;
  c.ok("SLEEP 20");
  c.ok("DETACH LEAF " + leaf1);
  BOOST_TEST(masters_on(10001) == 0);
  c.ok("SLEEP 50");
  c.ok("ATTACH LEAF " + leaf1);
  // Once its replicas are in sync, half of the masters come back, each
  // handed over without losing a write.
  BOOST_REQUIRE(c.cluster().run_until([&] { return masters_on(10001) == 2; },
                                      std::chrono::seconds{20}));
  c.ok("SLEEP 100");
  c.stop(workload);
  BOOST_REQUIRE(c.wait_in_sync("db"));
  expect_equal_checksums(c, "db");
  BOOST_TEST(record->acked.size() > 10u);
  c.expect_acked_present(*record, "db");
  BOOST_TEST(record->failed.empty());
  auto status = c.ok("SHOW REBALANCE STATUS ON db");
  int switches = 0;
  for (auto& row : status.rows())
    if (row.cells(0) == "switch master" && row.cells(4) == "success")
      ++switches;
  BOOST_TEST(switches == 2);
  // NO REBALANCE leaves the masters where they are.
  c.ok("DETACH LEAF " + leaf1);
  c.ok("ATTACH LEAF " + leaf1 + " NO REBALANCE");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  c.ok("SLEEP 500");
  BOOST_TEST(masters_on(10001) == 0);
}

BOOST_AUTO_TEST_CASE(an_async_order_older_than_the_in_sync_record_is_ignored) {
  sim_cluster c{2, 2};
  c.ok("SET GLOBAL sync_replication_timeout_ms = 500");
  c.ok("CREATE DATABASE db PARTITIONS 2");
  // The master on 10002 keeps its replica's leaf through DETACH, so that
  // replica joins it at once on ATTACH.
  int ordinal = c.master_on("db", 2, 10002);
  BOOST_REQUIRE(ordinal >= 0);
  c.ok("DETACH LEAF " + leaf1);
  // ATTACH's order to that master (peer_in_sync = false, as planned) reaches
  // it late: after it caught its replica up and the aggregator recorded that
  // replica in sync. The master must keep waiting for it.
  auto& fab = c.cluster().transport();
  auto ignored_before = sim_cluster::probe_count("stale_async_order_ignored");
  fab.faults().delay_messages("ma", "127.0.0.1:10002",
                              envelope::kLeafOrdersRequest,
                              std::chrono::milliseconds{300});
  c.ok("ATTACH LEAF " + leaf1 + " NO REBALANCE");
  fab.faults().clear_message_delays();
  BOOST_TEST(sim_cluster::probe_count("stale_async_order_ignored")
             > ignored_before);
  // At once, before any sync check could repair a master that obeyed the
  // old order, the replica hears nothing more. A write is acknowledged only
  // after the master gave up on it and the aggregator recorded that...
  fab.faults().cut_link("127.0.0.1:10001", "127.0.0.1:10002");
  auto key = sim_cluster::key_on(static_cast<uint32_t>(ordinal), 2);
  auto t0 = c.cluster().now();
  c.ok("INSERT INTO db VALUES ('" + key + "','alone')");
  BOOST_TEST(c.ms_since(t0) >= 500);
  // ...so losing the master does not promote a replica without the write.
  c.ok("KILL LEAF " + leaf2);
  c.ok("SLEEP 3000"); // failure detection and failover are over
  auto err = c.fails("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_TEST(err.find("offline") != std::string::npos);
  BOOST_TEST(err.find("out of sync") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(remove_leaf_moves_its_partitions_in_redundancy_1) {
  sim_cluster c{3, 1};
  c.ok("CREATE DATABASE db PARTITIONS 6");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4'),"
       "('e','5'),('f','6'),('g','7'),('h','8')");
  auto workload = c.start_workload("db", 2);
  auto& record = workload.record;
  c.ok("SLEEP 20");
  c.ok("REMOVE LEAF " + leaf1);
  c.stop(workload);
  BOOST_TEST(c.ok("SHOW LEAVES").rows_size() == 2);
  for (int i = 0; i < 6; ++i)
    BOOST_TEST(c.master_port("db", i) != "10001");
  auto h = c.ok("SELECT * FROM db WHERE key = 'h'");
  BOOST_REQUIRE_EQUAL(h.rows_size(), 1);
  BOOST_TEST(h.rows(0).cells(1) == "8");
  c.expect_acked_present(*record, "db");
  // Its files stay on its disk.
  auto files = c.fs().list_dir(sim_cluster::leaf_dir(10001) + "/instances");
  BOOST_REQUIRE(files.ok());
  BOOST_TEST(files->size() == 2u);
  BOOST_TEST(c.fails("REMOVE LEAF " + leaf1).find("not in the cluster")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(remove_leaf_in_redundancy_2_and_force_for_offline) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("REMOVE LEAF " + leaf1);
  BOOST_TEST(c.ok("SHOW LEAVES").rows_size() == 3);
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(c.master_port("db", i) != "10001");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
  // An offline leaf needs FORCE.
  c.ok("KILL LEAF '127.0.0.1':10003");
  BOOST_TEST(c.fails("REMOVE LEAF '127.0.0.1':10003").find("FORCE")
             != std::string::npos);
  c.ok("REMOVE LEAF '127.0.0.1':10003 FORCE");
  BOOST_TEST(c.ok("SHOW LEAVES").rows_size() == 2);
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
}

BOOST_AUTO_TEST_CASE(detach_refuses_when_a_replica_is_out_of_sync) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("KILL LEAF " + leaf2); // masters on 10001 lose their replicas
  BOOST_TEST(c.fails("DETACH LEAF " + leaf1).find("not in sync")
             != std::string::npos);
  BOOST_TEST(c.leaf_state(10001) == "online");
}

BOOST_AUTO_TEST_CASE(rebuild_during_concurrent_writes_ends_with_equal_checksums) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  auto workload = c.start_workload("db", 4);
  auto& record = workload.record;
  c.ok("SLEEP 20");
  c.ok("KILL LEAF " + leaf1);
  c.ok("SLEEP 50");
  c.ok("RESTART LEAF " + leaf1);
  c.ok("SLEEP 300"); // the rebuild runs while the writes go on
  auto during = record->acked.size();
  c.ok("SLEEP 300");
  BOOST_TEST(record->acked.size() > during);
  c.stop(workload);
  BOOST_REQUIRE(c.wait_in_sync("db"));
  expect_equal_checksums(c, "db");
  c.expect_acked_present(*record, "db");
}

BOOST_AUTO_TEST_CASE(corrupt_copy_is_rebuilt_from_the_other) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("KILL LEAF " + leaf1);
  // Damage every file of one copy on the dead leaf.
  auto dir = sim_cluster::leaf_dir(10001) + "/instances/db.0";
  for (auto& [path, file] : c.fs().files())
    if (path.rfind(dir + "/", 0) == 0 && !file->data.empty())
      BOOST_REQUIRE(!c.fs().corrupt(path, 0));
  c.ok("RESTART LEAF " + leaf1);
  BOOST_REQUIRE(c.wait_in_sync("db"));
  expect_equal_checksums(c, "db");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
  // The damaged files were kept for inspection.
  auto aside = c.fs().list_dir(sim_cluster::leaf_dir(10001) + "/discarded");
  BOOST_REQUIRE(aside.ok());
  BOOST_TEST(!aside->empty());
  // Nothing was lost: the rebuilt copy can take over.
  c.ok("KILL LEAF " + leaf2);
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
}

BOOST_AUTO_TEST_CASE(stale_copy_becomes_orphan_and_clear_keeps_last_copies) {
  sim_cluster c{4, 1};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  int ord = c.master_on("db", 4, 10001);
  int ord3 = c.master_on("db", 4, 10003);
  BOOST_REQUIRE(ord >= 0);
  BOOST_REQUIRE(ord3 >= 0);
  // A copy of a partition that lives on 10003 turns up on 10004 (say, a
  // disk moved between machines): it must never be served.
  c.ok("KILL LEAF '127.0.0.1':10004");
  auto from = sim_cluster::leaf_dir(10003) + "/instances/db."
              + std::to_string(ord3);
  auto to = sim_cluster::leaf_dir(10004) + "/instances/db."
            + std::to_string(ord3);
  for (auto [path, file] : c.fs().files())
    if (path.rfind(from + "/", 0) == 0) {
      auto copy = to + path.substr(from.size());
      c.fs().make_dirs(to);
      BOOST_REQUIRE(!c.fs().write_atomic(copy, file->data));
    }
  // And the only copy of 10001's partition is copied there too, then 10001
  // dies: that orphan is the last copy and must be kept.
  auto from1 = sim_cluster::leaf_dir(10001) + "/instances/db."
               + std::to_string(ord);
  auto to1 = sim_cluster::leaf_dir(10004) + "/instances/db."
             + std::to_string(ord);
  for (auto [path, file] : c.fs().files())
    if (path.rfind(from1 + "/", 0) == 0) {
      c.fs().make_dirs(to1);
      BOOST_REQUIRE(!c.fs().write_atomic(to1 + path.substr(from1.size()),
                                         file->data));
    }
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("RESTART LEAF '127.0.0.1':10004");
  c.ok("SLEEP 100");
  BOOST_TEST(role_on(c, "db", ord3, 10004) == "Orphan");
  BOOST_TEST(role_on(c, "db", ord, 10004) == "Orphan");
  auto status = c.ok("SHOW CLUSTER STATUS");
  size_t orphans = 0;
  for (auto& row : status.rows())
    if (row.cells(4) == "Orphan")
      ++orphans;
  BOOST_TEST(orphans == 2u);
  // Never served: reads of the offline partition fail, the other reads
  // come from its master.
  c.fails("SELECT COUNT(*) FROM db");
  auto plan = c.ok("EXPLAIN CLEAR ORPHAN DATABASES");
  BOOST_REQUIRE_EQUAL(plan.rows_size(), 2);
  std::map<std::string, std::string> action;
  for (auto& row : plan.rows())
    action[row.cells(1)] = row.cells(4);
  BOOST_TEST(action[std::to_string(ord3)] == "DROP");
  BOOST_TEST(action[std::to_string(ord)].rfind("KEEP", 0) == 0);
  // EXPLAIN changed nothing.
  BOOST_TEST(role_on(c, "db", ord3, 10004) == "Orphan");
  c.ok("CLEAR ORPHAN DATABASES");
  c.ok("SLEEP 10");
  BOOST_TEST(role_on(c, "db", ord3, 10004) == "<none>");
  BOOST_TEST(role_on(c, "db", ord, 10004) == "Orphan");
  BOOST_TEST(!c.fs().exists(to));
  BOOST_TEST(c.fs().exists(to1));
}

BOOST_AUTO_TEST_CASE(attach_without_force_reports_conflicting_copies) {
  sim_cluster c{4, 1};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  int ord = c.master_on("db", 4, 10003);
  BOOST_REQUIRE(ord >= 0);
  c.ok("SET GLOBAL auto_attach = OFF");
  c.ok("KILL LEAF '127.0.0.1':10004");
  auto from = sim_cluster::leaf_dir(10003) + "/instances/db."
              + std::to_string(ord);
  auto to = sim_cluster::leaf_dir(10004) + "/instances/db."
            + std::to_string(ord);
  for (auto [path, file] : c.fs().files())
    if (path.rfind(from + "/", 0) == 0) {
      c.fs().make_dirs(to);
      BOOST_REQUIRE(!c.fs().write_atomic(to + path.substr(from.size()),
                                         file->data));
    }
  c.ok("RESTART LEAF '127.0.0.1':10004");
  c.ok("SLEEP 100");
  BOOST_TEST(c.leaf_state(10004) == "detached");
  auto err = c.fails("ATTACH LEAF '127.0.0.1':10004");
  BOOST_TEST(err.find("db:" + std::to_string(ord)) != std::string::npos);
  BOOST_TEST(err.find("FORCE") != std::string::npos);
  BOOST_TEST(c.leaf_state(10004) == "detached");
  c.ok("ATTACH LEAF '127.0.0.1':10004 FORCE");
  BOOST_TEST(c.leaf_state(10004) == "online");
  BOOST_TEST(role_on(c, "db", ord, 10004) == "Orphan");
  BOOST_TEST(c.master_port("db", ord) == "10003");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
}

BOOST_AUTO_TEST_CASE(corrupt_master_log_is_rebuilt_after_a_cluster_restart) {
  // The whole cluster stops; a byte in the middle of the master's log goes
  // bad; the cluster starts again on the same disk. The master's copy must
  // not be opened (nor cut): the replica, which holds every acknowledged
  // write, serves, and the bad copy is rebuilt from it.
  sim_cluster c{2, 2};
  write_five_rows(c);
  auto master = master_port_of(c, "db");
  c.stop();
  auto damaged = damage_second_record(c, master);
  auto corrupt = sim_cluster::probe_count("instance_corrupt");
  c.start(2, 2);
  expect_five_rows_on_both(c);
  BOOST_TEST(sim_cluster::probe_count("instance_corrupt") == corrupt + 1);
  BOOST_TEST(c.master_port("db", 0) != std::to_string(master));
  expect_kept_aside(c, master, damaged);
  // The rebuilt copy holds everything: fail over onto it.
  c.ok("KILL LEAF '127.0.0.1':" + c.master_port("db", 0));
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "5");
}

BOOST_AUTO_TEST_CASE(a_master_whose_log_was_cut_is_not_chosen_over_replica) {
  // With the old reader (corrupt-as-torn) the master's log is cut to one
  // record. Its metadata still says master, but both copies report where
  // they end, and the replica's log ends later: it serves.
  sim_cluster c{2, 2};
  write_five_rows(c);
  auto master = master_port_of(c, "db");
  c.stop();
  damage_second_record(c, master);
  bugs::corrupt_as_torn = true;
  auto chosen = sim_cluster::probe_count("master_chosen_by_history");
  c.start(2, 2);
  bugs::reset();
  expect_five_rows_on_both(c);
  BOOST_TEST(sim_cluster::probe_count("master_chosen_by_history") > chosen);
  BOOST_TEST(c.master_port("db", 0) != std::to_string(master));
}

BOOST_AUTO_TEST_CASE(a_crashed_master_does_not_serve_over_a_replica_that_kept_running) {
  // ASYNC durability. The aggregator is cut off, the master's machine
  // crashes (its unsynced writes are gone) and the aggregator restarts
  // before its leaf is back: the replica kept running, in sync, and its
  // position was never reported. It holds every acknowledged write and
  // serves; the master's copy is rebuilt from it. Trusting the recorded
  // master (trust-recorded-master) serves the emptied copy instead.
  for (bool broken : {false, true}) {
    BOOST_TEST_CONTEXT("variant " << (broken ? "trust-recorded-master"
                                             : "none")) {
      sim_cluster c{2, 2};
      c.ok("CREATE DATABASE db PARTITIONS 1");
      for (auto key : {"a", "b", "c", "d", "e"})
        c.ok(std::string{"INSERT INTO db VALUES ('"} + key + "','1')");
      auto master = master_port_of(c, "db");
      auto addr = "127.0.0.1:" + std::to_string(master);
      if (broken)
        bugs::enable("trust-recorded-master");
      c.cluster().transport().faults().mark_down("ma");
      BOOST_REQUIRE(!c.cluster().kill_leaf(addr));
      c.fs().crash(sim_cluster::leaf_dir(master));
      BOOST_REQUIRE(!c.cluster().restart_aggregator());
      BOOST_REQUIRE(!c.cluster().restart_leaf(addr));
      c.wait_in_sync("db");
      auto count = c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0);
      bugs::reset();
      if (broken)
        BOOST_TEST(count != "5");
      else
        BOOST_TEST(count == "5");
    }
  }
}

BOOST_AUTO_TEST_CASE(corrupt_master_log_returning_alone_loses_nothing) {
  // Both leaves go down together and are declared offline as one event
  // (nothing fails over: the replica is never promoted and stays in sync); the master's log is damaged and its leaf
  // comes back first, alone, and is attached once its wait for the other
  // copy's report is over. The fixed reader fails the copy: the partition
  // stays offline until the replica's leaf is back, which then serves, and
  // the bad copy is rebuilt from it. The old reader (corrupt-as-torn) cuts
  // the log, the copy is reintroduced with one row, and the replica's five
  // are discarded as diverged when it returns.
  for (bool broken : {false, true}) {
    BOOST_TEST_CONTEXT((broken ? "corrupt-as-torn" : "fixed reader")) {
      sim_cluster c{2, 2};
      write_five_rows(c);
      auto master = master_port_of(c, "db");
      // Unseen while both go down, then declared offline together.
      c.ok("SET GLOBAL leaf_failure_detection = OFF");
      c.ok("KILL LEAF '127.0.0.1':10001");
      c.ok("KILL LEAF '127.0.0.1':10002");
      c.ok("SET GLOBAL leaf_failure_detection = ON");
      c.ok("SLEEP 2000");
      BOOST_REQUIRE(master_port_of(c, "db") == master);
      auto replica = master == 10001 ? 10002 : 10001;
      auto damaged = damage_second_record(c, master);
      bugs::corrupt_as_torn = broken;
      c.ok("RESTART LEAF '127.0.0.1':" + std::to_string(master));
      c.ok("SLEEP 6000"); // past the attach's wait for the other report
      bugs::reset();
      c.ok("RESTART LEAF '127.0.0.1':" + std::to_string(replica));
      BOOST_REQUIRE(c.wait_in_sync("db"));
      auto rows = c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0);
      if (broken) {
        BOOST_TEST(rows == "1"); // four acknowledged rows lost
        BOOST_TEST(!c.fs().exists(sim_cluster::leaf_dir(master)
                                  + "/discarded"));
      } else {
        BOOST_TEST(rows == "5");
        expect_equal_checksums(c, "db");
        expect_kept_aside(c, master, damaged);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(an_unfinished_creation_is_removed_when_its_leaf_starts) {
  // A batch of creations whose sync never happened (the leaf lost power
  // first) leaves directories with empty descriptors; it was never
  // acknowledged, so the leaf removes them and recovers the rest.
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2')");
  c.ok("KILL LEAF " + leaf1);
  auto unfinished = sim_cluster::leaf_dir(10001) + "/instances/gone.7";
  BOOST_REQUIRE(!c.fs().create_unsynced(
    unfinished, {{"descriptor.pb", "never synced"}, {"wal.log", ""}}));
  // A torn descriptor that still parses names another instance: it is no
  // descriptor of this directory.
  auto torn = sim_cluster::leaf_dir(10001) + "/instances/gone.8";
  pb::InstanceDescriptor other;
  other.set_database("db");
  BOOST_REQUIRE(!c.fs().create_unsynced(
    torn, {{"descriptor.pb", other.SerializeAsString()}}));
  // One whose log holds records is kept whatever its descriptor says.
  auto with_data = sim_cluster::leaf_dir(10001) + "/instances/kept.9";
  BOOST_REQUIRE(!c.fs().create_unsynced(
    with_data, {{"descriptor.pb", ""}, {"wal.log", "records"}}));
  BOOST_REQUIRE(!c.fs().sync_created({torn, with_data}));
  c.fs().crash(unfinished);
  BOOST_TEST(c.fs().read_file(unfinished + "/descriptor.pb")->empty());
  c.ok("RESTART LEAF " + leaf1);
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return c.leaf_state(10001) == "online"; },
    std::chrono::seconds{2}));
  BOOST_TEST(!c.fs().exists(unfinished));
  BOOST_TEST(!c.fs().exists(torn));
  BOOST_TEST(c.fs().exists(with_data + "/wal.log"));
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "2");
}

BOOST_AUTO_TEST_CASE(attach_orders_go_to_each_leaf_in_one_message) {
  // One pair: the attached leaf's copies become replicas of the masters its
  // pair took over, and those masters learn their replica again.
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 64");
  c.ok("DETACH LEAF " + leaf1);
  // The detach's own second message (its masters go on alone) follows the
  // answer to its promotions, after the statement returned.
  c.ok("SLEEP 200");
  auto before = c.messages_mark();
  c.ok("ATTACH LEAF " + leaf1 + " NO REBALANCE");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  std::map<std::string, size_t> batches; // aggregator -> each leaf
  size_t direct = 0;                     // aggregator -> an instance
  size_t handed_on = 0;                  // a leaf -> its instances
  for (auto& line : c.messages_since(before)) {
    bool from_ma = line.find("ma/ma -> ") != std::string::npos;
    if (from_ma && line.find("LeafOrdersRequest") != std::string::npos)
      ++batches[line.find("10001/leaf") != std::string::npos ? "10001"
                                                              : "10002"];
    if (from_ma && line.find("SetRoleRequest") != std::string::npos)
      ++direct;
    if (line.find("/leaf -> 127.0.0.1:1000") != std::string::npos
        && line.find("SetRoleRequest") != std::string::npos)
      ++handed_on;
  }
  // 64 replicas on 10001 and 64 masters on 10002: one message to each.
  BOOST_TEST(batches["10001"] == 1u);
  BOOST_TEST(batches["10002"] == 1u);
  BOOST_TEST(direct == 0u);
  BOOST_TEST(handed_on == 128u);
}

BOOST_AUTO_TEST_SUITE_END()
