// A minimal blocking MySQL client for bench/mysql: one TCP connection, one
// query at a time, as a MySQL client library (libmariadb, PyMySQL) drives
// a connection. It uses sql/mysql_wire for framing, length-encoded values
// and the mysql_native_password token, and speaks:
//
//   1. The server's handshake v10 (an ERR instead is refused access).
//   2. HandshakeResponse41 with CLIENT_PROTOCOL_41, SECURE_CONNECTION,
//      PLUGIN_AUTH, TRANSACTIONS, MULTI_RESULTS and, when the server offers
//      it, DEPRECATE_EOF; no TLS, no database, no connection attributes.
//   3. An AuthSwitchRequest to mysql_native_password, answered with a token
//      for the new scramble; any other plugin is an error.
//   4. COM_QUERY, answered by OK, ERR or a text result set: column count,
//      column definitions, an EOF unless DEPRECATE_EOF, rows, then an EOF
//      or an OK with header 0xFE. Results flagged "more results exist"
//      are read too, so the connection is ready for the next query.
//
// An ERR packet is an answer, not an error of the client: only a broken
// connection or bytes that are no MySQL protocol are errors.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "sql/mysql_wire.hpp"

namespace lg::bench {

enum class mysql_client_errc {
  connect_failed,  ///< no TCP connection to the server
  io_error,        ///< a send or receive failed or timed out
  closed,          ///< the server closed the connection
  protocol_error,  ///< bytes that are no MySQL protocol, or unsupported
  access_denied,   ///< the server refused the login
};

const char* to_string(mysql_client_errc code);

LG_MODULE_ERRORS("mysql_client", mysql_client_errc)

/// The answer to one query: an OK, an ERR or a text result set.
struct mysql_answer {
  bool failed = false;   ///< an ERR packet
  uint16_t code = 0;     ///< ERR: MySQL's error code
  std::string sqlstate;  ///< ERR: the SQLSTATE
  std::string message;   ///< ERR: the message; OK: its info text
  uint64_t affected = 0; ///< OK: rows affected
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;

  /// The index of column `name` (case-insensitive), -1 if none.
  int column(const std::string& name) const;
};

/// How to reach and log in to a server.
struct mysql_login {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user = "root";
  std::string password;
  /// Takes CLIENT_DEPRECATE_EOF when the server offers it.
  bool deprecate_eof = true;
  /// A send or receive that waits longer is an error.
  int timeout_ms = 30000;
  /// The plugin named in the handshake response. Naming another (say
  /// caching_sha2_password) makes the server switch to
  /// mysql_native_password: how that path is tested.
  std::string plugin = mysql::native_password;
};

/// One logged-in connection to a MySQL server.
class mysql_client {
public:
  /// Connects with TCP_NODELAY and logs in (steps 1-3).
  static result<std::unique_ptr<mysql_client>> connect(const mysql_login& l);

  ~mysql_client();
  mysql_client(const mysql_client&) = delete;
  mysql_client& operator=(const mysql_client&) = delete;

  /// Sends `sql` as COM_QUERY and reads the whole answer (step 4).
  result<mysql_answer> query(const std::string& sql);

  /// The version string of the server's handshake.
  const std::string& server_version() const {
    return server_version_;
  }

  /// The capabilities both sides agreed on.
  uint32_t capabilities() const {
    return capabilities_;
  }

private:
  explicit mysql_client(int fd);

  error send_packet(uint8_t seq, const std::string& payload);
  result<mysql::packet> read_packet();
  error login(const mysql_login& l);
  result<mysql_answer> read_answer(uint16_t& status);

  int fd_;
  mysql::packet_reader reader_;
  std::string server_version_;
  uint32_t capabilities_ = 0;
};

} // namespace lg::bench
