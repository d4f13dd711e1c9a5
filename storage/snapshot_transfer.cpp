// snapshot_receiver and snapshot_source, and partition_store's side of a
// transfer: open_snapshot_source(), receive_snapshot() and install() (steps
// in snapshot_transfer.hpp).
#include "storage/snapshot_transfer.hpp"

#include "base/log.hpp"
#include "storage/byte_fields.hpp"
#include "storage/partition_store.hpp"

namespace lg::storage {

using namespace internal;

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
    src.inline_ = encode_snapshot(log_position{}, {}, row_views{});
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
  // Whatever the durability: the copy may be promoted and acknowledge
  // writes alone, and what it acknowledges alone is on disk
  // (partition_store::synced).
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
  write_ids_ = std::move(dec.write_ids);
  last_ = dec.position;
  flushed_ = last_;
  synced_ = last_; // the snapshot was fsynced before it was installed
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

} // namespace lg::storage
