// The aggregator fence: a leaf's actors refuse what an older master
// aggregator sends, and tell it the newer term, on the test scheduler.
#include "actors/net/fence.hpp"

#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/net/fabric.hpp"
#include "actors/net/handlers.hpp"
#include "base/bugs.hpp"

namespace {

struct receiver_state {
  lg::endpoint ep;
  std::string ctx() const {
    return "[leaf]";
  }
};

using receiver_self = caf::stateful_actor<receiver_state>*;

void on_statement(receiver_self self, const lg::envelope_ptr& env) {
  auto rep = std::make_shared<lg::envelope>();
  rep->mutable_statement_reply();
  self->state.ep.reply(self, *env, rep);
}

const lg::handler_table<receiver_self> receiver_requests{
  "leaf", {{lg::envelope::kStatementRequest, on_statement}}};

struct sender_state {
  lg::endpoint ep;
};

/// What the sender's request came back with.
struct outcome {
  bool answered = false;
  bool refused = false;
  std::string why;
  uint64_t deposed_by = 0;
};

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  lg::fabric_ptr fab;
  std::shared_ptr<lg::aggregator_fence> fence =
    std::make_shared<lg::aggregator_fence>();
  caf::actor leaf;

  fixture() {
    lg::register_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    fab = std::make_shared<lg::fabric>(*sys);
    auto f = fab;
    auto fc = fence;
    leaf = sys->spawn([f, fc](receiver_self self) -> caf::behavior {
      self->state.ep = lg::endpoint{f, "leaf-1", "leaf"};
      self->state.ep.set_fence(fc);
      self->state.ep.attach(self, caf::actor_cast<caf::actor>(self));
      return {[self](lg::wire& w) { receiver_requests.dispatch(self, w); },
              [self](lg::tick_atom) { self->state.ep.on_tick(self); }};
    });
    sched->run();
  }

  ~fixture() {
    caf::anon_send_exit(leaf, caf::exit_reason::user_shutdown);
    sched->run();
  }

  /// An aggregator of `term`, on node `node`, sends one statement.
  std::shared_ptr<outcome> order_from(const std::string& node,
                                      uint64_t term) {
    auto out = std::make_shared<outcome>();
    auto f = fab;
    auto sender = sys->spawn(
      [f, node, term, out](caf::stateful_actor<sender_state>* self)
        -> caf::behavior {
        self->state.ep = lg::endpoint{f, node, "ma"};
        self->state.ep.set_aggregator_term(term);
        self->state.ep.attach(self, caf::actor_cast<caf::actor>(self));
        auto env = lg::make_envelope();
        env->mutable_statement_request()->set_text("order");
        self->state.ep.request(
          self, "leaf-1", "leaf", env, std::chrono::seconds{5},
          [self, out](const lg::envelope* rep) {
            out->answered = true;
            out->refused = rep == nullptr;
            out->why = self->state.ep.last_transport_error();
          });
        return {[self, out](lg::wire& w) {
                  self->state.ep.receive(self, w);
                  out->deposed_by = self->state.ep.deposed_by();
                },
                [self](lg::tick_atom) { self->state.ep.on_tick(self); }};
      });
    sched->run();
    caf::anon_send_exit(sender, caf::exit_reason::user_shutdown);
    sched->run();
    return out;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(net_fence)

BOOST_AUTO_TEST_CASE(terms_only_go_up) {
  lg::aggregator_fence f;
  uint64_t newest = 0;
  BOOST_TEST(f.admit(0, newest)); // not from an aggregator
  BOOST_TEST(f.admit(3, newest));
  BOOST_TEST(f.admit(3, newest)); // the same aggregator again
  BOOST_TEST(!f.admit(2, newest));
  BOOST_TEST(newest == 3u);
  BOOST_TEST(f.admit(5, newest));
  BOOST_TEST(f.newest() == 5u);
}

BOOST_AUTO_TEST_CASE(a_restored_fence_refuses_older_terms_and_each_rise_is_kept) {
  std::vector<uint64_t> kept;
  lg::aggregator_fence f;
  f.restore(4); // what the leaf's data dir held
  f.on_raise([&](uint64_t t) { kept.push_back(t); });
  uint64_t newest = 0;
  BOOST_TEST(!f.admit(3, newest));
  BOOST_TEST(newest == 4u);
  BOOST_TEST(f.admit(4, newest)); // no rise: nothing to keep
  BOOST_TEST(f.admit(6, newest));
  BOOST_TEST(f.admit(7, newest));
  f.restore(5); // never goes back
  BOOST_TEST(f.newest() == 7u);
  BOOST_TEST(kept == (std::vector<uint64_t>{6, 7}));
}

BOOST_AUTO_TEST_CASE(an_older_aggregator_is_refused_and_told_the_newer_term) {
  fixture fx;
  auto newer = fx.order_from("ma-b", 4);
  BOOST_TEST(newer->answered);
  BOOST_TEST(!newer->refused);
  BOOST_TEST(fx.fence->newest() == 4u);
  auto older = fx.order_from("ma-a", 3);
  BOOST_TEST(older->answered);
  BOOST_TEST(older->refused);
  BOOST_TEST(older->why.find("master aggregator term 3, and term 4 has "
                             "taken over")
             != std::string::npos,
             older->why);
  BOOST_TEST(older->deposed_by == 4u);
  // Messages from other roles carry no aggregator term and pass.
  auto client = fx.order_from("client", 0);
  BOOST_TEST(!client->refused);
}

BOOST_AUTO_TEST_CASE(without_the_fence_the_older_aggregator_is_obeyed) {
  // The broken variant no-aggregator-fence: what the test above sees.
  fixture fx;
  lg::bugs::no_aggregator_fence = true;
  fx.order_from("ma-b", 4);
  auto older = fx.order_from("ma-a", 3);
  lg::bugs::no_aggregator_fence = false;
  BOOST_TEST(!older->refused);
  BOOST_TEST(older->deposed_by == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
