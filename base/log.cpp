#include "base/log.hpp"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace lg {

namespace {

std::mutex mtx;
spdlog::level::level_enum current_level = spdlog::level::warn;

} // namespace

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  std::lock_guard<std::mutex> guard{mtx};
  if (auto existing = spdlog::get(module))
    return existing;
  auto result = spdlog::stderr_color_mt(module);
  result->set_level(current_level);
  result->set_pattern("%H:%M:%S.%e %^%l%$ [%n] %v");
  return result;
}

bool set_log_level(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return false;
  std::lock_guard<std::mutex> guard{mtx};
  current_level = lvl;
  spdlog::set_level(lvl);
  return true;
}

} // namespace lg
