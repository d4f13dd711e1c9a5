#include "cli/simulate.hpp"

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "base/bugs.hpp"
#include "base/log.hpp"
#include "cluster/simulation.hpp"

namespace lg {

namespace {

const char* help_text =
  "usage: leafguard simulate --seed S [--steps N] [--faults LIST]\n"
  "       leafguard simulate --seeds A-B [--steps N] [--faults LIST]\n"
  "\n"
  "Runs an in-process cluster (4 leaves, redundancy 2) on the deterministic\n"
  "scheduler under a client workload and random faults, checking the HA\n"
  "invariants. The same seed gives the same output, byte for byte.\n"
  "\n"
  "  --seed S          one seed (an unsigned integer)\n"
  "  --seeds A-B       every seed from A to B, one summary line each\n"
  "  --steps N         actor jobs to run with faults on (default 20000)\n"
  "  --aggregators N   voting aggregators electing the master aggregator\n"
  "                    (default 1); with more, the agg-kill,\n"
  "                    agg-restart, agg-isolate, agg-cut, agg-heal and\n"
  "                    agg-pause faults run too\n"
  "  --faults LIST     comma-separated subset of the faults (default all\n"
  "                    but fanout, which switches leaf_failover_fanout and\n"
  "                    converts the database, and runs only when named)\n"
  "  --break NAME      run a deliberately broken variant (to see the\n"
  "                    checker catch it): promote-out-of-sync,\n"
  "                    no-term-fence, stale-reads, no-dedup,\n"
  "                    corrupt-as-torn, no-failover-hold,\n"
  "                    trust-recorded-master,\n"
  "                    commit-on-reset, keep-conflicting-suffix,\n"
  "                    no-role-reconcile, async-alone-unsynced,\n"
  "                    attach-trusts-silent-master,\n"
  "                    forget-rejoining-attach, move-replica-in-place,\n"
  "                    no-aggregator-fence, apply-stale-metadata,\n"
  "                    ignore-unannounced-restart, forget-users\n"
  "  --users           create a user with a grant before the faults and\n"
  "                    check that both survive them\n"
  "  --trace-dir DIR   where a failing seed's trace goes (default /tmp)\n"
  "  --log-level L     off, critical, error, warn, info, debug (default off)\n";

std::string known_breaks() {
  std::string out;
  for (auto& name : bugs::names())
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

bool parse_u64(const std::string& text, uint64_t& out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos
      || text.size() > 19)
    return false;
  out = std::stoull(text);
  return true;
}

int bad(const std::string& what) {
  std::cerr << "leafguard simulate: " << what
            << " (see leafguard simulate --help)\n";
  return 2;
}

} // namespace

int run_simulate(const std::vector<std::string>& args) {
  simulation_options opts;
  uint64_t first = 0;
  uint64_t last = 0;
  bool have_seed = false;
  std::string log_level = "off";
  std::vector<std::string> broken;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << help_text;
      return 0;
    }
    if (a == "--users") {
      opts.users = true;
      continue;
    }
    if (i + 1 >= args.size())
      return bad("option '" + a + "' needs a value, or is unknown");
    auto& v = args[++i];
    if (a == "--seed") {
      if (!parse_u64(v, first))
        return bad("--seed wants an unsigned integer, not '" + v + "'");
      last = first;
      have_seed = true;
    } else if (a == "--seeds") {
      auto dash = v.find('-');
      if (dash == std::string::npos || !parse_u64(v.substr(0, dash), first)
          || !parse_u64(v.substr(dash + 1), last) || last < first)
        return bad("--seeds wants A-B with A <= B, not '" + v + "'");
      have_seed = true;
    } else if (a == "--aggregators") {
      uint64_t n = 0;
      if (!parse_u64(v, n) || n < 1 || n > 7)
        return bad("--aggregators wants 1..7, not '" + v + "'");
      opts.aggregators = static_cast<int>(n);
    } else if (a == "--steps") {
      if (!parse_u64(v, opts.steps) || opts.steps == 0
          || opts.steps > 100000000)
        return bad("--steps wants 1..100000000, not '" + v + "'");
    } else if (a == "--faults") {
      std::stringstream ss{v};
      std::string f;
      while (std::getline(ss, f, ',')) {
        bool known = false;
        for (auto& k : all_faults())
          known = known || k == f;
        if (!known) {
          std::string list;
          for (auto& k : all_faults())
            list += (list.empty() ? "" : ", ") + k;
          return bad("unknown fault '" + f + "' in --faults (known: " + list
                     + ")");
        }
        opts.faults.insert(f);
      }
      if (opts.faults.empty())
        return bad("--faults wants at least one fault");
    } else if (a == "--break") {
      broken.push_back(v);
    } else if (a == "--trace-dir") {
      opts.trace_dir = v;
    } else if (a == "--log-level") {
      log_level = v;
    } else {
      return bad("unknown option '" + a + "'");
    }
  }
  if (!have_seed)
    return bad("--seed S or --seeds A-B is required");
  if (!set_log_level(log_level))
    return bad("unknown --log-level '" + log_level + "'");
  bugs::reset();
  for (auto& b : broken)
    if (!bugs::enable(b))
      return bad("unknown --break '" + b + "' (known: " + known_breaks()
                 + ")");
  uint64_t failed = 0;
  uint64_t steps = 0;
  double wall = 0;
  for (uint64_t seed = first;; ++seed) {
    opts.seed = seed;
    auto r = run_simulation(opts);
    steps += r.steps;
    wall += r.wall_seconds;
    if (first == last) {
      std::cout << r.report;
    } else {
      std::cout << "seed " << seed << ": "
                << (r.passed ? "PASS" : "FAIL: " + r.failure
                                          + " (trace: " + r.trace_path + ")")
                << "\n";
    }
    std::cout.flush();
    if (!r.passed)
      ++failed;
    if (seed == last)
      break;
  }
  if (first != last)
    std::cout << (last - first + 1) << " seeds, " << failed << " failed\n";
  std::cout.flush();
  // Wall-clock speed is not part of the deterministic report.
  std::fprintf(stderr, "(%llu simulated steps in %.2f s: %.0f steps/s)\n",
               static_cast<unsigned long long>(steps), wall,
               wall > 0 ? static_cast<double>(steps) / wall : 0.0);
  return failed > 0 ? 1 : 0;
}

} // namespace lg
