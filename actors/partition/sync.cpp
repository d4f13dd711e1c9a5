// Asking the aggregator to count the replica in sync or not (recovery.proto
// steps 4 and 5; the decisions are ha/replication.hpp step 5):
//
//   1. A sync check runs every tenth of sync_replication_timeout_ms on a
//      master with a replica.
//   2. A replica silent for the timeout while writes wait: the master asks
//      to record it out of sync, and acknowledges alone only once the
//      aggregator answered.
//   3. A replica that caught up, or one the aggregator may not have
//      confirmed: the master asks to count it in sync, and waits for it
//      from the moment the request leaves.
//   4. A silent replica the master no longer waits for is probed once a
//      second with an empty batch.
//   5. A role order that keeps the role carries the aggregator's record:
//      taken unless it predates an in-sync request (the sync epoch).
#include "actors/partition/state.hpp"

#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "ha/recovery.hpp"

namespace lg::partition_detail {

void arm_sync_check(self_ptr self) {
  auto& st = self->state;
  if (st.out.sync_timer_armed || st.role != pb::MASTER || st.peer.empty())
    return;
  st.out.sync_timer_armed = true;
  arm_timer(self, sync_check_interval(st.cfg.sync_replication_timeout_ms),
            timer_id::sync_check);
}

namespace {

/// Sends the aggregator a ReplicaSyncRequest the core decided on, and feeds
/// the core its answer.
void send_sync_request(self_ptr self, bool in_sync) {
  auto& st = self->state;
  auto env = make_envelope(st.label, st.term);
  auto* body = env->mutable_replica_sync_request();
  body->set_replica(st.peer);
  body->set_in_sync(in_sync);
  body->mutable_master_position()->set_term(st.cfg.store->last().term);
  body->mutable_master_position()->set_lsn(st.cfg.store->last().lsn);
  body->set_known_epoch(st.out.core.sync_epoch());
  st.ep.request(
    self, st.cfg.ma_node, aggregator_actor_name, std::move(env),
    std::chrono::seconds{5},
    [self, in_sync, peer = st.peer](const envelope* rep) {
      auto& st = self->state;
      auto answer = ha::sync_answer::none;
      uint64_t epoch = 0;
      if (rep != nullptr) {
        const auto& body = rep->replica_sync_reply();
        answer = body.status() == pb::STATUS_OK ? ha::sync_answer::recorded
                                                : ha::sync_answer::refused;
        epoch = body.sync_epoch();
      }
      auto outcome = st.out.core.on_answer(
        in_sync, answer, epoch, peer == st.peer,
        st.role == pb::MASTER && !st.deposed, self->clock().now());
      switch (outcome) {
        case ha::sync_outcome::went_async:
          LG_PROBE(replica_dropped_to_async,
                   "a master went on without its silent replica");
          logger("partition")->warn("ReplicaOutOfSync {} replica {} silent",
                                    st.ctx(), st.peer);
          advance_commit(self);
          limit_backlog(self);
          break;
        case ha::sync_outcome::in_sync:
          logger("partition")->info("ReplicaInSync {} replica {}", st.ctx(),
                                    st.peer);
          break;
        case ha::sync_outcome::none:
          // Unknown whether the aggregator recorded it, or refused. The
          // master still waits for its replica while it counts, so the
          // replica holds every acknowledged write: the next sync check
          // asks again.
          break;
      }
    });
}

} // namespace

/// Sends the replica an empty batch: its answer shows that it is alive and
/// holds everything (so it may become in sync again).
void probe_replica(self_ptr self) {
  auto& st = self->state;
  auto env = make_envelope(st.label, st.term);
  auto* body = env->mutable_replicate_request();
  auto last = st.cfg.store->flushed().lsn;
  body->set_prev_lsn(last);
  body->set_prev_term(ha::term_at(st.cfg.store->history(), last));
  body->set_commit_lsn(st.out.core.commit_lsn());
  auto [gen, seq] = st.out.core.start_probe();
  st.ep.request(self, st.peer, st.ep.actor(), std::move(env),
                retransmit_after, [self, gen = gen, seq = seq](const envelope* r) {
                  if (r == nullptr) {
                    // Still silent; the next sync check probes again.
                    self->state.out.core.probe_unanswered(gen);
                    return;
                  }
                  on_replicate_reply(self, gen, seq, r);
                });
}

void request_sync_change(self_ptr self, bool in_sync) {
  // An in-sync request makes the replica count for every acknowledgement
  // from now on, before the aggregator learns it may promote it.
  if (self->state.out.core.ask(in_sync))
    send_sync_request(self, in_sync);
}

void on_sync_check(self_ptr self) {
  auto& st = self->state;
  st.out.sync_timer_armed = false;
  if (st.role != pb::MASTER || st.peer.empty() || st.deposed)
    return;
  auto now = self->clock().now();
  auto r = st.out.core.check(
    now, !st.out.waiting.empty(),
    std::chrono::milliseconds{st.cfg.sync_replication_timeout_ms},
    st.cfg.store->flushed().lsn, st.rebuild_out.current.has_value(),
    probe_every);
  if (r.ask)
    send_sync_request(self, *r.ask);
  if (r.resend)
    replicate(self); // nothing in flight but batches unconfirmed: resend
  if (r.probe)
    probe_replica(self);
  arm_sync_check(self);
}

void take_sync_order(self_ptr self, bool peer_in_sync, uint64_t epoch) {
  auto& st = self->state;
  auto asking = st.out.core.claim() == ha::sync_claim::asking_in_sync;
  auto known = st.out.core.sync_epoch();
  switch (st.out.core.on_order(peer_in_sync, epoch, self->clock().now())) {
    case ha::sync_order_outcome::ignored_stale:
      // Decided before the aggregator recorded this master's in-sync
      // request (recovery.proto step 5): it may count the replica in sync
      // already, so the master must keep waiting for it.
      LG_PROBE(stale_async_order_ignored,
               "a master kept waiting for a replica that an older order "
               "called out of sync");
      logger("partition")->info("StaleAsyncOrderIgnored {} order epoch {}, "
                                "known {}{}",
                                st.ctx(), epoch, known,
                                asking ? " (an in-sync request is pending)"
                                       : "");
      break;
    case ha::sync_order_outcome::went_async:
      // The aggregator already recorded the replica out of sync (its leaf
      // failed): stop waiting for it.
      advance_commit(self);
      limit_backlog(self);
      break;
    default:
      break;
  }
}

} // namespace lg::partition_detail
