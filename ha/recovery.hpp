// What happens to a partition instance found on a leaf that comes back, and
// whether a copy's history is a prefix of the master's. Pure functions.
//
// SingleStore: a recovered instance that is the only one of its partition is
// reintroduced as master; one whose pair holds another instance becomes its
// replica, rebuilt if it diverged; one whose partition lives on other leaves
// that are not its pair becomes an orphan.
// Kafka: divergence is found by comparing leader-epoch (term, start offset)
// histories.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ha/failover.hpp"
#include "storage/log_position.hpp"

namespace lg::ha {

enum class recovery_rule {
  reintroduce, ///< the only instance: becomes master again
  replica,     ///< the pair holds the master: becomes its replica
  orphan,      ///< the partition lives elsewhere: never served
};

/// Classifies an instance on leaf `leaf` (whose pair is `pair`, empty in R1)
/// given the partition's other known instances `others` (excluding this
/// one). reintroduce when no other instance is master on an online leaf;
/// replica when the master is on `pair`; orphan otherwise.
recovery_rule classify_recovered(const std::string& leaf,
                                 const std::string& pair,
                                 const std::vector<instance_view>& others);

/// Result of comparing a copy's history with the master's.
struct divergence_result {
  bool diverged = false;
  /// When not diverged: the copy can resume by receiving records from
  /// `catch_up_from` (its last lsn + 1).
  uint64_t catch_up_from = 0;
  std::string reason; ///< when diverged: which (term, lsn) disagrees
};

/// Returns the last LSN written under `term` or any earlier term, given a
/// history and the last position: the end offset for that epoch in Kafka's
/// terms. Returns 0 when the history has nothing at or below `term`.
uint64_t end_lsn_for_term(const std::vector<storage::term_start>& history,
                          storage::log_position last, uint64_t term);

/// Returns the term under which `lsn` was written according to `history`
/// (the last entry whose start_lsn <= lsn), or 0 when none.
uint64_t term_at(const std::vector<storage::term_start>& history, uint64_t lsn);

/// Checks whether the copy (history `copy_hist`, last position `copy_last`)
/// is a prefix of the master's (`master_hist`, `master_last`). It is when
/// copy_last.lsn <= master_last.lsn and every copy history entry (term t,
/// covering lsns [start, end], end being the next entry's start - 1 or
/// copy_last.lsn) is written under the same term t at both `start` and `end`
/// in the master's history. Otherwise the copy holds a record the master
/// does not have, and `reason` names the first disagreeing (term, lsn).
/// An empty copy is always a prefix.
divergence_result
check_divergence(const std::vector<storage::term_start>& copy_hist,
                 storage::log_position copy_last,
                 const std::vector<storage::term_start>& master_hist,
                 storage::log_position master_last);

} // namespace lg::ha
