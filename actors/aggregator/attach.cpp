// Leaf recovery and reattach, run by the master aggregator.
//
//   1. A leaf that starts says so twice: LeafHelloRequest(recovering) before
//      it replays its storage (State `recovering`), then LeafHelloRequest
//      with every instance it found on disk, or could not open.
//   2. With auto_attach ON, or when the leaf was never declared offline, the
//      aggregator attaches it (State `attaching`, then `online` once every
//      instance has its role). With auto_attach OFF an offline leaf that
//      comes back stays `detached` until ATTACH LEAF.
//   3. Attaching classifies each instance on the leaf (ha::classify_recovered
//      and the metadata):
//      (a) the partition has no master on another online leaf: the copy is
//          reintroduced as master, if it holds every acknowledged write (it
//          was the master, or an in-sync replica). A copy that may lack
//          acknowledged writes is not served; the partition stays offline
//          until the leaf that holds them comes back.
//      (b) the master is on the leaf's pair: the copy becomes its replica.
//          The master checks its history and catches it up or rebuilds it
//          (messages/rebuild.proto); the replica is in sync once the master
//          says so (ReplicaSyncRequest).
//      (c) the partition lives on leaves that are not its pair: the copy is
//          an Orphan, never served, kept until CLEAR ORPHAN DATABASES.
//      A copy that is missing or could not be opened (corrupt) is replaced
//      by an empty replica rebuilt from the master (CreateInstanceRequest
//      with rebuild set; the leaf moves the old files aside).
//
//   leaf (restarted)        aggregator                  master (pair)
//     |--Hello(recovering)--->|                              |
//     |--Hello(instances)---->|  classify: (b)               |
//     |<--SetRole(REPLICA)----|--SetRole(MASTER, peer)------>|
//     |--JoinRequest---------------------------------------->|
//     |<--SnapshotChunk... / ReplicateRequest ----------------|
//     |                       |<--ReplicaSync(in_sync)-------|
//
// SingleStore ("Managing High Availability"): a recovered leaf's partitions
// are reintroduced, become replicas of their pair's masters (rebuilt when
// they diverged), or become orphans.
#include <algorithm>

#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "ha/recovery.hpp"

