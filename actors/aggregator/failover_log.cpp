// The record of failovers, and the metrics the master aggregator decides:
// SHOW FAILOVERS, the cluster page's timeline and /metrics.
//
//   1. A leaf declared offline opens a record: when, why, and how long it
//      had been silent (since its last heartbeat answer).
//   2. Each promotion the failover decides (at once, or held until the
//      replica answers a heartbeat) is expected by the record; each
//      partition left with no master is counted offline.
//   3. Each promotion sent marks the record's "promoted" time; each one
//      acknowledged counts, and the last one marks it writable: its
//      duration, from detection to every new master serving, goes into
//      leafguard_failover_duration_seconds.
//   4. After every metadata change the aggregator sets the gauges of
//      partitions and leaves by state.
//
// Kafka: OfflinePartitionsCount and UnderReplicatedPartitions, reported
// by the active controller; SingleStore: the MV_EVENTS of node failures.
#include <algorithm>
#include <cstdio>

#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"

namespace lg {

namespace {

/// How many failovers SHOW FAILOVERS keeps.
constexpr size_t kept_failovers = 32;

failover_record* find_failover(master_aggregator_state& st, uint64_t id) {
  for (auto& f : st.failovers)
    if (f.id == id)
      return &f;
  return nullptr;
}

int64_t ms_between(time_point from, time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from)
    .count();
}

/// The failover's status: running, done, or incomplete (a promotion failed
/// or a partition stayed offline).
std::string status_of(const failover_record& f) {
  if (f.failed)
    return "incomplete";
  if (f.promoted < f.promotions)
    return "running";
  return f.offline > 0 ? "incomplete" : "done";
}

} // namespace

uint64_t open_failover(ma_self self, const std::string& leaf,
                       const std::string& why) {
  auto& st = self->state;
  failover_record f;
  f.id = st.next_failover_id++;
  f.leaf = leaf;
  f.reason = why;
  f.detected = self->clock().now();
  f.detected_wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  auto rt = st.runtime.find(leaf);
  if (rt != st.runtime.end() && rt->second.last_reply != time_point{})
    f.silent = std::chrono::duration_cast<std::chrono::milliseconds>(
      f.detected - rt->second.last_reply);
  st.failovers.push_back(std::move(f));
  while (st.failovers.size() > kept_failovers)
    st.failovers.pop_front();
  if (auto* reg = st.cfg.fab->metrics())
    reg
      ->get_counter("leafguard_failovers_total",
                    "Leaves declared offline by the master aggregator, each "
                    "failing over its partitions.")
      .add();
  return st.failovers.back().id;
}

void failover_expects(ma_self self, uint64_t id, const std::string& label) {
  auto& st = self->state;
  auto* f = find_failover(st, id);
  if (f == nullptr)
    return;
  ++f->promotions;
  // A newer failover of the same partition overtakes the older one.
  auto old = st.failover_of.find(label);
  if (old != st.failover_of.end() && old->second != id)
    if (auto* prev = find_failover(st, old->second))
      prev->failed = true;
  st.failover_of[label] = id;
}

void failover_offline(ma_self self, uint64_t id) {
  if (auto* f = find_failover(self->state, id))
    ++f->offline;
}

void failover_ordered(ma_self self, const std::string& label) {
  auto& st = self->state;
  auto i = st.failover_of.find(label);
  if (i == st.failover_of.end())
    return;
  if (auto* f = find_failover(st, i->second))
    f->ordered_at = self->clock().now();
}

void failover_promoted(ma_self self, const std::string& label, bool ok) {
  auto& st = self->state;
  auto i = st.failover_of.find(label);
  if (i == st.failover_of.end())
    return;
  auto* f = find_failover(st, i->second);
  st.failover_of.erase(i);
  if (f == nullptr)
    return;
  if (!ok) {
    f->failed = true;
    return;
  }
  if (++f->promoted < f->promotions)
    return;
  f->writable_at = self->clock().now();
  if (auto* reg = st.cfg.fab->metrics())
    reg
      ->get_histogram("leafguard_failover_duration_seconds",
                      "From a leaf declared offline to every partition it "
                      "mastered writable on its new master.",
                      metrics::duration_bounds())
      .observe(*f->writable_at - f->detected);
}

