// The write ids a partition instance remembers, so that a client's retry of
// a write it already holds is answered instead of applied twice (Kafka's
// idempotent producer keeps the same kind of window per partition).
//
// A replica notes an id for every write it is streamed but looks none up
// until it is promoted; a master looks one up for every write. So the
// window is a ring of (id, last lsn) in arrival order, and the index that
// finds an id is built when the instance becomes master (or at the first
// lookup), then kept up to date. A replica's note is then a store into the
// ring, with no hashing and no allocation once the ring is full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <absl/container/flat_hash_map.h>

namespace lg {

/// The newest `capacity` write ids and the last LSN each wrote.
class write_id_window {
public:
  explicit write_id_window(size_t capacity) : capacity_(capacity) {
  }

  /// Notes that write `id` wrote a record at `lsn`. The records of one write
  /// come one after another, so a repeat of the newest id moves its LSN on.
  /// An id of 0 (a client that asked for no deduplication) is ignored.
  void note(uint64_t id, uint64_t lsn) {
    if (id == 0 || capacity_ == 0)
      return;
    if (size_ > 0) {
      auto& newest = ring_[slot(size_ - 1)];
      if (newest.id == id) {
        newest.lsn = lsn;
        if (indexed_)
          index_[id] = lsn;
        return;
      }
    }
    if (indexed_ && index_.count(id) > 0) {
      // A write id seen before, not the newest (a client reusing ids): the
      // first time it was seen stands, as a lookup would have answered.
      return;
    }
    entry e{id, lsn};
    if (size_ < capacity_) {
      ring_.push_back(e); // head_ stays 0 until the ring is full
      ++size_;
    } else {
      auto& oldest = ring_[head_];
      if (indexed_)
        index_.erase(oldest.id);
      oldest = e;
      head_ = (head_ + 1) % capacity_;
    }
    if (indexed_)
      index_.emplace(id, lsn);
  }

  /// The last LSN written by write `id`, if it is in the window.
  std::optional<uint64_t> find(uint64_t id) {
    if (id == 0 || size_ == 0)
      return std::nullopt;
    if (!indexed_)
      build_index();
    auto i = index_.find(id);
    if (i == index_.end())
      return std::nullopt;
    return i->second;
  }

  /// Keeps an index for lookups (a master), or drops it (a replica, which
  /// only notes ids). find() builds the index when it is missing.
  void set_indexed(bool on) {
    if (on && !indexed_) {
      build_index();
    } else if (!on && indexed_) {
      index_ = {};
      indexed_ = false;
    }
  }

  /// Forgets every id (the instance's log was replaced).
  void clear() {
    ring_.clear();
    index_.clear();
    head_ = 0;
    size_ = 0;
    indexed_ = false;
  }

  size_t size() const {
    return size_;
  }

  /// Whether lookups are being served from a maintained index.
  bool indexed() const {
    return indexed_;
  }

private:
  struct entry {
    uint64_t id;
    uint64_t lsn;
  };

  size_t slot(size_t i) const {
    return (head_ + i) % capacity_;
  }

  void build_index() {
    index_.clear();
    index_.reserve(size_);
    for (size_t i = 0; i < size_; ++i) {
      const auto& e = ring_[slot(i)];
      // The first sighting of an id stands (see note()).
      index_.emplace(e.id, e.lsn);
    }
    indexed_ = true;
  }

  size_t capacity_;
  std::vector<entry> ring_;
  size_t head_ = 0; // oldest entry, once the ring is full
  size_t size_ = 0;
  bool indexed_ = false;
  // Open addressing: a master erases and inserts one id per write, which a
  // node-based map paid for with an allocation each (5% of R1's CPU).
  absl::flat_hash_map<uint64_t, uint64_t> index_;
};

} // namespace lg
