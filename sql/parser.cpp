#include "sql/parser.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

#include "sql/parser_detail.hpp"

namespace lg::sql {

const char* to_string(errc code) {
  switch (code) {
    case errc::syntax_error:
      return "syntax_error";
    case errc::bad_value:
      return "bad_value";
    case errc::unknown_database:
      return "unknown_database";
    case errc::database_exists:
      return "database_exists";
    case errc::unknown_leaf:
      return "unknown_leaf";
    case errc::leaf_exists:
      return "leaf_exists";
    case errc::unknown_variable:
      return "unknown_variable";
    case errc::partition_offline:
      return "partition_offline";
    case errc::not_supported:
      return "not_supported";
    case errc::timeout:
      return "timeout";
    case errc::conflict:
      return "conflict";
    case errc::internal:
      return "internal";
    case errc::io_error:
      return "io_error";
    case errc::access_denied:
      return "access_denied";
    case errc::missing_privilege:
      return "missing_privilege";
    case errc::user_operation_failed:
      return "user_operation_failed";
  }
  return "unknown";
}

int code_of(errc code) {
  switch (code) {
    case errc::syntax_error:
      return 1064;
    case errc::bad_value:
      return 1231;
    case errc::unknown_database:
      return 1049;
    case errc::database_exists:
      return 1007;
    case errc::unknown_leaf:
      return 1911;
    case errc::leaf_exists:
      return 1912;
    case errc::unknown_variable:
      return 1193;
    case errc::partition_offline:
      return 1913;
    case errc::not_supported:
      return 1235;
    case errc::timeout:
      return 2013;
    case errc::conflict:
      return 1914;
    case errc::internal:
      return 1815;
    case errc::io_error:
      return 1026;
    case errc::access_denied:
      return 1045;
    case errc::missing_privilege:
      return 1227;
    case errc::user_operation_failed:
      return 1396;
  }
  return 1815;
}

namespace detail {

namespace {

// MySQL's limit for database and variable names.
constexpr size_t max_identifier_length = 64;

} // namespace

// -- token_cursor -------------------------------------------------------------

token_cursor::token_cursor(std::string_view src)
  : src_(src), toks_(tokenize(src)) {
}

const token& token_cursor::peek(size_t ahead) const {
  auto idx = std::min(pos_ + ahead, toks_.size() - 1);
  const auto& t = toks_[idx];
  if (t.kind == token_kind::bad)
    throw parse_failure{make_error(errc::syntax_error, t.text)};
  return t;
}

const token& token_cursor::next() {
  const auto& t = peek();
  if (pos_ + 1 < toks_.size())
    ++pos_;
  return t;
}

bool token_cursor::is_keyword(const token& t, std::string_view kw) {
  return t.kind == token_kind::word && iequals(t.raw, kw);
}

bool token_cursor::is_symbol(const token& t, char c) {
  return t.kind == token_kind::symbol && t.raw.size() == 1 && t.raw[0] == c;
}

bool token_cursor::accept(std::string_view kw) {
  if (!is_keyword(peek(), kw))
    return false;
  next();
  return true;
}

void token_cursor::expect(const char* kw) {
  if (!accept(kw))
    fail(peek(), kw);
}

size_t token_cursor::expect_one_of(std::initializer_list<const char*> kws) {
  size_t idx = 0;
  for (auto kw : kws) {
    if (accept(kw))
      return idx;
    ++idx;
  }
  std::string expected;
  idx = 0;
  for (auto kw : kws) {
    if (idx > 0)
      expected += idx + 1 == kws.size() ? " or " : ", ";
    expected += kw;
    ++idx;
  }
  fail(peek(), expected);
}

bool token_cursor::accept_symbol(char c) {
  if (!is_symbol(peek(), c))
    return false;
  next();
  return true;
}

void token_cursor::expect_symbol(char c, const std::string& expected) {
  if (!accept_symbol(c))
    fail(peek(), expected);
}

void token_cursor::expect_end_or(const std::string& options) const {
  const auto& t = peek();
  if (t.kind != token_kind::end && !is_symbol(t, ';'))
    fail(t, options + " or end of statement");
}

void token_cursor::fail(const token& t, const std::string& expected) const {
  std::string msg;
  if (t.kind == token_kind::end)
    msg = "at end of statement";
  else
    msg = "near '" + shown(t.raw) + "' at position "
          + std::to_string(position_of(t));
  throw parse_failure{
    make_error(errc::syntax_error, msg + ": expected " + expected)};
}

void token_cursor::bad_value(std::string msg) {
  throw parse_failure{make_error(errc::bad_value, std::move(msg))};
}

size_t token_cursor::position_of(const token& t) const {
  return char_position(src_, t.offset);
}

std::string token_cursor::parse_name(const char* what) {
  const auto& t = peek();
  if (t.kind != token_kind::word && t.kind != token_kind::ident)
    fail(t, std::string{"a "} + what);
  if (t.text.empty())
    bad_value(std::string{"empty "} + what + " at position "
              + std::to_string(position_of(t)));
  for (char c : t.text)
    if (is_control(c))
      bad_value(std::string{what} + " '" + shown(t.text)
                + "' contains a control character");
  if (char_count(t.text) > max_identifier_length)
    bad_value(std::string{what} + " '" + shown(t.text) + "' is too long: "
              + "at most " + std::to_string(max_identifier_length)
              + " characters");
  return next().text;
}

uint64_t token_cursor::parse_integer(const char* what, uint64_t lo,
                                     uint64_t hi, const std::string& range) {
  const auto& t = peek();
  if (is_symbol(t, '-') && peek(1).kind == token_kind::number)
    bad_value(std::string{what} + " -" + shown(peek(1).raw)
              + " is out of range: expected " + range);
  if (t.kind != token_kind::number)
    fail(t, std::string{"a number ("} + what + ")");
  if (t.raw.find('.') != std::string_view::npos)
    bad_value(std::string{what} + " " + shown(t.raw)
              + " is not an integer: expected " + range);
  uint64_t value = 0;
  constexpr auto max = std::numeric_limits<uint64_t>::max();
  for (char c : t.raw) {
    auto digit = static_cast<uint64_t>(c - '0');
    value = value > (max - digit) / 10 ? max : value * 10 + digit;
  }
  if (value < lo || value > hi)
    bad_value(std::string{what} + " " + shown(t.raw)
              + " is out of range: expected " + range);
  next();
  return value;
}

std::string token_cursor::parse_string(const char* expected) {
  if (peek().kind != token_kind::string)
    fail(peek(), expected);
  return next().text;
}

leaf_address token_cursor::parse_leaf_address() {
  leaf_address out;
  const auto& t = peek();
  if (t.kind != token_kind::string)
    fail(t, "a leaf address 'host':port");
  if (t.text.empty())
    bad_value("empty host name at position " + std::to_string(position_of(t)));
  out.host = next().text;
  expect_symbol(':', "':' and a port after the host");
  out.port = static_cast<uint16_t>(
    parse_integer("port", 1, 65535, "1 to 65535"));
  return out;
}

std::string token_cursor::parse_literal_value(const std::string& expected) {
  const auto& t = peek();
  if (t.kind == token_kind::string)
    return next().text;
  if (t.kind == token_kind::number)
    return next().text;
  if (is_symbol(t, '-') && peek(1).kind == token_kind::number) {
    next();
    return "-" + next().text;
  }
  fail(t, expected);
}

} // namespace detail

namespace {

using namespace detail;

constexpr uint64_t max_partitions = 65'536;
constexpr uint64_t max_sleep_ms = 86'400'000;

constexpr const char* statement_keywords
  = "a statement (ADD, ATTACH, CHECK, CLEAR, CREATE, DELETE, DESTROY, DETACH, "
    "DROP, EXPLAIN, GRANT, HEAL, INSERT, ISOLATE, KILL, REBALANCE, REMOVE, "
    "RESTART, RESTORE, REVOKE, SELECT, SET, SHOW, SLEEP, START)";

// -- parser -------------------------------------------------------------------

/// A recursive-descent parser over the tokens of one statement.
class parser : public token_cursor {
public:
  explicit parser(std::string_view src) : token_cursor(src) {
  }

