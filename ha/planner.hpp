// The placement planner: cluster state in, ordered steps out. Pure: no I/O,
// no actors. EXPLAIN REBALANCE PARTITIONS / RESTORE REDUNDANCY show its plan.
//
// Balanced state:
//   R1: every partition has one master on an online leaf, and the numbers of
//       masters per online leaf differ by at most one.
//   R2: every partition has a master and a replica on the master's pair
//       (both leaves online), the numbers of partitions per pair differ by
//       at most one, so do the numbers of masters per leaf, and there are
//       no orphans. (With partitions per pair within one of each other,
//       masters split evenly within each pair are within one across all
//       leaves.)
// Steps:
//   COPY PARTITION     a new copy on Target, built from the master (or an
//                      empty master, with FORCE, when no copy is online)
//   PROMOTE PARTITION  the copy on Target becomes master (a graceful switch)
//   DROP PARTITION     the copy on Target is removed
// Load-balanced R2 (leaf_failover_fanout = 'load_balanced'): every partition
//   has a master on an online leaf and a replica on an online leaf of the
//   other group; masters per leaf differ by at most one; and the replicas of
//   each leaf's masters are spread over the leaves of the other group, their
//   numbers there differing by at most one. Reached by switches to replicas
//   first (they copy nothing), then by moving a replica to the leaf a master
//   should go to and switching (copy, promote, drop), then by moving
//   replicas alone (copy, drop). A missing replica is made on the other
//   group's leaf holding the fewest replicas of that master's leaf. Running
//   the planner in the other mode converts a database: paired to
//   load-balanced spreads its replicas, load-balanced to paired moves each
//   replica to its master's pair.
// Steps of one phase may run in parallel; phase n+1 starts when phase n is
// done. Copies come first, promotions second, drops last, so that every
// partition keeps its data and an online master throughout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ha/failover.hpp"
#include "ha/placement.hpp"

namespace lg::ha {

struct plan_instance {
  std::string leaf;
  instance_role role = instance_role::replica;
  bool in_sync = true;
};

struct plan_partition {
  uint32_t ordinal = 0;
  std::vector<plan_instance> instances;
  uint64_t bytes = 0; ///< its size, for time estimates (0 when unknown)
};

struct plan_input {
  int redundancy = 2;
  std::vector<leaf_info> leaves;
  std::vector<plan_partition> partitions;
  bool force = false;        ///< re-create partitions with no online copy
  bool restore_only = false; ///< RESTORE REDUNDANCY: only missing replicas
  /// leaf_failover_fanout = 'load_balanced' (R2): a replica belongs on any
  /// leaf of its master's other group, not on the master's pair.
  bool load_balanced = false;
};

enum class step_action { copy, promote, drop };

const char* to_string(step_action a);

struct plan_step {
  step_action action = step_action::copy;
  uint32_t ordinal = 0;
  std::string target; ///< the leaf the step acts on
  std::string source; ///< copy: the master it copies from ("" = empty)
  int phase = 1;
  uint64_t estimated_ms = 0;
};

struct plan_result {
  std::vector<plan_step> steps; ///< ordered by phase
  /// Partitions with no online copy: re-created empty (FORCE), or left alone
  /// and reported.
  std::vector<uint32_t> recreated_empty;
  std::vector<uint32_t> unrecoverable;
};

/// Returns true when `in` is in the balanced state of its redundancy.
bool is_balanced(const plan_input& in);

/// Plans the steps that take `in` to the balanced state (or, with
/// restore_only, only re-create missing replicas). Copy time is estimated at
/// `copy_bytes_per_ms` plus a fixed cost per step.
plan_result plan_rebalance(const plan_input& in,
                           double copy_bytes_per_ms = 150'000.0);

} // namespace lg::ha
