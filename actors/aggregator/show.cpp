// Read-only cluster statements, run by the master aggregator: SHOW LEAVES,
// SHOW PARTITIONS, SHOW CLUSTER STATUS, SHOW VARIABLES, SHOW DATABASES and
// CHECK PARTITIONS.
//
//   1. SHOW LEAVES, PARTITIONS, VARIABLES and DATABASES answer from the
//      metadata alone.
//   2. SHOW CLUSTER STATUS and CHECK PARTITIONS also ask every instance on
//      an online leaf for its state (InstanceStatusRequest, paced per leaf,
//      a second each); an instance that does not answer shows as such.
//   3. CHECK PARTITIONS shows each copy's term, log position and checksum,
//      and whether it is in sync, catching up, diverged, an orphan or
//      offline.
//
// SingleStore: SHOW LEAVES, SHOW PARTITIONS and SHOW CLUSTER STATUS, with
// their columns.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "config/variables.hpp"

namespace lg {

std::pair<std::string, std::string> split_address(const std::string& addr) {
  auto pos = addr.rfind(':');
  if (pos == std::string::npos)
    return {addr, ""};
  return {addr.substr(0, pos), addr.substr(pos + 1)};
}

std::vector<std::string> address_cells(const std::string& addr) {
  if (addr.empty())
    return {"NULL", "NULL"};
  auto hp = split_address(addr);
  return {hp.first, hp.second};
}

std::string hex64(uint64_t x) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, x);
  return buf;
}

namespace {

constexpr auto status_timeout = std::chrono::seconds{1};

/// One copy of a partition that SHOW CLUSTER STATUS or CHECK PARTITIONS
/// shows: what the metadata says, and what the instance answered.
struct instance_row {
  std::string db;
  uint32_t ordinal = 0;
  pb::InstanceMeta inst;
  std::string master; ///< the leaf of the partition's master, "" when none
  bool part_offline = false;
  bool ask = false; ///< whether its instance is asked for its state
  std::optional<pb::InstanceState> state; ///< its answer, if any
};

using instance_rows = std::vector<instance_row>;

/// Adds a row for every copy of every partition of `db`.
void add_rows(instance_rows& rows, const pb::DatabaseMeta& db) {
  for (auto& part : db.parts()) {
    auto* master = master_of(part);
    for (auto& inst : part.instances())
      rows.push_back({db.name(), part.ordinal(), inst,
                      master ? master->leaf() : std::string{},
                      part.offline(), false, std::nullopt});
  }
}

/// Asks the instance of every row marked `ask` for its state (step 2),
/// paced per leaf; calls `done` once all answered or timed out.
void fetch_states(ma_self self, std::shared_ptr<instance_rows> rows,
                  std::function<void(const instance_rows&)> done) {
  auto cd = std::make_shared<countdown>();
  cd->remaining = rows->size() + 1;
  cd->done = [rows, done](std::vector<std::string>) { done(*rows); };
  auto fanout = std::make_shared<paced_fanout>(status_timeout);
  for (size_t i = 0; i < rows->size(); ++i) {
    auto& r = (*rows)[i];
    if (!r.ask) {
      cd->finish_one();
      continue;
    }
    auto env = make_envelope(partition_label(r.db, r.ordinal));
    env->mutable_instance_status_request();
    fanout->add(r.inst.leaf(), partition_actor_name(r.db, r.ordinal),
                std::move(env), [cd, rows, i](const envelope* rep) {
                  if (rep != nullptr && rep->has_instance_status_reply())
                    (*rows)[i].state = rep->instance_status_reply().instance();
                  cd->finish_one();
                });
  }
  fanout->start(self);
  cd->finish_one();
}

/// An instance's log position as "term:lsn".
std::string position_text(const pb::InstanceState& s) {
  return std::to_string(s.position().term()) + ":"
         + std::to_string(s.position().lsn());
}

} // namespace

