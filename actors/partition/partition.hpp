// The partition instance role: one actor per instance. It owns its storage
// and plays master (accepts reads and writes, replicates to its replica) or
// replica (accepts replication from its master), fenced by term. The
// replication protocol is described in messages/replication.proto.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/names.hpp"
#include "actors/net/fabric.hpp"
#include "storage/background_worker.hpp"
#include "storage/partition_store.hpp"

namespace lg {

/// The messages a partition instance reacts to.
using partition_actor
  = caf::typed_actor<caf::reacts_to<wire>, caf::reacts_to<flush_atom>,
                     caf::reacts_to<tick_atom>,
                     caf::reacts_to<timer_atom, uint64_t>>;

/// What a partition instance starts with.
struct partition_config {
  fabric_ptr fab;
  std::string leaf;    ///< the hosting leaf's address (its node name)
  uint64_t leaf_incarnation = 0; ///< the hosting leaf process's incarnation
  std::string ma_node; ///< the aggregator's node name
  /// The hosting leaf's aggregator fence (newest aggregator term seen).
  std::shared_ptr<aggregator_fence> fence;
  std::string database;
  uint32_t ordinal = 0;
  std::shared_ptr<storage::partition_store> store; ///< already opened
  pb::Role role = pb::ROLE_NONE;
  uint64_t term = 0;
  std::string peer; ///< master: replica's leaf; replica: master's leaf
  bool peer_in_sync = true;
  int64_t sync_replication_timeout_ms = 5000;
  /// A master holds at most this many bytes of batches its replica has not
  /// confirmed (replication_backlog_mb).
  uint64_t replication_backlog_bytes = uint64_t{64} << 20;
  /// When set, the instance is new: it writes `descriptor` into the store's
  /// directory and opens the store itself, then answers this request. The
  /// leaf stays free to answer heartbeats meanwhile.
  envelope_ptr create_request;
  std::string descriptor;
  std::shared_ptr<storage::vfs> store_fs;
  /// A replacement copy: created empty, then rebuilt from the master.
  bool rebuild = false;
  /// Created empty by its leaf, which made the store durable, opened it and
  /// answered the creation itself (a batch of creations).
  bool fresh = false;
  /// Where a diverged copy is moved aside before it is rebuilt.
  std::string discard_dir;
  /// Runs checkpoints off the actor; when null they run inside it, which
  /// keeps a simulation deterministic.
  std::shared_ptr<storage::background_worker> checkpoints;
  /// Writes a received snapshot to disk while the instance decodes it, so a
  /// rebuild uses two cores; when null the instance writes it itself.
  std::shared_ptr<storage::background_worker> snapshot_writes;
  /// A checkpoint starts once wal.log holds more than this.
  uint64_t checkpoint_log_bytes = 64 * 1024 * 1024;
};

/// Spawns a partition instance linked to `parent` (its leaf).
partition_actor spawn_partition(caf::local_actor* parent,
                                partition_config cfg);

} // namespace lg
