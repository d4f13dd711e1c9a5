// A trace sink that writes every protocol message as one JSON line:
//   {"at_us":..,"lamport":..,"event":"sent","from":"n/a","to":"n/a",
//    "type":"WriteRequest","partition":"db:3","term":4,"trace_id":..,
//    "fields":{...}}
#pragma once

#include <cstdio>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "actors/net/fabric.hpp"
#include "base/error.hpp"

namespace lg {

/// Writes the trace of one process to a file, one JSON object per line.
class trace_file_sink : public trace_sink {
public:
  ~trace_file_sink() override;

  /// Creates (truncates) `path`. Errors name the file.
  static result<std::shared_ptr<trace_file_sink>> open(const std::string& path);

  void record(const envelope& env, transport_event what,
              int64_t at_us) override;

  /// Flushes buffered lines to the file.
  void flush();

private:
  explicit trace_file_sink(std::FILE* file, std::string path);

  std::chrono::steady_clock::time_point last_flush_{};
  std::mutex mtx_;
  std::FILE* file_;
  std::string path_;
};

/// Renders one trace record as its JSON line (without newline).
std::string trace_line(const envelope& env, transport_event what,
                       int64_t at_us);

} // namespace lg
