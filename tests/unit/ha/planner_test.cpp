#include "ha/planner.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <boost/test/unit_test.hpp>

using namespace lg::ha;

namespace {

/// A cluster of `pairs` pairs (R2) or `pairs * 2` leaves (R1).
std::vector<leaf_info> leaves_of(int n, int redundancy) {
  std::vector<leaf_info> out;
  for (int i = 0; i < n; ++i) {
    leaf_info l;
    l.address = "h:" + std::to_string(10001 + i);
    l.group = redundancy == 2 ? 1 + i % 2 : 1;
    if (redundancy == 2)
      l.pair = "h:" + std::to_string(10001 + (i ^ 1));
    out.push_back(l);
  }
  return out;
}

plan_instance inst(const std::string& leaf, instance_role role,
                   bool in_sync = true) {
  return plan_instance{leaf, role, in_sync};
}

/// Carries out `plan` on `in` as the cluster would.
plan_input apply(plan_input in, const plan_result& plan) {
  for (auto& step : plan.steps) {
    auto& part = *std::find_if(in.partitions.begin(), in.partitions.end(),
                               [&](const plan_partition& p) {
                                 return p.ordinal == step.ordinal;
                               });
    auto& insts = part.instances;
    switch (step.action) {
      case step_action::copy:
        insts.push_back(inst(step.target, step.source.empty()
                                            ? instance_role::master
                                            : instance_role::replica));
        break;
      case step_action::promote:
        for (auto& i : insts)
          if (i.role == instance_role::master)
            i.role = instance_role::replica;
        for (auto& i : insts)
          if (i.leaf == step.target)
            i.role = instance_role::master;
        break;
      case step_action::drop:
        for (auto& i : insts)
          if (i.leaf == step.target)
            BOOST_TEST((i.role != instance_role::master),
                       "partition " << step.ordinal << ": a plan dropped "
                                    << "its master on " << step.target);
        insts.erase(std::remove_if(insts.begin(), insts.end(),
                                   [&](const plan_instance& i) {
                                     return i.leaf == step.target;
                                   }),
                    insts.end());
        BOOST_TEST(!insts.empty(), "partition " << step.ordinal
                                                << ": a plan dropped its "
                                                   "last copy");
    }
  }
  in.force = false;
  return in;
}

/// R2: partitions per pair (counted on their master's pair) differ by at
/// most one, and every replica is on its master's pair.
void expect_pairs_balanced(const plan_input& in) {
  std::map<std::string, std::string> pair;
  std::map<std::string, int> per_pair;
  for (auto& l : in.leaves) {
    pair[l.address] = l.pair;
    per_pair[std::min(l.address, l.pair)] += 0;
  }
  for (auto& p : in.partitions) {
    std::string master;
    for (auto& i : p.instances)
      if (i.role == instance_role::master)
        master = i.leaf;
    BOOST_REQUIRE(!master.empty());
    ++per_pair[std::min(master, pair[master])];
    for (auto& i : p.instances)
      if (i.role == instance_role::replica)
        BOOST_TEST(i.leaf == pair[master], "partition " << p.ordinal
                                           << ": replica off its pair");
  }
  int lo = 1 << 30;
  int hi = 0;
  for (auto& [key, n] : per_pair) {
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  BOOST_TEST(hi - lo <= 1, "partitions per pair from " << lo << " to " << hi);
}

/// Load-balanced R2: masters per leaf within one of each other; every
/// partition has a replica in its master's other group; each leaf's masters
/// have their replicas spread over that group within one of each other.
void expect_spread_balanced(const plan_input& in) {
  std::map<std::string, int> group;
  std::map<std::string, int> masters;
  for (auto& l : in.leaves) {
    group[l.address] = l.group;
    masters[l.address] += 0;
  }
  std::map<std::string, std::map<std::string, int>> of;
  for (auto& [m, g] : group)
    for (auto& [r, h] : group)
      if (g != h)
        of[m][r] = 0;
  for (auto& p : in.partitions) {
    std::string master;
    std::string replica;
    for (auto& i : p.instances) {
      if (i.role == instance_role::master)
        master = i.leaf;
      else if (i.role == instance_role::replica)
        replica = i.leaf;
    }
    BOOST_REQUIRE(!master.empty());
    BOOST_TEST(!replica.empty(), "partition " << p.ordinal << ": no replica");
    BOOST_TEST(p.instances.size() == 2u);
    ++masters[master];
    if (replica.empty())
      continue;
    BOOST_TEST(group[replica] != group[master],
               "partition " << p.ordinal << ": replica in its master's group");
    ++of[master][replica];
  }
  auto spread = [](const std::map<std::string, int>& m) {
    int lo = 1 << 30;
    int hi = 0;
    for (auto& [k, n] : m) {
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    return hi - lo;
  };
  BOOST_TEST(spread(masters) <= 1, "masters per leaf differ by "
                                     << spread(masters));
  for (auto& [m, on] : of)
    BOOST_TEST(spread(on) <= 1, "the replicas of " << m
                                  << "'s masters differ by " << spread(on)
                                  << " between leaves");
}

} // namespace

BOOST_AUTO_TEST_SUITE(ha_planner)

BOOST_AUTO_TEST_CASE(a_new_pair_takes_its_share_of_partitions) {
  // 16 partitions on two pairs (8 each), a third pair added: balanced is
  // 6, 5, 5 partitions per pair, with masters per leaf within one.
  plan_input in;
  in.redundancy = 2;
  in.leaves = leaves_of(6, 2);
  for (uint32_t o = 0; o < 16; ++o) {
    // Pair 1 (10001/10002) and pair 2 (10003/10004), masters alternating.
    auto a = o % 2 == 0 ? "h:10001" : "h:10003";
    auto b = o % 2 == 0 ? "h:10002" : "h:10004";
    if (o % 4 >= 2)
      std::swap(a, b);
    in.partitions.push_back(plan_partition{
      o, {inst(a, instance_role::master), inst(b, instance_role::replica)},
      1000});
  }
  auto after = apply(in, plan_rebalance(in));
  BOOST_TEST(is_balanced(after));
  expect_pairs_balanced(after);
  std::map<std::string, int> per_pair;
  for (auto& p : after.partitions)
    for (auto& i : p.instances)
      if (i.role == instance_role::master)
        ++per_pair[i.leaf < "h:10003" ? "1" : i.leaf < "h:10005" ? "2" : "3"];
  BOOST_TEST(per_pair["1"] + per_pair["2"] + per_pair["3"] == 16);
  BOOST_TEST(per_pair["3"] == 5);
}

BOOST_AUTO_TEST_CASE(balanced_r2_cluster_needs_no_steps) {
  plan_input in;
  in.leaves = leaves_of(4, 2);
  for (uint32_t o = 0; o < 8; ++o) {
    auto m = in.leaves[o % 4].address;
    in.partitions.push_back({o, {inst(m, instance_role::master),
                                 inst(in.leaves[(o % 4) ^ 1].address,
                                      instance_role::replica)}});
  }
  BOOST_TEST(is_balanced(in));
  BOOST_TEST(plan_rebalance(in).steps.empty());
}

BOOST_AUTO_TEST_CASE(masters_on_one_side_of_a_pair_are_switched_back) {
  plan_input in;
  in.leaves = leaves_of(2, 2);
  for (uint32_t o = 0; o < 4; ++o)
    in.partitions.push_back({o, {inst("h:10002", instance_role::master),
                                 inst("h:10001", instance_role::replica)}});
  auto plan = plan_rebalance(in);
  BOOST_REQUIRE_EQUAL(plan.steps.size(), 2u);
  for (auto& s : plan.steps) {
    BOOST_TEST((s.action == step_action::promote));
    BOOST_TEST(s.target == "h:10001");
    BOOST_TEST(s.phase == 2);
  }
  BOOST_TEST(is_balanced(apply(in, plan)));
}

BOOST_AUTO_TEST_CASE(restore_redundancy_only_copies_missing_replicas) {
  plan_input in;
  in.leaves = leaves_of(2, 2);
  in.restore_only = true;
  in.partitions.push_back({0, {inst("h:10001", instance_role::master)}});
  in.partitions.push_back({1, {inst("h:10001", instance_role::master),
                               inst("h:10002", instance_role::replica)}});
  in.partitions.push_back({2, {inst("h:10001", instance_role::master)}});
  auto plan = plan_rebalance(in);
  BOOST_REQUIRE_EQUAL(plan.steps.size(), 2u);
  for (auto& s : plan.steps) {
    BOOST_TEST((s.action == step_action::copy));
    BOOST_TEST(s.target == "h:10002");
    BOOST_TEST(s.source == "h:10001");
  }
}

BOOST_AUTO_TEST_CASE(no_online_copy_needs_force_and_is_reported) {
  plan_input in;
  in.leaves = leaves_of(2, 1);
  in.leaves[0].online = false;
  in.redundancy = 1;
  in.partitions.push_back({0, {inst("h:10001", instance_role::master)}});
  in.partitions.push_back({1, {inst("h:10002", instance_role::master)}});
  auto plain = plan_rebalance(in);
  BOOST_TEST(plain.unrecoverable == std::vector<uint32_t>{0});
  BOOST_TEST(plain.steps.empty());
  in.force = true;
  auto forced = plan_rebalance(in);
  BOOST_TEST(forced.recreated_empty == std::vector<uint32_t>{0});
  BOOST_REQUIRE_EQUAL(forced.steps.size(), 1u);
  BOOST_TEST((forced.steps[0].action == step_action::copy));
  BOOST_TEST(forced.steps[0].source.empty());
  BOOST_TEST(forced.steps[0].target == "h:10002");
}

BOOST_AUTO_TEST_CASE(orphans_are_dropped_last) {
  plan_input in;
  in.leaves = leaves_of(4, 2);
  in.partitions.push_back({0, {inst("h:10001", instance_role::master),
                               inst("h:10002", instance_role::replica),
                               inst("h:10003", instance_role::orphan)}});
  in.partitions.push_back({1, {inst("h:10003", instance_role::master),
                               inst("h:10004", instance_role::replica)}});
  auto plan = plan_rebalance(in);
  BOOST_REQUIRE_EQUAL(plan.steps.size(), 1u);
  BOOST_TEST((plan.steps[0].action == step_action::drop));
  BOOST_TEST(plan.steps[0].target == "h:10003");
  BOOST_TEST(plan.steps[0].phase == 3);
}

BOOST_AUTO_TEST_CASE(plans_reach_the_balanced_state_in_phase_order) {
  // A cluster that grew: every partition sits on the first pair (or the
  // first leaf in R1); new leaves join. The plan must balance it, copy
  // before it promotes and promote before it drops.
  for (int redundancy : {1, 2}) {
    for (int n = 2; n <= 8; n += 2) {
      for (uint32_t parts : {1u, 3u, 8u, 17u, 32u}) {
        BOOST_TEST_CONTEXT("R" << redundancy << " leaves " << n
                               << " partitions " << parts) {
          plan_input in;
          in.redundancy = redundancy;
          in.leaves = leaves_of(n, redundancy);
          for (uint32_t o = 0; o < parts; ++o) {
            plan_partition p{o, {inst("h:10001", instance_role::master)}, 1000};
            if (redundancy == 2)
              p.instances.push_back(inst("h:10002", instance_role::replica));
            in.partitions.push_back(p);
          }
          auto plan = plan_rebalance(in);
          for (size_t i = 1; i < plan.steps.size(); ++i)
            BOOST_TEST(plan.steps[i - 1].phase <= plan.steps[i].phase);
          std::map<uint32_t, int> last_phase;
          for (auto& s : plan.steps) {
            int rank = s.action == step_action::copy      ? 1
                       : s.action == step_action::promote ? 2
                                                          : 3;
            BOOST_TEST(rank >= last_phase[s.ordinal]);
            last_phase[s.ordinal] = rank;
          }
          auto after = apply(in, plan);
          BOOST_TEST(is_balanced(after));
          std::map<std::string, int> masters;
          for (auto& p : after.partitions)
            for (auto& i : p.instances)
              if (i.role == instance_role::master)
                ++masters[i.leaf];
          int lo = static_cast<int>(parts);
          int hi = 0;
          for (auto& l : after.leaves) {
            lo = std::min(lo, masters[l.address]);
            hi = std::max(hi, masters[l.address]);
          }
          BOOST_TEST(hi - lo <= 1);
          if (redundancy == 2)
            expect_pairs_balanced(after);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(random_layouts_reach_the_balanced_state) {
  // Any layout the cluster can be in (each partition's master on some
  // leaf, its replica on that leaf's pair, some replicas missing): the
  // plan balances partitions per pair and masters per leaf.
  std::mt19937 rng{7};
  for (int round = 0; round < 300; ++round) {
    int n = 2 * (1 + static_cast<int>(rng() % 5));
    auto parts = static_cast<uint32_t>(1 + rng() % 40);
    BOOST_TEST_CONTEXT("round " << round << ": " << n << " leaves, "
                                << parts << " partitions") {
      plan_input in;
      in.redundancy = 2;
      in.leaves = leaves_of(n, 2);
      for (uint32_t o = 0; o < parts; ++o) {
        auto& m = in.leaves[rng() % in.leaves.size()];
        plan_partition p{o, {inst(m.address, instance_role::master)}, 1000};
        if (rng() % 5 != 0)
          p.instances.push_back(inst(m.pair, instance_role::replica));
        in.partitions.push_back(p);
      }
      auto after = apply(in, plan_rebalance(in));
      BOOST_TEST(is_balanced(after));
      expect_pairs_balanced(after);
    }
  }
}

BOOST_AUTO_TEST_CASE(load_balanced_layouts_are_kept_and_rebalanced_by_switches) {
  // 6 leaves, 12 partitions, each replica on the other group and each
  // leaf's replicas spread: balanced as it is in load-balanced mode.
  plan_input in;
  in.redundancy = 2;
  in.load_balanced = true;
  in.leaves = leaves_of(6, 2); // groups alternate: 10001 g1, 10002 g2, ...
  for (uint32_t o = 0; o < 12; ++o) {
    // Leaf m's two masters: replicas on two of the other group's three
    // leaves, one of them its pair's neighbour, none twice.
    auto m = 10001 + static_cast<int>(o % 6);
    auto first = m % 2 == 1 ? 10002 : 10001; // the other group: first,
    auto r = first + 2 * static_cast<int>((o % 6 / 2 + 1 + o / 6) % 3);
    in.partitions.push_back(plan_partition{
      o,
      {inst("h:" + std::to_string(m), instance_role::master),
       inst("h:" + std::to_string(r), instance_role::replica)},
      1000});
  }
  expect_spread_balanced(in);
  BOOST_TEST(plan_rebalance(in).steps.empty());
  BOOST_TEST(is_balanced(in));
  // After a failover: h:10001's masters went to their replicas; it is back
  // with replicas only. Switches (no copies) balance it again.
  for (auto& p : in.partitions)
    if (p.instances[0].leaf == "h:10001")
      std::swap(p.instances[0].role, p.instances[1].role);
  auto plan = plan_rebalance(in);
  BOOST_TEST(!plan.steps.empty());
  for (auto& st : plan.steps)
    BOOST_TEST((st.action == step_action::promote));
  BOOST_TEST(is_balanced(apply(in, plan)));
  // A missing replica is made on the other group.
  in.partitions[0].instances.pop_back();
  plan = plan_rebalance(in);
  bool copied = false;
  for (auto& st : plan.steps)
    if (st.action == step_action::copy && st.ordinal == 0) {
      copied = true;
      auto master_port = in.partitions[0].instances[0].leaf;
      BOOST_TEST((std::stoi(st.target.substr(2)) % 2
                  != std::stoi(master_port.substr(2)) % 2));
    }
  BOOST_TEST(copied);
}

BOOST_AUTO_TEST_CASE(switching_the_fanout_mode_converts_a_database) {
  // A paired database on 6 leaves: each leaf's replicas all on its pair.
  plan_input in;
  in.redundancy = 2;
  in.leaves = leaves_of(6, 2);
  for (uint32_t o = 0; o < 24; ++o) {
    auto& m = in.leaves[o % 6];
    in.partitions.push_back(plan_partition{
      o, {inst(m.address, instance_role::master),
          inst(m.pair, instance_role::replica)}, 1000});
  }
  BOOST_TEST(is_balanced(in));
  in.load_balanced = true;
  BOOST_TEST(!is_balanced(in));
  auto plan = plan_rebalance(in);
  // Only replicas move: no master changes leaf.
  for (auto& st : plan.steps)
    BOOST_TEST((st.action != step_action::promote));
  auto spread = apply(in, plan);
  expect_spread_balanced(spread);
  BOOST_TEST(is_balanced(spread));
  // And back: each replica to its master's pair.
  spread.load_balanced = false;
  BOOST_TEST(!is_balanced(spread));
  auto paired = apply(spread, plan_rebalance(spread));
  BOOST_TEST(is_balanced(paired));
  expect_pairs_balanced(paired);
}

BOOST_AUTO_TEST_CASE(random_load_balanced_layouts_reach_the_balanced_state) {
  // Any layout: masters anywhere, replicas on any leaf of the other group
  // or missing, leaves added with nothing on them. One plan reaches masters
  // per leaf within one and each leaf's replicas spread within one.
  std::mt19937 rng{11};
  for (int round = 0; round < 300; ++round) {
    int n = 2 * (1 + static_cast<int>(rng() % 5));
    int used = 2 * (1 + static_cast<int>(rng() % (n / 2)));
    auto parts = static_cast<uint32_t>(1 + rng() % 40);
    BOOST_TEST_CONTEXT("round " << round << ": " << n << " leaves ("
                                << used << " used), " << parts
                                << " partitions") {
      plan_input in;
      in.redundancy = 2;
      in.load_balanced = true;
      in.leaves = leaves_of(n, 2);
      for (uint32_t o = 0; o < parts; ++o) {
        auto mi = rng() % static_cast<unsigned>(used);
        auto& m = in.leaves[mi];
        plan_partition p{o, {inst(m.address, instance_role::master)}, 1000};
        if (rng() % 5 != 0) {
          // A leaf of the other group (indices of the other parity).
          auto ri = (rng() % static_cast<unsigned>(used / 2)) * 2
                    + (1 - mi % 2);
          p.instances.push_back(inst(in.leaves[ri].address,
                                     instance_role::replica));
        }
        in.partitions.push_back(p);
      }
      auto after = apply(in, plan_rebalance(in));
      expect_spread_balanced(after);
      BOOST_TEST(is_balanced(after));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
