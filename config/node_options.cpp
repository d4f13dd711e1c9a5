#include "config/node_options.hpp"

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>

namespace lg::config {

namespace {

/// Sets one option from its text; returns "" or what is wrong with it.
using setter = std::function<std::string(const std::string&)>;

std::string set_port(uint16_t& out, const std::string& text) {
  size_t used = 0;
  unsigned long v = 0;
  try {
    v = std::stoul(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v == 0 || v > 65535)
    return "'" + text + "' is not a port number (1 to 65535)";
  out = static_cast<uint16_t>(v);
  return {};
}

std::string set_text(std::string& out, const std::string& text) {
  if (text.empty())
    return "must not be empty";
  out = text;
  return {};
}

std::string set_int(int64_t& out, const std::string& text, int64_t min,
                    int64_t max) {
  auto range = std::to_string(min) + " to " + std::to_string(max);
  if (text.empty() || text.size() > 18
      || text.find_first_not_of("0123456789") != std::string::npos)
    return "'" + text + "' is not an integer (" + range + ")";
  auto v = std::stoll(text);
  if (v < min || v > max)
    return "'" + text + "' is out of range (" + range + ")";
  out = v;
  return {};
}

/// A name that can stand in a statement as it is: letters, digits and '_'.
std::string set_name(std::string& out, const std::string& text) {
  if (text.empty() || text.size() > 64
      || text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
                                "uvwxyz0123456789_")
           != std::string::npos
      || (text[0] >= '0' && text[0] <= '9'))
    return "'" + text
           + "' is not a database name (letters, digits and '_', not "
             "starting with a digit, at most 64)";
  out = text;
  return {};
}

std::string set_bool(bool& out, const std::string& text) {
  if (text == "true" || text == "on" || text == "1") {
    out = true;
  } else if (text == "false" || text == "off" || text == "0") {
    out = false;
  } else {
    return "'" + text + "' is not true or false";
  }
  return {};
}

std::string set_log_level(std::string& out, const std::string& text) {
  static const std::set<std::string> ok{"trace", "debug", "info", "warn",
                                        "error", "critical", "off"};
  if (ok.count(text) == 0)
    return "'" + text
           + "' is not one of trace, debug, info, warn, error, critical, off";
  out = text;
  return {};
}

struct option_table {
  std::map<std::string, setter> values; ///< options that take a value
  std::map<std::string, bool*> flags;   ///< options that take none
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

/// Reads `key = value` lines (# starts a comment) into the options.
error read_config_file(const std::string& path, const option_table& table,
                       std::set<std::string>& seen) {
  std::ifstream in{path};
  if (!in)
    return make_error(errc::bad_value,
                      "config file " + path + ": cannot be read");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto hash = line.find('#');
    if (hash != std::string::npos)
      line.resize(hash);
    line = trim(line);
    if (line.empty())
      continue;
    auto where = "config file " + path + " line " + std::to_string(n) + ": ";
    auto eq = line.find('=');
    if (eq == std::string::npos)
      return make_error(errc::bad_value,
                        where + "expected 'key = value', got '" + line + "'");
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (key == "config")
      return make_error(errc::bad_value,
                        where + "'config' cannot be set in a config file");
    std::string problem;
    if (auto i = table.values.find(key); i != table.values.end()) {
      problem = i->second(value);
    } else if (auto j = table.flags.find(key); j != table.flags.end()) {
      problem = set_bool(*j->second, value);
    } else {
      return make_error(errc::unknown_variable,
                        where + "unknown key '" + key + "'");
    }
    if (!problem.empty())
      return make_error(errc::bad_value,
                        where + "key '" + key + "': " + problem);
    seen.insert(key);
  }
  return {};
}

/// Parses `--name value`, `--name=value` and flags; FILE arguments go to
/// `files` (or are an error when `files` is null). `--config F` is read
/// first, so that the command line wins over the file.
error parse_args(const std::vector<std::string>& args,
                 const option_table& table, std::vector<std::string>* files,
                 std::set<std::string>& seen, std::string* config_file,
                 bool& help) {
  std::vector<std::pair<std::string, std::string>> given;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--help" || a == "-h") {
      help = true;
      return {};
    }
    if (a.size() < 2 || a[0] != '-') {
      if (files == nullptr)
        return make_error(errc::bad_value,
                          "unexpected argument '" + a + "' (see --help)");
      files->push_back(a);
      continue;
    }
    std::string name;
    std::string value;
    bool has_value = false;
    if (a == "-e") {
      name = "exec";
    } else if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        has_value = true;
      }
    } else {
      return make_error(errc::unknown_variable,
                        "unknown option '" + a + "' (see --help)");
    }
    bool is_config = name == "config" && config_file != nullptr;
    if (table.flags.count(name) > 0) {
      if (has_value)
        return make_error(errc::bad_value, "--" + name + ": takes no value");
      given.emplace_back(name, "true");
      continue;
    }
    if (table.values.count(name) == 0 && !is_config)
      return make_error(errc::unknown_variable,
                        "unknown option '--" + name + "' (see --help)");
    if (!has_value) {
      if (i + 1 == args.size())
        return make_error(errc::bad_value, "--" + name + ": missing value");
      value = args[++i];
    }
    if (is_config)
      *config_file = value;
    else
      given.emplace_back(name, value);
  }
  if (config_file != nullptr && !config_file->empty())
    if (auto err = read_config_file(*config_file, table, seen))
      return err;
  for (auto& [name, value] : given) {
    std::string problem;
    if (auto i = table.values.find(name); i != table.values.end())
      problem = i->second(value);
    else
      problem = set_bool(*table.flags.at(name), value);
    if (!problem.empty())
      return make_error(errc::bad_value, "--" + name + ": " + problem);
    seen.insert(name);
  }
  return {};
}

