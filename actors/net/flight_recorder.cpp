// The flight recorder: writing the ring of recent messages, reading it
// back in order, dumping it to a file, and the trace sink hook.
#include "actors/net/flight_recorder.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include "base/log.hpp"

namespace lg {

const char* to_string(transport_event x) {
  switch (x) {
    case transport_event::sent:
      return "sent";
    case transport_event::delivered:
      return "delivered";
    case transport_event::dropped:
      return "dropped";
    case transport_event::delayed:
      return "delayed";
    case transport_event::undeliverable:
      return "undeliverable";
  }
  return "?";
}

namespace {

void copy_endpoint(char (&out)[48], const pb::Endpoint& e) {
  auto n = std::min(sizeof(out) - 1, e.node().size());
  std::memcpy(out, e.node().data(), n);
  size_t at = n;
  if (at + 1 < sizeof(out)) {
    out[at++] = '/';
    auto m = std::min(sizeof(out) - 1 - at, e.actor().size());
    std::memcpy(out + at, e.actor().data(), m);
    at += m;
  }
  out[at] = 0;
}

} // namespace

void flight_recorder::remember(const envelope& env, transport_event what,
                               int64_t at_us) {
  auto seq = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  auto& s = ring_[seq % capacity];
  while (s.busy.test_and_set(std::memory_order_acquire)) {
    // another sender wrapped around onto this slot: wait for it
  }
  const auto& h = env.header();
  s.seq = seq;
  s.at_us = at_us;
  s.lamport = h.lamport();
  s.term = h.term();
  s.body = static_cast<int>(env.body_case());
  s.event = static_cast<uint8_t>(what);
  copy_endpoint(s.from, h.from());
  copy_endpoint(s.to, h.to());
  auto n = std::min(sizeof(s.partition) - 1, h.partition().size());
  std::memcpy(s.partition, h.partition().data(), n);
  s.partition[n] = 0;
  s.busy.clear(std::memory_order_release);
}

std::vector<std::string> flight_recorder::recent() const {
  struct row {
    uint64_t seq;
    std::string text;
  };
  std::vector<row> rows;
  auto* desc = envelope::descriptor();
  for (size_t i = 0; i < capacity; ++i) {
    auto& s = ring_[i];
    while (s.busy.test_and_set(std::memory_order_acquire)) {
    }
    if (s.seq != 0) {
      auto field = desc->FindFieldByNumber(s.body);
      std::string text = std::to_string(s.at_us) + " us  L"
                         + std::to_string(s.lamport) + "  " + s.from + " -> "
                         + s.to + "  "
                         + (field ? field->message_type()->name()
                                  : std::string{"Empty"})
                         + (s.partition[0] ? std::string{"  "} + s.partition
                                           : std::string{})
                         + "  term " + std::to_string(s.term);
      auto what = static_cast<transport_event>(s.event);
      if (what != transport_event::sent)
        text += std::string{"  ["} + to_string(what) + "]";
      rows.push_back({s.seq, std::move(text)});
    }
    s.busy.clear(std::memory_order_release);
  }
  std::sort(rows.begin(), rows.end(),
            [](const row& a, const row& b) { return a.seq < b.seq; });
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (auto& r : rows)
    out.push_back(std::move(r.text));
  return out;
}

std::string flight_recorder::dump_recent(const std::string& reason,
                                         const std::string& dir) const {
  static std::atomic<uint64_t> dumps{0};
  std::string name;
  for (char c : reason)
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  auto path = dir + "/leafguard-recent-" + std::to_string(::getpid()) + "-"
              + std::to_string(++dumps) + "-" + name.substr(0, 40) + ".txt";
  auto* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    logger("transport")->error("RecentMessagesNotDumped {}: {}", path,
                               std::strerror(errno));
    return {};
  }
  std::fprintf(f, "# the last %zu messages before: %s\n", capacity,
               reason.c_str());
  for (auto& line : recent()) {
    std::fputs(line.c_str(), f);
    std::fputc('\n', f);
  }
  std::fclose(f);
  logger("transport")->error("RecentMessagesDumped {} ({})", path, reason);
  return path;
}

void flight_recorder::set_trace_sink(std::shared_ptr<trace_sink> sink) {
  std::lock_guard<std::mutex> guard{sink_mtx_};
  tracing_ = sink != nullptr;
  sink_ = std::move(sink);
}

std::shared_ptr<trace_sink> flight_recorder::sink() const {
  if (!tracing())
    return nullptr;
  std::lock_guard<std::mutex> guard{sink_mtx_};
  return sink_;
}

namespace {

std::mutex process_recorder_mtx;
std::weak_ptr<const flight_recorder> process_recorder;

} // namespace

void flight_recorder::set_process_recorder(
  std::weak_ptr<const flight_recorder> rec) {
  std::lock_guard<std::mutex> guard{process_recorder_mtx};
  process_recorder = std::move(rec);
}

void flight_recorder::dump_process_recent(const std::string& reason) {
  std::shared_ptr<const flight_recorder> rec;
  {
    std::lock_guard<std::mutex> guard{process_recorder_mtx};
    rec = process_recorder.lock();
  }
  if (rec)
    rec->dump_recent(reason);
}

} // namespace lg
