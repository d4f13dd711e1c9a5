// Synchronous replication and persistence, on the deterministic scheduler.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "base/bugs.hpp"
#include "raw_client.hpp"
#include "sim_cluster.hpp"

using namespace lg;
using lg::test::ask;
using lg::test::instance_state;
using lg::test::map_master;
using lg::test::sim_cluster;
using lg::test::write_request;

BOOST_AUTO_TEST_SUITE(replication)

BOOST_AUTO_TEST_CASE(acknowledged_write_is_on_both_instances) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  std::string stmt = "INSERT INTO db VALUES ";
  for (int i = 0; i < 40; ++i)
    stmt += std::string(i ? "," : "") + "('key" + std::to_string(i)
            + "','value" + std::to_string(i) + "')";
  c.ok(stmt);
  // As soon as the INSERT is acknowledged, both copies of every partition
  // hold the rows on disk, with equal content.
  std::set<std::string> seen;
  for (int ordinal = 0; ordinal < 4; ++ordinal) {
    auto insts = c.instances("db", ordinal);
    BOOST_REQUIRE_EQUAL(insts.size(), 2u);
    auto a = c.open_instance(std::stoi(insts[0].first), "db", ordinal);
    auto b = c.open_instance(std::stoi(insts[1].first), "db", ordinal);
    BOOST_TEST(a->rows() == b->rows());
    BOOST_TEST(a->checksum() == b->checksum());
    BOOST_TEST(a->last().lsn == b->last().lsn);
    BOOST_TEST(a->last().term == b->last().term);
    for (auto& kvp : a->rows())
      seen.insert(kvp.first);
  }
  BOOST_TEST(seen.size() == 40u);
}

namespace {

/// Counts, per leaf, the status requests asked of it and not yet answered,
/// and the most there ever were.
class fanout_counter : public trace_sink {
public:
  void record(const envelope& env, transport_event what, int64_t) override {
    if (what != transport_event::sent)
      return;
    if (env.has_instance_status_request()) {
      auto& n = open_[env.header().to().node()];
      most_ = std::max(most_, ++n);
      ++asked_;
    } else if (env.has_instance_status_reply()) {
      --open_[env.header().from().node()];
    }
  }

  int most_ = 0;
  int asked_ = 0;

private:
  std::map<std::string, int> open_;
};


/// Counts, per leaf, the batches of creations sent to it and not yet
/// answered, the most there ever were, and the creations they carried.
class creation_counter : public trace_sink {
public:
  void record(const envelope& env, transport_event what, int64_t) override {
    if (what != transport_event::sent)
      return;
    if (env.has_create_instance_request())
      ++single_;
    if (env.has_drop_instance_request())
      ++single_drops_;
    if (env.has_leaf_orders_request()) {
      auto& orders = env.leaf_orders_request().orders();
      if (!orders.empty() && orders[0].order().has_drop_instance_request())
        drop_batch_sizes_[env.header().to().node()].push_back(orders.size());
      if (orders.empty() || !orders[0].order().has_create_instance_request())
        return;
      auto leaf = env.header().to().node();
      auto& n = open_[leaf];
      most_ = std::max(most_, ++n);
      batch_sizes_[leaf].push_back(orders.size());
    } else if (env.has_leaf_orders_reply()) {
      auto& answers = env.leaf_orders_reply().answers();
      if (!answers.empty() && answers[0].has_create_instance_reply())
        --open_[env.header().from().node()];
    }
  }

  int most_ = 0;
  int single_ = 0;
  int single_drops_ = 0;
  std::map<std::string, std::vector<int>> batch_sizes_;
  std::map<std::string, std::vector<int>> drop_batch_sizes_;

private:
  std::map<std::string, int> open_;
};

} // namespace

