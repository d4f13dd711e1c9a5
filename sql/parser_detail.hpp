// The parser's token machinery, shared by the files that parse statements
// (parser.cpp, parser_users.cpp). Internal to lg_sql: nothing outside sql/
// includes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "sql/ast.hpp"
#include "sql/parser.hpp"

namespace lg::sql::detail {

// -- characters ---------------------------------------------------------------

bool is_space(char c);

/// True for [A-Za-z_], the characters that may open a bare identifier.
bool is_alpha(char c);

bool is_digit(char c);

bool is_control(char c);

/// True for a UTF-8 continuation byte (10xxxxxx).
bool is_continuation(char c);

char to_upper(char c);

/// Compares two ASCII strings ignoring case.
bool iequals(std::string_view a, std::string_view b);

/// Returns `raw` made printable and short enough for an error message.
std::string shown(std::string_view raw);

/// Returns the 1-based character (code point) position of byte `offset`.
size_t char_position(std::string_view src, size_t offset);

/// Returns the number of characters (code points) of `s`.
size_t char_count(std::string_view s);

// -- tokens -------------------------------------------------------------------

enum class token_kind {
  word,   ///< a bare keyword or identifier
  ident,  ///< a `backquoted` identifier
  string, ///< a '...' or "..." literal
  number, ///< decimal digits, maybe with a fraction
  symbol, ///< any other single character
  end,    ///< end of input
  bad,    ///< a lexical error; `text` holds the message
};

/// One lexical unit and where it came from.
struct token {
  token_kind kind = token_kind::end;
  size_t offset = 0;    ///< byte offset in the source
  std::string_view raw; ///< the source text
  std::string text;     ///< unescaped text of strings and identifiers
};

/// Splits a statement into tokens, stopping at the first lexical error: the
/// result ends with an `end` or a `bad` token.
std::vector<token> tokenize(std::string_view src);

/// Carries a parse error out of the recursive descent to parse().
struct parse_failure {
  lg::error err;
};

// -- cursor -------------------------------------------------------------------

/// Reads the tokens of one statement and parses the values every statement
/// shares (names, numbers, strings, leaf addresses). Errors are thrown as
/// parse_failure and name the offending token and its position.
class token_cursor {
public:
  explicit token_cursor(std::string_view src);

  /// Returns the token `ahead` places on; throws at a lexical error.
  const token& peek(size_t ahead = 0) const;

  /// Consumes and returns the current token.
  const token& next();

  static bool is_keyword(const token& t, std::string_view kw);

  static bool is_symbol(const token& t, char c);

  /// Consumes the keyword `kw` if it comes next.
  bool accept(std::string_view kw);

  /// Consumes the keyword `kw` or fails naming it.
  void expect(const char* kw);

  /// Consumes one of `kws` and returns its index, or fails naming them all.
  size_t expect_one_of(std::initializer_list<const char*> kws);

  /// Consumes the symbol `c` if it comes next.
  bool accept_symbol(char c);

  /// Consumes the symbol `c` or fails saying `expected`.
  void expect_symbol(char c, const std::string& expected);

  /// Fails unless the statement ends here; `options` are what else fits.
  void expect_end_or(const std::string& options) const;

  /// Throws a syntax error: "near '<t>' at position N: expected <expected>".
  [[noreturn]] void fail(const token& t, const std::string& expected) const;

  /// Throws a bad_value error with `msg`.
  [[noreturn]] static void bad_value(std::string msg);

  /// Returns the 1-based character position of `t`, for messages.
  size_t position_of(const token& t) const;

  /// Parses an identifier naming `what` (e.g. "database name").
  std::string parse_name(const char* what);

  /// Parses an unsigned integer in [lo, hi]; `range` words the bounds.
  uint64_t parse_integer(const char* what, uint64_t lo, uint64_t hi,
                         const std::string& range);

  /// Parses a quoted string; fails saying `expected` at anything else.
  std::string parse_string(const char* expected);

  /// Parses 'host':port.
  leaf_address parse_leaf_address();

  /// Parses a number (maybe negative) or a string as text.
  std::string parse_literal_value(const std::string& expected);

private:
  std::string_view src_;
  std::vector<token> toks_;
  size_t pos_ = 0;
};

// -- statements of other files ------------------------------------------------

/// Parses the rest of CREATE USER, after the keyword USER.
create_user parse_create_user(token_cursor& in);

/// Parses the rest of DROP USER, after the keyword USER.
drop_user parse_drop_user(token_cursor& in);

/// Parses the rest of GRANT (revoke = false) or REVOKE, after the keyword.
grant_privileges parse_grant(token_cursor& in, bool revoke);

/// Parses the rest of SHOW GRANTS, after the keyword GRANTS.
show_grants parse_show_grants(token_cursor& in);

} // namespace lg::sql::detail
