#include "bench/load_writer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <thread>

#include <sys/resource.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/partition/partition.hpp"
#include "admin.pb.h"
#include "base/hash.hpp"

namespace lg::bench {

namespace {

using steady = std::chrono::steady_clock;

/// Writes issued for one partition and not yet sent.
struct partition_queue {
  std::vector<std::string> keys;
  std::vector<steady::time_point> issued;
  size_t inflight = 0;
};

struct writer_state {
  std::string name;
  endpoint ep;
  writer_config cfg;
  pb::PartitionMapReply map;
  std::vector<partition_queue> queues;
  uint64_t seq = 0;
  uint64_t request_seq = 0;
  size_t outstanding = 0; // issued, not yet acknowledged
  std::string value;
  bool fetching = false;  // a newer partition map is on its way
  bool have_map = false;
};

/// A write that fails (its master moved, or did not answer) is retried on a
/// fresh partition map for this long after it was issued, then given up.
constexpr auto give_up_after = std::chrono::seconds{30};

using self_ptr = caf::stateful_actor<writer_state>*;

/// Sent by writer_pool::resume: issue writes again.
using resume_atom = caf::atom_constant<caf::atom("resume")>;

void pump(self_ptr self);
void fetch_map(self_ptr self);

void send_queue(self_ptr self, uint32_t ordinal) {
  auto& st = self->state;
  auto& q = st.queues[ordinal];
  if (q.keys.empty() || q.inflight >= st.cfg.per_partition || st.fetching)
    return;
  const auto& route = st.map.routes(static_cast<int>(ordinal));
  auto env = make_envelope(partition_label(st.cfg.database, ordinal),
                           route.term());
  auto* body = env->mutable_write_request();
  body->set_write_id((uint64_t{1000 + st.cfg.writer_id} << 32)
                     | ++st.request_seq);
  body->mutable_rows()->Reserve(static_cast<int>(q.keys.size()));
  for (auto& key : q.keys) {
    auto* row = body->add_rows();
    row->set_key(key);
    row->set_value(st.value);
  }
  auto keys = std::move(q.keys);
  q.keys.clear();
  auto issued = std::move(q.issued);
  q.issued.clear();
  ++q.inflight;
  st.ep.request(
    self, route.master(), partition_actor_name(st.cfg.database, ordinal),
    std::move(env), std::chrono::seconds{2},
    [self, ordinal, keys = std::move(keys),
     issued = std::move(issued)](const envelope* rep) mutable {
      auto& st = self->state;
      auto now = steady::now();
      bool ok = rep != nullptr
                && rep->write_reply().status() == pb::STATUS_OK;
      --st.queues[ordinal].inflight;
      if (!ok) {
        // Like any client: its master moved or did not answer. Fetch the
        // map again and retry (a put of the same row is idempotent).
        auto& q = st.queues[ordinal];
        for (size_t i = 0; i < keys.size(); ++i) {
          if (now - issued[i] > give_up_after) {
            st.cfg.stats->failed.fetch_add(1, std::memory_order_relaxed);
            --st.outstanding;
            continue;
          }
          q.keys.push_back(std::move(keys[i]));
          q.issued.push_back(issued[i]);
        }
        fetch_map(self);
        return;
      }
      for (auto& t : issued)
        st.cfg.stats->latencies_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - t)
            .count()));
      st.cfg.stats->acked.fetch_add(issued.size(), std::memory_order_relaxed);
      st.outstanding -= issued.size();
      pump(self);
    });
}

/// Issues writes up to the window, then sends every queue that may send.
void pump(self_ptr self) {
  auto& st = self->state;
  bool running = st.cfg.running->load();
  if (!running && st.outstanding == 0) {
    if (!st.cfg.stats->stopped.exchange(true))
      self->quit();
    return;
  }
  auto now = steady::now();
  bool issuing = running && !st.cfg.paused->load(std::memory_order_relaxed);
  uint64_t issued = 0;
  while (issuing && st.outstanding < st.cfg.window) {
    auto n = st.seq++;
    auto key = st.cfg.keys > 0
                 ? "k" + std::to_string(st.cfg.key_set) + "-"
                     + std::to_string(n % st.cfg.keys)
                 : "w" + std::to_string(st.cfg.writer_id) + "-"
                     + std::to_string(n);
    auto ordinal = partition_of(key, st.map.partitions());
    st.queues[ordinal].keys.push_back(std::move(key));
    st.queues[ordinal].issued.push_back(now);
    ++st.outstanding;
    ++issued;
  }
  if (issued > 0)
    st.cfg.stats->issued.fetch_add(issued, std::memory_order_relaxed);
  for (uint32_t i = 0; i < st.queues.size(); ++i)
    send_queue(self, i);
}

void fetch_map(self_ptr self) {
  auto& st = self->state;
  if (st.fetching)
    return;
  st.fetching = true;
  auto env = make_envelope();
  env->mutable_partition_map_request()->set_database(st.cfg.database);
  st.ep.request(self, "ma", "ma", std::move(env), std::chrono::seconds{5},
                [self](const envelope* rep) {
                  auto& st = self->state;
                  st.fetching = false;
                  if (rep == nullptr
                      || rep->partition_map_reply().status() != pb::STATUS_OK) {
                    if (!st.have_map) {
                      st.cfg.stats->stopped = true;
                      self->quit();
                      return;
                    }
                    // Try again shortly; the queued writes wait.
                    self->delayed_send(self, std::chrono::milliseconds{20},
                                       timer_atom::value, uint64_t{1});
                    return;
                  }
                  st.map = rep->partition_map_reply();
                  st.have_map = true;
                  st.queues.resize(st.map.partitions());
                  pump(self);
                });
}

