#include <boost/test/unit_test.hpp>

#include "consensus/election_timeout.hpp"

using lg::consensus::ranked_election_timeout;

BOOST_AUTO_TEST_SUITE(consensus_election_timeout)

BOOST_AUTO_TEST_CASE(ranks_follow_ids_and_stay_in_a_narrow_window) {
  std::vector<uint64_t> voters{900, 7, 42};
  int last = 0;
  for (uint64_t me : {7u, 42u, 900u}) {
    for (uint64_t random : {0u, 5u, 19u, 20u, 12345u}) {
      auto d = ranked_election_timeout(voters, me, 1000, 2000, random);
      BOOST_REQUIRE(d);
      BOOST_TEST(d->voters == 3u);
      // From 1.05x to 1.17x the timeout: the last follower stands early.
      BOOST_TEST(d->timeout_ms >= 1050);
      BOOST_TEST(d->timeout_ms <= 1170);
    }
    auto d = ranked_election_timeout(voters, me, 1000, 2000, 0);
    BOOST_TEST(d->timeout_ms > last); // a higher rank stands later
    last = d->timeout_ms;
  }
  BOOST_TEST(ranked_election_timeout(voters, 7, 1000, 2000, 0)->rank == 0);
  BOOST_TEST(ranked_election_timeout(voters, 900, 1000, 2000, 0)->rank == 2);
}

BOOST_AUTO_TEST_CASE(ranks_are_apart_by_more_than_their_jitter) {
  std::vector<uint64_t> voters{1, 2, 3};
  auto low = ranked_election_timeout(voters, 1, 1000, 2000, 20); // most jitter
  auto mid = ranked_election_timeout(voters, 2, 1000, 2000, 0);  // least
  BOOST_REQUIRE(low && mid);
  BOOST_TEST(low->timeout_ms < mid->timeout_ms);
}

BOOST_AUTO_TEST_CASE(no_rank_for_a_non_voter_or_a_lone_voter) {
  BOOST_TEST(!ranked_election_timeout({1, 2, 3}, 4, 1000, 2000, 0));
  BOOST_TEST(!ranked_election_timeout({1}, 1, 1000, 2000, 0));
  BOOST_TEST(!ranked_election_timeout({1, 2}, 1, 1000, 1000, 0));
  // A duplicated id counts once.
  BOOST_TEST(ranked_election_timeout({1, 1, 2}, 2, 100, 200, 0)->voters
             == 2u);
}

BOOST_AUTO_TEST_CASE(scales_with_the_timeout) {
  auto d = ranked_election_timeout({5, 6, 7, 8, 9}, 9, 100, 200, 99);
  BOOST_REQUIRE(d);
  BOOST_TEST(d->timeout_ms >= 100 + 15);
  BOOST_TEST(d->timeout_ms <= 100 + 17);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(consensus_election_timeout_ticks)

// Timers are checked once a tick: with a short timeout the ranks must still
// be two ticks apart, or two followers stand on one tick and split votes.
BOOST_AUTO_TEST_CASE(ranks_stay_two_ticks_apart_on_a_short_timeout) {
  std::vector<uint64_t> voters{1, 2, 3};
  auto a = ranked_election_timeout(voters, 1, 200, 400, 0, 50);
  auto b = ranked_election_timeout(voters, 2, 200, 400, 0, 50);
  auto c = ranked_election_timeout(voters, 3, 200, 400, 0, 50);
  BOOST_REQUIRE(a && b && c);
  BOOST_TEST(a->timeout_ms == 250);
  BOOST_TEST(b->timeout_ms - a->timeout_ms == 50);
  BOOST_TEST(c->timeout_ms - b->timeout_ms == 50);
  // With the default timeout the tenth of the span is wider than two ticks.
  auto d = ranked_election_timeout(voters, 1, 1000, 2000, 0, 50);
  auto e = ranked_election_timeout(voters, 3, 1000, 2000, 0, 50);
  BOOST_TEST(d->timeout_ms == 1050);
  BOOST_TEST(e->timeout_ms == 1150);
}

BOOST_AUTO_TEST_SUITE_END()
