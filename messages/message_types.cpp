#include "messages/message_types.hpp"

#include <atomic>

#include "base/log.hpp"

namespace lg {

namespace {

std::atomic<size_t> max_inbound_bytes{size_t{64} << 20};
std::atomic<uint64_t> too_large{0};

} // namespace

void set_max_inbound_message_bytes(size_t bytes) {
  max_inbound_bytes.store(bytes, std::memory_order_relaxed);
}

uint64_t inbound_messages_too_large() {
  return too_large.load(std::memory_order_relaxed);
}

envelope_ptr decode_envelope(const std::string& bytes, std::string& why) {
  auto cap = max_inbound_bytes.load(std::memory_order_relaxed);
  if (bytes.size() > cap) {
    why = "a message of " + std::to_string(bytes.size())
          + " bytes is over max-message-mb ("
          + (cap >= (size_t{1} << 20) ? std::to_string(cap >> 20) + " MiB"
                                      : std::to_string(cap) + " bytes")
          + ")";
    too_large.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  auto result = std::make_shared<envelope>();
  if (!result->ParseFromString(bytes)) {
    why = "malformed Envelope (" + std::to_string(bytes.size()) + " bytes)";
    return nullptr;
  }
  if (result->body_case() == envelope::BODY_NOT_SET) {
    why = "Envelope without a body";
    return nullptr;
  }
  return result;
}

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<wire>("lg_wire");
}

const char* role_text(pb::Role r) {
  switch (r) {
    case pb::MASTER:
      return "Master";
    case pb::REPLICA:
      return "Replica";
    case pb::ORPHAN:
      return "Orphan";
    default:
      return "None";
  }
}

const char* body_name(const envelope& env) {
  auto field = env.GetDescriptor()->FindFieldByNumber(env.body_case());
  if (field == nullptr)
    return "Empty";
  return field->message_type()->name().c_str();
}

} // namespace lg
