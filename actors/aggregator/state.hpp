// The master aggregator's state, shared by its sub-protocol files
// (failover.cpp, attach.cpp, ...). Not part of the role's public interface.
// The declarations below are grouped by the file that defines them.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "actors/aggregator/jobs.hpp"
#include "actors/aggregator/master_aggregator.hpp"
#include "actors/aggregator/metadata.hpp"
#include "actors/statements.hpp"
#include "actors/timers.hpp"
#include "sql/result_proto.hpp"
#include "admin.pb.h"
#include "ha/failover.hpp"
#include "ha/placement.hpp"
#include "sql/ast.hpp"

namespace lg {

/// What the aggregator knows about a leaf beyond its metadata.
struct leaf_runtime {
  caf::actor_addr handle;       ///< the monitored leaf actor
  time_point last_reply;        ///< last heartbeat reply
  double avg_rtt_ms = 0;        ///< moving average of heartbeat round trips
  uint64_t rtt_samples = 0;
  bool hello_seen = false;                      ///< its disk is known
  /// The incarnation whose list of copies was last taken: a recovering
  /// notice of that incarnation is a late copy.
  uint64_t reported_incarnation = 0;
  std::vector<pb::InstanceState> hello_instances; ///< from its last hello
  /// Said it restarted (the hello before its replay) and has not said yet
  /// what its disk holds: its copies are not served.
  bool restarting = false;
  /// Online in the metadata the aggregator started from, and not heard from
  /// since: it may have restarted along with the aggregator.
  bool unconfirmed = false;
  /// Said what its disk holds; its attach has not begun.
  bool awaiting_attach = false;
  /// While its attach waits for another leaf's report: until when at most.
  std::optional<time_point> attach_wait_until;
  /// Its connection went (a down message): it is declared offline together
  /// with every other leaf whose connection went by then.
  std::string lost_why;
  /// Declared offline in the same batch as this one's failure: it gets no
  /// order, so its replicas elsewhere stay in sync in the metadata.
  bool failing = false;
  /// Replicas of this leaf's masters lost while this leaf was silent too:
  /// they stay in sync in the metadata until this leaf answers a heartbeat
  /// (then its masters are told to go on alone) or is declared offline
  /// (then it never acknowledged anything alone).
  struct held_loss {
    std::string db;
    uint32_t ordinal = 0;
    std::string replica;
    uint64_t term = 0;
    time_point since; ///< released by a heartbeat sent at or after this
  };
  std::vector<held_loss> losses_held;
  /// Promotions of this leaf's replicas decided while it was silent too
  /// (`replica` holds the failed master's leaf): held, with the partition
  /// offline and both copies in sync in the metadata, until this leaf
  /// answers a heartbeat (then the promotion goes ahead) or is declared
  /// offline (then the copies are compared when they come back).
  std::vector<held_loss> promotions_held;
  /// When the heartbeat it answered last was sent: a reply proves it was
  /// alive after that moment, not after the reply arrived.
  time_point answered_sent_at;
  /// When it last said what its disk holds (a hello with its copies).
  time_point hello_at;
  /// Heartbeats sent to it: one in reconcile_every asks for its roles.
  uint64_t heartbeats_sent = 0;
  /// Its copies that did not play their recorded role in the last list of
  /// roles, by label, with the partition's term then (reconcile.cpp).
  std::map<std::string, uint64_t> roles_behind;
};

/// One failover of a leaf, as SHOW FAILOVERS and the cluster page show it:
/// when the leaf was declared offline, when its partitions' promotions
/// went out and when every new master took its role (writable).
struct failover_record {
  uint64_t id = 0;
  std::string leaf;
  std::string reason;
  time_point detected;        ///< on the aggregator's clock
  int64_t detected_wall_ms = 0; ///< Unix time, for people
  /// From its last heartbeat answer to its detection (none: never heard).
  std::optional<std::chrono::milliseconds> silent;
  size_t promotions = 0; ///< promotions the failover needs
  size_t promoted = 0;   ///< of which acknowledged
  size_t offline = 0;    ///< partitions left with no master
  std::optional<time_point> ordered_at;  ///< the last promotion sent
  std::optional<time_point> writable_at; ///< the last one acknowledged
  bool failed = false; ///< a promotion failed or was overtaken
};

/// The aggregator's state: its metadata, and what it keeps in memory only
/// (leaves' heartbeats, jobs, parked map requests, hand-overs under way).
struct master_aggregator_state {
  std::string name = "ma";
  endpoint ep;
  master_aggregator_config cfg;
  cluster_metadata meta;
  std::map<std::string, leaf_runtime> runtime; // by leaf address
  /// Partitions whose promotion waits for the replica to answer a
  /// heartbeat (leaf_runtime::promotions_held), by label: their maps name
  /// that replica, which answers NOT_MASTER until it is promoted.
  std::map<std::string, std::string> promotions_waiting;
  uint64_t heartbeat_seq = 0;
  bool persist_scheduled = false;
  std::vector<std::function<void()>> after_persist;
  /// Consensus: the decisions waiting for a metadata version to be
  /// committed, by version.
  std::map<uint64_t, std::vector<std::function<void()>>> awaiting_commit;
  bool stepping_down = false; ///< consensus: it leads no more and stops
  /// Statements taken and not yet answered, by statement_key: a master
  /// aggregator that steps down answers each of them (outcome unknown).
  std::map<std::string, envelope_ptr> open_statements;
  /// Why the metadata cannot be written ("" while it can): decisions wait,
  /// and statements that would change the metadata are refused.
  std::string metadata_error;
  bool heartbeat_armed = false;
  /// When the failure-deadline timer fires next, if armed.
  std::optional<time_point> deadline_armed;
  /// Map requests waiting for newer metadata (long polls), with deadlines.
  std::vector<std::pair<envelope_ptr, time_point>> parked_maps;
  /// When the map-wait timer fires next, if armed: a request with an
  /// earlier deadline arms another, earlier one.
  std::optional<time_point> map_timer_at;
  std::vector<rebuild_job> jobs; ///< oldest first, bounded
  /// Leaves whose attach waits for another leaf's report, in hello order.
  std::vector<std::string> attach_queue;
  /// Leaves whose pair should hand masters over once replicas are in sync
  /// (ATTACH LEAF without NO REBALANCE).
  std::set<std::string> balance_pending;
  /// Leaves attached by themselves whose pair rebalances once the delay is
  /// over (attach_rebalance_delay_seconds), with when.
  std::map<std::string, time_point> attach_rebalance_due;
  bool balance_retry_armed = false; ///< after a hand-over failed
  std::set<std::string> switching; ///< partitions whose master is moving
  /// The last failovers, oldest first (failover_log.cpp), and the one each
  /// pending promotion belongs to, by partition label.
  std::deque<failover_record> failovers;
  uint64_t next_failover_id = 1;
  std::map<std::string, uint64_t> failover_of;
  /// Callbacks waiting for a replica ("db:ordinal@leaf") to be in sync; an
  /// error when its rebuild or its leaf fails.
  std::map<std::string, std::vector<std::function<void(const std::string&)>>>
    sync_waiters;

