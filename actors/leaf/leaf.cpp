// The leaf role: a node that hosts partition instances.
//
//   1. At start it tells the aggregator it is recovering, opens every
//      instance found on its disk (an instance that cannot be opened is
//      reported, with what recovery dropped), then says hello with every
//      instance's position, again until answered.
//   2. It answers heartbeats (with its incarnation), and says hello again
//      when an aggregator that held it offline hears from it.
//   3. CreateInstanceRequest: a new instance (or an empty one to be rebuilt,
//      the old files moved aside) is spawned and creates its own storage.
//      A LeafOrdersRequest of creations (CREATE DATABASE) writes every new
//      instance's files, syncs them all at once, then spawns the instances
//      and answers once.
//   4. DropInstanceRequest: the instance stops and its files are removed;
//      a LeafOrdersRequest of drops (DROP DATABASE) does the same for each.
//   5. Its instances tell it their roles (RoleNotice); a heartbeat that asks
//      for them gets them listed in its reply (heartbeat.proto step 4).
//   6. LeafOrdersRequest: orders for many of its instances in one message
//      (a failover's promotions): each goes to its instance with the
//      batch's aggregator term, and the leaf answers once, when every
//      instance has answered or the batch's time is up.
#include "actors/leaf/leaf.hpp"

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

namespace {

constexpr auto hello_timeout = std::chrono::seconds{1};

struct instance_entry {
  partition_actor handle;
  std::shared_ptr<storage::partition_store> store;
  std::string database;
  uint32_t ordinal = 0;
  pb::RecoveryDrop recovery; ///< what opening it dropped (for the hello)
  pb::InstanceRole role;     ///< as the instance last told (RoleNotice)
  /// The metadata version its CreateInstanceRequest was decided at (0:
  /// reopened from disk): an older drop is stale.
  uint64_t created_version = 0;
};

struct creation_batch;

struct leaf_state {
  std::string name;
  endpoint ep;
  leaf_config cfg;
  uint64_t incarnation = 0;
  /// The newest master aggregator term seen, shared with the instances.
  std::shared_ptr<aggregator_fence> fence =
    std::make_shared<aggregator_fence>();
  std::map<std::string, instance_entry> instances; // "db/ordinal"
  /// Instances a batch is creating ("db/ordinal"): the metadata version
  /// their creation was decided at, and whether a drop came meanwhile.
  struct pending_creation {
    uint64_t version = 0;
    bool dropped = false;
  };
  std::map<std::string, pending_creation> creating;
  /// Batches of creations whose files the storage worker is writing, in
  /// the order it finishes them.
  std::deque<std::shared_ptr<creation_batch>> batches_writing;
  std::vector<pb::InstanceState> failed;           // could not be opened
  bool hello_done = false;
  bool hello_pending = false;

