// Benchmark: leafguard through its MySQL port, as MySQL clients use it, with
// Redis beside it measured in the same run on the same machine.
//
//   mysql [--connections N] [--seconds S] [--leafguard PATH] [--port P]
//         [--redis-script PATH] [--redis-requests R] [--no-redis]
//         [--external [--user U] [--password PW]]
//
// Steps:
//   1. Starts `leafguard local --leaves 4 --mysql-port P` (redundancy 2, the
//      default; stdin from /dev/null) and waits until the port logs a client
//      in and SHOW LEAVES shows every leaf online.
//   2. CREATE DATABASE bench, with the default partitions.
//   3. N threads, each with one blocking connection and one query at a
//      time, as a MySQL client library drives a connection: S seconds of
//      single-row INSERTs of new random keys with 16-byte values, then S
//      seconds of point SELECTs of random keys written in step 3. An ERR
//      answer is counted as an error, not as a query.
//   4. Stops leafguard (SIGTERM), then runs bench/peers/redis.sh
//      unpipelined N: a Redis master with an asynchronous replica, measured
//      by redis-benchmark -P 1 -c N (SET and GET, 16-byte values), so that
//      the two never share the CPUs.
//   5. Prints leafguard beside Redis (INSERT/s against SET/s, SELECT/s
//      against GET/s, latencies) and whether INSERT/s reaches 0.8 x SET/s.
//
// Why the Redis peer: an unpipelined client pays a loopback round trip and
// two context switches per query whatever the server does; Redis shows what
// a fast single-node server with an asynchronous replica gets from the same
// machine and the same number of connections.
//
// --external measures a MySQL-compatible server already on --port (MariaDB,
// MySQL) instead of starting leafguard: a table lg_bench.bench with a `key`
// primary key, written and read the same way.
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/measure.hpp"
#include "bench/mysql_client.hpp"

#ifndef LG_SOURCE_DIR
#define LG_SOURCE_DIR "."
#endif

namespace {

using clock_type = std::chrono::steady_clock;
using lg::bench::mysql_answer;
using lg::bench::mysql_client;
using lg::bench::mysql_login;

constexpr int leaves = 4;

struct options {
  int connections = 50;
  double seconds = 10;
  std::string leafguard;
  int port = 0;
  std::string redis_script = LG_SOURCE_DIR "/bench/peers/redis.sh";
  long redis_requests = 0; ///< 0: the script's default
  bool redis = true;
  bool external = false;
  std::string user = "root";
  std::string password;
};

/// The leafguard process started in step 1 (0: none), stopped on any exit.
std::atomic<pid_t> server_pid{0};
std::string server_log;

/// Kills the leafguard process, if one runs, and waits for it.
void kill_server() {
  if (server_pid == 0)
    return;
  kill(server_pid, SIGKILL);
  waitpid(server_pid, nullptr, 0);
  server_pid = 0;
}

/// The last lines of the leafguard log, to explain a failure.
std::string log_tail(size_t lines) {
  std::ifstream in{server_log};
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line))
    all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size();
       ++i)
    out += "  | " + all[i] + "\n";
  return out;
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "mysql: %s\n", why.c_str());
  if (server_pid != 0 && !server_log.empty())
    std::fprintf(stderr, "leafguard's log (%s) ends:\n%s", server_log.c_str(),
                 log_tail(15).c_str());
  kill_server();
  std::exit(1);
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "mysql: %s\n"
               "usage: mysql [--connections N (50)] [--seconds S (10)] "
               "[--leafguard PATH] [--port P]\n"
               "             [--redis-script PATH] [--redis-requests R] "
               "[--no-redis]\n"
               "             [--external [--user U] [--password PW]]\n",
               why.c_str());
  std::exit(2);
}

/// build/bench/mysql -> build/leafguard.
std::string default_leafguard() {
  char buf[4096];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return "build/leafguard";
  std::string self(buf, static_cast<size_t>(n));
  auto dir = self.substr(0, self.rfind('/'));
  return dir.substr(0, dir.rfind('/')) + "/leafguard";
}

