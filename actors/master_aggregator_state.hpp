// The master aggregator's state, shared by its sub-protocol files
// (failover_round, ...). Not part of the role's public interface.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "actors/master_aggregator.hpp"
#include "actors/result.hpp"
#include "admin.pb.h"
#include "ha/failover.hpp"
#include "ha/placement.hpp"

namespace lg {

/// What the aggregator knows about a leaf beyond its metadata.
struct leaf_runtime {
  caf::actor_addr handle;       ///< the monitored leaf actor
  time_point last_reply;        ///< last heartbeat reply
  double avg_rtt_ms = 0;        ///< moving average of heartbeat round trips
  uint64_t rtt_samples = 0;
};

struct master_aggregator_state {
  std::string name = "ma";
  endpoint ep;
  master_aggregator_config cfg;
  pb::ClusterMetadata meta;
  std::map<std::string, leaf_runtime> runtime; // by leaf address
  uint64_t heartbeat_seq = 0;
  bool persist_scheduled = false;
  std::vector<std::function<void()>> after_persist;
  bool heartbeat_armed = false;
  /// Map requests waiting for newer metadata (long polls), with deadlines.
  std::vector<std::pair<envelope_ptr, time_point>> parked_maps;
  bool map_timer_armed = false;

  std::string ctx() const {
    return "[ma=" + cfg.node + " v=" + std::to_string(meta.version()) + "]";
  }
};

using ma_self = master_aggregator_actor::stateful_pointer<
  master_aggregator_state>;

// -- metadata helpers (master_aggregator.cpp) -------------------------------

pb::LeafMeta* find_leaf(master_aggregator_state& st, const std::string& addr);
pb::DatabaseMeta* find_database(master_aggregator_state& st,
                                const std::string& name);
std::map<std::string, std::string> globals_of(const master_aggregator_state&);
int64_t global_int(const master_aggregator_state& st, const std::string& name);
bool global_bool(const master_aggregator_state& st, const std::string& name);
void persist(ma_self self);

/// Runs `then` once the metadata is durable. Changes made while messages
/// queue up are written together (group commit for metadata).
void persist_then(ma_self self, std::function<void()> then);
std::vector<ha::instance_view> views_of(master_aggregator_state& st,
                                        const pb::PartitionMeta& part);
pb::InstanceMeta* master_of(pb::PartitionMeta& part);

/// The other live copy of a partition: a master's replica, a replica's
/// master ("" when none), and whether that other copy is in sync.
struct instance_peer {
  std::string leaf;
  bool in_sync = true;
};

instance_peer peer_of(const pb::PartitionMeta& part,
                      const pb::InstanceMeta& inst);

/// Sends SetRoleRequest to an instance (settings included).
void set_role(ma_self self, const std::string& leaf, const std::string& db,
              uint32_t ordinal, pb::Role role, uint64_t term,
              const std::string& peer, bool peer_in_sync,
              std::function<void(const envelope*)> cb);

// -- failover_round.cpp ------------------------------------------------------

/// Declares `leaf` offline (why: "heartbeat timeout", "connection lost") and
/// fails over or takes offline every partition whose master it hosted.
void leaf_failed(ma_self self, const std::string& leaf,
                 const std::string& why);

/// Starts the heartbeat loop if it is not running.
void arm_heartbeats(ma_self self);

/// Runs one heartbeat round: send requests, declare silent leaves offline.
void heartbeat_round(ma_self self);

/// Handles a master's ReplicaSyncRequest.
void on_replica_sync(ma_self self, const envelope_ptr& env);

} // namespace lg
