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
/// Bytes per stream in the three-stream loop below.
constexpr size_t stream_bytes = 512;

/// The CRC register after `stream_bytes` zero bytes, as a function of the
/// register before them. It is linear over GF(2), so four tables of 256
/// (one per byte of the register) give it with four lookups.
struct zero_shift {
  std::array<std::array<uint32_t, 256>, 4> table{};

  zero_shift() {
    static const unsigned char zeros[stream_bytes] = {};
    uint32_t basis[32];
    for (int bit = 0; bit < 32; ++bit)
      basis[bit] = update_software(uint32_t{1} << bit, zeros, stream_bytes);
    for (size_t k = 0; k < 4; ++k)
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t out = 0;
        for (int bit = 0; bit < 8; ++bit)
          if (v & (1u << bit))
            out ^= basis[8 * k + static_cast<size_t>(bit)];
        table[k][v] = out;
      }
  }

  uint32_t operator()(uint32_t crc) const noexcept {
    return table[0][crc & 0xFF] ^ table[1][(crc >> 8) & 0xFF]
           ^ table[2][(crc >> 16) & 0xFF] ^ table[3][crc >> 24];
  }
};

__attribute__((target("sse4.2"))) uint32_t
update_sse42(uint32_t crc, const unsigned char* p, size_t size) noexcept {
  // The crc32 instruction takes three cycles and can start one per cycle:
  // three independent streams over consecutive blocks keep it busy, and
  // the register is affine in its start, so the three combine as
  // crc(A B C) = shift(shift(crc(A)) ^ crc0(B)) ^ crc0(C).
  if (size >= 3 * stream_bytes) {
    static const zero_shift shift;
    while (size >= 3 * stream_bytes) {
      uint64_t a = crc;
      uint64_t b = 0;
      uint64_t c = 0;
      const unsigned char* pb = p + stream_bytes;
      const unsigned char* pc = p + 2 * stream_bytes;
      for (size_t i = 0; i < stream_bytes; i += 8) {
        uint64_t wa;
        uint64_t wb;
        uint64_t wc;
        std::memcpy(&wa, p + i, 8);
        std::memcpy(&wb, pb + i, 8);
        std::memcpy(&wc, pc + i, 8);
        a = _mm_crc32_u64(a, wa);
        b = _mm_crc32_u64(b, wb);
        c = _mm_crc32_u64(c, wc);
      }
      crc = shift(shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b))
            ^ static_cast<uint32_t>(c);
      p += 3 * stream_bytes;
      size -= 3 * stream_bytes;
    }
  }
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