/// A loopback port nothing listens on now.
int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
      || getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    die(std::string{"no free loopback port: "} + std::strerror(errno));
  close(s);
  return ntohs(a.sin_port);
}

options parse(int argc, char** argv) {
  options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    auto arg = args[i];
    std::string value;
    bool inline_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0
                                 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    auto next = [&]() -> std::string {
      if (inline_value)
        return value;
      if (i + 1 >= args.size())
        usage(arg + " needs a value");
      return args[++i];
    };
    auto count = [&](long lo) {
      auto text = next();
      char* end = nullptr;
      auto v = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || v < lo)
        usage(arg + " takes a whole number of at least " + std::to_string(lo)
              + ", not '" + text + "'");
      return v;
    };
    if (arg == "--connections")
      o.connections = static_cast<int>(count(1));
    else if (arg == "--seconds") {
      auto text = next();
      char* end = nullptr;
      o.seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(o.seconds > 0))
        usage("--seconds takes a positive number, not '" + text + "'");
    } else if (arg == "--leafguard")
      o.leafguard = next();
    else if (arg == "--port")
      o.port = static_cast<int>(count(1));
    else if (arg == "--redis-script")
      o.redis_script = next();
    else if (arg == "--redis-requests")
      o.redis_requests = count(1);
    else if (arg == "--no-redis")
      o.redis = false;
    else if (arg == "--external")
      o.external = true;
    else if (arg == "--user")
      o.user = next();
    else if (arg == "--password")
      o.password = next();
    else if (arg == "--help" || arg == "-h")
      usage("measures leafguard's MySQL port against Redis");
    else
      usage("unknown argument '" + args[i] + "'");
  }
  if (o.external && o.port == 0)
    usage("--external needs the --port of the server to measure");
  if (o.port > 65535)
    usage("--port " + std::to_string(o.port) + " is no TCP port");
  if (o.leafguard.empty())
    o.leafguard = default_leafguard();
  if (o.port == 0)
    o.port = free_port();
  return o;
}

/// The statements of one server's SQL.
struct dialect {
  std::vector<std::string> setup;
  std::string table;
  std::string key_column;
};

dialect leafguard_sql() {
  return {{"CREATE DATABASE bench"}, "bench", "key"};
}

dialect mysql_sql() {
  return {{"CREATE DATABASE IF NOT EXISTS lg_bench",
           "DROP TABLE IF EXISTS lg_bench.bench",
           "CREATE TABLE lg_bench.bench (`key` VARCHAR(32) PRIMARY KEY, "
           "value VARCHAR(32))"},
          "lg_bench.bench",
          "`key`"};
}

mysql_login login_of(const options& o) {
  mysql_login l;
  l.port = o.port;
  l.user = o.user;
  l.password = o.password;
  return l;
}

/// The user plus system CPU seconds of process `pid` so far (-1 if gone).
double cpu_seconds_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat;
  if (!std::getline(in, stat))
    return -1;
  // Fields after the command name, which is in parentheses: state is the
  // 3rd field, utime the 14th, stime the 15th.
  std::istringstream rest{stat.substr(stat.rfind(')') + 2)};
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::atof(field.c_str());
    if (i == 15)
      stime = std::atof(field.c_str());
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}


