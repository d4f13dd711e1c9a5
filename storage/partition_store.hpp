// The durable state of one partition instance: a key-value map rebuilt from a
// snapshot plus a write-ahead log.
//
// Disk layout under the instance directory:
//   wal.log       records: [u32 payload_len][u32 crc32c(payload)][payload]
//                 payload: u64 term, u64 lsn, u8 op, u64 write_id,
//                          u32 key_len, key, u32 value_len, value
//   snapshot.bin  [magic "LGSNAP01"][u32 crc32c(body)][u64 body_len][body]
//                 body: u64 term, u64 lsn, u32 n_history, n*(u64 term,
//                       u64 start_lsn), u64 n_rows, n*(u32 klen, key, u32
//                       vlen, value)
// All integers are little-endian.
//
//   wal.prev      the log segment a running checkpoint folds into the
//                 snapshot (wal.log's format); gone once it is folded
//
// Recovery loads the snapshot (a bad snapshot is an error: the instance must
// be rebuilt from another copy), then replays wal.prev and wal.log record by
// record. It stops at the first torn or corrupt record, truncates the file
// there (and empties wal.log when wal.prev was cut) and reports how many
// bytes it dropped and why. Records at or below the snapshot position are
// skipped.
//
// A checkpoint runs off the partition's actor, in three steps:
//   1. begin_checkpoint (actor): flushes, renames wal.log to wal.prev and
//      starts an empty wal.log; writes go on at once.
//   2. checkpoint_job::run (any thread): reads snapshot.bin and wal.prev,
//      both immutable now, and writes the snapshot at wal.prev's last record
//      to a file of its own, synced.
//   3. end_checkpoint (actor): renames that file to snapshot.bin, then
//      wal.prev to wal.folded-N, which the caller removes off the actor.
// A crash at any point leaves a snapshot and the segments after it; records
// the snapshot already holds are skipped. A job whose store was replaced
// meanwhile (install, open) is discarded at step 3.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "storage/background_worker.hpp"
#include "storage/log_position.hpp"
#include "storage/vfs.hpp"

namespace lg::storage {

enum class op_kind : uint8_t { put = 1, del = 2 };

/// One write-ahead log record.
struct log_record {
  uint64_t term = 0;
  uint64_t lsn = 0;
  op_kind op = op_kind::put;
  uint64_t write_id = 0; ///< the client's idempotency id, 0 if none
  std::string key;
  std::string value;
};

/// A log record whose key and value are borrowed, for appending without
/// copying them first.
struct log_record_view {
  uint64_t term = 0;
  uint64_t lsn = 0;
  op_kind op = op_kind::put;
  uint64_t write_id = 0;
  std::string_view key;
  std::string_view value;

  log_record_view() = default;

