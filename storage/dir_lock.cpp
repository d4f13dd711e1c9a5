#include "storage/dir_lock.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace lg::storage {

namespace {

error lock_error(const std::string& name, const std::string& detail) {
  return error{"storage", name, detail};
}

/// The pid written in a lock file by its holder ("" if unreadable).
std::string holder_pid(int fd) {
  char buf[32] = {};
  auto n = pread(fd, buf, sizeof(buf) - 1, 0);
  std::string pid{buf, n > 0 ? static_cast<size_t>(n) : 0};
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
    pid.pop_back();
  return pid;
}

} // namespace

dir_lock::dir_lock(dir_lock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

dir_lock& dir_lock::operator=(dir_lock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

dir_lock::~dir_lock() {
  release();
}

void dir_lock::release() {
  if (fd_ >= 0) {
    ::close(fd_); // closing the last descriptor drops the flock
    fd_ = -1;
  }
}

result<dir_lock> dir_lock::acquire(const std::string& dir) {
  auto path = dir + "/LOCK";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return lock_error("lock_failed", "data-dir '" + dir + "': cannot open "
                                       + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto why = errno;
    auto pid = holder_pid(fd);
    ::close(fd);
    if (why == EWOULDBLOCK)
      return lock_error("dir_in_use",
                        "data-dir '" + dir + "' is in use by another process"
                          + (pid.empty() ? std::string{}
                                         : " (pid " + pid + ")")
                          + "; stop it, or give this one another dir");
    return lock_error("lock_failed", "data-dir '" + dir + "': cannot lock "
                                       + path + ": " + std::strerror(why));
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0
      || ::pwrite(fd, pid.data(), pid.size(), 0)
           != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid; only the refusal's text is poorer.
  }
  return dir_lock{fd};
}

} // namespace lg::storage
