// Orders the master aggregator sends to partition instances.
//
//   1. SetRoleRequest gives an instance its role, term and peer, and the
//      sync replication timeout. A master's order carries its replica's sync
//      state and epoch as recorded when it is sent (recovery.proto step 5).
//   2. An order decided by a metadata change (a role, or a new replica
//      rebuilt from its master) is sent once that change is durable; one
//      lost on the way is sent again, a few times, while its leaf is up.
//      Many role orders at once (an attach's) go as one LeafOrdersRequest
//      per leaf, and the unanswered ones again together (send_orders).
//   3. Requests to many instances go through paced_fanout: a window per
//      leaf, so that heartbeats are not queued behind thousands of requests.
//   4. Or through leaf_orders: one LeafOrdersRequest per leaf, which the
//      leaf hands on to its instances, answering once (a failover's
//      promotions, failover_orders.cpp); or several per leaf, paced, for
//      a CREATE DATABASE's creations (ddl.cpp), which the leaf makes
//      durable together.
#include <algorithm>
#include <iterator>
#include <map>

#include "actors/aggregator/state.hpp"
#include "actors/leaf/leaf.hpp"
#include "actors/names.hpp"
#include "base/probes.hpp"

namespace lg {

std::shared_ptr<envelope> role_order(ma_self self, const std::string& db,
                                     uint32_t ordinal, pb::Role role,
                                     uint64_t term, const std::string& peer,
                                     bool peer_in_sync) {
  auto env = make_envelope(partition_label(db, ordinal), term);
  auto* body = env->mutable_set_role_request();
  body->set_role(role);
  body->set_term(term);
  body->set_peer(peer);
  body->set_peer_in_sync(peer_in_sync);
  if (role == pb::MASTER && !peer.empty()) {
    // The replica's sync state as recorded now, not when the order was
    // planned: a resent or deferred order must match its version stamp, or a
    // master could stop waiting for a replica counted in sync since.
    auto* part = self->state.meta.find_partition(db, ordinal);
    auto* replica = part != nullptr && part->term() == term
                      ? replica_on(*part, peer)
                      : nullptr;
    if (replica != nullptr) {
      body->set_peer_in_sync(replica->in_sync());
      body->set_peer_sync_epoch(replica->sync_epoch());
    }
  }
  body->set_sync_replication_timeout_ms(
    self->state.meta.globals().sync_replication_timeout_ms());
  body->set_replication_backlog_mb(
    self->state.meta.globals().replication_backlog_mb());
  body->set_version(self->state.meta.version());
  return env;
}

void set_role(ma_self self, const std::string& leaf, const std::string& db,
              uint32_t ordinal, pb::Role role, uint64_t term,
              const std::string& peer, bool peer_in_sync,
              std::function<void(const envelope*)> cb) {
  self->state.ep.request(self, leaf, partition_actor_name(db, ordinal),
                         role_order(self, db, ordinal, role, term, peer,
                                    peer_in_sync),
                         role_order_timeout, std::move(cb));
}

order make_order(const std::string& leaf, const std::string& db,
                 uint32_t ordinal, pb::Role role, uint64_t term,
                 const std::string& peer, bool peer_in_sync) {
  return order{leaf, db, ordinal, role, term, peer, peer_in_sync};
}

namespace {

/// The error of a SetRoleReply to `o` ("" for success; `rep` is nullptr
/// when no answer came).
std::string role_error(const envelope* rep, const order& o) {
  if (rep == nullptr)
    return "no answer from " + o.leaf + " for "
           + partition_label(o.db, o.ordinal);
  if (rep->set_role_reply().status() != pb::STATUS_OK)
    return rep->set_role_reply().error();
  return {};
}

void send_order_once(ma_self self, const order& o,
                     std::function<void(const std::string&)> done) {
  auto& st = self->state;
  if (!o.create) {
    set_role(self, o.leaf, o.db, o.ordinal, o.role, o.term, o.peer,
             o.peer_in_sync, [done, o](const envelope* rep) {
               done(role_error(rep, o));
             });
    return;
  }
  auto env = create_instance_envelope(o.db, o.ordinal, o.sync_durability,
                                      o.role, o.term, o.peer,
                                      st.meta.version());
  auto* body = env->mutable_create_instance_request();
  body->set_rebuild(true);
  body->set_sync_replication_timeout_ms(
    st.meta.globals().sync_replication_timeout_ms());
  body->set_replication_backlog_mb(st.meta.globals().replication_backlog_mb());
  st.ep.request(self, o.leaf, leaf_actor_name(), std::move(env),
                instance_op_timeout, [done, o](const envelope* rep) {
                  done(create_error(rep, o.leaf));
                });
}

} // namespace

namespace {

/// Sends `o`, and again on no answer while its leaf is up, `left` times in
/// all.
void send_order_left(ma_self self, const order& o,
                     std::function<void(const std::string&)> done, int left) {
  send_order_once(self, o, [self, o, done, left](const std::string& err) {
    if (!err.empty() && err.rfind("no answer", 0) == 0 && left > 1
        && self->state.meta.leaf_up(o.leaf)) {
      LG_PROBE(order_resent, "a role order got no answer and was resent");
      send_order_left(self, o, done, left - 1);
      return;
    }
    done(err);
  });
}

} // namespace

void send_order(ma_self self, const order& o,
                std::function<void(const std::string&)> done,
                int attempts) {
  // A role order's answer is due ten times sooner: it is tried ten times as
  // often, over the same span.
  send_order_left(self, o, std::move(done), o.create ? attempts : attempts * 10);
}

namespace {

struct pending_order {
  order o;
  std::function<void(const std::string&)> done;
};

/// Sends role orders as one LeafOrdersRequest per leaf; the ones a leaf
/// left unanswered go again together, `left` - 1 more times, while that
/// leaf is up.
void send_role_orders_left(ma_self self, std::vector<pending_order> orders,
                           int left) {
  auto resend
    = std::make_shared<std::map<std::string, std::vector<pending_order>>>();
  leaf_orders masters;
  leaf_orders others;
  for (auto& p : orders) {
    auto& batch = p.o.role == pb::MASTER ? masters : others;
    batch.add(
      p.o.leaf, partition_actor_name(p.o.db, p.o.ordinal),
      role_order(self, p.o.db, p.o.ordinal, p.o.role, p.o.term, p.o.peer,
                 p.o.peer_in_sync),
      [self, p, left, resend](const envelope* rep) {
        if (rep == nullptr && left > 1
            && self->state.meta.leaf_up(p.o.leaf)) {
          LG_PROBE(order_resent, "a role order got no answer and was resent");
          (*resend)[p.o.leaf].push_back(p);
          return;
        }
        p.done(role_error(rep, p.o));
      });
  }
  auto again = [self, resend, left](const std::string& leaf) {
    auto i = resend->find(leaf);
    if (i == resend->end())
      return;
    auto unanswered = std::move(i->second);
    resend->erase(i);
    send_role_orders_left(self, std::move(unanswered), left - 1);
  };
  // Masters first: they learn their new replica before it asks to join.
  masters.send(self, role_order_timeout, again);
  others.send(self, role_order_timeout, again);
}

} // namespace

void send_orders(ma_self self, const std::vector<order>& orders,
                 std::function<void(const std::string&)> done, int attempts) {
  std::vector<pending_order> roles;
  for (auto& o : orders)
    if (!o.create)
      roles.push_back({o, done});
  if (!roles.empty())
    send_role_orders_left(self, std::move(roles), attempts * 10);
  // After the masters' orders: a replacement copy joins its master as soon
  // as it exists, and the master should know it by then.
  for (auto& o : orders)
    if (o.create)
      send_order(self, o, done, attempts);
}

std::shared_ptr<envelope>
create_instance_envelope(const std::string& db, uint32_t ordinal,
                         bool sync_durability, pb::Role role, uint64_t term,
                         const std::string& peer, uint64_t version) {
  auto env = make_envelope(partition_label(db, ordinal), term);
  auto* body = env->mutable_create_instance_request();
  body->set_database(db);
  body->set_ordinal(ordinal);
  body->set_sync_durability(sync_durability);
  body->set_role(role);
  body->set_term(term);
  body->set_peer(peer);
  body->set_version(version);
  return env;
}

std::string create_error(const envelope* rep, const std::string& leaf) {
  if (rep == nullptr)
    return "no answer from " + leaf;
  if (rep->create_instance_reply().status() != pb::STATUS_OK)
    return rep->create_instance_reply().error();
  return {};
}

std::shared_ptr<envelope> drop_instance_envelope(ma_self self,
                                                 const std::string& db,
                                                 uint32_t ordinal) {
  auto env = make_envelope(partition_label(db, ordinal));
  auto* body = env->mutable_drop_instance_request();
  body->set_database(db);
  body->set_ordinal(ordinal);
  body->set_version(self->state.meta.version());
  return env;
}

void drop_instance(ma_self self, const std::string& leaf,
                   const std::string& db, uint32_t ordinal) {
  self->state.ep.request(self, leaf, leaf_actor_name(),
                         drop_instance_envelope(self, db, ordinal),
                         instance_op_timeout, [](const envelope*) {});
}

void paced_fanout::pump(ma_self self, const std::string& leaf) {
  auto& queue = queued_[leaf];
  auto& busy = in_flight_[leaf];
  while (busy < window_ && !queue.empty()) {
    auto next = std::move(queue.front());
    queue.pop_front();
    ++busy;
    auto me = shared_from_this();
    self->state.ep.request(
      self, leaf, next.actor, std::move(next.env), timeout_,
      [self, me, leaf, cb = std::move(next.cb)](const envelope* rep) {
        --me->in_flight_[leaf];
        cb(rep);
        me->pump(self, leaf);
      });
  }
}

namespace {

using order_callbacks = std::vector<rpc_table::callback>;

/// One LeafOrdersRequest of `orders`, and their callbacks in order.
template <class Iter>
std::pair<std::shared_ptr<envelope>, std::shared_ptr<order_callbacks>>
pack_orders(Iter first, Iter last, caf::timespan timeout) {
  auto env = make_envelope();
  auto* body = env->mutable_leaf_orders_request();
  body->set_timeout_ms(
    std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  auto callbacks = std::make_shared<order_callbacks>();
  callbacks->reserve(static_cast<size_t>(std::distance(first, last)));
  for (auto o = first; o != last; ++o) {
    auto* item = body->add_orders();
    item->set_actor(std::move(o->actor));
    item->mutable_order()->Swap(o->env.get());
    callbacks->push_back(std::move(o->cb));
  }
  return {std::move(env), std::move(callbacks)};
}

/// Gives each order's callback its answer from `rep` (nullptr for none).
void hand_out_answers(const order_callbacks& callbacks, const envelope* rep) {
  const pb::LeafOrdersReply* answers = rep != nullptr
                                           && rep->has_leaf_orders_reply()
                                         ? &rep->leaf_orders_reply()
                                         : nullptr;
  for (size_t i = 0; i < callbacks.size(); ++i) {
    const envelope* answer = nullptr;
    if (answers != nullptr
        && i < static_cast<size_t>(answers->answers_size())) {
      answer = &answers->answers(static_cast<int>(i));
      if (answer->body_case() == envelope::BODY_NOT_SET)
        answer = nullptr; // the instance gave no answer
    }
    callbacks[i](answer);
  }
}

} // namespace

void leaf_orders::send(ma_self self, caf::timespan timeout,
                       std::function<void(const std::string&)> after) {
  auto by_leaf = std::move(by_leaf_);
  by_leaf_.clear();
  for (auto& [leaf, orders] : by_leaf) {
    auto [env, callbacks] = pack_orders(orders.begin(), orders.end(), timeout);
    self->state.ep.request(self, leaf, leaf_actor_name(), std::move(env),
                           timeout,
                           [callbacks = callbacks, after,
                            leaf = leaf](const envelope* rep) {
                             hand_out_answers(*callbacks, rep);
                             if (after)
                               after(leaf);
                           });
  }
}

void leaf_orders::send_paced(ma_self self, caf::timespan timeout,
                             size_t per_message, int window) {
  auto by_leaf = std::move(by_leaf_);
  by_leaf_.clear();
  auto fanout = std::make_shared<paced_fanout>(timeout, window);
  for (auto& [leaf, orders] : by_leaf) {
    for (size_t first = 0; first < orders.size(); first += per_message) {
      auto last = std::min(orders.size(), first + per_message);
      auto [env, callbacks] = pack_orders(
        orders.begin() + static_cast<std::ptrdiff_t>(first),
        orders.begin() + static_cast<std::ptrdiff_t>(last), timeout);
      fanout->add(leaf, leaf_actor_name(), std::move(env),
                  [callbacks = callbacks](const envelope* rep) {
                    hand_out_answers(*callbacks, rep);
                  });
    }
  }
  fanout->start(self);
}

} // namespace lg
