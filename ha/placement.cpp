#include "ha/placement.hpp"

#include <algorithm>
#include <cstddef>
#include <set>
#include <unordered_map>
#include <utility>

namespace lg::ha {

namespace {

/// A complete pair of leaves, by index into `leaves`; `first` is the leaf
/// that appears first.
struct leaf_pair {
  size_t first = 0;
  size_t second = 0;
  uint32_t placed = 0; ///< partitions of the new database placed on it
};

/// Maps each address to the index of its first appearance in `leaves`.
std::unordered_map<std::string, size_t>
index_leaves(const std::vector<leaf_info>& leaves) {
  std::unordered_map<std::string, size_t> result;
  for (size_t i = 0; i < leaves.size(); ++i)
    result.emplace(leaves[i].address, i);
  return result;
}

/// Returns the master count of every leaf (by index) from `masters_per_leaf`.
std::vector<uint64_t>
initial_load(const std::vector<leaf_info>& leaves,
             const std::map<std::string, uint32_t>& masters_per_leaf) {
  std::vector<uint64_t> load(leaves.size(), 0);
  for (size_t i = 0; i < leaves.size(); ++i) {
    auto found = masters_per_leaf.find(leaves[i].address);
    if (found != masters_per_leaf.end())
      load[i] = found->second;
  }
  return load;
}

/// Returns true when `group` names an availability group.
bool valid_group(int group) {
  return group == 1 || group == 2;
}

/// Places every partition on the least-loaded online leaf.
result<std::vector<partition_placement>>
place_r1(const std::vector<leaf_info>& leaves, uint32_t partitions,
         std::vector<uint64_t> load) {
  auto index = index_leaves(leaves);
  std::vector<size_t> online;
  for (size_t i = 0; i < leaves.size(); ++i)
    // A duplicated address is one leaf: only its first entry counts.
    if (leaves[i].online && index.at(leaves[i].address) == i)
      online.push_back(i);
  if (online.empty())
    return make_error(errc::no_leaves,
                      "no online leaf (redundancy 1 needs at least one)");
  std::vector<partition_placement> result;
  result.reserve(partitions);
  for (uint32_t ordinal = 0; ordinal < partitions; ++ordinal) {
    size_t best = online.front();
    for (auto i : online)
      if (load[i] < load[best])
        best = i;
    ++load[best];
    result.push_back({ordinal, leaves[best].address, {}});
  }
  return result;
}

/// Returns the complete pairs whose two leaves are online, in order of first
/// appearance in `leaves`.
std::vector<leaf_pair> usable_pairs(const std::vector<leaf_info>& leaves) {
  auto index = index_leaves(leaves);
  std::vector<leaf_pair> result;
  std::set<std::pair<size_t, size_t>> seen;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const auto& leaf = leaves[i];
    if (leaf.pair.empty() || index.at(leaf.address) != i)
      continue;
    auto other = index.find(leaf.pair);
    if (other == index.end() || other->second == i)
      continue;
    auto j = other->second;
    // A pairing that is not mutual or not across groups 1 and 2 would put the
    // replica somewhere failover does not look for it: it is no pair.
    if (leaves[j].pair != leaf.address || !valid_group(leaf.group)
        || !valid_group(leaves[j].group) || leaf.group == leaves[j].group)
      continue;
    if (!seen.emplace(std::min(i, j), std::max(i, j)).second)
      continue;
    if (leaf.online && leaves[j].online)
      result.push_back({i, j, 0});
  }
  return result;
}

/// Places every partition on a pair: the pairs take turns, the least-loaded
/// pair first, and the master goes on the side with fewer masters.
result<std::vector<partition_placement>>
place_r2(const std::vector<leaf_info>& leaves, uint32_t partitions,
         std::vector<uint64_t> load) {
  auto pairs = usable_pairs(leaves);
  if (pairs.empty())
    return make_error(errc::no_leaves,
                      "no pair of online leaves in groups 1 and 2 "
                      "(redundancy 2 needs at least one)");
  // Keeping per-pair totals (masters of both sides) within one of each other
  // and each pair's sides within one keeps every leaf within one of the
  // others, now and after later databases: so among pairs that have the
  // fewest partitions of this database, the lowest pair total goes first.
  auto better = [&](const leaf_pair& a, const leaf_pair& b) {
    if (a.placed != b.placed)
      return a.placed < b.placed;
    auto sum_a = load[a.first] + load[a.second];
    auto sum_b = load[b.first] + load[b.second];
    if (sum_a != sum_b)
      return sum_a < sum_b;
    return std::min(load[a.first], load[a.second])
           < std::min(load[b.first], load[b.second]);
  };
  std::vector<partition_placement> result;
  result.reserve(partitions);
  for (uint32_t ordinal = 0; ordinal < partitions; ++ordinal) {
    auto* best = &pairs.front();
    for (auto& candidate : pairs)
      if (better(candidate, *best))
        best = &candidate;
    auto master = best->first;
    auto replica = best->second;
    if (load[replica] < load[master])
      std::swap(master, replica);
    ++best->placed;
    ++load[master];
    result.push_back({ordinal, leaves[master].address,
                      leaves[replica].address});
  }
  return result;
}

/// Load-balanced R2: masters on the least-loaded online leaf of either
/// group that has an online leaf of the other group; each replica on
/// choose_replica_leaf.
result<std::vector<partition_placement>>
place_load_balanced(const std::vector<leaf_info>& leaves, uint32_t partitions,
                    std::vector<uint64_t> load) {
  bool group_online[3] = {false, false, false};
  for (auto& l : leaves)
    if (l.online && valid_group(l.group))
      group_online[l.group] = true;
  std::vector<size_t> usable;
  for (size_t i = 0; i < leaves.size(); ++i)
    if (leaves[i].online && valid_group(leaves[i].group)
        && group_online[3 - leaves[i].group])
      usable.push_back(i);
  if (usable.empty())
    return make_error(errc::no_leaves,
                      "no online leaves in both groups 1 and 2 (redundancy "
                      "2 needs one in each)");
  std::map<std::string, uint32_t> replicas;
  std::map<std::string, std::map<std::string, uint32_t>> of_master;
  std::vector<partition_placement> result;
  result.reserve(partitions);
  for (uint32_t ordinal = 0; ordinal < partitions; ++ordinal) {
    auto best = usable.front();
    for (auto i : usable)
      if (load[i] < load[best])
        best = i;
    ++load[best];
    auto& master = leaves[best].address;
    auto replica = choose_replica_leaf(leaves, master, replicas,
                                       of_master[master]);
    ++replicas[replica];
    ++of_master[master][replica];
    result.push_back({ordinal, master, replica});
  }
  return result;
}

} // namespace

