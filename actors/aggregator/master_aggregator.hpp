// The master aggregator role: holds the cluster metadata (leaves, groups,
// pairs, databases, placement, globals) durably in its data dir, executes
// cluster statements, detects failed leaves and drives failover. It is not on
// the data path: clients read and write straight at the partition masters.
#pragma once

#include <memory>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/net/fabric.hpp"
#include "storage/vfs.hpp"

namespace lg {

/// The messages the master aggregator reacts to.
using master_aggregator_actor
  = caf::typed_actor<caf::reacts_to<wire>, caf::reacts_to<tick_atom>,
                     caf::reacts_to<flush_atom>,
                     caf::reacts_to<timer_atom, uint64_t>>;

/// What the aggregator starts with.
struct master_aggregator_config {
  fabric_ptr fab;
  std::string node = "ma"; ///< its node name
  std::string data_dir;
  std::shared_ptr<storage::vfs> fs;
  /// Run on a thread of its own, so that failure detection never waits for
  /// busy workers (real time only: it breaks determinism).
  bool detached = false;
  /// Its address as SHOW AGGREGATORS names it ("host:port").
  std::string address = "127.0.0.1:3306";
  /// Set when the aggregators commit the metadata by consensus
  /// (voting_aggregator.hpp): the node of the voting aggregator that
  /// spawned it, the metadata committed when it took over (instead of
  /// metadata.pb), and its Raft term, which is its aggregator term.
  std::string consensus_node;
  std::string initial_metadata;
  uint64_t consensus_term = 0;
};

/// The actor name of the aggregator on its node.
inline const char* master_aggregator_actor_name() {
  return "ma";
}

/// Spawns the master aggregator, loading metadata from its data dir.
master_aggregator_actor spawn_master_aggregator(caf::actor_system& sys,
                                                master_aggregator_config cfg);

} // namespace lg
