// The master aggregator's metadata model: leaves (state, group, pair),
// databases, partitions (term, offline), their instances (role, in sync) and
// the global variables, with the questions the aggregator asks of them.
// Plain data: no actors, no I/O. The actor shell persists it (group commit)
// and sends the orders its changes call for.
//
// SingleStore: the master aggregator holds the cluster's metadata; each
// leaf of availability group 1 is paired with one of group 2, and in
// redundancy 2 a partition's replica lives on its master's pair.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "admin.pb.h"
#include "ha/failover.hpp"
#include "ha/placement.hpp"

namespace lg {

/// A leaf's state in the cluster, stored as a word in LeafMeta.state.
enum class leaf_state {
  online,     ///< serving, heartbeats answered
  offline,    ///< failed: silent, or its connection lost
  attaching,  ///< back, its instances being told their roles
  recovering, ///< restarted, replaying its storage
  detached,   ///< back but not attached (DETACH LEAF, or auto_attach OFF)
};

/// The word stored in LeafMeta.state and shown by SHOW LEAVES.
const char* to_string(leaf_state s);

/// The state `leaf` records (offline for a word it does not know).
leaf_state state_of(const pb::LeafMeta& leaf);

/// Records `s` as the state of `leaf`.
void set_state(pb::LeafMeta& leaf, leaf_state s);

/// The cluster's global variables (SET GLOBAL), typed: the values set in the
/// metadata over the defaults of config/variables.cpp, parsed once.
class cluster_globals {
public:
  /// Every variable at its default.
  cluster_globals();

  /// The variables `set` gives a value, the others at their defaults.
  explicit cluster_globals(const std::map<std::string, std::string>& set);

  /// Voting aggregators elect another master aggregator after this long
  /// without hearing from the leader's member.
  int64_t aggregator_election_timeout_ms() const {
    return aggregator_election_timeout_ms_;
  }

  /// After an automatic attach, how long to wait before masters move back
  /// to the attached leaf (0: at once).
  int64_t attach_rebalance_delay_seconds() const {
    return attach_rebalance_delay_seconds_;
  }

  /// Attach a recovered leaf by itself (OFF: it stays detached).
  bool auto_attach() const {
    return auto_attach_;
  }

  /// Partitions per leaf of a CREATE DATABASE without PARTITIONS.
  uint32_t default_partitions_per_leaf() const {
    return default_partitions_per_leaf_;
  }

  /// Declare unresponsive leaves offline and fail over their partitions.
  bool leaf_failure_detection() const {
    return leaf_failure_detection_;
  }

  /// A leaf silent for this long is offline.
  int64_t leaf_failure_timeout_ms() const {
    return leaf_failure_timeout_ms_;
  }

  /// leaf_failover_fanout = 'load_balanced': replicas of one leaf's masters
  /// spread over the other group's leaves instead of its pair.
  bool load_balanced() const {
    return load_balanced_;
  }

  /// How often the aggregator asks each leaf for a heartbeat.
  int64_t leaf_heartbeat_interval_ms() const {
    return leaf_heartbeat_interval_ms_;
  }

  /// 1: every partition is a master; 2: each master has a replica.
  int redundancy_level() const {
    return redundancy_level_;
  }

  /// A master holds at most this many MiB of writes its replica has not
  /// confirmed.
  int64_t replication_backlog_mb() const {
    return replication_backlog_mb_;
  }

  /// A read or write that gets no answer in this time fails.
  int64_t request_timeout_ms() const {
    return request_timeout_ms_;
  }

  /// A master whose replica is silent this long goes on alone.
  int64_t sync_replication_timeout_ms() const {
    return sync_replication_timeout_ms_;
  }

  /// Whether instances get the variable `name` with their role
  /// (SetRoleRequest), so that a new value must be sent to them.
  static bool sent_with_roles(const std::string& name);

