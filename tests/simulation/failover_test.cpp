// Failure detection, promotion, fencing and redundancy-1 offline behaviour,
// on the deterministic scheduler in virtual time.
#include <cstdio>
#include <fstream>

#include <optional>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/partition/partition.hpp"
#include "base/hash.hpp"
#include "cluster/workload.hpp"
#include "raw_client.hpp"
#include "sim_cluster.hpp"

using namespace lg;
using lg::test::sim_cluster;
using lg::test::ask;
using lg::test::map_master;
using lg::test::write_request;
using lg::test::instance_state;

namespace {

std::string key_on(uint32_t ordinal, uint32_t partitions) {
  return sim_cluster::key_on(ordinal, partitions);
}

/// Creates `db` with `partitions` partitions and a row at `key` in the
/// first; then the disk of that partition's master fills up, a write meets
/// it, and half a second passes. Returns the master's port.
std::string fill_master_disk(sim_cluster& c, int partitions,
                             const std::string& key) {
  c.ok("CREATE DATABASE db PARTITIONS " + std::to_string(partitions));
  c.ok("INSERT INTO db VALUES ('" + key + "','before')");
  auto from = c.master_port("db", 0);
  c.fs().fail_writes("/sim/leaves/127.0.0.1_" + from + "/instances/db.0",
                     "No space left on device");
  c.run("INSERT INTO db VALUES ('" + key + "','lost?')");
  c.ok("SLEEP 500");
  return from;
}

/// Creates `db` with 8 partitions and one row in each; returns the
/// ordinals whose master is on 10001.
std::vector<int> eight_partitions_with_rows(sim_cluster& c) {
  c.ok("CREATE DATABASE db PARTITIONS 8");
  std::vector<int> on_10001;
  for (int i = 0; i < 8; ++i)
    if (c.master_port("db", i) == "10001")
      on_10001.push_back(i);
  BOOST_REQUIRE(!on_10001.empty());
  std::string insert = "INSERT INTO db VALUES ";
  for (int i = 0; i < 8; ++i)
    insert += std::string(i ? "," : "") + "('" + key_on(i, 8) + "','"
              + std::to_string(i) + "')";
  c.ok(insert);
  return on_10001;
}


} // namespace

BOOST_AUTO_TEST_SUITE(failover)

BOOST_AUTO_TEST_CASE(heartbeat_detection_fires_at_the_timeout_not_before) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  auto t0 = c.cluster().now();
  c.ok("ISOLATE LEAF '127.0.0.1':10003");
  c.ok("SLEEP 850");
  BOOST_TEST(c.leaf_state(10003) == "online");
  bool offline = c.cluster().run_until(
    [&] { return c.leaf_state(10003) == "offline"; },
    std::chrono::milliseconds{500});
  BOOST_REQUIRE(offline);
  auto elapsed = c.ms_since(t0);
  // Declared offline when the timeout (1000 ms) since its last answer ends:
  // that answer came within one heartbeat interval (100 ms) before the
  // isolation, and the deadline has a timer of its own, so no heartbeat
  // round is waited for.
  BOOST_TEST(elapsed >= 900);
  BOOST_TEST(elapsed <= 1000);
}

BOOST_AUTO_TEST_CASE(configured_timeout_is_honoured) {
  sim_cluster c{4, 2};
  c.ok("SET GLOBAL leaf_failure_timeout_ms = 3000");
  c.ok("SET GLOBAL leaf_heartbeat_interval_ms = 50");
  auto t0 = c.cluster().now();
  c.ok("ISOLATE LEAF '127.0.0.1':10002");
  c.ok("SLEEP 2900");
  BOOST_TEST(c.leaf_state(10002) == "online");
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return c.leaf_state(10002) == "offline"; },
    std::chrono::milliseconds{500}));
  BOOST_TEST(c.ms_since(t0) >= 3000);
  BOOST_TEST(c.ms_since(t0) <= 3050);
}

