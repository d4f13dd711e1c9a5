// Benchmark: rebuilding a replica of one large partition from its master, in
// process, on disk (async durability). The replica's leaf is destroyed and
// started again empty; the time runs from its start to the aggregator
// recording the new replica in sync (snapshot streamed, installed, caught
// up). Printed beside memcpy MB/s measured in the same run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sql/result_proto.hpp"
#include "base/log.hpp"
#include "bench/load_writer.hpp"
#include "bench/probes.hpp"
#include "cluster/local_cluster.hpp"

namespace {

void check(const lg::pb::ResultSet& rs, const std::string& what) {
  lg::bench::require_ok("rebuild", rs, what);
}

/// The Status of the last rebuild row in SHOW REBALANCE STATUS, or "".
std::string rebuild_status(lg::local_cluster& cluster) {
  auto rs = cluster.execute("SHOW REBALANCE STATUS ON r");
  std::string status;
  for (auto& row : rs.rows())
    if (row.cells(0) == "rebuild")
      status = row.cells(4);
  return status;
}

} // namespace

int main(int argc, char** argv) {
  uint64_t mib = 1024;
  if (argc > 1) {
    char* end = nullptr;
    mib = std::strtoull(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || mib == 0 || mib > 65536) {
      std::fprintf(stderr, "usage: rebuild [MiB, 1..65536; default 1024]\n");
      return 2;
    }
  }
  if (const char* lvl = std::getenv("LG_LOG_LEVEL"))
    lg::set_log_level(lvl);
  lg::local_cluster_options opts;
  opts.leaves = 2;
  opts.redundancy = 2;
  lg::local_cluster cluster{opts};
  if (cluster.startup_error()) {
    std::fprintf(stderr, "%s\n", cluster.startup_error().to_string().c_str());
    return 1;
  }
  check(cluster.execute("CREATE DATABASE r PARTITIONS 1"), "CREATE DATABASE");
  // 4 KiB values, 256 rows (1 MiB) per statement.
  const std::string value(4096 - 16, 'v');
  const uint64_t rows_total = mib * 256;
  std::printf("rebuild: loading %llu MiB into one partition (R2, 2 leaves)\n",
              static_cast<unsigned long long>(mib));
  std::fflush(stdout);
  auto load0 = std::chrono::steady_clock::now();
  for (uint64_t done = 0; done < rows_total;) {
    std::string stmt = "INSERT INTO r VALUES ";
    for (int i = 0; i < 256 && done < rows_total; ++i, ++done) {
      char key[32];
      std::snprintf(key, sizeof(key), "k%012llu",
                    static_cast<unsigned long long>(done));
      stmt += std::string(i ? "," : "") + "('" + key + "','" + value + "')";
    }
    check(cluster.execute(stmt), "INSERT");
    if (done % (rows_total / 8 + 1) < 256) {
      std::printf("  loaded %llu of %llu MiB\n",
                  static_cast<unsigned long long>(done / 256),
                  static_cast<unsigned long long>(mib));
      std::fflush(stdout);
    }
  }
  auto load_s = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                              - load0)
                  .count();
  // The load leaves checkpoints folding 1 GiB of log on the background
  // thread; timed alongside, they would take one of the two cores from the
  // rebuild. Wait for them, and say how long they took.
  auto idle0 = std::chrono::steady_clock::now();
  cluster.wait_background_idle();
  auto idle_s = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                              - idle0)
                  .count();
  std::string replica;
  auto parts = cluster.execute("SHOW PARTITIONS ON r");
  for (auto& row : parts.rows())
    if (row.cells(3) == "Replica")
      replica = "'" + row.cells(1) + "':" + row.cells(2);
  if (replica.empty()) {
    std::fprintf(stderr, "rebuild: no replica found\n");
    return 1;
  }
  check(cluster.execute("DESTROY LEAF " + replica), "DESTROY LEAF");
  auto t0 = std::chrono::steady_clock::now();
  check(cluster.execute("RESTART LEAF " + replica), "RESTART LEAF");
  auto deadline = t0 + std::chrono::minutes{10};
  std::string status;
  while ((status = rebuild_status(cluster)) != "success") {
    if (status == "failed" || std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "rebuild: %s\n",
                   lg::render(cluster.execute("SHOW REBALANCE STATUS ON r"))
                     .c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - t0)
                .count();
  auto bytes = static_cast<double>(mib) * 1024 * 1024;
  auto check_rs = cluster.execute("CHECK PARTITIONS ON r");
  std::printf("%s", lg::render(check_rs).c_str());
  std::printf("loaded in %.1f s (%.0f MB/s through INSERT); the load's "
              "checkpoints finished %.1f s later, before the rebuild\n",
              load_s, bytes / load_s / 1e6, idle_s);
  auto memcpy_mb_per_s = lg::bench::memcpy_mb_per_s(256 << 20);
  auto file_mb_per_s = lg::bench::file_write_mb_per_s(
    cluster.data_dir(), static_cast<size_t>(mib) << 20);
  std::printf("rebuild of %llu MiB: %.2f s, %.0f MB/s; memcpy in this run: "
              "%.0f MB/s; writing %llu MiB to a file in this run: %.0f MB/s\n",
              static_cast<unsigned long long>(mib), secs, bytes / secs / 1e6,
              memcpy_mb_per_s, static_cast<unsigned long long>(mib),
              file_mb_per_s);
  std::printf("target 1000 MB/s\n");
  // One machine-readable line for scripts/bench.sh, which sets these
  // figures beside its Redis peer's.
  std::printf("result rebuild_mib=%llu rebuild_ms=%.0f rebuild_mb_per_s=%.0f "
              "memcpy_mb_per_s=%.0f file_write_mb_per_s=%.0f\n",
              static_cast<unsigned long long>(mib), secs * 1000,
              bytes / secs / 1e6, memcpy_mb_per_s, file_mb_per_s);
  return 0;
}
