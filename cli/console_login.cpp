#include "cli/console_login.hpp"

#include <chrono>
#include <cstdlib>

#include <caf/all.hpp>

#include "common.pb.h"
#include "config/variables.hpp"
#include "messages/message_types.hpp"
#include "sql/mysql_wire.hpp"

namespace lg {

std::string console_password(const std::string& given) {
  if (!given.empty())
    return given;
  const char* env = std::getenv("LEAFGUARD_PASSWORD");
  return env != nullptr ? env : "";
}

result<std::string> console_login(caf::scoped_actor& self,
                                  const caf::actor& node,
                                  const std::string& user,
                                  const std::string& password) {
  std::string login;
  std::string why = "no answer";
  self->request(node, std::chrono::seconds{10}, login_atom::value)
    .receive(
      [&](const std::string& scramble) {
        auto token = password.empty()
                       ? std::string{}
                       : mysql::native_password_token(password, scramble);
        self
          ->request(node, std::chrono::seconds{10}, login_atom::value, user,
                    scramble, token)
          .receive(
            [&](const std::string& bytes) {
              pb::ResultSet rs;
              if (!rs.ParseFromString(bytes))
                why = "the login's answer could not be decoded";
              else if (rs.error_code() != 0)
                why = "ERROR " + std::to_string(rs.error_code()) + ": "
                      + rs.error();
              else
                login = rs.message();
            },
            [&](caf::error& err) { why = self->system().render(err); });
      },
      [&](caf::error& err) { why = self->system().render(err); });
  if (login.empty())
    return config::make_error(config::errc::bad_value, why);
  return login;
}

} // namespace lg
