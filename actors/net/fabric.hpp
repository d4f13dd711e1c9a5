// The one way out: every message between roles leaves through
// `fabric::send`, which resolves the receiver by name, records the message
// in the trace, and applies injected faults (drop, delay, cut).
//
// Names: an endpoint is (node, actor). In one process every endpoint is
// registered with the process's fabric. Across processes a node is reached
// through a route (the remote node's gateway actor), which delivers to the
// local endpoint on the other side.
//
// The fabric keeps the registry (endpoints, routes, the dialer) and sends.
// It asks its fault_plan what to do with each message (fault_plan.hpp),
// writes each into its flight_recorder (flight_recorder.hpp), and an actor
// talks to it through its endpoint (endpoint.hpp, included here).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

#include "actors/net/endpoint.hpp"
#include "actors/net/fault_plan.hpp"
#include "actors/net/flight_recorder.hpp"
#include "base/metrics.hpp"
#include "messages/message_types.hpp"

namespace lg {

/// Returns "node/actor", the key of an endpoint.
inline std::string endpoint_key(const std::string& node,
                                const std::string& actor) {
  std::string key;
  key.reserve(node.size() + actor.size() + 1);
  key += node;
  key += '/';
  key += actor;
  return key;
}

/// The message fabric of one process: name resolution, faults and trace.
class fabric {
public:
  explicit fabric(caf::actor_system& sys);

  /// Makes `handle` reachable as node/actor.
  void add_endpoint(const std::string& node, const std::string& actor,
                    caf::actor handle);

  /// Forgets node/actor if it still refers to `who`.
  void remove_endpoint(const std::string& node, const std::string& actor,
                       const caf::actor_addr& who);

  /// Returns how many endpoints are registered on `node` in this process.
  size_t endpoints_on(const std::string& node) const;

  /// Returns the local actor registered as node/actor, if any.
  caf::actor lookup(const std::string& node, const std::string& actor) const;

  /// Routes every message for `node` to `gateway` (a remote node).
  void set_route(const std::string& node, caf::actor gateway);

  /// Removes the route to `node` if it still leads to `gateway` (any route
  /// when `gateway` is null).
  void remove_route(const std::string& node,
                    const caf::actor_addr& gateway = {});

  /// The gateway that `node` is routed to, if any.
  caf::actor route(const std::string& node) const;

  /// Hands every message for a node that has neither a local endpoint nor a
  /// route to `dialer` as (dial_atom, wire), so that it connects to the node
  /// (the gateway of a node process). Without a dialer such requests bounce.
  void set_dialer(caf::actor dialer);

  /// Answers the request `env` (if it is one) with a TransportError saying
  /// `why`, delivered to its sender's endpoint in this process.
  void refuse(caf::local_actor* self, const envelope& env,
              const std::string& why);

  /// Tells the trace sink, if any, that a leaf or partition admitted `env`
  /// from a master aggregator past its fence.
  void note_admitted(caf::local_actor* self, const envelope& env);

  /// Delivers `env`, received from another process, to its local endpoint;
  /// false when no such endpoint lives here.
  bool deliver_local(caf::local_actor* self, envelope_ptr env);

  // -- faults -----------------------------------------------------------------

  /// The faults injected into this fabric's messages (cut nodes and links,
  /// crashed nodes, random drops and delays, targeted delays).
  fault_plan& faults() {
    return faults_;
  }

  const fault_plan& faults() const {
    return faults_;
  }

  // -- the one way out --------------------------------------------------------

  /// Sends `env` from `self`: the one way out.
  void send(caf::local_actor* self, envelope_ptr env);

  /// Counts of what the transport did, for tests and reports.
  struct counters {
    uint64_t sent = 0;
    uint64_t dropped = 0;
    uint64_t delayed = 0;
    uint64_t undeliverable = 0;
  };

  counters stats() const;

  // -- the record (forwarded to the flight_recorder) -------------------------

  /// Sends every message also to `sink`.
  void set_trace_sink(std::shared_ptr<trace_sink> sink);

  /// The trace file the sink writes, as `leafguard trace` takes it ("":
  /// none); set with the sink, before the actors start.
  void set_trace_name(std::string path) {
    trace_name_ = std::move(path);
  }
  const std::string& trace_name() const {
    return trace_name_;
  }

  /// The always-on ring buffer: the last recent_capacity messages that left
  /// through this fabric, oldest first, one line each.
  std::vector<std::string> recent() const;

  /// Writes recent() to a new file in `dir` named after `reason`, logs its
  /// path and returns it ("" when it could not be written). Called on an
  /// internal error or a failed invariant.
  std::string dump_recent(const std::string& reason,
                          const std::string& dir = "/tmp") const;

  static constexpr size_t recent_capacity = flight_recorder::capacity;

  /// The fabric whose ring a crash of this process dumps (the last one
  /// registered).
  static void set_process_fabric(std::weak_ptr<fabric> fab);

  /// Dumps the registered fabric's ring, if any (e.g. from std::terminate).
  static void dump_process_recent(const std::string& reason);

  caf::actor_system& system() {
    return sys_;
  }

  // -- metrics ----------------------------------------------------------------

  /// The metrics its actors keep (null when metrics are off: the actors
  /// then keep none). On by default.
  metrics::registry* metrics() const {
    return metrics_.get();
  }

  /// The registry, for those who read it from outside the actors (the
  /// HTTP endpoint).
  std::shared_ptr<metrics::registry> metrics_ptr() const {
    return metrics_;
  }

  /// Replaces the registry (null: metrics off). Set before the actors that
  /// use it start.
  void set_metrics(std::shared_ptr<metrics::registry> r) {
    metrics_ = std::move(r);
  }

private:
  /// Answers a request whose receiver does not exist with a TransportError.
  void bounce(caf::local_actor* self, const envelope& env,
              const char* why = "no endpoint ");

  caf::actor resolve(const pb::Endpoint& to) const;

  /// The sender a message to `dest` goes out as: the dialer (the process's
  /// gateway) when `dest` is in another process, else none (the actor).
  caf::strong_actor_ptr remote_sender(const caf::actor& dest) const;

  /// Hands `env` to the dialer when its node is remote and unrouted; false
  /// when there is no dialer or the node is hosted here.
  bool dial(caf::local_actor* self, envelope_ptr& env);

  int64_t now_us(caf::local_actor* self) const;

  /// Writes `env` into the ring and hands it to `sink`, if any.
  void record(caf::local_actor* self, const envelope& env,
              transport_event what, trace_sink* sink);

  /// The endpoints, split over shards so that the many senders and the
  /// actors coming and going rarely meet on one lock.
  struct shard {
    mutable std::shared_mutex mtx;
    std::unordered_map<std::string, caf::actor> endpoints;
  };
  static constexpr size_t shard_count = 64;

  shard& shard_of(const std::string& key) const {
    return shards_[std::hash<std::string>{}(key) % shard_count];
  }

  caf::actor_system& sys_;
  mutable std::array<shard, shard_count> shards_;
  mutable std::mutex count_mtx_;
  std::unordered_map<std::string, size_t> per_node_; // endpoints per node
  // The routes and the dialer are guarded by mtx_ (shared to read, unique
  // to change).
  mutable std::shared_mutex mtx_;
  std::unordered_map<std::string, caf::actor> routes_;
  caf::actor dialer_;
  fault_plan faults_;
  flight_recorder recorder_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> delayed_{0};
  std::atomic<uint64_t> undeliverable_{0};
  std::shared_ptr<metrics::registry> metrics_
    = std::make_shared<metrics::registry>();
  std::string trace_name_;
};

} // namespace lg
