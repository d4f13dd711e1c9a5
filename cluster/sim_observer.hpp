// The simulation's observer: sees every message that goes through the one
// way out, checks the invariants that can be checked per message (no write
// acknowledged past a promotion, orders applied in version order), and keeps
// the last messages for a failing run's trace. Used by simulation.cpp only.
#pragma once

#include <cstdint>
#include <deque>
#include <cstdio>
#include <set>
#include <map>
#include <string>
#include <utility>

#include "actors/net/fabric.hpp"
#include "messages/message_types.hpp"

namespace lg::sim {

constexpr size_t ring_size = 20000;

/// Sees every message (the one way out); checks the invariants that can be
/// checked per message, and keeps the last messages for a failing run.
class observer : public trace_sink {
public:
  void record(const envelope& env, transport_event what,
              int64_t at_us) override {
    const auto& h = env.header();
    if (ring_.size() >= ring_size)
      ring_.pop_front();
    std::string line;
    line.reserve(128);
    line += std::to_string(at_us);
    line += " lamport=";
    line += std::to_string(h.lamport());
    line += ' ';
    line += to_string(what);
    line += ' ';
    line += h.from().node();
    line += '/';
    line += h.from().actor();
    line += " -> ";
    line += h.to().node();
    line += '/';
    line += h.to().actor();
    line += ' ';
    line += body_name(env);
    if (!h.partition().empty()) {
      line += " partition=";
      line += h.partition();
    }
    line += " term=";
    line += std::to_string(h.term());
    ring_.push_back(std::move(line));
    // An orphan is a copy that said it plays that role in its answer to a
    // role order, until it says another or is promoted. (An instance
    // ignores an order older than its term or than the last it took, and
    // its answer gives the role it kept; a dropped answer was still given.)
    if (env.has_set_role_reply() && what != transport_event::delivered) {
      auto key = h.partition() + "@" + h.from().node();
      if (env.set_role_reply().role() == pb::ORPHAN)
        orphans.insert(key);
      else
        orphans.erase(key);
    } else if (env.has_promote_reply() && what != transport_event::delivered
               && env.promote_reply().status() == pb::STATUS_OK) {
      orphans.erase(h.partition() + "@" + h.from().node());
    }
    if (what != transport_event::sent && what != transport_event::delayed)
      return;
    if (env.has_set_role_request() || env.has_promote_request())
      check_order_names_aggregator(env);
    if (env.has_metadata_proposal())
      check_one_master_aggregator(h.aggregator_term(), h.to().node());
    else if (env.has_metadata_committed() && env.metadata_committed().ok())
      check_metadata_forward(env.metadata_committed().applied_version(),
                             h.from().node());
    bool ok_reply = false;
    if (env.has_write_reply() && env.write_reply().status() == pb::STATUS_OK) {
      ok_reply = true;
      ++checks_one_master;
      auto key = h.partition() + "@" + std::to_string(h.term());
      auto [i, added] = masters_.emplace(key, h.from().node());
      if (!added && i->second != h.from().node() && violation.empty())
        violation = "at most one master per partition per term: "
                    + h.partition() + " had writes acknowledged in term "
                    + std::to_string(h.term()) + " by " + i->second + " and by "
                    + h.from().node();
    } else if (env.has_read_reply()
               && env.read_reply().status() == pb::STATUS_OK) {
      ok_reply = true;
    }
    if (ok_reply && env.has_write_reply())
      check_fenced_ack(h.partition(), h.term(), env.write_reply().lsn(),
                       h.from().node());
    if (env.has_promote_reply()
        && env.promote_reply().status() == pb::STATUS_OK)
      check_promotion(h.partition(), h.term(),
                      env.promote_reply().position().lsn(), h.from().node());
    if (ok_reply) {
      ++checks_orphan;
      if (orphans.count(h.partition() + "@" + h.from().node()) > 0
          && violation.empty())
        violation = "an orphan is never served: the orphan copy of "
                    + h.partition() + " on " + h.from().node()
                    + " answered a client";
    }
  }

  /// The aggregator fence, seen from outside: a leaf (its node, which all
  /// its partition instances share) never admits a message from an older
  /// master aggregator term than one it admitted before.
  void admitted(const envelope& env, int64_t) override {
    const auto& h = env.header();
    ++checks_aggregator_fence;
    auto& top = admitted_[h.to().node()];
    newest_admitted_ = std::max(newest_admitted_, h.aggregator_term());
    if (h.aggregator_term() >= top.first) {
      top = {h.aggregator_term(), body_name(env)};
      return;
    }
    if (violation.empty())
      violation = "no order from an older master aggregator term changes a "
                  "leaf: "
                  + h.to().node() + "/" + h.to().actor() + " admitted "
                  + body_name(env) + " of aggregator term "
                  + std::to_string(h.aggregator_term()) + " after "
                  + top.second + " of term " + std::to_string(top.first);
  }

