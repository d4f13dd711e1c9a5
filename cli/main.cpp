// leafguard: the command-line entry point.
//   leafguard local [--leaves N] [--aggregators N] [--redundancy R]
//                   [--data-dir DIR]
//                   [--simulate [--seed S]] [--trace FILE] [-e 'STMTS'] [FILE]
//   leafguard demo
//   leafguard master-aggregator|leaf --port P --data-dir D [--config F]
//   leafguard sql --host H --port P [-e 'STMTS'] [FILE]
//   leafguard history --port P --database DB --out FILE [--seconds S]
//   leafguard check-history FILE
#include "cluster/local_mysql.hpp"
#include "http/server.hpp"
#include <csignal>
#include <thread>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "sql/result_proto.hpp"
#include "base/log.hpp"

#include <google/protobuf/stubs/logging.h>
#include "cli/demo.hpp"
#include "cli/history.hpp"
#include "cli/simulate.hpp"
#include "cli/sql.hpp"
#include "cli/trace.hpp"
#include "cli/statement_runner.hpp"
#include "cluster/local_cluster.hpp"
#include "cluster/node.hpp"
#include "config/options.hpp"

namespace {

void usage() {
  std::cout
    << "usage: leafguard <command> [options]\n"
       "\n"
       "commands:\n"
       "  local   run an in-process cluster and execute statements\n"
       "          [--leaves N] [--aggregators N] [--redundancy R] "
       "[--data-dir DIR]\n"
       "          [--simulate [--seed S]] [--trace FILE] [-e 'STMTS'] "
       "[FILE]\n"
       "  demo    a narrated tour of failover on an in-process cluster\n"
       "  simulate  deterministic fault simulation with invariant checks\n"
       "          --seed S | --seeds A-B [--steps N] [--faults LIST]\n"
       "  trace   print or draw recorded messages, merged by Lamport clock\n"
       "          FILE... [--partition db:N] [--leaf h:p] [--type T]\n"
       "          [--from MS --to MS] [--html OUT]\n"
       "  master-aggregator  run the first aggregator as a node process\n"
       "          --port P --data-dir D [--config F] [--tls-cert F "
       "--tls-key F --tls-ca F]\n"
       "  aggregator  run another aggregator, which waits for ADD "
       "AGGREGATOR\n"
       "          (same options)\n"
       "  leaf    run a leaf as a node process (same options)\n"
       "  sql     console of a multi-node cluster\n"
       "          --host H --port P [-e 'STMTS'] [FILE]\n"
       "  history  record a client history against a multi-node cluster\n"
       "          --port P --database DB --out FILE [--seconds S]\n"
       "  check-history  check a recorded history for linearizability\n"
       "          FILE [--budget-seconds S]\n"
       "\n"
       "`leafguard <command> --help` lists every option of a command.\n";
}

int run_local(const std::vector<std::string>& args) {
  auto opts = lg::config::parse_local(args);
  if (!opts.ok()) {
    std::cerr << "leafguard local: " << opts.err().detail() << "\n";
    return 2;
  }
  if (opts->help_printed)
    return 0;
  lg::set_log_level(opts->log_level);
  std::vector<std::string> scripts;
  for (auto& file : opts->files) {
    std::ifstream in{file};
    if (!in) {
      std::cerr << "leafguard local: can't read statements file '" << file
                << "'\n";
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    scripts.push_back(ss.str());
  }
  lg::local_cluster_options lo;
  lo.leaves = opts->leaves;
  lo.aggregators = opts->aggregators;
  lo.redundancy = opts->redundancy;
  lo.data_dir = opts->data_dir;
  lo.simulate = opts->simulate;
  lo.seed = opts->seed;
  lo.trace_file = opts->trace;
  lo.network = opts->mysql_port != 0;
  bool serving = opts->mysql_port != 0 || opts->http_port != 0;
  // Serving clients: SIGINT and SIGTERM stop the process. Blocked before
  // the actor system's threads start, so that only this thread takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (serving)
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  lg::local_cluster cluster{lo};
  if (cluster.startup_error()) {
    std::cerr << "leafguard local: " << cluster.startup_error().to_string()
              << "\n";
    return 1;
  }
  std::unique_ptr<lg::local_mysql> mysql;
  std::unique_ptr<lg::http::server> http;
  if (serving) {
    if (lo.network) {
      auto started = lg::local_mysql::start(
        cluster, static_cast<uint16_t>(opts->mysql_port));
      if (!started.ok()) {
        std::cerr << "leafguard local: " << started.err().detail() << "\n";
        return 1;
      }
      mysql = std::move(*started);
      std::cerr << "leafguard local: MySQL clients on 127.0.0.1:"
                << mysql->port() << " (user root, no password)" << std::endl;
    }
    if (opts->http_port != 0) {
      lg::http::server_config hc;
      hc.port = static_cast<uint16_t>(opts->http_port);
      hc.node = "local cluster";
      hc.metrics = cluster.transport_ptr()->metrics_ptr();
      hc.run = [&cluster](const std::string& stmt) {
        return cluster.execute(stmt);
      };
      auto started = lg::http::server::start(std::move(hc));
      if (!started.ok()) {
        std::cerr << "leafguard local: " << started.err().to_string() << "\n";
        return 1;
      }
      http = std::move(*started);
      std::cerr << "leafguard local: the cluster page on http://127.0.0.1:"
                << http->port() << "/ (metrics on /metrics)" << std::endl;
    }
    std::cerr << "leafguard local: serving until SIGINT or SIGTERM"
              << std::endl;
    // Statements from standard input still run, as they arrive, on a
    // thread of their own; this one waits for the signal.
    auto stopping = std::make_shared<std::atomic<bool>>(false);
    auto in_statement = std::make_shared<std::atomic<bool>>(false);
    std::thread input([&, stopping, in_statement] {
      int failures = 0;
      auto run = [&](const std::string& stmt) {
        in_statement->store(true);
        if (stopping->load()) {
          in_statement->store(false);
          return lg::make_failure(lg::sql::errc::internal, "stopping");
        }
        auto rs = cluster.execute(stmt);
        in_statement->store(false);
        return rs;
      };
      if (!opts->exec.empty())
        failures += lg::run_script(opts->exec, run);
      for (auto& script : scripts)
        failures += lg::run_script(script, run);
      if (opts->exec.empty() && scripts.empty())
        failures += lg::run_stream(std::cin, isatty(STDIN_FILENO) != 0, run);
      (void) failures;
    });
    input.detach();
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cerr << "leafguard local: stopping (signal " << sig << ")"
              << std::endl;
    stopping->store(true);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    while (in_statement->load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    http.reset();
    mysql.reset();
    cluster.~local_cluster(); // NOLINT: the process ends right after
    // The input thread may still wait on standard input: end the process
    // without running static destructors under it.
    std::_Exit(0);
  }
  auto run = [&](const std::string& stmt) { return cluster.execute(stmt); };
  int failures = 0;
  if (!opts->exec.empty())
    failures += lg::run_script(opts->exec, run);
  for (auto& script : scripts)
    failures += lg::run_script(script, run);
  if (opts->exec.empty() && scripts.empty())
    failures += lg::run_stream(std::cin, isatty(STDIN_FILENO) != 0, run);
  return failures > 0 ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  // An internal error that ends the process leaves the last messages behind.
  std::set_terminate([] {
    lg::fabric::dump_process_recent("the process terminated");
    std::abort();
  });
  // Protobuf reports malformed input (a corrupt file, bad bytes on a port)
  // on stderr by itself; the caller already turns it into a clear error, so
  // send protobuf's own words to the log instead.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level,
                                     const char* file, int line,
                                     const std::string& message) {
    auto log = lg::logger("protobuf");
    if (level >= google::protobuf::LOGLEVEL_FATAL)
      log->critical("{}:{}: {}", file, line, message);
    else
      log->debug("{}:{}: {}", file, line, message);
  });
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h"
      || args[0] == "help") {
    usage();
    return args.empty() ? 2 : 0;
  }
  auto command = args[0];
  args.erase(args.begin());
  if (command == "local")
    return run_local(args);
  if (command == "demo")
    return lg::run_demo(args);
  if (command == "simulate")
    return lg::run_simulate(args);
  if (command == "trace")
    return lg::run_trace(args);
  if (command == "master-aggregator" || command == "aggregator"
      || command == "leaf")
    return lg::run_node(command, args);
  if (command == "sql")
    return lg::run_sql(args);
  if (command == "history")
    return lg::run_history(args);
  if (command == "check-history")
    return lg::run_check_history(args);
  std::cerr << "leafguard: unknown command '" << command
            << "' (see leafguard --help)\n";
  return 2;
}
