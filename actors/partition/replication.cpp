// Writes at a master and the stream to its replica (messages/replication.proto;
// the decisions are ha/replication.hpp's core, this file carries them out):
//
//   1. on_write: a master that serves checks the rows, answers a retried
//      write id from its window, appends the records to its log and to the
//      batch being gathered, and queues the write until it is acknowledged.
//   2. on_flush: the log is written (and fsynced under SYNC durability);
//      the batch is sealed and sent when the core says so; writes the
//      commit position covers are acknowledged (advance_commit).
//   3. on_replicate (replica): fenced by term, a batch must follow what the
//      copy holds (else the copy joins again: rebuild.cpp); its records are
//      appended and acknowledged after the next flush.
//   4. on_replicate_reply (master): an answer moves the replica's match
//      position; a refusal or silence resends after a pause; FENCED deposes
//      this master (roles.cpp).
#include "actors/partition/state.hpp"

#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "ha/recovery.hpp"
#include "storage/record_format.hpp"

namespace lg::partition_detail {

void reply_write(self_ptr self, const envelope& req, pb::Status status,
                 const std::string& error, uint64_t lsn, uint64_t affected) {
  auto& st = self->state;
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_write_reply();
  body->set_status(status);
  if (!error.empty())
    body->set_error(error);
  body->set_lsn(lsn);
  body->set_affected(affected);
  st.ep.reply(self, req, std::move(rep));
}

void schedule_flush(self_ptr self) {
  auto& st = self->state;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

void fail_waiting(self_ptr self, pb::Status status, const std::string& why) {
  auto& st = self->state;
  auto waiting = std::move(st.out.waiting);
  st.out.waiting.clear();
  for (auto& w : waiting)
    reply_write(self, *w.req, status, why);
  fail_reads(self, status, why);
}

void advance_commit(self_ptr self) {
  auto& st = self->state;
  auto* store = st.cfg.store.get();
  auto local = store->flushed().lsn;
  if (st.out.core.acknowledges_alone() && !bugs::async_alone_unsynced
      && st.failure.empty()) {
    // With its replica out of sync, a master acknowledges only what is on
    // its disk, whatever the durability: the replica's machine running
    // would not save what this machine's file system had not written out
    // (ha/replication.hpp step 4). A partition with no replica at all
    // (redundancy 1, or its other copy gone) keeps async durability's
    // promise of surviving process crashes only.
    if (!st.out.waiting.empty()
        && st.out.waiting.front().lsn > store->synced().lsn)
      if (auto err = store->sync_log()) {
        fail_storage(self, "failed to fsync its log", err);
        return;
      }
    local = store->synced().lsn;
  }
  auto commit = st.out.core.commit(local);
  if (!st.out.waiting.empty() && st.out.waiting.front().lsn <= commit) {
    auto now = self->clock().now();
    while (!st.out.waiting.empty() && st.out.waiting.front().lsn <= commit) {
      auto& w = st.out.waiting.front();
      reply_write(self, *w.req, pb::STATUS_OK, {}, w.lsn, w.affected);
      st.metrics.write_acknowledged(now - w.arrived);
      st.out.waiting.pop_front();
    }
  }
  st.metrics.lag(backlog_bytes(st));
  if (!st.out.reads.empty())
    serve_reads(self);
}

namespace {

void arm_retransmit(self_ptr self, bool arm) {
  if (arm)
    arm_timer(self, retransmit_pause, timer_id::retransmit);
}

} // namespace

void on_replicate_reply(self_ptr self, uint64_t generation, uint64_t seq,
                        const envelope* rep) {
  auto& st = self->state;
  auto& core = st.out.core;
  if (!core.current(generation) || st.role != pb::MASTER)
    return;
  if (rep == nullptr) {
    // No answer in time, or no replica there: resend everything the replica
    // has not confirmed, after a pause (an unreachable replica answers at
    // once, and must not make this a busy loop).
    LG_PROBE(replication_retransmit, "a replication batch timed out");
    arm_retransmit(self, core.on_timeout());
    return;
  }
  const auto& body = rep->replicate_reply();
  switch (body.status()) {
    case pb::STATUS_OK:
      core.on_ack(body.match_lsn(), seq, self->clock().now());
      advance_commit(self);
      replicate(self);
      check_step_down(self);
      // A replica that caught up becomes synchronous again at once.
      if (core.caught_up(st.cfg.store->flushed().lsn,
                         st.rebuild_out.current.has_value()))
        request_sync_change(self, true);
      return;
    case pb::FENCED:
      if (body.term() <= st.term) {
        // The answer to a batch sent under an older term of this master (a
        // late copy): only a newer term deposes it. Resend what is due.
        LG_PROBE(stale_fence_ignored, "a fence of an older term's batch was "
                                      "ignored by a newer master");
        arm_retransmit(self, core.on_refused());
        return;
      }
      LG_PROBE(fenced_write_refused, "a replica refused an older master");
      core.on_fenced();
      step_down(self, body.term());
      return;
    default:
      logger("partition")->warn("ReplicationRefused {} from {}: {}", st.ctx(),
                                st.peer, body.error());
      // Resend from the oldest unconfirmed batch after a pause (a batch
      // lost on the way leaves a gap the replica refuses).
      arm_retransmit(self, core.on_refused());
      return;
  }
}

void seal_open_batch(partition_state& st) {
  if (!st.out.open)
    return;
  auto* body = st.out.open->mutable_replicate_request();
  auto first = body->first_lsn();
  body->set_prev_lsn(first - 1);
  body->set_prev_term(ha::term_at(st.cfg.store->history(), first - 1));
  body->set_commit_lsn(st.out.core.commit_lsn());
  auto last = body->last_lsn();
  auto bytes = body->records().size();
  st.out.core.push(std::move(st.out.open), first - 1, last, bytes);
  st.out.open.reset();
}

void take_store_write_ids(partition_state& st) {
  auto ids = st.cfg.store->take_write_ids();
  if (bugs::no_dedup)
    return;
  for (auto& e : ids)
    st.write_ids.note(e.id, e.lsn);
}

void replicate(self_ptr self) {
  auto& st = self->state;
  // A failed instance sends nothing more: records its log could not take
  // should not reach the replica (which would find them conflicting with
  // what the reopened master writes there, and be rebuilt).
  if (st.role != pb::MASTER || st.peer.empty() || st.deposed
      || st.rebuild_out.current || !st.failure.empty())
    return;
  auto& core = st.out.core;
  // The writes that arrived while the replica's window was full go out
  // together, as a Kafka follower's next fetch carries everything since its
  // last: under load batches grow, and the replica's per-batch work (a
  // message each way, a log write) is spread over more writes.
  if (core.should_seal())
    seal_open_batch(st);
  for (auto& s : core.take_sends()) {
    auto env = std::move(s.payload);
    if (s.retransmission) // the first copy may still be read
      env = std::make_shared<envelope>(*env);
    env->mutable_header()->set_term(st.term);
    auto gen = s.generation;
    auto seq = s.seq;
    st.ep.request(self, st.peer, st.ep.actor(), std::move(env),
                  retransmit_after, [self, gen, seq](const envelope* r) {
                    on_replicate_reply(self, gen, seq, r);
                  });
  }
  // The entries the replica lacks are no longer in memory; the replica
  // must be rebuilt (recovery protocol) rather than streamed to. The core
  // showed it the oldest batch held: it refuses it as a gap and joins
  // again, and the join starts the rebuild. Without this nudge a replica
  // that is sent nothing never learns that it fell behind.
  if (core.replica_behind())
    LG_PROBE(replica_behind_tail, "a replica fell behind the log tail");
}

uint64_t backlog_bytes(const partition_state& st) {
  uint64_t open = st.out.open
                    ? st.out.open->replicate_request().records().size()
                    : 0;
  return st.out.core.backlog_bytes() + open;
}

void limit_backlog(self_ptr self) {
  auto& st = self->state;
  auto& core = st.out.core;
  uint64_t open = backlog_bytes(st) - core.backlog_bytes();
  switch (core.check_backlog(st.cfg.replication_backlog_bytes, open)) {
    case ha::backlog_action::none:
      return;
    case ha::backlog_action::ask_out_of_sync:
      // The replica counts for acknowledgements: its batches stay until the
      // aggregator recorded it out of sync (writes wait for it meanwhile).
      if (!core.asking()) {
        LG_PROBE(replication_backlog_full,
                 "a master's backlog for its in-sync replica passed "
                 "replication_backlog_mb");
        logger("partition")->warn("ReplicationBacklogFull {} replica {}: {} "
                                  "bytes unconfirmed; asking to go on "
                                  "without it",
                                  st.ctx(), st.peer, backlog_bytes(st));
      }
      request_sync_change(self, false);
      return;
    case ha::backlog_action::drop:
      // Without them the replica finds a gap, joins again and is rebuilt
      // from a snapshot (rebuild.cpp, on_join_request).
      LG_PROBE(replication_backlog_dropped,
               "a master dropped the batches held for its out-of-sync "
               "replica");
      logger("partition")->warn("ReplicationBacklogDropped {} replica {}: {} "
                                "bytes unconfirmed; it will be rebuilt",
                                st.ctx(), st.peer, backlog_bytes(st));
      core.drop_backlog();
      st.out.open.reset();
      return;
  }
}

void on_write(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->write_request();
  if (!serving_master(st) || env->header().term() > st.term) {
    if (!st.failure.empty())
      reply_write(self, *env, pb::FAILED, st.failure);
    else
      reply_write(self, *env, pb::NOT_MASTER, not_master_text(st));
    return;
  }
  for (auto& row : req.rows()) {
    if (row.key().empty() || !storage::partition_store::fits(row.key(),
                                                             row.value())) {
      LG_PROBE(oversized_write_refused, "a write with a bad row was refused");
      reply_write(self, *env, pb::FAILED,
                  "partition " + st.label + ": a row's key is empty or its "
                  "key and value exceed "
                    + std::to_string(storage::max_record_payload)
                    + " bytes");
      return;
    }
  }
  if (req.write_id() != 0) {
    if (auto seen = st.write_ids.find(req.write_id())) {
      LG_PROBE(duplicate_write_absorbed, "a retried write was deduplicated");
      auto affected = static_cast<uint64_t>(req.rows_size()
                                            + req.deletes_size());
      if (*seen <= st.out.core.commit_lsn())
        reply_write(self, *env, pb::STATUS_OK, {}, *seen, affected);
      else
        st.out.waiting.push_back(
          waiter{*seen, env, affected, self->clock().now()});
      return;
    }
  }
  auto* store = st.cfg.store.get();
  pb::ReplicateRequest* batch = nullptr;
  if (!st.peer.empty()) {
    if (!st.out.open)
      st.out.open = make_envelope(st.label, st.term);
    batch = st.out.open->mutable_replicate_request();
  }
  storage::log_record_view rec;
  rec.term = st.term;
  rec.write_id = req.write_id();
  auto add = [&](storage::op_kind op, const std::string& key,
                 const std::string& value) {
    rec.lsn = store->last().lsn + 1;
    rec.op = op;
    rec.key = key;
    rec.value = value;
    store->append(rec);
    if (batch != nullptr) {
      // The replica gets the log's own bytes, as Kafka followers fetch
      // record batches: no per-entry message to build or take apart.
      if (batch->records().empty())
        batch->set_first_lsn(rec.lsn);
      batch->set_last_lsn(rec.lsn);
      batch->mutable_records()->append(store->last_encoded());
    }
  };
  uint64_t affected = static_cast<uint64_t>(req.rows_size());
  for (auto& row : req.rows())
    add(storage::op_kind::put, row.key(), row.value());
  static const std::string empty;
  for (auto& key : req.deletes()) {
    affected += store->rows().count(key);
    add(storage::op_kind::del, key, empty);
  }
  if (batch != nullptr
      && batch->last_lsn() - batch->first_lsn() + 1 >= max_batch_entries)
    seal_open_batch(st);
  auto lsn = store->last().lsn;
  st.write_ids.note(req.write_id(), lsn);
  auto now = self->clock().now();
  if (st.out.waiting.empty())
    st.out.core.note_first_waiting(now);
  st.out.waiting.push_back(waiter{lsn, env, affected, now});
  if (batch != nullptr)
    limit_backlog(self);
  schedule_flush(self);
}

void on_replicate(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->replicate_request();
  auto refuse = [&](pb::Status status, const std::string& why) {
    auto rep = make_envelope(st.label, st.term);
    auto* body = rep->mutable_replicate_reply();
    body->set_status(status);
    body->set_term(st.term);
    body->set_match_lsn(st.cfg.store->flushed().lsn);
    body->set_error(why);
    st.ep.reply(self, *env, std::move(rep));
  };
  auto term = env->header().term();
  if (term < st.term && !bugs::skip_term_fence) {
    LG_PROBE(replica_fenced_old_master,
             "a replica refused replication from an older term");
    refuse(pb::FENCED, "term " + std::to_string(term) + " is older than "
                         + std::to_string(st.term));
    return;
  }
  if (st.role == pb::MASTER && st.deposed && term > st.term
      && env->header().from().node() == st.peer && st.failure.empty()) {
    // Deposed by this very master's newer term, and the order that makes
    // it a replica was lost: follow it now, as a Raft follower follows the
    // leader of a newer term. It joins (its history is checked) before it
    // takes anything.
    LG_PROBE(deposed_master_follows, "a deposed master became the replica "
                                     "of the newer master on its pair");
    logger("partition")->warn("DeposedMasterFollows {} master {} of term {}",
                              st.ctx(), st.peer, term);
    become(self, pb::REPLICA, term, st.peer, false);
    refuse(pb::FAILED, "partition " + st.label + " on leaf " + st.cfg.leaf
                         + " has not joined its master yet");
    return;
  }
  if ((st.role != pb::REPLICA && !bugs::skip_term_fence)
      || !st.failure.empty()) {
    refuse(pb::FAILED, not_master_text(st));
    return;
  }
  if (!st.in.joined && !bugs::skip_term_fence) {
    // Its history has not been checked: it might hold entries the master
    // never had, which a plain prefix check would not see.
    refuse(pb::FAILED, "partition " + st.label + " on leaf " + st.cfg.leaf
                         + " has not joined its master yet");
    return;
  }
  st.term = term;
  auto* store = st.cfg.store.get();
  auto last = store->last().lsn;
  if (req.prev_lsn() > last) {
    refuse(pb::FAILED, "gap: have up to lsn " + std::to_string(last)
                         + ", batch starts after "
                         + std::to_string(req.prev_lsn()));
    // Ask the master to check again where to resume: it catches this copy
    // up if it still holds the entries, or rebuilds it.
    LG_PROBE(replica_rejoined_after_gap, "a replica behind its master's "
                                         "stream joined again");
    st.in.joined = false;
    start_join(self);
    return;
  }
  if (req.prev_lsn() > 0
      && ha::term_at(store->history(), req.prev_lsn()) != req.prev_term()) {
    LG_PROBE(replica_history_mismatch,
             "a replica's history disagreed with its master's");
    refuse(pb::FAILED, "history mismatch at lsn "
                         + std::to_string(req.prev_lsn()));
    st.in.joined = false;
    start_join(self);
    return;
  }
  if (req.prev_lsn() < last && !bugs::keep_conflicting_suffix) {
    // The batch overlaps what this copy holds: a resent batch carries the
    // same records, but a master of a newer term that reopened from a
    // shorter log carries others at the same positions. A record whose
    // term differs from the one held there means this copy's suffix was
    // never the master's: it joins again and is rebuilt.
    std::string_view rest = req.records();
    storage::log_record_view rec;
    while (!rest.empty()) {
      auto used = storage::decode_record(rest, rec);
      if (!used || rec.lsn > last)
        break;
      if (ha::term_at(store->history(), rec.lsn) != rec.term) {
        LG_PROBE(replica_conflicting_suffix,
                 "a replica held records its new master never had");
        refuse(pb::FAILED, "records after lsn "
                             + std::to_string(req.prev_lsn())
                             + " conflict with those this copy holds");
        st.in.joined = false;
        start_join(self);
        return;
      }
      rest.remove_prefix(*used);
    }
  }
  // Nobody reads a replica's rows: they are applied later, in bulk.
  auto err = store->append_log_bytes(
    req.records(),
    [&st](const storage::log_record_view& rec) {
      st.write_ids.note(rec.write_id, rec.lsn);
    },
    term);
  if (err) {
    LG_PROBE(replica_bad_entry, "a replica refused a malformed entry");
    refuse(pb::FAILED, "a record after lsn "
                         + std::to_string(store->last().lsn)
                         + " was refused: " + err.to_string());
    return;
  }
  st.in.acks.push_back(env);
  schedule_flush(self);
}

void fail_storage(self_ptr self, const std::string& what, const error& err) {
  auto& st = self->state;
  LG_PROBE(storage_flush_failed, "an instance failed to write its log");
  st.failure = "partition " + st.label + " on leaf " + st.cfg.leaf + " "
               + what + ": " + err.to_string();
  logger("partition")->error("InstanceFailed {} {}", st.ctx(), st.failure);
  auto leaf_dir = st.cfg.discard_dir.substr(0,
                                            st.cfg.discard_dir.rfind('/'));
  st.cfg.fab->dump_recent("instance " + st.label + " failed",
                          leaf_dir.empty() ? "/tmp" : leaf_dir);
  fail_waiting(self, pb::FAILED, st.failure);
  report_failure(self);
}

void on_flush(self_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (auto err = st.cfg.store->flush())
    fail_storage(self, "failed to write its log", err);
  // Only after a flush that succeeded: a failed write must fail the
  // instance, not be retried by the checkpoint's own flush.
  if (st.failure.empty() && !st.checkpoint.running
      && st.cfg.store->log_bytes()
           > std::max(st.cfg.checkpoint_log_bytes, st.checkpoint.retry_bytes))
    start_checkpoint(self);
  if (st.role == pb::MASTER) {
    replicate(self);
    advance_commit(self);
    check_step_down(self);
    return;
  }
  auto acks = std::move(st.in.acks);
  st.in.acks.clear();
  for (auto& req : acks) {
    auto rep = make_envelope(st.label, st.term);
    auto* body = rep->mutable_replicate_reply();
    body->set_status(st.failure.empty() ? pb::STATUS_OK : pb::FAILED);
    body->set_term(st.term);
    body->set_match_lsn(st.cfg.store->flushed().lsn);
    st.ep.reply(self, *req, std::move(rep));
  }
  // Rows are applied after the acknowledgements have left, off the write's
  // path.
  if (st.cfg.store->pending_apply_bytes() > max_deferred_apply_bytes)
    st.cfg.store->apply_pending();
}

} // namespace lg::partition_detail