namespace lg {

namespace {

struct attach_plan {
  std::vector<order> orders;
  size_t reintroduced = 0;
  size_t replicas = 0;
  size_t rebuilt = 0;
  size_t orphans = 0;
  std::vector<std::string> offline;
};

/// What the leaf's disk holds, by partition label; nullptr state for an
/// instance that could not be opened.
std::map<std::string, const pb::InstanceState*>
disk_of(const leaf_runtime& rt) {
  std::map<std::string, const pb::InstanceState*> result;
  for (auto& inst : rt.hello_instances)
    result[partition_label(inst.database(), inst.ordinal())] = &inst;
  return result;
}

bool failed_copy(const pb::InstanceState* s) {
  return s != nullptr && s->state().rfind("failed", 0) == 0;
}

/// Copies on the leaf of partitions that now live elsewhere (case c).
std::vector<std::string> conflicts_of(master_aggregator_state& st,
                                      const std::string& addr) {
  std::vector<std::string> result;
  auto& rt = st.runtime[addr];
  for (auto& inst : rt.hello_instances) {
    if (failed_copy(&inst))
      continue;
    auto* db = st.meta.find_database(inst.database());
    if (db == nullptr
        || inst.ordinal() >= static_cast<uint32_t>(db->parts_size()))
      continue;
    auto& part = db->parts(static_cast<int>(inst.ordinal()));
    bool mine = false;
    bool others = false;
    for (auto& m : part.instances()) {
      if (m.leaf() == addr)
        mine = true;
      else if (m.role() != pb::ORPHAN)
        others = true;
    }
    if (!mine && others)
      result.push_back(partition_label(db->name(), part.ordinal()));
  }
  return result;
}

/// Decides what each instance on `addr` becomes (step 3) and updates the
/// metadata accordingly.
attach_plan plan_attach(ma_self self, const std::string& addr) {
  auto& st = self->state;
  auto now = self->clock().now();
  attach_plan plan;
  auto* leaf = st.meta.find_leaf(addr);
  auto& rt = st.runtime[addr];
  auto disk = disk_of(rt);
  for (auto& db : *st.meta.mutable_databases()) {
    for (auto& part : *db.mutable_parts()) {
      auto label = partition_label(db.name(), part.ordinal());
      pb::InstanceMeta* mine = nullptr;
      std::vector<ha::instance_view> others;
      for (auto& inst : *part.mutable_instances()) {
        if (inst.leaf() == addr) {
          mine = &inst;
          continue;
        }
        ha::instance_view v;
        v.leaf = inst.leaf();
        v.role = view_role(inst.role());
        v.in_sync = inst.in_sync();
        v.leaf_online = st.meta.leaf_up(inst.leaf());
        others.push_back(v);
      }
      auto d = disk.find(label);
      bool on_disk = rt.hello_seen ? d != disk.end() : mine != nullptr;
      bool corrupt = on_disk && d != disk.end() && failed_copy(d->second);
      auto master = master_of(part);
      bool master_elsewhere = master != nullptr && master->leaf() != addr
                              && st.meta.leaf_up(master->leaf());
      auto add = [&](pb::Role role, uint64_t term, const std::string& peer,
                     bool in_sync) {
        auto o = make_order(addr, db.name(), part.ordinal(), role, term, peer,
                            in_sync);
        o.sync_durability = db.sync_durability();
        plan.orders.push_back(o);
        return &plan.orders.back();
      };
      auto tell_master = [&] {
        plan.orders.push_back(make_order(master->leaf(), db.name(),
                                         part.ordinal(), pb::MASTER,
                                         part.term(), addr, false));
      };
      if (mine == nullptr) {
        if (!on_disk || corrupt)
          continue;
        // (c) a copy of a partition that lives elsewhere.
        auto* inst = part.add_instances();
        inst->set_leaf(addr);
        inst->set_role(pb::ORPHAN);
        add(pb::ORPHAN, part.term(), "", false);
        ++plan.orphans;
        LG_PROBE(orphan_found, "a recovered copy became an orphan");
        logger("ma")->warn("OrphanFound {} {} on {}: the partition lives on "
                           "other leaves",
                           st.ctx(), label, addr);
        continue;
      }
      if (mine->role() == pb::ORPHAN) {
        if (on_disk && !corrupt) {
          add(pb::ORPHAN, part.term(), "", false);
          ++plan.orphans;
        }
        continue;
      }
      if (!on_disk || corrupt) {
        auto why = corrupt ? "could not be opened (" + d->second->state() + ")"
                           : std::string{"is missing"};
        if (master_elsewhere) {
          // Replace it by a copy rebuilt from the master.
          mine->set_role(pb::REPLICA);
          mine->set_in_sync(false);
          auto* o = add(pb::REPLICA, part.term(), master->leaf(), true);
          o->create = true;
          mine->set_missing(false);
          tell_master();
          ++plan.rebuilt;
          auto& job = start_job(st, now, job_action::rebuild, db.name(),
                                part.ordinal(), addr);
          job.details = "the copy on " + addr + " " + why;
          LG_PROBE(bad_copy_replaced, "a missing or corrupt copy is rebuilt");
          logger("ma")->warn("CopyReplaced {} {} on {}: {}; rebuilding it "
                             "from {}",
                             st.ctx(), label, addr, why, master->leaf());
        } else {
          mine->set_missing(true);
          mine->set_in_sync(false);
          if (mine->role() == pb::MASTER || master == nullptr) {
            part.set_offline(true);
            part.set_offline_reason("partition " + label + " is offline: its "
                                    "copy on leaf " + addr + " " + why);
            plan.offline.push_back(label);
          }
          logger("ma")->error("CopyLost {} {} on {} {}", st.ctx(), label,
                              addr, why);
        }
        continue;
      }
      auto rule = ha::classify_recovered(addr, leaf->pair(), others);
      if (mine->role() == pb::MASTER && !master_elsewhere) {
        // (a) the master came back.
        part.set_offline(false);
        part.clear_offline_reason();
        auto peer = peer_of(part, *mine);
        add(pb::MASTER, part.term(), peer.leaf, peer.in_sync);
        if (!peer.leaf.empty() && st.meta.leaf_up(peer.leaf)) {
          // Its replica's leaf is already back: point it at this master
          // (re-creating the copy if that leaf came back without it).
          auto o = make_order(peer.leaf, db.name(), part.ordinal(),
                              pb::REPLICA, part.term(), addr, true);
          for (auto& other : *part.mutable_instances())
            if (other.leaf() == peer.leaf && other.missing()) {
              o.create = true;
              o.sync_durability = db.sync_durability();
              other.set_missing(false);
            }
          plan.orders.push_back(o);
          if (!peer.in_sync)
            start_job(st, now, job_action::attach, db.name(), part.ordinal(),
                      peer.leaf);
        }
        ++plan.reintroduced;
        LG_PROBE(partition_reintroduced,
                 "an offline partition came back with its leaf");
        continue;
      }
      if (rule == ha::recovery_rule::replica && master_elsewhere) {
        // (b) the pair holds the master: become its replica.
        mine->set_role(pb::REPLICA);
        mine->set_in_sync(false);
        add(pb::REPLICA, part.term(), master->leaf(), true);
        tell_master();
        ++plan.replicas;
        start_job(st, now, job_action::attach, db.name(), part.ordinal(), addr);
        continue;
      }
      if (rule == ha::recovery_rule::orphan || master_elsewhere) {
        // (c) the partition moved to leaves that are not this one's pair.
        mine->set_role(pb::ORPHAN);
        mine->set_in_sync(false);
        add(pb::ORPHAN, part.term(), "", false);
        ++plan.orphans;
        if (master_elsewhere) {
          // Its master may still count this copy as its replica.
          auto peer = peer_of(part, *master);
          plan.orders.push_back(make_order(master->leaf(), db.name(),
                                           part.ordinal(), pb::MASTER,
                                           part.term(), peer.leaf,
                                           peer.in_sync));
        }
        LG_PROBE(orphan_found, "a recovered copy became an orphan");
        continue;
      }
      // (a) no master anywhere online.
      if (mine->in_sync() || master == nullptr) {
        auto term = part.term() + 1;
        if (master != nullptr) {
          master->set_role(pb::REPLICA);
          master->set_in_sync(false);
        }
        mine->set_role(pb::MASTER);
        part.set_term(term);
        part.set_offline(false);
        part.clear_offline_reason();
        add(pb::MASTER, term, master ? master->leaf() : std::string{}, false);
        ++plan.reintroduced;
        LG_PROBE(replica_reintroduced_as_master,
                 "an in-sync copy came back while its master's leaf is down");
        logger("ma")->warn("PartitionReintroduced {} {} on {} as master, term "
                           "{}",
                           st.ctx(), label, addr, term);
        continue;
      }
      part.set_offline(true);
      part.set_offline_reason(
        "partition " + label + " is offline: the copy on leaf " + addr
        + " may lack acknowledged writes, which leaf " + master->leaf()
        + " holds; bring that leaf back");
      plan.offline.push_back(label);
    }
  }
  return plan;
}

} // namespace

/// Attaches `addr` (steps 2 and 3); `done` gets an error or a summary.
void attach_leaf(ma_self self, const std::string& addr, bool force,
                 attach_done done) {
  auto& st = self->state;
  auto* leaf = st.meta.find_leaf(addr);
  auto conflicts = conflicts_of(st, addr);
  if (!force && !conflicts.empty()) {
    std::string list;
    for (auto& c : conflicts)
      list += (list.empty() ? "" : ", ") + c;
    done("leaf " + addr + " holds copies of partitions that now live on "
           + "other leaves (" + list + "); ATTACH LEAF ... FORCE keeps them "
           + "as orphans",
         {});
    return;
  }
  set_state(*leaf, leaf_state::attaching);
  logger("ma")->info("LeafAttaching {} {}", st.ctx(), addr);
  auto plan = std::make_shared<attach_plan>(plan_attach(self, addr));
  // Masters learn their new replica before the replica asks to join.
  std::stable_partition(plan->orders.begin(), plan->orders.end(),
                        [](const order& o) { return o.role == pb::MASTER; });
  persist_then(self, [self, addr, plan, done] {
    auto cd = std::make_shared<countdown>();
    cd->remaining = plan->orders.size() + 1;
    cd->done = [self, addr, plan, done](std::vector<std::string> errors) {
      auto& st = self->state;
      // The hello's list of copies is used up: from now on the metadata
      // says what the leaf holds, until it says hello again.
      st.runtime[addr].hello_seen = false;
      st.runtime[addr].hello_instances.clear();
      auto* leaf = st.meta.find_leaf(addr);
      if (leaf != nullptr && state_of(*leaf) == leaf_state::attaching) {
        set_state(*leaf, leaf_state::online);
        st.runtime[addr].last_reply = self->clock().now();
        arm_heartbeats(self);
      }
      persist(self);
      std::string summary = std::to_string(plan->reintroduced)
                            + " reintroduced, " + std::to_string(plan->replicas)
                            + " replicas attached, "
                            + std::to_string(plan->rebuilt) + " rebuilt, "
                            + std::to_string(plan->orphans) + " orphans";
      if (!plan->offline.empty())
        summary += ", " + std::to_string(plan->offline.size()) + " offline";
      logger("ma")->info("LeafAttached {} {}: {}", st.ctx(), addr, summary);
      for (auto& e : errors)
        logger("ma")->warn("AttachStepFailed {} {}: {}", st.ctx(), addr, e);
      done(errors.empty() ? std::string{} : errors.front(), summary);
    };
    for (auto& o : plan->orders)
      send_order(self, o, [cd](const std::string& err) {
        cd->finish_one(err);
      });
    cd->finish_one();
  });
}

void on_leaf_hello(ma_self self, const envelope_ptr& req) {
  auto& st = self->state;
  const auto& hello = req->leaf_hello_request();
  auto rep = make_envelope();
  auto* body = rep->mutable_leaf_hello_reply();
  auto leaf = st.meta.find_leaf(hello.leaf());
  if (leaf == nullptr) {
    body->set_status(pb::UNKNOWN);
    body->set_error("leaf " + hello.leaf() + " is not in the cluster");
    if (!hello.recovering()) // the early hello is a one-way notice
      st.ep.reply(self, *req, std::move(rep));
    return;
  }
  body->set_status(pb::STATUS_OK);
  if (!hello.recovering()) // the early hello is a one-way notice
    st.ep.reply(self, *req, std::move(rep));
  auto addr = hello.leaf();
  auto& rt = st.runtime[addr];
  rt.last_reply = self->clock().now();
  monitor_leaf(self, addr);
  if (hello.recovering()) {
    if (state_of(*leaf) == leaf_state::offline) {
      set_state(*leaf, leaf_state::recovering);
      leaf->set_incarnation(hello.incarnation());
      persist(self);
    }
    logger("ma")->info("LeafRecovering {} {} incarnation={}", st.ctx(), addr,
                       hello.incarnation());
    return;
  }
  if (state_of(*leaf) == leaf_state::online
      && leaf->incarnation() == hello.incarnation()
      && hello.incarnation() != 0) {
    // The same process, announcing itself late (its first hello found no
    // route to the aggregator yet): nothing it holds has changed.
    logger("ma")->info("LeafHelloRepeated {} {} incarnation={}: already "
                       "online",
                       st.ctx(), addr, hello.incarnation());
    return;
  }
  leaf->set_incarnation(hello.incarnation());
  rt.hello_seen = true;
  rt.hello_instances.assign(hello.instances().begin(),
                            hello.instances().end());
  auto state = state_of(*leaf);
  logger("ma")->info("LeafBack {} {} incarnation={} ({} instances), was {}",
                     st.ctx(), addr, hello.incarnation(),
                     hello.instances_size(), to_string(state));
  if (state == leaf_state::detached
      || ((state == leaf_state::offline || state == leaf_state::recovering)
          && !st.meta.globals().auto_attach())) {
    set_state(*leaf, leaf_state::detached);
    persist(self);
    logger("ma")->warn("LeafDetached {} {}: auto_attach is OFF or the leaf "
                       "was detached; run ATTACH LEAF",
                       st.ctx(), addr);
    return;
  }
  attach_leaf(self, addr, /*force=*/true,
              [](const std::string&, const std::string&) {});
}

} // namespace lg
