// The simulation is only worth something if it catches bugs: a deliberately
// broken variant (base/bugs.hpp) must fail within 200 seeds.
#include "base/bugs.hpp"
#include "cluster/simulation.hpp"

#include <boost/test/unit_test.hpp>

using namespace lg;

namespace {

/// The first seed in 1..200 whose run fails (with a failure that contains
/// `on`, when given), or 0; `why` gets its failure.
uint64_t first_failing_seed(const std::string& variant,
                            std::string* why = nullptr,
                            const std::string& on = {}) {
  bugs::reset();
  BOOST_REQUIRE(bugs::enable(variant));
  simulation_options opts;
  opts.trace_dir = "/tmp";
  uint64_t found = 0;
  for (uint64_t seed = 1; seed <= 200 && found == 0; ++seed) {
    opts.seed = seed;
    auto r = run_simulation(opts);
    if (!r.passed && r.failure.find(on) != std::string::npos) {
      found = seed;
      if (why != nullptr)
        *why = r.failure;
      BOOST_TEST_MESSAGE(variant << " caught by seed " << seed << ": "
                                 << r.failure);
    }
  }
  bugs::reset();
  return found;
}

} // namespace

BOOST_AUTO_TEST_SUITE(checker)

BOOST_AUTO_TEST_CASE(same_seed_same_report) {
  simulation_options opts;
  opts.seed = 17;
  auto a = run_simulation(opts);
  auto b = run_simulation(opts);
  BOOST_TEST(a.passed);
  BOOST_TEST(a.report == b.report);
  opts.seed = 18;
  BOOST_TEST(run_simulation(opts).report != a.report);
}

BOOST_AUTO_TEST_CASE(promoting_an_out_of_sync_replica_is_caught) {
  auto seed = first_failing_seed("promote-out-of-sync");
  BOOST_TEST(seed != 0u);
}

BOOST_AUTO_TEST_CASE(a_replica_without_term_fencing_is_caught) {
  // Without the fence a promoted replica still takes its deposed master's
  // stream, so the old master acknowledges writes the new one never had.
  auto seed = first_failing_seed("no-term-fence");
  BOOST_TEST(seed != 0u);
}

BOOST_AUTO_TEST_CASE(reads_without_confirmation_are_caught) {
  // A master cut off from the aggregator keeps answering reads after its
  // replica was promoted, and reads rows not yet acknowledged: only the
  // history check sees it, as a read of a value no order of the
  // operations allows.
  std::string why;
  auto seed = first_failing_seed("stale-reads", &why,
                                 "the history is linearizable");
  BOOST_TEST(seed != 0u);
  BOOST_TEST(why.find("the history is linearizable") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_retry_applied_twice_is_caught) {
  // Without the window of write ids rebuilt from the log, a retry that
  // reaches a master restarted in between (a process bounced by its
  // supervisor, or a late copy of the request) applies again and undoes a
  // newer write: only the history shows it.
  std::string why;
  auto seed = first_failing_seed("no-dedup", &why,
                                 "the history is linearizable");
  BOOST_TEST(seed != 0u);
}

BOOST_AUTO_TEST_CASE(corruption_read_as_a_torn_tail_is_caught) {
  // The old log reader cut a log at its first bad record, wherever it was:
  // after the whole cluster lost power and one master's log was damaged,
  // that master came back with fewer writes than were acknowledged.
  std::string why;
  auto seed = first_failing_seed("corrupt-as-torn", &why,
                                 "acknowledged");
  BOOST_TEST(seed != 0u);
}

BOOST_AUTO_TEST_CASE(failover_decided_before_the_leaf_answers_is_caught) {
  // Without the hold, a pair that loses power together is half-recorded:
  // a dead replica promoted, or a dead master told to go on alone, leaves
  // the copy that holds every acknowledged write out of sync, and the
  // partition never comes back once the other copy's log is damaged.
  auto seed = first_failing_seed("no-failover-hold");
  BOOST_TEST(seed != 0u);
}

// The variants the random seeds 1-200 do not reach (trust-recorded-master,
// commit-on-reset, keep-conflicting-suffix) are held to the seed a soak found
// each with, each run in a process of its own: see the simulation.caught
// tests in tests/CMakeLists.txt.

BOOST_AUTO_TEST_SUITE_END()
