// The replication core of a partition master: what it has sent its replica,
// what the replica confirmed, which writes may be acknowledged, and what the
// aggregator may believe about the replica's sync state. No I/O and no
// actors: the partition actor feeds it events and performs what it returns,
// as raft-rs's RawNode hands back a Ready for its caller to carry out.
//
//   1. Writes are appended to the master's log and gathered into a batch;
//      the shell seals the batch (push) when the window has room.
//   2. take_sends() returns the batches to send now: at most `window` in
//      flight, oldest unconfirmed first. A batch whose predecessor the
//      replica lacks (it fell behind the batches held in memory) is sent
//      alone, so that the replica refuses the gap and joins again.
//   3. on_ack() moves the replica's match position and drops the confirmed
//      batches; on_timeout() and on_refused() rewind, so that every
//      unconfirmed batch goes out again after a pause. A generation number
//      tells answers to an older round of sends from current ones.
//   4. commit(flushed) is the position up to which writes may be
//      acknowledged: the master's own flushed log, and, while the replica
//      counts for acknowledgements (in sync), no further than its match.
//      A master with a replica that does not count (acknowledges_alone)
//      passes its fsynced position instead, whatever the durability: it
//      holds the only copy of what it acknowledges.
//   5. Sync changes (recovery.proto step 5): a master whose replica is
//      silent for the sync timeout while writes wait asks the aggregator to
//      record it out of sync before it acknowledges alone; a replica that
//      caught up is asked back in sync, and counts for acknowledgements from
//      the moment the request leaves. The aggregator's answer, or its
//      absence, moves `claim()` (see sync_claim).
//   6. Bounded memory: check_backlog(limit) says what to do once the
//      batches held for the replica (and those being gathered) pass the
//      limit. While the replica counts for acknowledgements they stay: the
//      master asks the aggregator to record it out of sync, as in step 5,
//      and writes wait for the replica meanwhile, so the clients' writes in
//      flight bound what is held. Once it no longer counts they are all
//      dropped (drop_backlog); the next batch then leaves a gap, the replica
//      refuses it and joins again, and is rebuilt from a snapshot since its
//      entries are no longer held (rebuild.proto).
//
//   7. Reads (read index, as Raft's ReadIndex with the replica as the
//      quorum): while the replica counts, a read may be answered only once
//      the replica has confirmed a send that left after the read arrived
//      (read_barrier / read_confirmed). A replica that was promoted refuses
//      the older term instead, so a deposed master never answers a read
//      after the new master acknowledged a write.
//
// SingleStore: in redundancy 2 a master acknowledges a write once its
// in-sync replica holds it; a replica that stops answering is dropped to
// asynchronous replication so that the master does not stall.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "base/bugs.hpp"

namespace lg::ha {

using repl_clock = std::chrono::steady_clock;

/// What the master knows of the aggregator's record of its replica.
enum class sync_claim {
  /// The aggregator's record is known: it counts the replica as the master
  /// does.
  settled,
  /// A request to count the replica in sync is on its way: the aggregator
  /// may record it at any moment.
  asking_in_sync,
  /// A request to record the replica out of sync is on its way.
  asking_out_of_sync,
  /// As asking_out_of_sync, after an in-sync request that went unanswered:
  /// the aggregator may still count the replica in sync.
  asking_out_of_sync_after_unanswered,
  /// An in-sync request went unanswered: the aggregator may have recorded
  /// it. Asked again at the next sync check.
  unanswered,
  /// As unanswered, for a replica the master no longer counts (its role
  /// changed since): nothing to ask again, but the aggregator may still
  /// record the old request.
  unanswered_idle,
  /// The last request was refused, or a request to drop the replica went
  /// unanswered while it still counted: the master asks again that the
  /// replica be counted in sync.
  retry,
};

/// Returns the name of `x` for logs and tests.
const char* to_string(sync_claim x);

/// How the aggregator answered a sync request.
enum class sync_answer { none, refused, recorded };

/// What a sync check found to do.
struct sync_check_result {
  std::optional<bool> ask; ///< ask the aggregator: in sync (true) or not
  bool resend = false;     ///< batches wait with nothing in flight: send
  bool probe = false;      ///< send the silent replica an empty batch
};

/// What an answer to a sync request changed.
enum class sync_outcome {
  none,      ///< nothing the shell must act on
  in_sync,   ///< the replica counts again, confirmed
  went_async ///< the master acknowledges without its replica from now on
};

/// What a role order's sync fields did (an order that keeps the role).
enum class sync_order_outcome { none, ignored_stale, went_async, in_sync };

/// What the master must do about the batches held for its replica (step 6).
enum class backlog_action {
  none,            ///< within the limit
  ask_out_of_sync, ///< over it, but the replica counts: ask to drop it first
  drop             ///< over it, and the replica does not count: drop them
};

/// The replication state of one master and its replica.
template <class Batch>
class replication_core {
public:
  /// A batch to send: `payload` must be copied before it is changed when
  /// `retransmission` is set (the first copy may still be read).
  struct send {
    std::shared_ptr<Batch> payload;
    bool retransmission = false;
    uint64_t generation = 0;
    uint64_t seq = 0; ///< counts every send, for read confirmation
  };

