// A client workload for simulations and tests: several concurrent streams
// of INSERT statements through a session, recording every acknowledged
// write, so that a checker can prove no acknowledged write was lost.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <caf/actor.hpp>

#include "actors/net/fabric.hpp"

namespace lg {

/// What the workload saw. Written only by the workload actor; read by the
/// driver when the workload is idle (simulation) or stopped.
struct workload_record {
  std::map<std::string, std::string> acked; ///< key -> value acknowledged
  std::map<std::string, std::string> failed; ///< key -> last error
  uint64_t issued = 0;
  uint64_t in_flight = 0;
  uint64_t completed = 0;
  caf::timespan longest{0}; ///< the longest time a write took to complete
  std::string longest_key;
  bool stopped = false;
};

struct workload_config {
  fabric_ptr fab;
  std::string session_node = "local";
  std::string session = "session/1";
  std::string database;
  std::string key_prefix = "k"; ///< keys are <prefix><n>
  int streams = 4;
  uint64_t max_writes = 0; ///< 0: until stopped
  caf::timespan timeout = std::chrono::seconds{30};
  std::shared_ptr<workload_record> record;
};

/// Spawns the workload; it starts writing at once.
caf::actor spawn_workload(caf::actor_system& sys, workload_config cfg);

/// Asks the workload to stop issuing writes (in-flight ones complete).
void stop_workload(const caf::actor& workload);

} // namespace lg
