// The names by which roles address each other through the fabric: actor
// names and partition labels. Small on purpose: the client session and the
// aggregator name partitions without pulling in a partition's storage.
#pragma once

#include <cstdint>
#include <string>

namespace lg {

/// The actor name of the master aggregator on its node.
inline constexpr const char* aggregator_actor_name = "ma";

/// The actor name of every leaf on its node.
inline const char* leaf_actor_name() {
  return "leaf";
}

/// Returns the actor name of a partition instance: "p/<db>/<ordinal>".
std::string partition_actor_name(const std::string& database,
                                 uint32_t ordinal);

/// Returns the label of a partition: "<db>:<ordinal>".
std::string partition_label(const std::string& database, uint32_t ordinal);

} // namespace lg
