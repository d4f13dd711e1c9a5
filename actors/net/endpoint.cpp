// The endpoint and its rpc_table: matching replies to requests, expiring
// them at their deadlines, stamping and checking headers (the protocol is at
// the top of endpoint.hpp).
#include "actors/net/endpoint.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>

#include "actors/net/fabric.hpp"
#include "actors/net/link_guard.hpp"
#include "base/bugs.hpp"
#include "base/log.hpp"

namespace lg {

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
  if (aggregator_term_ != 0)
    h->set_aggregator_term(aggregator_term_);
  if (hold_version_ > released_version_ && to_node != exempt_node_) {
    held_.push_back({hold_version_, std::move(env)});
    return;
  }
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

bool endpoint::receive(caf::local_actor* self, const wire& msg) {
  if (refuse_undecodable(self, msg) || !msg.env)
    return false;
  bool handled = false;
  return accept(*msg.env, handled) && !handled;
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
  if (env.has_transport_error()
      && env.transport_error().newer_aggregator_term() > aggregator_term_
      && aggregator_term_ != 0 && deposed_by_ == 0) {
    deposed_by_ = env.transport_error().newer_aggregator_term();
    logger("transport")->warn("AggregatorDeposed [ma={}/{} term={}] {} has "
                              "seen master aggregator term {}",
                              node_, actor_, aggregator_term_,
                              h.from().node(), deposed_by_);
  }
  if (h.reply_to() != 0)
    handled = rpc_.dispatch(env);
  return true;
}

void endpoint::release_through(caf::local_actor* self, uint64_t version) {
  released_version_ = std::max(released_version_, version);
  while (!held_.empty() && held_.front().version <= released_version_) {
    auto env = std::move(held_.front().env);
    held_.pop_front();
    fab_->send(self, std::move(env));
  }
}

void endpoint::flush_held(caf::local_actor* self,
                          const std::function<bool(envelope&)>& rewrite) {
  auto held = std::move(held_);
  held_.clear();
  released_version_ = hold_version_;
  for (auto& m : held)
    if (rewrite(*m.env))
      fab_->send(self, std::move(m.env));
}

bool endpoint::refuse_stale(caf::local_actor* self, const envelope& env) {
  const auto& h = env.header();
  uint64_t newest = 0;
  if (!fence_ || h.aggregator_term() == 0)
    return false;
  if (bugs::no_aggregator_fence
      || fence_->admit(h.aggregator_term(), newest)) {
    if (!env.has_transport_error())
      fab_->note_admitted(self, env);
    return false;
  }
  logger("transport")->warn("StaleAggregatorRefused [to={}/{}] {} from {}/{} "
                            "of aggregator term {}: term {} was seen",
                            node_, actor_, body_name(env), h.from().node(),
                            h.from().actor(), h.aggregator_term(), newest);
  if (env.has_transport_error())
    return true;
  auto err = std::make_shared<envelope>();
  auto* eh = err->mutable_header();
  eh->set_reply_to(h.correlation_id());
  eh->set_partition(h.partition());
  eh->set_trace_id(h.trace_id());
  auto* te = err->mutable_transport_error();
  te->set_reason("refused by " + node_ + "/" + actor_ + ": it comes from "
                 "master aggregator term " + std::to_string(h.aggregator_term())
                 + ", and term " + std::to_string(newest) + " has taken over");
  te->set_newer_aggregator_term(newest);
  send(self, h.from().node(), h.from().actor(), std::move(err));
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
