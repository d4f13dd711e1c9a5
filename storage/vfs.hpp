// The file system seen by storage: one disk implementation and one in-memory
// implementation. The in-memory one remembers which bytes were synced, so a
// simulated crash can lose unsynced data, tear the last write, or corrupt a
// block (FoundationDB's simulated disk; Redpanda's in-memory storage).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace lg::storage {

enum class errc {
  io_error,          ///< the OS refused a read or write
  not_found,         ///< the file or directory does not exist
  checksum_mismatch, ///< a record or snapshot failed its checksum
  torn_record,       ///< a record ends before its declared length
  bad_format,        ///< magic, version or a field is out of range
};

const char* to_string(errc code);

LG_MODULE_ERRORS("storage", errc)

/// A file opened for appending.
class append_file {
public:
  virtual ~append_file() = default;

  /// Appends bytes (may stay in an OS or simulated cache until `sync`).
  virtual error append(std::string_view bytes) = 0;

  /// Makes everything appended so far durable (fsync).
  virtual error sync() = 0;

  /// Returns the file size including unsynced bytes.
  virtual uint64_t size() const = 0;

  /// A log starts writing its bytes back every MiB (on by default), so
  /// that dirty pages never pile up into a burst. A file written once in
  /// bulk (a received snapshot) turns it off: starting write-back waits
  /// whenever the device's queue is full, which would hold the writer to
  /// the device's speed instead of the page cache's.
  virtual void set_write_behind(bool on) {
    (void)on;
  }
};

/// A file opened for reading at any offset. It reads the file it opened,
/// even after a rename or write_atomic has put another in its place.
class readable_file {
public:
  virtual ~readable_file() = default;

  /// The file's size when it was opened.
  virtual uint64_t size() const = 0;

  /// Returns `n` bytes from `offset` (fewer at the end of the file).
  virtual result<std::string> read_at(uint64_t offset, size_t n) = 0;
};

/// The file system interface used by all of storage.
class vfs {
public:
  virtual ~vfs() = default;

  /// Creates `dir` and its parents.
  virtual error make_dirs(const std::string& dir) = 0;

  /// Returns the whole content of `path`, or `storage.not_found`.
  virtual result<std::string> read_file(const std::string& path) = 0;

  /// Opens `path` for appending, creating it when missing.
  virtual result<std::unique_ptr<append_file>>
  open_append(const std::string& path) = 0;

  /// Opens `path` for reading, or returns `storage.not_found`.
  virtual result<std::unique_ptr<readable_file>>
  open_read(const std::string& path) = 0;

  /// Replaces `path` atomically by `bytes` (temp file, fsync, rename).
  virtual error write_atomic(const std::string& path,
                             const std::string& bytes) = 0;

  /// Creates `dir` (and its parents) holding `files` (name, bytes), with no
  /// fsync: none of it is durable until sync_created(). Many instances created
  /// together are synced once, not a few times each.
  virtual error
  create_unsynced(const std::string& dir,
                  const std::vector<std::pair<std::string, std::string>>& files)
    = 0;

  /// Makes what create_unsynced() wrote in each of `dirs` durable, the
  /// files and the directory entries (whose parents' own entries must
  /// already be durable). On disk it is one syncfs of the file system,
  /// through a descriptor opened before the first create_unsynced() there,
  /// so it reports every write-back error since, whoever else saw it. It
  /// also writes out the other files' dirty pages: run it where a wait
  /// does not stall anything that must answer.
  virtual error sync_created(const std::vector<std::string>& dirs) = 0;

  /// Cuts `path` down to `size` bytes.
  virtual error truncate(const std::string& path, uint64_t size) = 0;

  /// Renames `from` to `to` (a file or a directory), creating parents of `to`.
  virtual error rename(const std::string& from, const std::string& to) = 0;

  /// Removes a file or a whole directory tree; missing is not an error.
  virtual error remove_all(const std::string& path) = 0;

  virtual bool exists(const std::string& path) = 0;

  /// Lists the names (not paths) of the entries in `dir`, sorted.
  virtual result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
};

/// The real file system.
std::shared_ptr<vfs> make_disk_vfs();

/// A simulated file system held in memory.
class memory_vfs : public vfs {
public:
  struct file_state {
    std::string data;
    uint64_t synced = 0; ///< bytes of `data` known durable
  };

  error make_dirs(const std::string& dir) override;
  result<std::string> read_file(const std::string& path) override;
  result<std::unique_ptr<append_file>>
  open_append(const std::string& path) override;
  result<std::unique_ptr<readable_file>>
  open_read(const std::string& path) override;
  error write_atomic(const std::string& path,
                     const std::string& bytes) override;
  error create_unsynced(
    const std::string& dir,
    const std::vector<std::pair<std::string, std::string>>& files) override;
  error sync_created(const std::vector<std::string>& dirs) override;
  error truncate(const std::string& path, uint64_t size) override;
  error rename(const std::string& from, const std::string& to) override;
  error remove_all(const std::string& path) override;
  bool exists(const std::string& path) override;
  result<std::vector<std::string>> list_dir(const std::string& dir) override;

  /// Simulates a machine crash below `prefix`: every file loses its unsynced
  /// bytes, except that `keep_torn` bytes of the unsynced tail survive in the
  /// file with the largest unsynced tail (a torn write).
  void crash(const std::string& prefix, uint64_t keep_torn = 0);

  /// Flips one byte at `offset` of `path` (a corrupt block).
  error corrupt(const std::string& path, uint64_t offset);

  /// Makes every write below `prefix` fail from now on (appends, syncs,
  /// atomic writes, renames) with `why` (e.g. "No space left on device"):
  /// a full or failing disk.
  void fail_writes(const std::string& prefix, const std::string& why);

  /// Ends every fail_writes().
  void clear_write_failures();

  /// Direct access for tests.
  std::map<std::string, std::shared_ptr<file_state>>& files() {
    return files_;
  }

  /// The write failure injected below `path`, if any ("" when none).
  std::string write_failure(const std::string& path) const;

private:
  std::map<std::string, std::shared_ptr<file_state>> files_;
  std::map<std::string, bool> dirs_;
  std::map<std::string, std::string> failing_; ///< prefix -> why
};

} // namespace lg::storage
