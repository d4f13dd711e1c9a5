// Failure detection and failover, run by the master aggregator.
//
//   1. Every leaf_heartbeat_interval_ms: send HeartbeatRequest to every leaf
//      that is online; a reply records the round trip and the time.
//   2. A leaf with no reply for leaf_failure_timeout_ms, or whose actor or
//      node the aggregator sees die (down_msg), is declared offline, unless
//      leaf_failure_detection is OFF.
//   3. For every partition whose master was on that leaf, decide with
//      ha::choose_failover: promote the in-sync replica on the pair under
//      term + 1 (redundancy 2), or take the partition offline (redundancy 1,
//      or a replica that is out of sync). Metadata is persisted before any
//      promotion is sent, so a restarted aggregator never forgets a term.
//   4. Send each leaf holding chosen replicas one LeafOrdersRequest with
//      their promotions (failover_orders.cpp); the leaf promotes them and
//      answers once. Clients find the new masters in the next partition map
//      they fetch.
//   5. A master that stops hearing from its replica asks to drop it to async
//      (ReplicaSyncRequest); the aggregator records it out of sync before the
//      master acknowledges anything alone.
//
//   aggregator          leaf A (dead)         leaf B (pair)
//       |--Heartbeat------->X                     |
//       |   ... leaf_failure_timeout_ms ...       |
//       |  LeafOffline A; term 4 -> 5             |
//       |--LeafOrdersRequest[PromoteRequest(5)..]->|--> its instances
//       |<--LeafOrdersReply[PromoteReply..]--------|
//
// SingleStore ("Managing High Availability"): the master aggregator detects a
// failed leaf and promotes the replicas of its partitions on its pair; in
// redundancy 1 the partitions of a failed leaf are offline until it returns.
#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "actors/leaf/leaf.hpp"
#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"

