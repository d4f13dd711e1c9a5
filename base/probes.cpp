#include "base/probes.hpp"

#include <mutex>
#include <vector>

namespace lg {

namespace {

std::mutex& registry_mutex() {
  static std::mutex mtx;
  return mtx;
}

std::vector<probe*>& registry() {
  static std::vector<probe*> xs;
  return xs;
}

} // namespace

probe::probe(const char* name, const char* description)
  : name_(name), description_(description) {
  std::lock_guard<std::mutex> guard{registry_mutex()};
  registry().push_back(this);
}

std::map<std::string, const probe*> all_probes() {
  std::lock_guard<std::mutex> guard{registry_mutex()};
  std::map<std::string, const probe*> result;
  for (auto* p : registry())
    result.emplace(p->name(), p);
  return result;
}

void reset_probes() {
  std::lock_guard<std::mutex> guard{registry_mutex()};
  for (auto* p : registry())
    p->reset();
}

} // namespace lg
