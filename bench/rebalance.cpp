// Benchmark: REBALANCE after adding a pair of leaves to a 4-leaf R2 cluster
// holding 64 partitions of about 16 MiB each, under a concurrent write load.
// It prints how long the rebalance took and the write throughput during it
// as a fraction of the throughput before it (target: at least 70%).
//
//   rebalance [MIB_PER_PARTITION] [PARTITIONS]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "sql/result_proto.hpp"
#include "bench/load_writer.hpp"
#include "cluster/local_cluster.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

void check(const lg::pb::ResultSet& rs, const std::string& what) {
  lg::bench::require_ok("rebalance", rs, what);
}

lg::bench::writer_pool::spec writers_on(lg::local_cluster& cluster,
                                        int writers, size_t window,
                                        size_t value_size, uint32_t first_id) {
  lg::bench::writer_pool::spec ws;
  ws.fab = cluster.transport_ptr();
  ws.sys = &cluster.system();
  ws.database = "r";
  ws.writers = writers;
  ws.window = window;
  ws.value_size = value_size;
  ws.first_id = first_id;
  return ws;
}

} // namespace

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 16;
  int partitions = argc > 2 ? std::atoi(argv[2]) : 64;
  lg::local_cluster_options opts;
  opts.leaves = 4;
  opts.redundancy = 2;
  lg::local_cluster cluster{opts};
  if (cluster.startup_error()) {
    std::fprintf(stderr, "%s\n", cluster.startup_error().to_string().c_str());
    return 1;
  }
  check(cluster.execute("CREATE DATABASE r PARTITIONS "
                        + std::to_string(partitions)),
        "CREATE DATABASE");
  // Fill: 16 KiB values until the database holds partitions x mib MiB.
  auto target = static_cast<uint64_t>(partitions) * mib << 20;
  constexpr size_t fill_value = 16 * 1024;
  auto t_fill = clock_type::now();
  {
    lg::bench::writer_pool fill{writers_on(cluster, 4, 16, fill_value, 1000)};
    while (fill.acked() * fill_value < target)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    fill.stop();
  }
  auto fill_s
    = std::chrono::duration<double>(clock_type::now() - t_fill).count();
  std::printf("loaded %d partitions x %zu MiB in %.1f s\n", partitions, mib,
              fill_s);
  std::fflush(stdout);
  // The write load: 100-byte values, as in bench/write_throughput.
  lg::bench::writer_pool w{writers_on(cluster, 4, 512, 100, 2000)};
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  auto n0 = w.acked();
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::seconds{3});
  auto before = static_cast<double>(w.acked() - n0)
                / std::chrono::duration<double>(clock_type::now() - t0).count();
  check(cluster.execute("START LEAF '127.0.0.1':10005"), "START LEAF");
  check(cluster.execute("START LEAF '127.0.0.1':10006"), "START LEAF");
  check(cluster.execute("ADD LEAF '127.0.0.1':10005 INTO GROUP 1"),
        "ADD LEAF");
  check(cluster.execute("ADD LEAF '127.0.0.1':10006 INTO GROUP 2"),
        "ADD LEAF");
  auto plan = cluster.execute("EXPLAIN REBALANCE PARTITIONS ON r");
  check(plan, "EXPLAIN");
  auto n1 = w.acked();
  auto t1 = clock_type::now();
  lg::pb::ResultSet result;
  std::thread runner{[&] {
    result = cluster.execute("REBALANCE PARTITIONS ON r");
  }};
  runner.join();
  auto t2 = clock_type::now();
  auto n2 = w.acked();
  auto failed = w.failed();
  w.stop();
  check(result, "REBALANCE");
  auto secs = std::chrono::duration<double>(t2 - t1).count();
  auto during = static_cast<double>(n2 - n1) / secs;
  auto moved = cluster.execute("SHOW PARTITIONS ON r");
  int on_new = 0;
  for (auto& row : moved.rows())
    if (row.cells(2) == "10005" || row.cells(2) == "10006")
      ++on_new;
  std::printf("rebalance: 4 -> 6 leaves, R2, %d partitions of %zu MiB, "
              "%d plan steps, %d copies now on the new pair\n",
              partitions, mib, plan.rows_size(), on_new);
  std::printf("rebalance took %.2f s\n", secs);
  std::printf("writes/s before %.0f, during %.0f: %.0f%% kept (target "
              "70%%), %llu failed\n",
              before, during, 100.0 * during / std::max(before, 1.0),
              static_cast<unsigned long long>(failed));
  return 0;
}
