// Benchmark: acknowledged writes/s of an in-process cluster with p50/p99
// latency, for redundancy 2 (synchronous replication), redundancy 1, and
// redundancy 2 WITH SYNC DURABILITY. 4 leaves, 16 partitions, 100-byte
// values, 16 pipelined writers.
//
// This machine's speed swings by up to 2x within seconds (a plain spin loop
// runs 255-450 ms from one second to the next), so R2 and R1 measured one
// after the other, each on a cluster of its own, compared unlike machines.
// Both clusters therefore stay up for the whole run, and short slices of R2
// and R1 load alternate (R2 first in odd rounds, R1 first in even ones). The
// replication cost is the median of the rounds' paired costs; each slice's
// writers are fresh, so a slice starts with an empty pipeline and a warm-up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "actors/result.hpp"
#include "bench/load_writer.hpp"
#include "bench/probes.hpp"
#include "cluster/local_cluster.hpp"

namespace {

using lg::bench::figures;

/// An in-process cluster holding database "bench", created on start.
std::unique_ptr<lg::local_cluster> start_cluster(int redundancy,
                                                 bool sync_durability) {
  lg::local_cluster_options opts;
  opts.leaves = 4;
  opts.redundancy = redundancy;
  auto cluster = std::make_unique<lg::local_cluster>(opts);
  if (cluster->startup_error()) {
    std::fprintf(stderr, "%s\n",
                 cluster->startup_error().to_string().c_str());
    std::exit(1);
  }
  auto rs = cluster->execute(std::string{"CREATE DATABASE bench PARTITIONS 16"}
                             + (sync_durability ? " WITH SYNC DURABILITY"
                                                : ""));
  if (rs.error_code() != 0) {
    std::fprintf(stderr, "%s", lg::render(rs).c_str());
    std::exit(1);
  }
  return cluster;
}

/// The writer pool spec for `cluster`.
lg::bench::writer_pool::spec pool_spec(lg::local_cluster& cluster,
                                       uint32_t first_id, size_t window) {
  lg::bench::writer_pool::spec ws;
  ws.fab = cluster.transport_ptr();
  ws.sys = &cluster.system();
  ws.database = "bench";
  ws.writers = 16;
  ws.window = window;
  ws.first_id = first_id;
  return ws;
}

/// Loads `cluster` with fresh writers (ids from `first_id`) for a warm-up
/// and then `seconds` of measurement.
figures slice(lg::local_cluster& cluster, uint32_t first_id, double seconds,
              size_t window) {
  lg::bench::writer_pool writers{pool_spec(cluster, first_id, window)};
  return writers.measure_and_stop(0.3, seconds);
}

/// Loads both clusters at once for `seconds` after a warm-up and returns
/// their acknowledged writes/s (R2, R1). Each cluster has a CAF scheduler
/// of its own with as many workers, all busy, so the kernel gives each
/// about half of the machine at every instant, whatever its speed.
std::pair<double, double> together(lg::local_cluster& r2,
                                   lg::local_cluster& r1, uint32_t first_id,
                                   double seconds, size_t window) {
  using clock = std::chrono::steady_clock;
  lg::bench::writer_pool w2{pool_spec(r2, first_id, window)};
  lg::bench::writer_pool w1{pool_spec(r1, first_id, window)};
  std::this_thread::sleep_for(std::chrono::duration<double>{0.3});
  auto a2 = w2.acked();
  auto a1 = w1.acked();
  auto t0 = clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>{seconds});
  auto b2 = w2.acked();
  auto b1 = w1.acked();
  auto dt = std::chrono::duration<double>(clock::now() - t0).count();
  w2.stop();
  w1.stop();
  return {static_cast<double>(b2 - a2) / dt, static_cast<double>(b1 - a1) / dt};
}

