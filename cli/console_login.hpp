// A console's login to a node (actors/client/access.hpp), shared by the
// programs that run statements there: `leafguard sql` and `leafguard
// history`.
//
//   1. Ask the node for a scramble (login_atom).
//   2. Answer it with the password's mysql_native_password token; the node
//      checks it (root there, other users at the master aggregator).
//   3. Every statement then names the login token the node returned.
#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/scoped_actor.hpp>

#include "base/error.hpp"

namespace lg {

/// The password given on the command line, or else LEAFGUARD_PASSWORD.
std::string console_password(const std::string& given);

/// Logs in as `user` with `password` (steps 1-2); the login token, or an
/// error saying why not (the node's ERROR 1045, or no answer).
result<std::string> console_login(caf::scoped_actor& self,
                                  const caf::actor& node,
                                  const std::string& user,
                                  const std::string& password);

} // namespace lg