/// Step 1: starts leafguard and returns once its leaves are online.
void start_leafguard(const options& o) {
  if (access(o.leafguard.c_str(), X_OK) != 0)
    die("no leafguard binary at " + o.leafguard + " (--leafguard PATH)");
  char tmpl[] = "/tmp/lg-bench-mysql-XXXXXX";
  if (mkdtemp(tmpl) == nullptr)
    die(std::string{"mkdtemp: "} + std::strerror(errno));
  server_log = std::string{tmpl} + "/leafguard.log";
  std::vector<std::string> args{o.leafguard,  "local",
                                "--leaves",   std::to_string(leaves),
                                "--mysql-port", std::to_string(o.port),
                                "--log-level", "warn"};
  auto parent = getpid();
  auto pid = fork();
  if (pid < 0)
    die(std::string{"fork: "} + std::strerror(errno));
  if (pid == 0) {
    // leafguard dies with this benchmark, however the benchmark ends.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    // What this benchmark ignores, leafguard must not inherit.
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    auto null = std::fopen("/dev/null", "r");
    auto log = std::fopen(server_log.c_str(), "a");
    if (null == nullptr || log == nullptr)
      _exit(127);
    dup2(fileno(null), 0);
    dup2(fileno(log), 1);
    dup2(fileno(log), 2);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(o.leafguard.c_str(), argv.data());
    _exit(127);
  }
  server_pid = pid;
  auto alive = [&] {
    int status = 0;
    if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
      server_pid = 0;
      die("leafguard exited during startup (status "
          + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status)
                                             : 128 + WTERMSIG(status))
          + "); its log ends:\n" + log_tail(15));
    }
  };
  auto deadline = clock_type::now() + std::chrono::seconds{60};
  std::unique_ptr<mysql_client> admin;
  std::string last;
  while (!admin) {
    alive();
    auto c = mysql_client::connect(login_of(o));
    if (c) {
      admin = std::move(*c);
      break;
    }
    last = c.err().to_string();
    if (clock_type::now() > deadline)
      die("leafguard's MySQL port " + std::to_string(o.port)
          + " logs no client in after 60 s: " + last);
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  for (;;) {
    alive();
    auto rs = admin->query("SHOW LEAVES");
    if (!rs)
      die("SHOW LEAVES: " + rs.err().to_string());
    int state = rs->column("State");
    int online = 0;
    if (!rs->failed && state >= 0)
      for (auto& row : rs->rows)
        online += row[static_cast<size_t>(state)].value_or("") == "online";
    if (online >= leaves)
      return;
    last = rs->failed ? rs->message
                      : std::to_string(online) + " of "
                          + std::to_string(leaves) + " leaves online";
    if (clock_type::now() > deadline)
      die("SHOW LEAVES after 60 s: " + last);
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

/// Step 4: SIGTERM, as an operator stops leafguard; returns what happened.
std::string stop_leafguard() {
  if (server_pid == 0)
    return "";
  kill(server_pid, SIGTERM);
  auto deadline = clock_type::now() + std::chrono::seconds{15};
  int status = 0;
  while (waitpid(server_pid, &status, WNOHANG) != server_pid) {
    if (clock_type::now() > deadline) {
      kill_server();
      return "leafguard did not stop within 15 s of SIGTERM; killed";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  server_pid = 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return "";
  return "leafguard stopped on SIGTERM with status "
         + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status)
                                            : 128 + WTERMSIG(status));
}

/// One client thread's connection and tallies.
struct worker {
  std::unique_ptr<mysql_client> conn;
  std::mt19937_64 rng;
  std::vector<uint64_t> keys; ///< keys this worker inserted
  uint64_t queries = 0;
  uint64_t errors = 0;  ///< ERR answers
  uint64_t missing = 0; ///< SELECTs of an inserted key that found no row
  std::string first_error;
  std::string lost; ///< why the connection broke, if it did
  std::vector<uint32_t> latency_us;
};

enum class phase_kind { insert, select };

/// What one phase measured over every worker.
struct phase_figures {
  uint64_t queries = 0;
  uint64_t errors = 0;
  uint64_t missing = 0;
  int lost = 0;
  std::string first_error;
  std::string first_lost;
  double seconds = 0;
  double per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double client_cpu_us = 0; ///< this process's CPU per query
  double server_cpu_us = -1; ///< leafguard's CPU per query (-1: unknown)
};

std::string hex_key(uint64_t k) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "k%016llx",
                static_cast<unsigned long long>(k));
  return buf;
}