  /// Parses one complete statement with an optional trailing ';'.
  statement run() {
    auto stmt = parse_statement();
    accept_symbol(';');
    const auto& t = peek();
    if (t.kind != token_kind::end)
      fail(t, "end of statement");
    return stmt;
  }

private:
  // -- statements -------------------------------------------------------------

  statement parse_statement() {
    const auto& t = peek();
    if (t.kind != token_kind::word)
      fail(t, statement_keywords);
    if (accept("CREATE"))
      return parse_create();
    if (accept("DROP")) {
      if (expect_one_of({"DATABASE", "USER"}) == 1)
        return parse_drop_user(*this);
      return drop_database{parse_name("database name")};
    }
    if (accept("SHOW"))
      return parse_show();
    if (accept("ADD"))
      return parse_add();
    if (accept("SET"))
      return parse_set();
    if (accept("ATTACH"))
      return parse_attach();
    if (accept("DETACH")) {
      expect("LEAF");
      return detach_leaf{parse_leaf_address()};
    }
    if (accept("REMOVE")) {
      if (accept("AGGREGATOR")) {
        return change_aggregator{parse_leaf_address(), false};
      }
      expect_one_of({"LEAF", "AGGREGATOR"});
      remove_leaf out;
      out.leaf = parse_leaf_address();
      out.force = accept("FORCE");
      if (!out.force)
        expect_end_or("FORCE");
      return out;
    }
    if (accept("EXPLAIN"))
      return parse_explain();
    if (accept("CLEAR"))
      return parse_clear(false);
    if (accept("CHECK")) {
      expect("PARTITIONS");
      expect("ON");
      return check_partitions{parse_name("database name")};
    }
    if (accept("REBALANCE"))
      return parse_rebalance(false);
    if (accept("RESTORE"))
      return parse_restore(false);
    if (accept("INSERT"))
      return parse_insert();
    if (accept("SELECT"))
      return parse_select();
    if (accept("DELETE"))
      return parse_delete();
    if (accept("GRANT"))
      return parse_grant(*this, false);
    if (accept("REVOKE"))
      return parse_grant(*this, true);
    if (accept("SLEEP"))
      return sleep_stmt{parse_integer("sleep time", 0, max_sleep_ms,
                                      "0 to 86400000 ms")};
    static constexpr std::pair<const char*, leaf_fault> faults[] = {
      {"START", leaf_fault::start},     {"KILL", leaf_fault::kill},
      {"RESTART", leaf_fault::restart}, {"DESTROY", leaf_fault::destroy},
      {"ISOLATE", leaf_fault::isolate}, {"HEAL", leaf_fault::heal},
    };
    for (const auto& [kw, action] : faults) {
      if (accept(kw)) {
        if (accept("AGGREGATOR")) {
          if (action == leaf_fault::start || action == leaf_fault::destroy)
            fail(t, "KILL, RESTART, ISOLATE or HEAL before AGGREGATOR");
          return leaf_fault_stmt{action, parse_leaf_address(), true};
        }
        expect_one_of({"LEAF", "AGGREGATOR"});
        return leaf_fault_stmt{action, parse_leaf_address()};
      }
    }
    fail(t, statement_keywords);
  }

