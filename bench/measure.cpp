#include "bench/measure.hpp"

#include <algorithm>

#include <sys/resource.h>

namespace lg::bench {

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

double percentile(std::vector<uint32_t> xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(p / 100.0 * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<long>(k), xs.end());
  return xs[k];
}

} // namespace lg::bench
