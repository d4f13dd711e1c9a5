#include "storage/crc32c.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

using namespace lg::storage;

namespace {

// Bit-at-a-time reference, independent of the table code under test.
uint32_t reference_crc(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

std::string random_bytes(std::mt19937& rng, size_t size) {
  std::uniform_int_distribution<int> byte{0, 255};
  std::string out(size, '\0');
  for (auto& c : out)
    c = static_cast<char>(byte(rng));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(storage_crc32c)

BOOST_AUTO_TEST_CASE(check_value) {
  BOOST_TEST(crc32c("123456789") == 0xE3069283u);
  BOOST_TEST(crc32c_portable(0, "123456789", 9) == 0xE3069283u);
  BOOST_TEST(crc32c("") == 0u);
}

// RFC 3720 (iSCSI), appendix B.4.
BOOST_AUTO_TEST_CASE(rfc3720_vectors) {
  std::string zeros(32, '\0');
  std::string ones(32, '\xFF');
  std::string up(32, '\0');
  std::string down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  using crc_fn = uint32_t (*)(uint32_t, const void*, size_t) noexcept;
  for (crc_fn fn : {crc_fn{&crc32c}, crc_fn{&crc32c_portable}}) {
    BOOST_TEST(fn(0, zeros.data(), zeros.size()) == 0x8A9136AAu);
    BOOST_TEST(fn(0, ones.data(), ones.size()) == 0x62A8AB43u);
    BOOST_TEST(fn(0, up.data(), up.size()) == 0x46DD794Eu);
    BOOST_TEST(fn(0, down.data(), down.size()) == 0x113FDB5Cu);
  }
}

BOOST_AUTO_TEST_CASE(matches_bitwise_reference_at_every_length_and_offset) {
  std::mt19937 rng{7};
  auto buffer = random_bytes(rng, 300);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t size = 0; offset + size <= buffer.size(); ++size) {
      auto piece = buffer.substr(offset, size);
      auto expected = reference_crc(piece);
      BOOST_TEST_REQUIRE(crc32c(0, buffer.data() + offset, size) == expected);
      BOOST_TEST_REQUIRE(crc32c_portable(0, buffer.data() + offset, size)
                         == expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(extends_over_split_input) {
  std::mt19937 rng{11};
  auto data = random_bytes(rng, 1000);
  auto whole = crc32c(data);
  for (size_t cut = 0; cut <= data.size(); cut += 37) {
    auto head = crc32c(0, data.data(), cut);
    BOOST_TEST_REQUIRE(crc32c(head, data.data() + cut, data.size() - cut)
                       == whole);
    auto soft = crc32c_portable(0, data.data(), cut);
    BOOST_TEST_REQUIRE(
      crc32c_portable(soft, data.data() + cut, data.size() - cut) == whole);
  }
}

BOOST_AUTO_TEST_CASE(large_inputs_match_the_portable_crc) {
  // Inputs of 1536 bytes and more go through three interleaved streams;
  // every length around the block boundaries, at odd offsets and from a
  // running crc, must give the byte-at-a-time value.
  std::mt19937 rng{5};
  auto buffer = random_bytes(rng, 3 * 1536 + 64);
  for (size_t size : {1535u, 1536u, 1537u, 1543u, 3071u, 3072u, 3073u,
                      4000u, 4608u, 4609u}) {
    for (size_t offset : {0u, 1u, 3u, 7u}) {
      for (uint32_t start : {0u, 0xDEADBEEFu}) {
        BOOST_TEST_REQUIRE(
          crc32c(start, buffer.data() + offset, size)
          == crc32c_portable(start, buffer.data() + offset, size));
      }
    }
  }
  std::string big(8 << 20, '\0');
  for (auto& ch : big)
    ch = static_cast<char>(rng());
  BOOST_TEST(crc32c(big) == crc32c_portable(0, big.data(), big.size()));
}

BOOST_AUTO_TEST_CASE(detects_single_bit_flips) {
  std::mt19937 rng{3};
  auto data = random_bytes(rng, 512);
  auto good = crc32c(data);
  for (size_t i = 0; i < data.size(); i += 13) {
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = data;
      copy[i] = static_cast<char>(copy[i] ^ (1 << bit));
      BOOST_TEST_REQUIRE(crc32c(copy) != good);
    }
  }
}

BOOST_AUTO_TEST_CASE(large_buffer_agrees_with_software_path) {
  std::mt19937 rng{5};
  auto data = random_bytes(rng, 1 << 20);
  BOOST_TEST(crc32c(data) == crc32c_portable(0, data.data(), data.size()));
  BOOST_TEST(crc32c(data) == reference_crc(data));
}

BOOST_AUTO_TEST_SUITE_END()
