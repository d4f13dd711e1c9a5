// Fuzz target: the statement parser. Any input gets a statement or an
// error naming what is wrong; nothing crashes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sql/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto parsed = lg::sql::parse(text);
  if (!parsed.ok() && parsed.err().detail().empty())
    __builtin_trap(); // an error must say what is wrong
  return 0;
}
