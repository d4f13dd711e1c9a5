#include "actors/partition/partition.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "actors/partition/write_id_window.hpp"
#include "ha/recovery.hpp"

namespace lg {

namespace {

constexpr size_t max_batch_entries = 4096;
constexpr int max_inflight_batches = 1;
constexpr size_t max_remembered_write_ids = 65536;
/// A replica applies the rows it was streamed once this many bytes of them
/// wait. Small enough that a promotion applies at most this much, and that
/// the work shows in a benchmark of a few seconds instead of hiding past it
/// (at 32 MiB no run of bench/write_throughput ever paid it).
constexpr uint64_t max_deferred_apply_bytes = 1024 * 1024;
constexpr auto retransmit_after = std::chrono::milliseconds{500};
/// How often a master checks its replica's sync state: a tenth of the sync
/// timeout, within bounds, so that thousands of idle masters stay cheap.
caf::timespan sync_check_interval(int64_t sync_timeout_ms) {
  return std::chrono::milliseconds{
    std::clamp<int64_t>(sync_timeout_ms / 10, 10, 500)};
}

/// How often an out-of-sync master probes its silent replica.
constexpr auto probe_every = std::chrono::seconds{1};
constexpr uint64_t sync_check_timer = 1;
constexpr uint64_t retransmit_timer = 2;
constexpr auto retransmit_pause = std::chrono::milliseconds{20};
constexpr uint64_t join_timer = 3;
constexpr uint64_t step_down_timer = 4;
constexpr uint64_t checkpoint_timer = 5; // a checkpoint job finished
/// A replica that got no answer to its JoinRequest asks again after this.
constexpr auto join_retry = std::chrono::milliseconds{20};
constexpr auto join_timeout = std::chrono::seconds{2};
/// Snapshot chunks: about this many bytes each, this many in flight.
constexpr uint64_t chunk_bytes = 4 * 1024 * 1024;
constexpr int chunk_window = 4;
constexpr auto chunk_timeout = std::chrono::seconds{10};
/// The master reports rebuild progress every this many chunks.
constexpr uint64_t progress_every_chunks = 16;

struct waiter {
  uint64_t lsn;
  envelope_ptr req;
  uint64_t affected;
};

struct partition_state {
  std::string name;
  endpoint ep;
  partition_config cfg;
  std::string label;
  pb::Role role = pb::ROLE_NONE;
  uint64_t term = 0;
  uint64_t order_version = 0; ///< of the newest role order taken
  std::string peer;
  bool peer_in_sync = true;
  bool deposed = false; // a master that learned of a newer term
  std::string failure;  // set when storage failed: the instance stops serving

  // Master side.
  std::deque<waiter> waiting;
  // Replication batches the replica has not confirmed, oldest first. A
  // batch is built once, as writes arrive, and sent as it is; only a
  // retransmission copies it.
  struct batch {
    std::shared_ptr<envelope> env;
    uint64_t last_lsn = 0;
    bool sent = false;
  };
  std::deque<batch> unacked;
  size_t next_to_send = 0;        // index into unacked
  std::shared_ptr<envelope> open; // entries since the last flush
  uint64_t commit_lsn = 0;
  uint64_t replica_match = 0;
  uint64_t repl_generation = 0;
  int inflight = 0;
  time_point last_replica_progress;
  bool sync_change_pending = false;
  bool sync_change_in_sync = false; // what the pending request asks for
  // An in-sync request went unanswered: the aggregator may have recorded it,
  // until a later request is answered.
  bool in_sync_unresolved = false;
  // The aggregator's count of sync changes recorded for `peer` (the sync
  // epoch, recovery.proto step 5), from its replies and orders.
  uint64_t sync_epoch = 0;
  // The checkpoint running off the actor, if any: its job, and its outcome
  // once the job ran (then checkpoint_timer arrives).
  struct checkpoint_task {
    storage::checkpoint_job job;
    result<storage::log_position> outcome{storage::log_position{}};
  };
  std::shared_ptr<checkpoint_task> checkpoint;
  // After a failed checkpoint the next waits for this much log (0: none
  // failed), so that a full disk does not rewrite the snapshot every flush.
  uint64_t checkpoint_retry_bytes = 0;
  bool retransmit_armed = false;
  time_point replica_heard_at;  // last OK answer from the replica
  time_point went_async_at;     // when the master stopped waiting for it
  time_point last_probe_at;     // last empty batch sent to a silent replica
  bool sync_timer_armed = false;
  // The replica counts for acknowledgements again, but the aggregator has
  // not confirmed it in sync yet: ask again at the next sync check.
  bool sync_unconfirmed = false;

  // Replica side: requests acknowledged after the next flush.
  std::deque<envelope_ptr> replica_acks;
  // A replica takes replication only once its master checked its history
  // (rebuild.proto); an instance created empty for its master starts joined.
  bool joined = false;
  bool join_pending = false;
  bool join_timer_armed = false;
  struct incoming_snapshot {
    uint64_t rebuild_id = 0;
    uint64_t next_seq = 0;
    std::unique_ptr<storage::snapshot_receiver> file;
    bool installed = false; // the snapshot part is in; log records follow
  };
  std::optional<incoming_snapshot> incoming;
  time_point last_chunk_at;
  uint64_t discards = 0;

  // Master side: the snapshot being streamed to a rebuilding replica.
  struct outgoing_snapshot {
    uint64_t id = 0;
    std::string replica;
    storage::snapshot_source source;
    storage::log_position position;
    uint64_t snapshot_next = 0; // offset into the snapshot part
    size_t log_next = 0;        // offset into source.log
    uint64_t seq = 0;
    uint64_t acked_seq = 0; // chunks confirmed
    uint64_t chunks = 0;    // 0 until the last chunk is built
    int inflight = 0;
    uint64_t bytes_total = 0;
    uint64_t bytes_done = 0;
    bool diverged = false;
    std::string reason;
  };
  std::optional<outgoing_snapshot> outgoing;
  uint64_t rebuild_seq = 0;

  // A master handing over to its replica (StepDownRequest).
  envelope_ptr step_down;
  time_point step_down_deadline;

  bool flush_scheduled = false;

  // Idempotent retries: write id -> last LSN of that write.
  write_id_window write_ids{max_remembered_write_ids};

