// Fuzz target: bytes a MySQL client sends, through the packet reader and
// the handshake response parser (sql/mysql_wire.hpp). A refusal must say
// why; nothing may crash or read past the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "sql/mysql_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes{reinterpret_cast<const char*>(data), size};
  lg::mysql::packet_reader reader{1 << 20};
  // Fed in two pieces, as a socket may deliver them.
  auto half = bytes.size() / 2;
  reader.feed(bytes.data(), half);
  for (;;) {
    auto p = reader.next();
    if (!p.ok()) {
      if (p.err().detail().empty())
        __builtin_trap();
      break;
    }
    if (!p->has_value()) {
      if (half == bytes.size())
        break;
      reader.feed(bytes.data() + half, bytes.size() - half);
      half = bytes.size();
      continue;
    }
    auto r = lg::mysql::parse_handshake_response((*p)->payload);
    if (!r.ok() && r.err().detail().empty())
      __builtin_trap();
    (void) lg::mysql::is_ssl_request((*p)->payload);
  }
  return 0;
}
