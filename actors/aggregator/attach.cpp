// Leaf recovery and reattach, run by the master aggregator.
//
//   1. A leaf that starts says so twice: LeafHelloRequest(recovering) before
//      it replays its storage (State `recovering`), then LeafHelloRequest
//      with every instance it found on disk, or could not open.
//   2. With auto_attach ON, or when the leaf was never declared offline, the
//      aggregator attaches it (State `attaching`, then `online` once every
//      instance has its role). With auto_attach OFF an offline leaf that
//      comes back stays `detached` until ATTACH LEAF.
//   3. Attaching classifies each instance on the leaf (the metadata, what
//      each leaf's hello said, ha::choose_recovered_master and
//      ha::classify_recovered). A leaf whose pair restarted too, or has not
//      been heard from since the aggregator started, first waits for that
//      pair's hello (at most attach_report_wait): the copies are compared,
//      not the roles last recorded. An in-sync replica whose master's leaf
//      (or a master whose in-sync replica's leaf) has not answered a
//      heartbeat sent after this leaf's hello waits for that answer too:
//      that copy may have died in the same power loss.
//      (a) the partition has no master serving on another leaf: of the
//          copies that hold every acknowledged write (the recorded master,
//          the in-sync replicas), the one whose log ends last by (term,
//          lsn) is master. If that is this copy, it is reintroduced (under
//          a new term unless every other copy ends no later); if another,
//          it takes over and this one becomes its replica. A copy that may
//          lack acknowledged writes, or could not be opened, is never
//          master; with no other, the partition stays offline until the
//          leaf that holds them comes back.
//      (b) the master is on the leaf's pair: the copy becomes its replica.
//          The master checks its history and catches it up or rebuilds it
//          (messages/rebuild.proto); the replica is in sync once the master
//          says so (ReplicaSyncRequest).
//      (c) the partition lives on leaves that are not its pair: the copy is
//          an Orphan, never served, kept until CLEAR ORPHAN DATABASES.
//      A missing or corrupt copy is replaced by an empty replica rebuilt
//      from the master (CreateInstanceRequest with rebuild set).
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
// are reintroduced, become replicas (rebuilt if diverged), or orphans.
#include <algorithm>

#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "base/bugs.hpp"
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

/// Whether `leaf`'s copies are about to be reported: it said it restarted
/// and has not said what its disk holds yet, or it was online in the
/// metadata the aggregator started from and has not been heard from since.
bool report_pending(const master_aggregator_state& st,
                    const std::string& leaf) {
  auto rt = st.runtime.find(leaf);
  auto* meta = st.meta.find_leaf(leaf);
  if (rt == st.runtime.end() || meta == nullptr)
    return false;
  auto s = state_of(*meta);
  return s != leaf_state::offline && s != leaf_state::detached
         && (rt->second.restarting || rt->second.unconfirmed);
}

/// Whether `leaf` serves its copies in the roles the metadata records: it is
/// up, and neither restarting nor about to be attached.
bool serving_leaf(const master_aggregator_state& st, const std::string& leaf) {
  if (!st.meta.leaf_up(leaf))
    return false;
  auto rt = st.runtime.find(leaf);
  return rt == st.runtime.end()
         || (!rt->second.restarting && !rt->second.unconfirmed
             && !rt->second.awaiting_attach);
}

/// The copies of one partition as the choice of its master sees them, with
/// the metadata of each.
struct partition_copies {
  std::vector<ha::recovered_copy> copies;
  std::vector<pb::InstanceMeta*> metas;
  int mine = -1; ///< the index of the copy on the leaf being attached
};

/// Fills `c` from what `inst`, a leaf's hello entry (nullptr: not on its
/// disk), says.
void from_hello(const pb::InstanceState* inst, ha::recovered_copy& c) {
  if (inst == nullptr) {
    c.state = ha::copy_state::absent;
  } else if (failed_copy(inst)) {
    c.state = ha::copy_state::failed;
  } else {
    c.state = ha::copy_state::reported;
    c.position_known = true;
    c.last = {inst->position().term(), inst->position().lsn()};
  }
}