  std::string ctx() const {
    return "[leaf=" + cfg.leaf + " part=" + label + " term="
           + std::to_string(term) + "]";
  }
};

using self_ptr = partition_actor::stateful_pointer<partition_state>;

const char* role_name(pb::Role r) {
  switch (r) {
    case pb::MASTER:
      return "master";
    case pb::REPLICA:
      return "replica";
    case pb::ORPHAN:
      return "orphan";
    default:
      return "none";
  }
}

void reply_write(self_ptr self, const envelope& req, pb::Status status,
                 const std::string& error, uint64_t lsn = 0,
                 uint64_t affected = 0) {
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

std::string not_master_text(const partition_state& st) {
  if (st.deposed)
    return "partition " + st.label + " on leaf " + st.cfg.leaf
           + " was deposed by a newer term than " + std::to_string(st.term);
  return "partition " + st.label + " on leaf " + st.cfg.leaf
         + " is not master (role " + role_name(st.role) + ", term "
         + std::to_string(st.term) + ")";
}

bool serving_master(const partition_state& st) {
  return st.role == pb::MASTER && !st.deposed && st.failure.empty()
         && !st.step_down;
}

bool replica_required(const partition_state& st) {
  return st.role == pb::MASTER && !st.peer.empty() && st.peer_in_sync;
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
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  for (auto& w : waiting)
    reply_write(self, *w.req, status, why);
}

void advance_commit(self_ptr self) {
  auto& st = self->state;
  auto commit = st.cfg.store->flushed().lsn;
  if (replica_required(st))
    commit = std::min(commit, st.replica_match);
  st.commit_lsn = std::max(st.commit_lsn, commit);
  while (!st.waiting.empty() && st.waiting.front().lsn <= st.commit_lsn) {
    reply_write(self, *st.waiting.front().req, pb::STATUS_OK, {},
                st.waiting.front().lsn, st.waiting.front().affected);
    st.waiting.pop_front();
  }
}

void step_down(self_ptr self, uint64_t newer_term) {
  auto& st = self->state;
  if (st.deposed)
    return;
  LG_PROBE(master_deposed, "a master learned of a newer term and stopped");
  logger("partition")->warn("MasterDeposed {} replica reports term {}",
                            st.ctx(), newer_term);
  st.deposed = true;
  st.unacked.clear();
  st.open.reset();
  fail_waiting(self, pb::NOT_MASTER, not_master_text(st));
}

void replicate(self_ptr self);
void pump_snapshot(self_ptr self);
void request_sync_change(self_ptr self, bool in_sync);
void start_join(self_ptr self);

/// Forgets the send state so that every unconfirmed batch goes out again.
void rewind_replication(partition_state& st) {
  ++st.repl_generation;
  st.inflight = 0;
  st.next_to_send = 0;
}

/// Answers a pending StepDownRequest once the replica holds every entry
/// (or with FAILED at its deadline, serving again).
void check_step_down(self_ptr self, bool expired = false) {
  auto& st = self->state;
  if (!st.step_down)
    return;
  auto* store = st.cfg.store.get();
  bool done = st.role == pb::MASTER && !st.deposed && st.peer_in_sync
              && st.replica_match >= store->last().lsn
              && store->flushed().lsn >= store->last().lsn;
  if (!done && !expired && st.role == pb::MASTER && !st.deposed)
    return;
  auto req = std::move(st.step_down);
  st.step_down.reset();
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
                    + std::to_string(st.replica_match) + " of "
                    + std::to_string(store->last().lsn) + ")");
    LG_PROBE(step_down_gave_up, "a master's hand-over timed out; it serves "
                                "again");
  }
  st.ep.reply(self, *req, std::move(rep));
}

void on_replicate_reply(self_ptr self, uint64_t generation,
                        const envelope* rep) {
  auto& st = self->state;
  if (generation != st.repl_generation || st.role != pb::MASTER)
    return;
  if (rep == nullptr) {
    // No answer in time, or no replica there: resend everything the replica
    // has not confirmed, after a pause (an unreachable replica answers at
    // once, and must not make this a busy loop).
    LG_PROBE(replication_retransmit, "a replication batch timed out");
    rewind_replication(st);
    if (!st.retransmit_armed) {
      st.retransmit_armed = true;
      self->delayed_send(self, retransmit_pause, timer_atom::value,
                         retransmit_timer);
    }
    return;
  }
  const auto& body = rep->replicate_reply();
  --st.inflight;
  switch (body.status()) {
    case pb::STATUS_OK:
      st.replica_heard_at = self->clock().now();
      if (body.match_lsn() > st.replica_match) {
        st.replica_match = body.match_lsn();
        st.last_replica_progress = self->clock().now();
        while (!st.unacked.empty()
               && st.unacked.front().last_lsn <= st.replica_match) {
          st.unacked.pop_front();
          if (st.next_to_send > 0)
            --st.next_to_send;
        }
      }
      advance_commit(self);
      replicate(self);
      check_step_down(self);
      // A replica that caught up becomes synchronous again at once.
      if (!st.peer_in_sync && !st.outgoing
          && st.replica_match == st.cfg.store->flushed().lsn
          && st.replica_heard_at > st.went_async_at)
        request_sync_change(self, true);
      return;
    case pb::FENCED:
      LG_PROBE(fenced_write_refused, "a replica refused an older master");
      step_down(self, body.term());
      return;
    default:
      logger("partition")->warn("ReplicationRefused {} from {}: {}", st.ctx(),
                                st.peer, body.error());
      // Resend from the oldest unconfirmed batch after a pause (a batch
      // lost on the way leaves a gap the replica refuses).
      rewind_replication(st);
      if (!st.retransmit_armed) {
        st.retransmit_armed = true;
        self->delayed_send(self, retransmit_pause, timer_atom::value,
                           retransmit_timer);
      }
      return;
  }
}

/// Seals the entries gathered since the last flush into one batch.
void seal_open_batch(partition_state& st) {
  if (!st.open)
    return;
  auto* body = st.open->mutable_replicate_request();
  auto first = body->first_lsn();
  body->set_prev_lsn(first - 1);
  body->set_prev_term(ha::term_at(st.cfg.store->history(), first - 1));
  body->set_commit_lsn(st.commit_lsn);
  auto last = body->last_lsn();
  st.unacked.push_back({std::move(st.open), last, false});
  st.open.reset();
}

void replicate(self_ptr self) {
  auto& st = self->state;
  if (st.role != pb::MASTER || st.peer.empty() || st.deposed || st.outgoing)
    return;
  // The writes that arrived while the replica's window was full go out
  // together, as a Kafka follower's next fetch carries everything since its
  // last: under load batches grow, and the replica's per-batch work (a
  // message each way, a log write) is spread over more writes.
  if (st.inflight < max_inflight_batches
      && st.next_to_send == st.unacked.size())
    seal_open_batch(st);
  auto send = [&](size_t index) {
    auto& b = st.unacked[index];
    auto env = b.env;
    if (b.sent) // a retransmission: the first copy may still be read
      env = std::make_shared<envelope>(*b.env);
    b.sent = true;
    env->mutable_header()->set_term(st.term);
    ++st.inflight;
    auto gen = st.repl_generation;
    st.ep.request(self, st.peer, st.ep.actor(), std::move(env),
                  retransmit_after, [self, gen](const envelope* r) {
                    on_replicate_reply(self, gen, r);
                  });
  };
  if (!st.unacked.empty()
      && st.unacked.front().env->replicate_request().prev_lsn()
           > st.replica_match) {
    // The entries the replica lacks are no longer in memory; the replica
    // must be rebuilt (recovery protocol) rather than streamed to. Show it
    // the oldest batch held: it refuses it as a gap and joins again, and
    // the join starts the rebuild. Without this nudge a replica that is
    // sent nothing never learns that it fell behind.
    LG_PROBE(replica_behind_tail, "a replica fell behind the log tail");
    if (st.inflight == 0)
      send(0);
    return;
  }
  while (st.inflight < max_inflight_batches
         && st.next_to_send < st.unacked.size())
    send(st.next_to_send++);
}

void arm_sync_check(self_ptr self) {
  auto& st = self->state;
  if (st.sync_timer_armed || st.role != pb::MASTER || st.peer.empty())
    return;
  st.sync_timer_armed = true;
  self->delayed_send(self,
                     sync_check_interval(st.cfg.sync_replication_timeout_ms),
                     timer_atom::value, sync_check_timer);
}

void request_sync_change(self_ptr self, bool in_sync) {
  auto& st = self->state;
  if (st.sync_change_pending)
    return;
  st.sync_change_pending = true;
  st.sync_change_in_sync = in_sync;
  if (in_sync) {
    // Require the replica for every acknowledgement from now on, before the
    // aggregator learns it may promote it.
    st.peer_in_sync = true;
  }
  auto env = make_envelope(st.label, st.term);
  auto* body = env->mutable_replica_sync_request();
  body->set_replica(st.peer);
  body->set_in_sync(in_sync);
  body->mutable_master_position()->set_term(st.cfg.store->last().term);
  body->mutable_master_position()->set_lsn(st.cfg.store->last().lsn);
  body->set_known_epoch(st.sync_epoch);
  st.ep.request(
    self, st.cfg.ma_node, "ma", std::move(env), std::chrono::seconds{5},
    [self, in_sync, peer = st.peer](const envelope* rep) {
      auto& st = self->state;
      st.sync_change_pending = false;
      if (rep == nullptr) {
        if (in_sync)
          st.in_sync_unresolved = true;
      } else {
        // Answered, recorded or refused: what the aggregator holds is known.
        st.in_sync_unresolved = false;
        if (peer == st.peer)
          st.sync_epoch = std::max(st.sync_epoch,
                                   rep->replica_sync_reply().sync_epoch());
      }
      if (rep == nullptr
          || rep->replica_sync_reply().status() != pb::STATUS_OK) {
        // Unknown whether the aggregator recorded it. The master still
        // waits for its replica (peer_in_sync), so the replica holds every
        // acknowledged write: the next sync check re-asserts that.
        st.sync_unconfirmed = st.peer_in_sync;
        return;
      }
      if (in_sync && peer == st.peer && st.role == pb::MASTER
          && !st.deposed) {
        // The aggregator counts the replica in sync from now on and may
        // promote it: every acknowledgement must wait for it, whatever an
        // order said meanwhile.
        st.peer_in_sync = true;
      }
      if (in_sync)
        st.sync_unconfirmed = false;
      if (!in_sync) {
        LG_PROBE(replica_dropped_to_async,
                 "a master went on without its silent replica");
        logger("partition")->warn("ReplicaOutOfSync {} replica {} silent",
                                  st.ctx(), st.peer);
        st.peer_in_sync = false;
        st.went_async_at = self->clock().now();
        advance_commit(self);
      } else {
        logger("partition")->info("ReplicaInSync {} replica {}", st.ctx(),
                                  st.peer);
      }
    });
}

/// Sends the replica an empty batch: its answer shows that it is alive and
/// holds everything (so it may become in sync again).
void probe_replica(self_ptr self) {
  auto& st = self->state;
  auto env = make_envelope(st.label, st.term);
  auto* body = env->mutable_replicate_request();
  auto last = st.cfg.store->flushed().lsn;
  body->set_prev_lsn(last);
  body->set_prev_term(ha::term_at(st.cfg.store->history(), last));
  body->set_commit_lsn(st.commit_lsn);
  ++st.inflight;
  auto gen = st.repl_generation;
  st.ep.request(self, st.peer, st.ep.actor(), std::move(env),
                retransmit_after, [self, gen](const envelope* r) {
                  if (r == nullptr && gen == self->state.repl_generation) {
                    --self->state.inflight;
                    return; // still silent; the next sync check probes again
                  }
                  on_replicate_reply(self, gen, r);
                });
}

void on_sync_check(self_ptr self) {
  auto& st = self->state;
  st.sync_timer_armed = false;
  if (st.role != pb::MASTER || st.peer.empty() || st.deposed)
    return;
  auto now = self->clock().now();
  auto silent = now - st.last_replica_progress;
  auto limit = std::chrono::milliseconds{st.cfg.sync_replication_timeout_ms};
  if (st.peer_in_sync && !st.waiting.empty() && silent >= limit)
    request_sync_change(self, false);
  else if (st.peer_in_sync && st.sync_unconfirmed)
    request_sync_change(self, true);
  if (st.inflight == 0 && !st.unacked.empty() && !st.outgoing)
    replicate(self); // nothing in flight but batches unconfirmed: resend
  else if (!st.peer_in_sync && st.replica_heard_at > st.went_async_at
           && st.replica_match == st.cfg.store->flushed().lsn)
    request_sync_change(self, true);
  else if (!st.peer_in_sync && st.inflight == 0 && st.unacked.empty()
           && !st.outgoing && now - st.last_probe_at >= probe_every) {
    st.last_probe_at = now;
    probe_replica(self);
  }
  if (st.waiting.empty())
    st.last_replica_progress = now;
  arm_sync_check(self);
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
      if (*seen <= st.commit_lsn)
        reply_write(self, *env, pb::STATUS_OK, {}, *seen, affected);
      else
        st.waiting.push_back(waiter{*seen, env, affected});
      return;
    }
  }
  auto* store = st.cfg.store.get();
  pb::ReplicateRequest* batch = nullptr;
  if (!st.peer.empty()) {
    if (!st.open)
      st.open = make_envelope(st.label, st.term);
    batch = st.open->mutable_replicate_request();
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
  if (st.waiting.empty())
    st.last_replica_progress = self->clock().now();
  st.waiting.push_back(waiter{lsn, env, affected});
  schedule_flush(self);
}

