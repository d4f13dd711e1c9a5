// The leaf role: hosts partition instances, answers the aggregator's
// heartbeats, creates and drops instances on request, and on start reopens
// the instances on its disk and announces itself (LeafHelloRequest) with its
// identity and incarnation number.
#pragma once

#include <memory>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/names.hpp"
#include "actors/net/fabric.hpp"
#include "storage/background_worker.hpp"
#include "storage/vfs.hpp"

namespace lg {

/// The messages a leaf reacts to.
using leaf_actor = caf::typed_actor<caf::reacts_to<wire>,
                                    caf::reacts_to<tick_atom>,
                                    caf::reacts_to<timer_atom, uint64_t>>;

/// What a leaf starts with.
struct leaf_config {
  fabric_ptr fab;
  std::string address;  ///< "host:port": the leaf's identity and node name
  std::string data_dir; ///< the leaf's own directory
  std::shared_ptr<storage::vfs> fs;
  std::string ma_node = "ma";
  int64_t sync_replication_timeout_ms = 5000;
  /// Run on a thread of its own, so that instances blocked in disk I/O never
  /// delay heartbeat replies (real time only: it breaks determinism).
  bool detached = false;
  /// Runs its instances' checkpoints off their actors (null: inside them).
  std::shared_ptr<storage::background_worker> checkpoints;
  /// Writes the snapshots its instances receive while they decode them
  /// (null: inside the instance).
  std::shared_ptr<storage::background_worker> snapshot_writes;
  /// Its instances checkpoint once their log holds more than this.
  uint64_t checkpoint_log_bytes = 64 * 1024 * 1024;
};

/// Spawns a leaf.
leaf_actor spawn_leaf(caf::actor_system& sys, leaf_config cfg);

} // namespace lg
