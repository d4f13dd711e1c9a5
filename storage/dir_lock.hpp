// A data dir belongs to one process at a time. The process that opens it
// takes an exclusive lock on `<dir>/LOCK` (flock(2), released by the kernel
// when the process dies, so a crash never leaves a stale lock) and writes its
// pid there; a second process on the same dir is refused, naming that pid.
// Two processes on one dir would both hand out terms and write the same logs.
#pragma once

#include <string>

#include "base/error.hpp"

namespace lg::storage {

/// An exclusive lock on a data dir, held until it is destroyed.
class dir_lock {
public:
  dir_lock() = default;
  dir_lock(dir_lock&& other) noexcept;
  dir_lock& operator=(dir_lock&& other) noexcept;
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;
  ~dir_lock();

  /// Locks `dir`, or says why not: another process holds it (with its pid),
  /// or the lock file cannot be opened.
  static result<dir_lock> acquire(const std::string& dir);

  /// Whether a lock is held.
  bool held() const noexcept {
    return fd_ >= 0;
  }

  /// Gives the lock up.
  void release();

private:
  explicit dir_lock(int fd) : fd_(fd) {
  }
  int fd_ = -1;
};

} // namespace lg::storage
