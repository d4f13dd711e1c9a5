// What a MySQL client asks about its own connection, answered where the
// connection is, without the cluster: drivers and the `mariadb` console
// send these on connect and between statements.
//
//   1. `SELECT @@var[, @@var ...] [LIMIT n]`, `SELECT DATABASE()`,
//      `USER()`, `CURRENT_USER()`, `VERSION()`, `CONNECTION_ID()` and
//      `SELECT <integer>`: one row, from the connection's context.
//   2. `SET NAMES ...`, `SET CHARACTER SET ...`, `SET [SESSION]
//      autocommit|sql_mode|time_zone|... = ...`: OK, nothing changes
//      (every statement commits when it is acknowledged).
//   3. `SHOW WARNINGS` / `SHOW ERRORS`: empty (leafguard raises none).
//   4. `COMMIT`, `BEGIN`, `START TRANSACTION`: OK. `ROLLBACK`: an error,
//      since nothing can be rolled back.
//   5. `USE db`: the connection checks the database and switches to it.
//   6. `SLEEP ms`: the connection waits, as the console does.
// Anything else (`SET GLOBAL` too) goes to the cluster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::sql {

/// What a MySQL connection knows of itself.
struct client_context {
  std::string database; ///< empty when none (DATABASE() is NULL)
  std::string user;
  std::string host;
  uint32_t connection_id = 0;
  uint32_t max_packet = 0;
};

/// An answer made at the connection.
struct client_answer {
  std::vector<std::string> columns; ///< empty: an OK packet
  std::vector<std::vector<std::optional<std::string>>> rows;
  int error_code = 0; ///< non-zero: an ERR packet
  std::string error;
  std::string use_database; ///< set for USE db (step 5)
  uint64_t sleep_ms = 0;    ///< set for SLEEP ms (step 6)
};

/// The version a leafguard MySQL port reports.
const char* mysql_server_version();

/// The answer to `text` (one statement) at the connection, or nullopt
/// when the cluster must run it.
std::optional<client_answer> answer_client_query(std::string_view text,
                                                 const client_context& ctx);

} // namespace lg::sql
