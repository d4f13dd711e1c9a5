// Requests sent straight to one actor of a simulated cluster, as a client
// with a cached partition map sends them, bypassing the session: a test can
// then choose a write's id, retry it, or ask an instance for its status.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/names.hpp"
#include "actors/net/endpoint.hpp"
#include "sim_cluster.hpp"

namespace lg::test {

struct raw_client_state {
  std::string name = "raw-client";
  endpoint ep;
};

/// Sends one request straight to node/actor and stores the answer (an
/// empty envelope when none came in time) in `out`.
inline caf::behavior raw_client(caf::stateful_actor<raw_client_state>* self,
                                fabric_ptr fab, std::string node,
                                std::string actor,
                                std::shared_ptr<envelope> req,
                                std::shared_ptr<envelope> out) {
  self->state.ep = endpoint{fab, "test", "raw-client"};
  self->state.ep.attach(self, caf::actor_cast<caf::actor>(self));
  self->state.ep.request(self, node, actor, std::move(req),
                         std::chrono::seconds{2},
                         [self, out](const envelope* rep) {
                           if (rep != nullptr)
                             *out = *rep;
                           out->mutable_header()->set_trace_id(1); // answered
                           self->quit();
                         });
  return {
    [self](wire& msg) { self->state.ep.receive(self, msg); },
    [self](tick_atom) { self->state.ep.on_tick(self); },
  };
}

/// Sends `req` to node/actor and waits (virtual time) for the answer.
inline envelope ask(sim_cluster& c, const std::string& node,
                    const std::string& actor, std::shared_ptr<envelope> req) {
  auto out = std::make_shared<envelope>();
  c.cluster().system().spawn(raw_client, c.cluster().transport_ptr(), node,
                             actor, std::move(req), out);
  BOOST_REQUIRE(c.cluster().run_until(
    [&] { return out->header().trace_id() == 1; }, std::chrono::seconds{5}));
  return *out;
}

/// The node that masters partition `ordinal` of `db`, from the aggregator's
/// partition map.
inline std::string map_master(sim_cluster& c, const std::string& db,
                              uint32_t ordinal) {
  auto req = make_envelope();
  req->mutable_partition_map_request()->set_database(db);
  auto rep = ask(c, "ma", "ma", req);
  BOOST_REQUIRE(rep.partition_map_reply().status() == pb::STATUS_OK);
  return rep.partition_map_reply().routes(static_cast<int>(ordinal)).master();
}

/// A write of one row under a client's write id, as a session sends it.
inline std::shared_ptr<envelope>
write_request(const std::string& db, uint32_t ordinal, uint64_t write_id,
              const std::string& key, const std::string& value) {
  auto env = make_envelope(partition_label(db, ordinal));
  auto* body = env->mutable_write_request();
  body->set_write_id(write_id);
  auto* row = body->add_rows();
  row->set_key(key);
  row->set_value(value);
  return env;
}

/// The state an instance of db:ordinal on `node` reports (InstanceStatus).
inline pb::InstanceState instance_state(sim_cluster& c,
                                        const std::string& node,
                                        const std::string& db,
                                        uint32_t ordinal) {
  auto req = make_envelope(partition_label(db, ordinal));
  req->mutable_instance_status_request();
  auto rep = ask(c, node, partition_actor_name(db, ordinal), req);
  BOOST_REQUIRE(rep.has_instance_status_reply());
  return rep.instance_status_reply().instance();
}

} // namespace lg::test
