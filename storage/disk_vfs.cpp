#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/vfs.hpp"

namespace lg::storage {

namespace {

namespace fs = std::filesystem;

error os_error(const std::string& what, const std::string& path, int err) {
  auto code = err == ENOENT ? errc::not_found : errc::io_error;
  return make_error(code, what + " " + path + ": " + std::strerror(err));
}

error fs_error(const char* what, const std::string& path,
               const std::error_code& ec) {
  auto code = ec == std::errc::no_such_file_or_directory ? errc::not_found
                                                         : errc::io_error;
  return make_error(code, std::string{what} + " " + path + ": " + ec.message());
}

std::string parent_of(const std::string& path) {
  auto parent = fs::path{path}.parent_path();
  return parent.empty() ? std::string{"."} : parent.string();
}

/// Closes a file descriptor when it goes out of scope.
class fd_guard {
public:
  explicit fd_guard(int fd) : fd_(fd) {
  }

  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;

  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  int get() const {
    return fd_;
  }

  /// Hands the descriptor over to the caller.
  int release() {
    auto fd = fd_;
    fd_ = -1;
    return fd;
  }

private:
  int fd_;
};

int open_retry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Adds every byte that reached the file to `written`, even on failure.
error write_all(int fd, const std::string& path, std::string_view bytes,
                uint64_t& written) {
  const char* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    auto n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return os_error("write", path, errno);
    }
    data += n;
    left -= static_cast<size_t>(n);
    written += static_cast<uint64_t>(n);
  }
  return {};
}

error fsync_fd(int fd, const std::string& path) {
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0)
    return os_error("fsync", path, errno);
  return {};
}

