// One actor's side of the fabric: its endpoint (who it is, its Lamport
// clock, the check that a received message was meant for it) and its
// rpc_table (the requests awaiting replies, each with a deadline).
//
// A request goes out with a correlation id; its reply names that id in
// reply_to and is handed to the request's callback, not to the actor's
// handlers. A deadline that passes first, or a TransportError from the
// fabric, calls the callback with nullptr. The actor forwards tick_atom to
// on_tick, which expires overdue requests and re-arms the tick for the next
// deadline.
//
// The fabric itself is only declared here; actors/net/fabric.hpp includes
// this header, so including the fabric gives both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/local_actor.hpp>

#include "actors/net/fence.hpp"
#include "messages/message_types.hpp"

namespace lg {

using clock_type = caf::actor_clock;
using time_point = caf::actor_clock::time_point;

class fabric;

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
  /// for the actor's own handlers, false when it was refused bytes (whose
  /// link is closed, link_guard.hpp), meant for another receiver, or a
  /// reply already handed to its request's callback.
  bool receive(caf::local_actor* self, const wire& msg);

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

  /// A master aggregator's endpoint: every message it sends carries `term`.
  void set_aggregator_term(uint64_t term) {
    aggregator_term_ = term;
  }

  uint64_t aggregator_term() const {
    return aggregator_term_;
  }

  /// A leaf's or partition's endpoint: messages from aggregators are held
  /// to `fence`.
  void set_fence(std::shared_ptr<aggregator_fence> fence) {
    fence_ = std::move(fence);
  }

  /// True when `env` came from an aggregator older than one the fence has
  /// seen: it is refused (logged, and its sender told the newer term) and
  /// must not be acted on.
  bool refuse_stale(caf::local_actor* self, const envelope& env);

  /// A master aggregator whose metadata is committed by consensus: every
  /// message sent from now on, except to `exempt_node` (where the commit
  /// is asked for), waits until version `version` is committed
  /// (release_through), so that no order leaves before the change it
  /// depends on is on a majority.
  void hold_until(uint64_t version, const std::string& exempt_node) {
    hold_version_ = std::max(hold_version_, version);
    exempt_node_ = exempt_node;
  }

  /// Sends, in order, the held messages that waited for versions up to
  /// `version`.
  void release_through(caf::local_actor* self, uint64_t version);

  /// Messages waiting for a commit.
  size_t held() const {
    return held_.size();
  }

  /// The newest version committed: nothing waits for it any more.
  uint64_t released() const {
    return released_version_;
  }

  /// The commit will not come (this aggregator leads no more): each held
  /// message goes through `rewrite`, which may change it and returns
  /// whether to send it after all; the others are dropped.
  void flush_held(caf::local_actor* self,
                  const std::function<bool(envelope&)>& rewrite);

  /// An aggregator's endpoint: the newer aggregator term a leaf told it of
  /// (0 while none): this aggregator has been replaced.
  uint64_t deposed_by() const {
    return deposed_by_;
  }

private:
  void arm(caf::local_actor* self);

  fabric_ptr fab_;
  std::string node_;
  std::string actor_;
  uint64_t lamport_ = 0;
  uint64_t misdelivered_ = 0;
  uint64_t aggregator_term_ = 0;
  uint64_t deposed_by_ = 0;
  uint64_t hold_version_ = 0;     ///< the newest version messages wait for
  uint64_t released_version_ = 0; ///< committed: nothing waits for it
  std::string exempt_node_;
  struct held_message {
    uint64_t version;
    std::shared_ptr<envelope> env;
  };
  std::deque<held_message> held_;
  std::shared_ptr<aggregator_fence> fence_;
  rpc_table rpc_;
  std::optional<time_point> armed_for_;
};

/// Creates an envelope with header partition and term set.
std::shared_ptr<envelope> make_envelope(const std::string& partition = {},
                                        uint64_t term = 0,
                                        uint64_t trace_id = 0);

} // namespace lg