BOOST_AUTO_TEST_CASE(kill_promotes_the_replicas_on_the_pair) {
  sim_cluster c{4, 2};
  auto on_10001 = eight_partitions_with_rows(c);
  auto t0 = c.cluster().now();
  c.ok("KILL LEAF '127.0.0.1':10001");
  // The down signal acts at once: no virtual time passes.
  BOOST_TEST(c.ms_since(t0) <= 1);
  BOOST_TEST(c.leaf_state(10001) == "offline");
  for (auto i : on_10001)
    BOOST_TEST(c.master_port("db", i) == "10002");
  // Every row written before the failure can be read, and writes go on.
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "8");
  c.ok("INSERT INTO db VALUES ('" + key_on(on_10001.front(), 8) + "','new')");
  auto rs = c.ok("SELECT * FROM db WHERE key = '" + key_on(on_10001.front(), 8)
                 + "'");
  BOOST_TEST(rs.rows(0).cells(1) == "new");
  auto status = c.ok("SHOW CLUSTER STATUS");
  bool saw_new_term = false;
  for (auto& row : status.rows())
    if (row.cells(1) == "10002" && row.cells(4) == "Master"
        && row.cells(6).rfind("2:", 0) == 0)
      saw_new_term = true;
  BOOST_TEST(saw_new_term);
}

BOOST_AUTO_TEST_CASE(failover_orders_go_to_each_leaf_in_one_message) {
  // One pair: every master of 10001 has its replica on 10002.
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 64");
  size_t masters = 0;
  for (uint32_t i = 0; i < 64; ++i)
    masters += c.master_port("db", i) == "10001" ? 1 : 0;
  BOOST_REQUIRE(masters >= 16u);
  auto before = c.messages_mark();
  c.ok("KILL LEAF '127.0.0.1':10001");
  for (uint32_t i = 0; i < 64; ++i)
    BOOST_TEST(c.master_port("db", i) == "10002");
  size_t batches = 0;         // aggregator -> leaf 10002
  size_t direct = 0;          // aggregator -> an instance
  size_t handed_on = 0;       // leaf 10002 -> its instances
  for (auto& line : c.messages_since(before)) {
    bool from_ma = line.find("ma/ma -> ") != std::string::npos;
    if (from_ma && line.find("LeafOrdersRequest") != std::string::npos)
      ++batches;
    if (from_ma && (line.find("PromoteRequest") != std::string::npos
                    || line.find("SetRoleRequest") != std::string::npos))
      ++direct;
    if (line.find("10002/leaf -> 127.0.0.1:10002/p/") != std::string::npos
        && line.find("PromoteRequest") != std::string::npos)
      ++handed_on;
  }
  // The promotions in one message, the masters told to go on alone in
  // another; none straight to an instance.
  BOOST_TEST(batches == 2u);
  BOOST_TEST(direct == 0u);
  BOOST_TEST(handed_on == masters);
}

BOOST_AUTO_TEST_CASE(isolated_leaf_fails_over_by_heartbeat) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("ISOLATE LEAF '127.0.0.1':10004");
  c.ok("SLEEP 1200");
  BOOST_TEST(c.leaf_state(10004) == "offline");
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(c.master_port("db", i) != "10004");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "4");
}

BOOST_AUTO_TEST_CASE(deposed_master_cannot_acknowledge) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  int ordinal = c.master_on("db", 4, 10001);
  BOOST_REQUIRE(ordinal >= 0);
  auto key = key_on(static_cast<uint32_t>(ordinal), 4);
  // The session caches the partition map pointing at 10001.
  c.ok("INSERT INTO db VALUES ('" + key + "','before')");
  // Only the aggregator loses 10001: clients still reach it.
  c.cluster().transport().faults().cut_link("ma", "127.0.0.1:10001");
  // SLEEP runs in the test cluster itself: the session keeps its stale map.
  c.ok("SLEEP 1200");
  auto fenced_before = sim_cluster::probe_count("fenced_write_refused");
  // The write goes first to the deposed master, whose replica (now master
  // under a newer term) refuses it; the client then finds the new master.
  c.ok("INSERT INTO db VALUES ('" + key + "','after')");
  BOOST_TEST(sim_cluster::probe_count("fenced_write_refused")
             > fenced_before);
  BOOST_TEST(c.master_port("db", ordinal) == "10002");
  auto rs = c.ok("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_TEST(rs.rows(0).cells(1) == "after");
  // The deposed master logged the write but never acknowledged it, and it
  // is not served: reads go to the new master only.
  auto status = c.ok("SHOW CLUSTER STATUS");
  for (auto& row : status.rows())
    if (row.cells(3) == std::to_string(ordinal) && row.cells(11) == "Master")
      BOOST_TEST(row.cells(1) == "10002");
}

