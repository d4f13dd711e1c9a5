// The faults injected into the fabric: crashed nodes, cut nodes and links,
// targeted delays of one kind of message on one link, and random drops and
// delays from a seeded generator. The fabric owns one plan and asks it, for
// each message it sends, what to do with it:
//
//   1. judge(): the fixed faults. A crashed sender sends nothing (drop); a
//      crashed receiver refuses the connection (refuse); a cut node or link
//      loses the message (drop); a delay rule holds it back (delay by d).
//   2. The fabric resolves the receiver. Only a message that would be
//      delivered as is goes on.
//   3. draw(): the random faults, for messages that cross the network
//      (between two nodes). Draws come from one generator under its lock,
//      in send order, so a seeded run under the test scheduler makes the
//      same choices every time (FoundationDB's simulated network does the
//      same with its seeded random source).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <utility>

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

#include "messages/message_types.hpp"

namespace lg {

/// What the fault plan does with one message.
struct fault_verdict {
  /// The fate of the message.
  enum action_type {
    deliver, ///< no fault applies
    drop,    ///< lost on the way
    refuse,  ///< the receiver's node is down: the connection is refused
    delay,   ///< delivered after `by`
    duplicate, ///< delivered now, and a copy again after `by`
  };

  action_type action = deliver;

  /// How long a delayed message is held back.
  caf::timespan by{0};
};

/// The faults injected into one fabric, decided per message.
class fault_plan {
public:
  /// Returns true when any fault is set: the fabric then asks for every
  /// message, and otherwise takes its fast path.
  bool active() const {
    return active_.load(std::memory_order_relaxed);
  }

  /// Cuts every message to and from `node` (ISOLATE LEAF).
  void cut_node(const std::string& node);

  /// Restores the messages of `node` (HEAL LEAF).
  void heal_node(const std::string& node);

  /// Cuts the messages between nodes `a` and `b`, in both directions (a
  /// partial network partition).
  void cut_link(const std::string& a, const std::string& b);

  /// Restores the messages between `a` and `b`.
  void heal_link(const std::string& a, const std::string& b);

  /// Marks `node` crashed: requests to it are refused at once and its dying
  /// actors can no longer send.
  void mark_down(const std::string& node);

  /// Clears the mark of `node` when it runs again.
  void mark_up(const std::string& node);

  /// Returns true when `node` is cut.
  bool is_cut(const std::string& node) const;

  /// Drops each message with probability `drop`, delays each with
  /// probability `delay` by up to `max_delay`, and delivers each twice with
  /// probability `duplicate` (the copy up to `max_delay` later), using a
  /// generator seeded with `seed`.
  void set_random_faults(double drop, double delay,
                         std::chrono::milliseconds max_delay, uint64_t seed,
                         double duplicate = 0);

  /// Removes random faults.
  void clear_random_faults();

  /// Delays by `by` every message from node `from` to node `to` whose body
  /// is `body` (later messages on the link overtake the delayed ones).
  void delay_messages(const std::string& from, const std::string& to,
                      envelope::BodyCase body, caf::timespan by);

  /// Removes every delay_messages rule.
  void clear_message_delays();

  /// Pauses the sends of the actors `who` until `until`, as a process
  /// stopped by SIGSTOP sends nothing: every message they send meanwhile is
  /// held and delivered at `until`, in order. What they are sent still
  /// reaches them, so that nothing sent to them is lost when they stop for
  /// good meanwhile (a stopped process would read it on resuming).
  void pause_actors(const std::set<caf::actor_addr>& who,
                    caf::actor_clock::time_point until);

  /// How long a message sent by `from` at `now` is held by a pause (zero
  /// when `from` is not paused).
  caf::timespan paused_for(const caf::actor_addr& from,
                           caf::actor_clock::time_point now) const;

  /// Applies the fixed faults to `env`: crashed nodes, cuts, delay rules.
  fault_verdict judge(const envelope& env) const;

  /// Draws the random faults for `env`, a message that judge() let through
  /// undelayed and whose receiver exists; delivers when none are set or the
  /// message stays within one node.
  fault_verdict draw(const envelope& env);

private:
  /// Recomputes active_; the caller holds the unique lock.
  void update_active();

  // The fixed faults are guarded by mtx_ (shared to read, unique to
  // change); the random parameters are written under both locks and read
  // under rng_mtx_, which guards the generator.
  mutable std::shared_mutex mtx_;
  std::mutex rng_mtx_;
  std::set<std::string> cut_;
  std::set<std::string> down_;
  std::set<std::pair<std::string, std::string>> cut_links_;
  /// delay_messages rules: (from, to, body) -> delay.
  std::map<std::tuple<std::string, std::string, int>, caf::timespan>
    delay_rules_;
  std::map<caf::actor_addr, caf::actor_clock::time_point> paused_;
  std::atomic<bool> random_faults_{false};
  double drop_ = 0;
  double delay_ = 0;
  double duplicate_ = 0;
  std::chrono::milliseconds max_delay_{0};
  std::mt19937_64 rng_;
  std::atomic<bool> active_{false};
};

} // namespace lg
