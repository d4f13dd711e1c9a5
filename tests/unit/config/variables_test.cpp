#include "config/variables.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using namespace lg::config;

namespace {

/// Returns true when `text` contains `part`.
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Returns true when check_globals refuses `globals`.
bool refused(const std::map<std::string, std::string>& globals,
             const std::string& changed) {
  return static_cast<bool>(check_globals(globals, changed));
}

/// A plainly correct LIKE for short inputs: a table of which prefixes of
/// `text` match which prefixes of `pattern`.
bool like_reference(const std::string& text, const std::string& pattern) {
  auto n = text.size();
  auto m = pattern.size();
  std::vector<std::vector<bool>> ok(n + 1, std::vector<bool>(m + 1, false));
  ok[0][0] = true;
  for (size_t j = 1; j <= m; ++j)
    ok[0][j] = ok[0][j - 1] && pattern[j - 1] == '%';
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      auto p = pattern[j - 1];
      if (p == '%')
        ok[i][j] = ok[i][j - 1] || ok[i - 1][j];
      else
        ok[i][j] = ok[i - 1][j - 1]
                   && (p == '_'
                       || std::tolower(static_cast<unsigned char>(p))
                            == std::tolower(
                              static_cast<unsigned char>(text[i - 1])));
    }
  return ok[n][m];
}

/// Every string of length 0 to `max_len` over `alphabet`.
std::vector<std::string> all_strings(const std::string& alphabet,
                                     size_t max_len) {
  std::vector<std::string> xs{""};
  for (size_t k = 0; k < xs.size(); ++k)
    if (xs[k].size() < max_len)
      for (auto c : alphabet)
        xs.push_back(xs[k] + c);
  return xs;
}

} // namespace

BOOST_AUTO_TEST_SUITE(config_variables)

