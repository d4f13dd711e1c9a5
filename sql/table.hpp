// MySQL-client-style result tables and messages.
#pragma once

#include <string>
#include <vector>

namespace lg::sql {

/// A statement's result: a table, a message, or both empty ("Query OK").
struct result_set {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::string message; ///< e.g. "Query OK, 3 rows affected"
};

/// Renders `rs` as the mysql client does:
///   +-----+-------+
///   | Key | Value |
///   +-----+-------+
///   | a   | 1     |
///   +-----+-------+
///   1 row in set
/// A result without columns renders its message only ("Query OK, ..."). An
/// empty table renders "Empty set".
std::string render(const result_set& rs);

/// Renders an error line: `ERROR <code>: <message>`.
std::string render_error(int code, const std::string& message);

} // namespace lg::sql
