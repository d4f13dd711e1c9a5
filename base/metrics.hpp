// A process's metrics, written by actors as they work and read by the HTTP
// endpoint (`/metrics`) in Prometheus's text format.
//
//   1. An actor asks its fabric's registry for a series once (a counter, a
//      gauge or a histogram, by name and labels) and keeps the reference.
//   2. It updates the series with relaxed atomics: no lock and no message
//      on the write path, so that a scrape never slows a write. A series
//      updated on every write is sharded: each actor takes a shard of its
//      own (`counter_shard`, `histogram_shard`), written by its thread
//      alone with plain loads and stores, and a scrape adds the shards up.
//      A shard given back goes to the next actor that asks for the same
//      series, so that counts never go down.
//   3. A scrape runs the registry's collectors (values computed when read:
//      resident memory, the largest lag per leaf), then renders every
//      family with its HELP and TYPE lines.
//
// Series are never destroyed while the registry lives, except the gauges
// taken with `owned_gauge`, which go when their holder drops them. Nothing
// an actor does as it starts, changes role or stops renders a label or
// searches by name: taking a shard back is one lookup by address, and an
// owned gauge is shown or hidden with one store.
// Prometheus: "Exposition formats" (text format 0.0.4) and the naming
// guide (a `_total` suffix on counters, base units: seconds, bytes).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lg::metrics {

/// Label names and values, in the order they are printed.
using labels = std::vector<std::pair<std::string, std::string>>;

/// A count that only goes up. On a cache line of its own: shards written by
/// actors on different threads must not share one.
class alignas(64) counter {
public:
  void add(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  /// add() for a shard, which one thread alone writes: no locked
  /// instruction.
  void add_single(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n,
                 std::memory_order_relaxed);
  }
  uint64_t value() const {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down; a scrape leaves a hidden one out.
class gauge {
public:
  void set(int64_t v) {
    value_.store(v, std::memory_order_relaxed);
  }
  void add(int64_t n) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  int64_t value() const {
    return value_.load(std::memory_order_relaxed);
  }
  void show(bool on) {
    shown_.store(on, std::memory_order_relaxed);
  }
  bool shown() const {
    return shown_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<int64_t> value_{0};
  std::atomic<bool> shown_{true};
};

/// Observations counted in buckets of upper bounds (seconds), with their
/// count and sum, as a Prometheus histogram. Its counts are on cache lines
/// of their own (see counter).
class alignas(64) histogram {
public:
  explicit histogram(std::vector<double> bounds);

  /// Counts one observation of `seconds`.
  void observe(std::chrono::nanoseconds d);

  void observe(double seconds) {
    observe(std::chrono::nanoseconds{std::llround(seconds * 1e9)});
  }

  /// observe() for a shard, which one thread alone writes.
  void observe_single(std::chrono::nanoseconds d);

  /// Adds this histogram's buckets, count and sum to `into`: bucket i
  /// (i <= bounds().size(), the last one above every bound) at into[i],
  /// then the count, then the sum in ns.
  void add_to(std::vector<uint64_t>& into) const;

  const std::vector<double>& bounds() const {
    return bounds_;
  }
  /// Observations at most bounds()[i] (not cumulative); the last slot
  /// holds those above every bound.
  uint64_t bucket(size_t i) const {
    return counts_[i].load(std::memory_order_relaxed);
  }
  uint64_t count() const {
    return count_.load(std::memory_order_relaxed);
  }
  double sum() const;

private:
public:
  /// The most bounds a histogram takes.
  static constexpr size_t max_bounds = 30;

private:
  std::vector<double> bounds_;
  std::vector<uint64_t> bounds_ns_; ///< the same bounds, in ns
  /// The slot of an observation of `ns`: the first bound at or above it.
  size_t bucket_of(uint64_t ns) const;
  std::array<std::atomic<uint64_t>, max_bounds + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

/// Bucket bounds for request latencies: 50 us to 10 s.
std::vector<double> latency_bounds();
/// Bucket bounds for failovers and elections: 10 ms to 120 s.
std::vector<double> duration_bounds();

/// The metrics of one process (or of one in-process cluster).
class registry {
public:
  counter& get_counter(const std::string& name, const std::string& help,
                       const labels& l = {});
  gauge& get_gauge(const std::string& name, const std::string& help,
                   const labels& l = {});
  histogram& get_histogram(const std::string& name, const std::string& help,
                           std::vector<double> bounds, const labels& l = {});

  /// A gauge its holder removes when it no longer applies (a partition's
  /// lag once it stops being master).
  /// A shard of counter name{l}, for one actor to write alone
  /// (counter::add_single); scrapes show the sum of every shard.
  counter* counter_shard(const std::string& name, const std::string& help,
                         const labels& l);
  /// A shard of histogram name{l} (histogram::observe_single).
  histogram* histogram_shard(const std::string& name, const std::string& help,
                             const std::vector<double>& bounds,
                             const labels& l);
  /// Gives a shard back: it keeps counting in the sum, and the next actor
  /// asking for a shard of the same series gets it.
  void release_shard(const void* shard);

  /// A gauge of its holder's own (a partition's lag), shown while it is
  /// shown() and forgotten once the holder drops it. A newer holder of the
  /// same name and labels replaces it.
  std::shared_ptr<gauge> owned_gauge(const std::string& name,
                                     const std::string& help,
                                     const labels& l);

  /// Calls `fn` with the labels and value of every series of gauge `name`.
  void for_each_gauge(
    const std::string& name,
    const std::function<void(const labels&, int64_t)>& fn) const;

  /// Runs `fn` before each scrape, to set series computed when read; a
  /// second collector under the same `key` is ignored.
  void add_collector(const std::string& key, std::function<void(registry&)> fn);

  /// Runs the collectors and renders every family in Prometheus's text
  /// format 0.0.4.
  std::string scrape();

private:
  enum class kind { counter, gauge, histogram };
  struct entry {
    labels l;
    std::shared_ptr<void> main;
    std::weak_ptr<gauge> owned; ///< an owned gauge's, instead of main
    std::vector<std::shared_ptr<void>> shards;
    std::vector<void*> free_shards;
  };
  struct family {
    kind type;
    std::string help;
    std::map<std::string, entry> series;
  };
  family& family_of(const std::string& name, kind type,
                    const std::string& help);
  /// The series name{l}, made with `make` if missing (mutex_ held).
  template <class Make>
  entry& entry_of(const std::string& name, kind type, const std::string& help,
                  const labels& l, Make make);
  template <class T, class Make>
  T& series(const std::string& name, kind type, const std::string& help,
            const labels& l, Make make);
  template <class T, class Make>
  T* shard(const std::string& name, kind type, const std::string& help,
           const labels& l, Make make);
  /// A gauge entry's gauge (owned or not), null once its holder went.
  static std::shared_ptr<gauge> gauge_of(const entry& e);

  mutable std::mutex mutex_;
  std::map<std::string, family> families_;
  std::map<std::string, std::function<void(registry&)>> collectors_;
  /// The series entry of every shard, by its address.
  std::unordered_map<const void*, entry*> shard_entries_;
};

/// Renders `l` as `{a="x",b="y"}` (empty for no labels), values escaped as
/// the text format asks.
std::string render_labels(const labels& l);

/// Adds process metrics to `r`: resident memory and open files, read from
/// /proc when scraped.
void add_process_metrics(registry& r);

/// Keeps gauge `target` at the largest value of gauge `source` per value of
/// its label `by`, set at each scrape.
void add_max_by_label(registry& r, const std::string& source,
                      const std::string& by, const std::string& target,
                      const std::string& help);

} // namespace lg::metrics