  explicit replication_core(int window = 1) : window_(window) {
  }

  // -- roles ----------------------------------------------------------------

  /// Starts over for a new role: `leading` when master, with a replica when
  /// `has_peer`; the log is flushed up to `flushed`. Requests to the
  /// aggregator still on their way keep their claim, and so does an
  /// unanswered in-sync request (settle() ends it once a role order says
  /// what the aggregator holds); nothing is asked again.
  void reset(bool leading, bool has_peer, bool peer_in_sync, uint64_t flushed,
             repl_clock::time_point now) {
    leading_ = leading;
    has_peer_ = has_peer;
    peer_in_sync_ = peer_in_sync;
    if (!peer_in_sync)
      went_async_at_ = now;
    if (claim_ == sync_claim::unanswered)
      claim_ = sync_claim::unanswered_idle;
    else if (claim_ == sync_claim::retry)
      claim_ = sync_claim::settled;
    clear();
    rewind();
    // What the replica holds is unknown until it answers or joins: nothing
    // in the log past the last known commit is acknowledged on its behalf.
    // A master reopened from its disk may hold a record its replica never
    // got (written, not acknowledged, before a crash); counting it
    // committed would answer a retry of that write OK from the window,
    // and the write would be lost if the replica's copy is chosen later.
    // A copy that does not lead leaves it alone: an instance opened from
    // its disk starts with nothing known acknowledged.
    if (leading && (!replica_required() || bugs::commit_on_reset))
      commit_ = std::max(commit_, flushed);
    match_ = bugs::commit_on_reset ? flushed : std::min(commit_, flushed);
    last_progress_ = now;
  }

  /// Takes the aggregator's count of sync changes from a new role order.
  void set_epoch(uint64_t epoch) {
    sync_epoch_ = epoch;
  }

  /// Forgets every unconfirmed batch (a deposed master).
  void clear() {
    unacked_.clear();
    backlog_bytes_ = 0;
  }

  // -- sending --------------------------------------------------------------

  /// True when the batch being gathered should be sealed now: the window
  /// has room and everything sealed went out.
  bool should_seal() const {
    return inflight_ < window_ && next_to_send_ == unacked_.size();
  }

  /// Queues a sealed batch covering (`prev_lsn`, `last_lsn`].
  void push(std::shared_ptr<Batch> payload, uint64_t prev_lsn,
            uint64_t last_lsn, uint64_t bytes) {
    unacked_.push_back({std::move(payload), prev_lsn, last_lsn, bytes, false});
    backlog_bytes_ += bytes;
  }

  /// The batches to send now (step 2).
  std::vector<send> take_sends() {
    std::vector<send> out;
    if (!unacked_.empty() && unacked_.front().prev_lsn > match_) {
      if (inflight_ == 0)
        out.push_back(send_at(0));
      behind_ = true;
      return out;
    }
    behind_ = false;
    while (inflight_ < window_ && next_to_send_ < unacked_.size())
      out.push_back(send_at(next_to_send_++));
    return out;
  }

  /// True when the last take_sends() found the replica behind the batches
  /// held (it must join again and be rebuilt or caught up).
  bool replica_behind() const {
    return behind_;
  }

  /// Counts an empty probe batch in flight; returns its generation and
  /// send sequence number.
  std::pair<uint64_t, uint64_t> start_probe() {
    ++inflight_;
    return {generation_, ++sends_};
  }

  /// A probe sent under `generation` got no answer.
  void probe_unanswered(uint64_t generation) {
    if (generation == generation_)
      --inflight_;
  }

  /// The first LSN of the batches held for the replica, if any.
  std::optional<uint64_t> first_held() const {
    if (unacked_.empty())
      return std::nullopt;
    return unacked_.front().prev_lsn + 1;
  }

