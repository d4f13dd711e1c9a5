// The client session: runs a client's statements against the cluster.
//
//   1. Data statements (INSERT, DELETE, SELECT) go straight to the masters
//      of their partitions, found in a cached partition map asked of the
//      aggregator; cluster statements are forwarded to the aggregator.
//   2. An attempt that fails (NOT_MASTER, no answer) is retried with a
//      fresh map until the request deadline; writes carry a write id, so a
//      retry is applied once.
//   3. While a master is silent the session keeps a watch on the map, and
//      moves its waiting operations as soon as the map names a new master.
#include "actors/client/session.hpp"
#include "actors/net/gateway.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/names.hpp"
#include "actors/net/handlers.hpp"
#include "actors/statements.hpp"
#include "sql/result_proto.hpp"
#include "admin.pb.h"
#include "base/hash.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "sql/parser.hpp"

namespace lg {

namespace {

constexpr auto map_timeout = std::chrono::seconds{2};
/// How long the aggregator may hold a request for a newer map.
constexpr int64_t map_wait_ms = 100;
/// How long it may hold a watch (see watch_map): as long as it allows.
constexpr int64_t watch_wait_ms = 1000;
constexpr auto admin_timeout = std::chrono::seconds{120};
constexpr auto first_backoff = std::chrono::milliseconds{1};
constexpr auto max_backoff = std::chrono::milliseconds{100};

/// The outcome of one partition operation.
struct op_result {
  const envelope* reply = nullptr;
  sql::errc code = sql::errc::internal;
  std::string error; ///< empty on success
};

/// A read or write on one partition, retried until its deadline.
struct part_op {
  std::string db;
  uint32_t ordinal = 0;
  envelope body; ///< the request body (header filled per attempt)
  time_point deadline;
  std::function<void(const op_result&)> done;
  std::string last_error;
  int attempts = 0;
  uint64_t newer_than = 0; ///< the next attempt needs a map newer than this
  uint64_t map_version = 0; ///< the map of the last attempt
  uint64_t generation = 0;  ///< bumped per attempt; older answers are stale
  std::string target;       ///< the master of the attempt in flight
  uint64_t target_term = 0;
};

using map_ptr = std::shared_ptr<const pb::PartitionMapReply>;
using map_cb = std::function<void(map_ptr, sql::errc, const std::string&)>;

struct session_state {
  std::string name;
  endpoint ep;
  session_config cfg;
  std::map<std::string, map_ptr> maps;
  /// Callers waiting for a map, by database and the version it must beat.
  std::map<std::pair<std::string, uint64_t>, std::vector<map_cb>> map_waiters;
  std::map<uint64_t, std::shared_ptr<part_op>> retries;
  /// Statements waiting for a master aggregator to answer, by timer id.
  std::map<uint64_t, std::function<void()>> waiting_for_aggregator;
  /// While a statement that waited for a map creates its operations: the
  /// end of its timeout.
  std::optional<time_point> statement_deadline;
  /// Operations with an attempt in flight, re-aimed when a watched map
  /// names another master for them.
  std::set<std::shared_ptr<part_op>> inflight;
  /// Databases with a watch outstanding at the aggregator.
  std::set<std::string> watching;
  uint64_t next_timer = 1;
  uint32_t write_seq = 0;
  /// Statements forwarded to a master aggregator in this process, by its
  /// actor: if it dies before answering (its process would have dropped
  /// the connection), each is answered at once with an unknown outcome.
  /// Those sent to one in another process are under the null address, and
  /// answered so when the gateway says the master aggregator moved.
  std::map<caf::actor_addr, std::map<uint64_t, envelope_ptr>> forwarded_to;
  uint64_t next_forward = 1;

