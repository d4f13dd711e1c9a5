// The write-ahead log's record format: how one record is encoded into
// wal.log (and wal.prev, and the log part of a rebuild stream) and decoded
// back.
//
// Layout of one record, all integers little-endian:
//   [u32 payload_len][u32 crc32c(payload)][payload]
//   payload: u64 term, u64 lsn, u8 op, u64 write_id,
//            u32 key_len, key, u32 value_len, value
// A log is records back to back, with nothing between them.
//
// Reading a log back (recovery) tells two kinds of bad record apart:
//   - a torn tail: the last record is incomplete, its bytes end before its
//     declared length, and nothing valid follows. A crash in the middle of
//     an append leaves exactly this, and the record was never acknowledged
//     under SYNC durability: it may be cut off (is_torn_tail).
//   - corruption: any other bad record (a complete record failing its crc or
//     its format, a length that disagrees with the fields it covers, or
//     valid records after the bad one). The log is damaged where it holds
//     records that were acknowledged: it must not be cut, the copy must be
//     rebuilt from another one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

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

/// The largest record payload; decoding refuses larger ones as bad_format,
/// and encoding one throws std::length_error.
inline constexpr uint32_t max_record_payload = 64u << 20;

/// Bytes before the payload: payload_len and crc.
inline constexpr size_t record_header_size = 8;

/// Payload bytes besides key and value: term, lsn, op, write_id, key_len,
/// value_len.
inline constexpr size_t record_fixed_payload = 8 + 8 + 1 + 8 + 4 + 4;

/// Encodes one record as it sits in wal.log (header included).
std::string encode_record(const log_record& rec);

/// Appends the wal.log encoding of `rec` to `out`.
void append_record(std::string& out, const log_record_view& rec);

/// Decodes one record from the front of `data`. On success returns the
/// number of bytes consumed. Errors: torn_record (data ends early),
/// checksum_mismatch, bad_format.
result<size_t> decode_record(std::string_view data, log_record& out);

/// As decode_record, but `out`'s key and value point into `data`. With
/// `verify_crc` false the payload's crc is not computed again: only for
/// bytes this process already checked (a replica's deferred rows).
result<size_t> decode_record(std::string_view data, log_record_view& out,
                             bool verify_crc = true);

/// Returns true when `rest`, the bytes of a log from a record that failed to
/// decode to the end of the file, is only an incomplete last record: the
/// record's declared end lies past the end of the file, the fields present
/// agree with its declared length, and no whole valid record (crc checked)
/// starts anywhere after it. False for anything else (corruption), and for
/// bytes that decode.
bool is_torn_tail(std::string_view rest);

/// Returns the length of the first whole record in `log` (0 when `log`
/// holds no whole record), reading only its header.
size_t record_length(std::string_view log);

} // namespace lg::storage