/// Step 3, one phase: every worker runs queries back to back for
/// `seconds`.
phase_figures run_phase(std::vector<worker>& workers, phase_kind kind,
                        double seconds, const dialect& sql,
                        const std::vector<uint64_t>& existing) {
  std::atomic<bool> go{false};
  auto span = std::chrono::duration_cast<clock_type::duration>(
    std::chrono::duration<double>{seconds});
  clock_type::time_point deadline;
  std::vector<std::thread> threads;
  auto insert_head = "INSERT INTO " + sql.table + " VALUES ('";
  auto select_head = "SELECT * FROM " + sql.table + " WHERE " + sql.key_column
                     + " = '";
  for (auto& w : workers) {
    w.queries = w.errors = w.missing = 0;
    w.latency_us.clear();
    threads.emplace_back([&, wp = &w] {
      auto& w = *wp;
      if (!w.conn)
        return;
      static const char hex[] = "0123456789abcdef";
      std::string stmt;
      while (!go.load(std::memory_order_acquire))
        std::this_thread::yield();
      while (clock_type::now() < deadline) {
        uint64_t key = 0;
        if (kind == phase_kind::insert) {
          key = w.rng();
          auto bits = w.rng();
          // A 16-byte value, as redis-benchmark -d 16 sets.
          std::string value(16, 'v');
          for (int i = 1; i < 16; ++i)
            value[static_cast<size_t>(i)] = hex[(bits >> (4 * i)) & 0xf];
          stmt = insert_head + hex_key(key) + "','" + value + "')";
        } else {
          key = existing[w.rng() % existing.size()];
          stmt = select_head + hex_key(key) + "'";
        }
        auto t0 = clock_type::now();
        auto answer = w.conn->query(stmt);
        auto t1 = clock_type::now();
        if (!answer) {
          w.lost = answer.err().to_string();
          w.conn.reset();
          return;
        }
        if (answer->failed) {
          if (w.errors++ == 0)
            w.first_error = std::to_string(answer->code) + " ("
                            + answer->sqlstate + ") " + answer->message;
          continue;
        }
        ++w.queries;
        w.latency_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0)
            .count()));
        if (kind == phase_kind::insert)
          w.keys.push_back(key);
        else if (answer->rows.size() != 1)
          ++w.missing;
      }
    });
  }
  auto server_cpu0 = server_pid != 0 ? cpu_seconds_of(server_pid) : -1;
  auto cpu0 = lg::bench::process_cpu_seconds();
  auto start = clock_type::now();
  deadline = start + span;
  go.store(true, std::memory_order_release);
  for (auto& t : threads)
    t.join();
  auto end = clock_type::now();
  auto cpu1 = lg::bench::process_cpu_seconds();
  auto server_cpu1 = server_pid != 0 ? cpu_seconds_of(server_pid) : -1;
  phase_figures f;
  std::vector<uint32_t> all;
  for (auto& w : workers) {
    f.queries += w.queries;
    f.errors += w.errors;
    f.missing += w.missing;
    if (f.first_error.empty())
      f.first_error = w.first_error;
    if (!w.lost.empty()) {
      ++f.lost;
      if (f.first_lost.empty())
        f.first_lost = w.lost;
      w.lost.clear();
    }
    all.insert(all.end(), w.latency_us.begin(), w.latency_us.end());
  }
  f.seconds = std::chrono::duration<double>(end - start).count();
  f.per_s = static_cast<double>(f.queries) / f.seconds;
  f.p50_ms = lg::bench::percentile(all, 50) / 1000.0;
  f.p99_ms = lg::bench::percentile(all, 99) / 1000.0;
  auto per_query = [&](double cpu) {
    return f.queries > 0 ? cpu * 1e6 / static_cast<double>(f.queries) : 0;
  };
  f.client_cpu_us = per_query(cpu1 - cpu0);
  if (server_cpu0 >= 0 && server_cpu1 >= 0)
    f.server_cpu_us = per_query(server_cpu1 - server_cpu0);
  return f;
}

