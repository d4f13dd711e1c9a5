// The master aggregator's jobs: the work on one instance (or one REBALANCE)
// that SHOW REBALANCE STATUS lists, with its kind and how it ended.
#pragma once

#include <cstdint>
#include <string>

#include "actors/net/fabric.hpp"

namespace lg {

/// What a job does.
enum class job_action {
  attach,             ///< a copy on an attached leaf catches up
  rebuild,            ///< a copy is rebuilt from its master
  copy,               ///< a new copy, rebuilt from the master (a move)
  switch_master,      ///< the master moves within its pair
  detach,             ///< DETACH LEAF moved a master to its pair
  drop,               ///< a copy dropped by a REBALANCE
  rebalance,          ///< a whole REBALANCE PARTITIONS
  restore_redundancy, ///< a whole RESTORE REDUNDANCY
  attach_rebalance,   ///< masters move back to a leaf attached by itself
  create_database,    ///< a CREATE DATABASE creating its instances
};

/// The job's name in SHOW REBALANCE STATUS and in statements' messages.
const char* to_string(job_action a);

/// How far a job is.
enum class job_status {
  running,
  success,
  failed,
  superseded, ///< a newer job on the same instance took over
};

/// The status's name in SHOW REBALANCE STATUS.
const char* to_string(job_status s);

/// Attach, rebuild and detach work on one instance (SHOW REBALANCE STATUS).
struct rebuild_job {
  job_action action = job_action::attach;
  std::string db;
  uint32_t ordinal = 0;
  std::string leaf; ///< the instance's leaf
  time_point started;
  time_point finished;
  job_status status = job_status::running;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  /// A job counted in steps rather than bytes (instances created).
  uint64_t steps_done = 0;
  uint64_t steps_total = 0;
  bool diverged = false;
  std::string details;
};

} // namespace lg
