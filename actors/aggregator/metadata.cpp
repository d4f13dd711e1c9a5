// The master aggregator's metadata helpers: leaves, databases, partitions
// and instances, looked up in the metadata.
#include "actors/aggregator/state.hpp"
#include "config/variables.hpp"

namespace lg {

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

bool leaf_up(master_aggregator_state& st, const std::string& addr) {
  auto* leaf = find_leaf(st, addr);
  return leaf != nullptr
         && (leaf->state() == "online" || leaf->state() == "attaching");
}

} // namespace lg
