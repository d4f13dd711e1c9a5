// Reconciliation: every copy plays the role the metadata records, even when
// the order that said so was lost (the aggregator crashed after recording
// it, or every resend went astray).
//
//   1. One heartbeat in reconcile_every asks the leaf for its copies' roles
//      (heartbeat.proto step 4); so does the first one after the
//      aggregator starts.
//   2. The reply lists each copy's role, term and peer. A copy of a
//      partition that is online, not being promoted or handed over, whose
//      term is older than the partition's, whose role differs from the
//      recorded one, or whose peer is not the other recorded copy (when
//      that copy's leaf is up), is noted; so is a master that stepped down
//      for a hand-over that was never finished.
//   3. Noted in two lists in a row, with the partition's term unchanged
//      between them (an order on its way has arrived by then), its order
//      is sent again, built from the metadata as it is now.
//   Nothing is compared for a leaf that is not online, or whose reply
//   comes from an incarnation other than the recorded one: its copies are
//   classified by its attach first (attach.cpp). Nothing is compared while
//   a change to the metadata is not yet written, or cannot be: orders
//   follow only durable decisions.
//
//   aggregator                      leaf
//       |--Heartbeat(want_roles)----->|
//       |<--Reply(p3 REPLICA term 1)--|   metadata: p3 REPLICA term 3
//       |   ... reconcile_every ...   |
//       |--Heartbeat(want_roles)----->|
//       |<--Reply(p3 REPLICA term 1)--|   still behind: order again
//       |--SetRole(p3 REPLICA, 3)---->|
#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"
#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"

namespace lg {

bool want_roles(leaf_runtime& rt) {
  return rt.heartbeats_sent++ % reconcile_every == 0;
}

void reconcile_roles(ma_self self, const std::string& addr,
                     const pb::HeartbeatReply& reply) {
  auto& st = self->state;
  auto* leaf = st.meta.find_leaf(addr);
  auto& rt = st.runtime[addr];
  // Only a durable decision is acted on: while a change waits to be
  // written (or cannot be), the metadata in memory may hold decisions the
  // disk does not.
  bool durable = !st.persist_scheduled && st.metadata_error.empty();
  if (bugs::no_role_reconcile || !durable || leaf == nullptr
      || state_of(*leaf) != leaf_state::online
      || reply.incarnation() != leaf->incarnation() || rt.restarting
      || rt.awaiting_attach || rt.unconfirmed) {
    rt.roles_behind.clear();
    return;
  }
  std::map<std::string, uint64_t> behind;
  for (auto& r : reply.roles()) {
    auto* db = st.meta.find_database(r.database());
    if (db == nullptr || r.ordinal() >= static_cast<uint32_t>(db->parts_size())
        || r.failed())
      continue;
    auto& part = *db->mutable_parts(static_cast<int>(r.ordinal()));
    auto label = partition_label(db->name(), part.ordinal());
    auto* inst = instance_on(part, addr);
    if (inst == nullptr || inst->missing() || part.offline()
        || r.term() > part.term() || st.promotions_waiting.count(label) > 0
        || st.switching.count(label) > 0)
      continue;
    // The peer counts once its leaf is up: a promoted master knows no
    // replica until its old master's leaf comes back.
    auto peer = peer_of(part, *inst);
    bool peer_differs = inst->role() != pb::ORPHAN && !peer.leaf.empty()
                        && st.meta.leaf_up(peer.leaf)
                        && r.peer() != peer.leaf;
    // A master that stepped down for a hand-over the aggregator never
    // finished (it restarted in between) serves nothing: told again that
    // it is the master of its term, it serves again. No newer term can
    // exist, or the metadata would record it.
    bool stepped_down = r.deposed() && inst->role() == pb::MASTER;
    if (r.term() == part.term() && r.role() == inst->role() && !peer_differs
        && !stepped_down)
      continue;
    auto seen = rt.roles_behind.find(label);
    if (seen == rt.roles_behind.end() || seen->second != part.term()) {
      behind[label] = part.term();
      continue;
    }
    LG_PROBE(role_order_reconciled, "a copy that missed its role order was "
                                    "sent it again");
    logger("ma")->warn("RoleReconciled {} {} on {}: it plays {} at term {} "
                       "with peer '{}'; the metadata records {} at term {} "
                       "with peer '{}': order sent again",
                       st.ctx(), label, addr, pb::Role_Name(r.role()),
                       r.term(), r.peer(), pb::Role_Name(inst->role()),
                       part.term(), peer.leaf);
    auto o = make_order(addr, db->name(), part.ordinal(), inst->role(),
                        part.term(),
                        inst->role() == pb::ORPHAN ? std::string{} : peer.leaf,
                        peer.in_sync);
    send_order(
      self, o,
      [self, label, addr](const std::string& err) {
        if (!err.empty())
          logger("ma")->warn("RoleReconcileFailed {} {} on {}: {}",
                             self->state.ctx(), label, addr, err);
      },
      1);
  }
  rt.roles_behind = std::move(behind);
}

} // namespace lg
