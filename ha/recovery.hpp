// What happens to a partition instance found on a leaf that comes back,
// which of a partition's recovered copies becomes its master, and whether a
// copy's history is a prefix of the master's. Pure functions.
//
// SingleStore: a recovered instance that is the only one of its partition is
// reintroduced as master; one whose pair holds another instance becomes its
// replica, rebuilt if it diverged; one whose partition lives on other leaves
// that are not its pair becomes an orphan.
// Kafka: divergence is found by comparing leader-epoch (term, start offset)
// histories. Raft: of two logs, the one whose last entry has the higher term,
// or the same term and the higher index, is the more up to date.
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

/// As above, with the leaves whose masters a copy on `leaf` may replicate
/// given explicitly: its pair in paired mode; every leaf of the other
/// group with leaf_failover_fanout = 'load_balanced'.
recovery_rule classify_recovered(const std::string& leaf,
                                 const std::vector<std::string>& followed,
                                 const std::vector<instance_view>& others);

/// What the aggregator knows of one copy of a partition when it decides
/// which copy serves the partition after a leaf came back.
enum class copy_state {
  serving,  ///< its leaf is up and serves it in its recorded role
  reported, ///< its leaf came back and opened it (see `last`)
  failed,   ///< its leaf came back and could not open it: it is corrupt
  pending,  ///< its leaf is back, or not heard from since the aggregator
            ///< started, and has not reported it yet
  absent,   ///< its leaf is down or detached, or the copy is missing
};

/// One copy of a partition (orphans excluded).
struct recovered_copy {
  std::string leaf;
  instance_role role = instance_role::replica; ///< as last recorded
  bool in_sync = false; ///< recorded as holding every acknowledged write
  copy_state state = copy_state::absent;
  bool position_known = false; ///< `last` is where its log ends
  storage::log_position last;
};

/// Which copy serves a partition.
struct master_choice {
  enum kind_t {
    keep,   ///< copy `index` serves as master already: the others follow it
    wait,   ///< a copy that may hold more is about to be reported
    choose, ///< copy `index` becomes (or stays) master
    none,   ///< no copy known to hold every acknowledged write: offline
  } kind = none;
  size_t index = 0;
  bool new_term = false; ///< choose: it serves under a new term
  std::string reason;    ///< none: which copies are missing and why
};

/// Chooses the master of a partition whose copies are `copies`:
///   - keep: a master is serving.
///   - The candidates are the copies that hold every acknowledged write:
///     the recorded master and the in-sync replicas (any copy when none is
///     recorded master), reported or serving. A failed copy is never one.
///   - wait: the recorded master or an in-sync replica is pending.
///   - none: no candidate; `reason` names what is missing.
///   - choose: the candidate whose log ends last by (term, lsn), judged by
///     history and not by the recorded role: a recorded master whose log
///     ends before an in-sync replica's is not chosen. Ties go to the
///     recorded master. When a candidate's position is unknown (a copy
///     serving on a leaf that did not restart), a serving in-sync replica
///     is chosen: it never lost a byte, while a copy that came back from a
///     crash may have lost acknowledged writes that were not yet synced
///     (ASYNC durability); all it can lack is unacknowledged writes. Else
///     the recorded master if it is a candidate, else the candidate known
///     to end last.
///   - new_term: unless it is the recorded master and every other copy is
///     reported and ends no later: another copy may hold records past its
///     end under the same term, which only a new term tells apart.
master_choice
choose_recovered_master(const std::vector<recovered_copy>& copies);

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
