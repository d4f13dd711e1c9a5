// A partition instance's state, shared by the files of its role:
//   replication.cpp  writes, the stream to the replica, the replica's side
//   sync.cpp         asking the aggregator to count the replica in sync or not
//   rebuild.cpp      a replica's join, catch-up and snapshot rebuild
//   roles.cpp        become, set role, promote, step down
//   behavior.cpp     reads, checkpoints, status, the handler table
// Not part of the role's public interface (partition.hpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <caf/stateful_actor.hpp>

#include "actors/partition/metrics.hpp"
#include "actors/partition/partition.hpp"
#include "actors/partition/write_id_window.hpp"
#include "actors/timers.hpp"
#include "ha/replication.hpp"

namespace lg::partition_detail {

constexpr size_t max_batch_entries = 4096;
constexpr int max_inflight_batches = 1;
/// As many as a snapshot carries, so that a copy opened or rebuilt from one
/// remembers what its master did.
constexpr size_t max_remembered_write_ids = storage::remembered_write_ids;
/// A replica applies the rows it was streamed once this many bytes of them
/// wait. Small enough that a promotion applies at most this much, and that
/// the work shows in a benchmark of a few seconds instead of hiding past it
/// (at 32 MiB no run of bench/write_throughput ever paid it).
constexpr uint64_t max_deferred_apply_bytes = 1024 * 1024;
constexpr auto retransmit_after = std::chrono::milliseconds{500};
constexpr auto retransmit_pause = std::chrono::milliseconds{20};
/// How often an out-of-sync master probes its silent replica.
constexpr auto probe_every = std::chrono::seconds{1};
/// A replica that got no answer to its JoinRequest asks again after this.
constexpr auto join_retry = std::chrono::milliseconds{20};
constexpr auto join_timeout = std::chrono::seconds{2};
/// Snapshot chunks: about this many bytes each, this many in flight.
constexpr uint64_t chunk_bytes = 4 * 1024 * 1024;
constexpr int chunk_window = 4;
constexpr auto chunk_timeout = std::chrono::seconds{10};
/// The master reports rebuild progress every this many chunks.
constexpr uint64_t progress_every_chunks = 16;

/// How often a master checks its replica's sync state: a tenth of the sync
/// timeout, within bounds, so that thousands of idle masters stay cheap.
inline caf::timespan sync_check_interval(int64_t sync_timeout_ms) {
  return std::chrono::milliseconds{
    std::clamp<int64_t>(sync_timeout_ms / 10, 10, 500)};
}

/// A write waiting for acknowledgement.
struct waiter {
  uint64_t lsn;
  envelope_ptr req;
  uint64_t affected;
  time_point arrived; ///< for the write latency metric
};

/// A read waiting until it may be answered (reads.cpp).
struct pending_read {
  envelope_ptr req;
  uint64_t barrier; ///< the replica confirmation it waits for
  time_point arrived; ///< for the read latency metric
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
  bool deposed = false; ///< a master that learned of a newer term
  std::string failure;  ///< set when storage failed: it stops serving
  bool failure_reported = false; ///< the aggregator answered the report
  /// What this instance last told its leaf it plays (notice_role).
  std::string noticed_role;
  bool flush_scheduled = false;
  /// Idempotent retries: write id -> last LSN of that write.
  write_id_window write_ids{max_remembered_write_ids};

  /// Master side: the writes waiting for acknowledgement and the stream
  /// to the replica (its positions and sync state are in `core`).
  struct outgoing_stream {
    std::deque<waiter> waiting;
    /// Reads waiting for a confirmation or for writes to their keys.
    std::deque<pending_read> reads;
    /// Entries since the last seal. A batch is built once, as writes
    /// arrive, and sent as it is; only a retransmission copies it.
    std::shared_ptr<envelope> open;
    ha::replication_core<envelope> core{max_inflight_batches};
    bool sync_timer_armed = false;
  } out;

  /// Replica side: the replication requests acknowledged after the next
  /// flush. A replica takes replication only once its master checked its
  /// history (rebuild.proto); an instance created empty for its master
  /// starts joined.
  struct incoming_stream {
    std::deque<envelope_ptr> acks;
    bool joined = false;
    bool join_pending = false;
    bool join_timer_armed = false;
  } in;

  /// Replica side: a snapshot being received (rebuild.proto).
  struct rebuild_in_state {
    struct snapshot {
      uint64_t rebuild_id = 0;
      uint64_t next_seq = 0;
      std::unique_ptr<storage::snapshot_receiver> file;
      bool installed = false; ///< the snapshot part is in; log records follow
    };
    std::optional<snapshot> current;
    /// The rebuild the master's JoinReply announced (0: none announced
    /// since the last join request).
    uint64_t expected_id = 0;
    time_point last_chunk_at;
    uint64_t discards = 0;
  } rebuild_in;

  /// Master side: the snapshot being streamed to a rebuilding replica.
  struct rebuild_out_state {
    struct snapshot {
      uint64_t id = 0;
      std::string replica;
      storage::snapshot_source source;
      storage::log_position position;
      uint64_t snapshot_next = 0; ///< offset into the snapshot part
      size_t log_next = 0;        ///< offset into source.log
      uint64_t seq = 0;
      uint64_t acked_seq = 0; ///< chunks confirmed
      uint64_t chunks = 0;    ///< 0 until the last chunk is built
      int inflight = 0;
      uint64_t bytes_total = 0;
      uint64_t bytes_done = 0;
      bool diverged = false;
      std::string reason;
    };
    std::optional<snapshot> current;
    uint64_t seq = 0;
  } rebuild_out;

