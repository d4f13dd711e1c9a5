#include "actors/net/link_guard.hpp"

#include <atomic>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>

#include "base/log.hpp"

namespace lg {

namespace {

std::atomic<uint64_t> closed{0};

/// Runs in the middleman's event loop, where the BASP broker lives: the same
/// two calls the broker makes on a malformed BASP message.
void close_link(caf::actor_system& sys, const caf::node_id& peer) {
  auto& mm = sys.middleman();
  mm.backend().post([&mm, peer] {
    auto handle = mm.named_broker<caf::io::basp_broker>(caf::atom("BASP"));
    auto* broker = static_cast<caf::io::basp_broker*>(
      caf::actor_cast<caf::abstract_actor*>(handle));
    if (broker == nullptr)
      return;
    auto hdl = broker->instance.tbl().lookup_direct(peer);
    if (!hdl)
      return; // already gone, or reached through another node only
    broker->connection_cleanup(*hdl, caf::sec::malformed_basp_message);
    broker->close(*hdl);
  });
}

} // namespace

bool refuse_undecodable(caf::local_actor* self, const wire& msg) {
  if (msg.env || msg.refused.empty())
    return false;
  auto sender = self->current_sender();
  auto& sys = self->system();
  if (!sender || sender->node() == sys.node() || !sys.has_middleman()) {
    logger("gateway")->error("UndecodableMessage {}; dropped", msg.refused);
    return true;
  }
  closed.fetch_add(1, std::memory_order_relaxed);
  logger("gateway")->error("LinkClosed peer {}: {}",
                           to_string(sender->node()), msg.refused);
  close_link(sys, sender->node());
  return true;
}

uint64_t links_closed_for_bad_messages() {
  return closed.load(std::memory_order_relaxed);
}

} // namespace lg
