#include "messages/message_types.hpp"

namespace lg {

envelope_ptr decode_envelope(const std::string& bytes, std::string& why) {
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
