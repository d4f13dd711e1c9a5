#include "ha/planner.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace lg::ha {

namespace {

constexpr uint64_t copy_fixed_ms = 50;
constexpr uint64_t promote_ms = 10;
constexpr uint64_t drop_ms = 5;

struct planner {
  const plan_input& in;
  double rate;
  plan_result out;
  std::map<std::string, const leaf_info*> leaves;
  std::map<std::string, int> masters; // planned masters per usable leaf

  bool online(const std::string& leaf) const {
    auto i = leaves.find(leaf);
    return i != leaves.end() && i->second->online;
  }

  std::string pair_of(const std::string& leaf) const {
    auto i = leaves.find(leaf);
    return i == leaves.end() ? std::string{} : i->second->pair;
  }

  /// R2: the leaf and its pair are both online.
  bool usable_pair(const std::string& leaf) const {
    auto p = pair_of(leaf);
    return online(leaf) && !p.empty() && online(p);
  }

  void add(step_action a, uint32_t ordinal, const std::string& target,
           const std::string& source, int phase, uint64_t bytes) {
    plan_step s;
    s.action = a;
    s.ordinal = ordinal;
    s.target = target;
    s.source = source;
    s.phase = phase;
    switch (a) {
      case step_action::copy:
        s.estimated_ms = copy_fixed_ms
                         + static_cast<uint64_t>(static_cast<double>(bytes)
                                                 / rate);
        break;
      case step_action::promote:
        s.estimated_ms = promote_ms;
        break;
      case step_action::drop:
        s.estimated_ms = drop_ms;
    }
    out.steps.push_back(s);
  }

  /// The usable leaf with the fewest planned masters (ties: leaf order);
  /// in R2 only group-1-or-2 leaves of usable pairs.
  std::string least_loaded(const std::string& exclude = {}) const {
    std::string best;
    for (auto& l : in.leaves) {
      if (l.address == exclude || masters.count(l.address) == 0)
        continue;
      if (best.empty() || masters.at(l.address) < masters.at(best))
        best = l.address;
    }
    return best;
  }

  /// The usable leaves with the most and the fewest planned masters (ties:
  /// leaf order); empty when there are none.
  std::pair<std::string, std::string> busiest_and_idlest() {
    std::string hi;
    std::string lo;
    for (auto& l : in.leaves) {
      if (masters.count(l.address) == 0)
        continue;
      if (hi.empty() || masters[l.address] > masters[hi])
        hi = l.address;
      if (lo.empty() || masters[l.address] < masters[lo])
        lo = l.address;
    }
    return {hi, lo};
  }

  int group_of(const std::string& leaf) const {
    auto i = leaves.find(leaf);
    return i == leaves.end() ? 0 : i->second->group;
  }

  /// Load-balanced R2: one partition's planned layout.
  struct spread_state {
    const plan_partition* p;
    std::string master;           // planned master leaf
    std::string replica;          // planned replica leaf ("" = none)
    std::set<std::string> copies; // online leaves planned to hold a copy
    bool touched = false;         // has a step in the current round
  };
  int base = 0; // load-balanced: the current round's phases follow this one

