// Helpers shared by the storage unit tests: printing positions, building
// records, and `fixture`, stores of one partition on a shared simulated
// disk.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <boost/test/unit_test.hpp>

#include "storage/partition_store.hpp"

namespace lg::storage {

inline std::ostream& boost_test_print_type(std::ostream& out,
                                           const log_position& p) {
  return out << "(term " << p.term << ", lsn " << p.lsn << ")";
}

inline std::ostream& boost_test_print_type(std::ostream& out,
                                           const term_start& t) {
  return out << "(term " << t.term << ", start_lsn " << t.start_lsn << ")";
}

} // namespace lg::storage

namespace lg::storage::testing {

/// Describes a failed result for a test message (empty when it succeeded).
template <class T>
std::string why(const lg::result<T>& res) {
  return res.ok() ? std::string{} : res.err().to_string();
}

inline const std::string dir = "/leaf1/db_0";
inline const std::string wal_path = dir + "/wal.log";
inline const std::string snap_path = dir + "/snapshot.bin";

/// Returns a put record (write_id derived from the lsn).
inline log_record put(uint64_t term, uint64_t lsn, std::string key,
                      std::string value) {
  log_record rec;
  rec.term = term;
  rec.lsn = lsn;
  rec.op = op_kind::put;
  rec.write_id = lsn * 10;
  rec.key = std::move(key);
  rec.value = std::move(value);
  return rec;
}

/// Returns a delete record.
inline log_record del(uint64_t term, uint64_t lsn, std::string key) {
  log_record rec;
  rec.term = term;
  rec.lsn = lsn;
  rec.op = op_kind::del;
  rec.key = std::move(key);
  return rec;
}

/// Returns the put of record `lsn`; keys and values have a fixed width, so
/// every such record has the same encoded size.
inline log_record numbered(uint64_t term, uint64_t lsn) {
  char key[16];
  char value[16];
  std::snprintf(key, sizeof(key), "key%05llu",
                static_cast<unsigned long long>(lsn));
  std::snprintf(value, sizeof(value), "val%05llu",
                static_cast<unsigned long long>(lsn));
  return put(term, lsn, key, value);
}

/// Returns the key written by `numbered(_, lsn)`.
inline std::string key_of(uint64_t lsn) {
  return numbered(1, lsn).key;
}

/// Stores of one partition on a shared simulated disk.
struct fixture {
  std::shared_ptr<memory_vfs> fs = std::make_shared<memory_vfs>();

  std::unique_ptr<partition_store> make(durability d = durability::sync) {
    return std::make_unique<partition_store>(fs, dir, d);
  }

  recovery_report open(partition_store& store) {
    auto report = store.open();
    BOOST_REQUIRE_MESSAGE(report.ok(), why(report));
    return *report;
  }

  void append_range(partition_store& store, uint64_t term, uint64_t first,
                    uint64_t last) {
    for (auto lsn = first; lsn <= last; ++lsn)
      store.append(numbered(term, lsn));
  }

  void flush(partition_store& store) {
    auto err = store.flush();
    BOOST_REQUIRE_MESSAGE(!err, err.to_string());
  }

  /// Installs `bytes` as a snapshot received from another copy, in two
  /// pieces (so that the crc is checked once all arrived).
  lg::error receive(partition_store& store, const std::string& bytes) {
    auto in = store.receive_snapshot();
    BOOST_REQUIRE_MESSAGE(in.ok(), why(in));
    auto half = bytes.size() / 2;
    if (auto err = (*in)->feed(std::string_view{bytes}.substr(0, half)))
      return err;
    if (auto err = (*in)->feed(std::string_view{bytes}.substr(half)))
      return err;
    return store.install(**in);
  }

  std::string file(const std::string& path) {
    auto bytes = fs->read_file(path);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), why(bytes));
    return *bytes;
  }
};

/// Computes the content checksum from scratch.
inline uint64_t sum_of_row_hashes(const row_map& rows) {
  uint64_t sum = 0;
  for (auto& [key, value] : rows)
    sum += row_hash(key, value);
  return sum;
}

/// Writes `value` little-endian at `p`.
inline void put_le32(char* p, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>(value >> (8 * i));
}

} // namespace lg::storage::testing
