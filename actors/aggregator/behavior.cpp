// The master aggregator's behaviour: how it starts, and where each message
// goes.
//
//   1. At start-up it loads the metadata from its data dir (a corrupt file
//      stops it; globals that contradict each other are logged), counts
//      every online leaf as just heard from, watches each leaf's actor and
//      starts the heartbeats.
//   2. Each message goes to the file of its sub-protocol: statements
//      (on_statement parses them and calls the file of each statement),
//      partition maps (partition_map.cpp), leaf hellos (attach.cpp), replica
//      sync changes (failover.cpp), rebuild progress (jobs.cpp).
//   3. Metadata changes are written once for every batch of messages
//      (flush_atom: group commit); then the callbacks that waited for them
//      run, and parked map requests are answered.
//   4. Timers: heartbeats and failure deadlines (failover.cpp), parked map
//      requests (partition_map.cpp), balance retries (handover.cpp), the
//      end of an attach's wait for a report (attach.cpp).
#include "actors/aggregator/master_aggregator.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/aggregator/state.hpp"
#include "actors/leaf/leaf.hpp"
#include "actors/names.hpp"
#include "actors/net/handlers.hpp"
#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "config/variables.hpp"
#include "sql/parser.hpp"

namespace lg {

/// Consensus: sends the whole metadata to the voting aggregator to be
/// committed; what this aggregator sends from now waits for it.
namespace {
void on_metadata_committed(ma_self self, const envelope_ptr& env);
} // namespace

/// How long a proposal may go unanswered before the metadata is proposed
/// again (the proposal or its answer was lost on the way).
constexpr auto proposal_timeout = std::chrono::seconds{1};

void propose_metadata(ma_self self) {
  auto& st = self->state;
  publish_metadata_metrics(self);
  st.meta.bump_version();
  auto version = st.meta.version();
  st.ep.hold_until(version, st.cfg.consensus_node);
  auto env = make_envelope();
  auto* p = env->mutable_metadata_proposal();
  p->set_version(version);
  p->set_metadata(st.meta.serialize());
  p->set_election_timeout_ms(static_cast<uint32_t>(
    st.meta.globals().aggregator_election_timeout_ms()));
  st.ep.request(self, st.cfg.consensus_node, "aggregator", std::move(env),
                proposal_timeout, [self, version](const envelope* rep) {
                  auto& st = self->state;
                  if (rep != nullptr && rep->has_metadata_committed()) {
                    on_metadata_committed(
                      self, std::make_shared<envelope>(*rep));
                    return;
                  }
                  if (st.ep.released() >= version || st.stepping_down)
                    return; // a later commit covered it, or it stops
                  // A newer proposal is on its way: it holds this one's
                  // changes, and its own answer or silence decides.
                  if (st.meta.version() != version)
                    return;
                  if (rep != nullptr || !st.ep.last_transport_error().empty()) {
                    // Refused (the voting aggregator is down or
                    // unreachable), not timed out: proposing again at once
                    // would spin.
                    arm_timer(self, proposal_timeout,
                              timer_id::proposal_retry);
                    return;
                  }
                  logger("ma")->warn("MetadataProposalResent {} version {} "
                                     "had no answer",
                                     st.ctx(), version);
                  propose_metadata(self);
                });
}

/// The retry after a refused proposal: the newest metadata, if it is still
/// not committed.
void retry_proposal(ma_self self) {
  auto& st = self->state;
  if (st.stepping_down || st.ep.released() >= st.meta.version())
    return;
  logger("ma")->warn("MetadataProposalResent {} version {} was refused",
                     st.ctx(), st.meta.version());
  propose_metadata(self);
}

error persist(ma_self self) {
  auto& st = self->state;
  if (!st.cfg.consensus_node.empty()) {
    propose_metadata(self);
    return {};
  }
  publish_metadata_metrics(self);
  st.meta.bump_version();
  auto path = st.cfg.data_dir + "/metadata.pb";
  auto err = st.cfg.fs->write_atomic(path, st.meta.serialize());
  if (err) {
    LG_PROBE(metadata_write_failed, "the aggregator could not write its "
                                    "metadata and held its decisions");
    bool first = st.metadata_error.empty();
    st.metadata_error = "the cluster metadata cannot be written to " + path
                        + ": " + err.to_string();
    logger("ma")->critical("MetadataWriteFailed {} {}; {} decisions wait "
                           "until it can be written",
                           st.ctx(), st.metadata_error,
                           st.after_persist.size());
    if (first)
      st.ep.fab().dump_recent("metadata write failed", "/tmp");
    if (!st.persist_scheduled) {
      // Try again: decisions that depend on it wait until the disk works.
      st.persist_scheduled = true;
      arm_timer(self, metadata_retry_pause, timer_id::metadata_retry);
    }
    return err;
  }
  if (!st.metadata_error.empty()) {
    logger("ma")->warn("MetadataWriteRecovered {} {}", st.ctx(), path);
    st.metadata_error.clear();
  }
  return {};
}

error persist_statement(ma_self self, const envelope& req,
                        const cluster_metadata& before) {
  auto err = persist(self);
  if (err) {
    // Not acted on: the change is undone, and the statement says why.
    auto& st = self->state;
    auto why = st.metadata_error;
    st.meta = before;
    reply_result(self, req, make_failure(sql::errc::io_error, why));
  }
  return err;
}

void persist_then(ma_self self, std::function<void()> then) {
  auto& st = self->state;
  st.after_persist.push_back(std::move(then));
  if (!st.persist_scheduled) {
    st.persist_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

pb::ResultSet unknown_database(const std::string& name) {
  return make_failure(sql::errc::unknown_database,
                      "unknown database '" + name + "'");
}

void monitor_leaf(ma_self self, const std::string& addr) {
  auto& st = self->state;
  auto handle = st.ep.fab().lookup(addr, leaf_actor_name());
  if (!handle) // in another process: watch the link to it
    handle = st.ep.fab().route(addr);
  if (!handle)
    return;
  auto& rt = st.runtime[addr];
  if (rt.handle == handle.address())
    return;
  rt.handle = handle.address();
  self->monitor(handle);
}

namespace {

/// Writes the metadata once for every change queued since the last write.
void on_persist_flush(ma_self self) {
  auto& st = self->state;
  st.persist_scheduled = false;
  if (!st.cfg.consensus_node.empty()) {
    propose_metadata(self);
    auto& waiting = st.awaiting_commit[st.meta.version()];
    for (auto& f : st.after_persist)
      waiting.push_back(std::move(f));
    st.after_persist.clear();
    return;
  }
  if (persist(self))
    return; // the callbacks wait for the retry
  auto callbacks = std::move(st.after_persist);
  st.after_persist.clear();
  for (auto& f : callbacks)
    f();
  if (!st.parked_maps.empty())
    answer_parked_maps(self, true);
}

/// Consensus: this master aggregator leads no more (its voting aggregator
/// lost its majority, or a change could not be committed). What it held
/// waiting for a commit is never sent, except that each statement waiting
/// for one is told that its outcome is unknown; then it stops.
void step_down(ma_self self, const std::string& why) {
  auto& st = self->state;
  st.stepping_down = true;
  // Requests still out (a SHOW waiting for its voting aggregator) answer
  // their statements now, with what they have.
  st.ep.fail_all();
  auto unknown = [&] {
    return make_failure(
      sql::errc::timeout,
      "the master aggregator stopped leading before this statement's "
      "change was committed (" + why + "): it may or may not have taken "
      "effect; SHOW AGGREGATORS names the new master aggregator");
  };
  // Statements still running (an attach, a rebalance) would otherwise wait
  // for their client's timeout: their work stops here.
  auto open = std::move(st.open_statements);
  st.open_statements.clear();
  for (auto& [key, req] : open)
    reply_result(self, *req, unknown());
  st.ep.flush_held(self, [&](envelope& env) {
    if (!env.has_statement_reply())
      return false;
    *env.mutable_statement_reply()->mutable_result() = unknown();
    return true;
  });
  self->quit(caf::make_error(caf::sec::runtime_error, why));
}

/// Consensus: a version is on a majority of voting aggregators. What
/// waited for it goes out; a refusal means this aggregator leads no more.
void on_metadata_committed(ma_self self, const envelope_ptr& env) {
  auto& st = self->state;
  auto& c = env->metadata_committed();
  if (!c.ok()) {
    logger("ma")->critical("MetadataNotCommitted {} version {}: {}; this "
                           "master aggregator stops",
                           st.ctx(), c.version(), c.error());
    step_down(self, c.error());
    return;
  }
  st.ep.release_through(self, c.version());
  while (!st.awaiting_commit.empty()
         && st.awaiting_commit.begin()->first <= c.version()) {
    auto callbacks = std::move(st.awaiting_commit.begin()->second);
    st.awaiting_commit.erase(st.awaiting_commit.begin());
    for (auto& f : callbacks)
      f();
  }
  if (!st.parked_maps.empty())
    answer_parked_maps(self, true);
}

/// True when `stmt` changes the cluster's metadata (or starts work that
/// does); EXPLAIN and SHOW do not.
bool changes_metadata(const sql::statement& stmt) {
  return std::visit(
    [](auto& s) {
      using T = std::decay_t<decltype(s)>;
      if constexpr (std::is_same_v<T, sql::create_database>
                    || std::is_same_v<T, sql::drop_database>
                    || std::is_same_v<T, sql::add_leaf>
                    || std::is_same_v<T, sql::set_global>
                    || std::is_same_v<T, sql::attach_leaf>
                    || std::is_same_v<T, sql::detach_leaf>
                    || std::is_same_v<T, sql::remove_leaf>
                    || std::is_same_v<T, sql::create_user>
                    || std::is_same_v<T, sql::drop_user>
                    || std::is_same_v<T, sql::grant_privileges>)
        return true;
      else if constexpr (std::is_same_v<T, sql::clear_orphan_databases>
                         || std::is_same_v<T, sql::rebalance_partitions>
                         || std::is_same_v<T, sql::restore_redundancy>)
        return !s.explain;
      else
        return false;
    },
    stmt);
}

void on_statement(ma_self self, const envelope_ptr& req) {
  const auto& text = req->statement_request().text();
  auto parsed = parse_statement(self, *req);
  if (!parsed)
    return;
  if (!self->state.cfg.consensus_node.empty())
    self->state.open_statements.emplace(statement_key(*req), req);
  if (!self->state.metadata_error.empty() && changes_metadata(*parsed)) {
    // Nothing that changes the cluster is started while it cannot be
    // recorded.
    reply_result(self, *req, make_failure(sql::errc::io_error,
                                          self->state.metadata_error));
    return;
  }
  std::visit(
    [&](auto& s) {
      using T = std::decay_t<decltype(s)>;
      if constexpr (std::is_same_v<T, sql::add_leaf>)
        exec_add_leaf(self, req, s);
      else if constexpr (std::is_same_v<T, sql::create_database>)
        exec_create_database(self, req, s);
      else if constexpr (std::is_same_v<T, sql::drop_database>)
        exec_drop_database(self, req, s);
      else if constexpr (std::is_same_v<T, sql::show_databases>)
        exec_show_databases(self, req);
      else if constexpr (std::is_same_v<T, sql::show_leaves>)
        exec_show_leaves(self, req);
      else if constexpr (std::is_same_v<T, sql::show_partitions>)
        exec_show_partitions(self, req, s);
      else if constexpr (std::is_same_v<T, sql::show_cluster_status>)
        exec_show_cluster_status(self, req);
      else if constexpr (std::is_same_v<T, sql::show_aggregators>)
        exec_show_aggregators(self, req);
      else if constexpr (std::is_same_v<T, sql::change_aggregator>)
        exec_change_aggregator(self, req, s);
      else if constexpr (std::is_same_v<T, sql::set_global>)
        exec_set_global(self, req, s);
      else if constexpr (std::is_same_v<T, sql::show_variables>)
        exec_show_variables(self, req, s);
      else if constexpr (std::is_same_v<T, sql::attach_leaf>)
        exec_attach_leaf(self, req, s);
      else if constexpr (std::is_same_v<T, sql::detach_leaf>)
        exec_detach_leaf(self, req, s);
      else if constexpr (std::is_same_v<T, sql::remove_leaf>)
        exec_remove_leaf(self, req, s);
      else if constexpr (std::is_same_v<T, sql::rebalance_partitions>)
        exec_rebalance(self, req, s);
      else if constexpr (std::is_same_v<T, sql::restore_redundancy>)
        exec_restore_redundancy(self, req, s);
      else if constexpr (std::is_same_v<T, sql::check_partitions>)
        exec_check_partitions(self, req, s);
      else if constexpr (std::is_same_v<T, sql::show_rebalance_status>)
        exec_show_rebalance_status(self, req, s);
      else if constexpr (std::is_same_v<T, sql::clear_orphan_databases>)
        exec_clear_orphans(self, req, s);
      else if constexpr (std::is_same_v<T, sql::create_user>)
        exec_create_user(self, req, s);
      else if constexpr (std::is_same_v<T, sql::drop_user>)
        exec_drop_user(self, req, s);
      else if constexpr (std::is_same_v<T, sql::grant_privileges>)
        exec_grant(self, req, s);
      else if constexpr (std::is_same_v<T, sql::show_grants>)
        exec_show_grants(self, req, s);
      else if constexpr (std::is_same_v<T, sql::show_users>)
        exec_show_users(self, req);
      else if constexpr (std::is_same_v<T, sql::show_failovers>)
        exec_show_failovers(self, req);
      else
        reply_result(self, *req,
                     make_failure(sql::errc::not_supported,
                                  "the master aggregator does not execute '"
                                    + text + "'"));
    },
    *parsed);
}

/// The messages the aggregator reacts to, each sent to its sub-protocol.
/// Every request the master aggregator accepts.
const handler_table<ma_self> aggregator_requests{
  "ma",
  {
    {envelope::kStatementRequest, on_statement},
    {envelope::kAuthRequest, on_auth_request},
    {envelope::kPartitionMapRequest, on_partition_map},
    {envelope::kLeafHelloRequest, on_leaf_hello},
    {envelope::kReplicaSyncRequest, on_replica_sync},
    {envelope::kInstanceFailedRequest, on_instance_failed},
    {envelope::kRebuildProgress, on_rebuild_progress},
    {envelope::kMetadataCommitted, on_metadata_committed},
  }};

/// A leaf told this aggregator of a newer one (two started on one data
/// dir, or this one was paused while another took over): it stops, and
/// gives no order more.
void quit_if_deposed(ma_self self) {
  auto& st = self->state;
  if (st.ep.deposed_by() == 0)
    return;
  logger("ma")->critical("MasterAggregatorDeposed {} master aggregator term "
                         "{} has taken over; this one (term {}) stops",
                         st.ctx(), st.ep.deposed_by(),
                         st.ep.aggregator_term());
  self->quit(caf::make_error(caf::sec::runtime_error,
                             "a newer master aggregator took over"));
}

master_aggregator_actor::behavior_type ma_behavior(ma_self self) {
  return {
    [self](wire& msg) {
      aggregator_requests.dispatch(self, msg);
      quit_if_deposed(self);
    },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](flush_atom) { on_persist_flush(self); },
    [self](timer_atom, uint64_t id) {
      switch (static_cast<timer_id>(id)) {
        case timer_id::map_wait:
          on_map_timer(self);
          break;
        case timer_id::failure_deadline:
          failure_deadline(self);
          break;
        case timer_id::balance_retry:
          retry_balance(self);
          break;
        case timer_id::metadata_retry:
          on_persist_flush(self);
          break;
        case timer_id::proposal_retry:
          retry_proposal(self);
          break;
        case timer_id::attach_wait:
          resume_attaches(self);
          break;
        case timer_id::attach_rebalance:
          run_attach_rebalances(self);
          break;
        case timer_id::connections_lost: {
          std::vector<std::pair<std::string, std::string>> lost;
          for (auto& [addr, rt] : self->state.runtime)
            if (!rt.lost_why.empty()) {
              lost.emplace_back(addr, rt.lost_why);
              rt.lost_why.clear();
            }
          leaves_failed(self, lost);
          break;
        }
        case timer_id::heartbeat:
        default:
          heartbeat_round(self);
          break;
      }
    },
  };
}

/// Loads the metadata and starts watching the leaves (step 1).
master_aggregator_actor::behavior_type
master_aggregator_impl(ma_self self, master_aggregator_config cfg) {
  auto& st = self->state;
  st.ep = endpoint{cfg.fab, cfg.node, master_aggregator_actor_name()};
  st.cfg = std::move(cfg);
  st.cfg.fs->make_dirs(st.cfg.data_dir);
  auto path = st.cfg.data_dir + "/metadata.pb";
  auto bytes = st.cfg.consensus_node.empty()
                 ? st.cfg.fs->read_file(path)
                 : result<std::string>{st.cfg.initial_metadata};
  if (!st.cfg.consensus_node.empty()) {
    path = "the metadata committed by the aggregators";
    if (bytes->empty())
      bytes = make_error(storage::errc::not_found, "nothing committed yet");
  }
  if (bytes.ok()) {
    if (!st.meta.parse(*bytes)) {
      logger("ma")->critical("MetadataCorrupt {} is not valid metadata; "
                             "refusing to start",
                             path);
      self->quit(caf::make_error(caf::sec::invalid_argument,
                                 "corrupt metadata: " + path));
      return ma_behavior(self);
    }
    if (bugs::forget_users)
      st.meta.mutable_users()->Clear();
    // Leaves must prove they are alive again after an aggregator restart,
    // and until they do, nothing says they still serve their copies.
    // A leaf whose attach was under way had its plan recorded: it is
    // online, and the orders of its copies that never arrived are sent
    // again once it answers (reconcile.cpp).
    for (auto& leaf : st.meta.leaves())
      if (state_of(leaf) == leaf_state::attaching && !bugs::no_role_reconcile)
        set_state(*st.meta.find_leaf(leaf.address()), leaf_state::online);
    for (auto& leaf : st.meta.leaves())
      if (state_of(leaf) == leaf_state::online) {
        st.runtime[leaf.address()].last_reply = self->clock().now();
        st.runtime[leaf.address()].unconfirmed = true;
      }
    logger("ma")->info("MetadataLoaded {} {} leaves, {} databases", st.ctx(),
                       st.meta.leaves_size(), st.meta.databases_size());
    // Only an older version could have stored globals that contradict
    // each other. Refusing to start would leave no way to fix them, so the
    // aggregator starts and names the conflict, which a SET GLOBAL of
    // either variable can resolve.
    if (auto err = config::check_globals(st.meta.globals().all(), ""))
      logger("ma")->error("GlobalsConflict {} stored globals: {}", st.ctx(),
                          err.detail());
  }
  // A new term before anything is sent: leaves refuse what an older
  // aggregator on this metadata (paused, or started twice) sends from now.
  // Under consensus the term is the Raft term it was elected in.
  st.meta.set_aggregator_term(st.cfg.consensus_node.empty()
                                ? st.meta.aggregator_term() + 1
                                : st.cfg.consensus_term);
  error term_err;
  if (st.cfg.consensus_node.empty())
    term_err = persist(self);
  if (auto err = term_err) {
    logger("ma")->critical("AggregatorTermUnwritten {} cannot record term "
                           "{}: {}; refusing to start",
                           st.ctx(), st.meta.aggregator_term(),
                           err.to_string());
    self->quit(caf::make_error(caf::sec::runtime_error,
                               "cannot record the aggregator term: "
                                 + err.to_string()));
    return ma_behavior(self);
  }
  st.ep.set_aggregator_term(st.meta.aggregator_term());
  logger("ma")->info("AggregatorTerm {} term {}", st.ctx(),
                     st.meta.aggregator_term());
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  if (!st.cfg.consensus_node.empty())
    // Its voting aggregator stopped leading: see step_down.
    self->set_exit_handler([self](caf::exit_msg& em) {
      step_down(self, "its voting aggregator leads no more ("
                        + to_string(em.reason) + ")");
    });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& kvp : st.runtime) {
      if (kvp.second.handle == dm.source) {
        // Handled after the down messages already queued: leaves that die
        // together (a power loss) are declared offline together.
        kvp.second.handle = caf::actor_addr{};
        kvp.second.lost_why = "connection lost (" + to_string(dm.reason)
                              + ")";
        self->send(self, timer_atom::value,
                   static_cast<uint64_t>(timer_id::connections_lost));
        return;
      }
    }
  });
  for (auto& leaf : st.meta.leaves())
    monitor_leaf(self, leaf.address());
  arm_heartbeats(self);
  return ma_behavior(self);
}

} // namespace

master_aggregator_actor
spawn_master_aggregator(caf::actor_system& sys, master_aggregator_config cfg) {
  auto fab = cfg.fab;
  auto node = cfg.node;
  auto handle = cfg.detached
                  ? sys.spawn<caf::detached>(master_aggregator_impl,
                                             std::move(cfg))
                  : sys.spawn(master_aggregator_impl, std::move(cfg));
  fab->add_endpoint(node, master_aggregator_actor_name(),
                    caf::actor_cast<caf::actor>(handle));
  return handle;
}

} // namespace lg
