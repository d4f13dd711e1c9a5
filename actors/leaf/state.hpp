// The leaf's state, shared by its shell (leaf.cpp) and the sub-protocol
// that creates and drops its instances (instances.cpp). Internal to the
// leaf: nothing outside actors/leaf/ includes it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "actors/leaf/leaf.hpp"
#include "actors/partition/partition.hpp"
#include "storage/partition_store.hpp"

namespace lg::leaf_internal {

struct instance_entry {
  partition_actor handle;
  std::shared_ptr<storage::partition_store> store;
  std::string database;
  uint32_t ordinal = 0;
  pb::RecoveryDrop recovery; ///< what opening it dropped (for the hello)
  pb::InstanceRole role;     ///< as the instance last told (RoleNotice)
  /// The metadata version its CreateInstanceRequest was decided at (0:
  /// reopened from disk): an older drop is stale.
  uint64_t created_version = 0;
};

struct creation_batch;

struct leaf_state {
  std::string name;
  endpoint ep;
  leaf_config cfg;
  uint64_t incarnation = 0;
  /// The newest master aggregator term seen, shared with the instances.
  std::shared_ptr<aggregator_fence> fence =
    std::make_shared<aggregator_fence>();
  std::map<std::string, instance_entry> instances; // "db/ordinal"
  /// Instances a batch is creating ("db/ordinal"): the metadata version
  /// their creation was decided at, and whether a drop came meanwhile.
  struct pending_creation {
    uint64_t version = 0;
    bool dropped = false;
  };
  std::map<std::string, pending_creation> creating;
  /// Batches of creations whose files the storage worker is writing, in
  /// the order it finishes them.
  std::deque<std::shared_ptr<creation_batch>> batches_writing;
  std::vector<pb::InstanceState> failed;           // could not be opened
  bool hello_done = false;
  bool hello_pending = false;

  std::string ctx() const {
    return "[leaf=" + cfg.address + " inc=" + std::to_string(incarnation)
           + "]";
  }
};

using self_ptr = leaf_actor::stateful_pointer<leaf_state>;

inline std::string instance_key(const std::string& db, uint32_t ordinal) {
  return db + "/" + std::to_string(ordinal);
}

inline std::string instances_dir(const leaf_config& cfg) {
  return cfg.data_dir + "/instances";
}

inline std::string instance_dir(const leaf_config& cfg, const std::string& db,
                                uint32_t ordinal) {
  return instances_dir(cfg) + "/" + db + "." + std::to_string(ordinal);
}

partition_config make_partition_config(self_ptr self, const std::string& db,
                                       uint32_t ordinal,
                                       std::shared_ptr<storage::partition_store>
                                         store);

/// Answers a CreateInstanceRequest or a DropInstanceRequest (`kind`).
void reply_status(self_ptr self, const envelope& req, pb::Status status,
                  const std::string& error, envelope::BodyCase kind);

// -- instances.cpp ------------------------------------------------------------

/// CreateInstanceRequest: one new instance, which creates its own storage.
void on_create(self_ptr self, const envelope_ptr& env);

/// A LeafOrdersRequest of creations (CREATE DATABASE).
void create_instances(self_ptr self, const envelope_ptr& env);

/// Finishes the oldest batch of creations the storage worker wrote.
void finish_next_creations(self_ptr self);

/// DropInstanceRequest.
void on_drop(self_ptr self, const envelope_ptr& env);

/// A LeafOrdersRequest of drops (DROP DATABASE).
void drop_instances(self_ptr self, const envelope_ptr& env);

} // namespace lg::leaf_internal