  statement parse_create() {
    if (expect_one_of({"DATABASE", "USER"}) == 1)
      return parse_create_user(*this);
    create_database out;
    out.name = parse_name("database name");
    for (;;) {
      // SingleStore writes PARTITIONS before WITH; either order is accepted.
      if (!out.partitions && accept("PARTITIONS")) {
        out.partitions = static_cast<uint32_t>(
          parse_integer("partition count", 1, max_partitions, "1 to 65536"));
      } else if (!out.sync_durability && accept("WITH")) {
        out.sync_durability = expect_one_of({"SYNC", "ASYNC"}) == 0;
        expect("DURABILITY");
      } else {
        if (!out.partitions && !out.sync_durability)
          expect_end_or("PARTITIONS, WITH");
        else if (!out.partitions)
          expect_end_or("PARTITIONS");
        else if (!out.sync_durability)
          expect_end_or("WITH");
        return out;
      }
    }
  }

  statement parse_show() {
    switch (expect_one_of({"DATABASES", "LEAVES", "PARTITIONS", "CLUSTER",
                           "VARIABLES", "GLOBAL", "REBALANCE", "AGGREGATORS",
                           "GRANTS", "USERS", "FAILOVERS"})) {
      case 0:
        return show_databases{};
      case 1:
        return show_leaves{};
      case 2:
        expect("ON");
        return show_partitions{parse_name("database name")};
      case 3:
        expect("STATUS");
        return show_cluster_status{};
      case 7:
        return show_aggregators{};
      case 8:
        return parse_show_grants(*this);
      case 9:
        return show_users{};
      case 10:
        return show_failovers{};
      case 5:
        expect("VARIABLES");
        [[fallthrough]];
      case 4: {
        show_variables out;
        if (accept("LIKE"))
          out.like = parse_string("a quoted pattern after LIKE");
        else
          expect_end_or("LIKE");
        return out;
      }
      default:
        expect("STATUS");
        if (!accept("ON"))
          return show_rebalance_status{};
        return show_rebalance_status{parse_name("database name")};
    }
  }

  statement parse_add() {
    if (accept("AGGREGATOR")) {
      return change_aggregator{parse_leaf_address(), true};
    }
    expect_one_of({"LEAF", "AGGREGATOR"});
    add_leaf out;
    out.leaf = parse_leaf_address();
    if (accept("INTO")) {
      expect("GROUP");
      out.group = static_cast<int>(parse_integer("group", 1, 2, "1 or 2"));
    } else {
      expect_end_or("INTO GROUP");
    }
    return out;
  }

