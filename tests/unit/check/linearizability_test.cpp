#include "check/linearizability.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::check::check_history;
using lg::check::describe;
using lg::check::op_kind;
using lg::check::operation;
using lg::check::outcome;
using lg::check::verdict;
using lg::check::verdict_kind;

namespace {

/// A put of `value` to `key` by `client` over [from, to].
operation put(uint32_t client, const std::string& key, const std::string& value,
              int64_t from, int64_t to, outcome result = outcome::ok) {
  return {client, op_kind::put, key, value, from, to, result};
}

/// A delete of `key` by `client` over [from, to].
operation del(uint32_t client, const std::string& key, int64_t from,
              int64_t to, outcome result = outcome::ok) {
  return {client, op_kind::del, key, std::nullopt, from, to, result};
}

/// A get of `key` by `client` over [from, to] that read `read` (nullopt:
/// absent).
operation get(uint32_t client, const std::string& key,
              std::optional<std::string> read, int64_t from, int64_t to,
              outcome result = outcome::ok) {
  return {client, op_kind::get, key, std::move(read), from, to, result};
}

/// Checks `history` and prints the description when it is not linearizable.
verdict check(const std::vector<operation>& history) {
  verdict v = check_history(history);
  if (!v.linearizable())
    BOOST_TEST_MESSAGE(describe(v, history));
  return v;
}

/// The culprit's index, or -1 when none was found.
long culprit(const lg::check::key_verdict& f) {
  return f.culprit ? static_cast<long>(*f.culprit) : -1;
}

/// True when `window` holds `index`.
bool holds(const std::vector<size_t>& window, size_t index) {
  return std::find(window.begin(), window.end(), index) != window.end();
}

/// A history of `count` operations on `keys` keys by `clients` clients whose
/// intervals overlap (each client runs one operation at a time), produced by
/// a simulated register that applies every operation at a random point of
/// its interval: linearizable by construction. About 3% of the operations
/// fail (not applied) and 3% time out (writes applied or not at random).
/// Every put writes a distinct value.
std::vector<operation> generate(size_t count, size_t keys, uint32_t clients,
                                uint32_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<operation> history;
  std::vector<int64_t> point; // when the register applies each operation
  std::vector<bool> applied;
  std::vector<int64_t> free_at(clients, 0);
  for (size_t i = 0; i < count; ++i) {
    uint32_t c = static_cast<uint32_t>(i % clients);
    operation op;
    op.client = c;
    op.key = "k" + std::to_string(uniform(0, static_cast<int64_t>(keys) - 1));
    int64_t kind = uniform(0, 99);
    op.kind = kind < 50 ? op_kind::get : kind < 88 ? op_kind::put : op_kind::del;
    if (op.kind == op_kind::put)
      op.value = "v" + std::to_string(i);
    op.invoked = free_at[c] + uniform(0, 20);
    op.completed = op.invoked + uniform(1, 60);
    free_at[c] = op.completed;
    int64_t fate = uniform(0, 99);
    op.result = fate < 3 ? outcome::failed : fate < 6 ? outcome::unknown
                                                       : outcome::ok;
    applied.push_back(op.result == outcome::ok
                      || (op.result == outcome::unknown && uniform(0, 1) == 1));
    point.push_back(uniform(op.invoked, op.completed));
    history.push_back(std::move(op));
  }
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return point[x] != point[y] ? point[x] < point[y] : x < y;
  });
  std::map<std::string, std::string> reg;
  for (size_t i : order) {
    operation& op = history[i];
    if (!applied[i])
      continue;
    if (op.kind == op_kind::put) {
      reg[op.key] = *op.value;
    } else if (op.kind == op_kind::del) {
      reg.erase(op.key);
    } else {
      auto it = reg.find(op.key);
      op.value = it == reg.end() ? std::nullopt
                                 : std::optional<std::string>(it->second);
    }
  }
  return history;
}


