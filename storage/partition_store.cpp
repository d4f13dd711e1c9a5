// partition_store: opening and recovery, appends (eager and deferred),
// flushes, and taking a replica's log bytes. Its checkpoint members are in
// checkpoint.cpp, its snapshot transfer members in snapshot_transfer.cpp.
#include "storage/partition_store.hpp"

#include <stdexcept>

#include "base/bugs.hpp"
#include "base/log.hpp"
#include "storage/byte_fields.hpp"

namespace lg::storage {

using namespace internal;

namespace {

// A flush keeps its buffer between batches, unless one huge batch grew it.
// The buffer grows with use rather than being reserved up front: a leaf may
// host thousands of mostly idle instances.
constexpr size_t pending_max_capacity = 16 * 1024 * 1024;

} // namespace

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
  write_ids_.clear();
  recovery_report report;
  recovery_ = report;
  if (auto err = fs_->make_dirs(dir_))
    return err;
  auto snap_path = dir_ + "/snapshot.bin";
  auto snap_bytes = fs_->read_file(snap_path);
  if (snap_bytes) {
    snapshot_decoder dec;
    auto err = dec.feed(*snap_bytes);
    if (!err)
      err = dec.finish();
    if (err) {
      report.corrupt_file = snap_path;
      report.corrupt_reason = err.name() + " (" + err.detail() + ")";
      recovery_ = report;
      return error{err.module(), err.name(),
                   "corrupt snapshot " + snap_path + ": " + err.detail()};
    }
    snap_bytes->clear();
    rows_ = std::move(dec.rows);
    history_ = std::move(dec.history);
    write_ids_ = std::move(dec.write_ids);
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
  auto prev_path = dir_ + "/wal.prev";
  std::string files[2];
  bool present[2] = {false, false};
  for (int i = 0; i < 2; ++i) {
    auto bytes = fs_->read_file(i == 0 ? prev_path : wal_path);
    if (bytes) {
      files[i] = std::move(*bytes);
      present[i] = true;
    } else if (!has_code(bytes.err(), errc::not_found)) {
      return bytes.err();
    }
  }
  bool cut = false;
  for (int i = 0; i < 2; ++i) {
    if (!present[i])
      continue;
    const auto& path = i == 0 ? prev_path : wal_path;
    std::string_view wal{files[i]};
    size_t offset = 0;
    if (i == 1)
      std::string{}.swap(files[0]); // replayed: free it before the next
    // Why the record at `offset` was not replayed: an error name, details.
    std::string bad_name;
    std::string bad_detail;
    bool decodes = false;
    log_record_view rec;
    while (!cut && offset < wal.size()) {
      auto used = decode_record(wal.substr(offset), rec);
      if (!used) {
        bad_name = used.err().name();
        bad_detail = used.err().detail();
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
        decodes = true;
        bad_name = "out_of_sequence record";
        bad_detail = "term " + std::to_string(rec.term) + ", lsn "
                     + std::to_string(rec.lsn) + " after term "
                     + std::to_string(last_.term) + ", lsn "
                     + std::to_string(last_.lsn);
        break;
      }
      apply(rec);
      note_write_id(write_ids_, rec.write_id, rec.lsn);
      ++report.records_replayed;
      offset += *used;
    }
    if (offset >= wal.size())
      continue;
    if (cut) {
      // Only the broken variant gets here (corrupt-as-torn): the file after
      // a cut one goes whole.
      report.bytes_dropped += wal.size();
      if (auto err = fs_->truncate(path, 0))
        return err;
      continue;
    }
    // Only the last record of the whole log may be torn: wal.prev's end is
    // the log's end only when no wal.log follows it.
    bool at_log_end = i == 1 || !present[1] || files[1].empty();
    bool torn = !decodes && at_log_end && is_torn_tail(wal.substr(offset));
    if (!torn && !bugs::corrupt_as_torn) {
      report.corrupt_file = path;
      report.corrupt_offset = offset;
      report.corrupt_reason = bad_name + " (" + bad_detail + ")";
      recovery_ = report;
      auto what = "corrupt at offset " + std::to_string(offset) + " of " + path
                  + ": " + report.corrupt_reason;
      logger("storage")->error("[dir={}] WalCorrupt {}; its good records end "
                               "at term {}, lsn {}; the file is left as it "
                               "is",
                               dir_, what, last_.term, last_.lsn);
      // A record cut short in the middle of the log has a bad length: it is
      // no torn write.
      auto code = decodes || bad_name == to_string(errc::torn_record)
                    ? std::string{to_string(errc::bad_format)}
                    : bad_name;
      return error{"storage", code, what};
    }
    // A torn last record: cut it off, so that appends follow good records.
    cut = true;
    report.bytes_dropped += wal.size() - offset;
    report.dropped_file = path;
    report.drop_reason = bad_name + " at offset " + std::to_string(offset)
                         + " of " + path + " (" + bad_detail + ")";
    if (auto err = fs_->truncate(path, offset))
      return err;
  }
  trim_write_ids(write_ids_);
  if (report.bytes_dropped > 0)
    logger("storage")->warn("[dir={}] WalTailDropped bytes={} reason={}", dir_,
                            report.bytes_dropped, report.drop_reason);
  auto file = fs_->open_append(wal_path);
  if (!file)
    return file.err();
  wal_ = std::move(*file);
  log_bytes_ = wal_->size();
  flushed_ = last_;
  synced_ = last_;
  pending_last_ = last_;
  recovery_ = report;
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

error partition_store::sync_log() {
  if (mode_ == durability::sync || synced_ == flushed_)
    return {};
  if (!wal_)
    return make_error(errc::io_error, dir_ + "/wal.log: store is not open");
  if (auto err = wal_->sync())
    return err;
  synced_ = flushed_;
  return {};
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

snapshot_data partition_store::make_snapshot() {
  apply_pending();
  snapshot_data snap;
  snap.position = last_;
  snap.history = history_;
  snap.rows.insert(rows_.begin(), rows_.end());
  return snap;
}

} // namespace lg::storage
