// Benchmark: time from a leaf's failure to every one of its master
// partitions promoted on the pair and writable again, for 16, 256 and 4096
// master partitions on the failed leaf; by the down signal (KILL LEAF) and by
// heartbeats (ISOLATE LEAF); in real time and in virtual time on the
// deterministic scheduler.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

#include "base/log.hpp"
#include "sql/result_proto.hpp"
#include "bench/probes.hpp"
#include "bench/load_writer.hpp"
#include "cluster/local_cluster.hpp"
#include "storage/vfs.hpp"

namespace {

void check(const lg::pb::ResultSet& rs, const std::string& what) {
  lg::bench::require_ok("failover", rs, what);
}

double measure(uint32_t masters, bool kill, bool simulate) {
  lg::local_cluster_options opts;
  opts.leaves = 2;
  opts.redundancy = 2;
  opts.simulate = simulate;
  if (simulate)
    opts.fs = std::make_shared<lg::storage::memory_vfs>();
  lg::local_cluster cluster{opts};
  if (cluster.startup_error()) {
    std::fprintf(stderr, "%s\n", cluster.startup_error().to_string().c_str());
    std::exit(1);
  }
  auto partitions = masters * 2;
  check(cluster.execute("CREATE DATABASE f PARTITIONS "
                        + std::to_string(partitions)),
        "CREATE DATABASE");
  std::vector<uint32_t> victims;
  auto parts = cluster.execute("SHOW PARTITIONS ON f");
  for (auto& row : parts.rows())
    if (row.cells(2) == "10001" && row.cells(3) == "Master")
      victims.push_back(static_cast<uint32_t>(std::stoul(row.cells(0))));
  auto insert = lg::bench::insert_one_row_each("f", victims, partitions);
  // The session caches the partition map that names the doomed masters.
  check(cluster.execute(insert), "warm-up INSERT");
  auto wall0 = std::chrono::steady_clock::now();
  auto virt0 = cluster.now();
  check(cluster.execute(kill ? "KILL LEAF '127.0.0.1':10001"
                             : "ISOLATE LEAF '127.0.0.1':10001"),
        "fault");
  check(cluster.execute(insert), "INSERT after the failure");
  if (simulate)
    return std::chrono::duration<double, std::milli>(cluster.now() - virt0)
      .count();
  return std::chrono::duration<double, std::milli>(
           std::chrono::steady_clock::now() - wall0)
    .count();
}

} // namespace

int main(int argc, char** argv) {
  std::vector<uint32_t> sizes{16, 256, 4096};
  if (const char* lvl = std::getenv("LG_LOG_LEVEL"))
    lg::set_log_level(lvl);
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) {
      auto n = std::atoi(argv[i]);
      if (n <= 0) {
        std::fprintf(stderr, "usage: failover [MASTERS...]\n");
        return 2;
      }
      sizes.push_back(static_cast<uint32_t>(n));
    }
  }
  std::printf("failover: R2, one pair; time from the fault to every master "
              "partition of the failed leaf promoted and writable\n");
  std::printf("(leaf_failure_timeout_ms = 1000, heartbeat every 100 ms)\n");
  char tmpl[] = "/tmp/lg-failover-floor-XXXXXX";
  const char* floor_dir = ::mkdtemp(tmpl);
  std::printf("%8s  %16s  %16s  %16s  %16s  %12s\n", "masters",
              "kill real ms", "kill virtual ms", "isolate real ms",
              "isolate virt. ms", "floor ms");
  // One machine-readable line at the end, for scripts/bench.sh, which sets
  // these figures beside its Redis peer's.
  std::string result = "result";
  for (auto n : sizes) {
    auto kr = measure(n, true, false);
    auto kv = measure(n, true, true);
    auto ir = measure(n, false, false);
    auto iv = measure(n, false, true);
    auto floor = floor_dir ? lg::bench::partition_floor_ms(n, floor_dir) : -1;
    std::printf("%8u  %16.1f  %16.1f  %16.1f  %16.1f  %12.1f\n", n, kr, kv,
                ir, iv, floor);
    std::fflush(stdout);
    char fields[320];
    std::snprintf(fields, sizeof(fields),
                  " kill_ms_%u=%.1f kill_virtual_ms_%u=%.1f isolate_ms_%u=%.1f"
                  " isolate_virtual_ms_%u=%.1f floor_ms_%u=%.1f",
                  n, kr, n, kv, n, ir, n, iv, n, floor);
    result += fields;
  }
  if (floor_dir)
    ::rmdir(floor_dir);
  std::printf("floor: the same number of bare actors, each with its own log "
              "file, promoted and then written once (no detection, metadata "
              "or client): the least this design and machine allow\n");
  std::printf("%s\n", result.c_str());
  return 0;
}