/// The copies of `part` (orphans left out) while `addr` is being attached,
/// `disk` being what its hello reported.
partition_copies
copies_of(master_aggregator_state& st, pb::PartitionMeta& part,
          const std::string& db, const std::string& addr,
          const std::map<std::string, const pb::InstanceState*>& disk) {
  partition_copies result;
  auto label = partition_label(db, part.ordinal());
  for (auto& inst : *part.mutable_instances()) {
    if (inst.role() == pb::ORPHAN)
      continue;
    ha::recovered_copy c;
    c.leaf = inst.leaf();
    c.role = view_role(inst.role());
    c.in_sync = inst.in_sync();
    auto rt = st.runtime.find(inst.leaf());
    auto* meta = st.meta.find_leaf(inst.leaf());
    if (inst.leaf() == addr) {
      result.mine = static_cast<int>(result.copies.size());
      if (rt != st.runtime.end() && rt->second.hello_seen) {
        auto d = disk.find(label);
        from_hello(d == disk.end() ? nullptr : d->second, c);
      } else {
        // Attached again without a restart: the copy is live on its leaf,
        // at a position the aggregator does not know.
        c.state = ha::copy_state::reported;
      }
    } else if (meta == nullptr || state_of(*meta) == leaf_state::detached) {
      c.state = ha::copy_state::absent;
    } else if (rt != st.runtime.end() && rt->second.awaiting_attach
               && rt->second.hello_seen) {
      const pb::InstanceState* found = nullptr;
      for (auto& h : rt->second.hello_instances)
        if (partition_label(h.database(), h.ordinal()) == label)
          found = &h;
      from_hello(found, c);
    } else if (report_pending(st, inst.leaf())) {
      c.state = ha::copy_state::pending;
    } else if (!inst.missing() && st.meta.leaf_up(inst.leaf())) {
      c.state = ha::copy_state::serving;
    } else {
      c.state = ha::copy_state::absent;
    }
    result.copies.push_back(std::move(c));
    result.metas.push_back(&inst);
  }
  return result;
}

