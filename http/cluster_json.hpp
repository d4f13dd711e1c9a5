// The JSON of `/api/cluster`, built from the tables of the cluster's SHOW
// statements (pure: no I/O, unit-tested).
//
//   1. The endpoint runs SHOW AGGREGATORS, SHOW LEAVES, SHOW CLUSTER
//      STATUS, SHOW REBALANCE STATUS and SHOW FAILOVERS, as a console
//      would, and hands their results here by name.
//   2. Each table becomes an array of objects with the fields the page and
//      scripts use; numbers are numbers, "NULL" cells are null.
//   3. SHOW CLUSTER STATUS's rows, one per copy, are grouped into
//      partitions with their instances.
//   4. A statement that failed leaves its array empty and adds its error
//      to `errors`: the rest is still shown.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common.pb.h"

namespace lg::http {

/// The statements whose results cluster_json takes, in the order they run.
extern const char* const cluster_statements[5];

/// Returns the JSON object of `/api/cluster` for `node` at `time_ms` (Unix
/// ms), from the results of cluster_statements by statement text.
std::string cluster_json(const std::string& node, int64_t time_ms,
                         const std::map<std::string, pb::ResultSet>& results);

} // namespace lg::http
