#include "config/variables.hpp"

#include <algorithm>
#include <cctype>

namespace lg::config {

const char* to_string(errc code) {
  switch (code) {
    case errc::unknown_variable:
      return "unknown_variable";
    case errc::bad_value:
      return "bad_value";
  }
  return "unknown";
}

namespace {

std::function<result<std::string>(const std::string&)>
int_range(std::string name, int64_t lo, int64_t hi) {
  return [name, lo, hi](const std::string& value) -> result<std::string> {
    auto bad = [&] {
      return make_error(errc::bad_value,
                        "variable '" + name + "' can't be set to '" + value
                          + "': expected an integer from "
                          + std::to_string(lo) + " to "
                          + std::to_string(hi));
    };
    if (value.empty() || value.size() > 18)
      return bad();
    for (auto c : value)
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return bad();
    auto x = std::stoll(value);
    if (x < lo || x > hi)
      return bad();
    return std::to_string(x);
  };
}

std::function<result<std::string>(const std::string&)>
on_off(std::string name) {
  return [name](const std::string& value) -> result<std::string> {
    std::string upper;
    for (auto c : value)
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "ON" || upper == "1" || upper == "TRUE")
      return std::string{"ON"};
    if (upper == "OFF" || upper == "0" || upper == "FALSE")
      return std::string{"OFF"};
    return make_error(errc::bad_value, "variable '" + name
                                         + "' can't be set to '" + value
                                         + "': expected ON or OFF");
  };
}

std::function<result<std::string>(const std::string&)>
one_of(std::string name, std::vector<std::string> values) {
  return [name, values](const std::string& value) -> result<std::string> {
    std::string lower;
    for (auto c : value)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& v : values)
      if (lower == v)
        return v;
    std::string list;
    for (auto& v : values)
      list += (list.empty() ? "'" : ", '") + v + "'";
    return make_error(errc::bad_value, "variable '" + name
                                         + "' can't be set to '" + value
                                         + "': expected one of " + list);
  };
}

std::vector<variable_spec> make_specs() {
  std::vector<variable_spec> xs{
    {"aggregator_election_timeout_ms", "1000",
     "voting aggregators that hear nothing from the master aggregator's "
     "member for this long (randomised up to twice it) elect another",
     int_range("aggregator_election_timeout_ms", 100, 60000)},
    {"attach_rebalance_delay_seconds", "120",
     "after an automatic attach, wait this long (with no newer attach or "
     "failure on the pair) before moving masters back to the attached "
     "leaf; 0: at once",
     int_range("attach_rebalance_delay_seconds", 0, 86400)},
    {"auto_attach", "ON",
     "attach a recovered leaf by itself (OFF: it stays detached)",
     on_off("auto_attach")},
    {"default_partitions_per_leaf", "2",
     "partitions per leaf of a CREATE DATABASE without PARTITIONS",
     int_range("default_partitions_per_leaf", 1, 1024)},
    {"leaf_failure_detection", "ON",
     "declare unresponsive leaves offline and fail over their partitions",
     on_off("leaf_failure_detection")},
    {"leaf_failure_timeout_ms", "1000",
     "a leaf silent for this long is offline",
     int_range("leaf_failure_timeout_ms", 10, 3600000)},
    {"leaf_failover_fanout", "paired",
     "paired: a leaf's replicas are on its pair, which takes all its "
     "masters when it fails; load_balanced: they are spread over the "
     "other group's leaves (for databases created or rebalanced after)",
     one_of("leaf_failover_fanout", {"paired", "load_balanced"})},
    {"leaf_heartbeat_interval_ms", "100",
     "how often the aggregator asks each leaf for a heartbeat",
     int_range("leaf_heartbeat_interval_ms", 1, 600000)},
    {"redundancy_level", "1",
     "1: every partition is a master; 2: each master has a replica on its "
     "leaf's pair",
     int_range("redundancy_level", 1, 2)},
    {"replication_backlog_mb", "64",
     "a master holds at most this many MiB of writes its replica has not "
     "confirmed; past that it drops the replica to async, to be rebuilt",
     int_range("replication_backlog_mb", 1, 1048576)},
    {"request_timeout_ms", "10000",
     "a read or write that gets no answer in this time fails",
     int_range("request_timeout_ms", 10, 3600000)},
    {"sync_replication_timeout_ms", "5000",
     "a master whose replica is silent this long goes on alone",
     int_range("sync_replication_timeout_ms", 10, 3600000)},
  };
  std::sort(xs.begin(), xs.end(),
            [](auto& a, auto& b) { return a.name < b.name; });
  return xs;
}

} // namespace

const std::vector<variable_spec>& global_variables() {
  static const auto specs = make_specs();
  return specs;
}

