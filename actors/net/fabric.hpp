// The one way out: every message between roles leaves through
// `fabric::send`, which resolves the receiver by name, records the message
// in the trace, and applies injected faults (drop, delay, cut).
//
// Names: an endpoint is (node, actor). In one process every endpoint is
// registered with the process's fabric. Across processes a node is reached
// through a route (the remote node's gateway actor), which delivers to the
// local endpoint on the other side.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

#include "messages/message_types.hpp"

namespace lg {

using clock_type = caf::actor_clock;
using time_point = caf::actor_clock::time_point;

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
};

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

  /// Delivers `env`, received from another process, to its local endpoint;
  /// false when no such endpoint lives here.
  bool deliver_local(caf::local_actor* self, envelope_ptr env);

  /// Cuts every message to and from `node` (ISOLATE LEAF).
  void cut_node(const std::string& node);

  /// Restores the messages of `node` (HEAL LEAF).
  void heal_node(const std::string& node);

  /// Cuts the messages between nodes `a` and `b`, in both directions (a
  /// partial network partition).
  void cut_link(const std::string& a, const std::string& b);

  /// Restores the messages between `a` and `b`.
  void heal_link(const std::string& a, const std::string& b);

  /// Marks `node` crashed: requests to it fail at once with a TransportError
  /// (a refused connection) and its dying actors can no longer send.
  void mark_down(const std::string& node);

  /// Clears the mark of `node` when it runs again.
  void mark_up(const std::string& node);

  /// Returns true when `node` is cut.
  bool is_cut(const std::string& node) const;

  /// Drops each message with probability `drop` and delays each with
  /// probability `delay` by up to `max_delay`, using a generator seeded with
  /// `seed` (deterministic under the test scheduler).
  void set_random_faults(double drop, double delay,
                         std::chrono::milliseconds max_delay, uint64_t seed);

  /// Removes random faults.
  void clear_random_faults();

  /// Delays by `by` every message from node `from` to node `to` whose body
  /// is `body`: a targeted fault that forces one interleaving of a protocol
  /// (later messages on the link overtake the delayed ones).
  void delay_messages(const std::string& from, const std::string& to,
                      envelope::BodyCase body, caf::timespan by);

  /// Removes every delay_messages rule.
  void clear_message_delays();

  /// Sends every message also to `sink`.
  void set_trace_sink(std::shared_ptr<trace_sink> sink);

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

  /// The always-on ring buffer: the last recent_capacity messages that left
  /// through this fabric, oldest first, one line each.
  std::vector<std::string> recent() const;

  /// Writes recent() to a new file in `dir` named after `reason`, logs its
  /// path and returns it ("" when it could not be written). Called on an
  /// internal error or a failed invariant.
  std::string dump_recent(const std::string& reason,
                          const std::string& dir = "/tmp") const;

  static constexpr size_t recent_capacity = 4096;

  /// The fabric whose ring a crash of this process dumps (the last one
  /// registered).
  static void set_process_fabric(std::weak_ptr<fabric> fab);

  /// Dumps the registered fabric's ring, if any (e.g. from std::terminate).
  static void dump_process_recent(const std::string& reason);

  caf::actor_system& system() {
    return sys_;
  }

private:
  /// Answers a request whose receiver does not exist with a TransportError.
  void bounce(caf::local_actor* self, const envelope& env,
              const char* why = "no endpoint ");

  /// Recomputes slow_; caller holds the unique lock.
  void update_slow();

  caf::actor resolve(const pb::Endpoint& to) const;

  /// Hands `env` to the dialer when its node is remote and unrouted; false
  /// when there is no dialer or the node is hosted here.
  bool dial(caf::local_actor* self, envelope_ptr& env);
  int64_t now_us(caf::local_actor* self) const;

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

  /// One slot of the ring: fixed size, no allocation on the send path.
  struct recent_slot {
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

  void remember(caf::local_actor* self, const envelope& env,
                transport_event what);

  caf::actor_system& sys_;
  mutable std::array<shard, shard_count> shards_;
  std::unique_ptr<recent_slot[]> recent_{new recent_slot[recent_capacity]};
  std::atomic<uint64_t> recent_seq_{0};
  mutable std::mutex count_mtx_;
  std::unordered_map<std::string, size_t> per_node_; // endpoints per node
  // Everything below is guarded by mtx_ (shared to read, unique to change);
  // the generator by rng_mtx_.
  mutable std::shared_mutex mtx_;
  std::mutex rng_mtx_;
  std::unordered_map<std::string, caf::actor> routes_;
  caf::actor dialer_;
  std::set<std::string> cut_;
  std::set<std::string> down_;
  std::set<std::pair<std::string, std::string>> cut_links_;
  /// delay_messages rules: (from, to, body) -> delay.
  std::map<std::tuple<std::string, std::string, int>, caf::timespan>
    delay_rules_;
  std::shared_ptr<trace_sink> sink_;
  bool random_faults_ = false;
  double drop_ = 0;
  double delay_ = 0;
  std::chrono::milliseconds max_delay_{0};
  std::mt19937_64 rng_;
  std::atomic<bool> slow_{false};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> delayed_{0};
  std::atomic<uint64_t> undeliverable_{0};
};

