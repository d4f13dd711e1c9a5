// Helpers shared by the storage files and by nothing outside storage/:
// little-endian fields as the record and snapshot formats lay them out, a
// crc rendered for error messages, and a test of a storage error's code.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "storage/vfs.hpp"

namespace lg::storage::internal {

inline char* put_u8(char* p, uint8_t v) {
  *p = static_cast<char>(v);
  return p + 1;
}

inline char* put_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
  return p + 4;
}

inline char* put_u64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
  return p + 8;
}

inline char* put_bytes(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

inline uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

inline uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

inline std::string hex32(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", value);
  return buf;
}

inline bool has_code(const error& err, errc code) {
  return err.module() == "storage" && err.name() == to_string(code);
}

} // namespace lg::storage::internal
