#include "actors/net/gateway.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <set>

#include <caf/all.hpp>

#include "actors/names.hpp"
#include "actors/net/identity.hpp"
#include "actors/net/link_guard.hpp"
#include "config/variables.hpp"
#include "sql/result_proto.hpp"
#include "base/log.hpp"
#include "sql/parser.hpp"

namespace lg {

namespace {

/// The aggregator's node, which is named after its actor.
constexpr const char* aggregator_node = aggregator_actor_name;

/// Requests queued while their node is being dialed, at most this many per
/// node: beyond it they are refused, so that a dead node cannot eat memory.
constexpr size_t max_queued = 100000;

struct gateway_state {
  gateway_config cfg;
  endpoint ep;
  std::map<std::string, std::deque<envelope_ptr>> queued; // by node
  std::set<std::string> dialing;
  /// The last failed dial per node: when, and why.
  std::map<std::string, std::pair<time_point, std::string>> failed;
  /// Remote gateways and the node names routed to each.
  std::map<caf::actor_addr, std::set<std::string>> links;
  /// The address each remote gateway listens at.
  std::map<caf::actor_addr, std::string> link_listen;
  /// With TLS: who each remote gateway proved to be in its hello.
  std::map<caf::actor_addr, peer_identity> link_identity;
  /// Links whose dropped messages were logged already.
  std::set<caf::actor_addr> drop_logged;
  /// The remote gateway of each linked process. A message from another
  /// process comes from the actor that sent it there (the master
  /// aggregator, a partition), not from its gateway: its process names the
  /// link.
  std::map<caf::node_id, caf::actor> gateway_of;
  std::string ma_address; ///< where the master aggregator is, "host:port"
  /// The newest master aggregator term the route to "ma" was learned at.
  uint64_t ma_term = 0;
  size_t next_aggregator = 0; ///< a client's next aggregator to dial
};

using self_ptr = caf::stateful_actor<gateway_state>*;

std::string ma_address_file(const std::string& data_dir) {
  return data_dir + "/ma_address";
}

void remember_ma_address(self_ptr self, const std::string& addr) {
  auto& st = self->state;
  if (addr.empty() || addr == st.ma_address)
    return;
  st.ma_address = addr;
  if (st.cfg.data_dir.empty())
    return;
  auto path = ma_address_file(st.cfg.data_dir);
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << addr << "\n";
    if (!out) {
      logger("gateway")->error("MaAddressNotSaved {}: cannot write {}",
                               st.cfg.node, tmp);
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    logger("gateway")->error("MaAddressNotSaved {}: cannot rename {}",
                             st.cfg.node, tmp);
}

/// Takes the messages queued for `node` out of the queue.
std::deque<envelope_ptr> take_queue(gateway_state& st,
                                    const std::string& node) {
  std::deque<envelope_ptr> msgs;
  if (auto i = st.queued.find(node); i != st.queued.end()) {
    msgs = std::move(i->second);
    st.queued.erase(i);
  }
  return msgs;
}

/// Refuses every request queued for `node` with `why`.
void fail_queue(self_ptr self, const std::string& node,
                const std::string& why) {
  for (auto& env : take_queue(self->state, node))
    self->state.cfg.fab->refuse(self, *env, why);
}

/// Routes `nodes` to the remote gateway `gw`, watching it.
void add_link(self_ptr self, const caf::actor& gw,
              const std::set<std::string>& nodes, const std::string& listen) {
  auto& st = self->state;
  auto& known = st.links[gw.address()];
  if (known.empty())
    self->monitor(gw);
  if (!listen.empty())
    st.link_listen[gw.address()] = listen;
  st.gateway_of[gw.node()] = gw;
  for (auto& n : nodes) {
    if (n.empty() || n == st.cfg.node)
      continue;
    known.insert(n);
    st.cfg.fab->set_route(n, gw);
    st.failed.erase(n);
  }
}

void flush_queue(self_ptr self, const std::string& node,
                 const caf::actor& gw) {
  for (auto& env : take_queue(self->state, node))
    self->send(gw, wire{std::move(env)});
}

/// Fills who this node is into a NodeHello or a NodeHelloReply.
template <class Body>
void set_identity(Body* body, const gateway_state& st) {
  body->set_node(st.cfg.node);
  body->set_listen(st.cfg.listen);
  body->set_role(st.cfg.role);
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// With TLS: signs a hello or its reply, meant for `meant_for`
/// (identity.hpp, step 1).
template <class Body>
void prove(Body* body, const gateway_state& st, const std::string& meant_for) {
  if (!st.cfg.identity)
    return;
  body->set_certificate(st.cfg.identity->certificate_pem());
  body->set_meant_for(meant_for);
  body->set_signed_at_ms(wall_ms());
  body->set_signature(st.cfg.identity->sign(
    hello_payload(body->node(), body->listen(), body->role(), meant_for,
                  body->signed_at_ms())));
}

/// How far a hello's signing time may be from this clock.
constexpr int64_t hello_skew_ms = 5 * 60 * 1000;

/// With TLS: the identity a hello or its reply proves (identity.hpp, step
/// 2), or why it proves none.
template <class Body>
result<peer_identity> check_proof(const Body& body, const gateway_state& st,
                                  const std::string& meant_for) {
  auto id = st.cfg.identity->verify(
    body.certificate(),
    hello_payload(body.node(), body.listen(), body.role(), body.meant_for(),
                  body.signed_at_ms()),
    body.signature());
  if (!id.ok())
    return id.err();
  auto refuse = [&](const std::string& why) -> result<peer_identity> {
    return make_error(config::errc::bad_value,
                      "hello of '" + body.node() + "' refused: " + why);
  };
  if (!role_allows(id->role, body.role()))
    return refuse("its certificate is for " + id->name + " as '" + id->role
                  + "', which cannot act as '" + body.role() + "'");
  bool is_node = body.role() != "client";
  // A master aggregator on a data dir from before voting aggregators runs
  // on node "ma": its certificate names its address.
  bool single_ma = body.node() == aggregator_node && id->role == "aggregator";
  if ((id->name != body.node() && !single_ma)
      || (is_node && id->name != body.listen()))
    return refuse("its certificate names '" + id->name + "', not '"
                  + body.node() + "'");
  if (body.meant_for() != meant_for)
    return refuse("it was meant for '" + body.meant_for() + "', not '"
                  + meant_for + "'");
  if (std::abs(wall_ms() - body.signed_at_ms()) > hello_skew_ms)
    return refuse("it was signed more than 5 minutes from this node's "
                  "clock");
  return id;
}

std::shared_ptr<envelope> make_hello(const gateway_state& st,
                                     const std::string& meant_for) {
  auto env = make_envelope();
  set_identity(env->mutable_node_hello(), st);
  prove(env->mutable_node_hello(), st, meant_for);
  return env;
}

void dial(self_ptr self, const std::string& node) {
  auto& st = self->state;
  auto addr = node == aggregator_node ? st.ma_address : node;
  if (node == aggregator_node && addr == st.cfg.listen) {
    // This process leads the aggregators, and its master aggregator is
    // still taking over (or stopped for want of a majority).
    fail_queue(self, node,
               "the master aggregator at " + addr
                 + " is taking over; try again in a moment");
    return;
  }
  auto colon = addr.rfind(':');
  uint16_t port = 0;
  if (colon != std::string::npos) {
    try {
      auto p = std::stoul(addr.substr(colon + 1));
      if (p > 0 && p <= 65535)
        port = static_cast<uint16_t>(p);
    } catch (const std::exception&) {
    }
  }
  if (port == 0) {
    fail_queue(self, node,
               node == aggregator_node
                 ? "no master aggregator is known to " + st.cfg.node
                     + " yet (a leaf learns it when one adds it)"
                 : "node " + node + " has no address to dial");
    return;
  }
  auto host = addr.substr(0, colon);
  st.dialing.insert(node);
  auto timeout = std::chrono::milliseconds{st.cfg.connect_timeout_ms};
  auto fail = [self, node, addr](const std::string& why) {
    auto& st = self->state;
    st.dialing.erase(node);
    auto text = "cannot connect to " + addr + ": " + why;
    // Said once until a dial there succeeds again (a client asks every
    // aggregator every 200 ms, also one that is down).
    bool first = st.failed.count(node) == 0;
    st.failed[node] = {self->clock().now(), text};
    if (node == aggregator_node && !st.cfg.aggregators.empty()
        && st.ma_address == addr) {
      // A client tries its next aggregator, which forwards to the master.
      st.next_aggregator = (st.next_aggregator + 1) % st.cfg.aggregators.size();
      st.ma_address = st.cfg.aggregators[st.next_aggregator];
    }
    if (first)
      logger("gateway")->warn("DialFailed {} {}", st.cfg.node, text);
    else
      logger("gateway")->debug("DialFailed {} {}", st.cfg.node, text);
    fail_queue(self, node, text);
  };
  self
    ->request(st.cfg.connector, timeout, caf::connect_atom::value, host, port)
    .then(
      [self, node, addr, fail, timeout](const caf::node_id&,
                                        caf::strong_actor_ptr& ptr,
                                        const std::set<std::string>&) {
        if (!ptr) {
          fail("no gateway is published there");
          return;
        }
        auto gw = caf::actor_cast<caf::actor>(ptr);
        wire hello{make_hello(self->state, addr)};
        self->request(gw, timeout, hello_atom::value, std::move(hello))
          .then(
            [self, node, addr, gw, fail](wire& rep) {
              auto& st = self->state;
              if (refuse_undecodable(self, rep) || !rep.env
                  || !rep.env->has_node_hello_reply()) {
                fail("the peer answered the hello with something else");
                return;
              }
              const auto& body = rep.env->node_hello_reply();
              if (!body.error().empty()) {
                fail(body.error());
                return;
              }
              if (st.cfg.identity) {
                auto id = check_proof(body, st, st.cfg.node);
                if (id.ok() && node != aggregator_node && id->name != node)
                  id = make_error(config::errc::bad_value,
                                  "dialed '" + node + "', but its "
                                    "certificate names '" + id->name + "'");
                if (id.ok() && node == aggregator_node
                    && id->role != "aggregator")
                  id = make_error(config::errc::bad_value,
                                  "'" + id->name + "' is no aggregator");
                if (!id.ok()) {
                  logger("gateway")->warn("HelloRefused {} {}", st.cfg.node,
                                          id.err().detail());
                  fail(id.err().detail());
                  return;
                }
                st.link_identity[gw.address()] = *id;
              }
              st.dialing.erase(node);
              if (node == aggregator_node)
                remember_ma_address(self, addr);
              add_link(self, gw, {node, body.node(), body.listen()}, body.listen());
              logger("gateway")->info("LinkOpened {} to {} ({} at {})",
                                      st.cfg.node, node, body.role(), addr);
              flush_queue(self, node, gw);
            },
            [fail](caf::error& err) { fail(to_string(err)); });
      },
      [fail](caf::error& err) { fail(to_string(err)); });
}

/// A message for `node`, which had no route when it was sent.
void on_dial(self_ptr self, envelope_ptr env) {
  auto& st = self->state;
  auto node = env->header().to().node();
  if (auto gw = st.cfg.fab->route(node)) {
    self->send(gw, wire{std::move(env)}); // linked meanwhile
    return;
  }
  auto f = st.failed.find(node);
  // Two nodes that dial each other at the same moment can both time out in
  // the TLS handshake (caf_openssl 0.17 performs it while the middleman
  // waits), and would collide again on every redial. After a failure the
  // leaf with the greater name waits longer, so the other dials first and
  // the link it opens serves both. (Leaves dial each other to replicate;
  // the aggregator and clients are dialed by leaves only to answer them.)
  auto backoff = std::chrono::milliseconds{st.cfg.redial_backoff_ms};
  if (st.cfg.role == "leaf" && node != aggregator_node && node < st.cfg.node)
    backoff += std::chrono::milliseconds{st.cfg.connect_timeout_ms};
  if (f != st.failed.end() && st.dialing.count(node) == 0
      && self->clock().now() - f->second.first < backoff) {
    st.cfg.fab->refuse(self, *env, f->second.second);
    return;
  }
  auto& q = st.queued[node];
  if (q.size() >= max_queued) {
    st.cfg.fab->refuse(self, *env, "too many messages waiting for " + node);
    return;
  }
  q.push_back(std::move(env));
  if (st.dialing.count(node) == 0)
    dial(self, node);
}

/// A remote gateway opens a link.
wire on_hello(self_ptr self, const wire& msg) {
  auto& st = self->state;
  auto rep = make_envelope();
  auto* body = rep->mutable_node_hello_reply();
  set_identity(body, st);
  if (refuse_undecodable(self, msg) || !msg.env || !msg.env->has_node_hello()) {
    body->set_error("expected NodeHello");
    return wire{std::move(rep)};
  }
  const auto& hello = msg.env->node_hello();
  auto sender = caf::actor_cast<caf::actor>(self->current_sender());
  if (hello.role() == "console" || !sender)
    return wire{std::move(rep)};
  if (st.cfg.identity) {
    auto id = check_proof(hello, st, st.cfg.listen);
    if (!id.ok()) {
      logger("gateway")->warn("HelloRefused {} {}", st.cfg.node,
                              id.err().detail());
      body->set_error(id.err().detail());
      return wire{std::move(rep)};
    }
    st.link_identity[sender.address()] = *id;
    prove(body, st, hello.node());
  }
  add_link(self, sender, {hello.node(), hello.listen()}, hello.listen());
  logger("gateway")->info("LinkAccepted {} from {} ({} at {})", st.cfg.node,
                          hello.node(), hello.role(), hello.listen());
  flush_queue(self, hello.node(), sender);
  return wire{std::move(rep)};
}

/// Tells the node's session that the master aggregator moved to `address`
/// ("" when the link to its process closed): statements it forwarded there
/// get an answer at once.
void tell_session_ma_moved(self_ptr self, const std::string& address,
                           uint64_t term) {
  auto& st = self->state;
  if (st.cfg.session.empty()
      || !st.cfg.fab->lookup(st.cfg.node, st.cfg.session))
    return;
  auto env = make_envelope();
  env->mutable_master_aggregator_known()->set_address(address);
  env->mutable_master_aggregator_known()->set_term(term);
  st.ep.send(self, st.cfg.node, st.cfg.session, std::move(env));
}

/// Tells the leaf of this process that the link to the master aggregator's
/// process closed: it announces itself again, so that the master
/// aggregator, maybe another one by now, hears from it even if it cannot
/// dial the leaf (a dial to a process that was stopped can hang).
void tell_leaf_ma_lost(self_ptr self) {
  auto& st = self->state;
  if (!st.cfg.fab->lookup(st.cfg.node, leaf_actor_name()))
    return;
  auto env = make_envelope();
  env->mutable_master_aggregator_known();
  st.ep.send(self, st.cfg.node, leaf_actor_name(), std::move(env));
}

/// Routes "ma" to the remote gateway `gw` (listening at `listen`), which
/// hosts the master aggregator of `term`: a route learned from a newer
/// term replaces one of an older, never the other way round, so a paused or
/// cut-off aggregator cannot draw a leaf's messages back to itself.
void learn_ma_route(self_ptr self, const caf::actor& gw, uint64_t term,
                    const std::string& listen) {
  auto& st = self->state;
  if (term < st.ma_term || st.cfg.fab->endpoints_on(aggregator_node) > 0)
    return;
  st.ma_term = term;
  if (st.cfg.fab->route(aggregator_node) == gw)
    return;
  for (auto& kvp : st.links)
    kvp.second.erase(aggregator_node);
  st.links[gw.address()].insert(aggregator_node);
  st.cfg.fab->set_route(aggregator_node, gw);
  st.failed.erase(aggregator_node);
  logger("gateway")->info("MasterAggregatorRouted {} to {} (term {})",
                          st.cfg.node, listen, term);
  remember_ma_address(self, listen);
  // Every aggregator that led is a way back to the master aggregator: a
  // dial that fails tries the next (see dial).
  auto& known = st.cfg.aggregators;
  if (std::find(known.begin(), known.end(), listen) == known.end())
    known.push_back(listen);
  flush_queue(self, aggregator_node, gw);
  tell_session_ma_moved(self, listen, term);
}

/// A voting aggregator of this process says where the master aggregator
/// is: what is sent to "ma" from here goes there from now on.
void on_ma_known(self_ptr self, const pb::MasterAggregatorKnown& known) {
  auto& st = self->state;
  if (known.term() < st.ma_term)
    return;
  st.ma_term = known.term();
  if (known.address() == st.ma_address)
    return;
  st.ma_address = known.address();
  if (auto gw = st.cfg.fab->route(aggregator_node)) {
    auto i = st.link_listen.find(gw.address());
    if (i == st.link_listen.end() || i->second != known.address()) {
      st.cfg.fab->remove_route(aggregator_node, gw.address());
      st.links[gw.address()].erase(aggregator_node);
    }
  }
  st.failed.erase(aggregator_node);
  logger("gateway")->info("MasterAggregatorKnown {} at {} (term {})",
                          st.cfg.node, known.address(), known.term());
  tell_session_ma_moved(self, known.address(), known.term());
}

/// A client asks each of its aggregators where the master aggregator is;
/// an answer with a newer term than the route's moves the route there.
void poll_ma(self_ptr self) {
  auto& st = self->state;
  for (auto& target : st.cfg.aggregators) {
    auto env = make_envelope();
    env->mutable_master_aggregator_query();
    st.ep.request(
      self, target, gateway_actor_name(), std::move(env),
      std::chrono::milliseconds{std::max<int64_t>(st.cfg.ma_poll_ms, 100)},
      [self](const envelope* rep) {
        if (rep == nullptr || !rep->has_master_aggregator_known())
          return;
        auto& known = rep->master_aggregator_known();
        if (known.term() > self->state.ma_term && !known.address().empty())
          on_ma_known(self, known);
      });
  }
  self->delayed_send(self, std::chrono::milliseconds{st.cfg.ma_poll_ms},
                     timer_atom::value, uint64_t{0});
}

/// With TLS: whether a message from another process comes on a link whose
/// proven identity may send it (identity.hpp, step 3). Messages of this
/// process (a local actor to its gateway) pass.
bool admitted_by_identity(self_ptr self, const envelope& env) {
  auto& st = self->state;
  auto from = self->current_sender();
  if (!from || from->node() == self->node())
    return true;
  auto addr = caf::actor_cast<caf::actor_addr>(from);
  auto i = st.link_identity.find(addr);
  const auto& claimed = env.header().from().node();
  std::string why;
  if (i == st.link_identity.end())
    why = "on a link that proved no identity";
  else if (claimed != i->second.name
           && !(i->second.role == "aggregator"
                && (claimed == aggregator_node
                    || env.header().forwards() > 0)))
    why = "on the link of '" + i->second.name + "' (" + i->second.role + ")";
  if (why.empty())
    return true;
  if (st.drop_logged.insert(addr).second)
    logger("gateway")->warn("MessageDropped {} a message claiming to be from "
                            "'{}' came {}; dropping such messages",
                            st.cfg.node, claimed, why);
  return false;
}

/// At most this many processes pass a message for "ma" on.
constexpr uint32_t max_forwards = 2;

caf::behavior gateway_impl(caf::stateful_actor<gateway_state>* self,
                           gateway_config cfg) {
  auto& st = self->state;
  st.ep = endpoint{cfg.fab, cfg.node, gateway_actor_name()};
  st.cfg = std::move(cfg);
  st.ma_address = st.cfg.ma_address;
  if (!st.cfg.data_dir.empty() && st.ma_address.empty())
    st.ma_address = remembered_ma_address(st.cfg.data_dir);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  if (!st.cfg.aggregators.empty() && st.cfg.ma_poll_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds{st.cfg.ma_poll_ms},
                       timer_atom::value, uint64_t{0});
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.links.find(dm.source);
    if (i == st.links.end())
      return;
    bool voting_here
      = static_cast<bool>(st.cfg.fab->lookup(st.cfg.node, "aggregator"));
    for (auto& node : i->second) {
      st.cfg.fab->remove_route(node, dm.source);
      logger("gateway")->warn("LinkLost {} to {}: {}", st.cfg.node, node,
                              to_string(dm.reason));
      if (node == aggregator_node) {
        tell_session_ma_moved(self, "", 0);
        tell_leaf_ma_lost(self);
      }
      if (voting_here) {
        auto env = make_envelope();
        env->mutable_link_lost()->set_node(node);
        env->mutable_link_lost()->set_reason(to_string(dm.reason));
        st.ep.send(self, st.cfg.node, "aggregator", std::move(env));
      }
    }
    st.links.erase(i);
    st.link_listen.erase(dm.source);
    st.link_identity.erase(dm.source);
    st.drop_logged.erase(dm.source);
    if (auto g = st.gateway_of.find(dm.source.node());
        g != st.gateway_of.end() && g->second.address() == dm.source)
      st.gateway_of.erase(g);
  });
  return {
    [self](wire& msg) {
      auto& st = self->state;
      if (refuse_undecodable(self, msg) || !msg.env)
        return;
      const auto& to = msg.env->header().to();
      if (to.node() == st.cfg.node && to.actor() == gateway_actor_name()
          && msg.env->has_master_aggregator_known()) {
        on_ma_known(self, msg.env->master_aggregator_known());
        return;
      }
      if (to.node() == st.cfg.node && to.actor() == gateway_actor_name()
          && msg.env->has_master_aggregator_query()) {
        auto rep = make_envelope();
        auto* known = rep->mutable_master_aggregator_known();
        if (!st.ma_address.empty() && st.ma_term > 0) {
          known->set_address(st.ma_address);
          known->set_term(st.ma_term);
        }
        st.ep.reply(self, *msg.env, rep);
        return;
      }
      if (to.node() == st.cfg.node && to.actor() == gateway_actor_name()) {
        st.ep.receive(self, msg); // answers to this gateway's requests
        return;
      }
      // From another process: hand it to its endpoint here.
      auto env = msg.env;
      caf::actor sender;
      if (auto from = self->current_sender())
        if (auto g = st.gateway_of.find(from->node());
            g != st.gateway_of.end())
          sender = g->second;
      const auto& hdr = env->header();
      if (st.cfg.identity && !admitted_by_identity(self, *env))
        return;
      if (sender && hdr.from().node() == aggregator_node
          && hdr.aggregator_term() > 0) {
        auto i = st.link_listen.find(sender.address());
        if (i != st.link_listen.end())
          learn_ma_route(self, sender, hdr.aggregator_term(), i->second);
      }
      if (sender && hdr.forwards() > 0
          && st.cfg.fab->endpoints_on(hdr.from().node()) == 0
          && !st.cfg.fab->route(hdr.from().node())) {
        // Passed on by another process: the answer goes back the same way
        // (a client's node has no address to dial).
        st.links[sender.address()].insert(hdr.from().node());
        st.cfg.fab->set_route(hdr.from().node(), sender);
      }
      if (to.node() == aggregator_node
          && st.cfg.fab->endpoints_on(aggregator_node) == 0) {
        // This process does not host the master aggregator (any more):
        // pass it on to where it is.
        if (hdr.forwards() >= max_forwards
            || st.ma_address == st.cfg.listen) {
          st.cfg.fab->refuse(self, *env,
                             "the master aggregator is not at "
                               + st.cfg.listen + " and no other is known "
                                                 "yet: an election may be "
                                                 "under way");
          return;
        }
        auto fwd = std::make_shared<envelope>(*env);
        fwd->mutable_header()->set_forwards(hdr.forwards() + 1);
        on_dial(self, std::move(fwd));
        return;
      }
      if (st.cfg.fab->endpoints_on(to.node()) == 0 && to.node() != st.cfg.node
          && hdr.forwards() < max_forwards) {
        // The answer to a message this process passed on.
        if (auto gw = st.cfg.fab->route(to.node()); gw && gw != sender) {
          auto fwd = std::make_shared<envelope>(*env);
          fwd->mutable_header()->set_forwards(hdr.forwards() + 1);
          self->send(gw, wire{std::move(fwd)});
          return;
        }
      }
      if (!st.cfg.fab->deliver_local(self, env))
        st.cfg.fab->refuse(self, *env,
                           "no endpoint " + to.node() + "/" + to.actor()
                             + " on " + st.cfg.node);
    },
    [self](dial_atom, wire& msg) {
      if (msg.env)
        on_dial(self, std::move(msg.env));
    },
    [self](hello_atom, const wire& msg) { return on_hello(self, msg); },
    // Consoles: logins and statements go to the access actor, which checks
    // who may run what.
    [self](console_atom, const std::string& text) {
      auto& st = self->state;
      auto from = self->current_sender();
      if (from && from->node() != self->node())
        return self->delegate(st.cfg.access, console_atom::value, text,
                              std::string{});
      return self->delegate(st.cfg.access, console_atom::value, text);
    },
    [self](console_atom, const std::string& text, const std::string& token) {
      return self->delegate(self->state.cfg.access, console_atom::value, text,
                            token);
    },
    [self](login_atom) {
      return self->delegate(self->state.cfg.access, login_atom::value);
    },
    [self](login_atom, const std::string& user, const std::string& scramble,
           const std::string& token) {
      auto& st = self->state;
      return self->delegate(st.cfg.access, login_atom::value, user, scramble,
                            token, st.cfg.loopback_only, true,
                            std::string{"console"});
    },
    [self](logout_atom, const std::string& token) {
      self->send(self->state.cfg.access, logout_atom::value, token);
    },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](timer_atom, uint64_t) { poll_ma(self); },
  };
}

} // namespace

std::string remembered_ma_address(const std::string& data_dir) {
  std::ifstream in{ma_address_file(data_dir)};
  std::string addr;
  std::getline(in, addr);
  return addr;
}

caf::actor spawn_gateway(caf::actor_system& sys, gateway_config cfg) {
  return sys.spawn(gateway_impl, std::move(cfg));
}

} // namespace lg