  log_record_view(const log_record& rec)
    : term(rec.term),
      lsn(rec.lsn),
      op(rec.op),
      write_id(rec.write_id),
      key(rec.key),
      value(rec.value) {
  }
};

/// What recovery found on disk.
struct recovery_report {
  bool snapshot_loaded = false;
  log_position snapshot_position;
  uint64_t records_replayed = 0;
  uint64_t bytes_dropped = 0; ///< tail bytes cut off the log
  std::string drop_reason;    ///< empty when nothing was dropped
};

enum class durability { async, sync };

/// The largest record payload; decoding refuses larger ones as bad_format,
/// and encoding one throws std::length_error.
inline constexpr uint32_t max_record_payload = 64u << 20;

/// Encodes one record as it sits in wal.log (header included).
std::string encode_record(const log_record& rec);

/// Decodes one record from the front of `data`. On success returns the
/// number of bytes consumed. Errors: torn_record (data ends early),
/// checksum_mismatch, bad_format.
result<size_t> decode_record(std::string_view data, log_record& out);

/// As decode_record, but `out`'s key and value point into `data`. With
/// `verify_crc` false the payload's crc is not computed again: only for
/// bytes this process already checked (a replica's deferred rows).
result<size_t> decode_record(std::string_view data, log_record_view& out,
                             bool verify_crc = true);

/// The content of a snapshot.
struct snapshot_data {
  log_position position;
  std::vector<term_start> history;
  std::map<std::string, std::string> rows;
};

std::string encode_snapshot(const snapshot_data& snap);
result<snapshot_data> decode_snapshot(std::string_view data);

/// Order-independent hash of one row; the content checksum of a partition is
/// the sum of the hashes of its rows (mod 2^64), maintained incrementally.
uint64_t row_hash(std::string_view key, std::string_view value);

/// The rows of an instance: hashed, since writes far outnumber ordered
/// scans; snapshots and scans sort. Abseil's open-addressing table finds a
/// row in about two cache misses where std::unordered_map took four.
using row_map = absl::flat_hash_map<std::string, std::string>;

/// Decodes a snapshot in snapshot.bin's format fed in pieces of any size,
/// straight into a row map: a rebuilding replica decodes the stream as it
/// arrives instead of holding it whole, and recovery decodes without an
/// ordered copy. It checks what decode_snapshot checks (magic, lengths, crc,
/// term history, key order, no trailing bytes), with the same error codes.
class snapshot_decoder {
public:
  /// What a decoder does with the bytes: everything, or half of the work so
  /// that two threads can share a large snapshot (snapshot_receiver). Both
  /// halves parse the stream and check its structure.
  enum class part {
    all,       ///< crc, rows and their checksum
    rows_only, ///< the rows, without crc or checksum (finish checks no crc)
    check_only ///< the crc and the rows' checksum, keeping no row
  };

  explicit snapshot_decoder(part p = part::all) : part_(p) {
  }

  /// Decodes the next piece. After an error every later call returns it.
  error feed(std::string_view bytes);

  /// Checks that the whole snapshot arrived and that its crc matches.
  error finish();

  /// Bytes fed so far.
  uint64_t bytes_seen() const {
    return seen_;
  }

  /// The snapshot's size from its header (0 until the header arrived).
  uint64_t total_bytes() const;

  /// Returns true once every row arrived (finish() still checks the crc).
  bool complete() const {
    return stage_ == stage::done;
  }

  // The content, complete after finish() succeeded.
  log_position position;
  std::vector<term_start> history;
  row_map rows;
  uint64_t checksum = 0; ///< sum of row_hash over the rows

private:
  enum class stage {
    header, fixed, history, row_count, key_len, key, value_len, value, done
  };

  bool take(std::string_view& data, size_t n, std::string_view& out);
  error fail(error err);

  part part_;
  stage stage_ = stage::header;
  std::string carry_; ///< a field split between two pieces
  uint64_t seen_ = 0;
  uint32_t stored_crc_ = 0;
  uint32_t crc_ = 0;
  bool crc_whole_ = false; ///< crc_ was computed over the whole body at once
  uint64_t body_len_ = 0;
  uint32_t n_history_ = 0;
  uint64_t n_rows_ = 0;
  uint64_t rows_done_ = 0;
  uint32_t len_ = 0;
  std::string key_;
  std::string last_key_;
  error failed_;
};

class partition_store;

/// Step 2 of a checkpoint (see the top of this file): folds wal.prev into
/// the snapshot it follows. Holds no reference to the store; run() may run
/// on any thread while the store goes on taking writes.
struct checkpoint_job {
  std::shared_ptr<vfs> fs;
  std::string dir;
  std::string out_path;    ///< where run() writes the new snapshot
  uint64_t generation = 0; ///< the store's, when the job began

  /// Writes the snapshot at wal.prev's last record to out_path and returns
  /// its position. Refuses a corrupt snapshot or segment, naming the file.
  result<log_position> run() const;
};

/// A snapshot arriving from another copy: written to
/// snapshot.bin.incoming as it arrives and decoded at the same time, then
/// installed by partition_store::install(snapshot_receiver&).
class snapshot_receiver {
public:
  /// Waits for the appends still queued (see feed).
  ~snapshot_receiver();

