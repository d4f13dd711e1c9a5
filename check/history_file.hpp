// A history of key-value operations as a text file, one line per event, so
// that a client can stream it as it runs and a killed client still leaves a
// usable file:
//
//   1. The file opens with a comment line; `#` starts a comment anywhere.
//   2. `i CLIENT KIND KEY VALUE INVOKED` when an operation is invoked: KIND
//      is put, del or get; VALUE is the value a put writes (`-` otherwise).
//   3. `c CLIENT RESULT COMPLETED VALUE` when it completes: RESULT is ok or
//      unknown; VALUE is what an ok get read (`-` for absent, and for every
//      other operation). The completion belongs to the client's invocation
//      that is still open: each client runs one operation at a time.
//   4. An invocation the file never completes (the client was killed) is
//      read as unknown: it may have taken effect, or not.
// Keys and values are written `=TEXT`, with every byte outside
// [A-Za-z0-9_.:-] as %XX, so that no value is confused with `-` and none
// holds a space or a line break. Times are integers (microseconds, say).
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

#include "check/linearizability.hpp"

namespace lg::check {

/// The first line of a history file.
std::string history_file_header();

/// The line (with its '\n') that records `op` being invoked.
std::string invocation_line(const operation& op);

/// The line (with its '\n') that records `op` completing; `note`, when not
/// empty, follows as a comment (e.g. the error an unknown operation got).
std::string completion_line(const operation& op, const std::string& note = {});

/// What load_history() read.
struct loaded_history {
  std::vector<operation> ops; ///< in order of completion, then the open ones
  size_t still_running = 0;   ///< invocations never completed (now unknown)
  std::string error;          ///< "" or what is wrong, naming the line
};

/// Reads a history file (see the header comment). On a malformed line,
/// `error` names it and `ops` holds what came before.
loaded_history load_history(std::istream& in);

} // namespace lg::check