/// Decides linearizability of a one-key history by brute force: a depth-first
/// search over every order of the operations, where an unknown write may also
/// be left out, with no memoisation and no pairing. For small histories only.
bool brute_force_linearizable(const std::vector<operation>& history) {
  struct op_t {
    op_kind kind;
    std::optional<std::string> value;
    int64_t invoked;
    int64_t completed; // INT64_MAX: unknown write, optional
  };
  const int64_t never = std::numeric_limits<int64_t>::max();
  std::vector<op_t> ops;
  for (const operation& op : history) {
    if (op.result == outcome::failed
        || (op.result == outcome::unknown && op.kind == op_kind::get))
      continue;
    ops.push_back({op.kind, op.value, op.invoked,
                   op.result == outcome::unknown ? never : op.completed});
  }
  std::vector<bool> placed(ops.size(), false);
  std::function<bool(const std::optional<std::string>&)> dfs =
    [&](const std::optional<std::string>& state) {
      bool all_required = true;
      for (size_t i = 0; i < ops.size(); ++i)
        if (!placed[i] && ops[i].completed != never)
          all_required = false;
      if (all_required)
        return true;
      for (size_t x = 0; x < ops.size(); ++x) {
        if (placed[x])
          continue;
        bool blocked = false; // an unplaced operation precedes x
        for (size_t y = 0; y < ops.size(); ++y)
          if (!placed[y] && y != x && ops[y].completed < ops[x].invoked)
            blocked = true;
        if (blocked)
          continue;
        std::optional<std::string> next = state;
        if (ops[x].kind == op_kind::put)
          next = ops[x].value;
        else if (ops[x].kind == op_kind::del)
          next.reset();
        else if (state != ops[x].value)
          continue;
        placed[x] = true;
        bool ok = dfs(next);
        placed[x] = false;
        if (ok)
          return true;
      }
      return false;
    };
  return dfs(std::nullopt);
}

/// A small random one-key history: half of them from a simulated register
/// (linearizable unless one get is then corrupted), half entirely random.
std::vector<operation> small_random_history(std::mt19937_64& rng) {
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const char* values[] = {"a", "b", "c"};
  size_t n = static_cast<size_t>(uniform(1, 7));
  if (uniform(0, 1) == 0) {
    std::vector<operation> h = generate(n, 1, 3, rng());
    if (uniform(0, 1) == 0) {
      operation& op = h[static_cast<size_t>(uniform(0, n - 1))];
      if (op.kind == op_kind::get && op.result == outcome::ok)
        op.value = uniform(0, 1) ? std::optional<std::string>(values[uniform(0, 2)])
                                 : std::nullopt;
    }
    return h;
  }
  std::vector<operation> h;
  for (size_t i = 0; i < n; ++i) {
    operation op;
    op.client = static_cast<uint32_t>(uniform(0, 2));
    op.key = "k";
    int64_t kind = uniform(0, 9);
    op.kind = kind < 4 ? op_kind::get : kind < 8 ? op_kind::put : op_kind::del;
    if (op.kind == op_kind::put || uniform(0, 3) > 0)
      op.value = values[uniform(0, 2)];
    if (op.kind == op_kind::del)
      op.value.reset();
    op.invoked = uniform(0, 20);
    op.completed = op.invoked + uniform(0, 10);
    int64_t fate = uniform(0, 9);
    op.result = fate < 7 ? outcome::ok : fate < 8 ? outcome::failed
                                                   : outcome::unknown;
    h.push_back(std::move(op));
  }
  return h;
}
} // namespace

BOOST_AUTO_TEST_SUITE(check_linearizability)

// ---- linearizable histories ----

BOOST_AUTO_TEST_CASE(empty_history_is_linearizable) {
  verdict v = check({});
  BOOST_TEST(v.linearizable());
  BOOST_TEST(v.operations_checked == 0u);
}