BOOST_AUTO_TEST_CASE(globals_are_sorted_and_described) {
  const auto& specs = global_variables();
  BOOST_REQUIRE(!specs.empty());
  // Strictly ascending: sorted, and no name twice.
  for (size_t i = 1; i < specs.size(); ++i)
    BOOST_TEST(specs[i - 1].name.compare(specs[i].name) < 0);
  for (auto& spec : specs) {
    BOOST_TEST_CONTEXT(spec.name) {
      BOOST_TEST(!spec.description.empty());
      BOOST_TEST(static_cast<bool>(spec.check));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_default_passes_its_own_check) {
  for (auto& spec : global_variables()) {
    BOOST_TEST_CONTEXT(spec.name) {
      auto checked = spec.check(spec.default_value);
      BOOST_REQUIRE(checked.ok());
      // Defaults are stored in canonical form.
      BOOST_TEST(checked.value() == spec.default_value);
      auto via_name = check_variable(spec.name, spec.default_value);
      BOOST_REQUIRE(via_name.ok());
      BOOST_TEST(via_name.value() == spec.default_value);
    }
  }
}

BOOST_AUTO_TEST_CASE(default_globals_lists_every_variable) {
  auto globals = default_globals();
  BOOST_TEST(globals.size() == global_variables().size());
  for (auto& spec : global_variables()) {
    BOOST_TEST_CONTEXT(spec.name) {
      BOOST_REQUIRE(globals.count(spec.name) == 1u);
      BOOST_TEST(globals[spec.name] == spec.default_value);
    }
  }
  BOOST_TEST(globals["redundancy_level"] == "1");
  BOOST_TEST(globals["auto_attach"] == "ON");
}

BOOST_AUTO_TEST_CASE(booleans_are_canonicalized) {
  for (auto value : {"ON", "on", "On", "1", "true", "TRUE", "True"}) {
    BOOST_TEST_CONTEXT(value) {
      auto x = check_variable("auto_attach", value);
      BOOST_REQUIRE(x.ok());
      BOOST_TEST(x.value() == "ON");
    }
  }
  for (auto value : {"OFF", "off", "0", "false", "FALSE"}) {
    BOOST_TEST_CONTEXT(value) {
      auto x = check_variable("leaf_failure_detection", value);
      BOOST_REQUIRE(x.ok());
      BOOST_TEST(x.value() == "OFF");
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_boolean_names_variable_and_value) {
  for (auto value : {"yes", "", "2", "onn"}) {
    BOOST_TEST_CONTEXT(value) {
      auto x = check_variable("auto_attach", value);
      BOOST_REQUIRE(!x.ok());
      BOOST_TEST(x.err().module() == "config");
      BOOST_TEST(x.err().name() == "bad_value");
      BOOST_TEST(contains(x.err().detail(), "auto_attach"));
      BOOST_TEST(contains(x.err().detail(), std::string{"'"} + value + "'"));
    }
  }
}

BOOST_AUTO_TEST_CASE(integers_in_range_are_accepted) {
  auto lo = check_variable("redundancy_level", "1");
  auto hi = check_variable("redundancy_level", "2");
  BOOST_REQUIRE(lo.ok());
  BOOST_REQUIRE(hi.ok());
  BOOST_TEST(lo.value() == "1");
  BOOST_TEST(hi.value() == "2");
  // Leading zeros are canonicalized away.
  auto padded = check_variable("leaf_failure_timeout_ms", "00250");
  BOOST_REQUIRE(padded.ok());
  BOOST_TEST(padded.value() == "250");
  auto edge = check_variable("leaf_failure_timeout_ms", "3600000");
  BOOST_REQUIRE(edge.ok());
  BOOST_TEST(edge.value() == "3600000");
}

BOOST_AUTO_TEST_CASE(out_of_range_integers_are_rejected) {
  struct bad {
    const char* name;
    const char* value;
  };
  for (auto x : {bad{"redundancy_level", "0"}, bad{"redundancy_level", "3"},
                 bad{"leaf_failure_timeout_ms", "9"},
                 bad{"leaf_failure_timeout_ms", "3600001"},
                 bad{"default_partitions_per_leaf", "1025"},
                 bad{"leaf_heartbeat_interval_ms", "0"},
                 bad{"replication_backlog_mb", "0"}}) {
    BOOST_TEST_CONTEXT(x.name << " = " << x.value) {
      auto r = check_variable(x.name, x.value);
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.err().name() == "bad_value");
      BOOST_TEST(contains(r.err().detail(), x.name));
      BOOST_TEST(
        contains(r.err().detail(), std::string{"'"} + x.value + "'"));
    }
  }
  auto r = check_variable("redundancy_level", "3");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(contains(r.err().detail(), "from 1 to 2"));
}

BOOST_AUTO_TEST_CASE(non_numbers_are_rejected) {
  for (auto value : {"", "abc", "-5", "+5", "1.5", "10ms", " 10",
                     "99999999999999999999999"}) {
    BOOST_TEST_CONTEXT("'" << value << "'") {
      auto r = check_variable("request_timeout_ms", value);
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.err().name() == "bad_value");
      BOOST_TEST(contains(r.err().detail(), "request_timeout_ms"));
      BOOST_TEST(contains(r.err().detail(), std::string{"'"} + value + "'"));
    }
  }
}

BOOST_AUTO_TEST_CASE(unknown_variable_is_named) {
  auto r = check_variable("no_such_thing", "1");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.err().module() == "config");
  BOOST_TEST(r.err().name() == "unknown_variable");
  BOOST_TEST(contains(r.err().detail(), "'no_such_thing'"));
  BOOST_TEST(r.err().to_string()
             == "config.unknown_variable: unknown system variable "
                "'no_such_thing'");
}

BOOST_AUTO_TEST_CASE(find_variable_ignores_case) {
  auto lower = find_variable("redundancy_level");
  BOOST_REQUIRE(lower != nullptr);
  BOOST_TEST(lower->name == "redundancy_level");
  BOOST_TEST(find_variable("REDUNDANCY_LEVEL") == lower);
  BOOST_TEST(find_variable("Redundancy_Level") == lower);
  BOOST_TEST(find_variable("redundancy") == nullptr);
  BOOST_TEST(find_variable("") == nullptr);
  auto r = check_variable("AUTO_ATTACH", "off");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value() == "OFF");
}

BOOST_AUTO_TEST_CASE(like_match_handles_wildcards) {
  BOOST_TEST(like_match("leaf_failure_timeout_ms", "leaf%"));
  BOOST_TEST(like_match("leaf_failure_timeout_ms", "%timeout%"));
  BOOST_TEST(like_match("leaf_failure_timeout_ms", "%_ms"));
  BOOST_TEST(!like_match("auto_attach", "leaf%"));
  BOOST_TEST(like_match("abc", "a_c"));
  BOOST_TEST(!like_match("abbc", "a_c"));
  BOOST_TEST(!like_match("ac", "a_c"));
  BOOST_TEST(like_match("abc", "%"));
  BOOST_TEST(like_match("", "%"));
  BOOST_TEST(!like_match("", "_"));
  BOOST_TEST(like_match("abc", "abc"));
  BOOST_TEST(!like_match("abc", "ab"));
  BOOST_TEST(!like_match("ab", "abc"));
  BOOST_TEST(like_match("abc", "a%%c"));
  BOOST_TEST(like_match("abXYc", "a%c"));
  BOOST_TEST(!like_match("abXYcd", "a%c"));
}

