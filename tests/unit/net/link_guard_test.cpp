// Two actor systems in one process, linked by CAF's middleman over
// loopback: a message over max-message-mb closes the link it came on,
// and a message under it is taken.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/net/link_guard.hpp"
#include "messages/message_types.hpp"

namespace {

struct net_config : caf::actor_system_config {
  net_config() {
    load<caf::io::middleman>();
    lg::register_message_types(*this);
  }
};

lg::wire statement_of(size_t bytes) {
  auto env = std::make_shared<lg::envelope>();
  env->mutable_statement_request()->set_text(std::string(bytes, 'x'));
  return lg::wire{std::move(env)};
}

/// Answers how many messages it took; refused ones close their link.
caf::behavior counting_receiver(caf::event_based_actor* self,
                                std::atomic<int>* taken) {
  return {
    [self, taken](lg::wire& msg) -> int {
      if (!lg::refuse_undecodable(self, msg) && msg.env)
        ++*taken;
      return taken->load();
    },
  };
}

} // namespace

BOOST_AUTO_TEST_SUITE(net_link_guard)

BOOST_AUTO_TEST_CASE(a_message_over_the_cap_closes_the_link_it_came_on) {
  lg::set_max_inbound_message_bytes(4096);
  std::atomic<int> taken{0};
  net_config cfg_a;
  net_config cfg_b;
  caf::actor_system a{cfg_a};
  caf::actor_system b{cfg_b};
  auto receiver = a.spawn(counting_receiver, &taken);
  auto port = a.middleman().publish(receiver, 0, "127.0.0.1");
  BOOST_REQUIRE(port);
  auto remote = b.middleman().remote_actor("127.0.0.1", *port);
  BOOST_REQUIRE(remote);
  caf::scoped_actor client{b};
  client->monitor(*remote);
  // Under the cap: taken, and the link stays.
  int answer = 0;
  client->request(*remote, std::chrono::seconds(10), statement_of(1000))
    .receive([&](int n) { answer = n; },
             [&](caf::error& err) { BOOST_FAIL(b.render(err)); });
  BOOST_TEST(answer == 1);
  // Over the cap: not taken, and the peer sees the link go down.
  auto closed_before = lg::links_closed_for_bad_messages();
  client->send(*remote, statement_of(8000));
  bool down = false;
  client->receive([&](caf::down_msg&) { down = true; },
                  caf::after(std::chrono::seconds(10)) >> [] {});
  BOOST_TEST(down);
  BOOST_TEST(taken.load() == 1);
  BOOST_TEST(lg::links_closed_for_bad_messages() == closed_before + 1);
  caf::anon_send_exit(receiver, caf::exit_reason::user_shutdown);
  lg::set_max_inbound_message_bytes(size_t{64} << 20);
}

BOOST_AUTO_TEST_SUITE_END()
