// Fuzz target: the log and snapshot readers (the torn-tail test included),
// and recovery of a partition store whose wal.log or snapshot.bin holds the
// input.
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
    if (!used) {
      (void) lg::storage::is_torn_tail(rest);
      break;
    }
    if (*used == 0 || *used > rest.size())
      __builtin_trap();
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
    // A failed open leaves the file as it was; a successful one only ever
    // cuts a torn tail off the log.
    auto after = fs->read_file(name);
    if (!after.ok() || after->size() > bytes.size()
        || (!report.ok() && *after != bytes)
        || bytes.compare(0, after->size(), *after) != 0)
      __builtin_trap();
  }
  return 0;
}
