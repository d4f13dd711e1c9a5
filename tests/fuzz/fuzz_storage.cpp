// Fuzz target: the log and snapshot readers, and recovery of a partition
// store whose wal.log or snapshot.bin holds the input.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/partition_store.hpp"
#include "storage/vfs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes{reinterpret_cast<const char*>(data), size};
  lg::storage::log_record rec;
  std::string_view rest{bytes};
  while (!rest.empty()) {
    auto used = lg::storage::decode_record(rest, rec);
    if (!used || *used == 0 || *used > rest.size())
      break;
    rest.remove_prefix(*used);
  }
  (void) lg::storage::decode_snapshot(bytes);
  for (auto name : {"/f/wal.log", "/f/snapshot.bin"}) {
    auto fs = std::make_shared<lg::storage::memory_vfs>();
    fs->make_dirs("/f");
    fs->write_atomic(name, bytes);
    lg::storage::partition_store store{fs, "/f",
                                       lg::storage::durability::async};
    auto report = store.open();
    if (!report.ok() && report.err().detail().empty())
      __builtin_trap();
  }
  return 0;
}
