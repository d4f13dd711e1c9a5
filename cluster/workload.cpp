#include "cluster/workload.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "sql/result_proto.hpp"

namespace lg {

namespace {

using stop_atom = caf::atom_constant<caf::atom("stop")>;

struct workload_state {
  std::string name;
  endpoint ep;
  workload_config cfg;
  uint64_t next = 0;
  bool stopping = false;
};

using self_ptr = caf::stateful_actor<workload_state>*;

void issue(self_ptr self) {
  auto& st = self->state;
  auto& rec = *st.cfg.record;
  if (st.stopping || (st.cfg.max_writes != 0 && rec.issued >= st.cfg.max_writes)) {
    if (rec.in_flight == 0) {
      rec.stopped = true;
      self->quit();
    }
    return;
  }
  auto n = st.next++;
  auto key = st.cfg.key_prefix + std::to_string(n);
  auto value = "v" + std::to_string(n * 7919 % 100003);
  ++rec.issued;
  ++rec.in_flight;
  auto env = make_envelope();
  env->mutable_statement_request()->set_text(
    "INSERT INTO " + st.cfg.database + " VALUES ('" + key + "','" + value
    + "')");
  auto issued_at = self->clock().now();
  st.ep.request(self, st.cfg.session_node, st.cfg.session, std::move(env),
                st.cfg.timeout,
                [self, key, value, issued_at](const envelope* rep) {
                  auto& rec = *self->state.cfg.record;
                  --rec.in_flight;
                  ++rec.completed;
                  auto took = self->clock().now() - issued_at;
                  if (took > rec.longest) {
                    rec.longest = took;
                    rec.longest_key = key;
                  }
                  if (rep != nullptr && rep->has_statement_reply()
                      && rep->statement_reply().result().error_code() == 0) {
                    rec.acked[key] = value;
                    rec.failed.erase(key);
                  } else {
                    rec.failed[key] = rep != nullptr
                                        ? render(rep->statement_reply().result())
                                        : "no answer";
                  }
                  issue(self);
                });
}

caf::behavior workload_impl(self_ptr self, workload_config cfg) {
  auto& st = self->state;
  st.name = "workload";
  // On the session's node: a client and its session share a process.
  st.ep = endpoint{cfg.fab, cfg.session_node, "workload/" + cfg.session};
  st.cfg = std::move(cfg);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  for (int i = 0; i < st.cfg.streams; ++i)
    issue(self);
  return {
    [self](wire& msg) {
      // Replies reach their callbacks; nothing else is expected.
      self->state.ep.receive(self, msg);
    },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](stop_atom) {
      self->state.stopping = true;
      if (self->state.cfg.record->in_flight == 0) {
        self->state.cfg.record->stopped = true;
        self->quit();
      }
    },
  };
}

} // namespace

caf::actor spawn_workload(caf::actor_system& sys, workload_config cfg) {
  return sys.spawn(workload_impl, std::move(cfg));
}

void stop_workload(const caf::actor& workload) {
  caf::anon_send(workload, stop_atom::value);
}

} // namespace lg