  std::string ctx() const {
    return "[ma=" + cfg.node + " v=" + std::to_string(meta.version()) + "]";
  }
};

using ma_self = master_aggregator_actor::stateful_pointer<
  master_aggregator_state>;

/// How long the aggregator waits for an instance or a leaf to carry out an
/// order that may take a while (create, drop).
constexpr auto instance_op_timeout = std::chrono::seconds{10};

/// How long it waits for an instance to take a role (a log flush and a
/// reply): a lost order is sent again after this, not after
/// instance_op_timeout, so that a dropped message does not leave a
/// partition without its master for seconds.
constexpr auto role_order_timeout = std::chrono::seconds{1};

// -- failover_log.cpp --------------------------------------------------------

/// Starts the record of `leaf`'s failover; returns its id.
uint64_t open_failover(ma_self self, const std::string& leaf,
                       const std::string& why);
/// The failover `id` needs `label` promoted.
void failover_expects(ma_self self, uint64_t id, const std::string& label);
/// The failover `id` left a partition offline.
void failover_offline(ma_self self, uint64_t id);
/// A promotion of `label` went out.
void failover_ordered(ma_self self, const std::string& label);
/// A promotion of `label` was acknowledged (ok) or failed.
void failover_promoted(ma_self self, const std::string& label, bool ok);
/// SHOW FAILOVERS: the last failovers with their timings.
void exec_show_failovers(ma_self self, envelope_ptr req);
/// Sets the metrics the metadata decides (partitions and leaves by state).
void publish_metadata_metrics(ma_self self);

// -- behavior.cpp ------------------------------------------------------------

/// How long the aggregator waits before it writes its metadata again after
/// a failed write.
constexpr auto metadata_retry_pause = std::chrono::milliseconds{200};

/// Writes the metadata now, one version up. On failure the error is kept
/// in `metadata_error` and the write is tried again until it works; the
/// decisions queued by persist_then wait for it.
error persist(ma_self self);

/// Writes the metadata for a statement that changed it from `before`; when
/// the write fails, restores `before` (the change is not acted on), answers
/// `req` with the error naming the file, and returns it.
error persist_statement(ma_self self, const envelope& req,
                        const cluster_metadata& before);

/// Runs `then` once the metadata is durable. Changes made while messages
/// queue up are written together (group commit for metadata).
void persist_then(ma_self self, std::function<void()> then);
/// The failure of a statement naming a database that does not exist.
pb::ResultSet unknown_database(const std::string& name);
/// Watches the leaf's actor (its down signal means the leaf is gone).
void monitor_leaf(ma_self self, const std::string& addr);

// -- failover_orders.cpp -----------------------------------------------------

/// A partition's new master (or, for replica_lost, its master) and term.
struct promotion {
  std::string db;
  uint32_t ordinal;
  std::string leaf;
  uint64_t term;
  std::string lost = {}; ///< replica_lost: the leaf of the replica it lost
};

/// Sends the promotions and the masters' orders to go on alone, one
/// LeafOrdersRequest per leaf.
void send_failover_orders(ma_self self,
                          const std::vector<promotion>& replica_lost,
                          const std::vector<promotion>& promotions);

// -- orders.cpp --------------------------------------------------------------

/// A SetRoleRequest for an instance (settings included), as set_role sends
/// it.
std::shared_ptr<envelope> role_order(ma_self self, const std::string& db,
                                     uint32_t ordinal, pb::Role role,
                                     uint64_t term, const std::string& peer,
                                     bool peer_in_sync);

/// Sends SetRoleRequest to an instance (settings included).
void set_role(ma_self self, const std::string& leaf, const std::string& db,
              uint32_t ordinal, pb::Role role, uint64_t term,
              const std::string& peer, bool peer_in_sync,
              std::function<void(const envelope*)> cb);

/// One message the attach sends once the metadata is durable.
struct order {
  std::string leaf;
  std::string db;
  uint32_t ordinal = 0;
  pb::Role role = pb::ROLE_NONE;
  uint64_t term = 0;
  std::string peer;
  bool peer_in_sync = false;
  bool create = false; ///< a new replica, rebuilt from the master
  bool sync_durability = false;
};

/// An order to give `leaf`'s copy of db:ordinal a role.
order make_order(const std::string& leaf, const std::string& db,
                 uint32_t ordinal, pb::Role role, uint64_t term,
                 const std::string& peer, bool peer_in_sync);

/// Sends an order; one lost on the way (no answer) is sent again, up to
/// `attempts` times in all, while its leaf is up (a role order, whose
/// answer is due sooner, ten times as often).
void send_order(ma_self self, const order& o,
                std::function<void(const std::string&)> done,
                int attempts = 4);

/// Sends many orders, each answered through `done` as send_order does: the
/// role orders as one LeafOrdersRequest per leaf (masters' first), the
/// unanswered ones again together while their leaf is up; a new replica's
/// creation on its own.
void send_orders(ma_self self, const std::vector<order>& orders,
                 std::function<void(const std::string&)> done,
                 int attempts = 4);

/// A CreateInstanceRequest for db:ordinal, created as `role` at `term`
/// with `peer`, decided at metadata version `version`.
std::shared_ptr<envelope>
create_instance_envelope(const std::string& db, uint32_t ordinal,
                         bool sync_durability, pb::Role role, uint64_t term,
                         const std::string& peer, uint64_t version);

/// The error of a CreateInstanceReply from `leaf` ("" for success; `rep`
/// is nullptr when no answer came).
std::string create_error(const envelope* rep, const std::string& leaf);

/// A DropInstanceRequest for db:ordinal, decided at the current version.
std::shared_ptr<envelope> drop_instance_envelope(ma_self self,
                                                 const std::string& db,
                                                 uint32_t ordinal);

/// Asks `leaf` to drop its copy of db:ordinal (its files go); nobody waits
/// for the answer.
void drop_instance(ma_self self, const std::string& leaf,
                   const std::string& db, uint32_t ordinal);

/// Requests to many partition instances, at most `window` in flight per
/// leaf, the next one sent as an answer comes back. Sent all at once, the
/// 8192 requests of a CREATE DATABASE or a CHECK PARTITIONS per leaf queued
/// ahead of the heartbeats (in the middleman's byte stream, where no
/// priority helps), and healthy leaves were declared offline.
class paced_fanout : public std::enable_shared_from_this<paced_fanout> {
public:
  static constexpr int default_window = 32;

