#include "bench/mysql_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace lg::bench {

namespace {

/// A larger answer is refused: the benchmark's answers are a few rows.
constexpr size_t max_answer_packet = 64u << 20;

/// Reads the fields of one payload from the front; a read past the end
/// leaves `ok` false and yields zeros and empty strings.
class cursor {
public:
  explicit cursor(const std::string& s, size_t at = 0) : s_(s), at_(at) {
  }

  bool ok = true;

  bool at_end() const {
    return at_ >= s_.size();
  }

  size_t left() const {
    return at_ < s_.size() ? s_.size() - at_ : 0;
  }

  uint64_t fixed(int bytes) {
    if (left() < static_cast<size_t>(bytes)) {
      ok = false;
      at_ = s_.size();
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(s_[at_ + i]))
           << (8 * i);
    at_ += static_cast<size_t>(bytes);
    return v;
  }

  std::string bytes(size_t n) {
    if (left() < n) {
      ok = false;
      at_ = s_.size();
      return {};
    }
    auto out = s_.substr(at_, n);
    at_ += n;
    return out;
  }

  void skip(size_t n) {
    bytes(n);
  }

  /// A NUL-terminated string; without its NUL, the rest of the payload.
  std::string cstring() {
    auto end = s_.find('\0', at_);
    if (end == std::string::npos)
      return rest();
    auto out = s_.substr(at_, end - at_);
    at_ = end + 1;
    return out;
  }

  std::string rest() {
    auto out = at_ < s_.size() ? s_.substr(at_) : std::string{};
    at_ = s_.size();
    return out;
  }

  /// A length-encoded integer; nullopt for 0xFB (NULL in a row).
  std::optional<uint64_t> lenenc() {
    auto first = static_cast<unsigned char>(fixed(1));
    switch (first) {
      case 0xfb:
        return std::nullopt;
      case 0xfc:
        return fixed(2);
      case 0xfd:
        return fixed(3);
      case 0xfe:
        return fixed(8);
      case 0xff:
        ok = false;
        return 0;
      default:
        return first;
    }
  }

  std::optional<std::string> lenenc_string() {
    auto n = lenenc();
    if (!n)
      return std::nullopt;
    return bytes(static_cast<size_t>(*n));
  }

private:
  const std::string& s_;
  size_t at_;
};

error protocol(const std::string& what) {
  return make_error(mysql_client_errc::protocol_error, what);
}

bool is_err(const std::string& p) {
  return !p.empty() && static_cast<unsigned char>(p[0]) == 0xff;
}

bool is_ok(const std::string& p) {
  return !p.empty() && p[0] == '\0' && p.size() >= 7;
}

/// An EOF packet, or (with DEPRECATE_EOF) the OK with header 0xFE that
/// ends a result set; a row never starts with 0xFE and is this short.
bool is_eof(const std::string& p, bool deprecate_eof) {
  return !p.empty() && static_cast<unsigned char>(p[0]) == 0xfe
         && (deprecate_eof ? p.size() < mysql::max_frame : p.size() < 9);
}

/// Fills `a` from an ERR packet (protocol 4.1: code, '#', SQLSTATE).
void read_err(const std::string& p, mysql_answer& a) {
  cursor c{p, 1};
  a.failed = true;
  a.code = static_cast<uint16_t>(c.fixed(2));
  if (!c.at_end() && p[3] == '#') {
    c.skip(1);
    a.sqlstate = c.bytes(5);
  }
  a.message = c.rest();
}

/// Fills `a` from an OK packet (or an OK with header 0xFE); returns its
/// server status.
uint16_t read_ok(const std::string& p, mysql_answer& a) {
  cursor c{p, 1};
  a.affected = c.lenenc().value_or(0);
  c.lenenc(); // last insert id
  auto status = static_cast<uint16_t>(c.fixed(2));
  c.fixed(2); // warnings
  // The info text: MySQL and MariaDB send it length-encoded, the protocol
  // documents it as the rest of the packet; take either.
  auto info = c.rest();
  cursor i{info};
  auto n = i.lenenc();
  if (i.ok && n && *n == i.left() && *n > 0)
    info = i.rest();
  a.message = std::move(info);
  return status;
}

/// The server status of an EOF packet.
uint16_t read_eof(const std::string& p) {
  cursor c{p, 1};
  c.fixed(2); // warnings
  return static_cast<uint16_t>(c.fixed(2));
}

std::string errno_text() {
  return std::strerror(errno);
}

} // namespace

const char* to_string(mysql_client_errc code) {
  switch (code) {
    case mysql_client_errc::connect_failed:
      return "connect_failed";
    case mysql_client_errc::io_error:
      return "io_error";
    case mysql_client_errc::closed:
      return "closed";
    case mysql_client_errc::protocol_error:
      return "protocol_error";
    case mysql_client_errc::access_denied:
      return "access_denied";
  }
  return "unknown";
}

