#include "cli/sql.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <unistd.h>

#include "sql/result_proto.hpp"
#include "cli/console_login.hpp"
#include "cli/statement_runner.hpp"
#include "cluster/node.hpp"
#include "cluster/tls_files.hpp"
#include "config/node_options.hpp"
#include "messages/message_types.hpp"
#include "sql/mysql_wire.hpp"
#include "sql/parser.hpp"

namespace lg {

namespace {

/// Statements wait this long for their answer (a REBALANCE may run long);
/// a lost connection fails them at once.
constexpr auto statement_timeout = std::chrono::minutes{10};

void sql_usage() {
  std::cout
    << "usage: leafguard sql --host H --port P [-e 'STMTS'] [FILE...]\n\n"
       "Runs statements on a node of a multi-node cluster: cluster and HA\n"
       "commands on the master aggregator; reads and writes on any node.\n"
       "Without -e or FILE it reads standard input (a terminal gets a\n"
       "prompt with line editing and history).\n\n"
       "  --host H       node host (default 127.0.0.1)\n"
       "  --port P       node port (required)\n"
       "  -e, --exec S   statements to run\n"
       "  --user U       log in as U (default: root without a password,\n"
       "                 which a node allows on loopback only)\n"
       "  --password P   U's password (or set LEAFGUARD_PASSWORD, which\n"
       "                 other users cannot see in the process list)\n"
       "  --tls-cert F   this console's PEM certificate (mutual TLS)\n"
       "  --tls-key F    its PEM private key\n"
       "  --tls-ca F     the cluster CA's PEM certificate\n";
}

} // namespace

int run_sql(const std::vector<std::string>& args) {
  auto opts = config::parse_sql(args);
  if (!opts.ok()) {
    std::cerr << "leafguard sql: " << opts.err().detail() << "\n";
    return 2;
  }
  if (opts->help_printed) {
    sql_usage();
    return 0;
  }
  std::vector<std::string> scripts;
  for (auto& file : opts->files) {
    std::ifstream in{file};
    if (!in) {
      std::cerr << "leafguard sql: can't read statements file '" << file
                << "'\n";
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    scripts.push_back(ss.str());
  }
  if (opts->tls.enabled())
    if (auto err = check_tls_files(opts->tls)) {
      std::cerr << "leafguard sql: " << err.detail() << "\n";
      return 2;
    }
  auto cfg = node_system_config(opts->tls);
  caf::actor_system sys{*cfg};
  auto target = opts->host + ":" + std::to_string(opts->port);
  caf::actor node;
  std::string connect_error;
  {
    caf::scoped_actor self{sys};
    auto connector = node_connector(sys, opts->tls.enabled());
    self
      ->request(connector, std::chrono::milliseconds{opts->connect_timeout_ms},
                caf::connect_atom::value, opts->host, opts->port)
      .receive(
        [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
            const std::set<std::string>&) {
          if (ptr)
            node = caf::actor_cast<caf::actor>(ptr);
          else
            connect_error = "no leafguard node listens there";
        },
        [&](caf::error& err) { connect_error = sys.render(err); });
  }
  if (!node) {
    std::cerr << "leafguard sql: cannot connect to " << target << ": "
              << connect_error
              << (connect_error.find("handshake") == std::string::npos
                    ? ""
                    : opts->tls.enabled()
                        ? " (is this console's certificate signed by the "
                          "cluster's CA?)"
                        : " (does the node use TLS? give --tls-cert, "
                          "--tls-key and --tls-ca)")
              << "\n";
    return 2;
  }
  caf::scoped_actor self{sys};
  // Log in (actors/client/access.hpp): a scramble from the node, the
  // password's token for it, a login token that every statement names.
  std::string login;
  auto password = console_password(opts->password);
  if (!opts->user.empty() || !password.empty()) {
    auto user = opts->user.empty() ? std::string{"root"} : opts->user;
    auto token = console_login(self, node, user, password);
    if (!token.ok()) {
      std::cerr << "leafguard sql: cannot log in to " << target << " as '"
                << user << "': " << token.err().detail() << "\n";
      return 2;
    }
    login = *token;
  }
  auto run = [&](const std::string& stmt) -> pb::ResultSet {
    auto parsed = sql::parse(stmt);
    if (parsed.ok())
      if (auto* s = std::get_if<sql::sleep_stmt>(&*parsed)) {
        std::this_thread::sleep_for(std::chrono::milliseconds{s->ms});
        return make_message("Query OK (slept " + std::to_string(s->ms)
                            + " ms)");
      }
    pb::ResultSet rs;
    auto request = login.empty()
                     ? self->request(node, statement_timeout,
                                     console_atom::value, stmt)
                     : self->request(node, statement_timeout,
                                     console_atom::value, stmt, login);
    std::move(request).receive(
        [&](const std::string& bytes) {
          if (!rs.ParseFromString(bytes))
            rs = make_failure(sql::errc::internal,
                              "the answer from " + target
                                + " could not be decoded");
        },
        [&](caf::error& err) {
          rs = make_failure(sql::errc::timeout,
                            "no answer from " + target + ": "
                              + sys.render(err));
        });
    return rs;
  };
  int failures = 0;
  if (!opts->exec.empty())
    failures += run_script(opts->exec, run);
  for (auto& script : scripts)
    failures += run_script(script, run);
  if (opts->exec.empty() && scripts.empty())
    failures += run_stream(std::cin, isatty(STDIN_FILENO) != 0, run);
  return failures > 0 ? 1 : 0;
}

} // namespace lg