void exec_show_failovers(ma_self self, envelope_ptr req) {
  auto& st = self->state;
  std::vector<std::vector<std::string>> rows;
  auto trace = st.cfg.fab->trace_name();
  for (auto i = st.failovers.rbegin(); i != st.failovers.rend(); ++i) {
    auto& f = *i;
    auto hp = split_address(f.leaf);
    auto ms = [&](const std::optional<time_point>& t) {
      return t ? std::to_string(ms_between(f.detected, *t))
               : std::string{"NULL"};
    };
    std::string command = "NULL";
    if (!trace.empty()) {
      // The messages of the failover: from a little before the leaf's last
      // answer to a little after the last promotion was acknowledged.
      auto us = [](time_point t) {
        return std::chrono::duration_cast<std::chrono::microseconds>(
                 t.time_since_epoch())
          .count();
      };
      auto from = f.detected - (f.silent ? *f.silent : std::chrono::seconds{1})
                  - std::chrono::milliseconds{100};
      auto to = (f.writable_at ? *f.writable_at : self->clock().now())
                + std::chrono::milliseconds{100};
      command = "leafguard trace " + trace + " --since-us "
                + std::to_string(us(from)) + " --until-us "
                + std::to_string(us(to));
    }
    rows.push_back({hp.first, hp.second, f.reason,
                    std::to_string(f.detected_wall_ms),
                    f.silent ? std::to_string(f.silent->count()) : "NULL",
                    ms(f.ordered_at), ms(f.writable_at),
                    std::to_string(f.promotions), std::to_string(f.offline),
                    status_of(f), command});
  }
  reply_result(self, *req,
               make_table({"Host", "Port", "Reason", "Detected_At_Ms",
                           "Silent_Ms", "Promoted_Ms", "Writable_Ms",
                           "Promotions", "Offline_Partitions", "Status",
                           "Trace_Command"},
                          rows));
}

void publish_metadata_metrics(ma_self self) {
  auto& st = self->state;
  auto* reg = st.cfg.fab->metrics();
  if (reg == nullptr)
    return;
  int64_t online = 0;
  int64_t offline = 0;
  int64_t under = 0;
  int64_t orphans = 0;
  auto copies_wanted = std::max(1, st.meta.globals().redundancy_level());
  for (auto& db : st.meta.databases())
    for (auto& part : db.parts()) {
      int serving = 0;
      bool master_up = false;
      for (auto& inst : part.instances()) {
        if (inst.role() == pb::ORPHAN) {
          ++orphans;
          continue;
        }
        bool up = st.meta.leaf_online(inst.leaf());
        if (inst.role() == pb::MASTER && up)
          master_up = true;
        if (up && (inst.role() == pb::MASTER || inst.in_sync()))
          ++serving;
      }
      if (part.offline() || !master_up)
        ++offline;
      else if (serving < copies_wanted)
        ++under;
      else
        ++online;
    }
  const char* parts_help = "Partitions by state: online (every copy in "
                           "sync), under_replicated (a master, fewer in-sync "
                           "copies than the redundancy), offline (no master); "
                           "orphan counts copies kept aside.";
  auto part_gauge = [&](const char* state, int64_t v) {
    reg->get_gauge("leafguard_partitions", parts_help, {{"state", state}})
      .set(v);
  };
  part_gauge("online", online);
  part_gauge("under_replicated", under);
  part_gauge("offline", offline);
  part_gauge("orphan", orphans);
  std::map<std::string, int64_t> leaves;
  for (auto s : {leaf_state::online, leaf_state::offline,
                 leaf_state::attaching, leaf_state::recovering,
                 leaf_state::detached})
    leaves[to_string(s)] = 0;
  for (auto& l : st.meta.leaves())
    ++leaves[to_string(state_of(l))];
  for (auto& [state, n] : leaves)
    reg
      ->get_gauge("leafguard_leaves", "Leaves by state.", {{"state", state}})
      .set(n);
  std::map<std::string, int64_t> steps;
  for (auto s : {job_status::running, job_status::success, job_status::failed,
                 job_status::superseded})
    steps[to_string(s)] = 0;
  for (auto& job : st.jobs)
    ++steps[to_string(job.status)];
  for (auto& [status, n] : steps)
    reg
      ->get_gauge("leafguard_rebalance_steps",
                  "Rebalance, attach and rebuild steps the master aggregator "
                  "keeps (its last ones), by status.",
                  {{"status", status}})
      .set(n);
}

} // namespace lg
