// checkpoint_job::run, and partition_store's side of a checkpoint:
// checkpoint(), begin_checkpoint() and end_checkpoint() (steps in
// checkpoint.hpp).
#include "storage/checkpoint.hpp"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "storage/byte_fields.hpp"
#include "storage/partition_store.hpp"
#include "storage/record_format.hpp"
#include "storage/snapshot_format.hpp"

namespace lg::storage {

using namespace internal;

namespace {

/// Makes checkpoint output names unique in the process: a job of a store
/// since re-opened may still be writing its own.
std::atomic<uint64_t> checkpoint_files{0};

} // namespace

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
  // What was fsynced must stay so once wal.log is sealed: sync_log() only
  // reaches the new wal.log.
  if (auto err = sync_log())
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
    note_write_id(snap.write_ids, rec.write_id, rec.lsn);
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
  // The newest write ids go with the rows, so that a copy opened from this
  // snapshot still answers a retry of a write it folded.
  trim_write_ids(snap.write_ids);
  if (auto err = fs->write_atomic(
        out_path, encode_snapshot(position, snap.history, rows,
                                  snap.write_ids)))
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

} // namespace lg::storage
