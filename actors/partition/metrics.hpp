// What a partition instance counts for the process's metrics (/metrics):
// its writes and reads with their latencies, the bytes it sent to rebuild a
// replica, and, while master with a replica, its replication lag in bytes.
//
//   1. At spawn it takes shards of its leaf's series from the fabric's
//      registry (none when metrics are off), and gives them back when it
//      goes: a later instance counts on from there.
//   2. Each acknowledged write and answered read adds one count and one
//      latency (from its arrival) to its own shards, with plain loads and
//      stores: no lock and no cache line shared with another instance.
//   3. It keeps a lag series of its own, shown while it is master with a
//      replica (set as writes are acknowledged), hidden otherwise, and gone
//      with the instance.
//
// Kafka: the per-partition replica lag (`kafka.server:ReplicaFetcherManager`)
// and request latency histograms; Redpanda: `redpanda_cluster_partition_*`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/metrics.hpp"

namespace lg::partition_detail {

/// The series one partition instance updates.
class instance_metrics {
public:
  instance_metrics() = default;
  instance_metrics(const instance_metrics&) = delete;
  instance_metrics& operator=(const instance_metrics&) = delete;
  ~instance_metrics();

  /// Takes the series of `leaf` from `r` (null: metrics off).
  void init(metrics::registry* r, const std::string& leaf,
            const std::string& database, uint32_t ordinal);

  void write_acknowledged(std::chrono::nanoseconds latency) {
    if (writes_ == nullptr)
      return;
    writes_->add_single();
    write_latency_->observe_single(latency);
  }

  void read_answered(std::chrono::nanoseconds latency) {
    if (reads_ == nullptr)
      return;
    reads_->add_single();
    read_latency_->observe_single(latency);
  }

  void rebuild_sent(uint64_t bytes) {
    if (rebuild_bytes_ != nullptr)
      rebuild_bytes_->add_single(bytes);
  }

  /// Shows its lag series while `master_with_replica`, hides it otherwise.
  void role_changed(bool master_with_replica);

  void lag(uint64_t bytes) {
    if (lag_ && lag_->shown())
      lag_->set(static_cast<int64_t>(bytes));
  }

private:
  metrics::registry* registry_ = nullptr;
  metrics::labels leaf_labels_;
  metrics::counter* writes_ = nullptr;
  metrics::histogram* write_latency_ = nullptr;
  metrics::counter* reads_ = nullptr;
  metrics::histogram* read_latency_ = nullptr;
  metrics::counter* rebuild_bytes_ = nullptr;
  std::shared_ptr<metrics::gauge> lag_;
};

/// The name of the per-partition lag series.
constexpr const char* lag_metric = "leafguard_replication_lag_bytes";

} // namespace lg::partition_detail
