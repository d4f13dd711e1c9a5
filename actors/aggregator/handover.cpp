// Master hand-over and moves of copies, run by the master aggregator for
// ATTACH LEAF, REMOVE LEAF and REBALANCE.
//
//   1. switch_master sends StepDownRequest to the master (recovery.proto
//      step 3). Once it answers that its in-sync replica holds every entry,
//      the term is raised, the replica becomes master and the old master its
//      replica, in sync (its log is a prefix of the new master's). After a
//      refusal or a lost answer the master is told again that it is the
//      master of its term.
//   2. balance_pair moves masters from a leaf's pair back to the leaf, one
//      switch per partition whose replica there is in sync, until both hold
//      as many (within one). A failed switch is tried again after a pause
//      (retry_balance); a replica that reaches sync resumes the balancing
//      (on_replica_in_sync).
//   3. copy_instance creates a replica on a leaf, rebuilt from the master
//      (rebuild.proto); it is done once the master reports it in sync.
//   4. set_aside makes a copy an Orphan during a move: kept on disk, never
//      served, never promoted, no longer fed.
//   5. forget_instance removes a copy from the metadata; its master stops
//      feeding it and its files stay on its leaf.
//   6. After an automatic attach, balance_pair runs for the attached leaf
//      once attach_rebalance_delay_seconds has passed with no newer attach
//      or failure on its pair, and no REBALANCE or RESTORE REDUNDANCY
//      running (they do the balancing themselves). SHOW REBALANCE STATUS
//      shows the wait as a "rebalance after attach" job.
//
//   aggregator              master (from)           replica (to)
//       |--StepDown(t)---------->|                        |
//       |                        |--Replicate...--------->|
//       |<--StepDownReply(ok)----|                        |
//       |  term t -> t + 1                                |
//       |--SetRole(MASTER, t + 1)------------------------>|
//       |--SetRole(REPLICA, t+1)>|                        |
//
// SingleStore: ATTACH LEAF moves masters back to the attached leaf once its
// replicas are in sync (unless NO REBALANCE); a master moved within its pair
// loses no acknowledged write.
#include <algorithm>

#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"

