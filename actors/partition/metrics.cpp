#include "actors/partition/metrics.hpp"

namespace lg::partition_detail {

namespace {

constexpr const char* writes_metric = "leafguard_writes_total";
constexpr const char* write_latency_metric = "leafguard_write_latency_seconds";
constexpr const char* reads_metric = "leafguard_reads_total";
constexpr const char* read_latency_metric = "leafguard_read_latency_seconds";
constexpr const char* rebuild_metric = "leafguard_rebuild_bytes_total";

} // namespace

instance_metrics::~instance_metrics() {
  role_changed(false);
  if (registry_ == nullptr)
    return;
  registry_->release_shard(writes_metric, leaf_labels_, writes_);
  registry_->release_shard(write_latency_metric, leaf_labels_, write_latency_);
  registry_->release_shard(reads_metric, leaf_labels_, reads_);
  registry_->release_shard(read_latency_metric, leaf_labels_, read_latency_);
  registry_->release_shard(rebuild_metric, leaf_labels_, rebuild_bytes_);
}

void instance_metrics::init(metrics::registry* r, const std::string& leaf,
                            const std::string& database, uint32_t ordinal) {
  registry_ = r;
  if (r == nullptr)
    return;
  leaf_labels_ = {{"leaf", leaf}};
  auto& l = leaf_labels_;
  writes_ = r->counter_shard(writes_metric,
                             "Writes acknowledged by partition masters.", l);
  write_latency_ = r->histogram_shard(
    write_latency_metric,
    "From a write's arrival at its master to its acknowledgement (after "
    "the replica confirmed it, in redundancy 2).",
    metrics::latency_bounds(), l);
  reads_ = r->counter_shard(reads_metric,
                            "Reads answered by partition masters.", l);
  read_latency_ = r->histogram_shard(
    read_latency_metric, "From a read's arrival at its master to its answer.",
    metrics::latency_bounds(), l);
  rebuild_bytes_ = r->counter_shard(
    rebuild_metric,
    "Bytes a master sent to rebuild or catch up a replica (snapshots).", l);
  metrics::add_max_by_label(*r, lag_metric, "leaf",
                            "leafguard_leaf_max_replication_lag_bytes",
                            "The largest replication lag of a leaf's "
                            "partition masters, in bytes.");
  lag_labels_ = {{"database", database},
                 {"ordinal", std::to_string(ordinal)},
                 {"leaf", leaf}};
}

void instance_metrics::role_changed(bool master_with_replica) {
  if (registry_ == nullptr || master_with_replica == static_cast<bool>(lag_))
    return;
  if (master_with_replica) {
    lag_ = registry_->owned_gauge(
      lag_metric,
      "Bytes a partition master holds for its replica that the replica has "
      "not confirmed.",
      lag_labels_);
  } else {
    registry_->remove(lag_metric, lag_labels_, lag_.get());
    lag_.reset();
  }
}

} // namespace lg::partition_detail
