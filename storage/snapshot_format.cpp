// Encoding and decoding of snapshot files (layout in snapshot_format.hpp),
// and the row hash behind the content checksum.
#include "storage/snapshot_format.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "base/hash.hpp"
#include "storage/byte_fields.hpp"
#include "storage/crc32c.hpp"

namespace lg::storage {

using namespace internal;

namespace {

// Version 02 adds the write-id section; 01 is still read (no write ids).
constexpr char snapshot_magic[8] = {'L', 'G', 'S', 'N', 'A', 'P', '0', '2'};
constexpr char snapshot_magic_v1[8] = {'L', 'G', 'S', 'N', 'A', 'P', '0', '1'};

/// The format version a file's first 8 bytes name: 2, 1, or 0 (none).
int magic_version(const char* p) {
  if (std::memcmp(p, snapshot_magic, sizeof(snapshot_magic)) == 0)
    return 2;
  if (std::memcmp(p, snapshot_magic_v1, sizeof(snapshot_magic_v1)) == 0)
    return 1;
  return 0;
}

// magic, crc, body_len.
constexpr size_t snapshot_header_size = 8 + 4 + 8;

void check_u32_size(size_t size, const char* what) {
  if (size > std::numeric_limits<uint32_t>::max())
    throw std::length_error(std::string{"snapshot "} + what + " of "
                            + std::to_string(size) + " bytes is too large");
}

/// Encodes a snapshot; `rows` must iterate in key order.
template <class Rows>
std::string
encode_snapshot_parts(const log_position& position,
                      const std::vector<term_start>& history,
                      const Rows& rows,
                      const std::vector<write_id_entry>& write_ids) {
  check_u32_size(history.size(), "history");
  check_u32_size(write_ids.size(), "write ids");
  uint64_t body_len = 8 + 8 + 4 + 16 * history.size() + 4
                      + 16 * write_ids.size() + 8;
  for (auto& [key, value] : rows) {
    check_u32_size(key.size(), "key");
    check_u32_size(value.size(), "value");
    body_len += 8 + key.size() + value.size();
  }
  std::string out;
  out.resize(snapshot_header_size + body_len);
  char* body = &out[snapshot_header_size];
  char* p = put_u64(body, position.term);
  p = put_u64(p, position.lsn);
  p = put_u32(p, static_cast<uint32_t>(history.size()));
  for (auto& entry : history) {
    p = put_u64(p, entry.term);
    p = put_u64(p, entry.start_lsn);
  }
  p = put_u32(p, static_cast<uint32_t>(write_ids.size()));
  for (auto& entry : write_ids) {
    p = put_u64(p, entry.id);
    p = put_u64(p, entry.lsn);
  }
  p = put_u64(p, rows.size());
  for (auto& [key, value] : rows) {
    p = put_u32(p, static_cast<uint32_t>(key.size()));
    p = put_bytes(p, key);
    p = put_u32(p, static_cast<uint32_t>(value.size()));
    p = put_bytes(p, value);
  }
  std::memcpy(&out[0], snapshot_magic, sizeof(snapshot_magic));
  put_u32(&out[8], crc32c(0, body, body_len));
  put_u64(&out[12], body_len);
  return out;
}

/// Checks the invariants of a term history ending at `last`.
error check_history(const std::vector<term_start>& history,
                    const log_position& last) {
  for (size_t i = 0; i < history.size(); ++i) {
    auto& entry = history[i];
    bool bad = entry.start_lsn == 0;
    if (i > 0)
      bad = bad || entry.term <= history[i - 1].term
        || entry.start_lsn <= history[i - 1].start_lsn;
    if (bad)
      return make_error(errc::bad_format,
                        "term history entry " + std::to_string(i) + " (term "
                          + std::to_string(entry.term) + ", start_lsn "
                          + std::to_string(entry.start_lsn)
                          + ") is not increasing");
  }
  if (!history.empty()
      && (history.back().term > last.term
          || history.back().start_lsn > last.lsn))
    return make_error(errc::bad_format,
                      "term history ends after the snapshot position (term "
                        + std::to_string(last.term) + ", lsn "
                        + std::to_string(last.lsn) + ")");
  return {};
}

/// Checks the write ids of a snapshot at `last`: real ids, their LSNs
/// strictly increasing and within the snapshot.
error check_write_ids(const std::vector<write_id_entry>& ids,
                      const log_position& last) {
  for (size_t i = 0; i < ids.size(); ++i) {
    auto& entry = ids[i];
    if (entry.id == 0 || entry.lsn == 0 || entry.lsn > last.lsn
        || (i > 0 && entry.lsn <= ids[i - 1].lsn))
      return make_error(errc::bad_format,
                        "write id entry " + std::to_string(i) + " (id "
                          + std::to_string(entry.id) + ", lsn "
                          + std::to_string(entry.lsn)
                          + ") is not increasing or lies after lsn "
                          + std::to_string(last.lsn));
  }
  return {};
}

template <class Rows>
uint64_t content_checksum(const Rows& rows) {
  uint64_t sum = 0;
  for (auto& [key, value] : rows)
    sum += row_hash(key, value);
  return sum;
}

} // namespace

void note_write_id(std::vector<write_id_entry>& ids, uint64_t id,
                   uint64_t lsn, size_t keep) {
  if (id == 0 || keep == 0)
    return;
  if (!ids.empty() && ids.back().id == id) {
    ids.back().lsn = lsn;
    return;
  }
  if (ids.size() >= 2 * keep)
    trim_write_ids(ids, keep);
  ids.push_back({id, lsn});
}

void trim_write_ids(std::vector<write_id_entry>& ids, size_t keep) {
  if (ids.size() > keep)
    ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(keep));
}

