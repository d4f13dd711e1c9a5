// A node process: one role (the master aggregator or a leaf) in its own
// process, reached by the others over CAF's middleman (plain, or mutual TLS
// through caf_openssl). The same actors and protocols as in one process; the
// gateway (actors/net/gateway.hpp) carries the fabric's messages between
// processes.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "common.pb.h"
#include "config/node_options.hpp"

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

namespace lg {

class fabric;

class node_process {
public:
  node_process();
  ~node_process();

  /// Starts the role and listens on its port. Errors name what failed (the
  /// port, the data dir, a TLS file).
  error start(const config::node_options& opts);

  /// The line printed at start: role, address, TLS or not.
  const std::string& banner() const;

  /// Stops every actor of the node and closes its port.
  void stop();

  /// Runs one statement through the node's session, as the console does
  /// (a client node's statements go to the master aggregator).
  pb::ResultSet execute(const std::string& text,
                        std::chrono::milliseconds timeout
                        = std::chrono::seconds{30});

  /// The node's actor system and fabric (for an embedding program).
  caf::actor_system& system();
  std::shared_ptr<fabric> transport();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The actor system config of a node or a console: leafguard's message
/// types, the middleman, and caf_openssl with `tls` when it is on.
std::unique_ptr<caf::actor_system_config>
node_system_config(const config::tls_options& tls);

/// The actor that opens connections: the middleman's, or caf_openssl's.
caf::io::middleman_actor node_connector(caf::actor_system& sys, bool tls);

/// `leafguard master-aggregator|leaf ...`: runs until SIGINT or SIGTERM.
int run_node(const std::string& role, const std::vector<std::string>& args);

} // namespace lg
