// The statement language's characters and tokens: the tokenizer the parser
// reads, and split_statements, which cuts a script at its top-level ';'.
#include "sql/parser_detail.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace lg::sql {
namespace detail {

namespace {

// Keeps error messages readable when the offending token is huge.
constexpr size_t max_shown_chars = 40;

/// Returns the length of the well-formed UTF-8 sequence at `s[i]`, or 0.
size_t utf8_length(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  if (b < 0x80)
    len = 1;
  else if ((b >> 5) == 0x6)
    len = 2;
  else if ((b >> 4) == 0xE)
    len = 3;
  else if ((b >> 3) == 0x1E)
    len = 4;
  if (len == 0 || i + len > s.size())
    return 0;
  for (size_t k = 1; k < len; ++k)
    if (!is_continuation(s[i + k]))
      return 0;
  return len;
}

/// Returns true when a `#` or `-- ` comment starts at `s[i]`.
bool comment_at(std::string_view s, size_t i) {
  if (s[i] == '#')
    return true;
  // As in MySQL, "--" only opens a comment when followed by a space or a
  // control character, so that "x--1" stays an expression.
  return s[i] == '-' && i + 1 < s.size() && s[i + 1] == '-'
         && (i + 2 == s.size() || is_space(s[i + 2]) || is_control(s[i + 2]));
}

/// Returns the index of the end of the line that contains `s[i]`.
size_t end_of_line(std::string_view s, size_t i) {
  while (i < s.size() && s[i] != '\n')
    ++i;
  return i;
}

std::string_view trim(std::string_view s) {
  size_t first = 0;
  while (first < s.size() && is_space(s[first]))
    ++first;
  size_t last = s.size();
  while (last > first && is_space(s[last - 1]))
    --last;
  return s.substr(first, last - first);
}

} // namespace

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
         || c == '\f';
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_control(char c) {
  auto b = static_cast<unsigned char>(c);
  return b < 0x20 || b == 0x7f;
}

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

char to_upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (to_upper(a[i]) != to_upper(b[i]))
      return false;
  return true;
}

/// Returns `raw` made printable and short enough for an error message.
std::string shown(std::string_view raw) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  size_t chars = 0;
  size_t i = 0;
  while (i < raw.size()) {
    if (chars == max_shown_chars) {
      out += "...";
      break;
    }
    auto len = utf8_length(raw, i);
    if (len == 0 || (len == 1 && is_control(raw[i]))) {
      auto b = static_cast<unsigned char>(raw[i]);
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 0xF];
      len = 1;
    } else {
      out.append(raw.substr(i, len));
    }
    i += len;
    ++chars;
  }
  return out;
}

/// Returns the 1-based character (code point) position of byte `offset`.
size_t char_position(std::string_view src, size_t offset) {
  size_t pos = 1;
  for (size_t i = 0; i < offset && i < src.size(); ++i)
    if (!is_continuation(src[i]))
      ++pos;
  return pos;
}

size_t char_count(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if (!is_continuation(c))
      ++n;
  return n;
}

namespace {

/// Splits a statement into tokens, stopping at the first lexical error.
class tokenizer {
public:
  explicit tokenizer(std::string_view src) : src_(src) {
  }

  /// Returns every token, ending with an `end` or a `bad` token.
  std::vector<token> run() {
    std::vector<token> out;
    for (;;) {
      skip_blanks();
      if (pos_ >= src_.size()) {
        out.push_back(make(token_kind::end, pos_));
        return out;
      }
      out.push_back(next());
      if (out.back().kind == token_kind::bad)
        return out;
    }
  }

private:
  void skip_blanks() {
    while (pos_ < src_.size()) {
      if (is_space(src_[pos_]))
        ++pos_;
      else if (comment_at(src_, pos_))
        pos_ = end_of_line(src_, pos_);
      else
        return;
    }
  }

