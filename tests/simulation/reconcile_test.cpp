// Reconciling roles with the metadata (actors/aggregator/reconcile.cpp), on
// the deterministic scheduler in virtual time.
#include <string>

#include "base/bugs.hpp"
#include "sim_cluster.hpp"

using namespace lg;
using lg::test::sim_cluster;

namespace {

const std::string leaf1 = "'127.0.0.1':10001";

/// Attaches leaf 10001 while every batch of role orders to it (a
/// LeafOrdersRequest) is held back for an hour (lost, as far as this test
/// can see), then lets new orders through;
/// returns whether its copies reached sync within 5 s of virtual time.
bool attach_with_lost_orders(sim_cluster& c) {
  c.ok("CREATE DATABASE db PARTITIONS 2");
  c.ok("INSERT INTO db VALUES ('a','1'),('b','2'),('c','3')");
  c.ok("DETACH LEAF " + leaf1);
  auto& fab = c.cluster().transport();
  fab.faults().delay_messages("ma", "127.0.0.1:10001",
                              envelope::kLeafOrdersRequest,
                              std::chrono::hours{1});
  // The attach records its plan, then gives up on orders that never get an
  // answer: the copies on 10001 are recorded as replicas but never hear it.
  auto err = c.fails("ATTACH LEAF " + leaf1 + " NO REBALANCE");
  BOOST_TEST(err.find("no answer") != std::string::npos);
  // SHOW CLUSTER STATUS shows the disagreement: the copies say they have
  // no role, the metadata records replicas.
  auto status = c.ok("SHOW CLUSTER STATUS");
  int differ = 0;
  for (auto& row : status.rows())
    if (row.cells(1) == "10001") {
      BOOST_TEST(row.cells(4) == "None");
      BOOST_TEST(row.cells(11) == "Replica");
      BOOST_TEST(row.cells(9) == "127.0.0.1");
      BOOST_TEST(row.cells(10) == "10002");
      if (row.cells(12).find("differs from the metadata") != std::string::npos)
        ++differ;
    }
  BOOST_TEST(differ == 2);
  fab.faults().clear_message_delays();
  return c.wait_in_sync("db", std::chrono::seconds{5});
}

} // namespace

BOOST_AUTO_TEST_SUITE(reconcile)

BOOST_AUTO_TEST_CASE(a_copy_whose_role_order_was_lost_gets_it_again) {
  sim_cluster c{2, 2};
  auto before = sim_cluster::probe_count("role_order_reconciled");
  BOOST_TEST(attach_with_lost_orders(c));
  BOOST_TEST(sim_cluster::probe_count("role_order_reconciled") > before);
  BOOST_TEST(c.ok("SELECT COUNT(*) FROM db").rows(0).cells(0) == "3");
}

BOOST_AUTO_TEST_CASE(without_reconciliation_the_copy_never_converges) {
  sim_cluster c{2, 2};
  bugs::enable("no-role-reconcile");
  bool converged = attach_with_lost_orders(c);
  bugs::reset();
  BOOST_TEST(!converged);
}

BOOST_AUTO_TEST_SUITE_END()
