// What one aggregator's Raft member keeps on disk, through the vfs (so that
// the simulation's disk faults reach it): three files in its directory.
//
//   raft-meta      current term and vote; replaced atomically (write, fsync,
//                  rename) before set_term/set_vote return, as Raft requires
//   raft-log       the log entries after the snapshot (and a few before it),
//                  one record each: u32 length, u32 crc32c, then index, term,
//                  type and data; appended and fsynced before an append is
//                  reported done; rewritten whole (atomically) when entries
//                  are truncated or compacted
//   raft-snapshot  the last snapshot: index, term, configuration and the
//                  state machine's bytes, replaced atomically
//
// Loading a log: a record cut short at the end of the file, or a bad last
// record, is a torn write and is cut off; a bad record with more after it,
// or indexes that do not follow each other, is corruption and an error
// naming the file and offset: the member must not start on a log it cannot
// trust (it could vote twice or forget a committed entry).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "storage/vfs.hpp"

namespace lg::consensus {

enum class errc {
  corrupt, ///< a file of the member fails its checksum or format
  io,      ///< the vfs refused a read or write
};

const char* to_string(errc code);

LG_MODULE_ERRORS("consensus", errc)

struct stored_entry {
  uint64_t term = 0;
  uint16_t type = 0; ///< libraft's RAFT_COMMAND, RAFT_BARRIER, RAFT_CHANGE
  std::string data;
};

struct stored_server {
  uint64_t id = 0;
  std::string address;
  int role = 0; ///< libraft's RAFT_STANDBY, RAFT_VOTER, RAFT_SPARE

  /// Whether it votes (libraft's RAFT_VOTER).
  bool voter() const {
    return role == 1;
  }
};

struct stored_snapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  uint64_t conf_index = 0;
  std::vector<stored_server> conf;
  std::string data;
};

struct loaded_state {
  uint64_t term = 0;
  uint64_t vote = 0;
  std::optional<stored_snapshot> snapshot;
  uint64_t start_index = 1; ///< index of entries.front()
  std::vector<stored_entry> entries;
};

class raft_store {
public:
  raft_store(std::shared_ptr<storage::vfs> fs, std::string dir);

  /// Reads the three files (cutting a torn log tail off); call once first.
  result<loaded_state> load();

  /// True when nothing was ever stored (a member that may be bootstrapped).
  bool empty() const {
    return term_ == 0 && entries_.empty() && !snapshot_;
  }

  /// Durably sets the term and clears the vote.
  error set_term(uint64_t term);

  /// Durably records the vote in the current term.
  error set_vote(uint64_t id);

  /// Appends entries starting at `first_index` (which must follow the last
  /// stored one) and fsyncs them.
  error append(uint64_t first_index, const std::vector<stored_entry>& entries);

  /// Removes every entry from `index` on.
  error truncate(uint64_t index);

  /// Stores `snap`; keeps `trailing` entries up to its index (0: none, and
  /// none after it either: the snapshot replaces the whole log).
  error put_snapshot(stored_snapshot snap, unsigned trailing);

  const std::optional<stored_snapshot>& snapshot() const {
    return snapshot_;
  }

  /// Index of the last stored entry (or of the snapshot), 0 when none.
  uint64_t last_index() const;

  const std::string& dir() const {
    return dir_;
  }

private:
  error write_meta();
  error rewrite_log();
  error open_log();
  result<bool> load_log(const std::string& bytes);

  std::shared_ptr<storage::vfs> fs_;
  std::string dir_;
  uint64_t term_ = 0;
  uint64_t vote_ = 0;
  uint64_t start_ = 1; ///< index of entries_.front()
  std::deque<stored_entry> entries_;
  std::optional<stored_snapshot> snapshot_;
  std::unique_ptr<storage::append_file> log_;
};

/// The bytes of one log record (exposed for tests that damage a log).
std::string encode_log_record(uint64_t index, const stored_entry& e);

} // namespace lg::consensus
