#include "actors/aggregator/metadata.hpp"

#include <algorithm>

#include "config/variables.hpp"

namespace lg {

// -- leaf states --------------------------------------------------------------

namespace {

constexpr leaf_state all_leaf_states[] = {
  leaf_state::online,     leaf_state::offline,  leaf_state::attaching,
  leaf_state::recovering, leaf_state::detached,
};

} // namespace

const char* to_string(leaf_state s) {
  switch (s) {
    case leaf_state::online:
      return "online";
    case leaf_state::offline:
      return "offline";
    case leaf_state::attaching:
      return "attaching";
    case leaf_state::recovering:
      return "recovering";
    case leaf_state::detached:
      return "detached";
  }
  return "offline";
}

leaf_state state_of(const pb::LeafMeta& leaf) {
  for (auto s : all_leaf_states)
    if (leaf.state() == to_string(s))
      return s;
  return leaf_state::offline;
}

void set_state(pb::LeafMeta& leaf, leaf_state s) {
  leaf.set_state(to_string(s));
}

// -- global variables ---------------------------------------------------------

cluster_globals::cluster_globals()
  : cluster_globals(std::map<std::string, std::string>{}) {
}

cluster_globals::cluster_globals(const std::map<std::string, std::string>& set)
  : values_(config::default_globals()) {
  for (auto& kvp : set)
    values_[kvp.first] = kvp.second;
  // The one place that spells the variables' names (config/variables.cpp
  // holds their specs).
  auto int_of = [this](const char* name) {
    return config::get_int(values_, name);
  };
  auto bool_of = [this](const char* name) {
    return config::get_bool(values_, name);
  };
  aggregator_election_timeout_ms_ = int_of("aggregator_election_timeout_ms");
  attach_rebalance_delay_seconds_ = int_of("attach_rebalance_delay_seconds");
  auto_attach_ = bool_of("auto_attach");
  default_partitions_per_leaf_ = static_cast<uint32_t>(
    int_of("default_partitions_per_leaf"));
  leaf_failure_detection_ = bool_of("leaf_failure_detection");
  load_balanced_ = values_["leaf_failover_fanout"] == "load_balanced";
  leaf_failure_timeout_ms_ = int_of("leaf_failure_timeout_ms");
  leaf_heartbeat_interval_ms_ = int_of("leaf_heartbeat_interval_ms");
  redundancy_level_ = static_cast<int>(int_of("redundancy_level"));
  replication_backlog_mb_ = int_of("replication_backlog_mb");
  request_timeout_ms_ = int_of("request_timeout_ms");
  sync_replication_timeout_ms_ = int_of("sync_replication_timeout_ms");
}

bool cluster_globals::sent_with_roles(const std::string& name) {
  return name == "sync_replication_timeout_ms"
         || name == "replication_backlog_mb";
}

// -- partitions ---------------------------------------------------------------

ha::instance_role view_role(pb::Role r) {
  return r == pb::MASTER    ? ha::instance_role::master
         : r == pb::REPLICA ? ha::instance_role::replica
                            : ha::instance_role::orphan;
}

pb::InstanceMeta* master_of(pb::PartitionMeta& part) {
  for (auto& inst : *part.mutable_instances())
    if (inst.role() == pb::MASTER)
      return &inst;
  return nullptr;
}

const pb::InstanceMeta* master_of(const pb::PartitionMeta& part) {
  for (auto& inst : part.instances())
    if (inst.role() == pb::MASTER)
      return &inst;
  return nullptr;
}

pb::InstanceMeta* instance_on(pb::PartitionMeta& part,
                              const std::string& leaf) {
  for (auto& inst : *part.mutable_instances())
    if (inst.leaf() == leaf)
      return &inst;
  return nullptr;
}

pb::InstanceMeta* replica_on(pb::PartitionMeta& part,
                             const std::string& leaf) {
  for (auto& inst : *part.mutable_instances())
    if (inst.leaf() == leaf && inst.role() == pb::REPLICA)
      return &inst;
  return nullptr;
}

const pb::InstanceMeta* replica_on(const pb::PartitionMeta& part,
                                   const std::string& leaf) {
  for (auto& inst : part.instances())
    if (inst.leaf() == leaf && inst.role() == pb::REPLICA)
      return &inst;
  return nullptr;
}

void record_sync(pb::InstanceMeta& inst, bool in_sync) {
  if (inst.in_sync() == in_sync)
    return;
  inst.set_in_sync(in_sync);
  inst.set_sync_epoch(inst.sync_epoch() + 1);
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

bool hand_over_master(pb::PartitionMeta& part, const std::string& to) {
  auto* master = master_of(part);
  auto* target = replica_on(part, to);
  if (master == nullptr || target == nullptr)
    return false;
  master->set_role(pb::REPLICA);
  record_sync(*master, true);
  target->set_role(pb::MASTER);
  part.set_term(part.term() + 1);
  return true;
}

void promote_replica(pb::PartitionMeta& part, const std::string& leaf,
                     const std::string& failed, uint64_t new_term) {
  for (auto& inst : *part.mutable_instances()) {
    if (inst.leaf() == leaf) {
      inst.set_role(pb::MASTER);
    } else if (inst.leaf() == failed) {
      inst.set_role(pb::REPLICA);
      record_sync(inst, false);
    }
  }
  part.set_term(new_term);
  part.set_offline(false);
  part.clear_offline_reason();
}

// -- cluster_metadata ---------------------------------------------------------

bool cluster_metadata::parse(const std::string& bytes) {
  if (!meta_.ParseFromString(bytes))
    return false;
  parse_globals();
  return true;
}

std::string cluster_metadata::serialize() const {
  return meta_.SerializeAsString();
}

pb::LeafMeta* cluster_metadata::find_leaf(const std::string& addr) {
  for (auto& leaf : *meta_.mutable_leaves())
    if (leaf.address() == addr)
      return &leaf;
  return nullptr;
}

const pb::LeafMeta* cluster_metadata::find_leaf(const std::string& addr) const {
  for (auto& leaf : meta_.leaves())
    if (leaf.address() == addr)
      return &leaf;
  return nullptr;
}

bool cluster_metadata::leaf_online(const std::string& addr) const {
  auto* leaf = find_leaf(addr);
  return leaf != nullptr && state_of(*leaf) == leaf_state::online;
}

bool cluster_metadata::leaf_up(const std::string& addr) const {
  auto* leaf = find_leaf(addr);
  if (leaf == nullptr)
    return false;
  auto s = state_of(*leaf);
  return s == leaf_state::online || s == leaf_state::attaching;
}

std::optional<std::string>
cluster_metadata::add_leaf(const std::string& addr, int group,
                           uint64_t incarnation) {
  auto pair = ha::choose_pair(leaf_infos(), group);
  auto* leaf = meta_.add_leaves();
  leaf->set_address(addr);
  leaf->set_group(group);
  set_state(*leaf, leaf_state::online);
  leaf->set_incarnation(incarnation);
  if (pair) {
    leaf->set_pair(*pair);
    find_leaf(*pair)->set_pair(addr);
  }
  return pair;
}

void cluster_metadata::remove_leaf(const std::string& addr) {
  auto* leaves = meta_.mutable_leaves();
  std::string pair;
  for (auto i = leaves->begin(); i != leaves->end(); ++i)
    if (i->address() == addr) {
      pair = i->pair();
      leaves->erase(i);
      break;
    }
  if (auto* p = pair.empty() ? nullptr : find_leaf(pair))
    p->clear_pair();
}

std::vector<std::string>
cluster_metadata::followed_by(const pb::LeafMeta& leaf) const {
  std::vector<std::string> out;
  if (!globals_.load_balanced()) {
    if (!leaf.pair().empty())
      out.push_back(leaf.pair());
    return out;
  }
  for (auto& other : meta_.leaves())
    if (other.group() != leaf.group())
      out.push_back(other.address());
  return out;
}

std::vector<ha::leaf_info> cluster_metadata::leaf_infos() const {
  std::vector<ha::leaf_info> result;
  for (auto& l : meta_.leaves())
    result.push_back({l.address(), l.group(), l.pair(),
                      state_of(l) == leaf_state::online});
  return result;
}

pb::DatabaseMeta* cluster_metadata::find_database(const std::string& name) {
  for (auto& db : *meta_.mutable_databases())
    if (db.name() == name)
      return &db;
  return nullptr;
}

const pb::DatabaseMeta*
cluster_metadata::find_database(const std::string& name) const {
  for (auto& db : meta_.databases())
    if (db.name() == name)
      return &db;
  return nullptr;
}

void cluster_metadata::add_database(pb::DatabaseMeta db) {
  *meta_.add_databases() = std::move(db);
}

std::optional<pb::DatabaseMeta>
cluster_metadata::remove_database(const std::string& name) {
  auto* dbs = meta_.mutable_databases();
  auto i = std::find_if(dbs->begin(), dbs->end(),
                        [&](auto& db) { return db.name() == name; });
  if (i == dbs->end())
    return std::nullopt;
  auto db = *i;
  dbs->erase(i);
  return db;
}

pb::PartitionMeta* cluster_metadata::find_partition(const std::string& db,
                                                    uint32_t ordinal) {
  auto* d = find_database(db);
  if (d == nullptr || ordinal >= static_cast<uint32_t>(d->parts_size()))
    return nullptr;
  return d->mutable_parts(static_cast<int>(ordinal));
}

std::vector<ha::instance_view>
cluster_metadata::views_of(const pb::PartitionMeta& part) const {
  std::vector<ha::instance_view> result;
  for (auto& inst : part.instances()) {
    ha::instance_view v;
    v.leaf = inst.leaf();
    v.role = view_role(inst.role());
    v.in_sync = inst.in_sync();
    v.leaf_online = leaf_online(inst.leaf());
    result.push_back(std::move(v));
  }
  return result;
}

std::map<std::string, uint32_t> cluster_metadata::masters_per_leaf() const {
  std::map<std::string, uint32_t> load;
  for (auto& db : meta_.databases())
    for (auto& part : db.parts())
      for (auto& inst : part.instances())
        if (inst.role() == pb::MASTER)
          ++load[inst.leaf()];
  return load;
}

void cluster_metadata::set_global(const std::string& name,
                                  const std::string& value) {
  (*meta_.mutable_globals())[name] = value;
  parse_globals();
}

void cluster_metadata::parse_globals() {
  globals_ = cluster_globals{std::map<std::string, std::string>(
    meta_.globals().begin(), meta_.globals().end())};
}

} // namespace lg
