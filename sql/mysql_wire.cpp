#include "sql/mysql_wire.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/sha.h>

#include "sql/parser.hpp"

namespace lg::mysql {

namespace {

void put_int(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_int(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(s[at + i]))
         << (8 * i);
  return v;
}

std::string sha1(const std::string& in) {
  unsigned char out[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

std::string xor_of(const std::string& a, const std::string& b) {
  std::string out(a.size(), '\0');
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    out[i] = static_cast<char>(a[i] ^ b[i]);
  return out;
}

error malformed(const std::string& what) {
  return make_error(sql::errc::syntax_error,
                    "malformed handshake response: " + what);
}

/// Reads a NUL-terminated string at `at`; false when there is no NUL.
bool read_cstring(const std::string& s, size_t& at, std::string& out) {
  auto end = s.find('\0', at);
  if (end == std::string::npos)
    return false;
  out = s.substr(at, end - at);
  at = end + 1;
  return true;
}

/// Reads a length-encoded integer at `at`; false when it runs past the end.
bool read_lenenc(const std::string& s, size_t& at, uint64_t& out) {
  if (at >= s.size())
    return false;
  auto first = static_cast<unsigned char>(s[at]);
  int bytes = first < 0xfb ? 0 : first == 0xfc ? 2 : first == 0xfd ? 3 : 8;
  if (first == 0xfb || first == 0xff)
    return false;
  if (at + 1 + static_cast<size_t>(bytes) > s.size())
    return false;
  out = bytes == 0 ? first : get_int(s, at + 1, bytes);
  at += 1 + static_cast<size_t>(bytes);
  return true;
}

} // namespace

result<std::optional<packet>> packet_reader::next() {
  // A packet is one frame, or frames of max_frame bytes and a shorter one.
  size_t at = 0;
  size_t total = 0;
  for (;;) {
    if (buf_.size() < at + 4)
      return std::optional<packet>{};
    auto len = static_cast<size_t>(get_int(buf_, at, 3));
    total += len;
    if (total > cap_)
      return make_error(sql::errc::bad_value,
                        "a packet of more than " + std::to_string(total)
                          + " bytes is over the limit of "
                          + std::to_string(cap_));
    if (buf_.size() < at + 4 + len)
      return std::optional<packet>{};
    at += 4 + len;
    if (len < max_frame)
      break;
  }
  // The sequence number of the last frame is the packet's.
  packet p;
  size_t pos = 0;
  uint8_t seq = 0;
  p.payload.reserve(total);
  while (pos < at) {
    auto len = static_cast<size_t>(get_int(buf_, pos, 3));
    seq = static_cast<uint8_t>(buf_[pos + 3]);
    p.payload.append(buf_, pos + 4, len);
    pos += 4 + len;
  }
  p.seq = seq;
  buf_.erase(0, at);
  return std::optional<packet>{std::move(p)};
}

std::string frame(uint8_t& seq, const std::string& payload) {
  std::string out;
  size_t at = 0;
  for (;;) {
    auto len = std::min(max_frame, payload.size() - at);
    put_int(out, len, 3);
    out.push_back(static_cast<char>(seq++));
    out.append(payload, at, len);
    at += len;
    if (len < max_frame)
      return out;
  }
}

std::string handshake_v10(uint32_t connection_id, const std::string& scramble,
                          const std::string& server_version,
                          uint32_t capabilities) {
  std::string out;
  out.push_back(10); // protocol version
  out += server_version;
  out.push_back('\0');
  put_int(out, connection_id, 4);
  out.append(scramble, 0, 8);
  out.push_back('\0');
  put_int(out, capabilities & 0xffff, 2);
  out.push_back(33); // utf8_general_ci
  put_int(out, status_autocommit, 2);
  put_int(out, capabilities >> 16, 2);
  out.push_back(static_cast<char>(scramble.size() + 1));
  out.append(10, '\0');
  out.append(scramble, 8, std::string::npos);
  out.push_back('\0');
  out += native_password;
  out.push_back('\0');
  return out;
}

bool is_ssl_request(const std::string& payload) {
  return payload.size() == 32
         && (get_int(payload, 0, 4) & client_ssl) != 0;
}

result<handshake_response> parse_handshake_response(const std::string& p) {
  handshake_response r;
  if (p.size() < 32)
    return malformed("only " + std::to_string(p.size()) + " bytes");
  r.capabilities = static_cast<uint32_t>(get_int(p, 0, 4));
  if ((r.capabilities & client_protocol_41) == 0)
    return malformed("the client does not speak protocol 4.1");
  r.max_packet = static_cast<uint32_t>(get_int(p, 4, 4));
  r.charset = static_cast<uint8_t>(p[8]);
  size_t at = 32;
  if (!read_cstring(p, at, r.user))
    return malformed("no user name");
  if (r.capabilities & client_plugin_auth_lenenc_data) {
    uint64_t n = 0;
    if (!read_lenenc(p, at, n) || at + n > p.size())
      return malformed("the auth data runs past the end");
    r.auth = p.substr(at, n);
    at += n;
  } else if (r.capabilities & client_secure_connection) {
    if (at >= p.size())
      return malformed("no auth data");
    auto n = static_cast<size_t>(static_cast<unsigned char>(p[at]));
    if (at + 1 + n > p.size())
      return malformed("the auth data runs past the end");
    r.auth = p.substr(at + 1, n);
    at += 1 + n;
  } else if (!read_cstring(p, at, r.auth)) {
    return malformed("no auth data");
  }
  if ((r.capabilities & client_connect_with_db) && at < p.size()
      && !read_cstring(p, at, r.database))
    return malformed("the database name has no end");
  if ((r.capabilities & client_plugin_auth) && at < p.size()
      && !read_cstring(p, at, r.plugin))
    r.plugin = p.substr(at); // some clients leave out the last NUL
  return r;
}

std::string native_password_hash(const std::string& password) {
  return password.empty() ? std::string{} : sha1(sha1(password));
}

std::string native_password_token(const std::string& password,
                                  const std::string& scramble) {
  if (password.empty())
    return {};
  auto stage1 = sha1(password);
  return xor_of(stage1, sha1(scramble + sha1(stage1)));
}

bool native_password_matches(const std::string& stored,
                             const std::string& scramble,
                             const std::string& token) {
  if (stored.empty() || token.empty())
    return stored.empty() && token.empty();
  if (token.size() != SHA_DIGEST_LENGTH || stored.size() != SHA_DIGEST_LENGTH)
    return false;
  auto stage1 = xor_of(token, sha1(scramble + stored));
  return sha1(stage1) == stored;
}

std::string auth_switch_request(const std::string& plugin,
                                const std::string& scramble) {
  std::string out(1, static_cast<char>(0xfe));
  out += plugin;
  out.push_back('\0');
  out += scramble;
  out.push_back('\0');
  return out;
}

std::string lenenc_int(uint64_t v) {
  std::string out;
  if (v < 0xfb) {
    out.push_back(static_cast<char>(v));
  } else if (v <= 0xffff) {
    out.push_back(static_cast<char>(0xfc));
    put_int(out, v, 2);
  } else if (v <= 0xffffff) {
    out.push_back(static_cast<char>(0xfd));
    put_int(out, v, 3);
  } else {
    out.push_back(static_cast<char>(0xfe));
    put_int(out, v, 8);
  }
  return out;
}

std::string lenenc_string(const std::string& s) {
  return lenenc_int(s.size()) + s;
}

std::string ok_packet(uint64_t affected, uint16_t status,
                      const std::string& info) {
  std::string out(1, '\0');
  out += lenenc_int(affected);
  out += lenenc_int(0); // last insert id
  put_int(out, status, 2);
  put_int(out, 0, 2); // warnings
  // MariaDB's client library reads the info as a length-encoded string
  // (MariaDB's servers send it so); MySQL's, without CLIENT_SESSION_TRACK,
  // as the rest of the packet. Length-encoded serves the `mariadb`
  // console; PyMySQL, which takes the rest, sees the length byte first.
  if (!info.empty())
    out += lenenc_string(info);
  return out;
}

std::string err_packet(uint16_t code, const std::string& sqlstate,
                       const std::string& message) {
  std::string out(1, static_cast<char>(0xff));
  put_int(out, code, 2);
  out.push_back('#');
  out += sqlstate.size() == 5 ? sqlstate : std::string{"HY000"};
  out += message;
  return out;
}

std::string eof_packet(uint16_t status) {
  std::string out(1, static_cast<char>(0xfe));
  put_int(out, 0, 2); // warnings
  put_int(out, status, 2);
  return out;
}

const char* sqlstate_of(int code) {
  switch (code) {
    case 1064:
      return "42000"; // syntax error
    case 1049:
      return "42000"; // unknown database
    case 1007:
      return "HY000"; // database exists
    case 1045:
      return "28000"; // access denied
    case 1227:
      return "42000"; // missing privilege
    case 1193:
      return "HY000"; // unknown variable
    case 1231:
      return "42000"; // wrong value
    case 1235:
      return "42000"; // not supported
    case 1047:
      return "08S01"; // unknown command
    case 1159:
      return "08S01"; // no login in time
    case 1040:
      return "08004"; // too many connections
    default:
      return "HY000";
  }
}

std::vector<std::string>
text_result_set(const std::vector<std::string>& columns,
                const std::vector<std::vector<std::optional<std::string>>>& rows,
                bool deprecate_eof, uint16_t status) {
  std::vector<std::string> out;
  out.push_back(lenenc_int(columns.size()));
  for (size_t i = 0; i < columns.size(); ++i) {
    const auto& name = columns[i];
    // NOT NULL unless a NULL is sent: MySQL's console widens a nullable
    // column to 4 characters for "NULL".
    bool nullable = std::any_of(rows.begin(), rows.end(), [i](auto& row) {
      return i < row.size() && !row[i];
    });
    std::string c;
    c += lenenc_string("def"); // catalog
    c += lenenc_string("");    // schema
    c += lenenc_string("");    // table
    c += lenenc_string("");    // original table
    c += lenenc_string(name);
    c += lenenc_string(name);  // original name
    c += lenenc_int(0x0c);     // the length of the fixed fields
    put_int(c, 33, 2);         // utf8_general_ci
    put_int(c, 1 << 24, 4);    // column length
    c.push_back(static_cast<char>(0xfd)); // VAR_STRING
    put_int(c, nullable ? 0 : 1, 2); // flags: NOT_NULL
    c.push_back(0);            // decimals
    put_int(c, 0, 2);          // filler
    out.push_back(std::move(c));
  }
  if (!deprecate_eof)
    out.push_back(eof_packet(status));
  for (auto& row : rows) {
    std::string r;
    for (auto& cell : row)
      r += cell ? lenenc_string(*cell) : std::string(1, static_cast<char>(0xfb));
    out.push_back(std::move(r));
  }
  if (deprecate_eof) {
    auto ok = ok_packet(0, status);
    ok[0] = static_cast<char>(0xfe); // an OK that ends a result set
    out.push_back(std::move(ok));
  } else {
    out.push_back(eof_packet(status));
  }
  return out;
}

} // namespace lg::mysql
