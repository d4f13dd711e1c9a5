// Benchmark: a multi-node cluster on loopback, each node its own leafguard
// process (the aggregator and 4 leaves, redundancy 2), driven from this
// process, which joins as a client node over CAF's middleman. It prints:
//
//   - raw loopback TCP throughput, measured in the same run, as the ceiling;
//   - acknowledged replicated writes/s (pipelined writers here, writing
//     straight to the partition masters in the leaf processes; each write is
//     acknowledged after the replica in another process has it);
//   - rebuild throughput across processes: a leaf's disk is wiped and its
//     copies are rebuilt from the masters in the other processes;
//   - failover time across processes: SIGKILL (the lost connection) and
//     SIGSTOP (heartbeats), from the signal to the last promotion and to a
//     client's INSERT into every one of the leaf's masters succeeding;
//   - the resident memory of a leaf process per idle partition instance, at
//     LG_MEMORY_INSTANCES instances per leaf (default 4096; 0 skips it),
//     beside the leaf's resident memory with none (LG_MEMORY_ONLY=1 runs
//     only this part);
//   - CREATE DATABASE of LG_CREATE_PARTITIONS partitions (default 16384; 0
//     skips it) on the 4 leaf processes, beside the floor: the same
//     directories and files made and synced 256 at a time by one thread of
//     this process
//     (LG_CREATE_ONLY=1 runs only this part), and the progress lines the
//     aggregator wrote meanwhile.
//
//   multinode [LEAFGUARD] [SECONDS] [REBUILD_MIB] [MASTERS_ON_LEAF...]
//
// LG_WRITERS and LG_WINDOW set the writers and the writes each keeps in
// flight (default 2 x 4096).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/load_writer.hpp"
#include "bench/probes.hpp"
#include "bench/processes.hpp"
#include "cluster/node.hpp"
#include "storage/vfs.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

/// The resident memory of process `pid` in KiB (VmRSS), or -1.
long resident_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atol(line.c_str() + 6);
  return -1;
}

[[noreturn]] void die(const std::string& why) {
  lg::bench::die("multinode", why);
}