std::string choose_replica_leaf(
  const std::vector<leaf_info>& leaves, const std::string& master,
  const std::map<std::string, uint32_t>& replicas,
  const std::map<std::string, uint32_t>& of_master) {
  int group = 0;
  for (auto& l : leaves)
    if (l.address == master)
      group = l.group;
  auto count = [](const std::map<std::string, uint32_t>& m,
                  const std::string& k) {
    auto i = m.find(k);
    return i == m.end() ? 0u : i->second;
  };
  const leaf_info* best = nullptr;
  for (auto& l : leaves) {
    if (!l.online || !valid_group(l.group) || l.group == group)
      continue;
    if (best == nullptr
        || std::make_pair(count(of_master, l.address),
                          count(replicas, l.address))
             < std::make_pair(count(of_master, best->address),
                              count(replicas, best->address)))
      best = &l;
  }
  return best == nullptr ? std::string{} : best->address;
}

const char* to_string(errc code) {
  switch (code) {
    case errc::no_leaves:
      return "no_leaves";
    case errc::bad_redundancy:
      return "bad_redundancy";
    case errc::bad_group:
      return "bad_group";
  }
  return "unknown";
}

std::optional<std::string> choose_pair(const std::vector<leaf_info>& leaves,
                                       int group) {
  if (!valid_group(group))
    return std::nullopt;
  auto other_group = 3 - group;
  for (const auto& leaf : leaves)
    if (leaf.group == other_group && leaf.pair.empty())
      return leaf.address;
  return std::nullopt;
}

result<std::vector<partition_placement>>
place_database(const std::vector<leaf_info>& leaves, uint32_t partitions,
               int redundancy,
               const std::map<std::string, uint32_t>& masters_per_leaf,
               bool load_balanced) {
  auto load = initial_load(leaves, masters_per_leaf);
  switch (redundancy) {
    case 1:
      return place_r1(leaves, partitions, std::move(load));
    case 2:
      if (load_balanced)
        return place_load_balanced(leaves, partitions, std::move(load));
      return place_r2(leaves, partitions, std::move(load));
    default:
      return make_error(errc::bad_redundancy,
                        "redundancy " + std::to_string(redundancy)
                          + " (must be 1 or 2)");
  }
}

} // namespace lg::ha
