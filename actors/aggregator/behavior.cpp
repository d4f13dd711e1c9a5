#include "actors/aggregator/master_aggregator.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/leaf/leaf.hpp"
#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "config/variables.hpp"
#include "sql/parser.hpp"

namespace lg {

// -- metadata helpers -------------------------------------------------------

pb::LeafMeta* find_leaf(master_aggregator_state& st, const std::string& addr) {
  for (auto& leaf : *st.meta.mutable_leaves())
    if (leaf.address() == addr)
      return &leaf;
  return nullptr;
}

pb::DatabaseMeta* find_database(master_aggregator_state& st,
                                const std::string& name) {
  for (auto& db : *st.meta.mutable_databases())
    if (db.name() == name)
      return &db;
  return nullptr;
}

std::map<std::string, std::string>
globals_of(const master_aggregator_state& st) {
  auto result = config::default_globals();
  for (auto& kvp : st.meta.globals())
    result[kvp.first] = kvp.second;
  return result;
}

int64_t global_int(const master_aggregator_state& st, const std::string& name) {
  return config::get_int(globals_of(st), name);
}

bool global_bool(const master_aggregator_state& st, const std::string& name) {
  return config::get_bool(globals_of(st), name);
}

instance_peer peer_of(const pb::PartitionMeta& part,
                      const pb::InstanceMeta& inst) {
  instance_peer result;
  for (auto& other : part.instances())
    if (other.leaf() != inst.leaf() && other.role() != pb::ORPHAN) {
      result.leaf = other.leaf();
      result.in_sync = other.in_sync();
    }
  return result;
}

pb::InstanceMeta* master_of(pb::PartitionMeta& part) {
  for (auto& inst : *part.mutable_instances())
    if (inst.role() == pb::MASTER)
      return &inst;
  return nullptr;
}

ha::instance_role view_role(pb::Role r) {
  return r == pb::MASTER    ? ha::instance_role::master
         : r == pb::REPLICA ? ha::instance_role::replica
                            : ha::instance_role::orphan;
}

std::vector<ha::instance_view> views_of(master_aggregator_state& st,
                                        const pb::PartitionMeta& part) {
  std::vector<ha::instance_view> result;
  for (auto& inst : part.instances()) {
    ha::instance_view v;
    v.leaf = inst.leaf();
    v.role = view_role(inst.role());
    v.in_sync = inst.in_sync();
    auto leaf = find_leaf(st, inst.leaf());
    v.leaf_online = leaf != nullptr && leaf->state() == "online";
    result.push_back(std::move(v));
  }
  return result;
}

void persist(ma_self self) {
  auto& st = self->state;
  st.meta.set_version(st.meta.version() + 1);
  auto path = st.cfg.data_dir + "/metadata.pb";
  if (auto err = st.cfg.fs->write_atomic(path, st.meta.SerializeAsString()))
  {
    logger("ma")->critical("MetadataWriteFailed {} {}", st.ctx(),
                           err.to_string());
    st.ep.fab().dump_recent("metadata write failed", "/tmp");
  }
}

constexpr auto instance_op_timeout_ms = 10000;

void set_role(ma_self self, const std::string& leaf, const std::string& db,
              uint32_t ordinal, pb::Role role, uint64_t term,
              const std::string& peer, bool peer_in_sync,
              std::function<void(const envelope*)> cb) {
  auto env = make_envelope(partition_label(db, ordinal), term);
  auto* body = env->mutable_set_role_request();
  body->set_role(role);
  body->set_term(term);
  body->set_peer(peer);
  body->set_peer_in_sync(peer_in_sync);
  if (role == pb::MASTER && !peer.empty()) {
    // The replica's sync state as recorded now, not when the order was
    // planned: a resent or deferred order must match its version stamp, or a
    // master could stop waiting for a replica counted in sync since.
    auto* d = find_database(self->state, db);
    if (d != nullptr && ordinal < static_cast<uint32_t>(d->parts_size())
        && d->parts(static_cast<int>(ordinal)).term() == term)
      for (auto& inst : d->parts(static_cast<int>(ordinal)).instances())
        if (inst.leaf() == peer && inst.role() == pb::REPLICA) {
          body->set_peer_in_sync(inst.in_sync());
          body->set_peer_sync_epoch(inst.sync_epoch());
        }
  }
  body->set_sync_replication_timeout_ms(
    global_int(self->state, "sync_replication_timeout_ms"));
  body->set_version(self->state.meta.version());
  self->state.ep.request(self, leaf, partition_actor_name(db, ordinal),
                         std::move(env), std::chrono::milliseconds{instance_op_timeout_ms}, std::move(cb));
}

void persist_then(ma_self self, std::function<void()> then) {
  auto& st = self->state;
  st.after_persist.push_back(std::move(then));
  if (!st.persist_scheduled) {
    st.persist_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

std::pair<std::string, std::string> split_address(const std::string& addr) {
  auto pos = addr.rfind(':');
  if (pos == std::string::npos)
    return {addr, ""};
  return {addr.substr(0, pos), addr.substr(pos + 1)};
}

const char* role_text(pb::Role r) {
  switch (r) {
    case pb::MASTER:
      return "Master";
    case pb::REPLICA:
      return "Replica";
    case pb::ORPHAN:
      return "Orphan";
    default:
      return "None";
  }
}

void reply_result(ma_self self, const envelope& req, pb::ResultSet rs) {
  auto rep = make_envelope();
  *rep->mutable_statement_reply()->mutable_result() = std::move(rs);
  self->state.ep.reply(self, req, std::move(rep));
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

void paced_fanout::pump(ma_self self, const std::string& leaf) {
  auto& queue = queued_[leaf];
  auto& busy = in_flight_[leaf];
  while (busy < window_ && !queue.empty()) {
    auto next = std::move(queue.front());
    queue.pop_front();
    ++busy;
    auto me = shared_from_this();
    self->state.ep.request(
      self, leaf, next.actor, std::move(next.env), timeout_,
      [self, me, leaf, cb = std::move(next.cb)](const envelope* rep) {
        --me->in_flight_[leaf];
        cb(rep);
        me->pump(self, leaf);
      });
  }
}

std::vector<std::string> address_cells(const std::string& addr) {
  if (addr.empty())
    return {"NULL", "NULL"};
  auto hp = split_address(addr);
  return {hp.first, hp.second};
}

namespace {

void answer_parked_maps(ma_self self, bool changed);

/// Writes the metadata once for every change queued since the last write.
void on_persist_flush(ma_self self) {
  auto& st = self->state;
  st.persist_scheduled = false;
  persist(self);
  auto callbacks = std::move(st.after_persist);
  st.after_persist.clear();
  for (auto& f : callbacks)
    f();
  if (!st.parked_maps.empty())
    answer_parked_maps(self, true);
}

constexpr auto instance_op_timeout = std::chrono::seconds{10};
constexpr auto status_timeout = std::chrono::seconds{1};


// -- statements -------------------------------------------------------------

void exec_add_leaf(ma_self self, envelope_ptr req, const sql::add_leaf& s) {
  auto& st = self->state;
  auto addr = s.leaf.to_string();
  if (find_leaf(st, addr) != nullptr) {
    reply_result(self, *req, make_failure(sql::errc::leaf_exists,
                                          "leaf '" + s.leaf.host + "':"
                                            + std::to_string(s.leaf.port)
                                            + " is already in the cluster"));
    return;
  }
  auto redundancy = global_int(st, "redundancy_level");
  int group = 1;
  if (s.group) {
    group = *s.group;
  } else if (redundancy == 2) {
    int in_group[3] = {0, 0, 0};
    for (auto& l : st.meta.leaves())
      ++in_group[l.group() == 2 ? 2 : 1];
    group = in_group[2] < in_group[1] ? 2 : 1;
  }
  // Reach the leaf before adding it, as SingleStore does.
  auto env = make_envelope();
  env->mutable_heartbeat_request()->set_seq(0);
  st.ep.request(
    self, addr, leaf_actor_name(), std::move(env), std::chrono::seconds{2},
    [self, req, addr, group, s](const envelope* rep) {
      auto& st = self->state;
      if (rep == nullptr || !rep->has_heartbeat_reply()) {
        reply_result(self, *req,
                     make_failure(sql::errc::unknown_leaf,
                                  "can't connect to leaf '" + s.leaf.host
                                    + "':" + std::to_string(s.leaf.port)
                                    + ": "
                                    + (st.ep.last_transport_error().empty()
                                         ? "no answer within 2000 ms"
                                         : st.ep.last_transport_error())));
        return;
      }
      if (find_leaf(st, addr) != nullptr) {
        reply_result(self, *req,
                     make_failure(sql::errc::leaf_exists,
                                  "leaf " + addr + " is already in the "
                                                   "cluster"));
        return;
      }
      std::vector<ha::leaf_info> infos;
      for (auto& l : st.meta.leaves())
        infos.push_back({l.address(), l.group(), l.pair(),
                         l.state() == "online"});
      auto pair = ha::choose_pair(infos, group);
      auto* leaf = st.meta.add_leaves();
      leaf->set_address(addr);
      leaf->set_group(group);
      leaf->set_state("online");
      leaf->set_incarnation(rep->heartbeat_reply().incarnation());
      if (pair) {
        leaf->set_pair(*pair);
        find_leaf(st, *pair)->set_pair(addr);
      }
      st.runtime[addr].last_reply = self->clock().now();
      persist(self);
      monitor_leaf(self, addr);
      arm_heartbeats(self);
      logger("ma")->info("LeafAdded {} {} group={} pair={}", st.ctx(), addr,
                         group, pair ? *pair : "none");
      reply_result(self, *req, make_message(rows_affected(1)));
    });
}

uint32_t default_partitions(master_aggregator_state& st) {
  auto per_leaf = static_cast<uint32_t>(
    global_int(st, "default_partitions_per_leaf"));
  uint32_t leaves = 0;
  bool r2 = global_int(st, "redundancy_level") == 2;
  for (auto& l : st.meta.leaves())
    if (l.state() == "online" && (!r2 || (l.group() == 1 && !l.pair().empty())))
      ++leaves;
  return std::max<uint32_t>(1, per_leaf * std::max<uint32_t>(leaves, 1));
}

void drop_instances(ma_self self, const pb::DatabaseMeta& db) {
  auto& st = self->state;
  for (auto& part : db.parts()) {
    for (auto& inst : part.instances()) {
      auto env = make_envelope(partition_label(db.name(), part.ordinal()));
      auto* body = env->mutable_drop_instance_request();
      body->set_database(db.name());
      body->set_ordinal(part.ordinal());
      st.ep.request(self, inst.leaf(), leaf_actor_name(), std::move(env),
                    instance_op_timeout, [](const envelope*) {});
    }
  }
}

void exec_create_database(ma_self self, envelope_ptr req,
                          const sql::create_database& s) {
  auto& st = self->state;
  // Names become directory names on every leaf: keep them plain.
  bool plain = !s.name.empty() && s.name.size() <= 64
               && !std::isdigit(static_cast<unsigned char>(s.name[0]));
  for (auto c : s.name)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!plain) {
    reply_result(self, *req,
                 make_failure(sql::errc::bad_value,
                              "database name '" + s.name
                                + "' is not allowed: use letters, digits and "
                                  "'_', starting with a letter or '_', at "
                                  "most 64 characters"));
    return;
  }
  if (find_database(st, s.name) != nullptr) {
    reply_result(self, *req,
                 make_failure(sql::errc::database_exists,
                              "can't create database '" + s.name
                                + "'; database exists"));
    return;
  }
  auto redundancy = static_cast<int>(global_int(st, "redundancy_level"));
  auto partitions = s.partitions ? *s.partitions : default_partitions(st);
  std::vector<ha::leaf_info> infos;
  std::map<std::string, uint32_t> load;
  for (auto& l : st.meta.leaves())
    infos.push_back({l.address(), l.group(), l.pair(), l.state() == "online"});
  for (auto& db : st.meta.databases())
    for (auto& part : db.parts())
      for (auto& inst : part.instances())
        if (inst.role() == pb::MASTER)
          ++load[inst.leaf()];
  auto placed = ha::place_database(infos, partitions, redundancy, load);
  if (!placed.ok()) {
    reply_result(self, *req,
                 make_failure(sql::errc::conflict,
                              "can't create database '" + s.name
                                + "': " + placed.err().detail()));
    return;
  }
  pb::DatabaseMeta db;
  db.set_name(s.name);
  db.set_partitions(partitions);
  db.set_sync_durability(s.sync_durability.value_or(false));
  for (auto& p : *placed) {
    auto* part = db.add_parts();
    part->set_ordinal(p.ordinal);
    part->set_term(1);
    auto* m = part->add_instances();
    m->set_leaf(p.master);
    m->set_role(pb::MASTER);
    m->set_in_sync(true);
    if (!p.replica.empty()) {
      auto* r = part->add_instances();
      r->set_leaf(p.replica);
      r->set_role(pb::REPLICA);
      r->set_in_sync(true);
    }
  }
  size_t total = 0;
  for (auto& part : db.parts())
    total += part.instances_size();
  auto cd = std::make_shared<countdown>();
  cd->remaining = total;
  cd->done = [self, req, db](std::vector<std::string> errors) {
    auto& st = self->state;
    if (!errors.empty()) {
      drop_instances(self, db);
      reply_result(self, *req,
                   make_failure(sql::errc::internal,
                                "can't create database '" + db.name()
                                  + "': " + errors.front()));
      return;
    }
    if (find_database(st, db.name()) != nullptr) {
      reply_result(self, *req,
                   make_failure(sql::errc::database_exists,
                                "can't create database '" + db.name()
                                  + "'; database exists"));
      return;
    }
    *st.meta.add_databases() = db;
    persist(self);
    logger("ma")->info("DatabaseCreated {} {} partitions={}", st.ctx(),
                       db.name(), db.partitions());
    reply_result(self, *req, make_message(rows_affected(1)));
  };
  // Paced: a leaf swamped with thousands of creations at once answered no
  // heartbeat for over a second (16384 partitions on 4 leaf processes).
  // Creating an instance costs its leaf a few file creations and fsyncs; the
  // window ahead of it is what it may wait behind.
  auto fanout = std::make_shared<paced_fanout>(
    instance_op_timeout
    + std::chrono::milliseconds{20} * paced_fanout::default_window);
  auto progress = std::make_shared<std::pair<size_t, time_point>>(
    0, self->clock().now());
  auto name = db.name();
  for (auto& part : db.parts()) {
    for (auto& inst : part.instances()) {
      std::string peer;
      for (auto& other : part.instances())
        if (other.leaf() != inst.leaf())
          peer = other.leaf();
      auto env = make_envelope(partition_label(db.name(), part.ordinal()),
                               part.term());
      auto* body = env->mutable_create_instance_request();
      body->set_database(db.name());
      body->set_ordinal(part.ordinal());
      body->set_sync_durability(db.sync_durability());
      body->set_role(inst.role());
      body->set_term(part.term());
      body->set_peer(peer);
      body->set_sync_replication_timeout_ms(
        global_int(st, "sync_replication_timeout_ms"));
      auto leaf = inst.leaf();
      fanout->add(
        leaf, leaf_actor_name(), std::move(env),
        [self, cd, leaf, progress, total, name](const envelope* rep) {
          // Long work shows progress: a line a second.
          auto now = self->clock().now();
          if (++progress->first < total
              && now - progress->second >= std::chrono::seconds{1}) {
            progress->second = now;
            logger("ma")->info("DatabaseCreating {} {}: {} of {} instances",
                               self->state.ctx(), name, progress->first,
                               total);
          }
          if (rep == nullptr)
            cd->finish_one("leaf " + leaf + " did not answer");
          else if (rep->create_instance_reply().status() != pb::STATUS_OK)
            cd->finish_one(rep->create_instance_reply().error());
          else
            cd->finish_one();
        });
    }
  }
  fanout->start(self);
}

void exec_drop_database(ma_self self, envelope_ptr req,
                        const sql::drop_database& s) {
  auto& st = self->state;
  auto* dbs = st.meta.mutable_databases();
  auto i = std::find_if(dbs->begin(), dbs->end(),
                        [&](auto& db) { return db.name() == s.name; });
  if (i == dbs->end()) {
    reply_result(self, *req, make_failure(sql::errc::unknown_database,
                                          "unknown database '" + s.name
                                            + "'"));
    return;
  }
  auto db = *i;
  dbs->erase(i);
  persist(self);
  drop_instances(self, db);
  logger("ma")->info("DatabaseDropped {} {}", st.ctx(), s.name);
  reply_result(self, *req, make_message(rows_affected(db.partitions())));
}

void exec_show_leaves(ma_self self, envelope_ptr req) {
  auto& st = self->state;
  std::vector<std::vector<std::string>> rows;
  for (auto& l : st.meta.leaves()) {
    auto hp = split_address(l.address());
    auto pair = address_cells(l.pair());
    auto& rt = st.runtime[l.address()];
    char rtt[32];
    std::snprintf(rtt, sizeof(rtt), "%.3f", rt.avg_rtt_ms);
    rows.push_back({hp.first, hp.second, std::to_string(l.group()), pair[0],
                    pair[1], l.state(), l.state() == "online" ? "1" : "0",
                    l.state() == "online" ? rtt : "NULL"});
  }
  reply_result(self, *req,
               make_table({"Host", "Port", "Availability_Group", "Pair_Host",
                           "Pair_Port", "State", "Opened_Connections",
                           "Average_Roundtrip_Latency_ms"},
                          rows));
}

pb::ResultSet unknown_database(const std::string& name) {
  return make_failure(sql::errc::unknown_database,
                      "unknown database '" + name + "'");
}

void exec_show_partitions(ma_self self, envelope_ptr req,
                          const sql::show_partitions& s) {
  auto& st = self->state;
  auto db = find_database(st, s.database);
  if (db == nullptr) {
    reply_result(self, *req, unknown_database(s.database));
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (auto& part : db->parts()) {
    auto insts = std::vector<pb::InstanceMeta>(part.instances().begin(),
                                               part.instances().end());
    std::stable_sort(insts.begin(), insts.end(), [](auto& a, auto& b) {
      return a.role() == pb::MASTER && b.role() != pb::MASTER;
    });
    // Locked while its master is being handed over (the old master has
    // stopped taking writes until its replica holds them all).
    bool locked = st.switching.count(partition_label(db->name(),
                                                     part.ordinal()))
                  > 0;
    for (auto& inst : insts) {
      auto hp = split_address(inst.leaf());
      rows.push_back({std::to_string(part.ordinal()), hp.first, hp.second,
                      role_text(inst.role()), locked ? "1" : "0"});
    }
  }
  reply_result(self, *req,
               make_table({"Ordinal", "Host", "Port", "Role", "Locked"},
                          rows));
}

void exec_show_cluster_status(ma_self self, envelope_ptr req) {
  auto& st = self->state;
  struct row_ref {
    std::string db;
    uint32_t ordinal;
    pb::InstanceMeta inst;
    std::string master;
    bool part_offline;
  };
  auto refs = std::make_shared<std::vector<row_ref>>();
  for (auto& db : st.meta.databases())
    for (auto& part : db.parts()) {
      std::string master;
      for (auto& inst : part.instances())
        if (inst.role() == pb::MASTER)
          master = inst.leaf();
      for (auto& inst : part.instances())
        refs->push_back({db.name(), part.ordinal(), inst, master,
                         part.offline()});
    }
  auto states = std::make_shared<std::vector<pb::InstanceState>>(refs->size());
  auto got = std::make_shared<std::vector<bool>>(refs->size(), false);
  auto finish = [self, req, refs, states, got] {
    auto& st = self->state;
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < refs->size(); ++i) {
      auto& r = (*refs)[i];
      auto hp = split_address(r.inst.leaf());
      auto leaf = find_leaf(st, r.inst.leaf());
      std::string state = leaf ? leaf->state() : "unknown";
      std::string position = "NULL";
      std::string details;
      if ((*got)[i]) {
        auto& s = (*states)[i];
        position = std::to_string(s.position().term()) + ":"
                   + std::to_string(s.position().lsn());
        if (s.state() != "online")
          details = s.state();
      } else if (state == "online") {
        details = "no answer";
      }
      if (r.inst.role() == pb::REPLICA)
        details += std::string(details.empty() ? "" : "; ")
                   + (r.inst.in_sync() ? "in sync" : "out of sync");
      if (r.part_offline)
        details += std::string(details.empty() ? "" : "; ")
                   + "partition offline";
      auto master = r.inst.role() == pb::REPLICA ? address_cells(r.master)
                                                 : address_cells("");
      rows.push_back({hp.first, hp.second, r.db, std::to_string(r.ordinal),
                      role_text(r.inst.role()), state, position, master[0],
                      master[1], details.empty() ? "NULL" : details});
    }
    reply_result(self, *req,
                 make_table({"Host", "Port", "Database_Name", "Ordinal",
                             "Role", "State", "Position", "Master_Host",
                             "Master_Port", "Details"},
                            rows));
  };
  auto cd = std::make_shared<countdown>();
  cd->remaining = refs->size() + 1;
  cd->done = [finish](std::vector<std::string>) { finish(); };
  auto fanout = std::make_shared<paced_fanout>(status_timeout);
  for (size_t i = 0; i < refs->size(); ++i) {
    auto& r = (*refs)[i];
    auto leaf = find_leaf(st, r.inst.leaf());
    if (leaf == nullptr || leaf->state() != "online") {
      cd->finish_one();
      continue;
    }
    auto env = make_envelope(partition_label(r.db, r.ordinal));
    env->mutable_instance_status_request();
    fanout->add(r.inst.leaf(), partition_actor_name(r.db, r.ordinal),
                std::move(env), [cd, states, got, i](const envelope* rep) {
                  if (rep != nullptr && rep->has_instance_status_reply()) {
                    (*states)[i] = rep->instance_status_reply().instance();
                    (*got)[i] = true;
                  }
                  cd->finish_one();
                });
  }
  fanout->start(self);
  cd->finish_one();
}

void exec_set_global(ma_self self, envelope_ptr req,
                     const sql::set_global& s) {
  auto& st = self->state;
  auto checked = config::check_variable(s.name, s.value);
  if (!checked.ok()) {
    auto code = checked.err().name() == "unknown_variable"
                  ? sql::errc::unknown_variable
                  : sql::errc::bad_value;
    reply_result(self, *req, make_failure(code, checked.err().detail()));
    return;
  }
  auto name = config::find_variable(s.name)->name;
  (*st.meta.mutable_globals())[name] = *checked;
  persist(self);
  logger("ma")->info("GlobalSet {} {}={}", st.ctx(), name, *checked);
  arm_heartbeats(self);
  if (name == "sync_replication_timeout_ms") {
    // Instances read the timeout from their role assignment: re-send it.
    for (auto& db : st.meta.databases())
      for (auto& part : db.parts())
        for (auto& inst : part.instances()) {
          auto leaf = find_leaf(st, inst.leaf());
          if (leaf == nullptr || leaf->state() != "online"
              || inst.role() == pb::ORPHAN)
            continue;
          auto peer = peer_of(part, inst);
          set_role(self, inst.leaf(), db.name(), part.ordinal(), inst.role(),
                   part.term(), peer.leaf, peer.in_sync,
                   [](const envelope*) {});
        }
  }
  reply_result(self, *req, make_message(rows_affected(0)));
}

void exec_show_variables(ma_self self, envelope_ptr req,
                         const sql::show_variables& s) {
  auto& st = self->state;
  std::vector<std::vector<std::string>> rows;
  for (auto& kvp : globals_of(st))
    if (!s.like || config::like_match(kvp.first, *s.like))
      rows.push_back({kvp.first, kvp.second});
  reply_result(self, *req, make_table({"Variable_name", "Value"}, rows));
}

void exec_show_databases(ma_self self, envelope_ptr req) {
  auto& st = self->state;
  std::vector<std::vector<std::string>> rows;
  for (auto& db : st.meta.databases())
    rows.push_back({db.name()});
  std::sort(rows.begin(), rows.end());
  reply_result(self, *req, make_table({"Database"}, rows));
}

void on_statement(ma_self self, const envelope_ptr& req) {
  const auto& text = req->statement_request().text();
  auto parsed = sql::parse(text);
  if (!parsed.ok()) {
    reply_result(self, *req,
                 make_failure(parsed.err().name() == "bad_value"
                                ? sql::errc::bad_value
                                : sql::errc::syntax_error,
                              parsed.err().detail()));
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
      else
        reply_result(self, *req,
                     make_failure(sql::errc::not_supported,
                                  "the master aggregator does not execute '"
                                    + text + "'"));
    },
    *parsed);
}

constexpr uint64_t map_wait_timer = 2;
constexpr int64_t max_map_wait_ms = 1000;

void answer_partition_map(ma_self self, const envelope_ptr& req);

/// Answers the parked map requests that are due: all of them when the
/// metadata changed, else those past their deadline.
void answer_parked_maps(ma_self self, bool changed) {
  auto& st = self->state;
  auto now = self->clock().now();
  std::vector<envelope_ptr> due;
  auto& parked = st.parked_maps;
  for (auto i = parked.begin(); i != parked.end();) {
    if (changed
        || st.meta.version() > i->first->partition_map_request().newer_than()
        || i->second <= now) {
      due.push_back(i->first);
      i = parked.erase(i);
    } else {
      ++i;
    }
  }
  for (auto& req : due)
    answer_partition_map(self, req);
}

void arm_map_timer(ma_self self) {
  auto& st = self->state;
  if (st.parked_maps.empty())
    return;
  auto next = st.parked_maps.front().second;
  for (auto& p : st.parked_maps)
    next = std::min(next, p.second);
  // A short wait parked after a long one must not wait for the long one's
  // timer.
  if (st.map_timer_at && *st.map_timer_at <= next)
    return;
  st.map_timer_at = next;
  auto delay = std::max<caf::timespan>(next - self->clock().now(),
                                       caf::timespan{0});
  self->delayed_send(self, delay, timer_atom::value, map_wait_timer);
}

void on_map_timer(ma_self self) {
  auto& st = self->state;
  if (st.map_timer_at && *st.map_timer_at <= self->clock().now())
    st.map_timer_at.reset();
  answer_parked_maps(self, false);
  arm_map_timer(self);
}

void on_partition_map(ma_self self, const envelope_ptr& req) {
  auto& st = self->state;
  const auto& body = req->partition_map_request();
  if (body.newer_than() > 0 && st.meta.version() <= body.newer_than()
      && body.wait_ms() > 0 && find_database(st, body.database()) != nullptr) {
    auto wait = std::chrono::milliseconds{
      std::min(body.wait_ms(), max_map_wait_ms)};
    st.parked_maps.emplace_back(req, self->clock().now() + wait);
    arm_map_timer(self);
    return;
  }
  answer_partition_map(self, req);
}

void answer_partition_map(ma_self self, const envelope_ptr& req) {
  auto& st = self->state;
  const auto& name = req->partition_map_request().database();
  auto rep = make_envelope();
  auto* body = rep->mutable_partition_map_reply();
  body->set_database(name);
  body->set_version(st.meta.version());
  body->set_request_timeout_ms(global_int(st, "request_timeout_ms"));
  auto db = find_database(st, name);
  if (db == nullptr) {
    body->set_status(pb::UNKNOWN);
    body->set_error("unknown database '" + name + "'");
  } else {
    body->set_status(pb::STATUS_OK);
    body->set_partitions(db->partitions());
    for (auto& part : db->parts()) {
      auto* route = body->add_routes();
      route->set_ordinal(part.ordinal());
      route->set_term(part.term());
      const pb::InstanceMeta* master = nullptr;
      for (auto& inst : part.instances())
        if (inst.role() == pb::MASTER)
          master = &inst;
      auto leaf = master ? find_leaf(st, master->leaf()) : nullptr;
      if (master)
        route->set_master(master->leaf());
      // An attaching leaf's masters are being told their role: a client
      // that comes too early is answered NOT_MASTER and retries.
      if (part.offline() || leaf == nullptr
          || (leaf->state() != "online" && leaf->state() != "attaching")) {
        route->set_online(false);
        route->set_offline_reason(
          part.offline() ? part.offline_reason()
          : master       ? "partition " + partition_label(name, part.ordinal())
                             + " on leaf " + master->leaf() + " is offline"
                         : "partition " + partition_label(name, part.ordinal())
                             + " has no master");
      } else {
        route->set_online(true);
      }
    }
  }
  st.ep.reply(self, *req, std::move(rep));
}

/// A known leaf came back (restart): it is online again and its instances
/// resume the roles the metadata gives them.
master_aggregator_actor::behavior_type ma_behavior(ma_self self) {
  return {
    [self](wire& msg) {
      auto& st = self->state;
      if (!st.ep.receive(msg))
        return;
      const auto& env = msg.env;
      switch (env->body_case()) {
        case envelope::kStatementRequest:
          on_statement(self, env);
          break;
        case envelope::kPartitionMapRequest:
          on_partition_map(self, env);
          break;
        case envelope::kLeafHelloRequest:
          on_leaf_hello(self, env);
          break;
        case envelope::kReplicaSyncRequest:
          on_replica_sync(self, env);
          break;
        case envelope::kRebuildProgress:
          on_rebuild_progress(self, env);
          break;
        default:
          logger("ma")->warn("UnexpectedMessage {} {}", st.ctx(),
                             body_name(*env));
      }
    },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](flush_atom) { on_persist_flush(self); },
    [self](timer_atom, uint64_t id) {
      if (id == map_wait_timer)
        on_map_timer(self);
      else if (id == failure_deadline_timer)
        failure_deadline(self);
      else if (id == balance_retry_timer)
        retry_balance(self);
      else
        heartbeat_round(self);
    },
  };
}

master_aggregator_actor::behavior_type
master_aggregator_impl(ma_self self, master_aggregator_config cfg) {
  auto& st = self->state;
  st.ep = endpoint{cfg.fab, cfg.node, master_aggregator_actor_name()};
  st.cfg = std::move(cfg);
  st.cfg.fs->make_dirs(st.cfg.data_dir);
  auto path = st.cfg.data_dir + "/metadata.pb";
  if (auto bytes = st.cfg.fs->read_file(path); bytes.ok()) {
    if (!st.meta.ParseFromString(*bytes)) {
      logger("ma")->critical("MetadataCorrupt {} is not valid metadata; "
                             "refusing to start",
                             path);
      self->quit(caf::make_error(caf::sec::invalid_argument,
                                 "corrupt metadata: " + path));
      return ma_behavior(self);
    }
    // Leaves must prove they are alive again after an aggregator restart.
    for (auto& leaf : *st.meta.mutable_leaves())
      if (leaf.state() == "online")
        st.runtime[leaf.address()].last_reply = self->clock().now();
    logger("ma")->info("MetadataLoaded {} {} leaves, {} databases", st.ctx(),
                       st.meta.leaves_size(), st.meta.databases_size());
  }
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& kvp : st.runtime) {
      if (kvp.second.handle == dm.source) {
        auto addr = kvp.first;
        kvp.second.handle = caf::actor_addr{};
        leaf_failed(self, addr, "connection lost (" + to_string(dm.reason)
                                  + ")");
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
