#include "cli/history.hpp"
#include "cli/console_login.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include <caf/all.hpp>

#include "actors/client/session.hpp"
#include "base/log.hpp"
#include "check/history_file.hpp"
#include "check/linearizability.hpp"
#include "cluster/history_workload.hpp"
#include "cluster/node.hpp"
#include "cluster/tls_files.hpp"
#include "config/node_options.hpp"
#include "messages/message_types.hpp"
#include "common.pb.h"

namespace lg {

namespace {

const char* history_help =
  "usage: leafguard history --port P --database DB --out FILE [options]\n"
  "\n"
  "Joins a multi-node cluster as a client and runs sequential clients that\n"
  "upsert (50%), delete (15%) and read (35%) keys h0, h1, ... of DB, each\n"
  "one operation at a time. Every invocation and completion goes to FILE as\n"
  "it happens (times in microseconds of a steady clock); an operation whose\n"
  "answer is not OK, or that has none in time, is recorded as unknown, and\n"
  "its client pauses 20 ms. It first reads every key through the\n"
  "aggregator, and stops with an error when that fails or a key already\n"
  "holds a value: the database must not hold the keys yet.\n"
  "Check the file with `leafguard check-history FILE`.\n"
  "\n"
  "  --host H          the master aggregator's host (default 127.0.0.1)\n"
  "  --port P          the master aggregator's port (required)\n"
  "  --database DB     the database to use (required; it must exist)\n"
  "  --out FILE        the history file to write (required)\n"
  "  --seconds S       run for S seconds; 0 (the default) runs until\n"
  "                    SIGINT or SIGTERM\n"
  "  --clients N       sequential clients (default 4)\n"
  "  --sessions N      sessions they share in turn (default 2)\n"
  "  --keys N          keys in the key space, h0 to hN-1 (default 8, at\n"
  "                    most 1000)\n"
  "  --seed S          picks operations and keys (default 1)\n"
  "  --timeout-ms MS   an operation with no answer by then is unknown\n"
  "                    (default 10000)\n"
  "  --user U, --password P  log in as U to read the keys first (the\n"
  "                  password may come from LEAFGUARD_PASSWORD instead)\n"
  "  --also-aggregators H:P,...  other aggregators, through which the\n"
  "                    client follows the master aggregator when the one\n"
  "                    at --host/--port fails\n"
  "  --log-level L     of this client (default warn)\n"
  "  --tls-cert F      this client's PEM certificate (mutual TLS)\n"
  "  --tls-key F       its PEM private key\n"
  "  --tls-ca F        the cluster CA's PEM certificate\n";

const char* check_help =
  "usage: leafguard check-history FILE [--budget-seconds S]\n"
  "\n"
  "Checks a history written by `leafguard history` for linearizability\n"
  "against a key-value register per key: every ok read must return what\n"
  "some order of the operations, consistent with their real-time order,\n"
  "leaves there. An unknown write may take effect at any time after it was\n"
  "invoked, or never; an operation the file never saw complete is unknown.\n"
  "Prints the history's size and the verdict, and for a key that fails the\n"
  "smallest window of its operations that still fails. Exit status 0 when\n"
  "linearizable, 1 when not or when the check ran out of time, 2 for a\n"
  "malformed file.\n"
  "\n"
  "  --budget-seconds S  wall-clock time the check may take (default 120)\n";

/// A client's pause after an unknown outcome: a cluster that refuses at
/// once gets at most a few dozen requests a second from each client.
constexpr auto pause_after_unknown = std::chrono::milliseconds{20};

/// Where the workload's actor streams the history; read by the main thread
/// once the workload stopped (the mutex makes an early read safe, too).
struct history_sink {
  std::mutex mutex;
  std::ofstream out;
  uint64_t ok = 0;
  uint64_t unknown = 0;
  std::map<std::string, uint64_t> errors; ///< unknown outcomes by error
  bool write_failed = false;
};

/// A random, non-zero client id: write ids of sessions in different
/// processes (and of a client started again) must not collide.
uint32_t random_client_id() {
  std::random_device rd;
  uint32_t id = 0;
  while (id == 0)
    id = rd();
  return id;
}

/// Asks `ma` (an aggregator's console) to run `stmt`; returns "" or what is
/// wrong, with `rows` set to the rows read.
std::string console_read(caf::scoped_actor& self, const caf::actor& ma,
                         const std::string& target, const std::string& stmt,
                         const std::string& login, int& rows) {
  std::string why;
  auto request = login.empty()
                   ? self->request(ma, std::chrono::seconds{10},
                                   console_atom::value, stmt)
                   : self->request(ma, std::chrono::seconds{10},
                                   console_atom::value, stmt, login);
  std::move(request).receive(
      [&](const std::string& bytes) {
        pb::ResultSet rs;
        if (!rs.ParseFromString(bytes))
          why = target + " answered what could not be decoded";
        else if (rs.error_code() != 0)
          why = "'" + stmt + "' on " + target + ": ERROR "
                + std::to_string(rs.error_code()) + ": " + rs.error();
        else
          rows = rs.rows_size();
      },
      [&](caf::error& err) {
        why = "'" + stmt + "' on " + target + ": no answer: "
              + self->system().render(err);
      });
  return why;
}

/// Step 1: reads every key through the aggregator's console, so that an
/// unreachable cluster or a missing database is an error at once rather
/// than a history of unknown operations, and so is a key that already
/// holds a value (the checker starts every key absent). Retries for a few
/// seconds (a database just created may still be opening); returns "" or
/// what is wrong.
std::string preflight(caf::actor_system& sys,
                      const config::history_options& o) {
  auto target = o.host + ":" + std::to_string(o.port);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  std::string why;
  caf::scoped_actor self{sys};
  for (;;) {
    caf::actor ma;
    self
      ->request(node_connector(sys, o.tls.enabled()), std::chrono::seconds{5},
                caf::connect_atom::value, o.host, o.port)
      .receive(
        [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
            const std::set<std::string>&) {
          if (ptr)
            ma = caf::actor_cast<caf::actor>(ptr);
          else
            why = "cannot connect to " + target
                  + ": no leafguard node listens there";
        },
        [&](caf::error& err) {
          why = "cannot connect to " + target + ": " + sys.render(err);
        });
    std::string login;
    auto password = console_password(o.password);
    if (ma && (!o.user.empty() || !password.empty())) {
      auto user = o.user.empty() ? std::string{"root"} : o.user;
      auto token = console_login(self, ma, user, password);
      if (!token.ok())
        return "cannot log in to " + target + " as '" + user
               + "': " + token.err().detail();
      login = *token;
    }
    for (int64_t i = 0; ma && i < o.keys; ++i) {
      auto key = history_key(static_cast<int>(i));
      int rows = 0;
      why = console_read(self, ma, target,
                         "SELECT * FROM " + o.database + " WHERE key = '"
                           + key + "'",
                         login, rows);
      if (!why.empty())
        break;
      if (rows > 0)
        return "database " + o.database + " already holds key " + key
               + " (the history check starts every key absent): use a "
                 "fresh database";
    }
    if ((ma && why.empty()) || std::chrono::steady_clock::now() > deadline)
      return why;
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
  }
}

/// Waits up to `limit` for `actor` to terminate.
bool wait_down(caf::actor_system& sys, const caf::actor& actor,
               std::chrono::milliseconds limit) {
  caf::scoped_actor self{sys};
  self->monitor(actor);
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; },
                caf::after(limit) >> [] {});
  return down;
}