  std::string ctx() const {
    return "[session=" + name + "]";
  }
};

using self_ptr = session_actor::stateful_pointer<session_state>;

/// Asks the aggregator for the map of `db`; with `newer_than` > 0 it may
/// hold the request for up to `wait_ms` until the metadata changes.
void request_map(self_ptr self, const std::string& db, uint64_t newer_than,
                 int64_t wait_ms, rpc_table::callback cb) {
  auto env = make_envelope();
  auto* body = env->mutable_partition_map_request();
  body->set_database(db);
  if (newer_than > 0) {
    body->set_newer_than(newer_than);
    body->set_wait_ms(wait_ms);
  }
  self->state.ep.request(self, self->state.cfg.ma_node, "ma", std::move(env),
                         map_timeout + std::chrono::milliseconds{wait_ms},
                         std::move(cb));
}

/// Takes in a map the aggregator sent: its request timeout, and the map
/// itself as the cached one when every partition is online. An offline
/// partition may come back with no message to this session (its leaf
/// restarts), so a map naming one is used for the statement at hand only
/// and asked for again by the next.
map_ptr adopt_map(session_state& st, const std::string& db,
                  const pb::PartitionMapReply& body) {
  if (body.request_timeout_ms() > 0)
    st.cfg.request_timeout_ms = body.request_timeout_ms();
  auto map = std::make_shared<pb::PartitionMapReply>(body);
  if (std::all_of(body.routes().begin(), body.routes().end(),
                  [](const pb::PartitionRoute& r) { return r.online(); }))
    st.maps[db] = map;
  return map;
}

/// Calls `cb` with the map of `db`; with `newer_than` > 0, with a map newer
/// than that version (the aggregator holds the request until the metadata
/// changes, or up to map_wait_ms).
void get_map(self_ptr self, const std::string& db, uint64_t newer_than,
             map_cb cb) {
  auto& st = self->state;
  auto i = st.maps.find(db);
  if (i != st.maps.end()) {
    if (i->second->version() > newer_than) {
      cb(i->second, sql::errc::internal, {});
      return;
    }
    st.maps.erase(i);
  }
  auto key = std::make_pair(db, newer_than);
  auto& waiters = st.map_waiters[key];
  waiters.push_back(std::move(cb));
  if (waiters.size() > 1)
    return;
  request_map(
    self, db, newer_than, map_wait_ms, [self, key](const envelope* rep) {
      auto& st = self->state;
      auto waiters = std::move(st.map_waiters[key]);
      st.map_waiters.erase(key);
      const auto& db = key.first;
      map_ptr map;
      sql::errc code = sql::errc::timeout;
      std::string error = "the master aggregator did not answer within "
                          + std::to_string(map_timeout.count() * 1000)
                          + " ms";
      if (rep != nullptr) {
        const auto& body = rep->partition_map_reply();
        if (body.status() == pb::STATUS_OK) {
          map = adopt_map(st, db, body);
          error.clear();
        } else {
          code = body.status() == pb::UNKNOWN ? sql::errc::unknown_database
                                              : sql::errc::internal;
          error = body.error();
        }
      }
      for (auto& w : waiters)
        w(map, code, error);
    });
}

void attempt(self_ptr self, std::shared_ptr<part_op> op);

/// Keeps a request for a map of `db` newer than `version` open at the
/// aggregator while some operation's master is silent. A silent master may
/// be dead or cut off: the aggregator's failover changes the map, and the
/// operations still waiting on the old master are sent to the new one at
/// once instead of after their attempt's timeout (writes are idempotent by
/// write id, so the first attempt may still land harmlessly).
void watch_map(self_ptr self, const std::string& db, uint64_t version) {
  auto& st = self->state;
  if (!st.watching.insert(db).second)
    return;
  request_map(
    self, db, version, watch_wait_ms, [self, db, version](const envelope* rep) {
      auto& st = self->state;
      st.watching.erase(db);
      if (rep == nullptr
          || rep->partition_map_reply().status() != pb::STATUS_OK)
        return;
      const auto& body = rep->partition_map_reply();
      std::vector<std::shared_ptr<part_op>> silent;
      for (auto& op : st.inflight)
        if (op->db == db)
          silent.push_back(op);
      if (body.version() <= version) {
        // Nothing changed yet: watch on while a master stays silent.
        if (std::any_of(silent.begin(), silent.end(),
                        [](const auto& op) { return op->attempts > 1; }))
          watch_map(self, db, version);
        return;
      }
      auto map = adopt_map(st, db, body);
      for (auto& op : silent) {
        if (op->ordinal >= static_cast<uint32_t>(map->routes_size()))
          continue;
        const auto& route = map->routes(static_cast<int>(op->ordinal));
        if (route.master() == op->target && route.term() == op->target_term)
          continue;
        LG_PROBE(client_reaimed, "a request to a silent master was sent to "
                                 "the master a newer map names");
        st.inflight.erase(op);
        ++op->generation; // its first attempt's answer no longer counts
        op->newer_than = std::max(op->newer_than, op->map_version);
        attempt(self, op);
      }
    });
}

void retry_later(self_ptr self, std::shared_ptr<part_op> op) {
  auto& st = self->state;
  auto now = self->clock().now();
  // 1, 2, 4, ... 100 ms: quick while a failover completes, gentle after.
  caf::timespan backoff = first_backoff * (1 << std::min(op->attempts - 1, 7));
  backoff = std::min<caf::timespan>(backoff, max_backoff);
  if (now + backoff >= op->deadline) {
    op_result r;
    r.code = sql::errc::timeout;
    r.error = "request to partition " + partition_label(op->db, op->ordinal)
              + " timed out after "
              + std::to_string(st.cfg.request_timeout_ms) + " ms"
              + (op->last_error.empty() ? "" : ": " + op->last_error);
    op->done(r);
    return;
  }
  auto id = st.next_timer++;
  st.retries.emplace(id, std::move(op));
  self->delayed_send(self, backoff, timer_atom::value, id);
}

void attempt(self_ptr self, std::shared_ptr<part_op> op) {
  get_map(self, op->db, op->newer_than, [self, op](map_ptr map,
                                                   sql::errc code,
                                                   const std::string& error) {
    auto& st = self->state;
    if (!map && code == sql::errc::timeout
        && self->clock().now() + map_timeout
               + std::chrono::milliseconds{map_wait_ms}
             < op->deadline) {
      // No master aggregator answered (an election, a restart): the
      // operation tries again until its deadline; the next map request
      // reaches whichever aggregator leads by then.
      LG_PROBE(client_waited_for_aggregator,
               "a client's map request found no master aggregator and was "
               "retried");
      op->last_error = error;
      retry_later(self, op);
      return;
    }
    if (!map) {
      op_result r;
      r.code = code;
      r.error = error;
      op->done(r);
      return;
    }
    if (op->ordinal >= static_cast<uint32_t>(map->routes_size())) {
      op_result r;
      r.error = "partition map of '" + op->db + "' lacks ordinal "
                + std::to_string(op->ordinal);
      op->done(r);
      return;
    }
    const auto& route = map->routes(static_cast<int>(op->ordinal));
    if (!route.online()) {
      op_result r;
      r.code = sql::errc::partition_offline;
      r.error = route.offline_reason();
      op->done(r);
      return;
    }
    auto env = std::make_shared<envelope>(op->body);
    auto* h = env->mutable_header();
    h->set_partition(partition_label(op->db, op->ordinal));
    h->set_term(route.term());
    auto now = self->clock().now();
    auto left = op->deadline - now;
    auto per_attempt = std::chrono::milliseconds{st.cfg.attempt_timeout_ms};
    auto wait = std::min<caf::timespan>(left, per_attempt);
    ++op->attempts;
    auto master = route.master();
    auto route_term = route.term();
    op->map_version = map->version();
    op->target = master;
    op->target_term = route_term;
    auto generation = ++op->generation;
    st.inflight.insert(op);
    st.ep.request(
      self, master, partition_actor_name(op->db, op->ordinal), std::move(env),
      wait, [self, op, master, route_term, generation](const envelope* rep) {
        auto& st = self->state;
        if (generation != op->generation)
          return; // re-aimed at a newer master meanwhile
        st.inflight.erase(op);
        bool silent = rep == nullptr
                      && st.ep.last_transport_error().empty();
        pb::Status status = pb::TIMED_OUT;
        std::string error;
        if (rep != nullptr) {
          if (rep->has_write_reply()) {
            status = rep->write_reply().status();
            error = rep->write_reply().error();
          } else if (rep->has_read_reply()) {
            status = rep->read_reply().status();
            error = rep->read_reply().error();
          }
        } else {
          error = "no answer from " + master;
        }
        if (status == pb::STATUS_OK) {
          op_result r;
          r.reply = rep;
          op->done(r);
          return;
        }
        if (status == pb::NOT_MASTER || status == pb::TIMED_OUT) {
          // Retried with the same write id.
          LG_PROBE(client_retry, "a client retried after a failed attempt");
          op->last_error = error;
          if (rep != nullptr && rep->header().term() < route_term) {
            // The map is ahead of the instance: its promotion is on the way.
            retry_later(self, op);
            return;
          }
          // The map is stale or the master is gone: ask for a newer map,
          // which the aggregator sends as soon as it has decided a
          // failover, then try again at once.
          if (self->clock().now() >= op->deadline) {
            retry_later(self, op); // answers the timeout
            return;
          }
          op->newer_than = std::max(op->newer_than, op->map_version);
          if (silent)
            watch_map(self, op->db, op->map_version);
          attempt(self, op);
          return;
        }
        op_result r;
        r.code = status == pb::OFFLINE ? sql::errc::partition_offline
                                       : sql::errc::internal;
        r.error = error;
        op->done(r);
      });
  });
}

std::shared_ptr<part_op> make_op(self_ptr self, const std::string& db,
                                 uint32_t ordinal) {
  auto op = std::make_shared<part_op>();
  op->db = db;
  op->ordinal = ordinal;
  op->deadline = self->clock().now()
                 + std::chrono::milliseconds{
                   self->state.cfg.request_timeout_ms};
  // A statement that waited for a master aggregator has only what is left
  // of its own timeout.
  if (self->state.statement_deadline)
    op->deadline = std::min(op->deadline, *self->state.statement_deadline);
  return op;
}

/// Runs `fn` after max_backoff (while no master aggregator answers).
void after_backoff(self_ptr self, std::function<void()> fn) {
  auto& st = self->state;
  auto id = st.next_timer++;
  st.waiting_for_aggregator.emplace(id, std::move(fn));
  self->delayed_send(self, max_backoff, timer_atom::value, id);
}

/// Runs `fun(map)` once the map of `db` is known, or answers the error.
/// While no master aggregator answers (an election), it asks again until
/// the request timeout.
void with_map(self_ptr self, const envelope_ptr& req, const std::string& db,
              std::function<void(map_ptr)> fun,
              std::optional<time_point> started = std::nullopt) {
  auto since = started ? *started : self->clock().now();
  // The cluster's request timeout comes with its first map: until then the
  // session's own default bounds the wait.
  auto until = since
               + std::chrono::milliseconds{self->state.cfg.request_timeout_ms};
  get_map(self, db, 0, [self, req, db, fun, since, until](
                         map_ptr map, sql::errc code,
                         const std::string& error) {
    if (!map && code == sql::errc::timeout
        && self->clock().now() + max_backoff < until) {
      after_backoff(self, [self, req, db, fun, since] {
        with_map(self, req, db, fun, since);
      });
      return;
    }
    if (!map) {
      reply_result(self, *req, make_failure(code, error));
      return;
    }
    auto& st = self->state;
    // The statement's operations get what is left of the cluster's request
    // timeout, now known, counted from the statement's start.
    st.statement_deadline =
      std::min(until, since + std::chrono::milliseconds{
                                st.cfg.request_timeout_ms});
    fun(map);
    st.statement_deadline.reset();
  });
}

/// Gathers the results of several partition operations.
struct gather {
  size_t remaining = 0;
  size_t failed = 0;
  sql::errc code = sql::errc::internal;
  std::string first_error;
  uint64_t affected = 0;
  std::vector<pb::Row> rows;
  uint64_t count = 0;
  std::function<void(gather&)> done;

