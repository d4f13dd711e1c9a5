#include "consensus/election_timeout.hpp"

#include <algorithm>

namespace lg::consensus {

std::optional<ranked_draw>
ranked_election_timeout(std::vector<uint64_t> voters, uint64_t me, int min,
                        int max, uint64_t random, int min_step) {
  std::sort(voters.begin(), voters.end());
  voters.erase(std::unique(voters.begin(), voters.end()), voters.end());
  auto at = std::find(voters.begin(), voters.end(), me);
  if (voters.size() < 2 || at == voters.end() || max <= min)
    return std::nullopt;
  ranked_draw out;
  out.rank = at - voters.begin();
  out.voters = voters.size();
  double span = max - min;
  double first = std::max(span * 0.05, static_cast<double>(min_step));
  double step = std::max(span * 0.1 / static_cast<double>(voters.size() - 1),
                         static_cast<double>(min_step));
  double offset = first + step * static_cast<double>(out.rank);
  auto jitter_range = static_cast<uint64_t>(std::max(1.0, span / 50)) + 1;
  auto jitter = static_cast<int>(random % jitter_range);
  out.timeout_ms = std::min(max, min + static_cast<int>(offset) + jitter);
  return out;
}

} // namespace lg::consensus
