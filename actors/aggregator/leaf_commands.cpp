// Cluster membership statements, run by the master aggregator: ADD LEAF,
// ATTACH LEAF, DETACH LEAF, REMOVE LEAF and CLEAR ORPHAN DATABASES.
//
//   1. ADD LEAF reaches the leaf first (a heartbeat), then adds it online in
//      its availability group, paired with an unpaired leaf of the other
//      group (redundancy 2).
//   2. ATTACH LEAF attaches detached leaves (attach.cpp). Unless NO
//      REBALANCE, their pair hands masters back as their replicas reach sync
//      (handover.cpp).
//   3. DETACH LEAF fails the leaf's masters over to its pair (as a failure
//      would, but on purpose: failover.cpp) and tells its instances to stop
//      serving. It is refused while a master's replica is not in sync.
//   4. REMOVE LEAF moves each master off the leaf (a switch to its in-sync
//      replica, or a copy to the least loaded online leaf, then a switch),
//      forgets every copy on it, then the leaf itself. FORCE leaves behind
//      what cannot move; the files stay on the leaf's disk.
//   5. CLEAR ORPHAN DATABASES drops the orphans of partitions that an online
//      master serves, and keeps an orphan that is the last copy of its
//      partition. With EXPLAIN it only lists them.
//
// SingleStore: ADD LEAF, ATTACH LEAF, DETACH LEAF, REMOVE LEAF and CLEAR
// ORPHAN DATABASES, with their names and options.
#include <algorithm>

#include "actors/aggregator/state.hpp"
#include "actors/leaf/leaf.hpp"
#include "actors/names.hpp"
#include "base/log.hpp"

