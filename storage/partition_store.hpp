// The durable state of one partition instance: a key-value map rebuilt from a
// snapshot plus a write-ahead log. This header declares the store and
// includes what its callers use with it: positions (log_position.hpp), the
// record and snapshot formats (record_format.hpp, snapshot_format.hpp),
// checkpoints (checkpoint.hpp) and snapshot transfer (snapshot_transfer.hpp).
// partition_store's checkpoint members are defined in checkpoint.cpp, its
// transfer members in snapshot_transfer.cpp, the rest in partition_store.cpp.
//
// Disk layout under the instance directory:
//   wal.log       the write-ahead log (record_format.hpp)
//   snapshot.bin  the content at one position (snapshot_format.hpp)
//   wal.prev      the log segment a running checkpoint folds into the
//                 snapshot (wal.log's format); gone once it is folded
//
// Recovery loads the snapshot (a bad snapshot is an error: the instance must
// be rebuilt from another copy), then replays wal.prev and wal.log record by
// record; records at or below the snapshot position are skipped. Only a
// torn last record (record_format.hpp: is_torn_tail), at the very end of the
// log, is cut off: the file is truncated there and the report says how many
// bytes went. Any other bad record (corruption, or a record out of sequence)
// fails open(): the files are left exactly as they are, for the copy to be
// moved aside and rebuilt, and the report says where the damage is.
// The write ids of the snapshot and of the records replayed are kept for
// the instance to take (take_write_ids).
//
// A checkpoint runs off the partition's actor, in three steps: see
// checkpoint.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/background_worker.hpp"
#include "storage/checkpoint.hpp"
#include "storage/log_position.hpp"
#include "storage/record_format.hpp"
#include "storage/snapshot_format.hpp"
#include "storage/snapshot_transfer.hpp"
#include "storage/vfs.hpp"

namespace lg::storage {

/// What recovery found on disk.
struct recovery_report {
  bool snapshot_loaded = false;
  log_position snapshot_position;
  uint64_t records_replayed = 0;
  uint64_t bytes_dropped = 0; ///< bytes of a torn last record cut off
  std::string dropped_file;   ///< the file they were cut from
  std::string drop_reason;    ///< empty when nothing was dropped
  /// When open() failed: the damaged file (empty when open() succeeded or
  /// failed for another reason, such as an I/O error).
  std::string corrupt_file;
  uint64_t corrupt_offset = 0; ///< where in a log file the damage starts
  std::string corrupt_reason;
};

enum class durability { async, sync };

/// The state of one partition instance.
class partition_store {
public:
  partition_store(std::shared_ptr<vfs> fs, std::string dir, durability d);

  /// Loads snapshot and log from `dir` (creating it when missing). Fails,
  /// touching no file, when the snapshot or the log is corrupt; last() is
  /// then where the good records end.
  result<recovery_report> open();

  /// What the last open() found, whether it succeeded or not.
  const recovery_report& recovery() const {
    return recovery_;
  }

  /// Applies `rec` to the map and queues it for the log. `rec.lsn` must be
  /// last().lsn + 1 and `rec.term` >= last().term.
  void append(const log_record_view& rec);

  /// Appends `rec` to the log without applying it to the rows yet: a
  /// replica's fast path, since nobody reads a replica's rows until it is
  /// promoted or checked. last() and history() include it at once; rows()
  /// and checksum() only after apply_pending().
  void append_deferred(const log_record_view& rec);

  /// As append_deferred, for a record already encoded (`encoded` holds
  /// exactly `rec`, as decode_record read it, crc checked): a replica takes
  /// its master's bytes as they are.
  void append_deferred_encoded(std::string_view encoded,
                               const log_record_view& rec);

  /// The encoding of the record appended last (valid until the next
  /// append or flush): what a master ships to its replica.
  std::string_view last_encoded() const {
    return last_encoded_at_ <= pending_.size()
             ? std::string_view{pending_}.substr(last_encoded_at_)
             : std::string_view{};
  }

  /// Applies every deferred record to the rows, in order.
  void apply_pending();

  /// Bytes of deferred records not yet applied.
  uint64_t pending_apply_bytes() const {
    return unapplied_.size();
  }

  /// Returns true when a record with this key and value fits the log
  /// format (see max_record_payload).
  static bool fits(std::string_view key, std::string_view value);

  /// Writes every queued record to wal.log; with sync durability also
  /// fsyncs. Returns the error of the underlying file system, if any.
  error flush();

  /// Returns true when records are queued but not yet flushed.
  bool has_unflushed() const {
    return !pending_.empty();
  }

  /// Writes a snapshot at last() and empties the log: all three steps of a
  /// checkpoint at once, on the caller's thread.
  error checkpoint();

  /// Step 1 of a checkpoint (see checkpoint.hpp): flushes, seals wal.log as
  /// wal.prev (unless an earlier checkpoint left one to fold first) and
  /// returns the job. Fails while another checkpoint is open.
  result<checkpoint_job> begin_checkpoint();

