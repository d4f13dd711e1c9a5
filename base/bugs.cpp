#include "base/bugs.hpp"

#include <utility>

namespace lg::bugs {

bool promote_out_of_sync = false;
bool skip_term_fence = false;
bool stale_reads = false;
bool no_dedup = false;
bool corrupt_as_torn = false;
bool no_failover_hold = false;
bool trust_recorded_master = false;
bool commit_on_reset = false;
bool keep_conflicting_suffix = false;
bool no_role_reconcile = false;
bool async_alone_unsynced = false;
bool attach_trusts_silent_master = false;
bool forget_rejoining_attach = false;
bool move_replica_in_place = false;
bool no_aggregator_fence = false;
bool apply_stale_metadata = false;
bool ignore_unannounced_restart = false;
bool forget_users = false;
bool unfenced_leaf_orders = false;
bool unsynced_creations = false;

namespace {

/// Every variant: its --break name and its switch.
const std::vector<std::pair<std::string, bool*>>& variants() {
  static const std::vector<std::pair<std::string, bool*>> all{
    {"promote-out-of-sync", &promote_out_of_sync},
    {"no-term-fence", &skip_term_fence},
    {"stale-reads", &stale_reads},
    {"no-dedup", &no_dedup},
    {"corrupt-as-torn", &corrupt_as_torn},
    {"no-failover-hold", &no_failover_hold},
    {"trust-recorded-master", &trust_recorded_master},
    {"commit-on-reset", &commit_on_reset},
    {"keep-conflicting-suffix", &keep_conflicting_suffix},
    {"no-role-reconcile", &no_role_reconcile},
    {"async-alone-unsynced", &async_alone_unsynced},
    {"attach-trusts-silent-master", &attach_trusts_silent_master},
    {"forget-rejoining-attach", &forget_rejoining_attach},
    {"move-replica-in-place", &move_replica_in_place},
    {"no-aggregator-fence", &no_aggregator_fence},
    {"apply-stale-metadata", &apply_stale_metadata},
    {"ignore-unannounced-restart", &ignore_unannounced_restart},
    {"forget-users", &forget_users},
    {"unfenced-leaf-orders", &unfenced_leaf_orders},
    {"unsynced-creations", &unsynced_creations},
  };
  return all;
}

} // namespace

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (auto& [name, flag] : variants())
    out.push_back(name);
  return out;
}

bool enable(const std::string& name) {
  for (auto& [known, flag] : variants()) {
    if (known == name) {
      *flag = true;
      return true;
    }
  }
  return false;
}

void reset() {
  for (auto& [name, flag] : variants())
    *flag = false;
}

} // namespace lg::bugs
