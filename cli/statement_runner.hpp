// Feeding statements to a cluster from -e, files or stdin, and printing each
// result as the mysql client does.
#pragma once

#include <functional>
#include <istream>
#include <string>

#include "common.pb.h"

namespace lg {

/// Runs one statement and returns its result.
using statement_fn = std::function<pb::ResultSet(const std::string&)>;

/// Runs every statement in `script`, printing each result to stdout (errors
/// to stdout as `ERROR <code>: <message>`). Returns the number of failures.
int run_script(const std::string& script, const statement_fn& run,
               bool echo = false);

/// Reads statements from `in` (a terminal gets a prompt), running each as
/// soon as its ';' is read. Returns the number of failures.
int run_stream(std::istream& in, bool interactive, const statement_fn& run);

} // namespace lg
