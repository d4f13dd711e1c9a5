// The replication core (ha/replication.hpp) driven directly: no actors, no
// messages, only the events a partition master feeds it.
#include "ha/replication.hpp"

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::ha::backlog_action;
using lg::ha::replication_core;
using lg::ha::sync_answer;
using lg::ha::sync_claim;
using lg::ha::sync_order_outcome;
using lg::ha::sync_outcome;
using namespace std::chrono_literals;

// Boost.Test prints the enums it compares.
namespace lg::ha {
std::ostream& operator<<(std::ostream& os, sync_claim x) {
  return os << to_string(x);
}
std::ostream& operator<<(std::ostream& os, sync_outcome x) {
  return os << static_cast<int>(x);
}
std::ostream& operator<<(std::ostream& os, sync_order_outcome x) {
  return os << static_cast<int>(x);
}
std::ostream& operator<<(std::ostream& os, backlog_action x) {
  return os << static_cast<int>(x);
}
} // namespace lg::ha

namespace {

using core_t = replication_core<std::string>;
using clock_t_ = lg::ha::repl_clock;

const clock_t_::time_point t0{};

/// A master with a replica in sync, its log flushed up to `flushed`.
core_t leading(uint64_t flushed = 0, int window = 1) {
  core_t c{window};
  c.reset(true, true, true, flushed, t0);
  return c;
}

/// Seals a batch covering (prev, last].
void push(core_t& c, uint64_t prev, uint64_t last) {
  c.push(std::make_shared<std::string>(std::to_string(prev + 1) + ".."
                                       + std::to_string(last)),
         prev, last, last - prev);
}

std::vector<std::string> payloads(const std::vector<core_t::send>& sends) {
  std::vector<std::string> out;
  for (auto& s : sends)
    out.push_back(*s.payload);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ha_replication)

BOOST_AUTO_TEST_CASE(batches_go_out_in_order_within_the_window) {
  auto c = leading(0, 2);
  push(c, 0, 3);
  push(c, 3, 5);
  push(c, 5, 9);
  auto first = c.take_sends();
  BOOST_TEST(payloads(first) == (std::vector<std::string>{"1..3", "4..5"}));
  BOOST_TEST(c.inflight() == 2);
  BOOST_TEST(c.take_sends().empty()); // window full
  c.on_ack(3, 0, t0 + 1ms);
  BOOST_TEST(c.match() == 3u);
  BOOST_TEST(c.unacked() == 2u);
  BOOST_TEST(payloads(c.take_sends()) == (std::vector<std::string>{"6..9"}));
  BOOST_TEST(c.take_sends().empty()); // nothing left to send
}

BOOST_AUTO_TEST_CASE(writes_wait_for_an_in_sync_replica) {
  auto c = leading();
  push(c, 0, 4);
  c.take_sends();
  // The master's own log is flushed to 4; the replica holds nothing yet.
  BOOST_TEST(c.commit(4) == 0u);
  c.on_ack(2, 0, t0 + 1ms);
  BOOST_TEST(c.commit(4) == 2u);
  c.on_ack(4, 0, t0 + 2ms);
  BOOST_TEST(c.commit(3) == 3u); // no further than its own flushed log
  BOOST_TEST(c.commit(4) == 4u);
  BOOST_TEST(c.backlog_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(the_commit_position_never_goes_back) {
  auto c = leading(0);
  push(c, 0, 10);
  c.take_sends();
  c.on_ack(10, 1, t0);
  BOOST_TEST(c.commit(10) == 10u);
  // A new role starts from a shorter flushed log (cannot happen on a real
  // disk, but the position acknowledged to clients must not move back).
  c.reset(true, true, true, 5, t0);
  BOOST_TEST(c.commit(5) == 10u);
}

BOOST_AUTO_TEST_CASE(a_timeout_resends_every_unconfirmed_batch_as_a_copy) {
  auto c = leading(0, 2);
  push(c, 0, 2);
  push(c, 2, 4);
  auto first = c.take_sends();
  BOOST_TEST(!first[0].retransmission);
  auto gen = first[0].generation;
  BOOST_TEST(c.on_timeout()); // arm the timer once
  BOOST_TEST(!c.on_timeout());
  // Answers to the old round no longer count.
  BOOST_TEST(!c.current(gen));
  auto again = c.take_sends();
  BOOST_TEST(payloads(again) == (std::vector<std::string>{"1..2", "3..4"}));
  BOOST_TEST(again[0].retransmission);
  BOOST_TEST(again[1].retransmission);
  BOOST_TEST(c.current(again[0].generation));
  c.retransmit_fired();
  BOOST_TEST(c.on_refused()); // the timer may be armed again
}

BOOST_AUTO_TEST_CASE(a_replica_behind_the_batches_held_is_shown_the_gap) {
  auto c = leading(0, 4);
  // The batches before lsn 10 were dropped (they went in a snapshot);
  // the replica confirmed only 5.
  c.catch_up_from(5, t0);
  push(c, 10, 12);
  push(c, 12, 14);
  auto sends = c.take_sends();
  BOOST_TEST(payloads(sends) == (std::vector<std::string>{"11..12"}));
  BOOST_TEST(c.replica_behind());
  // While that one is in flight nothing else goes.
  BOOST_TEST(c.take_sends().empty());
}

BOOST_AUTO_TEST_CASE(a_replica_that_rejoins_resumes_after_what_it_holds) {
  auto c = leading(0, 4);
  push(c, 0, 3);
  push(c, 3, 6);
  push(c, 6, 9);
  c.take_sends();
  BOOST_TEST(*c.first_held() == 1u);
  c.catch_up_from(6, t0 + 1ms);
  BOOST_TEST(c.match() == 6u);
  BOOST_TEST(*c.first_held() == 7u);
  BOOST_TEST(payloads(c.take_sends()) == (std::vector<std::string>{"7..9"}));
  BOOST_TEST(c.backlog_bytes() == 3u);
}

BOOST_AUTO_TEST_CASE(a_dropped_replica_does_not_hold_acknowledgements) {
  auto c = leading();
  push(c, 0, 4);
  c.take_sends();
  BOOST_TEST(c.commit(4) == 0u);
  // Silent past the sync timeout while writes wait: ask to drop it.
  auto r = c.check(t0 + 6s, true, 5s, 4, false, 1s);
  BOOST_REQUIRE(r.ask.has_value());
  BOOST_TEST(*r.ask == false);
  BOOST_TEST(c.claim() == sync_claim::asking_out_of_sync);
  // Until the aggregator records it, the replica still counts.
  BOOST_TEST(c.commit(4) == 0u);
  BOOST_TEST(c.on_answer(false, sync_answer::recorded, 1, true, true,
                         t0 + 6s)
             == sync_outcome::went_async);
  BOOST_TEST(!c.peer_in_sync());
  BOOST_TEST(c.commit(4) == 4u);
  BOOST_TEST(c.sync_epoch() == 1u);
}

BOOST_AUTO_TEST_CASE(a_dropped_replica_that_catches_up_is_asked_back) {
  auto c = leading();
  c.reset(true, true, false, 0, t0); // the aggregator counts it out of sync
  push(c, 0, 2);
  c.take_sends();
  BOOST_TEST(!c.caught_up(2, false));
  c.on_ack(2, 0, t0 + 1ms);
  BOOST_TEST(c.caught_up(2, false));
  BOOST_TEST(!c.caught_up(2, true)); // not while a snapshot streams
  BOOST_TEST(c.ask(true));
  // It counts from the moment the request leaves.
  BOOST_TEST(c.peer_in_sync());
  BOOST_TEST(!c.ask(true)); // one request at a time
  BOOST_TEST(c.on_answer(true, sync_answer::recorded, 2, true, true, t0)
             == sync_outcome::in_sync);
  BOOST_TEST(c.claim() == sync_claim::settled);
}

BOOST_AUTO_TEST_CASE(an_unanswered_in_sync_request_keeps_the_replica_counted) {
  auto c = leading();
  c.reset(true, true, false, 0, t0);
  BOOST_TEST(c.ask(true));
  BOOST_TEST(c.on_answer(true, sync_answer::none, 0, true, true, t0)
             == sync_outcome::none);
  BOOST_TEST(c.claim() == sync_claim::unanswered);
  BOOST_TEST(c.peer_in_sync());
  // An async order decided before the aggregator saw the request must not
  // let the master acknowledge alone: the aggregator may promote it.
  BOOST_TEST(c.on_order(false, 5, t0) == sync_order_outcome::ignored_stale);
  BOOST_TEST(c.peer_in_sync());
  // The next check asks again.
  auto r = c.check(t0 + 1ms, false, 5s, 0, false, 1s);
  BOOST_REQUIRE(r.ask.has_value());
  BOOST_TEST(*r.ask == true);
}

BOOST_AUTO_TEST_CASE(an_async_order_with_an_older_epoch_is_ignored) {
  auto c = leading();
  c.set_epoch(4);
  BOOST_TEST(c.on_order(false, 3, t0) == sync_order_outcome::ignored_stale);
  BOOST_TEST(c.peer_in_sync());
  BOOST_TEST(c.on_order(false, 4, t0) == sync_order_outcome::went_async);
  BOOST_TEST(!c.peer_in_sync());
  BOOST_TEST(c.on_order(true, 5, t0) == sync_order_outcome::in_sync);
  BOOST_TEST(c.sync_epoch() == 5u);
}

BOOST_AUTO_TEST_CASE(an_in_sync_answer_older_than_an_order_is_asked_again) {
  // The replica's leaf was cut from the aggregator while its master still
  // reached it: recorded out of sync, it caught up and is asked back.
  auto c = leading();
  c.reset(true, true, false, 0, t0);
  BOOST_TEST(c.ask(true));
  // Its leaf attaches before the answer arrives: the aggregator records it
  // out of sync again (epoch 2, after the request's epoch 1). The order
  // cannot tell the master whether the request counts already: it keeps
  // waiting for the replica.
  BOOST_TEST(c.on_order(false, 2, t0) == sync_order_outcome::ignored_stale);
  BOOST_TEST(c.peer_in_sync());
  // The answer names a record the order already showed changed: the
  // master must not settle on it, or neither side would ask again.
  BOOST_TEST(c.on_answer(true, sync_answer::recorded, 1, true, true, t0)
             == sync_outcome::none);
  BOOST_TEST(c.claim() == sync_claim::retry);
  BOOST_TEST(c.peer_in_sync());
  auto r = c.check(t0 + 1ms, false, 5s, 0, false, 1s);
  BOOST_REQUIRE(r.ask.has_value());
  BOOST_TEST(*r.ask == true);
  BOOST_TEST(c.sync_epoch() == 2u); // asked as of the newer record
  BOOST_TEST(c.on_answer(true, sync_answer::recorded, 3, true, true, t0)
             == sync_outcome::in_sync);
  BOOST_TEST(c.claim() == sync_claim::settled);
}

BOOST_AUTO_TEST_CASE(an_out_of_sync_answer_older_than_an_order_is_not_taken) {
  auto c = leading();
  push(c, 0, 4);
  c.take_sends();
  BOOST_TEST(c.ask(false));
  // A newer record counts the replica: going on alone could lose writes.
  BOOST_TEST(c.on_order(true, 2, t0) == sync_order_outcome::none);
  BOOST_TEST(c.on_answer(false, sync_answer::recorded, 1, true, true, t0)
             == sync_outcome::none);
  BOOST_TEST(c.peer_in_sync());
  BOOST_TEST(c.commit(4) == 0u);
  BOOST_TEST(c.claim() == sync_claim::retry);
  // Still silent while writes wait: asked out of sync again.
  auto r = c.check(t0 + 6s, true, 5s, 4, false, 1s);
  BOOST_REQUIRE(r.ask.has_value());
  BOOST_TEST(*r.ask == false);
}

BOOST_AUTO_TEST_CASE(an_in_sync_order_older_than_the_async_record_is_ignored) {
  auto c = leading();
  BOOST_TEST(c.ask(false));
  BOOST_TEST(c.on_answer(false, sync_answer::recorded, 3, true, true, t0)
             == sync_outcome::went_async);
  // Sent before the aggregator recorded the replica out of sync.
  BOOST_TEST(c.on_order(true, 2, t0) == sync_order_outcome::none);
  BOOST_TEST(!c.peer_in_sync());
  BOOST_TEST(c.commit(0) == 0u);
}

BOOST_AUTO_TEST_CASE(a_refused_request_is_asked_again) {
  auto c = leading();
  c.reset(true, true, false, 0, t0);
  BOOST_TEST(c.ask(true));
  c.on_answer(true, sync_answer::refused, 1, true, true, t0);
  BOOST_TEST(c.claim() == sync_claim::retry);
  BOOST_TEST(c.sync_epoch() == 1u);
  // The replica still counts; the next check asks again.
  BOOST_TEST(c.peer_in_sync());
  BOOST_TEST(c.check(t0, false, 5s, 0, false, 1s).ask.value_or(false));
  BOOST_TEST(c.claim() == sync_claim::asking_in_sync);
}

BOOST_AUTO_TEST_CASE(a_new_term_starts_the_stream_over) {
  auto c = leading(0, 2);
  push(c, 0, 3);
  auto before = c.take_sends();
  c.reset(true, true, true, 3, t0);
  BOOST_TEST(c.unacked() == 0u);
  BOOST_TEST(c.inflight() == 0);
  BOOST_TEST(!c.current(before[0].generation));
  // What the replica holds is unknown until it answers or joins: the three
  // records it never confirmed are not acknowledged on its behalf.
  BOOST_TEST(c.match() == 0u);
  BOOST_TEST(c.commit(3) == 0u);
  c.catch_up_from(3, t0);
  BOOST_TEST(c.commit(3) == 3u);
}

BOOST_AUTO_TEST_CASE(a_master_reopened_from_its_disk_acknowledges_nothing_unconfirmed) {
  // An instance opens with a record its replica never got (written, not
  // acknowledged, before a crash), first with no role, then as master with
  // its in-sync replica: that record is not committed until the replica
  // holds it, so a retry of its write is not answered OK from the window.
  core_t c;
  c.reset(false, false, false, 88, t0);
  c.reset(true, true, true, 88, t0);
  BOOST_TEST(c.commit(88) == 0u);
  c.catch_up_from(87, t0); // the replica joined holding up to 87
  BOOST_TEST(c.commit(88) == 87u);
  // Without an in-sync replica the master's own log is the record.
  core_t alone;
  alone.reset(true, true, false, 88, t0);
  BOOST_TEST(alone.commit(88) == 88u);
}

BOOST_AUTO_TEST_CASE(a_replica_role_requires_no_acknowledgement) {
  core_t c;
  c.reset(false, true, true, 7, t0); // a replica, its master on the pair
  BOOST_TEST(!c.replica_required());
  BOOST_TEST(!c.current(c.generation()));
  BOOST_TEST(c.commit(7) == 7u);
}

BOOST_AUTO_TEST_CASE(a_silent_out_of_sync_replica_is_probed_at_most_each_period) {
  auto c = leading();
  c.reset(true, true, false, 0, t0);
  BOOST_TEST(c.check(t0 + 2s, false, 5s, 0, false, 1s).probe);
  auto [gen, seq] = c.start_probe();
  BOOST_TEST(seq == 1u);
  c.probe_unanswered(gen);
  BOOST_TEST(c.inflight() == 0);
  BOOST_TEST(!c.check(t0 + 2500ms, false, 5s, 0, false, 1s).probe);
  BOOST_TEST(c.check(t0 + 3s, false, 5s, 0, false, 1s).probe);
}

BOOST_AUTO_TEST_CASE(an_in_sync_replicas_backlog_stays_until_it_is_dropped) {
  auto c = leading();
  push(c, 0, 40); // 40 bytes
  c.take_sends();
  BOOST_TEST(c.check_backlog(40) == backlog_action::none);
  BOOST_TEST(c.check_backlog(40, 1) == backlog_action::ask_out_of_sync);
  push(c, 40, 60);
  // The replica counts for acknowledgements: nothing may be dropped yet.
  BOOST_TEST(c.check_backlog(50) == backlog_action::ask_out_of_sync);
  BOOST_TEST(c.ask(false));
  BOOST_TEST(c.check_backlog(50) == backlog_action::ask_out_of_sync);
  // No answer: the aggregator may still count it; the batches stay.
  BOOST_TEST(c.on_answer(false, sync_answer::none, 0, true, true, t0)
             == sync_outcome::none);
  BOOST_TEST(c.peer_in_sync());
  BOOST_TEST(c.check_backlog(50) == backlog_action::ask_out_of_sync);
  BOOST_TEST(c.unacked() == 2u);
  BOOST_TEST(c.commit(60) == 0u);
  // Recorded out of sync: the master goes on alone, and drops the batches.
  BOOST_TEST(c.ask(false));
  BOOST_TEST(c.on_answer(false, sync_answer::recorded, 1, true, true, t0)
             == sync_outcome::went_async);
  BOOST_TEST(c.check_backlog(50) == backlog_action::drop);
  c.drop_backlog();
  BOOST_TEST(c.backlog_bytes() == 0u);
  BOOST_TEST(c.unacked() == 0u);
  BOOST_TEST(c.inflight() == 0);
  BOOST_TEST(c.commit(60) == 60u);
  BOOST_TEST(c.check_backlog(50) == backlog_action::none);
  // The next batch leaves a gap: the replica is shown it, refuses it and
  // joins again, to be rebuilt.
  push(c, 60, 61);
  BOOST_TEST(payloads(c.take_sends()) == (std::vector<std::string>{"61..61"}));
  BOOST_TEST(c.replica_behind());
}

BOOST_AUTO_TEST_CASE(an_out_of_sync_replicas_backlog_is_dropped_at_the_limit) {
  auto c = leading();
  c.reset(true, true, false, 0, t0); // the aggregator counts it out of sync
  push(c, 0, 30);
  BOOST_TEST(c.check_backlog(30) == backlog_action::none);
  // Bytes gathered but not sealed count too.
  BOOST_TEST(c.check_backlog(30, 5) == backlog_action::drop);
  auto sent = c.take_sends();
  c.drop_backlog();
  // An answer to what was in flight no longer counts.
  BOOST_TEST(!c.current(sent[0].generation));
  BOOST_TEST(c.commit(30) == 30u);
}

BOOST_AUTO_TEST_CASE(only_a_master_with_a_replica_limits_a_backlog) {
  core_t replica;
  replica.reset(false, true, true, 0, t0);
  BOOST_TEST(replica.check_backlog(0, 10) == backlog_action::none);
  core_t alone;
  alone.reset(true, false, false, 0, t0);
  BOOST_TEST(alone.check_backlog(0, 10) == backlog_action::none);
}

BOOST_AUTO_TEST_SUITE_END()
