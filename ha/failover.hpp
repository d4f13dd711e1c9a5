// Choosing what happens to a partition when the leaf of its master fails.
// Pure function: no I/O, no actors.
//
// SingleStore: when a leaf fails in redundancy 2, the replica of each of its
// master partitions, on the failed leaf's pair, is promoted. Only a replica
// that holds every acknowledged write (in sync) may be promoted; otherwise the
// partition goes offline. In redundancy 1 the leaf's partitions go offline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lg::ha {

enum class instance_role { master, replica, orphan };

/// One instance of a partition as the master aggregator sees it.
struct instance_view {
  std::string leaf;
  instance_role role = instance_role::replica;
  bool in_sync = false;     ///< replica holds every acknowledged write
  bool leaf_online = false; ///< its leaf is online (not failed/detached)
};

/// The decision for one partition.
struct failover_decision {
  enum kind_t {
    keep,    ///< the master is alive: nothing to do
    promote, ///< promote the instance on `leaf` under `new_term`
    offline, ///< no promotable copy: the partition is offline
  } kind = keep;
  std::string leaf;
  uint64_t new_term = 0;
  std::string reason; ///< why offline, for the error users see
};

/// Decides the fate of a partition whose instances are `instances` and whose
/// current term is `term`. The master is alive when an instance has role
/// master and leaf_online. Otherwise the first in-sync replica on an online
/// leaf is promoted with term + 1; with none, the partition is offline and
/// `reason` says why (e.g. "replica on 127.0.0.1:10002 is out of sync").
failover_decision choose_failover(const std::vector<instance_view>& instances,
                                  uint64_t term);

} // namespace lg::ha
