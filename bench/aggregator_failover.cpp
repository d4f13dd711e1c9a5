// Benchmark: failover of the master aggregator, in one process, in real
// time. Three voting aggregators, four leaves (R2), 16 partitions, and
// writers keeping 4 x 64 writes in flight. At one moment the master
// aggregator's voting aggregator is killed (or cut off); measured:
//   - elected: until SHOW AGGREGATORS answers with another master;
//   - the writers' rate from the fault to the election, as a share of their
//     rate in the seconds before it.
// Then the new master aggregator and a leaf fail at one moment; measured:
//   - writable: until a write to every partition the killed leaf mastered
//     succeeds (so after the new master aggregator failed the leaf over).
// Beside each: the election timeout it ran with and the target for it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench/load_writer.hpp"
#include "cluster/local_cluster.hpp"
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

std::string master_of(lg::local_cluster& c) {
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
  double elected_with_leaf_ms = 0;
  double writable_ms = 0;
  double rate_share = 0;
  double rate_before = 0;
};

/// Waits for SHOW AGGREGATORS to name a master other than `old`.
std::string wait_for_new_master(lg::local_cluster& c, const std::string& old,
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
  constexpr uint32_t partitions = 16;
  check(c.execute("CREATE DATABASE a PARTITIONS 16"), "CREATE DATABASE");
  std::vector<uint32_t> victims;
  auto parts = c.execute("SHOW PARTITIONS ON a");
  for (auto& row : parts.rows())
    if (row.cells(2) == "10001" && row.cells(3) == "Master")
      victims.push_back(static_cast<uint32_t>(std::stoul(row.cells(0))));
  auto probe = lg::bench::insert_one_row_each("a", victims, partitions);
  check(c.execute(probe), "warm-up INSERT");
  lg::bench::writer_pool::spec ws;
  ws.fab = c.transport_ptr();
  ws.sys = &c.system();
  ws.database = "a";
  ws.writers = 4;
  ws.window = 64;
  lg::bench::writer_pool pool{ws};
  std::this_thread::sleep_for(std::chrono::seconds{1});
  auto before0 = pool.acked();
  auto t_before = clock_type::now();
  std::this_thread::sleep_for(std::chrono::seconds{2});
  result r;
  r.rate_before = static_cast<double>(pool.acked() - before0)
                  / (ms_since(t_before) / 1000.0);
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
  r.rate_share = r.rate_before > 0
                   ? static_cast<double>(during) / (r.elected_ms / 1000.0)
                       / r.rate_before
                   : 0;
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

} // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  if (rounds <= 0 || rounds > 100) {
    std::fprintf(stderr, "usage: aggregator_failover [ROUNDS]\n");
    return 2;
  }
  std::printf("aggregator_failover: 3 voting aggregators, 4 leaves (R2), 16 "
              "partitions, 4 x 64 writes in flight; the master aggregator "
              "fails (elected, rate), then the new one and leaf 10001 at one "
              "moment (writable)\n");
  std::printf("aggregator_election_timeout_ms = 1000 (drawn 1000-2000), "
              "leaf_failure_timeout_ms = 1000\n");
  std::printf("%-8s %5s  %11s %7s  %16s  %12s %7s  %16s %7s  %11s\n",
              "fault", "round", "elected ms", "target", "elected+leaf ms",
              "writable ms", "target", "rate in election", "target",
              "before w/s");
  for (bool kill : {true, false})
    for (int i = 1; i <= rounds; ++i) {
      auto r = run(kill);
      std::printf("%-8s %5d  %11.1f %7s  %16.1f  %12.1f %7s  %15.1f%% %7s  "
                  "%11.0f\n",
                  kill ? "kill" : "isolate", i, r.elected_ms, "1500",
                  r.elected_with_leaf_ms, r.writable_ms, "2500",
                  100.0 * r.rate_share, ">=90%", r.rate_before);
      std::fflush(stdout);
    }
  return 0;
}
