// A replica's join, catch-up and snapshot rebuild (messages/rebuild.proto,
// whose steps this file carries out):
//
//   1. A replica asks its master to check its history (JoinRequest), again
//      until answered.
//   2. The master compares histories (ha::check_divergence): a prefix whose
//      missing entries are still held catches up by the stream; anything
//      else is rebuilt from a snapshot.
//   3. The master streams its snapshot and log tail in chunks, a few in
//      flight, and reports progress to the aggregator.
//   4. The replica moves a diverged copy aside, writes and checks the
//      chunks, installs the snapshot, appends the log tail and answers; the
//      master then streams what follows and asks for the replica to be
//      counted in sync once it holds everything.
#include "actors/partition/state.hpp"

#include "base/bugs.hpp"
#include "base/log.hpp"
#include "base/probes.hpp"
#include "ha/recovery.hpp"

namespace lg::partition_detail {

// -- rebuild (messages/rebuild.proto) ----------------------------------------

void report_progress(self_ptr self, bool finished, bool failed,
                     const std::string& error) {
  auto& st = self->state;
  if (!st.rebuild_out.current)
    return;
  auto& o = *st.rebuild_out.current;
  auto env = make_envelope(st.label, st.term);
  auto* body = env->mutable_rebuild_progress();
  body->set_replica(o.replica);
  body->set_bytes_done(o.bytes_done);
  body->set_bytes_total(o.bytes_total);
  body->set_finished(finished);
  body->set_failed(failed);
  body->set_error(error);
  body->set_diverged(o.diverged);
  body->set_reason(o.reason);
  st.ep.send(self, st.cfg.ma_node, aggregator_actor_name, std::move(env));
}

void abort_rebuild(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (!st.rebuild_out.current)
    return;
  logger("partition")->warn("RebuildAborted {} replica {}: {}", st.ctx(),
                            st.rebuild_out.current->replica, why);
  report_progress(self, false, true, why);
  st.rebuild_out.current.reset();
}

void arm_join_timer(self_ptr self) {
  auto& st = self->state;
  if (st.in.join_timer_armed)
    return;
  st.in.join_timer_armed = true;
  arm_timer(self, join_retry, timer_id::join);
}

void start_join(self_ptr self) {
  auto& st = self->state;
  if (st.role != pb::REPLICA || st.peer.empty() || st.in.joined
      || st.in.join_pending || !st.failure.empty())
    return;
  st.in.join_pending = true;
  st.rebuild_in.current.reset();
  st.rebuild_in.expected_id = 0;
  auto env = make_envelope(st.label, st.term);
  auto* body = env->mutable_join_request();
  body->mutable_last()->set_term(st.cfg.store->last().term);
  body->mutable_last()->set_lsn(st.cfg.store->last().lsn);
  for (auto& h : st.cfg.store->history()) {
    auto* x = body->add_history();
    x->set_term(h.term);
    x->set_start_lsn(h.start_lsn);
  }
  auto peer = st.peer;
  st.ep.request(
    self, peer, st.ep.actor(), std::move(env), join_timeout,
    [self, peer](const envelope* rep) {
      auto& st = self->state;
      st.in.join_pending = false;
      if (st.role != pb::REPLICA || st.peer != peer || st.in.joined)
        return;
      if (rep == nullptr || rep->join_reply().status() != pb::STATUS_OK) {
        logger("partition")->debug("JoinRefused {} by {}: {}", st.ctx(), peer,
                                   rep ? rep->join_reply().error()
                                       : std::string{"no answer"});
        arm_join_timer(self);
        return;
      }
      const auto& body = rep->join_reply();
      if (body.mode() == pb::CATCH_UP) {
        st.in.joined = true;
        logger("partition")->info("ReplicaJoined {} master {} catching up "
                                  "from lsn {}",
                                  st.ctx(), peer, st.cfg.store->last().lsn);
        return;
      }
      // SNAPSHOT: chunks follow. If they stop coming, join again.
      st.rebuild_in.expected_id = body.rebuild_id();
      if (st.rebuild_in.current
          && st.rebuild_in.current->rebuild_id != body.rebuild_id())
        st.rebuild_in.current.reset(); // an older rebuild's late chunk
      st.rebuild_in.last_chunk_at = self->clock().now();
      arm_join_timer(self);
    });
}

void on_join_timer(self_ptr self) {
  auto& st = self->state;
  st.in.join_timer_armed = false;
  if (st.role != pb::REPLICA || st.in.joined)
    return;
  if (!st.in.join_pending
      && self->clock().now() - st.rebuild_in.last_chunk_at >= join_timeout)
    start_join(self);
  arm_join_timer(self);
}

/// Master: decides between catch-up and rebuild (step 3).
void on_join_request(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->join_request();
  const auto& from = env->header().from().node();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_join_reply();
  if (!serving_master(st) || st.peer != from) {
    body->set_status(pb::NOT_MASTER);
    body->set_error("partition " + st.label + " on leaf " + st.cfg.leaf
                    + " is not the master of a replica on " + from
                    + " (yet)");
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  std::vector<storage::term_start> copy_hist;
  for (auto& h : req.history())
    copy_hist.push_back({h.term(), h.start_lsn()});
  storage::log_position copy_last{req.last().term(), req.last().lsn()};
  auto* store = st.cfg.store.get();
  auto check = ha::check_divergence(copy_hist, copy_last, store->history(),
                                    store->last());
  // The first entry the master still holds in memory for the replica.
  uint64_t first_kept = store->last().lsn + 1;
  if (auto held = st.out.core.first_held())
    first_kept = *held;
  else if (st.out.open && !st.out.open->replicate_request().records().empty())
    first_kept = st.out.open->replicate_request().first_lsn();
  abort_rebuild(self, "the replica joined again");
  if (!check.diverged && copy_last.lsn + 1 >= first_kept) {
    st.out.core.catch_up_from(copy_last.lsn, self->clock().now());
    body->set_status(pb::STATUS_OK);
    body->set_mode(pb::CATCH_UP);
    st.ep.reply(self, *env, std::move(rep));
    logger("partition")->info("ReplicaCatchingUp {} replica {} from lsn {}",
                              st.ctx(), from, copy_last.lsn);
    replicate(self);
    if (st.out.core.match() == store->flushed().lsn
        && st.out.core.unacked() == 0
        && !st.out.open)
      request_sync_change(self, true); // nothing to catch up
    return;
  }
  if (auto err = store->flush()) {
    body->set_status(pb::FAILED);
    body->set_error(err.to_string());
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  st.rebuild_out.current.emplace();
  auto& o = *st.rebuild_out.current;
  o.id = ++st.rebuild_out.seq;
  o.replica = from;
  auto source = store->open_snapshot_source();
  if (!source) {
    st.rebuild_out.current.reset();
    body->set_status(pb::FAILED);
    body->set_error("partition " + st.label + " cannot read its snapshot: "
                    + source.err().to_string());
    st.ep.reply(self, *env, std::move(rep));
    return;
  }
  o.source = std::move(*source);
  o.position = o.source.position;
  o.bytes_total = o.source.snapshot_bytes() + o.source.log.size();
  o.diverged = check.diverged;
  o.reason = check.diverged
               ? check.reason
               : "the master no longer holds the entries after lsn "
                   + std::to_string(copy_last.lsn) + " in memory";
  // Everything up to the snapshot travels in it.
  auto s_lsn = o.position.lsn;
  st.out.core.drop_through(s_lsn);
  st.out.open.reset();
  body->set_status(pb::STATUS_OK);
  body->set_mode(pb::SNAPSHOT);
  body->set_rebuild_id(o.id);
  body->set_diverged(check.diverged);
  body->set_reason(o.reason);
  st.ep.reply(self, *env, std::move(rep));
  if (check.diverged)
    LG_PROBE(diverged_copy_rebuilt, "a diverged copy is rebuilt");
  else
    LG_PROBE(lagging_copy_rebuilt, "a copy behind the entries its master "
                                   "holds is rebuilt");
  logger("partition")->warn("RebuildStarted {} replica {} snapshot at lsn {} "
                            "({} bytes): {}",
                            st.ctx(), from, s_lsn, o.bytes_total, o.reason);
  report_progress(self, false, false, {});
  pump_snapshot(self);
}

void on_chunk_reply(self_ptr self, uint64_t id, uint64_t bytes,
                    bool last, const envelope* rep) {
  auto& st = self->state;
  if (!st.rebuild_out.current || st.rebuild_out.current->id != id)
    return;
  auto& o = *st.rebuild_out.current;
  if (rep == nullptr || rep->snapshot_chunk_reply().status() != pb::STATUS_OK) {
    abort_rebuild(self, rep ? rep->snapshot_chunk_reply().error()
                            : std::string{"a snapshot chunk timed out"});
    return;
  }
  --o.inflight;
  o.bytes_done += bytes;
  st.metrics.rebuild_sent(bytes);
  ++o.acked_seq;
  if (last) {
    st.out.core.catch_up_from(o.position.lsn, self->clock().now());
    logger("partition")->warn("RebuildFinished {} replica {} at lsn {} "
                              "({} bytes)",
                              st.ctx(), o.replica, st.out.core.match(),
                              o.bytes_done);
    report_progress(self, true, false, {});
    st.rebuild_out.current.reset();
    replicate(self);
    if (st.out.core.match() == st.cfg.store->flushed().lsn
        && st.out.core.unacked() == 0)
      request_sync_change(self, true);
    return;
  }
  if (o.acked_seq % progress_every_chunks == 0)
    report_progress(self, false, false, {});
  pump_snapshot(self);
}

/// Master: keeps chunk_window snapshot chunks in flight (step 4).
void pump_snapshot(self_ptr self) {
  auto& st = self->state;
  while (st.rebuild_out.current && st.rebuild_out.current->inflight < chunk_window
         && st.rebuild_out.current->chunks == 0) {
    auto& o = *st.rebuild_out.current;
    auto env = make_envelope(st.label, st.term);
    auto* body = env->mutable_snapshot_chunk();
    body->set_rebuild_id(o.id);
    body->set_seq(o.seq++);
    body->set_total_bytes(o.bytes_total);
    if (body->seq() == 0) {
      body->set_diverged(o.diverged);
      body->set_reason(o.reason);
    }
    uint64_t bytes = 0;
    auto& src = o.source;
    if (o.snapshot_next < src.snapshot_bytes()) {
      // The snapshot file, as it is on disk.
      auto data = src.read_snapshot(o.snapshot_next, chunk_bytes);
      if (!data || data->empty()) {
        abort_rebuild(self, "reading the snapshot at offset "
                              + std::to_string(o.snapshot_next) + " failed: "
                              + (data ? std::string{"the file ended early"}
                                      : data.err().to_string()));
        return;
      }
      bytes = data->size();
      o.snapshot_next += bytes;
      body->set_data(std::move(*data));
    } else {
      // Then the log after it, in whole records.
      std::string_view log{src.log};
      auto end = o.log_next;
      while (end < log.size() && end - o.log_next < chunk_bytes) {
        auto len = storage::record_length(log.substr(end));
        if (len == 0) {
          abort_rebuild(self, "the log ends in a torn record at offset "
                                + std::to_string(end));
          return;
        }
        end += len;
      }
      bytes = end - o.log_next;
      body->set_log(log.data() + o.log_next, bytes);
      o.log_next = end;
    }
    bool last = o.snapshot_next == src.snapshot_bytes()
                && o.log_next == src.log.size();
    if (last) {
      o.chunks = o.seq;
      body->set_last(true);
      body->mutable_position()->set_term(o.position.term);
      body->mutable_position()->set_lsn(o.position.lsn);
      o.source = {};
    }
    ++o.inflight;
    auto id = o.id;
    st.ep.request(self, o.replica, st.ep.actor(), std::move(env),
                  chunk_timeout, [self, id, bytes, last](const envelope* r) {
                    on_chunk_reply(self, id, bytes, last, r);
                  });
  }
}

/// Replica: moves a diverged copy aside, where an operator can inspect it.
error discard_copy(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  auto* store = st.cfg.store.get();
  auto& fs = *st.cfg.store_fs;
  auto to = st.cfg.discard_dir + "/" + st.cfg.database + "."
            + std::to_string(st.cfg.ordinal) + "-t"
            + std::to_string(store->last().term) + "-l"
            + std::to_string(store->last().lsn) + "-"
            + std::to_string(++st.rebuild_in.discards) + "-"
            + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                               self->clock().now().time_since_epoch())
                               .count());
  if (auto err = fs.make_dirs(st.cfg.discard_dir))
    return err;
  store->cancel_checkpoint(); // its files go with the copy
  if (auto err = fs.rename(store->dir(), to))
    return err;
  pb::InstanceDescriptor desc;
  desc.set_database(st.cfg.database);
  desc.set_ordinal(st.cfg.ordinal);
  desc.set_sync_durability(store->mode() == storage::durability::sync);
  if (auto err = fs.make_dirs(store->dir()))
    return err;
  if (auto err = fs.write_atomic(store->dir() + "/descriptor.pb",
                                 desc.SerializeAsString()))
    return err;
  LG_PROBE(diverged_copy_discarded, "a diverged copy was moved aside");
  logger("partition")->warn("CopyDiscarded {} moved to {}: diverged from its "
                            "master ({})",
                            st.ctx(), to, reason);
  return {};
}

void on_snapshot_chunk(self_ptr self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& req = env->snapshot_chunk();
  auto rep = make_envelope(st.label, st.term);
  auto* body = rep->mutable_snapshot_chunk_reply();
  body->set_seq(req.seq());
  auto refuse = [&](const std::string& why) {
    body->set_status(pb::FAILED);
    body->set_error(why);
    st.ep.reply(self, *env, std::move(rep));
  };
  if (st.role != pb::REPLICA || env->header().from().node() != st.peer
      || env->header().term() < st.term || !st.failure.empty()) {
    refuse("partition " + st.label + " on leaf " + st.cfg.leaf
           + " does not take a snapshot from "
           + env->header().from().node());
    return;
  }
  if (req.seq() == 0
      && (st.in.joined
          || (st.rebuild_in.expected_id != 0
              && req.rebuild_id() != st.rebuild_in.expected_id))) {
    // A late copy of a chunk of a rebuild that is over or was replaced:
    // taking it would rewind the copy.
    LG_PROBE(stale_snapshot_chunk_refused, "a late first chunk of an older "
                                           "rebuild was refused");
    refuse("snapshot chunk 0 of rebuild " + std::to_string(req.rebuild_id())
           + " is not the rebuild this copy expects");
    return;
  }
  st.rebuild_in.last_chunk_at = self->clock().now();
  if (req.seq() == 0) {
    st.rebuild_in.current.emplace();
    st.rebuild_in.current->rebuild_id = req.rebuild_id();
    if (req.diverged()) {
      if (auto err = discard_copy(self, req.reason())) {
        st.rebuild_in.current.reset();
        refuse("could not move the diverged copy aside: " + err.to_string());
        return;
      }
    }
  } else if (!st.rebuild_in.current || st.rebuild_in.current->rebuild_id != req.rebuild_id()
             || st.rebuild_in.current->next_seq != req.seq()) {
    refuse("snapshot chunk " + std::to_string(req.seq())
           + " arrived out of order");
    return;
  }
  auto& in = *st.rebuild_in.current;
  in.next_seq = req.seq() + 1;
  if (!in.file) {
    auto file = st.cfg.store->receive_snapshot(st.cfg.snapshot_writes);
    if (!file) {
      st.rebuild_in.current.reset();
      refuse("could not start receiving the snapshot: "
             + file.err().to_string());
      return;
    }
    in.file = std::move(*file);
  }
  if (!req.data().empty()) {
    if (in.installed) {
      st.rebuild_in.current.reset();
      refuse("snapshot chunk " + std::to_string(req.seq())
             + " carries snapshot bytes after the whole snapshot");
      return;
    }
    if (auto err = in.file->feed(req.data(), env)) {
      st.rebuild_in.current.reset();
      refuse("snapshot chunk " + std::to_string(req.seq())
             + " was refused: " + err.to_string());
      return;
    }
    if (in.file->complete()) {
      if (auto err = st.cfg.store->install(*in.file)) {
        st.rebuild_in.current.reset();
        refuse("could not install the snapshot: " + err.to_string());
        return;
      }
      in.installed = true;
      // The ids the master remembered come with its snapshot; the log
      // part's follow as it is appended.
      st.write_ids.clear();
      take_store_write_ids(st);
    }
  }
  if (!req.log().empty() || req.last()) {
    auto* store = st.cfg.store.get();
    error err;
    if (!in.installed)
      err = make_error(storage::errc::bad_format,
                       "log records arrived before the whole snapshot");
    if (!err)
      err = store->append_log_bytes(
        req.log(),
        [&st](const storage::log_record_view& rec) {
          st.write_ids.note(rec.write_id, rec.lsn);
        },
        env->header().term());
    if (!err)
      err = store->flush();
    if (err) {
      st.rebuild_in.current.reset();
      refuse("snapshot chunk " + std::to_string(req.seq())
             + ": could not append its log: " + err.to_string());
      return;
    }
    if (store->pending_apply_bytes() > max_deferred_apply_bytes)
      store->apply_pending();
  }
  if (req.last()) {
    auto* store = st.cfg.store.get();
    storage::log_position end{req.position().term(), req.position().lsn()};
    st.rebuild_in.current.reset();
    if (store->last() != end) {
      refuse("the rebuilt copy ends at term "
             + std::to_string(store->last().term) + ", lsn "
             + std::to_string(store->last().lsn) + ", not at the master's "
             + std::to_string(end.term) + ", " + std::to_string(end.lsn));
      return;
    }
    st.in.joined = true;
    st.term = std::max(st.term, env->header().term());
    logger("partition")->warn("ReplicaRebuilt {} from {} at lsn {} ({} rows "
                              "applied, {} bytes of log still to apply)",
                              st.ctx(), st.peer, st.cfg.store->last().lsn,
                              st.cfg.store->rows().size(),
                              st.cfg.store->pending_apply_bytes());
  }
  body->set_status(pb::STATUS_OK);
  st.ep.reply(self, *env, std::move(rep));
}

} // namespace lg::partition_detail