namespace lg {

namespace {

/// The leaf `addr` answered a heartbeat sent at `sent`: the replica losses
/// and promotions held for it since then go ahead (recorded first).
void release_held_losses(ma_self self, const std::string& addr,
                         time_point sent);

/// Sends `addr` a heartbeat now; its answer records the leaf alive.
void send_heartbeat(ma_self self, const std::string& addr);

} // namespace

void leaf_failed(ma_self self, const std::string& addr,
                 const std::string& why, bool detach) {
  auto& st = self->state;
  auto leaf = st.meta.find_leaf(addr);
  if (leaf == nullptr)
    return;
  auto state = state_of(*leaf);
  bool up = state == leaf_state::online || state == leaf_state::attaching;
  if (!up && !(state == leaf_state::recovering && !detach))
    return;
  // Its copies will not be reported: attaches waiting for them go on
  // without them (resume_attaches, once the failover is decided).
  auto forget_report = [&] {
    auto& rt = st.runtime[addr];
    rt.restarting = false;
    rt.unconfirmed = false;
    rt.awaiting_attach = false;
  };
  if (!detach && !up) {
    // It died while replaying its storage: nothing was assigned to it yet.
    set_state(*leaf, leaf_state::offline);
    forget_report();
    persist(self);
    resume_attaches(self);
    return;
  }
  if (!detach && !st.meta.globals().leaf_failure_detection()) {
    LG_PROBE(failure_ignored, "a leaf failure seen with detection OFF");
    logger("ma")->warn("LeafFailureIgnored {} {} ({}): "
                       "leaf_failure_detection is OFF",
                       st.ctx(), addr, why);
    return;
  }
  set_state(*leaf, detach ? leaf_state::detached : leaf_state::offline);
  forget_report();
  cancel_attach_rebalance(self, addr,
                          "leaf " + addr + " went "
                            + to_string(state_of(*leaf)));
  if (detach)
    logger("ma")->warn("LeafDetached {} {}: {}", st.ctx(), addr, why);
  else
    logger("ma")->warn("LeafOffline {} {}: {}", st.ctx(), addr, why);
  uint64_t record = detach ? 0 : open_failover(self, addr, why);
  auto now = self->clock().now();
  // Its masters never heard that their replicas went: those stay in sync;
  // its replicas were never promoted: their masters' copies stay in sync.
  st.runtime[addr].losses_held.clear();
  for (auto& h : st.runtime[addr].promotions_held)
    st.promotions_waiting.erase(partition_label(h.db, h.ordinal));
  st.runtime[addr].promotions_held.clear();
  std::set<std::string> to_probe; // leaves whose holds a heartbeat ends
  end_jobs(st, now, addr, job_status::failed,
           "leaf " + addr + " went " + to_string(state_of(*leaf)));
  std::vector<promotion> promotions;
  std::vector<promotion> replica_lost; // masters whose replica was on addr
  for (auto& db : *st.meta.mutable_databases()) {
    for (auto& part : *db.mutable_parts()) {
      auto master = master_of(part);
      auto* master_leaf = master ? st.meta.find_leaf(master->leaf())
                                 : nullptr;
      bool master_up = master_leaf != nullptr
                       && (state_of(*master_leaf) == leaf_state::online
                           || state_of(*master_leaf) == leaf_state::attaching);
      // A master whose leaf is down already acknowledges nothing: its
      // replica keeps every acknowledged write and stays in sync.
      if (master != nullptr && master->leaf() != addr && master_up) {
        auto& master_rt = st.runtime[master->leaf()];
        for (auto& inst : *part.mutable_instances())
          if (inst.leaf() == addr && inst.role() == pb::REPLICA
              && inst.in_sync() && !detach && !bugs::no_failover_hold) {
            // Its master may have died with it (a power loss): it is told
            // to go on alone, and the replica recorded out of sync, only
            // once it answers a heartbeat sent from now on. Until then the
            // replica holds every acknowledged write and stays promotable.
            LG_PROBE(replica_loss_held, "a replica's loss waits for its "
                                        "master to answer a heartbeat");
            master_rt.losses_held.push_back(
              {db.name(), part.ordinal(), addr, part.term(), now});
            if (!master_rt.failing)
              to_probe.insert(master->leaf());
          } else if (inst.leaf() == addr && inst.role() == pb::REPLICA
                     && inst.in_sync()) {
            // Recorded before the master is told, so that the replica is
            // never promoted after the master acknowledged alone.
            record_sync(inst, false);
            replica_lost.push_back({db.name(), part.ordinal(),
                                    master->leaf(), part.term(), addr});
          }
      }
      if (master == nullptr || master->leaf() != addr)
        continue;
      auto views = st.meta.views_of(part);
      for (auto& v : views) // failing in the same event: not a candidate
        if (st.runtime[v.leaf].failing)
          v.leaf_online = false;
      auto decision = ha::choose_failover(views, part.term());
      auto label = partition_label(db.name(), part.ordinal());
      if (decision.kind == ha::failover_decision::promote && !detach
          && !bugs::no_failover_hold) {
        // The replica may have died with its master (a power loss):
        // promoting a copy that never takes the promotion would leave the
        // old master's copy, which holds every acknowledged write, out of
        // sync. It is promoted once it answers a heartbeat sent from now.
        LG_PROBE(promotion_held, "a promotion waits for the replica to "
                                 "answer a heartbeat");
        st.runtime[decision.leaf].promotions_held.push_back(
          {db.name(), part.ordinal(), addr, part.term(), now});
        st.promotions_waiting[label] = decision.leaf;
        failover_expects(self, record, label);
        // Clients wait for the map that names it, as for any failover.
        to_probe.insert(decision.leaf);
        continue;
      }
      switch (decision.kind) {
        case ha::failover_decision::promote:
          promote_replica(part, decision.leaf, addr, decision.new_term);
          promotions.push_back({db.name(), part.ordinal(), decision.leaf,
                                decision.new_term});
          if (!detach)
            failover_expects(self, record, label);
          end_jobs(st, now, decision.leaf, job_status::failed,
                   "its master on " + addr + " went away", db.name(),
                   part.ordinal());
          if (detach) {
            auto& job = start_job(st, now, job_action::detach, db.name(),
                                  part.ordinal(), addr);
            job.details = "master moved to " + decision.leaf;
          }
          break;
        case ha::failover_decision::offline:
          if (!part.offline())
            LG_PROBE(partition_offline,
                     "a partition lost its master with no promotable copy");
          part.set_offline(true);
          part.set_offline_reason("partition " + label + " is offline: "
                                  + decision.reason);
          if (!detach)
            failover_offline(self, record);
          // A copy being fed by this master waits in vain: fail its job,
          // so that whoever waits for it (a REBALANCE) stops.
          for (auto& inst : part.instances())
            if (inst.leaf() != addr)
              end_jobs(st, now, inst.leaf(), job_status::failed,
                       "its master on " + addr + " went away", db.name(),
                       part.ordinal());
          logger("ma")->warn("PartitionOffline {} {}: {}", st.ctx(), label,
                             decision.reason);
          break;
        default:
          break;
      }
    }
  }
  logger("ma")->info("FailoverDecided {} {}: {} promotions, {} masters "
                     "lose their replica; waiting for {} leaves to answer",
                     st.ctx(), addr, promotions.size(), replica_lost.size(),
                     to_probe.size());
  for (auto& leaf_addr : to_probe)
    send_heartbeat(self, leaf_addr);
  persist_then(self, [self, addr, replica_lost, promotions, detach] {
    logger("ma")->info("FailoverPersisted {} {}: sending {} promotions",
                       self->state.ctx(), addr, promotions.size());
    if (detach) {
      // The leaf is alive: its instances must stop serving before anybody
      // relies on the new masters (the new term fences them anyway).
      for (auto& db : self->state.meta.databases())
        for (auto& part : db.parts())
          for (auto& inst : part.instances())
            if (inst.leaf() == addr)
              set_role(self, addr, db.name(), part.ordinal(), pb::ROLE_NONE,
                       part.term(), "", false, [](const envelope*) {});
    }
    send_failover_orders(self, replica_lost, promotions);
  });
  resume_attaches(self);
}

namespace {

/// A leaf that answers as a newer incarnation than the recorded one
/// restarted, and its hello went to a master aggregator that is gone (it
/// was replaced before recording it): its copies are not what the metadata
/// says until it is attached again, so it is asked to say hello again.
void ask_unannounced_restart(ma_self self, const std::string& addr,
                             uint64_t incarnation) {
  auto& st = self->state;
  auto* leaf = st.meta.find_leaf(addr);
  auto& rt = st.runtime[addr];
  if (leaf == nullptr || incarnation <= leaf->incarnation() || rt.hello_seen
      || rt.restarting || state_of(*leaf) != leaf_state::online
      || bugs::ignore_unannounced_restart)
    return;
  LG_PROBE(unannounced_restart_asked, "a leaf that restarted unannounced "
                                      "was asked to say hello again");
  logger("ma")->warn("LeafRestartUnannounced {} {} answers as incarnation "
                     "{}, recorded {}: asked to say hello again",
                     st.ctx(), addr, incarnation, leaf->incarnation());
  auto env = make_envelope();
  env->mutable_heartbeat_request()->set_rejoin(true);
  st.ep.send(self, addr, leaf_actor_name(), std::move(env));
}

} // namespace

void arm_heartbeats(ma_self self) {
  auto& st = self->state;
  if (st.heartbeat_armed || st.meta.leaves_size() == 0)
    return;
  st.heartbeat_armed = true;
  auto interval = std::chrono::milliseconds{
    st.meta.globals().leaf_heartbeat_interval_ms()};
  arm_timer(self, interval, timer_id::heartbeat);
}

namespace {

void release_held_losses(ma_self self, const std::string& addr,
                         time_point sent) {
  auto& st = self->state;
  auto& rt = st.runtime[addr];
  auto* leaf = st.meta.find_leaf(addr);
  if (leaf == nullptr
      || (state_of(*leaf) != leaf_state::online
          && state_of(*leaf) != leaf_state::attaching)) {
    // A restarted incarnation answered: the one the holds wait for is gone.
    for (auto& h : rt.promotions_held)
      st.promotions_waiting.erase(partition_label(h.db, h.ordinal));
    rt.promotions_held.clear();
    rt.losses_held.clear();
    return;
  }
  std::vector<leaf_runtime::held_loss> promotions;
  std::vector<leaf_runtime::held_loss> held;
  for (auto* list : {&rt.promotions_held, &rt.losses_held}) {
    auto& out = list == &rt.promotions_held ? promotions : held;
    auto keep = std::partition(list->begin(), list->end(),
                               [&](auto& h) { return h.since > sent; });
    out.assign(keep, list->end());
    list->erase(keep, list->end());
  }
  // The partition a hold is about, if it still exists.
  auto part_of = [&](const leaf_runtime::held_loss& h) -> pb::PartitionMeta* {
    auto* db = st.meta.find_database(h.db);
    if (db == nullptr || h.ordinal >= static_cast<uint32_t>(db->parts_size()))
      return nullptr;
    return db->mutable_parts(static_cast<int>(h.ordinal));
  };
  std::vector<promotion> go_promotions; // promotions that go ahead
  std::vector<promotion> go_losses; // masters told to go on without a replica
  for (auto& h : promotions) {
    st.promotions_waiting.erase(partition_label(h.db, h.ordinal));
    auto* found = part_of(h);
    if (found == nullptr)
      continue;
    auto& part = *found;
    auto* master = master_of(part);
    if (master == nullptr || master->leaf() != h.replica
        || part.term() != h.term || st.meta.leaf_online(h.replica))
      continue;
    auto decision = ha::choose_failover(st.meta.views_of(part), part.term());
    if (decision.kind != ha::failover_decision::promote
        || decision.leaf != addr)
      continue;
    promote_replica(part, addr, h.replica, decision.new_term);
    // One line per partition only at debug level: a leaf holding thousands
    // of promotions would spend tens of ms writing them (one line below).
    logger("ma")->debug("PromotionReleased {} {}: {} answers again; "
                        "promoting it to term {}",
                        st.ctx(), partition_label(h.db, h.ordinal), addr,
                        decision.new_term);
    go_promotions.push_back({h.db, h.ordinal, addr, decision.new_term});
  }
  for (auto& h : held) {
    auto* found = part_of(h);
    if (found == nullptr)
      continue;
    auto& part = *found;
    auto* master = master_of(part);
    if (master == nullptr || master->leaf() != addr || part.term() != h.term
        || st.meta.leaf_online(h.replica))
      continue;
    for (auto& inst : *part.mutable_instances())
      if (inst.leaf() == h.replica && inst.role() == pb::REPLICA
          && inst.in_sync()) {
        // Recorded before the master is told, as for any lost replica.
        record_sync(inst, false);
        logger("ma")->debug("ReplicaLossReleased {} {}: master {} answers "
                            "again; its replica on {} is out of sync",
                            st.ctx(), partition_label(h.db, h.ordinal), addr,
                            h.replica);
        go_losses.push_back({h.db, h.ordinal, addr, h.term, h.replica});
      }
  }
  // Recorded first, then sent to each leaf in one message.
  if (!go_promotions.empty() || !go_losses.empty())
    persist_then(self, [self, go_losses, go_promotions] {
      send_failover_orders(self, go_losses, go_promotions);
    });
  if (!go_promotions.empty() || !go_losses.empty())
    logger("ma")->info("HoldsReleased {} {} answers again: {} promotions go "
                       "ahead, {} masters go on without their replica",
                       st.ctx(), addr, go_promotions.size(), go_losses.size());
}

void send_heartbeat(ma_self self, const std::string& addr) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto timeout = std::chrono::milliseconds{
    st.meta.globals().leaf_failure_timeout_ms()};
  auto env = make_envelope();
  auto* body = env->mutable_heartbeat_request();
  body->set_seq(++st.heartbeat_seq);
  auto sent = std::chrono::duration_cast<std::chrono::microseconds>(
                now.time_since_epoch())
                .count();
  body->set_sent_at_us(sent);
  body->set_want_roles(want_roles(st.runtime[addr]));
  st.ep.request(self, addr, leaf_actor_name(), std::move(env), timeout,
                [self, addr, now](const envelope* rep) {
                  if (rep == nullptr)
                    return;
                  auto& st = self->state;
                  auto& rt = st.runtime[addr];
                  auto at = self->clock().now();
                  rt.last_reply = std::max(rt.last_reply, at);
                  rt.answered_sent_at = std::max(rt.answered_sent_at, now);
                  if (!rt.losses_held.empty() || !rt.promotions_held.empty())
                    release_held_losses(self, addr, now);
                  ask_unannounced_restart(self, addr,
                                          rep->heartbeat_reply().incarnation());
                  if (rt.unconfirmed) {
                    // It kept running through the aggregator's restart:
                    // its copies serve as recorded.
                    rt.unconfirmed = false;
                    resume_attaches(self);
                  }
                  if (rep->heartbeat_reply().roles_included())
                    reconcile_roles(self, addr, rep->heartbeat_reply());
                  // An attach may wait for this leaf to prove it is alive.
                  if (!st.attach_queue.empty())
                    resume_attaches(self);
                  // A leaf in another process is linked by now.
                  monitor_leaf(self, addr);
                  double rtt = std::chrono::duration<double, std::milli>(
                                 at - now)
                                 .count();
                  ++rt.rtt_samples;
                  rt.avg_rtt_ms += (rtt - rt.avg_rtt_ms)
                                   / std::min<double>(rt.rtt_samples, 20);
                });
}

} // namespace