  /// Load-balanced R2 (see planner.hpp). Rounds of three phases (copy,
  /// promote, drop), each step of a partition in a round of its own, until
  /// a round has nothing left to do.
  void run_spread() {
    bool group_online[3] = {false, false, false};
    for (auto& l : in.leaves)
      if (l.online && (l.group == 1 || l.group == 2))
        group_online[l.group] = true;
    for (auto& l : in.leaves)
      if (l.online && (l.group == 1 || l.group == 2)
          && group_online[3 - l.group])
        masters[l.address] = 0;
    std::vector<spread_state> parts;
    for (auto& p : in.partitions) {
      spread_state s{&p, {}, {}, {}, false};
      for (auto& inst : p.instances) {
        if (online(inst.leaf))
          s.copies.insert(inst.leaf);
        if (inst.role == instance_role::master && online(inst.leaf)
            && masters.count(inst.leaf) > 0)
          s.master = inst.leaf;
      }
      if (s.master.empty())
        for (auto& inst : p.instances)
          if (inst.role == instance_role::replica && inst.in_sync
              && masters.count(inst.leaf) > 0) {
            s.master = inst.leaf;
            s.touched = true;
            add(step_action::promote, p.ordinal, inst.leaf, {}, 2, p.bytes);
            break;
          }
      if (s.master.empty()) {
        out.unrecoverable.push_back(p.ordinal);
        continue;
      }
      ++masters[s.master];
      for (auto& inst : p.instances)
        if (inst.leaf != s.master && inst.role != instance_role::orphan
            && masters.count(inst.leaf) > 0
            && group_of(inst.leaf) != group_of(s.master)
            && s.replica.empty())
          s.replica = inst.leaf;
      parts.push_back(std::move(s));
    }
    std::map<std::string, uint32_t> replicas;
    std::map<std::string, std::map<std::string, uint32_t>> of_master;
    for (auto& s : parts)
      if (!s.replica.empty()) {
        ++replicas[s.replica];
        ++of_master[s.master][s.replica];
      }
    for (auto& s : parts)
      if (s.replica.empty()) {
        s.replica = choose_replica_leaf(in.leaves, s.master, replicas,
                                        of_master[s.master]);
        if (s.replica.empty())
          continue;
        add(step_action::copy, s.p->ordinal, s.replica, s.master, 1,
            s.p->bytes);
        s.touched = true;
        s.copies.insert(s.replica);
        ++replicas[s.replica];
        ++of_master[s.master][s.replica];
      }
    if (in.restore_only) {
      finish(false);
      return;
    }
    for (int round = 0; round < 8; ++round) {
      base = 3 * round;
      if (round > 0)
        for (auto& s : parts)
          s.touched = false;
      auto before = out.steps.size();
      switch_to_idler_replicas(parts);
      balance_spread_masters(parts);
      spread_replicas(parts);
      if (round > 0 && out.steps.size() == before)
        break;
    }
    // Every other copy (orphans, extra copies) goes last.
    int last = 3;
    for (auto& st : out.steps)
      last = std::max(last, st.phase);
    for (auto& s : parts)
      for (auto& leaf : s.copies)
        if (leaf != s.master && leaf != s.replica)
          add(step_action::drop, s.p->ordinal, leaf, {}, last, s.p->bytes);
    finish(false);
  }

  /// Load-balanced: switches to replicas on leaves with at least two
  /// masters fewer (they copy nothing).
  void switch_to_idler_replicas(std::vector<spread_state>& parts) {
    for (bool moved = true; moved;) {
      moved = false;
      for (auto& s : parts)
        if (!s.touched && !s.replica.empty()
            && masters[s.master] - masters[s.replica] >= 2) {
          switch_master(s);
          moved = true;
        }
    }
  }

  void switch_master(spread_state& s) {
    add(step_action::promote, s.p->ordinal, s.replica, {}, base + 2,
        s.p->bytes);
    --masters[s.master];
    ++masters[s.replica];
    std::swap(s.master, s.replica);
    s.touched = true;
  }

  /// Load-balanced: `s`'s replica moves to `to` (copy, then the old one
  /// dropped).
  void move_replica(spread_state& s, const std::string& to) {
    add(step_action::copy, s.p->ordinal, to, s.master, base + 1, s.p->bytes);
    add(step_action::drop, s.p->ordinal, s.replica, {}, base + 3,
        s.p->bytes);
    s.copies.erase(s.replica);
    s.copies.insert(to);
    s.replica = to;
    s.touched = true;
  }

  /// Load-balanced: `s`'s master goes to `to`, a leaf of the other group:
  /// a switch when its replica is there, otherwise its replica moves to
  /// `to` first and the old master stays as the replica.
  void give(spread_state& s, const std::string& to) {
    if (s.replica != to)
      move_replica(s, to);
    switch_master(s);
  }

  spread_state* untouched_master_on(std::vector<spread_state>& parts,
                                    const std::string& leaf,
                                    const std::string& prefer_replica,
                                    const spread_state* other = nullptr) {
    spread_state* pick = nullptr;
    for (auto& s : parts)
      if (&s != other && !s.touched && s.master == leaf
          && !s.replica.empty()
          && (pick == nullptr
              || (s.replica == prefer_replica
                  && pick->replica != prefer_replica)))
        pick = &s;
    return pick;
  }

