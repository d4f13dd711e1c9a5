#include "cluster/history_workload.hpp"

#include <random>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace lg {

namespace {

using stop_atom = caf::atom_constant<caf::atom("stop")>;
/// A client's pause after an unknown outcome is over.
using next_atom = caf::atom_constant<caf::atom("next")>;

struct history_state {
  std::string name = "history";
  endpoint ep;
  history_config cfg;
  std::mt19937_64 rng;
  uint64_t next_value = 0;
  bool stopping = false;
};

using self_ptr = caf::stateful_actor<history_state>*;

void finish_if_idle(self_ptr self) {
  auto& rec = *self->state.cfg.record;
  if (self->state.stopping && rec.in_flight == 0 && !rec.stopped) {
    rec.stopped = true;
    self->quit();
  }
}

/// Client `c` issues its next operation (step 1).
void issue(self_ptr self, size_t c) {
  auto& st = self->state;
  auto& rec = *st.cfg.record;
  if (st.stopping)
    return finish_if_idle(self);
  check::operation op;
  op.client = st.cfg.first_client_id + static_cast<uint32_t>(c);
  op.key = history_key(static_cast<int>(
    std::uniform_int_distribution<int>{0, st.cfg.keys - 1}(st.rng)));
  auto roll = std::uniform_int_distribution<int>{0, 99}(st.rng);
  std::string text;
  if (roll < 50) {
    op.kind = check::op_kind::put;
    op.value = "c" + std::to_string(op.client) + "-"
               + std::to_string(st.next_value++);
    text = "INSERT INTO " + st.cfg.database + " VALUES ('" + op.key + "','"
           + *op.value + "')";
  } else if (roll < 65) {
    op.kind = check::op_kind::del;
    text = "DELETE FROM " + st.cfg.database + " WHERE key = '" + op.key
           + "'";
  } else {
    op.kind = check::op_kind::get;
    text = "SELECT * FROM " + st.cfg.database + " WHERE key = '" + op.key
           + "'";
  }
  auto env = make_envelope();
  env->mutable_statement_request()->set_text(text);
  ++rec.in_flight;
  op.invoked = history_time(self->clock().now());
  if (st.cfg.on_operation)
    st.cfg.on_operation(op, false, {});
  st.ep.request(
    self, st.cfg.session_node, st.cfg.clients[c], std::move(env),
    st.cfg.timeout, [self, c, op](const envelope* rep) mutable {
      auto& rec = *self->state.cfg.record;
      --rec.in_flight;
      op.completed = history_time(self->clock().now());
      // Step 3: only an OK answer is an outcome the checker may rely on.
      bool ok = rep != nullptr && rep->has_statement_reply()
                && rep->statement_reply().result().error_code() == 0;
      op.result = ok ? check::outcome::ok : check::outcome::unknown;
      if (ok && op.kind == check::op_kind::get) {
        const auto& rs = rep->statement_reply().result();
        op.value.reset();
        for (auto& row : rs.rows())
          if (row.cells_size() >= 2 && row.cells(0) == op.key)
            op.value = row.cells(1);
      }
      if (auto& report = self->state.cfg.on_operation) {
        std::string error;
        if (!ok)
          error = rep == nullptr
                    ? (self->state.ep.last_transport_error().empty()
                         ? "no answer in time"
                         : self->state.ep.last_transport_error())
                  : rep->has_statement_reply()
                    ? rep->statement_reply().result().error()
                    : "an answer that is not a statement reply";
        report(op, true, error);
      }
      if (self->state.cfg.keep_ops)
        rec.ops.push_back(std::move(op));
      auto pause = self->state.cfg.pause_after_unknown;
      if (!ok && pause > caf::timespan::zero())
        self->delayed_send(self, pause, next_atom::value,
                           static_cast<uint64_t>(c));
      else
        issue(self, c);
    });
}

caf::behavior history_impl(self_ptr self, history_config cfg) {
  auto& st = self->state;
  // On the sessions' node: clients and their sessions share a process.
  st.ep = endpoint{cfg.fab, cfg.session_node,
                   "history/" + std::to_string(cfg.first_client_id)};
  st.rng.seed(cfg.seed);
  st.cfg = std::move(cfg);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  for (size_t c = 0; c < st.cfg.clients.size(); ++c)
    issue(self, c);
  return {
    [self](wire& msg) {
      // Replies reach their callbacks; nothing else is expected.
      self->state.ep.receive(self, msg);
    },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](next_atom, uint64_t c) { issue(self, static_cast<size_t>(c)); },
    [self](stop_atom) {
      self->state.stopping = true;
      finish_if_idle(self);
    },
  };
}

} // namespace

caf::actor spawn_history_workload(caf::actor_system& sys, history_config cfg) {
  return sys.spawn(history_impl, std::move(cfg));
}

void stop_history_workload(const caf::actor& workload) {
  caf::anon_send(workload, stop_atom::value);
}

std::string history_key(int i) {
  return "h" + std::to_string(i);
}

int64_t history_time(time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           t.time_since_epoch())
    .count();
}

} // namespace lg