  /// A replica that joined holding everything up to `lsn` is caught up by
  /// the stream: the batches it holds are dropped, the rest go out again.
  void catch_up_from(uint64_t lsn, repl_clock::time_point now) {
    drop_through(lsn);
    match_ = lsn;
    last_progress_ = now;
    heard_at_ = now;
  }

  /// Drops the batches up to `lsn` (they travel in a snapshot instead) and
  /// starts the sends over.
  void drop_through(uint64_t lsn) {
    while (!unacked_.empty() && unacked_.front().last_lsn <= lsn) {
      backlog_bytes_ -= unacked_.front().bytes;
      unacked_.pop_front();
    }
    rewind();
  }

  // -- bounded backlog (step 6) ---------------------------------------------

  /// What to do when the batches held, plus `pending` bytes gathered but
  /// not sealed yet, may hold at most `limit` bytes. A replica that counts
  /// for acknowledgements keeps its batches until the aggregator recorded
  /// it out of sync: only then may the master go on without it.
  backlog_action check_backlog(uint64_t limit, uint64_t pending = 0) const {
    if (!leading_ || !has_peer_ || backlog_bytes_ + pending <= limit)
      return backlog_action::none;
    return peer_in_sync_ ? backlog_action::ask_out_of_sync
                         : backlog_action::drop;
  }

  /// Drops every batch held for a replica that does not count for
  /// acknowledgements: it will find the gap, join again and be rebuilt.
  void drop_backlog() {
    clear();
    rewind();
  }

  // -- answers --------------------------------------------------------------

  /// True when an answer to a send of `generation` still counts.
  bool current(uint64_t generation) const {
    return leading_ && generation == generation_;
  }

  /// The replica confirmed everything up to `match_lsn` (step 3), in its
  /// answer to the send numbered `seq`.
  void on_ack(uint64_t match_lsn, uint64_t seq, repl_clock::time_point now) {
    --inflight_;
    heard_at_ = now;
    confirmed_ = std::max(confirmed_, seq);
    if (match_lsn <= match_)
      return;
    match_ = match_lsn;
    last_progress_ = now;
    while (!unacked_.empty() && unacked_.front().last_lsn <= match_) {
      backlog_bytes_ -= unacked_.front().bytes;
      unacked_.pop_front();
      if (next_to_send_ > 0)
        --next_to_send_;
    }
  }

  /// A send got no answer in time: everything unconfirmed goes again.
  /// Returns true when the shell should arm its retransmission timer.
  bool on_timeout() {
    rewind();
    return arm_retransmit();
  }

  /// The replica refused a batch (a gap, say): resend from the oldest.
  /// Returns true when the shell should arm its retransmission timer.
  bool on_refused() {
    --inflight_;
    rewind();
    return arm_retransmit();
  }

  /// The replica fenced this master with a newer term.
  void on_fenced() {
    --inflight_;
  }

  /// The retransmission timer fired.
  void retransmit_fired() {
    retransmit_armed_ = false;
  }

  // -- acknowledgements -----------------------------------------------------

  /// True when writes wait for the replica (step 4).
  bool replica_required() const {
    return leading_ && has_peer_ && peer_in_sync_;
  }

  /// True when the master has a replica that does not count for
  /// acknowledgements (out of sync, or asked to be): what it acknowledges
  /// is on no other copy (step 4).
  bool acknowledges_alone() const {
    return leading_ && has_peer_ && !peer_in_sync_;
  }

  /// Advances and returns the position up to which writes may be
  /// acknowledged, the master's log being flushed up to `flushed`.
  uint64_t commit(uint64_t flushed) {
    auto c = flushed;
    if (replica_required())
      c = std::min(c, match_);
    commit_ = std::max(commit_, c);
    return commit_;
  }

  /// The acknowledged position, as last computed.
  uint64_t commit_lsn() const {
    return commit_;
  }

  /// Notes that a write arrived while none waited: the replica's silence
  /// is timed from now.
  void note_first_waiting(repl_clock::time_point now) {
    last_progress_ = now;
  }

  // -- reads (step 7) -------------------------------------------------------

  /// The confirmation a read arriving now must wait for.
  uint64_t read_barrier() const {
    return sends_ + 1;
  }

  /// True when a read that arrived with `barrier` may be answered: the
  /// replica does not count, or it confirmed a send after the read arrived.
  bool read_confirmed(uint64_t barrier) const {
    return !replica_required() || confirmed_ >= barrier;
  }

