#include "cluster/simulation.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <random>
#include <sstream>

#include "sql/result_proto.hpp"
#include "actors/client/session.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "cluster/local_cluster.hpp"
#include "cluster/sim_observer.hpp"
#include "cluster/history_workload.hpp"
#include "cluster/workload.hpp"
#include "storage/vfs.hpp"

namespace lg {

namespace {

using sim::observer;

constexpr int64_t request_timeout_ms = 2000;
/// A write may take its request timeout plus one map fetch (whose own
/// timeout is 2 s plus a 100 ms long poll) before it must have an answer.
constexpr auto request_deadline = std::chrono::milliseconds{
  request_timeout_ms + 2100 + 100};

struct driver {
  const simulation_options& opts;
  local_cluster& cluster;
  storage::memory_vfs& fs;
  std::shared_ptr<observer> obs;
  std::mt19937_64 rng;
  std::map<std::string, uint64_t> injected;
  std::vector<std::string> leaves;
  std::set<std::string> killed;
  std::set<std::string> isolated;
  std::set<std::string> detached;
  std::set<std::string> cut_from_ma; // leaves whose link to the aggregator is cut
  std::set<std::string> disk_failed; // leaves whose instances' disk fails
  std::set<std::string> wipe_safe;   // killed while every copy was in sync
  bool sync_durability = false;      // the database fsyncs before it acks
  uint64_t random_faults_until = 0;
  // A cascading failure: this leaf is killed at step pending_kill_at.
  std::string pending_kill;
  uint64_t pending_kill_at = 0;
  bool load_balanced = false; // leaf_failover_fanout, switched by "fanout"
  // Voting aggregators (--aggregators): every address, those killed and
  // those cut off. One at a time, so that a majority always runs.
  std::vector<std::string> aggs;
  std::set<std::string> aggs_down;
  std::set<std::string> aggs_cut;
  time_point aggs_paused_until{};
  std::pair<std::string, std::string> aggs_link_cut; // two voting aggregators

  /// The voting aggregator that runs the master aggregator ("" if none).
  std::string master_aggregator() {
    auto rs = cluster.execute("SHOW AGGREGATORS");
    for (auto& row : rs.rows())
      if (row.cells_size() > 3 && row.cells(3) == "1")
        return row.cells(0) + ":" + row.cells(1);
    return {};
  }

  bool enabled(const std::string& fault) const {
    // Faults on voting aggregators need some.
    if (fault.rfind("agg-", 0) == 0 && opts.aggregators < 2)
      return false;
    if (opts.faults.empty())
      return !opt_in_fault(fault);
    return opts.faults.count(fault) > 0;
  }

  uint64_t pick(uint64_t n) {
    return std::uniform_int_distribution<uint64_t>{0, n - 1}(rng);
  }

  std::string leaf_dir(const std::string& addr) const {
    auto dir = addr;
    std::replace(dir.begin(), dir.end(), ':', '_');
    return "/sim/leaves/" + dir;
  }

  std::string quoted(const std::string& addr) const {
    auto colon = addr.rfind(':');
    return "'" + addr.substr(0, colon) + "':" + addr.substr(colon + 1);
  }

  /// The pair of `addr` in a 4-leaf redundancy-2 cluster.
  std::string pair_of(const std::string& addr) const {
    auto i = std::find(leaves.begin(), leaves.end(), addr) - leaves.begin();
    return leaves[static_cast<size_t>(i ^ 1)];
  }

  bool healthy(const std::string& addr) const {
    return killed.count(addr) == 0 && isolated.count(addr) == 0;
  }

  size_t troubled() const {
    return killed.size() + isolated.size() + detached.size()
           + cut_from_ma.size() + disk_failed.size();
  }

  /// Every partition has its replica in sync: losing any one leaf (and its
  /// disk) then loses no acknowledged write.
  bool all_in_sync() {
    auto rs = cluster.execute("CHECK PARTITIONS ON sim");
    if (rs.error_code() != 0 || rs.rows_size() == 0)
      return false;
    for (auto& row : rs.rows())
      if (row.cells(3) != "Orphan" && row.cells(7) != "in_sync")
        return false;
    return true;
  }