BOOST_AUTO_TEST_CASE(like_match_ignores_case) {
  BOOST_TEST(like_match("redundancy_level", "REDUNDANCY%"));
  BOOST_TEST(like_match("REDUNDANCY_LEVEL", "redundancy_level"));
  BOOST_TEST(like_match("Auto_Attach", "%ATTACH"));
  BOOST_TEST(!like_match("auto_attach", "%detach"));
}

BOOST_AUTO_TEST_CASE(like_match_is_not_exponential) {
  // Sixteen '%' before a literal that never matches: a backtracking matcher
  // tries every split of the text between the wildcards.
  std::string text(200, 'a');
  std::string pattern(16, '%');
  pattern += 'x';
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto no_match = like_match(text, pattern);
  auto match = like_match(text + "X", pattern);
  auto mixed = like_match(text + "b", "%a_%a%_b");
  auto elapsed = clock::now() - start;
  BOOST_TEST(!no_match);
  BOOST_TEST(match);
  BOOST_TEST(mixed);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed)
               .count()
             < 100);
}

BOOST_AUTO_TEST_CASE(like_match_backtracks_past_a_false_start) {
  // The first 'ab' after '%' is not the one that lets the rest match.
  BOOST_TEST(like_match("xabyabz", "%ab_"));
  BOOST_TEST(like_match("aab", "%ab"));
  BOOST_TEST(like_match("mississippi", "m%iss%ppi"));
  BOOST_TEST(!like_match("mississippi", "m%iss%ppix"));
  BOOST_TEST(like_match("abcabd", "%abd"));
  BOOST_TEST(!like_match("abcab", "%abd"));
  BOOST_TEST(like_match("a", "%%_%%"));
  BOOST_TEST(!like_match("", "%_%"));
}

BOOST_AUTO_TEST_CASE(like_match_agrees_with_a_reference_on_short_inputs) {
  auto texts = all_strings("abA", 5);
  auto patterns = all_strings("aB%_", 5);
  for (auto& pattern : patterns)
    for (auto& text : texts)
      BOOST_TEST_CONTEXT("'" << text << "' LIKE '" << pattern << "'") {
        // BOOST_TEST on every pair would log a million passes; report only
        // a disagreement.
        if (like_match(text, pattern) != like_reference(text, pattern))
          BOOST_ERROR("like_match disagrees with the reference");
      }
}

BOOST_AUTO_TEST_CASE(defaults_pass_the_cross_checks) {
  BOOST_TEST(!refused(default_globals(), ""));
  BOOST_TEST(!refused({}, ""));
  for (auto& spec : global_variables())
    BOOST_TEST_CONTEXT(spec.name) {
      BOOST_TEST(!refused(default_globals(), spec.name));
    }
}

BOOST_AUTO_TEST_CASE(failure_timeout_under_three_heartbeats_is_refused) {
  auto globals = default_globals();
  globals["leaf_failure_timeout_ms"] = "10";
  auto err = check_globals(globals, "leaf_failure_timeout_ms");
  BOOST_REQUIRE(static_cast<bool>(err));
  BOOST_TEST(err.module() == "config");
  BOOST_TEST(err.name() == "bad_value");
  BOOST_TEST(err.detail()
             == "leaf_failure_timeout_ms = 10 must be at least 3 times "
                "leaf_heartbeat_interval_ms (100): a leaf would be declared "
                "offline between two heartbeats");
  // Just under three intervals: one lost heartbeat is too many.
  globals["leaf_failure_timeout_ms"] = "299";
  err = check_globals(globals, "leaf_failure_timeout_ms");
  BOOST_REQUIRE(static_cast<bool>(err));
  BOOST_TEST(contains(err.detail(), "leaf_failure_timeout_ms = 299"));
  BOOST_TEST(contains(err.detail(), "leaf_heartbeat_interval_ms (100)"));
  BOOST_TEST(contains(err.detail(), "a single lost heartbeat"));
  globals["leaf_failure_timeout_ms"] = "300";
  BOOST_TEST(!refused(globals, "leaf_failure_timeout_ms"));
  BOOST_TEST(!refused(globals, ""));
}

BOOST_AUTO_TEST_CASE(heartbeat_interval_is_checked_against_the_timeout) {
  // Raising the interval is refused just as lowering the timeout is.
  auto globals = default_globals();
  globals["leaf_heartbeat_interval_ms"] = "400";
  auto err = check_globals(globals, "leaf_heartbeat_interval_ms");
  BOOST_REQUIRE(static_cast<bool>(err));
  BOOST_TEST(err.detail()
             == "leaf_failure_timeout_ms = 1000 must be at least 3 times "
                "leaf_heartbeat_interval_ms (400): a single lost heartbeat "
                "could declare a healthy leaf offline");
  globals["leaf_failure_timeout_ms"] = "1200";
  BOOST_TEST(!refused(globals, "leaf_heartbeat_interval_ms"));
}

