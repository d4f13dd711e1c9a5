// The gateway: the edge of one node process. It is the actor published on the
// node's port (through CAF's middleman, or caf_openssl with mutual TLS), and
// it carries the fabric's messages to and from the other processes:
//
// - a message for a node with no route reaches it as (dial_atom, wire); it
//   dials the node, opens the link (NodeHello, messages/node.proto), routes
//   the node to the remote gateway and sends what was queued;
// - a wire from a remote gateway is delivered to its local endpoint;
// - a console's statement (console_atom) runs through the node's session;
// - a remote gateway that goes away (down_msg: the process died or its
//   connection closed) loses its routes, so the next message dials again;
// - "ma" is routed to the process that sent the newest master aggregator
//   term, or that this process's voting aggregator names; an aggregator
//   process forwards what it gets for "ma" there; a client asks its
//   aggregators where it is.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/io/middleman_actor.hpp>

#include "actors/net/fabric.hpp"

namespace lg {

class node_identity;

struct gateway_config {
  fabric_ptr fab;
  std::string node;   ///< the node this process hosts: "ma" or "host:port"
  std::string listen; ///< the address other processes dial: "host:port"
  std::string role;   ///< "master-aggregator" or "leaf"
  /// Where a leaf remembers the aggregator's address, so that it can
  /// announce itself after a restart ("" for the aggregator).
  std::string data_dir;
  /// The aggregator's address when it is known in advance (a client).
  std::string ma_address;
  /// A client's aggregators ("host:port"), each asked every `ma_poll_ms`
  /// where the master aggregator is (MasterAggregatorQuery), and dialed in
  /// turn when the master aggregator's address cannot be.
  std::vector<std::string> aggregators;
  int64_t ma_poll_ms = 200;
  /// The middleman (or caf_openssl's) actor that opens connections.
  caf::io::middleman_actor connector;
  std::string session; ///< the local session that runs console statements
  /// The access actor (actors/client/access.hpp) that logs consoles in and
  /// runs their statements; and whether this node listens on loopback
  /// only (a console then counts as a loopback client).
  caf::actor access;
  bool loopback_only = false;
  /// With TLS: this node's certificate identity; hellos are signed and
  /// checked with it, and messages checked against their link's identity
  /// (identity.hpp). Null without TLS.
  std::shared_ptr<const node_identity> identity;
  int64_t connect_timeout_ms = 2000;
  /// After a failed dial, requests for that node are refused at once for
  /// this long instead of dialing again.
  int64_t redial_backoff_ms = 200;
};

/// The actor name of a node's gateway.
inline const char* gateway_actor_name() {
  return "gateway";
}

/// Spawns the gateway and registers it as node/gateway.
caf::actor spawn_gateway(caf::actor_system& sys, gateway_config cfg);

/// The aggregator's address a leaf remembered in `data_dir` ("" if none).
std::string remembered_ma_address(const std::string& data_dir);

} // namespace lg
