// Snapshot transfer: streaming a copy of a partition to a rebuilding
// replica. snapshot_source is the master's side, snapshot_receiver the
// replica's; partition_store's open_snapshot_source(), receive_snapshot()
// and install() (defined in snapshot_transfer.cpp) open and finish them.
//
// Steps:
//   1. Master: flush, then open_snapshot_source: at the flushed position,
//      holds snapshot.bin open as it is on disk (or encodes an empty
//      snapshot when there is none) and copies wal.prev and wal.log.
//   2. Master: streams the snapshot part in pieces (read_snapshot), then
//      the log part cut at record boundaries (record_length).
//   3. Replica: receive_snapshot starts snapshot.bin.incoming; each piece of
//      the snapshot part is fed to the receiver, which decodes it and
//      appends it to that file (on a writer thread, when given one).
//   4. Replica: once the receiver is complete, install checks it, empties
//      the log and renames snapshot.bin.incoming to snapshot.bin.
//   5. Replica: append_log_bytes takes the log part, skipping records the
//      snapshot holds; the copy then ends at the master's position.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.hpp"
#include "storage/background_worker.hpp"
#include "storage/log_position.hpp"
#include "storage/snapshot_format.hpp"
#include "storage/vfs.hpp"

namespace lg::storage {

class partition_store;

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

} // namespace lg::storage