void leaves_failed(ma_self self,
                   const std::vector<std::pair<std::string, std::string>>&
                     failed) {
  auto& st = self->state;
  for (auto& f : failed)
    st.runtime[f.first].failing = true;
  if (failed.size() > 1)
    LG_PROBE(leaves_failed_together, "leaves declared offline as one event");
  for (auto& [addr, why] : failed)
    leaf_failed(self, addr, why);
  for (auto& f : failed)
    st.runtime[f.first].failing = false;
}

namespace {

/// Declares offline the online leaves silent for the failure timeout, and
/// arms a timer for the next leaf's deadline, so that a silent leaf is
/// declared offline when its timeout ends, not at the next heartbeat round.
void check_silent(ma_self self) {
  auto& st = self->state;
  if (!st.meta.globals().leaf_failure_detection())
    return;
  auto now = self->clock().now();
  auto timeout = std::chrono::milliseconds{
    st.meta.globals().leaf_failure_timeout_ms()};
  std::vector<std::string> silent;
  std::optional<time_point> next;
  for (auto& leaf : st.meta.leaves()) {
    if (state_of(leaf) != leaf_state::online)
      continue;
    auto deadline = st.runtime[leaf.address()].last_reply + timeout;
    if (deadline <= now)
      silent.push_back(leaf.address());
    else if (!next || deadline < *next)
      next = deadline;
  }
  std::vector<std::pair<std::string, std::string>> failed;
  for (auto& addr : silent)
    failed.emplace_back(addr, "no heartbeat reply for "
                                + std::to_string(timeout.count()) + " ms");
  leaves_failed(self, failed);
  if (next && (!st.deadline_armed || *next < *st.deadline_armed)) {
    st.deadline_armed = next;
    arm_timer(self, *next - now, timer_id::failure_deadline);
  }
}

} // namespace

