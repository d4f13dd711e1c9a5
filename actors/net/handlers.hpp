// The requests a role accepts, each with its handler, in one table: the
// role's interface in one place (as FoundationDB's *Interface.h files list
// the requests of a role), and the one receive path every role shares.
//
//   1. The role's endpoint takes the message in: replies go to the callback
//      of their request, messages for another receiver are dropped.
//   2. The table finds the handler for the message's body and calls it.
//   3. A body the role does not accept is logged as UnexpectedMessage with
//      the role's context, never silently dropped.
#pragma once

#include <initializer_list>
#include <utility>
#include <vector>

#include "actors/net/fabric.hpp"
#include "base/log.hpp"

namespace lg {

/// The accepted requests of one role and their handlers. `Self` is the
/// role's stateful actor pointer; its state has an endpoint `ep` and a
/// `ctx()` for log lines.
template <class Self>
class handler_table {
public:
  using handler = void (*)(Self, const envelope_ptr&);
  using entry = std::pair<envelope::BodyCase, handler>;

  /// A table for the role whose logger is `module`.
  handler_table(const char* module, std::initializer_list<entry> entries)
    : module_(module), entries_(entries) {
  }

  /// Receives `msg` through the role's endpoint and hands it to the
  /// handler of its body (steps 1-3).
  void dispatch(Self self, const wire& msg) const {
    auto& st = self->state;
    if (!st.ep.receive(self, msg))
      return;
    const auto& env = msg.env;
    if (st.ep.refuse_stale(self, *env))
      return;
    for (auto& [body, fn] : entries_) {
      if (body == env->body_case()) {
        fn(self, env);
        return;
      }
    }
    logger(module_)->warn("UnexpectedMessage {} {}", st.ctx(),
                          body_name(*env));
  }

  /// True when the role accepts messages with body `body`.
  bool accepts(envelope::BodyCase body) const {
    for (auto& e : entries_)
      if (e.first == body)
        return true;
    return false;
  }

private:
  const char* module_;
  std::vector<entry> entries_;
};

} // namespace lg
