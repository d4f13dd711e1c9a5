// One thread that runs storage jobs (checkpoints) in order, off the actors:
// RocksDB's background flush thread, in its simplest form. A process holds
// one, so at most one checkpoint at a time competes with the write path for
// CPU and memory.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace lg::storage {

class background_worker {
public:
  background_worker();

  /// Lets the running job finish, drops the queued ones, and joins. A
  /// dropped checkpoint leaves wal.prev, which the next one folds.
  ~background_worker();

  background_worker(const background_worker&) = delete;
  background_worker& operator=(const background_worker&) = delete;

  /// Queues `job`; it runs after every job queued before it. After stop()
  /// it is dropped.
  void post(std::function<void()> job);

  /// As the destructor, at once: the owner calls it before the actor
  /// system goes, so that no job outlives it.
  void stop();

  /// Waits until no job is queued or running (for benchmarks that must
  /// not time one operation while an earlier one's checkpoint runs).
  void drain();

private:
  void loop();

  std::mutex mtx_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  bool busy_ = false;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace lg::storage
