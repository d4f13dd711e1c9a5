// Encoding and decoding of write-ahead log records (storage/record_format).
#include "storage/record_format.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/crc32c.hpp"
#include "storage/snapshot_format.hpp"
#include "unit/storage/store_fixture.hpp"

using namespace lg::storage;
using namespace lg::storage::testing;

namespace {

/// Compares every field of two records.
bool same_record(const log_record& a, const log_record& b) {
  return a.term == b.term && a.lsn == b.lsn && a.op == b.op
    && a.write_id == b.write_id && a.key == b.key && a.value == b.value;
}

/// Recomputes the crc of a hand-edited record, so only the edit is wrong.
void reseal(std::string& encoded) {
  put_le32(&encoded[4], crc32c(0, encoded.data() + 8, encoded.size() - 8));
}

} // namespace

BOOST_AUTO_TEST_SUITE(storage_record_format)

BOOST_AUTO_TEST_CASE(record_round_trip) {
  std::string binary{"\0\xFF\x01 zero", 9};
  std::vector<log_record> recs{put(3, 17, "alpha", "one"), del(3, 18, "alpha"),
                               put(4, 19, "", ""),
                               put(4, 20, binary, std::string(70000, 'v'))};
  std::string log;
  for (auto& rec : recs) {
    auto encoded = encode_record(rec);
    BOOST_TEST(encoded.size() == 8 + 33 + rec.key.size() + rec.value.size());
    log += encoded;
  }
  size_t offset = 0;
  for (auto& expected : recs) {
    log_record got;
    auto used = decode_record(std::string_view{log}.substr(offset), got);
    BOOST_REQUIRE_MESSAGE(used.ok(), why(used));
    BOOST_TEST(same_record(got, expected));
    offset += *used;
  }
  BOOST_TEST(offset == log.size());
}

BOOST_AUTO_TEST_CASE(record_layout_is_little_endian_as_documented) {
  auto encoded = encode_record(put(0x0102, 7, "k", "vv"));
  BOOST_REQUIRE(encoded.size() == 8u + 36u);
  BOOST_TEST(encoded.substr(0, 4) == std::string("\x24\0\0\0", 4));
  BOOST_TEST(encoded.substr(8, 8) == std::string("\x02\x01\0\0\0\0\0\0", 8));
  BOOST_TEST(encoded[24] == '\x01'); // op put
  BOOST_TEST(encoded.substr(33, 5) == std::string("\x01\0\0\0k", 5));
  BOOST_TEST(encoded.substr(38) == std::string("\x02\0\0\0vv", 6));
  uint32_t crc = 0;
  for (int i = 0; i < 4; ++i)
    crc |= uint32_t(static_cast<unsigned char>(encoded[4 + i])) << (8 * i);
  BOOST_TEST(crc == crc32c(std::string_view{encoded}.substr(8)));
}

BOOST_AUTO_TEST_CASE(record_decode_errors) {
  auto encoded = encode_record(put(2, 5, "key", "value"));
  log_record out;
  for (size_t size = 0; size < encoded.size(); ++size) {
    auto res = decode_record(std::string_view{encoded}.substr(0, size), out);
    BOOST_REQUIRE(!res.ok());
    BOOST_TEST_REQUIRE(res.err().name() == "torn_record");
  }
  auto flipped = encoded;
  flipped[20] = static_cast<char>(flipped[20] ^ 0x10);
  BOOST_TEST(decode_record(flipped, out).err().name() == "checksum_mismatch");
  auto huge = encoded;
  huge[3] = '\x10'; // payload_len = 256 MiB + ...
  BOOST_TEST(decode_record(huge, out).err().name() == "bad_format");
  auto bad_op = encoded;
  bad_op[8 + 16] = 3;
  reseal(bad_op);
  BOOST_TEST(decode_record(bad_op, out).err().name() == "bad_format");
  BOOST_TEST(decode_record(encode_record(put(2, 0, "k", "v")), out).err().name()
             == "bad_format");
  auto long_key = encoded;
  long_key[8 + 25] = 100; // key_len beyond the payload
  reseal(long_key);
  BOOST_TEST(decode_record(long_key, out).err().name() == "bad_format");
}