  /// A master handing over to its replica (StepDownRequest).
  struct handover_state {
    envelope_ptr request;
    time_point deadline;
  } handover;

  /// The checkpoint running off the actor, if any.
  struct checkpoint_state {
    struct task {
      storage::checkpoint_job job;
      result<storage::log_position> outcome{storage::log_position{}};
    };
    std::shared_ptr<task> running;
    /// After a failed checkpoint the next waits for this much log (0: none
    /// failed), so that a full disk does not rewrite the snapshot every
    /// flush.
    uint64_t retry_bytes = 0;
  } checkpoint;

  /// Its writes, reads, rebuild bytes and lag in the process's metrics.
  instance_metrics metrics;

  std::string ctx() const {
    return "[leaf=" + cfg.leaf + " part=" + label + " term="
           + std::to_string(term) + "]";
  }
};

using self_ptr = partition_actor::stateful_pointer<partition_state>;

// -- roles.cpp ----------------------------------------------------------------

std::string not_master_text(const partition_state& st);
/// True while this instance serves reads and writes as master.
bool serving_master(const partition_state& st);
/// A master learned of a newer term: it stops serving.
void step_down(self_ptr self, uint64_t newer_term);
/// Answers a pending StepDownRequest once the replica holds every entry
/// (or with FAILED at its deadline, serving again).
void check_step_down(self_ptr self, bool expired = false);
void become(self_ptr self, pb::Role role, uint64_t term,
            const std::string& peer, bool peer_in_sync, bool fresh = false);
void on_set_role(self_ptr self, const envelope_ptr& env);
void on_promote(self_ptr self, const envelope_ptr& env);
void on_step_down(self_ptr self, const envelope_ptr& env);
/// Tells the leaf the instance's role, term and health (a RoleNotice) if
/// they changed since it last did, or always when `force` is set.
void notice_role(self_ptr self, bool force = false);

// -- replication.cpp ----------------------------------------------------------

void reply_write(self_ptr self, const envelope& req, pb::Status status,
                 const std::string& error, uint64_t lsn = 0,
                 uint64_t affected = 0);
void schedule_flush(self_ptr self);
/// The instance's storage failed (`what`: "failed to write its log"): it
/// fails every waiting request and reports the failure to the aggregator.
void fail_storage(self_ptr self, const std::string& what, const error& err);
void fail_waiting(self_ptr self, pb::Status status, const std::string& why);
/// Acknowledges the waiting writes the commit position now covers.
void advance_commit(self_ptr self);
/// The replica answered a batch sent under `generation` (null: no answer).
void on_replicate_reply(self_ptr self, uint64_t generation, uint64_t seq,
                        const envelope* rep);
/// Sends what the replication core says is due.
void replicate(self_ptr self);
/// Bytes held for the replica and not confirmed: the sealed batches and the
/// one being gathered.
uint64_t backlog_bytes(const partition_state& st);
/// Keeps what is held for the replica within replication_backlog_mb
/// (ha/replication.hpp step 6).
void limit_backlog(self_ptr self);
/// Seals the entries gathered since the last flush into one batch.
void seal_open_batch(partition_state& st);
/// Notes the write ids the store found when it opened or installed a
/// snapshot, so that a retry of a write it holds is answered, not applied
/// again.
void take_store_write_ids(partition_state& st);
void on_write(self_ptr self, const envelope_ptr& env);
void on_replicate(self_ptr self, const envelope_ptr& env);
void on_flush(self_ptr self);

// -- reads.cpp ----------------------------------------------------------------

void on_read(self_ptr self, const envelope_ptr& env);
/// Answers the waiting reads that may be answered now.
void serve_reads(self_ptr self);
/// Fails every waiting read (the instance stopped serving).
void fail_reads(self_ptr self, pb::Status status, const std::string& why);

// -- sync.cpp -----------------------------------------------------------------

void arm_sync_check(self_ptr self);
/// Sends the replica an empty batch: its answer shows that it is alive,
/// holds everything, and still follows this master's term.
void probe_replica(self_ptr self);
void request_sync_change(self_ptr self, bool in_sync);
void on_sync_check(self_ptr self);
/// A role order that keeps the role carried the aggregator's sync record.
void take_sync_order(self_ptr self, bool peer_in_sync, uint64_t epoch);

// -- rebuild.cpp --------------------------------------------------------------

void start_join(self_ptr self);
void on_join_timer(self_ptr self);
void on_join_request(self_ptr self, const envelope_ptr& env);
void on_snapshot_chunk(self_ptr self, const envelope_ptr& env);
void abort_rebuild(self_ptr self, const std::string& why);
void pump_snapshot(self_ptr self);

// -- behavior.cpp -------------------------------------------------------------

void start_checkpoint(self_ptr self);
/// Tells the aggregator that this instance's storage failed
/// (recovery.proto step 6), again until it answers.
void report_failure(self_ptr self);
void fill_state(partition_state& st, pb::InstanceState& out);

} // namespace lg::partition_detail