  statement parse_set() {
    expect("GLOBAL");
    set_global out;
    out.name = parse_name("variable name");
    expect_symbol('=', "'='");
    const auto& t = peek();
    if (t.kind == token_kind::word) {
      out.value = next().text;
      if (iequals(out.value, "ON") || iequals(out.value, "OFF"))
        for (auto& c : out.value)
          c = to_upper(c);
    } else if (t.kind == token_kind::ident) {
      out.value = next().text;
    } else {
      out.value = parse_literal_value(
        "a value (a number, ON, OFF, a name or a quoted string)");
    }
    return out;
  }

  statement parse_attach() {
    expect("LEAF");
    attach_leaf out;
    if (accept("ALL"))
      return out;
    out.leaf = parse_leaf_address();
    // SingleStore writes FORCE before NO REBALANCE; either order is accepted.
    for (;;) {
      if (!out.force && accept("FORCE")) {
        out.force = true;
      } else if (!out.no_rebalance && accept("NO")) {
        expect("REBALANCE");
        out.no_rebalance = true;
      } else {
        if (!out.force && !out.no_rebalance)
          expect_end_or("FORCE, NO REBALANCE");
        else if (!out.force)
          expect_end_or("FORCE");
        else if (!out.no_rebalance)
          expect_end_or("NO REBALANCE");
        return out;
      }
    }
  }

  statement parse_explain() {
    switch (expect_one_of({"CLEAR", "REBALANCE", "RESTORE"})) {
      case 0:
        return parse_clear(true);
      case 1:
        return parse_rebalance(true);
      default:
        return parse_restore(true);
    }
  }

  statement parse_clear(bool explain) {
    expect("ORPHAN");
    expect("DATABASES");
    return clear_orphan_databases{explain};
  }

  statement parse_rebalance(bool explain) {
    rebalance_partitions out;
    out.explain = explain;
    // EXPLAIN only applies to one database's plan.
    if (explain)
      expect("PARTITIONS");
    else if (expect_one_of({"PARTITIONS", "ALL"}) == 1) {
      expect("DATABASES");
      return out;
    }
    expect("ON");
    out.database = parse_name("database name");
    out.force = accept("FORCE");
    if (!out.force)
      expect_end_or("FORCE");
    return out;
  }

  statement parse_restore(bool explain) {
    expect("REDUNDANCY");
    expect("ON");
    restore_redundancy out;
    out.database = parse_name("database name");
    out.explain = explain;
    return out;
  }

  statement parse_insert() {
    expect("INTO");
    insert_rows out;
    out.database = parse_name("database name");
    expect("VALUES");
    do {
      auto row = out.rows.size() + 1;
      expect_symbol('(', "'(' to open row " + std::to_string(row));
      const auto& key = peek();
      if (key.kind != token_kind::string)
        fail(key, "a quoted key in row " + std::to_string(row));
      if (key.text.empty())
        bad_value("empty key in row " + std::to_string(row)
                  + ": keys must not be empty");
      auto k = next().text;
      expect_symbol(',', "',' and a value after the key in row "
                           + std::to_string(row)
                           + " (rows are ('key', 'value'))");
      auto v = parse_literal_value("a quoted value or a number in row "
                                   + std::to_string(row));
      expect_symbol(')', "')' to close row " + std::to_string(row)
                           + " (rows are ('key', 'value'))");
      out.rows.emplace_back(std::move(k), std::move(v));
    } while (accept_symbol(','));
    return out;
  }

  /// Parses `WHERE key = 'k'` and returns k.
  std::string parse_where_key() {
    expect("WHERE");
    const auto& col = peek();
    if ((col.kind != token_kind::word && col.kind != token_kind::ident)
        || !iequals(col.text, "key"))
      fail(col, "key");
    next();
    expect_symbol('=', "'='");
    return parse_string("a quoted key");
  }

  statement parse_select() {
    if (accept_symbol('*')) {
      expect("FROM");
      select_rows out;
      out.database = parse_name("database name");
      if (is_keyword(peek(), "WHERE"))
        out.key = parse_where_key();
      else
        expect_end_or("WHERE");
      return out;
    }
    if (accept("COUNT")) {
      expect_symbol('(', "'('");
      expect_symbol('*', "'*'");
      expect_symbol(')', "')'");
      expect("FROM");
      return select_count{parse_name("database name")};
    }
    fail(peek(), "'*' or COUNT(*)");
  }

  statement parse_delete() {
    expect("FROM");
    delete_row out;
    out.database = parse_name("database name");
    out.key = parse_where_key();
    return out;
  }

};

} // namespace

result<statement> parse(std::string_view text) {
  try {
    return parser{text}.run();
  } catch (parse_failure& failure) {
    return std::move(failure.err);
  }
}

} // namespace lg::sql
