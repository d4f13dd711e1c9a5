#include "base/bugs.hpp"

namespace lg::bugs {

bool promote_out_of_sync = false;
bool skip_term_fence = false;
bool no_dedup = false;

std::vector<std::string> names() {
  return {"promote-out-of-sync", "no-term-fence", "no-dedup"};
}

bool enable(const std::string& name) {
  if (name == "promote-out-of-sync")
    promote_out_of_sync = true;
  else if (name == "no-term-fence")
    skip_term_fence = true;
  else if (name == "no-dedup")
    no_dedup = true;
  else
    return false;
  return true;
}

void reset() {
  promote_out_of_sync = false;
  skip_term_fence = false;
  no_dedup = false;
}

} // namespace lg::bugs