  /// The failed disk of `addr` works again; the leaf restarts, so that its
  /// failed instances open again and catch up or are rebuilt.
  void replace_disk(std::string addr) {
    fs.clear_write_failures();
    disk_failed.erase(addr);
    cluster.kill_leaf(addr);
    cluster.restart_leaf(addr);
  }

  /// Counts an injected fault and logs it (--log-level info), with its target.
  void count(const std::string& fault, const std::string& target = {}) {
    ++injected[fault];
    logger("sim")->info("FaultInjected {}{}{} (killed {}, isolated {})",
                        fault, target.empty() ? "" : " on ", target,
                        killed.size(), isolated.size());
  }

  /// The whole cluster loses power at once: every leaf's unsynced bytes are
  /// lost (a torn write may survive), and every leaf starts again. Only a
  /// SYNC-durability database promises to survive it. When every copy was
  /// in sync, one copy's log is also damaged at a random place: its pair
  /// holds every acknowledged write, and must be the copy that serves.
  void power_loss() {
    if (!sync_durability)
      return;
    bool damage = troubled() == 0 && pick(2) == 0 && all_in_sync();
    // Every leaf goes at the same instant: killed one by one, with the
    // cluster drained after each, the aggregator could hear a master answer
    // after its replica died, and rightly record the replica out of sync;
    // damaging that master's log then loses the partition, which a real
    // power loss (no leaf answers after the first one dies) never does.
    for (auto& l : leaves)
      if (killed.count(l) == 0)
        cluster.transport().faults().mark_down(l);
    std::vector<std::string> lost;
    for (auto& l : leaves)
      if (killed.count(l) == 0) {
        cluster.kill_leaf(l);
        lost.push_back(l);
      }
    for (auto& l : leaves)
      fs.crash(leaf_dir(l), pick(2) == 0 ? 0 : 1 + pick(64));
    if (damage) {
      auto victim = leaves[pick(leaves.size())];
      std::vector<std::string> logs;
      for (auto& [path, file] : fs.files())
        if (path.rfind(leaf_dir(victim) + "/instances/", 0) == 0
            && path.find("/wal.") != std::string::npos
            && !file->data.empty())
          logs.push_back(path);
      if (!logs.empty()) {
        auto path = logs[pick(logs.size())];
        fs.corrupt(path, pick(fs.files()[path]->data.size()));
        count("power+corrupt");
      }
    }
    for (auto& l : lost)
      cluster.restart_leaf(l);
    count("power");
  }

