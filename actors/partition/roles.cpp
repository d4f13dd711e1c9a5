// Roles of a partition instance (messages/recovery.proto steps 1-3):
//
//   1. SetRoleRequest: an order older than one already taken (term or
//      version) is ignored; a new role resets the stream (become); the same
//      role only updates settings and the replica's sync record.
//   2. PromoteRequest: a replica whose term is older than the request's
//      becomes master under the new term; any other is refused, naming
//      both terms.
//   3. StepDownRequest: a master hands over to its in-sync replica: it stops
//      taking writes and answers once the replica holds every entry, or
//      FAILED at the deadline and serves again.
//   4. A master that learns of a newer term (a FENCED answer) is deposed:
//      it fails every waiting write and read.
//   5. The leaf learns the instance's role, term and health (RoleNotice)
//      whenever they change and after every role order, and lists them in
//      the heartbeat replies that ask for them (heartbeat.proto step 4).
#include "actors/partition/state.hpp"

#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "ha/recovery.hpp"

namespace lg::partition_detail {

std::string not_master_text(const partition_state& st) {
  if (st.deposed)
    return "partition " + st.label + " on leaf " + st.cfg.leaf
           + " was deposed by a newer term than " + std::to_string(st.term);
  return "partition " + st.label + " on leaf " + st.cfg.leaf
         + " is not master (role " + role_text(st.role) + ", term "
         + std::to_string(st.term) + ")";
}

bool serving_master(const partition_state& st) {
  return st.role == pb::MASTER && !st.deposed && st.failure.empty()
         && !st.handover.request;
}

void step_down(self_ptr self, uint64_t newer_term) {
  auto& st = self->state;
  if (st.deposed)
    return;
  LG_PROBE(master_deposed, "a master learned of a newer term and stopped");
  logger("partition")->warn("MasterDeposed {} replica reports term {}",
                            st.ctx(), newer_term);
  st.deposed = true;
  st.out.core.clear();
  st.out.open.reset();
  fail_waiting(self, pb::NOT_MASTER, not_master_text(st));
}

void check_step_down(self_ptr self, bool expired) {
  auto& st = self->state;
  if (!st.handover.request)
    return;
  auto* store = st.cfg.store.get();
  auto& core = st.out.core;
  bool done = st.role == pb::MASTER && !st.deposed && core.peer_in_sync()
              && core.match() >= store->last().lsn
              && store->flushed().lsn >= store->last().lsn;
  if (!done && !expired && st.role == pb::MASTER && !st.deposed)
    return;
  auto req = std::move(st.handover.request);
  st.handover.request.reset();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_step_down_reply();
  body->mutable_position()->set_term(store->last().term);
  body->mutable_position()->set_lsn(store->last().lsn);
  if (done) {
    body->set_status(pb::STATUS_OK);
    // Stay out of service: the aggregator is about to make this a replica.
    st.deposed = true;
    logger("partition")->info("SteppedDown {} at lsn {}", st.ctx(),
                              store->last().lsn);
  } else {
    body->set_status(pb::FAILED);
    body->set_error("partition " + st.label + ": the replica on "
                    + (st.peer.empty() ? std::string{"(none)"} : st.peer)
                    + " did not catch up in time (at lsn "
                    + std::to_string(core.match()) + " of "
                    + std::to_string(store->last().lsn) + ")");
    LG_PROBE(step_down_gave_up, "a master's hand-over timed out; it serves "
                                "again");
  }
  st.ep.reply(self, *req, std::move(rep));
}

void on_step_down(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->step_down_request();
  if (st.role != pb::MASTER || st.deposed || req.term() != st.term
      || st.peer.empty() || !st.out.core.peer_in_sync()
      || st.handover.request) {
    auto rep = make_envelope(st.label, st.term);
    auto* body = rep->mutable_step_down_reply();
    body->set_status(pb::CONFLICT);
    body->set_error("partition " + st.label + " on leaf " + st.cfg.leaf
                    + " cannot hand over: not a master at term "
                    + std::to_string(req.term()) + " with an in-sync replica");
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  st.handover.request = env;
  st.handover.deadline = self->clock().now()
                          + std::chrono::milliseconds{
                            std::max<int64_t>(req.timeout_ms(), 1)};
  // Writes already logged still complete; new ones go to the next master.
  schedule_flush(self);
  arm_timer(self,
            std::chrono::milliseconds{std::max<int64_t>(req.timeout_ms(), 1)},
            timer_id::step_down);
  check_step_down(self);
}

void become(self_ptr self, pb::Role role, uint64_t term,
            const std::string& peer, bool peer_in_sync, bool fresh) {
  auto& st = self->state;
  if (st.role == pb::MASTER && role != pb::MASTER)
    fail_waiting(self, pb::NOT_MASTER, not_master_text(st));
  if (st.rebuild_out.current
      && (role != pb::MASTER || peer != st.rebuild_out.current->replica))
    abort_rebuild(self, "the master's role changed");
  if (st.handover.request)
    check_step_down(self, true);
  // A master serves its rows, and looks up the write ids of retries: apply
  // what it received as a replica and index its write ids.
  st.cfg.store->apply_pending();
  st.write_ids.set_indexed(role == pb::MASTER);
  st.role = role;
  st.term = std::max(st.term, term);
  st.peer = peer;
  st.deposed = false;
  st.metrics.role_changed(role == pb::MASTER && !peer.empty());
  st.out.open.reset();
  st.out.core.reset(role == pb::MASTER, !peer.empty(), peer_in_sync,
                    st.cfg.store->flushed().lsn, self->clock().now());
  arm_sync_check(self);
  st.rebuild_in.current.reset();
  if (role == pb::REPLICA && !peer.empty()) {
    // An instance created empty for its master has nothing to check.
    st.in.joined = fresh;
    if (!fresh)
      start_join(self);
  } else {
    st.in.joined = false;
  }
}

void on_set_role(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->set_role_request();
  if (req.term() < st.term
      || (req.version() != 0 && req.version() < st.order_version)) {
    // Resent or delayed past a newer order: taking it would undo that one.
    LG_PROBE(stale_role_order_ignored, "a role order older than one already "
                                       "taken was ignored");
    logger("partition")->info("StaleRoleOrderIgnored {} role={} term={} "
                              "version={} (have term {} version {})",
                              st.ctx(), role_text(req.role()), req.term(),
                              req.version(), st.term, st.order_version);
    auto rep = make_envelope(st.label, st.term);
    auto* body = rep->mutable_set_role_reply();
    body->set_status(pb::STATUS_OK);
    body->set_role(st.role);
    body->mutable_position()->set_term(st.cfg.store->last().term);
    body->mutable_position()->set_lsn(st.cfg.store->last().lsn);
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  st.order_version = std::max(st.order_version, req.version());
  if (req.sync_replication_timeout_ms() > 0)
    st.cfg.sync_replication_timeout_ms = req.sync_replication_timeout_ms();
  if (req.replication_backlog_mb() > 0)
    st.cfg.replication_backlog_bytes = static_cast<uint64_t>(
                                         req.replication_backlog_mb())
                                       << 20;
  if (auto err = st.cfg.store->flush()) {
    st.failure = "partition " + st.label + " on leaf " + st.cfg.leaf
                 + " failed to write its log: " + err.to_string();
    report_failure(self);
  }
  bool unchanged = req.role() == st.role && req.term() == st.term
                   && req.peer() == st.peer && !st.deposed;
  // Re-sending the same role only updates settings; replication goes on.
  if (!unchanged) {
    become(self, req.role(), req.term(), req.peer(), req.peer_in_sync());
    // The order carries the aggregator's record of the replica.
    st.out.core.set_epoch(req.peer_sync_epoch());
    st.out.core.settle();
  } else {
    take_sync_order(self, req.peer_in_sync(), req.peer_sync_epoch());
  }
  logger("partition")->info("RoleAssigned {} role={} peer={}", st.ctx(),
                            role_text(st.role), st.peer);
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_set_role_reply();
  body->set_status(st.failure.empty() ? pb::STATUS_OK : pb::FAILED);
  body->set_error(st.failure);
  body->set_role(st.role);
  body->mutable_position()->set_term(st.cfg.store->last().term);
  body->mutable_position()->set_lsn(st.cfg.store->last().lsn);
  st.ep.reply(self, *env, std::move(rep));
}

void notice_role(self_ptr self, bool force) {
  auto& st = self->state;
  pb::InstanceRole now;
  now.set_database(st.cfg.database);
  now.set_ordinal(st.cfg.ordinal);
  now.set_role(st.role);
  now.set_term(st.term);
  now.set_failed(!st.failure.empty());
  now.set_deposed(st.deposed);
  now.set_peer(st.peer);
  auto bytes = now.SerializeAsString();
  if (!force && bytes == st.noticed_role)
    return;
  st.noticed_role = std::move(bytes);
  auto env = make_envelope(st.label, st.term);
  *env->mutable_role_notice()->mutable_instance() = std::move(now);
  st.ep.send(self, st.cfg.leaf, leaf_actor_name(), std::move(env));
}

void on_promote(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->promote_request();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_promote_reply();
  if (req.term() <= st.term) {
    // A promotion always starts a new term (recovery.proto step 2), so one
    // of this term or an older one was decided before an order this
    // instance already took: delayed, or resent after its answer was lost.
    // Taking it would make a replica a second master beside the one the
    // aggregator chose since. Terms order promotions on their own: unlike
    // SetRoleRequest, no two promotions share a term, so no version is
    // needed.
    LG_PROBE(stale_promotion_refused, "a promotion of a term no newer than "
                                      "the instance's was refused");
    logger("partition")->info("StalePromotionRefused {} term={} (have term "
                              "{} role={})",
                              st.ctx(), req.term(), st.term,
                              role_text(st.role));
    body->set_status(pb::CONFLICT);
    body->set_error("partition " + st.label + " on leaf " + st.cfg.leaf
                    + " refuses a promotion to term "
                    + std::to_string(req.term()) + ": it is already at term "
                    + std::to_string(st.term) + " (role "
                    + role_text(st.role) + ")");
  } else if (!st.failure.empty()) {
    body->set_status(pb::FAILED);
    body->set_error(st.failure);
  } else {
    if (auto err = st.cfg.store->flush()) {
      st.failure = "partition " + st.label + " on leaf " + st.cfg.leaf
                   + " failed to write its log: " + err.to_string();
      report_failure(self);
    }
    become(self, pb::MASTER, req.term(), std::string{}, false);
    // At debug level: the leaf sums up a failover's promotions in one line
    // (LeafOrdersAnswered).
    logger("partition")->debug("ReplicaPromoted {} at lsn {}", st.ctx(),
                               st.cfg.store->last().lsn);
    body->set_status(pb::STATUS_OK);
    rep->mutable_header()->set_term(st.term);
  }
  body->mutable_position()->set_term(st.cfg.store->last().term);
  body->mutable_position()->set_lsn(st.cfg.store->last().lsn);
  st.ep.reply(self, *env, std::move(rep));
}

} // namespace lg::partition_detail