void print(const char* label, const figures& f) {
  std::printf("%-34s %9.0f writes/s  p50 %6.0f us  p99 %6.0f us  "
              "cpu %5.2f us/write  failed %llu\n",
              label, f.writes_per_s, f.p50_us, f.p99_us, f.cpu_us_per_write,
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
  double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  size_t window = argc > 2 ? static_cast<size_t>(std::atoi(argv[2])) : 64;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 12;
  if (seconds <= 0 || window == 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: write_throughput [SECONDS>0] [WINDOW>0] "
                         "[ROUNDS>0]\n");
    return 2;
  }
  std::printf("write_throughput: in-process, 4 leaves, 16 partitions, "
              "100-byte values, 16 writers x %zu in flight; an R2 and an R1 "
              "cluster stay up and take turns, %.1f s each, for %d rounds\n",
              window, seconds, rounds);
  auto r2_cluster = start_cluster(2, false);
  auto r1_cluster = start_cluster(1, false);
  std::vector<double> r2s;
  std::vector<double> r1s;
  std::vector<double> r1_cpu;
  std::vector<double> costs;
  uint32_t next_id = 0;
  for (int round = 1; round <= rounds; ++round) {
    std::printf("round %d\n", round);
    figures r2;
    figures r1;
    auto run_r2 = [&] {
      r2 = slice(*r2_cluster, next_id, seconds, window);
      print("  R2 sync replication, async durab.", r2);
    };
    auto run_r1 = [&] {
      r1 = slice(*r1_cluster, next_id, seconds, window);
      print("  R1, async durability", r1);
    };
    if (round % 2 == 1) {
      run_r2();
      run_r1();
    } else {
      run_r1();
      run_r2();
    }
    next_id += 16;
    std::fflush(stdout);
    r2s.push_back(r2.writes_per_s);
    r1s.push_back(r1.writes_per_s);
    r1_cpu.push_back(r1.cpu_us_per_write);
    costs.push_back(100.0 * (1.0 - r2.writes_per_s / r1.writes_per_s));
  }
  // The same comparison with both loaded at once: each round's pair then
  // shares every instant of the machine, so its swings touch both alike; a
  // stall of one cluster (a checkpoint) still lands on that one alone.
  std::vector<double> together_costs;
  double together_r2 = 0;
  double together_r1 = 0;
  int together_rounds = std::max(1, rounds / 3);
  for (int round = 1; round <= together_rounds; ++round) {
    auto [r2, r1] = together(*r2_cluster, *r1_cluster, next_id, seconds,
                             window);
    next_id += 16;
    std::printf("together %d: R2 %9.0f writes/s, R1 %9.0f writes/s, "
                "cost %5.1f%%\n",
                round, r2, r1, 100.0 * (1.0 - r2 / r1));
    std::fflush(stdout);
    together_r2 += r2;
    together_r1 += r1;
    together_costs.push_back(100.0 * (1.0 - r2 / r1));
  }
  r2_cluster.reset();
  r1_cluster.reset();
  auto sync_cluster = start_cluster(2, true);
  auto r2sync = slice(*sync_cluster, 0, seconds, window);
  print("R2 sync replication, SYNC durab.", r2sync);
  auto m2 = median(r2s);
  auto m1 = median(r1s);
  std::printf("median R2 %.0f writes/s, median R1 %.0f writes/s\n", m2, m1);
  std::printf("replication cost: %.1f%% (median of the rounds' R2/R1 pairs; "
              "per round %.1f%% to %.1f%%); R2's median throughput is %.1f%% "
              "of R1's\n",
              median(costs), *std::min_element(costs.begin(), costs.end()),
              *std::max_element(costs.begin(), costs.end()),
              100.0 * m2 / m1);
  std::printf("replication cost with both loaded at once: %.1f%% (median of "
              "%d rounds, %.1f%% to %.1f%%; from the sums %.1f%%)\n",
              median(together_costs), together_rounds,
              *std::min_element(together_costs.begin(), together_costs.end()),
              *std::max_element(together_costs.begin(), together_costs.end()),
              100.0 * (1.0 - together_r2 / together_r1));
  // The floor: a replica's storage work alone, with no other thread running.
  char tmpl[] = "/tmp/lg-replica-floor-XXXXXX";
  if (const char* dir = ::mkdtemp(tmpl)) {
    auto floor = lg::bench::replica_storage_us_per_row(200000, 23, dir);
    ::rmdir(dir);
    auto r1 = median(r1_cpu);
    if (floor > 0)
      std::printf("floor: a replica's storage work alone (crc check, log "
                  "append and write, row apply; batches of 23) takes %.2f "
                  "us of CPU per row, against R1's median %.2f us per write: "
                  "replication cannot cost less than %.1f%% in this design\n",
                  floor, r1, 100.0 * floor / (r1 + floor));
  }
  std::printf("reference: Redis 7 with an async replica, 239000 pipelined "
              "SET/s on this machine class\n");
  return 0;
}