BOOST_AUTO_TEST_CASE(missing_globals_count_at_their_default) {
  // The interval is missing: its default, 100, stands in.
  std::map<std::string, std::string> globals{
    {"leaf_failure_timeout_ms", "200"}};
  auto err = check_globals(globals, "");
  BOOST_REQUIRE(static_cast<bool>(err));
  BOOST_TEST(contains(err.detail(), "leaf_heartbeat_interval_ms (100)"));
  BOOST_TEST(!refused({{"leaf_heartbeat_interval_ms", "300"}}, ""));
  BOOST_TEST(refused({{"leaf_heartbeat_interval_ms", "334"}}, ""));
}

BOOST_AUTO_TEST_CASE(changed_names_which_rules_apply) {
  auto globals = default_globals();
  globals["leaf_failure_timeout_ms"] = "10";
  // Setting an unrelated variable is not blocked by an older conflict...
  BOOST_TEST(!refused(globals, "auto_attach"));
  BOOST_TEST(!refused(globals, "sync_replication_timeout_ms"));
  // ...but either variable of the rule, or the whole set, is checked.
  BOOST_TEST(refused(globals, "leaf_failure_timeout_ms"));
  BOOST_TEST(refused(globals, "LEAF_HEARTBEAT_INTERVAL_MS"));
  BOOST_TEST(refused(globals, ""));
}

BOOST_AUTO_TEST_CASE(check_globals_checks_each_value_too) {
  auto globals = default_globals();
  globals["leaf_heartbeat_interval_ms"] = "soon";
  auto err = check_globals(globals, "");
  BOOST_REQUIRE(static_cast<bool>(err));
  BOOST_TEST(err.name() == "bad_value");
  BOOST_TEST(contains(err.detail(), "'soon'"));
  BOOST_TEST(refused(globals, "leaf_heartbeat_interval_ms"));
  globals = default_globals();
  globals["no_such_thing"] = "1";
  err = check_globals(globals, "");
  BOOST_REQUIRE(static_cast<bool>(err));
  BOOST_TEST(err.name() == "unknown_variable");
  BOOST_TEST(!refused(globals, "auto_attach"));
}

BOOST_AUTO_TEST_CASE(other_timeouts_are_free_of_the_heartbeat) {
  // A short request or sync timeout is a valid choice (fail fast, go on
  // without a slow replica sooner): no rule ties them to the heartbeat.
  auto globals = default_globals();
  globals["leaf_heartbeat_interval_ms"] = "1000";
  globals["leaf_failure_timeout_ms"] = "3000";
  globals["request_timeout_ms"] = "10";
  globals["sync_replication_timeout_ms"] = "10";
  BOOST_TEST(!refused(globals, ""));
}

BOOST_AUTO_TEST_CASE(typed_getters_read_values) {
  std::map<std::string, std::string> globals{
    {"leaf_failure_timeout_ms", "250"},
    {"auto_attach", "OFF"},
  };
  BOOST_TEST(get_int(globals, "leaf_failure_timeout_ms") == 250);
  BOOST_TEST(get_bool(globals, "auto_attach") == false);
}

BOOST_AUTO_TEST_CASE(typed_getters_fall_back_to_defaults) {
  std::map<std::string, std::string> empty;
  BOOST_TEST(get_int(empty, "leaf_failure_timeout_ms") == 1000);
  BOOST_TEST(get_int(empty, "redundancy_level") == 1);
  BOOST_TEST(get_bool(empty, "auto_attach") == true);
  BOOST_TEST(get_bool(empty, "leaf_failure_detection") == true);
  // Unknown names have no default: 0 and false.
  BOOST_TEST(get_int(empty, "no_such_thing") == 0);
  BOOST_TEST(get_bool(empty, "no_such_thing") == false);
  auto defaults = default_globals();
  for (auto& spec : global_variables()) {
    BOOST_TEST_CONTEXT(spec.name) {
      bool number = !spec.default_value.empty()
                    && std::all_of(spec.default_value.begin(),
                                   spec.default_value.end(), [](char c) {
                                     return c >= '0' && c <= '9';
                                   });
      if (spec.default_value == "ON" || spec.default_value == "OFF")
        BOOST_TEST(get_bool(empty, spec.name) == get_bool(defaults, spec.name));
      else if (number)
        BOOST_TEST(get_int(empty, spec.name) == get_int(defaults, spec.name));
      else // a word (leaf_failover_fanout): stored as it is
        BOOST_TEST(defaults.at(spec.name) == spec.default_value);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
