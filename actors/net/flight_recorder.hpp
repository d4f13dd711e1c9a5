// The fabric's flight recorder: what happened to each message at the
// transport, kept two ways.
//
// - An always-on ring of the last `capacity` messages: fixed-size slots, no
//   allocation on the send path, dumped to a file on an internal error, a
//   failed invariant or a crash of the process (an aircraft's flight
//   recorder, or FoundationDB's trace of the last events before a failure).
// - The trace sink hook: when a sink is set, every message is also handed
//   to it (the simulation's observer, a trace file).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "messages/message_types.hpp"

namespace lg {

/// What happened to a message at the transport.
enum class transport_event { sent, delivered, dropped, delayed, undeliverable };

const char* to_string(transport_event x);

/// Receives every message that passes the transport (the trace).
class trace_sink {
public:
  virtual ~trace_sink() = default;

  /// Records `env` with what happened to it at virtual or wall time `at_us`.
  virtual void record(const envelope& env, transport_event what,
                      int64_t at_us)
    = 0;

  /// Told when a leaf or partition admits `env`, a message from a master
  /// aggregator, past its aggregator fence (the simulation's checker holds
  /// admissions to "never an older term than one admitted before").
  virtual void admitted(const envelope& env, int64_t at_us) {
    (void) env;
    (void) at_us;
  }
};

/// The ring of recent messages and the trace sink of one fabric.
class flight_recorder {
public:
  static constexpr size_t capacity = 4096;

  /// Writes `env` and what happened to it at `at_us` into the ring,
  /// overwriting the oldest slot.
  void remember(const envelope& env, transport_event what, int64_t at_us);

  /// The ring: the last `capacity` messages, oldest first, one line each.
  std::vector<std::string> recent() const;

  /// Writes recent() to a new file in `dir` named after `reason`, logs its
  /// path and returns it ("" when it could not be written).
  std::string dump_recent(const std::string& reason,
                          const std::string& dir = "/tmp") const;

  /// Hands every message also to `sink` (none when null).
  void set_trace_sink(std::shared_ptr<trace_sink> sink);

  /// Returns true when a trace sink is set.
  bool tracing() const {
    return tracing_.load(std::memory_order_relaxed);
  }

  /// Returns the trace sink, or null when none is set.
  std::shared_ptr<trace_sink> sink() const;

  /// The recorder whose ring a crash of this process dumps (the last one
  /// registered).
  static void set_process_recorder(std::weak_ptr<const flight_recorder> rec);

  /// Dumps the registered recorder's ring, if any (e.g. from
  /// std::terminate).
  static void dump_process_recent(const std::string& reason);

private:
  /// One slot of the ring: fixed size, no allocation on the send path.
  struct slot {
    mutable std::atomic_flag busy = ATOMIC_FLAG_INIT;
    uint64_t seq = 0; // 0: never written
    int64_t at_us = 0;
    uint64_t lamport = 0;
    uint64_t term = 0;
    int body = 0;
    uint8_t event = 0;
    char from[48] = {};
    char to[48] = {};
    char partition[32] = {};
  };

  std::unique_ptr<slot[]> ring_{new slot[capacity]};
  std::atomic<uint64_t> seq_{0};
  mutable std::mutex sink_mtx_;
  std::shared_ptr<trace_sink> sink_;
  std::atomic<bool> tracing_{false};
};

} // namespace lg