option_table tls_table(tls_options& tls, option_table t) {
  t.values["tls-cert"] = [&tls](const std::string& v) {
    return set_text(tls.cert, v);
  };
  t.values["tls-key"] = [&tls](const std::string& v) {
    return set_text(tls.key, v);
  };
  t.values["tls-ca"] = [&tls](const std::string& v) {
    return set_text(tls.ca, v);
  };
  return t;
}

error check_tls_complete(const tls_options& tls, const std::string& where) {
  int given = !tls.cert.empty() + !tls.key.empty() + !tls.ca.empty();
  if (given == 0 || given == 3)
    return {};
  auto missing = tls.cert.empty() ? "tls-cert"
                                  : tls.key.empty() ? "tls-key" : "tls-ca";
  return make_error(errc::bad_value,
                    std::string{"missing required key '"} + missing
                      + "': mutual TLS needs tls-cert, tls-key and tls-ca"
                      + where);
}

} // namespace

std::string node_options::address() const {
  auto h = host.empty() ? bind : host;
  return h + ":" + std::to_string(port);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

result<node_options> parse_node(const std::string& role,
                                const std::vector<std::string>& args) {
  node_options o;
  o.role = role;
  option_table t;
  t.values["port"] = [&o](const std::string& v) { return set_port(o.port, v); };
  t.values["data-dir"] = [&o](const std::string& v) {
    return set_text(o.data_dir, v);
  };
  t.values["bind"] = [&o](const std::string& v) { return set_text(o.bind, v); };
  t.values["host"] = [&o](const std::string& v) { return set_text(o.host, v); };
  t.values["log-level"] = [&o](const std::string& v) {
    return set_log_level(o.log_level, v);
  };
  t.values["trace"] = [&o](const std::string& v) {
    return set_text(o.trace, v);
  };
  t.values["max-message-mb"] = [&o](const std::string& v) {
    return set_int(o.max_message_mb, v, 1, 4095);
  };
  t.values["mysql-port"] = [&o](const std::string& v) {
    return set_port(o.mysql_port, v);
  };
  t.values["http-port"] = [&o](const std::string& v) {
    return set_port(o.http_port, v);
  };
  t.values["mysql-max-connections"] = [&o](const std::string& v) {
    return set_int(o.mysql_max_connections, v, 1, 100000);
  };
  t.values["root-password-file"] = [&o](const std::string& v) {
    return set_text(o.root_password_file, v);
  };
  t.flags["insecure"] = &o.insecure;
  t = tls_table(o.tls, std::move(t));
  std::set<std::string> seen;
  if (auto err = parse_args(args, t, nullptr, seen, &o.config_file,
                            o.help_printed))
    return err;
  if (o.help_printed)
    return o;
  auto where = o.config_file.empty()
                 ? std::string{}
                 : " (on the command line or in " + o.config_file + ")";
  for (const char* key : {"port", "data-dir"})
    if (seen.count(key) == 0)
      return make_error(errc::bad_value, std::string{"missing required key '"}
                                           + key + "'" + where);
  if (auto err = check_tls_complete(o.tls, where))
    return err;
  if (!o.tls.enabled() && !is_loopback(o.bind) && !o.insecure)
    return make_error(errc::bad_value,
                      "bind '" + o.bind
                        + "': without TLS a node listens on loopback only; "
                          "give tls-cert, tls-key and tls-ca, or --insecure"
                        + where);
  return o;
}

result<sql_options> parse_sql(const std::vector<std::string>& args) {
  sql_options o;
  option_table t;
  t.values["host"] = [&o](const std::string& v) { return set_text(o.host, v); };
  t.values["port"] = [&o](const std::string& v) { return set_port(o.port, v); };
  t.values["exec"] = [&o](const std::string& v) {
    o.exec = v;
    return std::string{};
  };
  t.values["user"] = [&o](const std::string& v) { return set_text(o.user, v); };
  t.values["password"] = [&o](const std::string& v) {
    o.password = v;
    return std::string{};
  };
  t = tls_table(o.tls, std::move(t));
  std::set<std::string> seen;
  if (auto err = parse_args(args, t, &o.files, seen, nullptr, o.help_printed))
    return err;
  if (o.help_printed)
    return o;
  if (seen.count("port") == 0)
    return make_error(errc::bad_value, "missing required option '--port'");
  if (auto err = check_tls_complete(o.tls, ""))
    return err;
  return o;
}

result<history_options>
parse_history(const std::vector<std::string>& args) {
  history_options o;
  option_table t;
  t.values["host"] = [&o](const std::string& v) { return set_text(o.host, v); };
  t.values["port"] = [&o](const std::string& v) { return set_port(o.port, v); };
  t.values["database"] = [&o](const std::string& v) {
    return set_name(o.database, v);
  };
  t.values["out"] = [&o](const std::string& v) { return set_text(o.out, v); };
  t.values["seconds"] = [&o](const std::string& v) {
    return set_int(o.seconds, v, 0, 1000000);
  };
  t.values["clients"] = [&o](const std::string& v) {
    return set_int(o.clients, v, 1, 64);
  };
  t.values["sessions"] = [&o](const std::string& v) {
    return set_int(o.sessions, v, 1, 64);
  };
  t.values["keys"] = [&o](const std::string& v) {
    return set_int(o.keys, v, 1, 1000);
  };
  t.values["seed"] = [&o](const std::string& v) {
    return set_int(o.seed, v, 0, INT64_MAX);
  };
  t.values["timeout-ms"] = [&o](const std::string& v) {
    return set_int(o.timeout_ms, v, 1, 3600000);
  };
  t.values["also-aggregators"] = [&o](const std::string& v) {
    for (size_t at = 0; at <= v.size();) {
      auto comma = std::min(v.find(',', at), v.size());
      auto one = v.substr(at, comma - at);
      auto colon = one.rfind(':');
      uint16_t port = 0;
      if (colon == std::string::npos || colon == 0
          || !set_port(port, one.substr(colon + 1)).empty())
        return "'" + one + "' is not host:port";
      at = comma + 1;
    }
    o.also_aggregators = v;
    return std::string{};
  };
  t.values["user"] = [&o](const std::string& v) { return set_text(o.user, v); };
  t.values["password"] = [&o](const std::string& v) {
    o.password = v;
    return std::string{};
  };
  t.values["log-level"] = [&o](const std::string& v) {
    return set_log_level(o.log_level, v);
  };
  t = tls_table(o.tls, std::move(t));
  std::set<std::string> seen;
  if (auto err = parse_args(args, t, nullptr, seen, nullptr, o.help_printed))
    return err;
  if (o.help_printed)
    return o;
  for (const char* key : {"port", "database", "out"})
    if (seen.count(key) == 0)
      return make_error(errc::bad_value, std::string{"missing required option '--"}
                                           + key + "'");
  if (auto err = check_tls_complete(o.tls, ""))
    return err;
  return o;
}

result<check_history_options>
parse_check_history(const std::vector<std::string>& args) {
  check_history_options o;
  option_table t;
  t.values["budget-seconds"] = [&o](const std::string& v) {
    return set_int(o.budget_seconds, v, 1, 86400);
  };
  std::vector<std::string> files;
  std::set<std::string> seen;
  if (auto err = parse_args(args, t, &files, seen, nullptr, o.help_printed))
    return err;
  if (o.help_printed)
    return o;
  if (files.size() != 1)
    return make_error(errc::bad_value,
                      files.empty() ? "missing the history FILE"
                                    : "one history FILE only, got "
                                        + std::to_string(files.size()));
  o.file = files[0];
  return o;
}

} // namespace lg::config
