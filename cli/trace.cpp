#include "cli/trace.hpp"

#include <algorithm>
#include <optional>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cluster/trace_reader.hpp"

namespace lg {

namespace {

const char* help_text =
  "usage: leafguard trace FILE... [--partition db:N] [--leaf h:p] [--type T]\n"
  "                       [--from MS --to MS] [--html OUT]\n"
  "\n"
  "Prints the messages of one or more trace files (leafguard local --trace,\n"
  "node processes) as one timeline, merged by Lamport clock. Times are\n"
  "milliseconds since the first message.\n"
  "\n"
  "  --partition db:N  only messages about that partition\n"
  "  --leaf h:p        only messages to or from that leaf\n"
  "  --type T          only messages of that type (e.g. PromoteRequest)\n"
  "  --from MS         only messages at or after MS\n"
  "  --to MS           only messages at or before MS\n"
  "  --since-us US     only messages at or after US on the traced clock\n"
  "  --until-us US     only messages at or before US on the traced clock\n"
  "                    (SHOW FAILOVERS names a failover's messages so)\n"
  "  --html OUT        also write a self-contained HTML sequence diagram\n";

int bad(const std::string& what) {
  std::cerr << "leafguard trace: " << what
            << " (see leafguard trace --help)\n";
  return 2;
}

bool parse_ms(const std::string& text, double& out) {
  try {
    size_t used = 0;
    out = std::stod(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace

int run_trace(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  trace_filter filter;
  std::string html;
  std::optional<double> since_us;
  std::optional<double> until_us;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << help_text;
      return 0;
    }
    if (a.rfind("--", 0) != 0) {
      files.push_back(a);
      continue;
    }
    if (i + 1 >= args.size())
      return bad("option '" + a + "' needs a value, or is unknown");
    auto& v = args[++i];
    double ms = 0;
    if (a == "--partition") {
      if (v.find(':') == std::string::npos)
        return bad("--partition wants db:N, not '" + v + "'");
      filter.partition = v;
    } else if (a == "--leaf") {
      if (v.find(':') == std::string::npos)
        return bad("--leaf wants host:port, not '" + v + "'");
      auto leaf = v;
      leaf.erase(std::remove(leaf.begin(), leaf.end(), '\''), leaf.end());
      filter.leaf = leaf;
    } else if (a == "--type") {
      filter.type = v;
    } else if (a == "--from" || a == "--to") {
      if (!parse_ms(v, ms))
        return bad(a + " wants milliseconds, not '" + v + "'");
      (a == "--from" ? filter.from_ms : filter.to_ms) = ms;
    } else if (a == "--since-us" || a == "--until-us") {
      if (!parse_ms(v, ms))
        return bad(a + " wants microseconds, not '" + v + "'");
      (a == "--since-us" ? since_us : until_us) = ms;
    } else if (a == "--html") {
      html = v;
    } else {
      return bad("unknown option '" + a + "'");
    }
  }
  if (files.empty())
    return bad("no trace file given");
  std::vector<std::vector<trace_record>> traces;
  for (auto& f : files) {
    std::string note;
    auto t = read_trace_file(f, &note);
    if (!t) {
      std::cerr << "leafguard trace: " << t.err().detail() << "\n";
      return 2;
    }
    if (!note.empty())
      std::cerr << "leafguard trace: " << note << "\n";
    traces.push_back(std::move(*t));
  }
  auto all = merge_traces(std::move(traces));
  int64_t origin = 0;
  if (!all.empty()) {
    origin = all.front().at_us;
    for (auto& r : all)
      origin = std::min(origin, r.at_us);
  }
  // Times on the traced clock become times since the first message.
  if (since_us)
    filter.from_ms = (*since_us - static_cast<double>(origin)) / 1000.0;
  if (until_us)
    filter.to_ms = (*until_us - static_cast<double>(origin)) / 1000.0;
  auto shown = filter_trace(all, filter, origin);
  std::cout << render_timeline(shown, origin);
  std::cout << shown.size() << " of " << all.size() << " messages\n";
  if (!html.empty()) {
    std::ofstream out{html};
    std::string title = files.size() == 1 ? files.front()
                                          : std::to_string(files.size())
                                              + " trace files";
    out << render_html(shown, origin, "leafguard trace: " + title);
    if (!out) {
      std::cerr << "leafguard trace: can't write '" << html << "'\n";
      return 2;
    }
    std::cout << "wrote " << html << "\n";
  }
  return 0;
}

} // namespace lg
