// `leafguard sql --host H --port P [-e 'STMTS'] [FILE]`: the console of a
// multi-node cluster. It connects to a node's gateway (the master
// aggregator, or a leaf) over CAF's middleman, or mutual TLS, and prints
// every result as `leafguard local` does.
#pragma once

#include <string>
#include <vector>

namespace lg {

/// Runs the console. Exit status 1 if any statement failed, 2 on bad
/// options or when the node cannot be reached.
int run_sql(const std::vector<std::string>& args);

} // namespace lg
