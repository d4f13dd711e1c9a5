// Benchmark: failover of the master aggregator, in one process, in real
// time. Three voting aggregators, four leaves (R2), 16 partitions, and
// writers keeping 4 x 64 writes in flight. At one moment the master
// aggregator's voting aggregator is killed (or cut off); measured:
//   - elected: until SHOW AGGREGATORS answers with another master;
//   - the writers' rate from the fault to the election, as a share of their
//     rate in the second before the fault and a second from 250 ms after
//     the election, averaged (all while this program asks SHOW AGGREGATORS every
//     5 ms, as it does to see the election).
// Then the new master aggregator and a leaf fail at one moment; measured:
//   - writable: until a write to every partition the killed leaf mastered
//     succeeds (so after the new master aggregator failed the leaf over).
// Beside each: the election timeout it ran with and the target for it.
//
//   aggregator_failover [ROUNDS] [--processes LEAFGUARD]
//
// With --processes the same runs across processes: 3 aggregator processes
// and 4 leaf processes on loopback, and this program a client node (its
// writers, and the statements it asks through its session, follow the
// master aggregator through the 3 aggregators' addresses); the faults are
// SIGKILL and SIGSTOP of the master aggregator's process. "elected" is then
// seen by the client, which learns of the new master aggregator by asking
// the aggregators every 200 ms; "in its log" is the new one's
// MasterAggregatorElected line, less the signal's time.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/load_writer.hpp"
#include "bench/processes.hpp"
#include "cluster/local_cluster.hpp"
#include "cluster/node.hpp"
#include "sql/result_proto.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
    .count();
}

void check(const lg::pb::ResultSet& rs, const std::string& what) {
  lg::bench::require_ok("aggregator_failover", rs, what);
}

/// The master aggregator in SHOW AGGREGATORS ("" when none answers).
template <class Cluster>
std::string master_of(Cluster& c) {
  auto rs = c.execute("SHOW AGGREGATORS");
  if (rs.error_code() != 0)
    return {};
  for (auto& row : rs.rows())
    if (row.cells(3) == "1")
      return row.cells(0) + ":" + row.cells(1);
  return {};
}

std::string quoted(const std::string& addr) {
  auto colon = addr.rfind(':');
  return "'" + addr.substr(0, colon) + "':" + addr.substr(colon + 1);
}

struct result {
  double elected_ms = 0;
  double elected_log_ms = -1; ///< across processes: the election, from the logs
  double elected_with_leaf_ms = 0;
  double writable_ms = 0;
  double rate_share = 0;
  double rate_before = 0;
  double rate_after = 0;
};