void failure_deadline(ma_self self) {
  auto& st = self->state;
  if (st.deadline_armed && self->clock().now() >= *st.deadline_armed)
    st.deadline_armed.reset();
  check_silent(self);
}

void heartbeat_round(ma_self self) {
  auto& st = self->state;
  st.heartbeat_armed = false;
  auto now = self->clock().now();
  auto timeout = std::chrono::milliseconds{
    st.meta.globals().leaf_failure_timeout_ms()};
  std::vector<std::string> silent;
  for (auto& leaf : st.meta.leaves()) {
    auto& leaf_rt = st.runtime[leaf.address()];
    // A leaf recorded as recovering whose report this aggregator never got
    // (it said what its disk holds to the aggregator that ran before this
    // one) is asked again, as an offline one is.
    bool report_lost = state_of(leaf) == leaf_state::recovering
                       && !leaf_rt.restarting && !leaf_rt.hello_seen;
    // One whose report arrived and whose attach waits is not asked again.
    bool waiting = leaf_rt.awaiting_attach && leaf_rt.hello_seen;
    if ((state_of(leaf) == leaf_state::offline && !waiting) || report_lost) {
      // Is it reachable again (a healed network)? It answers by saying
      // hello, and attaches like a restarted leaf.
      auto env = make_envelope();
      env->mutable_heartbeat_request()->set_rejoin(true);
      st.ep.send(self, leaf.address(), leaf_actor_name(), std::move(env));
      continue;
    }
    if (state_of(leaf) != leaf_state::online)
      continue;
    auto& rt = st.runtime[leaf.address()];
    if (now - rt.last_reply >= timeout) {
      silent.push_back(leaf.address());
      continue;
    }
    send_heartbeat(self, leaf.address());
  }
  std::vector<std::pair<std::string, std::string>> failed;
  for (auto& addr : silent)
    failed.emplace_back(addr, "no heartbeat reply for "
                                + std::to_string(timeout.count()) + " ms");
  leaves_failed(self, failed);
  check_silent(self);
  arm_heartbeats(self);
}

