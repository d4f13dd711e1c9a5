#include "sql/client_queries.hpp"

#include "sql/parser.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace lg::sql {

namespace {

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.front()))))
    s.remove_prefix(1);
  while (!s.empty()
         && (std::isspace(static_cast<unsigned char>(s.back()))
             || s.back() == ';'))
    s.remove_suffix(1);
  return s;
}

/// Collapses runs of blanks into one space, outside quotes.
std::string squeeze(std::string_view s) {
  std::string out;
  char quote = 0;
  for (char c : s) {
    if (quote != 0) {
      out += c;
      if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`')
      quote = c;
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ')
        out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

client_answer one_row(std::vector<std::string> columns,
                      std::vector<std::optional<std::string>> row) {
  client_answer a;
  a.columns = std::move(columns);
  a.rows.push_back(std::move(row));
  return a;
}

client_answer ok() {
  return {};
}

client_answer failure(int code, std::string why) {
  client_answer a;
  a.error_code = code;
  a.error = std::move(why);
  return a;
}

/// The value of system variable `name` (lower case, without @@ and scope).
std::optional<std::string> variable(const std::string& name,
                                    const client_context& ctx) {
  static const std::map<std::string, std::string> fixed{
    {"version_comment", "leafguard"},
    {"autocommit", "1"},
    {"sql_mode", ""},
    {"character_set_client", "utf8mb4"},
    {"character_set_connection", "utf8mb4"},
    {"character_set_results", "utf8mb4"},
    {"character_set_server", "utf8mb4"},
    {"collation_connection", "utf8mb4_general_ci"},
    {"collation_server", "utf8mb4_general_ci"},
    {"transaction_isolation", "READ-COMMITTED"},
    {"tx_isolation", "READ-COMMITTED"},
    {"transaction_read_only", "0"},
    {"tx_read_only", "0"},
    {"lower_case_table_names", "0"},
    {"time_zone", "SYSTEM"},
    {"system_time_zone", "UTC"},
    {"wait_timeout", "28800"},
    {"interactive_timeout", "28800"},
    {"net_write_timeout", "60"},
    {"net_buffer_length", "16384"},
    {"license", "leafguard"},
  };
  if (name == "version")
    return std::string{mysql_server_version()};
  if (name == "max_allowed_packet")
    return std::to_string(ctx.max_packet);
  if (auto i = fixed.find(name); i != fixed.end())
    return i->second;
  return std::nullopt;
}

/// Splits a select list at top-level commas.
std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : s) {
    if (c == '(')
      ++depth;
    if (c == ')')
      --depth;
    if (c == ',' && depth == 0) {
      out.emplace_back(trim(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.emplace_back(trim(cur));
  return out;
}

/// One item of a SELECT list: its value, or nullopt when it is none of
/// those answered here. `column` gets its heading.
std::optional<std::optional<std::string>>
select_item(std::string_view item, const client_context& ctx,
            std::string& column) {
  std::string text{trim(item)};
  std::string alias;
  auto low = lower(text);
  if (auto as = low.rfind(" as "); as != std::string::npos) {
    alias = std::string{trim(std::string_view{text}.substr(as + 4))};
    if (alias.size() >= 2 && (alias.front() == '`' || alias.front() == '\''))
      alias = alias.substr(1, alias.size() - 2);
    text = std::string{trim(std::string_view{text}.substr(0, as))};
    low = lower(text);
  }
  column = alias.empty() ? text : alias;
  if (starts_with(low, "@@")) {
    auto name = low.substr(2);
    for (auto scope : {"session.", "global.", "local."})
      if (starts_with(name, scope))
        name = name.substr(std::string_view{scope}.size());
    auto v = variable(name, ctx);
    if (!v)
      return std::nullopt;
    return std::optional<std::string>{*v};
  }
  if (low == "database()" || low == "schema()") {
    if (ctx.database.empty())
      return std::optional<std::string>{};
    return std::optional<std::string>{ctx.database};
  }
  if (low == "user()" || low == "current_user()" || low == "current_user"
      || low == "session_user()" || low == "system_user()")
    return std::optional<std::string>{ctx.user + "@" + ctx.host};
  if (low == "version()")
    return std::optional<std::string>{mysql_server_version()};
  if (low == "connection_id()")
    return std::optional<std::string>{std::to_string(ctx.connection_id)};
  if (!low.empty() && low.size() < 19
      && std::all_of(low.begin(), low.end(),
                     [](char c) { return std::isdigit(
                                    static_cast<unsigned char>(c)); }))
    return std::optional<std::string>{low};
  return std::nullopt;
}

std::optional<client_answer> answer_select(const std::string& text,
                                           const client_context& ctx) {
  // "select <list> [limit n]", nothing else (no FROM: that is the cluster's).
  std::string body = text.substr(7);
  auto low = lower(body);
  if (auto lim = low.rfind(" limit "); lim != std::string::npos) {
    auto rest = low.substr(lim + 7);
    if (!rest.empty()
        && std::all_of(rest.begin(), rest.end(), [](char c) {
             return std::isdigit(static_cast<unsigned char>(c));
           }))
      body = body.substr(0, lim);
  }
  if (lower(body).find(" from ") != std::string::npos)
    return std::nullopt;
  client_answer a;
  a.rows.emplace_back();
  for (auto& item : split_list(body)) {
    std::string column;
    auto value = select_item(item, ctx, column);
    if (!value)
      return std::nullopt;
    a.columns.push_back(column);
    a.rows.back().push_back(*value);
  }
  return a;
}

} // namespace

const char* mysql_server_version() {
  return "8.0.34-leafguard";
}

std::optional<client_answer> answer_client_query(std::string_view text,
                                                 const client_context& ctx) {
  auto s = squeeze(trim(text));
  auto low = lower(s);
  if (starts_with(low, "select "))
    return answer_select(s, ctx);
  if (starts_with(low, "set ")) {
    if (starts_with(low, "set global ") || starts_with(low, "set @@global."))
      return std::nullopt;
    return ok();
  }
  if (low == "show warnings" || low == "show errors"
      || starts_with(low, "show warnings limit")
      || starts_with(low, "show errors limit")) {
    client_answer a;
    a.columns = {"Level", "Code", "Message"};
    return a;
  }
  if (low == "commit" || low == "begin" || low == "start transaction"
      || low == "commit work")
    return ok();
  if (low == "rollback" || low == "rollback work")
    return failure(1235, "leafguard has no transactions: each statement was "
                         "committed when it was acknowledged, and nothing "
                         "was rolled back");
  if (starts_with(low, "sleep ")) {
    // The parser's rules (a whole number of ms, bounded), so that SLEEP
    // means here what it means in the console.
    auto parsed = parse(s);
    if (!parsed.ok())
      return std::nullopt; // the cluster reports the error
    if (auto* sleep = std::get_if<sleep_stmt>(&*parsed)) {
      client_answer a;
      a.sleep_ms = std::max<uint64_t>(sleep->ms, 1);
      return a;
    }
    return std::nullopt;
  }
  if (starts_with(low, "use ")) {
    client_answer a;
    auto db = std::string{trim(std::string_view{s}.substr(4))};
    if (db.size() >= 2 && db.front() == '`' && db.back() == '`')
      db = db.substr(1, db.size() - 2);
    a.use_database = db;
    return a;
  }
  return std::nullopt;
}

} // namespace lg::sql
