#include "actors/client/logins.hpp"

#include <boost/test/unit_test.hpp>

#include "sql/mysql_wire.hpp"

using namespace lg;
using clock_type = login_table::clock;

BOOST_AUTO_TEST_SUITE(client_logins)

BOOST_AUTO_TEST_CASE(root_with_a_password) {
  auto stored = mysql::native_password_hash("pw");
  auto scramble = random_scramble();
  auto good = mysql::native_password_token("pw", scramble);
  auto bad = mysql::native_password_token("nope", scramble);
  BOOST_TEST(check_root_login(stored, scramble, good, false, "h").empty());
  auto why = check_root_login(stored, scramble, bad, true, "h");
  BOOST_TEST(why == "Access denied for user 'root'@'h' (using password: YES)");
  BOOST_TEST(!check_root_login(stored, scramble, "", true, "h").empty());
}

BOOST_AUTO_TEST_CASE(root_without_a_password_only_from_loopback) {
  BOOST_TEST(check_root_login("", "s", "", true, "127.0.0.1").empty());
  auto why = check_root_login("", "s", "", false, "10.0.0.2");
  BOOST_TEST(why.find("only log in from loopback") != std::string::npos);
  auto token = mysql::native_password_token("guess", "s");
  BOOST_TEST(!check_root_login("", "s", token, true, "127.0.0.1").empty());
}

BOOST_AUTO_TEST_CASE(a_scramble_serves_one_login_within_its_life) {
  login_table t;
  auto now = clock_type::now();
  auto s = t.issue_scramble(now);
  BOOST_TEST(s.size() == 20u);
  BOOST_TEST(s.find('\0') == std::string::npos);
  BOOST_TEST(t.take_scramble(s, now));
  BOOST_TEST(!t.take_scramble(s, now)); // used up
  auto late = t.issue_scramble(now);
  BOOST_TEST(!t.take_scramble(late, now + login_table::scramble_life
                                      + std::chrono::seconds{1}));
  BOOST_TEST(!t.take_scramble("never issued", now));
}

BOOST_AUTO_TEST_CASE(logins_are_found_by_token_until_idle_or_removed) {
  login_table t;
  auto now = clock_type::now();
  auto a = t.add(principal{"bob", "h", root_grants()}, now);
  auto b = t.add(principal{"eve", "h", {}}, now);
  BOOST_TEST(a != b);
  BOOST_TEST(a.size() == 24u);
  auto* who = t.find(a, now);
  BOOST_REQUIRE(who != nullptr);
  BOOST_TEST(who->user == "bob");
  t.remove(a);
  BOOST_TEST(t.find(a, now) == nullptr);
  BOOST_TEST(t.find(b, now + login_table::idle_life + std::chrono::seconds{1})
             == nullptr);
  BOOST_TEST(t.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