BOOST_AUTO_TEST_CASE(out_of_sync_replica_is_not_promoted) {
  sim_cluster c{2, 2};
  c.ok("SET GLOBAL sync_replication_timeout_ms = 500");
  c.ok("CREATE DATABASE db PARTITIONS 2");
  int ordinal = c.master_port("db", 0) == "10001" ? 0 : 1;
  auto key = key_on(static_cast<uint32_t>(ordinal), 2);
  // The replica's leaf stops answering its master, but the aggregator
  // still reaches both leaves.
  c.cluster().transport().faults().cut_link("127.0.0.1:10001", "127.0.0.1:10002");
  auto t0 = c.cluster().now();
  c.ok("INSERT INTO db VALUES ('" + key + "','alone')");
  // Acknowledged only after the master gave up on its replica and the
  // aggregator recorded it out of sync.
  BOOST_TEST(c.ms_since(t0) >= 500);
  auto status = c.ok("SHOW CLUSTER STATUS");
  bool out_of_sync = false;
  for (auto& row : status.rows())
    if (row.cells(3) == std::to_string(ordinal) && row.cells(4) == "Replica")
      out_of_sync = row.cells(12).find("out of sync") != std::string::npos;
  BOOST_TEST(out_of_sync);
  c.ok("KILL LEAF '127.0.0.1':10001");
  // Promoting the replica would lose 'alone': the partition goes offline.
  auto err = c.fails("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_TEST(err.find("offline") != std::string::npos);
  BOOST_TEST(err.find("out of sync") != std::string::npos);
  BOOST_TEST(c.master_port("db", ordinal) != "10002");
}

BOOST_AUTO_TEST_CASE(redundancy_1_partitions_go_offline) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  std::string insert = "INSERT INTO db VALUES ";
  for (int i = 0; i < 4; ++i)
    insert += std::string(i ? "," : "") + "('" + key_on(i, 4) + "','v')";
  c.ok(insert);
  c.ok("KILL LEAF '127.0.0.1':10002");
  for (int i = 0; i < 4; ++i) {
    auto stmt = "SELECT * FROM db WHERE key = '" + key_on(i, 4) + "'";
    if (c.master_port("db", i) == "10002") {
      auto err = c.fails(stmt);
      BOOST_TEST(err.find("db:" + std::to_string(i)) != std::string::npos);
      BOOST_TEST(err.find("127.0.0.1:10002") != std::string::npos);
    } else {
      BOOST_TEST(c.ok(stmt).rows_size() == 1);
    }
  }
  // Never a partial count.
  BOOST_TEST(c.fails("SELECT COUNT(*) FROM db").find("offline")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(all_leaves_down_fails_within_the_request_timeout) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("SET GLOBAL leaf_failure_detection = OFF");
  c.ok("ISOLATE LEAF '127.0.0.1':10001");
  c.ok("ISOLATE LEAF '127.0.0.1':10002");
  for (auto stmt : {"INSERT INTO db VALUES ('a','1')", "SELECT * FROM db",
                    "SELECT COUNT(*) FROM db"}) {
    auto t0 = c.cluster().now();
    auto err = c.fails(stmt);
    BOOST_TEST(err.find("timed out") != std::string::npos);
    BOOST_TEST(c.ms_since(t0) <= 10000);
  }
}

BOOST_AUTO_TEST_CASE(detection_off_prevents_failover) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("SET GLOBAL leaf_failure_detection = OFF");
  auto before = c.ok("SHOW PARTITIONS ON db");
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("ISOLATE LEAF '127.0.0.1':10003");
  c.ok("SLEEP 3000");
  BOOST_TEST(c.leaf_state(10001) == "online");
  BOOST_TEST(c.leaf_state(10003) == "online");
  auto after = c.ok("SHOW PARTITIONS ON db");
  BOOST_TEST(render(before) == render(after));
}

BOOST_AUTO_TEST_CASE(no_acknowledged_write_is_lost_when_a_master_dies) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  auto workload = c.start_workload("db", 8);
  auto& record = workload.record;
  c.ok("SLEEP 20");
  BOOST_REQUIRE(record->acked.size() > 10);
  auto acked_before_kill = record->acked.size();
  c.ok("KILL LEAF '127.0.0.1':10003");
  c.ok("SLEEP 200");
  c.stop(workload);
  BOOST_TEST(record->acked.size() > acked_before_kill);
  c.expect_acked_present(*record, "db");
  // Writes in flight at the kill were retried, not failed.
  BOOST_TEST(record->failed.empty());
}

