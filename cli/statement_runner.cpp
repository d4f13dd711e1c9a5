#include "cli/statement_runner.hpp"

#include <cstdlib>
#include <iostream>

#include <editline/readline.h>

#include "sql/result_proto.hpp"
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

namespace {

/// The history file of interactive sessions (~/.leafguard_history).
std::string history_path() {
  const char* home = std::getenv("HOME");
  return home == nullptr ? std::string{} : std::string{home}
                                             + "/.leafguard_history";
}

/// Reads one line: with line editing and history (libedit) on a terminal,
/// plain getline otherwise.
bool read_line(std::istream& in, bool interactive, const char* prompt,
               std::string& line) {
  if (!interactive)
    return static_cast<bool>(std::getline(in, line));
  char* text = readline(prompt);
  if (text == nullptr)
    return false;
  line = text;
  if (!line.empty())
    add_history(text);
  std::free(text);
  return true;
}

} // namespace

int run_stream(std::istream& in, bool interactive, const statement_fn& run) {
  int failures = 0;
  std::string buf;
  std::string line;
  auto history = history_path();
  if (interactive) {
    using_history();
    if (!history.empty())
      read_history(history.c_str());
  }
  for (;;) {
    if (!read_line(in, interactive,
                   buf.empty() ? "leafguard> " : "        -> ", line))
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
  if (interactive && !history.empty())
    write_history(history.c_str());
  return failures;
}

} // namespace lg