void on_read(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->read_request();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_read_reply();
  if (!serving_master(st)) {
    body->set_status(st.failure.empty() ? pb::NOT_MASTER : pb::FAILED);
    body->set_error(st.failure.empty() ? not_master_text(st) : st.failure);
  } else {
    body->set_status(pb::STATUS_OK);
    const auto& rows = st.cfg.store->rows();
    switch (req.kind()) {
      case pb::GET: {
        auto i = rows.find(req.key());
        if (i != rows.end()) {
          auto* row = body->add_rows();
          row->set_key(i->first);
          row->set_value(i->second);
        }
        break;
      }
      case pb::SCAN:
        body->mutable_rows()->Reserve(static_cast<int>(rows.size()));
        for (auto& kvp : rows) {
          auto* row = body->add_rows();
          row->set_key(kvp.first);
          row->set_value(kvp.second);
        }
        break;
      default:
        body->set_count(rows.size());
    }
  }
  st.ep.reply(self, *env, std::move(rep));
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
  if ((st.role != pb::REPLICA && !bugs::skip_term_fence)
      || !st.failure.empty()) {
    refuse(pb::FAILED, not_master_text(st));
    return;
  }
  if (!st.joined && !bugs::skip_term_fence) {
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
    st.joined = false;
    start_join(self);
    return;
  }
  if (req.prev_lsn() > 0
      && ha::term_at(store->history(), req.prev_lsn()) != req.prev_term()) {
    LG_PROBE(replica_history_mismatch,
             "a replica's history disagreed with its master's");
    refuse(pb::FAILED, "history mismatch at lsn "
                         + std::to_string(req.prev_lsn()));
    st.joined = false;
    start_join(self);
    return;
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
  st.replica_acks.push_back(env);
  schedule_flush(self);
}

/// Seals the log and folds it into the snapshot off the actor (see
/// partition_store.hpp); writes go on meanwhile. end_checkpoint follows.
void start_checkpoint(self_ptr self) {
  auto& st = self->state;
  auto job = st.cfg.store->begin_checkpoint();
  if (!job) {
    logger("partition")->error("CheckpointFailed {} {}", st.ctx(),
                               job.err().to_string());
    st.checkpoint_retry_bytes = st.cfg.store->log_bytes()
                                + st.cfg.checkpoint_log_bytes;
    return;
  }
  auto task = std::make_shared<partition_state::checkpoint_task>();
  task->job = std::move(*job);
  st.checkpoint = task;
  if (!st.cfg.checkpoints) {
    // Inline, yet finished by a message of its own, as off the actor.
    task->outcome = task->job.run();
    self->send(self, timer_atom::value, checkpoint_timer);
    return;
  }
  caf::weak_actor_ptr weak = self->ctrl();
  st.cfg.checkpoints->post([task, weak] {
    task->outcome = task->job.run();
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), timer_atom::value,
                     checkpoint_timer);
  });
}