  /// True when nothing sent after `barrier` is on its way: a read waiting
  /// for it needs a probe.
  bool needs_probe_for(uint64_t barrier) const {
    return replica_required() && confirmed_ < barrier && inflight_ == 0;
  }

  // -- sync changes (step 5) ------------------------------------------------

  /// True when a replica that answered after the master went on without it
  /// holds all of `flushed` and may count again (caught up).
  bool caught_up(uint64_t flushed, bool rebuilding) const {
    return !peer_in_sync_ && !rebuilding && match_ == flushed
           && heard_at_ > went_async_at_;
  }

  /// Starts a sync request; false when one is already on its way. An
  /// in-sync request makes the replica count for acknowledgements at once,
  /// before the aggregator may promote it.
  bool ask(bool in_sync) {
    if (asking())
      return false;
    if (in_sync) {
      claim_ = sync_claim::asking_in_sync;
      peer_in_sync_ = true;
    } else {
      claim_ = may_count_in_sync_unasked()
                 ? sync_claim::asking_out_of_sync_after_unanswered
                 : sync_claim::asking_out_of_sync;
    }
    return true;
  }

  /// The aggregator answered a request for `in_sync` (or did not: `none`).
  /// `same_peer` when the replica is still the one asked about, `serving`
  /// when this is still an undeposed master.
  sync_outcome on_answer(bool in_sync, sync_answer answer, uint64_t epoch,
                         bool same_peer, bool serving,
                         repl_clock::time_point now) {
    bool unresolved = may_count_in_sync_unasked();
    // Every change of the aggregator's record moves the epoch on, so a
    // record older than one a role order already reported has been changed
    // since (an attach recorded the replica out of sync, say): the answer
    // says nothing of the record now.
    bool superseded = answer == sync_answer::recorded && same_peer
                      && epoch < sync_epoch_;
    if (answer == sync_answer::none) {
      if (in_sync)
        unresolved = true;
    } else {
      unresolved = false;
      if (same_peer)
        sync_epoch_ = std::max(sync_epoch_, epoch);
    }
    if (superseded) {
      // A replica the master counts is asked in sync again (with the newer
      // epoch) until the record matches; an out-of-sync request is not
      // taken either, as the newer record may count the replica: a silent
      // replica is asked out of sync again at the next sync check.
      claim_ = peer_in_sync_ ? sync_claim::retry : sync_claim::settled;
      return sync_outcome::none;
    }
    if (answer != sync_answer::recorded) {
      // Unknown, or refused: the master still waits for its replica while
      // it counts, so the replica holds every acknowledged write; the next
      // sync check asks again.
      if (unresolved)
        claim_ = peer_in_sync_ ? sync_claim::unanswered
                               : sync_claim::unanswered_idle;
      else
        claim_ = peer_in_sync_ ? sync_claim::retry : sync_claim::settled;
      return sync_outcome::none;
    }
    if (in_sync) {
      if (same_peer && leading_ && serving)
        peer_in_sync_ = true;
      claim_ = sync_claim::settled;
      return sync_outcome::in_sync;
    }
    claim_ = sync_claim::settled;
    peer_in_sync_ = false;
    went_async_at_ = now;
    return sync_outcome::went_async;
  }

  /// The periodic sync check: `waiting` when writes wait for
  /// acknowledgement, `limit` the sync replication timeout.
  sync_check_result check(repl_clock::time_point now, bool waiting,
                          repl_clock::duration limit, uint64_t flushed,
                          bool rebuilding, repl_clock::duration probe_every) {
    sync_check_result r;
    auto silent = now - last_progress_;
    if (peer_in_sync_ && waiting && silent >= limit) {
      if (ask(false))
        r.ask = false;
    } else if (peer_in_sync_ && needs_reassert()) {
      if (ask(true))
        r.ask = true;
    }
    if (inflight_ == 0 && !unacked_.empty() && !rebuilding) {
      r.resend = true;
    } else if (caught_up(flushed, false)) {
      if (!r.ask && ask(true))
        r.ask = true;
    } else if (!peer_in_sync_ && inflight_ == 0 && unacked_.empty()
               && !rebuilding && now - last_probe_at_ >= probe_every) {
      last_probe_at_ = now;
      r.probe = true;
    }
    if (!waiting)
      last_progress_ = now;
    return r;
  }