/// Parses a whole snapshot file without copying a row; checks what
/// snapshot_decoder checks (magic, lengths, crc, history, key order, no
/// trailing bytes).
error parse_snapshot(std::string_view file, snapshot_view& out) {
  auto bad = [](const std::string& what) {
    return make_error(errc::bad_format, what);
  };
  int version = file.size() < snapshot_header_size
                  ? 0
                  : magic_version(file.data());
  if (version == 0)
    return bad("not a snapshot (magic or header missing)");
  auto body_len = get_u64(file.data() + 12);
  if (body_len != file.size() - snapshot_header_size)
    return bad("snapshot body of " + std::to_string(body_len)
               + " bytes in a file of " + std::to_string(file.size()));
  auto body = file.substr(snapshot_header_size);
  auto crc = crc32c(0, body.data(), body.size());
  if (crc != get_u32(file.data() + 8))
    return make_error(errc::checksum_mismatch,
                      "snapshot crc " + hex32(get_u32(file.data() + 8))
                        + " != computed " + hex32(crc));
  size_t at = 0;
  auto need = [&](size_t n) { return body.size() - at >= n; };
  if (!need(8 + 8 + 4))
    return bad("snapshot body ends in its header");
  out.position = {get_u64(body.data()), get_u64(body.data() + 8)};
  auto n_history = get_u32(body.data() + 16);
  at = 20;
  if (!need(16 * uint64_t{n_history} + (version >= 2 ? 4 : 8)))
    return bad("snapshot body ends in its term history");
  out.history.resize(n_history);
  for (auto& entry : out.history) {
    entry = {get_u64(body.data() + at), get_u64(body.data() + at + 8)};
    at += 16;
  }
  if (auto err = check_history(out.history, out.position))
    return err;
  out.write_ids.clear();
  if (version >= 2) {
    auto n_write_ids = get_u32(body.data() + at);
    at += 4;
    if (!need(16 * uint64_t{n_write_ids} + 8))
      return bad("snapshot body ends in its write ids");
    out.write_ids.resize(n_write_ids);
    for (auto& entry : out.write_ids) {
      entry = {get_u64(body.data() + at), get_u64(body.data() + at + 8)};
      at += 16;
    }
    if (auto err = check_write_ids(out.write_ids, out.position))
      return err;
  }
  auto n_rows = get_u64(body.data() + at);
  at += 8;
  out.rows.reserve(static_cast<size_t>(
    std::min<uint64_t>(n_rows, (body.size() - at) / 8)));
  for (uint64_t i = 0; i < n_rows; ++i) {
    std::string_view field[2];
    for (auto& f : field) {
      if (!need(4))
        return bad("snapshot rows end early, at row " + std::to_string(i));
      auto len = get_u32(body.data() + at);
      at += 4;
      if (!need(len))
        return bad("snapshot rows end early, at row " + std::to_string(i));
      f = body.substr(at, len);
      at += len;
    }
    if (!out.rows.empty() && field[0] <= out.rows.back().first)
      return bad("snapshot row " + std::to_string(i) + " is out of key order");
    out.rows.emplace_back(field[0], field[1]);
  }
  if (at != body.size())
    return bad(std::to_string(body.size() - at)
               + " trailing bytes in the snapshot body");
  return {};
}

std::string encode_snapshot(const snapshot_data& snap) {
  return encode_snapshot_parts(snap.position, snap.history, snap.rows,
                               snap.write_ids);
}

std::string encode_snapshot(const log_position& position,
                            const std::vector<term_start>& history,
                            const row_views& rows,
                            const std::vector<write_id_entry>& write_ids) {
  return encode_snapshot_parts(position, history, rows, write_ids);
}