  /// Every variable by name, as text (SHOW VARIABLES).
  const std::map<std::string, std::string>& all() const {
    return values_;
  }

private:
  std::map<std::string, std::string> values_;
  int64_t aggregator_election_timeout_ms_;
  int64_t attach_rebalance_delay_seconds_;
  bool auto_attach_;
  uint32_t default_partitions_per_leaf_;
  bool leaf_failure_detection_;
  bool load_balanced_;
  int64_t leaf_failure_timeout_ms_;
  int64_t leaf_heartbeat_interval_ms_;
  int redundancy_level_;
  int64_t replication_backlog_mb_;
  int64_t request_timeout_ms_;
  int64_t sync_replication_timeout_ms_;
};

/// The planner's and failover's name for a metadata role.
ha::instance_role view_role(pb::Role r);

/// The master instance of `part`, or nullptr.
pb::InstanceMeta* master_of(pb::PartitionMeta& part);
const pb::InstanceMeta* master_of(const pb::PartitionMeta& part);

/// Records whether the replica `inst` holds every acknowledged write. A
/// change moves its sync epoch on, as one its master asked for does: the
/// epoch then names a single record, so a master can tell an order or an
/// answer that predates another (an in-sync answer from before an attach
/// recorded the replica out of sync must not settle the master's claim).
void record_sync(pb::InstanceMeta& inst, bool in_sync);

/// The instance of `part` on `leaf`, or nullptr.
pb::InstanceMeta* instance_on(pb::PartitionMeta& part,
                              const std::string& leaf);

/// The replica of `part` on `leaf`, or nullptr.
pb::InstanceMeta* replica_on(pb::PartitionMeta& part, const std::string& leaf);
const pb::InstanceMeta* replica_on(const pb::PartitionMeta& part,
                                   const std::string& leaf);

/// The other live copy of a partition: a master's replica, a replica's
/// master ("" when none), and whether that other copy is in sync.
struct instance_peer {
  std::string leaf;
  bool in_sync = true;
};

/// The copy of `part` other than `inst` that is not an orphan.
instance_peer peer_of(const pb::PartitionMeta& part,
                      const pb::InstanceMeta& inst);

/// Hands the master of `part` over to its replica on `to` (a graceful
/// switch): the old master becomes an in-sync replica, since its log is a
/// prefix of the new master's, and the term goes up by one. Returns false,
/// changing nothing, unless `part` has a master and a replica on `to`.
bool hand_over_master(pb::PartitionMeta& part, const std::string& to);

/// Promotes the copy on `leaf` after the master's leaf `failed` went away:
/// the old master becomes an out-of-sync replica (it must be checked for
/// divergence before it serves again), the partition takes `new_term` and
/// is online.
void promote_replica(pb::PartitionMeta& part, const std::string& leaf,
                     const std::string& failed, uint64_t new_term);

/// The cluster metadata the master aggregator keeps durable.
class cluster_metadata {
public:
  using leaf_list = google::protobuf::RepeatedPtrField<pb::LeafMeta>;
  using database_list = google::protobuf::RepeatedPtrField<pb::DatabaseMeta>;

  /// Reads metadata written by serialize(); false when `bytes` is not.
  bool parse(const std::string& bytes);

  /// The metadata as bytes to write.
  std::string serialize() const;

  /// Raised by one at every write: partition maps carry it.
  uint64_t version() const {
    return meta_.version();
  }

  /// Counts one more write.
  void bump_version() {
    meta_.set_version(meta_.version() + 1);
  }

  /// The term of the master aggregator working on this metadata.
  uint64_t aggregator_term() const {
    return meta_.aggregator_term();
  }

  void set_aggregator_term(uint64_t term) {
    meta_.set_aggregator_term(term);
  }

  // -- leaves ----------------------------------------------------------------

  const leaf_list& leaves() const {
    return meta_.leaves();
  }

  int leaves_size() const {
    return meta_.leaves_size();
  }

  /// The leaf at `addr`, or nullptr.
  pb::LeafMeta* find_leaf(const std::string& addr);
  const pb::LeafMeta* find_leaf(const std::string& addr) const;

  /// Whether the leaf at `addr` is in the cluster and online.
  bool leaf_online(const std::string& addr) const;

  /// Whether the leaf at `addr` is online or attaching: its instances take
  /// orders.
  bool leaf_up(const std::string& addr) const;

  /// Adds an online leaf in `group`, paired with the first unpaired leaf of
  /// the other group (ha::choose_pair); returns that pair, if any.
  std::optional<std::string> add_leaf(const std::string& addr, int group,
                                      uint64_t incarnation);

  /// Forgets the leaf at `addr`; its pair is left without one.
  void remove_leaf(const std::string& addr);

  /// The leaves whose masters the copies on `leaf` may replicate: its
  /// pair, or with leaf_failover_fanout = 'load_balanced' every leaf of the
  /// other group.
  std::vector<std::string> followed_by(const pb::LeafMeta& leaf) const;

  /// The leaves as the placement and the planner see them.
  std::vector<ha::leaf_info> leaf_infos() const;

  // -- users (other than root) ----------------------------------------------

  using user_list = google::protobuf::RepeatedPtrField<pb::UserMeta>;

  const user_list& users() const {
    return meta_.users();
  }

  user_list* mutable_users() {
    return meta_.mutable_users();
  }

  // -- databases and partitions ----------------------------------------------

  const database_list& databases() const {
    return meta_.databases();
  }

  database_list* mutable_databases() {
    return meta_.mutable_databases();
  }

  int databases_size() const {
    return meta_.databases_size();
  }

  /// The database `name`, or nullptr.
  pb::DatabaseMeta* find_database(const std::string& name);
  const pb::DatabaseMeta* find_database(const std::string& name) const;

  /// Adds `db` (its name must be new).
  void add_database(pb::DatabaseMeta db);

  /// Removes the database `name` and returns it, or nullopt.
  std::optional<pb::DatabaseMeta> remove_database(const std::string& name);

  /// Partition db:ordinal, or nullptr.
  pb::PartitionMeta* find_partition(const std::string& db, uint32_t ordinal);

  /// The instances of `part` as failover and recovery see them.
  std::vector<ha::instance_view> views_of(const pb::PartitionMeta& part) const;

  /// How many masters each leaf holds.
  std::map<std::string, uint32_t> masters_per_leaf() const;

  // -- global variables ------------------------------------------------------

  const cluster_globals& globals() const {
    return globals_;
  }

  /// Sets a global variable to a checked value.
  void set_global(const std::string& name, const std::string& value);

private:
  void parse_globals();

  pb::ClusterMetadata meta_;
  cluster_globals globals_;
};

} // namespace lg
