// Deterministic fault simulation (FoundationDB's simulation, TigerBeetle's
// VOPR): an in-process cluster on CAF's test scheduler, a client workload
// that records every acknowledged write, random faults chosen by a seeded
// generator, and invariants checked as the run goes and once it quiesces.
// The same seed gives the same run and the same report, byte for byte.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace lg {

struct simulation_options {
  uint64_t seed = 1;
  uint64_t steps = 20000; ///< actor jobs to run with faults on
  /// Empty: every fault in all_faults() but the opt-in ones.
  std::set<std::string> faults;
  std::string trace_dir = "/tmp"; ///< where a failing run's trace goes
  /// Voting aggregators (1: one master aggregator and no election); with
  /// more, the agg- faults kill, restart, cut off and heal them.
  int aggregators = 1;
  /// Creates a user with a grant before the faults, and checks at the end
  /// that both survived (the users live in the aggregators' metadata).
  bool users = false;
};

struct simulation_result {
  bool passed = false;
  std::string report;  ///< deterministic text
  std::string failure; ///< the broken invariant, when !passed
  std::string trace_path; ///< the failing run's trace, when !passed
  uint64_t steps = 0;  ///< actor jobs run in all (faults on and quiescing)
  double wall_seconds = 0;
};

/// Every fault the simulation can inject.
const std::vector<std::string>& all_faults();

/// Faults that run only when named in simulation_options::faults
/// ("fanout": the fan-out mode switched and the database converted).
bool opt_in_fault(const std::string& fault);

/// Runs one seed.
simulation_result run_simulation(const simulation_options& opts);

} // namespace lg
