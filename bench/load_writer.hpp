// A pipelined writer used by the benchmarks: it keeps `window` writes in
// flight against the partition masters of one database, straight through the
// transport like any client, and records throughput and latency.
//
// Like a Kafka producer it batches: each write is issued at once into its
// partition's queue; a partition has at most `per_partition` requests in
// flight, and a request carries every write queued for it when it leaves.
// Each write's latency runs from its issue to its acknowledgement.
#pragma once

#include "bench/measure.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/net/fabric.hpp"
#include "sql/result_proto.hpp"

namespace lg::bench {

/// What one writer measured. Written by the writer actor, read after stop.
struct writer_stats {
  std::atomic<uint64_t> issued{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<bool> stopped{false};
  std::vector<uint32_t> latencies_us; ///< one sample per acknowledged write
};

struct writer_config {
  fabric_ptr fab;
  std::string name;     ///< actor name on node "bench"
  std::string database;
  uint32_t writer_id = 0;
  size_t window = 64;   ///< writes in flight
  size_t per_partition = 2; ///< requests in flight per partition
  size_t value_size = 100;
  /// The writer's keys: 0, a new key for every write; N, N keys written
  /// over and over (as redis-benchmark -r does), named after `key_set`
  /// (not the writer id), so that the writers of later slices write the
  /// same keys again.
  uint64_t keys = 0;
  uint32_t key_set = 0;
  std::shared_ptr<writer_stats> stats;
  std::shared_ptr<std::atomic<bool>> running; ///< cleared to stop
  /// Set: issue nothing new, but keep running (writer_pool::pause).
  std::shared_ptr<std::atomic<bool>> paused;
};

/// Spawns a writer; it starts by fetching the partition map.
caf::actor spawn_writer(caf::actor_system& sys, writer_config cfg);


/// What a measured run of writers gave.
struct figures {
  double writes_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  uint64_t failed = 0;
  /// CPU time of the whole process (user + system) per acknowledged write,
  /// over the measured interval. At two busy cores it explains the
  /// throughput; the machine's swings move it too (CPU time stretches when
  /// the host is slow).
  double cpu_us_per_write = 0;
};

/// Writers sharing one stop flag, spawned at once: writer_pool{...}.
class writer_pool {
public:
  struct spec {
    fabric_ptr fab;
    caf::actor_system* sys = nullptr;
    std::string database;
    int writers = 16;
    size_t window = 64;
    size_t value_size = 100;
    /// Keys over all writers: 0, a new key for every write; N, N keys
    /// written over and over (redis-benchmark -r N), split among them.
    uint64_t keyspace = 0;
    uint32_t first_id = 0; ///< writer ids (and names) start here
    bool start_paused = false; ///< issue nothing until resume()
  };

  explicit writer_pool(const spec& s);

  /// Writes acknowledged (failed) so far, over all writers.
  uint64_t acked() const;
  uint64_t failed() const;

  /// Stops issuing and waits until every writer's last write is answered.
  void stop();

  /// Stops issuing and waits (at most `limit` s) until every write issued
  /// is answered; the writers stay, and resume() starts them again. Returns
  /// false if writes were still unanswered at the limit.
  bool pause(double limit = 10.0);
  void resume();

  /// Every acknowledged write's latency so far (call after stop() or while
  /// paused: the writers append to them).
  std::vector<uint32_t> latencies() const;

  /// Waits `warmup` s, counts acknowledged writes/s over `seconds` s, stops
  /// the writers and adds their latencies.
  figures measure_and_stop(double warmup, double seconds);

private:
  std::shared_ptr<std::atomic<bool>> running_;
  std::shared_ptr<std::atomic<bool>> paused_;
  std::vector<std::shared_ptr<writer_stats>> stats_;
  std::vector<caf::actor> writers_;
};

/// Stops the benchmark `program` with the statement's error when `rs` is
/// one: a benchmark that cannot set up its cluster has nothing to measure.
void require_ok(const char* program, const pb::ResultSet& rs,
                const std::string& what);

/// An INSERT into `db` (of `partitions` partitions) of one row on each of
/// `ordinals`: the probe a failover benchmark writes to see every partition
/// it moved take writes again.
std::string insert_one_row_each(const std::string& db,
                                const std::vector<uint32_t>& ordinals,
                                uint32_t partitions);

} // namespace lg::bench
