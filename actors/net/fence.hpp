// The aggregator fence of one leaf: the newest master aggregator term it
// has seen. The leaf and each of its partition instances check every
// message from an aggregator against it (endpoint::refuse_stale): one from
// an older term is refused, and its sender told the newer term, so that an
// aggregator that was paused, cut off or started twice on one data dir
// cannot change a leaf after another took over.
//
// Shared by the leaf's actors, which may run on different threads: the
// term only goes up, by compare-and-swap.
#pragma once

#include <atomic>
#include <cstdint>

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
      if (newest_.compare_exchange_weak(seen, term, std::memory_order_acq_rel))
        return true;
    newest = seen;
    return term >= seen;
  }

  uint64_t newest() const {
    return newest_.load(std::memory_order_acquire);
  }

private:
  std::atomic<uint64_t> newest_{0};
};

} // namespace lg
