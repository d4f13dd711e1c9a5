// A partition instance's behaviour: the requests it accepts (one handler
// table), its timers, reads, checkpoints and status. The protocols it takes
// part in are in replication.cpp, sync.cpp, rebuild.cpp and roles.cpp.
#include "actors/partition/state.hpp"

#include "actors/net/handlers.hpp"

#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "ha/recovery.hpp"

namespace lg::partition_detail {



void start_checkpoint(self_ptr self) {
  auto& st = self->state;
  auto job = st.cfg.store->begin_checkpoint();
  if (!job) {
    logger("partition")->error("CheckpointFailed {} {}", st.ctx(),
                               job.err().to_string());
    st.checkpoint.retry_bytes = st.cfg.store->log_bytes()
                                + st.cfg.checkpoint_log_bytes;
    return;
  }
  auto task = std::make_shared<partition_state::checkpoint_state::task>();
  task->job = std::move(*job);
  st.checkpoint.running = task;
  if (!st.cfg.checkpoints) {
    // Inline, yet finished by a message of its own, as off the actor.
    task->outcome = task->job.run();
    self->send(self, timer_atom::value,
               static_cast<uint64_t>(timer_id::checkpoint));
    return;
  }
  caf::weak_actor_ptr weak = self->ctrl();
  st.cfg.checkpoints->post([task, weak] {
    task->outcome = task->job.run();
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), timer_atom::value,
                     static_cast<uint64_t>(timer_id::checkpoint));
  });
}

void end_checkpoint(self_ptr self) {
  auto& st = self->state;
  if (!st.checkpoint.running)
    return;
  auto task = std::move(st.checkpoint.running);
  st.checkpoint.running.reset();
  // A copy replaced meanwhile (rebuilt, discarded) drops the job's result.
  bool current = st.cfg.store->checkpoint_open();
  if (auto err = st.cfg.store->end_checkpoint(task->job, task->outcome)) {
    logger("partition")->error("CheckpointFailed {} {}", st.ctx(),
                               err.to_string());
    st.checkpoint.retry_bytes = st.cfg.store->log_bytes()
                                + st.cfg.checkpoint_log_bytes;
  } else if (!current)
    logger("partition")->info("CheckpointDiscarded {}: the copy was "
                              "replaced while it ran",
                              st.ctx());
  else {
    auto folded = st.cfg.store->take_folded_logs();
    auto fs = st.cfg.store_fs;
    auto remove = [fs, folded] {
      for (auto& path : folded)
        fs->remove_all(path);
    };
    if (st.cfg.checkpoints)
      st.cfg.checkpoints->post(remove);
    else
      remove();
    st.checkpoint.retry_bytes = 0;
    LG_PROBE(checkpoint_folded, "a checkpoint folded a sealed log into the "
                                "snapshot while writes went on");
    logger("partition")->info("Checkpointed {} at lsn {}", st.ctx(),
                              task->outcome->lsn);
  }
}


void report_failure(self_ptr self) {
  auto& st = self->state;
  if (st.failure.empty() || st.failure_reported)
    return;
  LG_PROBE(instance_failure_reported, "an instance whose storage failed "
                                      "told the aggregator");
  auto env = make_envelope(st.label, st.term);
  env->mutable_instance_failed_request()->set_reason(st.failure);
  env->mutable_instance_failed_request()->set_incarnation(
    st.cfg.leaf_incarnation);
  st.ep.request(self, st.cfg.ma_node, aggregator_actor_name, std::move(env),
                std::chrono::seconds{1}, [self](const envelope* rep) {
                  if (rep != nullptr && rep->has_instance_failed_reply()) {
                    self->state.failure_reported = true;
                    return;
                  }
                  // Unanswered or refused on the way: say it again soon.
                  arm_timer(self, std::chrono::seconds{1},
                            timer_id::failure_report);
                });
}

void fill_state(partition_state& st, pb::InstanceState& out) {
  st.cfg.store->apply_pending();
  out.set_database(st.cfg.database);
  out.set_ordinal(st.cfg.ordinal);
  out.set_role(st.role);
  out.set_term(st.term);
  out.mutable_position()->set_term(st.cfg.store->last().term);
  out.mutable_position()->set_lsn(st.cfg.store->last().lsn);
  out.set_checksum(st.cfg.store->checksum());
  for (auto& h : st.cfg.store->history()) {
    auto* x = out.add_history();
    x->set_term(h.term);
    x->set_start_lsn(h.start_lsn);
  }
  if (!st.failure.empty())
    out.set_state("failed: " + st.failure);
  else if (st.rebuild_in.current)
    out.set_state("rebuilding");
  else if (st.role == pb::REPLICA && !st.in.joined)
    out.set_state("joining");
  else if (st.deposed)
    out.set_state("deposed");
  else
    out.set_state("online");
  if (st.rebuild_out.current) {
    out.set_rebuild_bytes_done(st.rebuild_out.current->bytes_done);
    out.set_rebuild_bytes_total(st.rebuild_out.current->bytes_total);
  }
  out.set_peer(st.peer);
  out.set_peer_in_sync(st.out.core.peer_in_sync());
  out.set_replication_backlog_bytes(backlog_bytes(st));
  out.set_sync_durability(st.cfg.store->mode() == storage::durability::sync);
}


