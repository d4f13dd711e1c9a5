#include "bench/processes.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

namespace lg::bench {

namespace {

using clock_type = std::chrono::steady_clock;

/// The node processes started and not yet reaped.
std::set<pid_t> children;

void reap(pid_t pid) {
  kill(pid, SIGCONT);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  children.erase(pid);
}

} // namespace

/// Milliseconds since midnight of a log line "HH:MM:SS.mmm ...".
int64_t log_ms(const std::string& line) {
  int h = 0, m = 0, s = 0, ms = 0;
  if (std::sscanf(line.c_str(), "%d:%d:%d.%d", &h, &m, &s, &ms) != 4)
    return -1;
  return ((h * 60 + m) * 60 + s) * 1000LL + ms;
}

int64_t now_ms_of_day() {
  auto t = std::chrono::system_clock::now();
  auto tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              t.time_since_epoch())
              .count()
            % 1000;
  return ((tm.tm_hour * 60 + tm.tm_min) * 60 + tm.tm_sec) * 1000LL + ms;
}

/// Lines of `path` from byte `from` on that contain `what`; with `after`,
/// only those that follow the first line containing `after`.
std::vector<std::string> log_lines(const std::string& path, size_t from,
                                   const std::string& what,
                                   const std::string& after) {
  std::ifstream in{path};
  in.seekg(static_cast<std::streamoff>(from));
  std::vector<std::string> out;
  std::string line;
  bool counting = after.empty();
  while (std::getline(in, line)) {
    if (!counting) {
      counting = line.find(after) != std::string::npos;
      continue;
    }
    if (line.find(what) != std::string::npos)
      out.push_back(line);
  }
  return out;
}

size_t file_size(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

void die(const std::string& name, const std::string& why) {
  std::fprintf(stderr, "%s: %s\n", name.c_str(), why.c_str());
  for (auto pid : std::set<pid_t>{children})
    reap(pid);
  std::exit(1);
}

pid_t process_cluster::spawn(const std::vector<std::string>& args,
                             const std::string& log) {
  auto pid = fork();
  if (pid == 0) {
    auto fd = std::fopen(log.c_str(), "a");
    dup2(fileno(fd), 1);
    dup2(fileno(fd), 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(leafguard.c_str()));
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(leafguard.c_str(), argv.data());
    _exit(127);
  }
  children.insert(pid);
  return pid;
}

void process_cluster::wait_port(int p) {
  auto deadline = clock_type::now() + std::chrono::seconds{10};
  for (;;) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(p));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(s);
    if (ok)
      return;
    if (clock_type::now() > deadline)
      die("bench", "nothing listens on port " + std::to_string(p));
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

void process_cluster::start(const std::string& binary, int first_port,
                            int extra_aggregators) {
  leafguard = binary;
  char tmpl[] = "/tmp/leafguard-bench-XXXXXX";
  dir = mkdtemp(tmpl);
  base = first_port;
  start_ma();
  for (int k = 1; k <= extra_aggregators; ++k) {
    start_aggregator(k);
    sql("ADD AGGREGATOR '127.0.0.1':" + std::to_string(aggregator_port(k)));
  }
  for (int n = 1; n <= 4; ++n)
    start_leaf(n);
  sql("SET GLOBAL redundancy_level = 2");
  for (int n = 1; n <= 4; ++n)
    sql("ADD LEAF '127.0.0.1':" + std::to_string(port(n)));
}

void process_cluster::start_ma() {
  ma = spawn({"master-aggregator", "--port", std::to_string(base),
              "--data-dir", dir + "/ma", "--log-level", "info"},
             dir + "/ma.log");
  wait_port(base);
}

void process_cluster::start_aggregator(int k) {
  auto name = "agg" + std::to_string(k);
  aggregators[k] = spawn({"aggregator", "--port",
                          std::to_string(aggregator_port(k)), "--data-dir",
                          dir + "/" + name, "--log-level", "info"},
                         dir + "/" + name + ".log");
  wait_port(aggregator_port(k));
}

void process_cluster::start_leaf(int n) {
  leaves[n] = spawn({"leaf", "--port", std::to_string(port(n)),
                     "--data-dir", dir + "/leaf" + std::to_string(n),
                     "--log-level", "info"},
                    dir + "/leaf" + std::to_string(n) + ".log");
  wait_port(port(n));
}

void process_cluster::signal_leaf(int n, int sig) {
  kill(leaves[n], sig);
  if (sig == SIGKILL) {
    waitpid(leaves[n], nullptr, 0);
    children.erase(leaves[n]);
    leaves.erase(n);
  }
}

void process_cluster::signal_aggregator(int p, int sig) {
  pid_t* pid = p == base ? &ma : nullptr;
  for (auto& [k, agg] : aggregators)
    if (aggregator_port(k) == p)
      pid = &agg;
  if (pid == nullptr || *pid == 0)
    fail("no aggregator process on port " + std::to_string(p));
  kill(*pid, sig);
  if (sig == SIGKILL) {
    waitpid(*pid, nullptr, 0);
    children.erase(*pid);
    *pid = 0;
  }
}

std::string process_cluster::sql(const std::string& stmts, int p) {
  auto cmd = leafguard + " sql --port " + std::to_string(p == 0 ? base : p)
             + " -e \"" + stmts + "\" 2>&1";
  auto* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    out.append(buf, n);
  if (pclose(f) != 0)
    fail("'" + stmts + "' failed: " + out);
  return out;
}

void process_cluster::stop() {
  for (auto& [n, pid] : leaves)
    reap(pid);
  leaves.clear();
  for (auto& [k, pid] : aggregators)
    if (pid != 0)
      reap(pid);
  aggregators.clear();
  if (ma != 0)
    reap(ma);
  ma = 0;
}

} // namespace lg::bench
