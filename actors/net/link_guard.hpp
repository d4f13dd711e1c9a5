// What a process does with bytes from another process that are not a
// message it takes: a message over max-message-mb, or bytes that are not an
// Envelope.
//
//   1. Decoding never fails the delivery: the wire arrives empty, saying
//      why (`wire::refused`), at the actor it was sent to.
//   2. That actor hands it here before anything else: it is dropped, logged
//      (LinkClosed, naming the peer's node id and why) and counted.
//   3. The link it came on is closed, in CAF's middleman event loop, the
//      way CAF closes a link that breaks BASP itself: the route and its
//      proxies are dropped (monitors see the peer down) and the socket is
//      shut. The peer may dial again; its next oversized message closes the
//      link again.
#pragma once

#include <cstdint>

#include <caf/local_actor.hpp>

#include "messages/message_types.hpp"

namespace lg {

/// True when `msg` is a refused wire (steps 2-3): the caller drops it.
/// False for a wire that carries a message.
bool refuse_undecodable(caf::local_actor* self, const wire& msg);

/// How many links this process closed for undecodable messages.
uint64_t links_closed_for_bad_messages();

} // namespace lg