  void add(const op_result& r) {
    if (!r.error.empty() || r.reply == nullptr) {
      if (failed++ == 0) {
        code = r.code;
        first_error = r.error;
      }
    } else if (r.reply->has_write_reply()) {
      affected += r.reply->write_reply().affected();
    } else if (r.reply->has_read_reply()) {
      auto& body = r.reply->read_reply();
      rows.insert(rows.end(), body.rows().begin(), body.rows().end());
      count += body.count();
    }
    if (--remaining == 0)
      done(*this);
  }
};

void exec_insert(self_ptr self, const envelope_ptr& req,
                 const sql::insert_rows& s) {
  with_map(self, req, s.database, [self, req, s](map_ptr map) {
    auto& st = self->state;
    std::map<uint32_t, std::shared_ptr<part_op>> ops;
    for (auto& row : s.rows) {
      auto ordinal = partition_of(row.first, map->partitions());
      auto& op = ops[ordinal];
      if (!op) {
        op = make_op(self, s.database, ordinal);
        auto* w = op->body.mutable_write_request();
        w->set_write_id((uint64_t{st.cfg.client_id} << 32) | ++st.write_seq);
      }
      auto* r = op->body.mutable_write_request()->add_rows();
      r->set_key(row.first);
      r->set_value(row.second);
    }
    auto g = std::make_shared<gather>();
    g->remaining = ops.size();
    auto total = s.rows.size();
    g->done = [self, req, total](gather& g) {
      if (g.failed > 0) {
        auto msg = g.first_error;
        if (g.affected > 0)
          msg += " (" + std::to_string(g.affected) + " of "
                 + std::to_string(total) + " rows were written)";
        reply_result(self, *req, make_failure(g.code, msg));
        return;
      }
      reply_result(self, *req, make_message(rows_affected(g.affected)));
    };
    for (auto& kvp : ops) {
      kvp.second->done = [g](const op_result& r) { g->add(r); };
      attempt(self, kvp.second);
    }
  });
}

void exec_delete(self_ptr self, const envelope_ptr& req,
                 const sql::delete_row& s) {
  with_map(self, req, s.database, [self, req, s](map_ptr map) {
    auto& st = self->state;
    auto op = make_op(self, s.database, partition_of(s.key, map->partitions()));
    auto* w = op->body.mutable_write_request();
    w->set_write_id((uint64_t{st.cfg.client_id} << 32) | ++st.write_seq);
    w->add_deletes(s.key);
    op->done = [self, req](const op_result& r) {
      if (!r.error.empty()) {
        reply_result(self, *req, make_failure(r.code, r.error));
        return;
      }
      reply_result(self, *req,
                   make_message(rows_affected(r.reply->write_reply().affected())));
    };
    attempt(self, op);
  });
}

/// Sends one read of `kind` to every partition (or to the key's partition).
void exec_read(self_ptr self, const envelope_ptr& req, const std::string& db,
               pb::ReadKind kind, const std::optional<std::string>& key) {
  with_map(self, req, db, [self, req, db, kind, key](map_ptr map) {
    std::vector<uint32_t> ordinals;
    if (key)
      ordinals.push_back(partition_of(*key, map->partitions()));
    else
      for (uint32_t i = 0; i < map->partitions(); ++i)
        ordinals.push_back(i);
    auto g = std::make_shared<gather>();
    g->remaining = ordinals.size();
    g->done = [self, req, kind](gather& g) {
      if (g.failed > 0) {
        reply_result(self, *req, make_failure(g.code, g.first_error));
        return;
      }
      if (kind == pb::COUNT) {
        reply_result(self, *req,
                     make_table({"COUNT(*)"}, {{std::to_string(g.count)}}));
        return;
      }
      std::sort(g.rows.begin(), g.rows.end(),
                [](auto& a, auto& b) { return a.key() < b.key(); });
      std::vector<std::vector<std::string>> rows;
      rows.reserve(g.rows.size());
      for (auto& r : g.rows)
        rows.push_back({r.key(), r.value()});
      reply_result(self, *req, make_table({"Key", "Value"}, rows));
    };
    for (auto ordinal : ordinals) {
      auto op = make_op(self, db, ordinal);
      auto* r = op->body.mutable_read_request();
      r->set_kind(kind);
      if (key)
        r->set_key(*key);
      op->done = [g](const op_result& r) { g->add(r); };
      attempt(self, op);
    }
  });
}

void forward_to_ma(self_ptr self, const envelope_ptr& req,
                   bool reads_only,
                   std::optional<time_point> started = std::nullopt) {
  auto& st = self->state;
  auto since = started ? *started : self->clock().now();
  // A leaf runs no cluster command; what only shows the cluster's state
  // (its HTTP endpoint's /api/cluster) goes to the master aggregator.
  if (!st.cfg.leaf_data_dir.empty() && !reads_only) {
    auto ma = remembered_ma_address(st.cfg.leaf_data_dir);
    reply_result(self, *req,
                 make_failure(sql::errc::not_supported,
                              "leaf " + st.cfg.node
                                + " does not run cluster or HA commands: "
                                + (ma.empty()
                                     ? std::string{"no master aggregator has "
                                                   "added it yet"}
                                     : "run it on the master aggregator at "
                                         + ma)));
    return;
  }
  auto env = make_envelope();
  env->mutable_statement_request()->set_text(
    req->statement_request().text());
  // Watched when it lives in this process: see forwarded_to.
  caf::actor_addr ma_addr;
  auto id = st.next_forward++;
  auto ma = st.ep.fab().lookup(st.cfg.ma_node, "ma");
  if (ma)
    ma_addr = ma.address();
  auto& waiting = st.forwarded_to[ma_addr];
  if (waiting.empty() && ma)
    self->monitor(ma);
  waiting.emplace(id, req);
  st.ep.request(self, st.cfg.ma_node, "ma", std::move(env), admin_timeout,
                [self, req, ma_addr, id, reads_only,
                 since](const envelope* rep) {
                  auto& st = self->state;
                  auto w = st.forwarded_to.find(ma_addr);
                  if (w == st.forwarded_to.end() || w->second.erase(id) == 0)
                    return; // answered when the aggregator went or moved
                  if (w->second.empty()) {
                    if (ma_addr)
                      self->demonitor(ma_addr);
                    st.forwarded_to.erase(w);
                  }
                  if (rep == nullptr) {
                    auto refused = st.ep.last_transport_error();
                    auto until = since + std::chrono::milliseconds{
                                           st.cfg.request_timeout_ms};
                    if (!refused.empty()
                        && self->clock().now() + max_backoff < until) {
                      // Never delivered (no master aggregator yet: an
                      // election), so safe to send again, until the
                      // request timeout.
                      after_backoff(self, [self, req, reads_only, since] {
                        forward_to_ma(self, req, reads_only, since);
                      });
                      return;
                    }
                    reply_result(
                      self, *req,
                      make_failure(
                        sql::errc::timeout,
                        refused.empty()
                          ? std::string{"the master aggregator did not "
                                        "answer: the statement may or may "
                                        "not have taken effect"}
                          : "no master aggregator took the statement within "
                              + std::to_string(st.cfg.request_timeout_ms)
                              + " ms (" + refused
                              + "); SHOW AGGREGATORS on any aggregator "
                                "names the master aggregator"));
                    return;
                  }
                  // Cluster changes may move masters: drop cached maps.
                  st.maps.clear();
                  reply_result(self, *req,
                               rep->statement_reply().result());
                });
}

void on_statement(self_ptr self, const envelope_ptr& req) {
  const auto& text = req->statement_request().text();
  auto parsed = parse_statement(self, *req);
  if (!parsed)
    return;
  std::visit(
    [&](auto& s) {
      using T = std::decay_t<decltype(s)>;
      if constexpr (std::is_same_v<T, sql::insert_rows>)
        exec_insert(self, req, s);
      else if constexpr (std::is_same_v<T, sql::delete_row>)
        exec_delete(self, req, s);
      else if constexpr (std::is_same_v<T, sql::select_rows>)
        exec_read(self, req, s.database, s.key ? pb::GET : pb::SCAN, s.key);
      else if constexpr (std::is_same_v<T, sql::select_count>)
        exec_read(self, req, s.database, pb::COUNT, std::nullopt);
      else if constexpr (std::is_same_v<T, sql::leaf_fault_stmt>
                         || std::is_same_v<T, sql::sleep_stmt>)
        reply_result(self, *req,
                     make_failure(sql::errc::not_supported,
                                  "'" + text
                                    + "' is accepted only by in-process "
                                      "test clusters (leafguard local)"));
      else
        forward_to_ma(self, req,
                      std::is_same_v<T, sql::show_leaves>
                        || std::is_same_v<T, sql::show_aggregators>
                        || std::is_same_v<T, sql::show_cluster_status>
                        || std::is_same_v<T, sql::show_rebalance_status>
                        || std::is_same_v<T, sql::show_failovers>
                        || std::is_same_v<T, sql::show_partitions>
                        || std::is_same_v<T, sql::show_databases>);
    },
    *parsed);
}

/// The gateway of this process says the master aggregator moved to
/// another process, or its process went away: what was forwarded to it and
/// not answered may never be.
void on_ma_moved(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  auto i = st.forwarded_to.find(caf::actor_addr{});
  if (i == st.forwarded_to.end())
    return;
  auto waiting = std::move(i->second);
  st.forwarded_to.erase(i);
  auto where = env->master_aggregator_known().address();
  for (auto& [id, req] : waiting)
    reply_result(self, *req,
                 make_failure(sql::errc::timeout,
                              "the master aggregator changed ("
                                + (where.empty() ? std::string{"its process "
                                                               "went away"}
                                                 : "now at " + where)
                                + ") before it answered: the statement may "
                                  "or may not have taken effect"));
}

/// Every request a client session accepts.
const handler_table<self_ptr> session_requests{
  "session",
  {{envelope::kStatementRequest, on_statement},
   {envelope::kMasterAggregatorKnown, on_ma_moved}}};

session_actor::behavior_type session_impl(self_ptr self, session_config cfg) {
  auto& st = self->state;
  st.name = cfg.name;
  st.ep = endpoint{cfg.fab, cfg.node, cfg.name};
  st.cfg = std::move(cfg);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.forwarded_to.find(dm.source);
    if (i == st.forwarded_to.end())
      return;
    auto waiting = std::move(i->second);
    st.forwarded_to.erase(i);
    for (auto& [id, req] : waiting)
      reply_result(self, *req,
                   make_failure(sql::errc::timeout,
                                "the master aggregator stopped before it "
                                "answered: the statement may or may not "
                                "have taken effect"));
  });
  return {
    [self](wire& msg) { session_requests.dispatch(self, msg); },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](timer_atom, uint64_t id) {
      auto& st = self->state;
      if (auto w = st.waiting_for_aggregator.find(id);
          w != st.waiting_for_aggregator.end()) {
        auto fn = std::move(w->second);
        st.waiting_for_aggregator.erase(w);
        fn();
        return;
      }
      auto i = st.retries.find(id);
      if (i == st.retries.end())
        return;
      auto op = std::move(i->second);
      st.retries.erase(i);
      attempt(self, std::move(op));
    },
  };
}

} // namespace

session_actor spawn_session(caf::actor_system& sys, session_config cfg) {
  auto fab = cfg.fab;
  auto node = cfg.node;
  auto name = cfg.name;
  auto handle = sys.spawn(session_impl, std::move(cfg));
  fab->add_endpoint(node, name, caf::actor_cast<caf::actor>(handle));
  return handle;
}

} // namespace lg
