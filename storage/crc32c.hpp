// CRC-32C (Castagnoli), the checksum of every log record and snapshot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lg::storage {

/// Extends `crc` over `data` (pass 0 to start).
uint32_t crc32c(uint32_t crc, const void* data, size_t size) noexcept;

/// Computes the same value as `crc32c` without CPU instructions (for tests).
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t size) noexcept;

inline uint32_t crc32c(std::string_view data) noexcept {
  return crc32c(0, data.data(), data.size());
}

} // namespace lg::storage
