// Measuring helpers that every benchmark shares, with no CAF: the CPU a
// process used and percentiles of latencies.
#pragma once

#include <cstdint>
#include <vector>

namespace lg::bench {

/// User plus system CPU seconds this process has used.
double process_cpu_seconds();

/// Returns the p-th percentile (0..100) of `xs`, in the unit of `xs`.
double percentile(std::vector<uint32_t> xs, double p);

} // namespace lg::bench