  snapshot_receiver(const snapshot_receiver&) = delete;
  snapshot_receiver& operator=(const snapshot_receiver&) = delete;

  /// Decodes `bytes` and appends them to the incoming file. With a writer
  /// thread (receive_snapshot's `writer`) the append runs there while the
  /// caller decodes the next piece, and `keep` holds the bytes alive until
  /// it ran (without `keep` they are copied); an append that failed fails
  /// a later feed, and install.
  error feed(std::string_view bytes, std::shared_ptr<const void> keep = {});

  uint64_t bytes_seen() const {
    return decoder_.bytes_seen();
  }

  /// Returns true once the whole snapshot arrived.
  bool complete() const {
    return decoder_.complete();
  }

private:
  friend class partition_store;

  /// Appends queued on the writer thread and not yet run, and the first
  /// error one of them met.
  static constexpr size_t max_queued_writes = 4;

  struct queued_writes {
    std::mutex mtx;
    std::condition_variable done;
    size_t queued = 0;
    error first_error;
  };

  snapshot_receiver(std::string path, std::unique_ptr<append_file> file,
                    std::shared_ptr<background_worker> writer)
    : path_(std::move(path)), file_(std::move(file)),
      writer_(std::move(writer)),
      writes_(std::make_shared<queued_writes>()),
      decoder_(writer_ ? snapshot_decoder::part::rows_only
                       : snapshot_decoder::part::all) {
    if (writer_)
      check_ = std::make_shared<snapshot_decoder>(
        snapshot_decoder::part::check_only);
  }

  /// Waits until every queued append ran; returns the first error.
  error wait_writes();

  std::string path_;
  std::shared_ptr<append_file> file_;
  std::shared_ptr<background_worker> writer_;
  std::shared_ptr<queued_writes> writes_;
  snapshot_decoder decoder_;
  /// With a writer: checks the crc and sums the rows' checksum on the
  /// writer's thread, after each append (read only after wait_writes).
  std::shared_ptr<snapshot_decoder> check_;
};

/// What a master streams to rebuild another copy, read at one flushed
/// position: its snapshot file as it is on disk (or an empty one when it
/// has none yet), then its log records after it. Held files stay readable
/// when a checkpoint replaces them.
class snapshot_source {
public:
  /// Size of the snapshot part.
  uint64_t snapshot_bytes() const;

  /// Returns up to `n` bytes of the snapshot part from `offset`.
  result<std::string> read_snapshot(uint64_t offset, size_t n);

  /// The log records after the snapshot, in wal.log's format; records at
  /// or below the snapshot's position may lead them (the receiver skips
  /// them, as recovery does).
  std::string log;

  /// Where the stream ends: the master's flushed position.
  log_position position;

private:
  friend class partition_store;
  std::unique_ptr<readable_file> file_;
  std::string inline_; ///< the snapshot when there is no file
};

/// Returns the length of the first whole record in `log` (0 when `log`
/// holds no whole record), reading only its header.
size_t record_length(std::string_view log);

/// The state of one partition instance.
class partition_store {
public:
  partition_store(std::shared_ptr<vfs> fs, std::string dir, durability d);

  /// Loads snapshot and log from `dir` (creating it when missing).
  result<recovery_report> open();

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

  /// Step 1 of a checkpoint: flushes, seals wal.log as wal.prev (unless an
  /// earlier checkpoint left one to fold first) and returns the job. Fails
  /// while another checkpoint is open.
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

  /// Returns a snapshot of the current content.
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
  uint64_t checksum_ = 0;
  uint64_t log_bytes_ = 0;
  std::string pending_;
  std::string unapplied_; ///< encoded records appended but not applied
  size_t last_encoded_at_ = 0; ///< where the last record starts in pending_
  log_position pending_last_;
  bool checkpoint_open_ = false;
  std::vector<std::string> folded_logs_; ///< see take_folded_logs
  uint64_t generation_ = 0; ///< bumped when the content is replaced
};

} // namespace lg::storage