  /// A role order that keeps this master's role, replica and term says
  /// whether the aggregator counts the replica in sync, as of its sync
  /// `epoch`.
  sync_order_outcome on_order(bool order_in_sync, uint64_t epoch,
                              repl_clock::time_point now) {
    auto out = sync_order_outcome::none;
    if (leading_ && peer_in_sync_ && !order_in_sync) {
      if (claim_ == sync_claim::asking_in_sync || may_count_in_sync_unasked()
          || epoch < sync_epoch_) {
        // Decided before the aggregator recorded this master's in-sync
        // request: it may count the replica in sync already, so the master
        // must keep waiting for it.
        out = sync_order_outcome::ignored_stale;
      } else {
        peer_in_sync_ = false;
        went_async_at_ = now;
        out = sync_order_outcome::went_async;
      }
    } else if (leading_ && !peer_in_sync_ && order_in_sync) {
      if (epoch < sync_epoch_) {
        // Older than the record that let the master go on alone: counting
        // the replica again would wait for it while the aggregator's
        // record says it does not count, and nothing would ask again.
        out = sync_order_outcome::none;
      } else {
        peer_in_sync_ = true;
        out = sync_order_outcome::in_sync;
      }
    }
    sync_epoch_ = std::max(sync_epoch_, epoch);
    return out;
  }

  /// Settles what an unanswered request left open (a new role order was
  /// taken: it carries the aggregator's record).
  void settle() {
    if (claim_ == sync_claim::unanswered
        || claim_ == sync_claim::unanswered_idle
        || claim_ == sync_claim::retry)
      claim_ = sync_claim::settled;
    else if (claim_ == sync_claim::asking_out_of_sync_after_unanswered)
      claim_ = sync_claim::asking_out_of_sync;
  }

  // -- observers ------------------------------------------------------------

  bool peer_in_sync() const {
    return peer_in_sync_;
  }

  /// True when a sync request is on its way.
  bool asking() const {
    return claim_ == sync_claim::asking_in_sync
           || claim_ == sync_claim::asking_out_of_sync
           || claim_ == sync_claim::asking_out_of_sync_after_unanswered;
  }

  sync_claim claim() const {
    return claim_;
  }

  uint64_t sync_epoch() const {
    return sync_epoch_;
  }

  uint64_t match() const {
    return match_;
  }

  uint64_t generation() const {
    return generation_;
  }

  int inflight() const {
    return inflight_;
  }

  size_t unacked() const {
    return unacked_.size();
  }

  /// Bytes of batches the replica has not confirmed.
  uint64_t backlog_bytes() const {
    return backlog_bytes_;
  }

private:
  struct batch {
    std::shared_ptr<Batch> payload;
    uint64_t prev_lsn = 0;
    uint64_t last_lsn = 0;
    uint64_t bytes = 0;
    bool sent = false;
  };

  send send_at(size_t index) {
    auto& b = unacked_[index];
    send s{b.payload, b.sent, generation_, ++sends_};
    b.sent = true;
    ++inflight_;
    return s;
  }

  void rewind() {
    ++generation_;
    inflight_ = 0;
    next_to_send_ = 0;
  }

  bool arm_retransmit() {
    if (retransmit_armed_)
      return false;
    retransmit_armed_ = true;
    return true;
  }

  /// True when an earlier in-sync request went unanswered and no answer
  /// since settled it.
  bool may_count_in_sync_unasked() const {
    return claim_ == sync_claim::unanswered
           || claim_ == sync_claim::unanswered_idle
           || claim_ == sync_claim::asking_out_of_sync_after_unanswered;
  }

  /// True when the aggregator has not confirmed the replica the master
  /// counts in sync.
  bool needs_reassert() const {
    return claim_ == sync_claim::unanswered || claim_ == sync_claim::retry;
  }

  int window_;
  bool leading_ = false;
  bool has_peer_ = false;
  bool peer_in_sync_ = true;
  sync_claim claim_ = sync_claim::settled;
  uint64_t sync_epoch_ = 0;
  std::deque<batch> unacked_;
  uint64_t backlog_bytes_ = 0;
  size_t next_to_send_ = 0;
  uint64_t commit_ = 0;
  uint64_t match_ = 0;
  uint64_t generation_ = 0;
  uint64_t sends_ = 0;     ///< sends so far (batches and probes)
  uint64_t confirmed_ = 0; ///< the newest send the replica answered OK
  int inflight_ = 0;
  bool retransmit_armed_ = false;
  bool behind_ = false;
  repl_clock::time_point last_progress_;
  repl_clock::time_point heard_at_;
  repl_clock::time_point went_async_at_;
  repl_clock::time_point last_probe_at_;
};

} // namespace lg::ha
