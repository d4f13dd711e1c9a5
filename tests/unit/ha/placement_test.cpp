#include "ha/placement.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::ha::choose_pair;
using lg::ha::errc;
using lg::ha::leaf_info;
using lg::ha::partition_placement;
using lg::ha::place_database;

namespace {

using counts = std::map<std::string, uint32_t>;

/// Returns `n` unpaired group-1 leaves, all online.
std::vector<leaf_info> r1_leaves(size_t n) {
  std::vector<leaf_info> result;
  for (size_t i = 0; i < n; ++i)
    result.push_back({"10.0.1." + std::to_string(i) + ":3306", 1, "", true});
  return result;
}

/// Returns `n` pairs: the group-1 leaves first, then their group-2 pairs.
std::vector<leaf_info> r2_leaves(size_t n) {
  std::vector<leaf_info> result;
  auto g1 = [](size_t i) { return "10.0.1." + std::to_string(i) + ":3306"; };
  auto g2 = [](size_t i) { return "10.0.2." + std::to_string(i) + ":3306"; };
  for (size_t i = 0; i < n; ++i)
    result.push_back({g1(i), 1, g2(i), true});
  for (size_t i = 0; i < n; ++i)
    result.push_back({g2(i), 2, g1(i), true});
  return result;
}

/// Adds the masters of `placed` to `base`.
counts add_masters(counts base,
                   const std::vector<partition_placement>& placed) {
  for (const auto& p : placed)
    ++base[p.master];
  return base;
}

/// Returns max - min of the master counts of `leaves` (zero when absent).
uint32_t spread(const counts& masters, const std::vector<std::string>& leaves) {
  uint32_t lo = UINT32_MAX;
  uint32_t hi = 0;
  for (const auto& leaf : leaves) {
    auto found = masters.find(leaf);
    uint32_t n = found == masters.end() ? 0 : found->second;
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  return leaves.empty() ? 0 : hi - lo;
}

/// Returns the addresses of the online leaves.
std::vector<std::string> online_addresses(const std::vector<leaf_info>& xs) {
  std::vector<std::string> result;
  for (const auto& x : xs)
    if (x.online)
      result.push_back(x.address);
  return result;
}

/// Checks that ordinals are 0..n-1, each exactly once and in order.
void check_ordinals(const std::vector<partition_placement>& placed,
                    uint32_t n) {
  BOOST_TEST_REQUIRE(placed.size() == n);
  for (uint32_t i = 0; i < n; ++i)
    BOOST_TEST(placed[i].ordinal == i);
}

/// Checks every R2 property of `placed` on `leaves`, whose usable pairs are
/// listed in `usable` (group-1 side first).
void check_r2(const std::vector<leaf_info>& leaves,
              const std::vector<std::pair<std::string, std::string>>& usable,
              const std::vector<partition_placement>& placed) {
  std::map<std::string, leaf_info> by_address;
  for (const auto& leaf : leaves)
    by_address[leaf.address] = leaf;
  std::map<std::pair<std::string, std::string>, uint32_t> per_pair;
  for (const auto& pair : usable)
    per_pair[pair] = 0;
  counts masters;
  for (const auto& p : placed) {
    BOOST_TEST_REQUIRE(by_address.count(p.master) == 1u);
    BOOST_TEST_REQUIRE(by_address.count(p.replica) == 1u);
    const auto& m = by_address[p.master];
    const auto& r = by_address[p.replica];
    BOOST_TEST(m.pair == r.address);
    BOOST_TEST(r.pair == m.address);
    BOOST_TEST(m.group != r.group);
    BOOST_TEST(m.online);
    BOOST_TEST(r.online);
    auto key = m.group == 1 ? std::make_pair(m.address, r.address)
                            : std::make_pair(r.address, m.address);
    BOOST_TEST_REQUIRE(per_pair.count(key) == 1u);
    ++per_pair[key];
    ++masters[p.master];
  }
  uint32_t lo = UINT32_MAX;
  uint32_t hi = 0;
  for (const auto& [pair, total] : per_pair) {
    lo = std::min(lo, total);
    hi = std::max(hi, total);
    BOOST_TEST(spread(masters, {pair.first, pair.second}) <= 1u);
  }
  BOOST_TEST(hi - lo <= 1u);
  std::vector<std::string> used;
  for (const auto& pair : usable) {
    used.push_back(pair.first);
    used.push_back(pair.second);
  }
  BOOST_TEST(spread(masters, used) <= 1u);
}

/// Returns the pairs of `r2_leaves(n)`.
std::vector<std::pair<std::string, std::string>> r2_pairs(size_t n) {
  std::vector<std::pair<std::string, std::string>> result;
  auto leaves = r2_leaves(n);
  for (size_t i = 0; i < n; ++i)
    result.emplace_back(leaves[i].address, leaves[i].pair);
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ha_placement)

BOOST_AUTO_TEST_CASE(r1_spreads_masters_evenly) {
  for (size_t n_leaves = 1; n_leaves <= 12; ++n_leaves) {
    auto leaves = r1_leaves(n_leaves);
    for (uint32_t parts = 1; parts <= 200; ++parts) {
      BOOST_TEST_CONTEXT("leaves=" << n_leaves << " partitions=" << parts) {
        auto placed = place_database(leaves, parts, 1);
        BOOST_TEST_REQUIRE(placed.ok());
        check_ordinals(*placed, parts);
        for (const auto& p : *placed)
          BOOST_TEST(p.replica.empty());
        auto masters = add_masters({}, *placed);
        BOOST_TEST(masters.size() == std::min<size_t>(n_leaves, parts));
        BOOST_TEST(spread(masters, online_addresses(leaves)) <= 1u);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(r1_fills_leaves_in_order) {
  auto leaves = r1_leaves(3);
  auto placed = place_database(leaves, 4, 1);
  BOOST_TEST_REQUIRE(placed.ok());
  BOOST_TEST((*placed)[0].master == leaves[0].address);
  BOOST_TEST((*placed)[1].master == leaves[1].address);
  BOOST_TEST((*placed)[2].master == leaves[2].address);
  BOOST_TEST((*placed)[3].master == leaves[0].address);
}

BOOST_AUTO_TEST_CASE(r1_skips_offline_leaves) {
  for (size_t n_leaves = 2; n_leaves <= 12; ++n_leaves) {
    auto leaves = r1_leaves(n_leaves);
    leaves[n_leaves / 2].online = false;
    for (uint32_t parts = 1; parts <= 60; ++parts) {
      BOOST_TEST_CONTEXT("leaves=" << n_leaves << " partitions=" << parts) {
        auto placed = place_database(leaves, parts, 1);
        BOOST_TEST_REQUIRE(placed.ok());
        check_ordinals(*placed, parts);
        auto masters = add_masters({}, *placed);
        BOOST_TEST(masters.count(leaves[n_leaves / 2].address) == 0u);
        BOOST_TEST(spread(masters, online_addresses(leaves)) <= 1u);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(r1_respects_existing_load) {
  auto leaves = r1_leaves(3);
  counts existing{{leaves[0].address, 3}};
  auto placed = place_database(leaves, 6, 1, existing);
  BOOST_TEST_REQUIRE(placed.ok());
  auto total = add_masters(existing, *placed);
  BOOST_TEST(total[leaves[0].address] == 3u);
  BOOST_TEST(total[leaves[1].address] == 3u);
  BOOST_TEST(total[leaves[2].address] == 3u);
}

BOOST_AUTO_TEST_CASE(r1_databases_in_sequence_stay_even) {
  for (size_t n_leaves = 1; n_leaves <= 12; ++n_leaves) {
    auto leaves = r1_leaves(n_leaves);
    for (uint32_t first = 1; first <= 25; ++first) {
      for (uint32_t second = 1; second <= 25; ++second) {
        BOOST_TEST_CONTEXT("leaves=" << n_leaves << " first=" << first
                                     << " second=" << second) {
          auto a = place_database(leaves, first, 1);
          BOOST_TEST_REQUIRE(a.ok());
          auto existing = add_masters({}, *a);
          auto b = place_database(leaves, second, 1, existing);
          BOOST_TEST_REQUIRE(b.ok());
          auto total = add_masters(existing, *b);
          BOOST_TEST(spread(total, online_addresses(leaves)) <= 1u);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(r2_places_on_pairs_evenly) {
  for (size_t n_pairs = 1; n_pairs <= 8; ++n_pairs) {
    auto leaves = r2_leaves(n_pairs);
    auto pairs = r2_pairs(n_pairs);
    for (uint32_t parts = 1; parts <= 200; ++parts) {
      BOOST_TEST_CONTEXT("pairs=" << n_pairs << " partitions=" << parts) {
        auto placed = place_database(leaves, parts, 2);
        BOOST_TEST_REQUIRE(placed.ok());
        check_ordinals(*placed, parts);
        check_r2(leaves, pairs, *placed);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(r2_pair_order_follows_leaves) {
  // Pairs are (x, y) then (z, w), by first appearance; the master of the
  // first partition goes on the first side.
  std::vector<leaf_info> leaves{{"x:1", 2, "y:1", true},
                                {"z:1", 1, "w:1", true},
                                {"y:1", 1, "x:1", true},
                                {"w:1", 2, "z:1", true}};
  auto placed = place_database(leaves, 4, 2);
  BOOST_TEST_REQUIRE(placed.ok());
  BOOST_TEST((*placed)[0].master == "x:1");
  BOOST_TEST((*placed)[0].replica == "y:1");
  BOOST_TEST((*placed)[1].master == "z:1");
  BOOST_TEST((*placed)[1].replica == "w:1");
  BOOST_TEST((*placed)[2].master == "y:1");
  BOOST_TEST((*placed)[2].replica == "x:1");
  BOOST_TEST((*placed)[3].master == "w:1");
  BOOST_TEST((*placed)[3].replica == "z:1");
}

BOOST_AUTO_TEST_CASE(r2_skips_pairs_with_an_offline_leaf) {
  for (size_t n_pairs = 2; n_pairs <= 8; ++n_pairs) {
    auto leaves = r2_leaves(n_pairs);
    // Take down the group-2 side of the second pair.
    leaves[n_pairs + 1].online = false;
    auto pairs = r2_pairs(n_pairs);
    pairs.erase(pairs.begin() + 1);
    for (uint32_t parts = 1; parts <= 100; ++parts) {
      BOOST_TEST_CONTEXT("pairs=" << n_pairs << " partitions=" << parts) {
        auto placed = place_database(leaves, parts, 2);
        BOOST_TEST_REQUIRE(placed.ok());
        check_ordinals(*placed, parts);
        for (const auto& p : *placed) {
          BOOST_TEST(p.master != leaves[1].address);
          BOOST_TEST(p.replica != leaves[1].address);
          BOOST_TEST(p.master != leaves[n_pairs + 1].address);
          BOOST_TEST(p.replica != leaves[n_pairs + 1].address);
        }
        check_r2(leaves, pairs, *placed);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(r2_ignores_unpaired_leaves) {
  auto leaves = r2_leaves(2);
  leaves.push_back({"10.0.1.9:3306", 1, "", true});
  auto placed = place_database(leaves, 10, 2);
  BOOST_TEST_REQUIRE(placed.ok());
  check_r2(leaves, r2_pairs(2), *placed);
}

BOOST_AUTO_TEST_CASE(r2_respects_existing_load) {
  auto leaves = r2_leaves(2);
  // a0, b0 and a1 already have a master each: b1 is the least loaded.
  counts existing{{leaves[0].address, 1},
                  {leaves[2].address, 1},
                  {leaves[1].address, 1}};
  auto placed = place_database(leaves, 1, 2, existing);
  BOOST_TEST_REQUIRE(placed.ok());
  BOOST_TEST((*placed)[0].master == leaves[3].address);
  BOOST_TEST((*placed)[0].replica == leaves[1].address);
}

BOOST_AUTO_TEST_CASE(r2_databases_in_sequence_stay_even) {
  for (size_t n_pairs = 1; n_pairs <= 8; ++n_pairs) {
    auto leaves = r2_leaves(n_pairs);
    auto pairs = r2_pairs(n_pairs);
    auto all = online_addresses(leaves);
    for (uint32_t first = 1; first <= 20; ++first) {
      for (uint32_t second = 1; second <= 20; ++second) {
        BOOST_TEST_CONTEXT("pairs=" << n_pairs << " first=" << first
                                    << " second=" << second) {
          auto a = place_database(leaves, first, 2);
          BOOST_TEST_REQUIRE(a.ok());
          auto existing = add_masters({}, *a);
          auto b = place_database(leaves, second, 2, existing);
          BOOST_TEST_REQUIRE(b.ok());
          auto total = add_masters(existing, *b);
          BOOST_TEST(spread(total, all) <= 1u);
          // A third database must still even out.
          auto c = place_database(leaves, first + second, 2, total);
          BOOST_TEST_REQUIRE(c.ok());
          BOOST_TEST(spread(add_masters(total, *c), all) <= 1u);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(no_leaves_is_an_error) {
  for (int redundancy : {1, 2}) {
    auto placed = place_database({}, 4, redundancy);
    BOOST_TEST_REQUIRE(!placed.ok());
    BOOST_TEST(placed.err().module() == "ha");
    BOOST_TEST(placed.err().name() == "no_leaves");
  }
  auto offline = r1_leaves(3);
  for (auto& leaf : offline)
    leaf.online = false;
  BOOST_TEST(!place_database(offline, 4, 1).ok());
  auto half = r2_leaves(2);
  half[0].online = false;
  half[3].online = false;
  auto placed = place_database(half, 4, 2);
  BOOST_TEST_REQUIRE(!placed.ok());
  BOOST_TEST(placed.err().to_string()
             == "ha.no_leaves: no pair of online leaves in groups 1 and 2 "
                "(redundancy 2 needs at least one)");
  // Leaves without pairs cannot host redundancy 2.
  BOOST_TEST(!place_database(r1_leaves(4), 4, 2).ok());
}

BOOST_AUTO_TEST_CASE(bad_redundancy_is_an_error) {
  for (int redundancy : {0, 3, -1}) {
    auto placed = place_database(r2_leaves(2), 4, redundancy);
    BOOST_TEST_REQUIRE(!placed.ok());
    BOOST_TEST(placed.err().name() == "bad_redundancy");
    BOOST_TEST(placed.err().detail().find(std::to_string(redundancy))
               != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(error_names) {
  BOOST_TEST(std::string(to_string(errc::no_leaves)) == "no_leaves");
  BOOST_TEST(std::string(to_string(errc::bad_redundancy)) == "bad_redundancy");
  BOOST_TEST(std::string(to_string(errc::bad_group)) == "bad_group");
  BOOST_TEST(make_error(errc::bad_group, "group 3").to_string()
             == "ha.bad_group: group 3");
}

BOOST_AUTO_TEST_CASE(choose_pair_takes_first_unpaired_of_other_group) {
  std::vector<leaf_info> leaves{{"a:1", 1, "b:1", true},
                                {"b:1", 2, "a:1", true},
                                {"c:1", 1, "", true},
                                {"d:1", 2, "", true},
                                {"e:1", 2, "", true},
                                {"f:1", 1, "", true}};
  BOOST_TEST(choose_pair(leaves, 1).value_or("none") == "d:1");
  BOOST_TEST(choose_pair(leaves, 2).value_or("none") == "c:1");
  leaves[2].pair = "d:1";
  leaves[3].pair = "c:1";
  BOOST_TEST(choose_pair(leaves, 1).value_or("none") == "e:1");
  BOOST_TEST(choose_pair(leaves, 2).value_or("none") == "f:1");
  leaves[4].pair = "f:1";
  leaves[5].pair = "e:1";
  BOOST_TEST(!choose_pair(leaves, 1).has_value());
  BOOST_TEST(!choose_pair(leaves, 2).has_value());
  BOOST_TEST(!choose_pair({}, 1).has_value());
  BOOST_TEST(!choose_pair({{"g:1", 2, "", true}}, 3).has_value());
}

BOOST_AUTO_TEST_CASE(load_balanced_spreads_each_leafs_replicas_over_the_other_group) {
  for (size_t pairs : {2u, 3u, 4u}) {
    for (uint32_t parts : {6u, 24u, 50u}) {
      BOOST_TEST_CONTEXT(pairs << " pairs, " << parts << " partitions") {
        auto leaves = r2_leaves(pairs);
        auto placed = place_database(leaves, parts, 2, {}, true);
        BOOST_REQUIRE(placed.ok());
        std::map<std::string, int> group;
        for (auto& l : leaves)
          group[l.address] = l.group;
        counts masters;
        std::map<std::string, counts> spread;
        for (auto& p : *placed) {
          BOOST_TEST(group[p.master] != group[p.replica]);
          ++masters[p.master];
          ++spread[p.master][p.replica];
        }
        uint32_t lo = parts, hi = 0;
        for (auto& l : leaves) {
          lo = std::min(lo, masters[l.address]);
          hi = std::max(hi, masters[l.address]);
        }
        BOOST_TEST(hi - lo <= 1u);
        // A leaf's replicas differ by at most one between the leaves of
        // the other group: its failure promotes onto all of them.
        for (auto& [leaf, on] : spread) {
          uint32_t a = parts, b = 0;
          for (auto& l : leaves)
            if (group[l.address] != group[leaf]) {
              a = std::min(a, on[l.address]);
              b = std::max(b, on[l.address]);
            }
          BOOST_TEST(b - a <= 1u);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(load_balanced_needs_a_leaf_in_each_group) {
  auto leaves = r1_leaves(3);
  auto placed = place_database(leaves, 4, 2, {}, true);
  BOOST_REQUIRE(!placed.ok());
  BOOST_TEST(placed.err().detail().find("groups 1 and 2") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