/// The leaf whose report the attach of `addr` waits for, or "" when none: a
/// partition of `addr` has no serving master, and a copy that may hold every
/// acknowledged write is about to be reported.
std::string awaited_report(master_aggregator_state& st,
                           const std::string& addr) {
  auto it = st.runtime.find(addr);
  if (it == st.runtime.end())
    return {};
  auto disk = disk_of(it->second);
  for (auto& db : *st.meta.mutable_databases())
    for (auto& part : *db.mutable_parts()) {
      auto* mine = instance_on(part, addr);
      if (mine == nullptr || mine->role() == pb::ORPHAN)
        continue;
      // A replica recorded in sync holds every acknowledged write; attached
      // to its master it is recorded out of sync until caught up. That
      // master must first prove it is alive now: one that died with this
      // leaf (a power loss) and is not declared offline yet would leave no
      // copy recorded as holding every acknowledged write.
      auto* master = master_of(part);
      if (mine->role() == pb::REPLICA && mine->in_sync()
          && !bugs::attach_trusts_silent_master && master != nullptr
          && master->leaf() != addr && serving_leaf(st, master->leaf())) {
        auto m = st.runtime.find(master->leaf());
        if (m != st.runtime.end()
            && m->second.answered_sent_at < it->second.hello_at)
          return master->leaf();
      }
      // So must a recorded master's in-sync replica, which is preferred if
      // it kept serving (load-balanced: not on this leaf's pair).
      for (auto& o : part.instances())
        if (mine->role() == pb::MASTER && !bugs::attach_trusts_silent_master
            && o.leaf() != addr && o.role() == pb::REPLICA && o.in_sync()
            && serving_leaf(st, o.leaf())
            && st.runtime[o.leaf()].answered_sent_at < it->second.hello_at)
          return o.leaf();
      auto copies = copies_of(st, part, db.name(), addr, disk);
      auto choice = ha::choose_recovered_master(copies.copies);
      if (choice.kind == ha::master_choice::wait)
        return copies.copies[choice.index].leaf;
    }
  return {};
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
      auto* mine = instance_on(part, addr);
      auto d = disk.find(label);
      bool on_disk = rt.hello_seen ? d != disk.end() : mine != nullptr;
      bool corrupt = on_disk && d != disk.end() && failed_copy(d->second);
      auto add = [&](pb::Role role, uint64_t term, const std::string& peer,
                     bool in_sync) {
        auto o = make_order(addr, db.name(), part.ordinal(), role, term, peer,
                            in_sync);
        o.sync_durability = db.sync_durability();
        plan.orders.push_back(o);
        return &plan.orders.back();
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
      auto views = copies_of(st, part, db.name(), addr, disk);
      auto choice = ha::choose_recovered_master(views.copies);
      if (choice.kind == ha::master_choice::wait) {
        // The attach waited as long as it may: decide with what is known.
        // A leaf not heard from since the aggregator started, and that did
        // not say it restarted, serves as recorded: it kept running, or its
        // heartbeats will soon fail it over like any lost leaf. One that is
        // replaying its storage does not serve yet.
        for (auto& c : views.copies)
          if (c.state == ha::copy_state::pending) {
            auto rt = st.runtime.find(c.leaf);
            bool kept_running = rt != st.runtime.end()
                                && rt->second.unconfirmed
                                && !rt->second.restarting;
            c.state = kept_running ? ha::copy_state::serving
                                   : ha::copy_state::absent;
          }
        choice = ha::choose_recovered_master(views.copies);
      }
      // A master serving on another leaf (the copy being attached never
      // serves yet).
      pb::InstanceMeta* master = choice.kind == ha::master_choice::keep
                                   ? views.metas[choice.index]
                                   : nullptr;
      bool master_elsewhere = master != nullptr;
      auto tell_master = [&] {
        plan.orders.push_back(make_order(master->leaf(), db.name(),
                                         part.ordinal(), pb::MASTER,
                                         part.term(), addr, false));
      };
      // A failed copy of another leaf cannot keep up with a master.
      for (size_t i = 0; i < views.copies.size(); ++i)
        if (views.copies[i].state == ha::copy_state::failed)
          record_sync(*views.metas[i], false);
      // (a) another copy, which holds every acknowledged write, becomes
      // master; this one becomes its replica (rebuilt when it is bad).
      auto other_takes_over = [&](bool bad_copy, const std::string& why) {
        auto* chosen = views.metas[choice.index];
        for (auto& inst : *part.mutable_instances())
          if (inst.role() == pb::MASTER && &inst != chosen) {
            inst.set_role(pb::REPLICA);
            record_sync(inst, false);
          }
        chosen->set_role(pb::MASTER);
        mine->set_role(pb::REPLICA);
        record_sync(*mine, false);
        mine->set_missing(bad_copy);
        LG_PROBE(master_chosen_by_history,
                 "a recovered copy other than the recorded master became "
                 "master: it holds more, or the recorded one is bad");
        logger("ma")->warn("MasterChosenByHistory {} {}: the copy on {} "
                           "serves, the one on {} {} ({})",
                           st.ctx(), label, chosen->leaf(), addr, why,
                           choice.reason);
        if (views.copies[choice.index].state != ha::copy_state::serving) {
          // Its leaf is about to be attached: that attach reintroduces it
          // and gives this copy its role.
          return;
        }
        auto term = part.term() + 1;
        part.set_term(term);
        part.set_offline(false);
        part.clear_offline_reason();
        plan.orders.push_back(make_order(chosen->leaf(), db.name(),
                                         part.ordinal(), pb::MASTER, term,
                                         addr, false));
        auto* o = add(pb::REPLICA, term, chosen->leaf(), true);
        if (bad_copy) {
          o->create = true;
          mine->set_missing(false);
          ++plan.rebuilt;
          auto& job = start_job(st, now, job_action::rebuild, db.name(),
                                part.ordinal(), addr);
          job.details = "the copy on " + addr + " " + why;
        } else {
          ++plan.replicas;
          start_job(st, now, job_action::attach, db.name(), part.ordinal(),
                    addr);
        }
      };
      if (!on_disk || corrupt) {
        auto why = corrupt ? "could not be opened (" + d->second->state() + ")"
                           : std::string{"is missing"};
        if (master_elsewhere) {
          // Replace it by a copy rebuilt from the master.
          mine->set_role(pb::REPLICA);
          record_sync(*mine, false);
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
        } else if (choice.kind == ha::master_choice::choose) {
          LG_PROBE(bad_copy_handed_over, "a missing or corrupt copy with no "
                                         "serving master: another copy takes "
                                         "over and it is rebuilt");
          other_takes_over(true, why);
        } else {
          mine->set_missing(true);
          record_sync(*mine, false);
          auto* recorded = master_of(part);
          if (recorded == nullptr || recorded == mine) {
            part.set_offline(true);
            part.set_offline_reason("partition " + label + " is offline: its "
                                    "copy on leaf " + addr + " " + why + "; "
                                    + choice.reason);
            plan.offline.push_back(label);
          }
          logger("ma")->error("CopyLost {} {} on {} {}; {}", st.ctx(), label,
                              addr, why, choice.reason);
        }
        continue;
      }
      if (master_elsewhere) {
        std::vector<ha::instance_view> others;
        for (size_t i = 0; i < views.copies.size(); ++i) {
          if (static_cast<int>(i) == views.mine)
            continue;
          ha::instance_view v;
          v.leaf = views.copies[i].leaf;
          v.role = views.copies[i].role;
          v.in_sync = views.copies[i].in_sync;
          v.leaf_online = views.copies[i].state == ha::copy_state::serving;
          others.push_back(v);
        }
        auto rule = ha::classify_recovered(addr, st.meta.followed_by(*leaf),
                                           others);
        if (rule == ha::recovery_rule::replica) {
          // (b) the pair holds the master: become its replica.
          mine->set_role(pb::REPLICA);
          record_sync(*mine, false);
          add(pb::REPLICA, part.term(), master->leaf(), true);
          tell_master();
          ++plan.replicas;
          start_job(st, now, job_action::attach, db.name(), part.ordinal(),
                    addr);
          continue;
        }
        // (c) the partition moved to leaves that are not this one's pair.
        mine->set_role(pb::ORPHAN);
        record_sync(*mine, false);
        add(pb::ORPHAN, part.term(), "", false);
        ++plan.orphans;
        // Its master may still count this copy as its replica.
        auto peer = peer_of(part, *master);
        plan.orders.push_back(make_order(master->leaf(), db.name(),
                                         part.ordinal(), pb::MASTER,
                                         part.term(), peer.leaf,
                                         peer.in_sync));
        LG_PROBE(orphan_found, "a recovered copy became an orphan");
        continue;
      }
      if (choice.kind == ha::master_choice::choose
          && static_cast<int>(choice.index) != views.mine) {
        other_takes_over(false, views.copies[choice.index].position_known
                                  ? "ends before it"
                                  : "came back from a restart, while it "
                                    "never went down");
        continue;
      }
      if (choice.kind == ha::master_choice::choose) {
        // (a) no master serves: this copy, which holds every acknowledged
        // write, is reintroduced.
        bool was_master = mine->role() == pb::MASTER;
        auto term = choice.new_term ? part.term() + 1 : part.term();
        for (auto& inst : *part.mutable_instances())
          if (inst.role() == pb::MASTER && &inst != mine) {
            inst.set_role(pb::REPLICA);
            record_sync(inst, false);
          }
        mine->set_role(pb::MASTER);
        mine->set_missing(false);
        part.set_term(term);
        part.set_offline(false);
        part.clear_offline_reason();
        auto peer = peer_of(part, *mine);
        add(pb::MASTER, term, peer.leaf, peer.in_sync);
        if (!peer.leaf.empty() && serving_leaf(st, peer.leaf)) {
          // Its replica's leaf is already back: point it at this master
          // (re-creating the copy if that leaf came back without it). A
          // leaf about to be attached gets its role from its own attach.
          auto o = make_order(peer.leaf, db.name(), part.ordinal(),
                              pb::REPLICA, term, addr, true);
          for (auto& other : *part.mutable_instances())
            if (other.leaf() == peer.leaf && other.missing()) {
              o.create = true;
              o.sync_durability = db.sync_durability();
              other.set_missing(false);
            }
          plan.orders.push_back(o);
          if (o.create) {
            ++plan.rebuilt;
            start_job(st, now, job_action::rebuild, db.name(), part.ordinal(),
                      peer.leaf)
              .details = "the copy on " + peer.leaf + " could not be used";
          } else if (!peer.in_sync) {
            start_job(st, now, job_action::attach, db.name(), part.ordinal(),
                      peer.leaf);
          }
        }
        ++plan.reintroduced;
        if (was_master)
          LG_PROBE(partition_reintroduced,
                   "an offline partition came back with its leaf");
        else
          LG_PROBE(replica_reintroduced_as_master,
                   "an in-sync copy came back while its master's leaf is "
                   "down");
        logger("ma")->warn("PartitionReintroduced {} {} on {} as master, term "
                           "{} ({})",
                           st.ctx(), label, addr, term,
                           choice.reason.empty() ? "position not reported"
                                                 : choice.reason);
        continue;
      }
      auto* recorded = master_of(part);
      part.set_offline(true);
      if (recorded != nullptr && recorded != mine)
        part.set_offline_reason(
          "partition " + label + " is offline: the copy on leaf " + addr
          + " may lack acknowledged writes, which leaf " + recorded->leaf()
          + " holds; bring that leaf back");
      else
        part.set_offline_reason("partition " + label + " is offline: "
                                + choice.reason);
      plan.offline.push_back(label);
    }
  }
  return plan;
}