  /// Step 3: after `job` ran with `outcome`, makes its snapshot current and
  /// removes wal.prev. A failed job, or one begun before the store was
  /// replaced (install, open), only has its file removed; wal.prev then
  /// waits for the next checkpoint. Returns `outcome`'s error, if any.
  error end_checkpoint(const checkpoint_job& job,
                       const result<log_position>& outcome);

  /// Returns true between begin_checkpoint and end_checkpoint.
  bool checkpoint_open() const {
    return checkpoint_open_;
  }

  /// Log segments folded into the snapshot since the last call, for the
  /// caller to remove (off the actor: it takes tens of milliseconds).
  std::vector<std::string> take_folded_logs() {
    return std::exchange(folded_logs_, {});
  }

  /// The store's files were moved away (a discarded copy): the running
  /// checkpoint, if any, is discarded at its end.
  void cancel_checkpoint() {
    checkpoint_open_ = false;
    ++generation_;
  }

  /// Returns a snapshot of the current content. It carries no write ids:
  /// the store keeps none once they were taken (checkpoints carry them).
  snapshot_data make_snapshot();

  /// Opens what a master streams to rebuild a copy (see snapshot_source).
  /// Everything appended must be flushed first.
  result<snapshot_source> open_snapshot_source();

  /// Appends log records received in wal.log's format (a replica's
  /// replication stream, a rebuild's log part), deferring their apply.
  /// Skips records at or below last(); refuses a corrupt or out-of-sequence
  /// record, or one of a term above `max_term` (the sender's), naming it,
  /// having appended those before it. Calls `each` for every record taken.
  error append_log_bytes(
    std::string_view log,
    const std::function<void(const log_record_view&)>& each,
    uint64_t max_term = std::numeric_limits<uint64_t>::max());

  /// Starts receiving a snapshot from another copy into
  /// snapshot.bin.incoming (an older incoming file is replaced). With
  /// `writer`, the file is written on that thread while the rows are
  /// decoded on the caller's: a rebuild then writes and decodes at once.
  result<std::unique_ptr<snapshot_receiver>>
  receive_snapshot(std::shared_ptr<background_worker> writer = {});

  /// Replaces the whole content by a snapshot received whole (a rebuilt
  /// replica): checks it, empties the log and renames the incoming file to
  /// snapshot.bin, fsyncing it first under sync durability. Async
  /// durability leaves the bytes to the OS, as it does every write.
  error install(snapshot_receiver& in);

  /// The newest write ids (at most remembered_write_ids, oldest first) that
  /// the last open() or install() found in the snapshot and the records
  /// replayed; emptied by the call. The instance notes them in its window.
  std::vector<write_id_entry> take_write_ids() {
    return std::exchange(write_ids_, {});
  }

  /// The rows (call apply_pending() first if records were deferred).
  const row_map& rows() const {
    return rows_;
  }

  /// Returns the position of the last appended record (or of the snapshot).
  log_position last() const {
    return last_;
  }

  /// The position of the last record that reached the file system.
  log_position flushed() const {
    return flushed_;
  }

  /// The position up to which the log is known to be on disk: flushed()
  /// with sync durability; with async durability, as of the last
  /// sync_log() (or the store's opening).
  log_position synced() const {
    return mode_ == durability::sync ? flushed_ : synced_;
  }

  /// Fsyncs what flush() has written, whatever the durability: a master
  /// that acknowledges writes alone (no replica in sync) keeps them on
  /// disk first. Does nothing when synced() is flushed() already.
  error sync_log();

  /// Term history: one entry per term that wrote at least one record.
  const std::vector<term_start>& history() const {
    return history_;
  }

  /// The content checksum (see row_hash).
  uint64_t checksum() const {
    return checksum_;
  }

  /// Bytes in wal.log, not counting wal.prev (a caller may checkpoint when
  /// it grows).
  uint64_t log_bytes() const {
    return log_bytes_;
  }

  const std::string& dir() const {
    return dir_;
  }

  durability mode() const {
    return mode_;
  }

private:
  void apply(const log_record_view& rec);
  void apply_rows(const log_record_view& rec);
  void check_sequence(const log_record_view& rec) const;

  std::shared_ptr<vfs> fs_;
  std::string dir_;
  durability mode_;
  std::unique_ptr<append_file> wal_;
  row_map rows_;
  std::vector<term_start> history_;
  log_position last_;
  log_position flushed_;
  log_position synced_; ///< async durability: see synced()
  uint64_t checksum_ = 0;
  uint64_t log_bytes_ = 0;
  std::string pending_;
  std::string unapplied_; ///< encoded records appended but not applied
  size_t last_encoded_at_ = 0; ///< where the last record starts in pending_
  log_position pending_last_;
  bool checkpoint_open_ = false;
  std::vector<std::string> folded_logs_; ///< see take_folded_logs
  uint64_t generation_ = 0; ///< bumped when the content is replaced
  std::vector<write_id_entry> write_ids_; ///< see take_write_ids
  recovery_report recovery_; ///< see recovery()
};

} // namespace lg::storage