/// Step 3: blocks until `seconds` pass (0: forever) or a stop signal comes.
void wait_for_stop(const sigset_t& stop_signals, int64_t seconds) {
  if (seconds == 0) {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    return;
  }
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::seconds{seconds};
  for (;;) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero())
      return;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns.count() / 1000000000);
    ts.tv_nsec = static_cast<long>(ns.count() % 1000000000);
    if (sigtimedwait(&stop_signals, nullptr, &ts) > 0)
      return;
  }
}

} // namespace

int run_history(const std::vector<std::string>& args) {
  auto opts = config::parse_history(args);
  if (!opts.ok()) {
    std::cerr << "leafguard history: " << opts.err().detail()
              << " (see leafguard history --help)\n";
    return 2;
  }
  if (opts->help_printed) {
    std::cout << history_help;
    return 0;
  }
  set_log_level(opts->log_level);
  if (opts->tls.enabled())
    if (auto err = check_tls_files(opts->tls)) {
      std::cerr << "leafguard history: " << err.detail() << "\n";
      return 2;
    }
  auto sink = std::make_shared<history_sink>();
  sink->out.open(opts->out, std::ios::trunc);
  if (!sink->out) {
    std::cerr << "leafguard history: --out: cannot write '" << opts->out
              << "'\n";
    return 2;
  }
  sink->out << check::history_file_header() << std::flush;
  // Block the stop signals before any thread starts, then wait for one.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Step 1: a client node, and its sessions.
  config::node_options co;
  co.role = "client";
  co.node_name = "history-" + std::to_string(getpid());
  co.ma_address = opts->host + ":" + std::to_string(opts->port);
  if (!opts->also_aggregators.empty())
    co.ma_address += "," + opts->also_aggregators;
  co.port = 0;
  co.tls = opts->tls;
  co.log_level = opts->log_level;
  node_process node;
  if (auto err = node.start(co)) {
    std::cerr << "leafguard history: " << err.detail() << "\n";
    return 1;
  }
  auto& sys = node.system();
  if (auto why = preflight(sys, *opts); !why.empty()) {
    std::cerr << "leafguard history: " << why << "\n";
    node.stop();
    return 1;
  }
  std::vector<caf::actor> sessions;
  std::vector<std::string> session_names;
  for (int64_t s = 1; s <= opts->sessions; ++s) {
    session_config sc;
    sc.fab = node.transport();
    sc.node = co.node_name;
    sc.name = "session/history-" + std::to_string(s);
    sc.client_id = random_client_id();
    sessions.push_back(caf::actor_cast<caf::actor>(spawn_session(sys, sc)));
    session_names.push_back(sc.name);
  }
  // Step 2: the clients, streaming their history.
  history_config hc;
  hc.fab = node.transport();
  hc.session_node = co.node_name;
  for (int64_t c = 0; c < opts->clients; ++c)
    hc.clients.push_back(session_names[c % session_names.size()]);
  hc.database = opts->database;
  hc.keys = static_cast<int>(opts->keys);
  hc.seed = static_cast<uint64_t>(opts->seed);
  hc.timeout = std::chrono::milliseconds{opts->timeout_ms};
  hc.record = std::make_shared<history_record>();
  hc.pause_after_unknown = pause_after_unknown;
  hc.keep_ops = false; // the file holds the history
  hc.on_operation = [sink](const check::operation& op, bool done,
                           const std::string& error) {
    std::lock_guard<std::mutex> guard{sink->mutex};
    if (!done) {
      sink->out << check::invocation_line(op);
    } else {
      sink->out << check::completion_line(op, error);
      if (op.result == check::outcome::ok) {
        ++sink->ok;
      } else {
        ++sink->unknown;
        auto why = error.empty() ? std::string{"(no message)"} : error;
        if (sink->errors.size() < 50 || sink->errors.count(why) > 0)
          ++sink->errors[why];
      }
    }
    sink->out.flush();
    if (!sink->out)
      sink->write_failed = true;
  };
  auto started = std::chrono::steady_clock::now();
  auto workload = spawn_history_workload(sys, hc);
  std::cout << "leafguard history: " << opts->clients << " clients on "
            << opts->database << " through " << co.ma_address
            << ", writing " << opts->out << std::endl;
  wait_for_stop(stop_signals, opts->seconds);
  // Step 3: stop, with every operation in flight completed.
  stop_history_workload(workload);
  auto limit = std::chrono::milliseconds{opts->timeout_ms + 5000};
  bool stopped = wait_down(sys, workload, limit);
  if (!stopped) {
    caf::anon_send_exit(workload, caf::exit_reason::kill);
    wait_down(sys, workload, std::chrono::seconds{5});
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count();
  for (auto& s : sessions)
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  for (auto& s : sessions)
    wait_down(sys, s, std::chrono::seconds{5});
  node.stop();
  std::lock_guard<std::mutex> guard{sink->mutex};
  sink->out.close();
  std::cout << "history: " << sink->ok + sink->unknown << " operations by "
            << opts->clients << " clients on " << opts->keys << " keys in "
            << elapsed / 1000.0 << " s (" << sink->ok << " ok, "
            << sink->unknown << " unknown), written to " << opts->out
            << "\n";
  std::vector<std::pair<uint64_t, std::string>> errors;
  for (auto& [text, n] : sink->errors)
    errors.emplace_back(n, text);
  std::sort(errors.rbegin(), errors.rend());
  for (size_t i = 0; i < errors.size() && i < 5; ++i)
    std::cout << "  unknown " << errors[i].first << " x: " << errors[i].second
              << "\n";
  if (!stopped)
    std::cerr << "leafguard history: the clients did not stop within "
              << limit.count() << " ms; operations still running are "
                                  "unknown in the file\n";
  if (sink->write_failed) {
    std::cerr << "leafguard history: writing " << opts->out << " failed\n";
    return 1;
  }
  return 0;
}

int run_check_history(const std::vector<std::string>& args) {
  auto opts = config::parse_check_history(args);
  if (!opts.ok()) {
    std::cerr << "leafguard check-history: " << opts.err().detail()
              << " (see leafguard check-history --help)\n";
    return 2;
  }
  if (opts->help_printed) {
    std::cout << check_help;
    return 0;
  }
  std::ifstream in{opts->file};
  if (!in) {
    std::cerr << "leafguard check-history: cannot read '" << opts->file
              << "'\n";
    return 2;
  }
  // Step 1.
  auto h = check::load_history(in);
  if (!h.error.empty()) {
    std::cerr << "leafguard check-history: " << opts->file << ": " << h.error
              << "\n";
    return 2;
  }
  std::set<uint32_t> clients;
  std::set<std::string> keys;
  size_t ok = 0;
  for (auto& op : h.ops) {
    clients.insert(op.client);
    keys.insert(op.key);
    ok += op.result == check::outcome::ok ? 1 : 0;
  }
  // Step 2.
  check::verdict v;
  try {
    check::check_options co;
    co.budget = std::chrono::seconds{opts->budget_seconds};
    v = check::check_history(h.ops, co);
  } catch (const std::invalid_argument& e) {
    std::cerr << "leafguard check-history: " << opts->file << ": " << e.what()
              << "\n";
    return 2;
  }
  std::cout << "history: " << h.ops.size() << " operations by "
            << clients.size() << " clients on " << keys.size() << " keys ("
            << ok << " ok, " << h.ops.size() - ok << " unknown";
  if (h.still_running > 0)
    std::cout << ", of which " << h.still_running
              << " never completed in the file";
  std::cout << "), " << v.operations_checked << " checked: " << v.result
            << "\n"
            << check::describe(v, h.ops);
  if (v.result == check::verdict_kind::budget_exceeded)
    std::cout << "(give the check more time with --budget-seconds)\n";
  return v.linearizable() ? 0 : 1;
}

} // namespace lg
