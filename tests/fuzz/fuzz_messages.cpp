// Fuzz target: decoding an Envelope from bytes received from the network.
#include <cstddef>
#include <cstdint>
#include <string>

#include "messages/message_types.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes{reinterpret_cast<const char*>(data), size};
  std::string why;
  auto env = lg::decode_envelope(bytes, why);
  if (env) {
    (void) lg::body_name(*env);
    std::string again;
    env->SerializeToString(&again);
  } else if (why.empty()) {
    __builtin_trap(); // a refusal must say why
  }
  return 0;
}