caf::behavior writer_impl(self_ptr self, writer_config cfg) {
  auto& st = self->state;
  st.name = cfg.name;
  st.ep = endpoint{cfg.fab, "bench", cfg.name};
  st.cfg = std::move(cfg);
  st.value.assign(st.cfg.value_size, 'v');
  st.cfg.stats->latencies_us.reserve(1 << 20);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  fetch_map(self);
  return {
    [self](wire& msg) {
      // Replies reach their callbacks; nothing else is expected.
      self->state.ep.receive(self, msg);
    },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](timer_atom, uint64_t) { fetch_map(self); },
    [self](resume_atom) {
      if (self->state.have_map)
        pump(self);
    },
  };
}

} // namespace

caf::actor spawn_writer(caf::actor_system& sys, writer_config cfg) {
  return sys.spawn(writer_impl, std::move(cfg));
}


writer_pool::writer_pool(const spec& s)
  : running_(std::make_shared<std::atomic<bool>>(true)),
    paused_(std::make_shared<std::atomic<bool>>(s.start_paused)) {
  for (int i = 0; i < s.writers; ++i) {
    stats_.push_back(std::make_shared<writer_stats>());
    writer_config wc;
    wc.fab = s.fab;
    wc.writer_id = s.first_id + static_cast<uint32_t>(i);
    wc.name = "writer/" + std::to_string(wc.writer_id);
    wc.database = s.database;
    wc.window = s.window;
    wc.value_size = s.value_size;
    wc.keys = s.keyspace > 0 ? std::max<uint64_t>(1, s.keyspace / s.writers)
                             : 0;
    wc.key_set = static_cast<uint32_t>(i);
    wc.stats = stats_.back();
    wc.running = running_;
    wc.paused = paused_;
    writers_.push_back(spawn_writer(*s.sys, wc));
  }
}

uint64_t writer_pool::acked() const {
  uint64_t n = 0;
  for (auto& st : stats_)
    n += st->acked.load();
  return n;
}

uint64_t writer_pool::failed() const {
  uint64_t n = 0;
  for (auto& st : stats_)
    n += st->failed.load();
  return n;
}

void writer_pool::stop() {
  running_->store(false);
  // A paused writer with nothing in flight waits for no reply: wake it.
  for (auto& w : writers_)
    caf::anon_send(w, resume_atom::value);
  for (auto& st : stats_)
    while (!st->stopped.load())
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  // Let go of the handles while their actor system is still there.
  writers_.clear();
}

bool writer_pool::pause(double limit) {
  paused_->store(true);
  auto until = steady::now() + std::chrono::duration_cast<steady::duration>(
                                 std::chrono::duration<double>{limit});
  for (;;) {
    uint64_t issued = 0;
    uint64_t answered = 0;
    for (auto& st : stats_) {
      // acked and failed first: each only grows, and never past issued.
      answered += st->acked.load() + st->failed.load();
      issued += st->issued.load();
    }
    if (answered >= issued)
      return true;
    if (steady::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
}

void writer_pool::resume() {
  paused_->store(false);
  for (auto& w : writers_)
    caf::anon_send(w, resume_atom::value);
}

std::vector<uint32_t> writer_pool::latencies() const {
  std::vector<uint32_t> all;
  for (auto& st : stats_)
    all.insert(all.end(), st->latencies_us.begin(), st->latencies_us.end());
  return all;
}

figures writer_pool::measure_and_stop(double warmup, double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>{warmup});
  auto n0 = acked();
  auto t0 = steady::now();
  auto c0 = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>{seconds});
  auto n1 = acked();
  auto t1 = steady::now();
  auto c1 = process_cpu_seconds();
  stop();
  figures f;
  f.writes_per_s = static_cast<double>(n1 - n0)
                   / std::chrono::duration<double>(t1 - t0).count();
  std::vector<uint32_t> all;
  for (auto& st : stats_)
    all.insert(all.end(), st->latencies_us.begin(), st->latencies_us.end());
  f.failed = failed();
  if (n1 > n0)
    f.cpu_us_per_write = (c1 - c0) * 1e6 / static_cast<double>(n1 - n0);
  f.p50_us = percentile(all, 50);
  f.p99_us = percentile(all, 99);
  return f;
}

void require_ok(const char* program, const pb::ResultSet& rs,
                const std::string& what) {
  if (rs.error_code() != 0) {
    std::fprintf(stderr, "%s: %s failed: %s", program, what.c_str(),
                 render(rs).c_str());
    std::exit(1);
  }
}

std::string insert_one_row_each(const std::string& db,
                                const std::vector<uint32_t>& ordinals,
                                uint32_t partitions) {
  std::vector<std::string> keys(partitions);
  size_t missing = partitions;
  for (uint64_t i = 0; missing > 0; ++i) {
    auto key = "probe" + std::to_string(i);
    auto& slot = keys[partition_of(key, partitions)];
    if (slot.empty()) {
      slot = key;
      --missing;
    }
  }
  std::string stmt = "INSERT INTO " + db + " VALUES ";
  for (size_t i = 0; i < ordinals.size(); ++i)
    stmt += std::string(i ? "," : "") + "('" + keys[ordinals[i]] + "','x')";
  return stmt;
}

} // namespace lg::bench
