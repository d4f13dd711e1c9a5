// The MySQL port: any MySQL client or driver runs leafguard's statements
// through it. A listening broker forks one broker per connection
// (connection.cpp); each speaks the protocol of sql/mysql_wire.hpp and
// runs statements through the process's access actor, as the user it
// logged in as.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/broker.hpp>

#include "base/error.hpp"

namespace lg {

class tls_server_context;

struct mysql_server_config {
  caf::actor access;            ///< actors/client/access.hpp
  std::string bind = "127.0.0.1";
  uint16_t port = 0;            ///< 0: any free port
  /// With TLS on: every client must ask for TLS (SSLRequest) first.
  std::shared_ptr<tls_server_context> tls;
  size_t max_packet = size_t{64} << 20; ///< max-message-mb
  /// A client that has not logged in this long after connecting is closed
  /// (MySQL's connect_timeout, 10 s by default there too).
  caf::timespan connect_timeout = std::chrono::seconds{10};
  /// Connections open at once; one more gets error 1040 and is closed
  /// (MySQL's max_connections).
  size_t max_connections = 1000;
};

/// Starts listening; returns the port it listens on. `server` gets the
/// listener (send it an exit to stop).
result<uint16_t> start_mysql_server(caf::actor_system& sys,
                                    mysql_server_config cfg,
                                    caf::actor& server);

/// Hands a new connection to a broker of its own (connection.cpp); with
/// `refuse`, the broker only tells the client there are too many
/// connections (error 1040) and closes.
caf::actor fork_mysql_connection(caf::io::broker* listener,
                                 caf::io::connection_handle hdl,
                                 std::shared_ptr<const mysql_server_config> cfg,
                                 uint32_t id, bool refuse);

} // namespace lg
