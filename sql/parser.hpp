// The statement parser: text in, statements or a clear error out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "sql/ast.hpp"

namespace lg::sql {

/// Error codes follow MySQL/SingleStore numbering where one exists.
enum class errc {
  syntax_error,     ///< ERROR 1064
  bad_value,        ///< ERROR 1231: a value out of range or of the wrong kind
  unknown_database, ///< ERROR 1049
  database_exists,  ///< ERROR 1007
  unknown_leaf,     ///< ERROR 1911: no such leaf in the cluster
  leaf_exists,      ///< ERROR 1912: the leaf is already in the cluster
  unknown_variable, ///< ERROR 1193
  partition_offline,///< ERROR 1913: a partition has no online master
  not_supported,    ///< ERROR 1235: e.g. a test-cluster statement on nodes
  timeout,          ///< ERROR 2013: a request outlived its timeout
  conflict,         ///< ERROR 1914: the cluster state forbids the command
  internal,         ///< ERROR 1815
  io_error,         ///< ERROR 1026: a file could not be written
  access_denied,    ///< ERROR 1045: wrong user or password
  missing_privilege,///< ERROR 1227: the user lacks a needed privilege
  user_operation_failed, ///< ERROR 1396: e.g. CREATE USER of an existing user
};

const char* to_string(errc code);

/// Returns the numeric code printed as `ERROR <code>: <message>`.
int code_of(errc code);

LG_MODULE_ERRORS("sql", errc)

/// One statement with the source text it was parsed from.
struct parsed_statement {
  statement stmt;
  std::string text; ///< trimmed, without the trailing ';'
};

/// Splits `script` at top-level ';' (not inside quotes, ignoring `-- ...`
/// and `# ...` comments to end of line) and returns the non-empty pieces,
/// trimmed.
std::vector<std::string> split_statements(std::string_view script);

/// Parses exactly one statement (a trailing ';' is allowed). Keywords are
/// case-insensitive; identifiers are [A-Za-z_][A-Za-z0-9_]* or `backquoted`;
/// strings are '...' with '' and \' as escapes. Errors are sql.syntax_error
/// or sql.bad_value and name the offending token and its position, e.g.
/// "near 'FORM' at position 9: expected FROM".
result<statement> parse(std::string_view text);

} // namespace lg::sql
