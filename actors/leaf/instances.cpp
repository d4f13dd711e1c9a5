// Creating and dropping a leaf's instances.
//
//   1. CreateInstanceRequest: a new instance (or an empty one to be rebuilt,
//      the old files moved aside) is spawned and creates its own storage,
//      then answers.
//   2. A LeafOrdersRequest of creations (CREATE DATABASE): each order is
//      checked and its instance reserved; the batch's files are written
//      with no fsync and made durable together, on the storage worker (or
//      inline in a simulation); then each store is opened and its instance
//      spawned, and the leaf answers once. Nothing is acknowledged before
//      the sync.
//   3. DropInstanceRequest, alone or many in a LeafOrdersRequest (DROP
//      DATABASE): the instance stops and its files are removed; a drop
//      decided before the copy was created is ignored.
#include <set>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/leaf/state.hpp"
#include "actors/timers.hpp"
#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"

namespace lg::leaf_internal {

namespace {

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

} // namespace

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

namespace {

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

} // namespace

void finish_next_creations(self_ptr self) {
  auto& st = self->state;
  if (st.batches_writing.empty())
    return;
  auto b = std::move(st.batches_writing.front());
  st.batches_writing.pop_front();
  finish_creations(self, *b);
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

namespace {

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

} // namespace

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

} // namespace lg::leaf_internal
