#include "sql/result_proto.hpp"

namespace lg {

pb::ResultSet make_table(const std::vector<std::string>& columns,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::string& message) {
  pb::ResultSet rs;
  for (auto& c : columns)
    rs.add_columns(c);
  for (auto& row : rows) {
    auto* r = rs.add_rows();
    for (auto& cell : row)
      r->add_cells(cell);
  }
  rs.set_message(message);
  return rs;
}

pb::ResultSet make_message(const std::string& message) {
  pb::ResultSet rs;
  rs.set_message(message);
  return rs;
}

pb::ResultSet make_failure(sql::errc code, const std::string& message) {
  pb::ResultSet rs;
  rs.set_error_code(sql::code_of(code));
  rs.set_error(message);
  return rs;
}

sql::result_set to_result_set(const pb::ResultSet& rs) {
  sql::result_set result;
  result.columns.assign(rs.columns().begin(), rs.columns().end());
  for (auto& row : rs.rows())
    result.rows.emplace_back(row.cells().begin(), row.cells().end());
  result.message = rs.message();
  return result;
}

std::string render(const pb::ResultSet& rs) {
  if (rs.error_code() != 0)
    return sql::render_error(rs.error_code(), rs.error());
  return sql::render(to_result_set(rs));
}

std::string rows_affected(uint64_t n) {
  return "Query OK, " + std::to_string(n) + (n == 1 ? " row" : " rows")
         + " affected";
}

pb::ResultSet statement_result(const pb::Envelope* reply,
                               const std::string& text) {
  if (reply != nullptr && reply->has_statement_reply())
    return reply->statement_reply().result();
  return make_failure(sql::errc::timeout, "no answer to '" + text + "'");
}

} // namespace lg
