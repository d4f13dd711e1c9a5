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
using lg::ha::choose_recovered_master;
using lg::ha::classify_recovered;
using lg::ha::copy_state;
using lg::ha::end_lsn_for_term;
using lg::ha::instance_role;
using lg::ha::instance_view;
using lg::ha::master_choice;
using lg::ha::recovered_copy;
using lg::ha::recovery_rule;
using lg::ha::term_at;
using lg::storage::log_position;
using lg::storage::term_start;

namespace {

const std::string leaf_a = "127.0.0.1:10001";
const std::string leaf_b = "127.0.0.1:10002";
const std::string leaf_c = "127.0.0.1:10003";

using history = std::vector<term_start>;

/// A copy its leaf reported, ending at (term, lsn).
recovered_copy reported(const std::string& leaf, instance_role role,
                        bool in_sync, uint64_t term, uint64_t lsn) {
  return {leaf, role, in_sync, copy_state::reported, true, {term, lsn}};
}

/// A copy in `state` whose position is not known.
recovered_copy unreported(const std::string& leaf, instance_role role,
                          bool in_sync, copy_state state) {
  return {leaf, role, in_sync, state, false, {}};
}

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

BOOST_AUTO_TEST_CASE(a_serving_master_is_kept) {
  auto choice = choose_recovered_master({
    reported(leaf_a, instance_role::replica, true, 1, 9),
    unreported(leaf_b, instance_role::master, true, copy_state::serving),
  });
  BOOST_TEST(choice.kind == master_choice::keep);
  BOOST_TEST(choice.index == 1u);
}

BOOST_AUTO_TEST_CASE(master_whose_log_ends_first_is_not_chosen) {
  // The recorded master lost records (its log was cut); the in-sync replica
  // holds them: it becomes master under a new term.
  auto choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 1, 1),
    reported(leaf_b, instance_role::replica, true, 1, 5),
  });
  BOOST_TEST(choice.kind == master_choice::choose);
  BOOST_TEST(choice.index == 1u);
  BOOST_TEST(choice.new_term);
  BOOST_TEST(contains(choice.reason, "term 1, lsn 5"));
  BOOST_TEST(contains(choice.reason, "recorded master on " + leaf_a));
  // A higher term wins over a longer log.
  choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 3, 4),
    reported(leaf_b, instance_role::replica, true, 2, 9),
  });
  BOOST_TEST(choice.index == 0u);
}

BOOST_AUTO_TEST_CASE(equal_copies_keep_the_recorded_master_and_its_term) {
  auto choice = choose_recovered_master({
    reported(leaf_b, instance_role::replica, true, 2, 7),
    reported(leaf_a, instance_role::master, false, 2, 7),
  });
  BOOST_TEST(choice.kind == master_choice::choose);
  BOOST_TEST(choice.index == 1u);
  BOOST_TEST(!choice.new_term);
  // A master ahead of its replica (writes it never acknowledged) stays.
  choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 2, 9),
    reported(leaf_b, instance_role::replica, true, 2, 7),
  });
  BOOST_TEST(choice.index == 0u);
  BOOST_TEST(!choice.new_term);
}

BOOST_AUTO_TEST_CASE(a_copy_not_reported_means_a_new_term) {
  // The other copy may hold records past the master's end under its term.
  auto choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 2, 7),
    unreported(leaf_b, instance_role::replica, true, copy_state::absent),
  });
  BOOST_TEST(choice.kind == master_choice::choose);
  BOOST_TEST(choice.index == 0u);
  BOOST_TEST(choice.new_term);
  // The only copy keeps its term.
  choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 2, 7),
  });
  BOOST_TEST(!choice.new_term);
  // An out-of-sync copy ahead of the master also holds records past its end.
  choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 2, 7),
    reported(leaf_b, instance_role::replica, false, 2, 8),
  });
  BOOST_TEST(choice.index == 0u);
  BOOST_TEST(choice.new_term);
}

BOOST_AUTO_TEST_CASE(a_failed_copy_is_never_master) {
  auto choice = choose_recovered_master({
    unreported(leaf_a, instance_role::master, false, copy_state::failed),
    reported(leaf_b, instance_role::replica, true, 1, 5),
  });
  BOOST_TEST(choice.kind == master_choice::choose);
  BOOST_TEST(choice.index == 1u);
  BOOST_TEST(choice.new_term);
  // With no in-sync copy left, nothing is served.
  choice = choose_recovered_master({
    unreported(leaf_a, instance_role::master, false, copy_state::failed),
    reported(leaf_b, instance_role::replica, false, 1, 5),
  });
  BOOST_TEST(choice.kind == master_choice::none);
  BOOST_TEST(contains(choice.reason, "the copy on " + leaf_a + " is corrupt"));
  BOOST_TEST(contains(choice.reason, "out of sync"));
}

BOOST_AUTO_TEST_CASE(a_copy_about_to_be_reported_is_waited_for) {
  auto choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 1, 1),
    unreported(leaf_b, instance_role::replica, true, copy_state::pending),
  });
  BOOST_TEST(choice.kind == master_choice::wait);
  BOOST_TEST(choice.index == 1u);
  // Not for a copy that may lack acknowledged writes: it cannot be chosen.
  choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 1, 1),
    unreported(leaf_b, instance_role::replica, false, copy_state::pending),
  });
  BOOST_TEST(choice.kind == master_choice::choose);
  BOOST_TEST(choice.index == 0u);
}

BOOST_AUTO_TEST_CASE(unknown_positions_prefer_a_copy_that_never_went_down) {
  // An in-sync replica still serving (its leaf did not restart) has no
  // reported position, but it holds every acknowledged write and lost
  // nothing; the recorded master came back from a crash and may have lost
  // unsynced acknowledged writes (here it ends at 0:0). The replica serves.
  auto choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 0, 0),
    unreported(leaf_b, instance_role::replica, true, copy_state::serving),
  });
  BOOST_TEST(choice.index == 1u);
  BOOST_TEST(choice.new_term);
  // A serving replica out of sync is no candidate: the master comes back.
  choice = choose_recovered_master({
    reported(leaf_a, instance_role::master, false, 1, 3),
    unreported(leaf_b, instance_role::replica, false, copy_state::serving),
  });
  BOOST_TEST(choice.index == 0u);
  // Its master corrupt, the serving in-sync replica takes over.
  choice = choose_recovered_master({
    unreported(leaf_a, instance_role::master, false, copy_state::failed),
    unreported(leaf_b, instance_role::replica, true, copy_state::serving),
  });
  BOOST_TEST(choice.kind == master_choice::choose);
  BOOST_TEST(choice.index == 1u);
  BOOST_TEST(choice.new_term);
}

BOOST_AUTO_TEST_CASE(without_a_recorded_master_any_copy_may_serve) {
  auto choice = choose_recovered_master({
    reported(leaf_a, instance_role::replica, false, 1, 3),
  });
  BOOST_TEST(choice.kind == master_choice::choose);
  BOOST_TEST(choice.index == 0u);
  BOOST_TEST(choose_recovered_master({}).kind == master_choice::none);
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
