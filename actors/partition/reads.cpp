// Reads at a partition master, linearizable (ha/replication.hpp step 7).
//
//   1. A read reaches an instance that does not serve as master: refused
//      (NOT_MASTER, or FAILED with the storage error), and the client asks
//      the aggregator for the current master.
//   2. No dirty reads: rows are applied as they are logged, so a read waits
//      while a write to what it reads is logged but not acknowledged (a
//      GET for the writes to its key, a SCAN or COUNT for every write).
//   3. No stale reads: while the replica counts for acknowledgements, the
//      read waits until the replica has answered a send that left after the
//      read arrived (a batch, or an empty probe when nothing else goes).
//      A replica that was promoted meanwhile answers FENCED instead: this
//      master steps down and fails the read, and the client reads from the
//      new master. With no replica counting (redundancy 1, or a replica the
//      aggregator recorded out of sync) no other copy can be promoted, and
//      reads need no confirmation.
//   4. A read that may be answered is answered from the rows as they are
//      then; reads that wait for different things do not wait for each
//      other.
//
//   client          master (term 5)            replica
//     |--Read---------->|                          |
//     |                 |--Replicate(probe, 5)---->|
//     |                 |<--OK (still term 5)------|
//     |<--rows----------|                          |
//
// Cost: a read waits for the writes to its key to be acknowledged, and for
// one round trip to the replica that every read arriving meanwhile shares
// (under a write load the batches already in flight serve as that round
// trip). Raft's ReadIndex works the same way with a quorum; a time lease
// would save the round trip but would rest on bounded clock drift between
// machines.
#include "actors/partition/state.hpp"

#include "base/bugs.hpp"
#include "base/probes.hpp"

namespace lg::partition_detail {

namespace {

/// True when a write waiting for acknowledgement changes what `req` reads
/// (step 2).
bool reads_unacknowledged(const partition_state& st,
                          const pb::ReadRequest& req) {
  if (st.out.waiting.empty())
    return false;
  if (req.kind() != pb::GET)
    return true;
  for (auto& w : st.out.waiting) {
    const auto& write = w.req->write_request();
    for (auto& row : write.rows())
      if (row.key() == req.key())
        return true;
    for (auto& key : write.deletes())
      if (key == req.key())
        return true;
  }
  return false;
}

void answer(self_ptr self, const envelope& req) {
  auto& st = self->state;
  const auto& read = req.read_request();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_read_reply();
  body->set_status(pb::STATUS_OK);
  const auto& rows = st.cfg.store->rows();
  switch (read.kind()) {
    case pb::GET: {
      auto i = rows.find(read.key());
      if (i != rows.end()) {
        auto* row = body->add_rows();
        row->set_key(i->first);
        row->set_value(i->second);
      }
      break;
    }
    case pb::SCAN:
      body->mutable_rows()->Reserve(static_cast<int>(rows.size()));
      for (auto& kvp : rows) {
        auto* row = body->add_rows();
        row->set_key(kvp.first);
        row->set_value(kvp.second);
      }
      break;
    default:
      body->set_count(rows.size());
  }
  st.ep.reply(self, req, std::move(rep));
}

void refuse(self_ptr self, const envelope& req, pb::Status status,
            const std::string& why) {
  auto& st = self->state;
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_read_reply();
  body->set_status(status);
  body->set_error(why);
  st.ep.reply(self, req, std::move(rep));
}

} // namespace

void on_read(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  if (!serving_master(st)) {
    if (st.failure.empty())
      refuse(self, *env, pb::NOT_MASTER, not_master_text(st));
    else
      refuse(self, *env, pb::FAILED, st.failure);
    return;
  }
  if (bugs::stale_reads) {
    answer(self, *env);
    return;
  }
  st.out.reads.push_back(
    {env, st.out.core.read_barrier(), self->clock().now()});
  serve_reads(self);
}

void serve_reads(self_ptr self) {
  auto& st = self->state;
  auto& core = st.out.core;
  uint64_t oldest_waiting = 0;
  auto i = st.out.reads.begin();
  while (i != st.out.reads.end()) {
    bool confirmed = core.read_confirmed(i->barrier);
    if (confirmed && !reads_unacknowledged(st, i->req->read_request())) {
      answer(self, *i->req);
      st.metrics.read_answered(self->clock().now() - i->arrived);
      i = st.out.reads.erase(i);
      continue;
    }
    if (!confirmed && oldest_waiting == 0)
      oldest_waiting = i->barrier;
    ++i;
  }
  if (oldest_waiting == 0 || !core.needs_probe_for(oldest_waiting))
    return;
  // Nothing that left after these reads is on its way: send what waits,
  // or an empty probe.
  LG_PROBE(read_confirmation_probe, "a read waited for the replica to "
                                    "confirm this master's term");
  replicate(self);
  if (core.needs_probe_for(oldest_waiting) && !st.rebuild_out.current)
    probe_replica(self);
}

void fail_reads(self_ptr self, pb::Status status, const std::string& why) {
  auto& st = self->state;
  auto reads = std::move(st.out.reads);
  st.out.reads.clear();
  for (auto& r : reads)
    refuse(self, *r.req, status, why);
}

} // namespace lg::partition_detail
