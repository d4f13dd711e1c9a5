#include "actors/net/fault_plan.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::envelope;
using lg::fault_plan;
using lg::fault_verdict;
using std::chrono::milliseconds;

namespace {

/// Returns a statement request from node `from` to node `to`.
envelope message(const std::string& from, const std::string& to) {
  envelope env;
  env.mutable_header()->mutable_from()->set_node(from);
  env.mutable_header()->mutable_from()->set_actor("x");
  env.mutable_header()->mutable_to()->set_node(to);
  env.mutable_header()->mutable_to()->set_actor("y");
  env.mutable_statement_request()->set_text("SELECT 1");
  return env;
}

/// Returns the actions draw() takes for `n` messages from a to b.
std::vector<int> draws(fault_plan& plan, int n) {
  std::vector<int> out;
  auto env = message("a", "b");
  for (int i = 0; i < n; ++i)
    out.push_back(plan.draw(env).action);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(net_fault_plan)

BOOST_AUTO_TEST_CASE(without_faults_every_message_is_delivered) {
  fault_plan plan;
  BOOST_TEST(!plan.active());
  BOOST_TEST(plan.judge(message("a", "b")).action == fault_verdict::deliver);
  BOOST_TEST(plan.draw(message("a", "b")).action == fault_verdict::deliver);
}

BOOST_AUTO_TEST_CASE(a_down_sender_sends_nothing_a_down_receiver_refuses) {
  fault_plan plan;
  plan.mark_down("b");
  BOOST_TEST(plan.active());
  BOOST_TEST(plan.judge(message("a", "b")).action == fault_verdict::refuse);
  BOOST_TEST(plan.judge(message("b", "a")).action == fault_verdict::drop);
  plan.mark_down("a");
  BOOST_TEST(plan.judge(message("a", "b")).action == fault_verdict::drop);
  plan.mark_up("a");
  plan.mark_up("b");
  BOOST_TEST(!plan.active());
  BOOST_TEST(plan.judge(message("a", "b")).action == fault_verdict::deliver);
}

BOOST_AUTO_TEST_CASE(cuts_drop_both_directions_until_healed) {
  fault_plan plan;
  plan.cut_node("b");
  BOOST_TEST(plan.is_cut("b"));
  BOOST_TEST(plan.judge(message("a", "b")).action == fault_verdict::drop);
  BOOST_TEST(plan.judge(message("b", "c")).action == fault_verdict::drop);
  BOOST_TEST(plan.judge(message("a", "c")).action == fault_verdict::deliver);
  plan.heal_node("b");
  BOOST_TEST(!plan.is_cut("b"));
  plan.cut_link("c", "a");
  BOOST_TEST(plan.judge(message("a", "c")).action == fault_verdict::drop);
  BOOST_TEST(plan.judge(message("c", "a")).action == fault_verdict::drop);
  BOOST_TEST(plan.judge(message("a", "b")).action == fault_verdict::deliver);
  plan.heal_link("a", "c");
  BOOST_TEST(!plan.active());
  BOOST_TEST(plan.judge(message("a", "c")).action == fault_verdict::deliver);
}

BOOST_AUTO_TEST_CASE(delay_rules_match_direction_and_body_and_yield_to_cuts) {
  fault_plan plan;
  plan.delay_messages("a", "b", envelope::kStatementRequest, milliseconds{7});
  auto v = plan.judge(message("a", "b"));
  BOOST_TEST(v.action == fault_verdict::delay);
  BOOST_TEST((v.by == milliseconds{7}));
  BOOST_TEST(plan.judge(message("b", "a")).action == fault_verdict::deliver);
  auto other = message("a", "b");
  other.mutable_heartbeat_request()->set_seq(1);
  BOOST_TEST(plan.judge(other).action == fault_verdict::deliver);
  plan.cut_link("a", "b");
  BOOST_TEST(plan.judge(message("a", "b")).action == fault_verdict::drop);
  plan.heal_link("a", "b");
  plan.clear_message_delays();
  BOOST_TEST(plan.judge(message("a", "b")).action == fault_verdict::deliver);
}

BOOST_AUTO_TEST_CASE(random_faults_repeat_for_the_same_seed) {
  fault_plan plan;
  plan.set_random_faults(0.3, 0.3, milliseconds{50}, 42);
  BOOST_TEST(plan.active());
  auto first = draws(plan, 200);
  plan.set_random_faults(0.3, 0.3, milliseconds{50}, 42);
  BOOST_TEST(draws(plan, 200) == first);
  BOOST_TEST(std::count(first.begin(), first.end(), fault_verdict::drop) > 0);
  BOOST_TEST(std::count(first.begin(), first.end(), fault_verdict::delay) > 0);
  plan.clear_random_faults();
  BOOST_TEST(!plan.active());
  BOOST_TEST(plan.draw(message("a", "b")).action == fault_verdict::deliver);
}

BOOST_AUTO_TEST_CASE(random_delays_stay_within_the_bound) {
  fault_plan plan;
  plan.set_random_faults(0, 1, milliseconds{5}, 7);
  for (int i = 0; i < 100; ++i) {
    auto v = plan.draw(message("a", "b"));
    BOOST_TEST(v.action == fault_verdict::delay);
    BOOST_TEST((v.by >= milliseconds{1} && v.by <= milliseconds{5}));
  }
}

BOOST_AUTO_TEST_CASE(random_faults_never_touch_messages_within_a_node) {
  fault_plan plan;
  plan.set_random_faults(1, 0, milliseconds{0}, 1);
  BOOST_TEST(plan.draw(message("a", "a")).action == fault_verdict::deliver);
  BOOST_TEST(plan.draw(message("a", "b")).action == fault_verdict::drop);
}

BOOST_AUTO_TEST_CASE(duplicates_come_with_the_copy_s_delay_within_the_bound) {
  fault_plan plan;
  plan.set_random_faults(0, 0, milliseconds{5}, 3, 1.0);
  BOOST_TEST(plan.active());
  for (int i = 0; i < 100; ++i) {
    auto v = plan.draw(message("a", "b"));
    BOOST_TEST(v.action == fault_verdict::duplicate);
    BOOST_TEST((v.by >= milliseconds{0} && v.by <= milliseconds{5}));
  }
  // Without the probability nothing is duplicated.
  plan.set_random_faults(0, 0, milliseconds{5}, 3);
  BOOST_TEST(!plan.active());
  BOOST_TEST(plan.draw(message("a", "b")).action == fault_verdict::deliver);
}

BOOST_AUTO_TEST_SUITE_END()