namespace lg {

void switch_master(ma_self self, const std::string& db_name,
                   uint32_t ordinal, const std::string& to,
                   std::function<void(const std::string& error)> done) {
  auto& st = self->state;
  auto label = partition_label(db_name, ordinal);
  auto* found = st.meta.find_partition(db_name, ordinal);
  if (found == nullptr) {
    done("unknown partition " + label);
    return;
  }
  auto& part = *found;
  auto* master = master_of(part);
  auto* target = replica_on(part, to);
  if (master == nullptr || target == nullptr || !target->in_sync()
      || !st.meta.leaf_up(to) || !st.meta.leaf_up(master->leaf())
      || st.switching.count(label) > 0) {
    done("partition " + label + " has no in-sync replica on " + to
         + " to hand its master over to");
    return;
  }
  st.switching.insert(label);
  auto from = master->leaf();
  auto term = part.term();
  auto& job = start_job(st, self->clock().now(), job_action::switch_master,
                        db_name, ordinal, to);
  job.details = "from " + from;
  auto env = make_envelope(label, term);
  auto* body = env->mutable_step_down_request();
  body->set_term(term);
  body->set_timeout_ms(st.meta.globals().sync_replication_timeout_ms());
  auto wait = std::chrono::milliseconds{body->timeout_ms() + 1000};
  st.ep.request(
    self, from, partition_actor_name(db_name, ordinal), std::move(env), wait,
    [self, db_name, ordinal, label, from, to, term, done](const envelope* rep) {
      auto& st = self->state;
      st.switching.erase(label);
      auto now = self->clock().now();
      auto fail = [&](const std::string& why) {
        end_jobs(st, now, to, job_status::failed, why, db_name, ordinal);
        // The master may have stepped down and its answer been lost: it
        // would then stay out of service for good. Unless the partition has
        // moved on, tell it again that it is the master of this term.
        auto* part = st.meta.find_partition(db_name, ordinal);
        auto* master = part == nullptr ? nullptr : master_of(*part);
        if (master != nullptr && master->leaf() == from
            && part->term() == term) {
          auto* replica = replica_on(*part, to);
          bool peer_in_sync = replica != nullptr && replica->in_sync();
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
      auto* found = st.meta.find_partition(db_name, ordinal);
      auto* master = found == nullptr ? nullptr : master_of(*found);
      if (master == nullptr || found->term() != term
          || master->leaf() != from || replica_on(*found, to) == nullptr) {
        // Something else (a failover) changed the partition meanwhile.
        fail("partition " + label + " changed during the hand-over");
        return;
      }
      // The old master's log is a prefix of the replica's: it stays in sync.
      hand_over_master(*found, to);
      end_jobs(st, now, to, job_status::success,
               "master moved at term " + std::to_string(term + 1), db_name,
               ordinal);
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

namespace {

/// What balance_pair does when a switch fails: balance again a little
/// later, unless the leaf left.
std::function<void(const std::string&)> retry_later(ma_self self,
                                                    const std::string& addr) {
  return [self, addr](const std::string& e) {
    if (e.empty())
      return;
    auto& st = self->state;
    if (st.meta.find_leaf(addr) == nullptr)
      return;
    st.balance_pending.insert(addr);
    if (!st.balance_retry_armed) {
      st.balance_retry_armed = true;
      arm_timer(self, balance_retry_pause, timer_id::balance_retry);
    }
  };
}

/// leaf_failover_fanout = 'load_balanced': masters come back to `addr` from
/// the busiest leaves holding its in-sync replicas, while such a leaf holds
/// at least two more masters than `addr`.
bool balance_spread(ma_self self, const std::string& addr) {
  auto& st = self->state;
  std::map<std::string, int> masters;
  struct movable {
    std::string db;
    uint32_t ordinal;
    std::string from;
  };
  std::vector<movable> candidates;
  for (auto& db : st.meta.databases())
    for (auto& part : db.parts()) {
      auto* master = master_of(part);
      if (master == nullptr || part.offline())
        continue;
      auto label = partition_label(db.name(), part.ordinal());
      ++masters[master->leaf()];
      auto* replica = replica_on(part, addr);
      if (replica != nullptr && replica->in_sync()
          && st.switching.count(label) == 0 && st.meta.leaf_up(master->leaf()))
        candidates.push_back({db.name(), part.ordinal(), master->leaf()});
    }
  bool done = true;
  for (auto& c : candidates) {
    if (masters[c.from] - masters[addr] < 2)
      continue;
    --masters[c.from];
    ++masters[addr];
    switch_master(self, c.db, c.ordinal, addr, retry_later(self, addr));
  }
  for (auto& c : candidates)
    if (masters[c.from] - masters[addr] >= 2)
      done = false;
  return done;
}

} // namespace

bool balance_pair(ma_self self, const std::string& addr) {
  auto& st = self->state;
  if (st.meta.globals().load_balanced() && st.meta.leaf_up(addr))
    return balance_spread(self, addr);
  auto* leaf = st.meta.find_leaf(addr);
  if (leaf == nullptr || leaf->pair().empty() || !st.meta.leaf_up(addr)
      || !st.meta.leaf_up(leaf->pair()))
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
    // The master may refuse or time out (a write burst, an order on the
    // way): balanced again a little later.
    switch_master(self, db, ordinal, addr, retry_later(self, addr));
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

namespace {

/// The "rebalance after attach" jobs waiting for `addr`, ended as `status`.
void end_attach_rebalance_jobs(master_aggregator_state& st, time_point now,
                               const std::string& addr, job_status status,
                               const std::string& details) {
  for (auto& job : st.jobs)
    if (job.action == job_action::attach_rebalance && job.leaf == addr
        && job.status == job_status::running) {
      job.status = status;
      job.finished = now;
      job.details += "; " + details;
    }
}

/// Arms the attach-rebalance timer for the earliest due leaf.
void arm_attach_rebalance(ma_self self) {
  auto& st = self->state;
  if (st.attach_rebalance_due.empty())
    return;
  auto next = st.attach_rebalance_due.begin()->second;
  for (auto& [leaf, due] : st.attach_rebalance_due)
    next = std::min(next, due);
  auto now = self->clock().now();
  arm_timer(self, next > now ? next - now : caf::timespan{0},
            timer_id::attach_rebalance);
}

} // namespace

void schedule_attach_rebalance(ma_self self, const std::string& addr) {
  auto& st = self->state;
  auto* leaf = st.meta.find_leaf(addr);
  if (leaf == nullptr || st.meta.globals().redundancy_level() != 2
      || (leaf->pair().empty() && !st.meta.globals().load_balanced()))
    return;
  auto now = self->clock().now();
  auto delay = std::chrono::seconds{
    st.meta.globals().attach_rebalance_delay_seconds()};
  // A newer attach on the pair starts the wait again, for both leaves.
  for (auto& l : {addr, leaf->pair()})
    if (st.attach_rebalance_due.erase(l) > 0)
      end_attach_rebalance_jobs(st, now, l, job_status::superseded,
                                "a newer attach on the pair");
  st.attach_rebalance_due[addr] = now + delay;
  for (auto& db : st.meta.databases()) {
    rebuild_job job;
    job.action = job_action::attach_rebalance;
    job.db = db.name();
    job.leaf = addr;
    job.started = now;
    job.details = "masters move back from " + leaf->pair() + " after "
                  + std::to_string(delay.count())
                  + " s (attach_rebalance_delay_seconds)";
    st.jobs.push_back(std::move(job));
  }
  logger("ma")->info("AttachRebalanceScheduled {} {}: in {} s", st.ctx(),
                     addr, delay.count());
  arm_attach_rebalance(self);
}

attach_done after_auto_attach(ma_self self, const std::string& addr) {
  return [self, addr](const std::string&, const std::string&) {
    if (self->state.meta.leaf_online(addr))
      schedule_attach_rebalance(self, addr);
  };
}

void run_attach_rebalances(ma_self self) {
  auto& st = self->state;
  auto now = self->clock().now();
  bool rebalancing = false;
  for (auto& job : st.jobs)
    if ((job.action == job_action::rebalance
         || job.action == job_action::restore_redundancy)
        && job.status == job_status::running)
      rebalancing = true;
  auto due = st.attach_rebalance_due;
  for (auto& [addr, at] : due) {
    if (at > now)
      continue;
    if (rebalancing) {
      // Once the REBALANCE is over: it may leave nothing to do.
      st.attach_rebalance_due[addr] = now + std::chrono::seconds{1};
      continue;
    }
    st.attach_rebalance_due.erase(addr);
    end_attach_rebalance_jobs(st, now, addr, job_status::success,
                              "masters balanced within the pair");
    logger("ma")->info("AttachRebalanceStarted {} {}", st.ctx(), addr);
    st.balance_pending.insert(addr);
    if (balance_pair(self, addr))
      st.balance_pending.erase(addr);
  }
  arm_attach_rebalance(self);
}

void cancel_attach_rebalance(ma_self self, const std::string& addr,
                             const std::string& why) {
  auto& st = self->state;
  auto* leaf = st.meta.find_leaf(addr);
  auto now = self->clock().now();
  std::vector<std::string> pair{addr};
  if (leaf != nullptr && !leaf->pair().empty())
    pair.push_back(leaf->pair());
  for (auto& l : pair)
    if (st.attach_rebalance_due.erase(l) > 0) {
      end_attach_rebalance_jobs(st, now, l, job_status::failed, why);
      logger("ma")->info("AttachRebalanceCalledOff {} {}: {}", st.ctx(), l,
                         why);
    }
}

std::string sync_key(const std::string& db, uint32_t ordinal,
                     const std::string& leaf) {
  return partition_label(db, ordinal) + "@" + leaf;
}

void wake_sync_waiters(master_aggregator_state& st, const std::string& db,
                       uint32_t ordinal, const std::string& leaf,
                       const std::string& error) {
  auto i = st.sync_waiters.find(sync_key(db, ordinal, leaf));
  if (i == st.sync_waiters.end())
    return;
  auto waiters = std::move(i->second);
  st.sync_waiters.erase(i);
  for (auto& w : waiters)
    w(error);
}

void on_replica_in_sync(ma_self self, const std::string& db,
                        uint32_t ordinal, const std::string& leaf) {
  auto& st = self->state;
  wake_sync_waiters(st, db, ordinal, leaf, {});
  if (st.balance_pending.count(leaf) == 0)
    return;
  if (balance_pair(self, leaf))
    st.balance_pending.erase(leaf);
}

/// Forgets the copy of db:ordinal on `addr`: its partition goes on with the
/// other copies (its master no longer replicates to it). The files stay on
/// the leaf's disk.
void forget_instance(ma_self self, const std::string& db_name,
                     uint32_t ordinal, const std::string& addr) {
  auto& st = self->state;
  auto* db = st.meta.find_database(db_name);
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
  bool up = st.meta.leaf_up(addr);
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

/// Sets the copy of db:ordinal on `leaf` aside: an Orphan in the metadata
/// and, once that is durable, on its leaf.
void set_aside(ma_self self, const std::string& db_name, uint32_t ordinal,
               const std::string& leaf) {
  auto& st = self->state;
  auto* db = st.meta.find_database(db_name);
  if (db == nullptr)
    return;
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  bool found = false;
  for (auto& inst : *part.mutable_instances())
    if (inst.leaf() == leaf && inst.role() != pb::MASTER) {
      inst.set_role(pb::ORPHAN);
      record_sync(inst, false);
      found = true;
    }
  if (!found || !st.meta.leaf_up(leaf))
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
  auto* db = st.meta.find_database(db_name);
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  auto* master = master_of(part);
  auto label = partition_label(db_name, ordinal);
  if (master == nullptr || !st.meta.leaf_up(master->leaf())) {
    done("partition " + label + " has no online master to copy from");
    return;
  }
  for (auto& other : part.instances())
    if (other.role() == pb::REPLICA && other.leaf() != to
        && !other.missing() && !bugs::move_replica_in_place) {
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
  record_sync(*inst, false);
  inst->set_missing(false);
  auto& job = start_job(st, self->clock().now(), job_action::copy, db_name,
                        ordinal, to);
  job.details = "from " + master->leaf();
  st.sync_waiters[sync_key(db_name, ordinal, to)].push_back(std::move(done));
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

} // namespace lg