void exec_show_leaves(ma_self self, envelope_ptr req) {
  auto& st = self->state;
  std::vector<std::vector<std::string>> rows;
  for (auto& l : st.meta.leaves()) {
    auto hp = split_address(l.address());
    auto pair = address_cells(l.pair());
    auto& rt = st.runtime[l.address()];
    bool online = state_of(l) == leaf_state::online;
    // Network links from this process to the leaf: one while the leaf's
    // process is routed through its gateway; none for a leaf in this
    // process (reached without a connection) or one not connected.
    auto links = st.cfg.fab->route(l.address()) ? 1 : 0;
    char rtt[32];
    std::snprintf(rtt, sizeof(rtt), "%.3f", rt.avg_rtt_ms);
    rows.push_back({hp.first, hp.second, std::to_string(l.group()), pair[0],
                    pair[1], to_string(state_of(l)), std::to_string(links),
                    online ? rtt : "NULL"});
  }
  reply_result(self, *req,
               make_table({"Host", "Port", "Availability_Group", "Pair_Host",
                           "Pair_Port", "State", "Opened_Connections",
                           "Average_Roundtrip_Latency_ms"},
                          rows));
}

void exec_show_partitions(ma_self self, envelope_ptr req,
                          const sql::show_partitions& s) {
  auto& st = self->state;
  auto db = st.meta.find_database(s.database);
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
  auto rows = std::make_shared<instance_rows>();
  for (auto& db : st.meta.databases())
    add_rows(*rows, db);
  for (auto& r : *rows)
    r.ask = st.meta.leaf_online(r.inst.leaf());
  fetch_states(self, rows, [self, req](const instance_rows& rows) {
    auto& st = self->state;
    std::vector<std::vector<std::string>> cells;
    for (auto& r : rows) {
      auto hp = split_address(r.inst.leaf());
      auto leaf = st.meta.find_leaf(r.inst.leaf());
      std::string state = leaf ? to_string(state_of(*leaf)) : "unknown";
      std::string position = "NULL";
      std::string role = "NULL";
      std::string details;
      // What the instance says of itself: its role and, a replica, the
      // master it follows.
      auto master = address_cells("");
      if (r.state) {
        position = position_text(*r.state);
        role = role_text(r.state->role());
        if (r.state->role() == pb::REPLICA)
          master = address_cells(r.state->peer());
        if (r.state->state() != "online")
          details = r.state->state();
      } else if (st.meta.leaf_online(r.inst.leaf())) {
        details = "no answer";
      }
      // What the metadata says of it.
      auto meta_master = r.inst.role() == pb::MASTER
                           ? address_cells("")
                           : address_cells(r.master);
      auto add = [&](const std::string& text) {
        details += (details.empty() ? "" : "; ") + text;
      };
      if (r.inst.role() == pb::REPLICA)
        add(r.inst.in_sync() ? "in sync" : "out of sync");
      if (r.part_offline)
        add("partition offline");
      if (r.state
          && (r.state->role() != r.inst.role()
              || (r.inst.role() == pb::REPLICA
                  && r.state->peer() != r.master)))
        add("differs from the metadata");
      cells.push_back({hp.first, hp.second, r.db, std::to_string(r.ordinal),
                       role, state, position, master[0], master[1],
                       meta_master[0], meta_master[1],
                       role_text(r.inst.role()),
                       details.empty() ? "NULL" : details});
    }
    reply_result(self, *req,
                 make_table({"Host", "Port", "Database_Name", "Ordinal",
                             "Role", "State", "Position", "Master_Host",
                             "Master_Port", "Metadata_Master_Host",
                             "Metadata_Master_Port", "Metadata_Role",
                             "Details"},
                            cells));
  });
}

