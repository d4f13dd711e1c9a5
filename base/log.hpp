// One spdlog logger per module, and the context prefix every line carries.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace lg {

/// Returns the logger of `module`, creating it on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& module);

/// Sets the level of every module logger, present and future.
/// Accepts trace, debug, info, warn, error, critical, off.
bool set_log_level(const std::string& level);

} // namespace lg
