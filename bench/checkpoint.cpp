// Benchmark: a checkpoint of one partition instance on the real disk, step
// by step. Steps 1 and 3 run on the partition's actor and stall its writes;
// step 2 runs on the background thread and only takes CPU from them.
//
//   checkpoint [ROWS] [VALUE_BYTES]
//
// The store gets ROWS rows and a checkpoint, then ROWS more rows (new keys,
// as write_throughput writes), so that the checkpoint measured folds a log
// of ROWS records into a snapshot of ROWS rows.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "storage/partition_store.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
    .count();
}

void fail(const std::string& what, const lg::error& err) {
  std::fprintf(stderr, "checkpoint: %s: %s\n", what.c_str(),
               err.to_string().c_str());
  std::exit(1);
}

} // namespace

int main(int argc, char** argv) {
  long rows = argc > 1 ? std::atol(argv[1]) : 400000;
  long value_bytes = argc > 2 ? std::atol(argv[2]) : 100;
  if (rows <= 0 || value_bytes <= 0) {
    std::fprintf(stderr, "usage: checkpoint [ROWS>0] [VALUE_BYTES>0]\n");
    return 2;
  }
  char tmpl[] = "/tmp/lg-checkpoint-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::string dir = std::string{tmpl} + "/db.0";
  using namespace lg::storage;
  partition_store store{make_disk_vfs(), dir, durability::async};
  if (auto report = store.open(); !report)
    fail("open", report.err());
  std::string value(static_cast<size_t>(value_bytes), 'v');
  uint64_t lsn = 0;
  auto fill = [&](long n) {
    for (long i = 0; i < n; ++i) {
      log_record rec;
      rec.term = 1;
      rec.lsn = ++lsn;
      rec.write_id = lsn;
      rec.key = "w" + std::to_string(lsn % 16) + "-" + std::to_string(lsn);
      rec.value = value;
      store.append(rec);
      if (lsn % 4096 == 0)
        if (auto err = store.flush())
          fail("flush", err);
    }
    if (auto err = store.flush())
      fail("flush", err);
  };
  fill(rows);
  if (auto err = store.checkpoint())
    fail("first checkpoint", err);
  fill(rows);
  auto log_mb = static_cast<double>(store.log_bytes()) / (1 << 20);
  auto t0 = clock_type::now();
  auto job = store.begin_checkpoint();
  if (!job)
    fail("begin", job.err());
  auto seal_ms = ms_since(t0);
  t0 = clock_type::now();
  auto folded = job->run();
  auto fold_ms = ms_since(t0);
  t0 = clock_type::now();
  if (auto err = store.end_checkpoint(*job, folded))
    fail("fold", err);
  auto swap_ms = ms_since(t0);
  t0 = clock_type::now();
  for (auto& path : store.take_folded_logs())
    if (auto err = make_disk_vfs()->remove_all(path))
      fail("remove", err);
  auto remove_ms = ms_since(t0);
  std::printf("checkpoint: %ld rows in the snapshot, %ld records (%.1f MB) "
              "in the log, %ld-byte values\n",
              rows, rows, log_mb, value_bytes);
  std::printf("  1. seal the log (on the actor)        %8.2f ms\n", seal_ms);
  std::printf("  2. fold it into a new snapshot (off)  %8.1f ms\n", fold_ms);
  std::printf("  3. swap the snapshot (on the actor)   %8.2f ms\n", swap_ms);
  std::printf("  4. remove the folded log (off)        %8.2f ms\n", remove_ms);
  std::printf("writes stall %.2f ms of the %.1f ms\n", seal_ms + swap_ms,
              seal_ms + fold_ms + swap_ms + remove_ms);
  make_disk_vfs()->remove_all(tmpl);
  return 0;
}
