// The fabric: the registry of endpoints, routes and the dialer, and send,
// the one way out. send takes each message through four steps:
//
//   1. Fast path, when no fault is set and no trace sink listens: record it
//      in the ring, resolve the receiver and deliver (or dial, or bounce).
//   2. Otherwise ask the fault plan for its fixed faults (crashed nodes,
//      cuts, delay rules).
//   3. Resolve the receiver; a message for an unrouted remote node goes to
//      the dialer. Only then draw the random faults, so that the seeded
//      generator is used for the same messages in the same order.
//   4. Record what happened (ring and trace sink) and act on it: drop,
//      bounce with a TransportError, deliver later, or deliver.
#include "actors/net/fabric.hpp"

#include <caf/actor_cast.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>

namespace lg {

// -- registry -----------------------------------------------------------------

fabric::fabric(caf::actor_system& sys) : sys_(sys) {
}

void fabric::add_endpoint(const std::string& node, const std::string& actor,
                          caf::actor handle) {
  auto key = endpoint_key(node, actor);
  auto& sh = shard_of(key);
  bool added;
  {
    std::unique_lock<std::shared_mutex> guard{sh.mtx};
    auto& slot = sh.endpoints[key];
    added = !slot;
    slot = std::move(handle);
  }
  if (added) {
    std::lock_guard<std::mutex> guard{count_mtx_};
    ++per_node_[node];
  }
}

void fabric::remove_endpoint(const std::string& node, const std::string& actor,
                             const caf::actor_addr& who) {
  auto key = endpoint_key(node, actor);
  auto& sh = shard_of(key);
  {
    std::unique_lock<std::shared_mutex> guard{sh.mtx};
    auto i = sh.endpoints.find(key);
    if (i == sh.endpoints.end() || i->second.address() != who)
      return;
    sh.endpoints.erase(i);
  }
  std::lock_guard<std::mutex> guard{count_mtx_};
  auto j = per_node_.find(node);
  if (j != per_node_.end() && --j->second == 0)
    per_node_.erase(j);
}

size_t fabric::endpoints_on(const std::string& node) const {
  std::lock_guard<std::mutex> guard{count_mtx_};
  auto i = per_node_.find(node);
  return i != per_node_.end() ? i->second : 0;
}

caf::actor fabric::lookup(const std::string& node,
                          const std::string& actor) const {
  auto key = endpoint_key(node, actor);
  auto& sh = shard_of(key);
  std::shared_lock<std::shared_mutex> guard{sh.mtx};
  auto i = sh.endpoints.find(key);
  return i != sh.endpoints.end() ? i->second : caf::actor{};
}

void fabric::set_route(const std::string& node, caf::actor gateway) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  routes_[node] = std::move(gateway);
}

void fabric::remove_route(const std::string& node,
                          const caf::actor_addr& gateway) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  auto i = routes_.find(node);
  if (i != routes_.end() && (!gateway || i->second.address() == gateway))
    routes_.erase(i);
}

caf::actor fabric::route(const std::string& node) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = routes_.find(node);
  return i == routes_.end() ? caf::actor{} : i->second;
}

void fabric::set_dialer(caf::actor dialer) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  dialer_ = std::move(dialer);
}

caf::strong_actor_ptr fabric::remote_sender(const caf::actor& dest) const {
  if (!dest || dest.node() == sys_.node())
    return nullptr;
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return caf::actor_cast<caf::strong_actor_ptr>(dialer_);
}

// -- faults -------------------------------------------------------------------

// -- the record ---------------------------------------------------------------

void fabric::set_trace_sink(std::shared_ptr<trace_sink> sink) {
  recorder_.set_trace_sink(std::move(sink));
}

std::vector<std::string> fabric::recent() const {
  return recorder_.recent();
}

std::string fabric::dump_recent(const std::string& reason,
                                const std::string& dir) const {
  return recorder_.dump_recent(reason, dir);
}

void fabric::set_process_fabric(std::weak_ptr<fabric> fab) {
  // The recorder shares the fabric's lifetime: the registration expires
  // with the fabric, as it did when it named the fabric itself.
  std::shared_ptr<const flight_recorder> rec;
  if (auto strong = fab.lock())
    rec = std::shared_ptr<const flight_recorder>(strong, &strong->recorder_);
  flight_recorder::set_process_recorder(rec);
}