void on_replica_sync(ma_self self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->replica_sync_request();
  const auto& label = env->header().partition();
  auto rep = make_envelope(label);
  auto* body = rep->mutable_replica_sync_reply();
  body->set_status(pb::UNKNOWN);
  body->set_error("unknown partition " + label);
  auto colon = label.rfind(':');
  auto db = colon == std::string::npos
              ? nullptr
              : st.meta.find_database(label.substr(0, colon));
  // The ordinal is the label's suffix, and parts are stored by ordinal: no
  // scan (a failover of 4096 partitions sends as many of these, and a scan
  // per request made the aggregator quadratic).
  int64_t ordinal_in_label = -1;
  if (db != nullptr && colon + 1 < label.size()) {
    try {
      size_t used = 0;
      auto o = std::stoll(label.substr(colon + 1), &used);
      if (used == label.size() - colon - 1 && o >= 0
          && o < db->parts_size())
        ordinal_in_label = o;
    } catch (const std::exception&) {
    }
  }
  if (ordinal_in_label >= 0) {
    do {
      auto& part = *db->mutable_parts(static_cast<int>(ordinal_in_label));
      if (part.ordinal() != static_cast<uint32_t>(ordinal_in_label))
        break;
      auto master = master_of(part);
      if (!bugs::skip_term_fence
          && (master == nullptr
              || master->leaf() != env->header().from().node()
              || part.term() != env->header().term())) {
        // Only the current master of the current term may change it.
        LG_PROBE(stale_sync_change_refused,
                 "a deposed master asked to drop its replica");
        body->set_status(pb::FENCED);
        body->set_error("not the master of " + label + " at term "
                        + std::to_string(part.term()));
        break;
      }
      bool stale = false;
      for (auto& inst : *part.mutable_instances())
        if (inst.leaf() == req.replica() && inst.role() == pb::REPLICA) {
          if (req.known_epoch() != inst.sync_epoch()) {
            stale = true;
            body->set_sync_epoch(inst.sync_epoch());
            break;
          }
          inst.set_in_sync(req.in_sync());
          inst.set_sync_epoch(inst.sync_epoch() + 1);
          body->set_sync_epoch(inst.sync_epoch());
        }
      if (stale) {
        LG_PROBE(stale_sync_request_refused,
                 "a sync request made before a later change was refused");
        body->set_status(pb::CONFLICT);
        body->set_error("sync request for replica " + req.replica() + " of "
                        + label + " knows epoch "
                        + std::to_string(req.known_epoch()) + ", now "
                        + std::to_string(body->sync_epoch()));
        break;
      }
      if (req.in_sync())
        end_jobs(st, self->clock().now(), req.replica(), job_status::success,
                 "in sync with its master", db->name(), part.ordinal());
      if (req.in_sync()) {
        auto replica = req.replica();
        auto db_name = db->name();
        auto ordinal = part.ordinal();
        persist_then(self, [self, replica, db_name, ordinal] {
          on_replica_in_sync(self, db_name, ordinal, replica);
        });
      }
      logger("ma")->log(req.in_sync() ? spdlog::level::info
                                      : spdlog::level::warn,
                        "ReplicaSyncChanged {} {} replica {} in_sync={}",
                        st.ctx(), label, req.replica(), req.in_sync());
      body->set_status(pb::STATUS_OK);
      body->clear_error();
      // Answer only once the change is durable: the master acknowledges
      // writes alone right after this reply.
      persist_then(self,
                   [self, env, rep] { self->state.ep.reply(self, *env, rep); });
      return;
    } while (false);
  }
  st.ep.reply(self, *env, std::move(rep));
}

