// The endpoint's side of the fabric without actors: make_envelope and the
// rpc_table that matches replies to requests and expires them.
#include "actors/net/endpoint.hpp"

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::envelope;
using lg::rpc_table;
using lg::time_point;
using std::chrono::milliseconds;

namespace {

/// What one request's callback saw.
struct outcome {
  int calls = 0;
  int timeouts = 0;
  std::string reply_partition;
};

/// Returns a callback that records into `out`.
rpc_table::callback record(outcome& out) {
  return [&out](const envelope* env) {
    ++out.calls;
    if (env == nullptr)
      ++out.timeouts;
    else
      out.reply_partition = env->header().partition();
  };
}

/// Returns a reply to request `id`, tagged with `partition`.
std::shared_ptr<envelope> reply_to(uint64_t id,
                                   const std::string& partition = "db:0") {
  auto env = lg::make_envelope(partition, 3);
  env->mutable_header()->set_reply_to(id);
  return env;
}

const time_point t0{};

} // namespace

BOOST_AUTO_TEST_SUITE(net_endpoint)

BOOST_AUTO_TEST_CASE(make_envelope_sets_header) {
  auto env = lg::make_envelope("shop:4", 7, 99);
  BOOST_TEST(env->header().partition() == "shop:4");
  BOOST_TEST(env->header().term() == 7u);
  BOOST_TEST(env->header().trace_id() == 99u);
  BOOST_TEST(env->header().reply_to() == 0u);
  BOOST_TEST(env->header().correlation_id() == 0u);
}

BOOST_AUTO_TEST_CASE(add_returns_distinct_nonzero_ids) {
  rpc_table rpc;
  BOOST_TEST(rpc.empty());
  BOOST_TEST(!rpc.next_deadline().has_value());
  std::set<uint64_t> ids;
  std::vector<outcome> outs(5);
  for (auto& out : outs)
    ids.insert(rpc.add(t0 + milliseconds{100}, record(out)));
  BOOST_TEST(ids.size() == 5u);
  BOOST_TEST(ids.count(0) == 0u);
  BOOST_TEST(rpc.size() == 5u);
  BOOST_TEST(!rpc.empty());
  for (auto& out : outs)
    BOOST_TEST(out.calls == 0);
}