BOOST_AUTO_TEST_CASE(creations_go_to_each_leaf_in_batches_synced_together) {
  // One request per instance made every leaf sync a few files per instance,
  // and 16384 partitions on 4 leaf processes took 10 s; a batch is synced
  // once. Two batches at most are in flight per leaf, so its heartbeats
  // never queue behind thousands of creations.
  sim_cluster c{4, 2};
  auto& fab = c.cluster().transport();
  auto counter = std::make_shared<creation_counter>();
  fab.set_trace_sink(counter);
  c.ok("CREATE DATABASE big PARTITIONS 2048");
  fab.set_trace_sink(nullptr);
  // 4096 instances, 1024 per leaf, 256 per message.
  BOOST_TEST(counter->single_ == 0);
  BOOST_TEST(counter->most_ == 2);
  BOOST_TEST(counter->batch_sizes_.size() == 4u);
  for (auto& [leaf, sizes] : counter->batch_sizes_)
    BOOST_TEST(sizes == (std::vector<int>{256, 256, 256, 256}),
               boost::test_tools::per_element());
  // Acknowledged means durable: when the statement returns, every file of
  // every instance is synced.
  size_t files = 0;
  for (auto& [path, file] : c.fs().files())
    if (path.find("/instances/big.") != std::string::npos) {
      ++files;
      BOOST_TEST_CONTEXT(path) {
        BOOST_TEST(file->synced == file->data.size());
      }
    }
  BOOST_TEST(files == 2u * 4096u);
  auto count = c.ok("SELECT COUNT(*) FROM big");
  BOOST_TEST(count.rows(0).cells(0) == "0");
  // Its progress was a job of SHOW REBALANCE STATUS.
  auto jobs = c.ok("SHOW REBALANCE STATUS ON big");
  BOOST_REQUIRE(jobs.rows_size() == 1);
  BOOST_TEST(jobs.rows(0).cells(0) == "create database");
  BOOST_TEST(jobs.rows(0).cells(4) == "success");
  BOOST_TEST(jobs.rows(0).cells(7) == "100.0%");
  BOOST_TEST(jobs.rows(0).cells(9) == "4096 of 4096 instances created");
  // Dropped in batches too, and created again under the same name at once:
  // every drop reaches its leaf before the new creations.
  auto drops = std::make_shared<creation_counter>();
  fab.set_trace_sink(drops);
  c.ok("DROP DATABASE big");
  c.ok("CREATE DATABASE big PARTITIONS 2048");
  fab.set_trace_sink(nullptr);
  BOOST_TEST(drops->single_drops_ == 0);
  BOOST_TEST(drops->drop_batch_sizes_.size() == 4u);
  for (auto& [leaf, sizes] : drops->drop_batch_sizes_)
    BOOST_TEST(sizes == (std::vector<int>{256, 256, 256, 256}),
               boost::test_tools::per_element());
  c.ok("INSERT INTO big VALUES ('k','v')");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM big").rows(0).cells(0) == "1");
}

BOOST_AUTO_TEST_CASE(a_creation_a_leaf_never_answers_fails_and_says_so) {
  sim_cluster c{4, 2};
  auto& fab = c.cluster().transport();
  fab.faults().delay_messages("ma", "127.0.0.1:10003",
                              envelope::kLeafOrdersRequest,
                              std::chrono::hours{1});
  auto err = c.fails("CREATE DATABASE big PARTITIONS 64");
  BOOST_TEST(err.find("127.0.0.1:10003 did not answer") != std::string::npos);
  fab.faults().clear_message_delays();
  // No database 'big': its failed creation is listed with every database's
  // jobs.
  c.fails("SHOW REBALANCE STATUS ON big");
  auto jobs = c.ok("SHOW REBALANCE STATUS");
  BOOST_REQUIRE(jobs.rows_size() == 1);
  BOOST_TEST(jobs.rows(0).cells(0) == "big");
  BOOST_TEST(jobs.rows(0).cells(1) == "create database");
  BOOST_TEST(jobs.rows(0).cells(5) == "failed");
  // The three other leaves created their 32 instances each.
  BOOST_TEST(jobs.rows(0).cells(8) == "75.0%");
  BOOST_TEST(jobs.rows(0).cells(10).find("did not answer")
             != std::string::npos);
  // Nothing of it is left, and the name can be used again.
  c.fails("SELECT COUNT(*) FROM big");
  c.ok("CREATE DATABASE big PARTITIONS 64");
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM big").rows(0).cells(0) == "0");
}