BOOST_AUTO_TEST_CASE(a_retry_after_failover_is_absorbed_by_the_new_master) {
  // A client whose write was acknowledged by a master that then died (or
  // whose acknowledgement was lost with it) retries the same write id on the
  // new master: the promoted replica remembers the id from the replication
  // stream and answers with the original write's LSN, appending nothing.
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  int ordinal = c.master_on("db", 4, 10001);
  BOOST_REQUIRE(ordinal >= 0);
  auto part = static_cast<uint32_t>(ordinal);
  auto actor = partition_actor_name("db", part);
  auto old_master = map_master(c, "db", part);
  uint64_t id = (uint64_t{4242} << 32) | 1;
  auto key = sim_cluster::key_on(part, 4);
  auto first = ask(c, old_master, actor, write_request("db", part, id, key, "a"));
  BOOST_REQUIRE(first.write_reply().status() == pb::STATUS_OK);
  // Later writes, so that the retried id is not the newest one remembered.
  for (uint64_t n = 2; n <= 5; ++n) {
    auto rep = ask(c, old_master, actor,
                   write_request("db", part, (uint64_t{4242} << 32) | n,
                                 sim_cluster::key_on(part, 4, 1), "b"));
    BOOST_REQUIRE(rep.write_reply().status() == pb::STATUS_OK);
  }
  c.ok("KILL LEAF '127.0.0.1':10001");
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return c.master_port("db", ordinal) == "10002"; },
    std::chrono::seconds{5}));
  auto new_master = map_master(c, "db", part);
  BOOST_REQUIRE(new_master != old_master);
  auto retry = ask(c, new_master, actor, write_request("db", part, id, key, "a"));
  BOOST_TEST(retry.write_reply().status() == pb::STATUS_OK);
  BOOST_TEST(retry.write_reply().lsn() == first.write_reply().lsn());
  // A write id the new master never saw is a new write.
  auto fresh = ask(c, new_master, actor,
                   write_request("db", part, (uint64_t{4242} << 32) | 6, key,
                                 "c"));
  BOOST_TEST(fresh.write_reply().status() == pb::STATUS_OK);
  BOOST_TEST(fresh.write_reply().lsn() > first.write_reply().lsn() + 4);
}

BOOST_AUTO_TEST_CASE(killed_leaf_refuses_at_once_and_restarts_cleanly) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  int victim = c.master_on("db", 8, 10001);
  BOOST_REQUIRE(victim >= 0);
  auto key = key_on(static_cast<uint32_t>(victim), 8);
  c.ok("INSERT INTO db VALUES ('" + key + "','before')");
  auto& fab = c.cluster().transport();
  BOOST_TEST(fab.endpoints_on("127.0.0.1:10001") > 0);
  auto refused_before = fab.stats().undeliverable;
  c.ok("KILL LEAF '127.0.0.1':10001");
  // The session still holds the map naming the dead master: its first try
  // is refused at once (no attempt timeout), it asks for a newer map and
  // writes to the promoted replica, all within a few virtual milliseconds.
  auto t0 = c.cluster().now();
  c.ok("INSERT INTO db VALUES ('" + key + "','after')");
  BOOST_TEST(c.ms_since(t0) <= 2);
  BOOST_TEST(fab.stats().undeliverable > refused_before);
  // The always-on ring holds the failover: the promotion and the refusal.
  auto recent = fab.recent();
  BOOST_TEST(recent.size() <= fabric::recent_capacity);
  bool promoted = false;
  bool refused = false;
  for (auto& line : recent) {
    promoted = promoted || line.find("PromoteRequest") != std::string::npos;
    refused = refused || line.find("[undeliverable]") != std::string::npos;
  }
  BOOST_TEST(promoted);
  BOOST_TEST(refused);
  auto path = fab.dump_recent("test dump");
  BOOST_REQUIRE(!path.empty());
  std::ifstream dumped{path};
  std::string first;
  std::getline(dumped, first);
  BOOST_TEST(first.find("test dump") != std::string::npos);
  std::remove(path.c_str());
  BOOST_TEST(fab.endpoints_on("127.0.0.1:10001") == 0u);
  c.ok("RESTART LEAF '127.0.0.1':10001");
  BOOST_TEST(fab.endpoints_on("127.0.0.1:10001") > 0);
  auto rs = c.ok("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_TEST(rs.rows(0).cells(1) == "after");
}