/// Logs what recovery dropped from each copy a leaf reported.
void log_recovery_drops(const master_aggregator_state& st,
                        const std::string& addr,
                        const pb::LeafHelloRequest& hello) {
  for (auto& inst : hello.instances()) {
    const auto& r = inst.recovery();
    auto label = partition_label(inst.database(), inst.ordinal());
    if (!r.corrupt_file().empty())
      logger("ma")->error("CopyCorrupt {} {} on {}: corrupt at offset {} of "
                          "{} ({}); its good records end at term {}, lsn {}",
                          st.ctx(), label, addr, r.corrupt_offset(),
                          r.corrupt_file(), r.detail(),
                          inst.position().term(), inst.position().lsn());
    else if (r.torn_bytes_cut() > 0)
      logger("ma")->warn("CopyTailCut {} {} on {}: {} bytes of a torn last "
                         "record cut from {}; it ends at term {}, lsn {}",
                         st.ctx(), label, addr, r.torn_bytes_cut(),
                         r.torn_file(), inst.position().term(),
                         inst.position().lsn());
  }
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
  {
    auto& rt = st.runtime[addr];
    rt.awaiting_attach = false;
    rt.restarting = false;
    rt.attach_wait_until.reset();
    auto& queue = st.attach_queue;
    queue.erase(std::remove(queue.begin(), queue.end(), addr), queue.end());
  }
  set_state(*leaf, leaf_state::attaching);
  logger("ma")->info("LeafAttaching {} {}", st.ctx(), addr);
  auto plan = std::make_shared<attach_plan>(plan_attach(self, addr));
  auto incarnation = leaf->incarnation();
  persist_then(self, [self, addr, plan, done, incarnation] {
    auto cd = std::make_shared<countdown>();
    cd->remaining = plan->orders.size() + 1;
    cd->done = [self, addr, plan, done,
                incarnation](std::vector<std::string> errors) {
      auto& st = self->state;
      auto* leaf = st.meta.find_leaf(addr);
      // The hello's list of copies is used up: from now on the metadata
      // says what the leaf holds, until it says hello again (unless it
      // already did: it restarted meanwhile).
      if (leaf != nullptr && leaf->incarnation() == incarnation) {
        st.runtime[addr].hello_seen = false;
        st.runtime[addr].hello_instances.clear();
      }
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
    send_orders(self, plan->orders,
                [cd](const std::string& err) { cd->finish_one(err); });
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
  if (hello.recovering() && rt.reported_incarnation == hello.incarnation()
      && leaf->incarnation() == hello.incarnation()
      && hello.incarnation() != 0) {
    // A late copy of the notice this process sent before its replay: it
    // has since said what its disk holds (a process sends that notice
    // once, at its start), whatever state it is in now.
    LG_PROBE(stale_hello_ignored, "a late copy of a leaf's first hello was "
                                  "ignored");
    return;
  }
  if (hello.incarnation() > 1 && hello.incarnation() < leaf->incarnation()) {
    // From a process that has been replaced since (a message held back
    // that long). Incarnation 1 is let through: a leaf whose disk was
    // wiped starts counting again.
    LG_PROBE(stale_hello_ignored, "a late copy of a leaf's first hello was "
                                  "ignored");
    logger("ma")->warn("LeafHelloStale {} {} incarnation={}: incarnation {} "
                       "is newer; ignored",
                       st.ctx(), addr, hello.incarnation(),
                       leaf->incarnation());
    return;
  }
  rt.last_reply = self->clock().now();
  monitor_leaf(self, addr);
  rt.unconfirmed = false;
  if (hello.recovering()) {
    if (state_of(*leaf) == leaf_state::offline) {
      set_state(*leaf, leaf_state::recovering);
      leaf->set_incarnation(hello.incarnation());
      persist(self);
    }
    // Its copies are not served until it says what its disk holds; what
    // an earlier hello said is out of date.
    rt.restarting = true;
    rt.awaiting_attach = false;
    rt.hello_seen = false;
    rt.hello_instances.clear();
    rt.attach_wait_until.reset();
    auto& queue = st.attach_queue;
    queue.erase(std::remove(queue.begin(), queue.end(), addr), queue.end());
    logger("ma")->info("LeafRecovering {} {} incarnation={}", st.ctx(), addr,
                       hello.incarnation());
    return;
  }
  if (state_of(*leaf) == leaf_state::online
      && leaf->incarnation() == hello.incarnation()
      && hello.incarnation() != 0) {
    // The same process, announcing itself late: nothing has changed.
    logger("ma")->info("LeafHelloRepeated {} {} incarnation={}: already "
                       "online",
                       st.ctx(), addr, hello.incarnation());
    return;
  }
  // The same report again (the leaf heard a rejoin request, or its answer
  // was lost) while its attach waits: the wait goes on as it was, or it
  // would never end.
  bool repeated = rt.awaiting_attach && rt.hello_seen
                  && rt.reported_incarnation == hello.incarnation()
                  && std::find(st.attach_queue.begin(), st.attach_queue.end(),
                               hello.leaf())
                       != st.attach_queue.end();
  if (repeated) {
    resume_attaches(self);
    return;
  }
  leaf->set_incarnation(hello.incarnation());
  rt.restarting = false;
  rt.hello_seen = true;
  rt.hello_at = self->clock().now();
  rt.reported_incarnation = hello.incarnation();
  rt.hello_instances.assign(hello.instances().begin(),
                            hello.instances().end());
  auto state = state_of(*leaf);
  logger("ma")->info("LeafBack {} {} incarnation={} ({} instances), was {}",
                     st.ctx(), addr, hello.incarnation(),
                     hello.instances_size(), to_string(state));
  log_recovery_drops(st, addr, hello);
  if (state == leaf_state::detached
      || ((state == leaf_state::offline || state == leaf_state::recovering)
          && !st.meta.globals().auto_attach())) {
    set_state(*leaf, leaf_state::detached);
    persist(self);
    logger("ma")->warn("LeafDetached {} {}: auto_attach is OFF or the leaf "
                       "was detached; run ATTACH LEAF",
                       st.ctx(), addr);
    // Attaches waiting for its report go on without it.
    resume_attaches(self);
    return;
  }
  rt.awaiting_attach = true;
  auto awaited = awaited_report(st, addr);
  if (!awaited.empty()) {
    // Step 3 compares the copies of a partition: wait for the other copy's
    // report rather than decide from the last recorded roles.
    rt.attach_wait_until = self->clock().now() + attach_report_wait;
    st.attach_queue.push_back(addr);
    arm_timer(self, attach_report_wait, timer_id::attach_wait);
    LG_PROBE(attach_waited_for_report, "an attach waited for a report");
    logger("ma")->info("LeafAttachWaits {} {}: for the copies of {} (at most "
                       "{} ms)",
                       st.ctx(), addr, awaited,
                       std::chrono::duration_cast<std::chrono::milliseconds>(
                         attach_report_wait)
                         .count());
    resume_attaches(self);
    return;
  }
  // Those that waited for this report go first: they decide with it.
  resume_attaches(self);
  if (rt.awaiting_attach)
    attach_leaf(self, addr, /*force=*/true, after_auto_attach(self, addr));
}

void resume_attaches(ma_self self) {
  auto& st = self->state;
  auto now = self->clock().now();
  // Attaching one leaf changes what the next one waits for: go over the
  // queue again until nothing moves.
  for (bool moved = true; moved;) {
    moved = false;
    for (auto& addr : st.attach_queue) {
      auto& rt = st.runtime[addr];
      auto* leaf = st.meta.find_leaf(addr);
      // A leaf that failed again no longer awaits its attach; one held
      // offline whose network healed does, in state offline.
      bool gone = leaf == nullptr || !rt.awaiting_attach
                  || state_of(*leaf) == leaf_state::detached
                  || (bugs::forget_rejoining_attach
                      && state_of(*leaf) == leaf_state::offline);
      bool timed_out = rt.attach_wait_until && now >= *rt.attach_wait_until;
      if (!gone && !timed_out && !awaited_report(st, addr).empty())
        continue;
      auto next = addr;
      auto& queue = st.attach_queue;
      queue.erase(std::remove(queue.begin(), queue.end(), next), queue.end());
      if (!gone) {
        if (timed_out) {
          LG_PROBE(attach_wait_timed_out,
                   "a leaf's attach stopped waiting for its pair's report");
          logger("ma")->warn("LeafAttachWaitOver {} {}: deciding without the "
                             "report it waited for",
                             st.ctx(), next);
        }
        attach_leaf(self, next, /*force=*/true,
                    after_auto_attach(self, next));
      }
      moved = true;
      break;
    }
  }
}

} // namespace lg
