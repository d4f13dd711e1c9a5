// REBALANCE PARTITIONS, RESTORE REDUNDANCY and their EXPLAIN, run by the
// master aggregator.
//
//   1. The aggregator describes the database to the planner (ha/planner):
//      leaves, pairs, instances, roles. The planner returns steps in phases.
//   2. EXPLAIN shows the steps. Otherwise the phases run one after the
//      other, the steps of a phase in parallel:
//        COPY PARTITION     a copy on Target rebuilt from the master
//                           (rebuild.proto), done once it is in sync; with
//                           FORCE and no copy left, an empty master
//        PROMOTE PARTITION  a graceful switch to Target (recovery.proto
//                           StepDownRequest): no write lost, clients retry
//        DROP PARTITION     the copy on Target is forgotten and dropped
//   3. Each run and each step shows in SHOW REBALANCE STATUS. A run that
//      stops half way (a leaf died) leaves every partition with its data;
//      running it again plans from the new state and finishes the job.
//
// SingleStore: REBALANCE PARTITIONS moves partitions to balance them;
// RESTORE REDUNDANCY only re-creates missing replicas; FORCE re-creates
// partitions whose every copy is lost, empty.
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <tuple>

#include "actors/leaf/leaf.hpp"
#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "ha/planner.hpp"