BOOST_AUTO_TEST_CASE(write_during_isolation_completes_once_failover_is_decided) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  int victim = c.master_on("db", 8, 10004);
  BOOST_REQUIRE(victim >= 0);
  auto key = key_on(static_cast<uint32_t>(victim), 8);
  c.ok("INSERT INTO db VALUES ('" + key + "','before')");
  auto t0 = c.cluster().now();
  c.ok("ISOLATE LEAF '127.0.0.1':10004");
  // Blocks until the failover: detection by heartbeat (1000 ms after the
  // last answer, which came at most one 100 ms interval before the
  // isolation), then at most one attempt timeout (250 ms) of a try that was
  // already on its way to the isolated master.
  c.ok("INSERT INTO db VALUES ('" + key + "','during')");
  auto elapsed = c.ms_since(t0);
  BOOST_TEST(elapsed >= 900);
  BOOST_TEST(elapsed <= 1000 + 250 + 5);
  BOOST_TEST(c.master_port("db", victim) != "10004");
  auto rs = c.ok("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_TEST(rs.rows(0).cells(1) == "during");
}

BOOST_AUTO_TEST_CASE(a_write_to_a_silent_master_moves_on_when_the_map_does) {
  // With an 800 ms failure timeout the failover lands while the write's
  // third try is on its way to the isolated master (tries leave at 0, 350
  // and 700 ms, each waits 250 ms, then 100 ms for a newer map). The
  // session watches the map while a master is silent and sends the write on
  // to the new master as soon as the map changes, instead of after that
  // try's timeout.
  sim_cluster c{4, 2};
  c.ok("SET GLOBAL leaf_failure_timeout_ms = 800");
  c.ok("CREATE DATABASE db PARTITIONS 8");
  int victim = c.master_on("db", 8, 10004);
  BOOST_REQUIRE(victim >= 0);
  auto key = key_on(static_cast<uint32_t>(victim), 8);
  c.ok("INSERT INTO db VALUES ('" + key + "','before')");
  auto reaimed_before = sim_cluster::probe_count("client_reaimed");
  auto t0 = c.cluster().now();
  c.ok("ISOLATE LEAF '127.0.0.1':10004");
  c.ok("INSERT INTO db VALUES ('" + key + "','during')");
  auto elapsed = c.ms_since(t0);
  BOOST_TEST(elapsed >= 700);
  BOOST_TEST(elapsed <= 800 + 25);
  BOOST_TEST(sim_cluster::probe_count("client_reaimed") > reaimed_before);
  auto rs = c.ok("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_TEST(rs.rows(0).cells(1) == "during");
}

BOOST_AUTO_TEST_CASE(healed_leaf_rejoins_and_its_stale_masters_step_down) {
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("ISOLATE LEAF '127.0.0.1':10001");
  c.ok("SLEEP 1200");
  BOOST_TEST(c.leaf_state(10001) == "offline");
  c.ok("INSERT INTO db VALUES ('e','5')");
  c.ok("HEAL LEAF '127.0.0.1':10001");
  // Its network is back: it hears the aggregator, says hello, and its
  // copies (masters of term 1 until now) become replicas of term 2.
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return c.leaf_state(10001) == "online"; },
    std::chrono::seconds{2}));
  BOOST_REQUIRE(c.wait_in_sync("db"));
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(c.master_port("db", i) == "10002");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "5");
}

BOOST_AUTO_TEST_CASE(a_decision_that_cannot_be_recorded_is_not_acted_on) {
  sim_cluster c{4, 2};
  auto on_10001 = eight_partitions_with_rows(c);
  c.fs().fail_writes("/sim/ma", "No space left on device");
  // A statement that changes the cluster fails, naming the file and the
  // OS error, and changes nothing.
  auto err = c.fails("SET GLOBAL leaf_failure_timeout_ms = 4000");
  BOOST_TEST(err.find("/sim/ma/metadata.pb") != std::string::npos);
  BOOST_TEST(err.find("No space left on device") != std::string::npos);
  BOOST_TEST(sim_cluster::cell(c.ok("SHOW VARIABLES"), "Variable_name",
                               "leaf_failure_timeout_ms", "Value")
             != "4000");
  // A failover decided meanwhile waits: no replica is promoted.
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("SLEEP 1000");
  // The copies on the pair report their own term: still the first one.
  auto held = c.ok("CHECK PARTITIONS ON db");
  int checked = 0;
  for (auto& row : held.rows())
    if (row.cells(2) == "10002"
        && std::find(on_10001.begin(), on_10001.end(),
                     std::stoi(row.cells(0)))
             != on_10001.end()) {
      BOOST_TEST(row.cells(4) == "1");
      ++checked;
    }
  BOOST_TEST(checked == static_cast<int>(on_10001.size()));
  // Once the disk works again the failover goes on, and nothing is lost.
  c.fs().clear_write_failures();
  c.ok("SLEEP 500");
  for (auto i : on_10001)
    BOOST_TEST(c.master_port("db", i) == "10002");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "8");
  c.ok("SET GLOBAL leaf_failure_timeout_ms = 4000");
}

