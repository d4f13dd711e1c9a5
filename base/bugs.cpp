#include "base/bugs.hpp"

namespace lg::bugs {

bool promote_out_of_sync = false;
bool skip_term_fence = false;
bool corrupt_as_torn = false;

std::vector<std::string> names() {
  return {"promote-out-of-sync", "no-term-fence", "corrupt-as-torn"};
}

bool enable(const std::string& name) {
  if (name == "promote-out-of-sync")
    promote_out_of_sync = true;
  else if (name == "no-term-fence")
    skip_term_fence = true;
  else if (name == "corrupt-as-torn")
    corrupt_as_torn = true;
  else
    return false;
  return true;
}

void reset() {
  promote_out_of_sync = false;
  skip_term_fence = false;
  corrupt_as_torn = false;
}

} // namespace lg::bugs