using fabric_ptr = std::shared_ptr<fabric>;

/// Outstanding requests of one actor, matched to replies by correlation id
/// and expired at their deadline.
class rpc_table {
public:
  /// Called with the reply, or with nullptr when the deadline passed or the
  /// transport could not deliver the request.
  using callback = std::function<void(const envelope*)>;

  /// Registers a request; returns its correlation id.
  uint64_t add(time_point deadline, callback cb);

  /// Runs and forgets the callback waiting for `env`; false if none.
  bool dispatch(const envelope& env);

  /// Runs cb(nullptr) for every request whose deadline is <= now.
  void expire(time_point now);

  /// Fails every outstanding request (cb(nullptr)), e.g. on shutdown.
  void fail_all();

  bool empty() const {
    return pending_.empty();
  }

  size_t size() const {
    return pending_.size();
  }

  /// The earliest deadline, if any request is outstanding.
  std::optional<time_point> next_deadline() const;

  /// Inside a callback called with nullptr: why the transport refused the
  /// request ("" when it timed out).
  const std::string& last_error() const {
    return last_error_;
  }

private:
  std::string last_error_;
  struct entry {
    time_point deadline;
    callback cb;
  };
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, entry> pending_;
  std::multimap<time_point, uint64_t> deadlines_;
};

/// The identity of one actor on the fabric: stamps headers, keeps the Lamport
/// clock, checks that received messages were meant for it, and tracks its
/// outstanding requests. Every role's state holds one.
class endpoint {
public:
  endpoint() = default;

  endpoint(fabric_ptr fab, std::string node, std::string actor);

  /// Registers `self` under this endpoint's name.
  void attach(caf::local_actor* self, caf::actor handle);

  const std::string& node() const {
    return node_;
  }

  const std::string& actor() const {
    return actor_;
  }

  fabric& fab() {
    return *fab_;
  }

  fabric_ptr fab_ptr() const {
    return fab_;
  }

  /// Stamps and sends `env` to node/actor (fire and forget).
  void send(caf::local_actor* self, const std::string& to_node,
            const std::string& to_actor, std::shared_ptr<envelope> env);

  /// Sends `env` as a request and calls `cb` with the reply or nullptr when
  /// `timeout` passes first. The actor must forward tick_atom to on_tick.
  void request(caf::local_actor* self, const std::string& to_node,
               const std::string& to_actor, std::shared_ptr<envelope> env,
               caf::timespan timeout, rpc_table::callback cb);

  /// Sends `reply` as the answer to `req`.
  void reply(caf::local_actor* self, const envelope& req,
             std::shared_ptr<envelope> reply);

  /// Checks a received message: updates the Lamport clock, answers true when
  /// it is for this endpoint; a reply to an outstanding request is
  /// dispatched here, and `handled` tells the caller so.
  bool accept(const envelope& env, bool& handled);

  /// Takes in one received message: returns true when it is a new message
  /// for the actor's own handlers, false when it was empty, meant for
  /// another receiver, or a reply already handed to its request's callback.
  bool receive(const wire& msg) {
    bool handled = false;
    return msg.env && accept(*msg.env, handled) && !handled;
  }

  /// Expires overdue requests and re-arms the tick.
  void on_tick(caf::local_actor* self);

  /// Inside a request's callback called with nullptr: why the transport
  /// refused it ("" when it timed out).
  const std::string& last_transport_error() const {
    return rpc_.last_error();
  }

  /// Fails all outstanding requests.
  void fail_all() {
    rpc_.fail_all();
  }

  uint64_t lamport() const {
    return lamport_;
  }

  size_t outstanding() const {
    return rpc_.size();
  }

  /// Counts messages refused because they named another receiver.
  uint64_t misdelivered() const {
    return misdelivered_;
  }

private:
  void arm(caf::local_actor* self);

  fabric_ptr fab_;
  std::string node_;
  std::string actor_;
  uint64_t lamport_ = 0;
  uint64_t misdelivered_ = 0;
  rpc_table rpc_;
  std::optional<time_point> armed_for_;
};

/// Creates an envelope with header partition and term set.
std::shared_ptr<envelope> make_envelope(const std::string& partition = {},
                                        uint64_t term = 0,
                                        uint64_t trace_id = 0);

} // namespace lg