BOOST_AUTO_TEST_CASE(sequential_puts_and_gets_are_linearizable) {
  std::vector<operation> h{
    get(1, "k", std::nullopt, 0, 5), put(1, "k", "a", 10, 20),
    get(2, "k", "a", 30, 40),        put(2, "k", "b", 50, 60),
    get(1, "k", "b", 70, 80),        get(3, "k", "b", 90, 95),
  };
  verdict v = check(h);
  BOOST_TEST(v.linearizable());
  BOOST_TEST(v.operations_checked == 6u);
  BOOST_TEST(v.keys_checked == 1u);
}

BOOST_AUTO_TEST_CASE(concurrent_get_may_see_the_old_or_the_new_value) {
  // The get overlaps the put of b: both answers are linearizable.
  for (const char* seen : {"a", "b"}) {
    std::vector<operation> h{
      put(1, "k", "a", 0, 10),
      put(1, "k", "b", 20, 40),
      get(2, "k", std::string(seen), 25, 35),
    };
    BOOST_TEST(check(h).linearizable(), "get saw " << seen);
  }
}

BOOST_AUTO_TEST_CASE(reads_of_a_slow_put_may_switch_once) {
  // Two readers overlap a slow put: the first sees the new value, a later
  // one still overlapping the put may not go back, one before may.
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),   put(1, "k", "b", 20, 100),
    get(2, "k", "a", 30, 40),  get(3, "k", "b", 50, 60),
    get(2, "k", "b", 70, 80),
  };
  BOOST_TEST(check(h).linearizable());
}

BOOST_AUTO_TEST_CASE(failed_put_never_observed_is_linearizable) {
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    put(2, "k", "b", 20, 30, outcome::failed),
    get(1, "k", "a", 40, 50),
  };
  verdict v = check(h);
  BOOST_TEST(v.linearizable());
  BOOST_TEST(v.operations_checked == 2u); // the failed put is dropped
}

BOOST_AUTO_TEST_CASE(unknown_put_observed_later_is_linearizable) {
  // The put timed out at 30 but took effect afterwards (e.g. at 70).
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    put(2, "k", "b", 20, 30, outcome::unknown),
    get(1, "k", "a", 40, 50),
    get(3, "k", "b", 80, 90),
    get(1, "k", "b", 100, 110),
  };
  BOOST_TEST(check(h).linearizable());
}

BOOST_AUTO_TEST_CASE(unknown_put_never_observed_is_linearizable) {
  // The put timed out and never took effect: later reads keep seeing a.
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    put(2, "k", "b", 20, 30, outcome::unknown),
    get(1, "k", "a", 40, 50),
    get(3, "k", "a", 60, 70),
    put(1, "k", "c", 80, 90),
    get(3, "k", "c", 100, 110),
  };
  BOOST_TEST(check(h).linearizable());
}

BOOST_AUTO_TEST_CASE(unknown_get_tells_nothing) {
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    get(2, "k", "never written", 20, 30, outcome::unknown),
    get(2, "k", "also never written", 40, 50, outcome::failed),
    get(1, "k", "a", 60, 70),
  };
  verdict v = check(h);
  BOOST_TEST(v.linearizable());
  BOOST_TEST(v.operations_checked == 2u);
}

BOOST_AUTO_TEST_CASE(delete_then_get_absent_is_linearizable) {
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    get(2, "k", "a", 20, 30),
    del(1, "k", 40, 50),
    get(2, "k", std::nullopt, 60, 70),
    put(3, "k", "b", 80, 90),
    get(1, "k", "b", 100, 110),
  };
  BOOST_TEST(check(h).linearizable());
}

