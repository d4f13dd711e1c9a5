// Benchmark: acknowledged writes/s of an in-process cluster with p50/p99
// latency, for redundancy 2 (synchronous replication), redundancy 1, and
// redundancy 2 WITH SYNC DURABILITY. 4 leaves, 16 partitions, 100-byte
// values, 16 pipelined writers. Run to run, throughput on two shared cores
// swings by a third, so R2 and R1 alternate for a few rounds and the
// replication cost is the median of the rounds' paired costs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "actors/result.hpp"
#include "bench/load_writer.hpp"
#include "cluster/local_cluster.hpp"

namespace {

using lg::bench::figures;

figures run(int redundancy, bool sync_durability, double seconds,
            size_t window) {
  lg::local_cluster_options opts;
  opts.leaves = 4;
  opts.redundancy = redundancy;
  lg::local_cluster cluster{opts};
  if (cluster.startup_error()) {
    std::fprintf(stderr, "%s\n", cluster.startup_error().to_string().c_str());
    std::exit(1);
  }
  auto rs = cluster.execute(std::string{"CREATE DATABASE bench PARTITIONS 16"}
                            + (sync_durability ? " WITH SYNC DURABILITY"
                                               : ""));
  if (rs.error_code() != 0) {
    std::fprintf(stderr, "%s", lg::render(rs).c_str());
    std::exit(1);
  }
  lg::bench::writer_pool::spec ws;
  ws.fab = cluster.transport_ptr();
  ws.sys = &cluster.system();
  ws.database = "bench";
  ws.writers = 16;
  ws.window = window;
  lg::bench::writer_pool writers{ws};
  // Warm up, then measure a fixed interval.
  return writers.measure_and_stop(0.5, seconds);
}

void print(const char* label, const figures& f) {
  std::printf("%-34s %12.0f writes/s   p50 %8.0f us   p99 %8.0f us   "
              "failed %llu\n",
              label, f.writes_per_s, f.p50_us, f.p99_us,
              static_cast<unsigned long long>(f.failed));
}

} // namespace

/// The median of `xs` (the mean of the middle two for an even count).
double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  size_t window = argc > 2 ? static_cast<size_t>(std::atoi(argv[2])) : 64;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  if (seconds <= 0 || window == 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: write_throughput [SECONDS>0] [WINDOW>0] "
                         "[ROUNDS>0]\n");
    return 2;
  }
  std::printf("write_throughput: in-process, 4 leaves, 16 partitions, "
              "100-byte values, 16 writers x %zu in flight, %.1f s each; "
              "R2 and R1 alternate for %d rounds, so that both see the same "
              "machine\n",
              window, seconds, rounds);
  std::vector<double> r2s;
  std::vector<double> r1s;
  std::vector<double> costs;
  for (int round = 1; round <= rounds; ++round) {
    std::printf("round %d\n", round);
    auto r2 = run(2, false, seconds, window);
    print("  R2 sync replication, async durab.", r2);
    auto r1 = run(1, false, seconds, window);
    print("  R1, async durability", r1);
    std::fflush(stdout);
    r2s.push_back(r2.writes_per_s);
    r1s.push_back(r1.writes_per_s);
    costs.push_back(100.0 * (1.0 - r2.writes_per_s / r1.writes_per_s));
  }
  auto r2sync = run(2, true, seconds, window);
  print("R2 sync replication, SYNC durab.", r2sync);
  auto m2 = median(r2s);
  auto m1 = median(r1s);
  std::printf("median R2 %.0f writes/s, median R1 %.0f writes/s\n", m2, m1);
  // Each round pairs R2 with the R1 run next to it, so the median of the
  // per-round costs is the figure least moved by the machine's swings.
  std::printf("replication cost: %.1f%% (median of the rounds' R2/R1 pairs; "
              "per round %.1f%% to %.1f%%); R2's median throughput is %.1f%% "
              "of R1's\n",
              median(costs), *std::min_element(costs.begin(), costs.end()),
              *std::max_element(costs.begin(), costs.end()),
              100.0 * m2 / m1);
  std::printf("reference: Redis 7 with an async replica, 239000 pipelined "
              "SET/s on this machine class\n");
  return 0;
}
