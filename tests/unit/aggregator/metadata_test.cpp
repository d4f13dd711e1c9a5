#include "actors/aggregator/metadata.hpp"

#include <string>

#include <boost/test/unit_test.hpp>

using lg::cluster_globals;
using lg::cluster_metadata;
using lg::leaf_state;

namespace {

const std::string leaf_a = "127.0.0.1:10001";
const std::string leaf_b = "127.0.0.1:10002";
const std::string leaf_c = "127.0.0.1:10003";
const std::string leaf_d = "127.0.0.1:10004";

/// A partition at `term` with a master on `master` and, unless empty, a
/// replica on `replica` (in sync or not).
lg::pb::PartitionMeta partition(uint64_t term, const std::string& master,
                                const std::string& replica = {},
                                bool replica_in_sync = true) {
  lg::pb::PartitionMeta part;
  part.set_ordinal(0);
  part.set_term(term);
  auto* m = part.add_instances();
  m->set_leaf(master);
  m->set_role(lg::pb::MASTER);
  m->set_in_sync(true);
  if (!replica.empty()) {
    auto* r = part.add_instances();
    r->set_leaf(replica);
    r->set_role(lg::pb::REPLICA);
    r->set_in_sync(replica_in_sync);
  }
  return part;
}

/// A database `name` holding `part`.
lg::pb::DatabaseMeta database(const std::string& name,
                              lg::pb::PartitionMeta part) {
  lg::pb::DatabaseMeta db;
  db.set_name(name);
  db.set_partitions(1);
  *db.add_parts() = std::move(part);
  return db;
}

} // namespace

BOOST_AUTO_TEST_SUITE(aggregator_metadata)

BOOST_AUTO_TEST_CASE(leaf_state_round_trips_through_the_stored_word) {
  for (auto s : {leaf_state::online, leaf_state::offline,
                 leaf_state::attaching, leaf_state::recovering,
                 leaf_state::detached}) {
    lg::pb::LeafMeta leaf;
    lg::set_state(leaf, s);
    BOOST_TEST(leaf.state() == lg::to_string(s));
    BOOST_TEST((lg::state_of(leaf) == s));
  }
  lg::pb::LeafMeta odd;
  odd.set_state("lost in space");
  BOOST_TEST((lg::state_of(odd) == leaf_state::offline));
}

BOOST_AUTO_TEST_CASE(added_leaves_pair_across_groups) {
  cluster_metadata meta;
  BOOST_TEST(!meta.add_leaf(leaf_a, 1, 7).has_value());
  BOOST_TEST(!meta.add_leaf(leaf_c, 1, 8).has_value()); // same group
  auto pair = meta.add_leaf(leaf_b, 2, 9);
  BOOST_REQUIRE(pair.has_value());
  BOOST_TEST(*pair == leaf_a); // the first unpaired leaf of group 1
  BOOST_TEST(meta.find_leaf(leaf_a)->pair() == leaf_b);
  BOOST_TEST(meta.find_leaf(leaf_b)->pair() == leaf_a);
  BOOST_TEST(meta.find_leaf(leaf_c)->pair().empty());
  BOOST_TEST(meta.find_leaf(leaf_b)->incarnation() == 9u);
  BOOST_TEST(meta.leaf_online(leaf_b));
  auto pair_d = meta.add_leaf(leaf_d, 2, 10);
  BOOST_REQUIRE(pair_d.has_value());
  BOOST_TEST(*pair_d == leaf_c);
  BOOST_TEST(meta.leaves_size() == 4);
  BOOST_TEST(meta.find_leaf("127.0.0.1:1") == nullptr);
}

BOOST_AUTO_TEST_CASE(removed_leaf_leaves_its_pair_unpaired) {
  cluster_metadata meta;
  meta.add_leaf(leaf_a, 1, 1);
  meta.add_leaf(leaf_b, 2, 1);
  meta.remove_leaf(leaf_b);
  BOOST_TEST(meta.find_leaf(leaf_b) == nullptr);
  BOOST_TEST(meta.find_leaf(leaf_a)->pair().empty());
  BOOST_TEST(meta.leaves_size() == 1);
  // The next leaf of group 2 pairs with it again.
  BOOST_TEST(*meta.add_leaf(leaf_d, 2, 1) == leaf_a);
}