  token make(token_kind kind, size_t start) {
    token t;
    t.kind = kind;
    t.offset = start;
    t.raw = src_.substr(start, pos_ - start);
    return t;
  }

  token next() {
    auto start = pos_;
    char c = src_[pos_];
    if (is_alpha(c)) {
      while (pos_ < src_.size()
             && (is_alpha(src_[pos_]) || is_digit(src_[pos_])))
        ++pos_;
      auto t = make(token_kind::word, start);
      t.text = std::string{t.raw};
      return t;
    }
    if (is_digit(c)) {
      while (pos_ < src_.size() && is_digit(src_[pos_]))
        ++pos_;
      if (pos_ + 1 < src_.size() && src_[pos_] == '.'
          && is_digit(src_[pos_ + 1])) {
        ++pos_;
        while (pos_ < src_.size() && is_digit(src_[pos_]))
          ++pos_;
      }
      auto t = make(token_kind::number, start);
      t.text = std::string{t.raw};
      return t;
    }
    if (c == '\'' || c == '"')
      return quoted(token_kind::string, "string");
    if (c == '`')
      return quoted(token_kind::ident, "identifier");
    // A non-ASCII character is one token, so that messages show it whole.
    auto len = utf8_length(src_, pos_);
    pos_ += len == 0 ? 1 : len;
    auto t = make(token_kind::symbol, start);
    t.text = std::string{t.raw};
    return t;
  }

  token quoted(token_kind kind, const char* what) {
    auto start = pos_;
    char quote = src_[pos_++];
    std::string text;
    for (;;) {
      if (pos_ >= src_.size()) {
        auto t = make(token_kind::bad, start);
        t.text = std::string{"unterminated "} + what + " starting at position "
                 + std::to_string(char_position(src_, start));
        return t;
      }
      char c = src_[pos_];
      if (c == quote) {
        if (pos_ + 1 < src_.size() && src_[pos_ + 1] == quote) {
          text += quote;
          pos_ += 2;
          continue;
        }
        ++pos_;
        auto t = make(kind, start);
        t.text = std::move(text);
        return t;
      }
      if (c == '\\' && kind == token_kind::string) {
        if (pos_ + 1 >= src_.size()) {
          ++pos_;
          continue; // reported as unterminated on the next round
        }
        append_escape(text, src_[pos_ + 1]);
        pos_ += 2;
        continue;
      }
      text += c;
      ++pos_;
    }
  }

  /// Appends the character that `\c` stands for, as MySQL reads it.
  static void append_escape(std::string& out, char c) {
    switch (c) {
      case '0':
        out += '\0';
        break;
      case 'b':
        out += '\b';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'Z':
        out += '\x1a';
        break;
      case '%':
      case '_':
        // MySQL keeps the backslash so that LIKE patterns still see it.
        out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }

  std::string_view src_;
  size_t pos_ = 0;
};

} // namespace

std::vector<token> tokenize(std::string_view src) {
  return tokenizer{src}.run();
}

} // namespace detail

std::vector<std::string> split_statements(std::string_view script) {
  using detail::comment_at;
  using detail::end_of_line;
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    auto piece = detail::trim(cur);
    if (!piece.empty())
      out.emplace_back(piece);
    cur.clear();
  };
  char quote = 0;
  size_t i = 0;
  while (i < script.size()) {
    char c = script[i];
    if (quote != 0) {
      cur += c;
      if (c == '\\' && quote != '`' && i + 1 < script.size()) {
        cur += script[i + 1];
        i += 2;
        continue;
      }
      // A doubled quote closes and reopens, which keeps it inside.
      if (c == quote)
        quote = 0;
      ++i;
    } else if (c == '\'' || c == '"' || c == '`') {
      quote = c;
      cur += c;
      ++i;
    } else if (comment_at(script, i)) {
      i = end_of_line(script, i);
    } else if (c == ';') {
      flush();
      ++i;
    } else {
      cur += c;
      ++i;
    }
  }
  flush();
  return out;
}

} // namespace lg::sql