  /// Writes the kept messages to `path`; returns false on an I/O error.
  bool dump(const std::string& path) const {
    auto* f = std::fopen(path.c_str(), "w");
    if (f == nullptr)
      return false;
    for (auto& line : ring_) {
      std::fputs(line.c_str(), f);
      std::fputc('\n', f);
    }
    return std::fclose(f) == 0;
  }

  std::string violation;
  std::set<std::string> orphans; // "db:N@leaf", from the role orders seen
  uint64_t checks_one_master = 0;
  uint64_t checks_orphan = 0;
  uint64_t checks_fencing = 0;
  uint64_t checks_aggregator_fence = 0;
  uint64_t checks_aggregator_terms = 0;

private:
  /// Once master aggregators have terms (voting aggregators), every role
  /// order names the term of the one that gave it, however it travelled (a
  /// leaf hands on a LeafOrdersRequest's orders): an order without one is
  /// held to no fence.
  void check_order_names_aggregator(const envelope& env) {
    const auto& h = env.header();
    ++checks_aggregator_fence;
    if (newest_admitted_ == 0 || h.aggregator_term() != 0 || !violation.empty())
      return;
    violation = "every role order names its master aggregator term: "
                + std::string{body_name(env)} + " from " + h.from().node()
                + "/" + h.from().actor() + " to " + h.to().node() + "/"
                + h.to().actor() + " names none, while term "
                + std::to_string(newest_admitted_) + " leads";
  }

  uint64_t newest_admitted_ = 0;

  /// Fencing: once an instance is promoted to term T at LSN L, no write of
  /// an older term may be acknowledged beyond L -- the promoted copy does
  /// not hold it, so it is lost (or overwritten) the moment the new master
  /// writes. Checked both ways, since the acknowledgement and the promotion
  /// may be seen in either order.
  void check_fenced_ack(const std::string& part, uint64_t term, uint64_t lsn,
                        const std::string& leaf) {
    ++checks_fencing;
    auto& top = acked_[part][term];
    if (lsn > top.first)
      top = {lsn, leaf};
    for (auto& [new_term, promoted] : promotions_[part])
      if (new_term > term && lsn > promoted.first)
        return fencing_broken(part, term, lsn, leaf, new_term, promoted);
  }

  void check_promotion(const std::string& part, uint64_t term, uint64_t lsn,
                       const std::string& leaf) {
    promotions_[part].emplace(term, std::make_pair(lsn, leaf));
    for (auto& [old_term, top] : acked_[part])
      if (old_term < term && top.first > lsn)
        return fencing_broken(part, old_term, top.first, top.second, term,
                              {lsn, leaf});
  }

  void fencing_broken(const std::string& part, uint64_t term, uint64_t lsn,
                      const std::string& leaf, uint64_t new_term,
                      const std::pair<uint64_t, std::string>& promoted) {
    if (!violation.empty())
      return;
    violation = "no write is acknowledged past a promotion: " + part
                + " on " + leaf + " acknowledged a write at lsn "
                + std::to_string(lsn) + " in term " + std::to_string(term)
                + ", but " + promoted.second + " was promoted to term "
                + std::to_string(new_term) + " holding only up to lsn "
                + std::to_string(promoted.first);
  }

  /// A master aggregator acts by proposing metadata to its own voting
  /// aggregator: two voting aggregators proposed to in one term would be
  /// two master aggregators.
  void check_one_master_aggregator(uint64_t term, const std::string& voter) {
    ++checks_aggregator_terms;
    auto [i, added] = proposers_.emplace(term, voter);
    if (!added && i->second != voter && violation.empty())
      violation = "at most one master aggregator acts per term: term "
                  + std::to_string(term) + " proposed metadata through "
                  + i->second + " and through " + voter;
  }

  /// The metadata version the voting aggregators hold, as each commit's
  /// answer reports it, only goes forward.
  void check_metadata_forward(uint64_t version, const std::string& voter) {
    ++checks_aggregator_terms;
    if (version >= committed_.first) {
      committed_ = {version, voter};
      return;
    }
    if (violation.empty())
      violation = "the metadata the aggregators agree on never goes back: "
                  + voter + " holds version " + std::to_string(version)
                  + " after " + committed_.second + " held version "
                  + std::to_string(committed_.first);
  }

  std::deque<std::string> ring_;
  // leaf node -> (newest aggregator term admitted, the message that was)
  std::map<std::string, std::pair<uint64_t, std::string>> admitted_;
  std::map<uint64_t, std::string> proposers_; // aggregator term -> voter
  std::pair<uint64_t, std::string> committed_{0, ""};
  // "db:N" -> term -> (highest acknowledged lsn, leaf that acknowledged it)
  std::map<std::string, std::map<uint64_t, std::pair<uint64_t, std::string>>>
    acked_;
  // "db:N" -> promoted term -> (lsn at promotion, promoted leaf)
  std::map<std::string, std::map<uint64_t, std::pair<uint64_t, std::string>>>
    promotions_;
  std::map<std::string, std::string> masters_; // "db:N@term" -> leaf
};

} // namespace lg::sim
