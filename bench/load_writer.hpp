// A pipelined writer used by the benchmarks: it keeps `window` writes in
// flight against the partition masters of one database, straight through the
// transport like any client, and records throughput and latency.
//
// Like a Kafka producer it batches: each write is issued at once into its
// partition's queue; a partition has at most `per_partition` requests in
// flight, and a request carries every write queued for it when it leaves.
// Each write's latency runs from its issue to its acknowledgement.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/transport.hpp"

namespace lg::bench {

/// What one writer measured. Written by the writer actor, read after stop.
struct writer_stats {
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
  std::shared_ptr<writer_stats> stats;
  std::shared_ptr<std::atomic<bool>> running; ///< cleared to stop
};

/// Spawns a writer; it starts by fetching the partition map.
caf::actor spawn_writer(caf::actor_system& sys, writer_config cfg);

/// Returns the p-th percentile (0..100) of `xs` in microseconds.
double percentile(std::vector<uint32_t> xs, double p);

} // namespace lg::bench