BOOST_AUTO_TEST_CASE(up_means_online_or_attaching) {
  cluster_metadata meta;
  meta.add_leaf(leaf_a, 1, 1);
  auto* leaf = meta.find_leaf(leaf_a);
  lg::set_state(*leaf, leaf_state::attaching);
  BOOST_TEST(meta.leaf_up(leaf_a));
  BOOST_TEST(!meta.leaf_online(leaf_a));
  lg::set_state(*leaf, leaf_state::recovering);
  BOOST_TEST(!meta.leaf_up(leaf_a));
  lg::set_state(*leaf, leaf_state::detached);
  BOOST_TEST(!meta.leaf_up(leaf_a));
  BOOST_TEST(!meta.leaf_up(leaf_b)); // not in the cluster
  auto infos = meta.leaf_infos();
  BOOST_REQUIRE(infos.size() == 1u);
  BOOST_TEST(!infos[0].online);
}

BOOST_AUTO_TEST_CASE(master_and_peer_of_a_partition) {
  auto part = partition(3, leaf_a, leaf_b, false);
  auto* master = lg::master_of(part);
  BOOST_REQUIRE(master != nullptr);
  BOOST_TEST(master->leaf() == leaf_a);
  auto peer = lg::peer_of(part, *master);
  BOOST_TEST(peer.leaf == leaf_b);
  BOOST_TEST(!peer.in_sync);
  // A replica's peer is its master, in sync.
  auto back = lg::peer_of(part, part.instances(1));
  BOOST_TEST(back.leaf == leaf_a);
  BOOST_TEST(back.in_sync);
  // An orphan is nobody's peer.
  part.mutable_instances(1)->set_role(lg::pb::ORPHAN);
  BOOST_TEST(lg::peer_of(part, *master).leaf.empty());
  // With no master at all.
  auto lone = partition(1, leaf_a);
  lone.mutable_instances(0)->set_role(lg::pb::REPLICA);
  BOOST_TEST(lg::master_of(lone) == nullptr);
  BOOST_TEST(lg::instance_on(lone, leaf_a) != nullptr);
  BOOST_TEST(lg::instance_on(lone, leaf_b) == nullptr);
}

BOOST_AUTO_TEST_CASE(hand_over_bumps_the_term_and_keeps_both_in_sync) {
  auto part = partition(4, leaf_a, leaf_b);
  BOOST_TEST(lg::hand_over_master(part, leaf_b));
  BOOST_TEST(part.term() == 5u);
  BOOST_TEST(lg::master_of(part)->leaf() == leaf_b);
  auto* old = lg::instance_on(part, leaf_a);
  BOOST_TEST(old->role() == lg::pb::REPLICA);
  BOOST_TEST(old->in_sync());
  // No replica there: nothing changes.
  BOOST_TEST(!lg::hand_over_master(part, leaf_c));
  BOOST_TEST(part.term() == 5u);
  BOOST_TEST(lg::master_of(part)->leaf() == leaf_b);
}

BOOST_AUTO_TEST_CASE(promotion_takes_the_new_term_and_demotes_the_failed) {
  auto part = partition(2, leaf_a, leaf_b);
  part.set_offline(true);
  part.set_offline_reason("gone");
  lg::promote_replica(part, leaf_b, leaf_a, 3);
  BOOST_TEST(part.term() == 3u);
  BOOST_TEST(!part.offline());
  BOOST_TEST(part.offline_reason().empty());
  BOOST_TEST(lg::master_of(part)->leaf() == leaf_b);
  auto* old = lg::instance_on(part, leaf_a);
  BOOST_TEST(old->role() == lg::pb::REPLICA);
  BOOST_TEST(!old->in_sync()); // checked for divergence before it serves
}

