// Stable hashes: the same on every platform and release, so that a key maps
// to the same partition in every process.
#pragma once

#include <cstdint>
#include <string_view>

namespace lg {

/// Returns the 64-bit FNV-1a hash of `data`.
inline uint64_t fnv1a64(std::string_view data,
                        uint64_t seed = 0xcbf29ce484222325ULL) noexcept {
  uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// Mixes a 64-bit value (splitmix64 finalizer).
inline uint64_t mix64(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/// Returns the partition ordinal that owns `key` in a database of
/// `partitions` partitions.
inline uint32_t partition_of(std::string_view key, uint32_t partitions) {
  return static_cast<uint32_t>(mix64(fnv1a64(key)) % partitions);
}

} // namespace lg
