// `leafguard demo`: a narrated scenario that shows a newcomer what the engine
// does, on an in-process cluster.
#pragma once

#include <string>
#include <vector>

namespace lg {

/// Runs the demo; returns the process exit code.
int run_demo(const std::vector<std::string>& args);

} // namespace lg
