#include "ha/failover.hpp"

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::ha::choose_failover;
using lg::ha::failover_decision;
using lg::ha::instance_role;
using lg::ha::instance_view;

namespace {

const std::string leaf_a = "127.0.0.1:10001";
const std::string leaf_b = "127.0.0.1:10002";
const std::string leaf_c = "127.0.0.1:10003";

/// Returns true when `text` contains `part`.
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ha_failover)

BOOST_AUTO_TEST_CASE(alive_master_is_kept) {
  std::vector<instance_view> instances{
    {leaf_b, instance_role::replica, true, true},
    {leaf_a, instance_role::master, false, true},
  };
  auto d = choose_failover(instances, 7);
  BOOST_TEST(d.kind == failover_decision::keep);
  BOOST_TEST(d.leaf == leaf_a);
  BOOST_TEST(d.new_term == 7u);
  BOOST_TEST(d.reason.empty());
}

BOOST_AUTO_TEST_CASE(dead_master_promotes_in_sync_replica) {
  std::vector<instance_view> instances{
    {leaf_a, instance_role::master, true, false},
    {leaf_b, instance_role::replica, true, true},
  };
  auto d = choose_failover(instances, 7);
  BOOST_TEST(d.kind == failover_decision::promote);
  BOOST_TEST(d.leaf == leaf_b);
  BOOST_TEST(d.new_term == 8u);
}

BOOST_AUTO_TEST_CASE(first_promotable_replica_wins) {
  // An orphan is never promoted, nor an out-of-sync replica.
  std::vector<instance_view> instances{
    {leaf_a, instance_role::master, true, false},
    {leaf_c, instance_role::orphan, true, true},
    {leaf_a, instance_role::replica, false, true},
    {leaf_b, instance_role::replica, true, true},
    {leaf_c, instance_role::replica, true, true},
  };
  auto d = choose_failover(instances, 1);
  BOOST_TEST(d.kind == failover_decision::promote);
  BOOST_TEST(d.leaf == leaf_b);
  BOOST_TEST(d.new_term == 2u);
}

BOOST_AUTO_TEST_CASE(out_of_sync_replica_goes_offline) {
  std::vector<instance_view> instances{
    {leaf_a, instance_role::master, true, false},
    {leaf_b, instance_role::replica, false, true},
  };
  auto d = choose_failover(instances, 3);
  BOOST_TEST(d.kind == failover_decision::offline);
  BOOST_TEST(contains(d.reason, "replica on " + leaf_b + " is out of sync"));
  BOOST_TEST(contains(d.reason, "master on " + leaf_a + " is offline"));
}

BOOST_AUTO_TEST_CASE(offline_replica_leaf_goes_offline) {
  std::vector<instance_view> instances{
    {leaf_a, instance_role::master, true, false},
    {leaf_b, instance_role::replica, true, false},
  };
  auto d = choose_failover(instances, 3);
  BOOST_TEST(d.kind == failover_decision::offline);
  BOOST_TEST(contains(d.reason, "replica on " + leaf_b + " is offline"));
}

BOOST_AUTO_TEST_CASE(redundancy_1_goes_offline) {
  std::vector<instance_view> instances{
    {leaf_a, instance_role::master, true, false},
  };
  auto d = choose_failover(instances, 3);
  BOOST_TEST(d.kind == failover_decision::offline);
  BOOST_TEST(contains(d.reason, leaf_a));
  BOOST_TEST(contains(d.reason, "no replica"));
}

BOOST_AUTO_TEST_CASE(no_instances_goes_offline) {
  auto d = choose_failover({}, 3);
  BOOST_TEST(d.kind == failover_decision::offline);
  BOOST_TEST(!d.reason.empty());
}

BOOST_AUTO_TEST_SUITE_END()
