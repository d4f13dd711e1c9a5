#include "bench/probes.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "bench/load_writer.hpp"
#include "storage/partition_store.hpp"
#include "storage/vfs.hpp"

namespace lg::bench {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
    .count();
}

using floor_promote_atom = caf::atom_constant<caf::atom("flpromote")>;
using floor_write_atom = caf::atom_constant<caf::atom("flwrite")>;
using floor_done_atom = caf::atom_constant<caf::atom("fldone")>;

/// One instance of the floor probe: answers a promotion, appends a write.
/// Every message is answered, with false when the write failed, so that the
/// driver never waits for an answer that will not come.
caf::behavior floor_instance(caf::event_based_actor* self, int fd) {
  self->attach_functor([fd] { ::close(fd); });
  auto answer = [self](bool ok) {
    self->send(caf::actor_cast<caf::actor>(self->current_sender()),
               floor_done_atom::value, ok);
  };
  return {
    [answer](floor_promote_atom) { answer(true); },
    [answer, fd](floor_write_atom, const std::string& record) {
      answer(::write(fd, record.data(), record.size())
             == static_cast<ssize_t>(record.size()));
    },
  };
}

} // namespace

double partition_floor_ms(size_t n, const std::string& dir) {
  caf::actor_system_config cfg;
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  // The worker count leafguard's local clusters use.
  auto cores = std::max(2u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", static_cast<size_t>(2 * cores));
  caf::actor_system sys{cfg};
  std::string record(40, 'r');
  std::vector<caf::actor> instances;
  std::vector<std::string> paths;
  for (size_t i = 0; i < n; ++i) {
    paths.push_back(dir + "/floor-probe-" + std::to_string(i) + ".log");
    int fd = ::open(paths.back().c_str(), O_CREAT | O_WRONLY | O_APPEND,
                    0644);
    if (fd < 0 || ::write(fd, record.data(), record.size()) < 0) {
      if (fd >= 0)
        ::close(fd);
      for (auto& a : instances)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      for (auto& p : paths)
        std::remove(p.c_str());
      return -1;
    }
    instances.push_back(sys.spawn(floor_instance, fd));
  }
  caf::scoped_actor self{sys};
  auto t0 = std::chrono::steady_clock::now();
  for (auto& a : instances)
    self->send(a, floor_promote_atom::value);
  bool all_ok = true;
  auto collect = [&](floor_done_atom, bool ok) { all_ok = all_ok && ok; };
  size_t got = 0;
  self->receive_for(got, n)(collect);
  for (auto& a : instances)
    self->send(a, floor_write_atom::value, record);
  got = 0;
  self->receive_for(got, n)(collect);
  auto ms = seconds_since(t0) * 1000;
  for (auto& a : instances)
    self->send_exit(a, caf::exit_reason::user_shutdown);
  instances.clear();
  for (auto& p : paths)
    std::remove(p.c_str());
  return all_ok ? ms : -1;
}

double replica_storage_us_per_row(size_t rows, size_t batch,
                                  const std::string& dir) {
  auto fs = storage::make_disk_vfs();
  storage::partition_store master{fs, dir + "/master",
                                  storage::durability::async};
  storage::partition_store replica{fs, dir + "/replica",
                                   storage::durability::async};
  if (!master.open().ok() || !replica.open().ok())
    return -1;
  // The master's side is not timed: it only makes the bytes a replica gets.
  std::string value(100, 'v');
  std::vector<std::string> batches;
  std::string open_batch;
  for (size_t i = 1; i <= rows; ++i) {
    auto key = "w" + std::to_string(i % 16) + "-" + std::to_string(i);
    storage::log_record_view rec;
    rec.term = 1;
    rec.lsn = i;
    rec.write_id = i;
    rec.op = storage::op_kind::put;
    rec.key = key;
    rec.value = value;
    master.append(rec);
    open_batch.append(master.last_encoded());
    if (i % batch == 0 || i == rows) {
      if (master.flush())
        return -1;
      batches.push_back(std::move(open_batch));
      open_batch.clear();
    }
  }
  constexpr uint64_t apply_every = 1024 * 1024;
  auto cpu0 = process_cpu_seconds();
  for (auto& b : batches) {
    if (replica.append_log_bytes(b, nullptr, 1) || replica.flush())
      return -1;
    if (replica.pending_apply_bytes() > apply_every)
      replica.apply_pending();
  }
  replica.apply_pending();
  auto cpu = process_cpu_seconds() - cpu0;
  fs->remove_all(dir + "/master");
  fs->remove_all(dir + "/replica");
  return cpu * 1e6 / static_cast<double>(rows);
}

double memcpy_mb_per_s(size_t bytes) {
  std::vector<char> a(bytes, 'x');
  std::vector<char> b(bytes);
  std::memcpy(b.data(), a.data(), bytes); // fault the pages in first
  auto t0 = std::chrono::steady_clock::now();
  constexpr int rounds = 4;
  for (int i = 0; i < rounds; ++i) {
    a[static_cast<size_t>(i)] = static_cast<char>(i);
    std::memcpy(b.data(), a.data(), bytes);
  }
  auto s = seconds_since(t0);
  if (b[1] != 1) // keep the copies
    std::printf("?");
  return rounds * static_cast<double>(bytes) / s / 1e6;
}

double file_write_mb_per_s(const std::string& dir, size_t bytes) {
  auto path = dir + "/bench-write-probe";
  std::vector<char> chunk(4 << 20, 'w');
  auto t0 = std::chrono::steady_clock::now();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr)
    return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  size_t done = 0;
  while (done < bytes
         && std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size())
    done += chunk.size();
  std::fclose(f);
  auto s = seconds_since(t0);
  std::remove(path.c_str());
  return done < bytes ? 0 : static_cast<double>(done) / s / 1e6;
}

} // namespace lg::bench
