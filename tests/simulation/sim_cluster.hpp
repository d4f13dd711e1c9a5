// A test cluster on CAF's deterministic test scheduler, in virtual time, with
// an in-memory file system: exact, fast, and inspectable.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "sql/result_proto.hpp"
#include "base/hash.hpp"
#include "base/probes.hpp"
#include "cluster/local_cluster.hpp"
#include "cluster/workload.hpp"
#include "storage/partition_store.hpp"
#include "storage/vfs.hpp"

namespace lg::test {

/// An in-process cluster in virtual time over a memory file system.
class sim_cluster {
public:
  explicit sim_cluster(int leaves = 4, int redundancy = 2,
                       std::shared_ptr<storage::memory_vfs> fs = nullptr,
                       uint64_t checkpoint_log_bytes = 64 * 1024 * 1024,
                       int aggregators = 1)
    : fs_(fs ? fs : std::make_shared<storage::memory_vfs>()),
      aggregators_(aggregators),
      checkpoint_log_bytes_(checkpoint_log_bytes) {
    start(leaves, redundancy);
  }

  /// Stops the cluster; its disk (the memory file system) stays.
  void stop() {
    cluster_.reset();
  }

  /// Voting aggregators of the clusters started from now (1: none).
  void set_aggregators(int n) {
    aggregators_ = n;
  }

  /// Starts (or restores) a cluster on the same disk.
  void start(int leaves = 4, int redundancy = 2) {
    local_cluster_options opts;
    opts.aggregators = aggregators_;
    opts.leaves = leaves;
    opts.redundancy = redundancy;
    opts.simulate = true;
    opts.data_dir = "/sim";
    opts.checkpoint_log_bytes = checkpoint_log_bytes_;
    opts.fs = fs_;
    cluster_ = std::make_unique<local_cluster>(opts);
    BOOST_REQUIRE_MESSAGE(!cluster_->startup_error(),
                          cluster_->startup_error().to_string());
  }

  /// Runs a statement that must succeed.
  pb::ResultSet ok(const std::string& stmt) {
    auto rs = cluster_->execute(stmt);
    BOOST_REQUIRE_MESSAGE(rs.error_code() == 0,
                          stmt << " failed: " << render(rs));
    return rs;
  }

  /// Runs a statement that must fail; returns its error text.
  std::string fails(const std::string& stmt) {
    auto rs = cluster_->execute(stmt);
    BOOST_REQUIRE_MESSAGE(rs.error_code() != 0,
                          stmt << " should have failed: " << render(rs));
    return rs.error();
  }

  /// Runs a statement whatever its outcome.
  pb::ResultSet run(const std::string& stmt) {
    return cluster_->execute(stmt);
  }

  /// Where the fabric's ring of recent messages ends now.
  size_t messages_mark() {
    return cluster_->transport().recent().size();
  }

  /// The messages the fabric carried since `mark` (messages_mark()); fails
  /// the test if its ring filled up meanwhile and lost some.
  std::vector<std::string> messages_since(size_t mark) {
    auto recent = cluster_->transport().recent();
    BOOST_REQUIRE(recent.size() < fabric::recent_capacity);
    return {recent.begin() + static_cast<std::ptrdiff_t>(mark),
            recent.end()};
  }

  local_cluster& cluster() {
    return *cluster_;
  }

  storage::memory_vfs& fs() {
    return *fs_;
  }

  std::shared_ptr<storage::memory_vfs> fs_ptr() {
    return fs_;
  }

  /// Milliseconds of virtual time since `t0`.
  int64_t ms_since(time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             cluster_->now() - t0)
      .count();
  }

  /// The value of `column` in the row whose `key_column` equals `key`.
  static std::string cell(const pb::ResultSet& rs, const std::string& key_col,
                          const std::string& key, const std::string& column) {
    int k = -1;
    int c = -1;
    for (int i = 0; i < rs.columns_size(); ++i) {
      if (rs.columns(i) == key_col)
        k = i;
      if (rs.columns(i) == column)
        c = i;
    }
    BOOST_REQUIRE(k >= 0 && c >= 0);
    for (auto& row : rs.rows())
      if (row.cells(k) == key)
        return row.cells(c);
    return "<no row>";
  }

  /// The State of a leaf in SHOW LEAVES.
  std::string leaf_state(int port) {
    return cell(ok("SHOW LEAVES"), "Port", std::to_string(port), "State");
  }

  /// The (port, role) pairs of a partition in SHOW PARTITIONS.
  std::vector<std::pair<std::string, std::string>>
  instances(const std::string& db, int ordinal) {
    std::vector<std::pair<std::string, std::string>> result;
    auto rs = ok("SHOW PARTITIONS ON " + db);
    for (auto& row : rs.rows())
      if (row.cells(0) == std::to_string(ordinal))
        result.emplace_back(row.cells(2), row.cells(3));
    return result;
  }

