// Parsing the user-management statements, in MySQL's syntax (SingleStore
// takes it over): CREATE USER, DROP USER, GRANT, REVOKE and SHOW GRANTS.
// parser.cpp dispatches here after the statement's first keywords.
#include <cstddef>
#include <string>
#include <vector>

#include "sql/parser_detail.hpp"

namespace lg::sql::detail {

namespace {

// MySQL's limits: user names up to 32 characters, host names up to 255.
constexpr size_t max_user_chars = 32;
constexpr size_t max_host_chars = 255;

/// Parses one half of an account ('quoted', bare or `backquoted`) naming
/// `what`, which must not be empty.
std::string parse_account_part(token_cursor& in, const std::string& what,
                               size_t max_chars, const std::string& expected) {
  const auto& t = in.peek();
  if (t.kind != token_kind::word && t.kind != token_kind::ident
      && t.kind != token_kind::string)
    in.fail(t, expected);
  if (t.text.empty())
    token_cursor::bad_value("empty " + what + " at position "
                            + std::to_string(in.position_of(t)));
  for (char c : t.text)
    if (is_control(c))
      token_cursor::bad_value(what + " '" + shown(t.text)
                              + "' contains a control character");
  if (char_count(t.text) > max_chars)
    token_cursor::bad_value(what + " '" + shown(t.text)
                            + "' is too long: at most "
                            + std::to_string(max_chars) + " characters");
  return in.next().text;
}

/// Parses 'user'[@'host'].
user_name parse_account(token_cursor& in) {
  user_name out;
  out.user = parse_account_part(in, "user name", max_user_chars,
                                "a user name ('user'@'host')");
  if (in.accept_symbol('@'))
    out.host = parse_account_part(in, "host name", max_host_chars,
                                  "a host name after '@'");
  return out;
}

/// Parses the privilege list of GRANT or REVOKE: ALL [PRIVILEGES] alone, or
/// single privileges separated by commas.
std::vector<privilege> parse_privileges(token_cursor& in) {
  static constexpr privilege by_index[] = {
    privilege::select, privilege::insert,  privilege::delete_,
    privilege::create, privilege::drop,    privilege::cluster,
  };
  std::vector<privilege> out;
  auto first = in.expect_one_of(
    {"SELECT", "INSERT", "DELETE", "CREATE", "DROP", "CLUSTER", "ALL"});
  if (first == 6) {
    if (!in.accept("PRIVILEGES") && !token_cursor::is_keyword(in.peek(), "ON"))
      in.fail(in.peek(), "PRIVILEGES or ON");
    out.push_back(privilege::all);
    return out;
  }
  out.push_back(by_index[first]);
  while (in.accept_symbol(',')) {
    auto i = in.expect_one_of(
      {"SELECT", "INSERT", "DELETE", "CREATE", "DROP", "CLUSTER"});
    out.push_back(by_index[i]);
  }
  return out;
}

/// Parses the ON target: *.* (returns "") or db.* (returns db).
std::string parse_grant_target(token_cursor& in) {
  const auto& t = in.peek();
  if (in.accept_symbol('*')) {
    in.expect_symbol('.', "'.*' after '*' (*.* is every database)");
    in.expect_symbol('*', "'*' after '*.'");
    return {};
  }
  if (t.kind != token_kind::word && t.kind != token_kind::ident)
    in.fail(t, "*.* or a database (db.*)");
  auto database = in.parse_name("database name");
  in.expect_symbol('.', "'.*' after the database name");
  in.expect_symbol('*', "'*': privileges apply to whole databases (db.*)");
  return database;
}

} // namespace

create_user parse_create_user(token_cursor& in) {
  create_user out;
  if (in.accept("IF")) {
    in.expect("NOT");
    in.expect("EXISTS");
    out.if_not_exists = true;
  }
  out.user = parse_account(in);
  in.expect("IDENTIFIED");
  in.expect("BY");
  out.password = in.parse_string("a quoted password");
  return out;
}

drop_user parse_drop_user(token_cursor& in) {
  drop_user out;
  if (in.accept("IF")) {
    in.expect("EXISTS");
    out.if_exists = true;
  }
  out.user = parse_account(in);
  return out;
}

grant_privileges parse_grant(token_cursor& in, bool revoke) {
  grant_privileges out;
  out.revoke = revoke;
  out.privileges = parse_privileges(in);
  in.expect("ON");
  out.database = parse_grant_target(in);
  if (!out.database.empty())
    for (auto p : out.privileges)
      if (p == privilege::cluster)
        token_cursor::bad_value(
          "CLUSTER is a global privilege: grant it ON *.*");
  in.expect(revoke ? "FROM" : "TO");
  out.user = parse_account(in);
  return out;
}

show_grants parse_show_grants(token_cursor& in) {
  show_grants out;
  if (!in.accept("FOR")) {
    in.expect_end_or("FOR");
    return out;
  }
  // As in MySQL, FOR CURRENT_USER [()] names the session's own account.
  if (in.accept("CURRENT_USER")) {
    if (in.accept_symbol('('))
      in.expect_symbol(')', "')'");
    return out;
  }
  out.user = parse_account(in);
  return out;
}

} // namespace lg::sql::detail
