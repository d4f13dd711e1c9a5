#include "consensus/raft_store.hpp"

#include <utility>

#include "storage/crc32c.hpp"

namespace lg::consensus {

namespace {

constexpr char meta_magic[] = "LGRAFTM1";
constexpr char snapshot_magic[] = "LGRAFTS1";
constexpr size_t magic_size = 8;
constexpr size_t record_header = 8;                 // length, crc
constexpr size_t record_fixed = 8 + 8 + 2;          // index, term, type
constexpr uint32_t max_record = 256u * 1024 * 1024; // a sanity cap

void put_u16(std::string& out, uint16_t v) {
  for (int i = 0; i < 2; ++i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t get_le(const std::string& in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i]))
         << (8 * i);
  return v;
}

/// Reads fields from a byte string; any read past the end marks it bad.
struct reader {
  const std::string& in;
  size_t at = 0;
  bool bad = false;

  uint64_t u(int bytes) {
    if (bad || in.size() - at < static_cast<size_t>(bytes)) {
      bad = true;
      return 0;
    }
    auto v = get_le(in, at, bytes);
    at += static_cast<size_t>(bytes);
    return v;
  }

  std::string bytes(uint64_t n) {
    if (bad || in.size() - at < n) {
      bad = true;
      return {};
    }
    auto s = in.substr(at, n);
    at += n;
    return s;
  }
};

/// `body` followed by its crc32c.
std::string sealed(std::string body) {
  put_u32(body, storage::crc32c(body));
  return body;
}

/// The body of a sealed file, or an error naming `path`.
result<std::string> unseal(const std::string& path, const std::string& bytes,
                           const char* magic) {
  if (bytes.size() < magic_size + 4
      || bytes.compare(0, magic_size, magic) != 0)
    return make_error(errc::corrupt, path + ": not a leafguard Raft file "
                                       "(bad magic or too short)");
  auto body = bytes.substr(0, bytes.size() - 4);
  auto crc = static_cast<uint32_t>(get_le(bytes, bytes.size() - 4, 4));
  if (storage::crc32c(body) != crc)
    return make_error(errc::corrupt, path + ": checksum mismatch");
  return body.substr(magic_size);
}

error io_error(const std::string& what, const error& e) {
  return make_error(errc::io, what + ": " + e.to_string());
}

} // namespace

const char* to_string(errc code) {
  switch (code) {
    case errc::corrupt:
      return "corrupt";
    case errc::io:
      return "io";
  }
  return "unknown";
}

std::string encode_log_record(uint64_t index, const stored_entry& e) {
  std::string payload;
  payload.reserve(record_fixed + e.data.size());
  put_u64(payload, index);
  put_u64(payload, e.term);
  put_u16(payload, e.type);
  payload += e.data;
  std::string out;
  out.reserve(record_header + payload.size());
  put_u32(out, static_cast<uint32_t>(payload.size()));
  put_u32(out, storage::crc32c(payload));
  out += payload;
  return out;
}

raft_store::raft_store(std::shared_ptr<storage::vfs> fs, std::string dir)
  : fs_(std::move(fs)), dir_(std::move(dir)) {
}

uint64_t raft_store::last_index() const {
  if (!entries_.empty())
    return start_ + entries_.size() - 1;
  return snapshot_ ? snapshot_->index : 0;
}

result<bool> raft_store::load_log(const std::string& bytes) {
  auto path = dir_ + "/raft-log";
  size_t at = 0;
  uint64_t expected = 0;
  while (at < bytes.size()) {
    auto left = bytes.size() - at;
    bool torn = false;
    uint32_t len = 0;
    if (left < record_header) {
      torn = true;
    } else {
      len = static_cast<uint32_t>(get_le(bytes, at, 4));
      if (len < record_fixed || len > max_record
          || left - record_header < len) {
        // A length past the end: a write cut short, if nothing follows.
        torn = len >= record_fixed && len <= max_record;
        if (!torn)
          return make_error(errc::corrupt,
                            path + ": bad record length "
                              + std::to_string(len) + " at offset "
                              + std::to_string(at));
      }
    }
    if (!torn) {
      auto payload = bytes.substr(at + record_header, len);
      auto crc = static_cast<uint32_t>(get_le(bytes, at + 4, 4));
      if (storage::crc32c(payload) != crc) {
        if (at + record_header + len == bytes.size()) {
          torn = true; // the last record, written only in part
        } else {
          return make_error(errc::corrupt,
                            path + ": checksum mismatch in the record at "
                                   "offset "
                              + std::to_string(at)
                              + " with more records after it");
        }
      } else {
        reader r{payload};
        auto index = r.u(8);
        stored_entry e;
        e.term = r.u(8);
        e.type = static_cast<uint16_t>(r.u(2));
        e.data = payload.substr(record_fixed);
        if (expected != 0 && index != expected)
          return make_error(errc::corrupt,
                            path + ": entry " + std::to_string(index)
                              + " at offset " + std::to_string(at)
                              + " follows entry "
                              + std::to_string(expected - 1));
        if (expected == 0)
          start_ = index;
        expected = index + 1;
        entries_.push_back(std::move(e));
        at += record_header + len;
        continue;
      }
    }
    // Torn tail: cut it off so that appends follow the last whole record.
    if (auto err = fs_->truncate(path, at))
      return io_error("cutting the torn end of " + path, err);
    return true;
  }
  return false;
}

