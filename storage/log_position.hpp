// Positions in a partition's history: plain values, with no storage code
// behind them, so that ha/ can compare histories without depending on how
// storage keeps them.
#pragma once

#include <cstdint>

namespace lg::storage {

/// A position in a partition's history: LSNs grow by one per record across
/// terms; the term is the master's term when the record was written.
struct log_position {
  uint64_t term = 0;
  uint64_t lsn = 0;

  friend bool operator==(const log_position& a, const log_position& b) {
    return a.term == b.term && a.lsn == b.lsn;
  }
  friend bool operator!=(const log_position& a, const log_position& b) {
    return !(a == b);
  }
};

/// The first LSN written under a term (Kafka's leader-epoch entry).
struct term_start {
  uint64_t term = 0;
  uint64_t start_lsn = 0;

  friend bool operator==(const term_start& a, const term_start& b) {
    return a.term == b.term && a.start_lsn == b.start_lsn;
  }
};

} // namespace lg::storage