BOOST_AUTO_TEST_CASE(views_see_which_leaves_are_online) {
  cluster_metadata meta;
  meta.add_leaf(leaf_a, 1, 1);
  meta.add_leaf(leaf_b, 2, 1);
  lg::set_state(*meta.find_leaf(leaf_a), leaf_state::offline);
  meta.add_database(database("db", partition(1, leaf_a, leaf_b, true)));
  auto views = meta.views_of(meta.find_database("db")->parts(0));
  BOOST_REQUIRE(views.size() == 2u);
  BOOST_TEST(views[0].leaf == leaf_a);
  BOOST_TEST(!views[0].leaf_online);
  BOOST_TEST((views[0].role == lg::ha::instance_role::master));
  BOOST_TEST(views[1].leaf_online);
  BOOST_TEST(views[1].in_sync);
  // What failover decides from them: the in-sync replica, term + 1.
  auto d = lg::ha::choose_failover(views, 1);
  BOOST_TEST(d.kind == lg::ha::failover_decision::promote);
  BOOST_TEST(d.leaf == leaf_b);
  BOOST_TEST(d.new_term == 2u);
}

BOOST_AUTO_TEST_CASE(databases_are_found_counted_and_removed) {
  cluster_metadata meta;
  meta.add_database(database("one", partition(1, leaf_a, leaf_b)));
  meta.add_database(database("two", partition(1, leaf_a)));
  BOOST_TEST(meta.databases_size() == 2);
  BOOST_TEST(meta.find_partition("one", 0) != nullptr);
  BOOST_TEST(meta.find_partition("one", 1) == nullptr);
  BOOST_TEST(meta.find_partition("three", 0) == nullptr);
  auto load = meta.masters_per_leaf();
  BOOST_TEST(load[leaf_a] == 2u);
  BOOST_TEST(load.count(leaf_b) == 0u);
  auto gone = meta.remove_database("one");
  BOOST_REQUIRE(gone.has_value());
  BOOST_TEST(gone->name() == "one");
  BOOST_TEST(meta.find_database("one") == nullptr);
  BOOST_TEST(!meta.remove_database("one").has_value());
  BOOST_TEST(meta.databases_size() == 1);
}

BOOST_AUTO_TEST_CASE(globals_are_typed_with_defaults_and_set_values) {
  cluster_globals defaults;
  BOOST_TEST(defaults.auto_attach());
  BOOST_TEST(defaults.leaf_failure_detection());
  BOOST_TEST(defaults.redundancy_level() == 1);
  BOOST_TEST(defaults.leaf_failure_timeout_ms() == 1000);
  BOOST_TEST(defaults.leaf_heartbeat_interval_ms() == 100);
  BOOST_TEST(defaults.default_partitions_per_leaf() == 2u);
  BOOST_TEST(defaults.request_timeout_ms() == 10000);
  BOOST_TEST(defaults.sync_replication_timeout_ms() == 5000);
  BOOST_TEST(defaults.replication_backlog_mb() == 64);

  cluster_metadata meta;
  meta.set_global("redundancy_level", "2");
  meta.set_global("auto_attach", "OFF");
  BOOST_TEST(meta.globals().redundancy_level() == 2);
  BOOST_TEST(!meta.globals().auto_attach());
  BOOST_TEST(meta.globals().all().at("redundancy_level") == "2");
  BOOST_TEST(meta.globals().all().at("leaf_failure_timeout_ms") == "1000");
  BOOST_TEST(cluster_globals::sent_with_roles("sync_replication_timeout_ms"));
  BOOST_TEST(cluster_globals::sent_with_roles("replication_backlog_mb"));
  BOOST_TEST(!cluster_globals::sent_with_roles("redundancy_level"));
}

BOOST_AUTO_TEST_CASE(parse_restores_leaves_databases_and_globals) {
  cluster_metadata meta;
  meta.add_leaf(leaf_a, 1, 1);
  meta.add_database(database("db", partition(6, leaf_a)));
  meta.set_global("leaf_failure_timeout_ms", "250");
  meta.bump_version();
  meta.bump_version();
  cluster_metadata back;
  BOOST_REQUIRE(back.parse(meta.serialize()));
  BOOST_TEST(back.version() == 2u);
  BOOST_TEST(back.leaf_online(leaf_a));
  BOOST_TEST(back.find_partition("db", 0)->term() == 6u);
  BOOST_TEST(back.globals().leaf_failure_timeout_ms() == 250);
  BOOST_TEST(!back.parse(std::string{"\x0a\x05" "ab", 4})); // cut short
}

BOOST_AUTO_TEST_SUITE_END()
