// The embedding API: a whole leafguard cluster in one process, for tests and
// for `leafguard local`. It runs on CAF's threaded scheduler in real time, or
// on CAF's deterministic test scheduler in virtual time (`simulate`).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/net/fabric.hpp"
#include "storage/background_worker.hpp"
#include "base/error.hpp"
#include "common.pb.h"
#include "sql/ast.hpp"
#include "storage/vfs.hpp"

namespace lg {

/// How to start an in-process cluster.
struct local_cluster_options {
  int leaves = 4;
  int redundancy = 2;
  std::string data_dir; ///< empty: a fresh temporary dir removed at exit
  bool simulate = false;
  /// An instance checkpoints once its log holds more than this.
  uint64_t checkpoint_log_bytes = 64 * 1024 * 1024;
  uint64_t seed = 0;
  std::string trace_file; ///< empty: no trace file
  uint16_t base_port = 10001;
  /// The file system; default: the real disk.
  std::shared_ptr<storage::vfs> fs;
  /// Simulated clusters: virtual time that each actor job costs.
  caf::timespan sim_job_cost = std::chrono::microseconds{1};
  /// Voting aggregators (1: one master aggregator, no consensus). With
  /// more, they elect the master aggregator and commit the metadata by
  /// Raft; they are at 127.0.0.1 from aggregator_base_port on.
  int aggregators = 1;
  uint16_t aggregator_base_port = 3306;
  unsigned election_timeout_ms = 1000;
  /// The session's request timeout until a map brings the cluster's (the
  /// simulation sets the cluster's from the start, so that the first
  /// statements are held to it too).
  int64_t session_request_timeout_ms = 10000;
  /// Loads CAF's middleman, for ports that clients connect to
  /// (serve_mysql in cluster/local_mysql.hpp). Real time only.
  bool network = false;
  /// Whether its actors keep metrics (base/metrics.hpp); off only to
  /// measure what keeping them costs.
  bool metrics = true;
};

enum class cluster_errc {
  bad_option,    ///< an option is out of range
  leaf_running,  ///< the leaf is already running
  leaf_stopped,  ///< the leaf is not running
  unknown_leaf,  ///< no such leaf in this process
  startup_failed ///< the cluster could not be started
};

const char* to_string(cluster_errc code);

LG_MODULE_ERRORS("cluster", cluster_errc)

/// Sets up CAF's threaded scheduler the way every real-time leafguard
/// process runs it: in-process clusters and node processes alike.
void configure_threaded_scheduler(caf::actor_system_config& cfg);

/// A master aggregator, its leaves and a client session in one process.
class local_cluster {
public:
  /// Starts the cluster, or restores it from `opts.data_dir`. Check ok().
  explicit local_cluster(local_cluster_options opts);

  ~local_cluster();

  local_cluster(const local_cluster&) = delete;
  local_cluster& operator=(const local_cluster&) = delete;

  /// Returns the start-up error, if any.
  const error& startup_error() const {
    return startup_error_;
  }

  /// Runs one statement. Test-cluster statements (START/KILL/RESTART/
  /// DESTROY/ISOLATE/HEAL LEAF, SLEEP) run here; everything else goes
  /// through the client session.
  pb::ResultSet execute(const std::string& statement);

  /// Sends a cluster or data statement to the session without waiting (not
  /// the test-cluster statements); take_result(id) gives its result once
  /// it is there. Lets a caller fault the cluster while a statement runs.
  uint64_t submit(const std::string& statement);

  /// The result of submitted statement `id`, once (nullopt until then).
  std::optional<pb::ResultSet> take_result(uint64_t id);

  /// Starts a new, empty leaf at `addr` ("host:port") that is not yet in
  /// the cluster.
  error start_leaf(const std::string& addr);

  /// Crashes a leaf: its actors die, its disk stays.
  error kill_leaf(const std::string& addr);

  /// Crashes the master aggregator and starts a new one from its data dir
  /// (what it had not written is lost), while the leaves run on.
  error restart_aggregator();

