#include "actors/names.hpp"

namespace lg {

std::string partition_actor_name(const std::string& database,
                                 uint32_t ordinal) {
  return "p/" + database + "/" + std::to_string(ordinal);
}

std::string partition_label(const std::string& database, uint32_t ordinal) {
  return database + ":" + std::to_string(ordinal);
}

} // namespace lg