BOOST_AUTO_TEST_CASE(several_keys_interleaved_are_linearizable) {
  // On one register these reads would be stale; on separate keys they are
  // not.
  std::vector<operation> h{
    put(1, "x", "1", 0, 10),         put(2, "y", "1", 5, 15),
    put(1, "x", "2", 20, 30),        get(3, "y", "1", 25, 35),
    get(2, "x", "2", 40, 50),        put(3, "z", "1", 40, 55),
    del(1, "y", 45, 60),             get(2, "z", "1", 60, 70),
    get(3, "y", std::nullopt, 65, 75), get(1, "x", "2", 80, 90),
  };
  verdict v = check(h);
  BOOST_TEST(v.linearizable());
  BOOST_TEST(v.keys == 3u);
  BOOST_TEST(v.keys_checked == 3u);
}

BOOST_AUTO_TEST_CASE(touching_intervals_are_concurrent) {
  // The put completes at the tick the get starts: concurrent, so the get
  // may still see the old state.
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    get(2, "k", std::nullopt, 10, 20),
  };
  BOOST_TEST(check(h).linearizable());
}

// ---- violations ----

BOOST_AUTO_TEST_CASE(stale_read_is_caught_with_a_small_window) {
  std::vector<operation> h{
    put(1, "k", "z", 0, 5),           // 0: noise before the anomaly
    get(2, "k", "z", 6, 8),           // 1
    put(3, "other", "q", 0, 100),     // 2: another key
    put(1, "k", "a", 10, 20),         // 3
    get(2, "k", "a", 22, 28),         // 4
    put(1, "k", "b", 30, 40),         // 5: newer put, completes at 40
    get(2, "k", "a", 50, 60),         // 6: begins after it, reads a: stale
    get(3, "other", "q", 110, 120),   // 7
  };
  verdict v = check(h);
  BOOST_TEST(v.result == verdict_kind::not_linearizable);
  BOOST_TEST(!v.linearizable());
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  const auto& f = v.failures[0];
  BOOST_TEST(f.key == "k");
  BOOST_TEST(f.operations == 6u);
  BOOST_TEST(culprit(f) == 6);
  // The window: the newer put and the stale get, nothing from before.
  BOOST_TEST(f.window == (std::vector<size_t>{5, 6}),
             boost::test_tools::per_element());
  BOOST_TEST(!f.window_truncated);
  std::string text = describe(v, h);
  BOOST_TEST(text.find("NOT linearizable") != std::string::npos);
  BOOST_TEST(text.find("#6 client 2 [50, 60] get \"k\" -> \"a\" (ok)  <- "
                       "cannot be linearized")
             != std::string::npos,
             text);
  BOOST_TEST(text.find("#5 client 1 [30, 40] put \"k\" \"b\" (ok)")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(lost_update_is_caught) {
  // Client 2's put of b is acknowledged, yet every later read, by anyone,
  // returns a, and a later write is read normally: the update was lost.
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),          // 0
    put(2, "k", "b", 20, 30),         // 1: acknowledged
    get(1, "k", "a", 40, 50),         // 2
    get(2, "k", "a", 60, 70),         // 3
    put(1, "k", "c", 80, 90),         // 4
    get(3, "k", "c", 100, 110),       // 5
  };
  verdict v = check(h);
  BOOST_TEST(v.result == verdict_kind::not_linearizable);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  BOOST_TEST(culprit(v.failures[0]) == 2);
  BOOST_TEST(holds(v.failures[0].window, 1));
  BOOST_TEST(holds(v.failures[0].window, 2));
}

BOOST_AUTO_TEST_CASE(write_applied_twice_is_caught) {
  // a is put once, overwritten by b (which is read), then read again though
  // nobody wrote a since: a retried write of a was applied a second time.
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),          // 0
    put(2, "k", "b", 20, 30),         // 1
    get(3, "k", "b", 40, 50),         // 2
    get(3, "k", "a", 60, 70),         // 3
  };
  verdict v = check(h);
  BOOST_TEST(v.result == verdict_kind::not_linearizable);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  BOOST_TEST(culprit(v.failures[0]) == 3);
  BOOST_TEST(holds(v.failures[0].window, 3));
}

