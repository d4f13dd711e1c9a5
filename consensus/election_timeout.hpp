// The election timeout a voting aggregator draws, as a pure function.
//
// libraft draws a follower's timeout at random between 1x and 2x the
// configured one. Its followers also refuse every vote while they know a
// leader, that is until their own timer runs out, so after a leader dies
// (or hangs, or is cut off) the election ends only when the *last*
// follower's timer does: over the whole span that is up to 2x the timeout,
// 1.67x on average with three voters.
//
// Ranked, each follower's timeout is set by its rank among the voters (by
// id): from a twentieth of the span after the timeout, the ranks spread
// over a tenth of it, plus up to a fiftieth at random. The last follower
// then stands within about 1.17x the timeout, and the stagger orders the
// candidates so that votes rarely split. Timers are checked once a tick,
// so neither the first offset nor the step between ranks is less than
// `min_step` (two ticks): two followers whose timers ran out on one tick
// would stand together and split the votes. A candidate whose election
// failed draws at random over the whole span, as libraft does, so that a
// split cannot repeat itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace lg::consensus {

struct ranked_draw {
  long rank = 0;      ///< this voter's rank among the voters, by id
  size_t voters = 0;  ///< how many voters there were
  int timeout_ms = 0; ///< between min and max
};

/// The ranked timeout of voter `me` among `voters` (ids, any order),
/// between `min` and `max`, ranks at least `min_step` apart; `random`
/// picks the jitter. Empty when `me` is not a voter or votes alone (it
/// needs no election timeout then).
std::optional<ranked_draw>
ranked_election_timeout(std::vector<uint64_t> voters, uint64_t me, int min,
                        int max, uint64_t random, int min_step = 0);

} // namespace lg::consensus
