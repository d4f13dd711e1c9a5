// `leafguard simulate`: deterministic fault simulation from the command line.
#pragma once

#include <string>
#include <vector>

namespace lg {

/// Runs `leafguard simulate ARGS`; returns the exit status (0: every seed
/// passed, 1: a seed failed, 2: bad arguments).
int run_simulate(const std::vector<std::string>& args);

} // namespace lg
