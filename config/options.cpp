#include "config/options.hpp"

#include <set>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>

namespace lg::config {

namespace {

/// Splits `args` into the options for CAF and the FILE arguments. CAF's
/// parser takes only `--name=value`, so `--name value` is rewritten; it also
/// stops at the first FILE and mishandles `--`, so FILE arguments are taken
/// out here, which lets options follow them and values start with '-'.
error split_args(const caf::config_option_set& known,
                 const std::vector<std::string>& args,
                 std::vector<std::string>& options,
                 std::vector<std::string>& files) {
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--") {
      files.insert(files.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      files.push_back(a);
      continue;
    }
    auto is_long = a[1] == '-';
    auto eq = is_long ? a.find('=') : std::string::npos;
    auto name = is_long ? a.substr(0, eq) : a.substr(0, 2);
    auto opt = is_long ? known.cli_long_name_lookup(name.substr(2))
                       : known.cli_short_name_lookup(a[1]);
    if (opt == nullptr)
      return make_error(errc::unknown_variable,
                        "unknown option '" + name + "' (see --help)");
    auto joined = is_long ? eq != std::string::npos : a.size() > 2;
    if (opt->is_flag()) {
      if (joined)
        return make_error(errc::bad_value, name + ": takes no value");
      options.push_back(a);
    } else if (joined) {
      options.push_back(a);
    } else if (i + 1 == args.size()) {
      return make_error(errc::bad_value, name + ": missing value");
    } else if (is_long) {
      options.push_back(a + "=" + args[++i]);
    } else {
      options.push_back(a);
      options.push_back(args[++i]);
    }
  }
  return {};
}

class local_config : public caf::actor_system_config {
public:
  local_options opts;

  const caf::config_option_set& known() const {
    return custom_options_;
  }

  local_config() {
    caf::config_option_adder{custom_options_, "global"}
      .add(opts.leaves, "leaves", "number of leaves to start (default 4)")
      .add(opts.aggregators, "aggregators",
           "voting aggregators at 127.0.0.1:3306, 3307, ... that elect the "
           "master aggregator (default 1: one master aggregator, no "
           "election)")
      .add(opts.redundancy, "redundancy", "redundancy level, 1 or 2 "
                                          "(default 2)")
      .add(opts.data_dir, "data-dir",
           "keep the cluster here (default: a temporary dir removed at "
           "exit)")
      .add(opts.simulate, "simulate",
           "run on CAF's deterministic test scheduler in virtual time")
      .add(opts.seed, "seed", "seed of the simulation's random choices")
      .add(opts.trace, "trace", "write every protocol message to this file")
      .add(opts.exec, "exec,e", "statements to run")
      .add(opts.mysql_port, "mysql-port",
           "serve MySQL clients on 127.0.0.1:P (root without a password) "
           "until SIGINT or SIGTERM")
      .add(opts.http_port, "http-port",
           "serve /metrics, /api/cluster and the cluster page on "
           "127.0.0.1:P until SIGINT or SIGTERM")
      .add(opts.log_level, "log-level",
           "trace, debug, info, warn, error, critical or off");
  }
};

class demo_config : public caf::actor_system_config {
public:
  demo_options opts;

  const caf::config_option_set& known() const {
    return custom_options_;
  }

  demo_config() {
    caf::config_option_adder{custom_options_, "global"}.add(
      opts.log_level, "log-level",
      "trace, debug, info, warn, error, critical or off");
  }
};

error check_log_level(const std::string& level) {
  static const std::set<std::string> ok{"trace", "debug", "info", "warn",
                                        "error", "critical", "off"};
  if (ok.count(level) == 0)
    return make_error(errc::bad_value,
                      "--log-level: '" + level
                        + "' is not one of trace, debug, info, warn, error, "
                          "critical, off");
  return {};
}

template <class Config>
error parse_into(Config& cfg, const std::vector<std::string>& args,
                 std::vector<std::string>& files) {
  std::vector<std::string> options;
  if (auto err = split_args(cfg.known(), args, options, files))
    return err;
  if (auto err = cfg.parse(options))
    return make_error(errc::bad_value, cfg.render(err));
  return {};
}

} // namespace

result<local_options> parse_local(const std::vector<std::string>& args) {
  local_config cfg;
  std::vector<std::string> files;
  if (auto err = parse_into(cfg, args, files))
    return err;
  auto opts = cfg.opts;
  opts.help_printed = cfg.cli_helptext_printed;
  opts.files = std::move(files);
  if (opts.leaves < 0 || opts.leaves > 1000)
    return make_error(errc::bad_value, "--leaves: " + std::to_string(
                                         opts.leaves)
                                         + " is out of range 0..1000");
  if (opts.aggregators < 1 || opts.aggregators > 7)
    return make_error(errc::bad_value,
                      "--aggregators: " + std::to_string(opts.aggregators)
                        + " is out of range 1..7");
  if (opts.mysql_port < 0 || opts.mysql_port > 65535)
    return make_error(errc::bad_value,
                      "--mysql-port: " + std::to_string(opts.mysql_port)
                        + " is out of range 1..65535");
  if (opts.http_port < 0 || opts.http_port > 65535)
    return make_error(errc::bad_value,
                      "--http-port: " + std::to_string(opts.http_port)
                        + " is out of range 1..65535");
  if (opts.http_port != 0 && opts.simulate)
    return make_error(errc::bad_value,
                      "--http-port: a simulated cluster runs in virtual "
                      "time and serves no clients; drop --simulate");
  if (opts.mysql_port != 0 && opts.simulate)
    return make_error(errc::bad_value,
                      "--mysql-port: a simulated cluster runs in virtual "
                      "time and serves no clients; drop --simulate");
  if (opts.redundancy != 1 && opts.redundancy != 2)
    return make_error(errc::bad_value,
                      "--redundancy: " + std::to_string(opts.redundancy)
                        + " is not 1 or 2");
  if (opts.redundancy == 2 && opts.leaves % 2 != 0)
    return make_error(errc::bad_value,
                      "--leaves: redundancy 2 needs an even number of leaves "
                      "(one per group in each pair), got "
                        + std::to_string(opts.leaves));
  if (auto err = check_log_level(opts.log_level))
    return err;
  return opts;
}

result<demo_options> parse_demo(const std::vector<std::string>& args) {
  demo_config cfg;
  std::vector<std::string> files;
  if (auto err = parse_into(cfg, args, files))
    return err;
  auto opts = cfg.opts;
  opts.help_printed = cfg.cli_helptext_printed;
  if (!files.empty())
    return make_error(errc::unknown_variable,
                      "unexpected argument '" + files.front() + "'");
  if (auto err = check_log_level(opts.log_level))
    return err;
  return opts;
}

} // namespace lg::config