void end_checkpoint(self_ptr self) {
  auto& st = self->state;
  if (!st.checkpoint)
    return;
  auto task = std::move(st.checkpoint);
  st.checkpoint.reset();
  // A copy replaced meanwhile (rebuilt, discarded) drops the job's result.
  bool current = st.cfg.store->checkpoint_open();
  if (auto err = st.cfg.store->end_checkpoint(task->job, task->outcome)) {
    logger("partition")->error("CheckpointFailed {} {}", st.ctx(),
                               err.to_string());
    st.checkpoint_retry_bytes = st.cfg.store->log_bytes()
                                + st.cfg.checkpoint_log_bytes;
  } else if (!current)
    logger("partition")->info("CheckpointDiscarded {}: the copy was "
                              "replaced while it ran",
                              st.ctx());
  else {
    auto folded = st.cfg.store->take_folded_logs();
    auto fs = st.cfg.store_fs;
    auto remove = [fs, folded] {
      for (auto& path : folded)
        fs->remove_all(path);
    };
    if (st.cfg.checkpoints)
      st.cfg.checkpoints->post(remove);
    else
      remove();
    st.checkpoint_retry_bytes = 0;
    LG_PROBE(checkpoint_folded, "a checkpoint folded a sealed log into the "
                                "snapshot while writes went on");
    logger("partition")->info("Checkpointed {} at lsn {}", st.ctx(),
                              task->outcome->lsn);
  }
}

