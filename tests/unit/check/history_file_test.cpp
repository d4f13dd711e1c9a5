#include "check/history_file.hpp"

#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::check::completion_line;
using lg::check::history_file_header;
using lg::check::invocation_line;
using lg::check::load_history;
using lg::check::op_kind;
using lg::check::operation;
using lg::check::outcome;

namespace {

operation op(uint32_t client, op_kind kind, const std::string& key,
             std::optional<std::string> value, int64_t from, int64_t to,
             outcome result) {
  return {client, kind, key, std::move(value), from, to, result};
}

/// The error load_history() gives for `text`.
std::string error_of(const std::string& text) {
  std::istringstream in{text};
  auto h = load_history(in);
  BOOST_REQUIRE_MESSAGE(!h.error.empty(), "expected an error for: " + text);
  return h.error;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(check_history_file)

BOOST_AUTO_TEST_CASE(round_trip_of_every_kind_and_outcome) {
  std::vector<operation> ops{
    op(1, op_kind::put, "h0", "c1-0", 10, 20, outcome::ok),
    op(2, op_kind::get, "h0", "c1-0", 15, 25, outcome::ok),
    op(1, op_kind::del, "h0", std::nullopt, 30, 40, outcome::unknown),
    op(2, op_kind::get, "h0", std::nullopt, 35, 45, outcome::ok),
    // Odd bytes survive: spaces, '%', '#', '=', a line break, a lone '-'.
    op(3, op_kind::put, "k y", "a%b#c\n=-", 50, 60, outcome::ok),
    op(3, op_kind::get, "k y", "-", 70, 80, outcome::ok),
  };
  std::string text = history_file_header();
  for (auto& o : ops) {
    text += invocation_line(o);
    text += completion_line(o, o.result == outcome::ok ? "" : "ERROR 7: x\ny");
  }
  std::istringstream in{text};
  auto h = load_history(in);
  BOOST_REQUIRE_MESSAGE(h.error.empty(), h.error);
  BOOST_REQUIRE_EQUAL(h.ops.size(), ops.size());
  BOOST_TEST(h.still_running == 0u);
  for (size_t i = 0; i < ops.size(); ++i) {
    BOOST_TEST_CONTEXT("operation " << i) {
      BOOST_TEST(h.ops[i].client == ops[i].client);
      BOOST_TEST((h.ops[i].kind == ops[i].kind));
      BOOST_TEST(h.ops[i].key == ops[i].key);
      BOOST_TEST((h.ops[i].value == (ops[i].kind == op_kind::del
                                       ? std::nullopt
                                       : ops[i].value)));
      BOOST_TEST(h.ops[i].invoked == ops[i].invoked);
      BOOST_TEST(h.ops[i].completed == ops[i].completed);
      BOOST_TEST((h.ops[i].result == ops[i].result));
    }
  }
}

BOOST_AUTO_TEST_CASE(an_invocation_never_completed_is_unknown) {
  // Client 2's put was running when the client process was killed.
  auto done = op(1, op_kind::get, "h1", "v", 5, 9, outcome::ok);
  auto open = op(2, op_kind::put, "h1", "v", 3, 0, outcome::ok);
  std::istringstream in{invocation_line(done) + invocation_line(open)
                        + completion_line(done)};
  auto h = load_history(in);
  BOOST_REQUIRE_MESSAGE(h.error.empty(), h.error);
  BOOST_REQUIRE_EQUAL(h.ops.size(), 2u);
  BOOST_TEST(h.still_running == 1u);
  BOOST_TEST((h.ops[1].result == outcome::unknown));
  BOOST_TEST(*h.ops[1].value == "v");
  // The checker takes it as a write that may have applied: the read of "v"
  // is explained by it.
  auto v = lg::check::check_history(h.ops);
  BOOST_TEST(v.linearizable());
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_named) {
  BOOST_TEST(contains(error_of("x 1 put =k =v 1\n"), "line 1: expected 'i'"));
  BOOST_TEST(contains(error_of("# c\ni 1 put =k =v\n"),
                      "line 2: expected 6 fields, got 5"));
  BOOST_TEST(contains(error_of("i 1 inc =k - 1\n"), "kind 'inc'"));
  BOOST_TEST(contains(error_of("i 1 put =k - 1\n"), "a put without a value"));
  BOOST_TEST(contains(error_of("i 1 get k - 1\n"), "key 'k' is not =TEXT"));
  BOOST_TEST(contains(error_of("i 1 get =k =%4 1\n"), "value '=%4'"));
  BOOST_TEST(contains(error_of("i 1 get =k - 1\ni 1 get =k - 2\n"),
                      "line 2: client 1 invokes an operation while another"));
  BOOST_TEST(contains(error_of("c 1 ok 5 -\n"),
                      "client 1 completes an operation it never invoked"));
  BOOST_TEST(contains(error_of("i 1 get =k - 9\nc 1 ok 5 -\n"),
                      "line 2: completion time '5'"));
  BOOST_TEST(contains(error_of("i 1 get =k - 1\nc 1 maybe 5 -\n"),
                      "result 'maybe'"));
  BOOST_TEST(contains(error_of("i -1 get =k - 1\n"), "client '-1'"));
}

BOOST_AUTO_TEST_SUITE_END()