int mysql_answer::column(const std::string& name) const {
  auto same = [](const std::string& a, const std::string& b) {
    return a.size() == b.size()
           && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                return std::tolower(static_cast<unsigned char>(x))
                       == std::tolower(static_cast<unsigned char>(y));
              });
  };
  for (size_t i = 0; i < columns.size(); ++i)
    if (same(columns[i], name))
      return static_cast<int>(i);
  return -1;
}

mysql_client::mysql_client(int fd) : fd_(fd), reader_(max_answer_packet) {
}

mysql_client::~mysql_client() {
  // COM_QUIT, so that the server sees a client leave, not a broken link.
  send_packet(0, std::string(1, static_cast<char>(mysql::command::quit)));
  ::close(fd_);
}

result<std::unique_ptr<mysql_client>>
mysql_client::connect(const mysql_login& l) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto where = l.host + ":" + std::to_string(l.port);
  if (int rc = getaddrinfo(l.host.c_str(), std::to_string(l.port).c_str(),
                           &hints, &found);
      rc != 0)
    return make_error(mysql_client_errc::connect_failed,
                      where + ": " + gai_strerror(rc));
  int fd = -1;
  std::string why = "no address";
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                  ai->ai_protocol);
    if (fd < 0) {
      why = errno_text();
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    why = errno_text();
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0)
    return make_error(mysql_client_errc::connect_failed, where + ": " + why);
  // One small query and one small answer at a time: Nagle would hold each
  // for the delayed ACK of the one before.
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{};
  tv.tv_sec = l.timeout_ms / 1000;
  tv.tv_usec = (l.timeout_ms % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::unique_ptr<mysql_client> client{new mysql_client(fd)};
  if (auto err = client->login(l))
    return error(err.module(), err.name(), where + ": " + err.detail());
  return client;
}

error mysql_client::send_packet(uint8_t seq, const std::string& payload) {
  auto bytes = mysql::frame(seq, payload);
  size_t at = 0;
  while (at < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return make_error(mysql_client_errc::io_error, "send: " + errno_text());
    }
    at += static_cast<size_t>(n);
  }
  return {};
}

result<mysql::packet> mysql_client::read_packet() {
  for (;;) {
    auto next = reader_.next();
    if (!next.ok())
      return make_error(mysql_client_errc::protocol_error,
                        next.err().detail());
    if (*next)
      return std::move(**next);
    char buf[16384];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0)
      return make_error(mysql_client_errc::closed,
                        "the server closed the connection");
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return make_error(mysql_client_errc::io_error,
                          "no answer within the timeout");
      return make_error(mysql_client_errc::io_error, "recv: " + errno_text());
    }
    reader_.feed(buf, static_cast<size_t>(n));
  }
}