void print_phase(const char* name, const phase_figures& f) {
  std::printf("%-6s %9.0f queries/s  p50 %7.3f ms  p99 %7.3f ms  "
              "(%llu in %.2f s)  cpu/query: client %.1f us",
              name, f.per_s, f.p50_ms, f.p99_ms,
              static_cast<unsigned long long>(f.queries), f.seconds,
              f.client_cpu_us);
  if (f.server_cpu_us >= 0)
    std::printf(", leafguard %.1f us", f.server_cpu_us);
  std::printf("\n");
  if (f.errors > 0)
    std::printf("       %llu ERR answers, the first: %s\n",
                static_cast<unsigned long long>(f.errors),
                f.first_error.c_str());
  if (f.missing > 0)
    std::printf("       %llu SELECTs of an inserted key found no row\n",
                static_cast<unsigned long long>(f.missing));
  if (f.lost > 0)
    std::printf("       %d connections broke, the first: %s\n", f.lost,
                f.first_lost.c_str());
  std::fflush(stdout);
}

/// Step 4: the figures redis.sh prints as name=value lines, or why none.
std::map<std::string, double> run_redis(const options& o, std::string& why) {
  std::map<std::string, double> out;
  auto cmd = "'" + o.redis_script + "' unpipelined "
             + std::to_string(o.connections);
  if (o.redis_requests > 0)
    cmd += " " + std::to_string(o.redis_requests);
  std::fflush(stdout);
  auto* f = popen(cmd.c_str(), "r");
  if (f == nullptr) {
    why = std::string{"popen: "} + std::strerror(errno);
    return out;
  }
  char line[512];
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    std::string s{line};
    auto eq = s.find('=');
    if (eq != std::string::npos)
      out[s.substr(0, eq)] = std::atof(s.c_str() + eq + 1);
  }
  auto status = pclose(f);
  if (status != 0)
    why = cmd + " failed (status " + std::to_string(WEXITSTATUS(status))
          + ")";
  else if (out.count("redis_set_per_s") == 0)
    why = cmd + " printed no redis_set_per_s";
  return out;
}