result<snapshot_data> decode_snapshot(std::string_view data) {
  snapshot_decoder dec;
  auto err = dec.feed(data);
  if (!err)
    err = dec.finish();
  if (err)
    return err;
  snapshot_data snap;
  snap.position = dec.position;
  snap.history = std::move(dec.history);
  snap.write_ids = std::move(dec.write_ids);
  snap.rows.insert(std::make_move_iterator(dec.rows.begin()),
                   std::make_move_iterator(dec.rows.end()));
  return snap;
}

bool snapshot_decoder::take(std::string_view& data, size_t n,
                            std::string_view& out) {
  if (carry_.empty() && data.size() >= n) {
    out = data.substr(0, n);
    data.remove_prefix(n);
    return true;
  }
  auto k = std::min(n - carry_.size(), data.size());
  carry_.append(data.data(), k);
  data.remove_prefix(k);
  if (carry_.size() < n)
    return false;
  out = carry_; // the caller uses it before the next take clears it
  return true;
}

error snapshot_decoder::fail(error err) {
  failed_ = err;
  return err;
}

uint64_t snapshot_decoder::total_bytes() const {
  return stage_ == stage::header ? 0 : snapshot_header_size + body_len_;
}

error snapshot_decoder::feed(std::string_view data) {
  if (failed_)
    return failed_;
  // The crc covers the body: every byte after the header. Given the whole
  // snapshot at once, check it before parsing, so that a corrupt length
  // reads as the corruption it is.
  bool check = part_ != part::rows_only;
  if (check && seen_ == 0 && data.size() >= snapshot_header_size
      && magic_version(data.data()) != 0
      && data.size() - snapshot_header_size >= get_u64(data.data() + 12)) {
    crc_ = crc32c(0, data.data() + snapshot_header_size,
                  static_cast<size_t>(get_u64(data.data() + 12)));
    crc_whole_ = true;
    if (crc_ != get_u32(data.data() + 8))
      return fail(make_error(errc::checksum_mismatch,
                             "snapshot crc " + hex32(get_u32(data.data() + 8))
                               + " != computed " + hex32(crc_)));
  } else if (check && !crc_whole_
             && seen_ + data.size() > snapshot_header_size) {
    auto skip = seen_ < snapshot_header_size
                  ? static_cast<size_t>(snapshot_header_size - seen_)
                  : size_t{0};
    crc_ = crc32c(crc_, data.data() + skip, data.size() - skip);
  }
  seen_ += data.size();
  auto overrun = [this](const char* field) {
    return fail(make_error(errc::bad_format, std::string{"snapshot "} + field
                                               + " overruns the body"));
  };
  // Every field must end inside the body the header announced.
  auto body_left = [this] { return snapshot_header_size + body_len_; };
  std::string_view v;
  for (;;) {
    bool from_carry = !carry_.empty();
    switch (stage_) {
      case stage::header:
        if (!take(data, snapshot_header_size, v))
          return {};
        switch (magic_version(v.data())) {
          case 2:
            has_write_ids_ = true;
            break;
          case 1:
            break;
          default:
            return fail(make_error(errc::bad_format,
                                   "snapshot magic is not LGSNAP02 or "
                                   "LGSNAP01"));
        }
        stored_crc_ = get_u32(v.data() + 8);
        body_len_ = get_u64(v.data() + 12);
        stage_ = stage::fixed;
        break;
      case stage::fixed:
        if (!take(data, 20, v))
          return {};
        position.term = get_u64(v.data());
        position.lsn = get_u64(v.data() + 8);
        n_history_ = get_u32(v.data() + 16);
        // Counts and body_len come from the bytes being checked: reserve
        // no more than a bounded guess, whatever they say.
        history.reserve(static_cast<size_t>(
          std::min<uint64_t>({n_history_, body_len_ / 16, 1u << 16})));
        stage_ = n_history_ > 0  ? stage::history
                 : has_write_ids_ ? stage::write_id_count
                                  : stage::row_count;
        break;
      case stage::history:
        if (!take(data, 16, v))
          return {};
        history.push_back({get_u64(v.data()), get_u64(v.data() + 8)});
        if (history.size() == n_history_) {
          if (auto err = check_history(history, position))
            return fail(err);
          stage_ = has_write_ids_ ? stage::write_id_count : stage::row_count;
        }
        break;
      case stage::write_id_count:
        if (!take(data, 4, v))
          return {};
        n_write_ids_ = get_u32(v.data());
        write_ids.reserve(static_cast<size_t>(std::min<uint64_t>(
          {n_write_ids_, body_len_ / 16, remembered_write_ids})));
        stage_ = n_write_ids_ > 0 ? stage::write_ids : stage::row_count;
        break;
      case stage::write_ids:
        if (!take(data, 16, v))
          return {};
        write_ids.push_back({get_u64(v.data()), get_u64(v.data() + 8)});
        if (write_ids.size() == n_write_ids_) {
          if (auto err = check_write_ids(write_ids, position))
            return fail(err);
          stage_ = stage::row_count;
        }
        break;
      case stage::row_count:
        if (!take(data, 8, v))
          return {};
        n_rows_ = get_u64(v.data());
        if (part_ != part::check_only)
          rows.reserve(static_cast<size_t>(
            std::min<uint64_t>({n_rows_, body_len_ / 8, 1u << 20})));
        stage_ = n_rows_ > 0 ? stage::key_len : stage::done;
        break;
      case stage::key_len:
      case stage::value_len:
        if (!take(data, 4, v))
          return {};
        len_ = get_u32(v.data());
        stage_ = stage_ == stage::key_len ? stage::key : stage::value;
        break;
      case stage::key:
        if (seen_ - data.size() + len_ > body_left() + carry_.size())
          return overrun("rows");
        if (!take(data, len_, v))
          return {};
        if (rows_done_ > 0 && v <= std::string_view{last_key_})
          return fail(make_error(errc::bad_format,
                                 "snapshot row " + std::to_string(rows_done_)
                                   + " is out of key order"));
        key_.assign(v.data(), v.size());
        stage_ = stage::value_len;
        break;
      case stage::value: {
        if (seen_ - data.size() + len_ > body_left() + carry_.size())
          return overrun("rows");
        if (!take(data, len_, v))
          return {};
        if (part_ != part::rows_only)
          checksum += row_hash(key_, v);
        last_key_ = key_;
        if (part_ != part::check_only)
          rows.insert_or_assign(std::move(key_), std::string{v});
        key_.clear();
        stage_ = ++rows_done_ < n_rows_ ? stage::key_len : stage::done;
        break;
      }
      case stage::done:
        if (!data.empty() || !carry_.empty() || seen_ > body_left())
          return fail(make_error(
            errc::bad_format,
            std::to_string(seen_ - std::min(seen_, body_left()))
              + " trailing bytes in the snapshot body"));
        return {};
    }
    if (from_carry)
      carry_.clear();
    if (stage_ != stage::header && seen_ - data.size() > body_left())
      return overrun(stage_ == stage::history || stage_ == stage::row_count
                         || stage_ == stage::fixed
                         || stage_ == stage::write_id_count
                         || stage_ == stage::write_ids
                       ? "header fields"
                       : "rows");
  }
}

