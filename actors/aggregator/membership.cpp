// ADD AGGREGATOR 'h':p and REMOVE AGGREGATOR 'h':p on the master
// aggregator:
//
//   1. The master aggregator checks there are voting aggregators at all
//      (`leafguard local` with one aggregator and no consensus has none to
//      change) and hands the change to the voting aggregator beside it.
//   2. The voting aggregator makes it in the Raft group, one change at a
//      time (voting.cpp): an added aggregator first catches up on the log
//      as a standby, then votes; a removed one stops voting once the new
//      configuration is committed.
//   3. The answer goes back to the client; a change still running when the
//      statement's time runs out is reported as such.
#include <chrono>

#include "actors/aggregator/state.hpp"
#include "sql/result_proto.hpp"

namespace lg {

namespace {

/// How long an added aggregator may take to catch up before the statement
/// is answered (the change goes on in the group meanwhile).
constexpr auto membership_timeout = std::chrono::seconds{60};

} // namespace

void exec_change_aggregator(ma_self self, envelope_ptr req,
                            const sql::change_aggregator& s) {
  auto& st = self->state;
  auto addr = s.aggregator.to_string();
  const char* verb = s.add ? "ADD AGGREGATOR" : "REMOVE AGGREGATOR";
  if (st.cfg.consensus_node.empty()) {
    reply_result(self, *req,
                 make_failure(sql::errc::not_supported,
                              std::string{verb}
                                + ": this master aggregator runs without "
                                  "voting aggregators"));
    return;
  }
  auto env = make_envelope();
  auto* body = env->mutable_aggregator_membership_request();
  body->set_address(addr);
  body->set_add(s.add);
  st.ep.request(
    self, st.cfg.consensus_node, "aggregator", std::move(env),
    membership_timeout, [self, req, addr, verb](const envelope* rep) {
      if (rep == nullptr || !rep->has_aggregator_membership_reply()) {
        reply_result(self, *req,
                     make_failure(sql::errc::timeout,
                                  std::string{verb} + " '" + addr
                                    + "': no answer within "
                                    + std::to_string(membership_timeout.count())
                                    + " s; SHOW AGGREGATORS tells whether "
                                      "the change took effect"));
        return;
      }
      auto& body = rep->aggregator_membership_reply();
      if (!body.ok()) {
        reply_result(self, *req,
                     make_failure(sql::errc::conflict, body.error()));
        return;
      }
      reply_result(self, *req, make_message(rows_affected(1)));
    });
}

} // namespace lg
