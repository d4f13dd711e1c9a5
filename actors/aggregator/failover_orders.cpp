// The orders of a failover, sent once its decisions are recorded: one
// LeafOrdersRequest of promotions to each leaf that holds new masters, and
// one of orders to go on alone to each leaf whose masters lost their
// replica, sent once that leaf has answered its promotions.
//
//   1. Promotions are grouped by leaf; each leaf hands them to its
//      instances and answers once (envelope.proto, LeafOrdersRequest).
//   2. A promotion its leaf did not answer for is sent again, with the
//      others of that leaf left unanswered, while the decision stands.
//   3. One line per leaf sums the answers up (ReplicasPromoted); the
//      per-partition lines are at debug level.
#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"

namespace lg {

namespace {

constexpr auto promote_timeout = std::chrono::seconds{5};

} // namespace

void send_failover_orders(ma_self self,
                          const std::vector<promotion>& replica_lost,
                          const std::vector<promotion>& promotions) {
  leaf_orders batch;
  // What each leaf's answer brought, logged once per leaf; the promotions
  // it left unanswered are sent again together.
  struct tally {
    size_t promoted = 0;
    size_t failed = 0;
    std::vector<promotion> resend;
  };
  auto tallies = std::make_shared<std::map<std::string, tally>>();
  // Promotions first: they bring partitions back; the masters that lost
  // their replica keep serving meanwhile (they stop waiting for it after
  // sync_replication_timeout_ms at the latest).
  for (auto& p : promotions) {
    auto env = make_envelope(partition_label(p.db, p.ordinal), p.term);
    env->mutable_promote_request()->set_term(p.term);
    auto label = partition_label(p.db, p.ordinal);
    failover_ordered(self, label);
    batch.add(
      p.leaf, partition_actor_name(p.db, p.ordinal), std::move(env),
      [self, label, p, tallies](const envelope* rep) {
        auto& st = self->state;
        auto& t = (*tallies)[p.leaf];
        if (rep == nullptr) {
          // Lost on the way: send it again while the decision stands.
          auto* db = st.meta.find_database(p.db);
          auto* part = db ? db->mutable_parts(static_cast<int>(p.ordinal))
                          : nullptr;
          auto* master = part ? master_of(*part) : nullptr;
          if (master != nullptr && master->leaf() == p.leaf
              && part->term() == p.term && st.meta.leaf_online(p.leaf)) {
            LG_PROBE(promotion_resent, "a promotion got no answer and was "
                                       "resent");
            t.resend.push_back(p);
            return;
          }
        }
        if (rep == nullptr || rep->promote_reply().status() != pb::STATUS_OK) {
          logger("ma")->error("PromotionFailed {} {} on {}: {}", st.ctx(),
                              label, p.leaf,
                              rep ? rep->promote_reply().error()
                                  : std::string{"no answer"});
          failover_promoted(self, label, false);
          ++t.failed;
          return;
        }
        // One line per partition only at debug level: a leaf answering
        // thousands of promotions is summed up in one line (below).
        logger("ma")->debug("ReplicaPromoted {} {} on {} term={}", st.ctx(),
                            label, p.leaf, p.term);
        failover_promoted(self, label, true);
        ++t.promoted;
        for (auto& job : st.jobs)
          if (job.action == job_action::detach
              && job.status == job_status::running && job.db == p.db
              && job.ordinal == p.ordinal) {
            job.status = job_status::success;
            job.finished = self->clock().now();
          }
      });
  }
  // The masters that lost their replica are told to go on alone in a
  // second message to their leaf, once its promotions are answered: a
  // leaf's actor hands out one batch of orders at a time, and the
  // promotions' answers, which clients wait for, should not wait for these.
  auto losses = std::make_shared<std::map<std::string, std::vector<promotion>>>();
  for (auto& p : replica_lost)
    (*losses)[p.leaf].push_back(p);
  auto tell_alone = [self, losses](const std::string& leaf) {
    auto i = losses->find(leaf);
    if (i == losses->end())
      return;
    leaf_orders alone;
    for (auto& p : i->second)
      alone.add(p.leaf, partition_actor_name(p.db, p.ordinal),
                role_order(self, p.db, p.ordinal, pb::MASTER, p.term, p.lost,
                           false),
                [](const envelope*) {});
    losses->erase(i);
    alone.send(self, promote_timeout);
  };
  std::set<std::string> promoting;
  for (auto& p : promotions)
    promoting.insert(p.leaf);
  batch.send(self, promote_timeout,
             [self, tallies, tell_alone](const std::string& leaf) {
               tell_alone(leaf);
               auto i = tallies->find(leaf);
               if (i == tallies->end())
                 return;
               auto t = std::move(i->second);
               tallies->erase(i);
               if (t.promoted > 0 || t.failed > 0)
                 logger("ma")->info("ReplicasPromoted {} {} answered: {} "
                                    "promoted, {} failed",
                                    self->state.ctx(), leaf, t.promoted,
                                    t.failed);
               if (!t.resend.empty())
                 send_failover_orders(self, {}, t.resend);
             });
  std::vector<std::string> without_promotions;
  for (auto& kvp : *losses)
    if (promoting.count(kvp.first) == 0)
      without_promotions.push_back(kvp.first);
  for (auto& leaf : without_promotions)
    tell_alone(leaf);
}

} // namespace lg
