#include "cli/statement_runner.hpp"

#include <iostream>

#include "actors/result.hpp"
#include "sql/parser.hpp"

namespace lg {

int run_script(const std::string& script, const statement_fn& run,
               bool echo) {
  int failures = 0;
  for (auto& stmt : sql::split_statements(script)) {
    if (echo)
      std::cout << "leafguard> " << stmt << ";\n";
    auto rs = run(stmt);
    if (rs.error_code() != 0)
      ++failures;
    std::cout << render(rs) << std::flush;
  }
  return failures;
}

namespace {

/// Returns true when `buf` holds a complete statement: a ';' outside quotes.
bool complete(const std::string& buf) {
  char quote = 0;
  for (size_t i = 0; i < buf.size(); ++i) {
    char c = buf[i];
    if (quote != 0) {
      if (c == '\\' && quote == '\'')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '\'' || c == '`' || c == '"') {
      quote = c;
    } else if (c == '-' && i + 1 < buf.size() && buf[i + 1] == '-') {
      while (i < buf.size() && buf[i] != '\n')
        ++i;
    } else if (c == ';') {
      return true;
    }
  }
  return false;
}

} // namespace

int run_stream(std::istream& in, bool interactive, const statement_fn& run) {
  int failures = 0;
  std::string buf;
  std::string line;
  for (;;) {
    if (interactive)
      std::cout << (buf.empty() ? "leafguard> " : "        -> ") << std::flush;
    if (!std::getline(in, line))
      break;
    if (interactive && buf.empty()) {
      auto t = line;
      while (!t.empty() && (t.back() == ' ' || t.back() == ';'))
        t.pop_back();
      if (t == "quit" || t == "exit" || t == "\\q")
        break;
    }
    buf += line;
    buf += '\n';
    if (complete(buf)) {
      failures += run_script(buf, run);
      buf.clear();
    }
  }
  if (!buf.empty())
    failures += run_script(buf, run);
  return failures;
}

} // namespace lg
