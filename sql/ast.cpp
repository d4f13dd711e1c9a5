#include "sql/ast.hpp"

namespace lg::sql {

const char* to_string(leaf_fault x) {
  switch (x) {
    case leaf_fault::start:
      return "START";
    case leaf_fault::kill:
      return "KILL";
    case leaf_fault::restart:
      return "RESTART";
    case leaf_fault::destroy:
      return "DESTROY";
    case leaf_fault::isolate:
      return "ISOLATE";
    case leaf_fault::heal:
      return "HEAL";
  }
  return "UNKNOWN";
}

std::optional<privilege> privilege_named(const std::string& name) {
  for (auto p : {privilege::select, privilege::insert, privilege::delete_,
                 privilege::create, privilege::drop, privilege::cluster,
                 privilege::all})
    if (name == to_string(p))
      return p;
  return std::nullopt;
}

const char* to_string(privilege x) {
  switch (x) {
    case privilege::select:
      return "SELECT";
    case privilege::insert:
      return "INSERT";
    case privilege::delete_:
      return "DELETE";
    case privilege::create:
      return "CREATE";
    case privilege::drop:
      return "DROP";
    case privilege::cluster:
      return "CLUSTER";
    case privilege::all:
      return "ALL PRIVILEGES";
  }
  return "UNKNOWN";
}

} // namespace lg::sql
