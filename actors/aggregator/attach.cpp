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
//   4. DETACH LEAF fails the leaf's masters over to its pair (as a failure
//      would, but on purpose) and tells its instances to stop serving.
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
#include <cinttypes>
#include <cstdio>
#include <set>

#include "actors/leaf/leaf.hpp"
#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "ha/recovery.hpp"

namespace lg {

namespace {

constexpr size_t max_jobs = 4096;
constexpr auto instance_op_timeout = std::chrono::seconds{10};
constexpr auto status_timeout = std::chrono::seconds{1};

using attach_done = std::function<void(const std::string& error,
                                       const std::string& summary)>;

bool leaf_up(master_aggregator_state& st, const std::string& addr) {
  auto* leaf = find_leaf(st, addr);
  return leaf != nullptr
         && (leaf->state() == "online" || leaf->state() == "attaching");
}

/// One message the attach sends once the metadata is durable.
struct order {
  std::string leaf;
  std::string db;
  uint32_t ordinal = 0;
  pb::Role role = pb::ROLE_NONE;
  uint64_t term = 0;
  std::string peer;
  bool peer_in_sync = false;
  bool create = false; ///< a new replica, rebuilt from the master
  bool sync_durability = false;
};

order make_order(const std::string& leaf, const std::string& db,
                 uint32_t ordinal, pb::Role role, uint64_t term,
                 const std::string& peer, bool peer_in_sync) {
  order o;
  o.leaf = leaf;
  o.db = db;
  o.ordinal = ordinal;
  o.role = role;
  o.term = term;
  o.peer = peer;
  o.peer_in_sync = peer_in_sync;
  return o;
}

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
    auto* db = find_database(st, inst.database());
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
  auto* leaf = find_leaf(st, addr);
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
        v.leaf_online = leaf_up(st, inst.leaf());
        others.push_back(v);
      }
      auto d = disk.find(label);
      bool on_disk = rt.hello_seen ? d != disk.end() : mine != nullptr;
      bool corrupt = on_disk && d != disk.end() && failed_copy(d->second);
      auto master = master_of(part);
      bool master_elsewhere = master != nullptr && master->leaf() != addr
                              && leaf_up(st, master->leaf());
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
          auto& job = start_job(st, now, "rebuild", db.name(), part.ordinal(),
                                addr);
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
        if (!peer.leaf.empty() && leaf_up(st, peer.leaf)) {
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
            start_job(st, now, "attach", db.name(), part.ordinal(),
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
        start_job(st, now, "attach", db.name(), part.ordinal(), addr);
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

void send_order_once(ma_self self, const order& o,
                     std::function<void(const std::string&)> done);

/// An order lost on the way (no answer) is sent again, a few times: an
/// instance left without its role would never serve or catch up.
void send_order(ma_self self, const order& o,
                std::function<void(const std::string&)> done,
                int attempts = 4) {
  send_order_once(self, o, [self, o, done, attempts](const std::string& err) {
    if (!err.empty() && err.rfind("no answer", 0) == 0 && attempts > 1
        && leaf_up(self->state, o.leaf)) {
      LG_PROBE(order_resent, "a role order got no answer and was resent");
      send_order(self, o, done, attempts - 1);
      return;
    }
    done(err);
  });
}

void send_order_once(ma_self self, const order& o,
                     std::function<void(const std::string&)> done) {
  auto& st = self->state;
  if (!o.create) {
    set_role(self, o.leaf, o.db, o.ordinal, o.role, o.term, o.peer,
             o.peer_in_sync, [done, o](const envelope* rep) {
               if (rep == nullptr)
                 done("no answer from " + o.leaf + " for "
                      + partition_label(o.db, o.ordinal));
               else if (rep->set_role_reply().status() != pb::STATUS_OK)
                 done(rep->set_role_reply().error());
               else
                 done({});
             });
    return;
  }
  auto env = make_envelope(partition_label(o.db, o.ordinal), o.term);
  auto* body = env->mutable_create_instance_request();
  body->set_database(o.db);
  body->set_ordinal(o.ordinal);
  body->set_sync_durability(o.sync_durability);
  body->set_role(o.role);
  body->set_term(o.term);
  body->set_peer(o.peer);
  body->set_rebuild(true);
  body->set_sync_replication_timeout_ms(
    global_int(st, "sync_replication_timeout_ms"));
  st.ep.request(self, o.leaf, leaf_actor_name(), std::move(env),
                instance_op_timeout, [done, o](const envelope* rep) {
                  if (rep == nullptr)
                    done("no answer from " + o.leaf);
                  else if (rep->create_instance_reply().status()
                           != pb::STATUS_OK)
                    done(rep->create_instance_reply().error());
                  else
                    done({});
                });
}

/// Attaches `addr` (steps 2 and 3); `done` gets an error or a summary.
void attach_leaf(ma_self self, const std::string& addr, bool force,
                 attach_done done) {
  auto& st = self->state;
  auto* leaf = find_leaf(st, addr);
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
  leaf->set_state("attaching");
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
      auto* leaf = find_leaf(st, addr);
      if (leaf != nullptr && leaf->state() == "attaching") {
        leaf->set_state("online");
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

std::string hex64(uint64_t x) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, x);
  return buf;
}

} // namespace

rebuild_job& start_job(master_aggregator_state& st, time_point now,
                       const std::string& action, const std::string& db,
                       uint32_t ordinal, const std::string& leaf) {
  end_jobs(st, now, leaf, "superseded", {}, db, ordinal);
  if (st.jobs.size() >= max_jobs)
    st.jobs.erase(st.jobs.begin());
  rebuild_job job;
  job.action = action;
  job.db = db;
  job.ordinal = ordinal;
  job.leaf = leaf;
  job.started = now;
  st.jobs.push_back(std::move(job));
  return st.jobs.back();
}

void end_jobs(master_aggregator_state& st, time_point now,
              const std::string& leaf, const std::string& status,
              const std::string& details, const std::string& db,
              int64_t ordinal) {
  for (auto& job : st.jobs) {
    if (job.status != "running" || job.leaf != leaf)
      continue;
    if (!db.empty()
        && (job.db != db || static_cast<int64_t>(job.ordinal) != ordinal))
      continue;
    job.status = status;
    job.finished = now;
    if (!details.empty())
      job.details += (job.details.empty() ? "" : "; ") + details;
    if (status != "failed")
      continue;
    auto key = partition_label(job.db, job.ordinal) + "@" + job.leaf;
    if (auto i = st.sync_waiters.find(key); i != st.sync_waiters.end()) {
      auto waiters = std::move(i->second);
      st.sync_waiters.erase(i);
      for (auto& w : waiters)
        w("the copy of " + partition_label(job.db, job.ordinal) + " on "
          + job.leaf + " failed: " + details);
    }
  }
}

void on_leaf_hello(ma_self self, const envelope_ptr& req) {
  auto& st = self->state;
  const auto& hello = req->leaf_hello_request();
  auto rep = make_envelope();
  auto* body = rep->mutable_leaf_hello_reply();
  auto leaf = find_leaf(st, hello.leaf());
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
    if (leaf->state() == "offline") {
      leaf->set_state("recovering");
      leaf->set_incarnation(hello.incarnation());
      persist(self);
    }
    logger("ma")->info("LeafRecovering {} {} incarnation={}", st.ctx(), addr,
                       hello.incarnation());
    return;
  }
  if (leaf->state() == "online" && leaf->incarnation() == hello.incarnation()
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
  auto state = leaf->state();
  logger("ma")->info("LeafBack {} {} incarnation={} ({} instances), was {}",
                     st.ctx(), addr, hello.incarnation(),
                     hello.instances_size(), state);
  if (state == "detached"
      || ((state == "offline" || state == "recovering")
          && !global_bool(st, "auto_attach"))) {
    leaf->set_state("detached");
    persist(self);
    logger("ma")->warn("LeafDetached {} {}: auto_attach is OFF or the leaf "
                       "was detached; run ATTACH LEAF",
                       st.ctx(), addr);
    return;
  }
  attach_leaf(self, addr, /*force=*/true,
              [](const std::string&, const std::string&) {});
}

void switch_master(ma_self self, const std::string& db_name,
                   uint32_t ordinal, const std::string& to,
                   std::function<void(const std::string& error)> done) {
  auto& st = self->state;
  auto label = partition_label(db_name, ordinal);
  auto* db = find_database(st, db_name);
  if (db == nullptr || ordinal >= static_cast<uint32_t>(db->parts_size())) {
    done("unknown partition " + label);
    return;
  }
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  auto* master = master_of(part);
  pb::InstanceMeta* target = nullptr;
  for (auto& inst : *part.mutable_instances())
    if (inst.leaf() == to && inst.role() == pb::REPLICA)
      target = &inst;
  if (master == nullptr || target == nullptr || !target->in_sync()
      || !leaf_up(st, to) || !leaf_up(st, master->leaf())
      || st.switching.count(label) > 0) {
    done("partition " + label + " has no in-sync replica on " + to
         + " to hand its master over to");
    return;
  }
  st.switching.insert(label);
  auto from = master->leaf();
  auto term = part.term();
  auto& job = start_job(st, self->clock().now(), "switch master", db_name,
                        ordinal, to);
  job.details = "from " + from;
  auto env = make_envelope(label, term);
  auto* body = env->mutable_step_down_request();
  body->set_term(term);
  body->set_timeout_ms(global_int(st, "sync_replication_timeout_ms"));
  auto wait = std::chrono::milliseconds{body->timeout_ms() + 1000};
  st.ep.request(
    self, from, partition_actor_name(db_name, ordinal), std::move(env), wait,
    [self, db_name, ordinal, label, from, to, term, done](const envelope* rep) {
      auto& st = self->state;
      st.switching.erase(label);
      auto now = self->clock().now();
      auto fail = [&](const std::string& why) {
        end_jobs(st, now, to, "failed", why, db_name, ordinal);
        // The master may have stepped down and its answer been lost: it
        // would then stay out of service for good. Unless the partition has
        // moved on, tell it again that it is the master of this term.
        auto* db = find_database(st, db_name);
        auto* master = db == nullptr ? nullptr
                                     : master_of(*db->mutable_parts(
                                         static_cast<int>(ordinal)));
        if (master != nullptr && master->leaf() == from
            && db->parts(static_cast<int>(ordinal)).term() == term) {
          bool peer_in_sync = false;
          for (auto& inst : db->parts(static_cast<int>(ordinal)).instances())
            if (inst.leaf() == to && inst.role() == pb::REPLICA)
              peer_in_sync = inst.in_sync();
          send_order(self, make_order(from, db_name, ordinal, pb::MASTER, term,
                                      to, peer_in_sync),
                     [](const std::string&) {});
        }
        done(why);
      };
      if (rep == nullptr || rep->step_down_reply().status() != pb::STATUS_OK) {
        fail(rep ? rep->step_down_reply().error()
                 : "no answer from the master on " + from);
        return;
      }
      auto* db = find_database(st, db_name);
      auto& part = *db->mutable_parts(static_cast<int>(ordinal));
      auto* master = master_of(part);
      pb::InstanceMeta* target = nullptr;
      for (auto& inst : *part.mutable_instances())
        if (inst.leaf() == to && inst.role() == pb::REPLICA)
          target = &inst;
      if (part.term() != term || master == nullptr || master->leaf() != from
          || target == nullptr) {
        // Something else (a failover) changed the partition meanwhile.
        fail("partition " + label + " changed during the hand-over");
        return;
      }
      // The old master's log is a prefix of the replica's: it stays in sync.
      master->set_role(pb::REPLICA);
      master->set_in_sync(true);
      target->set_role(pb::MASTER);
      part.set_term(term + 1);
      end_jobs(st, now, to, "success", "master moved at term "
                                         + std::to_string(term + 1),
               db_name, ordinal);
      LG_PROBE(master_switched, "a master was handed over within its pair");
      logger("ma")->info("MasterSwitched {} {} from {} to {} term={}",
                         st.ctx(), label, from, to, term + 1);
      persist_then(self, [self, db_name, ordinal, from, to, term, done] {
        send_order(self, make_order(to, db_name, ordinal, pb::MASTER,
                                    term + 1, from, true),
                   [](const std::string&) {});
        send_order(self, make_order(from, db_name, ordinal, pb::REPLICA,
                                    term + 1, to, true),
                   [](const std::string&) {});
        done({});
      });
    });
}

/// How long balance_pair waits before it tries a failed hand-over again.
constexpr auto balance_retry_pause = std::chrono::milliseconds{200};

bool balance_pair(ma_self self, const std::string& addr) {
  auto& st = self->state;
  auto* leaf = find_leaf(st, addr);
  if (leaf == nullptr || leaf->pair().empty() || !leaf_up(st, addr)
      || !leaf_up(st, leaf->pair()))
    return true;
  auto pair = leaf->pair();
  int on_leaf = 0;
  int on_pair = 0;
  std::vector<std::pair<std::string, uint32_t>> movable;
  for (auto& db : st.meta.databases())
    for (auto& part : db.parts()) {
      const pb::InstanceMeta* master = nullptr;
      const pb::InstanceMeta* replica = nullptr;
      for (auto& inst : part.instances()) {
        if (inst.role() == pb::MASTER)
          master = &inst;
        else if (inst.role() == pb::REPLICA)
          replica = &inst;
      }
      if (master == nullptr || part.offline())
        continue;
      auto label = partition_label(db.name(), part.ordinal());
      if (master->leaf() == addr || (st.switching.count(label) > 0
                                     && master->leaf() == pair))
        ++on_leaf; // a switch in flight counts where it is going
      else if (master->leaf() == pair) {
        ++on_pair;
        if (replica != nullptr && replica->leaf() == addr
            && replica->in_sync())
          movable.emplace_back(db.name(), part.ordinal());
      }
    }
  for (auto& [db, ordinal] : movable) {
    if (on_pair - on_leaf < 2)
      break;
    --on_pair;
    ++on_leaf;
    switch_master(self, db, ordinal, addr, [self, addr](const std::string& e) {
      if (e.empty())
        return;
      // The master refused or timed out (a write burst, an order on the
      // way): balance again a little later, unless the leaf left.
      auto& st = self->state;
      if (find_leaf(st, addr) == nullptr)
        return;
      st.balance_pending.insert(addr);
      if (!st.balance_retry_armed) {
        st.balance_retry_armed = true;
        self->delayed_send(self, balance_retry_pause, timer_atom::value,
                           balance_retry_timer);
      }
    });
  }
  return on_pair - on_leaf < 2;
}

void retry_balance(ma_self self) {
  auto& st = self->state;
  st.balance_retry_armed = false;
  auto pending = st.balance_pending;
  for (auto& leaf : pending)
    if (balance_pair(self, leaf))
      st.balance_pending.erase(leaf);
}

void on_replica_in_sync(ma_self self, const std::string& db,
                        uint32_t ordinal, const std::string& leaf) {
  auto& st = self->state;
  auto key = partition_label(db, ordinal) + "@" + leaf;
  if (auto i = st.sync_waiters.find(key); i != st.sync_waiters.end()) {
    auto waiters = std::move(i->second);
    st.sync_waiters.erase(i);
    for (auto& w : waiters)
      w({});
  }
  if (st.balance_pending.count(leaf) == 0)
    return;
  if (balance_pair(self, leaf))
    st.balance_pending.erase(leaf);
}

void on_rebuild_progress(ma_self self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& p = env->rebuild_progress();
  const auto& label = env->header().partition();
  for (auto& job : st.jobs) {
    if (job.status != "running" || job.leaf != p.replica()
        || partition_label(job.db, job.ordinal) != label)
      continue;
    if (job.action == "attach")
      job.action = "rebuild";
    job.bytes_done = p.bytes_done();
    job.bytes_total = p.bytes_total();
    if (p.diverged() && !job.diverged) {
      job.diverged = true;
      job.details += (job.details.empty() ? "" : "; ")
                     + std::string{"diverged: "} + p.reason();
    }
    if (p.failed()) {
      // The replica joins again and the master starts over: the job goes
      // on; it fails only with a leaf.
      job.details += (job.details.empty() ? "" : "; ")
                     + ("an attempt failed (" + p.error() + ")");
    } else if (p.finished() && job.diverged) {
      job.diverged = false; // the new copy no longer diverges
    }
  }
}

/// The leaf at `addr`, or nullptr after answering `req` with the error: it
/// is not in the cluster, or (with `state`) not in that state, which `verb`
/// ("attached", "detached") needs.
pb::LeafMeta* leaf_for(ma_self self, const envelope& req,
                       const std::string& addr, const char* state,
                       const char* verb) {
  auto* leaf = find_leaf(self->state, addr);
  if (leaf == nullptr) {
    reply_result(self, req, make_failure(sql::errc::unknown_leaf,
                                         "leaf " + addr
                                           + " is not in the cluster"));
    return nullptr;
  }
  if (state != nullptr && leaf->state() != state) {
    reply_result(self, req,
                 make_failure(sql::errc::conflict,
                              "leaf " + addr + " is " + leaf->state()
                                + ", not " + state + "; only "
                                + (state[0] == 'o' ? "an " : "a ") + state
                                + " leaf can be " + verb));
    return nullptr;
  }
  return leaf;
}

void exec_attach_leaf(ma_self self, envelope_ptr req,
                      const sql::attach_leaf& s) {
  auto& st = self->state;
  std::vector<std::string> targets;
  if (s.leaf) {
    auto addr = s.leaf->to_string();
    if (leaf_for(self, *req, addr, "detached", "attached") == nullptr)
      return;
    targets.push_back(addr);
  } else {
    for (auto& l : st.meta.leaves())
      if (l.state() == "detached")
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
                      && global_int(self->state, "redundancy_level") == 2) {
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
  if (leaf_for(self, *req, addr, "online", "detached") == nullptr)
    return;
  // A master whose replica is out of sync would go offline: refuse.
  std::string stuck;
  for (auto& db : st.meta.databases())
    for (auto& part : db.parts())
      for (auto& inst : part.instances()) {
        if (inst.leaf() != addr || inst.role() != pb::MASTER)
          continue;
        auto peer = peer_of(part, inst);
        if (!peer.leaf.empty() && (!peer.in_sync || !leaf_up(st, peer.leaf)))
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



/// Forgets the copy of db:ordinal on `addr`: its partition goes on with the
/// other copies (its master no longer replicates to it). The files stay on
/// the leaf's disk.
void forget_instance(ma_self self, const std::string& db_name,
                     uint32_t ordinal, const std::string& addr) {
  auto& st = self->state;
  auto* db = find_database(st, db_name);
  if (db == nullptr)
    return;
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  auto* insts = part.mutable_instances();
  insts->erase(std::remove_if(insts->begin(), insts->end(),
                              [&](const pb::InstanceMeta& m) {
                                return m.leaf() == addr;
                              }),
               insts->end());
  auto label = partition_label(db_name, ordinal);
  auto* master = master_of(part);
  if (part.instances_size() == 0 || master == nullptr) {
    part.set_offline(true);
    part.set_offline_reason("partition " + label + " is offline: its copy "
                            "stays on the disk of removed leaf " + addr);
  }
  std::string master_leaf = master ? master->leaf() : std::string{};
  auto peer = master ? peer_of(part, *master) : instance_peer{};
  auto term = part.term();
  bool up = leaf_up(st, addr);
  persist_then(self, [self, db_name, ordinal, addr, master_leaf, peer, term,
                      up] {
    if (!master_leaf.empty())
      set_role(self, master_leaf, db_name, ordinal, pb::MASTER, term,
               peer.leaf, peer.in_sync, [](const envelope*) {});
    if (up)
      set_role(self, addr, db_name, ordinal, pb::ROLE_NONE, term, "", false,
               [](const envelope*) {});
  });
}

/// Creates a copy of db:ordinal on `to`, rebuilt from its master; calls
/// `done` once it is in sync (or with an error).
void set_aside(ma_self self, const std::string& db_name, uint32_t ordinal,
               const std::string& leaf) {
  auto& st = self->state;
  auto* db = find_database(st, db_name);
  if (db == nullptr)
    return;
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  bool found = false;
  for (auto& inst : *part.mutable_instances())
    if (inst.leaf() == leaf && inst.role() != pb::MASTER) {
      inst.set_role(pb::ORPHAN);
      inst.set_in_sync(false);
      found = true;
    }
  if (!found || !leaf_up(st, leaf))
    return;
  auto o = make_order(leaf, db_name, ordinal, pb::ORPHAN, part.term(), "",
                      false);
  persist_then(self,
               [self, o] { send_order(self, o, [](const std::string&) {}); });
}

void copy_instance(ma_self self, const std::string& db_name, uint32_t ordinal,
                   const std::string& to,
                   std::function<void(const std::string&)> done) {
  auto& st = self->state;
  auto* db = find_database(st, db_name);
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  auto* master = master_of(part);
  auto label = partition_label(db_name, ordinal);
  if (master == nullptr || !leaf_up(st, master->leaf())) {
    done("partition " + label + " has no online master to copy from");
    return;
  }
  for (auto& other : part.instances())
    if (other.role() == pb::REPLICA && other.leaf() != to
        && !other.missing()) {
      // A master feeds one replica at a time: a second copy would silently
      // stop the first one's stream while the metadata still counted it.
      done("partition " + label + " already has a replica on "
           + other.leaf() + "; a master feeds one replica at a time");
      return;
    }
  // An old copy already there (an orphan) is reused: it joins the master,
  // which catches it up or rebuilds it.
  pb::InstanceMeta* inst = nullptr;
  for (auto& i : *part.mutable_instances())
    if (i.leaf() == to)
      inst = &i;
  bool reuse = inst != nullptr && !inst->missing();
  if (inst == nullptr)
    inst = part.add_instances();
  inst->set_leaf(to);
  inst->set_role(pb::REPLICA);
  inst->set_in_sync(false);
  inst->set_missing(false);
  auto& job = start_job(st, self->clock().now(), "copy", db_name, ordinal, to);
  job.details = "from " + master->leaf();
  st.sync_waiters[label + "@" + to].push_back(std::move(done));
  auto create = make_order(to, db_name, ordinal, pb::REPLICA, part.term(),
                           master->leaf(), true);
  create.create = !reuse;
  create.sync_durability = db->sync_durability();
  auto tell = make_order(master->leaf(), db_name, ordinal, pb::MASTER,
                         part.term(), to, false);
  persist_then(self, [self, create, tell] {
    send_order(self, tell, [](const std::string&) {});
    send_order(self, create, [](const std::string&) {});
  });
}


void exec_remove_leaf(ma_self self, envelope_ptr req,
                      const sql::remove_leaf& s) {
  auto& st = self->state;
  auto addr = s.leaf.to_string();
  auto* leaf = leaf_for(self, *req, addr, nullptr, "removed");
  if (leaf == nullptr)
    return;
  bool up = leaf->state() == "online";
  if (!up && !s.force) {
    reply_result(self, *req,
                 make_failure(sql::errc::conflict,
                              "leaf " + addr + " is " + leaf->state()
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
    if (l.address() != addr && l.state() == "online")
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
        if (peer.in_sync && leaf_up(st, peer.leaf))
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
    auto* leaves = st.meta.mutable_leaves();
    std::string pair;
    for (auto i = leaves->begin(); i != leaves->end(); ++i)
      if (i->address() == addr) {
        pair = i->pair();
        leaves->erase(i);
        break;
      }
    if (auto* p = pair.empty() ? nullptr : find_leaf(st, pair))
      p->clear_pair();
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

void exec_check_partitions(ma_self self, envelope_ptr req,
                           const sql::check_partitions& s) {
  auto& st = self->state;
  auto* db = find_database(st, s.database);
  if (db == nullptr) {
    reply_result(self, *req, make_failure(sql::errc::unknown_database,
                                          "unknown database '" + s.database
                                            + "'"));
    return;
  }
  struct item {
    uint32_t ordinal;
    pb::InstanceMeta inst;
    bool part_offline;
    bool up;
    bool got = false;
    pb::InstanceState state;
  };
  auto items = std::make_shared<std::vector<item>>();
  for (auto& part : db->parts())
    for (auto& inst : part.instances())
      items->push_back({part.ordinal(), inst, part.offline(),
                        leaf_up(st, inst.leaf()), false, {}});
  auto name = s.database;
  auto cd = std::make_shared<countdown>();
  cd->remaining = items->size() + 1;
  cd->done = [self, req, items, name](std::vector<std::string>) {
    auto& st = self->state;
    std::vector<std::vector<std::string>> rows;
    for (auto& it : *items) {
      auto hp = split_address(it.inst.leaf());
      std::string status;
      bool diverged = false;
      for (auto& job : st.jobs)
        if (job.status == "running" && job.db == name
            && job.ordinal == it.ordinal && job.leaf == it.inst.leaf()
            && job.diverged)
          diverged = true;
      if (!it.up || !it.got)
        status = "offline";
      else if (it.inst.role() == pb::ORPHAN)
        status = "orphan";
      else if (it.inst.role() == pb::MASTER)
        status = it.part_offline ? "offline" : "in_sync";
      else if (diverged)
        status = "diverged";
      else if (it.inst.in_sync())
        status = "in_sync";
      else
        status = "catching_up";
      std::string term = "NULL", position = "NULL", checksum = "NULL";
      if (it.got) {
        term = std::to_string(it.state.term());
        position = std::to_string(it.state.position().term()) + ":"
                   + std::to_string(it.state.position().lsn());
        checksum = hex64(it.state.checksum());
      }
      rows.push_back({std::to_string(it.ordinal), hp.first, hp.second,
                      role_text(it.inst.role()), term, position, checksum,
                      status});
    }
    reply_result(self, *req,
                 make_table({"Ordinal", "Host", "Port", "Role", "Term",
                             "Position", "Checksum", "Status"},
                            rows));
  };
  auto fanout = std::make_shared<paced_fanout>(status_timeout);
  for (size_t i = 0; i < items->size(); ++i) {
    auto& it = (*items)[i];
    if (!it.up) {
      cd->finish_one();
      continue;
    }
    auto env = make_envelope(partition_label(name, it.ordinal));
    env->mutable_instance_status_request();
    fanout->add(it.inst.leaf(), partition_actor_name(name, it.ordinal),
                std::move(env), [cd, items, i](const envelope* rep) {
                  if (rep != nullptr && rep->has_instance_status_reply()) {
                    (*items)[i].state = rep->instance_status_reply()
                                          .instance();
                    (*items)[i].got = true;
                  }
                  cd->finish_one();
                });
  }
  fanout->start(self);
  cd->finish_one();
}

void exec_show_rebalance_status(ma_self self, envelope_ptr req,
                                const sql::show_rebalance_status& s) {
  auto& st = self->state;
  if (find_database(st, s.database) == nullptr) {
    reply_result(self, *req, make_failure(sql::errc::unknown_database,
                                          "unknown database '" + s.database
                                            + "'"));
    return;
  }
  auto now = self->clock().now();
  std::vector<std::vector<std::string>> rows;
  for (auto& job : st.jobs) {
    if (job.db != s.database)
      continue;
    auto hp = split_address(job.leaf);
    auto end = job.status == "running" ? now : job.finished;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                end - job.started)
                .count();
    std::string progress = "NULL";
    if (job.bytes_total > 0) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%.1f%%",
                    100.0 * static_cast<double>(job.bytes_done)
                      / static_cast<double>(job.bytes_total));
      progress = buf;
    } else if (job.status == "success") {
      progress = "100.0%";
    }
    rows.push_back({job.action, std::to_string(job.ordinal), hp.first,
                    hp.second, job.status, std::to_string(job.bytes_done),
                    std::to_string(job.bytes_total), progress,
                    std::to_string(ms),
                    job.details.empty() ? "NULL" : job.details});
  }
  reply_result(self, *req,
               make_table({"Action", "Ordinal", "Host", "Port", "Status",
                           "Bytes_Copied", "Bytes_Total", "Progress",
                           "Running_Time_Ms", "Details"},
                          rows));
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
        if (inst.role() == pb::MASTER && leaf_up(st, inst.leaf())
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
    auto* db = find_database(st, v.db);
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
      auto env = make_envelope(partition_label(v.db, v.ordinal));
      auto* body = env->mutable_drop_instance_request();
      body->set_database(v.db);
      body->set_ordinal(v.ordinal);
      st.ep.request(self, v.leaf, leaf_actor_name(), std::move(env),
                    instance_op_timeout, [](const envelope*) {});
      logger("ma")->warn("OrphanDropped {} {} on {}", st.ctx(),
                         partition_label(v.db, v.ordinal), v.leaf);
    }
    reply_result(self, *req, table);
  });
}

} // namespace lg
