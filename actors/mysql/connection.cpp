// One MySQL client's connection: a broker of its own, forked by the
// listener (server.cpp).
//
//   client                         connection                 access
//     |<-- handshake v10 (scramble) ---|                          |
//     |--- [SSLRequest, TLS] --------->|                          |
//     |--- HandshakeResponse41 ------->|                          |
//     |<-- [AuthSwitchRequest] --------| (a client asking for     |
//     |--- [token] ------------------->|  caching_sha2_password)  |
//     |                                |--- login --------------->|
//     |<-- OK / ERR 1045 --------------|<-- token or error -------|
//     |--- COM_QUERY "a; b" ---------->| answered here (client_queries)
//     |                                |--- statement, token ---->|
//     |<-- result set / OK / ERR ------|<-- ResultSet ------------|
//
//   1. Greeting: the handshake with a fresh scramble. With TLS on, the
//      client must send an SSLRequest first, or it gets error 3159.
//   2. Login: the token is checked by the access actor (root there, other
//      users at the master aggregator).
//   3. Commands one at a time (what comes meanwhile waits): COM_QUERY runs
//      each statement of the query in turn, stopping at the first error;
//      COM_INIT_DB and USE check that the database exists; COM_PING,
//      COM_QUIT. Anything else gets error 1047.
//   Requests to the access actor carry no CAF timeout: it answers every one
//   itself, on time or with a timeout error, and a CAF timeout would cost
//   a trip through the actor clock's thread for every statement.
//   A client that has not logged in within connect_timeout (10 s) is
//   closed with error 1159, as MySQL does.
//   4. Bad bytes (a packet over max-message-mb, a malformed handshake,
//      broken TLS) get an ERR where the protocol allows one, then the
//      connection is closed.
#include "actors/mysql/server.hpp"

#include <deque>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/client/logins.hpp"
#include "actors/mysql/tls_channel.hpp"
#include "admin.pb.h"
#include "base/log.hpp"
#include "messages/message_types.hpp"
#include "sql/client_queries.hpp"
#include "sql/mysql_wire.hpp"
#include "sql/parser.hpp"

namespace lg {

namespace {

enum class phase { greeting, auth_switch, logging_in, ready, busy, closed };

struct connection_state {
  std::string name = "mysql";
  std::shared_ptr<const mysql_server_config> cfg;
  caf::io::connection_handle hdl;
  uint32_t id = 0;
  phase at = phase::greeting;
  std::unique_ptr<mysql::packet_reader> reader;
  std::unique_ptr<tls_channel> tls;
  std::string scramble;
  mysql::handshake_response hello;
  uint32_t caps = 0; ///< what both sides support
  uint8_t seq = 0;   ///< the next packet's sequence number
  std::string token; ///< the login's, from the access actor
  sql::client_context ctx;
  bool loopback = false;
  std::deque<mysql::packet> waiting; ///< commands that came while busy
  std::function<void()> after_sleep; ///< the rest of a query after SLEEP