BOOST_AUTO_TEST_CASE(dispatch_runs_the_matching_callback_once) {
  rpc_table rpc;
  outcome a;
  outcome b;
  auto id_a = rpc.add(t0 + milliseconds{100}, record(a));
  auto id_b = rpc.add(t0 + milliseconds{100}, record(b));
  auto rep = reply_to(id_b, "shop:1");
  BOOST_TEST(rpc.dispatch(*rep));
  BOOST_TEST(a.calls == 0);
  BOOST_TEST(b.calls == 1);
  BOOST_TEST(b.timeouts == 0);
  BOOST_TEST(b.reply_partition == "shop:1");
  BOOST_TEST(rpc.size() == 1u);
  // A duplicate reply is consumed but does not run the callback again.
  BOOST_TEST(rpc.dispatch(*rep));
  BOOST_TEST(b.calls == 1);
  BOOST_TEST(rpc.size() == 1u);
  BOOST_TEST(rpc.dispatch(*reply_to(id_a, "shop:0")));
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(a.reply_partition == "shop:0");
  BOOST_TEST(rpc.empty());
  BOOST_TEST(!rpc.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(dispatch_ignores_messages_that_are_not_replies) {
  rpc_table rpc;
  outcome a;
  rpc.add(t0 + milliseconds{100}, record(a));
  auto env = lg::make_envelope("shop:0", 1);
  BOOST_TEST(!rpc.dispatch(*env));
  BOOST_TEST(a.calls == 0);
  BOOST_TEST(rpc.size() == 1u);
}

BOOST_AUTO_TEST_CASE(expire_fires_at_deadline_not_before) {
  rpc_table rpc;
  outcome a;
  rpc.add(t0 + milliseconds{100}, record(a));
  rpc.expire(t0);
  rpc.expire(t0 + milliseconds{99});
  rpc.expire(t0 + milliseconds{100} - std::chrono::nanoseconds{1});
  BOOST_TEST(a.calls == 0);
  BOOST_TEST(rpc.size() == 1u);
  rpc.expire(t0 + milliseconds{100});
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(a.timeouts == 1);
  BOOST_TEST(rpc.empty());
  BOOST_TEST(!rpc.next_deadline().has_value());
  rpc.expire(t0 + milliseconds{100});
  rpc.expire(t0 + milliseconds{10000});
  BOOST_TEST(a.calls == 1);
}

BOOST_AUTO_TEST_CASE(expire_fires_overdue_requests_in_deadline_order) {
  rpc_table rpc;
  std::vector<int> order;
  auto note = [&order](int tag) {
    return [&order, tag](const envelope* env) {
      BOOST_TEST(env == nullptr);
      order.push_back(tag);
    };
  };
  rpc.add(t0 + milliseconds{300}, note(3));
  rpc.add(t0 + milliseconds{100}, note(1));
  rpc.add(t0 + milliseconds{500}, note(5));
  rpc.add(t0 + milliseconds{200}, note(2));
  rpc.expire(t0 + milliseconds{350});
  BOOST_TEST(order == (std::vector<int>{1, 2, 3}));
  BOOST_TEST(rpc.size() == 1u);
  BOOST_REQUIRE(rpc.next_deadline().has_value());
  BOOST_TEST((*rpc.next_deadline() == t0 + milliseconds{500}));
  rpc.expire(t0 + milliseconds{1000});
  BOOST_TEST(order == (std::vector<int>{1, 2, 3, 5}));
  BOOST_TEST(rpc.empty());
}

BOOST_AUTO_TEST_CASE(late_reply_after_expiry_is_consumed_and_ignored) {
  rpc_table rpc;
  outcome a;
  outcome b;
  auto id_a = rpc.add(t0 + milliseconds{100}, record(a));
  rpc.add(t0 + milliseconds{200}, record(b));
  rpc.expire(t0 + milliseconds{150});
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(a.timeouts == 1);
  BOOST_TEST(rpc.dispatch(*reply_to(id_a)));
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(a.reply_partition.empty());
  // The other request is untouched by the stray reply.
  BOOST_TEST(b.calls == 0);
  BOOST_TEST(rpc.size() == 1u);
}

BOOST_AUTO_TEST_CASE(answered_request_does_not_expire) {
  rpc_table rpc;
  outcome a;
  auto id = rpc.add(t0 + milliseconds{100}, record(a));
  BOOST_TEST(rpc.dispatch(*reply_to(id)));
  rpc.expire(t0 + milliseconds{1000});
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(a.timeouts == 0);
}

BOOST_AUTO_TEST_CASE(fail_all_fails_every_request_once) {
  rpc_table rpc;
  std::vector<outcome> outs(4);
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < outs.size(); ++i)
    ids.push_back(
      rpc.add(t0 + milliseconds{100 * (static_cast<int>(i) + 1)},
              record(outs[i])));
  rpc.fail_all();
  BOOST_TEST(rpc.empty());
  BOOST_TEST(!rpc.next_deadline().has_value());
  for (auto& out : outs) {
    BOOST_TEST(out.calls == 1);
    BOOST_TEST(out.timeouts == 1);
  }
  // Neither a later tick nor a late reply runs a callback again.
  rpc.expire(t0 + milliseconds{10000});
  for (auto id : ids)
    BOOST_TEST(rpc.dispatch(*reply_to(id)));
  rpc.fail_all();
  for (auto& out : outs)
    BOOST_TEST(out.calls == 1);
}

BOOST_AUTO_TEST_CASE(next_deadline_is_the_earliest_outstanding) {
  rpc_table rpc;
  outcome a;
  outcome b;
  outcome c;
  auto id_b = rpc.add(t0 + milliseconds{200}, record(b));
  BOOST_TEST((*rpc.next_deadline() == t0 + milliseconds{200}));
  auto id_a = rpc.add(t0 + milliseconds{100}, record(a));
  BOOST_TEST((*rpc.next_deadline() == t0 + milliseconds{100}));
  rpc.add(t0 + milliseconds{300}, record(c));
  BOOST_TEST((*rpc.next_deadline() == t0 + milliseconds{100}));
  // Answering the earliest moves the deadline to the next one.
  BOOST_TEST(rpc.dispatch(*reply_to(id_a)));
  BOOST_TEST((*rpc.next_deadline() == t0 + milliseconds{200}));
  BOOST_TEST(rpc.dispatch(*reply_to(id_b)));
  BOOST_TEST((*rpc.next_deadline() == t0 + milliseconds{300}));
  rpc.expire(t0 + milliseconds{300});
  BOOST_TEST(!rpc.next_deadline().has_value());
  BOOST_TEST(c.timeouts == 1);
}

BOOST_AUTO_TEST_CASE(equal_deadlines_are_tracked_separately) {
  rpc_table rpc;
  outcome a;
  outcome b;
  auto deadline = t0 + milliseconds{100};
  auto id_a = rpc.add(deadline, record(a));
  rpc.add(deadline, record(b));
  // Answering one must leave the other's deadline in place.
  BOOST_TEST(rpc.dispatch(*reply_to(id_a)));
  BOOST_REQUIRE(rpc.next_deadline().has_value());
  BOOST_TEST((*rpc.next_deadline() == deadline));
  rpc.expire(deadline);
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(a.timeouts == 0);
  BOOST_TEST(b.calls == 1);
  BOOST_TEST(b.timeouts == 1);
  BOOST_TEST(rpc.empty());
}

BOOST_AUTO_TEST_CASE(callback_may_issue_a_new_request) {
  // A timed-out request is often retried from its own callback.
  rpc_table rpc;
  outcome retry;
  int first_calls = 0;
  rpc.add(t0 + milliseconds{100}, [&](const envelope* env) {
    ++first_calls;
    BOOST_TEST(env == nullptr);
    rpc.add(t0 + milliseconds{300}, record(retry));
  });
  rpc.expire(t0 + milliseconds{150});
  BOOST_TEST(first_calls == 1);
  BOOST_TEST(rpc.size() == 1u);
  BOOST_TEST((*rpc.next_deadline() == t0 + milliseconds{300}));
  BOOST_TEST(retry.calls == 0);
  rpc.expire(t0 + milliseconds{300});
  BOOST_TEST(first_calls == 1);
  BOOST_TEST(retry.timeouts == 1);
}

BOOST_AUTO_TEST_SUITE_END()
