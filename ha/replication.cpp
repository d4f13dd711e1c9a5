#include "ha/replication.hpp"

namespace lg::ha {

const char* to_string(sync_claim x) {
  switch (x) {
    case sync_claim::settled:
      return "settled";
    case sync_claim::asking_in_sync:
      return "asking_in_sync";
    case sync_claim::asking_out_of_sync:
      return "asking_out_of_sync";
    case sync_claim::asking_out_of_sync_after_unanswered:
      return "asking_out_of_sync_after_unanswered";
    case sync_claim::unanswered:
      return "unanswered";
    case sync_claim::unanswered_idle:
      return "unanswered_idle";
    case sync_claim::retry:
      return "retry";
  }
  return "?";
}

} // namespace lg::ha
