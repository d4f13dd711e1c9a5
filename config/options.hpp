// The command-line options of each leafguard command, parsed through CAF's
// config system (--help, --config-file, and `--name value` or
// `--name=value`). Validation names the bad option.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "config/variables.hpp"

namespace lg::config {

/// Options of `leafguard local`.
struct local_options {
  int leaves = 4;
  int aggregators = 1; ///< voting aggregators; 1: no consensus
  int redundancy = 2;
  std::string data_dir;
  bool simulate = false;
  uint64_t seed = 0;
  std::string trace;
  std::string exec;        ///< -e 'STMTS'
  std::string log_level = "warn";
  /// MySQL clients' port (0: none); the process then serves until SIGINT
  /// or SIGTERM.
  int mysql_port = 0;
  /// HTTP port for /metrics, /api/cluster and the cluster page (0: none);
  /// the process then serves until SIGINT or SIGTERM.
  int http_port = 0;
  std::vector<std::string> files; ///< FILE arguments
  bool help_printed = false;
};

/// Parses the arguments after `leafguard local`. Errors name the option.
result<local_options> parse_local(const std::vector<std::string>& args);

/// Options of `leafguard demo`.
struct demo_options {
  std::string log_level = "warn";
  bool help_printed = false;
};

result<demo_options> parse_demo(const std::vector<std::string>& args);

} // namespace lg::config
