// The CAF side of leafguard's messages: the wire type that carries a protobuf
// Envelope between actors, the atoms of local timers, and the registration
// of every type with CAF.
#pragma once

#include <memory>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>

#include "envelope.pb.h"

namespace lg {

using envelope = pb::Envelope;
using envelope_ptr = std::shared_ptr<const envelope>;

/// The only message type exchanged between roles. In one process it shares
/// the immutable Envelope; across processes it travels as the Envelope's
/// protobuf bytes.
struct wire {
  wire() = default;
  wire(envelope_ptr e) : env(std::move(e)) { // NOLINT: implicit on purpose
  }

  envelope_ptr env;
  /// Set, with `env` null, when bytes from another process were refused:
  /// over max-message-mb or not an Envelope (see actors/net/link_guard.hpp).
  std::string refused;
};

/// Decodes an Envelope from bytes received from the network. Returns nullptr
/// and sets `why` when the bytes are not a valid Envelope.
/// A message over the cap (max-message-mb) is refused too, without being
/// parsed.
envelope_ptr decode_envelope(const std::string& bytes, std::string& why);

/// The largest inbound message a process decodes (max-message-mb; 64 MiB
/// unless set), and how many larger ones it refused.
void set_max_inbound_message_bytes(size_t bytes);
uint64_t inbound_messages_too_large();

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire& x) {
  std::string bytes;
  if constexpr (Inspector::reads_state) {
    if (x.env)
      x.env->SerializeToString(&bytes);
    return f(caf::meta::type_name("lg_wire"), bytes);
  } else {
    auto load = caf::meta::load_callback([&]() -> caf::error {
      std::string why;
      x.env = decode_envelope(bytes, why);
      // Delivered anyway, empty: the receiver closes the link it came on.
      x.refused = x.env ? std::string{} : why;
      return caf::none;
    });
    return f(caf::meta::type_name("lg_wire"), bytes, load);
  }
}

/// A timer fired: the id says which one.
using timer_atom = caf::atom_constant<caf::atom("timer")>;

/// Flush buffered log records (group commit).
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// A periodic tick (heartbeats, retries).
using tick_atom = caf::atom_constant<caf::atom("tick")>;

/// A message for a node this process has no route to yet: the gateway
/// connects to the node, then sends it.
using dial_atom = caf::atom_constant<caf::atom("dial")>;

/// Opens a link between the gateways of two node processes (NodeHello).
using hello_atom = caf::atom_constant<caf::atom("hello")>;

/// A statement from a console (`leafguard sql`), run on the gateway's node.
using console_atom = caf::atom_constant<caf::atom("console")>;

/// A user logs in (actors/client/access.hpp); logout_atom ends the login.
using login_atom = caf::atom_constant<caf::atom("login")>;
using logout_atom = caf::atom_constant<caf::atom("logout")>;

/// Registers every leafguard message type with `cfg`.
void register_message_types(caf::actor_system_config& cfg);

/// Returns the name of the body of `env`, e.g. "WriteRequest".
const char* body_name(const envelope& env);

/// The name of a role as tables, logs and errors show it: "Master",
/// "Replica", "Orphan" or "None" (SingleStore's words).
const char* role_text(pb::Role r);

} // namespace lg
