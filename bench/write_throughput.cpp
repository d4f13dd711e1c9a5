// Benchmark: acknowledged writes/s of an in-process cluster with p50/p99
// latency, for redundancy 2 (synchronous replication), redundancy 1, and
// redundancy 2 WITH SYNC DURABILITY. 4 leaves, 16 partitions, 100-byte
// values, 16 pipelined writers.
#include <chrono>
#include <cstdio>
#include <thread>

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

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  size_t window = argc > 2 ? static_cast<size_t>(std::atoi(argv[2])) : 64;
  if (seconds <= 0 || window == 0) {
    std::fprintf(stderr, "usage: write_throughput [SECONDS>0] [WINDOW>0]\n");
    return 2;
  }
  std::printf("write_throughput: in-process, 4 leaves, 16 partitions, "
              "100-byte values, 16 writers x %zu in flight, %.1f s each\n",
              window, seconds);
  auto r2 = run(2, false, seconds, window);
  print("R2 sync replication, async durab.", r2);
  auto r1 = run(1, false, seconds, window);
  print("R1, async durability", r1);
  auto r2s = run(2, true, seconds, window);
  print("R2 sync replication, SYNC durab.", r2s);
  std::printf("replication cost: R2 throughput is %.1f%% of R1 (%.1f%% "
              "cost)\n",
              100.0 * r2.writes_per_s / r1.writes_per_s,
              100.0 * (1.0 - r2.writes_per_s / r1.writes_per_s));
  std::printf("reference: Redis 7 with an async replica, 239000 pipelined "
              "SET/s on this machine class\n");
  return 0;
}