BOOST_AUTO_TEST_CASE(read_of_a_value_never_written_is_caught) {
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    get(2, "k", "ghost", 5, 15),
  };
  verdict v = check(h);
  BOOST_TEST(v.result == verdict_kind::not_linearizable);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  BOOST_TEST(culprit(v.failures[0]) == 1);
}

BOOST_AUTO_TEST_CASE(observed_failed_put_is_caught) {
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    put(2, "k", "b", 20, 30, outcome::failed),
    get(1, "k", "b", 40, 50),
  };
  verdict v = check(h);
  BOOST_TEST(v.result == verdict_kind::not_linearizable);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  BOOST_TEST(culprit(v.failures[0]) == 2);
  // The failed put is not part of any window.
  BOOST_TEST(!holds(v.failures[0].window, 1));
}

BOOST_AUTO_TEST_CASE(unknown_put_cannot_be_seen_before_it_is_invoked) {
  std::vector<operation> h{
    get(1, "k", "b", 0, 10),
    put(2, "k", "b", 20, 30, outcome::unknown),
  };
  BOOST_TEST(check(h).result == verdict_kind::not_linearizable);
}

BOOST_AUTO_TEST_CASE(unknown_put_cannot_take_effect_twice) {
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    put(2, "k", "b", 20, 30, outcome::unknown),
    get(1, "k", "b", 40, 50),
    put(3, "k", "c", 60, 70),
    get(1, "k", "c", 80, 90),
    get(3, "k", "b", 100, 110), // b again, with no write of b since c
  };
  verdict v = check(h);
  BOOST_TEST(v.result == verdict_kind::not_linearizable);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  BOOST_TEST(culprit(v.failures[0]) == 5);
}

BOOST_AUTO_TEST_CASE(deleted_value_read_again_is_caught) {
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),
    del(2, "k", 20, 30),
    get(1, "k", "a", 40, 50),
  };
  BOOST_TEST(check(h).result == verdict_kind::not_linearizable);
}

BOOST_AUTO_TEST_CASE(only_the_failing_key_is_reported) {
  std::vector<operation> h{
    put(1, "good", "1", 0, 10), put(1, "bad", "a", 0, 10),
    put(2, "bad", "b", 20, 30), get(2, "good", "1", 20, 30),
    get(3, "bad", "a", 40, 50),
  };
  verdict v = check(h);
  BOOST_TEST(v.result == verdict_kind::not_linearizable);
  BOOST_TEST(v.keys_checked == 2u);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  BOOST_TEST(v.failures[0].key == "bad");
}

