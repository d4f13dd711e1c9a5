// Building statement results (pb::ResultSet) in every role.
#pragma once

#include <string>
#include <vector>

#include "common.pb.h"
#include "envelope.pb.h"
#include "sql/parser.hpp"
#include "sql/table.hpp"

namespace lg {

/// A table result.
pb::ResultSet make_table(const std::vector<std::string>& columns,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::string& message = {});

/// A result with only a message ("Query OK, 1 row affected").
pb::ResultSet make_message(const std::string& message);

/// An error result: `ERROR <code>: <message>`.
pb::ResultSet make_failure(sql::errc code, const std::string& message);

/// Converts to the renderer's form.
sql::result_set to_result_set(const pb::ResultSet& rs);

/// Renders a result as the console prints it (table, message or error).
std::string render(const pb::ResultSet& rs);

/// "Query OK, N row(s) affected".
std::string rows_affected(uint64_t n);

/// The result a StatementRequest for `text` got: the reply's, or a timeout
/// error when `reply` is null (no answer in time, or refused on the way).
pb::ResultSet statement_result(const pb::Envelope* reply,
                               const std::string& text);

} // namespace lg