  std::string log_ctx() const {
    return "[mysql conn=" + std::to_string(id) + " user=" + ctx.user + "@"
           + ctx.host + "]";
  }
};

using self_ptr = caf::io::stateful_broker<connection_state>*;

/// A SLEEP statement's time is up.
using wake_atom = caf::atom_constant<caf::atom("wake")>;

/// connect_timeout passed: a client still not logged in is closed.
using login_due_atom = caf::atom_constant<caf::atom("logindue")>;

constexpr uint32_t server_caps
  = mysql::client_long_password | mysql::client_found_rows
    | mysql::client_long_flag | mysql::client_connect_with_db
    | mysql::client_protocol_41 | mysql::client_transactions
    | mysql::client_secure_connection | mysql::client_multi_statements
    | mysql::client_multi_results | mysql::client_plugin_auth
    | mysql::client_connect_attrs | mysql::client_plugin_auth_lenenc_data
    | mysql::client_deprecate_eof;

void write_raw(self_ptr self, const std::string& bytes) {
  auto& st = self->state;
  if (st.tls) {
    if (auto err = st.tls->write(bytes)) {
      logger("mysql")->warn("TlsFailed {} {}", st.log_ctx(), err.detail());
      return;
    }
    auto out = st.tls->take_ciphertext();
    self->write(st.hdl, out.size(), out.data());
  } else {
    self->write(st.hdl, bytes.size(), bytes.data());
  }
  self->flush(st.hdl);
}

void send_packet(self_ptr self, const std::string& payload) {
  write_raw(self, mysql::frame(self->state.seq, payload));
}

/// A result set's packets in one write (and one send).
void send_packets(self_ptr self, const std::vector<std::string>& payloads) {
  std::string bytes;
  for (auto& p : payloads)
    bytes += mysql::frame(self->state.seq, p);
  write_raw(self, bytes);
}

void send_error(self_ptr self, int code, const std::string& message) {
  send_packet(self, mysql::err_packet(static_cast<uint16_t>(code),
                                      mysql::sqlstate_of(code), message));
}

/// Ends the connection: the login is forgotten, the broker quits, and the
/// socket is closed unless the client closed it.
void end_connection(self_ptr self, bool close_socket) {
  auto& st = self->state;
  if (st.at == phase::closed)
    return;
  st.at = phase::closed;
  if (!st.token.empty())
    self->send(st.cfg->access, logout_atom::value, st.token);
  if (close_socket)
    self->close(st.hdl);
  self->quit();
}

void close_connection(self_ptr self) {
  end_connection(self, true);
}

/// Error then close (step 4).
void fail(self_ptr self, int code, const std::string& message) {
  logger("mysql")->warn("MysqlConnectionClosed {} ERROR {}: {}",
                        self->state.log_ctx(), code, message);
  send_error(self, code, message);
  close_connection(self);
}

uint64_t affected_rows(const std::string& message) {
  // "Query OK, 3 rows affected"
  auto comma = message.find(", ");
  if (comma == std::string::npos)
    return 0;
  try {
    return std::stoull(message.substr(comma + 2));
  } catch (const std::exception&) {
    return 0; // a message without a count
  }
}

uint16_t status_of(bool more) {
  return static_cast<uint16_t>(mysql::status_autocommit
                               | (more ? mysql::status_more_results : 0));
}

/// Sends one statement's result; false when it was an error.
bool send_result(self_ptr self, const pb::ResultSet& rs, bool more) {
  auto& st = self->state;
  if (rs.error_code() != 0) {
    send_error(self, rs.error_code(), rs.error());
    return false;
  }
  if (rs.columns_size() == 0) {
    send_packet(self, mysql::ok_packet(affected_rows(rs.message()),
                                       status_of(more), rs.message()));
    return true;
  }
  std::vector<std::string> columns(rs.columns().begin(), rs.columns().end());
  std::vector<std::vector<std::optional<std::string>>> rows;
  rows.reserve(rs.rows_size());
  for (auto& r : rs.rows())
    rows.emplace_back(r.cells().begin(), r.cells().end());
  bool deprecate = (st.caps & mysql::client_deprecate_eof) != 0;
  send_packets(self, mysql::text_result_set(columns, rows, deprecate,
                                            status_of(more)));
  return true;
}

/// Sends an answer made at the connection; false when it was an error.
bool send_answer(self_ptr self, const sql::client_answer& a, bool more) {
  auto& st = self->state;
  if (a.error_code != 0) {
    send_error(self, a.error_code, a.error);
    return false;
  }
  if (a.columns.empty()) {
    send_packet(self, mysql::ok_packet(0, status_of(more)));
    return true;
  }
  bool deprecate = (st.caps & mysql::client_deprecate_eof) != 0;
  send_packets(self, mysql::text_result_set(a.columns, a.rows, deprecate,
                                            status_of(more)));
  return true;
}

void next_command(self_ptr self);

void done_command(self_ptr self) {
  auto& st = self->state;
  if (st.at == phase::busy)
    st.at = phase::ready;
  next_command(self);
}

/// Checks that `db` exists, then makes it the connection's database.
void use_database(self_ptr self, const std::string& db,
                  std::function<void(bool)> then) {
  auto& st = self->state;
  auto text = "SHOW PARTITIONS ON " + db;
  self
    ->request(st.cfg->access, caf::infinite,
              console_atom::value, text, st.token)
    .then(
      [self, db, then](const std::string& bytes) {
        pb::ResultSet rs;
        if (!rs.ParseFromString(bytes)) {
          send_error(self, 1815, "an answer could not be decoded");
          then(false);
          return;
        }
        if (rs.error_code() != 0) {
          send_error(self, rs.error_code(), rs.error());
          then(false);
          return;
        }
        self->state.ctx.database = db;
        then(true);
      },
      [self, then](caf::error& err) {
        send_error(self, 2013, "no answer: " + to_string(err));
        then(false);
      });
}

/// Runs statements[i...] of one COM_QUERY (step 3).
void run_statements(self_ptr self, std::shared_ptr<std::vector<std::string>> all,
                    size_t i) {
  auto& st = self->state;
  if (st.at == phase::closed)
    return;
  if (i >= all->size()) {
    done_command(self);
    return;
  }
  bool more = i + 1 < all->size();
  const auto& text = (*all)[i];
  if (auto local = sql::answer_client_query(text, st.ctx)) {
    if (local->sleep_ms > 0) {
      auto ms = local->sleep_ms;
      st.after_sleep = [self, all, i, more, ms] {
        send_packet(self, mysql::ok_packet(0, status_of(more),
                                           "slept " + std::to_string(ms)
                                             + " ms"));
        run_statements(self, all, i + 1);
      };
      self->delayed_send(self, std::chrono::milliseconds{ms},
                         wake_atom::value);
      return;
    }
    if (!local->use_database.empty()) {
      use_database(self, local->use_database, [self, all, i, more](bool ok) {
        if (!ok) {
          done_command(self);
          return;
        }
        send_packet(self, mysql::ok_packet(0, status_of(more)));
        run_statements(self, all, i + 1);
      });
      return;
    }
    if (send_answer(self, *local, more))
      run_statements(self, all, i + 1);
    else
      done_command(self);
    return;
  }
  self
    ->request(st.cfg->access, caf::infinite,
              console_atom::value, text, st.token)
    .then(
      [self, all, i, more](const std::string& bytes) {
        if (self->state.at == phase::closed)
          return;
        pb::ResultSet rs;
        if (!rs.ParseFromString(bytes)) {
          send_error(self, 1815, "an answer could not be decoded");
          done_command(self);
          return;
        }
        if (send_result(self, rs, more))
          run_statements(self, all, i + 1);
        else
          done_command(self);
      },
      [self](caf::error& err) {
        if (self->state.at == phase::closed)
          return;
        send_error(self, 2013, "no answer in time: " + to_string(err));
        done_command(self);
      });
}

void on_command(self_ptr self, mysql::packet& p) {
  auto& st = self->state;
  st.seq = static_cast<uint8_t>(p.seq + 1);
  if (p.payload.empty()) {
    fail(self, 1047, "an empty command packet");
    return;
  }
  auto cmd = static_cast<uint8_t>(p.payload[0]);
  auto arg = p.payload.substr(1);
  switch (static_cast<mysql::command>(cmd)) {
    case mysql::command::quit:
      close_connection(self);
      return;
    case mysql::command::ping:
      send_packet(self, mysql::ok_packet(0, status_of(false)));
      return;
    case mysql::command::init_db:
      st.at = phase::busy;
      use_database(self, arg, [self](bool ok) {
        if (ok)
          send_packet(self, mysql::ok_packet(0, status_of(false)));
        done_command(self);
      });
      return;
    case mysql::command::query: {
      auto all = std::make_shared<std::vector<std::string>>(
        sql::split_statements(arg));
      if (all->empty()) {
        send_error(self, 1065, "Query was empty");
        return;
      }
      if (all->size() > 1 && (st.caps & mysql::client_multi_statements) == 0) {
        send_error(self, 1064, "several statements in one query, but the "
                               "client did not ask for CLIENT_MULTI_STATEMENTS");
        return;
      }
      st.at = phase::busy;
      run_statements(self, std::move(all), 0);
      return;
    }
    default:
      send_error(self, 1047, "Unknown command " + std::to_string(cmd));
  }
}

void next_command(self_ptr self) {
  auto& st = self->state;
  while (st.at == phase::ready && !st.waiting.empty()) {
    auto p = std::move(st.waiting.front());
    st.waiting.pop_front();
    on_command(self, p);
  }
}

void log_in(self_ptr self) {
  auto& st = self->state;
  st.at = phase::logging_in;
  st.ctx.user = st.hello.user;
  self
    ->request(st.cfg->access, caf::infinite,
              login_atom::value, st.hello.user, st.scramble, st.hello.auth,
              st.loopback, false, st.ctx.host)
    .then(
      [self](const std::string& bytes) {
        auto& st = self->state;
        pb::ResultSet rs;
        if (!rs.ParseFromString(bytes)) {
          fail(self, 1815, "the login's answer could not be decoded");
          return;
        }
        if (rs.error_code() != 0) {
          fail(self, rs.error_code(), rs.error());
          return;
        }
        st.token = rs.message();
        auto finish = [self] {
          auto& st = self->state;
          send_packet(self, mysql::ok_packet(0, status_of(false)));
          st.at = phase::ready;
          next_command(self);
        };
        if (st.hello.database.empty()) {
          finish();
          return;
        }
        use_database(self, st.hello.database, [self, finish](bool ok) {
          if (ok)
            finish();
          else
            close_connection(self);
        });
      },
      [self](caf::error& err) {
        fail(self, 2013, "the login got no answer: " + to_string(err));
      });
}

void on_greeting_reply(self_ptr self, mysql::packet& p) {
  auto& st = self->state;
  st.seq = static_cast<uint8_t>(p.seq + 1);
  if (mysql::is_ssl_request(p.payload)) {
    if (!st.cfg->tls) {
      fail(self, 1045, "this MySQL port has no TLS; connect without SSL");
      return;
    }
    if (st.tls) {
      fail(self, 1043, "a second SSLRequest");
      return;
    }
    st.tls = std::make_unique<tls_channel>(st.cfg->tls);
    return;
  }
  if (st.cfg->tls && !st.tls) {
    fail(self, 3159, "Connections using insecure transport are prohibited: "
                     "this node requires TLS (connect with --ssl)");
    return;
  }
  auto hello = mysql::parse_handshake_response(p.payload);
  if (!hello.ok()) {
    fail(self, 1043, "Bad handshake: " + hello.err().detail());
    return;
  }
  st.hello = std::move(*hello);
  st.caps = st.hello.capabilities & server_caps;
  st.ctx.max_packet = static_cast<uint32_t>(st.cfg->max_packet);
  if (!st.hello.plugin.empty() && st.hello.plugin != mysql::native_password) {
    // caching_sha2_password and the like: switch to the one spoken here.
    st.scramble = random_scramble();
    st.at = phase::auth_switch;
    send_packet(self, mysql::auth_switch_request(mysql::native_password,
                                                 st.scramble));
    return;
  }
  log_in(self);
}

void on_packet(self_ptr self, mysql::packet& p) {
  auto& st = self->state;
  switch (st.at) {
    case phase::greeting:
      on_greeting_reply(self, p);
      return;
    case phase::auth_switch:
      st.seq = static_cast<uint8_t>(p.seq + 1);
      st.hello.auth = p.payload;
      log_in(self);
      return;
    case phase::logging_in:
    case phase::busy:
      st.waiting.push_back(std::move(p));
      return;
    case phase::ready:
      on_command(self, p);
      return;
    case phase::closed:
      return;
  }
}

/// Ciphertext from the client: answers the TLS handshake, and gives the
/// packet reader what it decrypts. False when TLS broke (closed).
bool feed_tls(self_ptr self, const char* data, size_t size) {
  auto& st = self->state;
  auto err = st.tls->feed(data, size);
  auto out = st.tls->take_ciphertext();
  if (!out.empty()) {
    self->write(st.hdl, out.size(), out.data());
    self->flush(st.hdl);
  }
  if (err) {
    logger("mysql")->warn("MysqlConnectionClosed {} TLS: {}", st.log_ctx(),
                          err.detail());
    close_connection(self);
    return false;
  }
  auto plain = st.tls->take_plaintext();
  st.reader->feed(plain.data(), plain.size());
  return true;
}

void on_bytes(self_ptr self, const std::vector<char>& buf) {
  auto& st = self->state;
  if (st.tls) {
    if (!feed_tls(self, buf.data(), buf.size()))
      return;
  } else {
    st.reader->feed(buf.data(), buf.size());
  }
  for (;;) {
    if (st.at == phase::closed)
      return;
    auto next = st.reader->next();
    if (!next.ok()) {
      fail(self, 1153, next.err().detail());
      return;
    }
    if (!*next)
      return;
    bool had_tls = st.tls != nullptr;
    on_packet(self, **next);
    if (!had_tls && st.tls) {
      // The client's TLS handshake may have come with its SSLRequest.
      auto rest = st.reader->take_buffered();
      if (!rest.empty() && !feed_tls(self, rest.data(), rest.size()))
        return;
    }
  }
}

caf::behavior connection(self_ptr self, caf::io::connection_handle hdl,
                         std::shared_ptr<const mysql_server_config> cfg,
                         uint32_t id, bool refuse) {
  auto& st = self->state;
  st.cfg = cfg;
  st.hdl = hdl;
  st.id = id;
  if (refuse) {
    // In place of the handshake, as MySQL does.
    fail(self, 1040, "Too many connections (at most "
                       + std::to_string(cfg->max_connections) + ")");
    return {};
  }
  st.reader = std::make_unique<mysql::packet_reader>(cfg->max_packet);
  st.scramble = random_scramble();
  auto addr = self->remote_addr(hdl);
  st.ctx.host = addr;
  st.ctx.connection_id = id;
  st.loopback = addr.rfind("127.", 0) == 0 || addr == "::1"
                || addr.rfind("::ffff:127.", 0) == 0;
  self->configure_read(hdl, caf::io::receive_policy::at_most(65536));
  send_packet(self, mysql::handshake_v10(
                      id, st.scramble, sql::mysql_server_version(),
                      server_caps | (cfg->tls ? mysql::client_ssl : 0)));
  self->delayed_send(self, cfg->connect_timeout, login_due_atom::value);
  return {
    [self](const caf::io::new_data_msg& msg) { on_bytes(self, msg.buf); },
    [self](const caf::io::connection_closed_msg&) {
      end_connection(self, false);
    },
    [self](login_due_atom) {
      auto& st = self->state;
      if (st.at == phase::greeting || st.at == phase::auth_switch)
        fail(self, 1159,
             "Got timeout reading communication packets: no login within "
               + std::to_string(std::chrono::duration_cast<
                                  std::chrono::milliseconds>(
                                  st.cfg->connect_timeout)
                                  .count())
               + " ms of connecting");
    },
    [self](wake_atom) {
      auto& st = self->state;
      if (st.at == phase::closed || !st.after_sleep)
        return;
      auto then = std::move(st.after_sleep);
      st.after_sleep = nullptr;
      then();
    },
  };
}

} // namespace

caf::actor fork_mysql_connection(caf::io::broker* listener,
                                 caf::io::connection_handle hdl,
                                 std::shared_ptr<const mysql_server_config> cfg,
                                 uint32_t id, bool refuse) {
  return listener->fork(connection, hdl, std::move(cfg), id, refuse);
}

} // namespace lg
