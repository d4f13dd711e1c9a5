#include "storage/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#  include <nmmintrin.h>
#endif

namespace lg::storage {

namespace {

constexpr uint32_t castagnoli = 0x82F63B78u;

using crc_table = std::array<std::array<uint32_t, 256>, 8>;

// Slicing-by-8: table[k][b] is the CRC of byte b followed by k zero bytes, so
// eight lookups fold one 64-bit word at a time.
constexpr crc_table make_table() {
  crc_table table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ (castagnoli & (0u - (crc & 1u)));
    table[0][i] = crc;
  }
  for (size_t k = 1; k < 8; ++k)
    for (size_t i = 0; i < 256; ++i)
      table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xFF];
  return table;
}

constexpr crc_table table = make_table();

uint64_t load_le64(const unsigned char* p) noexcept {
  uint64_t word;
  std::memcpy(&word, p, sizeof(word));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  word = __builtin_bswap64(word);
#endif
  return word;
}

// Works on the inverted register: callers apply the pre and post inversion.
uint32_t update_software(uint32_t crc, const unsigned char* p,
                         size_t size) noexcept {
  while (size >= 8) {
    uint64_t word = load_le64(p) ^ crc;
    crc = table[7][word & 0xFF] ^ table[6][(word >> 8) & 0xFF]
      ^ table[5][(word >> 16) & 0xFF] ^ table[4][(word >> 24) & 0xFF]
      ^ table[3][(word >> 32) & 0xFF] ^ table[2][(word >> 40) & 0xFF]
      ^ table[1][(word >> 48) & 0xFF] ^ table[0][word >> 56];
    p += 8;
    size -= 8;
  }
  while (size-- > 0)
    crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t
update_sse42(uint32_t crc, const unsigned char* p, size_t size) noexcept {
  uint64_t wide = crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    wide = _mm_crc32_u64(wide, word);
    p += 8;
    size -= 8;
  }
  crc = static_cast<uint32_t>(wide);
  while (size-- > 0)
    crc = _mm_crc32_u8(crc, *p++);
  return crc;
}
#endif

using update_fn = uint32_t (*)(uint32_t, const unsigned char*, size_t);

update_fn choose_update() noexcept {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2"))
    return update_sse42;
#endif
  return update_software;
}

} // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t size) noexcept {
  static const update_fn update = choose_update();
  return ~update(~crc, static_cast<const unsigned char*>(data), size);
}

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t size) noexcept {
  return ~update_software(~crc, static_cast<const unsigned char*>(data), size);
}

} // namespace lg::storage
