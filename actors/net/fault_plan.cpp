// The fault plan: setting the injected faults, and judging and drawing them
// per message (the steps are at the top of fault_plan.hpp).
#include "actors/net/fault_plan.hpp"

#include <algorithm>

namespace lg {

void fault_plan::cut_node(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  cut_.insert(node);
  update_active();
}

void fault_plan::heal_node(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  cut_.erase(node);
  update_active();
}

void fault_plan::cut_link(const std::string& a, const std::string& b) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  cut_links_.emplace(std::min(a, b), std::max(a, b));
  update_active();
}

void fault_plan::heal_link(const std::string& a, const std::string& b) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  cut_links_.erase({std::min(a, b), std::max(a, b)});
  update_active();
}

void fault_plan::update_active() {
  active_ = !cut_.empty() || !down_.empty() || !cut_links_.empty()
            || !delay_rules_.empty() || random_faults_ || !paused_.empty();
}

void fault_plan::pause_actors(const std::set<caf::actor_addr>& who,
                              caf::actor_clock::time_point until) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  for (auto& a : who)
    if (a)
      paused_[a] = until;
  update_active();
}

caf::timespan fault_plan::paused_for(const caf::actor_addr& from,
                                     caf::actor_clock::time_point now) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = paused_.find(from);
  if (i == paused_.end() || i->second <= now)
    return caf::timespan{0};
  return caf::timespan{i->second - now};
}

void fault_plan::mark_down(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  down_.insert(node);
  update_active();
}

void fault_plan::mark_up(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  down_.erase(node);
  update_active();
}

bool fault_plan::is_cut(const std::string& node) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return cut_.count(node) > 0;
}

void fault_plan::set_random_faults(double drop, double delay,
                                   std::chrono::milliseconds max_delay,
                                   uint64_t seed, double duplicate) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  std::lock_guard<std::mutex> rng_guard{rng_mtx_};
  random_faults_ = drop > 0 || delay > 0 || duplicate > 0;
  drop_ = drop;
  delay_ = delay;
  duplicate_ = duplicate;
  max_delay_ = max_delay;
  rng_.seed(seed);
  update_active();
}

void fault_plan::clear_random_faults() {
  set_random_faults(0, 0, std::chrono::milliseconds{0}, 0);
}

void fault_plan::delay_messages(const std::string& from, const std::string& to,
                                envelope::BodyCase body, caf::timespan by) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  delay_rules_[{from, to, static_cast<int>(body)}] = by;
  update_active();
}

void fault_plan::clear_message_delays() {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  delay_rules_.clear();
  update_active();
}

fault_verdict fault_plan::judge(const envelope& env) const {
  fault_verdict result;
  std::shared_lock<std::shared_mutex> guard{mtx_};
  const auto& h = env.header();
  const auto& a = h.from().node();
  const auto& b = h.to().node();
  if (down_.count(a) > 0) {
    result.action = fault_verdict::drop; // a crashed node sends nothing
  } else if (down_.count(b) > 0) {
    result.action = fault_verdict::refuse;
  } else if (cut_.count(a) > 0 || cut_.count(b) > 0
             || (!cut_links_.empty()
                 && cut_links_.count({std::min(a, b), std::max(a, b)}) > 0)) {
    result.action = fault_verdict::drop;
  } else if (!delay_rules_.empty()) {
    auto rule = delay_rules_.find({a, b, static_cast<int>(env.body_case())});
    if (rule != delay_rules_.end()) {
      result.action = fault_verdict::delay;
      result.by = rule->second;
    }
  }
  return result;
}

fault_verdict fault_plan::draw(const envelope& env) {
  fault_verdict result;
  // Random faults model the network: messages within a node never cross it.
  if (!random_faults_.load(std::memory_order_relaxed)
      || env.header().from().node() == env.header().to().node())
    return result;
  std::lock_guard<std::mutex> guard{rng_mtx_};
  std::uniform_real_distribution<double> coin{0.0, 1.0};
  if (coin(rng_) < drop_) {
    result.action = fault_verdict::drop;
  } else if (coin(rng_) < delay_ && max_delay_.count() > 0) {
    std::uniform_int_distribution<int64_t> pick{1, max_delay_.count()};
    result.action = fault_verdict::delay;
    result.by = std::chrono::milliseconds{pick(rng_)};
  } else if (duplicate_ > 0 && coin(rng_) < duplicate_
             && max_delay_.count() > 0) {
    std::uniform_int_distribution<int64_t> pick{0, max_delay_.count()};
    result.action = fault_verdict::duplicate;
    result.by = std::chrono::milliseconds{pick(rng_)};
  }
  return result;
}

} // namespace lg
