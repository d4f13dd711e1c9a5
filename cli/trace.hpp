// `leafguard trace`: a filtered timeline or HTML sequence diagram of one or
// more trace files, merged by Lamport clock.
#pragma once

#include <string>
#include <vector>

namespace lg {

/// Runs `leafguard trace ARGS`; returns the exit status.
int run_trace(const std::vector<std::string>& args);

} // namespace lg
