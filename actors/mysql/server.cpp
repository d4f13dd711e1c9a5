#include "actors/mysql/server.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "base/log.hpp"
#include "config/variables.hpp"

namespace lg {

namespace {

using open_atom = caf::atom_constant<caf::atom("open")>;

/// The listener: opens the port when told, then forks a broker per
/// connection.
caf::behavior listener(caf::io::broker* self,
                       std::shared_ptr<const mysql_server_config> cfg) {
  auto next_id = std::make_shared<uint32_t>(0);
  auto open = std::make_shared<size_t>(0);
  self->set_down_handler([open](caf::down_msg&) { --*open; });
  return {
    [self, cfg](open_atom) -> caf::result<uint16_t> {
      auto res = self->add_tcp_doorman(cfg->port, cfg->bind.c_str(), true);
      if (!res)
        return res.error();
      logger("mysql")->info("MysqlListening {}:{}{}", cfg->bind,
                            res->second,
                            cfg->tls ? " (TLS required)" : "");
      return res->second;
    },
    [self, cfg, next_id, open](const caf::io::new_connection_msg& msg) {
      bool refuse = *open >= cfg->max_connections;
      auto conn = fork_mysql_connection(self, msg.handle, cfg, ++*next_id,
                                        refuse);
      if (refuse) {
        logger("mysql")->warn("MysqlConnectionRefused {} open connections, "
                              "the most allowed (mysql-max-connections)",
                              *open);
        return;
      }
      ++*open;
      self->monitor(conn);
    },
    [](const caf::io::acceptor_closed_msg&) {},
  };
}

} // namespace

result<uint16_t> start_mysql_server(caf::actor_system& sys,
                                    mysql_server_config cfg,
                                    caf::actor& server) {
  auto shared = std::make_shared<const mysql_server_config>(std::move(cfg));
  server = sys.middleman().spawn_broker(listener, shared);
  caf::scoped_actor self{sys};
  result<uint16_t> out = config::make_error(config::errc::bad_value,
                                            "no answer");
  self->request(server, std::chrono::seconds{10}, open_atom::value)
    .receive([&](uint16_t port) { out = port; },
             [&](caf::error& err) {
               out = config::make_error(
                 config::errc::bad_value,
                 "cannot listen for MySQL clients on " + shared->bind + ":"
                   + std::to_string(shared->port) + ": " + sys.render(err));
             });
  if (!out.ok())
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
  return out;
}

} // namespace lg