error snapshot_decoder::finish() {
  if (failed_)
    return failed_;
  if (stage_ != stage::done) {
    auto what = stage_ == stage::header
                  ? std::string{"snapshot header needs "}
                      + std::to_string(snapshot_header_size) + " bytes, only "
                      + std::to_string(seen_)
                  : "snapshot body_len " + std::to_string(body_len_)
                      + ", only "
                      + std::to_string(seen_ - snapshot_header_size)
                      + " bytes";
    return fail(make_error(errc::torn_record, what));
  }
  if (part_ != part::rows_only && crc_ != stored_crc_)
    return fail(make_error(errc::checksum_mismatch,
                           "snapshot crc " + hex32(stored_crc_)
                             + " != computed " + hex32(crc_)));
  return {};
}

namespace {

/// Hashes 8 bytes at a time in four independent lanes, so that the
/// multiplies of one lane overlap with the others' (the checksum of every
/// row runs on the write path and over every row a rebuild receives).
uint64_t hash_words(std::string_view data, uint64_t seed) {
  constexpr uint64_t p1 = 0x9e3779b185ebca87ULL;
  constexpr uint64_t p2 = 0xc2b2ae3d27d4eb4fULL;
  auto round = [](uint64_t h, uint64_t w) {
    h += w * p2;
    h = (h << 31) | (h >> 33);
    return h * p1;
  };
  auto word = [&](size_t at) {
    uint64_t w;
    std::memcpy(&w, data.data() + at, 8);
    return w;
  };
  uint64_t h[4] = {seed, seed + p1, seed - p2, seed ^ p1 ^ p2};
  size_t i = 0;
  for (; i + 32 <= data.size(); i += 32)
    for (size_t lane = 0; lane < 4; ++lane)
      h[lane] = round(h[lane], word(i + 8 * lane));
  for (; i + 8 <= data.size(); i += 8)
    h[0] = round(h[0], word(i));
  uint64_t tail = 0;
  std::memcpy(&tail, data.data() + i, data.size() - i);
  // The length goes in with the tail, so ("ab", "c") and ("a", "bc") hash
  // apart.
  h[0] = round(h[0], tail ^ (static_cast<uint64_t>(data.size()) << 56));
  return mix64(h[0]) ^ mix64(h[1] + p1) ^ mix64(h[2] + p2)
         ^ mix64(h[3] ^ seed);
}

} // namespace

uint64_t row_hash(std::string_view key, std::string_view value) {
  auto h = hash_words(key, 0x243f6a8885a308d3ULL);
  h = hash_words(value, h);
  return mix64(h);
}

} // namespace lg::storage