// A new or renamed directory entry is only durable once its directory is
// fsynced.
error fsync_dir(const std::string& dir) {
  int fd = open_retry(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return os_error("open directory", dir, errno);
  fd_guard guard{fd};
  return fsync_fd(fd, dir);
}

/// A file of the real file system opened with O_APPEND.
class disk_append_file : public append_file {
public:
  disk_append_file(int fd, std::string path, uint64_t size)
    : fd_(fd), path_(std::move(path)), size_(size), written_back_(size) {
  }

  disk_append_file(const disk_append_file&) = delete;
  disk_append_file& operator=(const disk_append_file&) = delete;

  ~disk_append_file() override {
    ::close(fd_);
  }

  error append(std::string_view bytes) override {
    if (auto err = write_all(fd_, path_, bytes, size_))
      return err;
    if (write_behind_ && size_ - written_back_ >= write_behind_bytes) {
      // Start writing the new bytes back now (RocksDB's bytes_per_sync):
      // left to the kernel, gigabytes of dirty log pile up and are written
      // back in one burst that stalls every writer for seconds. Advisory:
      // a file system without it simply keeps the old behaviour.
      ::sync_file_range(fd_, static_cast<off_t>(written_back_),
                        static_cast<off_t>(size_ - written_back_),
                        SYNC_FILE_RANGE_WRITE);
      written_back_ = size_;
    }
    return {};
  }

  void set_write_behind(bool on) override {
    write_behind_ = on;
  }

  error sync() override {
    int rc;
    do {
      rc = ::fdatasync(fd_);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
      return os_error("fdatasync", path_, errno);
    return {};
  }

  uint64_t size() const override {
    return size_;
  }

private:
  /// How much of a log may wait in the page cache before its write-back
  /// starts.
  static constexpr uint64_t write_behind_bytes = 1 << 20;
  bool write_behind_ = true;

  int fd_;
  std::string path_;
  uint64_t size_;
  uint64_t written_back_; ///< write-back started up to here
};

/// The real file system, through POSIX calls.
class disk_read_file : public readable_file {
public:
  disk_read_file(int fd, std::string path, uint64_t size)
    : fd_(fd), path_(std::move(path)), size_(size) {
  }

  ~disk_read_file() override {
    ::close(fd_);
  }

  uint64_t size() const override {
    return size_;
  }

  result<std::string> read_at(uint64_t offset, size_t n) override {
    std::string out;
    out.resize(n);
    size_t have = 0;
    while (have < n) {
      auto got = ::pread(fd_, &out[have], n - have,
                         static_cast<off_t>(offset + have));
      if (got < 0) {
        if (errno == EINTR)
          continue;
        return os_error("read", path_, errno);
      }
      if (got == 0)
        break;
      have += static_cast<size_t>(got);
    }
    out.resize(have);
    return out;
  }

private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

class disk_vfs : public vfs {
public:
  disk_vfs() = default;
  disk_vfs(const disk_vfs&) = delete;
  disk_vfs& operator=(const disk_vfs&) = delete;

  ~disk_vfs() override {
    for (auto& kvp : watched_)
      ::close(kvp.second);
  }

  error make_dirs(const std::string& dir) override {
    // Remember which levels are new: each one must be made durable in its
    // parent.
    std::vector<std::string> created;
    std::error_code ec;
    for (fs::path p{dir}; !p.empty() && !fs::exists(p, ec);
         p = p.parent_path()) {
      created.push_back(p.string());
      if (p == p.parent_path())
        break;
    }
    fs::create_directories(dir, ec);
    if (ec)
      return fs_error("create directories", dir, ec);
    for (auto i = created.rbegin(); i != created.rend(); ++i)
      if (auto err = fsync_dir(parent_of(*i)))
        return err;
    return {};
  }

  result<std::string> read_file(const std::string& path) override {
    auto file = open_read(path);
    if (!file)
      return file.err();
    return (*file)->read_at(0, static_cast<size_t>((*file)->size()));
  }

  result<std::unique_ptr<append_file>>
  open_append(const std::string& path) override {
    struct stat st;
    bool created = ::stat(path.c_str(), &st) < 0 && errno == ENOENT;
    int fd = open_retry(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
      return os_error("open", path, errno);
    fd_guard guard{fd};
    if (::fstat(fd, &st) < 0)
      return os_error("stat", path, errno);
    if (created)
      if (auto err = fsync_dir(parent_of(path)))
        return err;
    std::unique_ptr<append_file> file = std::make_unique<disk_append_file>(
      guard.release(), path, static_cast<uint64_t>(st.st_size));
    return file;
  }

  result<std::unique_ptr<readable_file>>
  open_read(const std::string& path) override {
    int fd = open_retry(path.c_str(), O_RDONLY);
    if (fd < 0)
      return os_error("open", path, errno);
    fd_guard guard{fd};
    struct stat st;
    if (::fstat(fd, &st) < 0)
      return os_error("stat", path, errno);
    if (S_ISDIR(st.st_mode))
      return make_error(errc::io_error, "read " + path + ": is a directory");
    std::unique_ptr<readable_file> file = std::make_unique<disk_read_file>(
      guard.release(), path, static_cast<uint64_t>(st.st_size));
    return file;
  }

  error write_atomic(const std::string& path,
                     const std::string& bytes) override {
    auto tmp = path + ".tmp";
    auto err = write_file(tmp, bytes, true);
    if (!err && ::rename(tmp.c_str(), path.c_str()) < 0)
      err = os_error("rename", tmp + " to " + path, errno);
    if (err) {
      // Best effort: a stale temp file is harmless, the next write truncates
      // it, so the original error is the one worth reporting.
      ::unlink(tmp.c_str());
      return err;
    }
    return fsync_dir(parent_of(path));
  }

  error create_unsynced(
    const std::string& dir,
    const std::vector<std::pair<std::string, std::string>>& files) override {
    // Watched from before the first write below it, so that the sync sees
    // every write-back error since (syncfs reports those since its file
    // descriptor was opened, whoever else saw them).
    if (auto err = watch(parent_of(dir)); err)
      return err;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      return fs_error("create directories", dir, ec);
    for (auto& [name, bytes] : files)
      if (auto err = write_file(dir + "/" + name, bytes, false))
        return err;
    return {};
  }

  error sync_created(const std::vector<std::string>& dirs) override {
    std::set<std::string> parents;
    for (auto& dir : dirs)
      parents.insert(parent_of(dir));
    for (auto& parent : parents) {
      int fd = -1;
      {
        std::lock_guard<std::mutex> guard{watch_mtx_};
        auto i = watched_.find(parent);
        if (i != watched_.end())
          fd = i->second;
      }
      if (fd < 0)
        return make_error(errc::io_error, "sync " + parent
                                            + ": nothing was created there");
      // One call for the whole file system: contents, inodes and directory
      // entries (the caller runs it off any actor that must stay
      // responsive: it also writes out other files' dirty pages).
      if (::syncfs(fd) < 0)
        return os_error("sync", parent, errno);
    }
    return {};
  }

  error truncate(const std::string& path, uint64_t size) override {
    int fd = open_retry(path.c_str(), O_WRONLY);
    if (fd < 0)
      return os_error("open", path, errno);
    fd_guard guard{fd};
    int rc;
    do {
      rc = ::ftruncate(fd, static_cast<off_t>(size));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
      return os_error("truncate", path, errno);
    // Recovery and checkpoints rely on the cut being durable before they
    // write anything else.
    return fsync_fd(fd, path);
  }

  error rename(const std::string& from, const std::string& to) override {
    if (auto err = make_dirs(parent_of(to)))
      return err;
    if (::rename(from.c_str(), to.c_str()) < 0)
      return os_error("rename", from + " to " + to, errno);
    auto from_dir = parent_of(from);
    auto to_dir = parent_of(to);
    if (auto err = fsync_dir(to_dir))
      return err;
    if (from_dir != to_dir)
      return fsync_dir(from_dir);
    return {};
  }

  error remove_all(const std::string& path) override {
    for (int attempt = 1;; ++attempt) {
      std::error_code ec;
      auto removed = fs::remove_all(path, ec);
      // An entry that another thread removes meanwhile (a checkpoint's
      // folded log going on the background worker) fails the walk with
      // ENOENT although nothing is wrong: walk again.
      if (ec == std::errc::no_such_file_or_directory && attempt < 8)
        continue;
      if (ec)
        return fs_error("remove", path, ec);
      if (removed > 0)
        return fsync_dir(parent_of(path));
      return {};
    }
  }

  bool exists(const std::string& path) override {
    std::error_code ec;
    return fs::exists(path, ec);
  }

  result<std::vector<std::string>> list_dir(const std::string& dir) override {
    std::error_code ec;
    fs::directory_iterator it{dir, ec};
    if (ec)
      return fs_error("list", dir, ec);
    std::vector<std::string> names;
    for (fs::directory_iterator end; it != end; it.increment(ec))
      names.push_back(it->path().filename().string());
    if (ec)
      return fs_error("list", dir, ec);
    std::sort(names.begin(), names.end());
    return names;
  }

private:
  /// Opens (once) the directory `dir` that sync_created() will sync.
  error watch(const std::string& dir) {
    std::lock_guard<std::mutex> guard{watch_mtx_};
    if (watched_.count(dir) > 0)
      return {};
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      return fs_error("create directories", dir, ec);
    int fd = open_retry(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
      return os_error("open", dir, errno);
    watched_.emplace(dir, fd);
    return {};
  }

  std::mutex watch_mtx_;
  std::map<std::string, int> watched_; ///< directory -> its open descriptor

  /// Writes `path` anew with `bytes`, fsynced when `durable`.
  static error write_file(const std::string& path, const std::string& bytes,
                          bool durable) {
    int fd = open_retry(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
      return os_error("open", path, errno);
    fd_guard guard{fd};
    uint64_t written = 0;
    if (auto err = write_all(fd, path, bytes, written))
      return err;
    if (durable)
      if (auto err = fsync_fd(fd, path))
        return err;
    if (::close(guard.release()) < 0)
      return os_error("close", path, errno);
    return {};
  }
};

} // namespace

std::shared_ptr<vfs> make_disk_vfs() {
  return std::make_shared<disk_vfs>();
}

} // namespace lg::storage