BOOST_AUTO_TEST_CASE(window_keeps_every_write_that_may_come_last_before_it) {
  // After the early history, two concurrent puts leave x or y. A reader sees
  // x, a later one y with no write between: the window is the two puts (in
  // either order, one of them was last) and the two gets.
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),  // 0
    get(2, "k", "a", 20, 30), // 1
    put(1, "k", "b", 40, 50), // 2
    put(1, "k", "x", 60, 70), // 3
    put(2, "k", "y", 60, 70), // 4
    get(3, "k", "x", 80, 90), // 5
    get(1, "k", "y", 100, 110), // 6
  };
  verdict v = check(h);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  const auto& f = v.failures[0];
  BOOST_TEST(culprit(f) == 6);
  BOOST_TEST(f.window == (std::vector<size_t>{3, 4, 5, 6}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(unknown_write_overlapping_the_window_stays_in_it) {
  // The unknown put of b, invoked at 5, may take effect inside the window;
  // the reads b then a after it cannot both hold (b and a are each written
  // once, a before b may be).
  std::vector<operation> h{
    put(1, "k", "a", 0, 10),                     // 0
    put(2, "k", "b", 5, 15, outcome::unknown),   // 1
    get(3, "k", "a", 100, 110),                  // 2
    get(3, "k", "b", 120, 130),                  // 3
    get(3, "k", "a", 140, 150),                  // 4
  };
  verdict v = check(h);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  const auto& f = v.failures[0];
  BOOST_TEST(culprit(f) == 4);
  BOOST_TEST(f.window == (std::vector<size_t>{0, 1, 3, 4}),
             boost::test_tools::per_element());
}

// ---- budget and malformed input ----

BOOST_AUTO_TEST_CASE(exhausted_budget_is_not_a_violation) {
  // 40 concurrent puts then a read of a value none wrote: the search tries
  // every order of the puts (2^40 configurations), far beyond 50 ms.
  std::vector<operation> h;
  for (uint32_t i = 0; i < 40; ++i)
    h.push_back(put(i, "k", "v" + std::to_string(i), 0, 100));
  h.push_back(get(99, "k", "ghost", 200, 210));
  h.push_back(put(1, "other", "1", 0, 10)); // a second key, never reached
  auto started = std::chrono::steady_clock::now();
  verdict v = check_history(h, std::chrono::milliseconds(50));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - started);
  BOOST_TEST_MESSAGE(describe(v, h));
  BOOST_TEST(v.result == verdict_kind::budget_exceeded);
  BOOST_TEST(!v.linearizable());
  BOOST_TEST(v.failures.empty());
  BOOST_TEST(v.keys_checked == 0u);
  BOOST_TEST(v.unchecked_keys == (std::vector<std::string>{"k", "other"}),
             boost::test_tools::per_element());
  BOOST_TEST(took.count() < 1000);
  BOOST_TEST(describe(v, h).find("unknown (budget exceeded)")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(memory_limit_ends_the_search_like_the_time_budget) {
  std::vector<operation> h;
  for (uint32_t i = 0; i < 40; ++i)
    h.push_back(put(i, "k", "v" + std::to_string(i), 0, 100));
  h.push_back(get(99, "k", "ghost", 200, 210));
  lg::check::check_options options;
  options.budget = std::chrono::milliseconds(60000);
  options.memory_limit = 1 << 20;
  auto started = std::chrono::steady_clock::now();
  verdict v = check_history(h, options);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - started);
  BOOST_TEST(v.result == verdict_kind::budget_exceeded);
  BOOST_TEST(took.count() < 5000);
}

BOOST_AUTO_TEST_CASE(malformed_operations_are_rejected) {
  BOOST_CHECK_THROW(check_history({put(1, "k", "a", 10, 5)}),
                    std::invalid_argument);
  operation no_value = put(1, "k", "a", 0, 5);
  no_value.value.reset();
  BOOST_CHECK_THROW(check_history({no_value}), std::invalid_argument);
  // An unknown operation's completion time does not matter.
  BOOST_TEST(check_history({put(1, "k", "a", 10, 5, outcome::unknown)})
               .linearizable());
}

// ---- generated histories ----

BOOST_AUTO_TEST_CASE(generated_10000_operations_check_in_under_a_second) {
  std::vector<operation> h = generate(10000, 10, 5, 1);
  auto started = std::chrono::steady_clock::now();
  verdict v = check_history(h, std::chrono::milliseconds(5000));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - started);
  BOOST_TEST_MESSAGE("10,000 generated operations checked in "
                     << took.count() << " ms");
  if (!v.linearizable())
    BOOST_TEST_MESSAGE(describe(v, h));
  BOOST_TEST(v.result == verdict_kind::linearizable);
  BOOST_TEST(v.keys_checked == 10u);
  BOOST_TEST(v.operations_checked > 9000u);
  BOOST_TEST(took.count() < 1000);
}

BOOST_AUTO_TEST_CASE(injected_stale_read_in_10000_operations_is_caught) {
  std::vector<operation> h = generate(10000, 10, 5, 2);
  // Late in the history, make a get read a value whose only write w1 was
  // followed in real time by another acknowledged write w2 that completed
  // before the get began.
  std::optional<size_t> target, stale;
  for (size_t g = h.size() * 3 / 4; g < h.size() && !target; ++g) {
    if (h[g].kind != op_kind::get || h[g].result != outcome::ok)
      continue;
    for (size_t w2 = 0; w2 < g && !target; ++w2) {
      if (h[w2].key != h[g].key || h[w2].kind == op_kind::get
          || h[w2].result != outcome::ok || h[w2].completed >= h[g].invoked)
        continue;
      for (size_t w1 = 0; w1 < w2; ++w1) {
        if (h[w1].key == h[g].key && h[w1].kind == op_kind::put
            && h[w1].result == outcome::ok
            && h[w1].completed < h[w2].invoked
            && h[w1].value != h[g].value) {
          target = g;
          stale = w1;
          break;
        }
      }
    }
  }
  BOOST_REQUIRE(target.has_value());
  h[*target].value = h[*stale].value;
  auto started = std::chrono::steady_clock::now();
  verdict v = check_history(h, std::chrono::milliseconds(5000));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - started);
  BOOST_TEST_MESSAGE("10,000 operations with a stale read checked in "
                     << took.count() << " ms");
  BOOST_TEST_MESSAGE(describe(v, h));
  BOOST_TEST(v.result == verdict_kind::not_linearizable);
  BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
  const auto& f = v.failures[0];
  BOOST_TEST(f.key == h[*target].key);
  BOOST_TEST(culprit(f) == static_cast<long>(*target));
  BOOST_TEST(!f.window_truncated);
  BOOST_TEST(f.window.size() < 20u);
  BOOST_TEST(took.count() < 1000);
}