BOOST_AUTO_TEST_CASE(a_master_whose_disk_fails_is_replaced_by_its_replica) {
  sim_cluster c{4, 2};
  auto key = key_on(0, 4);
  // The write that meets the failed disk is not acknowledged; the
  // partition fails over to the replica on the pair, whose leaf lives on.
  auto from = fill_master_disk(c, 4, key);
  BOOST_TEST(c.master_port("db", 0) != from);
  BOOST_TEST(c.leaf_state(std::stoi(from)) == "online");
  c.ok("INSERT INTO db VALUES ('" + key + "','after')");
  auto rs = c.ok("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_TEST(rs.rows(0).cells(1) == "after");
}

BOOST_AUTO_TEST_CASE(a_failed_disk_in_redundancy_1_takes_the_partition_offline) {
  sim_cluster c{2, 1};
  auto key = key_on(0, 2);
  fill_master_disk(c, 2, key);
  auto err = c.fails("INSERT INTO db VALUES ('" + key + "','x')");
  BOOST_TEST(err.find("db:0") != std::string::npos);
  BOOST_TEST(err.find("No space left on device") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stale_promotion_is_refused_by_a_newer_replica) {
  // A PromoteRequest delayed (or resent) past a newer order reaches an
  // instance that is now a replica of a later term. Taking it would make a
  // second master beside the one the aggregator chose: it must be refused,
  // and the instance must stay the replica it is.
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  int ordinal = c.master_on("db", 2, 10001);
  BOOST_REQUIRE(ordinal >= 0);
  auto part = static_cast<uint32_t>(ordinal);
  const std::string leaf1 = "127.0.0.1:10001";
  auto first_term = instance_state(c, leaf1, "db", part).term();
  // The replica on 10002 is promoted; 10001 comes back as its replica, under
  // the newer term.
  c.ok("KILL LEAF '127.0.0.1':10001");
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return c.master_port("db", ordinal) == "10002"; },
    std::chrono::seconds{5}));
  c.ok("RESTART LEAF '127.0.0.1':10001");
  BOOST_REQUIRE(c.wait_in_sync("db"));
  auto before = instance_state(c, leaf1, "db", part);
  BOOST_REQUIRE(before.role() == pb::REPLICA);
  BOOST_REQUIRE(before.term() > first_term);
  auto refused_before = sim_cluster::probe_count("stale_promotion_refused");
  // An older term, and the instance's own term (a promotion always starts a
  // new term, so one of the current term is stale too).
  for (auto term : {first_term, before.term()}) {
    BOOST_TEST_CONTEXT("PromoteRequest(" << term << ") at term "
                                         << before.term()) {
      auto req = make_envelope(partition_label("db", part), term);
      req->mutable_promote_request()->set_term(term);
      auto rep = ask(c, leaf1, partition_actor_name("db", part), req);
      BOOST_REQUIRE(rep.has_promote_reply());
      BOOST_TEST(rep.promote_reply().status() == pb::CONFLICT);
      const auto& error = rep.promote_reply().error();
      BOOST_TEST(error.find("term " + std::to_string(term))
                 != std::string::npos);
      BOOST_TEST(error.find("term " + std::to_string(before.term()))
                 != std::string::npos);
    }
  }
  BOOST_TEST(sim_cluster::probe_count("stale_promotion_refused")
             == refused_before + 2);
  auto after = instance_state(c, leaf1, "db", part);
  BOOST_TEST(after.role() == pb::REPLICA);
  BOOST_TEST(after.term() == before.term());
  BOOST_TEST(after.peer() == before.peer());
  // The chosen master still serves, with its replica.
  BOOST_TEST(c.master_port("db", ordinal) == "10002");
  auto key = sim_cluster::key_on(part, 2);
  c.ok("INSERT INTO db VALUES ('" + key + "','after')");
  BOOST_TEST(c.wait_in_sync("db"));
}

BOOST_AUTO_TEST_SUITE_END()
