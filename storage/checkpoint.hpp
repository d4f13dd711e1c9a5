// Checkpoints: sealing a partition's log and folding it into its snapshot,
// off the partition's actor. checkpoint_job is the part that may run on any
// thread; partition_store's checkpoint(), begin_checkpoint() and
// end_checkpoint() (defined in checkpoint.cpp) are the parts on the actor.
//
// Steps:
//   1. begin_checkpoint (actor): flushes, renames wal.log to wal.prev and
//      starts an empty wal.log; writes go on at once.
//   2. checkpoint_job::run (any thread): reads snapshot.bin and wal.prev,
//      both immutable now, and writes the snapshot at wal.prev's last record
//      to a file of its own (snapshot.bin.ckpt-N), synced.
//   3. end_checkpoint (actor): renames that file to snapshot.bin, then
//      wal.prev to wal.folded-N, which the caller removes off the actor.
// A crash at any point leaves a snapshot and the segments after it; records
// the snapshot already holds are skipped. A job whose store was replaced
// meanwhile (install, open) is discarded at step 3.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "storage/log_position.hpp"
#include "storage/vfs.hpp"

namespace lg::storage {

/// Names of a checkpoint's output files (and of write_atomic's temp files
/// for them); open() removes leftovers.
inline constexpr char checkpoint_file_prefix[] = "snapshot.bin.ckpt-";

/// Names of log segments already folded into the snapshot, waiting to be
/// removed; open() removes leftovers.
inline constexpr char folded_log_prefix[] = "wal.folded-";

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

} // namespace lg::storage
