// Rare-path counters (FoundationDB's CODE_PROBE): each rare protocol path
// counts how often it ran, so a simulation can report which paths its faults
// reached.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

namespace lg {

/// One named counter, registered on first use.
class probe {
public:
  explicit probe(const char* name, const char* description);

  void hit() noexcept {
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  void reset() noexcept {
    count_.store(0, std::memory_order_relaxed);
  }

  uint64_t count() const noexcept {
    return count_.load(std::memory_order_relaxed);
  }

  const char* name() const noexcept {
    return name_;
  }

  const char* description() const noexcept {
    return description_;
  }

private:
  const char* name_;
  const char* description_;
  std::atomic<uint64_t> count_{0};
};

/// Returns every probe that has been constructed, by name.
std::map<std::string, const probe*> all_probes();

/// Sets every probe back to zero.
void reset_probes();

} // namespace lg

/// Counts one pass through a rare path, e.g.
/// `LG_PROBE(fenced_write_refused, "a replica refused an older term")`.
#define LG_PROBE(name, description)                                            \
  do {                                                                         \
    static ::lg::probe lg_probe_##name{#name, description};                    \
    lg_probe_##name.hit();                                                     \
  } while (false)
