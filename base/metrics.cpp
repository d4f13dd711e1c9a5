#include "base/metrics.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace lg::metrics {

histogram::histogram(std::vector<double> bounds)
  : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  if (bounds_.size() > max_bounds)
    bounds_.resize(max_bounds);
  for (auto& c : counts_)
    c.store(0, std::memory_order_relaxed);
  for (auto b : bounds_)
    bounds_ns_.push_back(static_cast<uint64_t>(std::llround(b * 1e9)));
}

size_t histogram::bucket_of(uint64_t ns) const {
  // Searched from the smallest: most observations fall in the first few.
  size_t i = 0;
  while (i < bounds_ns_.size() && ns > bounds_ns_[i])
    ++i;
  return i;
}

void histogram::observe(std::chrono::nanoseconds d) {
  auto ns = d.count() > 0 ? static_cast<uint64_t>(d.count()) : 0;
  counts_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

void histogram::observe_single(std::chrono::nanoseconds d) {
  auto ns = d.count() > 0 ? static_cast<uint64_t>(d.count()) : 0;
  auto bump = [](std::atomic<uint64_t>& a, uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  };
  bump(counts_[bucket_of(ns)], 1);
  bump(count_, 1);
  bump(sum_ns_, ns);
}

void histogram::add_to(std::vector<uint64_t>& into) const {
  auto n = bounds_.size() + 1;
  if (into.size() < n + 2)
    into.resize(n + 2, 0);
  for (size_t i = 0; i < n; ++i)
    into[i] += counts_[i].load(std::memory_order_relaxed);
  into[n] += count_.load(std::memory_order_relaxed);
  into[n + 1] += sum_ns_.load(std::memory_order_relaxed);
}

double histogram::sum() const {
  return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

std::vector<double> latency_bounds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
}

std::vector<double> duration_bounds() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120};
}

registry::family& registry::family_of(const std::string& name, kind type,
                                      const std::string& help) {
  auto [it, added] = families_.try_emplace(name);
  if (added) {
    it->second.type = type;
    it->second.help = help;
  }
  return it->second;
}

template <class Make>
registry::entry& registry::entry_of(const std::string& name, kind type,
                                    const std::string& help, const labels& l,
                                    Make make) {
  auto& fam = family_of(name, type, help);
  auto key = render_labels(l);
  auto it = fam.series.find(key);
  if (it == fam.series.end())
    it = fam.series.emplace(key, entry{l, make(), {}, {}, {}}).first;
  if (!it->second.main)
    it->second.main = make(); // the name and labels of an owned gauge
  return it->second;
}

template <class T, class Make>
T& registry::series(const std::string& name, kind type,
                    const std::string& help, const labels& l, Make make) {
  std::lock_guard<std::mutex> guard{mutex_};
  return *static_cast<T*>(entry_of(name, type, help, l, make).main.get());
}

template <class T, class Make>
T* registry::shard(const std::string& name, kind type, const std::string& help,
                   const labels& l, Make make) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto& e = entry_of(name, type, help, l, make);
  if (!e.free_shards.empty()) {
    auto* s = static_cast<T*>(e.free_shards.back());
    e.free_shards.pop_back();
    return s;
  }
  e.shards.push_back(make());
  shard_entries_[e.shards.back().get()] = &e;
  return static_cast<T*>(e.shards.back().get());
}

counter& registry::get_counter(const std::string& name,
                               const std::string& help, const labels& l) {
  return series<counter>(name, kind::counter, help, l,
                         [] { return std::make_shared<counter>(); });
}

gauge& registry::get_gauge(const std::string& name, const std::string& help,
                           const labels& l) {
  return series<gauge>(name, kind::gauge, help, l,
                       [] { return std::make_shared<gauge>(); });
}

histogram& registry::get_histogram(const std::string& name,
                                   const std::string& help,
                                   std::vector<double> bounds,
                                   const labels& l) {
  return series<histogram>(name, kind::histogram, help, l, [&] {
    return std::make_shared<histogram>(bounds);
  });
}

counter* registry::counter_shard(const std::string& name,
                                 const std::string& help, const labels& l) {
  return shard<counter>(name, kind::counter, help, l,
                        [] { return std::make_shared<counter>(); });
}

histogram* registry::histogram_shard(const std::string& name,
                                     const std::string& help,
                                     const std::vector<double>& bounds,
                                     const labels& l) {
  return shard<histogram>(name, kind::histogram, help, l, [&] {
    return std::make_shared<histogram>(bounds);
  });
}

void registry::release_shard(const void* shard) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = shard_entries_.find(shard);
  if (it != shard_entries_.end())
    it->second->free_shards.push_back(const_cast<void*>(shard));
}

std::shared_ptr<gauge> registry::owned_gauge(const std::string& name,
                                             const std::string& help,
                                             const labels& l) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto& fam = family_of(name, kind::gauge, help);
  auto g = std::make_shared<gauge>();
  auto& e = fam.series[render_labels(l)];
  e.l = l;
  e.main.reset();
  e.owned = g;
  return g;
}

void registry::for_each_gauge(
  const std::string& name,
  const std::function<void(const labels&, int64_t)>& fn) const {
  std::vector<std::pair<labels, std::shared_ptr<gauge>>> copy;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto it = families_.find(name);
    if (it == families_.end() || it->second.type != kind::gauge)
      return;
    for (auto& [key, e] : it->second.series)
      if (auto g = gauge_of(e))
        copy.emplace_back(e.l, std::move(g));
  }
  for (auto& [l, g] : copy)
    if (g->shown())
      fn(l, g->value());
}

