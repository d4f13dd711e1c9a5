#include "ha/failover.hpp"

#include "base/bugs.hpp"

namespace lg::ha {

namespace {

/// Appends `part` to `reason`, separated by "; ".
void add_reason(std::string& reason, const std::string& part) {
  if (!reason.empty())
    reason += "; ";
  reason += part;
}

} // namespace

failover_decision choose_failover(const std::vector<instance_view>& instances,
                                  uint64_t term) {
  failover_decision decision;
  for (const auto& inst : instances) {
    if (inst.role == instance_role::master && inst.leaf_online) {
      decision.kind = failover_decision::keep;
      decision.leaf = inst.leaf;
      decision.new_term = term;
      return decision;
    }
  }
  for (const auto& inst : instances) {
    if (inst.role == instance_role::replica
        && (inst.in_sync || bugs::promote_out_of_sync) && inst.leaf_online) {
      decision.kind = failover_decision::promote;
      decision.leaf = inst.leaf;
      decision.new_term = term + 1;
      return decision;
    }
  }
  // Name every copy that could have served and why it cannot, so that the
  // error users see says what to bring back.
  decision.kind = failover_decision::offline;
  decision.new_term = term;
  std::string reason;
  bool has_master = false;
  bool has_replica = false;
  for (const auto& inst : instances) {
    if (inst.role == instance_role::master) {
      has_master = true;
      add_reason(reason, "master on " + inst.leaf + " is offline");
    }
  }
  if (!has_master)
    add_reason(reason, "no master");
  for (const auto& inst : instances) {
    if (inst.role != instance_role::replica)
      continue;
    has_replica = true;
    if (!inst.leaf_online)
      add_reason(reason, "replica on " + inst.leaf + " is offline");
    else
      add_reason(reason, "replica on " + inst.leaf + " is out of sync");
  }
  if (!has_replica)
    add_reason(reason, "no replica");
  decision.reason = std::move(reason);
  return decision;
}

} // namespace lg::ha
