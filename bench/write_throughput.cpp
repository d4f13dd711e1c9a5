// Benchmark: acknowledged writes/s of an in-process cluster with p50/p99
// latency, for redundancy 2 (synchronous replication), redundancy 1, and
// redundancy 2 WITH SYNC DURABILITY. 4 leaves, 16 partitions, 100-byte
// values over 100,000 keys (LG_KEYSPACE; 0: a new key for every write), 16
// pipelined writers. Also what keeping metrics costs: R2 with
// and without, in alternating slices of the same run.
//
// This machine's speed swings by up to 2x within seconds (a plain spin loop
// runs 255-450 ms from one second to the next), so R2 and R1 measured one
// after the other, each on a cluster of its own, compared unlike machines.
// Both clusters therefore stay up for the whole run with their writers, and
// short slices of R2 and R1 load alternate (ABBA: R2 first in odd rounds, R1
// first in even ones). Between slices the writers pause until every write in
// flight is answered, so no slice overlaps another, and a resumed pipeline
// refills in milliseconds, so slices can be short: many short alternations
// give both clusters the same mix of fast and slow seconds. The replication
// cost is taken from the sums over all slices, which keeps whatever lumpy
// work (row applies, checkpoints, hash-table growth) fell into them; the
// per-round costs are printed too.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "sql/result_proto.hpp"
#include "bench/load_writer.hpp"
#include "bench/probes.hpp"
#include "cluster/local_cluster.hpp"

namespace {

using lg::bench::figures;

/// An in-process cluster holding database "bench", created on start.
std::unique_ptr<lg::local_cluster> start_cluster(int redundancy,
                                                 bool sync_durability,
                                                 bool metrics = true) {
  lg::local_cluster_options opts;
  opts.leaves = 4;
  opts.redundancy = redundancy;
  opts.metrics = metrics;
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

/// The keys the writers write over and over: 100,000 unless LG_KEYSPACE
/// says otherwise (0: a new key for every write), as the Redis peer's
/// redis-benchmark -r 100000 does.
uint64_t keyspace() {
  const char* text = std::getenv("LG_KEYSPACE");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 100000;
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
  ws.keyspace = keyspace();
  return ws;
}

/// Acknowledged writes, wall time and process CPU time over a cluster's
/// slices.
struct tally {
  uint64_t writes = 0;
  double seconds = 0;
  double cpu_seconds = 0;

  double per_second() const {
    return seconds > 0 ? static_cast<double>(writes) / seconds : 0;
  }
  double cpu_us_per_write() const {
    return writes > 0 ? cpu_seconds * 1e6 / static_cast<double>(writes) : 0;
  }
};

/// A resumed pool refills its pipeline (1024 writes) within a few ms.
constexpr double settle_seconds = 0.01;

/// One slice: resumes `writers`, lets the pipeline fill, counts their
/// acknowledged writes for `seconds`, then pauses them until every write in
/// flight is answered, so that no slice overlaps the next. Returns writes/s.
double run_slice(lg::bench::writer_pool& writers, double seconds,
                 tally& into) {
  using clock = std::chrono::steady_clock;
  writers.resume();
  std::this_thread::sleep_for(std::chrono::duration<double>{settle_seconds});
  auto n0 = writers.acked();
  auto c0 = lg::bench::process_cpu_seconds();
  auto t0 = clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>{seconds});
  auto n1 = writers.acked();
  auto t1 = clock::now();
  auto c1 = lg::bench::process_cpu_seconds();
  if (!writers.pause())
    std::fprintf(stderr, "write_throughput: writes still unanswered 10 s "
                         "after a slice ended\n");
  auto dt = std::chrono::duration<double>(t1 - t0).count();
  into.writes += n1 - n0;
  into.seconds += dt;
  into.cpu_seconds += c1 - c0;
  return static_cast<double>(n1 - n0) / dt;
}

/// Alternating slices of two loads, `a` first in odd rounds and `b` first
/// in even ones (ABBA), so that a drift of the machine's speed within a
/// round favours neither, after a 0.5 s warm-up of each. Returns each
/// round's cost of `a` against `b` in percent, and prints each round when
/// given the two names.
std::vector<double> alternate(lg::bench::writer_pool& a,
                              lg::bench::writer_pool& b, int rounds,
                              double seconds, tally& ta, tally& tb,
                              const char* name_a = nullptr,
                              const char* name_b = nullptr) {
  tally warm;
  run_slice(a, 0.5, warm);
  run_slice(b, 0.5, warm);
  std::vector<double> costs;
  for (int round = 1; round <= rounds; ++round) {
    double ra = 0;
    double rb = 0;
    if (round % 2 == 1) {
      ra = run_slice(a, seconds, ta);
      rb = run_slice(b, seconds, tb);
    } else {
      rb = run_slice(b, seconds, tb);
      ra = run_slice(a, seconds, ta);
    }
    costs.push_back(100.0 * (1.0 - ra / rb));
    if (name_a != nullptr) {
      std::printf("round %2d: %s %8.0f writes/s  %s %8.0f writes/s  cost "
                  "%6.1f%%\n",
                  round, name_a, ra, name_b, rb, costs.back());
      std::fflush(stdout);
    }
  }
  return costs;
}

void print(const char* label, const tally& t,
           const lg::bench::writer_pool& w) {
  auto lat = w.latencies();
  std::printf("%-34s %9.0f writes/s  p50 %6.0f us  p99 %6.0f us  "
              "cpu %5.2f us/write  failed %llu\n",
              label, t.per_second(), lg::bench::percentile(lat, 50),
              lg::bench::percentile(lat, 99), t.cpu_us_per_write(),
              static_cast<unsigned long long>(w.failed()));
}

void print(const char* label, const figures& f) {
  std::printf("%-34s %9.0f writes/s  p50 %6.0f us  p99 %6.0f us  "
              "cpu %5.2f us/write  failed %llu\n",
              label, f.writes_per_s, f.p50_us, f.p99_us, f.cpu_us_per_write,
              static_cast<unsigned long long>(f.failed));
}

} // namespace

