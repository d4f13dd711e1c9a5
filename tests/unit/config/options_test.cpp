#include "config/options.hpp"

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::config::parse_demo;
using lg::config::parse_local;

namespace {

using args = std::vector<std::string>;

/// Returns true when `text` contains `part`.
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Parses `xs` as `leafguard local` arguments that must be valid.
lg::config::local_options local_ok(const args& xs) {
  auto r = parse_local(xs);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().to_string()));
  return r.value();
}

/// Parses `xs` as `leafguard local` arguments that must be rejected.
lg::error local_fails(const args& xs) {
  auto r = parse_local(xs);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "arguments were accepted");
  BOOST_TEST(r.err().module() == "config");
  return r.err();
}

/// Keeps std::cout quiet while CAF prints its help text.
class silence_cout {
public:
  silence_cout() : old_(std::cout.rdbuf(sink_.rdbuf())) {
  }

  ~silence_cout() {
    std::cout.rdbuf(old_);
  }

private:
  std::ostringstream sink_;
  std::streambuf* old_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(config_options)

BOOST_AUTO_TEST_CASE(local_defaults) {
  auto o = local_ok({});
  BOOST_TEST(o.leaves == 4);
  BOOST_TEST(o.redundancy == 2);
  BOOST_TEST(o.data_dir.empty());
  BOOST_TEST(!o.simulate);
  BOOST_TEST(o.seed == 0u);
  BOOST_TEST(o.trace.empty());
  BOOST_TEST(o.exec.empty());
  BOOST_TEST(o.log_level == "warn");
  BOOST_TEST(o.files.empty());
  BOOST_TEST(!o.help_printed);
}

BOOST_AUTO_TEST_CASE(value_follows_option_or_equals_sign) {
  BOOST_TEST(local_ok({"--leaves", "6"}).leaves == 6);
  BOOST_TEST(local_ok({"--leaves=6"}).leaves == 6);
  auto o = local_ok({"--redundancy", "1", "--leaves=3", "--seed", "42",
                     "--data-dir", "/tmp/lg", "--trace=t.log",
                     "--log-level", "debug"});
  BOOST_TEST(o.redundancy == 1);
  BOOST_TEST(o.leaves == 3);
  BOOST_TEST(o.seed == 42u);
  BOOST_TEST(o.data_dir == "/tmp/lg");
  BOOST_TEST(o.trace == "t.log");
  BOOST_TEST(o.log_level == "debug");
  // The last of repeated options wins.
  BOOST_TEST(local_ok({"--leaves", "2", "--leaves", "8"}).leaves == 8);
}

BOOST_AUTO_TEST_CASE(exec_takes_statements) {
  BOOST_TEST(local_ok({"-e", "SHOW LEAVES"}).exec == "SHOW LEAVES");
  BOOST_TEST(local_ok({"--exec", "SHOW LEAVES; SELECT 1"}).exec
             == "SHOW LEAVES; SELECT 1");
  BOOST_TEST(local_ok({"--exec=SHOW DATABASES"}).exec == "SHOW DATABASES");
  BOOST_TEST(local_ok({"-eSHOW LEAVES"}).exec == "SHOW LEAVES");
  // A value is taken as is, even when it looks like an option.
  BOOST_TEST(local_ok({"-e", "-- just a comment"}).exec
             == "-- just a comment");
  BOOST_TEST(local_ok({"-e", "-1"}).exec == "-1");
  BOOST_TEST(local_ok({"--data-dir", "-odd"}).data_dir == "-odd");
}

BOOST_AUTO_TEST_CASE(positional_arguments_are_files) {
  auto o = local_ok({"a.sql", "b.sql"});
  BOOST_TEST(o.files == (args{"a.sql", "b.sql"}));
  o = local_ok({"--simulate", "-e", "SHOW LEAVES", "x.sql"});
  BOOST_TEST(o.simulate);
  BOOST_TEST(o.exec == "SHOW LEAVES");
  BOOST_TEST(o.files == (args{"x.sql"}));
}

BOOST_AUTO_TEST_CASE(options_may_follow_files) {
  auto o = local_ok({"a.sql", "--leaves", "6", "b.sql", "--simulate"});
  BOOST_TEST(o.leaves == 6);
  BOOST_TEST(o.simulate);
  BOOST_TEST(o.files == (args{"a.sql", "b.sql"}));
}

BOOST_AUTO_TEST_CASE(double_dash_ends_options) {
  auto o = local_ok({"--simulate", "--", "a.sql", "--leaves"});
  BOOST_TEST(o.simulate);
  BOOST_TEST(o.leaves == 4);
  BOOST_TEST(o.files == (args{"a.sql", "--leaves"}));
  o = local_ok({"--leaves=6", "--simulate", "--", "-x.sql"});
  BOOST_TEST(o.leaves == 6);
  BOOST_TEST(o.files == (args{"-x.sql"}));
}

BOOST_AUTO_TEST_CASE(simulate_is_a_flag) {
  auto o = local_ok({"--simulate"});
  BOOST_TEST(o.simulate);
  BOOST_TEST(o.files.empty());
  auto err = local_fails({"--simulate=true"});
  BOOST_TEST(contains(err.detail(), "--simulate"));
}

BOOST_AUTO_TEST_CASE(help_is_reported) {
  silence_cout quiet;
  BOOST_TEST(local_ok({"--help"}).help_printed);
  BOOST_TEST(local_ok({"-h"}).help_printed);
}

BOOST_AUTO_TEST_CASE(bad_redundancy_names_option) {
  for (auto value : {"3", "0", "-2"}) {
    BOOST_TEST_CONTEXT(value) {
      auto err = local_fails({"--redundancy", value});
      BOOST_TEST(err.name() == "bad_value");
      BOOST_TEST(contains(err.detail(), "--redundancy"));
      BOOST_TEST(contains(err.detail(), value));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_leaves_names_option) {
  for (auto xs : {args{"--leaves", "-1"}, args{"--leaves=-1"},
                  args{"--leaves", "1001"}, args{"--leaves", "abc"},
                  args{"--leaves"}}) {
    BOOST_TEST_CONTEXT(xs.back()) {
      auto err = local_fails(xs);
      BOOST_TEST(err.name() == "bad_value");
      BOOST_TEST(contains(err.detail(), "--leaves"));
    }
  }
  auto err = local_fails({"--leaves", "-1"});
  BOOST_TEST(contains(err.detail(), "-1"));
}

BOOST_AUTO_TEST_CASE(odd_leaves_need_redundancy_one) {
  auto err = local_fails({"--leaves", "3"});
  BOOST_TEST(err.name() == "bad_value");
  BOOST_TEST(contains(err.detail(), "--leaves"));
  BOOST_TEST(contains(err.detail(), "3"));
  err = local_fails({"--leaves", "5", "--redundancy", "2"});
  BOOST_TEST(contains(err.detail(), "--leaves"));
  BOOST_TEST(local_ok({"--leaves", "3", "--redundancy", "1"}).leaves == 3);
  BOOST_TEST(local_ok({"--leaves", "0"}).leaves == 0);
}

BOOST_AUTO_TEST_CASE(bad_log_level_names_option) {
  auto err = local_fails({"--log-level", "loud"});
  BOOST_TEST(err.name() == "bad_value");
  BOOST_TEST(contains(err.detail(), "--log-level"));
  BOOST_TEST(contains(err.detail(), "'loud'"));
  for (auto level : {"trace", "debug", "info", "warn", "error", "critical",
                     "off"})
    BOOST_TEST(local_ok({"--log-level", level}).log_level == level);
}

BOOST_AUTO_TEST_CASE(unknown_option_is_named) {
  for (auto xs : {args{"--nope"}, args{"--nope=1"}, args{"a.sql", "--nope"},
                  args{"--leaves", "2", "--nope", "x"}}) {
    BOOST_TEST_CONTEXT(xs.size()) {
      auto err = local_fails(xs);
      BOOST_TEST(err.name() == "unknown_variable");
      BOOST_TEST(contains(err.detail(), "'--nope'"));
    }
  }
  auto err = local_fails({"-x"});
  BOOST_TEST(err.name() == "unknown_variable");
  BOOST_TEST(contains(err.detail(), "'-x'"));
}

BOOST_AUTO_TEST_CASE(demo_defaults_and_log_level) {
  auto d = parse_demo({});
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d->log_level == "warn");
  BOOST_TEST(!d->help_printed);
  auto spaced = parse_demo({"--log-level", "info"});
  BOOST_REQUIRE(spaced.ok());
  BOOST_TEST(spaced->log_level == "info");
  auto joined = parse_demo({"--log-level=off"});
  BOOST_REQUIRE(joined.ok());
  BOOST_TEST(joined->log_level == "off");
}

BOOST_AUTO_TEST_CASE(demo_rejects_bad_arguments) {
  auto loud = parse_demo({"--log-level", "loud"});
  BOOST_REQUIRE(!loud.ok());
  BOOST_TEST(contains(loud.err().detail(), "--log-level"));
  auto nope = parse_demo({"--nope"});
  BOOST_REQUIRE(!nope.ok());
  BOOST_TEST(nope.err().name() == "unknown_variable");
  BOOST_TEST(contains(nope.err().detail(), "'--nope'"));
  // demo has no --leaves.
  auto leaves = parse_demo({"--leaves", "6"});
  BOOST_REQUIRE(!leaves.ok());
  BOOST_TEST(contains(leaves.err().detail(), "--leaves"));
  auto extra = parse_demo({"stray"});
  BOOST_REQUIRE(!extra.ok());
  BOOST_TEST(contains(extra.err().detail(), "'stray'"));
}

BOOST_AUTO_TEST_SUITE_END()