std::shared_ptr<gauge> registry::gauge_of(const entry& e) {
  if (e.main)
    return std::static_pointer_cast<gauge>(e.main);
  return e.owned.lock();
}

void registry::add_collector(const std::string& key,
                             std::function<void(registry&)> fn) {
  std::lock_guard<std::mutex> guard{mutex_};
  collectors_.emplace(key, std::move(fn));
}

namespace {

std::string number(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double (0.00025, not
  // 0.00025000000000000001).
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

std::string escape_help(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

/// `l` plus one more label, rendered.
std::string with_label(labels l, const std::string& name,
                       const std::string& value) {
  l.emplace_back(name, value);
  return render_labels(l);
}

} // namespace

std::string render_labels(const labels& l) {
  if (l.empty())
    return "";
  std::string out = "{";
  for (size_t i = 0; i < l.size(); ++i) {
    if (i > 0)
      out += ',';
    out += l[i].first;
    out += "=\"";
    for (char c : l[i].second) {
      if (c == '\\' || c == '"')
        out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string registry::scrape() {
  std::vector<std::function<void(registry&)>> collectors;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& [key, fn] : collectors_)
      collectors.push_back(fn);
  }
  for (auto& fn : collectors)
    fn(*this);
  std::ostringstream out;
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& [name, fam] : families_) {
    // Owned gauges whose holders went are forgotten here, not when they go.
    for (auto it = fam.series.begin(); it != fam.series.end();)
      if (!it->second.main && it->second.owned.expired())
        it = fam.series.erase(it);
      else
        ++it;
    if (fam.series.empty())
      continue;
    const char* type = fam.type == kind::counter   ? "counter"
                       : fam.type == kind::gauge ? "gauge"
                                                 : "histogram";
    // The family's lines, headed by HELP and TYPE unless every series in
    // it is hidden.
    std::ostringstream family_out;
    for (auto& [key, e] : fam.series) {
      switch (fam.type) {
        case kind::counter: {
          auto v = static_cast<counter*>(e.main.get())->value();
          for (auto& shard : e.shards)
            v += static_cast<counter*>(shard.get())->value();
          family_out << name << key << ' ' << v << '\n';
          break;
        }
        case kind::gauge:
          if (auto g = gauge_of(e); g && g->shown())
            family_out << name << key << ' ' << g->value() << '\n';
          break;
        case kind::histogram: {
          auto* h = static_cast<histogram*>(e.main.get());
          std::vector<uint64_t> sums;
          h->add_to(sums);
          for (auto& shard : e.shards)
            static_cast<histogram*>(shard.get())->add_to(sums);
          auto n = h->bounds().size();
          uint64_t cumulative = 0;
          for (size_t i = 0; i < n; ++i) {
            cumulative += sums[i];
            family_out << name << "_bucket"
                << with_label(e.l, "le", number(h->bounds()[i])) << ' '
                << cumulative << '\n';
          }
          cumulative += sums[n];
          // The count read separately may run ahead of the buckets while
          // writers go on: +Inf and _count show the buckets' total, so that
          // the series stays consistent.
          family_out << name << "_bucket" << with_label(e.l, "le", "+Inf") << ' '
              << cumulative << '\n'
              << name << "_sum" << key << ' '
              << number(static_cast<double>(sums[n + 2]) / 1e9) << '\n'
              << name << "_count" << key << ' ' << cumulative << '\n';
          break;
        }
      }
    }
    auto text = family_out.str();
    if (text.empty())
      continue;
    out << "# HELP " << name << ' ' << escape_help(fam.help) << '\n'
        << "# TYPE " << name << ' ' << type << '\n'
        << text;
  }
  return out.str();
}

void add_process_metrics(registry& r) {
  auto& rss = r.get_gauge("leafguard_process_resident_memory_bytes",
                          "Resident memory of the process, in bytes.");
  auto& fds = r.get_gauge("leafguard_process_open_fds",
                          "Open file descriptors of the process.");
  r.add_collector("process", [&rss, &fds](registry&) {
    std::ifstream statm{"/proc/self/statm"};
    uint64_t size = 0;
    uint64_t resident = 0;
    if (statm >> size >> resident)
      rss.set(static_cast<int64_t>(resident)
              * static_cast<int64_t>(sysconf(_SC_PAGESIZE)));
    int64_t n = 0;
    if (auto* dir = opendir("/proc/self/fd")) {
      while (auto* e = readdir(dir))
        if (e->d_name[0] != '.')
          ++n;
      closedir(dir);
      --n; // the descriptor of the listing itself
    }
    fds.set(n);
  });
}

void add_max_by_label(registry& r, const std::string& source,
                      const std::string& by, const std::string& target,
                      const std::string& help) {
  r.add_collector("max " + source + " by " + by, [=](registry& reg) {
    std::map<std::string, int64_t> max;
    reg.for_each_gauge(source, [&](const labels& l, int64_t v) {
      for (auto& [name, value] : l)
        if (name == by) {
          auto [it, added] = max.emplace(value, v);
          if (!added)
            it->second = std::max(it->second, v);
        }
    });
    // Every value of `by` seen once stays, at 0 when nothing holds it now.
    reg.for_each_gauge(target, [&](const labels& l, int64_t) {
      for (auto& [name, value] : l)
        if (name == by)
          max.emplace(value, 0);
    });
    for (auto& [value, v] : max)
      reg.get_gauge(target, help, {{by, value}}).set(v);
  });
}

} // namespace lg::metrics