  /// The port of the master of a partition, or "" when none.
  std::string master_port(const std::string& db, int ordinal) {
    for (auto& [port, role] : instances(db, ordinal))
      if (role == "Master")
        return port;
    return "";
  }

  /// The first ordinal of `db` whose master is on `port`, or -1.
  int master_on(const std::string& db, int partitions, int port) {
    for (int i = 0; i < partitions; ++i)
      if (master_port(db, i) == std::to_string(port))
        return i;
    return -1;
  }

  /// Opens a copy of an instance's storage as it is on disk now.
  std::unique_ptr<storage::partition_store>
  open_instance(int port, const std::string& db, int ordinal) {
    auto dir = "/sim/leaves/127.0.0.1_" + std::to_string(port)
               + "/instances/" + db + "." + std::to_string(ordinal);
    auto store = std::make_unique<storage::partition_store>(
      fs_, dir, storage::durability::async);
    auto report = store->open();
    BOOST_REQUIRE_MESSAGE(report.ok(),
                          (report.ok() ? std::string{}
                                       : report.err().to_string()));
    return store;
  }

  /// A key that hashes to `ordinal` in a database of `partitions`.
  static std::string key_on(uint32_t ordinal, uint32_t partitions,
                            int skip = 0) {
    for (int i = 0;; ++i) {
      auto key = "key" + std::to_string(i);
      if (partition_of(key, partitions) == ordinal && skip-- == 0)
        return key;
    }
  }

  /// The rows of CHECK PARTITIONS ON db.
  pb::ResultSet check(const std::string& db) {
    return ok("CHECK PARTITIONS ON " + db);
  }

  /// True when every instance of `db` but its orphans (set aside, never
  /// served) reports `in_sync`.
  bool all_in_sync(const std::string& db) {
    auto rs = check(db);
    for (auto& row : rs.rows())
      if (row.cells(3) != "Orphan" && row.cells(7) != "in_sync")
        return false;
    return rs.rows_size() > 0;
  }

  /// How many masters of `db` each leaf holds, by port (SHOW PARTITIONS).
  std::map<std::string, int> masters_per_leaf(const std::string& db) {
    std::map<std::string, int> out;
    auto rs = ok("SHOW PARTITIONS ON " + db);
    for (auto& row : rs.rows())
      if (row.cells(3) == "Master")
        ++out[row.cells(2)];
    return out;
  }

  /// Waits (in virtual time) until every instance of `db` is in sync.
  bool wait_in_sync(const std::string& db,
                    std::chrono::milliseconds limit = std::chrono::seconds{20}) {
    return cluster_->run_until([&] { return all_in_sync(db); }, limit);
  }

  /// A client workload writing to `db` from `streams` concurrent streams.
  struct workload_handle {
    caf::actor actor;
    std::shared_ptr<workload_record> record;
  };

  workload_handle start_workload(const std::string& db, int streams = 4) {
    workload_config wc;
    wc.fab = cluster_->transport_ptr();
    wc.database = db;
    wc.streams = streams;
    wc.record = std::make_shared<workload_record>();
    auto record = wc.record;
    return {spawn_workload(cluster_->system(), wc), record};
  }

  /// Stops the workload and waits until its last write is answered.
  void stop(workload_handle& w) {
    stop_workload(w.actor);
    BOOST_REQUIRE(cluster_->run_until([&] { return w.record->stopped; },
                                      std::chrono::seconds{30}));
  }

  /// Every write the workload saw acknowledged reads back with its value.
  void expect_acked_present(const workload_record& record,
                            const std::string& db) {
    auto rs = ok("SELECT * FROM " + db);
    std::map<std::string, std::string> stored;
    for (auto& row : rs.rows())
      stored[row.cells(0)] = row.cells(1);
    for (auto& [key, value] : record.acked)
      BOOST_TEST_CONTEXT("acknowledged key " << key) {
        BOOST_TEST(stored[key] == value);
      }
  }

  /// The data directory of the leaf on `port`.
  static std::string leaf_dir(int port) {
    return "/sim/leaves/127.0.0.1_" + std::to_string(port);
  }

  /// The count of a rare-path probe (0 when never reached).
  static uint64_t probe_count(const std::string& name) {
    auto probes = all_probes();
    auto i = probes.find(name);
    return i == probes.end() ? 0 : i->second->count();
  }

private:
  std::shared_ptr<storage::memory_vfs> fs_;
  int aggregators_ = 1;
  uint64_t checkpoint_log_bytes_;
  std::unique_ptr<local_cluster> cluster_;
};

} // namespace lg::test
