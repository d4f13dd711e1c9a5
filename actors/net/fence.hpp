// The aggregator fence of one leaf: the newest master aggregator term it
// has seen. The leaf and each of its partition instances check every
// message from an aggregator against it (endpoint::refuse_stale): one from
// an older term is refused, and its sender told the newer term, so that an
// aggregator that was paused, cut off or started twice on one data dir
// cannot change a leaf after another took over.
//
// Shared by the leaf's actors, which may run on different threads: the
// term only goes up, by compare-and-swap. The leaf keeps it on disk
// (`aggregator_term` in its data dir), written whenever it rises and read
// when the leaf starts, so that a restarted leaf refuses what a replaced
// aggregator sends as it did before.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

namespace lg {

class aggregator_fence {
public:
  /// Admits a message of aggregator term `term` (0: not from an
  /// aggregator), raising the newest term seen; false, with `newest` set,
  /// when an aggregator of a newer term was seen before.
  bool admit(uint64_t term, uint64_t& newest) {
    if (term == 0)
      return true;
    auto seen = newest_.load(std::memory_order_acquire);
    while (term > seen)
      if (newest_.compare_exchange_weak(seen, term,
                                        std::memory_order_acq_rel)) {
        keep();
        return true;
      }
    newest = seen;
    return term >= seen;
  }

  /// Starts from `term` (read from disk when the leaf starts).
  void restore(uint64_t term) {
    auto seen = newest_.load(std::memory_order_acquire);
    while (term > seen
           && !newest_.compare_exchange_weak(seen, term,
                                             std::memory_order_acq_rel)) {
    }
  }

  /// Calls `fn` with the newest term each time it rises (to keep it on
  /// disk); calls never overlap, and the last one sees the highest term.
  void on_raise(std::function<void(uint64_t)> fn) {
    std::lock_guard<std::mutex> guard{keep_mtx_};
    keep_ = std::move(fn);
  }

  uint64_t newest() const {
    return newest_.load(std::memory_order_acquire);
  }

private:
  void keep() {
    std::lock_guard<std::mutex> guard{keep_mtx_};
    if (keep_)
      keep_(newest_.load(std::memory_order_acquire));
  }

  std::atomic<uint64_t> newest_{0};
  std::mutex keep_mtx_;
  std::function<void(uint64_t)> keep_;
};

} // namespace lg
