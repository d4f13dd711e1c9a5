// A voting aggregator: one member of the aggregators' Raft group
// (consensus/raft_member), in a process of its own or beside others in one
// process. The elected one runs the master aggregator.
//
//   1. The voting aggregators start with the same founding list (or one
//      waits to be added) and elect a leader among themselves: libraft,
//      over the fabric, on the scheduler's clock.
//   2. The leader commits a take-over entry; once it is applied, every
//      entry before it is too, so it holds the newest committed metadata.
//      It then spawns the master aggregator on that metadata, with the Raft
//      term as the aggregator term that leaves hold orders to (the fence).
//   3. The master aggregator sends each metadata change here as a
//      MetadataProposal and holds every message it sends after the change
//      until MetadataCommitted says a majority has it.
//   4. A leader that loses its majority (not heard from for an election
//      timeout), or is killed, takes its master aggregator down with it; another voting aggregator is elected and
//      takes over from the committed metadata, as a restarted aggregator
//      would (leaves prove they are alive again, failover goes on).
//   5. SHOW AGGREGATORS asks here: the members, which is the leader, who was
//      heard from lately, and the round trip of Raft's own messages.
//   6. A follower watches its leader's actor when it lives in the same
//      process, and hears from its gateway when the link to the leader's
//      process closes (LinkLost); when it crashes the follower stands for election within a
//      fifth of the election timeout (at least 100 ms) instead of waiting
//      it out. A leader cut off or stopped (SIGSTOP) sends no such news:
//      the election timeout runs.
//   7. In a process of its own, each time it learns of a new leader it
//      tells its process's gateway (MasterAggregatorKnown), which from then
//      on sends what is addressed to "ma" there: a console's statement, or
//      a leaf's message that reached this process, is forwarded to the
//      master aggregator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/typed_actor.hpp>

#include "actors/aggregator/master_aggregator.hpp"
#include "actors/net/fabric.hpp"
#include "storage/vfs.hpp"

namespace lg {

using voting_aggregator_actor
  = caf::typed_actor<caf::reacts_to<wire>, caf::reacts_to<tick_atom>,
                     caf::reacts_to<flush_atom>,
                     caf::reacts_to<timer_atom, uint64_t>>;

struct voting_aggregator_config {
  fabric_ptr fab;
  std::string node; ///< its address, "host:port": the others reach it there
  uint64_t id = 0;  ///< its Raft id, > 0
  /// The founding members (every one a voter), the same on each; empty for
  /// one that waits to be added.
  std::vector<std::pair<uint64_t, std::string>> founders;
  std::string data_dir; ///< its Raft files go to data_dir/raft
  std::shared_ptr<storage::vfs> fs;
  /// What it starts when elected (node, data dir, file system, detached).
  master_aggregator_config master;
  unsigned election_timeout_ms = 1000;
  uint64_t seed = 1; ///< for election timeouts
  /// Election timeouts staggered by rank (consensus::member_config).
  bool ranked_election_timeouts = false;
  /// In a process of its own: tells the process's gateway where the master
  /// aggregator is each time a new leader is known (step 7).
  bool tell_gateway = false;
};

inline const char* voting_aggregator_actor_name() {
  return "aggregator";
}

/// The Raft id of the aggregator at `address` ("host:port") in a multi-node
/// cluster: a hash of it, so that the leader adding it and the aggregator
/// itself agree without asking each other.
uint64_t aggregator_raft_id(const std::string& address);

voting_aggregator_actor
spawn_voting_aggregator(caf::actor_system& sys, voting_aggregator_config cfg);

} // namespace lg