namespace {

/// Creates a new instance's directory, descriptor and empty store.
error create_storage(partition_state& st) {
  auto& store = *st.cfg.store;
  auto fs = st.cfg.store_fs;
  if (auto err = fs->make_dirs(store.dir()))
    return err;
  if (auto err = fs->write_atomic(store.dir() + "/descriptor.pb",
                                  st.cfg.descriptor))
    return err;
  auto report = store.open();
  if (!report.ok())
    return report.err();
  return {};
}

void on_instance_status(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  auto rep = make_envelope(st.label, st.term);
  fill_state(st, *rep->mutable_instance_status_reply()->mutable_instance());
  st.ep.reply(self, *env, std::move(rep));
}

/// Every request a partition instance accepts.
const handler_table<self_ptr> partition_requests{
  "partition",
  {
    {envelope::kWriteRequest, on_write},
    {envelope::kReadRequest, on_read},
    {envelope::kReplicateRequest, on_replicate},
    {envelope::kSetRoleRequest, on_set_role},
    {envelope::kPromoteRequest, on_promote},
    {envelope::kJoinRequest, on_join_request},
    {envelope::kStepDownRequest, on_step_down},
    {envelope::kSnapshotChunk, on_snapshot_chunk},
    {envelope::kInstanceStatusRequest, on_instance_status},
  }};

partition_actor::behavior_type
partition_impl(self_ptr self, partition_config cfg) {
  auto& st = self->state;
  st.label = partition_label(cfg.database, cfg.ordinal);
  st.name = partition_actor_name(cfg.database, cfg.ordinal) + "@" + cfg.leaf;
  st.ep = endpoint{cfg.fab, cfg.leaf,
                   partition_actor_name(cfg.database, cfg.ordinal)};
  st.cfg = std::move(cfg);
  st.metrics.init(st.cfg.fab->metrics(), st.cfg.leaf, st.cfg.database,
                  st.cfg.ordinal);
  st.ep.set_fence(st.cfg.fence);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  // An instance created empty for its master has nothing to check; one
  // created to replace a lost copy joins and is rebuilt.
  bool created = st.cfg.fresh
                 || (st.cfg.create_request != nullptr && !st.cfg.rebuild);
  if (st.cfg.create_request) {
    auto req = std::move(st.cfg.create_request);
    auto rep = make_envelope(st.label);
    auto* body = rep->mutable_create_instance_reply();
    auto err = create_storage(st);
    body->set_status(err ? pb::FAILED : pb::STATUS_OK);
    if (err) {
      body->set_error(err.to_string());
      st.failure = "partition " + st.label + " on leaf " + st.cfg.leaf
                   + " could not be created: " + err.to_string();
      logger("partition")->error("InstanceCreateFailed {} {}", st.ctx(),
                                 st.failure);
    }
    st.ep.reply(self, *req, std::move(rep));
  }
  // A restarted copy must still answer the retries of the writes it holds:
  // a client retries until its deadline, across restarts and failovers.
  take_store_write_ids(st);
  become(self, st.cfg.role, st.cfg.term, st.cfg.peer, st.cfg.peer_in_sync,
         /*fresh=*/created);
  st.term = std::max(st.term, st.cfg.store->last().term);
  notice_role(self, true);
  return {
    [self](wire& msg) {
      bool order = msg.env && (msg.env->has_set_role_request()
                               || msg.env->has_promote_request());
      partition_requests.dispatch(self, msg);
      notice_role(self, order);
    },
    [self](flush_atom) {
      on_flush(self);
      notice_role(self);
    },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](timer_atom, uint64_t id) {
      switch (static_cast<timer_id>(id)) {
        case timer_id::sync_check:
          on_sync_check(self);
          break;
        case timer_id::retransmit:
          self->state.out.core.retransmit_fired();
          replicate(self);
          break;
        case timer_id::join:
          on_join_timer(self);
          break;
        case timer_id::step_down: {
          auto& st = self->state;
          if (st.handover.request
              && self->clock().now() >= st.handover.deadline)
            check_step_down(self, true);
          break;
        }
        case timer_id::checkpoint:
          end_checkpoint(self);
          break;
        case timer_id::failure_report:
          report_failure(self);
          break;
        default:
          break; // another role's timer: never armed here
      }
    },
  };
}

} // namespace

} // namespace lg::partition_detail

namespace lg {

partition_actor spawn_partition(caf::local_actor* parent,
                                partition_config cfg) {
  // Registered by the spawner, so that nobody can address the instance
  // before its initialization has run.
  auto fab = cfg.fab;
  auto node = cfg.leaf;
  auto name = partition_actor_name(cfg.database, cfg.ordinal);
  // Spawned through the system, not the parent, so that a detached leaf
  // hands the instance to the worker pool instead of running it on its own
  // thread; linked, so that it dies with its leaf.
  auto handle = parent->home_system().spawn(partition_detail::partition_impl,
                                            std::move(cfg));
  parent->link_to(handle);
  fab->add_endpoint(node, name, caf::actor_cast<caf::actor>(handle));
  return handle;
}

} // namespace lg