void fabric::dump_process_recent(const std::string& reason) {
  flight_recorder::dump_process_recent(reason);
}

void fabric::record(caf::local_actor* self, const envelope& env,
                    transport_event what, trace_sink* sink) {
  auto at = now_us(self);
  recorder_.remember(env, what, at);
  if (sink)
    sink->record(env, what, at);
}

// -- the one way out ----------------------------------------------------------

fabric::counters fabric::stats() const {
  counters result;
  result.sent = sent_.load();
  result.dropped = dropped_.load();
  result.delayed = delayed_.load();
  result.undeliverable = undeliverable_.load();
  return result;
}

caf::actor fabric::resolve(const pb::Endpoint& to) const {
  // The key is built in a per-thread buffer: this runs for every message.
  thread_local std::string key;
  key.assign(to.node());
  key += '/';
  key += to.actor();
  {
    auto& sh = shard_of(key);
    std::shared_lock<std::shared_mutex> guard{sh.mtx};
    auto i = sh.endpoints.find(key);
    if (i != sh.endpoints.end())
      return i->second;
  }
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto j = routes_.find(to.node());
  if (j != routes_.end())
    return j->second;
  return {};
}

int64_t fabric::now_us(caf::local_actor* self) const {
  auto t = self->clock().now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(t).count();
}

namespace {

/// Heartbeats jump the receiver's queue (CAF's urgent category): a
/// receiver with thousands of other messages waiting (an aggregator taking
/// in the answers of a fan-out to every instance) must not make a live leaf
/// look silent. The middleman's byte stream keeps its order, so the
/// aggregator also paces its fan-outs (paced_fanout).
caf::message_id id_for(const envelope& env) {
  if (env.has_heartbeat_request() || env.has_heartbeat_reply())
    return caf::make_message_id(caf::message_priority::high);
  return caf::make_message_id();
}

/// A message that leaves the process goes out in the name of the process's
/// gateway (`remote_from`, the fabric's dialer): no other actor's handle
/// reaches another process, where a peer could message that actor directly
/// past the gateway's checks, and the receiving gateway knows the link by
/// the sender.
void deliver(caf::local_actor* self, const caf::actor& dest,
             envelope_ptr env, caf::strong_actor_ptr remote_from = nullptr) {
  auto id = id_for(*env);
  caf::strong_actor_ptr from = self->ctrl();
  if (remote_from && dest.node() != self->node())
    from = std::move(remote_from);
  dest->enqueue(caf::make_mailbox_element(std::move(from), id, {},
                                          wire{std::move(env)}),
                self->context());
}

void deliver_later(caf::local_actor* self, const caf::actor& dest,
                   envelope_ptr env, caf::timespan delay) {
  auto at = self->clock().now() + delay;
  auto id = id_for(*env);
  self->clock().schedule_message(
    at, caf::actor_cast<caf::strong_actor_ptr>(dest),
    caf::make_mailbox_element(self->ctrl(), id, {}, wire{std::move(env)}));
}

/// The TransportError that answers request `env`, from its receiver to its
/// sender.
envelope_ptr transport_error_for(const envelope& env, std::string reason) {
  const auto& h = env.header();
  auto err = std::make_shared<envelope>();
  auto* eh = err->mutable_header();
  *eh->mutable_from() = h.to();
  *eh->mutable_to() = h.from();
  eh->set_partition(h.partition());
  eh->set_trace_id(h.trace_id());
  eh->set_lamport(h.lamport());
  eh->set_reply_to(h.correlation_id());
  err->mutable_transport_error()->set_reason(std::move(reason));
  return err;
}

} // namespace

void fabric::bounce(caf::local_actor* self, const envelope& env,
                    const char* why) {
  const auto& h = env.header();
  if (h.correlation_id() == 0)
    return; // not a request: nobody waits for it
  deliver(self, caf::actor_cast<caf::actor>(self->ctrl()),
          transport_error_for(env, why + h.to().node() + "/"
                                     + h.to().actor()));
}

void fabric::refuse(caf::local_actor* self, const envelope& env,
                    const std::string& why) {
  if (env.header().correlation_id() == 0)
    return;
  auto err = transport_error_for(env, why);
  if (auto dest = resolve(err->header().to()))
    deliver(self, dest, std::move(err));
}

