#include "actors/net/fabric.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include <caf/actor_cast.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>

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

// -- fabric -------------------------------------------------------------------

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

void fabric::cut_node(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  cut_.insert(node);
  update_slow();
}

void fabric::heal_node(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  cut_.erase(node);
  update_slow();
}

void fabric::cut_link(const std::string& a, const std::string& b) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  cut_links_.emplace(std::min(a, b), std::max(a, b));
  update_slow();
}

void fabric::heal_link(const std::string& a, const std::string& b) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  cut_links_.erase({std::min(a, b), std::max(a, b)});
  update_slow();
}

void fabric::update_slow() {
  slow_ = !cut_.empty() || !down_.empty() || !cut_links_.empty()
          || !delay_rules_.empty() || random_faults_ || sink_ != nullptr;
}

void fabric::mark_down(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  down_.insert(node);
  update_slow();
}

void fabric::mark_up(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  down_.erase(node);
  update_slow();
}

bool fabric::is_cut(const std::string& node) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return cut_.count(node) > 0;
}

void fabric::set_random_faults(double drop, double delay,
                               std::chrono::milliseconds max_delay,
                               uint64_t seed) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  std::lock_guard<std::mutex> rng_guard{rng_mtx_};
  random_faults_ = drop > 0 || delay > 0;
  drop_ = drop;
  delay_ = delay;
  max_delay_ = max_delay;
  rng_.seed(seed);
  update_slow();
}

void fabric::clear_random_faults() {
  set_random_faults(0, 0, std::chrono::milliseconds{0}, 0);
}

void fabric::delay_messages(const std::string& from, const std::string& to,
                            envelope::BodyCase body, caf::timespan by) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  delay_rules_[{from, to, static_cast<int>(body)}] = by;
  update_slow();
}

void fabric::clear_message_delays() {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  delay_rules_.clear();
  update_slow();
}

void fabric::set_trace_sink(std::shared_ptr<trace_sink> sink) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  sink_ = std::move(sink);
  update_slow();
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

void fabric::remember(caf::local_actor* self, const envelope& env,
                      transport_event what) {
  auto seq = recent_seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  auto& slot = recent_[seq % recent_capacity];
  while (slot.busy.test_and_set(std::memory_order_acquire)) {
    // another sender wrapped around onto this slot: wait for it
  }
  const auto& h = env.header();
  slot.seq = seq;
  slot.at_us = now_us(self);
  slot.lamport = h.lamport();
  slot.term = h.term();
  slot.body = static_cast<int>(env.body_case());
  slot.event = static_cast<uint8_t>(what);
  copy_endpoint(slot.from, h.from());
  copy_endpoint(slot.to, h.to());
  auto n = std::min(sizeof(slot.partition) - 1, h.partition().size());
  std::memcpy(slot.partition, h.partition().data(), n);
  slot.partition[n] = 0;
  slot.busy.clear(std::memory_order_release);
}

std::vector<std::string> fabric::recent() const {
  struct row {
    uint64_t seq;
    std::string text;
  };
  std::vector<row> rows;
  auto* desc = envelope::descriptor();
  for (size_t i = 0; i < recent_capacity; ++i) {
    auto& slot = recent_[i];
    while (slot.busy.test_and_set(std::memory_order_acquire)) {
    }
    if (slot.seq != 0) {
      auto field = desc->FindFieldByNumber(slot.body);
      std::string text = std::to_string(slot.at_us) + " us  L"
                         + std::to_string(slot.lamport) + "  " + slot.from
                         + " -> " + slot.to + "  "
                         + (field ? field->message_type()->name()
                                  : std::string{"Empty"})
                         + (slot.partition[0] ? std::string{"  "} + slot.partition
                                              : std::string{})
                         + "  term " + std::to_string(slot.term);
      auto what = static_cast<transport_event>(slot.event);
      if (what != transport_event::sent)
        text += std::string{"  ["} + to_string(what) + "]";
      rows.push_back({slot.seq, std::move(text)});
    }
    slot.busy.clear(std::memory_order_release);
  }
  std::sort(rows.begin(), rows.end(),
            [](const row& a, const row& b) { return a.seq < b.seq; });
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (auto& r : rows)
    out.push_back(std::move(r.text));
  return out;
}

std::string fabric::dump_recent(const std::string& reason,
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
  std::fprintf(f, "# the last %zu messages before: %s\n", recent_capacity,
               reason.c_str());
  for (auto& line : recent()) {
    std::fputs(line.c_str(), f);
    std::fputc('\n', f);
  }
  std::fclose(f);
  logger("transport")->error("RecentMessagesDumped {} ({})", path, reason);
  return path;
}

namespace {

std::mutex process_fabric_mtx;
std::weak_ptr<fabric> process_fabric;

} // namespace