  /// Each request times out `timeout` after it is sent.
  explicit paced_fanout(caf::timespan timeout, int window = default_window)
    : timeout_(timeout), window_(window) {
  }

  /// Queues a request to `actor` on `leaf`, answered through `cb`.
  void add(const std::string& leaf, std::string actor,
           std::shared_ptr<envelope> env, rpc_table::callback cb) {
    queued_[leaf].push_back({std::move(actor), std::move(env), std::move(cb)});
  }

  /// Sends the first window to every leaf; the rest follow the answers.
  void start(ma_self self) {
    for (auto& kvp : queued_)
      pump(self, kvp.first);
  }

private:
  struct pending {
    std::string actor;
    std::shared_ptr<envelope> env;
    rpc_table::callback cb;
  };

  void pump(ma_self self, const std::string& leaf);

  caf::timespan timeout_;
  int window_;
  std::map<std::string, std::deque<pending>> queued_;
  std::map<std::string, int> in_flight_;
};

/// Orders for the instances of many leaves, sent as one LeafOrdersRequest
/// per leaf (envelope.proto): a failover of 4096 partitions is one message
/// to each surviving leaf and one answer from it, not 4096 of each.
class leaf_orders {
public:
  /// Queues an order for instance `actor` on `leaf`, answered through `cb`.
  void add(const std::string& leaf, std::string actor,
           std::shared_ptr<envelope> env, rpc_table::callback cb) {
    by_leaf_[leaf].push_back({std::move(actor), std::move(env), std::move(cb)});
  }

