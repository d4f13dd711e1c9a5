// Ceilings and floors a benchmark prints beside its own figures, measured in
// the same run on the same machine: what memory and the page cache can do at
// most, and the least work a failover of many partitions must do.
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

/// Milliseconds for the least work that making `n` partitions writable on a
/// new master takes in this design, with nothing else around: `n` CAF
/// actors, one per instance, each holding its own open log file under `dir`
/// (as a replica does); one driver sends each a promotion and waits for
/// every answer, then sends each one write, which appends one record to its
/// file, and waits for every answer. No detection, metadata, partition map
/// or retry. Returns -1 when a file cannot be made or written.
double partition_floor_ms(size_t n, const std::string& dir);

/// CPU microseconds per row that a replica's storage work alone takes, with
/// nothing else around: `rows` 100-byte rows are written through a master's
/// store under `dir` in batches of `batch`, and the replica's store takes
/// each batch's log bytes as replication delivers them (crc checked,
/// appended, written to its log) and applies the rows every 1 MiB, as a
/// replica does. No actors, messages or client. Returns -1 when a store
/// cannot be opened or written.
double replica_storage_us_per_row(size_t rows, size_t batch,
                                  const std::string& dir);

} // namespace lg::bench
