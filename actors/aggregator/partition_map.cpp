// Partition maps, served by the master aggregator to clients.
//
//   1. A client asks for a database's map: each partition's master, term,
//      and whether it is online (with the reason when it is not), and the
//      request timeout.
//   2. A request that already knows the current version (newer_than) and
//      may wait (wait_ms, at most max_map_wait_ms) is parked: a long poll,
//      answered as soon as the metadata changes or when its wait ends.
//
//   client                                aggregator
//     |--PartitionMapRequest(newer_than v)--->|  parked
//     |                                       |  metadata v -> v + 1
//     |<--PartitionMapReply(v + 1)------------|
#include <algorithm>

#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"

namespace lg {

namespace {

constexpr int64_t max_map_wait_ms = 1000;

void answer_partition_map(ma_self self, const envelope_ptr& req) {
  auto& st = self->state;
  const auto& name = req->partition_map_request().database();
  auto rep = make_envelope();
  auto* body = rep->mutable_partition_map_reply();
  body->set_database(name);
  body->set_version(st.meta.version());
  body->set_request_timeout_ms(st.meta.globals().request_timeout_ms());
  auto db = st.meta.find_database(name);
  if (db == nullptr) {
    body->set_status(pb::UNKNOWN);
    body->set_error("unknown database '" + name + "'");
  } else {
    body->set_status(pb::STATUS_OK);
    body->set_partitions(db->partitions());
    for (auto& part : db->parts()) {
      auto* route = body->add_routes();
      route->set_ordinal(part.ordinal());
      route->set_term(part.term());
      auto* master = master_of(part);
      auto leaf = master ? st.meta.find_leaf(master->leaf()) : nullptr;
      if (master)
        route->set_master(master->leaf());
      auto waiting = st.promotions_waiting.find(
        partition_label(name, part.ordinal()));
      if (waiting != st.promotions_waiting.end()) {
        // Its replica is about to be promoted: clients go there and retry
        // until it is.
        route->set_master(waiting->second);
        route->set_online(true);
        continue;
      }
      // An attaching leaf's masters are being told their role: a client
      // that comes too early is answered NOT_MASTER and retries.
      if (part.offline() || leaf == nullptr
          || !st.meta.leaf_up(leaf->address())) {
        route->set_online(false);
        route->set_offline_reason(
          part.offline() ? part.offline_reason()
          : master       ? "partition " + partition_label(name, part.ordinal())
                             + " on leaf " + master->leaf() + " is offline"
                         : "partition " + partition_label(name, part.ordinal())
                             + " has no master");
      } else {
        route->set_online(true);
      }
    }
  }
  st.ep.reply(self, *req, std::move(rep));
}

void arm_map_timer(ma_self self) {
  auto& st = self->state;
  if (st.parked_maps.empty())
    return;
  auto next = st.parked_maps.front().second;
  for (auto& p : st.parked_maps)
    next = std::min(next, p.second);
  // A short wait parked after a long one must not wait for the long one's
  // timer.
  if (st.map_timer_at && *st.map_timer_at <= next)
    return;
  st.map_timer_at = next;
  auto delay = std::max<caf::timespan>(next - self->clock().now(),
                                       caf::timespan{0});
  arm_timer(self, delay, timer_id::map_wait);
}

} // namespace

/// Answers the parked map requests that are due: all of them when the
/// metadata changed, else those past their deadline.
void answer_parked_maps(ma_self self, bool changed) {
  auto& st = self->state;
  auto now = self->clock().now();
  std::vector<envelope_ptr> due;
  auto& parked = st.parked_maps;
  for (auto i = parked.begin(); i != parked.end();) {
    if (changed
        || st.meta.version() > i->first->partition_map_request().newer_than()
        || i->second <= now) {
      due.push_back(i->first);
      i = parked.erase(i);
    } else {
      ++i;
    }
  }
  for (auto& req : due)
    answer_partition_map(self, req);
}

void on_map_timer(ma_self self) {
  auto& st = self->state;
  if (st.map_timer_at && *st.map_timer_at <= self->clock().now())
    st.map_timer_at.reset();
  answer_parked_maps(self, false);
  arm_map_timer(self);
}

void on_partition_map(ma_self self, const envelope_ptr& req) {
  auto& st = self->state;
  const auto& body = req->partition_map_request();
  if (body.newer_than() > 0 && st.meta.version() <= body.newer_than()
      && body.wait_ms() > 0
      && st.meta.find_database(body.database()) != nullptr) {
    auto wait = std::chrono::milliseconds{
      std::min(body.wait_ms(), max_map_wait_ms)};
    st.parked_maps.emplace_back(req, self->clock().now() + wait);
    arm_map_timer(self);
    return;
  }
  answer_partition_map(self, req);
}

} // namespace lg