namespace lg {

namespace {

/// The leaf at `addr`, or nullptr after answering `req` with the error: it
/// is not in the cluster, or (with `state`) not in that state, which `verb`
/// ("attached", "detached") needs.
pb::LeafMeta* leaf_for(ma_self self, const envelope& req,
                       const std::string& addr,
                       std::optional<leaf_state> state, const char* verb) {
  auto* leaf = self->state.meta.find_leaf(addr);
  if (leaf == nullptr) {
    reply_result(self, req, make_failure(sql::errc::unknown_leaf,
                                         "leaf " + addr
                                           + " is not in the cluster"));
    return nullptr;
  }
  if (state && state_of(*leaf) != *state) {
    std::string wanted = to_string(*state);
    reply_result(self, req,
                 make_failure(sql::errc::conflict,
                              "leaf " + addr + " is "
                                + to_string(state_of(*leaf)) + ", not "
                                + wanted + "; only "
                                + (wanted[0] == 'o' ? "an " : "a ") + wanted
                                + " leaf can be " + verb));
    return nullptr;
  }
  return leaf;
}

} // namespace

void exec_add_leaf(ma_self self, envelope_ptr req, const sql::add_leaf& s) {
  auto& st = self->state;
  auto addr = s.leaf.to_string();
  if (st.meta.find_leaf(addr) != nullptr) {
    reply_result(self, *req, make_failure(sql::errc::leaf_exists,
                                          "leaf '" + s.leaf.host + "':"
                                            + std::to_string(s.leaf.port)
                                            + " is already in the cluster"));
    return;
  }
  auto redundancy = st.meta.globals().redundancy_level();
  int group = 1;
  if (s.group) {
    group = *s.group;
  } else if (redundancy == 2) {
    int in_group[3] = {0, 0, 0};
    for (auto& l : st.meta.leaves())
      ++in_group[l.group() == 2 ? 2 : 1];
    group = in_group[2] < in_group[1] ? 2 : 1;
  }
  // Reach the leaf before adding it, as SingleStore does.
  auto env = make_envelope();
  env->mutable_heartbeat_request()->set_seq(0);
  st.ep.request(
    self, addr, leaf_actor_name(), std::move(env), std::chrono::seconds{2},
    [self, req, addr, group, s](const envelope* rep) {
      auto& st = self->state;
      if (rep == nullptr || !rep->has_heartbeat_reply()) {
        reply_result(self, *req,
                     make_failure(sql::errc::unknown_leaf,
                                  "can't connect to leaf '" + s.leaf.host
                                    + "':" + std::to_string(s.leaf.port)
                                    + ": "
                                    + (st.ep.last_transport_error().empty()
                                         ? "no answer within 2000 ms"
                                         : st.ep.last_transport_error())));
        return;
      }
      if (st.meta.find_leaf(addr) != nullptr) {
        reply_result(self, *req,
                     make_failure(sql::errc::leaf_exists,
                                  "leaf " + addr + " is already in the "
                                                   "cluster"));
        return;
      }
      auto before = st.meta;
      auto pair = st.meta.add_leaf(addr, group,
                                   rep->heartbeat_reply().incarnation());
      if (persist_statement(self, *req, before))
        return;
      st.runtime[addr].last_reply = self->clock().now();
      monitor_leaf(self, addr);
      arm_heartbeats(self);
      logger("ma")->info("LeafAdded {} {} group={} pair={}", st.ctx(), addr,
                         group, pair ? *pair : "none");
      reply_result(self, *req, make_message(rows_affected(1)));
    });
}

void exec_attach_leaf(ma_self self, envelope_ptr req,
                      const sql::attach_leaf& s) {
  auto& st = self->state;
  std::vector<std::string> targets;
  if (s.leaf) {
    auto addr = s.leaf->to_string();
    if (leaf_for(self, *req, addr, leaf_state::detached, "attached") == nullptr)
      return;
    targets.push_back(addr);
  } else {
    for (auto& l : st.meta.leaves())
      if (state_of(l) == leaf_state::detached)
        targets.push_back(l.address());
  }
  if (targets.empty()) {
    reply_result(self, *req, make_message(rows_affected(0)));
    return;
  }
  struct outcome {
    size_t remaining;
    std::vector<std::string> errors;
    std::vector<std::string> summaries;
  };
  auto out = std::make_shared<outcome>();
  out->remaining = targets.size();
  bool rebalance = !s.no_rebalance;
  for (auto& addr : targets) {
    attach_leaf(self, addr, s.force,
                [self, req, out, addr, rebalance](const std::string& err,
                                                  const std::string& summary) {
                  if (err.empty() && rebalance
                      && self->state.meta.globals().redundancy_level() == 2) {
                    // Masters come back to this leaf as its replicas reach
                    // sync (on_replica_in_sync).
                    self->state.balance_pending.insert(addr);
                    if (balance_pair(self, addr))
                      self->state.balance_pending.erase(addr);
                  }
                  if (!err.empty())
                    out->errors.push_back(err);
                  else
                    out->summaries.push_back(addr + ": " + summary);
                  if (--out->remaining > 0)
                    return;
                  if (!out->errors.empty()) {
                    reply_result(self, *req,
                                 make_failure(sql::errc::conflict,
                                              out->errors.front()));
                    return;
                  }
                  std::string text;
                  for (auto& x : out->summaries)
                    text += (text.empty() ? "" : "; ") + x;
                  reply_result(self, *req, make_message("Query OK, " + text));
                });
  }
}

void exec_detach_leaf(ma_self self, envelope_ptr req,
                      const sql::detach_leaf& s) {
  auto& st = self->state;
  auto addr = s.leaf.to_string();
  if (leaf_for(self, *req, addr, leaf_state::online, "detached") == nullptr)
    return;
  // A master whose replica is out of sync would go offline: refuse.
  std::string stuck;
  for (auto& db : st.meta.databases())
    for (auto& part : db.parts())
      for (auto& inst : part.instances()) {
        if (inst.leaf() != addr || inst.role() != pb::MASTER)
          continue;
        auto peer = peer_of(part, inst);
        if (!peer.leaf.empty()
            && (!peer.in_sync || !st.meta.leaf_up(peer.leaf)))
          stuck += (stuck.empty() ? "" : ", ")
                   + partition_label(db.name(), part.ordinal());
      }
  if (!stuck.empty()) {
    reply_result(self, *req,
                 make_failure(sql::errc::conflict,
                              "DETACH LEAF " + addr + " would take "
                                + "partitions offline whose replica is not "
                                + "in sync: " + stuck
                                + "; wait for them to catch up"));
    return;
  }
  leaf_failed(self, addr, "DETACH LEAF", /*detach=*/true);
  persist_then(self, [self, req] {
    reply_result(self, *req, make_message(rows_affected(1)));
  });
}

void exec_remove_leaf(ma_self self, envelope_ptr req,
                      const sql::remove_leaf& s) {
  auto& st = self->state;
  auto addr = s.leaf.to_string();
  auto* leaf = leaf_for(self, *req, addr, std::nullopt, "removed");
  if (leaf == nullptr)
    return;
  bool up = state_of(*leaf) == leaf_state::online;
  if (!up && !s.force) {
    reply_result(self, *req,
                 make_failure(sql::errc::conflict,
                              "leaf " + addr + " is "
                                + to_string(state_of(*leaf))
                                + ": its partitions cannot be moved off it; "
                                  "REMOVE LEAF ... FORCE forgets it and its "
                                  "copies (their files stay on its disk)"));
    return;
  }
  enum class kind { switch_to_peer, copy_to, forget };
  struct step {
    std::string db;
    uint32_t ordinal;
    kind what;
    std::string target;
  };
  std::vector<step> steps;
  std::vector<std::string> problems;
  std::map<std::string, int> load; // copies per other online leaf
  for (auto& l : st.meta.leaves())
    if (l.address() != addr && state_of(l) == leaf_state::online)
      load[l.address()] = 0;
  for (auto& db : st.meta.databases())
    for (auto& part : db.parts())
      for (auto& inst : part.instances())
        if (load.count(inst.leaf()) > 0)
          ++load[inst.leaf()];
  for (auto& db : st.meta.databases()) {
    for (auto& part : db.parts()) {
      const pb::InstanceMeta* mine = nullptr;
      for (auto& inst : part.instances())
        if (inst.leaf() == addr)
          mine = &inst;
      if (mine == nullptr)
        continue;
      auto label = partition_label(db.name(), part.ordinal());
      if (mine->role() != pb::MASTER || !up) {
        steps.push_back({db.name(), part.ordinal(), kind::forget, {}});
        continue;
      }
      auto peer = peer_of(part, *mine);
      if (!peer.leaf.empty()) {
        if (peer.in_sync && st.meta.leaf_up(peer.leaf))
          steps.push_back({db.name(), part.ordinal(), kind::switch_to_peer,
                           peer.leaf});
        else
          problems.push_back(label + " (its replica on " + peer.leaf
                             + " is not in sync)");
        continue;
      }
      // No other copy: copy it to the least loaded online leaf first.
      std::string target;
      for (auto& [l, n] : load)
        if (target.empty() || n < load[target])
          target = l;
      if (target.empty()) {
        problems.push_back(label + " (no other online leaf to move it to)");
        continue;
      }
      ++load[target];
      steps.push_back({db.name(), part.ordinal(), kind::copy_to, target});
    }
  }
  if (!problems.empty() && !s.force) {
    std::string list;
    for (auto& p : problems)
      list += (list.empty() ? "" : ", ") + p;
    reply_result(self, *req,
                 make_failure(sql::errc::conflict,
                              "REMOVE LEAF " + addr + " cannot move "
                                + list + "; REMOVE LEAF ... FORCE leaves "
                                + "them behind"));
    return;
  }
  logger("ma")->warn("LeafRemoving {} {}: {} partitions to move or forget",
                     st.ctx(), addr, steps.size());
  auto moved = std::make_shared<size_t>(0);
  auto cd = std::make_shared<countdown>();
  cd->remaining = steps.size() + 1;
  cd->done = [self, req, addr, moved](std::vector<std::string> errors) {
    auto& st = self->state;
    if (!errors.empty()) {
      reply_result(self, *req,
                   make_failure(sql::errc::conflict,
                                "REMOVE LEAF " + addr + " stopped: "
                                  + errors.front()
                                  + "; the leaf stays in the cluster"));
      return;
    }
    // Forget the leaf itself (its copies were forgotten one by one).
    cancel_attach_rebalance(self, addr, "REMOVE LEAF " + addr);
    st.meta.remove_leaf(addr);
    st.runtime.erase(addr);
    st.balance_pending.erase(addr);
    logger("ma")->warn("LeafRemoved {} {} ({} partitions moved off it; its "
                       "files stay on its disk)",
                       st.ctx(), addr, *moved);
    persist_then(self, [self, req, moved] {
      reply_result(self, *req,
                   make_message("Query OK, " + std::to_string(*moved)
                                + " partitions moved"));
    });
  };
  for (auto& stp : steps) {
    auto db = stp.db;
    auto ordinal = stp.ordinal;
    auto target = stp.target;
    auto forget_then = [self, db, ordinal, addr, cd,
                        moved](const std::string& err) {
      if (!err.empty()) {
        cd->finish_one(err);
        return;
      }
      ++*moved;
      forget_instance(self, db, ordinal, addr);
      cd->finish_one();
    };
    switch (stp.what) {
      case kind::forget:
        forget_instance(self, db, ordinal, addr);
        cd->finish_one();
        break;
      case kind::switch_to_peer:
        switch_master(self, db, ordinal, target, forget_then);
        break;
      case kind::copy_to:
        copy_instance(self, db, ordinal, target,
                      [self, db, ordinal, target,
                       forget_then](const std::string& err) {
                        if (!err.empty()) {
                          forget_then(err);
                          return;
                        }
                        switch_master(self, db, ordinal, target, forget_then);
                      });
        break;
    }
  }
  cd->finish_one();
}

void exec_clear_orphans(ma_self self, envelope_ptr req,
                        const sql::clear_orphan_databases& s) {
  auto& st = self->state;
  std::vector<std::vector<std::string>> rows;
  struct victim {
    std::string db;
    uint32_t ordinal;
    std::string leaf;
  };
  std::vector<victim> victims;
  for (auto& db : st.meta.databases()) {
    for (auto& part : db.parts()) {
      // The partition is safe without its orphans only if a master serves
      // it from an online leaf.
      bool served = false;
      for (auto& inst : part.instances())
        if (inst.role() == pb::MASTER && st.meta.leaf_up(inst.leaf())
            && !part.offline())
          served = true;
      for (auto& inst : part.instances()) {
        if (inst.role() != pb::ORPHAN)
          continue;
        auto hp = split_address(inst.leaf());
        rows.push_back({db.name(), std::to_string(part.ordinal()), hp.first,
                        hp.second,
                        served ? "DROP"
                               : "KEEP (the last copy of its partition)"});
        if (served)
          victims.push_back({db.name(), part.ordinal(), inst.leaf()});
      }
    }
  }
  auto table = make_table({"Database_Name", "Ordinal", "Host", "Port",
                           "Action"},
                          rows);
  if (s.explain || victims.empty()) {
    reply_result(self, *req, table);
    return;
  }
  for (auto& v : victims) {
    auto* db = st.meta.find_database(v.db);
    auto& part = *db->mutable_parts(static_cast<int>(v.ordinal));
    auto* insts = part.mutable_instances();
    insts->erase(std::remove_if(insts->begin(), insts->end(),
                                [&](const pb::InstanceMeta& m) {
                                  return m.leaf() == v.leaf
                                         && m.role() == pb::ORPHAN;
                                }),
                 insts->end());
  }
  persist_then(self, [self, req, victims, table] {
    auto& st = self->state;
    for (auto& v : victims) {
      drop_instance(self, v.leaf, v.db, v.ordinal);
      logger("ma")->warn("OrphanDropped {} {} on {}", st.ctx(),
                         partition_label(v.db, v.ordinal), v.leaf);
    }
    reply_result(self, *req, table);
  });
}

} // namespace lg
