// The access actor: logs users in and runs their statements with their
// privileges. Every statement that enters a process from outside (a MySQL
// connection, a `leafguard sql` console, an in-process runner) passes
// through it:
//
//   console / MySQL conn          access                 master aggregator
//        |--- login (user, token) ---->|                           |
//        |                             |--- AuthRequest (not root) ->|
//        |                             |<-- AuthReply (grants) ------|
//        |<-- login token -------------|                           |
//        |--- statement, token ------->| privileges checked here   |
//        |                             |--- StatementRequest --> session ...
//        |<-- ResultSet ---------------|                           |
//
//   1. login_atom (no arguments): a scramble for a console's login.
//   2. login_atom, user, scramble, token, from_loopback, check_scramble:
//      root is checked here, other users at the master aggregator; the
//      answer is a ResultSet whose message is the login token, or error
//      1045.
//   3. console_atom, text, token: the statement runs with the login's
//      grants (error 1227 names the privilege it lacks). SHOW GRANTS for
//      oneself is answered here; test-cluster statements go to the
//      in-process cluster's runner; the rest to the node's session.
//   4. console_atom, text: a statement from inside this process (trusted,
//      as root); console_atom, text, "" from another process: root without
//      a password, allowed only when root has none and the node listens on
//      loopback only.
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/net/fabric.hpp"

namespace lg {

struct access_config {
  fabric_ptr fab;
  std::string node;             ///< the node it runs on
  std::string name = "access";  ///< its actor name there
  std::string session;          ///< the session that runs statements
  std::string ma_node = "ma";
  /// SHA1(SHA1(root's password)) from root-password-file; empty when root
  /// has no password.
  std::string root_password_hash;
  /// Whether a console over CAF counts as loopback: the node listens on
  /// loopback only, or TLS proved the console holds a certificate of the
  /// cluster's CA.
  bool console_port_loopback = false;
  /// An in-process cluster's runner of test-cluster statements (KILL LEAF
  /// ...): answers (console_atom, text) with a ResultSet's bytes. Null on
  /// node processes.
  caf::actor test_cluster;
  int64_t statement_timeout_ms = 600000;
  int64_t auth_timeout_ms = 5000;
};

/// Spawns the access actor and registers it as node/name.
caf::actor spawn_access(caf::actor_system& sys, access_config cfg);

} // namespace lg
