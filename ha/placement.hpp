// Placement: which leaf hosts each partition instance. Pure functions: state
// in, decisions out; no I/O, no actors.
//
// SingleStore: in redundancy 2 each leaf in group 1 is paired with a leaf in
// group 2; a partition's master sits on one leaf of a pair and its replica on
// the other. Masters are split evenly within each pair. In redundancy 1 every
// partition is a master and masters are spread evenly over the leaves.
// With leaf_failover_fanout = 'load_balanced' (SingleStore 7.1+) the
// replicas of one leaf's masters are spread over the leaves of the other
// group instead, so that a failed leaf's masters are promoted onto several
// leaves; two failures in different groups can then take partitions
// offline where paired mode would have kept them (docs/operations.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace lg::ha {

enum class errc {
  no_leaves,       ///< no online leaf (R1) or no complete online pair (R2)
  bad_redundancy,  ///< redundancy other than 1 or 2
  bad_group,       ///< group other than 1 or 2
};

const char* to_string(errc code);

LG_MODULE_ERRORS("ha", errc)

/// What placement needs to know about a leaf.
struct leaf_info {
  std::string address; ///< "host:port"
  int group = 1;       ///< availability group, 1 or 2
  std::string pair;    ///< address of its pair, empty when unpaired
  bool online = true;
};

/// Where one partition's instances go.
struct partition_placement {
  uint32_t ordinal = 0;
  std::string master;  ///< leaf address
  std::string replica; ///< leaf address, empty in redundancy 1
};

/// Returns the leaf a new leaf in `group` is paired with: the first leaf (in
/// `leaves` order) of the other group that has no pair yet, or nullopt.
std::optional<std::string> choose_pair(const std::vector<leaf_info>& leaves,
                                       int group);

/// Places a new database of `partitions` partitions.
///
/// `masters_per_leaf` counts masters that other databases already have on
/// each leaf; placement fills the least-loaded leaves first so that the
/// cluster-wide counts per leaf differ by at most one whenever possible.
/// Ties are broken by the order of `leaves`.
/// R1: one master per partition on online leaves.
/// R2: only pairs whose two leaves are both online are used; the master goes
/// on one side, the replica on the other, and within each pair the masters
/// are split evenly (differ by at most one).
/// With `load_balanced` (leaf_failover_fanout = 'load_balanced', R2 only)
/// pairs do not matter: masters go on every online leaf of groups 1 and 2
/// (the least loaded first), and each master's replica on a leaf of the
/// other group, the one holding the fewest replicas of that leaf's masters
/// (then the fewest replicas), so that a failed leaf's masters are
/// promoted onto several leaves.
/// Errors: ha.no_leaves, ha.bad_redundancy.
result<std::vector<partition_placement>>
place_database(const std::vector<leaf_info>& leaves, uint32_t partitions,
               int redundancy,
               const std::map<std::string, uint32_t>& masters_per_leaf = {},
               bool load_balanced = false);

/// Load-balanced mode: the leaf of the other group that `master` should
/// put its next replica on, given `replicas` (per leaf, the replicas it
/// holds) and `of_master` (per leaf, the replicas of `master`'s masters it
/// holds); "" when the other group has no online leaf.
std::string choose_replica_leaf(
  const std::vector<leaf_info>& leaves, const std::string& master,
  const std::map<std::string, uint32_t>& replicas,
  const std::map<std::string, uint32_t>& of_master);

} // namespace lg::ha