  std::string ctx() const {
    return "[leaf=" + cfg.address + " inc=" + std::to_string(incarnation)
           + "]";
  }
};

using self_ptr = leaf_actor::stateful_pointer<leaf_state>;

std::string instance_key(const std::string& db, uint32_t ordinal) {
  return db + "/" + std::to_string(ordinal);
}

std::string instances_dir(const leaf_config& cfg) {
  return cfg.data_dir + "/instances";
}

std::string instance_dir(const leaf_config& cfg, const std::string& db,
                         uint32_t ordinal) {
  return instances_dir(cfg) + "/" + db + "." + std::to_string(ordinal);
}

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

storage::durability durability_of(const pb::CreateInstanceRequest& req) {
  return req.sync_durability() ? storage::durability::sync
                               : storage::durability::async;
}

std::string descriptor_of(const pb::CreateInstanceRequest& req) {
  pb::InstanceDescriptor desc;
  desc.set_database(req.database());
  desc.set_ordinal(req.ordinal());
  desc.set_sync_durability(req.sync_durability());
  return desc.SerializeAsString();
}

/// A leftover directory of a dropped database of the same name is stale,
/// and so is a copy that could not be opened.
void forget_stale_copy(self_ptr self, const pb::CreateInstanceRequest& req,
                       const std::string& dir) {
  auto& st = self->state;
  st.cfg.fs->remove_all(dir);
  st.failed.erase(std::remove_if(st.failed.begin(), st.failed.end(),
                                 [&](const pb::InstanceState& f) {
                                   return f.database() == req.database()
                                          && f.ordinal() == req.ordinal();
                                 }),
                  st.failed.end());
}

/// The new instance's configuration: its role, term, peer and settings.
partition_config
creation_config(self_ptr self, const pb::CreateInstanceRequest& req,
                std::shared_ptr<storage::partition_store> store) {
  auto pc = make_partition_config(self, req.database(), req.ordinal(),
                                  std::move(store));
  pc.role = req.role();
  pc.term = req.term();
  pc.peer = req.peer();
  pc.peer_in_sync = true;
  pc.rebuild = req.rebuild();
  if (req.sync_replication_timeout_ms() > 0)
    pc.sync_replication_timeout_ms = req.sync_replication_timeout_ms();
  if (req.replication_backlog_mb() > 0)
    pc.replication_backlog_bytes = static_cast<uint64_t>(
                                     req.replication_backlog_mb())
                                   << 20;
  return pc;
}

/// Spawns the new instance and keeps it.
void add_instance(self_ptr self, const pb::CreateInstanceRequest& req,
                  partition_config pc) {
  auto& st = self->state;
  instance_entry e;
  e.database = req.database();
  e.ordinal = req.ordinal();
  e.store = pc.store;
  e.created_version = req.version();
  e.handle = spawn_partition(self, std::move(pc));
  st.instances.emplace(instance_key(req.database(), req.ordinal()),
                       std::move(e));
}

void on_create(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->create_instance_request();
  auto key = instance_key(req.database(), req.ordinal());
  if (st.instances.count(key) > 0 || st.creating.count(key) > 0) {
    reply_status(self, *env, pb::CONFLICT,
                 "instance " + req.database() + ":"
                   + std::to_string(req.ordinal()) + " already exists on "
                   + st.cfg.address,
                 envelope::kCreateInstanceReply);
    return;
  }
  auto dir = instance_dir(st.cfg, req.database(), req.ordinal());
  if (req.rebuild() && st.cfg.fs->exists(dir)) {
    // A copy that could not be opened: keep it for inspection, named after
    // why (a damaged snapshot or log, or something else unreadable).
    bool corrupt = false;
    for (auto& f : st.failed)
      if (f.database() == req.database() && f.ordinal() == req.ordinal())
        corrupt = !f.recovery().corrupt_file().empty();
    auto aside = st.cfg.data_dir + "/discarded/" + req.database() + "."
                 + std::to_string(req.ordinal())
                 + (corrupt ? "-corrupt-inc" : "-unreadable-inc")
                 + std::to_string(st.incarnation);
    st.cfg.fs->make_dirs(st.cfg.data_dir + "/discarded");
    st.cfg.fs->remove_all(aside);
    if (auto err = st.cfg.fs->rename(dir, aside))
      logger("leaf")->error("CopyNotMovedAside {} {}: {}", st.ctx(), dir,
                            err.to_string());
    else
      logger("leaf")->warn("CopyDiscarded {} {} moved to {}: it could not be "
                           "opened; a new copy is rebuilt from the master",
                           st.ctx(), dir, aside);
  }
  forget_stale_copy(self, req, dir);
  auto store = std::make_shared<storage::partition_store>(
    st.cfg.fs, dir, durability_of(req));
  auto pc = creation_config(self, req, store);
  // The instance creates its files itself and answers the request.
  pc.create_request = env;
  pc.descriptor = descriptor_of(req);
  add_instance(self, req, std::move(pc));
  logger("leaf")->info("InstanceCreated {} {}:{}", st.ctx(), req.database(),
                       req.ordinal());
}

/// A batch of creations on its way: the orders it writes, and how that
/// went.
struct creation_batch {
  envelope_ptr request;
  std::shared_ptr<envelope> reply;
  time_point started;
  std::vector<int> orders;             ///< the orders whose files it writes
  std::vector<std::string> dirs;       ///< their directories
  std::vector<std::string> descriptors;
  std::vector<error> made;             ///< per order: the files' creation
  error synced;                        ///< the batch's sync
  bool skip_sync = false;              ///< bugs::unsynced_creations
};

/// Writes a batch's files with no fsync, then makes them durable together.
/// Runs off the leaf's actor when the leaf has a storage worker.
void write_batch(storage::vfs& fs, creation_batch& b) {
  std::vector<std::string> made;
  b.made.resize(b.dirs.size());
  for (size_t i = 0; i < b.dirs.size(); ++i) {
    b.made[i] = fs.create_unsynced(b.dirs[i], {{"descriptor.pb",
                                                b.descriptors[i]},
                                               {"wal.log", ""}});
    if (b.made[i])
      fs.remove_all(b.dirs[i]);
    else
      made.push_back(b.dirs[i]);
  }
  if (!made.empty() && !b.skip_sync)
    b.synced = fs.sync_created(made);
}

/// Opens and spawns what a batch wrote once it is durable, and answers it.
void finish_creations(self_ptr self, creation_batch& b) {
  auto& st = self->state;
  const auto& orders = b.request->leaf_orders_request().orders();
  auto* answers = b.reply->mutable_leaf_orders_reply();
  if (b.synced)
    logger("leaf")->error("InstancesNotSynced {} {} new instances: {}",
                          st.ctx(), b.orders.size(), b.synced.to_string());
  size_t created = 0;
  for (size_t k = 0; k < b.orders.size(); ++k) {
    const auto& req = orders.Get(b.orders[k]).order().create_instance_request();
    auto key = instance_key(req.database(), req.ordinal());
    bool dropped = st.creating[key].dropped;
    st.creating.erase(key);
    auto* body = answers->mutable_answers(b.orders[k])
                   ->mutable_create_instance_reply();
    auto label = req.database() + ":" + std::to_string(req.ordinal());
    error err = b.made[k] ? b.made[k] : b.synced;
    std::shared_ptr<storage::partition_store> store;
    if (!err && !dropped) {
      store = std::make_shared<storage::partition_store>(
        st.cfg.fs, b.dirs[k], durability_of(req));
      if (auto opened = store->open(); !opened)
        err = opened.err();
    }
    if (err || dropped) {
      if (err)
        logger("leaf")->error("InstanceCreateFailed {} {}: {}", st.ctx(),
                              b.dirs[k], err.to_string());
      if (!b.made[k])
        st.cfg.fs->remove_all(b.dirs[k]);
      body->set_status(pb::FAILED);
      body->set_error("instance " + label + " on leaf " + st.cfg.address
                      + (dropped ? " was dropped while it was created"
                                 : " could not be created: "
                                     + err.to_string()));
      continue;
    }
    auto pc = creation_config(self, req, store);
    pc.fresh = true;
    add_instance(self, req, std::move(pc));
    body->set_status(pb::STATUS_OK);
    ++created;
    logger("leaf")->debug("InstanceCreated {} {}", st.ctx(), label);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              self->clock().now() - b.started)
              .count();
  logger("leaf")->info("InstancesCreated {} {} of {} in {} ms", st.ctx(),
                       created, orders.size(), ms);
  st.ep.reply(self, *b.request, b.reply);
}

/// A LeafOrdersRequest of creations (CREATE DATABASE):
///   1. each order is checked (a new, empty instance this leaf does not
///      hold or create already) and its instance reserved;
///   2. the batch's directories and files are written with no fsync and
///      made durable together, on the storage worker (a sync also writes
///      other files' dirty pages, and the leaf must keep answering
///      heartbeats), or inline in a simulation;
///   3. back on the leaf, each store is opened and its instance spawned,
///      and the leaf answers once, for all of them.
/// No creation is acknowledged before the sync: an acknowledged instance
/// survives a power loss.
void create_instances(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& orders = env->leaf_orders_request().orders();
  auto b = std::make_shared<creation_batch>();
  b->request = env;
  b->reply = make_envelope();
  b->started = self->clock().now();
  b->skip_sync = bugs::unsynced_creations;
  auto* answers = b->reply->mutable_leaf_orders_reply();
  for (int i = 0; i < orders.size(); ++i) {
    auto* body = answers->add_answers()->mutable_create_instance_reply();
    const auto& req = orders.Get(i).order().create_instance_request();
    auto label = req.database() + ":" + std::to_string(req.ordinal());
    if (!orders.Get(i).order().has_create_instance_request()
        || req.rebuild()) {
      body->set_status(pb::FAILED);
      body->set_error("a batch of creations holds only new, empty instances");
      continue;
    }
    auto key = instance_key(req.database(), req.ordinal());
    if (st.instances.count(key) > 0 || st.creating.count(key) > 0) {
      body->set_status(pb::CONFLICT);
      body->set_error("instance " + label + " already exists on "
                      + st.cfg.address);
      continue;
    }
    st.creating[key] = {req.version(), false};
    auto dir = instance_dir(st.cfg, req.database(), req.ordinal());
    forget_stale_copy(self, req, dir);
    b->orders.push_back(i);
    b->dirs.push_back(dir);
    b->descriptors.push_back(descriptor_of(req));
  }
  if (!st.cfg.checkpoints) {
    write_batch(*st.cfg.fs, *b);
    finish_creations(self, *b);
    return;
  }
  st.batches_writing.push_back(b);
  caf::weak_actor_ptr weak = self->ctrl();
  auto fs = st.cfg.fs;
  st.cfg.checkpoints->post([fs, b, weak] {
    write_batch(*fs, *b);
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), timer_atom::value,
                     static_cast<uint64_t>(timer_id::creations_written));
  });
}

