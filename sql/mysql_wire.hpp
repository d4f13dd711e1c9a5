// The MySQL client/server protocol, as pure functions: no sockets, no
// actors. What a MySQL client (the `mariadb` console, PyMySQL, JDBC) sends
// and expects, as far as leafguard speaks it:
//
//   1. Every message is a packet: 3 bytes of payload length (little
//      endian), 1 byte of sequence number, the payload. A payload of
//      2^24-1 bytes continues in the next packet. packet_reader splits a
//      byte stream into payloads, refusing one longer than its cap.
//   2. The server opens with a handshake (protocol 10): its version, a
//      connection id, a 20-byte scramble and the auth plugin,
//      mysql_native_password.
//   3. The client answers (HandshakeResponse41): its capabilities, user,
//      auth token, maybe a database and its plugin. A client that asks for
//      TLS first sends a 32-byte SSLRequest.
//   4. mysql_native_password: the token is SHA1(pw) XOR SHA1(scramble +
//      SHA1(SHA1(pw))); the server keeps only SHA1(SHA1(pw)) and checks it.
//      A client whose plugin is another (caching_sha2_password) is sent an
//      AuthSwitchRequest to this one.
//   5. Then commands: COM_QUERY (text), COM_PING, COM_INIT_DB, COM_QUIT.
//      Answers are OK, ERR (code and SQLSTATE), or a text result set:
//      column count, column definitions, (EOF,) rows of length-encoded
//      strings (0xFB for NULL), EOF or OK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace lg::mysql {

// Capability flags (the subset leafguard looks at or offers).
constexpr uint32_t client_long_password = 0x1;
constexpr uint32_t client_found_rows = 0x2;
constexpr uint32_t client_long_flag = 0x4;
constexpr uint32_t client_connect_with_db = 0x8;
constexpr uint32_t client_protocol_41 = 0x200;
constexpr uint32_t client_ssl = 0x800;
constexpr uint32_t client_transactions = 0x2000;
constexpr uint32_t client_secure_connection = 0x8000;
constexpr uint32_t client_multi_statements = 0x10000;
constexpr uint32_t client_multi_results = 0x20000;
constexpr uint32_t client_plugin_auth = 0x80000;
constexpr uint32_t client_connect_attrs = 0x100000;
constexpr uint32_t client_plugin_auth_lenenc_data = 0x200000;
constexpr uint32_t client_deprecate_eof = 0x1000000;

/// Server status: autocommit on; more results follow.
constexpr uint16_t status_autocommit = 0x2;
constexpr uint16_t status_more_results = 0x8;

enum class command : uint8_t {
  quit = 0x01,
  init_db = 0x02,
  query = 0x03,
  ping = 0x0e,
};

constexpr const char* native_password = "mysql_native_password";
constexpr size_t max_frame = 0xffffff;

struct packet {
  uint8_t seq = 0;
  std::string payload;
};

/// Splits a byte stream into packets (step 1).
class packet_reader {
public:
  /// A payload over `max_payload` bytes is an error (the connection then
  /// gets an ERR and is closed).
  explicit packet_reader(size_t max_payload) : cap_(max_payload) {
  }

  void feed(const char* data, size_t n) {
    buf_.append(data, n);
  }

  /// The next whole packet (its frames joined), if the bytes fed hold one;
  /// an error when it is over the cap.
  result<std::optional<packet>> next();

  /// Bytes fed and not yet taken.
  size_t buffered() const {
    return buf_.size();
  }

  /// Takes the bytes fed and not yet taken: after an SSLRequest, what
  /// follows is TLS, which a client sends without waiting.
  std::string take_buffered() {
    return std::exchange(buf_, std::string{});
  }

private:
  std::string buf_;
  size_t cap_;
};

/// The frames of `payload`, numbered from `seq` on (one more frame, maybe
/// empty, when it fills whole frames). `seq` is advanced past them.
std::string frame(uint8_t& seq, const std::string& payload);

/// Step 2.
std::string handshake_v10(uint32_t connection_id, const std::string& scramble,
                          const std::string& server_version,
                          uint32_t capabilities);

/// Step 3.
struct handshake_response {
  uint32_t capabilities = 0;
  uint32_t max_packet = 0;
  uint8_t charset = 0;
  std::string user;
  std::string auth;     ///< the auth token
  std::string database; ///< empty when none
  std::string plugin;   ///< empty when the client names none
};

/// Whether `payload` is an SSLRequest (32 bytes, CLIENT_SSL set).
bool is_ssl_request(const std::string& payload);

result<handshake_response> parse_handshake_response(const std::string& payload);

/// Step 4. SHA1(SHA1(password)): what a server keeps of a password.
std::string native_password_hash(const std::string& password);
/// The token a client computes from its password and the scramble.
std::string native_password_token(const std::string& password,
                                  const std::string& scramble);
/// Whether `token` proves the password whose hash is `stored` (an empty
/// password: an empty token, and an empty stored hash).
bool native_password_matches(const std::string& stored,
                             const std::string& scramble,
                             const std::string& token);
std::string auth_switch_request(const std::string& plugin,
                                const std::string& scramble);

/// Step 5.
std::string ok_packet(uint64_t affected, uint16_t status,
                      const std::string& info = {});
std::string err_packet(uint16_t code, const std::string& sqlstate,
                       const std::string& message);
std::string eof_packet(uint16_t status);

/// The SQLSTATE MySQL gives with error `code` ("HY000" for the others).
const char* sqlstate_of(int code);

std::string lenenc_int(uint64_t v);
std::string lenenc_string(const std::string& s);

/// A text result set's payloads, each to be framed in turn: with
/// CLIENT_DEPRECATE_EOF the EOF after the columns is left out and an OK
/// ends it; `status` goes in the last one.
std::vector<std::string>
text_result_set(const std::vector<std::string>& columns,
                const std::vector<std::vector<std::optional<std::string>>>& rows,
                bool deprecate_eof, uint16_t status);

} // namespace lg::mysql