void fabric::note_admitted(caf::local_actor* self, const envelope& env) {
  if (auto sink = recorder_.sink())
    sink->admitted(env, now_us(self));
}

bool fabric::deliver_local(caf::local_actor* self, envelope_ptr env) {
  const auto& to = env->header().to();
  auto key = endpoint_key(to.node(), to.actor());
  caf::actor dest;
  {
    auto& sh = shard_of(key);
    std::shared_lock<std::shared_mutex> guard{sh.mtx};
    auto i = sh.endpoints.find(key);
    if (i != sh.endpoints.end())
      dest = i->second;
  }
  if (!dest)
    return false;
  if (auto sink = recorder_.sink())
    sink->record(*env, transport_event::delivered, now_us(self));
  deliver(self, dest, std::move(env));
  return true;
}

bool fabric::dial(caf::local_actor* self, envelope_ptr& env) {
  caf::actor dialer;
  {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    dialer = dialer_;
  }
  if (!dialer || endpoints_on(env->header().to().node()) > 0)
    return false;
  dialer->enqueue(caf::make_mailbox_element(self->ctrl(),
                                            caf::make_message_id(), {},
                                            dial_atom::value,
                                            wire{std::move(env)}),
                  self->context());
  return true;
}

void fabric::send(caf::local_actor* self, envelope_ptr env) {
  sent_.fetch_add(1, std::memory_order_relaxed);
  if (!faults_.active() && !recorder_.tracing()) {
    recorder_.remember(*env, transport_event::sent, now_us(self));
    auto dest = resolve(env->header().to());
    if (dest) {
      deliver(self, dest, std::move(env), remote_sender(dest));
    } else if (!dial(self, env)) {
      undeliverable_.fetch_add(1, std::memory_order_relaxed);
      bounce(self, *env);
    }
    return;
  }
  // Slow path: faults and tracing.
  auto sink = recorder_.sink();
  auto verdict = faults_.judge(*env);
  transport_event what = transport_event::sent;
  caf::timespan delay = verdict.by;
  caf::actor dest;
  switch (verdict.action) {
    case fault_verdict::drop:
      what = transport_event::dropped;
      break;
    case fault_verdict::refuse:
      what = transport_event::undeliverable;
      break;
    case fault_verdict::delay:
      what = transport_event::delayed;
      break;
    case fault_verdict::deliver:
    case fault_verdict::duplicate: // only draw() duplicates
      break;
  }
  if (what == transport_event::sent || what == transport_event::delayed) {
    dest = resolve(env->header().to());
    auto keep = env;
    if (!dest && dial(self, keep)) {
      record(self, *env, transport_event::sent, sink.get());
      return;
    }
    caf::timespan held{0};
    if (dest)
      held = faults_.paused_for(self->address(), self->clock().now());
    if (!dest) {
      what = transport_event::undeliverable;
    } else if (held.count() > 0) {
      what = transport_event::delayed; // a paused sender or receiver
      delay = std::max(delay, held);
    } else if (what == transport_event::sent) {
      auto chance = faults_.draw(*env);
      if (chance.action == fault_verdict::drop) {
        what = transport_event::dropped;
      } else if (chance.action == fault_verdict::delay) {
        what = transport_event::delayed;
        delay = chance.by;
      } else if (chance.action == fault_verdict::duplicate) {
        // The network delivers it twice: a copy follows after a while.
        deliver_later(self, dest, std::make_shared<envelope>(*env),
                      chance.by);
      }
    }
  }
  record(self, *env, what, sink.get());
  switch (what) {
    case transport_event::dropped:
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    case transport_event::undeliverable:
      undeliverable_.fetch_add(1, std::memory_order_relaxed);
      bounce(self, *env,
             verdict.action == fault_verdict::refuse ? "node is down: "
                                                     : "no endpoint ");
      return;
    case transport_event::delayed:
      delayed_.fetch_add(1, std::memory_order_relaxed);
      deliver_later(self, dest, std::move(env), delay);
      return;
    default:
      deliver(self, dest, std::move(env), remote_sender(dest));
  }
}

} // namespace lg
