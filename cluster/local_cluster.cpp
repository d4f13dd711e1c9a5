#include "cluster/local_cluster.hpp"

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include <caf/io/middleman.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/leaf/leaf.hpp"
#include "actors/aggregator/master_aggregator.hpp"
#include "actors/aggregator/voting_aggregator.hpp"
#include "sql/result_proto.hpp"
#include "actors/client/session.hpp"
#include "base/log.hpp"
#include "cluster/trace_file.hpp"
#include "storage/dir_lock.hpp"
#include "sql/parser.hpp"

namespace lg {

const char* to_string(cluster_errc code) {
  switch (code) {
    case cluster_errc::bad_option:
      return "bad_option";
    case cluster_errc::leaf_running:
      return "leaf_running";
    case cluster_errc::leaf_stopped:
      return "leaf_stopped";
    case cluster_errc::unknown_leaf:
      return "unknown_leaf";
    case cluster_errc::startup_failed:
      return "startup_failed";
  }
  return "unknown";
}

namespace {

/// The virtual time one actor job takes in a simulation.

/// Statement results handed from the inbox actor to the driving thread.
struct reply_box {
  std::mutex mtx;
  std::condition_variable cv;
  std::map<uint64_t, pb::ResultSet> done;
};

using send_atom = caf::atom_constant<caf::atom("send")>;

struct inbox_state {
  std::string name = "console";
  endpoint ep;
  std::shared_ptr<reply_box> box;
  std::string session;
};

caf::behavior inbox_impl(caf::stateful_actor<inbox_state>* self,
                         fabric_ptr fab, std::shared_ptr<reply_box> box,
                         std::string session) {
  self->state.ep = endpoint{fab, "local", "console"};
  self->state.box = box;
  self->state.session = std::move(session);
  self->state.ep.attach(self, caf::actor_cast<caf::actor>(self));
  return {
    [self](send_atom, uint64_t id, const std::string& text) {
      auto env = make_envelope();
      env->mutable_statement_request()->set_text(text);
      self->state.ep.request(
        self, "local", self->state.session, std::move(env),
        std::chrono::minutes{10}, [self, id, text](const envelope* rep) {
          auto rs = statement_result(rep, text);
          auto& box = *self->state.box;
          std::lock_guard<std::mutex> guard{box.mtx};
          box.done.emplace(id, std::move(rs));
          box.cv.notify_all();
        });
    },
    [self](wire& msg) {
      // Replies reach their callbacks; nothing else is expected.
      self->state.ep.receive(self, msg);
    },
    [self](tick_atom) { self->state.ep.on_tick(self); },
  };
}

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path()
                         / "leafguard-XXXXXX")
                          .string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr)
    return {};
  return buf.data();
}

} // namespace

struct local_cluster::impl {
  caf::actor ma;
  std::map<std::string, caf::actor> voting; // running voting aggregators
  caf::actor session;
  caf::actor inbox;
  std::map<std::string, caf::actor> leaves; // running leaves
  std::vector<std::string> known;           // every leaf address, in order
  std::shared_ptr<reply_box> box = std::make_shared<reply_box>();
  uint64_t next_id = 1;
  std::shared_ptr<trace_file_sink> trace;
  storage::dir_lock lock; ///< the data dir's, when it is on disk
};

