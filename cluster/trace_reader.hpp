// Reading, merging and filtering trace files (the JSON lines written by
// trace_file_sink), for `leafguard trace`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace lg {

/// One recorded message.
struct trace_record {
  int64_t at_us = 0;
  uint64_t lamport = 0;
  std::string event; ///< sent, dropped, delayed, undeliverable
  std::string from;  ///< node/actor
  std::string to;
  std::string type;
  std::string partition;
  uint64_t term = 0;
  std::string fields_json; ///< the message's fields, as JSON
  std::string source;      ///< file:line it came from
};

/// Parses one trace line; the error names what is wrong with it.
result<trace_record> parse_trace_line(const std::string& line);

/// Reads a trace file; a missing, unreadable or damaged file gets an error
/// that names the file (and the line). With `note`, a damaged last line
/// that lacks its newline (a file still being written, or left by a crash)
/// is skipped instead, and `note` says so.
result<std::vector<trace_record>> read_trace_file(const std::string& path,
                                                  std::string* note
                                                  = nullptr);

/// Merges the traces of several processes by Lamport clock (ties keep file
/// order), as a happened-before-consistent timeline.
std::vector<trace_record> merge_traces(
  std::vector<std::vector<trace_record>> traces);

struct trace_filter {
  std::optional<std::string> partition; ///< "db:N"
  std::optional<std::string> leaf;      ///< "h:p": either end on that node
  std::optional<std::string> type;      ///< message type, e.g. PromoteRequest
  std::optional<double> from_ms;        ///< since the first record
  std::optional<double> to_ms;
};

/// The records that pass `f`; times are taken relative to `origin_us`.
std::vector<trace_record> filter_trace(const std::vector<trace_record>& all,
                                       const trace_filter& f,
                                       int64_t origin_us);

/// One line per record: "+ms lamport from -> to Type [partition term] event".
std::string render_timeline(const std::vector<trace_record>& records,
                            int64_t origin_us);

/// A self-contained HTML sequence diagram: a lane per actor, an arrow per
/// message, click an arrow for its fields.
std::string render_html(const std::vector<trace_record>& records,
                        int64_t origin_us, const std::string& title);

} // namespace lg
