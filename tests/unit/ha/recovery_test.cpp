#include "ha/recovery.hpp"

#include <ostream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace lg::ha {

/// Lets Boost.Test print a rule when an assertion fails.
std::ostream& boost_test_print_type(std::ostream& out, recovery_rule rule) {
  switch (rule) {
    case recovery_rule::reintroduce:
      return out << "reintroduce";
    case recovery_rule::replica:
      return out << "replica";
    case recovery_rule::orphan:
      return out << "orphan";
  }
  return out << "recovery_rule(" << static_cast<int>(rule) << ")";
}

} // namespace lg::ha

using lg::ha::check_divergence;
using lg::ha::classify_recovered;
using lg::ha::end_lsn_for_term;
using lg::ha::instance_role;
using lg::ha::instance_view;
using lg::ha::recovery_rule;
using lg::ha::term_at;
using lg::storage::log_position;
using lg::storage::term_start;

namespace {

const std::string leaf_a = "127.0.0.1:10001";
const std::string leaf_b = "127.0.0.1:10002";
const std::string leaf_c = "127.0.0.1:10003";

using history = std::vector<term_start>;

/// Returns true when `text` contains `part`.
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ha_recovery)

BOOST_AUTO_TEST_CASE(only_instance_is_reintroduced) {
  BOOST_TEST(classify_recovered(leaf_a, leaf_b, {})
             == recovery_rule::reintroduce);
  BOOST_TEST(classify_recovered(leaf_a, "", {}) == recovery_rule::reintroduce);
  // A master whose leaf is down does not count, nor does a replica.
  std::vector<instance_view> others{
    {leaf_b, instance_role::master, true, false},
    {leaf_c, instance_role::replica, true, true},
  };
  BOOST_TEST(classify_recovered(leaf_a, leaf_b, others)
             == recovery_rule::reintroduce);
}

BOOST_AUTO_TEST_CASE(master_on_pair_makes_a_replica) {
  std::vector<instance_view> others{
    {leaf_b, instance_role::master, true, true},
  };
  BOOST_TEST(classify_recovered(leaf_a, leaf_b, others)
             == recovery_rule::replica);
}

BOOST_AUTO_TEST_CASE(master_elsewhere_makes_an_orphan) {
  std::vector<instance_view> others{
    {leaf_c, instance_role::master, true, true},
    {leaf_b, instance_role::replica, true, true},
  };
  BOOST_TEST(classify_recovered(leaf_a, leaf_b, others)
             == recovery_rule::orphan);
  // Redundancy 1: no pair, so a master anywhere else makes an orphan.
  BOOST_TEST(classify_recovered(leaf_a, "", others) == recovery_rule::orphan);
}

BOOST_AUTO_TEST_CASE(term_lookups) {
  history hist{{1, 1}, {3, 5}, {4, 9}};
  log_position last{4, 12};
  BOOST_TEST(term_at(hist, 0) == 0u);
  BOOST_TEST(term_at(hist, 1) == 1u);
  BOOST_TEST(term_at(hist, 4) == 1u);
  BOOST_TEST(term_at(hist, 5) == 3u);
  BOOST_TEST(term_at(hist, 12) == 4u);
  BOOST_TEST(term_at({}, 3) == 0u);
  BOOST_TEST(end_lsn_for_term(hist, last, 0) == 0u);
  BOOST_TEST(end_lsn_for_term(hist, last, 1) == 4u);
  BOOST_TEST(end_lsn_for_term(hist, last, 2) == 4u);
  BOOST_TEST(end_lsn_for_term(hist, last, 3) == 8u);
  BOOST_TEST(end_lsn_for_term(hist, last, 4) == 12u);
  BOOST_TEST(end_lsn_for_term(hist, last, 9) == 12u);
  BOOST_TEST(end_lsn_for_term({}, {}, 1) == 0u);
}

