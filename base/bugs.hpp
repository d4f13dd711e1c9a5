// Deliberately broken variants of the HA protocols, in the spirit of
// FoundationDB's BUGGIFY: off in every real run, switched on only by
// `leafguard simulate --break NAME` and by the test that proves the
// simulation's checker catches them (tests/simulation/checker_test.cpp).
#pragma once

#include <string>
#include <vector>

namespace lg::bugs {

/// Failover promotes a replica even when it is out of sync.
extern bool promote_out_of_sync;

/// Nothing fences a deposed master: an instance takes replication from a
/// master of an older term (even when it is master itself), and the
/// aggregator lets such a master drop its replica to async.
extern bool skip_term_fence;

/// A master answers reads at once, from whatever its rows hold: no
/// confirmation that it is still master, no wait for the writes to the key
/// to be acknowledged.
extern bool stale_reads;

/// A partition instance does not rebuild its window of write ids from its
/// storage when it opens (a restarted leaf) or installs a snapshot (a
/// rebuilt copy): a client's retry that spans the restart is applied again,
/// and may undo a newer write.
extern bool no_dedup;

/// Recovery reads corruption in the middle of a log as if it were a torn
/// last record: it truncates the log at the first bad record, in place, and
/// opens the copy with what is left (the old reader's behaviour).
extern bool corrupt_as_torn;

/// Failover decides at once: a replica whose leaf died is recorded out of
/// sync and its master told to go on alone, and a replica is promoted,
/// without waiting for that master or replica to answer a heartbeat. A
/// pair that loses power together is then half-recorded.
extern bool no_failover_hold;

/// When the aggregator cannot compare a recovered copy's position with a
/// serving in-sync replica's, it trusts the recorded master, even one that
/// came back from a crash having lost unsynced acknowledged writes.
extern bool trust_recorded_master;

/// A master taking a new role counts every record in its log as held by its
/// in-sync replica, and so as acknowledged: a retry of a write that was
/// written but never acknowledged before a crash is answered OK at once.
extern bool commit_on_reset;

/// A replica takes a batch that overlaps what it holds without checking
/// that the overlapping records are the ones it holds: records a master
/// lost when its disk failed stay on the replica at positions the
/// reopened master fills with others.
extern bool keep_conflicting_suffix;

/// The aggregator never compares the roles its leaves list with the
/// metadata, and a leaf recorded as attaching when the aggregator restarts
/// stays so: a copy whose role order was lost (the aggregator crashed after
/// recording it) never learns its role, and its replica never converges.
extern bool no_role_reconcile;

/// A master whose replica is out of sync acknowledges under async
/// durability what it wrote but never fsynced: a machine crash of that one
/// copy loses acknowledged writes while the replica's machine runs.
extern bool async_alone_unsynced;

/// A recovered leaf's in-sync replica is attached to (and recorded out of
/// sync behind) a master whose leaf has not answered since: one that died
/// in the same power loss but is not declared offline yet.
extern bool attach_trusts_silent_master;

/// A leaf held offline whose network healed, whose attach waits for its
/// pair, is dropped from the queue of waiting attaches while still offline:
/// it is never attached, and its copies never catch up.
extern bool forget_rejoining_attach;

/// The names accepted by enable(), one per variant.
std::vector<std::string> names();

/// Switches a variant on; returns false for an unknown name.
bool enable(const std::string& name);

/// Switches every variant off.
void reset();


/// A replica a rebalance moves to another leaf is not set aside first: the
/// master feeds the new copy while the old one, no longer fed, still counts
/// as in sync, and a failover may promote it.
extern bool move_replica_in_place;


/// Leaves and partitions obey every aggregator: one that was replaced (two
/// started on one data dir, or one paused while another took over) goes on
/// changing roles after the newer one did.
extern bool no_aggregator_fence;

/// The voting aggregators apply every committed metadata entry, even a
/// proposal resent after its answer was lost that commits after a newer
/// version: the metadata they agree on goes back, and the next master
/// aggregator starts from it.
extern bool apply_stale_metadata;

/// A master aggregator that hears a leaf answer as a newer incarnation than
/// the recorded one (it restarted, and its hello went to a master
/// aggregator replaced before recording it) does nothing: the leaf's copies
/// stay without the roles the metadata records, and reconciliation skips
/// a leaf of another incarnation.
extern bool ignore_unannounced_restart;

/// A master aggregator that starts on recorded metadata (a restart, or an
/// election) leaves out the users and their grants, and the next change it
/// records drops them for good.
extern bool forget_users;

/// A leaf hands the orders of a LeafOrdersRequest to its instances as its
/// own, without the batch's master aggregator term: an instance takes an
/// order of a deposed master aggregator that reached the leaf just before
/// the new one's, and nothing records which aggregator it obeyed.
extern bool unfenced_leaf_orders;

/// A leaf acknowledges a batch of creations without syncing the new
/// instances' files: after a power loss an acknowledged instance has an
/// empty descriptor, cannot be opened, and what it held is gone.
extern bool unsynced_creations;

} // namespace lg::bugs