  /// Picks a random applicable fault among the enabled ones and injects it.
  void inject(uint64_t step) {
    std::vector<std::string> options;
    for (auto& f : all_faults())
      if (enabled(f))
        options.push_back(f);
    if (options.empty())
      return;
    auto fault = options[pick(options.size())];
    std::vector<std::string> running;
    std::vector<std::string> down;
    for (auto& l : leaves)
      (killed.count(l) > 0 ? down : running).push_back(l);
    if (fault == "power") {
      power_loss();
      return;
    }
    if (fault == "bounce") {
      // The process crashes and its supervisor starts it again at once,
      // before the aggregator can notice: its masters open from disk and go
      // on, and the retries of the writes they took before arrive there.
      std::vector<std::string> candidates;
      for (auto& l : running)
        if (healthy(l) && disk_failed.count(l) == 0)
          candidates.push_back(l);
      if (candidates.empty())
        return;
      auto victim = candidates[pick(candidates.size())];
      cluster.kill_leaf(victim);
      cluster.restart_leaf(victim);
      count(fault, victim);
      return;
    }
    if (fault == "kill" || fault == "isolate" || fault == "cut"
        || fault == "disk") {
      // At most two leaves in trouble at once. A second failure may take
      // partitions offline (and must then lose nothing); a disk is only
      // wiped when its leaf went down while every copy was in sync, so that
      // wiping it loses no acknowledged write by design.
      if (troubled() > 1)
        return;
      bool safe = troubled() == 0 && all_in_sync();
      std::vector<std::string> candidates;
      for (auto& l : running)
        if (healthy(l) && detached.count(l) == 0 && cut_from_ma.count(l) == 0
            && disk_failed.count(l) == 0)
          candidates.push_back(l);
      if (candidates.empty())
        return;
      auto victim = candidates[pick(candidates.size())];
      if (fault == "kill") {
        cluster.kill_leaf(victim);
        killed.insert(victim);
        if (safe)
          wipe_safe.insert(victim);
      } else if (fault == "isolate") {
        cluster.isolate_leaf(victim);
        isolated.insert(victim);
      } else if (fault == "disk") {
        // Its disk fills up: every write and fsync of its instances fails
        // from now on, while the leaf itself answers heartbeats.
        fs.fail_writes(leaf_dir(victim) + "/instances",
                       "No space left on device");
        disk_failed.insert(victim);
      } else {
        // A partial partition: the leaf still reaches its pair and the
        // clients, but not the aggregator.
        cluster.transport().faults().cut_link(victim, "ma");
        cut_from_ma.insert(victim);
      }
      count(fault, victim);
    } else if (fault == "restart" || fault == "destroy" || fault == "crash"
               || fault == "torn" || fault == "corrupt") {
      if (down.empty())
        return;
      auto victim = down[pick(down.size())];
      if (fault != "restart" && wipe_safe.count(victim) == 0)
        return; // it may hold the only copy of acknowledged writes
      if (fault == "restart") {
        cluster.restart_leaf(victim);
        killed.erase(victim);
        wipe_safe.erase(victim);
      } else if (fault == "destroy") {
        cluster.destroy_leaf(victim);
      } else if (fault == "crash" || fault == "torn") {
        // The machine went down with the process: unsynced bytes are lost,
        // or (torn) part of the last unsynced write survives.
        fs.crash(leaf_dir(victim), fault == "torn" ? 1 + pick(64) : 0);
      } else {
        std::vector<std::string> files;
        for (auto& [path, file] : fs.files())
          if (path.rfind(leaf_dir(victim) + "/instances/", 0) == 0
              && !file->data.empty())
            files.push_back(path);
        if (files.empty())
          return;
        auto path = files[pick(files.size())];
        fs.corrupt(path, pick(fs.files()[path]->data.size()));
      }
      count(fault, victim);
    } else if (fault == "cascade") {
      // A rolling failure: a dead leaf comes back and, while its copies are
      // still catching up (not in sync), its pair dies. Only in-sync copies
      // may be promoted, so the pair's partitions must go offline rather
      // than lose acknowledged writes.
      if (!pending_kill.empty() || troubled() != 1 || killed.size() != 1)
        return;
      auto back = *killed.begin();
      auto pair = pair_of(back);
      if (!healthy(pair) || detached.count(pair) > 0
          || cut_from_ma.count(pair) > 0)
        return;
      cluster.restart_leaf(back);
      killed.erase(back);
      wipe_safe.erase(back);
      pending_kill = pair;
      pending_kill_at = step + 1 + pick(400);
      count(fault, back);
    } else if (fault == "heal") {
      if (!isolated.empty()) {
        auto victim = *isolated.begin();
        cluster.heal_leaf(victim);
        isolated.erase(victim);
      } else if (!cut_from_ma.empty()) {
        auto victim = *cut_from_ma.begin();
        cluster.transport().faults().heal_link(victim, "ma");
        cut_from_ma.erase(victim);
      } else if (!disk_failed.empty()) {
        replace_disk(*disk_failed.begin());
      } else {
        return;
      }
      count(fault);
    } else if (fault == "drop" || fault == "delay") {
      cluster.transport().faults().set_random_faults(
        fault == "drop" ? 0.01 : 0.0, fault == "delay" ? 0.05 : 0.0,
        std::chrono::milliseconds{20}, rng());
      random_faults_until = step + 2000;
      count(fault);
    } else if (fault == "duplicate" || fault == "stall") {
      // Messages held back past every protocol timeout (up to five failure
      // timeouts), or delivered twice, the copy up to as late.
      cluster.transport().faults().set_random_faults(
        0.0, fault == "stall" ? 0.002 : 0.0, std::chrono::milliseconds{1500},
        rng(), fault == "duplicate" ? 0.05 : 0.0);
      random_faults_until = step + 2000;
      count(fault);
    } else if (fault.rfind("agg-", 0) == 0) {
      // A voting aggregator crashes (the master aggregator with it, when it
      // leads), comes back from its disk, is cut off, or heals.
      bool trouble = !aggs_down.empty() || !aggs_cut.empty()
                     || !aggs_link_cut.first.empty()
                     || cluster.now() < aggs_paused_until;
      if (fault == "agg-kill" && !trouble) {
        auto victim = aggs[pick(aggs.size())];
        cluster.kill_aggregator(victim);
        aggs_down.insert(victim);
        count(fault, victim);
      } else if (fault == "agg-restart" && !aggs_down.empty()) {
        auto back = *aggs_down.begin();
        cluster.restart_aggregator_at(back);
        aggs_down.erase(back);
        count(fault, back);
      } else if (fault == "agg-isolate" && !trouble) {
        auto victim = aggs[pick(aggs.size())];
        cluster.isolate_aggregator(victim);
        aggs_cut.insert(victim);
        count(fault, victim);
      } else if (fault == "agg-pause" && !trouble) {
        // The master aggregator's process stops (SIGSTOP) and resumes: what
        // it sent meanwhile arrives after another has taken over.
        auto victim = master_aggregator();
        if (victim.empty())
          victim = aggs[pick(aggs.size())];
        auto how_long = std::chrono::milliseconds{1500 + pick(2001)};
        cluster.pause_aggregator(victim, how_long);
        aggs_paused_until = cluster.now() + how_long;
        count(fault, victim);
      } else if (fault == "agg-cut" && !trouble && aggs.size() >= 3) {
        // A partial partition between two voting aggregators: each still
        // reaches the third, and every leaf.
        auto a = pick(aggs.size());
        auto b = (a + 1 + pick(aggs.size() - 1)) % aggs.size();
        cluster.transport().faults().cut_link(aggs[a], aggs[b]);
        aggs_link_cut = {aggs[a], aggs[b]};
        count(fault, aggs[a] + "-" + aggs[b]);
      } else if (fault == "agg-heal" && !aggs_link_cut.first.empty()) {
        cluster.transport().faults().heal_link(aggs_link_cut.first,
                                               aggs_link_cut.second);
        count(fault, aggs_link_cut.first + "-" + aggs_link_cut.second);
        aggs_link_cut = {};
      } else if (fault == "agg-heal" && !aggs_cut.empty()) {
        auto back = *aggs_cut.begin();
        cluster.heal_aggregator(back);
        aggs_cut.erase(back);
        count(fault, back);
      }
    } else if (fault == "aggregator") {
      if (!aggs.empty())
        return; // with voting aggregators: the agg- faults
      // The aggregator crashes at any step of whatever it was doing (a
      // failover, an attach, a rebalance) and starts again from its data
      // dir.
      cluster.restart_aggregator();
      count(fault);
    } else if (fault == "detach") {
      if (troubled() > 0 || !all_in_sync())
        return;
      auto victim = running[pick(running.size())];
      if (cluster.execute("DETACH LEAF " + quoted(victim)).error_code() == 0)
        detached.insert(victim);
      count(fault);
    } else if (fault == "rebalance") {
      // An operator reshapes the cluster in the middle of it all; it may
      // refuse (a leaf is down) or stop half-way, but must lose nothing.
      cluster.execute("REBALANCE PARTITIONS ON sim");
      count(fault);
    } else if (fault == "fanout") {
      // An operator switches leaf_failover_fanout and converts the database
      // (replicas move to or off their masters' pairs) in the middle of it
      // all; it may refuse (a leaf is down) or stop half-way.
      load_balanced = !load_balanced;
      cluster.execute(std::string{"SET GLOBAL leaf_failover_fanout = '"}
                      + (load_balanced ? "load_balanced" : "paired") + "'");
      cluster.execute("REBALANCE PARTITIONS ON sim");
      count(fault);
    } else if (fault == "attach") {
      if (cluster.execute("ATTACH LEAF ALL").error_code() == 0)
        detached.clear();
      count(fault);
    }
  }
};

/// Keys of the history workload: few, so that each is written often.
constexpr int history_keys = 8;

/// Reads every key of the history once more now that faults stopped (so a
/// lost write shows as a read of an older value), and checks the whole
/// history; returns what is wrong, or "".
std::string check_history_of(local_cluster& cluster, history_record& history,
                             check::verdict& v) {
  for (int i = 0; i < history_keys; ++i) {
    check::operation op;
    op.client = 0;
    op.kind = check::op_kind::get;
    op.key = history_key(i);
    op.invoked = history_time(cluster.now());
    auto rs = cluster.execute("SELECT * FROM sim WHERE key = '" + op.key
                              + "'");
    op.completed = history_time(cluster.now());
    if (rs.error_code() != 0)
      return "every key is readable once faults stop: " + render(rs);
    for (auto& row : rs.rows())
      if (row.cells_size() >= 2 && row.cells(0) == op.key)
        op.value = row.cells(1);
    history.ops.push_back(std::move(op));
  }
  v = check::check_history(history.ops, std::chrono::seconds{60});
  if (v.result == check::verdict_kind::linearizable)
    return {};
  return "the history is linearizable (no acknowledged write lost, no "
         "stale read):\n"
         + check::describe(v, history.ops);
}

std::string fail(simulation_result& r, observer& obs,
                 const simulation_options& opts, const std::string& why) {
  r.passed = false;
  r.failure = why;
  r.trace_path = opts.trace_dir + "/leafguard-sim-" + std::to_string(opts.seed)
                 + ".trace";
  if (!obs.dump(r.trace_path))
    r.trace_path += " (could not be written)";
  return "result: FAIL: " + why + "\ntrace of the last messages: "
         + r.trace_path + "\n";
}

} // namespace

const std::vector<std::string>& all_faults() {
  static const std::vector<std::string> faults{
    "kill",  "restart", "destroy", "isolate", "cut",    "heal",  "drop",
    "delay", "crash",   "torn",    "corrupt", "detach", "attach",
    "cascade", "rebalance", "disk", "duplicate", "stall", "aggregator",
    "bounce", "power", "fanout", "agg-kill", "agg-restart", "agg-isolate",
    "agg-heal", "agg-pause", "agg-cut"};
  return faults;
}

bool opt_in_fault(const std::string& fault) {
  // Runs only when named, so that the seeds of runs with every other fault
  // keep their course.
  return fault == "fanout";
}

simulation_result run_simulation(const simulation_options& opts) {
  auto wall0 = std::chrono::steady_clock::now();
  simulation_result result;
  std::map<std::string, uint64_t> probes_before;
  for (auto& [name, probe] : all_probes())
    probes_before[name] = probe->count();
  auto fs = std::make_shared<storage::memory_vfs>();
  local_cluster_options lo;
  lo.leaves = 4;
  lo.aggregators = opts.aggregators;
  lo.redundancy = 2;
  lo.simulate = true;
  lo.seed = opts.seed;
  lo.data_dir = "/sim";
  lo.session_request_timeout_ms = request_timeout_ms;
  lo.fs = fs;
  lo.sim_job_cost = std::chrono::microseconds{100};
  // Small logs: checkpoints (seal, fold, swap) happen throughout a run and
  // meet every fault, rebuilds and restarts included.
  lo.checkpoint_log_bytes = 16 * 1024;
  local_cluster cluster{lo};
  std::ostringstream out;
  out << "leafguard simulate: seed " << opts.seed << ", " << opts.steps
      << " steps with faults";
  if (!opts.faults.empty()) {
    out << " (";
    bool first = true;
    for (auto& f : opts.faults) {
      out << (first ? "" : ",") << f;
      first = false;
    }
    out << ")";
  }
  out << "\n";
  if (cluster.startup_error()) {
    result.failure = cluster.startup_error().to_string();
    result.report = out.str() + "result: FAIL: " + result.failure + "\n";
    return result;
  }
  auto obs = std::make_shared<observer>();
  cluster.transport().set_trace_sink(obs);
  driver d{opts, cluster, *fs, obs, std::mt19937_64{opts.seed}, {}, {}, {}, {},
           {}, {}, {}, {}, false, 0, {}, 0};
  d.leaves = cluster.leaf_addresses();
  d.aggs = cluster.aggregator_addresses();
  // Even seeds run a SYNC-durability database, which must also survive the
  // whole cluster losing power; odd seeds an ASYNC one, which must survive
  // any crash that leaves one copy's machine running.
  d.sync_durability = opts.seed % 2 == 0;
  if (opts.aggregators > 1)
    out << "aggregators: " << opts.aggregators
        << " voting, electing the master aggregator\n";
  if (opts.users)
    out << "users: sim_reader with SELECT on sim, checked once faults stop\n";
  out << "database: 8 partitions, redundancy 2, "
      << (d.sync_durability ? "SYNC" : "ASYNC") << " durability\n";
  std::string create = std::string{"CREATE DATABASE sim PARTITIONS 8"}
                       + (d.sync_durability ? " WITH SYNC DURABILITY" : "");
  for (const char* stmt : {"SET GLOBAL leaf_heartbeat_interval_ms = 50",
                           "SET GLOBAL leaf_failure_timeout_ms = 300",
                           "SET GLOBAL sync_replication_timeout_ms = 300",
                           "SET GLOBAL request_timeout_ms = 2000",
                           create.c_str(),
                           opts.users ? "CREATE USER 'sim_reader'@'%' "
                                        "IDENTIFIED BY 'pw'"
                                      : "SHOW DATABASES",
                           opts.users ? "GRANT SELECT ON sim.* TO "
                                        "'sim_reader'@'%'"
                                      : "SHOW DATABASES"}) {
    if (!opts.users && std::string_view{stmt} == "SHOW DATABASES")
      continue; // the run's course stays what it was without users
    auto rs = cluster.execute(stmt);
    if (rs.error_code() != 0) {
      result.report = out.str() + fail(result, *obs, opts,
                                       std::string{"set-up: "} + stmt + ": "
                                         + render(rs));
      return result;
    }
  }
  // Two clients, each with its own session and partition map: after a
  // failover one may still write to the deposed master while the other
  // writes to the new one, which is what the term fences are for.
  auto record = std::make_shared<workload_record>();
  workload_config wc;
  wc.fab = cluster.transport_ptr();
  wc.database = "sim";
  wc.streams = 4;
  wc.record = record;
  auto workload = spawn_workload(cluster.system(), wc);
  session_config sc;
  sc.fab = cluster.transport_ptr();
  sc.node = "local";
  sc.name = "session/2";
  sc.client_id = 2;
  sc.request_timeout_ms = request_timeout_ms;
  auto session2 = spawn_session(cluster.system(), sc);
  auto record2 = std::make_shared<workload_record>();
  auto wc2 = wc;
  wc2.session = "session/2";
  wc2.key_prefix = "c2k";
  wc2.streams = 2;
  wc2.record = record2;
  auto workload2 = spawn_workload(cluster.system(), wc2);
  // Four clients, two per session, upsert, delete and read a small key
  // space; their history is held to linearizability at the end.
  auto history = std::make_shared<history_record>();
  history_config hc;
  hc.fab = cluster.transport_ptr();
  hc.clients = {"session/1", "session/1", "session/2", "session/2"};
  hc.database = "sim";
  hc.keys = history_keys;
  hc.seed = opts.seed;
  hc.record = history;
  auto history_clients = spawn_history_workload(cluster.system(), hc);
  auto t0 = cluster.now();
  auto first_job = cluster.jobs_run();
  std::string broken;
  uint64_t checks_deadline = 0;
  // Faults on: one injection every 1500 jobs on average.
  while (broken.empty() && cluster.jobs_run() - first_job < opts.steps) {
    auto step = cluster.jobs_run() - first_job;
    if (d.pick(1500) == 0)
      d.inject(step);
    if (!d.pending_kill.empty() && step >= d.pending_kill_at) {
      if (d.healthy(d.pending_kill) && d.troubled() == 0) {
        cluster.kill_leaf(d.pending_kill);
        d.killed.insert(d.pending_kill);
      }
      d.pending_kill.clear();
    }
    if (d.random_faults_until != 0 && step >= d.random_faults_until) {
      cluster.transport().faults().clear_random_faults();
      d.random_faults_until = 0;
    }
    if (!cluster.step())
      break;
    ++checks_deadline;
    for (auto* r : {record.get(), record2.get()})
      if (r->longest > request_deadline && broken.empty())
        broken = "no request outlives its timeout: the write of "
                 + r->longest_key + " took "
                 + std::to_string(std::chrono::duration_cast<
                                    std::chrono::milliseconds>(r->longest)
                                    .count())
                 + " ms";
    if (broken.empty() && !obs->violation.empty())
      broken = obs->violation;
  }
  auto steps_with_faults = cluster.jobs_run() - first_job;
  // Quiesce: every fault stops; the cluster must converge with nothing lost.
  cluster.transport().faults().clear_random_faults();
  for (auto& l : std::set<std::string>(d.isolated))
    cluster.heal_leaf(l);
  for (auto& l : std::set<std::string>(d.cut_from_ma))
    cluster.transport().faults().heal_link(l, "ma");
  for (auto& l : std::set<std::string>(d.killed))
    cluster.restart_leaf(l);
  for (auto& l : std::set<std::string>(d.disk_failed))
    d.replace_disk(l);
  for (auto& a : std::set<std::string>(d.aggs_cut))
    cluster.heal_aggregator(a);
  if (!d.aggs_link_cut.first.empty())
    cluster.transport().faults().heal_link(d.aggs_link_cut.first,
                                           d.aggs_link_cut.second);
  for (auto& a : std::set<std::string>(d.aggs_down))
    cluster.restart_aggregator_at(a);
  if (cluster.now() < d.aggs_paused_until)
    cluster.sleep(std::chrono::duration_cast<std::chrono::milliseconds>(
      d.aggs_paused_until - cluster.now()));
  if (!d.aggs.empty()
      && !cluster.wait_for_master(std::chrono::seconds{10}))
    broken = "no master aggregator was elected within 10 s of the faults "
             "ending";
  cluster.sleep(std::chrono::milliseconds{1000});
  // An operator attaches what is detached, and runs it again when the
  // master aggregator changed under it (the outcome was unknown).
  for (int i = 0; i < 5; ++i)
    if (cluster.execute("ATTACH LEAF ALL").error_code() == 0)
      break;
  stop_workload(workload);
  stop_workload(workload2);
  stop_history_workload(history_clients);
  if (broken.empty()
      && !cluster.run_until(
        [&] {
          return record->stopped && record2->stopped && history->stopped;
        },
        std::chrono::seconds{60}))
    broken = "the workload did not finish within 60 s of the faults ending";
  uint64_t converged = 0;
  if (broken.empty()) {
    auto in_sync = [&] {
      auto rs = cluster.execute("CHECK PARTITIONS ON sim");
      std::map<std::string, std::string> sums;
      for (auto& row : rs.rows()) {
        if (row.cells(3) == "Orphan")
          continue;
        if (row.cells(7) != "in_sync")
          return false;
        auto& sum = sums[row.cells(0)];
        if (!sum.empty() && sum != row.cells(6))
          return false;
        sum = row.cells(6);
      }
      converged = sums.size();
      return true;
    };
    if (!cluster.run_until(in_sync, std::chrono::seconds{60}))
      broken = "replicas converge to their master's checksum once faults "
               "stop:\n"
               + render(cluster.execute("CHECK PARTITIONS ON sim"));
  }
  uint64_t keys_checked = 0;
  if (broken.empty()) {
    auto rs = cluster.execute("SELECT * FROM sim");
    if (rs.error_code() != 0) {
      broken = "every partition is readable once faults stop: " + render(rs);
    } else {
      std::map<std::string, std::string> stored;
      for (auto& row : rs.rows())
        stored[row.cells(0)] = row.cells(1);
      auto acked = record->acked;
      acked.insert(record2->acked.begin(), record2->acked.end());
      for (auto& [key, value] : acked) {
        ++keys_checked;
        auto i = stored.find(key);
        if (i == stored.end() || i->second != value) {
          broken = "no acknowledged write is lost: " + key + " was "
                   "acknowledged as '" + value + "' but reads as "
                   + (i == stored.end() ? std::string{"missing"}
                                        : "'" + i->second + "'");
          break;
        }
      }
    }
  }
  if (broken.empty() && opts.users) {
    // The users live in the aggregators' metadata: every restart and
    // election of a master aggregator must keep them.
    auto rs = cluster.execute("SHOW GRANTS FOR 'sim_reader'");
    bool kept = false;
    for (auto& row : rs.rows())
      kept = kept
             || row.cells(0) == "GRANT SELECT ON `sim`.* TO 'sim_reader'@'%'";
    if (!kept)
      broken = "users and their grants survive every fault: SHOW GRANTS "
               "FOR 'sim_reader' gives\n" + render(rs);
  }
  check::verdict lin;
  if (broken.empty())
    broken = check_history_of(cluster, *history, lin);
  if (broken.empty() && !obs->violation.empty())
    broken = obs->violation;
  auto virtual_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      cluster.now() - t0)
                      .count();
  result.steps = cluster.jobs_run() - first_job;
  out << "steps: " << steps_with_faults << " with faults, " << result.steps
      << " in all; virtual time " << virtual_ms << " ms\n";
  out << "faults injected:";
  if (d.injected.empty())
    out << " none";
  for (auto& [f, n] : d.injected)
    out << " " << f << "=" << n;
  out << "\n";
  out << "writes (2 clients): "
      << record->acked.size() + record2->acked.size() << " acknowledged, "
      << record->failed.size() + record2->failed.size() << " failed, "
      << record->issued + record2->issued << " issued\n";
  out << "invariants checked: one master per partition per term ("
      << obs->checks_one_master << " acknowledgements), no acknowledgement "
         "past a promotion ("
      << obs->checks_fencing << "), orphans never served ("
      << obs->checks_orphan << " answers), aggregator fence ("
      << obs->checks_aggregator_fence << " orders admitted), one master "
         "aggregator per term and metadata only forward ("
      << obs->checks_aggregator_terms << " proposals and commits), request "
         "deadlines ("
      << checks_deadline << " steps, longest write "
      << std::chrono::duration_cast<std::chrono::milliseconds>(
           std::max(record->longest, record2->longest))
           .count()
      << " ms), acknowledged writes kept (" << keys_checked
      << " keys), replicas converged (" << converged << " partitions)\n";
  out << "history: " << history->ops.size() << " operations by "
      << hc.clients.size() << " clients on " << history_keys
      << " keys, " << lin.operations_checked << " checked for "
         "linearizability\n";
  out << "rare paths reached:";
  bool any = false;
  for (auto& [name, probe] : all_probes()) {
    auto n = probe->count() - probes_before[name];
    if (n > 0) {
      out << " " << name << "=" << n;
      any = true;
    }
  }
  out << (any ? "\n" : " none\n");
  if (broken.empty()) {
    result.passed = true;
    out << "result: PASS\n";
  } else {
    out << fail(result, *obs, opts, broken);
  }
  result.report = out.str();
  caf::anon_send_exit(session2, caf::exit_reason::user_shutdown);
  cluster.transport().set_trace_sink(nullptr);
  result.wall_seconds = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - wall0)
                          .count();
  return result;
}

} // namespace lg