  /// Sends one request per leaf. Each order's callback gets its instance's
  /// answer, or nullptr when the instance or its leaf did not answer within
  /// `timeout`; then `after` (if set) gets the leaf's name, once per leaf.
  void send(ma_self self, caf::timespan timeout,
            std::function<void(const std::string&)> after = {});

  /// Sends each leaf's orders in messages of at most `per_message` orders,
  /// at most `window` messages in flight per leaf, each answered within
  /// `timeout` (a CREATE DATABASE's thousands of creations).
  void send_paced(ma_self self, caf::timespan timeout, size_t per_message,
                  int window);

private:
  struct pending {
    std::string actor;
    std::shared_ptr<envelope> env;
    rpc_table::callback cb;
  };

  std::map<std::string, std::vector<pending>> by_leaf_;
};

/// Calls `done` once every one of `remaining` asynchronous steps called back.
struct countdown {
  size_t remaining;
  std::vector<std::string> errors;
  std::function<void(std::vector<std::string>)> done;

  void finish_one(std::string error = {}) {
    if (!error.empty())
      errors.push_back(std::move(error));
    if (--remaining == 0)
      done(std::move(errors));
  }
};

// -- failover.cpp ------------------------------------------------------------

/// Declares `leaf` offline (why: "heartbeat timeout", "connection lost") and
/// fails over or takes offline every partition whose master it hosted. With
/// `detach` (DETACH LEAF) the leaf becomes detached instead, whatever
/// leaf_failure_detection says, and its instances are told to stop serving.
void leaf_failed(ma_self self, const std::string& leaf,
                 const std::string& why, bool detach = false);

/// Declares every leaf of `failed` (address, why) offline as one event:
/// a master whose leaf fails in the same batch as its replica's is never
/// told to go on alone, so the replica keeps every acknowledged write and
/// stays in sync in the metadata (the whole cluster losing power, then
/// coming back with the master's copy damaged, is survived).
void leaves_failed(ma_self self,
                   const std::vector<std::pair<std::string, std::string>>&
                     failed);

/// Starts the heartbeat loop if it is not running.
void arm_heartbeats(ma_self self);

/// Runs one heartbeat round: send requests, declare silent leaves offline.
void heartbeat_round(ma_self self);

/// The failure deadline of some leaf passed: declares offline every online
/// leaf silent for leaf_failure_timeout_ms.
void failure_deadline(ma_self self);

/// An instance reported that its storage failed (recovery.proto step 6):
/// its partition fails over, or goes offline, as if its leaf had failed.
void on_instance_failed(ma_self self, const envelope_ptr& req);

/// Handles a master's ReplicaSyncRequest.
void on_replica_sync(ma_self self, const envelope_ptr& env);

// -- reconcile.cpp -----------------------------------------------------------

/// One heartbeat in this many asks a leaf for its copies' roles.
inline constexpr uint64_t reconcile_every = 10;

/// Counts a heartbeat to the leaf of `rt`; true when it asks for roles.
bool want_roles(leaf_runtime& rt);

/// Compares the roles a leaf listed with the metadata, and sends again the
/// order of a copy behind it in two lists in a row.
void reconcile_roles(ma_self self, const std::string& addr,
                     const pb::HeartbeatReply& reply);

// -- attach.cpp --------------------------------------------------------------

/// What an attach ends with: an error, or a summary of what it did.
using attach_done = std::function<void(const std::string& error,
                                       const std::string& summary)>;

/// A leaf announced itself (started, restarted, or its process came back).
void on_leaf_hello(ma_self self, const envelope_ptr& req);

/// Attaches `addr`: classifies its copies and sends their roles. Without
/// `force` a leaf holding copies of partitions that live elsewhere is
/// refused.
void attach_leaf(ma_self self, const std::string& addr, bool force,
                 attach_done done);

/// How long a leaf's attach waits at most for the report of another leaf
/// holding a copy of one of its partitions (that leaf restarted too, or has
/// not been heard from since the aggregator started). A leaf that fails in
/// the meantime ends the wait earlier (leaf_failure_timeout_ms).
constexpr auto attach_report_wait = std::chrono::seconds{5};

/// Attaches the leaves whose attach waited, once what they waited for came
/// (a report, a leaf declared offline) or their wait is over.
void resume_attaches(ma_self self);

// -- handover.cpp ------------------------------------------------------------

/// Moves the master of db:ordinal to its in-sync replica on `to` without
/// losing or diverging anything (StepDownRequest, recovery.proto step 3).
void switch_master(ma_self self, const std::string& db, uint32_t ordinal,
                   const std::string& to,
                   std::function<void(const std::string& error)> done);

/// Hands masters from `leaf`'s pair over to `leaf` until both hold equal
/// numbers (within one); only partitions whose replica on `leaf` is in sync.
/// Returns true when the pair is balanced.
bool balance_pair(ma_self self, const std::string& leaf);

/// A hand-over of balance_pair failed: tries the pending leaves again.
void retry_balance(ma_self self);

/// A leaf was attached by itself (auto_attach): its pair's masters move
/// back to it once attach_rebalance_delay_seconds has passed with no newer
/// attach or failure on the pair and no REBALANCE running.
void schedule_attach_rebalance(ma_self self, const std::string& addr);

/// What an automatic attach of `addr` ends with: schedule_attach_rebalance.
attach_done after_auto_attach(ma_self self, const std::string& addr);

/// Runs the attach rebalances that are due (timer_id::attach_rebalance).
void run_attach_rebalances(ma_self self);

/// A leaf of a pair failed or left: the attach rebalance waiting on that
/// pair is called off, with `why`.
void cancel_attach_rebalance(ma_self self, const std::string& addr,
                             const std::string& why);

/// The key of sync_waiters for the copy of db:ordinal on `leaf`.
std::string sync_key(const std::string& db, uint32_t ordinal,
                     const std::string& leaf);

/// Calls (and forgets) whoever waits for the copy of db:ordinal on `leaf`
/// to be in sync: with "" once it is, or with the error that ended it.
void wake_sync_waiters(master_aggregator_state& st, const std::string& db,
                       uint32_t ordinal, const std::string& leaf,
                       const std::string& error);

/// A replica became in sync: wake whoever waits for it, and go on
/// balancing its leaf's pair if asked to.
void on_replica_in_sync(ma_self self, const std::string& db, uint32_t ordinal,
                        const std::string& leaf);

/// Forgets the copy of db:ordinal on `addr` (its files stay on the leaf);
/// its master stops replicating to it.
void forget_instance(ma_self self, const std::string& db, uint32_t ordinal,
                     const std::string& addr);

/// Creates a copy of db:ordinal on `to`, rebuilt from its master; `done`
/// runs once it is in sync (or with an error).
void copy_instance(ma_self self, const std::string& db, uint32_t ordinal,
                   const std::string& to,
                   std::function<void(const std::string&)> done);

/// Sets the copy of db:ordinal on `leaf` aside during a move: it becomes an
/// Orphan in the metadata and on its leaf (kept on disk, never served, never
/// promoted, no longer fed) until the move drops it.
void set_aside(ma_self self, const std::string& db, uint32_t ordinal,
               const std::string& leaf);

// -- jobs.cpp ----------------------------------------------------------------

/// Records a job (superseding the running ones on the same instance);
/// returns it.
rebuild_job& start_job(master_aggregator_state& st, time_point now,
                       job_action action, const std::string& db,
                       uint32_t ordinal, const std::string& leaf);

/// Ends the running jobs on `leaf` (or of partition db:ordinal when given).
void end_jobs(master_aggregator_state& st, time_point now,
              const std::string& leaf, job_status status,
              const std::string& details, const std::string& db = {},
              int64_t ordinal = -1);

/// A master reported the progress of a replica rebuild.
void on_rebuild_progress(ma_self self, const envelope_ptr& env);

/// SHOW REBALANCE STATUS ON db: its jobs, oldest first.
void exec_show_rebalance_status(ma_self self, envelope_ptr req,
                                const sql::show_rebalance_status& s);

// -- rebalance.cpp -----------------------------------------------------------

/// REBALANCE PARTITIONS [ON db | ALL DATABASES] [FORCE] [EXPLAIN].
void exec_rebalance(ma_self self, envelope_ptr req,
                    const sql::rebalance_partitions& s);
/// RESTORE REDUNDANCY ON db [EXPLAIN].
void exec_restore_redundancy(ma_self self, envelope_ptr req,
                             const sql::restore_redundancy& s);

// -- leaf_commands.cpp -------------------------------------------------------

/// ADD LEAF host:port [INTO GROUP g].
void exec_add_leaf(ma_self self, envelope_ptr req, const sql::add_leaf& s);
/// ATTACH LEAF [host:port | ALL] [FORCE] [NO REBALANCE].
void exec_attach_leaf(ma_self self, envelope_ptr req,
                      const sql::attach_leaf& s);
/// DETACH LEAF host:port.
void exec_detach_leaf(ma_self self, envelope_ptr req,
                      const sql::detach_leaf& s);
/// REMOVE LEAF host:port [FORCE].
void exec_remove_leaf(ma_self self, envelope_ptr req,
                      const sql::remove_leaf& s);
/// CLEAR ORPHAN DATABASES [EXPLAIN].
void exec_clear_orphans(ma_self self, envelope_ptr req,
                        const sql::clear_orphan_databases& s);

// -- show.cpp ----------------------------------------------------------------

/// {host, port} of "host:port".
std::pair<std::string, std::string> split_address(const std::string& addr);
/// {host, port}, or {"NULL", "NULL"} for an empty address.
std::vector<std::string> address_cells(const std::string& addr);
/// `x` as 16 hexadecimal digits.
std::string hex64(uint64_t x);

/// SHOW LEAVES.
void exec_show_leaves(ma_self self, envelope_ptr req);
/// SHOW PARTITIONS ON db.
void exec_show_partitions(ma_self self, envelope_ptr req,
                          const sql::show_partitions& s);
/// SHOW CLUSTER STATUS: every copy, with the state its instance reports.
void exec_show_cluster_status(ma_self self, envelope_ptr req);
void exec_show_aggregators(ma_self self, envelope_ptr req);

// -- membership.cpp ----------------------------------------------------------

/// ADD AGGREGATOR / REMOVE AGGREGATOR.
void exec_change_aggregator(ma_self self, envelope_ptr req,
                            const sql::change_aggregator& s);
/// SHOW VARIABLES [LIKE pattern].
void exec_show_variables(ma_self self, envelope_ptr req,
                         const sql::show_variables& s);
/// SHOW DATABASES.
void exec_show_databases(ma_self self, envelope_ptr req);
/// CHECK PARTITIONS ON db: each copy's term, position, checksum and status.
void exec_check_partitions(ma_self self, envelope_ptr req,
                           const sql::check_partitions& s);

// -- partition_map.cpp -------------------------------------------------------

/// Answers a PartitionMapRequest, or parks it until the metadata changes.
void on_partition_map(ma_self self, const envelope_ptr& req);

/// Answers the parked map requests that are due: all of them when the
/// metadata changed, else those past their deadline.
void answer_parked_maps(ma_self self, bool changed);

/// The map-wait timer fired.
void on_map_timer(ma_self self);

// -- ddl.cpp -----------------------------------------------------------------

/// CREATE DATABASE name [PARTITIONS n] [WITH SYNC|ASYNC DURABILITY].
void exec_create_database(ma_self self, envelope_ptr req,
                          const sql::create_database& s);
/// DROP DATABASE name.
void exec_drop_database(ma_self self, envelope_ptr req,
                        const sql::drop_database& s);
/// SET GLOBAL name = value.
void exec_set_global(ma_self self, envelope_ptr req, const sql::set_global& s);

// users.cpp
void exec_create_user(ma_self self, envelope_ptr req,
                      const sql::create_user& s);
void exec_drop_user(ma_self self, envelope_ptr req, const sql::drop_user& s);
void exec_grant(ma_self self, envelope_ptr req,
                const sql::grant_privileges& s);
void exec_show_grants(ma_self self, envelope_ptr req,
                      const sql::show_grants& s);
void exec_show_users(ma_self self, envelope_ptr req);
void on_auth_request(ma_self self, const envelope_ptr& req);

} // namespace lg