error mysql_client::login(const mysql_login& l) {
  // Step 1: the handshake.
  auto hello = read_packet();
  if (!hello)
    return hello.err();
  if (is_err(hello->payload)) {
    mysql_answer a;
    read_err(hello->payload, a);
    return make_error(mysql_client_errc::access_denied,
                      std::to_string(a.code) + " " + a.message);
  }
  cursor c{hello->payload};
  auto version = c.fixed(1);
  if (version != 10)
    return protocol("handshake protocol " + std::to_string(version)
                    + ", not 10");
  server_version_ = c.cstring();
  c.fixed(4); // connection id
  auto scramble = c.bytes(8);
  c.skip(1);
  uint32_t server_caps = static_cast<uint32_t>(c.fixed(2));
  size_t auth_len = 0;
  std::string plugin;
  if (!c.at_end()) {
    c.fixed(1); // charset
    c.fixed(2); // status
    server_caps |= static_cast<uint32_t>(c.fixed(2)) << 16;
    auth_len = static_cast<size_t>(c.fixed(1));
    c.skip(10);
    if (server_caps & mysql::client_secure_connection) {
      // At least 13 bytes: the rest of the scramble and a NUL.
      auto part2 = c.bytes(std::max<size_t>(13, auth_len > 8 ? auth_len - 8
                                                               : 0));
      scramble += part2.substr(0, part2.find('\0'));
    }
    if (server_caps & mysql::client_plugin_auth)
      plugin = c.cstring();
  }
  if (!c.ok)
    return protocol("the server's handshake is cut short");
  constexpr uint32_t needed = mysql::client_protocol_41
                              | mysql::client_secure_connection;
  if ((server_caps & needed) != needed)
    return protocol("the server speaks neither protocol 4.1 nor secure "
                    "connection auth");
  // Step 2: the answer.
  uint32_t wanted = mysql::client_long_password | mysql::client_long_flag
                    | mysql::client_protocol_41
                    | mysql::client_secure_connection
                    | mysql::client_plugin_auth
                    | mysql::client_transactions
                    | mysql::client_multi_results;
  if (l.deprecate_eof)
    wanted |= mysql::client_deprecate_eof;
  capabilities_ = wanted & server_caps;
  auto token = mysql::native_password_token(l.password, scramble);
  std::string out;
  auto put = [&out](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(capabilities_, 4);
  put(mysql::max_frame, 4); // max packet
  put(33, 1);               // utf8_general_ci
  out.append(23, '\0');
  out += l.user;
  out.push_back('\0');
  out.push_back(static_cast<char>(token.size()));
  out += token;
  if (capabilities_ & mysql::client_plugin_auth) {
    out += l.plugin;
    out.push_back('\0');
  }
  auto seq = static_cast<uint8_t>(hello->seq + 1);
  if (auto err = send_packet(seq, out))
    return err;
  // Step 3: OK, ERR, or a switch to mysql_native_password.
  for (int round = 0; round < 2; ++round) {
    auto reply = read_packet();
    if (!reply)
      return reply.err();
    auto& p = reply->payload;
    if (is_ok(p))
      return {};
    if (is_err(p)) {
      mysql_answer a;
      read_err(p, a);
      return make_error(mysql_client_errc::access_denied,
                        "user '" + l.user + "': " + std::to_string(a.code)
                          + " " + a.message);
    }
    if (round == 0 && !p.empty() && static_cast<unsigned char>(p[0]) == 0xfe) {
      cursor s{p, 1};
      auto asked = s.cstring();
      auto fresh = s.rest();
      fresh = fresh.substr(0, fresh.find('\0'));
      if (asked != mysql::native_password)
        return protocol("the server switches to auth plugin '" + asked
                        + "'; this client speaks only "
                        + mysql::native_password);
      if (auto err = send_packet(static_cast<uint8_t>(reply->seq + 1),
                                 mysql::native_password_token(l.password,
                                                              fresh)))
        return err;
      continue;
    }
    return protocol("unexpected packet (first byte "
                    + std::to_string(p.empty()
                                       ? -1
                                       : static_cast<unsigned char>(p[0]))
                    + ") during login with plugin '" + plugin + "'");
  }
  return protocol("a second AuthSwitchRequest");
}

result<mysql_answer> mysql_client::query(const std::string& sql) {
  std::string payload(1, static_cast<char>(mysql::command::query));
  payload += sql;
  if (auto err = send_packet(0, payload))
    return err;
  // The first result is the answer; more results (MULTI_RESULTS) are read
  // and dropped so that the connection is ready again, unless one fails.
  uint16_t status = 0;
  auto first = read_answer(status);
  if (!first)
    return first;
  while (status & mysql::status_more_results) {
    auto more = read_answer(status);
    if (!more)
      return more;
    if (more->failed && !first->failed)
      first = std::move(more);
  }
  return first;
}

result<mysql_answer> mysql_client::read_answer(uint16_t& status) {
  bool deprecate_eof = (capabilities_ & mysql::client_deprecate_eof) != 0;
  mysql_answer a;
  status = 0;
  auto head = read_packet();
  if (!head)
    return head.err();
  auto& p = head->payload;
  if (is_err(p)) {
    read_err(p, a);
    return a;
  }
  if (is_ok(p)) {
    status = read_ok(p, a);
    return a;
  }
  if (!p.empty() && static_cast<unsigned char>(p[0]) == 0xfb)
    return protocol("the server asks for LOCAL INFILE");
  cursor c{p};
  auto count = c.lenenc();
  if (!c.ok || !count || *count == 0 || !c.at_end())
    return protocol("a result set header that is no column count");
  for (uint64_t i = 0; i < *count; ++i) {
    auto def = read_packet();
    if (!def)
      return def.err();
    cursor d{def->payload};
    for (int skip = 0; skip < 4; ++skip) // catalog, schema, table, org table
      d.lenenc_string();
    auto name = d.lenenc_string();
    if (!d.ok || !name)
      return protocol("a column definition without a name");
    a.columns.push_back(*name);
  }
  if (!deprecate_eof) {
    auto eof = read_packet();
    if (!eof)
      return eof.err();
    if (!is_eof(eof->payload, false))
      return protocol("no EOF after the column definitions");
  }
  for (;;) {
    auto row = read_packet();
    if (!row)
      return row.err();
    auto& r = row->payload;
    if (is_err(r)) {
      // An error in the middle of the rows ends the result set.
      a.rows.clear();
      read_err(r, a);
      return a;
    }
    if (is_eof(r, deprecate_eof)) {
      if (deprecate_eof) {
        mysql_answer ok;
        status = read_ok(r, ok);
      } else {
        status = read_eof(r);
      }
      return a;
    }
    cursor rc{r};
    std::vector<std::optional<std::string>> cells;
    cells.reserve(a.columns.size());
    for (size_t i = 0; i < a.columns.size(); ++i)
      cells.push_back(rc.lenenc_string());
    if (!rc.ok || !rc.at_end())
      return protocol("a row that does not hold "
                      + std::to_string(a.columns.size()) + " cells");
    a.rows.push_back(std::move(cells));
  }
}

} // namespace lg::bench
