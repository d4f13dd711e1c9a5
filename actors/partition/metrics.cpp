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
  // Its lag gauge goes with lag_; its shards go to the next instance.
  if (registry_ == nullptr)
    return;
  for (const void* shard : {static_cast<const void*>(writes_),
                            static_cast<const void*>(write_latency_),
                            static_cast<const void*>(reads_),
                            static_cast<const void*>(read_latency_),
                            static_cast<const void*>(rebuild_bytes_)})
    registry_->release_shard(shard);
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
  // Taken now, hidden until it is master with a replica: a failover that
  // promotes thousands of replicas then touches no registry.
  lag_ = r->owned_gauge(
    lag_metric,
    "Bytes a partition master holds for its replica that the replica has "
    "not confirmed.",
    {{"database", database}, {"ordinal", std::to_string(ordinal)},
     {"leaf", leaf}});
  lag_->show(false);
}

void instance_metrics::role_changed(bool master_with_replica) {
  if (lag_) {
    lag_->set(0);
    lag_->show(master_with_replica);
  }
}

} // namespace lg::partition_detail
