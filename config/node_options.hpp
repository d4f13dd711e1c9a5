// Options of the node processes (`leafguard master-aggregator`, `leafguard
// leaf`), of the console (`leafguard sql`) and of the history client and
// its check (`leafguard history`, `leafguard check-history`). A node takes its options from
// the command line and from one config file (--config F) of `key = value`
// lines, where the keys are the long option names; the command line wins.
// Every value is validated at start: an unknown key, a bad value or a
// missing required key is an error that names the key (and the file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "config/variables.hpp"

namespace lg::config {

/// Mutual TLS settings, shared by nodes and the console.
struct tls_options {
  std::string cert; ///< PEM certificate of this node, signed by the CA
  std::string key;  ///< its PEM private key
  std::string ca;   ///< PEM certificate of the cluster's CA

  bool enabled() const {
    return !cert.empty();
  }
};

struct node_options {
  /// "master-aggregator", "leaf", or "client" (an embedding program's node:
  /// a session and a gateway only, e.g. a benchmark's writers)
  std::string role;
  uint16_t port = 0;
  std::string data_dir;
  std::string bind = "127.0.0.1"; ///< the address to listen on
  std::string host; ///< the host others dial (default: the bind address)
  bool insecure = false; ///< allows a non-loopback bind without TLS
  tls_options tls;
  std::string log_level = "info";
  std::string trace; ///< trace file
  /// The largest inbound message decoded, in MiB (1-4095).
  int64_t max_message_mb = 64;
  /// MySQL clients' port on aggregators (0: none), and how many may be
  /// connected at once.
  uint16_t mysql_port = 0;
  int64_t mysql_max_connections = 1000;
  /// HTTP port for /metrics, /api/cluster and, on aggregators, the
  /// cluster page (0: none).
  uint16_t http_port = 0;
  /// A file holding root's password (first line); without it root has no
  /// password and may only log in from loopback.
  std::string root_password_file;
  std::string config_file;
  bool help_printed = false;
  std::string node_name;  ///< client only: its node name
  /// client only: the aggregators, "host:port" or several "h:p,h:p"
  std::string ma_address;

  /// The node's address as others dial it: "host:port".
  std::string address() const;
};

/// Parses the arguments after `leafguard <role>`. Errors name the option or
/// the config key and file.
result<node_options> parse_node(const std::string& role,
                                const std::vector<std::string>& args);

struct sql_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string exec;               ///< -e 'STMTS'
  std::vector<std::string> files; ///< FILE arguments
  tls_options tls;
  int64_t connect_timeout_ms = 5000;
  /// Who logs in; empty: no login (root without a password, which a node
  /// allows only on loopback when it has no root-password-file).
  std::string user;
  std::string password;
  bool help_printed = false;
};

result<sql_options> parse_sql(const std::vector<std::string>& args);

/// `leafguard history`: a client that records a history of operations
/// against a multi-node cluster (cli/history.hpp).
struct history_options {
  std::string host = "127.0.0.1"; ///< the master aggregator's host
  uint16_t port = 0;              ///< and its port (required)
  std::string database;           ///< required
  std::string out;                ///< the history file (required)
  int64_t seconds = 0;            ///< 0: until SIGINT or SIGTERM
  int64_t clients = 4;
  int64_t sessions = 2;           ///< the clients share them in turn
  int64_t keys = 8;
  int64_t seed = 1;
  int64_t timeout_ms = 10000;     ///< an operation with no answer by then is unknown
  std::string log_level = "warn";
  /// Other aggregators, "h:p,h:p": the client follows the master
  /// aggregator through them when the one at --host/--port fails.
  std::string also_aggregators;
  /// Who reads the keys first through the aggregator's console (as in
  /// `leafguard sql`); empty: no login.
  std::string user;
  std::string password;
  tls_options tls;
  bool help_printed = false;
};

result<history_options> parse_history(const std::vector<std::string>& args);

/// `leafguard check-history FILE`.
struct check_history_options {
  std::string file;
  int64_t budget_seconds = 120; ///< wall-clock time the check may take
  bool help_printed = false;
};

result<check_history_options>
parse_check_history(const std::vector<std::string>& args);

/// True for an address that only this machine can reach.
bool is_loopback(const std::string& host);

} // namespace lg::config