result<loaded_state> raft_store::load() {
  if (auto err = fs_->make_dirs(dir_))
    return io_error("creating " + dir_, err);
  auto meta_path = dir_ + "/raft-meta";
  if (fs_->exists(meta_path)) {
    auto bytes = fs_->read_file(meta_path);
    if (!bytes)
      return io_error("reading " + meta_path, bytes.err());
    auto body = unseal(meta_path, *bytes, meta_magic);
    if (!body)
      return body.err();
    reader r{*body};
    term_ = r.u(8);
    vote_ = r.u(8);
    if (r.bad)
      return make_error(errc::corrupt, meta_path + ": too short");
  }
  auto snap_path = dir_ + "/raft-snapshot";
  if (fs_->exists(snap_path)) {
    auto bytes = fs_->read_file(snap_path);
    if (!bytes)
      return io_error("reading " + snap_path, bytes.err());
    auto body = unseal(snap_path, *bytes, snapshot_magic);
    if (!body)
      return body.err();
    reader r{*body};
    stored_snapshot s;
    s.index = r.u(8);
    s.term = r.u(8);
    s.conf_index = r.u(8);
    auto n = r.u(4);
    for (uint64_t i = 0; i < n && !r.bad; ++i) {
      stored_server srv;
      srv.id = r.u(8);
      srv.role = static_cast<int>(r.u(4));
      srv.address = r.bytes(r.u(4));
      s.conf.push_back(std::move(srv));
    }
    s.data = r.bytes(r.u(8));
    if (r.bad)
      return make_error(errc::corrupt, snap_path + ": fields cut short");
    snapshot_ = std::move(s);
  }
  auto log_path = dir_ + "/raft-log";
  if (fs_->exists(log_path)) {
    auto bytes = fs_->read_file(log_path);
    if (!bytes)
      return io_error("reading " + log_path, bytes.err());
    auto cut = load_log(*bytes);
    if (!cut)
      return cut.err();
  }
  if (entries_.empty())
    start_ = snapshot_ ? snapshot_->index + 1 : 1;
  if (snapshot_ && start_ > snapshot_->index + 1)
    return make_error(errc::corrupt,
                      log_path + ": the log starts at entry "
                        + std::to_string(start_) + ", after a gap behind "
                        "the snapshot at "
                        + std::to_string(snapshot_->index));
  if (auto err = open_log())
    return err;
  loaded_state out;
  out.term = term_;
  out.vote = vote_;
  out.snapshot = snapshot_;
  out.start_index = start_;
  out.entries.assign(entries_.begin(), entries_.end());
  return out;
}

error raft_store::open_log() {
  auto path = dir_ + "/raft-log";
  auto f = fs_->open_append(path);
  if (!f)
    return io_error("opening " + path, f.err());
  log_ = std::move(*f);
  return {};
}

error raft_store::write_meta() {
  std::string body{meta_magic, magic_size};
  put_u64(body, term_);
  put_u64(body, vote_);
  auto path = dir_ + "/raft-meta";
  if (auto err = fs_->write_atomic(path, sealed(std::move(body))))
    return io_error("writing " + path, err);
  return {};
}

error raft_store::set_term(uint64_t term) {
  term_ = term;
  vote_ = 0;
  return write_meta();
}

error raft_store::set_vote(uint64_t id) {
  vote_ = id;
  return write_meta();
}

error raft_store::append(uint64_t first_index,
                         const std::vector<stored_entry>& entries) {
  if (entries.empty())
    return {};
  if (first_index != last_index() + 1)
    return make_error(errc::corrupt,
                      dir_ + "/raft-log: an append at entry "
                        + std::to_string(first_index)
                        + " does not follow the last entry "
                        + std::to_string(last_index()));
  if (entries_.empty())
    start_ = first_index;
  std::string bytes;
  for (size_t i = 0; i < entries.size(); ++i)
    bytes += encode_log_record(first_index + i, entries[i]);
  if (auto err = log_->append(bytes))
    return io_error("appending to " + dir_ + "/raft-log", err);
  if (auto err = log_->sync())
    return io_error("syncing " + dir_ + "/raft-log", err);
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return {};
}

error raft_store::rewrite_log() {
  std::string bytes;
  for (size_t i = 0; i < entries_.size(); ++i)
    bytes += encode_log_record(start_ + i, entries_[i]);
  auto path = dir_ + "/raft-log";
  log_.reset();
  if (auto err = fs_->write_atomic(path, bytes))
    return io_error("rewriting " + path, err);
  return open_log();
}

error raft_store::truncate(uint64_t index) {
  if (index < start_)
    index = start_;
  auto keep = index - start_;
  if (keep >= entries_.size())
    return {};
  entries_.resize(keep);
  return rewrite_log();
}

error raft_store::put_snapshot(stored_snapshot snap, unsigned trailing) {
  std::string body{snapshot_magic, magic_size};
  put_u64(body, snap.index);
  put_u64(body, snap.term);
  put_u64(body, snap.conf_index);
  put_u32(body, static_cast<uint32_t>(snap.conf.size()));
  for (auto& s : snap.conf) {
    put_u64(body, s.id);
    put_u32(body, static_cast<uint32_t>(s.role));
    put_u32(body, static_cast<uint32_t>(s.address.size()));
    body += s.address;
  }
  put_u64(body, snap.data.size());
  body += snap.data;
  auto path = dir_ + "/raft-snapshot";
  if (auto err = fs_->write_atomic(path, sealed(std::move(body))))
    return io_error("writing " + path, err);
  // Entries up to index - trailing go; with trailing 0 every entry goes.
  uint64_t first_kept = trailing == 0 || snap.index < trailing
                          ? snap.index + 1
                          : snap.index - trailing + 1;
  if (trailing == 0) {
    entries_.clear();
    start_ = snap.index + 1;
  } else {
    while (!entries_.empty() && start_ < first_kept) {
      entries_.pop_front();
      ++start_;
    }
    if (entries_.empty())
      start_ = snap.index + 1;
  }
  snapshot_ = std::move(snap);
  return rewrite_log();
}

} // namespace lg::consensus