void on_instance_failed(ma_self self, const envelope_ptr& req) {
  auto& st = self->state;
  const auto& label = req->header().partition();
  const auto& leaf = req->header().from().node();
  const auto& reason = req->instance_failed_request().reason();
  auto rep = make_envelope(label);
  rep->mutable_instance_failed_reply()->set_status(pb::STATUS_OK);
  st.ep.reply(self, *req, std::move(rep));
  auto colon = label.rfind(':');
  if (colon == std::string::npos)
    return;
  auto db_name = label.substr(0, colon);
  auto* db = st.meta.find_database(db_name);
  uint32_t ordinal = 0;
  try {
    ordinal = static_cast<uint32_t>(std::stoul(label.substr(colon + 1)));
  } catch (const std::exception&) {
    return;
  }
  if (db == nullptr || ordinal >= static_cast<uint32_t>(db->parts_size()))
    return;
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  auto* leaf_meta = st.meta.find_leaf(leaf);
  auto incarnation = req->instance_failed_request().incarnation();
  if (leaf_meta == nullptr
      || (incarnation != 0 && incarnation != leaf_meta->incarnation())) {
    // Sent by a process that has been replaced since: the copy was opened
    // again by its successor, which reports for itself.
    LG_PROBE(stale_failure_report_ignored, "a storage failure report from "
                                           "a replaced leaf process was "
                                           "ignored");
    logger("ma")->warn("InstanceFailedStale {} {} on {}: incarnation {}, now "
                       "{}; ignored",
                       st.ctx(), label, leaf, incarnation,
                       leaf_meta ? leaf_meta->incarnation() : 0);
    return;
  }
  logger("ma")->error("InstanceFailed {} {} on {}: {}", st.ctx(), label, leaf,
                      reason);
  auto* master = master_of(part);
  if (master == nullptr || master->leaf() != leaf) {
    // A failed replica: recorded out of sync before its master is told,
    // so that it is never promoted after the master acknowledged alone.
    for (auto& inst : *part.mutable_instances())
      if (inst.leaf() == leaf && inst.role() == pb::REPLICA
          && inst.in_sync()) {
        record_sync(inst, false);
        if (master != nullptr) {
          promotion p{db_name, ordinal, master->leaf(), part.term(), leaf};
          persist_then(self, [self, p] { send_failover_orders(self, {p}, {}); });
        }
      }
    return;
  }
  if (part.offline())
    return;
  // The master's copy failed while its leaf lives on: decide as for a
  // lost leaf, with that copy out of the running.
  auto views = st.meta.views_of(part);
  for (auto& v : views)
    if (v.leaf == leaf)
      v.leaf_online = false;
  auto decision = ha::choose_failover(views, part.term());
  if (decision.kind == ha::failover_decision::promote) {
    LG_PROBE(failed_disk_failed_over, "a master whose storage failed was "
                                      "replaced by its replica");
    promote_replica(part, decision.leaf, leaf, decision.new_term);
    promotion p{db_name, ordinal, decision.leaf, decision.new_term};
    logger("ma")->warn("FailoverDecided {} {}: its master on {} failed; "
                       "promoting {}",
                       st.ctx(), label, leaf, decision.leaf);
    persist_then(self, [self, p] { send_failover_orders(self, {}, {p}); });
    return;
  }
  LG_PROBE(partition_offline, "a partition lost its master with no "
                              "promotable copy");
  part.set_offline(true);
  part.set_offline_reason("partition " + label + " is offline: its master "
                          "on " + leaf + " failed: " + reason);
  logger("ma")->warn("PartitionOffline {} {}: {}", st.ctx(), label,
                     part.offline_reason());
  persist_then(self, [] {});
}

} // namespace lg
