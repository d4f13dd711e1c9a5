// One voting member of the aggregators' Raft group: libraft (the C Raft of
// LXD and dqlite, Debian's libraft-dev) behind a raft_io of our own.
//
//   libraft                raft_member (this)              host
//   -------                ------------------              ----
//   time(), random()  -->  host.now_ms(), seeded mt19937
//   send(msg)         -->  encode to pb::RaftMessage  -->  host.send(addr, m)
//   recv cb           <--  receive(m) decodes          <--  the fabric
//   append, truncate, -->  raft_store on the vfs
//   set_term/vote,         (synchronous, fsynced)
//   snapshot_put/get
//   completion cbs    <--  run from host.defer(), never inside the call
//   tick cb           <--  tick()                      <--  a timer
//
// Everything happens on the host's thread: the actor's, or the test's. With
// the host's clock virtual and its random seed fixed, a run is
// deterministic, which is what lets libraft run on CAF's test_coordinator
// and in `leafguard simulate`.
//
// The state machine is the host's: on_apply gets every committed command
// in order; take_snapshot/restore serialise it (libraft asks for a snapshot
// every `snapshot_threshold` entries, and sends one to a member too far
// behind).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "consensus/raft_store.hpp"
#include "consensus.pb.h"
#include "storage/vfs.hpp"

namespace lg::consensus {

/// What the member needs from where it runs.
class raft_host {
public:
  virtual ~raft_host() = default;

  /// Milliseconds on the host's clock (virtual under simulation).
  virtual uint64_t now_ms() = 0;

  /// Sends `msg` to the member at `address` (fire and forget: Raft retries).
  virtual void send(const std::string& address, pb::RaftMessage msg) = 0;

  /// Runs `fn` after the current message is handled, on the same thread.
  virtual void defer(std::function<void()> fn) = 0;
};

/// The replicated state machine, owned by the host.
struct state_machine {
  /// A committed command, in log order.
  std::function<void(uint64_t index, const std::string& command)> apply;
  /// The whole state, for a snapshot.
  std::function<std::string()> take_snapshot;
  /// Replaces the whole state by a snapshot's.
  std::function<void(const std::string& bytes)> restore;
};

struct member_config {
  uint64_t id = 0;       ///< > 0, unique in the group
  std::string address;   ///< how the others reach it (a fabric node name)
  std::string dir;       ///< where raft_store keeps its files
  std::shared_ptr<storage::vfs> fs;
  uint64_t seed = 1;     ///< for election timeouts
  unsigned election_timeout_ms = 1000;
  unsigned heartbeat_timeout_ms = 100;
  unsigned tick_ms = 25;           ///< how often the host calls tick()
  unsigned snapshot_threshold = 1024; ///< entries between snapshots
  unsigned snapshot_trailing = 128;   ///< entries kept behind a snapshot
  /// Election timeouts staggered by rank among the voters, between 1.05x
  /// and 1.17x the timeout, instead of drawn at random between 1x and 2x
  /// (raft_member.cpp, ranked_timeout): an election after the leader's
  /// last word ends within about 1.2x the timeout, not up to 2x. Off,
  /// every timeout is drawn at random as libraft does (the simulation keeps
  /// it off, so that its seeds explore every order of elections).
  bool ranked_election_timeouts = false;
};

enum class member_role { unavailable, follower, candidate, leader };

const char* to_string(member_role r);

class raft_member {
public:
  raft_member(member_config cfg, raft_host& host, state_machine fsm);
  ~raft_member();

  raft_member(const raft_member&) = delete;
  raft_member& operator=(const raft_member&) = delete;

  /// Before start(), on an empty data dir: the group's first configuration
  /// (every listed member a voter). Every founding member bootstraps with
  /// the same list; a member added later does not bootstrap.
  error bootstrap(const std::vector<std::pair<uint64_t, std::string>>& voters);

  /// Loads the stored state and starts taking part.
  error start();

  /// Called by the host every config().tick_ms.
  void tick();

  /// A message from another member.
  void receive(const pb::RaftMessage& msg);

  /// Proposes `command`; `done(ok, why)` once it is committed and applied
  /// here (ok) or can no longer be (not the leader any more, shutting
  /// down). Returns false at once when this member is not the leader.
  bool propose(const std::string& command,
               std::function<void(bool ok, const std::string& why)> done);

  /// Membership, one change at a time, on the leader: adds `id` as a voter
  /// (it catches up as a standby first), or removes it.
  bool add_voter(uint64_t id, const std::string& address,
                 std::function<void(bool ok, const std::string& why)> done);
  bool remove(uint64_t id,
              std::function<void(bool ok, const std::string& why)> done);

  member_role role() const;
  uint64_t term() const;
  uint64_t commit_index() const;
  uint64_t last_applied() const;
  /// The leader this member knows of (id 0 when none).
  std::pair<uint64_t, std::string> leader() const;
  /// The members of the last configuration, with their roles.
  std::vector<stored_server> members() const;

  const member_config& config() const {
    return cfg_;
  }

  /// Changes the election timeout (and the heartbeat, a tenth of it).
  void set_election_timeout(unsigned ms);

  /// A follower that knows its leader is gone (its process crashed) stands
  /// for election within `within_ms` of its last contact with it, instead
  /// of waiting out the election timeout: the timeout is `within_ms` (drawn
  /// at random up to twice that, as libraft does) until a leader is known
  /// again, then the configured one. Nothing changes on a leader. Safety
  /// does not depend on it: an election is safe at any moment.
  void expedite_election(unsigned within_ms);

  /// Stops: pending proposals fail. The member cannot be started again.
  void stop();

  struct impl;

private:
  member_config cfg_;
  /// The configured election timeout while an expedited one is in force.
  unsigned expedited_from_ms_ = 0;
  uint64_t expedited_leader_ = 0; ///< the leader known gone meanwhile
  std::unique_ptr<impl> impl_;
};

} // namespace lg::consensus