/// The q-quantile (0..1) of `xs`, interpolated.
double quantile(std::vector<double> xs, double q) {
  std::sort(xs.begin(), xs.end());
  auto at = q * static_cast<double>(xs.size() - 1);
  auto lo = static_cast<size_t>(at);
  auto hi = std::min(lo + 1, xs.size() - 1);
  return xs[lo] + (xs[hi] - xs[lo]) * (at - static_cast<double>(lo));
}

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 0.25;
  size_t window = argc > 2 ? static_cast<size_t>(std::atoi(argv[2])) : 64;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 40;
  if (seconds <= 0 || window == 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: write_throughput [SLICE_SECONDS>0] "
                         "[WINDOW>0] [ROUNDS>0]\n");
    return 2;
  }
  std::printf("write_throughput: in-process, 4 leaves, 16 partitions, "
              "100-byte values, 16 writers x %zu in flight, %s; an R2 and an "
              "R1 cluster stay up with their writers and take turns, %.2f s "
              "each, for %d rounds\n",
              window,
              keyspace() == 0
                ? "a new key for every write"
                : (std::to_string(keyspace()) + " keys written over and over")
                    .c_str(),
              seconds, rounds);
  auto r2_cluster = start_cluster(2, false);
  auto r1_cluster = start_cluster(1, false);
  auto s2 = pool_spec(*r2_cluster, 0, window);
  auto s1 = pool_spec(*r1_cluster, 0, window);
  s2.start_paused = s1.start_paused = true;
  lg::bench::writer_pool w2{s2};
  lg::bench::writer_pool w1{s1};
  tally t2;
  tally t1;
  auto costs = alternate(w2, w1, rounds, seconds, t2, t1, "R2", "R1");
  w2.stop();
  w1.stop();
  print("R2 sync replication, async durab.", t2, w2);
  print("R1, async durability", t1, w1);
  auto cost = 100.0 * (1.0 - t2.per_second() / t1.per_second());
  std::printf("replication cost: %.1f%% (all R2 slices against all R1 "
              "slices, %.1f s each); per round: median %.1f%%, middle half "
              "%.1f%% to %.1f%%, all %.1f%% to %.1f%%\n",
              cost, t2.seconds, quantile(costs, 0.5), quantile(costs, 0.25),
              quantile(costs, 0.75), quantile(costs, 0), quantile(costs, 1));
  r1_cluster.reset();
  r2_cluster.reset();
  // What keeping metrics costs: two new R2 clusters, one whose actors keep
  // metrics and one whose actors keep none, in alternating slices as above
  // (both new, so that neither holds more rows than the other).
  double metrics_cost = 0;
  {
    auto on_cluster = start_cluster(2, false, true);
    auto off_cluster = start_cluster(2, false, false);
    auto s_off = pool_spec(*off_cluster, 0, window);
    s_off.start_paused = true;
    auto s_on = pool_spec(*on_cluster, 0, window);
    s_on.start_paused = true;
    lg::bench::writer_pool on{s_on};
    lg::bench::writer_pool off{s_off};
    tally t_on;
    tally t_off;
    auto mcosts = alternate(on, off, rounds, seconds, t_on, t_off);
    on.stop();
    off.stop();
    print("R2 with metrics", t_on, on);
    print("R2 without metrics", t_off, off);
    metrics_cost = 100.0 * (1.0 - t_on.per_second() / t_off.per_second());
    std::printf("metrics cost: %.1f%% (all slices with metrics against all "
                "without, %.1f s each); per round: median %.1f%%, middle "
                "half %.1f%% to %.1f%%; CPU per write %.2f us with, %.2f us "
                "without\n",
                metrics_cost, t_on.seconds, quantile(mcosts, 0.5),
                quantile(mcosts, 0.25), quantile(mcosts, 0.75),
                t_on.cpu_us_per_write(), t_off.cpu_us_per_write());
  }
  auto sync_cluster = start_cluster(2, true);
  figures r2sync;
  {
    lg::bench::writer_pool ws{pool_spec(*sync_cluster, 0, window)};
    r2sync = ws.measure_and_stop(0.3, 2.0);
  }
  print("R2 sync replication, SYNC durab.", r2sync);
  // The floor: a replica's storage work alone, with no other thread running.
  char tmpl[] = "/tmp/lg-replica-floor-XXXXXX";
  if (const char* dir = ::mkdtemp(tmpl)) {
    auto floor = lg::bench::replica_storage_us_per_row(200000, 23, dir);
    ::rmdir(dir);
    auto r1 = t1.cpu_us_per_write();
    if (floor > 0)
      std::printf("floor: a replica's storage work alone (crc check, log "
                  "append and write, row apply; batches of 23) takes %.2f "
                  "us of CPU per row, against R1's %.2f us per write: "
                  "replication cannot cost less than %.1f%% in this design\n",
                  floor, r1, 100.0 * floor / (r1 + floor));
  }
  // One machine-readable line for scripts/bench.sh, which sets these
  // figures beside its Redis peer's.
  std::printf("result r2_writes_per_s=%.0f r1_writes_per_s=%.0f "
              "replication_cost_pct=%.1f r2_sync_writes_per_s=%.0f "
              "metrics_cost_pct=%.1f writers=16 window=%zu\n",
              t2.per_second(), t1.per_second(), cost, r2sync.writes_per_s,
              metrics_cost, window);
  return 0;
}
