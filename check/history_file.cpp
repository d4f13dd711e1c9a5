#include "check/history_file.hpp"

#include <map>
#include <optional>
#include <sstream>

namespace lg::check {

namespace {

bool plain(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
         || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
         || c == '-';
}

/// `-` for nothing, `=TEXT` with %XX escapes otherwise.
std::string encode(const std::optional<std::string>& text) {
  if (!text)
    return "-";
  static const char* hex = "0123456789ABCDEF";
  std::string out = "=";
  for (unsigned char c : *text) {
    if (plain(static_cast<char>(c))) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/// The inverse of encode(); false when `word` is neither `-` nor `=TEXT`.
bool decode(const std::string& word, std::optional<std::string>& out) {
  if (word == "-") {
    out.reset();
    return true;
  }
  if (word.empty() || word[0] != '=')
    return false;
  std::string text;
  for (size_t i = 1; i < word.size(); ++i) {
    if (word[i] != '%') {
      text += word[i];
      continue;
    }
    int hi = i + 1 < word.size() ? hex_digit(word[i + 1]) : -1;
    int lo = i + 2 < word.size() ? hex_digit(word[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return false;
    text += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  out = std::move(text);
  return true;
}

bool read_time(const std::string& word, int64_t& out) {
  if (word.empty() || word.size() > 18
      || word.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoll(word);
  return true;
}

const char* kind_name(op_kind k) {
  switch (k) {
    case op_kind::put:
      return "put";
    case op_kind::del:
      return "del";
    case op_kind::get:
      break;
  }
  return "get";
}

} // namespace

std::string history_file_header() {
  return "# leafguard history: 'i CLIENT KIND KEY VALUE INVOKED' and "
         "'c CLIENT RESULT COMPLETED VALUE'\n";
}

std::string invocation_line(const operation& op) {
  std::ostringstream out;
  out << "i " << op.client << " " << kind_name(op.kind) << " "
      << encode(op.key) << " "
      << encode(op.kind == op_kind::put ? op.value : std::nullopt) << " "
      << op.invoked << "\n";
  return out.str();
}

std::string completion_line(const operation& op, const std::string& note) {
  std::ostringstream out;
  bool ok = op.result == outcome::ok;
  out << "c " << op.client << " " << (ok ? "ok" : "unknown") << " "
      << op.completed << " "
      << encode(ok && op.kind == op_kind::get ? op.value : std::nullopt);
  if (!note.empty()) {
    out << " # ";
    for (char c : note)
      out << (c == '\n' || c == '\r' ? ' ' : c);
  }
  out << "\n";
  return out.str();
}

loaded_history load_history(std::istream& in) {
  loaded_history h;
  std::map<uint32_t, operation> open; // each client's running operation
  std::string line;
  size_t n = 0;
  auto bad = [&](const std::string& why) {
    h.error = "line " + std::to_string(n) + ": " + why;
    return h;
  };
  while (std::getline(in, line)) {
    ++n;
    if (auto hash = line.find('#'); hash != std::string::npos)
      line.resize(hash);
    std::istringstream words{line};
    std::vector<std::string> w;
    for (std::string word; words >> word;)
      w.push_back(word);
    if (w.empty())
      continue;
    if (w[0] != "i" && w[0] != "c")
      return bad("expected 'i' (invoked) or 'c' (completed), got '" + w[0]
                 + "'");
    if (w.size() != (w[0] == "i" ? 6u : 5u))
      return bad("expected " + std::string{w[0] == "i" ? "6" : "5"}
                 + " fields, got " + std::to_string(w.size()));
    int64_t client = 0;
    if (!read_time(w[1], client) || client > UINT32_MAX)
      return bad("client '" + w[1] + "' is not an unsigned integer");
    auto id = static_cast<uint32_t>(client);
    if (w[0] == "i") {
      if (open.count(id) > 0)
        return bad("client " + w[1]
                   + " invokes an operation while another is running");
      operation op;
      op.client = id;
      if (w[2] == "put")
        op.kind = op_kind::put;
      else if (w[2] == "del")
        op.kind = op_kind::del;
      else if (w[2] == "get")
        op.kind = op_kind::get;
      else
        return bad("kind '" + w[2] + "' is not put, del or get");
      std::optional<std::string> key;
      if (!decode(w[3], key) || !key)
        return bad("key '" + w[3] + "' is not =TEXT");
      op.key = *key;
      if (!decode(w[4], op.value))
        return bad("value '" + w[4] + "' is not - or =TEXT");
      if (op.kind == op_kind::put && !op.value)
        return bad("a put without a value");
      if (!read_time(w[5], op.invoked))
        return bad("time '" + w[5] + "' is not an unsigned integer");
      op.result = outcome::unknown;
      open.emplace(id, std::move(op));
      continue;
    }
    auto it = open.find(id);
    if (it == open.end())
      return bad("client " + w[1] + " completes an operation it never invoked");
    operation op = std::move(it->second);
    open.erase(it);
    if (w[2] == "ok")
      op.result = outcome::ok;
    else if (w[2] == "unknown")
      op.result = outcome::unknown;
    else
      return bad("result '" + w[2] + "' is not ok or unknown");
    if (!read_time(w[3], op.completed) || op.completed < op.invoked)
      return bad("completion time '" + w[3]
                 + "' is not an unsigned integer at or after the invocation");
    std::optional<std::string> read;
    if (!decode(w[4], read))
      return bad("value '" + w[4] + "' is not - or =TEXT");
    if (op.kind == op_kind::get)
      op.value = op.result == outcome::ok ? read : std::nullopt;
    h.ops.push_back(std::move(op));
  }
  for (auto& [client, op] : open) {
    op.completed = op.invoked;
    h.ops.push_back(std::move(op));
    ++h.still_running;
  }
  return h;
}

} // namespace lg::check