void exec_show_variables(ma_self self, envelope_ptr req,
                         const sql::show_variables& s) {
  auto& st = self->state;
  std::vector<std::vector<std::string>> rows;
  for (auto& kvp : st.meta.globals().all())
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

void exec_check_partitions(ma_self self, envelope_ptr req,
                           const sql::check_partitions& s) {
  auto& st = self->state;
  auto* db = st.meta.find_database(s.database);
  if (db == nullptr) {
    reply_result(self, *req, unknown_database(s.database));
    return;
  }
  auto rows = std::make_shared<instance_rows>();
  add_rows(*rows, *db);
  for (auto& r : *rows)
    r.ask = st.meta.leaf_up(r.inst.leaf());
  fetch_states(self, rows, [self, req](const instance_rows& rows) {
    auto& st = self->state;
    std::vector<std::vector<std::string>> cells;
    for (auto& r : rows) {
      auto hp = split_address(r.inst.leaf());
      std::string status;
      bool diverged = false;
      for (auto& job : st.jobs)
        if (job.status == job_status::running && job.db == r.db
            && job.ordinal == r.ordinal && job.leaf == r.inst.leaf()
            && job.diverged)
          diverged = true;
      if (!r.state)
        status = "offline";
      else if (r.inst.role() == pb::ORPHAN)
        status = "orphan";
      else if (r.inst.role() == pb::MASTER)
        status = r.part_offline ? "offline" : "in_sync";
      else if (diverged)
        status = "diverged";
      else if (r.inst.in_sync())
        status = "in_sync";
      else
        status = "catching_up";
      std::string term = "NULL", position = "NULL", checksum = "NULL";
      if (r.state) {
        term = std::to_string(r.state->term());
        position = position_text(*r.state);
        checksum = hex64(r.state->checksum());
      }
      cells.push_back({std::to_string(r.ordinal), hp.first, hp.second,
                       role_text(r.inst.role()), term, position, checksum,
                       status});
    }
    reply_result(self, *req,
                 make_table({"Ordinal", "Host", "Port", "Role", "Term",
                             "Position", "Checksum", "Status"},
                            cells));
  });
}

} // namespace lg

namespace lg {

namespace {

std::string fixed1(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", x);
  return buf;
}

pb::ResultSet aggregators_table(
  const google::protobuf::RepeatedPtrField<pb::AggregatorStatus>& rows) {
  std::vector<std::vector<std::string>> out;
  for (auto& a : rows) {
    auto row = address_cells(a.address());
    row.push_back(a.online() ? "online" : "offline");
    row.push_back(a.master() && a.online() ? "1" : "0");
    row.push_back(a.voting() ? "1" : "0");
    row.push_back(std::to_string(a.term()));
    row.push_back(a.roundtrip_ms() > 0 ? fixed1(a.roundtrip_ms()) : "NULL");
    out.push_back(std::move(row));
  }
  return make_table({"Host", "Port", "State", "Master_Aggregator",
                     "Voting_Member", "Term", "Average_Roundtrip_Latency_ms"},
                    out);
}

} // namespace

/// SHOW AGGREGATORS: with one aggregator, itself; with voting aggregators,
/// what the one beside this master aggregator knows of the group.
void exec_show_aggregators(ma_self self, envelope_ptr req) {
  auto& st = self->state;
  if (st.cfg.consensus_node.empty()) {
    google::protobuf::RepeatedPtrField<pb::AggregatorStatus> rows;
    auto* a = rows.Add();
    a->set_address(st.cfg.address);
    a->set_online(true);
    a->set_master(true);
    a->set_voting(true);
    a->set_term(st.meta.aggregator_term());
    reply_result(self, *req, aggregators_table(rows));
    return;
  }
  auto env = make_envelope();
  env->mutable_aggregator_status_request();
  st.ep.request(self, st.cfg.consensus_node, "aggregator", env,
                std::chrono::seconds{2}, [self, req](const envelope* rep) {
                  if (rep == nullptr || !rep->has_aggregator_status_reply()) {
                    reply_result(self, *req,
                                 make_failure(sql::errc::timeout,
                                              "the voting aggregator did not "
                                              "answer SHOW AGGREGATORS"));
                    return;
                  }
                  reply_result(
                    self, *req,
                    aggregators_table(
                      rep->aggregator_status_reply().aggregators()));
                });
}

} // namespace lg
