#include "config/options.hpp"

#include <set>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>

namespace lg::config {

namespace {

/// Rewrites `--name value` as `--name=value` for options that take a value,
/// since CAF's parser takes only the latter form.
std::vector<std::string> normalize(const std::vector<std::string>& args,
                                   const std::set<std::string>& valued) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.size() > 2 && a.compare(0, 2, "--") == 0
        && a.find('=') == std::string::npos && valued.count(a.substr(2)) > 0
        && i + 1 < args.size()) {
      out.push_back(a + "=" + args[++i]);
    } else {
      out.push_back(a);
    }
  }
  return out;
}

class local_config : public caf::actor_system_config {
public:
  local_options opts;

  local_config() {
    caf::config_option_adder{custom_options_, "global"}
      .add(opts.leaves, "leaves", "number of leaves to start (default 4)")
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
      .add(opts.log_level, "log-level",
           "trace, debug, info, warn, error, critical or off");
  }
};

class demo_config : public caf::actor_system_config {
public:
  demo_options opts;

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
                 const std::set<std::string>& valued) {
  auto normalized = normalize(args, valued);
  if (auto err = cfg.parse(normalized))
    return make_error(errc::bad_value, cfg.render(err));
  return {};
}

} // namespace

result<local_options> parse_local(const std::vector<std::string>& args) {
  local_config cfg;
  for (auto& a : args)
    if (a.size() > 1 && a[0] == '-' && a != "-e" && a.compare(0, 2, "--") != 0)
      return make_error(errc::unknown_variable,
                        "unknown option '" + a + "' (see --help)");
  if (auto err = parse_into(cfg, args,
                            {"leaves", "redundancy", "data-dir", "seed",
                             "trace", "exec", "log-level"}))
    return err;
  auto opts = cfg.opts;
  opts.help_printed = cfg.cli_helptext_printed;
  for (auto& r : cfg.remainder) {
    if (r.size() > 2 && r.compare(0, 2, "--") == 0)
      return make_error(errc::unknown_variable,
                        "unknown option '" + r + "' (see --help)");
    opts.files.push_back(r);
  }
  if (opts.leaves < 0 || opts.leaves > 1000)
    return make_error(errc::bad_value, "--leaves: " + std::to_string(
                                         opts.leaves)
                                         + " is out of range 0..1000");
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
  if (auto err = parse_into(cfg, args, {"log-level"}))
    return err;
  auto opts = cfg.opts;
  opts.help_printed = cfg.cli_helptext_printed;
  if (!cfg.remainder.empty())
    return make_error(errc::unknown_variable,
                      "unexpected argument '" + cfg.remainder.front() + "'");
  if (auto err = check_log_level(opts.log_level))
    return err;
  return opts;
}

} // namespace lg::config