void on_flush(self_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (auto err = st.cfg.store->flush()) {
    LG_PROBE(storage_flush_failed, "an instance failed to write its log");
    st.failure = "partition " + st.label + " on leaf " + st.cfg.leaf
                 + " failed to write its log: " + err.to_string();
    logger("partition")->error("InstanceFailed {} {}", st.ctx(), st.failure);
    auto leaf_dir = st.cfg.discard_dir.substr(
      0, st.cfg.discard_dir.rfind('/'));
    st.cfg.fab->dump_recent("instance " + st.label + " failed",
                            leaf_dir.empty() ? "/tmp" : leaf_dir);
    fail_waiting(self, pb::FAILED, st.failure);
  }
  // Only after a flush that succeeded: a failed write must fail the
  // instance, not be retried by the checkpoint's own flush.
  if (st.failure.empty() && !st.checkpoint
      && st.cfg.store->log_bytes()
           > std::max(st.cfg.checkpoint_log_bytes, st.checkpoint_retry_bytes))
    start_checkpoint(self);
  if (st.role == pb::MASTER) {
    replicate(self);
    advance_commit(self);
    check_step_down(self);
    return;
  }
  auto acks = std::move(st.replica_acks);
  st.replica_acks.clear();
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

void fill_state(partition_state& st, pb::InstanceState& out) {
  st.cfg.store->apply_pending();
  out.set_database(st.cfg.database);
  out.set_ordinal(st.cfg.ordinal);
  out.set_role(st.role);
  out.set_term(st.term);
  out.mutable_position()->set_term(st.cfg.store->last().term);
  out.mutable_position()->set_lsn(st.cfg.store->last().lsn);
  out.set_checksum(st.cfg.store->checksum());
  for (auto& h : st.cfg.store->history()) {
    auto* x = out.add_history();
    x->set_term(h.term);
    x->set_start_lsn(h.start_lsn);
  }
  if (!st.failure.empty())
    out.set_state("failed: " + st.failure);
  else if (st.incoming)
    out.set_state("rebuilding");
  else if (st.role == pb::REPLICA && !st.joined)
    out.set_state("joining");
  else
    out.set_state("online");
  if (st.outgoing) {
    out.set_rebuild_bytes_done(st.outgoing->bytes_done);
    out.set_rebuild_bytes_total(st.outgoing->bytes_total);
  }
  out.set_peer(st.peer);
  out.set_peer_in_sync(st.peer_in_sync);
  out.set_sync_durability(st.cfg.store->mode() == storage::durability::sync);
}

// -- rebuild (messages/rebuild.proto) ----------------------------------------

void report_progress(self_ptr self, bool finished, bool failed,
                     const std::string& error) {
  auto& st = self->state;
  if (!st.outgoing)
    return;
  auto& o = *st.outgoing;
  auto env = make_envelope(st.label, st.term);
  auto* body = env->mutable_rebuild_progress();
  body->set_replica(o.replica);
  body->set_bytes_done(o.bytes_done);
  body->set_bytes_total(o.bytes_total);
  body->set_finished(finished);
  body->set_failed(failed);
  body->set_error(error);
  body->set_diverged(o.diverged);
  body->set_reason(o.reason);
  st.ep.send(self, st.cfg.ma_node, "ma", std::move(env));
}

void abort_rebuild(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (!st.outgoing)
    return;
  logger("partition")->warn("RebuildAborted {} replica {}: {}", st.ctx(),
                            st.outgoing->replica, why);
  report_progress(self, false, true, why);
  st.outgoing.reset();
}

void arm_join_timer(self_ptr self) {
  auto& st = self->state;
  if (st.join_timer_armed)
    return;
  st.join_timer_armed = true;
  self->delayed_send(self, join_retry, timer_atom::value, join_timer);
}

void on_step_down(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->step_down_request();
  if (st.role != pb::MASTER || st.deposed || req.term() != st.term
      || st.peer.empty() || !st.peer_in_sync || st.step_down) {
    auto rep = make_envelope(st.label, st.term);
    auto* body = rep->mutable_step_down_reply();
    body->set_status(pb::CONFLICT);
    body->set_error("partition " + st.label + " on leaf " + st.cfg.leaf
                    + " cannot hand over: not a master at term "
                    + std::to_string(req.term()) + " with an in-sync replica");
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  st.step_down = env;
  st.step_down_deadline = self->clock().now()
                          + std::chrono::milliseconds{
                            std::max<int64_t>(req.timeout_ms(), 1)};
  // Writes already logged still complete; new ones go to the next master.
  schedule_flush(self);
  self->delayed_send(self, std::chrono::milliseconds{
                             std::max<int64_t>(req.timeout_ms(), 1)},
                     timer_atom::value, step_down_timer);
  check_step_down(self);
}

/// Replica: asks its master to check its history (step 2).
void start_join(self_ptr self) {
  auto& st = self->state;
  if (st.role != pb::REPLICA || st.peer.empty() || st.joined
      || st.join_pending || !st.failure.empty())
    return;
  st.join_pending = true;
  st.incoming.reset();
  auto env = make_envelope(st.label, st.term);
  auto* body = env->mutable_join_request();
  body->mutable_last()->set_term(st.cfg.store->last().term);
  body->mutable_last()->set_lsn(st.cfg.store->last().lsn);
  for (auto& h : st.cfg.store->history()) {
    auto* x = body->add_history();
    x->set_term(h.term);
    x->set_start_lsn(h.start_lsn);
  }
  auto peer = st.peer;
  st.ep.request(
    self, peer, st.ep.actor(), std::move(env), join_timeout,
    [self, peer](const envelope* rep) {
      auto& st = self->state;
      st.join_pending = false;
      if (st.role != pb::REPLICA || st.peer != peer || st.joined)
        return;
      if (rep == nullptr || rep->join_reply().status() != pb::STATUS_OK) {
        logger("partition")->debug("JoinRefused {} by {}: {}", st.ctx(), peer,
                                   rep ? rep->join_reply().error()
                                       : std::string{"no answer"});
        arm_join_timer(self);
        return;
      }
      const auto& body = rep->join_reply();
      if (body.mode() == pb::CATCH_UP) {
        st.joined = true;
        logger("partition")->info("ReplicaJoined {} master {} catching up "
                                  "from lsn {}",
                                  st.ctx(), peer, st.cfg.store->last().lsn);
        return;
      }
      // SNAPSHOT: chunks follow. If they stop coming, join again.
      st.last_chunk_at = self->clock().now();
      arm_join_timer(self);
    });
}

void on_join_timer(self_ptr self) {
  auto& st = self->state;
  st.join_timer_armed = false;
  if (st.role != pb::REPLICA || st.joined)
    return;
  if (!st.join_pending
      && self->clock().now() - st.last_chunk_at >= join_timeout)
    start_join(self);
  arm_join_timer(self);
}

/// Master: decides between catch-up and rebuild (step 3).
void on_join_request(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->join_request();
  const auto& from = env->header().from().node();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_join_reply();
  if (!serving_master(st) || st.peer != from) {
    body->set_status(pb::NOT_MASTER);
    body->set_error("partition " + st.label + " on leaf " + st.cfg.leaf
                    + " is not the master of a replica on " + from
                    + " (yet)");
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  std::vector<storage::term_start> copy_hist;
  for (auto& h : req.history())
    copy_hist.push_back({h.term(), h.start_lsn()});
  storage::log_position copy_last{req.last().term(), req.last().lsn()};
  auto* store = st.cfg.store.get();
  auto check = ha::check_divergence(copy_hist, copy_last, store->history(),
                                    store->last());
  // The first entry the master still holds in memory for the replica.
  uint64_t first_kept = store->last().lsn + 1;
  if (!st.unacked.empty())
    first_kept = st.unacked.front().env->replicate_request().prev_lsn() + 1;
  else if (st.open && !st.open->replicate_request().records().empty())
    first_kept = st.open->replicate_request().first_lsn();
  abort_rebuild(self, "the replica joined again");
  if (!check.diverged && copy_last.lsn + 1 >= first_kept) {
    while (!st.unacked.empty() && st.unacked.front().last_lsn <= copy_last.lsn)
      st.unacked.pop_front();
    st.replica_match = copy_last.lsn;
    st.last_replica_progress = self->clock().now();
    rewind_replication(st);
    body->set_status(pb::STATUS_OK);
    body->set_mode(pb::CATCH_UP);
    st.ep.reply(self, *env, std::move(rep));
    logger("partition")->info("ReplicaCatchingUp {} replica {} from lsn {}",
                              st.ctx(), from, copy_last.lsn);
    st.replica_heard_at = self->clock().now();
    replicate(self);
    if (st.replica_match == store->flushed().lsn && st.unacked.empty()
        && !st.open)
      request_sync_change(self, true); // nothing to catch up
    return;
  }
  if (auto err = store->flush()) {
    body->set_status(pb::FAILED);
    body->set_error(err.to_string());
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  st.outgoing.emplace();
  auto& o = *st.outgoing;
  o.id = ++st.rebuild_seq;
  o.replica = from;
  auto source = store->open_snapshot_source();
  if (!source) {
    st.outgoing.reset();
    body->set_status(pb::FAILED);
    body->set_error("partition " + st.label + " cannot read its snapshot: "
                    + source.err().to_string());
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  o.source = std::move(*source);
  o.position = o.source.position;
  o.bytes_total = o.source.snapshot_bytes() + o.source.log.size();
  o.diverged = check.diverged;
  o.reason = check.diverged
               ? check.reason
               : "the master no longer holds the entries after lsn "
                   + std::to_string(copy_last.lsn) + " in memory";
  // Everything up to the snapshot travels in it.
  auto s_lsn = o.position.lsn;
  while (!st.unacked.empty() && st.unacked.front().last_lsn <= s_lsn)
    st.unacked.pop_front();
  st.open.reset();
  rewind_replication(st);
  body->set_status(pb::STATUS_OK);
  body->set_mode(pb::SNAPSHOT);
  body->set_diverged(check.diverged);
  body->set_reason(o.reason);
  st.ep.reply(self, *env, std::move(rep));
  if (check.diverged)
    LG_PROBE(diverged_copy_rebuilt, "a diverged copy is rebuilt");
  logger("partition")->warn("RebuildStarted {} replica {} snapshot at lsn {} "
                            "({} bytes): {}",
                            st.ctx(), from, s_lsn, o.bytes_total, o.reason);
  report_progress(self, false, false, {});
  pump_snapshot(self);
}

void on_chunk_reply(self_ptr self, uint64_t id, uint64_t bytes,
                    bool last, const envelope* rep) {
  auto& st = self->state;
  if (!st.outgoing || st.outgoing->id != id)
    return;
  auto& o = *st.outgoing;
  if (rep == nullptr || rep->snapshot_chunk_reply().status() != pb::STATUS_OK) {
    abort_rebuild(self, rep ? rep->snapshot_chunk_reply().error()
                            : std::string{"a snapshot chunk timed out"});
    return;
  }
  --o.inflight;
  o.bytes_done += bytes;
  ++o.acked_seq;
  if (last) {
    st.replica_match = o.position.lsn;
    auto now = self->clock().now();
    st.last_replica_progress = now;
    st.replica_heard_at = now;
    logger("partition")->warn("RebuildFinished {} replica {} at lsn {} "
                              "({} bytes)",
                              st.ctx(), o.replica, st.replica_match,
                              o.bytes_done);
    report_progress(self, true, false, {});
    st.outgoing.reset();
    rewind_replication(st);
    replicate(self);
    if (st.replica_match == st.cfg.store->flushed().lsn && st.unacked.empty())
      request_sync_change(self, true);
    return;
  }
  if (o.acked_seq % progress_every_chunks == 0)
    report_progress(self, false, false, {});
  pump_snapshot(self);
}

/// Master: keeps chunk_window snapshot chunks in flight (step 4).
void pump_snapshot(self_ptr self) {
  auto& st = self->state;
  while (st.outgoing && st.outgoing->inflight < chunk_window
         && st.outgoing->chunks == 0) {
    auto& o = *st.outgoing;
    auto env = make_envelope(st.label, st.term);
    auto* body = env->mutable_snapshot_chunk();
    body->set_rebuild_id(o.id);
    body->set_seq(o.seq++);
    body->set_total_bytes(o.bytes_total);
    if (body->seq() == 0) {
      body->set_diverged(o.diverged);
      body->set_reason(o.reason);
    }
    uint64_t bytes = 0;
    auto& src = o.source;
    if (o.snapshot_next < src.snapshot_bytes()) {
      // The snapshot file, as it is on disk.
      auto data = src.read_snapshot(o.snapshot_next, chunk_bytes);
      if (!data || data->empty()) {
        abort_rebuild(self, "reading the snapshot at offset "
                              + std::to_string(o.snapshot_next) + " failed: "
                              + (data ? std::string{"the file ended early"}
                                      : data.err().to_string()));
        return;
      }
      bytes = data->size();
      o.snapshot_next += bytes;
      body->set_data(std::move(*data));
    } else {
      // Then the log after it, in whole records.
      std::string_view log{src.log};
      auto end = o.log_next;
      while (end < log.size() && end - o.log_next < chunk_bytes) {
        auto len = storage::record_length(log.substr(end));
        if (len == 0) {
          abort_rebuild(self, "the log ends in a torn record at offset "
                                + std::to_string(end));
          return;
        }
        end += len;
      }
      bytes = end - o.log_next;
      body->set_log(log.data() + o.log_next, bytes);
      o.log_next = end;
    }
    bool last = o.snapshot_next == src.snapshot_bytes()
                && o.log_next == src.log.size();
    if (last) {
      o.chunks = o.seq;
      body->set_last(true);
      body->mutable_position()->set_term(o.position.term);
      body->mutable_position()->set_lsn(o.position.lsn);
      o.source = {};
    }
    ++o.inflight;
    auto id = o.id;
    st.ep.request(self, o.replica, st.ep.actor(), std::move(env),
                  chunk_timeout, [self, id, bytes, last](const envelope* r) {
                    on_chunk_reply(self, id, bytes, last, r);
                  });
  }
}

/// Replica: moves a diverged copy aside, where an operator can inspect it.
error discard_copy(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  auto* store = st.cfg.store.get();
  auto& fs = *st.cfg.store_fs;
  auto to = st.cfg.discard_dir + "/" + st.cfg.database + "."
            + std::to_string(st.cfg.ordinal) + "-t"
            + std::to_string(store->last().term) + "-l"
            + std::to_string(store->last().lsn) + "-"
            + std::to_string(++st.discards) + "-"
            + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                               self->clock().now().time_since_epoch())
                               .count());
  if (auto err = fs.make_dirs(st.cfg.discard_dir))
    return err;
  store->cancel_checkpoint(); // its files go with the copy
  if (auto err = fs.rename(store->dir(), to))
    return err;
  pb::InstanceDescriptor desc;
  desc.set_database(st.cfg.database);
  desc.set_ordinal(st.cfg.ordinal);
  desc.set_sync_durability(store->mode() == storage::durability::sync);
  if (auto err = fs.make_dirs(store->dir()))
    return err;
  if (auto err = fs.write_atomic(store->dir() + "/descriptor.pb",
                                 desc.SerializeAsString()))
    return err;
  LG_PROBE(diverged_copy_discarded, "a diverged copy was moved aside");
  logger("partition")->warn("CopyDiscarded {} moved to {}: diverged from its "
                            "master ({})",
                            st.ctx(), to, reason);
  return {};
}

void on_snapshot_chunk(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->snapshot_chunk();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_snapshot_chunk_reply();
  body->set_seq(req.seq());
  auto refuse = [&](const std::string& why) {
    body->set_status(pb::FAILED);
    body->set_error(why);
    st.ep.reply(self, *env, std::move(rep));
  };
  if (st.role != pb::REPLICA || env->header().from().node() != st.peer
      || env->header().term() < st.term || !st.failure.empty()) {
    refuse("partition " + st.label + " on leaf " + st.cfg.leaf
           + " does not take a snapshot from "
           + env->header().from().node());
    return;
  }
  st.last_chunk_at = self->clock().now();
  if (req.seq() == 0) {
    st.joined = false;
    st.incoming.emplace();
    st.incoming->rebuild_id = req.rebuild_id();
    if (req.diverged()) {
      if (auto err = discard_copy(self, req.reason())) {
        st.incoming.reset();
        refuse("could not move the diverged copy aside: " + err.to_string());
        return;
      }
    }
  } else if (!st.incoming || st.incoming->rebuild_id != req.rebuild_id()
             || st.incoming->next_seq != req.seq()) {
    refuse("snapshot chunk " + std::to_string(req.seq())
           + " arrived out of order");
    return;
  }
  auto& in = *st.incoming;
  in.next_seq = req.seq() + 1;
  if (!in.file) {
    auto file = st.cfg.store->receive_snapshot(st.cfg.snapshot_writes);
    if (!file) {
      st.incoming.reset();
      refuse("could not start receiving the snapshot: "
             + file.err().to_string());
      return;
    }
    in.file = std::move(*file);
  }
  if (!req.data().empty()) {
    if (in.installed) {
      st.incoming.reset();
      refuse("snapshot chunk " + std::to_string(req.seq())
             + " carries snapshot bytes after the whole snapshot");
      return;
    }
    if (auto err = in.file->feed(req.data(), env)) {
      st.incoming.reset();
      refuse("snapshot chunk " + std::to_string(req.seq())
             + " was refused: " + err.to_string());
      return;
    }
    if (in.file->complete()) {
      if (auto err = st.cfg.store->install(*in.file)) {
        st.incoming.reset();
        refuse("could not install the snapshot: " + err.to_string());
        return;
      }
      in.installed = true;
      st.write_ids.clear();
    }
  }
  if (!req.log().empty() || req.last()) {
    auto* store = st.cfg.store.get();
    error err;
    if (!in.installed)
      err = make_error(storage::errc::bad_format,
                       "log records arrived before the whole snapshot");
    if (!err)
      err = store->append_log_bytes(
        req.log(),
        [&st](const storage::log_record_view& rec) {
          st.write_ids.note(rec.write_id, rec.lsn);
        },
        env->header().term());
    if (!err)
      err = store->flush();
    if (err) {
      st.incoming.reset();
      refuse("snapshot chunk " + std::to_string(req.seq())
             + ": could not append its log: " + err.to_string());
      return;
    }
    if (store->pending_apply_bytes() > max_deferred_apply_bytes)
      store->apply_pending();
  }
  if (req.last()) {
    auto* store = st.cfg.store.get();
    storage::log_position end{req.position().term(), req.position().lsn()};
    st.incoming.reset();
    if (store->last() != end) {
      refuse("the rebuilt copy ends at term "
             + std::to_string(store->last().term) + ", lsn "
             + std::to_string(store->last().lsn) + ", not at the master's "
             + std::to_string(end.term) + ", " + std::to_string(end.lsn));
      return;
    }
    st.joined = true;
    st.write_ids.clear();
    st.term = std::max(st.term, env->header().term());
    logger("partition")->warn("ReplicaRebuilt {} from {} at lsn {} ({} rows "
                              "applied, {} bytes of log still to apply)",
                              st.ctx(), st.peer, st.cfg.store->last().lsn,
                              st.cfg.store->rows().size(),
                              st.cfg.store->pending_apply_bytes());
  }
  body->set_status(pb::STATUS_OK);
  st.ep.reply(self, *env, std::move(rep));
}

void become(self_ptr self, pb::Role role, uint64_t term,
            const std::string& peer, bool peer_in_sync, bool fresh = false) {
  auto& st = self->state;
  if (st.role == pb::MASTER && role != pb::MASTER)
    fail_waiting(self, pb::NOT_MASTER, not_master_text(st));
  if (st.outgoing && (role != pb::MASTER || peer != st.outgoing->replica))
    abort_rebuild(self, "the master's role changed");
  if (st.step_down)
    check_step_down(self, true);
  // A master serves its rows, and looks up the write ids of retries: apply
  // what it received as a replica and index its write ids.
  st.cfg.store->apply_pending();
  st.write_ids.set_indexed(role == pb::MASTER);
  st.role = role;
  st.term = std::max(st.term, term);
  st.peer = peer;
  st.peer_in_sync = peer_in_sync;
  if (!peer_in_sync)
    st.went_async_at = self->clock().now();
  st.deposed = false;
  st.sync_unconfirmed = false;
  st.unacked.clear();
  st.open.reset();
  rewind_replication(st);
  auto last = st.cfg.store->flushed().lsn;
  st.commit_lsn = std::max(st.commit_lsn, last);
  st.replica_match = last;
  st.last_replica_progress = self->clock().now();
  arm_sync_check(self);
  st.incoming.reset();
  if (role == pb::REPLICA && !peer.empty()) {
    // An instance created empty for its master has nothing to check.
    st.joined = fresh;
    if (!fresh)
      start_join(self);
  } else {
    st.joined = false;
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
                              st.ctx(), role_name(req.role()), req.term(),
                              req.version(), st.term, st.order_version);
    auto rep = make_envelope(st.label, st.term);
    auto* body = rep->mutable_set_role_reply();
    body->set_status(pb::STATUS_OK);
    body->mutable_position()->set_term(st.cfg.store->last().term);
    body->mutable_position()->set_lsn(st.cfg.store->last().lsn);
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  st.order_version = std::max(st.order_version, req.version());
  if (req.sync_replication_timeout_ms() > 0)
    st.cfg.sync_replication_timeout_ms = req.sync_replication_timeout_ms();
  if (auto err = st.cfg.store->flush())
    st.failure = err.to_string();
  bool unchanged = req.role() == st.role && req.term() == st.term
                   && req.peer() == st.peer && !st.deposed;
  // Re-sending the same role only updates settings; replication goes on.
  if (!unchanged) {
    become(self, req.role(), req.term(), req.peer(), req.peer_in_sync());
    st.sync_epoch = req.peer_sync_epoch();
    st.in_sync_unresolved = false;
  } else if (st.role == pb::MASTER && st.peer_in_sync
             && !req.peer_in_sync()) {
    if ((st.sync_change_pending && st.sync_change_in_sync)
        || st.in_sync_unresolved || req.peer_sync_epoch() < st.sync_epoch) {
      // Decided before the aggregator recorded this master's in-sync
      // request (recovery.proto step 5): it may count the replica in sync
      // already, so the master must keep waiting for it.
      LG_PROBE(stale_async_order_ignored,
               "a master kept waiting for a replica that an older order "
               "called out of sync");
      logger("partition")->info("StaleAsyncOrderIgnored {} epoch {} < {}{}",
                                st.ctx(), req.peer_sync_epoch(),
                                st.sync_epoch,
                                st.sync_change_pending
                                  ? " (an in-sync request is pending)"
                                  : "");
    } else {
      // The aggregator already recorded the replica out of sync (its leaf
      // failed): stop waiting for it.
      st.peer_in_sync = false;
      st.went_async_at = self->clock().now();
      advance_commit(self);
    }
  } else if (st.role == pb::MASTER && !st.peer_in_sync
             && req.peer_in_sync()) {
    // The aggregator counts the replica in sync: acknowledgements wait for
    // it again (if it is silent, the sync check asks to drop it).
    st.peer_in_sync = true;
  }
  if (unchanged)
    st.sync_epoch = std::max(st.sync_epoch, req.peer_sync_epoch());
  logger("partition")->info("RoleAssigned {} role={} peer={}", st.ctx(),
                            role_name(st.role), st.peer);
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_set_role_reply();
  body->set_status(st.failure.empty() ? pb::STATUS_OK : pb::FAILED);
  body->set_error(st.failure);
  body->mutable_position()->set_term(st.cfg.store->last().term);
  body->mutable_position()->set_lsn(st.cfg.store->last().lsn);
  st.ep.reply(self, *env, std::move(rep));
}

void on_promote(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->promote_request();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_promote_reply();
  if (req.term() <= st.term && st.role == pb::MASTER) {
    body->set_status(pb::CONFLICT);
    body->set_error("already master at term " + std::to_string(st.term));
  } else if (!st.failure.empty()) {
    body->set_status(pb::FAILED);
    body->set_error(st.failure);
  } else {
    if (auto err = st.cfg.store->flush())
      st.failure = err.to_string();
    become(self, pb::MASTER, req.term(), std::string{}, false);
    logger("partition")->info("ReplicaPromoted {} at lsn {}", st.ctx(),
                              st.cfg.store->last().lsn);
    body->set_status(pb::STATUS_OK);
    rep->mutable_header()->set_term(st.term);
  }
  body->mutable_position()->set_term(st.cfg.store->last().term);
  body->mutable_position()->set_lsn(st.cfg.store->last().lsn);
  st.ep.reply(self, *env, std::move(rep));
}

/// Creates a new instance's directory, descriptor and empty store.
error create_storage(partition_state& st) {
  auto& store = *st.cfg.store;
  auto fs = st.cfg.store_fs;
  if (auto err = fs->make_dirs(store.dir()))
    return err;
  if (auto err = fs->write_atomic(store.dir() + "/descriptor.pb",
                                  st.cfg.descriptor))
    return err;
  auto report = store.open();
  if (!report.ok())
    return report.err();
  return {};
}

partition_actor::behavior_type
partition_impl(self_ptr self, partition_config cfg) {
  auto& st = self->state;
  st.label = partition_label(cfg.database, cfg.ordinal);
  st.name = partition_actor_name(cfg.database, cfg.ordinal) + "@" + cfg.leaf;
  st.ep = endpoint{cfg.fab, cfg.leaf,
                   partition_actor_name(cfg.database, cfg.ordinal)};
  st.cfg = std::move(cfg);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  // An instance created empty for its master has nothing to check; one
  // created to replace a lost copy joins and is rebuilt.
  bool created = st.cfg.create_request != nullptr && !st.cfg.rebuild;
  if (st.cfg.create_request) {
    auto req = std::move(st.cfg.create_request);
    auto rep = make_envelope(st.label);
    auto* body = rep->mutable_create_instance_reply();
    auto err = create_storage(st);
    body->set_status(err ? pb::FAILED : pb::STATUS_OK);
    if (err) {
      body->set_error(err.to_string());
      st.failure = "partition " + st.label + " on leaf " + st.cfg.leaf
                   + " could not be created: " + err.to_string();
      logger("partition")->error("InstanceCreateFailed {} {}", st.ctx(),
                                 st.failure);
    }
    st.ep.reply(self, *req, std::move(rep));
  }
  become(self, st.cfg.role, st.cfg.term, st.cfg.peer, st.cfg.peer_in_sync,
         /*fresh=*/created);
  st.term = std::max(st.term, st.cfg.store->last().term);
  return {
    [self](wire& msg) {
      auto& st = self->state;
      if (!st.ep.receive(msg))
        return;
      const auto& env = msg.env;
      switch (env->body_case()) {
        case envelope::kWriteRequest:
          on_write(self, env);
          break;
        case envelope::kReadRequest:
          on_read(self, env);
          break;
        case envelope::kReplicateRequest:
          on_replicate(self, env);
          break;
        case envelope::kSetRoleRequest:
          on_set_role(self, env);
          break;
        case envelope::kPromoteRequest:
          on_promote(self, env);
          break;
        case envelope::kJoinRequest:
          on_join_request(self, env);
          break;
        case envelope::kStepDownRequest:
          on_step_down(self, env);
          break;
        case envelope::kSnapshotChunk:
          on_snapshot_chunk(self, env);
          break;
        case envelope::kInstanceStatusRequest: {
          auto rep = make_envelope(st.label, st.term);
          fill_state(st, *rep->mutable_instance_status_reply()->mutable_instance());
          st.ep.reply(self, *env, std::move(rep));
          break;
        }
        default:
          logger("partition")->warn("UnexpectedMessage {} {}", st.ctx(),
                                    body_name(*env));
      }
    },
    [self](flush_atom) { on_flush(self); },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](timer_atom, uint64_t id) {
      if (id == sync_check_timer) {
        on_sync_check(self);
      } else if (id == retransmit_timer) {
        self->state.retransmit_armed = false;
        replicate(self);
      } else if (id == join_timer) {
        on_join_timer(self);
      } else if (id == step_down_timer) {
        auto& st = self->state;
        if (st.step_down && self->clock().now() >= st.step_down_deadline)
          check_step_down(self, true);
      } else if (id == checkpoint_timer) {
        end_checkpoint(self);
      }
    },
  };
}

} // namespace

partition_actor spawn_partition(caf::local_actor* parent,
                                partition_config cfg) {
  // Registered by the spawner, so that nobody can address the instance
  // before its initialization has run.
  auto fab = cfg.fab;
  auto node = cfg.leaf;
  auto name = partition_actor_name(cfg.database, cfg.ordinal);
  // Spawned through the system, not the parent, so that a detached leaf
  // hands the instance to the worker pool instead of running it on its own
  // thread; linked, so that it dies with its leaf.
  auto handle = parent->home_system().spawn(partition_impl, std::move(cfg));
  parent->link_to(handle);
  fab->add_endpoint(node, name, caf::actor_cast<caf::actor>(handle));
  return handle;
}

} // namespace lg
