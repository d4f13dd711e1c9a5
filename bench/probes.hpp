// Ceilings a benchmark prints beside its own figures, measured in the same
// run on the same machine: what memory and the page cache can do at most.
#pragma once

#include <cstddef>
#include <string>

namespace lg::bench {

/// MB/s of memcpy between two buffers of `bytes` (pages faulted in first).
double memcpy_mb_per_s(size_t bytes);

/// Writes `bytes` to a new file under `dir` in 4 MiB writes, as a replica
/// writes a received snapshot (no fsync: async durability), and returns
/// MB/s, or 0 when the file cannot be written: the page cache's own rate, a
/// ceiling for any rebuild that writes its copy.
double file_write_mb_per_s(const std::string& dir, size_t bytes);

} // namespace lg::bench