/// Bytes/s of one TCP stream over loopback, in this process.
double raw_loopback_tcp(size_t total) {
  int srv = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || listen(srv, 1) != 0
      || getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    die("raw TCP: cannot listen");
  std::thread reader{[srv, total] {
    int c = accept(srv, nullptr, nullptr);
    std::vector<char> buf(1 << 20);
    size_t got = 0;
    while (got < total) {
      auto n = read(c, buf.data(), buf.size());
      if (n <= 0)
        break;
      got += static_cast<size_t>(n);
    }
    close(c);
  }};
  int cli = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(cli, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    die("raw TCP: cannot connect");
  std::vector<char> buf(1 << 20, 'x');
  auto t0 = clock_type::now();
  size_t sent = 0;
  while (sent < total) {
    auto n = write(cli, buf.data(), std::min(buf.size(), total - sent));
    if (n <= 0)
      die("raw TCP: write failed");
    sent += static_cast<size_t>(n);
  }
  close(cli);
  reader.join();
  close(srv);
  return static_cast<double>(total)
         / std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// The aggregator and 4 leaves (redundancy 2), each its own process.
struct cluster : lg::bench::process_cluster {
  cluster() : process_cluster("multinode") {
  }
};

using lg::bench::file_size;
using lg::bench::log_lines;
using lg::bench::log_ms;
using lg::bench::now_ms_of_day;

lg::bench::figures run_writers(lg::node_process& client,
                               const std::string& db, double seconds,
                               size_t value_size, size_t window,
                               double warmup = 0.5, int writers = 16) {
  static uint32_t next_id = 1;
  lg::bench::writer_pool::spec ws;
  ws.fab = client.transport();
  ws.sys = &client.system();
  ws.database = db;
  ws.writers = writers;
  ws.window = window;
  ws.value_size = value_size;
  ws.first_id = next_id;
  next_id += static_cast<uint32_t>(writers);
  lg::bench::writer_pool pool{ws};
  return pool.measure_and_stop(warmup, seconds);
}

/// A failover's times from the signal, in ms.
struct failover_times {
  int64_t detected = -1; ///< the aggregator's LeafOffline line
  int64_t promoted = -1; ///< its last ReplicasPromoted line
  int64_t writable = -1; ///< the client's INSERT into every one of them
};

/// Signals `leaf` and times its failover: the aggregator's log lines, and
/// `client`'s INSERT of a row into each of `insert`'s partitions (the
/// leaf's masters), tried from the signal on until it succeeds.
failover_times failover(cluster& c, int leaf, int sig, size_t masters,
                        lg::node_process& client, const std::string& insert) {
  auto log = c.dir + "/ma.log";
  auto from = file_size(log);
  auto t0 = now_ms_of_day();
  auto wall0 = clock_type::now();
  c.signal_leaf(leaf, sig);
  failover_times out;
  while (clock_type::now() < wall0 + std::chrono::seconds{30}) {
    auto rs = client.execute(insert, std::chrono::seconds{10});
    if (rs.error_code() == 0) {
      out.writable = std::chrono::duration_cast<std::chrono::milliseconds>(
                       clock_type::now() - wall0)
                       .count();
      break;
    }
  }
  if (out.writable < 0)
    die("the failed leaf's partitions were not writable in 30 s");
  auto deadline = clock_type::now() + std::chrono::seconds{30};
  std::vector<std::string> answered;
  size_t promoted = 0;
  while (clock_type::now() < deadline) {
    // Only the promotions of this failover: a recovery still running from
    // the previous one promotes too. Each leaf's answer is one line,
    // "ReplicasPromoted ... answered: N promoted, M failed".
    answered = log_lines(log, from, "ReplicasPromoted", "LeafOffline");
    promoted = 0;
    for (auto& line : answered) {
      auto at = line.find("answered: ");
      if (at != std::string::npos)
        promoted += std::strtoull(line.c_str() + at + 10, nullptr, 10);
    }
    if (promoted >= masters)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  if (promoted < masters)
    die("only " + std::to_string(promoted) + " of "
        + std::to_string(masters) + " partitions were promoted in 30 s");
  auto offline = log_lines(log, from, "LeafOffline");
  out.detected = offline.empty() ? -1 : log_ms(offline.front()) - t0;
  out.promoted = log_ms(answered.back()) - t0;
  return out;
}

} // namespace

namespace {
void run_throughput_and_failover(const std::string& leafguard, double seconds,
                                 size_t rebuild_mib,
                                 const std::vector<size_t>& per_leaf);
void memory_per_instance(const std::string& leafguard);
void create_at_scale(const std::string& leafguard);
} // namespace

int main(int argc, char** argv) {
  std::string leafguard = argc > 1 ? argv[1] : "build/leafguard";
  double seconds = argc > 2 ? std::atof(argv[2]) : 5;
  size_t rebuild_mib = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 256;
  std::vector<size_t> per_leaf;
  for (int i = 4; i < argc; ++i)
    per_leaf.push_back(std::strtoull(argv[i], nullptr, 10));
  if (per_leaf.empty())
    per_leaf = {16, 256};
  if (access(leafguard.c_str(), X_OK) != 0)
    die("no leafguard binary at " + leafguard);
  signal(SIGPIPE, SIG_IGN);
  bool memory_only = std::getenv("LG_MEMORY_ONLY") != nullptr;
  bool create_only = std::getenv("LG_CREATE_ONLY") != nullptr;
  if (!memory_only && !create_only)
    run_throughput_and_failover(leafguard, seconds, rebuild_mib, per_leaf);
  if (!create_only)
    memory_per_instance(leafguard);
  if (!memory_only)
    create_at_scale(leafguard);
  return 0;
}

namespace {

void run_throughput_and_failover(const std::string& leafguard, double seconds,
                                 size_t rebuild_mib,
                                 const std::vector<size_t>& per_leaf) {
  auto tcp = raw_loopback_tcp(size_t{2} << 30);
  std::printf("raw loopback TCP (one stream, 2 GiB):       %8.0f MB/s\n",
              tcp / 1e6);
  std::fflush(stdout);

  cluster c;
  c.start(leafguard, 25000);
  lg::node_process client;
  lg::config::node_options co;
  co.role = "client";
  co.node_name = "bench";
  co.ma_address = "127.0.0.1:" + std::to_string(c.base);
  co.port = 0;
  co.log_level = "warn";
  if (auto err = client.start(co))
    die("client node: " + err.detail());

  // 1. Replicated writes across processes.
  c.sql("CREATE DATABASE w PARTITIONS 16");
  // Like Kafka producers, few clients with deep pipelines batch best: each
  // partition request carries every write queued for it (measured: 2 x 4096
  // gives 127-190k/s, 16 x 512 gives 54-75k/s on 2 cores).
  int writers = std::getenv("LG_WRITERS") ? std::atoi(std::getenv("LG_WRITERS"))
                                          : 2;
  size_t window = std::getenv("LG_WINDOW")
                    ? std::strtoull(std::getenv("LG_WINDOW"), nullptr, 10)
                    : 4096;
  auto w = run_writers(client, "w", seconds, 100, window, 0.5, writers);
  std::printf("replicated writes across processes (R2, 16 partitions, "
              "100-byte values, %d writers x %zu in flight): %8.0f writes/s  "
              "p50 %6.0f us  p99 %6.0f us  failed %llu   raw loopback TCP "
              "%.0f MB/s\n",
              writers, window, w.writes_per_s, w.p50_us, w.p99_us,
              static_cast<unsigned long long>(w.failed), tcp / 1e6);
  std::fflush(stdout);

  // 2. Rebuild across processes: fill a database, wipe leaf 2's disk,
  // restart it empty; its copies are rebuilt from leaf 1's masters.
  c.sql("CREATE DATABASE r PARTITIONS 4");
  {
    auto target = rebuild_mib << 20;
    // Write until the database holds the requested size.
    size_t bytes = 0;
    while (bytes < target) {
      auto f = run_writers(client, "r", 1.0, 64 * 1024, 4, 0);
      bytes += static_cast<size_t>(f.writes_per_s) * 64 * 1024;
    }
  }
  c.signal_leaf(2, SIGKILL);
  std::filesystem::remove_all(c.dir + "/leaf2");
  auto log = c.dir + "/ma.log";
  auto leaf1_log = c.dir + "/leaf1.log";
  auto from1 = file_size(leaf1_log);
  auto leaf_started = clock_type::now();
  c.start_leaf(2);
  auto deadline = clock_type::now() + std::chrono::minutes{5};
  std::vector<std::string> started;
  std::vector<std::string> finished;
  while (clock_type::now() < deadline) {
    started = log_lines(leaf1_log, from1, "RebuildStarted");
    finished = log_lines(leaf1_log, from1, "RebuildFinished");
    if (!started.empty() && finished.size() >= started.size())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  uint64_t rebuilt = 0;
  for (auto& line : finished) {
    auto open = line.rfind('(');
    if (open != std::string::npos)
      rebuilt += std::strtoull(line.c_str() + open + 1, nullptr, 10);
  }
  if (started.empty() || finished.size() < started.size())
    die("the rebuild of leaf 2 did not finish in 5 minutes");
  auto ms = log_ms(finished.back()) - log_ms(started.front());
  auto page_cache = lg::bench::file_write_mb_per_s(
    c.dir, static_cast<size_t>(rebuilt));
  std::printf("rebuild across processes (%zu copies, %.0f MiB):   %8.0f MB/s "
              "(%lld ms)   raw loopback TCP %8.0f MB/s   writing as many "
              "bytes to a file %8.0f MB/s\n",
              started.size(), static_cast<double>(rebuilt) / (1 << 20),
              static_cast<double>(rebuilt) / 1e6
                / std::max<double>(1, static_cast<double>(ms)) * 1000,
              static_cast<long long>(ms), tcp / 1e6, page_cache);
  // From the leaf's start to every copy in sync again: the restart, the
  // attach, the rebuild and the catch-up together.
  for (int i = 0; i < 3000; ++i) {
    auto out = c.sql("CHECK PARTITIONS ON r");
    if (out.find("in_sync") != std::string::npos
        && out.find("catching_up") == std::string::npos
        && out.find("offline") == std::string::npos
        && out.find("diverged") == std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  std::printf("rebuild across processes, from the leaf's start to every "
              "copy in sync: %lld ms\n",
              static_cast<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(
                  clock_type::now() - leaf_started)
                  .count()));
  std::fflush(stdout);
  client.stop();
  c.stop();
  std::filesystem::remove_all(c.dir);

  // 3. Failover across processes.
  for (auto masters : per_leaf) {
    for (int sig : {SIGKILL, SIGSTOP}) {
      cluster f;
      f.start(leafguard, 25100);
      f.sql("CREATE DATABASE f PARTITIONS " + std::to_string(masters * 4));
      // Every leaf online and every replica in sync before the failure: a
      // leaf declared offline beforehand (a CREATE or CHECK PARTITIONS over
      // thousands of partitions once did that) has a failover of its own,
      // which must not be counted as this one.
      auto all_online = [&f] {
        auto leaves = f.sql("SHOW LEAVES");
        return leaves.find("offline") == std::string::npos
               && leaves.find("recovering") == std::string::npos
               && leaves.find("attaching") == std::string::npos;
      };
      for (int i = 0; i < 1500; ++i) {
        auto out = f.sql("CHECK PARTITIONS ON f");
        // Asked after the check, and again past the failure timeout: a
        // leaf declared offline meanwhile must be seen.
        if (out.find("catching_up") == std::string::npos && all_online()) {
          std::this_thread::sleep_for(std::chrono::milliseconds{1500});
          if (all_online())
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
      }
      // A client node that writes a row into each of leaf 1's masters;
      // the first INSERT, before the failure, caches the partition map.
      lg::node_process fc;
      auto fco = co;
      fco.ma_address = "127.0.0.1:" + std::to_string(f.base);
      if (auto err = fc.start(fco))
        die("client node: " + err.detail());
      std::vector<uint32_t> victims;
      auto parts = fc.execute("SHOW PARTITIONS ON f");
      for (auto& row : parts.rows())
        if (row.cells(2) == std::to_string(f.port(1))
            && row.cells(3) == "Master")
          victims.push_back(static_cast<uint32_t>(std::stoul(row.cells(0))));
      if (victims.size() != masters)
        die("leaf 1 holds " + std::to_string(victims.size()) + " masters, not "
            + std::to_string(masters));
      auto insert = lg::bench::insert_one_row_each(
        "f", victims, static_cast<uint32_t>(masters * 4));
      lg::bench::require_ok("multinode", fc.execute(insert), "warm-up INSERT");
      auto t = failover(f, 1, sig, masters, fc, insert);
      std::printf("failover across processes, %s, %4zu masters on the leaf: "
                  "detected %5lld ms, all promoted %5lld ms, all written "
                  "%5lld ms\n",
                  sig == SIGKILL ? "SIGKILL (lost connection)"
                                 : "SIGSTOP (heartbeats)    ",
                  masters, static_cast<long long>(t.detected),
                  static_cast<long long>(t.promoted),
                  static_cast<long long>(t.writable));
      std::fflush(stdout);
      // LG_FAILOVER_TIMELINE=1: the aggregator's lines from the failure
      // on, and how long leaf 2 took to answer each batch of orders.
      if (std::getenv("LG_FAILOVER_TIMELINE") != nullptr) {
        for (auto& line : log_lines(f.dir + "/ma.log", 0, "", "LeafOffline"))
          if (line.find(" info ") != std::string::npos
              || line.find(" warning ") != std::string::npos)
            std::printf("  ma: %s\n", line.c_str());
        for (auto& line : log_lines(f.dir + "/leaf2.log", 0,
                                    "LeafOrdersAnswered"))
          std::printf("  leaf2: %s\n", line.c_str());
      }
      fc.stop();
      f.stop();
      std::filesystem::remove_all(f.dir);
    }
  }
}

void memory_per_instance(const std::string& leafguard) {
  // 4. Memory per idle instance: 4 leaves in R2 hold two instances of
  // each partition, so 2 x N partitions put N instances on every leaf.
  long per_leaf_instances = std::getenv("LG_MEMORY_INSTANCES")
                              ? std::atol(std::getenv("LG_MEMORY_INSTANCES"))
                              : 4096;
  if (per_leaf_instances > 0) {
    cluster m;
    m.start(leafguard, 25200);
    std::map<int, long> before;
    for (auto& [n, pid] : m.leaves)
      before[n] = resident_kib(pid);
    auto t0 = clock_type::now();
    m.sql("CREATE DATABASE m PARTITIONS "
          + std::to_string(2 * per_leaf_instances));
    auto created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        clock_type::now() - t0)
                        .count();
    // Idle: every replica in sync, then a moment for the last records.
    for (int i = 0; i < 600; ++i) {
      if (m.sql("CHECK PARTITIONS ON m").find("catching_up")
          == std::string::npos)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    std::this_thread::sleep_for(std::chrono::seconds{2});
    for (auto& [n, pid] : m.leaves) {
      auto after = resident_kib(pid);
      std::printf("memory of leaf %d: %6ld KiB with no instance, %7ld KiB "
                  "with %ld idle instances: %5.1f KiB per instance "
                  "(target 64)\n",
                  n, before[n], after, per_leaf_instances,
                  static_cast<double>(after - before[n])
                    / static_cast<double>(per_leaf_instances));
    }
    std::printf("(CREATE DATABASE of %ld partitions took %lld ms)\n",
                2 * per_leaf_instances, static_cast<long long>(created_ms));
    std::fflush(stdout);
    m.stop();
    std::filesystem::remove_all(m.dir);
  }
}

/// The floor of a CREATE DATABASE: `instances` directories, each with a
/// descriptor and an empty log, made by one thread and synced 256 at a
/// time, below `dir`; in ms.
long long create_floor(const std::string& dir, long instances) {
  auto fs = lg::storage::make_disk_vfs();
  if (auto err = fs->make_dirs(dir + "/instances"))
    die("floor: " + err.to_string());
  auto t0 = clock_type::now();
  // In batches of 256, as a leaf makes them.
  std::vector<std::string> batch;
  for (long i = 0; i < instances; ++i) {
    batch.push_back(dir + "/instances/db." + std::to_string(i));
    auto err = fs->create_unsynced(
      batch.back(), {{"descriptor.pb", std::string(12, 'd')}, {"wal.log", ""}});
    if (err)
      die("floor: " + err.to_string());
    if (batch.size() == 256 || i + 1 == instances) {
      if (auto err = fs->sync_created(batch))
        die("floor: " + err.to_string());
      batch.clear();
    }
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              clock_type::now() - t0)
              .count();
  std::filesystem::remove_all(dir);
  return static_cast<long long>(ms);
}

void create_at_scale(const std::string& leafguard) {
  long partitions = std::getenv("LG_CREATE_PARTITIONS")
                      ? std::atol(std::getenv("LG_CREATE_PARTITIONS"))
                      : 16384;
  if (partitions <= 0)
    return;
  cluster m;
  m.start(leafguard, 25300);
  auto log = m.dir + "/ma.log";
  auto from = file_size(log);
  auto t0 = clock_type::now();
  auto rs = m.sql("CREATE DATABASE big PARTITIONS " + std::to_string(partitions));
  auto created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      clock_type::now() - t0)
                      .count();
  if (rs.find("ERROR") != std::string::npos)
    die("CREATE DATABASE failed: " + rs);
  auto progress = log_lines(log, from, "DatabaseCreating").size();
  // Both copies of every partition: 2 x partitions instances in all.
  auto floor_ms = create_floor(m.dir + "/floor", 2 * partitions);
  std::printf("CREATE DATABASE of %ld partitions on 4 leaf processes: %6lld "
              "ms (target 5000), %zu progress lines; floor, the same %ld "
              "directories made and synced 256 at a time by one thread: "
              "%lld ms (%.1fx)\n",
              partitions, static_cast<long long>(created_ms), progress,
              2 * partitions, floor_ms,
              floor_ms > 0 ? static_cast<double>(created_ms)
                               / static_cast<double>(floor_ms)
                           : 0.0);
  std::fflush(stdout);
  m.stop();
  std::filesystem::remove_all(m.dir);
}

} // namespace