BOOST_AUTO_TEST_CASE(fanouts_to_every_instance_are_paced_per_leaf) {
  // Sent all at once, 256 requests per leaf queued ahead of its heartbeat
  // replies; leaf processes asked for 8192 each answered none for over a
  // second and were declared offline while they worked.
  sim_cluster c{4, 2};
  auto& fab = c.cluster().transport();
  c.ok("CREATE DATABASE big PARTITIONS 512");
  for (auto stmt : {"CHECK PARTITIONS ON big", "SHOW CLUSTER STATUS"}) {
    auto counter = std::make_shared<fanout_counter>();
    fab.set_trace_sink(counter);
    auto rs = c.ok(stmt);
    fab.set_trace_sink(nullptr);
    BOOST_TEST_CONTEXT(stmt) {
      BOOST_TEST(counter->asked_ == 1024);
      BOOST_TEST(counter->most_ == 32);
      if (std::string{stmt}.rfind("CHECK", 0) == 0) {
        BOOST_TEST(rs.rows_size() == 1024);
        for (auto& row : rs.rows())
          BOOST_TEST(row.cells(7) == "in_sync");
      }
      if (std::string{stmt}.rfind("SHOW", 0) == 0)
        BOOST_TEST(rs.rows_size() == 1024);
    }
  }
  auto count = c.ok("SELECT COUNT(*) FROM big");
  BOOST_TEST(count.rows(0).cells(0) == "0");
  auto leaves = c.ok("SHOW LEAVES");
  BOOST_TEST(leaves.rows_size() == 4);
  for (auto& row : leaves.rows())
    BOOST_TEST(row.cells(5) == "online");
}

BOOST_AUTO_TEST_CASE(replica_sits_on_the_pair_and_masters_split_evenly) {
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  std::map<std::string, int> masters;
  for (int ordinal = 0; ordinal < 8; ++ordinal) {
    auto insts = c.instances("db", ordinal);
    BOOST_REQUIRE_EQUAL(insts.size(), 2u);
    auto m = std::stoi(c.master_port("db", ordinal));
    ++masters[std::to_string(m)];
    for (auto& [port, role] : insts)
      if (role == "Replica") {
        // Pairs are (10001,10002) and (10003,10004).
        auto pair = m % 2 == 1 ? m + 1 : m - 1;
        BOOST_TEST(std::stoi(port) == pair);
      }
  }
  for (auto& kvp : masters)
    BOOST_TEST(kvp.second == 2);
}

BOOST_AUTO_TEST_CASE(sync_durability_acknowledges_only_synced_writes) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 2 WITH SYNC DURABILITY");
  c.ok("INSERT INTO db VALUES ('a','1'), ('b','2'), ('c','3')");
  // A machine crash that loses unsynced bytes loses nothing acknowledged.
  c.fs().crash("/sim/leaves");
  size_t rows = 0;
  for (int ordinal = 0; ordinal < 2; ++ordinal)
    rows += c.open_instance(std::stoi(c.master_port("db", ordinal)), "db",
                            ordinal)
              ->rows()
              .size();
  BOOST_TEST(rows == 3u);
}

namespace {

/// An ASYNC partition whose replica is cut off from its master: the master
/// goes on alone, acknowledges four rows, and its machine crashes. Returns
/// how many of them its disk kept.
size_t rows_kept_by_a_master_alone(bool broken) {
  bugs::async_alone_unsynced = broken;
  sim_cluster c{2, 2};
  c.ok("CREATE DATABASE db PARTITIONS 1");
  auto master = std::stoi(c.master_port("db", 0));
  auto replica = master == 10001 ? 10002 : 10001;
  c.cluster().transport().faults().cut_link(
    "127.0.0.1:" + std::to_string(master),
    "127.0.0.1:" + std::to_string(replica));
  // The first write waits until the master gives up on its replica.
  c.ok("INSERT INTO db VALUES ('first','1')");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3')");
  c.fs().crash(sim_cluster::leaf_dir(master));
  auto rows = c.open_instance(master, "db", 0)->rows().size();
  bugs::async_alone_unsynced = false;
  return rows;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_master_alone_acknowledges_only_what_it_synced) {
  // Under ASYNC durability a master with an in-sync replica acknowledges
  // what two machines hold in memory; alone, only what its disk holds.
  BOOST_TEST(rows_kept_by_a_master_alone(false) == 4u);
  // The broken variant async-alone-unsynced: acknowledged rows are lost.
  BOOST_TEST(rows_kept_by_a_master_alone(true) < 4u);
}

BOOST_AUTO_TEST_CASE(kill_and_restart_brings_data_back_in_redundancy_1) {
  sim_cluster c{4, 1};
  c.ok("CREATE DATABASE db PARTITIONS 8");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4'),"
       "('e','5'),('f','6'),('g','7'),('h','8')");
  c.ok("KILL LEAF '127.0.0.1':10001");
  c.ok("RESTART LEAF '127.0.0.1':10001");
  c.ok("SLEEP 100");
  BOOST_TEST(c.leaf_state(10001) == "online");
  auto rs = c.ok("SELECT COUNT(*) FROM db");
  BOOST_TEST(rs.rows(0).cells(0) == "8");
}