BOOST_AUTO_TEST_CASE(identical_histories_do_not_diverge) {
  history hist{{1, 1}, {2, 5}};
  auto res = check_divergence(hist, {2, 9}, hist, {2, 9});
  BOOST_TEST(!res.diverged);
  BOOST_TEST(res.catch_up_from == 10u);
  BOOST_TEST(res.reason.empty());
}

BOOST_AUTO_TEST_CASE(strict_prefix_does_not_diverge) {
  history master{{1, 1}, {2, 5}, {3, 12}};
  auto res = check_divergence({{1, 1}, {2, 5}}, {2, 7}, master, {3, 15});
  BOOST_TEST(!res.diverged);
  BOOST_TEST(res.catch_up_from == 8u);
  // Ending exactly where a term ends.
  res = check_divergence({{1, 1}}, {1, 4}, master, {3, 15});
  BOOST_TEST(!res.diverged);
  BOOST_TEST(res.catch_up_from == 5u);
}

BOOST_AUTO_TEST_CASE(unreplicated_write_of_old_master_diverges) {
  // Both wrote term 1 up to lsn 9; the old master also wrote (1, 10), which
  // never reached the replica; the replica, promoted at term 2, wrote lsns
  // 10 to 12. The old master's copy must not resume.
  history copy{{1, 1}};
  history master{{1, 1}, {2, 10}};
  auto res = check_divergence(copy, {1, 10}, master, {2, 12});
  BOOST_TEST(res.diverged);
  BOOST_TEST(contains(res.reason, "lsn 10"));
  BOOST_TEST(res.reason == "copy has term 1 at lsn 10, master has term 2");
}

BOOST_AUTO_TEST_CASE(first_disagreement_is_named) {
  // The master's term 2 starts at lsn 8, before the copy's last record.
  auto res = check_divergence({{1, 1}}, {1, 10}, {{1, 1}, {2, 8}}, {2, 20});
  BOOST_TEST(res.diverged);
  BOOST_TEST(res.reason == "copy has term 1 at lsn 8, master has term 2");
  // The copy's term 2 starts before the master's.
  res = check_divergence({{1, 1}, {2, 6}}, {2, 8}, {{1, 1}, {2, 7}}, {2, 9});
  BOOST_TEST(res.diverged);
  BOOST_TEST(res.reason == "copy has term 2 at lsn 6, master has term 1");
}

BOOST_AUTO_TEST_CASE(term_unknown_to_master_diverges) {
  history copy{{1, 1}, {3, 8}};
  history master{{1, 1}, {4, 8}};
  auto res = check_divergence(copy, {3, 12}, master, {4, 20});
  BOOST_TEST(res.diverged);
  BOOST_TEST(res.reason == "copy has term 3 at lsn 8, master has term 4");
}

BOOST_AUTO_TEST_CASE(copy_ahead_of_master_diverges) {
  history hist{{1, 1}};
  auto res = check_divergence(hist, {1, 20}, hist, {1, 15});
  BOOST_TEST(res.diverged);
  BOOST_TEST(res.reason == "copy ends at lsn 20 beyond master's 15");
  // The master holds nothing at all.
  res = check_divergence(hist, {1, 3}, {}, {});
  BOOST_TEST(res.diverged);
}

BOOST_AUTO_TEST_CASE(empty_copy_is_a_prefix) {
  auto res = check_divergence({}, {}, {{1, 1}, {2, 4}}, {2, 6});
  BOOST_TEST(!res.diverged);
  BOOST_TEST(res.catch_up_from == 1u);
  res = check_divergence({}, {}, {}, {});
  BOOST_TEST(!res.diverged);
  BOOST_TEST(res.catch_up_from == 1u);
}

BOOST_AUTO_TEST_CASE(records_without_history_diverge) {
  auto res = check_divergence({}, {1, 5}, {{1, 1}}, {1, 9});
  BOOST_TEST(res.diverged);
}

BOOST_AUTO_TEST_SUITE_END()
