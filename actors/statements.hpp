// Taking statements in and answering them, the same in every role that
// accepts a StatementRequest (the aggregator and the client session).
#pragma once

#include <optional>

#include "actors/net/fabric.hpp"
#include "sql/parser.hpp"
#include "sql/result_proto.hpp"

namespace lg {

/// Answers the StatementRequest `req` with `rs`.
template <class Self>
void reply_result(Self self, const envelope& req, pb::ResultSet rs) {
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