BOOST_AUTO_TEST_CASE(an_incomplete_last_record_is_a_torn_tail) {
  auto encoded = encode_record(put(2, 5, "key", "value"));
  // Every prefix of a record, as a crash in the middle of its append leaves
  // it, is a torn tail; so is a whole record's prefix after others.
  for (size_t size = 1; size < encoded.size(); ++size)
    BOOST_TEST_CONTEXT("first " << size << " bytes") {
      BOOST_TEST(is_torn_tail(std::string_view{encoded}.substr(0, size)));
    }
  // Nothing wrong, nothing torn.
  BOOST_TEST(!is_torn_tail(encoded));
  BOOST_TEST(!is_torn_tail({}));
}

BOOST_AUTO_TEST_CASE(damage_is_never_a_torn_tail) {
  auto first = encode_record(put(2, 5, "key", "value"));
  auto second = encode_record(put(2, 6, "other", "value"));
  // A complete record failing its crc.
  auto flipped = first;
  flipped[20] = static_cast<char>(flipped[20] ^ 0x10);
  BOOST_TEST(!is_torn_tail(flipped));
  // A length grown past the end of the file, for the last record: the
  // fields it covers say the record is whole.
  auto grown = first;
  grown[1] = static_cast<char>(grown[1] ^ 0x01);
  BOOST_TEST(!is_torn_tail(grown));
  // The same in the middle of the log: whole records follow.
  BOOST_TEST(!is_torn_tail(grown + second));
  // A length past the 64 MiB limit.
  auto huge = first + second;
  huge[3] = static_cast<char>(huge[3] ^ 0xFF);
  BOOST_TEST(!is_torn_tail(huge));
  // A header and fields that agree with each other and declare a record
  // running past the end of the file, but a whole record follows them: a
  // crash leaves nothing after the record it tore.
  std::string header(8 + 33, '\0');
  put_le32(&header[0], 1000);
  header[8 + 8] = 7;  // lsn
  header[8 + 16] = 1; // put
  put_le32(&header[8 + 29], 1000 - 33); // key_len 0, then value_len
  BOOST_TEST(is_torn_tail(header));
  BOOST_TEST(is_torn_tail(header + std::string(50, 'v')));
  BOOST_TEST(!is_torn_tail(header + second));
  BOOST_TEST(!is_torn_tail(header + "xyz" + second + "tail"));
  // An incomplete record whose operation byte is not one.
  auto bad_op = first.substr(0, 30);
  bad_op[8 + 16] = 9;
  BOOST_TEST(!is_torn_tail(bad_op));
}

BOOST_AUTO_TEST_CASE(encode_refuses_an_oversized_record) {
  log_record rec = put(1, 1, "k", std::string(max_record_payload, 'x'));
  BOOST_CHECK_THROW(encode_record(rec), std::length_error);
}

BOOST_AUTO_TEST_CASE(decoding_random_garbage_never_overreads) {
  std::mt19937 rng{20240601};
  std::uniform_int_distribution<int> byte{0, 255};
  std::uniform_int_distribution<size_t> length{0, 160};
  size_t errors = 0;
  size_t decoded = 0;
  for (int round = 0; round < 6000; ++round) {
    // Heap buffers of exact size, so that ASan catches any over-read.
    auto size = length(rng);
    std::vector<char> buf(size);
    for (auto& c : buf)
      c = static_cast<char>(byte(rng));
    // Round 0 mod 3 stays pure noise. Otherwise a header that declares the
    // rest (or all but one byte) and carries its crc drives the payload
    // parser; round 2 mod 3 also gets well-formed fields, so it decodes.
    if (round % 3 != 0 && size >= 8 + 33) {
      auto payload = static_cast<uint32_t>(size - 8 - (round % 2));
      char* body = buf.data() + 8;
      if (round % 3 == 2) {
        body[8] = 1;  // lsn != 0
        body[16] = 2; // op del
        put_le32(body + 25, 0);
        put_le32(body + 29, payload - 33);
      }
      put_le32(buf.data(), payload);
      put_le32(buf.data() + 4, crc32c(0, body, payload));
    }
    std::string_view view{buf.data(), buf.size()};
    log_record out;
    auto res = decode_record(view, out);
    if (res.ok()) {
      BOOST_TEST_REQUIRE(*res <= size);
      BOOST_TEST_REQUIRE(*res >= 8u + 33u);
      ++decoded;
    } else {
      BOOST_TEST_REQUIRE(res.err().module() == "storage");
      ++errors;
    }
    BOOST_TEST_REQUIRE(!decode_snapshot(view).ok());
  }
  BOOST_TEST(errors > 1000u);
  BOOST_TEST(decoded > 1000u);
}

BOOST_AUTO_TEST_SUITE_END()