  /// Load-balanced: masters per leaf within one of each other. A master
  /// goes from the busiest leaf to the idlest: directly when they are in
  /// different groups; within a group through a leaf of the other group
  /// (the busiest switches one to it, it gives one to the idlest), or, with
  /// no partition for that, by a switch this round and a move next round.
  void balance_spread_masters(std::vector<spread_state>& parts) {
    for (int guard = 0; guard < 100000; ++guard) {
      auto [hi, lo] = busiest_and_idlest();
      if (hi.empty() || masters[hi] - masters[lo] <= 1)
        return;
      if (group_of(hi) != group_of(lo)) {
        auto* s = untouched_master_on(parts, hi, lo);
        if (s == nullptr)
          return;
        give(*s, lo);
        continue;
      }
      spread_state* first = nullptr;
      spread_state* second = nullptr;
      for (auto& s : parts) {
        if (s.touched || s.master != hi || s.replica.empty())
          continue;
        if (first == nullptr)
          first = &s;
        second = untouched_master_on(parts, s.replica, lo, &s);
        if (second != nullptr) {
          first = &s;
          break;
        }
      }
      if (first == nullptr)
        return;
      switch_master(*first);
      if (second == nullptr)
        return; // the rest next round
      give(*second, lo);
    }
  }

  /// Load-balanced: the replicas of each leaf's masters within one of each
  /// other over the leaves of the other group.
  void spread_replicas(std::vector<spread_state>& parts) {
    std::map<std::string, std::map<std::string, int>> of;
    for (auto& [m, n] : masters)
      for (auto& [r, k] : masters)
        if (group_of(r) != group_of(m))
          of[m][r] = 0;
    for (auto& s : parts)
      if (!s.replica.empty())
        ++of[s.master][s.replica];
    for (auto& [m, on] : of) {
      for (int guard = 0; guard < 100000 && !on.empty(); ++guard) {
        auto hi = on.begin();
        auto lo = on.begin();
        for (auto i = on.begin(); i != on.end(); ++i) {
          if (i->second > hi->second)
            hi = i;
          if (i->second < lo->second)
            lo = i;
        }
        if (hi->second - lo->second <= 1)
          break;
        spread_state* pick = nullptr;
        for (auto& s : parts)
          if (!s.touched && s.master == m && s.replica == hi->first)
            pick = &s;
        if (pick == nullptr)
          break;
        move_replica(*pick, lo->first);
        --hi->second;
        ++lo->second;
      }
    }
  }

  /// With `reuse`, a copy made where an old copy (an orphan) lies reuses
  /// it: not dropped afterwards. Steps in phase order.
  void finish(bool reuse) {
    std::map<std::pair<uint32_t, std::string>, int> copied; // -> phase
    for (auto& st : out.steps)
      if (st.action == step_action::copy)
        copied.emplace(std::make_pair(st.ordinal, st.target), st.phase);
    out.steps.erase(std::remove_if(out.steps.begin(), out.steps.end(),
                                   [&](const plan_step& st) {
                                     auto c = copied.find(
                                       {st.ordinal, st.target});
                                     return reuse
                                            && st.action == step_action::drop
                                            && c != copied.end()
                                            && c->second < st.phase;
                                   }),
                    out.steps.end());
    std::stable_sort(out.steps.begin(), out.steps.end(),
                     [](const plan_step& a, const plan_step& b) {
                       return a.phase < b.phase;
                     });
  }

