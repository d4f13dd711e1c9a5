// The cluster's global variables (SET GLOBAL / SHOW VARIABLES) and the
// process options of each command: names, defaults, descriptions and checks
// in one place.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace lg::config {

enum class errc {
  unknown_variable, ///< no variable or option of that name
  bad_value,        ///< the value fails its check, alone or against another
};

const char* to_string(errc code);

LG_MODULE_ERRORS("config", errc)

/// One global variable.
struct variable_spec {
  std::string name;
  std::string default_value;
  std::string description;
  /// Returns the canonical form of a value (e.g. "on" -> "ON") or an error
  /// that names the variable and the bad value.
  std::function<result<std::string>(const std::string&)> check;
};

/// Every global variable, sorted by name.
const std::vector<variable_spec>& global_variables();

/// Returns the spec of `name`, or nullptr.
const variable_spec* find_variable(const std::string& name);

/// Validates `value` for `name` and returns its canonical form.
result<std::string> check_variable(const std::string& name,
                                   const std::string& value);

/// Checks a whole set of globals, as they would be after setting `changed`
/// (empty: as given at start-up), against each variable's own check and
/// against each other: e.g. leaf_failure_timeout_ms must be at least 3 times
/// leaf_heartbeat_interval_ms. Variables missing from `globals` count at
/// their default. With `changed` set, only its own check and the rules that
/// involve it apply, so that a conflict between two other variables (stored
/// by an older version) does not block every SET GLOBAL. Returns a
/// config.bad_value error naming both variables and their values, or no
/// error.
error check_globals(const std::map<std::string, std::string>& globals,
                    const std::string& changed);

/// The global variables with their defaults.
std::map<std::string, std::string> default_globals();

/// Typed views on a globals map (values are assumed checked).
int64_t get_int(const std::map<std::string, std::string>& globals,
                const std::string& name);
bool get_bool(const std::map<std::string, std::string>& globals,
              const std::string& name);

/// Returns true when `text` matches the SQL LIKE `pattern` (% and _,
/// case-insensitive, as SHOW VARIABLES LIKE does), in at most
/// O(len(text) * len(pattern)) steps whatever the pattern.
bool like_match(const std::string& text, const std::string& pattern);

} // namespace lg::config
