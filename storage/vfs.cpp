#include "storage/vfs.hpp"

namespace lg::storage {

const char* to_string(errc code) {
  switch (code) {
    case errc::io_error: return "io_error";
    case errc::not_found: return "not_found";
    case errc::checksum_mismatch: return "checksum_mismatch";
    case errc::torn_record: return "torn_record";
    case errc::bad_format: return "bad_format";
  }
  return "unknown";
}

} // namespace lg::storage
