#include "storage/partition_store.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "base/hash.hpp"
#include "base/log.hpp"
#include "storage/crc32c.hpp"

namespace lg::storage {

namespace {

constexpr size_t record_header_size = 8;

// term, lsn, op, write_id, key_len, value_len.
constexpr size_t record_fixed_payload = 8 + 8 + 1 + 8 + 4 + 4;

constexpr char snapshot_magic[8] = {'L', 'G', 'S', 'N', 'A', 'P', '0', '1'};

// magic, crc, body_len.
constexpr size_t snapshot_header_size = 8 + 4 + 8;

// A flush keeps its buffer between batches, unless one huge batch grew it.
// The buffer grows with use rather than being reserved up front: a leaf may
// host thousands of mostly idle instances.
constexpr size_t pending_max_capacity = 16 * 1024 * 1024;

/// Names of a checkpoint's output files (and of write_atomic's temp files
/// for them); open() removes leftovers.
constexpr char checkpoint_file_prefix[] = "snapshot.bin.ckpt-";

/// Names of log segments already folded into the snapshot, waiting to be
/// removed; open() removes leftovers.
constexpr char folded_log_prefix[] = "wal.folded-";

/// Makes checkpoint output names unique in the process: a job of a store
/// since re-opened may still be writing its own.
std::atomic<uint64_t> checkpoint_files{0};

char* put_u8(char* p, uint8_t v) {
  *p = static_cast<char>(v);
  return p + 1;
}

char* put_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
  return p + 4;
}

char* put_u64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
  return p + 8;
}

