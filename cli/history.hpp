// `leafguard history` and `leafguard check-history`: the client workload of
// the simulation's history check (cluster/history_workload.hpp), run against
// a live multi-node cluster, and the linearizability checker
// (check/linearizability.hpp) run on what it recorded.
//
// history:
//   1. Joins the cluster as a client node (the aggregator at --host:--port),
//      as a benchmark does, reads every key through the aggregator's
//      console (an unreachable cluster, a missing database or a key that
//      already holds a value is an error, exit 1), and spawns --sessions
//      sessions; each session sends reads and writes straight to the
//      partition masters.
//   2. Runs --clients sequential clients on those sessions, on --keys keys
//      of --database, streaming every invocation and completion to --out
//      (check/history_file.hpp) as it happens, so that a killed client
//      still leaves a usable file.
//   3. After --seconds, or on SIGINT or SIGTERM, stops the clients, lets the
//      operations in flight complete (each within --timeout-ms), and prints
//      how many operations were ok and unknown, with the commonest errors.
// check-history:
//   1. Loads the file; an operation it never saw complete is unknown.
//   2. Checks the history and prints its size and the verdict; for a key
//      that is not linearizable, the smallest window of operations that
//      still fails.
#pragma once

#include <string>
#include <vector>

namespace lg {

/// `leafguard history ...`. Exit status 0 once the history is written, 1
/// when the client cannot start, 2 on bad options.
int run_history(const std::vector<std::string>& args);

/// `leafguard check-history FILE`. Exit status 0 when linearizable, 1 when
/// not (or when the check ran out of time), 2 on bad options or a malformed
/// file.
int run_check_history(const std::vector<std::string>& args);

} // namespace lg
