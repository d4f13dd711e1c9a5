#include "cluster/trace_file.hpp"

#include <chrono>

#include <cerrno>
#include <cstring>

#include <google/protobuf/util/json_util.h>

#include "base/json.hpp"
#include "cluster/local_cluster.hpp"

namespace lg {

std::string trace_line(const envelope& env, transport_event what,
                       int64_t at_us) {
  const auto& h = env.header();
  std::string fields = "{}";
  auto field = env.GetDescriptor()->FindFieldByNumber(env.body_case());
  if (field != nullptr) {
    const auto& body = env.GetReflection()->GetMessage(env, field);
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    fields.clear();
    if (!google::protobuf::util::MessageToJsonString(body, &fields, opts).ok())
      fields = "{}";
  }
  std::string line;
  line.reserve(256 + fields.size());
  line += "{\"at_us\":" + std::to_string(at_us);
  line += ",\"lamport\":" + std::to_string(h.lamport());
  line += ",\"event\":\"" + std::string{to_string(what)} + "\"";
  line += ",\"from\":\"" + json_escape(h.from().node() + "/" + h.from().actor())
          + "\"";
  line += ",\"to\":\"" + json_escape(h.to().node() + "/" + h.to().actor())
          + "\"";
  line += ",\"type\":\"" + std::string{body_name(env)} + "\"";
  line += ",\"partition\":\"" + json_escape(h.partition()) + "\"";
  line += ",\"term\":" + std::to_string(h.term());
  line += ",\"trace_id\":" + std::to_string(h.trace_id());
  line += ",\"correlation_id\":" + std::to_string(h.correlation_id());
  line += ",\"reply_to\":" + std::to_string(h.reply_to());
  line += ",\"fields\":" + fields + "}";
  return line;
}

trace_file_sink::trace_file_sink(std::FILE* file, std::string path)
  : file_(file), path_(std::move(path)) {
}

trace_file_sink::~trace_file_sink() {
  if (file_ != nullptr)
    std::fclose(file_);
}

result<std::shared_ptr<trace_file_sink>>
trace_file_sink::open(const std::string& path) {
  auto* file = std::fopen(path.c_str(), "w");
  if (file == nullptr)
    return make_error(cluster_errc::bad_option,
                      "can't write trace file '" + path
                        + "': " + std::strerror(errno));
  return std::shared_ptr<trace_file_sink>(new trace_file_sink(file, path));
}

void trace_file_sink::record(const envelope& env, transport_event what,
                             int64_t at_us) {
  auto line = trace_line(env, what, at_us);
  line += '\n';
  std::lock_guard<std::mutex> guard{mtx_};
  std::fwrite(line.data(), 1, line.size(), file_);
  // A running node's trace is read while it grows: never more than a
  // fraction of a second behind.
  auto now = std::chrono::steady_clock::now();
  if (now - last_flush_ > std::chrono::milliseconds{200}) {
    std::fflush(file_);
    last_flush_ = now;
  }
}

void trace_file_sink::flush() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::fflush(file_);
}

} // namespace lg
