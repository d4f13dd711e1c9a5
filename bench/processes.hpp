// A cluster of real leafguard processes on loopback for the benchmarks:
// aggregators and leaves, each its own process, started from the binary,
// driven with `leafguard sql`, signalled, and all killed when a benchmark
// stops (or dies: no run leaves a cluster holding its ports).
//
// Ports: the first aggregator on `base`, leaf N on base+N (1-4), the other
// aggregators on base+10+K (K = 1, 2, ...).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lg::bench {

/// Reports `why` as the benchmark `name` and exits, killing every process
/// started through process_cluster first.
[[noreturn]] void die(const std::string& name, const std::string& why);

/// Milliseconds since midnight of a log line "HH:MM:SS.mmm ...", -1 if
/// it has no time.
int64_t log_ms(const std::string& line);
/// Milliseconds since midnight now, on the clock the logs are written in.
int64_t now_ms_of_day();
/// Lines of `path` from byte `from` on that contain `what`; with `after`,
/// only those that follow the first line containing `after`.
std::vector<std::string> log_lines(const std::string& path, size_t from,
                                   const std::string& what,
                                   const std::string& after = {});
/// The size of the file at `path` (0 if none).
size_t file_size(const std::string& path);

class process_cluster {
public:
  explicit process_cluster(std::string bench_name)
    : name_(std::move(bench_name)) {
  }

  std::string leafguard;
  std::string dir;
  int base = 0;
  pid_t ma = 0;                ///< the first aggregator
  std::map<int, pid_t> leaves; ///< leaf number -> pid
  std::map<int, pid_t> aggregators; ///< other aggregator number -> pid

  int port(int leaf) const {
    return base + leaf;
  }
  int aggregator_port(int k) const {
    return base + 10 + k;
  }

  /// The first aggregator, `extra_aggregators` more added as voting
  /// members, and 4 leaves in redundancy 2, in a new temporary dir.
  void start(const std::string& binary, int first_port,
             int extra_aggregators = 0);
  void start_ma();
  void start_aggregator(int k);
  void start_leaf(int n);

  /// Sends `sig` to leaf N; SIGKILL reaps it.
  void signal_leaf(int n, int sig);
  /// Sends `sig` to the aggregator on `port`; SIGKILL reaps it.
  void signal_aggregator(int port, int sig);

  /// Runs statements through `leafguard sql` on `port` (the first
  /// aggregator when 0); dies on any error.
  std::string sql(const std::string& stmts, int port = 0);

  /// Kills every process of the cluster.
  void stop();

  static void wait_port(int p);

private:
  pid_t spawn(const std::vector<std::string>& args, const std::string& log);
  [[noreturn]] void fail(const std::string& why) const {
    die(name_, why);
  }

  std::string name_;
};

} // namespace lg::bench