char* put_bytes(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

/// Reads little-endian fields from a byte range, never past its end.
class reader {
public:
  explicit reader(std::string_view data) : data_(data) {
  }

  bool u8(uint8_t& out) {
    if (data_.size() < 1)
      return false;
    out = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }

  bool u32(uint32_t& out) {
    if (data_.size() < 4)
      return false;
    out = get_u32(data_.data());
    data_.remove_prefix(4);
    return true;
  }

  bool u64(uint64_t& out) {
    if (data_.size() < 8)
      return false;
    out = get_u64(data_.data());
    data_.remove_prefix(8);
    return true;
  }

  bool bytes(uint64_t size, std::string_view& out) {
    if (size > data_.size())
      return false;
    out = data_.substr(0, static_cast<size_t>(size));
    data_.remove_prefix(static_cast<size_t>(size));
    return true;
  }

  size_t left() const {
    return data_.size();
  }

private:
  std::string_view data_;
};

/// Appends the wal.log encoding of `rec` to `out`.
void append_record(std::string& out, const log_record_view& rec) {
  auto payload = record_fixed_payload + rec.key.size() + rec.value.size();
  if (payload > max_record_payload)
    throw std::length_error("log record payload of " + std::to_string(payload)
                            + " bytes exceeds "
                            + std::to_string(max_record_payload));
  auto start = out.size();
  out.resize(start + record_header_size + payload);
  char* header = &out[start];
  char* body = header + record_header_size;
  char* p = put_u64(body, rec.term);
  p = put_u64(p, rec.lsn);
  p = put_u8(p, static_cast<uint8_t>(rec.op));
  p = put_u64(p, rec.write_id);
  p = put_u32(p, static_cast<uint32_t>(rec.key.size()));
  p = put_bytes(p, rec.key);
  p = put_u32(p, static_cast<uint32_t>(rec.value.size()));
  put_bytes(p, rec.value);
  put_u32(header, static_cast<uint32_t>(payload));
  put_u32(header + 4, crc32c(0, body, payload));
}

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
                      const Rows& rows) {
  check_u32_size(history.size(), "history");
  uint64_t body_len = 8 + 8 + 4 + 16 * history.size() + 8;
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

template <class Rows>
uint64_t content_checksum(const Rows& rows) {
  uint64_t sum = 0;
  for (auto& [key, value] : rows)
    sum += row_hash(key, value);
  return sum;
}

std::string hex32(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", value);
  return buf;
}

/// A whole snapshot file read in place: its rows point into the bytes.
struct snapshot_view {
  log_position position;
  std::vector<term_start> history;
  std::vector<std::pair<std::string_view, std::string_view>> rows;
};

/// Parses a whole snapshot file without copying a row; checks what
/// snapshot_decoder checks (magic, lengths, crc, history, key order, no
/// trailing bytes).
error parse_snapshot(std::string_view file, snapshot_view& out) {
  auto bad = [](const std::string& what) {
    return make_error(errc::bad_format, what);
  };
  if (file.size() < snapshot_header_size
      || std::memcmp(file.data(), snapshot_magic, sizeof(snapshot_magic)) != 0)
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
  if (!need(16 * uint64_t{n_history} + 8))
    return bad("snapshot body ends in its term history");
  out.history.resize(n_history);
  for (auto& entry : out.history) {
    entry = {get_u64(body.data() + at), get_u64(body.data() + at + 8)};
    at += 16;
  }
  if (auto err = check_history(out.history, out.position))
    return err;
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

bool has_code(const error& err, errc code) {
  return err.module() == "storage" && err.name() == to_string(code);
}

} // namespace

std::string encode_record(const log_record& rec) {
  std::string out;
  append_record(out, rec);
  return out;
}

result<size_t> decode_record(std::string_view data, log_record_view& out,
                             bool verify_crc) {
  if (data.size() < record_header_size)
    return make_error(errc::torn_record,
                      "record header needs 8 bytes, only "
                        + std::to_string(data.size()) + " left");
  auto payload_len = get_u32(data.data());
  if (payload_len > max_record_payload)
    return make_error(errc::bad_format,
                      "payload_len " + std::to_string(payload_len) + " exceeds "
                        + std::to_string(max_record_payload));
  if (data.size() - record_header_size < payload_len)
    return make_error(
      errc::torn_record,
      "record needs " + std::to_string(record_header_size + payload_len)
        + " bytes, only " + std::to_string(data.size()) + " left");
  auto payload = data.substr(record_header_size, payload_len);
  if (verify_crc) {
    auto stored_crc = get_u32(data.data() + 4);
    auto actual_crc = crc32c(payload);
    if (actual_crc != stored_crc)
      return make_error(errc::checksum_mismatch,
                        "record crc " + hex32(stored_crc) + " != computed "
                          + hex32(actual_crc));
  }
  reader in{payload};
  uint64_t term = 0;
  uint64_t lsn = 0;
  uint8_t op = 0;
  uint64_t write_id = 0;
  uint32_t key_len = 0;
  uint32_t value_len = 0;
  std::string_view key;
  std::string_view value;
  if (!in.u64(term) || !in.u64(lsn) || !in.u8(op) || !in.u64(write_id)
      || !in.u32(key_len) || !in.bytes(key_len, key) || !in.u32(value_len)
      || !in.bytes(value_len, value))
    return make_error(errc::bad_format,
                      "record fields overrun payload_len "
                        + std::to_string(payload_len));
  if (in.left() != 0)
    return make_error(errc::bad_format,
                      std::to_string(in.left())
                        + " trailing bytes in record payload");
  if (op != static_cast<uint8_t>(op_kind::put)
      && op != static_cast<uint8_t>(op_kind::del))
    return make_error(errc::bad_format,
                      "record op " + std::to_string(op) + " is unknown");
  if (lsn == 0)
    return make_error(errc::bad_format, "record lsn is 0");
  out.term = term;
  out.lsn = lsn;
  out.op = static_cast<op_kind>(op);
  out.write_id = write_id;
  out.key = key;
  out.value = value;
  return record_header_size + payload_len;
}

result<size_t> decode_record(std::string_view data, log_record& out) {
  log_record_view view;
  auto used = decode_record(data, view);
  if (used) {
    out.term = view.term;
    out.lsn = view.lsn;
    out.op = view.op;
    out.write_id = view.write_id;
    out.key.assign(view.key.data(), view.key.size());
    out.value.assign(view.value.data(), view.value.size());
  }
  return used;
}

std::string encode_snapshot(const snapshot_data& snap) {
  return encode_snapshot_parts(snap.position, snap.history, snap.rows);
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
      && std::memcmp(data.data(), snapshot_magic, sizeof(snapshot_magic)) == 0
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
        if (std::memcmp(v.data(), snapshot_magic, sizeof(snapshot_magic))
            != 0)
          return fail(
            make_error(errc::bad_format, "snapshot magic is not LGSNAP01"));
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
        stage_ = n_history_ > 0 ? stage::history : stage::row_count;
        break;
      case stage::history:
        if (!take(data, 16, v))
          return {};
        history.push_back({get_u64(v.data()), get_u64(v.data() + 8)});
        if (history.size() == n_history_) {
          if (auto err = check_history(history, position))
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

snapshot_receiver::~snapshot_receiver() {
  wait_writes();
}

error snapshot_receiver::feed(std::string_view bytes,
                              std::shared_ptr<const void> keep) {
  if (auto err = decoder_.feed(bytes))
    return err;
  if (!writer_)
    return file_->append(bytes);
  {
    // At most a few pieces wait for the disk: a disk slower than the
    // decoder holds the decoder (and so the master's chunk window) back
    // instead of piling chunks up in memory.
    std::unique_lock<std::mutex> guard{writes_->mtx};
    writes_->done.wait(guard, [this] {
      return writes_->queued < max_queued_writes || writes_->first_error;
    });
    if (writes_->first_error)
      return writes_->first_error;
    ++writes_->queued;
  }
  if (!keep) {
    auto copy = std::make_shared<std::string>(bytes);
    bytes = *copy;
    keep = std::move(copy);
  }
  // The ticket counts the append done when the job goes, whether it ran or
  // the writer dropped it (stopping): a waiter is never left hanging.
  struct ticket {
    std::shared_ptr<queued_writes> writes;
    bool ran = false;
    error err;
    ~ticket() {
      std::lock_guard<std::mutex> guard{writes->mtx};
      if (!ran && !writes->first_error)
        err = make_error(errc::io_error, "a queued snapshot append was "
                                         "dropped: its writer stopped");
      if (err && !writes->first_error)
        writes->first_error = err;
      --writes->queued;
      writes->done.notify_all();
    }
  };
  auto t = std::make_shared<ticket>();
  t->writes = writes_;
  writer_->post([t, file = file_, check = check_, bytes,
                 keep = std::move(keep)] {
    t->err = file->append(bytes);
    if (!t->err)
      t->err = check->feed(bytes);
    t->ran = true;
  });
  return {};
}

error snapshot_receiver::wait_writes() {
  std::unique_lock<std::mutex> guard{writes_->mtx};
  writes_->done.wait(guard, [this] { return writes_->queued == 0; });
  return writes_->first_error;
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

partition_store::partition_store(std::shared_ptr<vfs> fs, std::string dir,
                                 durability d)
  : fs_(std::move(fs)), dir_(std::move(dir)), mode_(d) {
}

result<recovery_report> partition_store::open() {
  wal_.reset();
  rows_.clear();
  history_.clear();
  last_ = {};
  checksum_ = 0;
  log_bytes_ = 0;
  pending_.clear();
  recovery_report report;
  if (auto err = fs_->make_dirs(dir_))
    return err;
  auto snap_path = dir_ + "/snapshot.bin";
  auto snap_bytes = fs_->read_file(snap_path);
  if (snap_bytes) {
    snapshot_decoder dec;
    auto err = dec.feed(*snap_bytes);
    if (!err)
      err = dec.finish();
    if (err)
      return error{err.module(), err.name(), snap_path + ": " + err.detail()};
    snap_bytes->clear();
    rows_ = std::move(dec.rows);
    history_ = std::move(dec.history);
    last_ = dec.position;
    checksum_ = dec.checksum;
    report.snapshot_loaded = true;
    report.snapshot_position = last_;
  } else if (!has_code(snap_bytes.err(), errc::not_found)) {
    return snap_bytes.err();
  }
  // A checkpoint's leftovers: its output file is written again by the next
  // one (wal.prev, if any, stays and is replayed).
  if (auto names = fs_->list_dir(dir_))
    for (auto& name : *names)
      if (name.rfind(checkpoint_file_prefix, 0) == 0
          || name.rfind(folded_log_prefix, 0) == 0)
        if (auto err = fs_->remove_all(dir_ + "/" + name))
          return err;
  checkpoint_open_ = false;
  ++generation_;
  auto wal_path = dir_ + "/wal.log";
  bool cut = false;
  for (auto& path : {dir_ + "/wal.prev", wal_path}) {
    std::string wal_bytes;
    if (auto bytes = fs_->read_file(path))
      wal_bytes = std::move(*bytes);
    else if (has_code(bytes.err(), errc::not_found))
      continue;
    else
      return bytes.err();
    std::string_view wal{wal_bytes};
    size_t offset = 0;
    log_record_view rec;
    while (!cut && offset < wal.size()) {
      auto used = decode_record(wal.substr(offset), rec);
      if (!used) {
        report.drop_reason = used.err().name() + " at offset "
          + std::to_string(offset) + " of " + path + " ("
          + used.err().detail() + ")";
        cut = true;
        break;
      }
      // A crash between writing a snapshot and emptying the log leaves
      // records the snapshot already holds.
      if (report.records_replayed == 0
          && rec.lsn <= report.snapshot_position.lsn) {
        offset += *used;
        continue;
      }
      if (rec.lsn != last_.lsn + 1 || rec.term < last_.term) {
        report.drop_reason = "out_of_sequence record at offset "
          + std::to_string(offset) + " of " + path + " (term "
          + std::to_string(rec.term) + ", lsn " + std::to_string(rec.lsn)
          + " after term " + std::to_string(last_.term) + ", lsn "
          + std::to_string(last_.lsn) + ")";
        cut = true;
        break;
      }
      apply(rec);
      ++report.records_replayed;
      offset += *used;
    }
    if (offset < wal.size()) {
      // Everything after a bad record goes, in this file and the next.
      report.bytes_dropped += wal.size() - offset;
      if (auto err = fs_->truncate(path, offset))
        return err;
    }
  }
  if (report.bytes_dropped > 0)
    logger("storage")->warn("[dir={}] WalTailDropped bytes={} reason={}", dir_,
                            report.bytes_dropped, report.drop_reason);
  auto file = fs_->open_append(wal_path);
  if (!file)
    return file.err();
  wal_ = std::move(*file);
  log_bytes_ = wal_->size();
  flushed_ = last_;
  pending_last_ = last_;
  logger("storage")->info("[dir={}] PartitionStoreOpened term={} lsn={} "
                          "snapshot={} replayed={}",
                          dir_, last_.term, last_.lsn, report.snapshot_loaded,
                          report.records_replayed);
  return report;
}

bool partition_store::fits(std::string_view key, std::string_view value) {
  return record_fixed_payload + key.size() + value.size()
         <= max_record_payload;
}

void partition_store::check_sequence(const log_record_view& rec) const {
  // A record out of sequence would be cut off, with all that follows it, by
  // the next recovery: refuse it loudly instead.
  if (rec.lsn != last_.lsn + 1 || rec.term < last_.term)
    throw std::logic_error(dir_ + ": append of term " + std::to_string(rec.term)
                           + ", lsn " + std::to_string(rec.lsn) + " after term "
                           + std::to_string(last_.term) + ", lsn "
                           + std::to_string(last_.lsn));
}

void partition_store::append(const log_record_view& rec) {
  check_sequence(rec);
  // Rows must see records in log order.
  apply_pending();
  last_encoded_at_ = pending_.size();
  append_record(pending_, rec);
  apply(rec);
  pending_last_ = last_;
}

void partition_store::append_deferred(const log_record_view& rec) {
  check_sequence(rec);
  auto start = pending_.size();
  last_encoded_at_ = start;
  append_record(pending_, rec);
  unapplied_.append(pending_, start, std::string::npos);
  if (history_.empty() || rec.term > history_.back().term)
    history_.push_back(term_start{rec.term, rec.lsn});
  last_ = log_position{rec.term, rec.lsn};
  pending_last_ = last_;
}

void partition_store::append_deferred_encoded(std::string_view encoded,
                                              const log_record_view& rec) {
  check_sequence(rec);
  last_encoded_at_ = pending_.size();
  pending_.append(encoded);
  unapplied_.append(encoded);
  if (history_.empty() || rec.term > history_.back().term)
    history_.push_back(term_start{rec.term, rec.lsn});
  last_ = log_position{rec.term, rec.lsn};
  pending_last_ = last_;
}

void partition_store::apply_pending() {
  // Records are decoded a few ahead of the one applied, and the table slot
  // of each key is prefetched when it is decoded: a replica applies a MiB
  // of records at a time into a table far larger than the caches, and
  // without this every insert waits for its slot's cache miss in turn.
  constexpr size_t ahead = 8;
  log_record_view ring[ahead];
  size_t decoded = 0;
  size_t applied = 0;
  std::string_view data{unapplied_};
  auto decode_next = [&] {
    auto& rec = ring[decoded % ahead];
    // Their crc was checked when they were taken in (append_log_bytes).
    auto used = decode_record(data, rec, false);
    if (!used.ok()) // cannot happen: these bytes were checked on the way in
      throw std::logic_error(dir_ + ": deferred record undecodable: "
                             + used.err().to_string());
    rows_.prefetch(absl::string_view{rec.key.data(), rec.key.size()});
    data.remove_prefix(*used);
    ++decoded;
  };
  while (!data.empty() || applied < decoded) {
    while (!data.empty() && decoded - applied < ahead)
      decode_next();
    apply_rows(ring[applied % ahead]);
    ++applied;
  }
  unapplied_.clear();
}

void partition_store::apply(const log_record_view& rec) {
  apply_rows(rec);
  if (history_.empty() || rec.term > history_.back().term)
    history_.push_back(term_start{rec.term, rec.lsn});
  last_ = log_position{rec.term, rec.lsn};
}

void partition_store::apply_rows(const log_record_view& rec) {
  // Looked up by view (absl's string hash is transparent): the key is
  // copied only when inserted, and an existing value is overwritten in
  // place, with no temporary strings.
  absl::string_view key{rec.key.data(), rec.key.size()};
  if (rec.op == op_kind::put) {
    auto [it, inserted] = rows_.try_emplace(key, rec.value.data(),
                                            rec.value.size());
    if (!inserted) {
      checksum_ -= row_hash(it->first, it->second);
      it->second.assign(rec.value.data(), rec.value.size());
    }
    checksum_ += row_hash(rec.key, rec.value);
  } else if (auto it = rows_.find(key); it != rows_.end()) {
    checksum_ -= row_hash(it->first, it->second);
    rows_.erase(it);
  }
}

error partition_store::flush() {
  if (pending_.empty())
    return {};
  if (!wal_)
    return make_error(errc::io_error, dir_ + "/wal.log: store is not open");
  // On failure the file may hold part of the batch; pending_ stays queued and
  // the caller must reopen the store rather than retry.
  if (auto err = wal_->append(pending_))
    return err;
  log_bytes_ += pending_.size();
  pending_.clear();
  if (pending_.capacity() > pending_max_capacity) {
    std::string{}.swap(pending_);
  }
  if (mode_ == durability::sync)
    if (auto err = wal_->sync())
      return err;
  flushed_ = pending_last_;
  return {};
}

error partition_store::checkpoint() {
  auto job = begin_checkpoint();
  if (!job)
    return job.err();
  if (auto err = end_checkpoint(*job, job->run()))
    return err;
  for (auto& path : take_folded_logs())
    if (auto err = fs_->remove_all(path))
      return err;
  return {};
}

result<checkpoint_job> partition_store::begin_checkpoint() {
  if (!wal_)
    return make_error(errc::io_error, dir_ + "/wal.log: store is not open");
  if (checkpoint_open_)
    return make_error(errc::io_error,
                      dir_ + ": a checkpoint is already running");
  if (auto err = flush())
    return err;
  auto prev = dir_ + "/wal.prev";
  // A wal.prev left by a failed checkpoint (or a crash) is folded first;
  // wal.log then waits for the next one.
  if (!fs_->exists(prev)) {
    auto wal_path = dir_ + "/wal.log";
    wal_.reset();
    auto err = fs_->rename(wal_path, prev);
    auto file = fs_->open_append(wal_path);
    if (!file)
      return file.err();
    wal_ = std::move(*file);
    if (err)
      return err;
    log_bytes_ = 0;
  }
  checkpoint_open_ = true;
  checkpoint_job job;
  job.fs = fs_;
  job.dir = dir_;
  job.out_path = dir_ + "/" + checkpoint_file_prefix
                 + std::to_string(++checkpoint_files);
  job.generation = generation_;
  return job;
}

result<log_position> checkpoint_job::run() const {
  // A merge, not a rebuild: the snapshot's rows are already in key order,
  // so only the log's keys are sorted, and no row is copied until the new
  // file is written.
  snapshot_view snap;
  std::string snap_bytes;
  auto snap_path = dir + "/snapshot.bin";
  if (auto bytes = fs->read_file(snap_path)) {
    snap_bytes = std::move(*bytes);
    if (auto err = parse_snapshot(snap_bytes, snap))
      return error{err.module(), err.name(), snap_path + ": " + err.detail()};
  } else if (!has_code(bytes.err(), errc::not_found)) {
    return bytes.err();
  }
  auto prev_path = dir + "/wal.prev";
  auto log = fs->read_file(prev_path);
  if (!log)
    return log.err();
  struct change {
    std::string_view key;
    std::string_view value;
    bool put;
  };
  std::vector<change> changes;
  auto position = snap.position;
  std::string_view data{*log};
  size_t offset = 0;
  log_record_view rec;
  while (offset < data.size()) {
    auto used = decode_record(data.substr(offset), rec);
    if (!used)
      return error{used.err().module(), used.err().name(),
                   prev_path + " at offset " + std::to_string(offset) + ": "
                     + used.err().detail()};
    offset += *used;
    if (rec.lsn <= position.lsn)
      continue;
    if (rec.lsn != position.lsn + 1 || rec.term < position.term)
      return make_error(errc::bad_format,
                        prev_path + " at offset "
                          + std::to_string(offset - *used) + ": term "
                          + std::to_string(rec.term) + ", lsn "
                          + std::to_string(rec.lsn) + " does not follow term "
                          + std::to_string(position.term) + ", lsn "
                          + std::to_string(position.lsn));
    changes.push_back({rec.key, rec.value, rec.op == op_kind::put});
    if (snap.history.empty() || rec.term > snap.history.back().term)
      snap.history.push_back(term_start{rec.term, rec.lsn});
    position = log_position{rec.term, rec.lsn};
  }
  // Key order; of several changes to one key, the last in the log wins.
  std::stable_sort(changes.begin(), changes.end(),
                   [](const change& a, const change& b) {
                     return a.key < b.key;
                   });
  std::vector<std::pair<std::string_view, std::string_view>> rows;
  rows.reserve(snap.rows.size() + changes.size());
  auto row = snap.rows.begin();
  for (size_t i = 0; i < changes.size(); ++i) {
    if (i + 1 < changes.size() && changes[i + 1].key == changes[i].key)
      continue;
    auto& ch = changes[i];
    for (; row != snap.rows.end() && row->first < ch.key; ++row)
      rows.push_back(*row);
    if (row != snap.rows.end() && row->first == ch.key)
      ++row;
    if (ch.put)
      rows.emplace_back(ch.key, ch.value);
  }
  rows.insert(rows.end(), row, snap.rows.end());
  if (auto err = fs->write_atomic(
        out_path, encode_snapshot_parts(position, snap.history, rows)))
    return err;
  return position;
}

error partition_store::end_checkpoint(const checkpoint_job& job,
                                      const result<log_position>& outcome) {
  bool current = checkpoint_open_ && job.generation == generation_;
  if (current)
    checkpoint_open_ = false;
  if (!current || !outcome) {
    fs_->remove_all(job.out_path);
    return outcome ? error{} : outcome.err();
  }
  // The new snapshot first: a crash in between leaves wal.prev's records,
  // which the snapshot holds and recovery skips. Unlinking a segment of 64
  // MiB takes tens of milliseconds (its cached pages go): it only moves
  // aside here, for the caller to remove off the actor.
  if (auto err = fs_->rename(job.out_path, dir_ + "/snapshot.bin"))
    return err;
  auto folded = dir_ + "/" + folded_log_prefix
                + std::to_string(++checkpoint_files);
  if (auto err = fs_->rename(dir_ + "/wal.prev", folded))
    return err;
  folded_logs_.push_back(folded);
  logger("storage")->debug("[dir={}] CheckpointWritten term={} lsn={}", dir_,
                           outcome->term, outcome->lsn);
  return {};
}

uint64_t snapshot_source::snapshot_bytes() const {
  return file_ ? file_->size() : inline_.size();
}

result<std::string> snapshot_source::read_snapshot(uint64_t offset,
                                                   size_t n) {
  if (file_)
    return file_->read_at(offset, n);
  if (offset >= inline_.size())
    return std::string{};
  return inline_.substr(static_cast<size_t>(offset), n);
}

size_t record_length(std::string_view log) {
  if (log.size() < record_header_size)
    return 0;
  auto len = record_header_size + get_u32(log.data());
  return len <= log.size() ? len : 0;
}

result<snapshot_source> partition_store::open_snapshot_source() {
  if (!pending_.empty())
    return make_error(errc::io_error,
                      dir_ + ": records are not flushed yet; flush first");
  snapshot_source src;
  src.position = flushed_;
  auto snap_path = dir_ + "/snapshot.bin";
  if (fs_->exists(snap_path)) {
    auto file = fs_->open_read(snap_path);
    if (!file)
      return file.err();
    src.file_ = std::move(*file);
  } else {
    src.inline_ = encode_snapshot_parts(log_position{}, {},
                                        std::vector<std::pair<
                                          std::string_view, std::string_view>>{});
  }
  // A checkpoint may be folding wal.prev: its records come first.
  for (auto& path : {dir_ + "/wal.prev", dir_ + "/wal.log"}) {
    auto log = fs_->read_file(path);
    if (log)
      src.log += *log;
    else if (!has_code(log.err(), errc::not_found))
      return log.err();
  }
  return src;
}

error partition_store::append_log_bytes(
  std::string_view log,
  const std::function<void(const log_record_view&)>& each,
  uint64_t max_term) {
  log_record_view rec;
  size_t offset = 0;
  while (offset < log.size()) {
    auto used = decode_record(log.substr(offset), rec);
    if (!used)
      return error{used.err().module(), used.err().name(),
                   "log record at offset " + std::to_string(offset) + ": "
                     + used.err().detail()};
    offset += *used;
    if (rec.lsn <= last_.lsn)
      continue;
    if (rec.lsn != last_.lsn + 1 || rec.term < last_.term
        || rec.term > max_term)
      return make_error(errc::bad_format,
                        "log record at offset " + std::to_string(offset - *used)
                          + " (term " + std::to_string(rec.term) + ", lsn "
                          + std::to_string(rec.lsn)
                          + ") does not follow term "
                          + std::to_string(last_.term) + ", lsn "
                          + std::to_string(last_.lsn));
    append_deferred_encoded(log.substr(offset - *used, *used), rec);
    if (each)
      each(rec);
  }
  return {};
}

result<std::unique_ptr<snapshot_receiver>>
partition_store::receive_snapshot(std::shared_ptr<background_worker> writer) {
  if (auto err = fs_->make_dirs(dir_))
    return err;
  auto path = dir_ + "/snapshot.bin.incoming";
  if (fs_->exists(path))
    if (auto err = fs_->remove_all(path))
      return err;
  auto file = fs_->open_append(path);
  if (!file)
    return file.err();
  (*file)->set_write_behind(false);
  return std::unique_ptr<snapshot_receiver>{
    new snapshot_receiver(path, std::move(*file), std::move(writer))};
}

error partition_store::install(snapshot_receiver& in) {
  auto& dec = in.decoder_;
  if (auto err = dec.finish())
    return err;
  // The last appends may still run on the writer thread (at most
  // max_queued_writes pieces), and with them the crc check.
  if (auto err = in.wait_writes())
    return err;
  uint64_t checksum = dec.checksum;
  if (in.check_) {
    if (auto err = in.check_->finish())
      return err;
    checksum = in.check_->checksum;
  }
  if (mode_ == durability::sync)
    if (auto err = in.file_->sync())
      return err;
  in.file_.reset();
  auto wal_path = dir_ + "/wal.log";
  wal_.reset();
  // A running checkpoint folds the old content: it is discarded at its end.
  checkpoint_open_ = false;
  ++generation_;
  // Empty the log before the snapshot changes: a crash in between leaves
  // the old snapshot alone, a consistent prefix, whereas the other order
  // could replay old records on top of the new snapshot.
  if (auto err = fs_->remove_all(dir_ + "/wal.prev"))
    return err;
  if (auto err = fs_->truncate(wal_path, 0);
      err && !has_code(err, errc::not_found))
    return err;
  if (auto err = fs_->rename(in.path_, dir_ + "/snapshot.bin"))
    return err;
  unapplied_.clear();
  rows_ = std::move(dec.rows);
  history_ = std::move(dec.history);
  last_ = dec.position;
  flushed_ = last_;
  pending_last_ = last_;
  checksum_ = checksum;
  pending_.clear();
  auto file = fs_->open_append(wal_path);
  if (!file)
    return file.err();
  wal_ = std::move(*file);
  log_bytes_ = 0;
  logger("storage")->info("[dir={}] PartitionReset term={} lsn={} rows={} "
                          "(received snapshot)",
                          dir_, last_.term, last_.lsn, rows_.size());
  return {};
}

snapshot_data partition_store::make_snapshot() {
  apply_pending();
  snapshot_data snap;
  snap.position = last_;
  snap.history = history_;
  snap.rows.insert(rows_.begin(), rows_.end());
  return snap;
}

} // namespace lg::storage