void configure_threaded_scheduler(caf::actor_system_config& cfg) {
  // Instances block in fsync; spare workers keep heartbeats answered.
  auto cores = std::max(2u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", static_cast<size_t>(2 * cores));
  // One shared FIFO queue rather than CAF's default work stealing. Work
  // stealing runs the actor a message was just sent to next on the same
  // worker, so a replica answers each replication batch before the next
  // write reaches its master: batches of 3-4 records, a message each way
  // and a log write for every two client requests. In FIFO order the
  // writes that arrive meanwhile queue up and travel together (23 records
  // per batch). Measured in bench/write_throughput, 16 x 64 in flight:
  // 25% less CPU per acknowledged write in R2 and in R1, p99 8-14 ms
  // instead of 25-48 ms; bench/failover with 4096 masters: 140-205 ms
  // instead of 426-562 ms.
  cfg.set("scheduler.policy", caf::atom("sharing"));
}

local_cluster::local_cluster(local_cluster_options opts)
  : opts_(std::move(opts)), impl_(std::make_unique<impl>()) {
  if (opts_.leaves < 0 || opts_.leaves > 1000) {
    startup_error_ = make_error(cluster_errc::bad_option,
                                "--leaves must be from 0 to 1000, got "
                                  + std::to_string(opts_.leaves));
    return;
  }
  if (opts_.redundancy != 1 && opts_.redundancy != 2) {
    startup_error_ = make_error(cluster_errc::bad_option,
                                "--redundancy must be 1 or 2, got "
                                  + std::to_string(opts_.redundancy));
    return;
  }
  fs_ = opts_.fs ? opts_.fs : storage::make_disk_vfs();
  data_dir_ = opts_.data_dir;
  if (data_dir_.empty()) {
    data_dir_ = make_temp_dir();
    remove_data_dir_ = true;
    if (data_dir_.empty()) {
      startup_error_ = make_error(cluster_errc::startup_failed,
                                  "can't create a temporary data dir");
      return;
    }
  }
  if (auto err = fs_->make_dirs(data_dir_)) {
    startup_error_ = make_error(cluster_errc::startup_failed,
                                "can't use data dir '" + data_dir_
                                  + "': " + err.to_string());
    return;
  }
  if (!opts_.fs) {
    auto lock = storage::dir_lock::acquire(data_dir_);
    if (!lock.ok()) {
      startup_error_ = make_error(cluster_errc::startup_failed,
                                  lock.err().detail());
      return;
    }
    impl_->lock = std::move(*lock);
  }
  cfg_ = std::make_unique<caf::actor_system_config>();
  register_message_types(*cfg_);
  if (opts_.network)
    cfg_->load<caf::io::middleman>(); // the MySQL port's brokers
  cfg_->set("logger.file-verbosity", caf::atom("quiet"));
  cfg_->set("logger.console-verbosity", caf::atom("quiet"));
  if (opts_.simulate) {
    cfg_->set("scheduler.policy", caf::atom("testing"));
  } else {
    configure_threaded_scheduler(*cfg_);
  }
  sys_ = std::make_unique<caf::actor_system>(*cfg_);
  fab_ = std::make_shared<fabric>(*sys_);
  if (!opts_.metrics)
    fab_->set_metrics(nullptr);
  fabric::set_process_fabric(fab_);
  if (!opts_.trace_file.empty()) {
    auto sink = trace_file_sink::open(opts_.trace_file);
    if (!sink.ok()) {
      startup_error_ = sink.err();
      return;
    }
    impl_->trace = *sink;
    fab_->set_trace_sink(impl_->trace);
    fab_->set_trace_name(opts_.trace_file);
  }
  if (opts_.simulate) {
    auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(
      sys_->scheduler());
    // Virtual time starts at a fixed point so that runs are identical.
    sched.clock().current_time = time_point{} + std::chrono::hours{1};
  }
  bool restoring = fs_->exists(data_dir_ + "/ma/metadata.pb")
                   || fs_->exists(data_dir_ + "/aggregators");
  spawn_aggregator();
  session_config sc;
  sc.fab = fab_;
  sc.node = session_node();
  sc.name = session_name();
  sc.ma_node = ma_node();
  sc.request_timeout_ms = opts_.session_request_timeout_ms;
  impl_->session = caf::actor_cast<caf::actor>(spawn_session(*sys_, sc));
  impl_->inbox = sys_->spawn(inbox_impl, fab_, impl_->box, sc.name);
  if (restoring) {
    auto names = fs_->list_dir(data_dir_ + "/leaves");
    if (names.ok()) {
      for (auto& name : *names) {
        auto addr = name;
        auto pos = addr.rfind('_');
        if (pos != std::string::npos)
          addr[pos] = ':';
        if (auto err = spawn_leaf_at(addr)) {
          startup_error_ = err;
          return;
        }
      }
    }
    drain();
    return;
  }
  for (int i = 0; i < opts_.leaves; ++i) {
    auto addr = "127.0.0.1:" + std::to_string(opts_.base_port + i);
    if (auto err = spawn_leaf_at(addr)) {
      startup_error_ = err;
      return;
    }
  }
  auto check = [this](const std::string& stmt) {
    auto rs = execute(stmt);
    if (rs.error_code() != 0 && !startup_error_)
      startup_error_ = make_error(cluster_errc::startup_failed,
                                  "'" + stmt + "' failed: " + rs.error());
  };
  check("SET GLOBAL redundancy_level = " + std::to_string(opts_.redundancy));
  for (int i = 0; i < opts_.leaves; ++i) {
    auto stmt = "ADD LEAF '127.0.0.1':" + std::to_string(opts_.base_port + i);
    if (opts_.redundancy == 2)
      stmt += " INTO GROUP " + std::to_string(i % 2 + 1);
    check(stmt);
  }
}

local_cluster::~local_cluster() {
  if (sys_) {
    // The aggregator goes first, so that it does not take an orderly
    // shutdown of its leaves for failures and record them offline.
    caf::anon_send_exit(impl_->ma, caf::exit_reason::user_shutdown);
    for (auto& kvp : impl_->voting) // with its master aggregator
      caf::anon_send_exit(kvp.second, caf::exit_reason::user_shutdown);
    if (opts_.simulate) {
      drain();
    } else {
      auto deadline = std::chrono::steady_clock::now()
                      + std::chrono::seconds{10};
      while (fab_->endpoints_on(ma_node()) > 0
             && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    for (auto& kvp : impl_->leaves)
      caf::anon_send_exit(kvp.second, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(impl_->session, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(impl_->inbox, caf::exit_reason::user_shutdown);
    if (opts_.simulate) {
      auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(
        sys_->scheduler());
      while (sched.try_run_once()) {
        // Let every actor process its exit.
      }
      sched.clock().cancel_all();
      // Actors spawned by the embedding program (workloads, probes) cannot
      // run any more: do not wait for them.
      sys_->await_actors_before_shutdown(false);
    }
    impl_.reset();
    fab_.reset();
    // No checkpoint job may outlive the actor system (or write into a data
    // dir being removed).
    if (checkpoints_)
      checkpoints_->stop();
    if (snapshot_writes_)
      snapshot_writes_->stop();
    sys_.reset();
  }
  if (remove_data_dir_ && !data_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
}

std::string local_cluster::leaf_dir(const std::string& addr) const {
  auto name = addr;
  auto pos = name.rfind(':');
  if (pos != std::string::npos)
    name[pos] = '_';
  return data_dir_ + "/leaves/" + name;
}

uint64_t local_cluster::submit(const std::string& statement) {
  auto id = impl_->next_id++;
  caf::anon_send(impl_->inbox, send_atom::value, id, statement);
  return id;
}

std::optional<pb::ResultSet> local_cluster::take_result(uint64_t id) {
  auto& box = *impl_->box;
  std::lock_guard<std::mutex> guard{box.mtx};
  auto i = box.done.find(id);
  if (i == box.done.end())
    return std::nullopt;
  auto rs = std::move(i->second);
  box.done.erase(i);
  return rs;
}

error local_cluster::spawn_leaf_at(const std::string& addr) {
  if (impl_->leaves.count(addr) > 0)
    return make_error(cluster_errc::leaf_running,
                      "leaf " + addr + " is already running");
  if (auto err = wait_gone(addr))
    return err;
  fab_->faults().mark_up(addr);
  leaf_config lc;
  lc.fab = fab_;
  lc.address = addr;
  lc.data_dir = leaf_dir(addr);
  lc.fs = fs_;
  lc.ma_node = ma_node();
  lc.detached = !opts_.simulate;
  if (!opts_.simulate && !checkpoints_)
    checkpoints_ = std::make_shared<storage::background_worker>();
  if (!opts_.simulate && !snapshot_writes_)
    snapshot_writes_ = std::make_shared<storage::background_worker>();
  lc.checkpoints = checkpoints_;
  lc.snapshot_writes = snapshot_writes_;
  lc.checkpoint_log_bytes = opts_.checkpoint_log_bytes;
  impl_->leaves.emplace(addr,
                        caf::actor_cast<caf::actor>(spawn_leaf(*sys_, lc)));
  if (std::find(impl_->known.begin(), impl_->known.end(), addr)
      == impl_->known.end())
    impl_->known.push_back(addr);
  return {};
}

void local_cluster::drain() {
  if (!opts_.simulate)
    return;
  // Give the cluster one virtual millisecond to react (e.g. to a kill).
  run_until([] { return false; }, std::chrono::milliseconds{1});
}

error local_cluster::stop_leaf(const std::string& addr) {
  auto i = impl_->leaves.find(addr);
  if (i == impl_->leaves.end()) {
    if (std::find(impl_->known.begin(), impl_->known.end(), addr)
        == impl_->known.end())
      return make_error(cluster_errc::unknown_leaf,
                        "no leaf " + addr + " in this process");
    return make_error(cluster_errc::leaf_stopped,
                      "leaf " + addr + " is not running");
  }
  auto handle = i->second;
  impl_->leaves.erase(i);
  // Like a crashed process: from now on its connections are refused and it
  // sends nothing, while its actors wind down in the background. Starting it
  // again waits for them (wait_gone), so no dying instance still writes the
  // files that the new incarnation opens.
  fab_->faults().mark_down(addr);
  fab_->faults().heal_node(addr);
  caf::anon_send_exit(handle, caf::exit_reason::kill);
  drain();
  return {};
}

error local_cluster::wait_gone(const std::string& addr) {
  if (opts_.simulate) {
    run_until([&] { return fab_->endpoints_on(addr) == 0; },
              std::chrono::seconds{10});
  } else {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    while (fab_->endpoints_on(addr) > 0
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  if (auto n = fab_->endpoints_on(addr); n > 0)
    return make_error(cluster_errc::leaf_running,
                      "leaf " + addr + " still has " + std::to_string(n)
                        + " actors winding down; try again");
  return {};
}

error local_cluster::start_leaf(const std::string& addr) {
  if (impl_->leaves.count(addr) > 0)
    return make_error(cluster_errc::leaf_running,
                      "leaf " + addr + " is already running");
  if (std::find(impl_->known.begin(), impl_->known.end(), addr)
      != impl_->known.end())
    return make_error(cluster_errc::leaf_stopped,
                      "leaf " + addr
                        + " already exists here; use RESTART LEAF");
  auto err = spawn_leaf_at(addr);
  drain();
  return err;
}

error local_cluster::spawn_voting_at(const std::string& addr) {
  auto i = std::find(aggregator_addrs_.begin(), aggregator_addrs_.end(), addr);
  if (i == aggregator_addrs_.end())
    return make_error(cluster_errc::unknown_leaf,
                      "no aggregator " + addr + " in this process");
  if (impl_->voting.count(addr) > 0)
    return make_error(cluster_errc::leaf_running,
                      "aggregator " + addr + " is running");
  voting_aggregator_config vc;
  vc.fab = fab_;
  vc.node = addr;
  vc.id = static_cast<uint64_t>(i - aggregator_addrs_.begin()) + 1;
  for (size_t k = 0; k < aggregator_addrs_.size(); ++k)
    vc.founders.emplace_back(k + 1, aggregator_addrs_[k]);
  auto dir = addr;
  std::replace(dir.begin(), dir.end(), ':', '_');
  vc.data_dir = data_dir_ + "/aggregators/" + dir;
  vc.fs = fs_;
  vc.master.fab = fab_;
  vc.master.node = ma_node();
  vc.master.data_dir = data_dir_ + "/ma";
  vc.master.fs = fs_;
  vc.master.detached = !opts_.simulate;
  vc.election_timeout_ms = opts_.election_timeout_ms;
  vc.seed = opts_.seed * 7919 + vc.id;
  vc.ranked_election_timeouts = !opts_.simulate;
  fab_->faults().mark_up(addr);
  impl_->voting[addr] = caf::actor_cast<caf::actor>(
    spawn_voting_aggregator(*sys_, std::move(vc)));
  return {};
}

bool local_cluster::wait_for_master(std::chrono::milliseconds limit) {
  auto up = [&] { return static_cast<bool>(fab_->lookup(ma_node(), "ma")); };
  if (opts_.simulate)
    return run_until(up, limit);
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!up() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  return up();
}

std::vector<std::string> local_cluster::aggregator_addresses() const {
  return aggregator_addrs_;
}

error local_cluster::kill_aggregator(const std::string& addr) {
  auto i = impl_->voting.find(addr);
  if (i == impl_->voting.end())
    return make_error(cluster_errc::leaf_stopped,
                      "aggregator " + addr + " is not running");
  auto handle = i->second;
  impl_->voting.erase(i);
  fab_->faults().mark_down(addr);
  fab_->faults().heal_node(addr);
  caf::anon_send_exit(handle, caf::exit_reason::kill);
  drain();
  return {};
}

error local_cluster::restart_aggregator_at(const std::string& addr) {
  if (impl_->voting.count(addr) > 0)
    return make_error(cluster_errc::leaf_running,
                      "aggregator " + addr
                        + " is running; KILL AGGREGATOR it first");
  if (auto err = wait_gone(addr))
    return err;
  auto err = spawn_voting_at(addr);
  drain();
  return err;
}

error local_cluster::isolate_aggregator(const std::string& addr) {
  if (impl_->voting.count(addr) == 0)
    return make_error(cluster_errc::leaf_stopped,
                      "aggregator " + addr + " is not running");
  fab_->faults().cut_node(addr);
  return {};
}

error local_cluster::pause_aggregator(const std::string& addr,
                                      std::chrono::milliseconds how_long) {
  auto i = impl_->voting.find(addr);
  if (i == impl_->voting.end())
    return make_error(cluster_errc::leaf_stopped,
                      "aggregator " + addr + " is not running");
  std::set<caf::actor_addr> who{i->second.address()};
  // With it, the master aggregator it runs, if it leads.
  auto rs = execute("SHOW AGGREGATORS");
  for (auto& row : rs.rows())
    if (row.cells_size() > 3 && row.cells(0) + ":" + row.cells(1) == addr
        && row.cells(3) == "1")
      if (auto ma = fab_->lookup(ma_node(), "ma"))
        who.insert(ma.address());
  fab_->faults().pause_actors(who, now() + how_long);
  return {};
}

error local_cluster::heal_aggregator(const std::string& addr) {
  if (!fab_->faults().is_cut(addr))
    return make_error(cluster_errc::unknown_leaf,
                      "aggregator " + addr + " is not isolated");
  fab_->faults().heal_node(addr);
  return {};
}

error local_cluster::aggregator_fault(sql::leaf_fault action,
                                      const std::string& addr) {
  if (aggregator_addrs_.empty())
    return make_error(cluster_errc::unknown_leaf,
                      "this cluster has one aggregator and no voting "
                      "aggregators (start it with --aggregators 3)");
  switch (action) {
    case sql::leaf_fault::kill:
      return kill_aggregator(addr);
    case sql::leaf_fault::restart:
      return restart_aggregator_at(addr);
    case sql::leaf_fault::isolate:
      return isolate_aggregator(addr);
    case sql::leaf_fault::heal:
      return heal_aggregator(addr);
    default:
      return make_error(cluster_errc::bad_option,
                        "only KILL, RESTART, ISOLATE and HEAL apply to an "
                        "aggregator");
  }
}

void local_cluster::spawn_aggregator() {
  if (opts_.aggregators > 1) {
    if (aggregator_addrs_.empty())
      for (int i = 0; i < opts_.aggregators; ++i)
        aggregator_addrs_.push_back(
          "127.0.0.1:" + std::to_string(opts_.aggregator_base_port + i));
    for (auto& addr : aggregator_addrs_)
      if (impl_->voting.count(addr) == 0)
        spawn_voting_at(addr);
    if (!wait_for_master(std::chrono::seconds{30}))
      startup_error_ = make_error(cluster_errc::startup_failed,
                                  "the voting aggregators elected no master "
                                  "aggregator within 30 s");
    return;
  }
  master_aggregator_config mc;
  mc.fab = fab_;
  mc.node = ma_node();
  mc.data_dir = data_dir_ + "/ma";
  mc.fs = fs_;
  mc.detached = !opts_.simulate;
  impl_->ma = caf::actor_cast<caf::actor>(
    spawn_master_aggregator(*sys_, std::move(mc)));
}

error local_cluster::restart_aggregator() {
  // Like a crashed process: it sends nothing more, and what it did not
  // write to its data dir is gone. The new one starts from that data dir.
  fab_->faults().mark_down(ma_node());
  caf::anon_send_exit(impl_->ma, caf::exit_reason::kill);
  drain();
  if (auto err = wait_gone(ma_node()))
    return err;
  fab_->faults().mark_up(ma_node());
  spawn_aggregator();
  drain();
  return {};
}

error local_cluster::kill_leaf(const std::string& addr) {
  return stop_leaf(addr);
}

error local_cluster::restart_leaf(const std::string& addr) {
  if (impl_->leaves.count(addr) > 0)
    return make_error(cluster_errc::leaf_running,
                      "leaf " + addr + " is running; KILL LEAF it first");
  if (std::find(impl_->known.begin(), impl_->known.end(), addr)
      == impl_->known.end())
    return make_error(cluster_errc::unknown_leaf,
                      "no leaf " + addr + " in this process");
  auto err = spawn_leaf_at(addr);
  drain();
  return err;
}

error local_cluster::destroy_leaf(const std::string& addr) {
  if (impl_->leaves.count(addr) > 0)
    if (auto err = stop_leaf(addr))
      return err;
  if (std::find(impl_->known.begin(), impl_->known.end(), addr)
      == impl_->known.end())
    return make_error(cluster_errc::unknown_leaf,
                      "no leaf " + addr + " in this process");
  if (auto err = wait_gone(addr))
    return err;
  return fs_->remove_all(leaf_dir(addr));
}

error local_cluster::isolate_leaf(const std::string& addr) {
  if (impl_->leaves.count(addr) == 0)
    return make_error(cluster_errc::leaf_stopped,
                      "leaf " + addr + " is not running");
  fab_->faults().cut_node(addr);
  return {};
}

error local_cluster::heal_leaf(const std::string& addr) {
  if (!fab_->faults().is_cut(addr))
    return make_error(cluster_errc::unknown_leaf,
                      "leaf " + addr + " is not isolated");
  fab_->faults().heal_node(addr);
  return {};
}

time_point local_cluster::now() {
  return sys_->clock().now();
}

bool local_cluster::step(std::optional<time_point> deadline) {
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(
    sys_->scheduler());
  auto& clock = sched.clock();
  auto& schedule = clock.schedule();
  if (sched.has_job()) {
    // Every job costs virtual time, so that a busy cluster (a client that
    // always has work) still lets time pass and timers fire.
    sched.run_once();
    ++jobs_run_;
    clock.current_time += opts_.sim_job_cost;
    if (!schedule.empty() && schedule.begin()->first <= clock.current_time)
      clock.advance_time(caf::timespan{0});
    return true;
  }
  if (schedule.empty()
      || (deadline && schedule.begin()->first > *deadline)) {
    if (deadline)
      clock.current_time = std::max(clock.current_time, *deadline);
    return false;
  }
  auto next = schedule.begin()->first;
  clock.advance_time(next > clock.current_time ? next - clock.current_time
                                               : caf::timespan{0});
  return true;
}

bool local_cluster::run_until(const std::function<bool()>& pred,
                              std::chrono::milliseconds limit) {
  if (!opts_.simulate) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(std::chrono::microseconds{200});
    }
    return true;
  }
  auto deadline = now() + limit;
  for (;;) {
    if (pred())
      return true;
    if (!step(deadline) || now() >= deadline)
      return pred();
  }
}

void local_cluster::sleep(std::chrono::milliseconds d) {
  if (!opts_.simulate) {
    std::this_thread::sleep_for(d);
    return;
  }
  run_until([] { return false; }, d);
}

void local_cluster::wait_background_idle() {
  if (checkpoints_)
    checkpoints_->drain();
  if (snapshot_writes_)
    snapshot_writes_->drain();
}

std::vector<std::string> local_cluster::leaf_addresses() const {
  return impl_->known;
}

bool local_cluster::leaf_running(const std::string& addr) const {
  return impl_->leaves.count(addr) > 0;
}

pb::ResultSet local_cluster::execute(const std::string& statement) {
  if (!sys_)
    return make_failure(sql::errc::internal, startup_error_.to_string());
  auto parsed = sql::parse(statement);
  if (parsed.ok()) {
    if (auto fault = std::get_if<sql::leaf_fault_stmt>(&*parsed)) {
      auto addr = fault->leaf.to_string();
      error err;
      if (fault->aggregator) {
        err = aggregator_fault(fault->action, addr);
        if (err)
          return make_failure(sql::errc::conflict, err.detail());
        return make_message(std::string{"Query OK ("}
                            + to_string(fault->action) + " AGGREGATOR "
                            + addr + ")");
      }
      switch (fault->action) {
        case sql::leaf_fault::start:
          err = start_leaf(addr);
          break;
        case sql::leaf_fault::kill:
          err = kill_leaf(addr);
          break;
        case sql::leaf_fault::restart:
          err = restart_leaf(addr);
          break;
        case sql::leaf_fault::destroy:
          err = destroy_leaf(addr);
          break;
        case sql::leaf_fault::isolate:
          err = isolate_leaf(addr);
          break;
        case sql::leaf_fault::heal:
          err = heal_leaf(addr);
          break;
      }
      if (err)
        return make_failure(err.name() == "unknown_leaf"
                              ? sql::errc::unknown_leaf
                              : sql::errc::conflict,
                            err.detail());
      return make_message(std::string{"Query OK ("} + to_string(fault->action)
                          + " LEAF " + addr + ")");
    }
    if (auto s = std::get_if<sql::sleep_stmt>(&*parsed)) {
      sleep(std::chrono::milliseconds{s->ms});
      return make_message("Query OK (slept " + std::to_string(s->ms)
                          + " ms)");
    }
  }
  auto id = submit(statement);
  auto& box = *impl_->box;
  auto ready = [&] {
    std::lock_guard<std::mutex> guard{box.mtx};
    return box.done.count(id) > 0;
  };
  bool ok;
  if (opts_.simulate) {
    ok = run_until(ready, std::chrono::minutes{15});
  } else {
    std::unique_lock<std::mutex> guard{box.mtx};
    ok = box.cv.wait_for(guard, std::chrono::minutes{15},
                         [&] { return box.done.count(id) > 0; });
  }
  if (!ok)
    return make_failure(sql::errc::timeout,
                        "no result for '" + statement + "' within 15 min");
  std::lock_guard<std::mutex> guard{box.mtx};
  auto result = std::move(box.done[id]);
  box.done.erase(id);
  return result;
}

} // namespace lg