/// "0.93", or "-" when either side is missing.
std::string ratio(double a, double b) {
  if (a <= 0 || b <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", a / b);
  return buf;
}

std::string figure(double v, const char* fmt) {
  if (v < 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  // A broken connection is an error answer, not a reason to die.
  signal(SIGPIPE, SIG_IGN);
  // Interrupted, the benchmark takes leafguard down with it at once (its
  // temp dir, which holds its log, stays).
  auto on_signal = [](int sig) {
    if (server_pid != 0)
      kill(server_pid, SIGKILL);
    _exit(128 + sig);
  };
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  std::string server_name = o.external ? "server" : "leafguard";
  auto sql = o.external ? mysql_sql() : leafguard_sql();
  if (o.external)
    std::printf("mysql: the MySQL server already on port %d, as user '%s'; "
                "%d connections, each one query at a time; %.1f s of "
                "INSERT, then %.1f s of SELECT\n",
                o.port, o.user.c_str(), o.connections, o.seconds, o.seconds);
  else
    std::printf("mysql: leafguard local (%d leaves, redundancy 2) on MySQL "
                "port %d; %d connections, each one query at a time; %.1f s "
                "of INSERT, then %.1f s of SELECT\n",
                leaves, o.port, o.connections, o.seconds, o.seconds);
  std::fflush(stdout);
  if (!o.external)
    start_leafguard(o);
  // Step 2.
  {
    auto admin = mysql_client::connect(login_of(o));
    if (!admin)
      die(admin.err().to_string());
    if (o.external) {
      auto& version = (*admin)->server_version();
      std::printf("server version %s\n", version.c_str());
      server_name = version.find("MariaDB") != std::string::npos ? "MariaDB"
                                                                  : "MySQL";
    }
    for (auto& stmt : sql.setup) {
      auto rs = (*admin)->query(stmt);
      if (!rs)
        die(stmt + ": " + rs.err().to_string());
      if (rs->failed)
        die(stmt + ": ERR " + std::to_string(rs->code) + " " + rs->message);
    }
  }
  // Step 3.
  std::vector<worker> workers(static_cast<size_t>(o.connections));
  std::random_device seed;
  for (auto& w : workers) {
    w.rng.seed((static_cast<uint64_t>(seed()) << 32) ^ seed());
    auto c = mysql_client::connect(login_of(o));
    if (!c)
      die("connection " + std::to_string(&w - workers.data() + 1) + " of "
          + std::to_string(o.connections) + ": " + c.err().to_string());
    w.conn = std::move(*c);
  }
  auto inserts = run_phase(workers, phase_kind::insert, o.seconds, sql, {});
  print_phase("INSERT", inserts);
  std::vector<uint64_t> existing;
  for (auto& w : workers)
    existing.insert(existing.end(), w.keys.begin(), w.keys.end());
  phase_figures selects;
  if (existing.empty()) {
    std::printf("SELECT not measured: no INSERT succeeded\n");
  } else {
    selects = run_phase(workers, phase_kind::select, o.seconds, sql,
                        existing);
    print_phase("SELECT", selects);
  }
  workers.clear();
  if (auto what = stop_leafguard(); !what.empty())
    std::printf("problem: %s (log: %s)\n", what.c_str(), server_log.c_str());
  else if (!server_log.empty())
    std::filesystem::remove_all(
      std::filesystem::path{server_log}.parent_path());
  // Step 4, once leafguard has stopped.
  std::map<std::string, double> redis;
  std::string redis_why = "--no-redis";
  if (o.redis) {
    redis_why.clear();
    redis = run_redis(o, redis_why);
  }
  auto r = [&](const char* name) {
    auto it = redis.find(name);
    return it == redis.end() ? -1.0 : it->second;
  };
  // Step 5.
  std::printf("\n%-22s %12s %12s %9s\n", "", server_name.c_str(), "Redis",
              "ratio");
  auto row = [&](const char* what, double mine, double theirs,
                 const char* fmt, bool with_ratio) {
    std::printf("%-22s %12s %12s %9s\n", what, figure(mine, fmt).c_str(),
                figure(theirs, fmt).c_str(),
                with_ratio ? ratio(mine, theirs).c_str() : "");
  };
  row("INSERT/s vs SET/s", inserts.per_s, r("redis_set_per_s"), "%.0f", true);
  row("  p50 ms", inserts.p50_ms, r("redis_set_p50_ms"), "%.3f", false);
  row("  p99 ms", inserts.p99_ms, r("redis_set_p99_ms"), "%.3f", false);
  row("SELECT/s vs GET/s", selects.per_s, r("redis_get_per_s"), "%.0f", true);
  row("  p50 ms", selects.p50_ms, r("redis_get_p50_ms"), "%.3f", false);
  row("  p99 ms", selects.p99_ms, r("redis_get_p99_ms"), "%.3f", false);
  if (!redis_why.empty())
    std::printf("Redis not measured: %s\n", redis_why.c_str());
  auto set = r("redis_set_per_s");
  std::string verdict = set <= 0 ? "not measured"
                        : inserts.per_s >= 0.8 * set
                          ? "met (" + ratio(inserts.per_s, set) + ")"
                          : "not met (" + ratio(inserts.per_s, set) + ")";
  std::printf("target: INSERT >= 0.8 x Redis SET (unpipelined, %d "
              "connections): %s%s\n",
              o.connections, verdict.c_str(),
              o.external ? (" (measured on " + server_name + ", not leafguard)")
                             .c_str()
                         : "");
  return 0;
}
