#include "actors/net/flight_recorder.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::envelope;
using lg::flight_recorder;
using lg::transport_event;

namespace {

/// Returns a statement request from a/x to b/y with Lamport time `lamport`.
envelope message(uint64_t lamport) {
  envelope env;
  auto* h = env.mutable_header();
  h->mutable_from()->set_node("a");
  h->mutable_from()->set_actor("x");
  h->mutable_to()->set_node("b");
  h->mutable_to()->set_actor("y");
  h->set_partition("db:2");
  h->set_term(5);
  h->set_lamport(lamport);
  env.mutable_statement_request()->set_text("SELECT 1");
  return env;
}

/// Counts the messages handed to it.
struct counting_sink : lg::trace_sink {
  void record(const envelope&, transport_event what, int64_t) override {
    seen.push_back(what);
  }
  std::vector<transport_event> seen;
};

} // namespace

BOOST_AUTO_TEST_SUITE(net_flight_recorder)

BOOST_AUTO_TEST_CASE(recent_lists_messages_oldest_first_one_line_each) {
  flight_recorder rec;
  BOOST_TEST(rec.recent().empty());
  rec.remember(message(1), transport_event::sent, 10);
  rec.remember(message(2), transport_event::dropped, 20);
  auto lines = rec.recent();
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST(lines[0]
             == "10 us  L1  a/x -> b/y  StatementRequest  db:2  term 5");
  BOOST_TEST(lines[1]
             == "20 us  L2  a/x -> b/y  StatementRequest  db:2  term 5"
                "  [dropped]");
}

BOOST_AUTO_TEST_CASE(the_ring_keeps_the_newest_capacity_messages) {
  flight_recorder rec;
  auto n = flight_recorder::capacity + 10;
  for (uint64_t i = 1; i <= n; ++i)
    rec.remember(message(i), transport_event::sent, 0);
  auto lines = rec.recent();
  BOOST_REQUIRE_EQUAL(lines.size(), flight_recorder::capacity);
  BOOST_TEST(lines.front().find("L11 ") != std::string::npos);
  BOOST_TEST(lines.back().find("L" + std::to_string(n) + " ")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(dump_recent_writes_the_ring_to_a_file) {
  flight_recorder rec;
  rec.remember(message(1), transport_event::sent, 10);
  auto path = rec.dump_recent("unit test");
  BOOST_REQUIRE(!path.empty());
  std::ifstream in{path};
  std::string header;
  std::string line;
  std::getline(in, header);
  std::getline(in, line);
  BOOST_TEST(header.find("unit test") != std::string::npos);
  BOOST_TEST(line == rec.recent().front());
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(the_trace_sink_is_set_and_cleared) {
  flight_recorder rec;
  BOOST_TEST(!rec.tracing());
  BOOST_TEST(rec.sink() == nullptr);
  auto sink = std::make_shared<counting_sink>();
  rec.set_trace_sink(sink);
  BOOST_TEST(rec.tracing());
  BOOST_TEST(rec.sink() == sink);
  rec.set_trace_sink(nullptr);
  BOOST_TEST(!rec.tracing());
  BOOST_TEST(rec.sink() == nullptr);
}

BOOST_AUTO_TEST_CASE(the_process_recorder_expires_with_its_owner) {
  auto rec = std::make_shared<flight_recorder>();
  std::weak_ptr<const flight_recorder> weak = rec;
  flight_recorder::set_process_recorder(weak);
  rec.reset();
  // Nothing is left to dump: this must not touch the freed recorder.
  flight_recorder::dump_process_recent("owner gone");
  flight_recorder::set_process_recorder({});
}

BOOST_AUTO_TEST_SUITE_END()
