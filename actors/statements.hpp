// Taking statements in and answering them, the same in every role that
// accepts a StatementRequest (the aggregator and the client session).
#pragma once

#include <optional>
#include <string>

#include "actors/net/fabric.hpp"
#include "sql/parser.hpp"
#include "sql/result_proto.hpp"

namespace lg {

/// Names a StatementRequest by its sender and correlation id: the key of a
/// role's statements still unanswered.
inline std::string statement_key(const envelope& req) {
  const auto& h = req.header();
  return h.from().node() + "/" + h.from().actor() + "#"
         + std::to_string(h.correlation_id());
}

namespace detail {

/// A role that keeps its unanswered statements (`open_statements`, by
/// statement_key) forgets one once it is answered.
template <class State>
auto forget_statement(State& st, const envelope& req, int)
  -> decltype(st.open_statements.erase(std::string{}), void()) {
  st.open_statements.erase(statement_key(req));
}

template <class State>
void forget_statement(State&, const envelope&, long) {
}

} // namespace detail

/// Answers the StatementRequest `req` with `rs`.
template <class Self>
void reply_result(Self self, const envelope& req, pb::ResultSet rs) {
  detail::forget_statement(self->state, req, 0);
  auto rep = make_envelope();
  *rep->mutable_statement_reply()->mutable_result() = std::move(rs);
  self->state.ep.reply(self, req, std::move(rep));
}

/// Parses the statement of `req`; when it does not parse, answers `req`
/// with the error (`ERROR 1064` for syntax, or the bad value) and returns
/// nothing.
template <class Self>
std::optional<sql::statement> parse_statement(Self self, const envelope& req) {
  auto parsed = sql::parse(req.statement_request().text());
  if (!parsed.ok()) {
    reply_result(self, req,
                 make_failure(parsed.err().name() == "bad_value"
                                ? sql::errc::bad_value
                                : sql::errc::syntax_error,
                              parsed.err().detail()));
    return std::nullopt;
  }
  return std::move(*parsed);
}

} // namespace lg
