// The snapshot file format: how a partition's whole content is encoded into
// snapshot.bin and decoded back, whole (encode_snapshot, decode_snapshot,
// parse_snapshot) or in pieces as it arrives (snapshot_decoder); and the
// row hash whose sum is the content checksum a decoded snapshot carries.
//
// Layout, all integers little-endian:
//   [magic "LGSNAP02"][u32 crc32c(body)][u64 body_len][body]
//   body: u64 term, u64 lsn, u32 n_history, n*(u64 term, u64 start_lsn),
//         u32 n_write_ids, n*(u64 write_id, u64 lsn),
//         u64 n_rows, n*(u32 klen, key, u32 vlen, value)
// The position (term, lsn) is the last record the snapshot holds; the term
// history strictly increases in both fields and ends at or before the
// position; the write ids are the newest the records up to the position
// carried (see remembered_write_ids), oldest first, their LSNs strictly
// increasing and at most the position's; rows are in strictly increasing
// key order. Version 01 ("LGSNAP01", written before snapshots carried write
// ids) has no write-id section; it is still read, as holding no write ids.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "base/error.hpp"
#include "storage/log_position.hpp"

namespace lg::storage {

/// A client's write id and the last LSN its write wrote.
struct write_id_entry {
  uint64_t id = 0;
  uint64_t lsn = 0;

  friend bool operator==(const write_id_entry& a, const write_id_entry& b) {
    return a.id == b.id && a.lsn == b.lsn;
  }
};

/// How many of the newest write ids a snapshot carries, and a partition
/// instance remembers: a retry of one of them is answered, not applied
/// again. A copy opened from its files, or rebuilt from another copy's,
/// thus remembers what a master that never stopped would (Kafka keeps its
/// producer state in its snapshots for the same reason).
inline constexpr size_t remembered_write_ids = 65536;

/// Appends write `id` at `lsn` to `ids` (oldest first), as a partition
/// instance notes it: a repeat of the newest id moves its LSN on, and 0
/// (no id) is skipped. Keeps at most twice `keep` entries; trim_write_ids
/// cuts to `keep`.
void note_write_id(std::vector<write_id_entry>& ids, uint64_t id,
                   uint64_t lsn, size_t keep = remembered_write_ids);

/// Drops all but the newest `keep` entries of `ids`.
void trim_write_ids(std::vector<write_id_entry>& ids,
                    size_t keep = remembered_write_ids);

/// The content of a snapshot.
struct snapshot_data {
  log_position position;
  std::vector<term_start> history;
  std::map<std::string, std::string> rows;
  std::vector<write_id_entry> write_ids; ///< oldest first
};

std::string encode_snapshot(const snapshot_data& snap);
result<snapshot_data> decode_snapshot(std::string_view data);

/// Rows borrowed from elsewhere, in key order.
using row_views = std::vector<std::pair<std::string_view, std::string_view>>;

/// As encode_snapshot, for rows borrowed in key order (a checkpoint's merge,
/// the empty snapshot of a store that has none): the same bytes.
std::string encode_snapshot(const log_position& position,
                            const std::vector<term_start>& history,
                            const row_views& rows,
                            const std::vector<write_id_entry>& write_ids = {});

/// A whole snapshot file read in place: its rows point into the bytes.
struct snapshot_view {
  log_position position;
  std::vector<term_start> history;
  std::vector<std::pair<std::string_view, std::string_view>> rows;
  std::vector<write_id_entry> write_ids; ///< oldest first
};

/// Parses a whole snapshot file without copying a row; checks what
/// snapshot_decoder checks (magic, lengths, crc, history, key order, no
/// trailing bytes).
error parse_snapshot(std::string_view file, snapshot_view& out);

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
  std::vector<write_id_entry> write_ids; ///< oldest first (not check_only)
  row_map rows;
  uint64_t checksum = 0; ///< sum of row_hash over the rows

private:
  enum class stage {
    header, fixed, history, write_id_count, write_ids, row_count, key_len,
    key, value_len, value, done
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
  bool has_write_ids_ = false; ///< a version with the write-id section
  uint32_t n_history_ = 0;
  uint32_t n_write_ids_ = 0;
  uint64_t n_rows_ = 0;
  uint64_t rows_done_ = 0;
  uint32_t len_ = 0;
  std::string key_;
  std::string last_key_;
  error failed_;
};

} // namespace lg::storage
