// The fabric's send on the test scheduler: how messages reach their
// receivers.
#include "actors/net/fabric.hpp"

#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>

using lg::envelope;

BOOST_AUTO_TEST_SUITE(net_fabric)

BOOST_AUTO_TEST_CASE(heartbeats_overtake_queued_messages) {
  // A receiver with a long queue (an aggregator after a large CREATE
  // DATABASE) must see a leaf's heartbeat reply before the failure timeout,
  // not after everything queued ahead of it.
  caf::actor_system_config cfg;
  lg::register_message_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(
    sys.scheduler());
  auto fab = std::make_shared<lg::fabric>(sys);
  auto seen = std::make_shared<std::vector<std::string>>();
  auto receiver = sys.spawn([seen](caf::event_based_actor*) -> caf::behavior {
    return {[seen](lg::wire& w) {
      seen->push_back(w.env->has_heartbeat_reply() ? "heartbeat" : "other");
    }};
  });
  fab->add_endpoint("ma", "ma", receiver);
  auto to_ma = [](std::shared_ptr<envelope> env) {
    env->mutable_header()->mutable_to()->set_node("ma");
    env->mutable_header()->mutable_to()->set_actor("ma");
    env->mutable_header()->mutable_from()->set_node("leaf");
    env->mutable_header()->mutable_from()->set_actor("leaf");
    return env;
  };
  sys.spawn([fab, to_ma](caf::event_based_actor* self) -> caf::behavior {
    for (int i = 0; i < 50; ++i) {
      auto env = to_ma(lg::make_envelope("db:0", 1));
      env->mutable_statement_request()->set_text("SELECT 1");
      fab->send(self, env);
    }
    auto hb = to_ma(lg::make_envelope());
    hb->mutable_heartbeat_reply()->set_seq(1);
    fab->send(self, hb);
    return {};
  });
  sched.run();
  BOOST_REQUIRE_EQUAL(seen->size(), 51u);
  BOOST_TEST(seen->front() == "heartbeat");
  BOOST_TEST(seen->back() == "other");
  caf::anon_send_exit(receiver, caf::exit_reason::user_shutdown);
  sched.run();
}

BOOST_AUTO_TEST_SUITE_END()