/// Drops one instance: it stops and its files go, unless the drop was
/// decided before this copy was created.
void drop_one(self_ptr self, const pb::DropInstanceRequest& req) {
  auto& st = self->state;
  auto key = instance_key(req.database(), req.ordinal());
  if (auto c = st.creating.find(key); c != st.creating.end()) {
    // Its files are being written: the batch removes them when it is done,
    // unless the drop was decided before the creation (a late copy).
    if (req.version() != 0 && req.version() < c->second.version)
      return;
    c->second.dropped = true;
    logger("leaf")->info("InstanceDropped {} {}:{} while it was created",
                         st.ctx(), req.database(), req.ordinal());
    return;
  }
  auto i = st.instances.find(key);
  if (i != st.instances.end() && req.version() != 0
      && req.version() < i->second.created_version) {
    // A late copy of a drop decided before this copy was created (the copy
    // it meant is gone): this one stays.
    LG_PROBE(stale_drop_ignored, "a drop older than the copy it reached was "
                                 "ignored");
    logger("leaf")->info("StaleDropIgnored {} {}:{}: decided at version {}, "
                         "the copy at {}",
                         st.ctx(), req.database(), req.ordinal(),
                         req.version(), i->second.created_version);
    return;
  }
  if (i != st.instances.end()) {
    self->unlink_from(i->second.handle);
    self->send_exit(i->second.handle, caf::exit_reason::user_shutdown);
    st.instances.erase(i);
  }
  st.cfg.fs->remove_all(instance_dir(st.cfg, req.database(), req.ordinal()));
  logger("leaf")->info("InstanceDropped {} {}:{}", st.ctx(), req.database(),
                       req.ordinal());
}

void on_drop(self_ptr self, const envelope_ptr& env) {
  drop_one(self, env->drop_instance_request());
  reply_status(self, *env, pb::STATUS_OK, {}, envelope::kDropInstanceReply);
}

/// A LeafOrdersRequest of drops (DROP DATABASE): each is carried out, and
/// the leaf answers once.
void drop_instances(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  auto rep = make_envelope();
  auto* answers = rep->mutable_leaf_orders_reply();
  for (auto& o : env->leaf_orders_request().orders()) {
    auto* body = answers->add_answers()->mutable_drop_instance_reply();
    if (!o.order().has_drop_instance_request()) {
      body->set_status(pb::FAILED);
      body->set_error("a batch of drops holds only drops");
      continue;
    }
    drop_one(self, o.order().drop_instance_request());
    body->set_status(pb::STATUS_OK);
  }
  st.ep.reply(self, *env, std::move(rep));
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
      if (static_cast<timer_id>(id) == timer_id::creations_written
          && !st.batches_writing.empty()) {
        auto b = std::move(st.batches_writing.front());
        st.batches_writing.pop_front();
        finish_creations(self, *b);
      }
    },
  };
}

} // namespace

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