namespace lg {

namespace {

ha::plan_input plan_input_of(master_aggregator_state& st,
                             const pb::DatabaseMeta& db, bool force,
                             bool restore_only) {
  ha::plan_input in;
  in.redundancy = st.meta.globals().redundancy_level();
  in.force = force;
  in.restore_only = restore_only;
  in.load_balanced = st.meta.globals().load_balanced();
  in.leaves = st.meta.leaf_infos();
  for (auto& part : db.parts()) {
    ha::plan_partition p;
    p.ordinal = part.ordinal();
    for (auto& inst : part.instances())
      p.instances.push_back(
        {inst.leaf(), view_role(inst.role()),
         inst.in_sync() && !inst.missing()});
    in.partitions.push_back(std::move(p));
  }
  return in;
}

pb::ResultSet explain(const ha::plan_result& plan) {
  // A step's remaining time: the phases from its own on, each as long as
  // its longest step.
  std::map<int, uint64_t> phase_ms;
  for (auto& s : plan.steps)
    phase_ms[s.phase] = std::max(phase_ms[s.phase], s.estimated_ms);
  std::vector<std::vector<std::string>> rows;
  for (auto& s : plan.steps) {
    uint64_t remaining = 0;
    for (auto& [phase, ms] : phase_ms)
      if (phase >= s.phase)
        remaining += ms;
    auto hp = split_address(s.target);
    rows.push_back({ha::to_string(s.action), std::to_string(s.ordinal),
                    hp.first, hp.second, std::to_string(s.phase),
                    std::to_string(remaining)});
  }
  return make_table({"Action", "Ordinal", "Target_Host", "Target_Port",
                     "Phase", "Estimated_Time_Remaining_Ms"},
                    rows);
}

/// Creates an empty master of db:ordinal on `to` (FORCE): every old copy is
/// forgotten, so one that comes back later is an orphan.
void create_empty_master(ma_self self, const std::string& db_name,
                         uint32_t ordinal, const std::string& to,
                         std::function<void(const std::string&)> done) {
  auto& st = self->state;
  auto* db = st.meta.find_database(db_name);
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  part.clear_instances();
  auto* inst = part.add_instances();
  inst->set_leaf(to);
  inst->set_role(pb::MASTER);
  inst->set_in_sync(true);
  part.set_term(part.term() + 1);
  part.set_offline(false);
  part.clear_offline_reason();
  auto label = partition_label(db_name, ordinal);
  LG_PROBE(partition_recreated_empty,
           "FORCE re-created a partition whose every copy was lost");
  logger("ma")->warn("PartitionRecreatedEmpty {} {} on {}: every copy was "
                     "lost (FORCE)",
                     st.ctx(), label, to);
  auto term = part.term();
  auto sync = db->sync_durability();
  persist_then(self, [self, db_name, ordinal, to, term, sync, done] {
    auto env = create_instance_envelope(db_name, ordinal, sync, pb::MASTER,
                                        term, "",
                                        self->state.meta.version());
    self->state.ep.request(self, to, leaf_actor_name(), std::move(env),
                           instance_op_timeout,
                           [done, to](const envelope* rep) {
                             done(create_error(rep, to));
                           });
  });
}

void drop_copy(ma_self self, const std::string& db, uint32_t ordinal,
               const std::string& leaf) {
  auto& st = self->state;
  bool up = st.meta.leaf_online(leaf);
  forget_instance(self, db, ordinal, leaf);
  if (!up)
    return;
  persist_then(self, [self, db, ordinal, leaf] {
    drop_instance(self, leaf, db, ordinal);
  });
}

/// Moves db:ordinal from its pair to another pair (master on `to_master`,
/// replica on its pair `to_replica`). A master feeds one replica, so the
/// move goes in stages, each keeping every acknowledged write on an in-sync
/// copy, and every old copy on disk until the end:
///   1. the old replica is set aside (Orphan); the master feeds a new copy
///      on `to_master`, which is rebuilt and becomes in sync;
///   2. the master is handed over to it (step-down, new term);
///   3. the old master is set aside; the new master feeds a new copy on
///      `to_replica`, rebuilt until in sync;
///   4. every other copy is dropped (the old ones, and orphans of an
///      earlier, interrupted run).
/// Between 1 and 2, and during 3, the partition has one in-sync copy (as
/// while a replica is rebuilt after a failure). A failure stops the move
/// with every copy still on disk; running REBALANCE again goes on from
/// there.
void move_between_pairs(ma_self self, const std::string& db_name,
                        uint32_t ordinal, const std::string& to_master,
                        const std::string& to_replica,
                        std::function<void(const std::string&)> done) {
  auto& st = self->state;
  auto* db = st.meta.find_database(db_name);
  auto& part = *db->mutable_parts(static_cast<int>(ordinal));
  auto* master = master_of(part);
  if (master == nullptr) {
    done("no master to move from");
    return;
  }
  auto old_master = master->leaf();
  std::string old_replica;
  for (auto& inst : part.instances())
    if (inst.role() == pb::REPLICA && inst.leaf() != to_master
        && inst.leaf() != to_replica)
      old_replica = inst.leaf();
  LG_PROBE(moved_between_pairs, "a partition moved to another pair");
  if (!old_replica.empty())
    set_aside(self, db_name, ordinal, old_replica);
  copy_instance(self, db_name, ordinal, to_master, [=](const std::string& e1) {
    if (!e1.empty())
      return done(e1);
    switch_master(self, db_name, ordinal, to_master,
                  [=](const std::string& e2) {
      if (!e2.empty())
        return done(e2);
      set_aside(self, db_name, ordinal, old_master);
      copy_instance(self, db_name, ordinal, to_replica,
                    [=](const std::string& e3) {
        if (!e3.empty())
          return done(e3);
        // Every copy but the two new ones goes: the old master and replica,
        // and orphans left by an earlier, interrupted run.
        auto& st = self->state;
        std::vector<std::string> old;
        for (auto& inst : st.meta.find_database(db_name)
                            ->parts(static_cast<int>(ordinal))
                            .instances())
          if (inst.leaf() != to_master && inst.leaf() != to_replica)
            old.push_back(inst.leaf());
        for (auto& leaf : old)
          drop_copy(self, db_name, ordinal, leaf);
        done({});
      });
    });
  });
}

/// How many partitions move between pairs at once.
constexpr size_t max_concurrent_moves = 1;

/// The moves of `plan` that take a partition to another pair: ordinal ->
/// (new master, new replica). Such a partition's own steps (two copies, a
/// promotion, drops) are run by move_between_pairs instead.
std::map<uint32_t, std::pair<std::string, std::string>>
moves_between_pairs(master_aggregator_state& st,
                    const ha::plan_result& plan) {
  std::map<uint32_t, std::set<std::string>> copies;
  std::map<uint32_t, std::string> promoted;
  for (auto& s : plan.steps) {
    if (s.action == ha::step_action::copy && !s.source.empty())
      copies[s.ordinal].insert(s.target);
    else if (s.action == ha::step_action::promote)
      promoted[s.ordinal] = s.target;
  }
  std::map<uint32_t, std::pair<std::string, std::string>> out;
  for (auto& [ordinal, master] : promoted) {
    // A move: the new master and its pair both get a copy. (Other copies in
    // the plan, e.g. restoring a replica on the old pair, are moot then.)
    auto* leaf = st.meta.find_leaf(master);
    auto& targets = copies[ordinal];
    if (leaf == nullptr || leaf->pair().empty() || targets.count(master) == 0
        || targets.count(leaf->pair()) == 0)
      continue;
    out[ordinal] = {master, leaf->pair()};
  }
  return out;
}

struct run_state {
  std::string db;
  ha::plan_result plan;
  int phase = 0;
  std::vector<std::string> errors;
  std::function<void(const std::string& error)> done;
};

/// The leaf `plan` drops db:ordinal from after phase `phase` ("" = none).
bool dropped_later(const ha::plan_result& plan, uint32_t ordinal,
                   const std::string& leaf, int phase) {
  return std::any_of(plan.steps.begin(), plan.steps.end(),
                     [&](const ha::plan_step& s) {
                       return s.action == ha::step_action::drop
                              && s.ordinal == ordinal && s.target == leaf
                              && s.phase > phase;
                     });
}

/// Whether `plan` promotes the copy of db:ordinal on `leaf`.
bool promoted(const ha::plan_result& plan, uint32_t ordinal,
              const std::string& leaf) {
  return std::any_of(plan.steps.begin(), plan.steps.end(),
                     [&](const ha::plan_step& s) {
                       return s.action == ha::step_action::promote
                              && s.ordinal == ordinal && s.target == leaf;
                     });
}

/// A replica that moves: copy `step` goes where the partition's replica
/// is to be, and the plan drops the current one later. A master feeds one
/// replica, so the current one is set aside (Orphan, on disk until the
/// drop) before the new one is fed. Until the new copy is in sync the
/// partition has one in-sync copy, as during any rebuild.
/// The leaves of db's replicas that copy `step` replaces (the plan drops
/// them later).
std::vector<std::string> moving_replicas(const pb::DatabaseMeta& db,
                                         const ha::plan_result& plan,
                                         const ha::plan_step& step) {
  std::vector<std::string> out;
  for (auto& inst : db.parts(static_cast<int>(step.ordinal)).instances())
    if (inst.role() == pb::REPLICA && !inst.missing()
        && inst.leaf() != step.target
        && dropped_later(plan, step.ordinal, inst.leaf(), step.phase))
      out.push_back(inst.leaf());
  return out;
}

void set_aside_moving_replica(ma_self self, const run_state& run,
                              const ha::plan_step& step) {
  auto* db = self->state.meta.find_database(run.db);
  if (db == nullptr)
    return;
  auto moving = moving_replicas(*db, run.plan, step);
  if (moving.empty() || bugs::move_replica_in_place)
    return;
  LG_PROBE(replica_moved, "a rebalance moved a replica to another leaf");
  for (auto& leaf : moving)
    set_aside(self, run.db, step.ordinal, leaf);
}

void run_phase(ma_self self, std::shared_ptr<run_state> run) {
  auto& st = self->state;
  ++run->phase;
  std::vector<ha::plan_step> steps;
  int max_phase = 0;
  for (auto& s : run->plan.steps) {
    max_phase = std::max(max_phase, s.phase);
    if (s.phase == run->phase)
      steps.push_back(s);
  }
  if (run->phase > max_phase || !run->errors.empty()) {
    run->done(run->errors.empty() ? std::string{} : run->errors.front());
    return;
  }
  auto cd = std::make_shared<countdown>();
  cd->remaining = steps.size() + 1;
  cd->done = [self, run](std::vector<std::string> errors) {
    run->errors.insert(run->errors.end(), errors.begin(), errors.end());
    run_phase(self, run);
  };
  auto now = self->clock().now();
  for (auto& s : steps) {
    auto label = partition_label(run->db, s.ordinal);
    auto finish = [cd, label, s](const std::string& err) {
      cd->finish_one(err.empty() ? err
                                 : std::string{ha::to_string(s.action)} + " "
                                     + label + " on " + s.target + ": " + err);
    };
    switch (s.action) {
      case ha::step_action::copy:
        if (s.source.empty()) {
          create_empty_master(self, run->db, s.ordinal, s.target, finish);
        } else {
          set_aside_moving_replica(self, *run, s);
          copy_instance(self, run->db, s.ordinal, s.target, finish);
        }
        break;
      case ha::step_action::promote:
        switch_master(self, run->db, s.ordinal, s.target, finish);
        break;
      case ha::step_action::drop: {
        auto& job = start_job(st, now, job_action::drop, run->db, s.ordinal,
                              s.target);
        job.status = job_status::success;
        job.finished = now;
        drop_copy(self, run->db, s.ordinal, s.target);
        finish({});
        break;
      }
    }
  }
  cd->finish_one();
}

using reply_fn = std::function<void(pb::ResultSet)>;

void plan_and_run(ma_self self, reply_fn reply, const std::string& name,
                  bool force, bool restore_only, bool explain_only,
                  job_action what) {
  auto& st = self->state;
  auto* db = st.meta.find_database(name);
  if (db == nullptr) {
    reply(unknown_database(name));
    return;
  }
  auto plan = ha::plan_rebalance(plan_input_of(st, *db, force, restore_only));
  if (explain_only) {
    reply(explain(plan));
    return;
  }
  // Moves between pairs run in stages (move_between_pairs) before the rest
  // of the plan. Any other copy of a partition that still has its replica
  // elsewhere cannot run: a master feeds one replica at a time.
  auto moves = moves_between_pairs(st, plan);
  // Replicas that move to another leaf (load-balanced spreading, or a
  // conversion between fan-out modes) are set aside as they move, too.
  std::set<uint32_t> replica_moves;
  for (auto& step : plan.steps)
    if (step.action == ha::step_action::copy && !step.source.empty()
        && moves.count(step.ordinal) == 0
        && (step.phase > 3 || !moving_replicas(*db, plan, step).empty()))
      replica_moves.insert(step.ordinal);
  if (!moves.empty() || !replica_moves.empty())
    for (auto& l : st.meta.leaves())
      if (state_of(l) != leaf_state::online) {
        // Each staged move sets old copies aside; with a leaf away, one of
        // them may be the only other copy left, and its return would race
        // the move. Moves wait for a whole cluster.
        reply(make_failure(
          sql::errc::conflict,
          std::string{to_string(what)} + " ON " + name + " would move "
            + std::to_string(moves.size())
            + " partitions between pairs and "
            + std::to_string(replica_moves.size())
            + " replicas between leaves while leaf " + l.address()
            + " is " + to_string(state_of(l))
            + ": ATTACH it or REMOVE it first (EXPLAIN shows the plan; "
              "nothing was changed)"));
        return;
      }
  for (auto& step : plan.steps) {
    if (moves.count(step.ordinal) > 0)
      continue;
    if (step.action != ha::step_action::copy || step.source.empty()
        || std::count(plan.recreated_empty.begin(), plan.recreated_empty.end(),
                      step.ordinal)
             > 0)
      continue; // a re-created partition starts with no copy at all
    auto& part = db->parts(static_cast<int>(step.ordinal));
    for (auto& inst : part.instances())
      if (inst.role() == pb::REPLICA && !inst.missing()
          && inst.leaf() != step.target
          && !dropped_later(plan, step.ordinal, inst.leaf(), step.phase)
          && !promoted(plan, step.ordinal, inst.leaf())) {
        reply(make_failure(
          sql::errc::not_supported,
          std::string{to_string(what)} + " ON " + name + " would move "
            + partition_label(name, step.ordinal) + " to "
            + step.target + " while its replica on " + inst.leaf()
            + " is still fed: moving partitions between pairs is not "
              "supported yet (a master feeds one replica at a time); "
              "EXPLAIN shows the plan, nothing was changed"));
        return;
      }
  }
  std::string lost;
  for (auto o : plan.unrecoverable)
    lost += (lost.empty() ? "" : ", ") + partition_label(name, o);
  auto now = self->clock().now();
  auto& job = start_job(st, now, what, name, 0, "");
  job.details = std::to_string(plan.steps.size()) + " steps";
  if (!lost.empty())
    job.details += "; left alone (no online copy; FORCE re-creates them "
                   "empty): " + lost;
  auto started = now;
  auto run = std::make_shared<run_state>();
  run->db = name;
  run->plan = plan;
  auto recreated = plan.recreated_empty.size();
  auto steps = plan.steps.size();
  run->done = [self, reply, name, recreated, steps, lost, started,
               what](const std::string& err) {
    auto& st = self->state;
    for (auto& j : st.jobs)
      if (j.action == what && j.db == name && j.leaf.empty()
          && j.status == job_status::running && j.started == started) {
        j.status = err.empty() ? job_status::success : job_status::failed;
        j.finished = self->clock().now();
        if (!err.empty())
          j.details += "; " + err;
      }
    if (!err.empty()) {
      reply(make_failure(sql::errc::conflict,
                         std::string{to_string(what)} + " ON " + name
                           + " stopped: "
                           + err
                           + "; every partition keeps its data, and "
                             "running it again finishes the job"));
      return;
    }
    std::string text = "Query OK, " + std::to_string(steps) + " steps";
    if (recreated > 0)
      text += "; " + std::to_string(recreated)
              + " partitions had no copy left and were re-created EMPTY "
                "(their data is lost)";
    if (!lost.empty())
      text += "; partitions with no online copy left alone: " + lost
              + " (FORCE re-creates them empty)";
    reply(make_message(text));
  };
  logger("ma")->info("{} {} {}: {} steps ({} partitions move between "
                     "pairs)",
                     to_string(what), st.ctx(), name, plan.steps.size(),
                     moves.size());
  if (moves.empty()) {
    run_phase(self, run);
    return;
  }
  // The moved partitions' steps are done by the staged moves.
  auto& rest = run->plan.steps;
  rest.erase(std::remove_if(rest.begin(), rest.end(),
                            [&](const ha::plan_step& s) {
                              return moves.count(s.ordinal) > 0;
                            }),
             rest.end());
  // A few moves at a time (as Elasticsearch limits concurrent recoveries
  // per node): each copies a partition twice, and the writes going on must
  // keep most of the machine.
  struct move_queue {
    std::vector<std::tuple<uint32_t, std::string, std::string>> pending;
    size_t next = 0;
    size_t running = 0;
    std::vector<std::string> errors;
  };
  auto q = std::make_shared<move_queue>();
  for (auto& [ordinal, to] : moves)
    q->pending.emplace_back(ordinal, to.first, to.second);
  // The callbacks of running moves own `launch`; it only refers to itself
  // weakly, so that nothing keeps it alive once the last move is done.
  auto launch = std::make_shared<std::function<void()>>();
  std::weak_ptr<std::function<void()>> weak = launch;
  *launch = [self, run, q, name, weak] {
    while (q->running < max_concurrent_moves && q->next < q->pending.size()
           && q->errors.empty()) {
      auto [ordinal, master, replica] = q->pending[q->next++];
      ++q->running;
      auto label = partition_label(name, ordinal);
      move_between_pairs(self, name, ordinal, master, replica,
                         [q, next = weak.lock(), label,
                          master](const std::string& err) {
                           --q->running;
                           if (!err.empty())
                             q->errors.push_back("MOVE " + label + " to "
                                                 + master + ": " + err);
                           (*next)();
                         });
    }
    if (q->running == 0) {
      run->errors.insert(run->errors.end(), q->errors.begin(),
                         q->errors.end());
      run_phase(self, run);
    }
  };
  (*launch)();
}

/// Runs REBALANCE on names[i..] one database after the other.
void rebalance_each(ma_self self, envelope_ptr req,
                    std::shared_ptr<std::vector<std::string>> names, size_t i,
                    bool force, std::shared_ptr<std::string> summary) {
  if (i == names->size()) {
    reply_result(self, *req, make_message(*summary));
    return;
  }
  auto name = (*names)[i];
  plan_and_run(
    self,
    [self, req, names, i, force, summary, name](pb::ResultSet rs) {
      if (rs.error_code() != 0) {
        reply_result(self, *req, std::move(rs));
        return;
      }
      *summary += (summary->empty() ? "" : "; ") + name + ": "
                  + rs.message();
      rebalance_each(self, req, names, i + 1, force, summary);
    },
    name, force, false, false, job_action::rebalance);
}

} // namespace

void exec_rebalance(ma_self self, envelope_ptr req,
                    const sql::rebalance_partitions& s) {
  auto reply = [self, req](pb::ResultSet rs) {
    reply_result(self, *req, std::move(rs));
  };
  if (s.database) {
    plan_and_run(self, reply, *s.database, s.force, false, s.explain,
                 job_action::rebalance);
    return;
  }
  auto names = std::make_shared<std::vector<std::string>>();
  for (auto& db : self->state.meta.databases())
    names->push_back(db.name());
  rebalance_each(self, req, names, 0, s.force,
                 std::make_shared<std::string>());
}

void exec_restore_redundancy(ma_self self, envelope_ptr req,
                             const sql::restore_redundancy& s) {
  plan_and_run(
    self,
    [self, req](pb::ResultSet rs) { reply_result(self, *req, std::move(rs)); },
    s.database, false, true, s.explain, job_action::restore_redundancy);
}

} // namespace lg