BOOST_AUTO_TEST_CASE(destroy_loses_only_that_leafs_partitions) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3'),('d','4')");
  c.ok("DESTROY LEAF '127.0.0.1':10001");
  BOOST_TEST(!c.fs().exists("/sim/leaves/127.0.0.1_10001/instances"));
  auto err = c.fails("SELECT COUNT(*) FROM db");
  BOOST_TEST(err.find("10001") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(whole_cluster_restart_keeps_metadata_and_data) {
  auto fs = std::make_shared<storage::memory_vfs>();
  {
    sim_cluster c{4, 2, fs};
    c.ok("CREATE DATABASE db PARTITIONS 4");
    c.ok("SET GLOBAL leaf_failure_timeout_ms = 1500");
    c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3')");
  }
  sim_cluster c{4, 2, fs};
  c.ok("SLEEP 200");
  auto leaves = c.ok("SHOW LEAVES");
  BOOST_TEST(leaves.rows_size() == 4);
  for (int port = 10001; port <= 10004; ++port)
    BOOST_TEST(c.leaf_state(port) == "online");
  auto vars = c.ok("SHOW VARIABLES LIKE 'leaf_failure_timeout_ms'");
  BOOST_TEST(vars.rows(0).cells(1) == "1500");
  auto rs = c.ok("SELECT * FROM db");
  BOOST_REQUIRE_EQUAL(rs.rows_size(), 3);
  BOOST_TEST(rs.rows(0).cells(0) == "a");
  BOOST_TEST(rs.rows(2).cells(1) == "3");
}

BOOST_AUTO_TEST_CASE(checkpoints_under_writes_keep_every_acknowledged_write) {
  // Logs of 32 KiB: every instance checkpoints many times under the load,
  // each time sealing its log while writes go on into the next.
  auto fs = std::make_shared<storage::memory_vfs>();
  auto folded_before = sim_cluster::probe_count("checkpoint_folded");
  std::map<std::string, std::string> rows;
  {
    sim_cluster c{4, 2, fs, 32768};
    c.ok("CREATE DATABASE db PARTITIONS 4");
    auto workload = c.start_workload("db", 4);
    c.ok("SLEEP 100");
    c.stop(workload);
    BOOST_TEST(workload.record->acked.size() > 2000u);
    BOOST_TEST(workload.record->failed.empty());
    auto folded = sim_cluster::probe_count("checkpoint_folded") - folded_before;
    BOOST_TEST_MESSAGE(workload.record->acked.size()
                       << " writes acknowledged, " << folded
                       << " checkpoints folded");
    BOOST_TEST(folded > 16u);
    BOOST_REQUIRE(c.wait_in_sync("db"));
    c.expect_acked_present(*workload.record, "db");
    // Both copies of each partition hold the same rows.
    auto check = c.check("db");
    std::map<std::string, std::set<std::string>> sums;
    for (auto& row : check.rows())
      sums[row.cells(0)].insert(row.cells(6));
    for (auto& [ordinal, distinct] : sums)
      BOOST_TEST(distinct.size() == 1u, "partition " << ordinal);
    auto all = c.ok("SELECT * FROM db");
    for (auto& row : all.rows())
      rows[row.cells(0)] = row.cells(1);
  }
  // Every instance comes back from its snapshots and logs as it was.
  sim_cluster c{4, 2, fs, 32768};
  BOOST_REQUIRE(c.wait_in_sync("db"));
  std::map<std::string, std::string> again;
  auto all = c.ok("SELECT * FROM db");
  for (auto& row : all.rows())
    again[row.cells(0)] = row.cells(1);
  BOOST_TEST(again.size() == rows.size());
  BOOST_TEST((again == rows));
}

BOOST_AUTO_TEST_CASE(bad_statements_change_nothing) {
  sim_cluster c{2, 1};
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("INSERT INTO db VALUES ('a','1')");
  BOOST_TEST(c.fails("INSERT INTO db VALUES ('b')").find("')'")
             != std::string::npos);
  BOOST_TEST(c.fails("INSERT INTO nope VALUES ('b','2')").find("nope")
             != std::string::npos);
  BOOST_TEST(c.fails("CREATE DATABASE db").find("db") != std::string::npos);
  BOOST_TEST(c.fails("CREATE DATABASE `a/b`").find("a/b")
             != std::string::npos);
  BOOST_TEST(c.fails("SET GLOBAL redundancy_level = 3").find("redundancy")
             != std::string::npos);
  BOOST_TEST(c.fails("SET GLOBAL no_such_var = 1").find("no_such_var")
             != std::string::npos);
  BOOST_TEST(c.fails("KILL LEAF '127.0.0.1':19999").find("19999")
             != std::string::npos);
  BOOST_TEST(c.fails("ADD LEAF '127.0.0.1':10001").find("10001")
             != std::string::npos);
  auto rs = c.ok("SELECT * FROM db");
  BOOST_REQUIRE_EQUAL(rs.rows_size(), 1);
  BOOST_TEST(rs.rows(0).cells(1) == "1");
  BOOST_TEST(c.ok("SHOW DATABASES").rows_size() == 1);
}

BOOST_AUTO_TEST_CASE(same_script_same_output) {
  auto script = [] {
    sim_cluster c{4, 2};
    std::string out;
    for (auto stmt : {"CREATE DATABASE db PARTITIONS 6",
                      "INSERT INTO db VALUES ('x','1'),('y','2'),('z','3')",
                      "KILL LEAF '127.0.0.1':10003", "SLEEP 50",
                      "SHOW PARTITIONS ON db", "SELECT * FROM db",
                      "SHOW CLUSTER STATUS"})
      out += render(c.run(stmt));
    return out;
  };
  BOOST_TEST(script() == script());
}

namespace {

/// Switches the no-dedup variant on (or off) for one scope.
struct no_dedup_while {
  explicit no_dedup_while(bool on) {
    bugs::reset();
    bugs::no_dedup = on;
  }
  ~no_dedup_while() {
    bugs::reset();
  }
};

const uint64_t retrying_client = uint64_t{4242} << 32;

/// Sends a write to the master of db:part, again while its instance is not
/// serving yet (a role still on its way); returns the answer.
envelope write_to_master(sim_cluster& c, uint32_t part, uint64_t write_id,
                         const std::string& key, const std::string& value) {
  envelope rep;
  for (int attempt = 0; attempt < 20; ++attempt) {
    rep = ask(c, map_master(c, "db", part), partition_actor_name("db", part),
              write_request("db", part, write_id, key, value));
    if (rep.write_reply().status() == pb::STATUS_OK)
      break;
    c.ok("SLEEP 50");
  }
  BOOST_REQUIRE_MESSAGE(rep.write_reply().status() == pb::STATUS_OK,
                        rep.write_reply().error());
  return rep;
}

/// Writes key = "old" under write id X to db:part, runs `fault`, writes
/// key = "new" under a later id, then retries X as a client whose first
/// answer was lost does: returns the key's value afterwards.
std::string value_after_a_retry_across(sim_cluster& c, uint32_t part,
                                       uint32_t partitions,
                                       const std::function<void()>& fault) {
  auto key = sim_cluster::key_on(part, partitions);
  auto first = write_to_master(c, part, retrying_client | 1, key, "old");
  fault();
  auto newer = write_to_master(c, part, retrying_client | 2, key, "new");
  BOOST_TEST(newer.write_reply().lsn() > first.write_reply().lsn());
  write_to_master(c, part, retrying_client | 1, key, "old");
  auto rs = c.ok("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_REQUIRE_EQUAL(rs.rows_size(), 1);
  return rs.rows(0).cells(1);
}

/// The write ids in the snapshot of db:part on the leaf on `port`.
std::vector<uint64_t> snapshot_write_ids(sim_cluster& c, int port,
                                         uint32_t part) {
  auto bytes = c.fs().read_file(sim_cluster::leaf_dir(port) + "/instances/db."
                                + std::to_string(part) + "/snapshot.bin");
  BOOST_REQUIRE(bytes.ok());
  auto snap = storage::decode_snapshot(*bytes);
  BOOST_REQUIRE(snap.ok());
  std::vector<uint64_t> ids;
  for (auto& e : snap->write_ids)
    ids.push_back(e.id);
  return ids;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_retry_across_a_restart_applies_once) {
  // The restarted master rebuilds its window of write ids from its log:
  // the retry is answered, and the newer write stays.
  for (bool broken : {false, true}) {
    BOOST_TEST_CONTEXT((broken ? "with no-dedup" : "fixed")) {
      no_dedup_while bug{broken};
      sim_cluster c{2, 1};
      c.ok("CREATE DATABASE db PARTITIONS 2");
      auto part = static_cast<uint32_t>(c.master_on("db", 2, 10001));
      auto value = value_after_a_retry_across(c, part, 2, [&] {
        c.ok("KILL LEAF '127.0.0.1':10001");
        c.ok("RESTART LEAF '127.0.0.1':10001");
      });
      BOOST_TEST(value == (broken ? "old" : "new"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_retry_of_a_write_folded_into_the_snapshot_applies_once) {
  // Every flush checkpoints: the first write is in the snapshot only when
  // the leaf restarts, and the snapshot carries its write id.
  for (bool broken : {false, true}) {
    BOOST_TEST_CONTEXT((broken ? "with no-dedup" : "fixed")) {
      no_dedup_while bug{broken};
      sim_cluster c{2, 1, nullptr, 1};
      c.ok("CREATE DATABASE db PARTITIONS 2");
      auto part = static_cast<uint32_t>(c.master_on("db", 2, 10001));
      auto value = value_after_a_retry_across(c, part, 2, [&] {
        auto ids = snapshot_write_ids(c, 10001, part);
        BOOST_TEST((std::find(ids.begin(), ids.end(), retrying_client | 1)
                    != ids.end()));
        c.ok("KILL LEAF '127.0.0.1':10001");
        c.ok("RESTART LEAF '127.0.0.1':10001");
      });
      BOOST_TEST(value == (broken ? "old" : "new"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_retry_on_a_copy_rebuilt_from_a_snapshot_applies_once) {
  // The replica's copy is lost and rebuilt from its master's snapshot, which
  // holds the first write; then the master dies and the rebuilt copy is
  // promoted. It must remember the write ids the snapshot carried.
  for (bool broken : {false, true}) {
    BOOST_TEST_CONTEXT((broken ? "with no-dedup" : "fixed")) {
      no_dedup_while bug{broken};
      sim_cluster c{2, 2, nullptr, 1};
      c.ok("CREATE DATABASE db PARTITIONS 2");
      auto part = static_cast<uint32_t>(c.master_on("db", 2, 10001));
      auto value = value_after_a_retry_across(c, part, 2, [&] {
        c.ok("KILL LEAF '127.0.0.1':10002");
        auto dir = sim_cluster::leaf_dir(10002) + "/instances/db."
                   + std::to_string(part);
        for (auto& [path, file] : c.fs().files())
          if (path.rfind(dir + "/", 0) == 0 && !file->data.empty())
            BOOST_REQUIRE(!c.fs().corrupt(path, 0));
        c.ok("RESTART LEAF '127.0.0.1':10002");
        BOOST_REQUIRE(c.wait_in_sync("db"));
        // The copy was rebuilt from a snapshot that holds the first write.
        auto ids = snapshot_write_ids(c, 10002, part);
        BOOST_TEST((std::find(ids.begin(), ids.end(), retrying_client | 1)
                    != ids.end()));
        c.ok("KILL LEAF '127.0.0.1':10001");
        BOOST_REQUIRE(c.master_port("db", static_cast<int>(part)) == "10002");
      });
      BOOST_TEST(value == (broken ? "old" : "new"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_cut_off_replicas_master_holds_a_bounded_backlog) {
  // The replica's leaf is cut off while writes go on: its master goes on
  // alone and holds at most replication_backlog_mb of what the replica has
  // not confirmed. Once healed, the replica is rebuilt and in sync, and
  // holds every acknowledged write.
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("SET GLOBAL replication_backlog_mb = 1");
  c.ok("SET GLOBAL sync_replication_timeout_ms = 300");
  auto ordinal = c.master_on("db", 4, 10001);
  BOOST_REQUIRE(ordinal >= 0);
  auto part = static_cast<uint32_t>(ordinal);
  const std::string master = "127.0.0.1:10001";
  auto dropped_before = sim_cluster::probe_count("replication_backlog_dropped");
  auto rebuilt_before = sim_cluster::probe_count("lagging_copy_rebuilt");
  c.ok("ISOLATE LEAF '127.0.0.1':10002");
  const uint64_t limit = 1024 * 1024;
  const std::string value(16 * 1024, 'v');
  std::map<std::string, std::string> acked;
  uint64_t most = 0;
  for (int i = 0; i < 256; ++i) { // 4 MiB of writes
    auto key = sim_cluster::key_on(part, 4, i);
    auto v = std::to_string(i) + value;
    c.ok("INSERT INTO db VALUES ('" + key + "','" + v + "')");
    acked[key] = v;
    auto held = instance_state(c, master, "db", part)
                  .replication_backlog_bytes();
    most = std::max(most, held);
    BOOST_TEST_REQUIRE(held <= limit, "after write " << i << ": " << held
                                                     << " bytes held");
  }
  BOOST_TEST_MESSAGE("at most " << most << " bytes held for the replica");
  BOOST_TEST(most > limit / 2);
  BOOST_TEST(sim_cluster::probe_count("replication_backlog_dropped")
             > dropped_before);
  c.ok("HEAL LEAF '127.0.0.1':10002");
  BOOST_REQUIRE(c.wait_in_sync("db", std::chrono::seconds{30}));
  BOOST_TEST(c.master_port("db", ordinal) == "10001");
  // Rebuilt: the master no longer held what the replica lacked.
  BOOST_TEST(sim_cluster::probe_count("lagging_copy_rebuilt")
             > rebuilt_before);
  BOOST_TEST(instance_state(c, master, "db", part).replication_backlog_bytes()
             == 0u);
  // No acknowledged write was lost, and the replica holds every one: it
  // serves them once its master is gone.
  c.ok("KILL LEAF '127.0.0.1':10001");
  BOOST_REQUIRE(c.master_port("db", ordinal) == "10002");
  auto rs = c.ok("SELECT * FROM db");
  std::map<std::string, std::string> stored;
  for (auto& row : rs.rows())
    stored[row.cells(0)] = row.cells(1);
  for (auto& [key, v] : acked)
    BOOST_TEST_CONTEXT("acknowledged key " << key) {
      BOOST_TEST((stored[key] == v));
    }
}

BOOST_AUTO_TEST_CASE(an_in_sync_replica_is_dropped_before_its_backlog_goes) {
  // Only the link between master and replica is cut, and the sync timeout
  // is a minute: the backlog alone makes the master ask to go on without
  // its replica. The write is acknowledged once the aggregator recorded the
  // replica out of sync, not before.
  sim_cluster c{4, 2};
  c.ok("CREATE DATABASE db PARTITIONS 4");
  c.ok("SET GLOBAL replication_backlog_mb = 1");
  c.ok("SET GLOBAL sync_replication_timeout_ms = 60000");
  auto ordinal = c.master_on("db", 4, 10001);
  BOOST_REQUIRE(ordinal >= 0);
  auto part = static_cast<uint32_t>(ordinal);
  const std::string master = "127.0.0.1:10001";
  auto full_before = sim_cluster::probe_count("replication_backlog_full");
  auto& faults = c.cluster().transport().faults();
  faults.cut_link(master, "127.0.0.1:10002");
  auto key = sim_cluster::key_on(part, 4);
  const std::string big(1536 * 1024, 'b');
  auto t0 = c.cluster().now();
  c.ok("INSERT INTO db VALUES ('" + key + "','" + big + "')");
  BOOST_TEST(c.ms_since(t0) < 5000);
  BOOST_TEST(sim_cluster::probe_count("replication_backlog_full")
             > full_before);
  auto state = instance_state(c, master, "db", part);
  BOOST_TEST(!state.peer_in_sync());
  BOOST_TEST(state.replication_backlog_bytes() == 0u);
  faults.heal_link(master, "127.0.0.1:10002");
  BOOST_REQUIRE(c.wait_in_sync("db", std::chrono::seconds{30}));
  c.ok("KILL LEAF '127.0.0.1':10001");
  auto rs = c.ok("SELECT * FROM db WHERE key = '" + key + "'");
  BOOST_REQUIRE_EQUAL(rs.rows_size(), 1);
  BOOST_TEST((rs.rows(0).cells(1) == big));
}

BOOST_AUTO_TEST_SUITE_END()