  /// Starts a killed leaf again from its disk.
  error restart_leaf(const std::string& addr);

  /// Voting aggregators: crashes the one at `addr` (and the master
  /// aggregator with it, if it leads), starts it again from its disk, cuts
  /// or restores its messages.
  error kill_aggregator(const std::string& addr);
  error restart_aggregator_at(const std::string& addr);
  error isolate_aggregator(const std::string& addr);
  error heal_aggregator(const std::string& addr);
  /// Holds every message the voting aggregator at `addr`, and the master
  /// aggregator it runs, send for `how_long` (a stopped process).
  error pause_aggregator(const std::string& addr,
                         std::chrono::milliseconds how_long);

  /// The voting aggregators' addresses (empty with one aggregator).
  std::vector<std::string> aggregator_addresses() const;

  /// Waits until a master aggregator runs (one is elected).
  bool wait_for_master(std::chrono::milliseconds limit);

  /// Crashes a leaf and wipes its disk.
  error destroy_leaf(const std::string& addr);

  /// Cuts every message to and from a running leaf.
  error isolate_leaf(const std::string& addr);

  /// Restores the messages of an isolated leaf.
  error heal_leaf(const std::string& addr);

  /// Waits `d` (virtual time when simulated).
  void sleep(std::chrono::milliseconds d);

  /// Runs until `pred` holds or `limit` passes (virtual time when
  /// simulated). Returns whether `pred` held.
  bool run_until(const std::function<bool()>& pred,
                 std::chrono::milliseconds limit);

  /// Simulated clusters only: runs one actor job (costing 1 µs of virtual
  /// time), or advances the clock to the next timer (not past `deadline`).
  /// Returns false when there was nothing to do.
  bool step(std::optional<time_point> deadline = std::nullopt);

  /// Actor jobs run by step() so far (simulated clusters).
  uint64_t jobs_run() const {
    return jobs_run_;
  }

  /// The current time of the cluster's clock.
  time_point now();

  fabric& transport() {
    return *fab_;
  }

  fabric_ptr transport_ptr() {
    return fab_;
  }

  caf::actor_system& system() {
    return *sys_;
  }

  bool simulated() const {
    return opts_.simulate;
  }

  const std::string& data_dir() const {
    return data_dir_;
  }

  /// Waits until no checkpoint or snapshot write is queued or running on
  /// the background threads (real time; a simulation runs them inline).
  void wait_background_idle();

  /// The addresses of the leaves this process runs or ran.
  std::vector<std::string> leaf_addresses() const;

  /// Returns true when the leaf at `addr` is running.
  bool leaf_running(const std::string& addr) const;

  /// The node name of the aggregator ("ma").
  static const char* ma_node() {
    return "ma";
  }

  /// The node and actor name of the client session that runs statements.
  static const char* session_node() {
    return "local";
  }
  static const char* session_name() {
    return "session/1";
  }

private:
  struct impl;

  error spawn_leaf_at(const std::string& addr);
  void spawn_aggregator();
  error spawn_voting_at(const std::string& addr);
  error aggregator_fault(sql::leaf_fault action, const std::string& addr);
  error stop_leaf(const std::string& addr);
  /// Waits until the actors of a stopped leaf are gone.
  error wait_gone(const std::string& addr);
  std::string leaf_dir(const std::string& addr) const;
  void drain();

  local_cluster_options opts_;
  uint64_t jobs_run_ = 0;
  std::string data_dir_;
  bool remove_data_dir_ = false;
  /// Voting aggregators: every address, and the running ones.
  std::vector<std::string> aggregator_addrs_;
  error startup_error_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  /// Runs the instances' checkpoints (real time only); stopped before sys_
  /// goes.
  std::shared_ptr<storage::background_worker> checkpoints_;
  /// Writes the snapshots that rebuilt instances receive (real time only).
  std::shared_ptr<storage::background_worker> snapshot_writes_;
  fabric_ptr fab_;
  std::shared_ptr<storage::vfs> fs_;
  std::unique_ptr<impl> impl_;
};

} // namespace lg
