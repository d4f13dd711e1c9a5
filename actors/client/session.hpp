// The client session role: executes statements for a console or an embedding
// program. Cluster statements go to the master aggregator; reads and writes
// go straight to the partition masters through a cached partition map, which
// is refreshed when a partition answers NOT_MASTER or does not answer. Writes
// carry a write id so that a retry after failover is idempotent.
#pragma once

#include <cstdint>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/net/fabric.hpp"

namespace lg {

/// The messages a session reacts to.
using session_actor
  = caf::typed_actor<caf::reacts_to<wire>, caf::reacts_to<tick_atom>,
                     caf::reacts_to<timer_atom, uint64_t>>;

/// What a session starts with.
struct session_config {
  fabric_ptr fab;
  std::string node;          ///< the node it runs on
  std::string name;          ///< its actor name, e.g. "session/1"
  std::string ma_node = "ma";
  uint32_t client_id = 1;    ///< high half of every write id
  int64_t request_timeout_ms = 10000; ///< until the cluster's is known
  /// How long one attempt waits before the session refreshes its map and
  /// retries (bounded by the request timeout).
  int64_t attempt_timeout_ms = 250;
  /// Set on a leaf's node process: the leaf's data dir. Cluster and HA
  /// statements are then refused with the aggregator's address (which the
  /// leaf remembers there); reads and writes still run.
  std::string leaf_data_dir;
};

/// Spawns a session.
session_actor spawn_session(caf::actor_system& sys, session_config cfg);

} // namespace lg