BOOST_AUTO_TEST_CASE(generated_histories_with_a_few_keys_are_linearizable) {
  // Fewer keys: more contention per key.
  for (uint32_t seed = 10; seed < 20; ++seed) {
    std::vector<operation> h = generate(2000, 2, 5, seed);
    verdict v = check_history(h, std::chrono::milliseconds(5000));
    BOOST_TEST(v.result == verdict_kind::linearizable, "seed " << seed);
  }
}

BOOST_AUTO_TEST_CASE(agrees_with_brute_force_on_small_random_histories) {
  // Each verdict matches an exhaustive search; each window fails on its own
  // (as a history of the same operations) and holds its culprit, before
  // whose completion the history can be linearized.
  std::mt19937_64 rng(7);
  size_t violations = 0;
  for (int round = 0; round < 4000; ++round) {
    std::vector<operation> h = small_random_history(rng);
    verdict v = check_history(h);
    bool expected = brute_force_linearizable(h);
    BOOST_TEST_REQUIRE(v.linearizable() == expected,
                       "round " << round << "\n" << describe(v, h));
    if (expected)
      continue;
    ++violations;
    BOOST_REQUIRE_EQUAL(v.failures.size(), 1u);
    const auto& f = v.failures[0];
    BOOST_TEST_REQUIRE(culprit(f) >= 0);
    BOOST_TEST(holds(f.window, *f.culprit));
    // The history just before the culprit completes can be linearized.
    const int64_t before = h[*f.culprit].completed - 1;
    std::vector<operation> prefix;
    for (operation op : h) {
      if (op.result == outcome::unknown || op.completed > before) {
        if (op.invoked > before || op.kind == op_kind::get)
          continue;
        op.result = outcome::unknown; // still running: may or may not apply
      }
      prefix.push_back(op);
    }
    BOOST_TEST(brute_force_linearizable(prefix),
               "round " << round << "\n" << describe(v, h));
    std::vector<operation> window;
    for (size_t i : f.window)
      window.push_back(h[i]);
    BOOST_TEST(!brute_force_linearizable(window),
               "round " << round << "\n" << describe(v, h));
  }
  // Both kinds of history occur often enough to mean something.
  BOOST_TEST(violations > 500u);
  BOOST_TEST(violations < 3500u);
}

BOOST_AUTO_TEST_SUITE_END()
