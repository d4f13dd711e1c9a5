// The leaf role: a node that hosts partition instances.
//
//   1. At start it tells the aggregator it is recovering, opens every
//      instance found on its disk (an instance that cannot be opened is
//      reported, with what recovery dropped), then says hello with every
//      instance's position, again until answered.
//   2. It answers heartbeats (with its incarnation), and says hello again
//      when an aggregator that held it offline hears from it.
//   3. Creations and drops of instances, one or many per message
//      (instances.cpp).
//   4. An instance that cannot be opened at start is reported in the
//      hello; a directory without a valid descriptor and without data (a
//      batch of creations that never reached its sync) is removed.
//   5. Its instances tell it their roles (RoleNotice); a heartbeat that asks
//      for them gets them listed in its reply (heartbeat.proto step 4).
//   6. LeafOrdersRequest: orders for many of its instances in one message
//      (a failover's promotions, an attach's role orders): each goes to its instance with the
//      batch's aggregator term, and the leaf answers once, when every
//      instance has answered or the batch's time is up.
#include "actors/leaf/leaf.hpp"
#include "actors/leaf/state.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/net/handlers.hpp"
#include "actors/partition/partition.hpp"
#include "actors/timers.hpp"
#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"

namespace lg {

namespace leaf_internal {

namespace {

constexpr auto hello_timeout = std::chrono::seconds{1};

} // namespace

uint64_t bump_incarnation(const leaf_config& cfg) {
  auto path = cfg.data_dir + "/leaf.meta";
  uint64_t value = 0;
  if (auto text = cfg.fs->read_file(path); text.ok()) {
    try {
      value = std::stoull(*text);
    } catch (const std::exception&) {
      logger("leaf")->error("LeafMetaUnreadable {}: '{}' is no incarnation "
                            "number; starting from 0",
                            path, *text);
    }
  }
  ++value;
  if (auto err = cfg.fs->write_atomic(path, std::to_string(value)))
    logger("leaf")->error("LeafMetaWriteFailed {}", err.to_string());
  return value;
}

partition_config make_partition_config(self_ptr self, const std::string& db,
                                       uint32_t ordinal,
                                       std::shared_ptr<storage::partition_store>
                                         store) {
  auto& st = self->state;
  partition_config pc;
  pc.fab = st.cfg.fab;
  pc.leaf = st.cfg.address;
  pc.leaf_incarnation = st.incarnation;
  pc.fence = st.fence;
  pc.ma_node = st.cfg.ma_node;
  pc.database = db;
  pc.ordinal = ordinal;
  pc.store = std::move(store);
  pc.term = 0;
  pc.sync_replication_timeout_ms = st.cfg.sync_replication_timeout_ms;
  pc.store_fs = st.cfg.fs;
  pc.discard_dir = st.cfg.data_dir + "/discarded";
  pc.checkpoints = st.cfg.checkpoints;
  pc.snapshot_writes = st.cfg.snapshot_writes;
  pc.checkpoint_log_bytes = st.cfg.checkpoint_log_bytes;
  return pc;
}

/// Where a store ends (its position, history and checksum), for a hello.
void fill_position(const storage::partition_store& store,
                   pb::InstanceState& out) {
  out.set_term(store.last().term);
  out.mutable_position()->set_term(store.last().term);
  out.mutable_position()->set_lsn(store.last().lsn);
  out.set_checksum(store.checksum());
  for (auto& h : store.history()) {
    auto* x = out.add_history();
    x->set_term(h.term);
    x->set_start_lsn(h.start_lsn);
  }
  out.set_sync_durability(store.mode() == storage::durability::sync);
}

/// What recovery dropped, as the hello reports it.
pb::RecoveryDrop recovery_drop(const storage::recovery_report& r) {
  pb::RecoveryDrop out;
  out.set_torn_bytes_cut(r.bytes_dropped);
  out.set_torn_file(r.dropped_file);
  out.set_corrupt_file(r.corrupt_file);
  out.set_corrupt_offset(r.corrupt_offset);
  out.set_detail(r.corrupt_file.empty() ? r.drop_reason : r.corrupt_reason);
  return out;
}

void fill_opened(const instance_entry& e, pb::InstanceState& out) {
  out.set_database(e.database);
  out.set_ordinal(e.ordinal);
  out.set_role(pb::ROLE_NONE);
  fill_position(*e.store, out);
  out.set_state("recovering");
  *out.mutable_recovery() = e.recovery;
}

/// Whether the instance directory `path` holds no data: no snapshot, no
/// previous log, and an empty or missing log.
bool holds_no_data(storage::vfs& fs, const std::string& path) {
  if (fs.exists(path + "/snapshot.bin") || fs.exists(path + "/wal.prev"))
    return false;
  auto wal = fs.read_file(path + "/wal.log");
  return wal.ok() ? wal->empty() : !fs.exists(path + "/wal.log");
}

/// Opens every instance found under instances/ as a partition actor without
/// a role; the aggregator assigns roles after the hello.
void open_instances(self_ptr self) {
  auto& st = self->state;
  auto dir = instances_dir(st.cfg);
  st.cfg.fs->make_dirs(dir);
  auto names = st.cfg.fs->list_dir(dir);
  if (!names.ok())
    return;
  for (auto& name : *names) {
    auto path = dir + "/" + name;
    auto desc_bytes = st.cfg.fs->read_file(path + "/descriptor.pb");
    pb::InstanceDescriptor desc;
    // A descriptor is whole or absent (written atomically, or synced before
    // its batch was acknowledged); one that does not name this directory
    // (a torn prefix still parses) is no descriptor.
    bool valid = desc_bytes.ok() && desc.ParseFromString(*desc_bytes)
                 && !desc.database().empty()
                 && name == desc.database() + "." + std::to_string(desc.ordinal());
    if (!valid && holds_no_data(*st.cfg.fs, path)) {
      // A batch of creations that never reached its sync (create_instances):
      // never acknowledged, and nothing was written to it since.
      st.cfg.fs->remove_all(path);
      logger("leaf")->warn("UnfinishedCreationRemoved {} {}: no valid "
                           "descriptor and no data",
                           st.ctx(), path);
      continue;
    }
    if (!valid) {
      // Kept as it is: the aggregator, missing this copy, has it rebuilt,
      // and the directory is moved aside then (on_create).
      logger("leaf")->error("InstanceUnreadable {} {}: no valid descriptor.pb",
                            st.ctx(), path);
      continue;
    }
    auto mode = desc.sync_durability() ? storage::durability::sync
                                       : storage::durability::async;
    auto store = std::make_shared<storage::partition_store>(st.cfg.fs, path,
                                                            mode);
    auto report = store->open();
    if (!report.ok()) {
      // Not served: the aggregator has it rebuilt from a good copy, and the
      // damaged files are moved aside then (on_create), never cut in place.
      LG_PROBE(instance_open_failed, "an instance on disk could not be opened");
      if (!store->recovery().corrupt_file.empty())
        LG_PROBE(instance_corrupt, "recovery found a damaged snapshot or log");
      logger("leaf")->error("InstanceCorrupt {} {}: {}; its good records end "
                            "at term {}, lsn {}",
                            st.ctx(), path, report.err().to_string(),
                            store->last().term, store->last().lsn);
      pb::InstanceState failed;
      failed.set_database(desc.database());
      failed.set_ordinal(desc.ordinal());
      fill_position(*store, failed);
      failed.set_sync_durability(desc.sync_durability());
      failed.set_state("failed: " + report.err().to_string());
      *failed.mutable_recovery() = recovery_drop(store->recovery());
      st.failed.push_back(std::move(failed));
      continue;
    }
    if (report->bytes_dropped > 0) {
      LG_PROBE(log_tail_dropped, "recovery cut a torn last log record");
      logger("leaf")->warn("LogTailDropped {} {}: {} bytes ({})", st.ctx(),
                           path, report->bytes_dropped, report->drop_reason);
    }
    instance_entry e;
    e.database = desc.database();
    e.ordinal = desc.ordinal();
    e.store = store;
    e.recovery = recovery_drop(*report);
    e.handle = spawn_partition(
      self, make_partition_config(self, e.database, e.ordinal, store));
    logger("leaf")->info("InstanceRecovered {} {}:{} at lsn {} ({} records "
                         "replayed)",
                         st.ctx(), e.database, e.ordinal,
                         store->last().lsn, report->records_replayed);
    st.instances.emplace(instance_key(e.database, e.ordinal), std::move(e));
  }
}

void send_hello(self_ptr self) {
  auto& st = self->state;
  auto env = make_envelope();
  auto* body = env->mutable_leaf_hello_request();
  body->set_leaf(st.cfg.address);
  body->set_incarnation(st.incarnation);
  for (auto& kvp : st.instances)
    fill_opened(kvp.second, *body->add_instances());
  for (auto& f : st.failed)
    *body->add_instances() = f;
  st.hello_pending = true;
  st.ep.request(self, st.cfg.ma_node, aggregator_actor_name, std::move(env),
                hello_timeout,
                [self](const envelope* rep) {
                  self->state.hello_pending = false;
                  if (rep != nullptr) {
                    self->state.hello_done = true;
                    return;
                  }
                  arm_timer(self, hello_timeout, timer_id::leaf_hello);
                });
}

void reply_status(self_ptr self, const envelope& req, pb::Status status,
                  const std::string& error,
                  envelope::BodyCase kind) {
  auto& st = self->state;
  auto rep = make_envelope(req.header().partition());
  switch (kind) {
    case envelope::kCreateInstanceReply: {
      auto* body = rep->mutable_create_instance_reply();
      body->set_status(status);
      body->set_error(error);
      break;
    }
    default: {
      auto* body = rep->mutable_drop_instance_reply();
      body->set_status(status);
      body->set_error(error);
    }
  }
  st.ep.reply(self, req, std::move(rep));
}

/// The answers to one LeafOrdersRequest as they come in.
struct orders_in_flight {
  envelope_ptr request;
  std::shared_ptr<envelope> reply;
  size_t waiting = 0;
  time_point received;
  std::string kinds; ///< the orders' types, for the log line
};

void on_leaf_orders(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->leaf_orders_request();
  if (req.orders_size() > 0
      && req.orders(0).order().has_create_instance_request()) {
    create_instances(self, env);
    return;
  }
  if (req.orders_size() > 0
      && req.orders(0).order().has_drop_instance_request()) {
    drop_instances(self, env);
    return;
  }
  auto batch = std::make_shared<orders_in_flight>();
  batch->request = env;
  batch->reply = make_envelope();
  batch->received = self->clock().now();
  if (req.orders_size() > 0)
    batch->kinds = body_name(req.orders(0).order());
  auto* answers = batch->reply->mutable_leaf_orders_reply();
  for (int i = 0; i < req.orders_size(); ++i)
    answers->add_answers();
  batch->waiting = static_cast<size_t>(req.orders_size());
  auto answer_when_done = [self, batch] {
    if (--batch->waiting != 0)
      return;
    auto& st = self->state;
    const auto& answers = batch->reply->leaf_orders_reply().answers();
    auto silent = std::count_if(answers.begin(), answers.end(),
                                [](const envelope& a) {
                                  return a.body_case()
                                         == envelope::BODY_NOT_SET;
                                });
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                self->clock().now() - batch->received)
                .count();
    logger("leaf")->info("LeafOrdersAnswered {} {} orders ({}) in {} ms, {} "
                         "unanswered",
                         st.ctx(), answers.size(), batch->kinds, ms, silent);
    st.ep.reply(self, *batch->request, batch->reply);
  };
  if (batch->waiting == 0) {
    st.ep.reply(self, *env, batch->reply);
    return;
  }
  // Answered a little before the aggregator gives up on the batch, so that
  // only the silent instances' orders are sent again.
  auto timeout = std::chrono::milliseconds{
    std::max<int64_t>(1, req.timeout_ms() - req.timeout_ms() / 5)};
  auto term = env->header().aggregator_term();
  for (int i = 0; i < req.orders_size(); ++i) {
    const auto& o = req.orders(i);
    auto order = std::make_shared<envelope>(o.order());
    // Fenced at the instance as the aggregator's own order would be.
    order->mutable_header()->set_aggregator_term(
      bugs::unfenced_leaf_orders ? 0 : term);
    st.ep.request(self, st.cfg.address, o.actor(), std::move(order), timeout,
                  [batch, i, answer_when_done](const envelope* rep) {
                    auto* slot = batch->reply->mutable_leaf_orders_reply()
                                   ->mutable_answers(i);
                    if (rep != nullptr) {
                      // The body is the answer; its routing header would
                      // only make the batch's answer bigger on the wire.
                      *slot = *rep;
                      slot->clear_header();
                    }
                    answer_when_done();
                  });
  }
}

void on_heartbeat(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  auto rep = make_envelope();
  auto* body = rep->mutable_heartbeat_reply();
  body->set_seq(env->heartbeat_request().seq());
  body->set_sent_at_us(env->heartbeat_request().sent_at_us());
  body->set_leaf(st.cfg.address);
  body->set_incarnation(st.incarnation);
  if (env->heartbeat_request().want_roles()) {
    body->set_roles_included(true);
    for (auto& [key, inst] : st.instances) {
      auto* r = body->add_roles();
      *r = inst.role;
      r->set_database(inst.database);
      r->set_ordinal(inst.ordinal);
    }
  }
  if (env->header().correlation_id() != 0)
    st.ep.reply(self, *env, std::move(rep));
  if (env->heartbeat_request().rejoin() && !st.hello_pending) {
    LG_PROBE(leaf_rejoined, "a leaf held offline heard the aggregator "
                            "again and announced itself");
    send_hello(self);
  }
}

/// The link to the master aggregator's process closed (the gateway says
/// so): the leaf announces itself again, through whichever aggregator its
/// gateway reaches.
void on_ma_lost(self_ptr self, const envelope_ptr&) {
  auto& st = self->state;
  if (st.hello_pending)
    return;
  st.hello_done = false;
  send_hello(self);
}

void on_role_notice(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& r = env->role_notice().instance();
  auto i = st.instances.find(instance_key(r.database(), r.ordinal()));
  // From this node only: the fabric never carries another node's instance
  // under this leaf's name, but a notice from a dropped copy may be late.
  if (i != st.instances.end()
      && env->header().from().node() == st.cfg.address)
    i->second.role = r;
}

/// The aggregator fence survives a restart: the newest aggregator term is
/// read from the data dir, and written there whenever it rises.
void restore_fence(self_ptr self) {
  auto& st = self->state;
  auto path = st.cfg.data_dir + "/aggregator_term";
  auto fs = st.cfg.fs;
  if (auto bytes = fs->read_file(path); bytes.ok()) {
    try {
      st.fence->restore(std::stoull(*bytes));
    } catch (const std::exception&) {
      logger("leaf")->error("AggregatorTermUnreadable {} {} holds '{}'; "
                            "starting from the first aggregator message",
                            st.ctx(), path, *bytes);
    }
  }
  st.fence->on_raise([fs, path, node = st.cfg.address](uint64_t term) {
    if (auto err = fs->write_atomic(path, std::to_string(term)))
      logger("leaf")->error("AggregatorTermUnwritten [leaf={}] term {}: {}",
                            node, term, err.to_string());
  });
}

/// Every request a leaf accepts (its instances accept their own).
const handler_table<self_ptr> leaf_requests{
  "leaf",
  {
    {envelope::kHeartbeatRequest, on_heartbeat},
    {envelope::kCreateInstanceRequest, on_create},
    {envelope::kDropInstanceRequest, on_drop},
    {envelope::kLeafOrdersRequest, on_leaf_orders},
    {envelope::kRoleNotice, on_role_notice},
    {envelope::kMasterAggregatorKnown, on_ma_lost},
  }};

leaf_actor::behavior_type leaf_impl(self_ptr self, leaf_config cfg) {
  auto& st = self->state;
  st.name = "leaf@" + cfg.address;
  st.ep = endpoint{cfg.fab, cfg.address, leaf_actor_name()};
  st.ep.set_fence(st.fence);
  st.cfg = std::move(cfg);
  st.cfg.fs->make_dirs(st.cfg.data_dir);
  restore_fence(self);
  st.incarnation = bump_incarnation(st.cfg);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  {
    // Tell the aggregator it is back before the (possibly long) replay.
    auto env = make_envelope();
    auto* body = env->mutable_leaf_hello_request();
    body->set_leaf(st.cfg.address);
    body->set_incarnation(st.incarnation);
    body->set_recovering(true);
    st.ep.send(self, st.cfg.ma_node, aggregator_actor_name, std::move(env));
  }
  open_instances(self);
  logger("leaf")->info("LeafStarted {} {} instances", st.ctx(),
                       st.instances.size());
  send_hello(self);
  return {
    [self](wire& msg) { leaf_requests.dispatch(self, msg); },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](timer_atom, uint64_t id) {
      auto& st = self->state;
      if (static_cast<timer_id>(id) == timer_id::leaf_hello && !st.hello_done)
        send_hello(self);
      if (static_cast<timer_id>(id) == timer_id::creations_written)
        finish_next_creations(self);
    },
  };
}

} // namespace leaf_internal

using namespace leaf_internal;

leaf_actor spawn_leaf(caf::actor_system& sys, leaf_config cfg) {
  auto fab = cfg.fab;
  auto node = cfg.address;
  auto handle = cfg.detached ? sys.spawn<caf::detached>(leaf_impl,
                                                       std::move(cfg))
                             : sys.spawn(leaf_impl, std::move(cfg));
  fab->add_endpoint(node, leaf_actor_name(), caf::actor_cast<caf::actor>(handle));
  return handle;
}

} // namespace lg