  void run() {
    for (auto& l : in.leaves)
      leaves[l.address] = &l;
    if (in.redundancy == 2 && in.load_balanced) {
      run_spread();
      return;
    }
    bool r2 = in.redundancy == 2;
    for (auto& l : in.leaves)
      if (r2 ? usable_pair(l.address) : l.online)
        masters[l.address] = 0;
    // Where each partition's master will be, and its copies.
    struct state {
      const plan_partition* p;
      std::string master;        // planned master leaf ("" = none)
      std::set<std::string> has; // leaves with an online copy
    };
    std::vector<state> parts;
    for (auto& p : in.partitions) {
      state s{&p, {}, {}};
      for (auto& inst : p.instances) {
        if (!online(inst.leaf) || inst.role == instance_role::orphan)
          continue;
        s.has.insert(inst.leaf);
        if (inst.role == instance_role::master)
          s.master = inst.leaf;
      }
      parts.push_back(std::move(s));
    }
    // Count the masters that stay where they are first, so that partitions
    // that must move go to the least loaded leaves.
    std::stable_partition(parts.begin(), parts.end(), [&](const state& s) {
      return !s.master.empty() && masters.count(s.master) > 0;
    });
    for (auto& s : parts) {
      auto ord = s.p->ordinal;
      auto bytes = s.p->bytes;
      if (s.master.empty()) {
        // No online master. An online in-sync replica is promoted (as a
        // failover would); with no online copy at all, FORCE re-creates it.
        for (auto& inst : s.p->instances)
          if (inst.role == instance_role::replica && inst.in_sync
              && online(inst.leaf) && masters.count(inst.leaf) > 0) {
            s.master = inst.leaf;
            add(step_action::promote, ord, inst.leaf, {}, 2, bytes);
            break;
          }
      }
      if (s.master.empty()) {
        if (!in.force || masters.empty()) {
          out.unrecoverable.push_back(ord);
          continue;
        }
        auto t = least_loaded();
        add(step_action::copy, ord, t, {}, 1, 0);
        out.recreated_empty.push_back(ord);
        s.master = t;
        s.has = {t};
        if (r2) {
          add(step_action::copy, ord, pair_of(t), t, 2, 0);
          s.has.insert(pair_of(t));
        }
        ++masters[t];
        continue;
      }
      if (masters.count(s.master) == 0) {
        // Its master's leaf is not usable (R2: its pair is down or it has
        // none): with RESTORE REDUNDANCY nothing can be done here.
        if (in.restore_only)
          continue;
        auto t = least_loaded();
        if (t.empty()) {
          out.unrecoverable.push_back(ord);
          continue;
        }
        move(s.p, s.master, t, s.has);
        s.master = t;
        ++masters[t];
        continue;
      }
      ++masters[s.master];
      if (r2) {
        auto p = pair_of(s.master);
        if (s.has.count(p) == 0) {
          add(step_action::copy, ord, p, s.master, 1, bytes);
          s.has.insert(p);
        }
      }
      if (!in.restore_only)
        for (auto& leaf : s.has)
          if (leaf != s.master && (!r2 || leaf != pair_of(s.master)))
            add(step_action::drop, ord, leaf, {}, 3, bytes);
    }
    if (!in.restore_only) {
      for (auto& p : in.partitions)
        for (auto& inst : p.instances)
          if (inst.role == instance_role::orphan && online(inst.leaf))
            add(step_action::drop, p.ordinal, inst.leaf, {}, 3, 0);
      if (r2) {
        balance_pairs(parts);
        balance_within_pairs(parts);
      } else {
        balance(parts);
      }
    }
    finish(true);
  }

  /// Moves a partition's copies from `from` (and, in R2, its pair) to `to`
  /// (and its pair): copy, promote, drop.
  void move(const plan_partition* p, const std::string& from,
            const std::string& to, std::set<std::string>& has) {
    bool r2 = in.redundancy == 2;
    if (has.count(to) == 0)
      add(step_action::copy, p->ordinal, to, from, 1, p->bytes);
    if (r2 && has.count(pair_of(to)) == 0)
      add(step_action::copy, p->ordinal, pair_of(to), from, 1, p->bytes);
    add(step_action::promote, p->ordinal, to, {}, 2, p->bytes);
    for (auto& leaf : has)
      if (leaf != to && (!r2 || leaf != pair_of(to))) {
        // A copy this plan was about to make there is not made at all.
        auto planned = std::find_if(
          out.steps.begin(), out.steps.end(), [&](const plan_step& st) {
            return st.action == step_action::copy && st.ordinal == p->ordinal
                   && st.target == leaf;
          });
        if (planned != out.steps.end())
          out.steps.erase(planned);
        else
          add(step_action::drop, p->ordinal, leaf, {}, 3, p->bytes);
      }
    has = {to};
    if (r2)
      has.insert(pair_of(to));
  }