void fabric::set_process_fabric(std::weak_ptr<fabric> fab) {
  std::lock_guard<std::mutex> guard{process_fabric_mtx};
  process_fabric = std::move(fab);
}

void fabric::dump_process_recent(const std::string& reason) {
  std::shared_ptr<fabric> fab;
  {
    std::lock_guard<std::mutex> guard{process_fabric_mtx};
    fab = process_fabric.lock();
  }
  if (fab)
    fab->dump_recent(reason);
}

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

void deliver(caf::local_actor* self, const caf::actor& dest,
             envelope_ptr env) {
  auto id = id_for(*env);
  dest->enqueue(caf::make_mailbox_element(self->ctrl(), id, {},
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

} // namespace

namespace {

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
  if (slow_.load(std::memory_order_relaxed)) {
    std::shared_ptr<trace_sink> sink;
    {
      std::shared_lock<std::shared_mutex> guard{mtx_};
      sink = sink_;
    }
    if (sink)
      sink->record(*env, transport_event::delivered, now_us(self));
  }
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
  if (!slow_.load(std::memory_order_relaxed)) {
    remember(self, *env, transport_event::sent);
    auto dest = resolve(env->header().to());
    if (dest) {
      deliver(self, dest, std::move(env));
    } else if (!dial(self, env)) {
      undeliverable_.fetch_add(1, std::memory_order_relaxed);
      bounce(self, *env);
    }
    return;
  }
  // Slow path: faults and tracing. Random decisions use one generator under
  // its lock so that a seeded run makes the same choices every time.
  caf::actor dest;
  std::shared_ptr<trace_sink> sink;
  transport_event what = transport_event::sent;
  caf::timespan delay{0};
  bool refused = false;
  bool cut = false;
  bool random = false;
  {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    sink = sink_;
    random = random_faults_;
    const auto& h = env->header();
    const auto& a = h.from().node();
    const auto& b = h.to().node();
    if (down_.count(a) > 0) {
      what = transport_event::dropped; // a crashed node sends nothing
    } else if (down_.count(b) > 0) {
      what = transport_event::undeliverable;
      refused = true;
    } else {
      cut = cut_.count(a) > 0 || cut_.count(b) > 0
            || (!cut_links_.empty()
                && cut_links_.count({std::min(a, b), std::max(a, b)}) > 0);
      if (!delay_rules_.empty()) {
        auto rule = delay_rules_.find(
          {a, b, static_cast<int>(env->body_case())});
        if (rule != delay_rules_.end()) {
          delay = rule->second;
          what = transport_event::delayed;
        }
      }
    }
  }
  if (cut) {
    what = transport_event::dropped;
  } else if (what == transport_event::sent
             || what == transport_event::delayed) {
    dest = resolve(env->header().to());
    auto keep = env;
    if (!dest && dial(self, keep)) {
      remember(self, *env, transport_event::sent);
      if (sink)
        sink->record(*env, transport_event::sent, now_us(self));
      return;
    }
    if (!dest) {
      what = transport_event::undeliverable;
    } else if (what == transport_event::sent && random
               && env->header().from().node() != env->header().to().node()) {
      // Random faults model the network: messages within a node never
      // cross it.
      std::lock_guard<std::mutex> guard{rng_mtx_};
      std::uniform_real_distribution<double> coin{0.0, 1.0};
      if (coin(rng_) < drop_) {
        what = transport_event::dropped;
      } else if (coin(rng_) < delay_ && max_delay_.count() > 0) {
        std::uniform_int_distribution<int64_t> pick{1, max_delay_.count()};
        delay = std::chrono::milliseconds{pick(rng_)};
        what = transport_event::delayed;
      }
    }
  }
  remember(self, *env, what);
  if (sink)
    sink->record(*env, what, now_us(self));
  switch (what) {
    case transport_event::dropped:
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    case transport_event::undeliverable:
      undeliverable_.fetch_add(1, std::memory_order_relaxed);
      bounce(self, *env, refused ? "node is down: " : "no endpoint ");
      return;
    case transport_event::delayed:
      delayed_.fetch_add(1, std::memory_order_relaxed);
      deliver_later(self, dest, std::move(env), delay);
      return;
    default:
      deliver(self, dest, std::move(env));
  }
}

// -- rpc_table ----------------------------------------------------------------

uint64_t rpc_table::add(time_point deadline, callback cb) {
  auto id = next_id_++;
  pending_.emplace(id, entry{deadline, std::move(cb)});
  deadlines_.emplace(deadline, id);
  return id;
}

bool rpc_table::dispatch(const envelope& env) {
  auto id = env.header().reply_to();
  if (id == 0)
    return false;
  auto i = pending_.find(id);
  if (i == pending_.end())
    return true; // a late reply to an expired request: consumed, ignored
  auto cb = std::move(i->second.cb);
  auto range = deadlines_.equal_range(i->second.deadline);
  // A transport error fails the request at once, like its timeout would.
  const envelope* reply = env.has_transport_error() ? nullptr : &env;
  for (auto j = range.first; j != range.second; ++j) {
    if (j->second == id) {
      deadlines_.erase(j);
      break;
    }
  }
  pending_.erase(i);
  last_error_ = reply == nullptr ? env.transport_error().reason()
                                 : std::string{};
  cb(reply);
  return true;
}

void rpc_table::expire(time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto i = pending_.find(id);
    if (i == pending_.end())
      continue;
    auto cb = std::move(i->second.cb);
    pending_.erase(i);
    last_error_.clear();
    cb(nullptr);
  }
}

void rpc_table::fail_all() {
  auto pending = std::move(pending_);
  pending_.clear();
  deadlines_.clear();
  for (auto& kvp : pending)
    kvp.second.cb(nullptr);
}

std::optional<time_point> rpc_table::next_deadline() const {
  if (deadlines_.empty())
    return std::nullopt;
  return deadlines_.begin()->first;
}

// -- endpoint -----------------------------------------------------------------

endpoint::endpoint(fabric_ptr fab, std::string node, std::string actor)
  : fab_(std::move(fab)), node_(std::move(node)), actor_(std::move(actor)) {
}

void endpoint::attach(caf::local_actor* self, caf::actor handle) {
  fab_->add_endpoint(node_, actor_, handle);
  auto fab = fab_;
  auto node = node_;
  auto actor = actor_;
  auto addr = handle.address();
  self->attach_functor([fab, node, actor, addr](const caf::error&) {
    fab->remove_endpoint(node, actor, addr);
  });
}

void endpoint::send(caf::local_actor* self, const std::string& to_node,
                    const std::string& to_actor,
                    std::shared_ptr<envelope> env) {
  auto* h = env->mutable_header();
  auto* from = h->mutable_from();
  from->set_node(node_);
  from->set_actor(actor_);
  auto* to = h->mutable_to();
  to->set_node(to_node);
  to->set_actor(to_actor);
  h->set_lamport(++lamport_);
  fab_->send(self, std::move(env));
}

void endpoint::request(caf::local_actor* self, const std::string& to_node,
                       const std::string& to_actor,
                       std::shared_ptr<envelope> env, caf::timespan timeout,
                       rpc_table::callback cb) {
  auto id = rpc_.add(self->clock().now() + timeout, std::move(cb));
  env->mutable_header()->set_correlation_id(id);
  send(self, to_node, to_actor, std::move(env));
  arm(self);
}

void endpoint::reply(caf::local_actor* self, const envelope& req,
                     std::shared_ptr<envelope> rep) {
  auto* h = rep->mutable_header();
  h->set_reply_to(req.header().correlation_id());
  if (h->trace_id() == 0)
    h->set_trace_id(req.header().trace_id());
  if (h->partition().empty())
    h->set_partition(req.header().partition());
  send(self, req.header().from().node(), req.header().from().actor(),
       std::move(rep));
}

bool endpoint::accept(const envelope& env, bool& handled) {
  handled = false;
  const auto& h = env.header();
  lamport_ = std::max(lamport_, h.lamport()) + 1;
  if (h.to().actor() != actor_ || h.to().node() != node_) {
    ++misdelivered_;
    logger("transport")->warn("MessageMisdelivered [to={}/{}] {} meant for "
                              "{}/{}",
                              node_, actor_, body_name(env), h.to().node(),
                              h.to().actor());
    return false;
  }
  if (h.reply_to() != 0)
    handled = rpc_.dispatch(env);
  return true;
}

void endpoint::on_tick(caf::local_actor* self) {
  armed_for_.reset();
  rpc_.expire(self->clock().now());
  arm(self);
}

void endpoint::arm(caf::local_actor* self) {
  auto next = rpc_.next_deadline();
  if (!next)
    return;
  if (armed_for_ && *armed_for_ <= *next)
    return;
  armed_for_ = *next;
  self->clock().schedule_message(
    *next, caf::actor_cast<caf::strong_actor_ptr>(self->ctrl()),
    caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                              tick_atom::value));
}

std::shared_ptr<envelope> make_envelope(const std::string& partition,
                                        uint64_t term, uint64_t trace_id) {
  auto env = std::make_shared<envelope>();
  auto* h = env->mutable_header();
  if (!partition.empty())
    h->set_partition(partition);
  h->set_term(term);
  h->set_trace_id(trace_id);
  return env;
}

} // namespace lg