/// Waits for SHOW AGGREGATORS to name a master other than `old`.
template <class Cluster>
std::string wait_for_new_master(Cluster& c, const std::string& old,
                                clock_type::time_point t0) {
  for (;;) {
    auto m = master_of(c);
    if (!m.empty() && m != old)
      return m;
    if (ms_since(t0) > 30000) {
      std::fprintf(stderr, "aggregator_failover: no new master in 30 s\n");
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

/// The writers' rate over `ms` while this program asks SHOW AGGREGATORS
/// every 5 ms, as it does during an election (wait_for_new_master).
template <class Cluster>
double rate_while_asking(Cluster& c, const lg::bench::writer_pool& pool,
                         double ms) {
  auto n0 = pool.acked();
  auto t0 = clock_type::now();
  while (ms_since(t0) < ms) {
    master_of(c);
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return static_cast<double>(pool.acked() - n0) / (ms_since(t0) / 1000.0);
}

/// The rate kept during the election: its rate against the mean of the
/// seconds before the fault and after the election (the machine's speed
/// drifts by tens of percent within seconds: one side alone would measure
/// the drift).
double share(double during, const result& r) {
  auto base = (r.rate_before + r.rate_after) / 2;
  return base > 0 ? during / base : 0;
}

/// The write load of a run: the probe INSERT with a row on each partition
/// the leaf at `leaf_port` masters, and writers already running, with
/// their rate over 2 s measured.
struct load {
  std::string probe;
  std::unique_ptr<lg::bench::writer_pool> pool;
  double rate_before = 0;
};

template <class Cluster>
load start_load(Cluster& c, const std::string& leaf_port, lg::fabric_ptr fab,
                caf::actor_system& sys) {
  constexpr uint32_t partitions = 16;
  std::vector<uint32_t> victims;
  auto parts = c.execute("SHOW PARTITIONS ON a");
  check(parts, "SHOW PARTITIONS");
  for (auto& row : parts.rows())
    if (row.cells(2) == leaf_port && row.cells(3) == "Master")
      victims.push_back(static_cast<uint32_t>(std::stoul(row.cells(0))));
  load out;
  out.probe = lg::bench::insert_one_row_each("a", victims, partitions);
  check(c.execute(out.probe), "warm-up INSERT");
  lg::bench::writer_pool::spec ws;
  ws.fab = std::move(fab);
  ws.sys = &sys;
  ws.database = "a";
  ws.writers = 4;
  ws.window = 64;
  out.pool = std::make_unique<lg::bench::writer_pool>(ws);
  std::this_thread::sleep_for(std::chrono::seconds{1});
  // Measured while this program asks SHOW AGGREGATORS as during an
  // election: the asking takes some CPU from the writers, and both windows
  // should pay it alike.
  out.rate_before = rate_while_asking(c, *out.pool, 1000);
  return out;
}

result run(bool kill) {
  lg::local_cluster_options opts;
  opts.leaves = 4;
  opts.redundancy = 2;
  opts.aggregators = 3;
  lg::local_cluster c{opts};
  if (c.startup_error()) {
    std::fprintf(stderr, "%s\n", c.startup_error().to_string().c_str());
    std::exit(1);
  }
  check(c.execute("CREATE DATABASE a PARTITIONS 16"), "CREATE DATABASE");
  auto l = start_load(c, "10001", c.transport_ptr(), c.system());
  auto& pool = *l.pool;
  auto& probe = l.probe;
  result r;
  r.rate_before = l.rate_before;
  // 1. The master aggregator alone fails: the election, and the write
  //    rate meanwhile (writes do not go through the aggregator).
  auto old = master_of(c);
  auto acked0 = pool.acked();
  auto t0 = clock_type::now();
  check(c.execute((kill ? "KILL AGGREGATOR " : "ISOLATE AGGREGATOR ")
                  + quoted(old)),
        "aggregator fault");
  auto now_master = wait_for_new_master(c, old, t0);
  r.elected_ms = ms_since(t0);
  auto during = pool.acked() - acked0;
  // From a moment after the election: the new master aggregator's first
  // work (its leaves' roles) is not counted as the baseline.
  std::this_thread::sleep_for(std::chrono::milliseconds{250});
  r.rate_after = rate_while_asking(c, pool, 1000);
  r.rate_share = share(static_cast<double>(during) / (r.elected_ms / 1000.0),
                       r);
  check(c.execute((kill ? "RESTART AGGREGATOR " : "HEAL AGGREGATOR ")
                  + quoted(old)),
        "aggregator back");
  std::this_thread::sleep_for(std::chrono::seconds{2});
  // 2. The new master aggregator and leaf 10001 fail at one moment: until
  //    every partition the leaf mastered takes writes again.
  auto t1 = clock_type::now();
  check(c.execute((kill ? "KILL AGGREGATOR " : "ISOLATE AGGREGATOR ")
                  + quoted(now_master)),
        "second aggregator fault");
  check(c.execute("KILL LEAF '127.0.0.1':10001"), "KILL LEAF");
  wait_for_new_master(c, now_master, t1);
  r.elected_with_leaf_ms = ms_since(t1);
  while (c.execute(probe).error_code() != 0)
    if (ms_since(t1) > 60000) {
      std::fprintf(stderr, "aggregator_failover: partitions not writable "
                           "in 60 s\n");
      std::exit(1);
    }
  r.writable_ms = ms_since(t1);
  pool.stop();
  return r;
}

/// A client node's statements, as local_cluster's: through its session,
/// with a short timeout so that a poll is not held by a stopped process.
struct client_node {
  lg::node_process node;
  lg::pb::ResultSet execute(const std::string& text) {
    return node.execute(text, std::chrono::seconds{2});
  }
};

/// The same runs across processes; `sig` is SIGKILL or SIGSTOP.
result run_processes(const std::string& leafguard, int sig, int base) {
  lg::bench::process_cluster c{"aggregator_failover"};
  c.start(leafguard, base, 2);
  c.sql("CREATE DATABASE a PARTITIONS 16");
  client_node client;
  lg::config::node_options co;
  co.role = "client";
  co.node_name = "bench"; // the writers' node (load_writer.cpp)
  co.ma_address = "127.0.0.1:" + std::to_string(c.base) + ",127.0.0.1:"
                  + std::to_string(c.aggregator_port(1)) + ",127.0.0.1:"
                  + std::to_string(c.aggregator_port(2));
  co.log_level = "warn";
  if (auto err = client.node.start(co))
    lg::bench::die("aggregator_failover", "client node: " + err.detail());
  auto l = start_load(client, std::to_string(c.port(1)),
                      client.node.transport(), client.node.system());
  auto& pool = *l.pool;
  auto& probe = l.probe;
  result r;
  r.rate_before = l.rate_before;
  auto port_of = [](const std::string& addr) {
    return std::stoi(addr.substr(addr.rfind(':') + 1));
  };
  // 1. The master aggregator's process alone.
  auto old = master_of(client);
  auto acked0 = pool.acked();
  std::vector<std::pair<std::string, size_t>> logs;
  for (auto name : {"ma", "agg1", "agg2"}) {
    auto path = c.dir + "/" + name + ".log";
    logs.emplace_back(path, lg::bench::file_size(path));
  }
  auto t0 = clock_type::now();
  auto t0_day = lg::bench::now_ms_of_day();
  c.signal_aggregator(port_of(old), sig);
  auto now_master = wait_for_new_master(client, old, t0);
  r.elected_ms = ms_since(t0);
  for (auto& [path, from] : logs)
    for (auto& line : lg::bench::log_lines(path, from,
                                           "MasterAggregatorElected"))
      r.elected_log_ms = static_cast<double>(lg::bench::log_ms(line) - t0_day);
  auto during = pool.acked() - acked0;
  std::this_thread::sleep_for(std::chrono::milliseconds{250});
  r.rate_after = rate_while_asking(client, pool, 1000);
  r.rate_share = share(static_cast<double>(during) / (r.elected_ms / 1000.0),
                       r);
  if (sig == SIGKILL) {
    if (port_of(old) == c.base)
      c.start_ma();
    else
      c.start_aggregator(port_of(old) - c.base - 10);
  } else {
    c.signal_aggregator(port_of(old), SIGCONT);
  }
  std::this_thread::sleep_for(std::chrono::seconds{2});
  // 2. The new master aggregator's process and leaf 1 at one moment.
  auto t1 = clock_type::now();
  c.signal_aggregator(port_of(now_master), sig);
  c.signal_leaf(1, SIGKILL);
  wait_for_new_master(client, now_master, t1);
  r.elected_with_leaf_ms = ms_since(t1);
  while (client.execute(probe).error_code() != 0)
    if (ms_since(t1) > 60000)
      lg::bench::die("aggregator_failover",
                     "partitions not writable in 60 s");
  r.writable_ms = ms_since(t1);
  pool.stop();
  client.node.stop();
  c.stop();
  return r;
}

/// The settings the runs use, and the columns; across processes also the
/// election time in the new master aggregator's log.
void print_header(bool processes) {
  std::printf("aggregator_election_timeout_ms = 1000 (followers stand at "
              "1050-1170 by rank), leaf_failure_timeout_ms = 1000\n");
  std::printf("%-8s %5s  %11s %7s  %16s  %12s %7s  %16s %7s  %11s %11s%s\n",
              "fault", "round", "elected ms", "target", "elected+leaf ms",
              "writable ms", "target", "rate in election", "target",
              "before w/s", "after w/s", processes ? "  in its log ms" : "");
}

void print_row(const char* fault, int round, const result& r) {
  std::printf("%-8s %5d  %11.1f %7s  %16.1f  %12.1f %7s  %15.1f%% %7s  "
              "%11.0f %11.0f",
              fault, round, r.elected_ms, "1500", r.elected_with_leaf_ms,
              r.writable_ms, "2500", 100.0 * r.rate_share, ">=90%",
              r.rate_before, r.rate_after);
  if (r.elected_log_ms >= 0)
    std::printf("  %13.0f", r.elected_log_ms);
  std::printf("\n");
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  int rounds = 3;
  std::string leafguard;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--processes" && i + 1 < argc)
      leafguard = argv[++i];
    else
      rounds = std::atoi(argv[i]);
  }
  if (rounds <= 0 || rounds > 100
      || (!leafguard.empty() && access(leafguard.c_str(), X_OK) != 0)) {
    std::fprintf(stderr, "usage: aggregator_failover [ROUNDS] [--processes "
                         "LEAFGUARD]\n");
    return 2;
  }
  if (!leafguard.empty()) {
    signal(SIGPIPE, SIG_IGN);
    std::printf("aggregator_failover across processes: 3 aggregator "
                "processes, 4 leaf processes (R2), 16 partitions, a client "
                "process with 4 x 64 writes in flight; the master "
                "aggregator's process fails (elected, rate), then the new "
                "one's and leaf 1's at one moment (writable)\n");
    print_header(true);
    for (int sig : {SIGKILL, SIGSTOP})
      for (int i = 1; i <= rounds; ++i)
        print_row(sig == SIGKILL ? "SIGKILL" : "SIGSTOP", i,
                  run_processes(leafguard, sig, 25400 + 20 * (i % 2)));
    return 0;
  }
  std::printf("aggregator_failover: 3 voting aggregators, 4 leaves (R2), 16 "
              "partitions, 4 x 64 writes in flight; the master aggregator "
              "fails (elected, rate), then the new one and leaf 10001 at one "
              "moment (writable)\n");
  print_header(false);
  for (bool kill : {true, false})
    for (int i = 1; i <= rounds; ++i) {
      print_row(kill ? "kill" : "isolate", i, run(kill));
    }
  return 0;
}