  /// R2: a pair's name (its leaves in order), the same from either leaf.
  std::string pair_key(const std::string& leaf) const {
    auto p = pair_of(leaf);
    return std::min(leaf, p) + "+" + std::max(leaf, p);
  }

  /// R2: moves partitions from the pair holding the most to the pair
  /// holding the fewest until they differ by at most one. A partition
  /// counts on the pair of its (planned) master; its replica is there too.
  template <class States>
  void balance_pairs(States& parts) {
    std::map<std::string, int> per_pair;
    for (auto& [leaf, n] : masters)
      per_pair[pair_key(leaf)] += n;
    if (per_pair.size() < 2)
      return;
    for (int guard = 0; guard < 100000; ++guard) {
      auto hi = per_pair.begin();
      auto lo = per_pair.begin();
      for (auto i = per_pair.begin(); i != per_pair.end(); ++i) {
        if (i->second > hi->second)
          hi = i;
        if (i->second < lo->second)
          lo = i;
      }
      if (hi->second - lo->second <= 1)
        return;
      // From the busier leaf of the full pair to the idler of the other.
      auto lo_a = lo->first.substr(0, lo->first.find('+'));
      auto to = masters[pair_of(lo_a)] < masters[lo_a] ? pair_of(lo_a) : lo_a;
      typename States::value_type* pick = nullptr;
      for (auto& s : parts) {
        if (s.master.empty() || masters.count(s.master) == 0
            || pair_key(s.master) != hi->first)
          continue;
        if (pick == nullptr || masters[s.master] > masters[pick->master])
          pick = &s;
      }
      if (pick == nullptr)
        return;
      move(pick->p, pick->master, to, pick->has);
      --masters[pick->master];
      ++masters[to];
      pick->master = to;
      --hi->second;
      ++lo->second;
    }
  }

  /// R2: within each pair, switches masters to the leaf holding fewer until
  /// the two differ by at most one (a switch copies nothing). With pairs
  /// balanced, masters per leaf then differ by at most one everywhere.
  template <class States>
  void balance_within_pairs(States& parts) {
    for (auto& [leaf, n] : masters) {
      auto other = pair_of(leaf);
      if (masters.count(other) == 0)
        continue;
      while (masters[leaf] - masters[other] > 1) {
        typename States::value_type* pick = nullptr;
        for (auto& s : parts)
          if (s.master == leaf && s.has.count(other) > 0) {
            pick = &s;
            break;
          }
        if (pick == nullptr)
          break;
        add(step_action::promote, pick->p->ordinal, other, {}, 2,
            pick->p->bytes);
        pick->master = other;
        --masters[leaf];
        ++masters[other];
      }
    }
  }

  template <class States>
  void balance(States& parts) {
    bool r2 = in.redundancy == 2;
    for (int guard = 0; guard < 100000; ++guard) {
      auto [hi, lo] = busiest_and_idlest();
      if (hi.empty() || masters[hi] - masters[lo] <= 1)
        return;
      // Prefer a switch within the pair: it copies nothing.
      if (r2) {
        auto p = pair_of(hi);
        if (masters[hi] - masters[p] > 1)
          lo = p;
      }
      for (auto& s : parts) {
        if (s.master != hi)
          continue;
        if (r2 && lo == pair_of(hi)) {
          add(step_action::promote, s.p->ordinal, lo, {}, 2, s.p->bytes);
        } else {
          move(s.p, hi, lo, s.has);
        }
        s.master = lo;
        --masters[hi];
        ++masters[lo];
        break;
      }
    }
  }
};

} // namespace

const char* to_string(step_action a) {
  switch (a) {
    case step_action::copy:
      return "COPY PARTITION";
    case step_action::promote:
      return "PROMOTE PARTITION";
    default:
      return "DROP PARTITION";
  }
}

plan_result plan_rebalance(const plan_input& in, double copy_bytes_per_ms) {
  planner p{in, copy_bytes_per_ms > 0 ? copy_bytes_per_ms : 1.0, {}, {}, {}};
  p.run();
  return std::move(p.out);
}

bool is_balanced(const plan_input& in) {
  auto r = plan_rebalance(in);
  return r.steps.empty() && r.recreated_empty.empty();
}

} // namespace lg::ha