const variable_spec* find_variable(const std::string& name) {
  std::string lower;
  for (auto c : name)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& spec : global_variables())
    if (spec.name == lower)
      return &spec;
  return nullptr;
}

result<std::string> check_variable(const std::string& name,
                                   const std::string& value) {
  auto spec = find_variable(name);
  if (spec == nullptr)
    return make_error(errc::unknown_variable,
                      "unknown system variable '" + name + "'");
  return spec->check(value);
}

namespace {

/// A rule between two integer variables: `name` must be at least `factor`
/// times `other`.
struct at_least_rule {
  const char* name;
  const char* other;
  int64_t factor;
  /// What goes wrong otherwise, given both values.
  std::string (*why)(int64_t value, int64_t other_value);
};

// The heartbeat round marks a leaf silent once its last reply is older than
// the failure timeout (actors/aggregator/failover.cpp). Under one interval,
// every leaf is offline before its next heartbeat is even sent; under three,
// a single lost heartbeat or a slow reply makes a healthy leaf offline and
// fails over its partitions. The other variables have no such bond:
// sync_replication_timeout_ms only bounds how long a master waits for a
// silent replica (the failover's orders stop the wait sooner), and a
// request_timeout_ms shorter than a failover is a valid choice to fail fast.
const at_least_rule at_least_rules[] = {
  {"leaf_failure_timeout_ms", "leaf_heartbeat_interval_ms", 3,
   [](int64_t value, int64_t other_value) -> std::string {
     if (value < other_value)
       return "a leaf would be declared offline between two heartbeats";
     return "a single lost heartbeat could declare a healthy leaf offline";
   }},
};

} // namespace

error check_globals(const std::map<std::string, std::string>& globals,
                    const std::string& changed) {
  std::string lower;
  for (auto c : changed)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Each value alone first: the rules below read them as integers.
  auto values = default_globals();
  for (auto& [name, value] : globals) {
    auto checked = check_variable(name, value);
    if (!checked.ok()) {
      if (lower.empty() || lower == name)
        return checked.err();
      continue; // out of scope; its default stands in
    }
    values[find_variable(name)->name] = *checked;
  }
  for (auto& rule : at_least_rules) {
    if (!lower.empty() && lower != rule.name && lower != rule.other)
      continue;
    auto value = get_int(values, rule.name);
    auto other_value = get_int(values, rule.other);
    if (value >= rule.factor * other_value)
      continue;
    return make_error(errc::bad_value,
                      std::string{rule.name} + " = " + std::to_string(value)
                        + " must be at least " + std::to_string(rule.factor)
                        + " times " + rule.other + " ("
                        + std::to_string(other_value)
                        + "): " + rule.why(value, other_value));
  }
  return {};
}

std::map<std::string, std::string> default_globals() {
  std::map<std::string, std::string> result;
  for (auto& spec : global_variables())
    result.emplace(spec.name, spec.default_value);
  return result;
}

int64_t get_int(const std::map<std::string, std::string>& globals,
                const std::string& name) {
  auto i = globals.find(name);
  if (i == globals.end()) {
    auto spec = find_variable(name);
    return spec ? std::stoll(spec->default_value) : 0;
  }
  return std::stoll(i->second);
}

bool get_bool(const std::map<std::string, std::string>& globals,
              const std::string& name) {
  auto i = globals.find(name);
  if (i == globals.end()) {
    auto spec = find_variable(name);
    return spec && spec->default_value == "ON";
  }
  return i->second == "ON";
}

namespace {

bool same_char(char pattern_char, char text_char) {
  return pattern_char == '_'
         || std::tolower(static_cast<unsigned char>(pattern_char))
              == std::tolower(static_cast<unsigned char>(text_char));
}

} // namespace

// Greedy two-pointer match with one backtrack point: on a mismatch, only the
// most recent '%' takes one more character. Earlier '%' never need to: the
// text between them and the last '%' already matched, and letting an earlier
// '%' take more only shifts what the last one has to take. That makes the match
// O(len(text) * len(pattern)) at worst, instead of exponential in the number
// of '%' (SHOW VARIABLES LIKE runs on the aggregator's actor, where a long
// match would stall failure detection).
bool like_match(const std::string& text, const std::string& pattern) {
  size_t i = 0;
  size_t j = 0;
  constexpr auto none = std::string::npos;
  size_t star = none; // position in `pattern` of the last '%' seen
  size_t mark = 0;    // where in `text` the last '%' stops taking characters
  while (i < text.size()) {
    if (j < pattern.size() && pattern[j] == '%') {
      star = j++;
      mark = i;
    } else if (j < pattern.size() && same_char(pattern[j], text[i])) {
      ++i;
      ++j;
    } else if (star != none) {
      j = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (j < pattern.size() && pattern[j] == '%')
    ++j;
  return j == pattern.size();
}

} // namespace lg::config
