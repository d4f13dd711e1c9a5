// Every timer of every role, in one enum: a role arms one with arm_timer
// and receives it as (timer_atom, id). A session's retry timers are the
// exception: they carry the id of the operation they retry.
#pragma once

#include <cstdint>

#include "messages/message_types.hpp"

namespace lg {

enum class timer_id : uint64_t {
  // -- master aggregator --
  heartbeat = 1,        ///< the next heartbeat round
  map_wait = 2,         ///< a held partition-map request reached its deadline
  failure_deadline = 3, ///< some leaf's failure timeout ends
  balance_retry = 4,    ///< retry a hand-over that failed
  metadata_retry = 5,   ///< write the metadata again after a failed write
  attach_wait = 6,      ///< a leaf's attach stops waiting for a report
  connections_lost = 7, ///< handle the leaves whose connection went, together
  attach_rebalance = 8, ///< an automatic attach's rebalance may be due
  proposal_retry = 10,  ///< propose the metadata again after a refusal
  // -- voting aggregator --
  consensus_tick = 9, ///< drive the Raft member's clock
  // -- leaf --
  leaf_hello = 11, ///< announce the leaf again: no answer to its hello
  creations_written = 12, ///< a batch of creations is written and synced
  // -- partition instance --
  sync_check = 21, ///< a master checks its replica's sync state
  retransmit = 22, ///< resend unconfirmed batches after a pause
  join = 23,       ///< a replica asks to join its master again
  step_down = 24,  ///< a hand-over's deadline
  checkpoint = 25, ///< a checkpoint job finished
  failure_report = 26, ///< tell the aggregator again that storage failed
};

/// Arms `id` on `self`, to fire after `after`.
template <class Self, class Duration>
void arm_timer(Self self, Duration after, timer_id id) {
  self->delayed_send(self, after, timer_atom::value,
                     static_cast<uint64_t>(id));
}

} // namespace lg
