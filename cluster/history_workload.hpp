// A client workload that records a history for the linearizability checker
// (check/linearizability.hpp): several sequential clients do upserts,
// deletes and point reads on a small key space, so that every key is
// written many times, by several clients, while faults happen. Each
// operation is recorded with its invocation and completion time (the
// actor clock: virtual time under the test scheduler) and its outcome.
//
//   1. Each client picks an operation (put 50%, delete 15%, get 35%) on a
//      key drawn from `keys`, with a value no other write uses.
//   2. It sends the statement to its session and waits for the answer (or
//      `timeout`), then records the operation and picks the next one
//      (after `pause_after_unknown` when its outcome was unknown).
//   3. An answer that says OK is `ok` (a get carries the value read). Any
//      other answer, or none, is `unknown`: a write the session gave up on
//      may still be in a master's log and apply later (an error does not
//      prove a write was not applied), and the checker lets such a write
//      take effect at any time after its invocation, or never.
//   4. With `on_operation` set, each operation is also handed to it when it
//      is invoked and when it completes, so that a driver can stream the
//      history (`leafguard history` writes it to a file).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/net/fabric.hpp"
#include "check/linearizability.hpp"

namespace lg {

/// The history a history workload records. Written only by its actor; read
/// by the driver once the workload stopped (or between steps of a
/// simulation).
struct history_record {
  std::vector<check::operation> ops;
  uint64_t in_flight = 0;
  bool stopped = false;
};

struct history_config {
  fabric_ptr fab;
  std::string session_node = "local";
  /// One entry per client: the session it sends through. Several clients
  /// may share a session.
  std::vector<std::string> clients;
  uint32_t first_client_id = 1; ///< client ids in the history
  std::string database;
  int keys = 8;                ///< keys are h0 .. h<keys-1>
  uint64_t seed = 1;           ///< picks operations and keys
  caf::timespan timeout = std::chrono::seconds{30};
  /// How long a client waits before its next operation after an unknown
  /// outcome (0: at once), so that a cluster that refuses at once is not
  /// flooded with requests.
  caf::timespan pause_after_unknown = caf::timespan::zero();
  /// False: completed operations go to `on_operation` only, not to
  /// `record->ops` (a long run in real time keeps no history in memory).
  bool keep_ops = true;
  std::shared_ptr<history_record> record;
  /// Called on the workload's actor with each operation when it is invoked
  /// (`done` false, outcome not known yet) and when it completes (`done`
  /// true; `error` is the answer's error, or why there was none, for an
  /// unknown outcome). Optional.
  std::function<void(const check::operation& op, bool done,
                     const std::string& error)>
    on_operation;
};

/// Spawns the workload; its clients start at once.
caf::actor spawn_history_workload(caf::actor_system& sys, history_config cfg);

/// Asks the workload to stop (operations in flight complete first).
void stop_history_workload(const caf::actor& workload);

/// The key `i` of a history workload's key space.
std::string history_key(int i);

/// Reads the time of `t` as the history records it (microseconds).
int64_t history_time(time_point t);

} // namespace lg
